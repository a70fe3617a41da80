//! Skaffold's status check after a deploy (pkg/skaffold/kubernetes/status/status_check.go,
//! resource/deployment.go): every Deployment and StatefulSet the deploy applied is polled
//! with `kubectl rollout status TYPE NAME --namespace NS --watch=false`, one second apart,
//! until it has rolled out, fails, or its deadline passes; the first failure ends the wait
//! and fails the deploy (Skaffold's default `--fast-fail-status-check`).
//!
//! Skaffold finds the resources by their `skaffold.dev/run-id` label through the
//! Kubernetes API; kiln has no API client and takes them from the manifests it applied
//! (and, for helm releases, from `helm get all --template {{.Release.Manifest}}`, which
//! Skaffold's helm deployer runs too). A resource's namespace is its manifest's, else the
//! one its deployer passed (`-n`, `deploy.kubectl.defaultNamespace`, the release's), else
//! the kube context's (`kubectl config view --minify`), else `default`: where kubectl and
//! helm put it.
//!
//! Not done, where Skaffold does it: the pods behind a rollout are not inspected (no
//! image-pull, crash-loop or scheduling diagnosis, no container logs, no early failure on an
//! unrecoverable container error), standalone Pods (said once as a notice), Config
//! Connector and custom resources
//! (`--status-check-selectors`) are not waited for, and `--iterative-status-check` and
//! `--fast-fail-status-check=false` are not offered.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use kiln_config::Deploy;
use kiln_core::env::Env;

use crate::Error;
use crate::deploy::Kubectl;
use crate::events::{Event, EventSink};
use crate::helm::HelmContext;
use crate::tool::run;

/// Skaffold's `DefaultStatusCheckDeadline`.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);
/// Skaffold's poll period (`defaultPollPeriodInMilliseconds`).
const POLL: Duration = Duration::from_secs(1);
/// How long `kubectl config view` may take.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(5);
/// Kubernetes' default `progressDeadlineSeconds`, which Skaffold reads as "not set"
/// (`kubernetesMaxDeadline`).
const KUBERNETES_DEFAULT_PROGRESS_DEADLINE: u64 = 600;

/// The kinds Skaffold's status check waits for, of those kiln can tell from manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    /// A standalone Pod: Skaffold waits for it to be ready; kiln says it does not.
    Pod,
}

impl WorkloadKind {
    /// The resource type `kubectl rollout status` takes, as Skaffold names it.
    fn resource_type(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::Pod => "pod",
        }
    }
}

/// A Deployment or StatefulSet a deploy applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    /// The manifest's namespace, else the one its deployer passed; `None`: the kube
    /// context's.
    pub namespace: Option<String>,
    /// A Deployment's `spec.progressDeadlineSeconds`.
    pub progress_deadline: Option<u64>,
}

/// The Deployments (`apps`, `extensions`), StatefulSets (`apps`) and Pods (`v1`) of a YAML stream, with
/// `namespace` for those that name none. A document that is not such an object, or has no
/// string name, is skipped (the deploy already took the stream as it is).
pub fn workloads(text: &str, namespace: Option<&str>) -> Vec<Workload> {
    let Ok(docs) = kiln_yaml::parse(text) else {
        return Vec::new();
    };
    docs.iter()
        .filter_map(|doc| kiln_yaml::tree::document(doc).ok())
        .filter_map(|object| {
            let at = |path: &[&str]| {
                path.iter()
                    .try_fold(&object, |node, key| node.get(key))
                    .and_then(|node| node.typed())
            };
            let str_at = |path: &[&str]| match at(path)? {
                kiln_yaml::tree::Typed::Str(s) => Some(s.trim().to_owned()),
                _ => None,
            };
            let api_version = str_at(&["apiVersion"])?;
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let kind = match (group, str_at(&["kind"])?.as_str()) {
                ("apps" | "extensions", "Deployment") => WorkloadKind::Deployment,
                ("apps", "StatefulSet") => WorkloadKind::StatefulSet,
                ("", "Pod") => WorkloadKind::Pod,
                _ => return None,
            };
            let name = str_at(&["metadata", "name"]).filter(|n| !n.is_empty())?;
            let progress_deadline = match at(&["spec", "progressDeadlineSeconds"]) {
                Some(kiln_yaml::tree::Typed::Int(n)) => u64::try_from(n).ok(),
                _ => None,
            };
            Some(Workload {
                kind,
                name,
                namespace: str_at(&["metadata", "namespace"])
                    .filter(|n| !n.is_empty())
                    .or_else(|| namespace.map(str::to_owned)),
                progress_deadline,
            })
        })
        .collect()
}

