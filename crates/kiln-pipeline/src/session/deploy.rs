//! Deploying rendered manifests: once for `kiln run` and `kiln deploy` (and deleting for
//! `kiln delete`), and after each build of `kiln dev` and `kiln debug`, where no cluster is
//! not an error: the loop then only builds. Deploy tools' reports go out as notices.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::Config;
use kiln_core::env::Env;

use super::skaffold::Session;
use crate::Error;
use crate::artifact::BuiltArtifact;
use crate::deploy::Kubectl;
use crate::deploy::helm::HelmDeploy;
use crate::deploy::status::{self, StatusCheckFlags, Workload};
use crate::events::{Event, EventSink};
use crate::helm::HelmContext;
use crate::manifests::debug_image_info;
use crate::output::BuildOutput;
use crate::render::{Purpose, RenderedConfig, render_configs};
use kiln_render::{DebugOptions, debug_transform};

/// Where deploys go besides the kube context: `-n/--namespace`, `--kubeconfig`.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub namespace: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

/// What `kiln render` renders with besides the images: `-n/--namespace` (into helm's
/// `--namespace` and, unless `offline`, into the kubectl-style manifests' `metadata`, as
/// Skaffold's render does) and `--offline`.
#[derive(Clone, Debug, Default)]
pub struct RenderRequest {
    pub namespace: Option<String>,
    pub offline: bool,
    /// `-l KEY=VALUE`: labels for the manifests (`kiln render` adds no run ID, as
    /// `skaffold render` adds none).
    pub labels: Vec<String>,
}

/// How `kiln run`/`deploy`/`dev` deploy.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub cluster: Cluster,
    /// Skaffold's `--force`: replace what cannot be patched.
    pub force: bool,
    /// The kiln executable, which helm runs as its post-renderer (`kiln filter`).
    pub post_renderer: Option<PathBuf>,
    /// `-l KEY=VALUE`: labels for every deployed object, besides the run ID.
    pub labels: Vec<String>,
    /// `--status-check`, `--tolerate-failures-until-deadline`: whether and how to wait for
    /// what was deployed to roll out (with the configs' `deploy.statusCheck…`).
    pub status_check: StatusCheckFlags,
}

/// The labels a deploying command puts on what it deploys: a new run ID as
/// `skaffold.dev/run-id` (Skaffold makes one per run), and `custom` (`-l`).
pub(crate) fn deploy_labels(custom: &[String]) -> Result<BTreeMap<String, String>, Error> {
    Ok(crate::render::labels(Some(&super::run_id()?), custom))
}

/// What rendering and deploying share: the kube context (the flag, then
/// `deploy.kubeContext`, then the kubeconfig's current context, as Skaffold resolves it),
/// the namespace, the environment, the images and the labels.
pub(crate) fn helm_context(
    configs: &[Config],
    config_dir: &Path,
    kube_context: Option<&str>,
    cluster: &Cluster,
    env: &Env,
    builds: Vec<kiln_render::Build>,
    labels: BTreeMap<String, String>,
) -> HelmContext {
    let kubeconfig = cluster.kubeconfig.as_ref().map(|k| k.display().to_string());
    // The kubeconfig given is where the current context comes from.
    let context_env = match &kubeconfig {
        Some(k) => env.with([("KUBECONFIG", k)]),
        None => env.clone(),
    };
    HelmContext {
        kube_context: crate::local::kube_context(
            kube_context,
            configs
                .iter()
                .find_map(|c| c.deploy.kube_context.as_deref()),
            &context_env,
        ),
        namespace: cluster.namespace.clone().filter(|n| !n.is_empty()),
        kubeconfig,
        env: env.clone(),
        builds,
        labels,
        config_dir: config_dir.to_owned(),
    }
}

/// The config's kubectl deployer for `kiln debug`, if it has one, `manifests` (rendered)
/// are not empty, and a cluster answers; otherwise says why nothing will be deployed and
/// returns `None`.
async fn debug_deployer(
    session: &Session,
    ctx: &HelmContext,
    manifests: &str,
) -> Result<Option<Kubectl>, Error> {
    let events = &session.ctx.events;
    if session.configs.iter().any(|c| c.deploy.helm.is_some()) {
        notice(
            events,
            "deploy.helm releases are installed by `kiln run`, `kiln deploy` and `kiln dev`; kiln debug applies the kubectl manifests only",
        );
    }
    let Some(config) = session.configs.first() else {
        return Ok(None);
    };
    let Some(kubectl) = kubectl_of(config, ctx)? else {
        return Ok(None);
    };
    if manifests.trim().is_empty() {
        return Ok(None);
    }
    Ok(reachable(&kubectl, events).await.then_some(kubectl))
}

