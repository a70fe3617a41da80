//! The one error type of this crate.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Location;

/// Everything that can go wrong while loading `skaffold.yaml` or `.ko.yaml`: what kind of
/// problem, in which file, where (1-based line and column, when a position applies: not for
/// a read failure or a `-p` name that no config defines), in which field
/// (`build.artifacts[0].ko`, empty for the document root), the message and a hint, so the
/// CLI can print compiler-style diagnostics. `Display` renders
/// `file:line:col: field: message; hint`.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    kind: ErrorKind,
    path: PathBuf,
    loc: Option<Location>,
    field: String,
    message: String,
    hint: Option<String>,
    /// The I/O error of a [`ErrorKind::Read`].
    #[source]
    source: Option<std::io::Error>,
}

/// What kind of problem a [`ConfigError`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file exists (or was named explicitly) but could not be read.
    Read,
    /// Not YAML: bad syntax, duplicate keys, invalid UTF-8, too deep or too large.
    Syntax,
    /// A key that the schema (of this apiVersion) does not have: `name`, in the mapping at
    /// [`ConfigError::field`].
    UnknownField { name: String },
    /// A known field with a wrong type or value, or a required field that is missing.
    Invalid,
    /// Valid Skaffold that kiln cannot build: apiVersion too old or unknown, non-ko builders.
    Unsupported,
    /// Profile selection, activation or patching failed. `profile` is empty when the problem
    /// is the `-p` selection itself.
    Profile { profile: String },
}

impl ConfigError {
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<Location> {
        self.loc
    }

    /// The field path (`build.artifacts[0].ko`); empty for the document root.
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The suggestion, if any (e.g. "did you mean `ldflags`?").
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    fn render(&self) -> String {
        let mut out = self.path.display().to_string();
        if let Some(Location { line, column }) = self.loc {
            let _ = write!(out, ":{line}:{column}");
        }
        out.push_str(": ");
        if !self.field.is_empty() {
            out.push_str(&self.field);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        if let Some(hint) = &self.hint {
            out.push_str("; ");
            out.push_str(hint);
        }
        out
    }
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

    /// An error of `kind` in this file; a position with line 0 means none.
    pub(crate) fn error(
        &self,
        kind: ErrorKind,
        loc: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        ConfigError {
            kind,
            path: self.path.clone(),
            loc: loc.filter(|l| l.line > 0),
            field: field.into(),
            message: message.into(),
            hint,
            source: None,
        }
    }

    pub(crate) fn read(&self, source: std::io::Error) -> ConfigError {
        let message = source.to_string();
        ConfigError {
            source: Some(source),
            ..self.error(ErrorKind::Read, None, "", message, None)
        }
    }

    pub(crate) fn syntax(&self, loc: Location, message: impl Into<String>) -> ConfigError {
        self.error(ErrorKind::Syntax, Some(loc), "", message, None)
    }

    pub(crate) fn invalid(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        self.error(ErrorKind::Invalid, loc, field, message, hint)
    }

    pub(crate) fn unsupported(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        self.error(ErrorKind::Unsupported, loc, field, message, hint)
    }

    pub(crate) fn unknown_field(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        name: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let kind = ErrorKind::UnknownField { name: name.into() };
        self.error(kind, loc, field, message, hint)
    }

    pub(crate) fn profile(
        &self,
        loc: Option<Location>,
        field: impl Into<String>,
        profile: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let kind = ErrorKind::Profile {
            profile: profile.into(),
        };
        self.error(kind, loc, field, message, hint)
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
