//! `kiln render`: Skaffold's render for the config's manifests (`manifests.rawYaml` or
//! v2's `deploy.kubectl.manifests`, `kustomize build`, `helm template`): each artifact's
//! `image` fields point at its built reference. The image references come from a build, a
//! build JSON, or the registry. With `-n`, the namespace goes into the manifests as
//! Skaffold puts it there (not with `--offline`); with `-l`, the labels (and no run ID, as
//! `skaffold render` adds none).

use std::path::Path;

use anyhow::Context as _;
use kiln_core::env::Env;
use kiln_pipeline::EventSink;
use kiln_pipeline::output::read_build_file;
use kiln_pipeline::run::Command;
use kiln_pipeline::session::deploy::render_all;
use kiln_pipeline::session::skaffold::{Session, load_configs, tagged_builds};
use kiln_render::Build;

use super::{notices, sinks};
use crate::cli::{DigestSource, RenderArgs};
use crate::printer;

pub async fn run(args: RenderArgs, env: Env) -> anyhow::Result<()> {
    let source = args.config.source();
    let text = if args.build_artifacts.is_some() || args.digest_source == DigestSource::None {
        // Nothing to plan or build: the config alone (no Go toolchain needed).
        let events = notices();
        let (configs, config_dir) = load_configs(&source, Command::Render, &env, &events)?;
        let builds = given_builds(&args)?;
        render_manifests(&configs, &config_dir, &args, &env, &events, builds).await?
    } else if args.digest_source == DigestSource::Tag {
        // Names and tags only: nothing is built or written, no module is downloaded.
        let events = notices();
        let (configs, config_dir) = load_configs(&source, Command::Render, &env, &events)?;
        let builds = tagged_builds(&configs, &config_dir, &source, args.tag.clone(), &env).await?;
        render_manifests(&configs, &config_dir, &args, &env, &events, builds).await?
    } else {
        let session = Session::start(args.request(), Command::Render, env, &sinks(false)).await?;
        let builds = built_or_looked_up(&session, &args).await?;
        let (configs, dir, env) = (&session.configs, &session.config_dir, session.env());
        render_manifests(configs, dir, &args, env, &session.ctx.events, builds).await?
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => printer::stdout_text(&text),
    }
    Ok(())
}

/// The manifests of `configs` with `builds`' images.
async fn render_manifests(
    configs: &[kiln_config::Config],
    config_dir: &Path,
    args: &RenderArgs,
    env: &Env,
    events: &EventSink,
    builds: Vec<Build>,
) -> anyhow::Result<String> {
    let kube_context = args.config.kube_context.as_deref();
    let request = args.render_request();
    Ok(render_all(
        configs,
        config_dir,
        kube_context,
        env,
        events,
        builds,
        &request,
    )
    .await?)
}

/// The references of `--build-artifacts`, or none for `--digest-source=none`.
fn given_builds(args: &RenderArgs) -> anyhow::Result<Vec<Build>> {
    let Some(path) = &args.build_artifacts else {
        printer::info("--digest-source=none: the images the manifests name are kept");
        return Ok(Vec::new());
    };
    Ok(read_build_file(path)?)
}

/// The references of `--digest-source` local (a build) or remote (each tag's digest in its
/// registry).
async fn built_or_looked_up(session: &Session, args: &RenderArgs) -> anyhow::Result<Vec<Build>> {
    if args.digest_source == DigestSource::Local {
        let plans = session.plan(&[]).await?;
        let outputs = session.build(&plans).await?;
        return Ok(outputs.into_iter().map(Build::from).collect());
    }
    Ok(session.pushed_builds().await?)
}
