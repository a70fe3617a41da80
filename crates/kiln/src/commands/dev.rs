//! `kiln dev`: build, then rebuild the affected artifacts on every change until Ctrl-C
//! (`kiln_pipeline::session::dev` decides what each change rebuilds). Compile errors are
//! shown and the loop goes on. Ctrl-C stops an in-flight build at once (its `go` processes
//! are killed and its temporary files removed as the build is dropped).

use kiln_pipeline::ArtifactPlan;
use kiln_pipeline::session::dev::DevLoop;
use tokio::sync::watch;

use super::build::report;
use kiln_core::env::Env;

use super::sinks;
use crate::cli::{BuildArgs, DevArgs};
use crate::printer;

pub async fn run(args: DevArgs, env: Env) -> anyhow::Result<()> {
    let stop = ctrl_c_watch();
    let (options, args) = (args.deploy_options()?, args.build);
    let (mut dev, plans) = DevLoop::start(args.request(), options, env, sinks(args.quiet)).await?;
    if !round(&mut dev, &args, &plans, &stop).await {
        return Ok(());
    }
    dev.watch()?;
    printer::info("watching for changes (Ctrl-C to stop)");
    loop {
        let batch = tokio::select! {
            batch = dev.next_change() => batch,
            _ = stopped(&stop) => None,
        };
        let Some(batch) = batch else { break };
        let to_build = match dev.to_build(&batch).await {
            Ok(plans) if plans.is_empty() => continue,
            Ok(plans) => plans,
            Err(e) => {
                printer::error(&e.into());
                continue;
            }
        };
        if !round(&mut dev, &args, &to_build, &stop).await {
            break;
        }
        dev.watch()?;
    }
    printer::info("stopped");
    Ok(())
}

/// Builds `plans`, prints the result and deploys; errors are shown, not fatal. Returns
/// false when Ctrl-C interrupted the build or the deploy.
async fn round(
    dev: &mut DevLoop,
    args: &BuildArgs,
    plans: &[ArtifactPlan],
    stop: &watch::Receiver<bool>,
) -> bool {
    let result = tokio::select! {
        result = dev.session().build(plans) => result,
        _ = stopped(stop) => return false,
    };
    let outcome = match result {
        Ok(outputs) => match report(dev.session(), args, &outputs) {
            // The deploy's status check can wait for minutes: Ctrl-C stops it too (its
            // kubectl is killed as it is dropped).
            Ok(()) => tokio::select! {
                deployed = dev.deploy(outputs) => deployed.map_err(Into::into),
                _ = stopped(stop) => return false,
            },
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    };
    if let Err(e) = outcome {
        printer::error(&e);
    }
    true
}

/// Ctrl-C, caught once for the whole loop: a signal that arrives between two waits (while
/// a round prints or plans) is kept, where a fresh `ctrl_c()` per wait would miss it.
fn ctrl_c_watch() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = sender.send(true);
        }
    });
    receiver
}

/// Completes once Ctrl-C has been pressed (at once if it already was).
async fn stopped(stop: &watch::Receiver<bool>) {
    let mut stop = stop.clone();
    if stop.wait_for(|pressed| *pressed).await.is_err() {
        // The listener could not be installed: never stop on a signal we cannot see.
        std::future::pending::<()>().await;
    }
}
