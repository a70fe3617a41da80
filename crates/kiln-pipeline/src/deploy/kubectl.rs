//! Skaffold's kubectl deployer: `kubectl [--context C] [--namespace N] apply GLOBAL… APPLY…
//! -f - [--validate=false]` with the rendered manifests on stdin, and `kubectl … delete
//! GLOBAL… DELETE… --ignore-not-found=true --wait=false -f -` to clean up
//! (pkg/skaffold/deploy/kubectl/cli.go).

use kiln_core::env::Env;
use std::time::Duration;

use kiln_config::{Deploy, KubectlFlags};

use crate::Error;
use crate::helm::HelmContext;
use crate::tool::{Invocation, run, run_ok};

/// How long the reachability probe may take: a dev loop must not hang on a dead cluster.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct Kubectl {
    context: Option<String>,
    flags: KubectlFlags,
    namespace: Option<String>,
    kubeconfig: Option<String>,
    force: bool,
    /// What kubectl starts from; `defaultNamespace` templates read it too.
    env: Env,
}

impl Kubectl {
    /// The kubectl deployer of `deploy`, if it has one; `kube_context` (the `--kube-context`
    /// flag) wins over `deploy.kubeContext`, as in Skaffold.
    pub fn from_config(deploy: &Deploy, kube_context: Option<&str>, env: &Env) -> Option<Self> {
        let kubectl = deploy.kubectl.as_ref()?;
        Some(Kubectl {
            context: kube_context
                .map(str::to_owned)
                .or_else(|| deploy.kube_context.clone()),
            flags: kubectl.flags.clone(),
            namespace: kubectl.default_namespace.clone(),
            kubeconfig: None,
            force: false,
            env: env.clone(),
        })
    }

    /// A kubectl for the run's cluster with no deployer settings: `ctx`'s kube context,
    /// `-n` and kubeconfig (the reachability probe of a config that deploys with helm only,
    /// the status check).
    pub fn for_cluster(ctx: &HelmContext) -> Self {
        Kubectl {
            context: ctx.kube_context.clone(),
            flags: KubectlFlags::default(),
            namespace: ctx.namespace.clone(),
            kubeconfig: ctx.kubeconfig.clone(),
            force: false,
            env: ctx.env.clone(),
        }
    }

    /// Expands `defaultNamespace` as a template over the environment, as Skaffold does.
    pub fn expand_namespace(mut self) -> Result<Self, Error> {
        if let Some(ns) = &self.namespace {
            let expanded = kiln_core::template::render_skaffold(
                ns,
                self.env.vars(),
                None,
                &crate::templates::template_inputs_now(&self.env),
            )
            .map_err(|e| Error::planning("deploy.kubectl.defaultNamespace", e.to_string()))?;
            self.namespace = Some(expanded).filter(|n| !n.is_empty());
        }
        Ok(self)
    }

