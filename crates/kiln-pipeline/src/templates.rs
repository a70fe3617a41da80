//! Go flag and ldflag templates rendered per target platform, as ko renders them: its
//! template data sees the build's environment, which starts from ko's defaults for the
//! platform (`CGO_ENABLED=0`, `GOOS`, `GOARCH`, `GOARM`/`GOAMD64`), then the process
//! environment, then the build's `env` (gobuild.go `buildEnv`, `createTemplateData`). So for
//! linux/arm64 `{{.GoEnv.GOARCH}}-{{.GoEnv.CGO_ENABLED}}` is `arm64-0`.

use kiln_core::env::Env;
use std::collections::BTreeMap;

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use kiln_core::Platform;
use kiln_core::command::CommandLine;
use kiln_core::sprig::{CommandRunner, TemplateInputs};
use kiln_core::template::{KoTemplateData, render_ko, render_skaffold};
use kiln_gobuild::reject_toolexec;

use crate::Error;

/// How long a template's `cmd` (or a `dependencies.command`) may run before it is killed.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// What Skaffold's template functions read in this run: `env`/`expandenv` the
/// environment snapshot, `now` and the date functions `now_unix`, and `cmd` runs
/// processes in the current directory with that environment, for at most [`CMD_TIMEOUT`].
pub fn template_inputs(env: &Env, now_unix: i64) -> TemplateInputs {
    TemplateInputs {
        environment: env.vars().clone(),
        now_unix: Some(now_unix),
        commands: Some(Arc::new(CmdRunner {
            env: env.clone(),
            timeout: CMD_TIMEOUT,
        })),
    }
}

/// [`template_inputs`] at the current time: for templates rendered while deploying
/// (helm values, a namespace), which Skaffold also expands at that moment.
pub fn template_inputs_now(env: &Env) -> TemplateInputs {
    template_inputs(env, now().0)
}

/// The clock: seconds since 1970 and the sub-second part (`dateTime`'s default `.999`
/// shows milliseconds), for tags, `.Date` when SOURCE_DATE_EPOCH is unset, and templates.
pub fn now() -> (i64, u32) {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() as i64, d.subsec_nanos()))
        .unwrap_or_default()
}

/// Skaffold's `runCmdFunc`: the program with its arguments, in the working directory,
/// stdin empty, its stdout trimmed; a failure, or a run past `timeout` (the process is
/// then killed), is the template's error naming the command.
#[derive(Debug)]
pub struct CmdRunner {
    /// The environment the command starts from (nothing else is inherited).
    pub env: Env,
    pub timeout: Duration,
}

impl CommandRunner for CmdRunner {
    fn run(&self, program: &str, args: &[String]) -> Result<String, String> {
        let mut command = Command::new(program);
        self.env
            .apply(&mut command)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = format!(
            "`{}`",
            std::iter::once(program)
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let started = Instant::now();
        let result = run_with_deadline(&mut command, self.timeout);
        let dir = std::env::current_dir().ok();
        let line = CommandLine::new(
            command.get_program(),
            command.get_args(),
            dir.as_deref(),
            [],
        );
        let outcome = kiln_core::command::outcome(match &result {
            Ok(Some((status, _, _))) => Some(Ok(status.to_string())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        });
        tracing::debug!(
            "template cmd ran {}",
            line.describe_run(&outcome, started.elapsed())
        );
        match result {
            Err(e) => Err(format!("cmd {shown} could not start: {e}")),
            Ok(None) => Err(format!(
                "cmd {shown} did not finish within {}s and was killed",
                self.timeout.as_secs_f64()
            )),
            Ok(Some((status, _, stderr))) if !status.success() => Err(format!(
                "cmd {shown} failed ({status}): {}",
                String::from_utf8_lossy(&stderr).trim()
            )),
            Ok(Some((_, stdout, _))) => Ok(String::from_utf8_lossy(&stdout).trim().to_owned()),
        }
    }
}

/// How a command ended: its exit status, stdout and stderr.
pub(crate) type Finished = (ExitStatus, Vec<u8>, Vec<u8>);

/// The exit status, stdout and stderr of `command`, or `None` when it ran past
/// `timeout` (it is killed then). Output a leftover grandchild keeps open is not waited
/// for past the deadline either.
pub(crate) fn run_with_deadline(
    command: &mut Command,
    timeout: Duration,
) -> std::io::Result<Option<Finished>> {
    let deadline = Instant::now() + timeout;
    let mut child = command.spawn()?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            let _ = send.send(bytes);
        });
        receive
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let remaining = || deadline.saturating_duration_since(Instant::now());
    match (
        stdout.recv_timeout(remaining()),
        stderr.recv_timeout(remaining()),
    ) {
        (Ok(out), Ok(err)) => Ok(Some((status, out, err))),
        _ => Ok(None),
    }
}

