//! Deploying rendered manifests: once for `kiln run` and `kiln deploy` (and deleting for
//! `kiln delete`), and after each build of `kiln dev` and `kiln debug`, where no cluster
//! is not an error: the loop then only builds.

use anyhow::Context as _;
use kiln_pipeline::deploy::Kubectl;
use kiln_pipeline::deploy::helm::HelmDeploy;
use kiln_pipeline::helm::HelmContext;
use kiln_pipeline::render::{RenderedConfig, render_configs};

use crate::cli::DeployFlags;

use super::build::Session;
use crate::printer;

/// The config's kubectl deployer for `kiln debug`, if it has one, manifests to apply, and
/// a cluster that answers; otherwise says why nothing will be deployed and returns `None`.
pub async fn deployer(session: &Session) -> Option<Kubectl> {
    if session.configs.iter().any(|c| c.deploy.helm.is_some()) {
        printer::info(
            "deploy.helm releases are installed by `kiln run`, `kiln deploy` and `kiln dev`; kiln debug applies the kubectl manifests only",
        );
    }
    let config = session.configs.first()?;
    let kubectl = Kubectl::from_config(
        &config.deploy,
        session.args.config.kube_context.as_deref(),
        session.ctx.env(),
    )?;
    if !has_kubectl_manifests(session) {
        return None;
    }
    reachable(&kubectl).await.then_some(kubectl)
}

/// Whether `kiln dev` deploys after each build: the configs have something to deploy
/// (manifests for kubectl, or `deploy.helm` releases) and a cluster answers.
pub async fn dev_deploys(session: &Session) -> bool {
    let context = session.args.config.kube_context.as_deref();
    let kubectl = session
        .configs
        .iter()
        .find_map(|c| Kubectl::from_config(&c.deploy, context, session.ctx.env()));
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
    let probe = kubectl.unwrap_or_else(|| Kubectl::for_context(context, session.ctx.env()));
    reachable(&probe).await
}

/// Whether any config has manifests to render: rawYaml files, kustomize or helm.
fn has_kubectl_manifests(session: &Session) -> bool {
    kiln_pipeline::manifests::manifest_files(
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
async fn reachable(kubectl: &Kubectl) -> bool {
    match kubectl.reachable().await {
        Ok(()) => true,
        Err(why) => {
            printer::info(&format!(
                "no Kubernetes cluster reachable ({why}): building only, nothing is deployed"
            ));
            false
        }
    }
}

/// Applies `manifests` and shows kubectl's report.
pub async fn apply(kubectl: &Kubectl, manifests: &str) -> anyhow::Result<()> {
    let report = kubectl.apply(manifests).await?;
    for line in report.lines() {
        printer::info(line);
    }
    Ok(())
}

/// Renders every config with `ctx`'s images and deploys it with its deployers: `kubectl
/// apply` of the rendered manifests where the config deploys with kubectl, `helm upgrade
/// --install` of its `deploy.helm` releases.
pub async fn deploy_all(
    configs: &[kiln_config::Config],
    ctx: &HelmContext,
    flags: &DeployFlags,
) -> anyhow::Result<()> {
    let rendered = render_configs(configs, ctx, false).await?;
    let post_renderer =
        std::env::current_exe().context("locating kiln for helm's post-renderer")?;
    let mut deployed = false;
    for (config, rendered) in configs.iter().zip(&rendered) {
        report_unmatched(rendered);
        if let Some(kubectl) = kubectl_of(config, ctx)?
            && !rendered.documents.is_empty()
        {
            apply(&kubectl.with_force(flags.force), &rendered.text()).await?;
            deployed = true;
        }
        if let Some(helm) = &config.deploy.helm {
            deployed |= !helm.releases.is_empty();
            let how = HelmDeploy {
                force: flags.force,
                post_renderer: Some(post_renderer.clone()),
            };
            for line in kiln_pipeline::deploy::helm::deploy(ctx, helm, &how).await? {
                printer::info(&line);
            }
        }
    }
    if !deployed {
        printer::info(
            "nothing to deploy: no config has manifests for kubectl or deploy.helm releases",
        );
    }
    Ok(())
}

/// Deletes what every config deploys: `kubectl delete` of its rendered manifests and
/// `helm delete` of its `deploy.helm` releases; with `dry_run`, prints them on stdout
/// instead, as Skaffold's `delete --dry-run` does.
pub async fn delete_all(
    configs: &[kiln_config::Config],
    ctx: &HelmContext,
    dry_run: bool,
) -> anyhow::Result<()> {
    let rendered = render_configs(configs, ctx, false).await?;
    for (config, rendered) in configs.iter().zip(&rendered) {
        if let Some(kubectl) = kubectl_of(config, ctx)?
            && !rendered.documents.is_empty()
        {
            if dry_run {
                for doc in &rendered.documents {
                    printer::stdout_text(&format!("---\n{doc}\n"));
                }
            } else {
                for line in kubectl.delete(&rendered.text()).await?.lines() {
                    printer::info(line);
                }
            }
        }
        if let Some(helm) = &config.deploy.helm {
            let out = kiln_pipeline::deploy::helm::delete(ctx, helm, dry_run).await?;
            for line in out {
                if dry_run {
                    printer::stdout_line(&line);
                } else {
                    printer::info(&line);
                }
            }
        }
    }
    Ok(())
}

/// The config's kubectl deployer, pointed at the run's kube context and namespace.
fn kubectl_of(config: &kiln_config::Config, ctx: &HelmContext) -> anyhow::Result<Option<Kubectl>> {
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

/// Says which `rawYaml` patterns matched no file, as Skaffold warns.
pub fn report_unmatched(rendered: &RenderedConfig) {
    for pattern in &rendered.unmatched {
        printer::info(&format!(
            "manifests.rawYaml `{pattern}` did not match any file"
        ));
    }
}
