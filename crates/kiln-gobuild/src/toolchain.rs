//! The Go toolchain: which `go` to run, and what it says about itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_core::sbom::GoBuildInfo;
use tokio::process::Command;

use crate::Error;

/// A Go toolchain, identified by its binary and `go version` (part of every cache key:
/// a new toolchain compiles different bytes).
#[derive(Clone, Debug)]
pub struct Toolchain {
    pub go: PathBuf,
    pub version: String,
}

impl Toolchain {
    /// Uses `go_path` (ko's `KO_GO_PATH`) or `go` from PATH.
    pub async fn discover(go_path: Option<PathBuf>) -> Result<Self, Error> {
        let go = go_path.unwrap_or_else(|| PathBuf::from("go"));
        let out = run(Command::new(&go).arg("version"), &go.display().to_string()).await?;
        Ok(Toolchain {
            go,
            version: out.trim().to_owned(),
        })
    }

    /// Runs `go <args>` in `dir` with `env` over the inherited environment, returning its
    /// output whatever the exit status: each caller turns a failure into its own error.
    pub(crate) async fn go_output<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        dir: &std::path::Path,
        env: &[(String, String)],
    ) -> Result<std::process::Output, Error> {
        let mut command = Command::new(&self.go);
        command
            .args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)));
        spawn(&mut command, &self.go.display().to_string()).await
    }

    /// `go env -json`, for the `.GoEnv` template variable.
    pub async fn env(&self) -> Result<BTreeMap<String, String>, Error> {
        let out = run(
            Command::new(&self.go).args(["env", "-json"]),
            "go env -json",
        )
        .await?;
        serde_json::from_str(&out).map_err(|e| Error::Output {
            command: "go env -json".into(),
            detail: e.to_string(),
        })
    }

    /// `go version -m <binary>`: the modules and settings Go recorded in it. The binary's
    /// path on this machine is replaced by `image_path` (ko uses `/ko-app/<name>`), so the
    /// answer does not depend on where the binary was built.
    pub async fn build_info(&self, binary: &Path, image_path: &str) -> Result<GoBuildInfo, Error> {
        let command = format!("go version -m {}", binary.display());
        let out = run(
            Command::new(&self.go).args(["version", "-m"]).arg(binary),
            &command,
        )
        .await?;
        let mut info = GoBuildInfo::parse(&out).map_err(|e| Error::Output {
            command,
            detail: e.to_string(),
        })?;
        info.binary = image_path.to_owned();
        Ok(info)
    }
}

/// Runs a command to completion (killing it if the caller is dropped).
async fn spawn(command: &mut Command, program: &str) -> Result<std::process::Output, Error> {
    crate::output(command).await.map_err(|source| Error::Spawn {
        program: program.to_owned(),
        source,
    })
}

/// Runs a command to completion, returning stdout, or stderr in the error.
async fn run(command: &mut Command, what: &str) -> Result<String, Error> {
    let out = spawn(command, what).await?;
    if !out.status.success() {
        return Err(Error::Output {
            command: what.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