/// `--status-check` and `--tolerate-failures-until-deadline`, as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCheckFlags {
    /// `--status-check[=BOOL]`; `None` when not given.
    pub enabled: Option<bool>,
    pub tolerate_failures: bool,
}

/// How the status check runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Skaffold's status check deadline: what a resource gets unless its own
    /// `progressDeadlineSeconds` says otherwise.
    pub deadline: Duration,
    /// Keep polling a rollout kubectl reports as failed until its deadline.
    pub tolerate_failures: bool,
}

/// Skaffold's rules (pkg/skaffold/runner/deployer.go, runcontext, component.NewMonitor):
/// the check runs unless `--status-check=false`, or, without the flag, the first config that
/// deploys (kubectl or helm: its deployer makes the kube context's one monitor) says
/// `deploy.statusCheck: false`. The deadline is the largest positive
/// `deploy.statusCheckDeadlineSeconds` of the configs, else 600 s; failures are tolerated
/// with the flag or when any config says `tolerateFailuresUntilDeadline`. `None`: no check.
pub fn settings(deploys: &[&Deploy], flags: &StatusCheckFlags) -> Option<Settings> {
    let configured = deploys
        .iter()
        .find(|d| d.kubectl.is_some() || d.helm.is_some())
        .and_then(|d| d.status_check);
    if flags.enabled.or(configured) == Some(false) {
        return None;
    }
    let deadline = deploys
        .iter()
        .filter_map(|d| d.status_check_deadline_seconds)
        .filter(|s| *s > 0)
        .max()
        .map_or(DEFAULT_DEADLINE, |s| Duration::from_secs(s.unsigned_abs()));
    Some(Settings {
        deadline,
        tolerate_failures: flags.tolerate_failures
            || deploys.iter().any(|d| d.tolerate_failures_until_deadline),
    })
}

/// One resource being waited for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Resource {
    kind: WorkloadKind,
    name: String,
    namespace: String,
    deadline: Duration,
}

impl fmt::Display for Resource {
    /// Skaffold's `Resource.String`: `deployment/api`, or `team-a:deployment/api` outside
    /// `default`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.resource_type();
        if self.namespace == "default" {
            write!(f, "{kind}/{}", self.name)
        } else {
            write!(f, "{}:{kind}/{}", self.namespace, self.name)
        }
    }
}

/// What one `kubectl rollout status` answer means (Skaffold's `parseKubectlRolloutError`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rollout {
    Done,
    /// Not yet: kubectl's words, cleaned as Skaffold cleans them.
    Pending(String),
    Failed(String),
}

/// Reads one answer: `ok` is kubectl's exit status, `stdout` its report, `stderr` its
/// error. A deployment's report loses `deployment "NAME" ` and starts lower-case, as
/// Skaffold shows it.
fn assess(resource: &Resource, ok: bool, stdout: &str, stderr: &str, tolerate: bool) -> Rollout {
    let mut details = stdout.trim().to_owned();
    if resource.kind == WorkloadKind::Deployment {
        details = details.replace(&format!("deployment \"{}\" ", resource.name), "");
        if let Some(first) = details.chars().next() {
            details = first
                .to_lowercase()
                .chain(details.chars().skip(1))
                .collect();
        }
    }
    if ok {
        let statefulset_done = ["roll out complete", "rolling update complete"]
            .iter()
            .any(|s| details.contains(s));
        return if details.contains("successfully rolled out") || statefulset_done {
            Rollout::Done
        } else {
            Rollout::Pending(details)
        };
    }
    let error = match (stderr.trim(), details.as_str()) {
        ("", "") => "kubectl rollout status failed".to_owned(),
        ("", out) => out.to_owned(),
        (err, _) => err.to_owned(),
    };
    let pending =
        |why: &str| Rollout::Pending(if details.is_empty() { why } else { &details }.to_owned());
    if tolerate
        || error.contains("due to client-side throttling")
        || error.contains("the server could not find the requested resource")
    {
        return pending(&error);
    }
    if error.contains("Unable to connect to the server") {
        return Rollout::Pending("kubectl connection error".to_owned());
    }
    // A StatefulSet with the OnDelete strategy cannot be watched: Skaffold counts it done.
    if error.contains("rollout status is only available for RollingUpdate strategy type") {
        return Rollout::Done;
    }
    // kubectl starts its errors with `error: `; the report says "Error:" before it.
    Rollout::Failed(error.strip_prefix("error: ").unwrap_or(&error).to_owned())
}