/// `kiln render`: every config's manifests (rawYaml, kustomize, manifests.helm, and the
/// `deploy.helm` releases, as `skaffold render` renders them) with `builds`' images in
/// their `image` fields and `request`'s namespace and labels, as one stream; says which
/// rawYaml patterns matched nothing and which manifests keep a namespace of their own.
pub async fn render_all(
    configs: &[Config],
    config_dir: &Path,
    kube_context: Option<&str>,
    env: &Env,
    events: &EventSink,
    builds: Vec<kiln_render::Build>,
    request: &RenderRequest,
) -> Result<String, Error> {
    let cluster = Cluster {
        namespace: request.namespace.clone(),
        kubeconfig: None,
    };
    let labels = crate::render::labels(None, &request.labels);
    let ctx = helm_context(
        configs,
        config_dir,
        kube_context,
        &cluster,
        env,
        builds,
        labels,
    );
    let purpose = Purpose::Render {
        offline: request.offline,
    };
    render_joined(configs, &ctx, purpose, events).await
}

/// Every config's manifests as one stream, with what to say about them said.
async fn render_joined(
    configs: &[Config],
    ctx: &HelmContext,
    purpose: Purpose,
    events: &EventSink,
) -> Result<String, Error> {
    let rendered = render_configs(configs, ctx, purpose).await?;
    report(events, &rendered);
    Ok(crate::render::joined(&rendered))
}

/// `kiln debug` after its build: the manifests rendered with `built`'s images and rewritten
/// for debugging (Skaffold's Go transform) with the `labels` of `-l`, written to
/// `render_output` if given (the same from run to run, as `kiln render`'s output), and
/// applied with a new run ID too when the config deploys with kubectl and a cluster
/// answers, then waited for as `kiln run` waits (the status check). Returns whether they
/// were applied.
pub async fn debug_deploy(
    session: &Session,
    built: &[(BuiltArtifact, BuildOutput)],
    options: &DeployOptions,
    render_output: Option<&Path>,
) -> Result<bool, Error> {
    let (cluster, labels) = (&options.cluster, &options.labels);
    let builds: Vec<kiln_render::Build> = built
        .iter()
        .map(|(_, output)| kiln_render::Build::from(output.clone()))
        .collect();
    let images = built
        .iter()
        .map(|(artifact, output)| debug_image_info(artifact, &output.tag))
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = helm_context(
        &session.configs,
        &session.config_dir,
        session.request.config.kube_context.as_deref(),
        cluster,
        session.env(),
        builds,
        crate::render::labels(None, labels),
    );
    let manifests =
        render_joined(&session.configs, &ctx, Purpose::Deploy, &session.ctx.events).await?;
    let debuggable = debug_transform(&manifests, &images, &DebugOptions::default())
        .map_err(|e| Error::invalid("rewriting the manifests for debugging", e))?;
    if let Some(path) = render_output {
        std::fs::write(path, &debuggable).map_err(|e| Error::io("writing", path, e))?;
    }
    let Some(kubectl) = debug_deployer(session, &ctx, &debuggable).await? else {
        return Ok(false);
    };
    // The run ID goes in last: the debug transform leaves labels alone, so the objects
    // end as Skaffold's labelled-then-transformed ones (a `-l` run ID of its own stays).
    let mut run_id = deploy_labels(&[])?;
    run_id.retain(|key, _| !ctx.labels.contains_key(key));
    let debuggable = kiln_render::set_labels(&debuggable, &run_id)
        .map_err(|e| Error::invalid("labelling the debug manifests", e))?;
    let events = &session.ctx.events;
    apply(&kubectl, &debuggable, events).await?;
    let workloads = status::workloads(&debuggable, kubectl.namespace());
    status_check(
        &session.configs,
        &ctx,
        &options.status_check,
        workloads,
        events,
    )
    .await?;
    Ok(true)
}