/// The flag and ldflag templates of one artifact and the data they are rendered with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoTemplates {
    /// Names the artifact in errors (`image: ` or `import/path: `).
    pub origin: String,
    pub flags: Vec<String>,
    /// The flags are the skaffold.yaml artifact's own (Skaffold's template pass).
    pub flags_from_artifact: bool,
    pub ldflags: Vec<String>,
    pub ldflags_from_artifact: bool,
    /// ko's data, before any platform is applied.
    pub data: KoTemplateData,
    /// Skaffold's template environment (the OS env with `IMAGE_REPO`/`IMAGE_NAME`/`IMAGE_TAG`).
    pub skaffold_env: BTreeMap<String, String>,
    /// What Skaffold's template functions read (environment, clock, `cmd` runner).
    pub inputs: TemplateInputs,
}

impl GoTemplates {
    /// Whether rendering depends on the platform (a template reads `.Env` or `.GoEnv`).
    pub fn per_platform(&self) -> bool {
        self.flags
            .iter()
            .chain(&self.ldflags)
            .any(|t| t.contains("Env"))
    }

    /// `(flags, ldflags)` for a build targeting `platform`; `-toolexec` is refused in them.
    pub fn render(&self, platform: &Platform) -> Result<(Vec<String>, Vec<String>), Error> {
        let data = self.data_for(platform)?;
        let flags = self.render_list(&self.flags, self.flags_from_artifact, "flags", &data)?;
        let ldflags =
            self.render_list(&self.ldflags, self.ldflags_from_artifact, "ldflags", &data)?;
        reject_toolexec(&flags, &format!("{}flags", self.origin))?;
        Ok((flags, ldflags))
    }

    /// ko's data with the platform's defaults under the environment.
    fn data_for(&self, platform: &Platform) -> Result<KoTemplateData, Error> {
        let mut data = self.data.clone();
        let mut defaults = vec![("CGO_ENABLED", "0".to_owned())];
        defaults.extend(
            platform.go_env().map_err(|e| {
                Error::planning(format!("{}{platform}", self.origin), e.to_string())
            })?,
        );
        for (key, value) in defaults {
            let value = data.env.entry(key.to_owned()).or_insert(value).clone();
            // `.GoEnv` entries are overridden by the environment's, as in ko.
            if let Some(go_value) = data.go_env.get_mut(key) {
                *go_value = value;
            }
        }
        Ok(data)
    }

    fn render_list(
        &self,
        templates: &[String],
        from_artifact: bool,
        field: &str,
        data: &KoTemplateData,
    ) -> Result<Vec<String>, Error> {
        templates
            .iter()
            .map(|t| {
                let rendered = if from_artifact {
                    render_skaffold(t, &self.skaffold_env, Some(data), &self.inputs)
                } else {
                    render_ko(t, data)
                };
                rendered.map_err(|e| {
                    let source = if from_artifact { "ko." } else { ".ko.yaml " };
                    Error::planning(format!("{}{source}{field}", self.origin), e.to_string())
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod cmd_tests {
    use super::*;

    fn templates(ldflag: &str, timeout: Duration) -> GoTemplates {
        let env = Env::from_vars(std::env::vars_os());
        let mut inputs = template_inputs(&env, 0);
        inputs.commands = Some(Arc::new(CmdRunner {
            env: env.clone(),
            timeout,
        }));
        GoTemplates {
            origin: "app: ".to_owned(),
            ldflags: vec![ldflag.to_owned()],
            ldflags_from_artifact: true,
            skaffold_env: env.vars().clone(),
            inputs,
            ..GoTemplates::default()
        }
    }

    fn platform() -> Platform {
        "linux/amd64".parse().unwrap()
    }

    #[test]
    fn template_cmd_runs_the_command_and_trims_its_output() {
        let t = templates(
            r#"-X main.v={{cmd "sh" "-c" "echo ' v1.2 '"}}"#,
            CMD_TIMEOUT,
        );
        assert_eq!(t.render(&platform()).unwrap().1, ["-X main.v=v1.2"]);
    }

    #[test]
    fn a_failing_template_cmd_names_the_command_and_the_field() {
        let t = templates(r#"{{cmd "sh" "-c" "echo boom >&2; exit 3"}}"#, CMD_TIMEOUT);
        let err = t.render(&platform()).unwrap_err().to_string();
        for part in [
            "app: ko.ldflags",
            "cmd `sh -c echo boom >&2; exit 3` failed",
            "boom",
        ] {
            assert!(err.contains(part), "{part} not in {err}");
        }
    }

    #[test]
    fn a_template_cmd_past_its_deadline_is_killed_with_a_clear_error() {
        let t = templates(r#"{{cmd "sleep" "30"}}"#, Duration::from_millis(300));
        let started = Instant::now();
        let err = t.render(&platform()).unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        for part in [
            "app: ko.ldflags",
            "cmd `sleep 30` did not finish within 0.3s and was killed",
        ] {
            assert!(err.contains(part), "{part} not in {err}");
        }
    }
}