    /// Skaffold's `--force`: `kubectl apply --force --grace-period=0`.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// `-n/--namespace` wins over `defaultNamespace`, as in Skaffold.
    pub fn with_namespace(mut self, namespace: Option<&str>) -> Self {
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            self.namespace = Some(ns.to_owned());
        }
        self
    }

    /// `--kubeconfig K` on every command, as Skaffold passes it.
    pub fn with_kubeconfig(mut self, kubeconfig: Option<&str>) -> Self {
        self.kubeconfig = kubeconfig.map(str::to_owned);
        self
    }

    /// The namespace it passes (`-n`, else `defaultNamespace`), where kubectl puts the
    /// objects that name none.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `kubectl [--context C] [--namespace N] [--kubeconfig K] COMMAND GLOBAL… FLAGS…
    /// ARGS…`.
    fn invocation(&self, command: &str, flags: &[String], args: &[&str]) -> Invocation {
        let mut all = Vec::new();
        if let Some(context) = &self.context {
            all.extend(["--context".to_owned(), context.clone()]);
        }
        if let Some(ns) = &self.namespace {
            all.extend(["--namespace".to_owned(), ns.clone()]);
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            all.extend(["--kubeconfig".to_owned(), kubeconfig.clone()]);
        }
        all.push(command.to_owned());
        all.extend(self.flags.global.iter().cloned());
        all.extend(flags.iter().cloned());
        all.extend(args.iter().map(|a| (*a).to_owned()));
        Invocation::new("kubectl", all)
    }

    /// `kubectl … rollout status TYPE NAME --namespace NS --watch=false`: one poll of
    /// Skaffold's status check.
    pub(crate) fn rollout_status(&self, kind: &str, name: &str, namespace: &str) -> Invocation {
        self.invocation(
            "rollout",
            &[],
            &[
                "status",
                kind,
                name,
                "--namespace",
                namespace,
                "--watch=false",
            ],
        )
    }

    /// `kubectl [--context C] [--kubeconfig K] config view --minify -o
    /// jsonpath={..namespace}`: the kube context's namespace, as Skaffold reads it.
    pub(crate) fn context_namespace(&self) -> Invocation {
        self.without_namespace().invocation(
            "config",
            &[],
            &["view", "--minify", "-o", "jsonpath={..namespace}"],
        )
    }

    /// The same kubectl for the commands that take no namespace; the global flags stay
    /// (they may name the server).
    fn without_namespace(&self) -> Kubectl {
        Kubectl {
            namespace: None,
            ..self.clone()
        }
    }

    /// The `kubectl apply` of `manifests`.
    pub fn apply_invocation(&self, manifests: &str) -> Invocation {
        let mut args = vec!["-f", "-"];
        if self.force {
            args.extend(["--force", "--grace-period=0"]);
        }
        if self.flags.disable_validation {
            args.push("--validate=false");
        }
        Invocation {
            stdin: Some(manifests.to_owned()),
            ..self.invocation("apply", &self.flags.apply, &args)
        }
    }

    /// The `kubectl delete` of `manifests`.
    pub fn delete_invocation(&self, manifests: &str) -> Invocation {
        Invocation {
            stdin: Some(manifests.to_owned()),
            ..self.invocation(
                "delete",
                &self.flags.delete,
                &["--ignore-not-found=true", "--wait=false", "-f", "-"],
            )
        }
    }

    /// Whether a cluster answers: `Err` says why not (no kubectl, no kubeconfig, no
    /// server), in kubectl's own words.
    pub async fn reachable(&self) -> Result<(), String> {
        let probe = self
            .without_namespace()
            .invocation("version", &[], &["--request-timeout=5s"]);
        let out = tokio::time::timeout(PROBE_TIMEOUT, run(&probe, &self.env))
            .await
            .map_err(|_| format!("kubectl version did not answer within {PROBE_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
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
        Ok(run_ok(&self.apply_invocation(manifests), &self.env)
            .await?
            .trim()
            .to_owned())
    }

    /// Deletes what `manifests` describe; returns kubectl's report.
    pub async fn delete(&self, manifests: &str) -> Result<String, Error> {
        Ok(run_ok(&self.delete_invocation(manifests), &self.env)
            .await?
            .trim()
            .to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_and_delete_follow_skaffolds_argument_order() {
        let deploy = Deploy {
            kubectl: Some(kiln_config::KubectlDeploy {
                flags: KubectlFlags {
                    global: vec!["--v=2".to_owned()],
                    apply: vec!["--server-side".to_owned()],
                    delete: vec!["--cascade=foreground".to_owned()],
                    disable_validation: true,
                },
                default_namespace: Some("team-{{.STAGE}}".to_owned()),
                remote_manifests: Vec::new(),
            }),
            kube_context: Some("from-config".to_owned()),
            ..Deploy::default()
        };
        let env = Env::from_vars([("STAGE", "dev")]);
        let kubectl = Kubectl::from_config(&deploy, None, &env)
            .unwrap()
            .expand_namespace()
            .unwrap()
            .with_force(true);
        let apply = kubectl.apply_invocation("kind: X\n");
        assert_eq!(
            apply.display(),
            "kubectl --context from-config --namespace team-dev apply --v=2 --server-side -f - --force --grace-period=0 --validate=false"
        );
        assert_eq!(apply.stdin.as_deref(), Some("kind: X\n"));
        // The flag's context and namespace win; delete takes the delete flags.
        let kubectl = Kubectl::from_config(&deploy, Some("flag"), &env)
            .unwrap()
            .with_namespace(Some("qa"))
            .with_kubeconfig(Some("/k"));
        assert_eq!(
            kubectl.delete_invocation("").display(),
            "kubectl --context flag --namespace qa --kubeconfig /k delete --v=2 --cascade=foreground --ignore-not-found=true --wait=false -f -"
        );
        let unset = Kubectl::from_config(&deploy, None, &Env::default())
            .unwrap()
            .expand_namespace();
        assert!(unset.unwrap_err().to_string().contains("STAGE"));
    }
}