/// Whether `kiln dev` deploys after each build: the configs have something to deploy
/// (manifests for kubectl, or `deploy.helm` releases) and the cluster answers: the run's
/// kube context (as deploys resolve it) with `cluster`'s kubeconfig, asked by the first
/// kubectl deployer, else by a plain kubectl.
pub async fn dev_deploys(session: &Session, cluster: &Cluster) -> bool {
    let ctx = helm_context(
        &session.configs,
        &session.config_dir,
        session.request.config.kube_context.as_deref(),
        cluster,
        session.env(),
        Vec::new(),
        BTreeMap::new(),
    );
    let context = ctx.kube_context.as_deref();
    let kubeconfig = ctx.kubeconfig.as_deref();
    let kubectl = session
        .configs
        .iter()
        .find_map(|c| Kubectl::from_config(&c.deploy, context, &ctx.env))
        .map(|k| k.with_kubeconfig(kubeconfig));
    let helm = session.configs.iter().any(|c| {
        c.deploy
            .helm
            .as_ref()
            .is_some_and(|h| !h.releases.is_empty())
    });
    let kubectl_deploys = kubectl.is_some() && has_kubectl_manifests(session);
    if !(helm || kubectl_deploys) {
        return false;
    }
    let probe = kubectl.unwrap_or_else(|| Kubectl::for_cluster(&ctx));
    reachable(&probe, &session.ctx.events).await
}

/// Whether any config has manifests to render: rawYaml files, kustomize or helm.
fn has_kubectl_manifests(session: &Session) -> bool {
    crate::manifests::manifest_files(
        &session.config_dir,
        &session
            .configs
            .iter()
            .flat_map(|c| c.manifests.raw_yaml.iter().cloned())
            .collect::<Vec<_>>(),
    )
    .is_ok_and(|(files, _)| !files.is_empty())
        || session
            .configs
            .iter()
            .any(|c| c.manifests.kustomize.is_some() || c.manifests.helm.is_some())
}

/// Whether a cluster answers kubectl; says why not when it does not.
async fn reachable(kubectl: &Kubectl, events: &EventSink) -> bool {
    match kubectl.reachable().await {
        Ok(()) => true,
        Err(why) => {
            notice(
                events,
                &format!(
                    "no Kubernetes cluster reachable ({why}): building only, nothing is deployed"
                ),
            );
            false
        }
    }
}

/// Applies `manifests` and reports kubectl's answer.
async fn apply(kubectl: &Kubectl, manifests: &str, events: &EventSink) -> Result<(), Error> {
    let report = kubectl.apply(manifests).await?;
    report.lines().for_each(|line| notice(events, line));
    Ok(())
}

/// `kiln run` and `kiln deploy`: every config rendered with `builds` and deployed as
/// `options` say, where the kube context (`kube_context`: the flag, see [`helm_context`])
/// points, what is deployed labelled with a new run ID and `-l`'s labels.
pub async fn deploy(
    configs: &[Config],
    config_dir: &Path,
    kube_context: Option<&str>,
    env: &Env,
    builds: Vec<kiln_render::Build>,
    options: &DeployOptions,
    events: &EventSink,
) -> Result<(), Error> {
    let labels = deploy_labels(&options.labels)?;
    let ctx = helm_context(
        configs,
        config_dir,
        kube_context,
        &options.cluster,
        env,
        builds,
        labels,
    );
    deploy_all(configs, &ctx, options, events).await
}

/// `kiln delete`: what every config deploys, rendered with the images as the artifacts
/// name them (what is deleted does not depend on the tag) and a run ID, as Skaffold's
/// delete renders (it has no `-l`); see [`delete_all`].
pub async fn delete(
    configs: &[Config],
    config_dir: &Path,
    kube_context: Option<&str>,
    cluster: &Cluster,
    env: &Env,
    dry_run: bool,
    events: &EventSink,
) -> Result<String, Error> {
    let builds = configs
        .iter()
        .flat_map(|c| &c.build.artifacts)
        .map(|a| kiln_render::Build {
            image_name: a.image.clone(),
            tag: kiln_core::naming::strip_ko_scheme(&a.image).to_owned(),
        })
        .collect();
    let labels = deploy_labels(&[])?;
    let ctx = helm_context(
        configs,
        config_dir,
        kube_context,
        cluster,
        env,
        builds,
        labels,
    );
    delete_all(configs, &ctx, dry_run, events).await
}