/// The kube context's namespace, as Skaffold's kubectl deployer reads it (`kubectl config
/// view --minify -o jsonpath={..namespace}`), else `default`.
async fn context_namespace(kubectl: &Kubectl, env: &Env) -> String {
    let view = kubectl.context_namespace();
    let answer = tokio::time::timeout(CONFIG_TIMEOUT, run(&view, env)).await;
    let namespace = match answer {
        Ok(Ok(out)) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_matches('\'')
            .to_owned(),
        _ => String::new(),
    };
    if namespace.is_empty() {
        "default".to_owned()
    } else {
        namespace
    }
}

/// Go's `time.Duration` text for whole seconds (`5s`, `10m0s`, `1h0m5s`), as Skaffold's
/// messages print deadlines.
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// Waits for every workload to roll out (see the module docs); reports progress as
/// events. Fails at the first resource that fails or passes its deadline, naming it and
/// why.
pub async fn check(
    ctx: &HelmContext,
    settings: &Settings,
    workloads: Vec<Workload>,
    events: &EventSink,
) -> Result<(), Error> {
    let started = Instant::now();
    let kubectl = Kubectl::for_cluster(ctx);
    let default_namespace = if workloads.iter().any(|w| w.namespace.is_none()) {
        context_namespace(&kubectl, &ctx.env).await
    } else {
        "default".to_owned()
    };
    let mut seen = HashSet::new();
    let resources: Vec<Resource> = workloads
        .into_iter()
        .map(|w| Resource {
            kind: w.kind,
            deadline: match w.progress_deadline {
                Some(s) if s != KUBERNETES_DEFAULT_PROGRESS_DEADLINE => Duration::from_secs(s),
                _ => settings.deadline,
            },
            name: w.name,
            namespace: w.namespace.unwrap_or_else(|| default_namespace.clone()),
        })
        // One resource, once (Skaffold's `seenResources`), even when kubectl and a helm
        // release both deployed it.
        .filter(|r| seen.insert((r.kind, r.name.clone(), r.namespace.clone())))
        .collect();
    let (pods, resources): (Vec<Resource>, Vec<Resource>) = resources
        .into_iter()
        .partition(|r| r.kind == WorkloadKind::Pod);
    if !pods.is_empty() {
        let names: Vec<String> = pods.iter().map(ToString::to_string).collect();
        events.as_ref()(Event::Notice(format!(
            "the status check waits for Deployments and StatefulSets only; not for the standalone Pods {} (Skaffold waits for them to be ready)",
            names.join(", ")
        )));
    }
    events.as_ref()(Event::StatusCheckStarted {
        resources: resources.iter().map(ToString::to_string).collect(),
    });
    let total = resources.len();
    let mut polls: FuturesUnordered<_> = resources
        .iter()
        .map(|r| {
            let kubectl = &kubectl;
            async move {
                let outcome = poll(kubectl, &ctx.env, r, settings.tolerate_failures, events);
                (r, outcome.await)
            }
        })
        .collect();
    let mut pending = total;
    while let Some((resource, outcome)) = polls.next().await {
        pending -= 1;
        match outcome {
            Ok(()) => events.as_ref()(Event::RolloutReady {
                resource: resource.to_string(),
                pending,
                total,
            }),
            Err(reason) => {
                events.as_ref()(Event::RolloutFailed {
                    resource: resource.to_string(),
                    reason: reason.clone(),
                });
                // Fail fast, as Skaffold does by default: the other polls stop here (their
                // kubectl, if running, is killed as it is dropped).
                return Err(Error::StatusCheck {
                    failed: 1,
                    total,
                    detail: format!("{resource}: {reason}"),
                });
            }
        }
    }
    events.as_ref()(Event::StatusCheckFinished {
        elapsed: started.elapsed(),
    });
    Ok(())
}

