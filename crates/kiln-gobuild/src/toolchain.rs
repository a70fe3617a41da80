//! The Go toolchain: which `go` to run, and what it says about itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use kiln_core::env::Env;
use kiln_core::sbom::GoBuildInfo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::Error;

/// A Go toolchain, identified by its binary and `go version` (part of every cache key:
/// a new toolchain compiles different bytes), and the environment every `go` it runs
/// starts from.
#[derive(Clone, Debug)]
pub struct Toolchain {
    pub go: PathBuf,
    pub version: String,
    pub env: Env,
}

impl Toolchain {
    /// Uses `go_path` (ko's `KO_GO_PATH`) or `go` from the environment's PATH.
    pub async fn discover(go_path: Option<PathBuf>, env: Env) -> Result<Self, Error> {
        let go = go_path.unwrap_or_else(|| PathBuf::from("go"));
        let mut toolchain = Toolchain {
            go,
            version: String::new(),
            env,
        };
        let what = toolchain.go.display().to_string();
        let out = run(toolchain.command().arg("version"), &what, &toolchain.env).await?;
        toolchain.version = out.trim().to_owned();
        Ok(toolchain)
    }

    /// `go`, started from the environment snapshot.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.go);
        self.env.apply(command.as_std_mut());
        command
    }

    /// Runs `go <args>` in `dir` with `env` over the snapshot, returning its
    /// output whatever the exit status: each caller turns a failure into its own error.
    /// stderr is read line by line as it comes, so that `on_download` hears each module Go
    /// fetches (`example.com/m v1.2.3`) while it happens.
    pub(crate) async fn go_output<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        dir: &Path,
        env: &[(String, String)],
        on_download: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<std::process::Output, Error> {
        let mut command = self.command();
        command
            .args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawn_error = |source| Error::Spawn {
            program: self.go.display().to_string(),
            source,
        };
        let started = Instant::now();
        let mut child = command.spawn().map_err(spawn_error)?;
        let mut stderr_bytes = Vec::new();
        let stderr = child.stderr.take();
        let read_stderr = async {
            let Some(stderr) = stderr else { return };
            // Bytes, not text: a line that is not UTF-8 must not stop the reading (go would
            // then block on a full pipe).
            let mut lines = BufReader::new(stderr).split(b'\n');
            while let Ok(Some(line)) = lines.next_segment().await {
                if let Some(module) = downloaded_module(&String::from_utf8_lossy(&line)) {
                    on_download(module);
                }
                stderr_bytes.extend_from_slice(&line);
                stderr_bytes.push(b'\n');
            }
        };
        let (out, ()) = tokio::join!(child.wait_with_output(), read_stderr);
        crate::log_run(&command, Some(&out), started, &self.env);
        let mut out = out.map_err(spawn_error)?;
        if !out.status.success()
            && let Some(error) = too_new(&String::from_utf8_lossy(&stderr_bytes), dir)
        {
            return Err(error);
        }
        out.stderr = stderr_bytes;
        Ok(out)
    }

    /// `go env -json`, for the `.GoEnv` template variable.
    pub async fn go_env(&self) -> Result<BTreeMap<String, String>, Error> {
        let out = run(
            self.command().args(["env", "-json"]),
            "go env -json",
            &self.env,
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
            self.command().args(["version", "-m"]).arg(binary),
            &command,
            &self.env,
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
async fn spawn(
    command: &mut Command,
    program: &str,
    env: &Env,
) -> Result<std::process::Output, Error> {
    crate::output(command, env)
        .await
        .map_err(|source| Error::Spawn {
            program: program.to_owned(),
            source,
        })
}

/// Runs a command to completion, returning stdout, or stderr in the error.
async fn run(command: &mut Command, what: &str, env: &Env) -> Result<String, Error> {
    let out = spawn(command, what, env).await?;
    if !out.status.success() {
        return Err(Error::Output {
            command: what.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Go's refusal of a go.mod or go.work that asks for a newer Go than it may run
/// (`go: ../go.mod requires go >= 1.27 (running go 1.26.8; GOTOOLCHAIN=local)`), with the
/// file named from `dir`, where go ran.
fn too_new(stderr: &str, dir: &Path) -> Option<Error> {
    stderr.lines().find_map(|line| {
        let (file, rest) = line.strip_prefix("go: ")?.split_once(" requires go >= ")?;
        let (required, rest) = rest.split_once(" (running go ")?;
        let (running, setting) = rest.split_once("; GOTOOLCHAIN=")?;
        // Go names the file from where it ran: `../go.mod` becomes the go.mod above `dir`.
        let mut path = dir.to_path_buf();
        for part in Path::new(file).components() {
            match part {
                std::path::Component::ParentDir => _ = path.pop(),
                other => path.push(other),
            }
        }
        Some(Error::GoTooOld {
            file: path,
            required: required.to_owned(),
            running: running.to_owned(),
            setting: setting.trim_end_matches(')').to_owned(),
        })
    })
}

/// The module in a `go: downloading example.com/m v1.2.3` line of `go build`'s stderr.
fn downloaded_module(line: &str) -> Option<&str> {
    line.strip_prefix("go: downloading ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_go_line_newer_than_the_toolchain_names_the_file_and_the_ways_out() {
        let stderr = "go: ../go.mod requires go >= 1.99 (running go 1.26.8; GOTOOLCHAIN=local)\n";
        let error = too_new(stderr, Path::new("/src/app")).unwrap().to_string();
        for part in [
            "/src/go.mod asks for Go 1.99",
            "the installed Go is 1.26.8",
            "GOTOOLCHAIN=local",
            "Install Go 1.99 or newer",
            "GOTOOLCHAIN=auto",
        ] {
            assert!(error.contains(part), "{part} in {error}");
        }
        assert!(too_new("go: cannot find main module", Path::new("/")).is_none());
    }

    #[test]
    fn module_downloads_are_recognised_in_go_output() {
        assert_eq!(
            downloaded_module("go: downloading golang.org/x/sys v0.30.0"),
            Some("golang.org/x/sys v0.30.0")
        );
        assert_eq!(downloaded_module("./main.go:3:2: undefined: x"), None);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    /// `go` must see the snapshot it is handed and nothing else: not the test process's
    /// HOME or GOPATH, which would move GOPATH and the module cache behind the key's back.
    #[tokio::test]
    async fn go_sees_the_snapshot_and_nothing_else_of_the_process_environment() {
        let process = Env::from_vars(std::env::vars_os());
        let home = std::env::temp_dir().join(format!("kiln-snapshot-home-{}", std::process::id()));
        let home_text = home.display().to_string();
        let snapshot = Env::from_vars([
            ("PATH", process.get("PATH").expect("PATH is set")),
            ("HOME", home_text.as_str()),
            ("GOFLAGS", "-tags=from_the_snapshot"),
            ("GOTOOLCHAIN", "local"),
        ]);
        let toolchain = Toolchain::discover(None, snapshot)
            .await
            .expect("go on PATH");
        let go_env = toolchain.go_env().await.expect("go env -json");
        assert_eq!(go_env["GOFLAGS"], "-tags=from_the_snapshot");
        assert_eq!(go_env["GOPATH"], format!("{home_text}/go"));
        assert_eq!(go_env["GOMODCACHE"], format!("{home_text}/go/pkg/mod"));
        assert_ne!(process.get("HOME"), Some(home_text.as_str()));
    }
}
