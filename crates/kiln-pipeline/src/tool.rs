//! Running the Kubernetes tools kiln renders and deploys with (`kubectl`, `kustomize`,
//! `helm`): the one place they are spawned, so every run is logged the same way.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Instant;

use kiln_core::env::Env;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::Error;

/// One run of a tool: the program, its arguments and what it reads on stdin; it starts
/// from the environment snapshot it is run with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<String>,
}

impl Invocation {
    pub fn new(program: &str, args: Vec<String>) -> Self {
        Invocation {
            program: program.to_owned(),
            args,
            ..Invocation::default()
        }
    }

    /// The command line as a person would type it, for messages, secrets redacted
    /// (`--set db.password=<redacted>`).
    pub fn display(&self) -> String {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().map(|a| kiln_core::command::redact_arg(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs `run`, started from `env`, to its end and returns its output, whatever its exit
/// status; `Err` only when it cannot start (a missing program is named with where to get it).
pub async fn run(run: &Invocation, env: &Env) -> Result<Output, Error> {
    let mut cmd = Command::new(&run.program);
    env.apply(cmd.as_std_mut());
    cmd.args(&run.args)
        .stdin(if run.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let spawned = cmd.spawn();
    let out = match spawned {
        Ok(mut child) => {
            // Written while the output is read, so a tool that answers before it has read
            // everything cannot block on a full pipe; one that exits early reports why itself.
            let writer = child
                .stdin
                .take()
                .zip(run.stdin.clone())
                .map(|(mut stdin, text)| {
                    tokio::spawn(async move {
                        let _ = stdin.write_all(text.as_bytes()).await;
                    })
                });
            let out = child.wait_with_output().await;
            if let Some(writer) = writer {
                let _ = writer.await;
            }
            out
        }
        Err(e) => Err(e),
    };
    let std = cmd.as_std();
    let line = kiln_core::command::CommandLine::new(
        std.get_program(),
        std.get_args(),
        std.get_current_dir(),
        env.changes(std.get_envs()),
    );
    let outcome = kiln_core::command::outcome(Some(out.as_ref().map(|o| o.status)));
    tracing::debug!("ran {}", line.describe_run(&outcome, started.elapsed()));
    out.map_err(|e| {
        let detail = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{}` is not on PATH: install it ({})",
                run.program,
                where_to_get(&run.program)
            )
        } else {
            format!("cannot run {}: {e}", run.program)
        };
        Error::Tool {
            command: run.display(),
            detail,
        }
    })
}

/// Runs `run` and returns its stdout; a non-zero exit is an error carrying its stderr.
pub async fn run_ok(run: &Invocation, env: &Env) -> Result<String, Error> {
    let out = self::run(run, env).await?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        return Err(Error::Tool {
            command: run.display(),
            detail: format!(
                "{}: {}",
                out.status,
                if stderr.is_empty() { stdout } else { stderr }
            ),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| Error::Tool {
        command: run.display(),
        detail: "its output is not UTF-8".to_owned(),
    })
}

fn where_to_get(program: &str) -> &'static str {
    match program {
        "kustomize" => "`go install sigs.k8s.io/kustomize/kustomize/v5@latest`",
        "helm" => "`go install helm.sh/helm/v3/cmd/helm@latest`",
        "kubectl" => "https://kubernetes.io/docs/tasks/tools/",
        _ => "see its documentation",
    }
}

/// Writes `bytes` as `name` in a new temporary directory (removed when the returned
/// handle drops): files a tool reads by path, such as helm's values and build JSON.
pub fn temp_file(name: &str, bytes: &[u8]) -> Result<(tempfile::TempDir, PathBuf), Error> {
    let dir = tempfile::Builder::new()
        .prefix("kiln-helm-")
        .tempdir()
        .map_err(|e| Error::io("creating a directory in", std::env::temp_dir(), e))?;
    let file = dir.path().join(name);
    std::fs::write(&file, bytes).map_err(|e| Error::io("writing", &file, e))?;
    Ok((dir, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failures_name_the_command_without_its_secrets() {
        let run = Invocation::new(
            "false",
            vec!["--set".to_owned(), "db.password=hunter2".to_owned()],
        );
        let err = run_ok(&run, &Env::from_vars(std::env::vars_os()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`false --set db.password=<redacted>` failed"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let missing = Invocation::new("kustomize-not-installed-here", Vec::new());
        let err = run_ok(&missing, &Env::from_vars(std::env::vars_os()))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not on PATH"), "{err}");
    }
}
