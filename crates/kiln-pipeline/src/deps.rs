//! An artifact's dependency files, as Skaffold's ko builder lists them: the files under the
//! workspace (the artifact's context) matching `dependencies.paths` and none of
//! `dependencies.ignore`. They feed the `inputDigest` tag (and what a rebuild watches).

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use kiln_config::Dependencies;

use crate::Error;

/// Which workspace-relative paths are dependencies.
#[derive(Clone, Debug)]
pub struct DependencyMatcher {
    include: GlobSet,
    exclude: GlobSet,
}

impl DependencyMatcher {
    pub fn new(workspace: &Path, deps: &Dependencies) -> Result<Self, Error> {
        Ok(DependencyMatcher {
            include: glob_set(workspace, &deps.paths, "dependencies.paths")?,
            exclude: glob_set(workspace, &deps.ignore, "dependencies.ignore")?,
        })
    }

    /// `relative` uses `/` separators, relative to the workspace.
    pub fn matches(&self, relative: &str) -> bool {
        self.include.is_match(relative) && !self.exclude.is_match(relative)
    }

    /// Relative paths (with `/`), sorted, of the files under `workspace` that match.
    pub fn files(&self, workspace: &Path) -> Result<Vec<String>, Error> {
        let mut files = Vec::new();
        walk(workspace, workspace, &mut files)?;
        files.retain(|f| self.matches(f));
        files.sort();
        Ok(files)
    }
}

/// Relative paths (with `/`), sorted, of the dependency files of a workspace.
pub fn dependency_files(workspace: &Path, deps: &Dependencies) -> Result<Vec<String>, Error> {
    DependencyMatcher::new(workspace, deps)?.files(workspace)
}

/// Skaffold's pattern rules: `""`, `*` and `**` mean every file; a pattern naming an
/// existing directory means everything below it; anything else is a glob (with `*`
/// stopping at `/`, as doublestar does).
fn glob_set(workspace: &Path, patterns: &[String], field: &str) -> Result<GlobSet, Error> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let trimmed = pattern.trim_end_matches('/');
        let glob = if matches!(trimmed, "" | "*" | "**" | ".") {
            "**".to_owned()
        } else if workspace.join(trimmed).is_dir() {
            format!("{trimmed}/**")
        } else {
            trimmed.to_owned()
        };
        let compiled = GlobBuilder::new(&glob)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                Error::invalid(format!("ko.{field}: `{pattern}` is not a valid glob"), e)
            })?;
        set.add(compiled);
    }
    set.build()
        .map_err(|e| Error::invalid(format!("ko.{field}"), e))
}

/// Every non-directory under `dir` (links not followed, `.git` skipped), relative to `root`.
fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<(), Error> {
    let entries = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !(e.file_type().is_dir() && e.file_name() == ".git"));
    for entry in entries {
        let entry = entry.map_err(|source| Error::Walk {
            path: dir.to_owned(),
            source,
        })?;
        if !entry.file_type().is_dir()
            && let Ok(relative) = entry.path().strip_prefix(root)
            && let Some(relative) = relative.to_str()
        {
            files.push(relative.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Skaffold's TestGetDependencies tree.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            ".ko.yaml",
            "cmd/foo/foo.go",
            "cmd/run.go",
            "go.mod",
            "main.go",
            "pkg/bar/bar.go",
        ] {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, f).unwrap();
        }
        dir
    }

    fn deps(paths: &[&str], ignore: &[&str]) -> Dependencies {
        Dependencies {
            paths: paths.iter().map(|s| s.to_string()).collect(),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn follows_skaffold_get_dependencies_cases() {
        let dir = tree();
        let list = |p: &[&str], i: &[&str]| dependency_files(dir.path(), &deps(p, i)).unwrap();
        assert_eq!(
            list(&["**/*.go"], &[]),
            ["cmd/foo/foo.go", "cmd/run.go", "main.go", "pkg/bar/bar.go"]
        );
        assert_eq!(list(&["**/*.go"], &["."]).len(), 0);
        for everything in ["", "*", "**"] {
            assert_eq!(list(&[everything], &[]).len(), 6, "{everything:?}");
        }
        assert_eq!(list(&["**/*.go"], &["cmd"]), ["main.go", "pkg/bar/bar.go"]);
        assert_eq!(list(&["*.go"], &[]), ["main.go"], "* does not cross /");
    }

    #[test]
    fn an_invalid_glob_names_the_field() {
        let err = dependency_files(tree().path(), &deps(&["["], &[])).unwrap_err();
        assert!(err.to_string().contains("ko.dependencies.paths"), "{err}");
    }
}
