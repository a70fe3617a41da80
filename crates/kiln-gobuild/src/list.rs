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
