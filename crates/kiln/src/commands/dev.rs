//! `kiln dev`: build, then rebuild the affected artifacts on every change until Ctrl-C.
//!
//! The loop rests on an untouched tree: only content changes of an artifact's inputs wake
//! it, and an artifact is rebuilt only when the digest of its inputs moved since its last
//! build, so a failed build is not retried (nor its error printed again) until an input
//! changes. Compile errors are shown and the loop goes on. Ctrl-C stops an in-flight build
//! at once (its `go` processes are killed and its temporary files removed as the build is
//! dropped).

use kiln_core::env::Env;
use std::collections::HashMap;

use kiln_core::Digest;
use kiln_pipeline::ArtifactPlan;
use kiln_pipeline::artifact_cache::inputs_digest;
use kiln_pipeline::output::BuildOutput;
use kiln_pipeline::run::Command;
use kiln_pipeline::watch::{Watcher, affected, watch_dirs};
use kiln_render::Build;
use tokio::sync::watch;

use super::build::Session;
use super::deploy;
use crate::cli::{BuildArgs, ClusterFlags, DeployFlags};
use crate::printer;

pub async fn run(args: BuildArgs) -> anyhow::Result<()> {
    let stop = ctrl_c_watch();
    let skaffold_yaml =
        std::fs::canonicalize(&args.config.filename).unwrap_or(args.config.filename.clone());
    let mut session = Session::start(args.clone(), Command::Dev).await?;
    let mut plans = session.plan(&session.args.build_images).await?;
    let mut deployed = Deployed::new(&session).await;
    let mut built = BuiltInputs::default();
    built.changed(&plans, session.ctx.env()).await;
    if !round(&session, &plans, &mut deployed, &stop).await {
        return Ok(());
    }
    let mut watching = watch_dirs(&plans, std::slice::from_ref(&skaffold_yaml))?;
    let mut watcher = Watcher::new(&watching)?;
    printer::info("watching for changes (Ctrl-C to stop)");
    loop {
        let batch = tokio::select! {
            batch = watcher.next() => batch,
            _ = stopped(&stop) => None,
        };
        let Some(batch) = batch else { break };
        let to_build = if batch.contains(&skaffold_yaml) {
            // The configuration itself changed: reload it and rebuild everything.
            match reload(&args).await {
                Ok((new_session, new_plans)) => {
                    (session, plans) = (new_session, new_plans);
                    deployed.cluster = deploy::dev_deploys(&session).await;
                    built.changed(&plans, session.ctx.env()).await;
                    plans.clone()
                }
                Err(e) => {
                    printer::error(&e);
                    continue;
                }
            }
        } else {
            let images = affected(&plans, &batch, &session.outputs())?;
            if images.is_empty() {
                continue;
            }
            match session.plan(&images).await {
                Ok(replanned) => {
                    merge(&mut plans, &replanned);
                    built.changed(&replanned, session.ctx.env()).await
                }
                Err(e) => {
                    printer::error(&e);
                    continue;
                }
            }
        };
        if to_build.is_empty() {
            continue;
        }
        if !round(&session, &to_build, &mut deployed, &stop).await {
            break;
        }
        // A new ko config, go.work or context may have entered the inputs.
        let now = watch_dirs(&plans, std::slice::from_ref(&skaffold_yaml))?;
        if now != watching {
            watcher = Watcher::new(&now)?;
            watching = now;
        }
    }
    printer::info("stopped");
    Ok(())
}

/// The digest of each artifact's inputs when it was last built (or failed to build).
#[derive(Default)]
struct BuiltInputs(HashMap<String, Option<Digest>>);

impl BuiltInputs {
    /// The plans whose inputs differ from their last build's, now recorded as built. An
    /// input that cannot be read counts as a change: the build then says what is wrong.
    async fn changed(&mut self, plans: &[ArtifactPlan], env: &Env) -> Vec<ArtifactPlan> {
        let mut changed = Vec::new();
        for plan in plans {
            let digest = inputs_digest(plan, env).await.ok();
            let previous = self.0.insert(plan.image.clone(), digest.clone());
            if digest.is_none() || previous != Some(digest) {
                changed.push(plan.clone());
            }
        }
        changed
    }
}

async fn reload(args: &BuildArgs) -> anyhow::Result<(Session, Vec<ArtifactPlan>)> {
    let session = Session::start(args.clone(), Command::Dev).await?;
    let plans = session.plan(&session.args.build_images).await?;
    Ok((session, plans))
}

/// Builds `plans`, reports the result and, with a cluster, deploys the manifests with every
/// artifact's latest image; errors are shown, not fatal. Returns false when Ctrl-C
/// interrupted the build.
async fn round(
    session: &Session,
    plans: &[ArtifactPlan],
    deployed: &mut Deployed,
    stop: &watch::Receiver<bool>,
) -> bool {
    let result = tokio::select! {
        result = session.build(plans) => result,
        _ = stopped(stop) => return false,
    };
    let outcome = match result {
        Ok(outputs) => match session.report(&outputs) {
            Ok(()) => deployed.update(session, outputs).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
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

/// The deploy side of the loop: whether to deploy (something to deploy, and a cluster
/// answered at start) and the latest image of every artifact, since a round rebuilds only
/// some of them.
struct Deployed {
    cluster: bool,
    latest: Vec<Build>,
}

impl Deployed {
    async fn new(session: &Session) -> Self {
        Deployed {
            cluster: deploy::dev_deploys(session).await,
            latest: Vec::new(),
        }
    }

    async fn update(&mut self, session: &Session, outputs: Vec<BuildOutput>) -> anyhow::Result<()> {
        for output in outputs {
            self.latest.retain(|b| b.image_name != output.image_name);
            self.latest.push(Build::from(output));
        }
        if !self.cluster {
            return Ok(());
        }
        // As `kiln run` deploys: kubectl applies the rendered manifests, helm upgrades the
        // deploy.helm releases.
        let ctx = super::run::helm_context(
            &session.configs,
            &session.config_dir,
            session.args.config.kube_context.as_deref(),
            &ClusterFlags::default(),
            self.latest.clone(),
        );
        deploy::deploy_all(&session.configs, &ctx, &DeployFlags::default()).await
    }
}

/// Replaces the plans of rebuilt artifacts, so later changes are matched against them.
fn merge(plans: &mut [ArtifactPlan], replanned: &[ArtifactPlan]) {
    for plan in plans.iter_mut() {
        if let Some(new) = replanned.iter().find(|p| p.image == plan.image) {
            *plan = new.clone();
        }
    }
}