/// Renders every config with `ctx`'s images and deploys it with its deployers: `kubectl
/// apply` of the rendered manifests where the config deploys with kubectl, `helm upgrade
/// --install` of its `deploy.helm` releases.
pub(crate) async fn deploy_all(
    configs: &[Config],
    ctx: &HelmContext,
    options: &DeployOptions,
    events: &EventSink,
) -> Result<(), Error> {
    let rendered = render_configs(configs, ctx, Purpose::Deploy).await?;
    report(events, &rendered);
    let how = HelmDeploy {
        force: options.force,
        post_renderer: options.post_renderer.clone(),
        ..HelmDeploy::default()
    };
    let mut deployed = false;
    let mut workloads = Vec::new();
    for (config, rendered) in configs.iter().zip(&rendered) {
        if let Some(kubectl) = kubectl_of(config, ctx)?
            && !rendered.documents.is_empty()
        {
            let text = rendered.text();
            workloads.extend(status::workloads(&text, kubectl.namespace()));
            apply(&kubectl.with_force(options.force), &text, events).await?;
            deployed = true;
        }
        if let Some(helm) = &config.deploy.helm {
            deployed |= !helm.releases.is_empty();
            let releases = crate::deploy::helm::deploy(ctx, helm, &how).await?;
            for line in &releases.reports {
                notice(events, line);
            }
            workloads.extend(releases.workloads);
        }
    }
    if !deployed {
        notice(
            events,
            "nothing to deploy: no config has manifests for kubectl or deploy.helm releases",
        );
        return Ok(());
    }
    status_check(configs, ctx, &options.status_check, workloads, events).await
}

/// Skaffold's status check of what a deploy applied, unless `--status-check=false` or the
/// config turns it off.
async fn status_check(
    configs: &[Config],
    ctx: &HelmContext,
    flags: &StatusCheckFlags,
    workloads: Vec<Workload>,
    events: &EventSink,
) -> Result<(), Error> {
    let deploys: Vec<&kiln_config::Deploy> = configs.iter().map(|c| &c.deploy).collect();
    match status::settings(&deploys, flags) {
        Some(settings) => status::check(ctx, &settings, workloads, events).await,
        None => Ok(()),
    }
}

/// Deletes what every config deploys: `kubectl delete` of its rendered manifests and
/// `helm delete` of its `deploy.helm` releases. With `dry_run`, nothing is deleted and the
/// text returned is what would be (the manifests and the releases), as Skaffold's
/// `delete --dry-run` prints it.
async fn delete_all(
    configs: &[Config],
    ctx: &HelmContext,
    dry_run: bool,
    events: &EventSink,
) -> Result<String, Error> {
    let rendered = render_configs(configs, ctx, Purpose::Deploy).await?;
    report_conflicts(events, &rendered);
    let mut would_delete = String::new();
    for (config, rendered) in configs.iter().zip(&rendered) {
        if let Some(kubectl) = kubectl_of(config, ctx)?
            && !rendered.documents.is_empty()
        {
            if dry_run {
                for doc in &rendered.documents {
                    would_delete.push_str(&format!("---\n{doc}\n"));
                }
            } else {
                let report = kubectl.delete(&rendered.text()).await?;
                report.lines().for_each(|line| notice(events, line));
            }
        }
        if let Some(helm) = &config.deploy.helm {
            for line in crate::deploy::helm::delete(ctx, helm, dry_run).await? {
                if dry_run {
                    would_delete.push_str(&line);
                    would_delete.push('\n');
                } else {
                    notice(events, &line);
                }
            }
        }
    }
    Ok(would_delete)
}

/// The config's kubectl deployer, pointed at the run's kube context and namespace.
fn kubectl_of(config: &Config, ctx: &HelmContext) -> Result<Option<Kubectl>, Error> {
    let Some(kubectl) = Kubectl::from_config(&config.deploy, ctx.kube_context.as_deref(), &ctx.env)
    else {
        return Ok(None);
    };
    Ok(Some(
        kubectl
            .expand_namespace()?
            .with_namespace(ctx.namespace.as_deref())
            .with_kubeconfig(ctx.kubeconfig.as_deref()),
    ))
}

/// Says which `rawYaml` patterns matched no file and which manifests keep a namespace of
/// their own, as Skaffold warns.
fn report(events: &EventSink, rendered: &[RenderedConfig]) {
    for pattern in rendered.iter().flat_map(|r| &r.unmatched) {
        notice(
            events,
            &format!("manifests.rawYaml `{pattern}` did not match any file"),
        );
    }
    report_conflicts(events, rendered);
}

/// Skaffold's warning for each manifest that keeps its own namespace against `-n`, with
/// the manifest named.
fn report_conflicts(events: &EventSink, rendered: &[RenderedConfig]) {
    for conflict in rendered.iter().flat_map(|r| &r.conflicts) {
        let object = match &conflict.name {
            Some(name) => format!("{} `{name}`", conflict.kind),
            None => format!("a {}", conflict.kind),
        };
        events.as_ref()(Event::Warning(format!(
            "{conflict}: {object} stays in \"{}\"",
            conflict.kept
        )));
    }
}

fn notice(events: &EventSink, text: &str) {
    events.as_ref()(Event::Notice(text.to_owned()));
}
