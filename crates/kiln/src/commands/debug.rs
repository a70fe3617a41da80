//! `kiln debug`: `skaffold debug`'s build (optimizations and trimpath off, one platform)
//! and its Go transform of the manifests (Delve from the debug-support init container,
//! listening on 56268), applied to the cluster when one is reachable.

use kiln_core::env::Env;
use kiln_pipeline::output::BuildOutput;
use kiln_pipeline::run::Command;
use kiln_pipeline::session::deploy::debug_deploy;

use super::build::{report, start};
use crate::cli::DebugArgs;
use crate::printer;

pub async fn run(args: DebugArgs, env: Env) -> anyhow::Result<()> {
    let session = start(&args.build, Command::Debug, env).await?;
    let plans = session.plan(&session.request.build_images).await?;
    let built = session.build_artifacts(&plans).await?;
    let outputs: Vec<BuildOutput> = built.iter().map(|(_, o)| o.clone()).collect();
    report(&session, &args.build, &outputs)?;
    let render_output = args.render_output.as_deref();
    let options = args.deploy_options()?;
    let deployed = debug_deploy(&session, &built, &options, render_output).await?;
    if !deployed && render_output.is_none() {
        printer::info("nothing deployed; pass --render-output FILE to keep the debug manifests");
    }
    Ok(())
}
