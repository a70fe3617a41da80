//! The one error type of this crate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Location;

/// Everything that can go wrong while loading `skaffold.yaml` or `.ko.yaml`.
///
/// Every variant except [`ConfigError::Read`] names the file, the 1-based `line` and `column`
/// (both 0 when no position applies, e.g. a `-p` name that no config defines) and the `field`
/// path (`build.artifacts[0].ko`, empty for the document root), so the CLI can print
/// compiler-style diagnostics. `Display` renders
/// `file:line:col: field: message; hint`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists (or was named explicitly) but could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML: bad syntax, duplicate keys, invalid UTF-8, too deep or too large.
    #[error("{}", render(path, *line, *column, "", message, hint.as_deref()))]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: Option<String>,
    },
    /// A key that the schema (of this apiVersion) does not have. `field` is the path of the
    /// mapping that contains it and `name` the key itself.
    #[error("{}", render(path, *line, *column, field, message, hint.as_deref()))]
    UnknownField {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        name: String,
        message: String,
        hint: Option<String>,
    },
    /// A known field with a wrong type or value, or a required field that is missing.
    #[error("{}", render(path, *line, *column, field, message, hint.as_deref()))]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        message: String,
        hint: Option<String>,
    },
    /// Valid Skaffold that kiln cannot build: apiVersion too old or unknown, non-ko builders.
    #[error("{}", render(path, *line, *column, field, message, hint.as_deref()))]
    Unsupported {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        message: String,
        hint: Option<String>,
    },
    /// Profile selection, activation or patching failed. `profile` is empty when the problem
    /// is the `-p` selection itself.
    #[error("{}", render(path, *line, *column, field, message, hint.as_deref()))]
    Profile {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        profile: String,
        message: String,
        hint: Option<String>,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. }
            | ConfigError::Syntax { path, .. }
            | ConfigError::UnknownField { path, .. }
            | ConfigError::Invalid { path, .. }
            | ConfigError::Unsupported { path, .. }
            | ConfigError::Profile { path, .. } => path,
        }
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<Location> {
        let (line, column) = match self {
            ConfigError::Read { .. } => return None,
            ConfigError::Syntax { line, column, .. }
            | ConfigError::UnknownField { line, column, .. }
            | ConfigError::Invalid { line, column, .. }
            | ConfigError::Unsupported { line, column, .. }
            | ConfigError::Profile { line, column, .. } => (*line, *column),
        };
        (line > 0).then_some(Location { line, column })
    }

    /// The field path (`build.artifacts[0].ko`); empty for the document root.
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => "",
            ConfigError::UnknownField { field, .. }
            | ConfigError::Invalid { field, .. }
            | ConfigError::Unsupported { field, .. }
            | ConfigError::Profile { field, .. } => field,
        }
    }

    /// The suggestion, if any (e.g. "did you mean `ldflags`?").
    pub fn hint(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { hint, .. }
            | ConfigError::UnknownField { hint, .. }
            | ConfigError::Invalid { hint, .. }
            | ConfigError::Unsupported { hint, .. }
            | ConfigError::Profile { hint, .. } => hint.as_deref(),
        }
    }
}

fn render(
    path: &Path,
    line: usize,
    column: usize,
    field: &str,
    message: &str,
    hint: Option<&str>,
) -> String {
    let mut out = path.display().to_string();
    if line > 0 {
        let _ = write!(out, ":{line}:{column}");
    }
    out.push_str(": ");
    if !field.is_empty() {
        out.push_str(field);
        out.push_str(": ");
    }
    out.push_str(message);
    if let Some(hint) = hint {
        out.push_str("; ");
        out.push_str(hint);
    }
    out
}

/// Field path under construction: `build`, `artifacts`, `[0]`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Renders path segments as `build.artifacts[0].ko`.
pub(crate) fn path_string<'a>(segs: impl IntoIterator<Item = &'a Seg>) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// Builds errors that all refer to one file.
#[derive(Debug, Clone)]
pub(crate) struct FileCtx {
    pub(crate) path: PathBuf,
}

impl FileCtx {
    pub(crate) fn new(path: &Path) -> Self {
        FileCtx {
            path: path.to_path_buf(),
        }
    }

    pub(crate) fn read(&self, source: std::io::Error) -> ConfigError {
        ConfigError::Read {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn syntax(&self, loc: Location, message: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            path: self.path.clone(),
            line: loc.line,
            column: loc.column,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn invalid(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let loc = loc.unwrap_or_default();
        ConfigError::Invalid {
            path: self.path.clone(),
            line: loc.line,
            column: loc.column,
            field: field.into(),
            message: message.into(),
            hint,
        }
    }

    pub(crate) fn unsupported(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let loc = loc.unwrap_or_default();
        ConfigError::Unsupported {
            path: self.path.clone(),
            line: loc.line,
            column: loc.column,
            field: field.into(),
            message: message.into(),
            hint,
        }
    }

    pub(crate) fn unknown_field(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        name: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let loc = loc.unwrap_or_default();
        ConfigError::UnknownField {
            path: self.path.clone(),
            line: loc.line,
            column: loc.column,
            field: field.into(),
            name: name.into(),
            message: message.into(),
            hint,
        }
    }

    pub(crate) fn profile(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        profile: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let loc = loc.unwrap_or_default();
        ConfigError::Profile {
            path: self.path.clone(),
            line: loc.line,
            column: loc.column,
            field: field.into(),
            profile: profile.into(),
            message: message.into(),
            hint,
        }
    }

    /// Converts a typing error from [`crate::de`], prefixing `base` to its field path.
    pub(crate) fn de_error(&self, err: crate::de::DeError, base: &[Seg]) -> ConfigError {
        let field = path_string(base.iter().chain(err.segments()));
        match err.kind {
            crate::de::DeErrorKind::UnknownField { name } => {
                self.unknown_field(err.loc, field, name, err.message, err.hint)
            }
            crate::de::DeErrorKind::Invalid => self.invalid(err.loc, field, err.message, err.hint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_a_compiler_diagnostic() {
        let ctx = FileCtx::new(Path::new("skaffold.yaml"));
        let err = ctx.unknown_field(
            Some(Location {
                line: 12,
                column: 7,
            }),
            "build.artifacts[0].ko",
            "ldflagz",
            "unknown field `ldflagz`, expected one of `fromImage`, `ldflags`",
            Some("did you mean `ldflags`?".to_owned()),
        );
        assert_eq!(
            err.to_string(),
            "skaffold.yaml:12:7: build.artifacts[0].ko: unknown field `ldflagz`, expected one of \
             `fromImage`, `ldflags`; did you mean `ldflags`?"
        );
        let err = ctx.profile(None, "", "", "no such profile", None);
        assert_eq!(err.to_string(), "skaffold.yaml: no such profile");
        assert_eq!(err.location(), None);
    }

    #[test]
    fn path_strings() {
        let segs = [
            Seg::Key("build".into()),
            Seg::Key("artifacts".into()),
            Seg::Index(0),
            Seg::Key("ko".into()),
        ];
        assert_eq!(path_string(&segs), "build.artifacts[0].ko");
        assert_eq!(path_string(&[Seg::Index(2)]), "[2]");
    }
}
