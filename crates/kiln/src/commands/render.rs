//! `kiln render`: Skaffold's render for the config's manifests (`manifests.rawYaml` or
//! v2's `deploy.kubectl.manifests`, `kustomize build`, `helm template`): each artifact's
//! `image` fields point at its built reference. The image references come from a build, a
//! build JSON, or the registry.

use anyhow::{Context as _, bail};
use kiln_core::Reference;
use kiln_core::env::Env;
use kiln_pipeline::output::read_build_json;
use kiln_pipeline::run::Command;
use kiln_render::Build;

use kiln_pipeline::plan::skaffold::plan_tags;

use std::path::Path;

use kiln_pipeline::render::{joined, render_configs};

use super::build::{Session, load_configs, plan_only_options};
use super::deploy::report_unmatched;
use super::process_env;
use super::run::helm_context;
use crate::cli::{ClusterFlags, ConfigArgs, DigestSource, RenderArgs};
use crate::printer;

pub async fn run(args: RenderArgs) -> anyhow::Result<()> {
    let text = if args.build_artifacts.is_some() || args.digest_source == DigestSource::None {
        // Nothing to plan or build: the config alone (no Go toolchain needed).
        let (configs, config_dir) = load_configs(&args.config, Command::Render, &process_env())?;
        render_manifests(&config_dir, &configs, &args.config, given_builds(&args)?).await?
    } else if args.digest_source == DigestSource::Tag {
        // Names and tags only: nothing is built or written, no module is downloaded.
        let env = process_env();
        let (configs, config_dir) = load_configs(&args.config, Command::Render, &env)?;
        let builds =
            tagged_builds(&configs, &config_dir, &args.config, args.tag.clone(), &env).await?;
        render_manifests(&config_dir, &configs, &args.config, builds).await?
    } else {
        let session = Session::start(args.build_args(), Command::Render).await?;
        let builds = built_or_looked_up(&session, &args).await?;
        render_manifests(&session.config_dir, &session.configs, &args.config, builds).await?
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => printer::stdout_text(&text),
    }
    Ok(())
}

/// Every config's manifests (rawYaml, kustomize, helm; `deploy.helm` releases too, as
/// `skaffold render` renders them) with `builds`' images, as one stream.
async fn render_manifests(
    config_dir: &Path,
    configs: &[kiln_config::Config],
    config: &ConfigArgs,
    builds: Vec<Build>,
) -> anyhow::Result<String> {
    let ctx = helm_context(
        configs,
        config_dir,
        config.kube_context.as_deref(),
        &ClusterFlags::default(),
        builds,
    );
    let rendered = render_configs(configs, &ctx, true).await?;
    rendered.iter().for_each(report_unmatched);
    Ok(joined(&rendered))
}

/// Each artifact's name and tag from the tag policy (or `tag`), with nothing built,
/// resolved or downloaded.
pub async fn tagged_builds(
    configs: &[kiln_config::Config],
    config_dir: &Path,
    config: &ConfigArgs,
    tag: Option<String>,
    env: &Env,
) -> anyhow::Result<Vec<Build>> {
    let options = plan_only_options(config, tag, env)?;
    Ok(plan_tags(configs, config_dir, &options)
        .await?
        .into_iter()
        .map(|t| Build {
            image_name: t.image,
            tag: t.tagged,
        })
        .collect())
}

/// The references of `--build-artifacts`, or none for `--digest-source=none`.
fn given_builds(args: &RenderArgs) -> anyhow::Result<Vec<Build>> {
    let Some(path) = &args.build_artifacts else {
        printer::info("--digest-source=none: the images the manifests name are kept");
        return Ok(Vec::new());
    };
    read_builds(path)
}

/// The images of a build JSON file (`kiln build --file-output`, Skaffold's
/// `--build-artifacts`).
pub fn read_builds(path: &Path) -> anyhow::Result<Vec<Build>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --build-artifacts {}", path.display()))?;
    let outputs = read_build_json(&text).with_context(|| {
        format!(
            "--build-artifacts {}: not a build JSON (`{{\"builds\":[{{\"imageName\":…,\"tag\":…}}]}}`, as `kiln build --file-output` writes)",
            path.display()
        )
    })?;
    Ok(outputs.into_iter().map(Build::from).collect())
}

/// The references of `--digest-source` local (a build) or remote (each tag's digest in its
/// registry).
async fn built_or_looked_up(session: &Session, args: &RenderArgs) -> anyhow::Result<Vec<Build>> {
    if args.digest_source == DigestSource::Local {
        let plans = session.plan(&[]).await?;
        let outputs = session.build(&plans).await?;
        return Ok(outputs.into_iter().map(Build::from).collect());
    }
    // Only names and tags are needed (no package resolved), for artifacts of any builder.
    let mut builds = Vec::new();
    for planned in session.plan_tags(&[]).await? {
        let tagged = planned.tag;
        let reference: Reference = tagged
            .parse()
            .with_context(|| format!("{}: `{tagged}`", planned.image_name))?;
        let client = session.ctx.registry("--digest-source=remote")?;
        let tag = match client.head_manifest(&reference).await? {
            Some(head) => format!("{tagged}@{}", head.digest),
            None => bail!(
                "failed to resolve the digest of {tagged}: does the image exist remotely? Build and push it first, or render with --digest-source=local or --digest-source=tag"
            ),
        };
        builds.push(Build {
            image_name: planned.image_name,
            tag,
        });
    }
    Ok(builds)
}
