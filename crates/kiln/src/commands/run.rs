//! `kiln run`, `kiln deploy`, `kiln delete`: Skaffold's lifecycle commands around a
//! deploy. The work is in `kiln_pipeline::session::deploy`; this module picks the images
//! and prints.

use anyhow::Context as _;
use kiln_pipeline::output::read_build_file;
use kiln_pipeline::run::Command;
use kiln_pipeline::session::deploy::deploy;
use kiln_pipeline::session::skaffold::{load_configs, tagged_builds};
use kiln_render::Build;

use super::build::{report, start};
use kiln_core::env::Env;

use super::notices;
use crate::cli::{DeleteArgs, DeployArgs, FilterArgs, RunArgs};
use crate::printer;

/// Build (as `kiln build`), then render and deploy once.
pub async fn run(args: RunArgs, env: Env) -> anyhow::Result<()> {
    let session = start(&args.build, Command::Run, env).await?;
    let outputs = session.build_selected().await?;
    report(&session, &args.build, &outputs)?;
    let builds = outputs.into_iter().map(Build::from).collect();
    let options = args.deploy.options()?;
    let (configs, dir, events) = (&session.configs, &session.config_dir, &session.ctx.events);
    let kube_context = args.build.config.kube_context.as_deref();
    Ok(deploy(
        configs,
        dir,
        kube_context,
        session.env(),
        builds,
        &options,
        events,
    )
    .await?)
}

/// Deploy the images of `--build-artifacts`, or the tag policy's names and tags.
pub async fn deploy_built(args: DeployArgs, env: Env) -> anyhow::Result<()> {
    let events = notices();
    let source = args.config.source();
    let (configs, config_dir) = load_configs(&source, Command::Deploy, &env, &events)?;
    let builds = match &args.build_artifacts {
        Some(path) => read_build_file(path)?,
        None => tagged_builds(&configs, &config_dir, &source, args.tag.clone(), &env).await?,
    };
    let options = args.deploy.options()?;
    let kube_context = source.kube_context.as_deref();
    Ok(deploy(
        &configs,
        &config_dir,
        kube_context,
        &env,
        builds,
        &options,
        &events,
    )
    .await?)
}

/// Delete what the configs deploy, kubectl's and helm's.
pub async fn delete(args: DeleteArgs, env: Env) -> anyhow::Result<()> {
    let events = notices();
    let source = args.config.source();
    let (configs, config_dir) = load_configs(&source, Command::Delete, &env, &events)?;
    let kube_context = source.kube_context.as_deref();
    let cluster = args.cluster.cluster();
    let would_delete = kiln_pipeline::session::deploy::delete(
        &configs,
        &config_dir,
        kube_context,
        &cluster,
        &env,
        args.dry_run,
        &events,
    )
    .await?;
    printer::stdout_text(&would_delete);
    Ok(())
}

/// Helm's post-renderer: manifests on stdin, the same with the labels and the built
/// images on stdout.
pub fn filter(args: FilterArgs) -> anyhow::Result<()> {
    let builds = match &args.build_artifacts {
        Some(path) => read_build_file(path)?,
        None => Vec::new(),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading manifests from stdin")?;
    let filtered = kiln_pipeline::render::filter(&text, &builds, &args.labels)?;
    printer::stdout_text(&filtered);
    Ok(())
}
