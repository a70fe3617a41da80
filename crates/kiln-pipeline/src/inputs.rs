//! An artifact's watched inputs: what `kiln dev` watches (Skaffold's `dependencies` globs,
//! the module files, the ko config, kodata). The artifact cache key hashes the module
//! files, ko config and kodata from here, and, instead of the globs, the sources `go`
//! reads (`go_inputs.rs`), so a list that misses a package cannot serve a stale image.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::deps::DependencyMatcher;
use crate::plan::ArtifactPlan;

/// Files in the Go directory and each directory above it that change what `go` builds:
/// the module (or workspace) definition, its checksums, and the vendored module list.
const MODULE_FILES: [&str; 5] = [
    "go.mod",
    "go.sum",
    "go.work",
    "go.work.sum",
    "vendor/modules.txt",
];

/// What an artifact's image is made from.
#[derive(Clone, Debug)]
pub struct BuildInputs {
    /// The artifact's context: dependency globs are relative to it.
    pub workspace: PathBuf,
    /// `ko.dependencies` (default `**/*.go`) under the workspace.
    pub dependencies: DependencyMatcher,
    /// Single files, whether they exist yet or not, in hashing order: the module files of
    /// the Go directory and its ancestors, then the ko config (the file that applied:
    /// `KO_CONFIG_PATH`'s, or the Go directory's `.ko.json`/`.ko.yaml`/`.ko.yml`, all three
    /// candidates when none exists yet).
    pub files: Vec<PathBuf>,
    /// The package's kodata tree.
    pub kodata: PathBuf,
}

impl BuildInputs {
    /// The module files of `go_dir` and each directory above it, in hashing order.
    pub fn module_files(go_dir: &Path) -> Vec<PathBuf> {
        go_dir
            .ancestors()
            .flat_map(|dir| MODULE_FILES.map(|f| dir.join(f)))
            .collect()
    }

    pub fn of(plan: &ArtifactPlan) -> Result<Self, Error> {
        let mut files = Self::module_files(&plan.go_dir);
        match &plan.ko_config_path {
            Some(path) => files.push(path.clone()),
            None => files.extend(
                kiln_config::KO_CONFIG_FILE_NAMES
                    .iter()
                    .map(|name| plan.go_dir.join(name)),
            ),
        }
        Ok(BuildInputs {
            workspace: plan.workspace.clone(),
            dependencies: DependencyMatcher::new(&plan.workspace, &plan.dependencies)?,
            files,
            kodata: plan.package.dir.join("kodata"),
        })
    }

    /// Whether a change at `path` (absolute) can change the image.
    pub fn covers(&self, path: &Path) -> bool {
        let dependency = path
            .strip_prefix(&self.workspace)
            .ok()
            .and_then(|rel| rel.to_str())
            .map(|rel| rel.replace(std::path::MAIN_SEPARATOR, "/"))
            .is_some_and(|rel| self.dependencies.matches(&rel));
        dependency || self.files.iter().any(|f| f == path) || path.starts_with(&self.kodata)
    }

    /// The directories to watch for these inputs: the workspace and the kodata tree
    /// recursively, and (non-recursively) the existing directory of each single file, which
    /// may lie outside the workspace (a `go.work` above it, a `KO_CONFIG_PATH` file).
    pub fn watch_dirs(&self) -> Vec<(PathBuf, bool)> {
        let mut dirs = vec![(self.workspace.clone(), true)];
        if self.kodata.is_dir() {
            dirs.push((self.kodata.clone(), true));
        }
        dirs.extend(
            self.files
                .iter()
                .filter_map(|f| f.parent())
                .filter(|dir| dir.is_dir())
                .map(|dir| (dir.to_owned(), false)),
        );
        dirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(dir: &Path) -> BuildInputs {
        BuildInputs {
            workspace: dir.to_owned(),
            dependencies: DependencyMatcher::new(
                dir,
                &kiln_config::Dependencies {
                    paths: vec!["**/*.go".into()],
                    ignore: vec![],
                },
            )
            .unwrap(),
            files: vec![dir.join("go.mod"), PathBuf::from("/src/go.work")],
            kodata: dir.join("cmd/app/kodata"),
        }
    }

    #[test]
    fn covers_dependencies_single_files_and_kodata_only() {
        let dir = Path::new("/src/app");
        let inputs = inputs(dir);
        for hit in [
            "cmd/app/main.go",
            "go.mod",
            "/src/go.work",
            "cmd/app/kodata/x.txt",
        ] {
            assert!(inputs.covers(&dir.join(hit)), "{hit}");
        }
        for miss in ["README.md", "out/index.json", "/src/go.mod", "cmd/go.mod"] {
            assert!(!inputs.covers(&dir.join(miss)), "{miss}");
        }
    }
}
