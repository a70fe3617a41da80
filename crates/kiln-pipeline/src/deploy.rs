//! Deploying rendered manifests with `kubectl`, as Skaffold's kubectl deployer does:
//! `kubectl [--context C] [global flags] apply [--namespace N] [apply flags] -f -`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kiln_config::Deploy;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::Error;

/// How long the reachability probe may take: a dev loop must not hang on a dead cluster.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct Kubectl {
    context: Option<String>,
    global_flags: Vec<String>,
    apply_flags: Vec<String>,
    namespace: Option<String>,
}

impl Kubectl {
    /// The kubectl deployer of `deploy`, if it has one; `kube_context` (the `--kube-context`
    /// flag) wins over `deploy.kubeContext`, as in Skaffold.
    pub fn from_config(deploy: &Deploy, kube_context: Option<&str>) -> Option<Self> {
        let kubectl = deploy.kubectl.as_ref()?;
        let mut apply_flags = kubectl.flags.apply.clone();
        if kubectl.flags.disable_validation {
            apply_flags.push("--validate=false".to_owned());
        }
        Some(Kubectl {
            context: kube_context
                .map(str::to_owned)
                .or_else(|| deploy.kube_context.clone()),
            global_flags: kubectl.flags.global.clone(),
            apply_flags,
            namespace: kubectl.default_namespace.clone(),
        })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        if let Some(context) = &self.context {
            cmd.arg("--context").arg(context);
        }
        cmd.args(&self.global_flags).kill_on_drop(true);
        cmd
    }

    /// Whether a cluster answers: `Err` says why not (no kubectl, no kubeconfig, no
    /// server), in kubectl's own words.
    pub async fn reachable(&self) -> Result<(), String> {
        let mut cmd = self.command();
        cmd.args(["version", "--request-timeout=5s"])
            .stdin(Stdio::null());
        let started = Instant::now();
        let out = tokio::time::timeout(PROBE_TIMEOUT, cmd.output()).await;
        log_run(&cmd, out.as_ref().ok(), started);
        let out = out
            .map_err(|_| format!("kubectl version did not answer within {PROBE_TIMEOUT:?}"))?
            .map_err(|e| format!("kubectl cannot run: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(stderr
                .lines()
                .last()
                .unwrap_or("kubectl version failed")
                .to_owned())
        }
    }

    /// Applies `manifests` (a YAML stream); returns kubectl's report.
    pub async fn apply(&self, manifests: &str) -> Result<String, Error> {
        let mut cmd = self.command();
        cmd.arg("apply");
        if let Some(namespace) = &self.namespace {
            cmd.arg("--namespace").arg(namespace);
        }
        cmd.args(&self.apply_flags)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let failed = |detail: String| Error::Deploy { detail };
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| failed(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(manifests.as_bytes())
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        let out = child.wait_with_output().await;
        log_run(&cmd, Some(&out), started);
        let out = out.map_err(|e| failed(e.to_string()))?;
        if !out.status.success() {
            return Err(failed(
                String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// Logs at debug level what kubectl command ran, where, with which added environment, how
/// it ended and for how long (`None`: it did not finish in time).
fn log_run(cmd: &Command, out: Option<&std::io::Result<std::process::Output>>, started: Instant) {
    let std = cmd.as_std();
    let line = kiln_core::command::CommandLine::new(
        std.get_program(),
        std.get_args(),
        std.get_current_dir(),
        std.get_envs(),
    );
    let outcome = kiln_core::command::outcome(out.map(|r| r.as_ref().map(|o| o.status)));
    tracing::debug!("ran {}", line.describe_run(&outcome, started.elapsed()));
}
