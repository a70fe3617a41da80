//! Building many artifacts: in `requires` order, at most `concurrency` at a time.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Error;
use crate::artifact::BuiltArtifact;
use crate::build::build_artifact;
use crate::context::Context;
use crate::plan::ArtifactPlan;

/// Builds `plans` and returns them in the same order. An artifact starts once every
/// artifact it `requires` (among those being built) is done; a cycle is an error.
/// `concurrency` is Skaffold's `build.local.concurrency` (`None` or 0: no limit; `go
/// build`s are bounded by the context either way).
pub async fn build_all(
    ctx: &Arc<Context>,
    plans: &[ArtifactPlan],
    concurrency: Option<usize>,
) -> Result<Vec<BuiltArtifact>, Error> {
    let limit = Arc::new(Semaphore::new(match concurrency {
        Some(n) if n > 0 => n,
        _ => plans.len().max(1),
    }));
    let building: HashSet<&str> = plans.iter().map(|p| p.image.as_str()).collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut built: Vec<Option<BuiltArtifact>> = vec![None; plans.len()];
    while done.len() < plans.len() {
        let ready: Vec<usize> = (0..plans.len())
            .filter(|&i| built[i].is_none())
            .filter(|&i| {
                plans[i]
                    .requires
                    .iter()
                    .all(|r| done.contains(r) || !building.contains(r.as_str()))
            })
            .collect();
        // kiln-config rejects cycles with their position; this guard only keeps a plan
        // built some other way from looping forever.
        if ready.is_empty() {
            let stuck: Vec<&str> = (0..plans.len())
                .filter(|&i| built[i].is_none())
                .map(|i| plans[i].image.as_str())
                .collect();
            return Err(Error::planning(
                format!("artifacts {}", stuck.join(", ")),
                "they require each other in a cycle; remove one of their `requires`",
            ));
        }
        let mut wave = JoinSet::new();
        for i in ready {
            let (ctx, plan, limit) = (ctx.clone(), plans[i].clone(), limit.clone());
            wave.spawn(async move {
                let _permit = limit
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                let result = build_artifact(&ctx, &plan)
                    .await
                    .map_err(|e| Error::Artifact {
                        image: plan.image.clone(),
                        source: Box::new(e),
                    });
                (i, result)
            });
        }
        while let Some(joined) = wave.join_next().await {
            // The first failure drops `wave`, which aborts the other builds.
            let (i, result) = joined?;
            done.insert(plans[i].image.clone());
            built[i] = Some(result?);
        }
    }
    Ok(built.into_iter().flatten().collect())
}
