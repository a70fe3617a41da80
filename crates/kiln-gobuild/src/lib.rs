//! Runs the Go toolchain and git as subprocesses: `go list` to resolve main packages,
//! `go build` per platform, `go version -m` for build info, and git for templates and tags.
//!
//! Architecture invariant: this crate only spawns processes and reads their output. It does
//! not decide which platforms or flags to use; the pipeline hands it complete requests.

mod build;
pub mod git;
mod list;
mod toolchain;

pub use build::{BuildRequest, reject_toolexec};
pub use list::{DepModule, DepPackage, Package};
pub use toolchain::Toolchain;

use std::path::PathBuf;
use std::time::Instant;

use kiln_core::command::CommandLine;
use kiln_core::env::Env;
use tokio::process::Command;

/// Where `program` is found on `env`'s PATH (itself when it names a path): the first
/// executable file, as a shell looks it up. Spawning the found path rather than the bare
/// name keeps std on `posix_spawn` under a replaced environment (its `fork` fallback
/// costs every unchanged build ~2 ms).
pub fn find_program(env: &Env, program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    env.path_candidates(program).into_iter().find(|candidate| {
        std::fs::metadata(candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Runs `command` (started from `env`) to completion, killing it if the caller is dropped,
/// and logs it.
pub(crate) async fn output(
    command: &mut Command,
    env: &Env,
) -> std::io::Result<std::process::Output> {
    let started = Instant::now();
    let out = command.kill_on_drop(true).output().await;
    log_run(command, Some(&out), started, env);
    out
}

/// Logs at debug level what ran, where, with which environment changes over the snapshot
/// `env`, how it ended and for how long.
pub(crate) fn log_run(
    command: &Command,
    out: Option<&std::io::Result<std::process::Output>>,
    started: Instant,
    env: &Env,
) {
    let std = command.as_std();
    let line = CommandLine::new(
        std.get_program(),
        std.get_args(),
        std.get_current_dir(),
        env.changes(std.get_envs()),
    );
    let outcome = kiln_core::command::outcome(out.map(|r| r.as_ref().map(|o| o.status)));
    tracing::debug!("ran {}", line.describe_run(&outcome, started.elapsed()));
}

/// What to do about a process that could not start: only a missing or unusable binary means
/// installing Go; an argument list over the system's limit (E2BIG) means shorter flags.
fn spawn_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::ArgumentListTooLong => {
            "The command line or environment is over the system's limit: shorten the flags, ldflags or env values in the build configuration"
        }
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            "Install Go (https://go.dev/dl) or set KO_GO_PATH to the go binary"
        }
        _ => "Check that the go binary (or KO_GO_PATH) can be run",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run `{program}`: {source}. {}", spawn_hint(source))]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`go list {pattern}` in {}: {stderr}", dir.display())]
    List {
        pattern: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error(
        "`{pattern}` in {} must match exactly one package, but it matched {count}: {matched}. Set `main` to the path of the main package, e.g. `./cmd/app`",
        dir.display()
    )]
    NotOnePackage {
        pattern: String,
        dir: PathBuf,
        count: usize,
        matched: String,
    },
    #[error(
        "{import_path} is not a main package ({name}): only main packages can be built into images"
    )]
    /// `name` says how it showed: its package clause, or the archive `go build` wrote.
    NotMain { import_path: String, name: String },
    #[error("go build of {import_path} for {platform} failed:\n{output}")]
    Build {
        import_path: String,
        platform: String,
        output: String,
    },
    #[error(
        "{flag} is not allowed in {source_name}: it would run an arbitrary program during the build"
    )]
    Toolexec { flag: String, source_name: String },
    #[error(
        "{} asks for Go {required} (its `go` line), but the installed Go is {running} and GOTOOLCHAIN={setting} keeps go from switching. Install Go {required} or newer, set GOTOOLCHAIN=auto to let go download that toolchain, or lower the `go` line",
        file.display()
    )]
    GoTooOld {
        file: PathBuf,
        required: String,
        running: String,
        setting: String,
    },
    #[error("unexpected output from `{command}`: {detail}")]
    Output { command: String, detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_overlong_argument_is_not_reported_as_go_missing() {
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg("true").arg("x".repeat(4 << 20));
        let source = command.output().await.unwrap_err();
        let e = Error::Spawn {
            program: "go".to_owned(),
            source,
        };
        let msg = e.to_string();
        assert!(
            msg.contains("over the system's limit") && !msg.contains("Install Go"),
            "{msg}"
        );
        let e = Error::Spawn {
            program: "go".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(e.to_string().contains("Install Go"));
    }
}
