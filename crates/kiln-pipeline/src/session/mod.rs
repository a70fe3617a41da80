//! A command's run from its options to its outcome, for both of kiln's faces: the
//! command line's choices checked before anything is built ([`preflight`]), the build
//! context set up once, planning, building, publishing ([`skaffold`], [`ko`]), and
//! deploying what was built ([`deploy`]). The CLI turns its flags into these options and
//! prints the events and results; every decision is made here.

pub mod deploy;
pub mod dev;
pub mod ko;
pub mod lease;
pub mod preflight;
pub mod skaffold;

use std::path::PathBuf;
use std::sync::Arc;

use kiln_core::env::Env;
use kiln_registry::{Client, ClientOptions, RegistryEventSink};

use crate::Error;
use crate::context::Context;
use crate::events::{Event, EventSink};
use crate::plan::ArtifactPlan;
use crate::remote_cache::RemoteCacheMode;
use crate::run::{Delivered, RunOptions};

/// Where a run's progress goes: the pipeline's events and the registry client's.
#[derive(Clone)]
pub struct Sinks {
    pub events: EventSink,
    pub registry: Option<RegistryEventSink>,
    /// The registry client's User-Agent (`kiln/VERSION`).
    pub user_agent: String,
}

/// How a building command wants its [`Context`].
pub struct ContextSettings {
    /// Registries reached over plain HTTP or without TLS verification.
    pub insecure_registries: Vec<String>,
    /// Reuse artifacts whose inputs are unchanged.
    pub cache_artifacts: bool,
    /// Share artifacts through the registry pushed to (`Off` when not pushing).
    pub remote_cache: RemoteCacheMode,
    /// Concurrent `go build`s (default: one per core).
    pub jobs: Option<usize>,
    /// Images are pushed: upload binary layers while they are compressed.
    pub push: bool,
}

/// `$KILN_CACHE`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
pub fn cache_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.get("KILN_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = env.get("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kiln");
    }
    let home = env
        .get("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("kiln")
}

/// The Go toolchain (`KO_GO_PATH` or `go`), the cache, the registry client and the event
/// sinks, set up the same way for every building command.
pub async fn build_context(
    env: &Env,
    sinks: &Sinks,
    settings: ContextSettings,
) -> Result<Context, Error> {
    let go_path = env.get("KO_GO_PATH").map(Into::into);
    let cache = cache_dir(env);
    let toolchain = crate::memo::toolchain(go_path, &cache, env).await?;
    let mut client_options = ClientOptions::with_env(sinks.user_agent.clone(), env.clone());
    client_options.insecure_registries = settings.insecure_registries;
    client_options.events = sinks.registry.clone();
    let jobs = settings
        .jobs
        .filter(|j| *j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let mut context = Context::new(toolchain, &cache, jobs, sinks.events.clone())?
        .with_registry(Client::new(client_options)?);
    if settings.cache_artifacts {
        context = context.with_artifact_cache();
    }
    if settings.remote_cache.reads() {
        context = context.with_remote_cache(settings.remote_cache);
    }
    if settings.push {
        context = context.with_streamed_pushes();
    }
    Ok(context)
}

/// Builds and publishes `plans` ([`crate::run::run`]) under the cache's build lease, which
/// every build of either face takes here: from before its first cache lookup until its
/// outputs are written. A failed run only releases it.
pub async fn build_and_publish(
    ctx: &Arc<Context>,
    plans: &[ArtifactPlan],
    options: &RunOptions,
) -> Result<Vec<Delivered>, Error> {
    let lease = lease::BuildLease::begin(ctx).await?;
    let delivered = crate::run::run(ctx, plans, options).await?;
    lease.finish(ctx).await;
    Ok(delivered)
}

/// A new run ID, as Skaffold makes one per run (`uuid.New()`): a random UUID v4 from the
/// operating system's generator (`getrandom`), in its usual form (`0b9f…-…`, lower-case
/// hex). Deployed objects carry it as `skaffold.dev/run-id`.
pub fn run_id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "reading",
            "the operating system's random source",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(uuid_v4(bytes))
}

/// RFC 9562's version 4 layout of 16 random bytes: version 4, variant 10.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The engine side-loaded images go to (the one the docker CLI would use), checked to
/// answer before anything is built, so a stopped engine fails the run at once.
pub async fn local_engine(env: &Env) -> Result<kiln_engine::Engine, Error> {
    let endpoint = kiln_engine::resolve(&|k| env.get(k).map(str::to_owned))?;
    let engine = kiln_engine::Engine::new(endpoint)?;
    engine.ping().await?;
    Ok(engine)
}

/// What the plans' configuration files said kiln ignores (the printer says each once).
fn report_config_warnings(ctx: &Context, plans: &[ArtifactPlan]) {
    for warning in plans.iter().flat_map(|p| &p.config_warnings) {
        (ctx.events)(Event::Warning(warning.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_random_version_4_uuids() {
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        let (a, b) = (run_id().unwrap(), run_id().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }
}
