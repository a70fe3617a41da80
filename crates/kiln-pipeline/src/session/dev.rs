//! `kiln dev`'s state between rounds: what is watched, what was last built, and what a
//! batch of file changes makes rebuild. The command runs the loop (Ctrl-C, printing);
//! every choice is made here.
//!
//! The loop rests on an untouched tree: only content changes of an artifact's inputs wake
//! it, and an artifact is rebuilt only when the digest of its inputs moved since its last
//! build, so a failed build is not retried (nor its error printed again) until an input
//! changes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use kiln_core::Digest;
use kiln_core::env::Env;

use super::Sinks;
use super::deploy::{DeployOptions, deploy_all, deploy_labels, dev_deploys, helm_context};
use super::skaffold::{BuildRequest, Session};
use crate::artifact_cache::inputs_digest;
use crate::output::BuildOutput;
use crate::run::Command;
use crate::watch::{Watcher, affected, watch_dirs};
use crate::{ArtifactPlan, Error};

/// One `kiln dev` run.
pub struct DevLoop {
    request: BuildRequest,
    env: Env,
    sinks: Sinks,
    /// The skaffold.yaml, whose change reloads everything.
    skaffold_yaml: PathBuf,
    session: Session,
    plans: Vec<ArtifactPlan>,
    built: BuiltInputs,
    /// How rounds deploy (`-n`, `--kubeconfig`, `-l`, helm's post-renderer).
    options: DeployOptions,
    /// What every round labels its objects with: the run ID and `-l`. A new ID when the
    /// skaffold.yaml is reloaded, as Skaffold starts a new run then.
    labels: BTreeMap<String, String>,
    /// Whether rounds deploy: something to deploy, and a cluster answered at start.
    deploys: bool,
    /// The latest image of every artifact, since a round rebuilds only some of them.
    latest: Vec<kiln_render::Build>,
    watching: Vec<(PathBuf, bool)>,
    watcher: Option<Watcher>,
}

impl DevLoop {
    /// Loads the configs and plans every selected artifact; returns the loop and the
    /// plans of its first round (all of them).
    pub async fn start(
        request: BuildRequest,
        options: DeployOptions,
        env: Env,
        sinks: Sinks,
    ) -> Result<(DevLoop, Vec<ArtifactPlan>), Error> {
        let skaffold_yaml = std::fs::canonicalize(&request.config.filename)
            .unwrap_or(request.config.filename.clone());
        let (session, plans) = plan(&request, &env, &sinks).await?;
        let deploys = dev_deploys(&session, &options.cluster).await;
        let labels = deploy_labels(&options.labels)?;
        let mut built = BuiltInputs::default();
        built.changed(&plans, &env).await;
        let dev = DevLoop {
            request,
            env,
            sinks,
            skaffold_yaml,
            session,
            options,
            labels,
            plans: plans.clone(),
            built,
            deploys,
            latest: Vec::new(),
            watching: Vec::new(),
            watcher: None,
        };
        Ok((dev, plans))
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Watches every input of the artifacts and the skaffold.yaml; called after each round,
    /// as a new ko config, go.work or context may have entered the inputs.
    pub fn watch(&mut self) -> Result<(), Error> {
        let now = watch_dirs(&self.plans, std::slice::from_ref(&self.skaffold_yaml))?;
        if self.watcher.is_none() || now != self.watching {
            self.watcher = Some(Watcher::new(&now)?);
            self.watching = now;
        }
        Ok(())
    }

    /// The next batch of changed files (`None` when the watcher stopped).
    pub async fn next_change(&mut self) -> Option<Vec<PathBuf>> {
        self.watcher.as_mut()?.next().await
    }

    /// The plans to rebuild after `batch` changed: everything, reloaded, when the
    /// skaffold.yaml changed; otherwise the affected artifacts whose inputs' digest moved.
    /// On an error the loop keeps its state.
    pub async fn to_build(&mut self, batch: &[PathBuf]) -> Result<Vec<ArtifactPlan>, Error> {
        if batch.contains(&self.skaffold_yaml) {
            let (session, plans) = plan(&self.request, &self.env, &self.sinks).await?;
            self.deploys = dev_deploys(&session, &self.options.cluster).await;
            self.labels = deploy_labels(&self.options.labels)?;
            (self.session, self.plans) = (session, plans);
            self.built.changed(&self.plans, &self.env).await;
            return Ok(self.plans.clone());
        }
        let images = affected(&self.plans, batch, &self.session.outputs())?;
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let replanned = self.session.plan(&images).await?;
        merge(&mut self.plans, &replanned);
        Ok(self.built.changed(&replanned, &self.env).await)
    }

    /// Records a round's outputs and, when the loop deploys, deploys every artifact's
    /// latest image as `kiln run` does (kubectl applies the rendered manifests, helm
    /// upgrades the deploy.helm releases).
    pub async fn deploy(&mut self, outputs: Vec<BuildOutput>) -> Result<(), Error> {
        for output in outputs {
            self.latest.retain(|b| b.image_name != output.image_name);
            self.latest.push(kiln_render::Build::from(output));
        }
        if !self.deploys {
            return Ok(());
        }
        let session = &self.session;
        let ctx = helm_context(
            &session.configs,
            &session.config_dir,
            session.request.config.kube_context.as_deref(),
            &self.options.cluster,
            &self.env,
            self.latest.clone(),
            self.labels.clone(),
        );
        deploy_all(&session.configs, &ctx, &self.options, &session.ctx.events).await
    }
}

/// A `kiln dev` session and the plans of its selected artifacts.
async fn plan(
    request: &BuildRequest,
    env: &Env,
    sinks: &Sinks,
) -> Result<(Session, Vec<ArtifactPlan>), Error> {
    let session = Session::start(request.clone(), Command::Dev, env.clone(), sinks).await?;
    let plans = session.plan(&session.request.build_images).await?;
    Ok((session, plans))
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

/// Replaces the plans of rebuilt artifacts, so later changes are matched against them.
fn merge(plans: &mut [ArtifactPlan], replanned: &[ArtifactPlan]) {
    for plan in plans.iter_mut() {
        if let Some(new) = replanned.iter().find(|p| p.image == plan.image) {
            *plan = new.clone();
        }
    }
}
