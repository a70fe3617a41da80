//! `kiln run`, `kiln deploy`, `kiln delete`: Skaffold's lifecycle commands around a
//! deploy. The work is in kiln-pipeline (`render`, `deploy`); this module picks the images
//! and prints.

use std::path::Path;

use anyhow::Context as _;
use kiln_pipeline::helm::HelmContext;
use kiln_pipeline::run::Command;
use kiln_render::Build;

use super::build::{Session, in_config_order, load_configs};
use super::deploy::{delete_all, deploy_all};
use super::process_env;
use crate::cli::{ClusterFlags, DeleteArgs, DeployArgs, FilterArgs, RunArgs};
use crate::printer;

/// Build (as `kiln build`), then render and deploy once.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let session = Session::start(args.build.clone(), Command::Run).await?;
    let plans = session.plan_with_custom(&session.args.build_images).await?;
    let mut outputs = session.build(&plans.ko).await?;
    outputs.extend(session.build_custom(&plans.custom, &outputs).await?);
    let outputs = in_config_order(&session.configs, outputs);
    session.report(&outputs)?;
    let builds = outputs.into_iter().map(Build::from).collect();
    let ctx = helm_context(
        &session.configs,
        &session.config_dir,
        session.args.config.kube_context.as_deref(),
        &args.deploy.cluster,
        builds,
    );
    deploy_all(&session.configs, &ctx, &args.deploy).await
}

/// Deploy the images of `--build-artifacts`, or the tag policy's names and tags.
pub async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let env = process_env();
    let (configs, config_dir) = load_configs(&args.config, Command::Deploy, &env)?;
    let builds = match &args.build_artifacts {
        Some(path) => super::render::read_builds(path)?,
        None => {
            super::render::tagged_builds(
                &configs,
                &config_dir,
                &args.config,
                args.tag.clone(),
                &env,
            )
            .await?
        }
    };
    let ctx = helm_context(
        &configs,
        &config_dir,
        args.config.kube_context.as_deref(),
        &args.deploy.cluster,
        builds,
    );
    deploy_all(&configs, &ctx, &args.deploy).await
}

/// Delete what the configs deploy: the manifests rendered with the images as the
/// artifacts name them (what is deleted does not depend on the tag), and the helm releases.
pub async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let env = process_env();
    let (configs, config_dir) = load_configs(&args.config, Command::Delete, &env)?;
    let builds = configs
        .iter()
        .flat_map(|c| &c.build.artifacts)
        .map(|a| Build {
            image_name: a.image.clone(),
            tag: kiln_core::naming::strip_ko_scheme(&a.image).to_owned(),
        })
        .collect();
    let ctx = helm_context(
        &configs,
        &config_dir,
        args.config.kube_context.as_deref(),
        &args.cluster,
        builds,
    );
    delete_all(&configs, &ctx, args.dry_run).await
}

/// Helm's post-renderer: manifests on stdin, the same with the built images on stdout.
pub fn filter(args: FilterArgs) -> anyhow::Result<()> {
    let builds = super::render::read_builds(&args.build_artifacts)?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading manifests from stdin")?;
    let replaced = kiln_render::replace_images(&text, &builds)?;
    printer::stdout_text(&replaced);
    Ok(())
}

/// What rendering and deploying share: the kube context (the flag, then
/// `deploy.kubeContext`, then the kubeconfig's current context, as Skaffold resolves it),
/// the namespace, the environment and the images.
pub fn helm_context(
    configs: &[kiln_config::Config],
    config_dir: &Path,
    kube_context: Option<&str>,
    cluster: &ClusterFlags,
    builds: Vec<Build>,
) -> HelmContext {
    let env = process_env();
    let kubeconfig = cluster.kubeconfig.as_ref().map(|k| k.display().to_string());
    // The kubeconfig given is where the current context comes from.
    let context_env = match &kubeconfig {
        Some(k) => env.with([("KUBECONFIG", k)]),
        None => env.clone(),
    };
    HelmContext {
        kube_context: kiln_pipeline::local::kube_context(
            kube_context,
            configs
                .iter()
                .find_map(|c| c.deploy.kube_context.as_deref()),
            &context_env,
        ),
        namespace: cluster.namespace.clone().filter(|n| !n.is_empty()),
        kubeconfig,
        env,
        builds,
        config_dir: config_dir.to_owned(),
    }
}