/// Polls one resource until it rolls out (`Ok`), fails or passes its deadline (`Err`
/// saying why). Each kubectl is killed when the deadline comes, as Skaffold's runs under
/// the check's context.
async fn poll(
    kubectl: &Kubectl,
    env: &Env,
    resource: &Resource,
    tolerate: bool,
    events: &EventSink,
) -> Result<(), String> {
    let start = tokio::time::Instant::now();
    // One last attempt after the deadline, as Skaffold allows.
    let until = start + resource.deadline + POLL;
    let mut last: Option<String> = None;
    let timed_out = |last: &Option<String>| {
        let within = go_duration(resource.deadline);
        match last {
            Some(status) if !status.is_empty() => {
                format!("could not stabilize within {within} (last status: {status})")
            }
            _ => format!("could not stabilize within {within}"),
        }
    };
    let mut tick = start;
    loop {
        tick += POLL;
        if tick >= until {
            return Err(timed_out(&last));
        }
        tokio::time::sleep_until(tick).await;
        let invocation = kubectl.rollout_status(
            resource.kind.resource_type(),
            &resource.name,
            &resource.namespace,
        );
        let answer = match tokio::time::timeout_at(until, run(&invocation, env)).await {
            Err(_) => return Err(timed_out(&last)),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(out)) => out,
        };
        let stdout = String::from_utf8_lossy(&answer.stdout);
        let stderr = String::from_utf8_lossy(&answer.stderr);
        match assess(
            resource,
            answer.status.success(),
            &stdout,
            &stderr,
            tolerate,
        ) {
            Rollout::Done => return Ok(()),
            Rollout::Failed(why) => return Err(why),
            Rollout::Pending(status) => {
                if last.as_ref() != Some(&status) {
                    events.as_ref()(Event::RolloutPending {
                        resource: resource.to_string(),
                        status: status.clone(),
                    });
                    last = Some(status);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(kind: WorkloadKind, namespace: &str) -> Resource {
        Resource {
            kind,
            name: "api".to_owned(),
            namespace: namespace.to_owned(),
            deadline: Duration::from_secs(5),
        }
    }

    #[test]
    fn workloads_are_the_deployments_and_statefulsets_with_their_namespace() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: team-a\nspec:\n  progressDeadlineSeconds: 120\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\n---\napiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old, namespace: ''}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: job-runner\n---\napiVersion: example.com/v1\nkind: Deployment\nmetadata:\n  name: not-apps\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {}\n";
        let found = workloads(text, Some("qa"));
        assert_eq!(
            found,
            [
                Workload {
                    kind: WorkloadKind::Deployment,
                    name: "api".to_owned(),
                    namespace: Some("team-a".to_owned()),
                    progress_deadline: Some(120),
                },
                Workload {
                    kind: WorkloadKind::StatefulSet,
                    name: "db".to_owned(),
                    namespace: Some("qa".to_owned()),
                    progress_deadline: None,
                },
                Workload {
                    kind: WorkloadKind::Deployment,
                    name: "old".to_owned(),
                    namespace: Some("qa".to_owned()),
                    progress_deadline: None,
                },
                Workload {
                    kind: WorkloadKind::Pod,
                    name: "job-runner".to_owned(),
                    namespace: Some("qa".to_owned()),
                    progress_deadline: None,
                },
            ]
        );
        assert_eq!(workloads(text, None)[1].namespace, None);
        assert!(workloads("{ not yaml", None).is_empty());
    }

    fn config(status_check: Option<bool>, deadline: Option<i64>, tolerate: bool) -> Deploy {
        Deploy {
            kubectl: Some(kiln_config::KubectlDeploy::default()),
            status_check,
            status_check_deadline_seconds: deadline,
            tolerate_failures_until_deadline: tolerate,
            ..Deploy::default()
        }
    }

    fn settings(deploys: &[Deploy], flags: &StatusCheckFlags) -> Option<Settings> {
        super::settings(&deploys.iter().collect::<Vec<_>>(), flags)
    }

    #[test]
    fn settings_follow_skaffolds_precedence() {
        let flags = StatusCheckFlags::default();
        let default = settings(&[config(None, None, false)], &flags).unwrap();
        assert_eq!(default.deadline, DEFAULT_DEADLINE);
        assert!(!default.tolerate_failures);
        // The config turns it off; the flag wins over the config either way.
        let off = [config(Some(false), None, false)];
        assert_eq!(settings(&off, &flags), None);
        let on = StatusCheckFlags {
            enabled: Some(true),
            ..flags
        };
        assert!(settings(&off, &on).is_some());
        let flag_off = StatusCheckFlags {
            enabled: Some(false),
            ..flags
        };
        assert_eq!(
            settings(&[config(Some(true), None, false)], &flag_off),
            None
        );
        // The first deploying config decides; a config that deploys nothing does not.
        let mut nothing = config(Some(false), None, false);
        nothing.kubectl = None;
        assert!(settings(&[nothing, config(None, None, false)], &flags).is_some());
        assert!(
            settings(
                &[config(None, None, false), config(Some(false), None, false)],
                &flags
            )
            .is_some()
        );
        // The largest positive deadline of all; tolerance from the flag or any config.
        let many = [
            config(None, Some(30), false),
            config(None, Some(90), true),
            config(None, Some(-1), false),
        ];
        let s = settings(&many, &flags).unwrap();
        assert_eq!(s.deadline, Duration::from_secs(90));
        assert!(s.tolerate_failures);
        let tolerate = StatusCheckFlags {
            tolerate_failures: true,
            ..flags
        };
        assert!(
            settings(&[config(None, Some(0), false)], &tolerate)
                .unwrap()
                .tolerate_failures
        );
        assert_eq!(
            settings(&[config(None, Some(0), false)], &flags)
                .unwrap()
                .deadline,
            DEFAULT_DEADLINE
        );
    }

    #[test]
    fn kubectls_answers_read_as_skaffold_reads_them() {
        let d = resource(WorkloadKind::Deployment, "team-a");
        assert_eq!(
            assess(
                &d,
                true,
                "Waiting for deployment \"api\" rollout to finish: 1 of 2 updated replicas are available...\n",
                "",
                false
            ),
            Rollout::Pending(
                "waiting for rollout to finish: 1 of 2 updated replicas are available..."
                    .to_owned()
            )
        );
        assert_eq!(
            assess(
                &d,
                true,
                "deployment \"api\" successfully rolled out\n",
                "",
                false
            ),
            Rollout::Done
        );
        let s = resource(WorkloadKind::StatefulSet, "default");
        for done in [
            "statefulset rolling update complete 2 pods at revision api-7d4\n",
            "partitioned roll out complete: 2 new pods have been updated...\n",
        ] {
            assert_eq!(assess(&s, true, done, "", false), Rollout::Done);
        }
        let exceeded = "error: deployment \"api\" exceeded its progress deadline\n";
        assert_eq!(
            assess(&d, false, "", exceeded, false),
            Rollout::Failed("deployment \"api\" exceeded its progress deadline".to_owned())
        );
        // Tolerated until the deadline, or transient.
        assert_eq!(
            assess(&d, false, "", exceeded, true),
            Rollout::Pending(exceeded.trim().to_owned())
        );
        assert!(matches!(
            assess(
                &d,
                false,
                "",
                "Error from server: the server could not find the requested resource",
                false
            ),
            Rollout::Pending(_)
        ));
        assert_eq!(
            assess(
                &d,
                false,
                "",
                "Unable to connect to the server: dial tcp: i/o timeout",
                false
            ),
            Rollout::Pending("kubectl connection error".to_owned())
        );
        assert_eq!(
            assess(
                &s,
                false,
                "",
                "error: rollout status is only available for RollingUpdate strategy type",
                false
            ),
            Rollout::Done
        );
    }

    #[tokio::test]
    async fn standalone_pods_are_not_waited_for_and_kiln_says_so() {
        let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink: EventSink = {
            let said = said.clone();
            std::sync::Arc::new(move |e| said.lock().unwrap().push(format!("{e:?}")))
        };
        let pod = Workload {
            kind: WorkloadKind::Pod,
            name: "runner".to_owned(),
            namespace: Some("team-a".to_owned()),
            progress_deadline: None,
        };
        let settings = Settings {
            deadline: DEFAULT_DEADLINE,
            tolerate_failures: false,
        };
        // No kubectl runs: there is nothing to roll out.
        check(&HelmContext::default(), &settings, vec![pod], &sink)
            .await
            .unwrap();
        let said = said.lock().unwrap();
        let notice = said.iter().find(|e| e.starts_with("Notice(")).unwrap();
        assert!(
            notice.contains("not for the standalone Pods team-a:pod/runner"),
            "{said:?}"
        );
    }

    #[test]
    fn resources_and_commands_are_named_as_skaffold_names_them() {
        assert_eq!(
            resource(WorkloadKind::Deployment, "team-a").to_string(),
            "team-a:deployment/api"
        );
        assert_eq!(
            resource(WorkloadKind::StatefulSet, "default").to_string(),
            "statefulset/api"
        );
        let ctx = HelmContext {
            kube_context: Some("staging".to_owned()),
            namespace: Some("qa".to_owned()),
            kubeconfig: Some("/k".to_owned()),
            ..HelmContext::default()
        };
        assert_eq!(
            Kubectl::for_cluster(&ctx)
                .rollout_status("deployment", "api", "team-a")
                .display(),
            "kubectl --context staging --namespace qa --kubeconfig /k rollout status deployment api --namespace team-a --watch=false"
        );
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(DEFAULT_DEADLINE), "10m0s");
        assert_eq!(go_duration(Duration::from_secs(3605)), "1h0m5s");
    }
}
