//! Resolving a `main` pattern to exactly one package, with one `go list` call.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Toolchain};

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Package {
    pub import_path: String,
    pub name: String,
    /// The package directory (where `kodata/` is looked for).
    pub dir: PathBuf,
    #[serde(default)]
    pub go_files: Vec<String>,
}

impl Toolchain {
    /// Resolves `pattern` (a relative path such as `./cmd/app`, `./...`, or an import path)
    /// in `dir` to exactly one `package main`.
    /// `on_download` hears each module Go fetches while it looks.
    pub async fn resolve_main(
        &self,
        dir: &Path,
        pattern: &str,
        env: &[(String, String)],
        on_download: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Package, Error> {
        let args = [
            "list",
            "-find",
            "-json=ImportPath,Name,Dir,GoFiles",
            "--",
            pattern,
        ];
        let out = self.go_output(&args, dir, env, on_download).await?;
        if !out.status.success() {
            return Err(Error::List {
                pattern: pattern.to_owned(),
                dir: dir.to_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        let packages = serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter::<Package>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Output {
                command: format!("go list {pattern}"),
                detail: e.to_string(),
            })?;
        let [package] =
            <[Package; 1]>::try_from(packages).map_err(|packages| Error::NotOnePackage {
                pattern: pattern.to_owned(),
                dir: dir.to_owned(),
                count: packages.len(),
                matched: packages
                    .iter()
                    .map(|p| p.import_path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if package.name != "main" {
            return Err(Error::NotMain {
                import_path: package.import_path,
                name: format!("package {}", package.name),
            });
        }
        Ok(package)
    }
}

/// One package of a main package's dependency graph, as `go list -deps` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DepPackage {
    pub import_path: String,
    pub dir: Option<PathBuf>,
    pub standard: bool,
    pub module: Option<DepModule>,
    /// Every file of the directory that Go looked at, relative to `dir`: compiled ones,
    /// embedded ones, and those a build constraint left out (an edit there can bring
    /// them in).
    pub go_files: Vec<String>,
    pub cgo_files: Vec<String>,
    pub c_files: Vec<String>,
    #[serde(rename = "CXXFiles")]
    pub cxx_files: Vec<String>,
    pub m_files: Vec<String>,
    pub h_files: Vec<String>,
    pub f_files: Vec<String>,
    pub s_files: Vec<String>,
    pub swig_files: Vec<String>,
    #[serde(rename = "SwigCXXFiles")]
    pub swig_cxx_files: Vec<String>,
    pub syso_files: Vec<String>,
    pub embed_files: Vec<String>,
    pub ignored_go_files: Vec<String>,
    pub ignored_other_files: Vec<String>,
    /// Why the package could not be loaded, if it could not.
    pub error: Option<serde_json::Value>,
    pub deps_errors: Vec<serde_json::Value>,
}

impl DepPackage {
    /// Every file Go reads or considers in the package's directory, relative to it.
    pub fn files(&self) -> impl Iterator<Item = &String> {
        [
            &self.go_files,
            &self.cgo_files,
            &self.c_files,
            &self.cxx_files,
            &self.m_files,
            &self.h_files,
            &self.f_files,
            &self.s_files,
            &self.swig_files,
            &self.swig_cxx_files,
            &self.syso_files,
            &self.embed_files,
            &self.ignored_go_files,
            &self.ignored_other_files,
        ]
        .into_iter()
        .flatten()
    }
}

/// The module a package belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DepModule {
    pub path: String,
    /// Empty for main (workspace) modules and directory replacements.
    pub version: String,
    pub main: bool,
    pub dir: Option<PathBuf>,
    pub go_mod: Option<PathBuf>,
    /// The go.sum hash of a downloaded module.
    pub sum: String,
    pub replace: Option<Box<DepModule>>,
}

/// The fields `go list -deps` is asked for.
const DEP_FIELDS: &str = "ImportPath,Dir,Standard,Module,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles,Error,DepsErrors";

impl Toolchain {
    /// `go list -deps` of `import_path` in `dir` with the build's `flags` and `env`: every
    /// package `go build` would compile, with their files and modules. Loading the graph
    /// downloads the modules it needs; `on_download` hears each one. Packages that cannot
    /// be loaded come back with their `error` set (`-e`), for the caller to judge.
    pub async fn list_deps(
        &self,
        dir: &Path,
        import_path: &str,
        flags: &[String],
        env: &[(String, String)],
        on_download: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Vec<DepPackage>, Error> {
        let mut args = vec![
            "list".to_owned(),
            "-deps".to_owned(),
            "-e".to_owned(),
            format!("-json={DEP_FIELDS}"),
        ];
        args.extend(flags.iter().cloned());
        args.extend(["--".to_owned(), import_path.to_owned()]);
        let out = self.go_output(&args, dir, env, on_download).await?;
        if !out.status.success() {
            return Err(Error::List {
                pattern: import_path.to_owned(),
                dir: dir.to_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter::<DepPackage>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Output {
                command: format!("go list -deps {import_path}"),
                detail: e.to_string(),
            })
    }
}
