//! `kiln debug`: `skaffold debug`'s build (optimizations and trimpath off, one platform)
//! and its Go transform of the manifests (Delve from the debug-support init container,
//! listening on 56268), applied to the cluster when one is reachable.

use anyhow::Context as _;
use kiln_pipeline::manifests::debug_image_info;
use kiln_pipeline::output::BuildOutput;
use kiln_pipeline::run::Command;
use kiln_render::{Build, DebugOptions, debug_transform};

use super::build::Session;
use super::deploy;
use crate::cli::DebugArgs;
use crate::printer;

pub async fn run(args: DebugArgs) -> anyhow::Result<()> {
    let session = Session::start(args.build.clone(), Command::Debug).await?;
    let plans = session.plan(&session.args.build_images).await?;
    let built = session.build_artifacts(&plans).await?;
    let outputs: Vec<BuildOutput> = built.iter().map(|(_, o)| o.clone()).collect();
    session.report(&outputs)?;

    let builds: Vec<Build> = outputs.iter().cloned().map(Build::from).collect();
    let images = built
        .iter()
        .map(|(artifact, output)| debug_image_info(artifact, &output.tag))
        .collect::<Result<Vec<_>, _>>()?;
    let manifests = session.render(&builds).await?;
    let debuggable = debug_transform(&manifests, &images, &DebugOptions::default())
        .context("rewriting the manifests for debugging")?;
    if let Some(path) = &args.render_output {
        std::fs::write(path, &debuggable).with_context(|| format!("writing {}", path.display()))?;
    }
    match deploy::deployer(&session).await {
        Some(kubectl) => deploy::apply(&kubectl, &debuggable).await,
        None if args.render_output.is_none() => {
            printer::info(
                "nothing deployed; pass --render-output FILE to keep the debug manifests",
            );
            Ok(())
        }
        None => Ok(()),
    }
}
