//! One module per subcommand; each turns parsed flags into pipeline calls.

mod build;
mod cache;
mod debug;
mod deploy;
mod dev;
mod ko;
mod ko_login;
mod preflight;
mod render;
mod run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kiln_pipeline::remote_cache::RemoteCacheMode;
use kiln_pipeline::run::{Delivered, RunOptions};
use kiln_pipeline::{ArtifactPlan, Context};
use kiln_registry::{Client, ClientOptions, Env};

use crate::cli::{Command, KoCommand};
use crate::printer;

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build::run(*args).await,
        Command::Dev(args) => dev::run(*args).await,
        Command::Debug(args) => debug::run(*args).await,
        Command::Render(args) => render::run(*args).await,
        Command::Run(args) => run::run(*args).await,
        Command::Deploy(args) => run::deploy(*args).await,
        Command::Delete(args) => run::delete(*args).await,
        Command::Filter(args) => run::filter(args),
        Command::Ko(KoCommand::Build(args)) => ko::build(*args).await,
        Command::Ko(KoCommand::Resolve(args)) => ko::resolve(*args).await,
        Command::Ko(KoCommand::Version) => ko_login::version(),
        Command::Ko(KoCommand::Login(args)) => ko_login::login(args, &process_env()),
        Command::Cache(command) => cache::run(command, &process_env()),
    }
}

/// The environment snapshot, taken once per command: the pipeline takes it as data, every
/// child process starts from it, and nothing reads the environment behind its back.
fn process_env() -> Env {
    Env::capture()
}

/// `$KILN_CACHE`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
fn cache_dir(env: &Env) -> PathBuf {
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

/// How a building command wants its [`Context`].
pub struct ContextSettings {
    /// Registries reached over plain HTTP or without TLS verification.
    pub insecure_registries: Vec<String>,
    /// No progress output.
    pub quiet: bool,
    /// Reuse artifacts whose inputs are unchanged.
    pub cache_artifacts: bool,
    /// Share artifacts through the registry pushed to (`Off` when not pushing).
    pub remote_cache: RemoteCacheMode,
    /// Concurrent `go build`s (default: one per core).
    pub jobs: Option<usize>,
    /// Images are pushed: upload binary layers while they are compressed.
    pub push: bool,
}

/// The Go toolchain (`KO_GO_PATH` or `go`), the cache, the registry client and the progress
/// display, set up the same way for every building command.
async fn build_context(env: &Env, settings: ContextSettings) -> anyhow::Result<Context> {
    let go_path = env.get("KO_GO_PATH").map(Into::into);
    let cache = cache_dir(env);
    let toolchain = kiln_pipeline::memo::toolchain(go_path, &cache, env).await?;
    let mut client_options =
        ClientOptions::with_env(concat!("kiln/", env!("CARGO_PKG_VERSION")), env.clone());
    client_options.insecure_registries = settings.insecure_registries;
    let progress = printer::Progress::new(settings.quiet);
    client_options.events = Some(progress.registry_sink());
    let jobs = settings
        .jobs
        .filter(|j| *j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let mut context = Context::new(toolchain, &cache, jobs, progress.event_sink())?
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

/// Builds and publishes `plans` ([`kiln_pipeline::run::run`]) under the cache's build
/// lease, which every build of either face takes here: from before its first cache lookup
/// until its outputs are written. A failed run only releases it.
async fn build_and_publish(
    ctx: &Arc<Context>,
    env: &Env,
    plans: &[ArtifactPlan],
    options: &RunOptions,
) -> anyhow::Result<Vec<Delivered>> {
    let lease = cache::begin_build(ctx, env).await?;
    let delivered = kiln_pipeline::run::run(ctx, plans, options).await?;
    lease.finish(ctx).await;
    Ok(delivered)
}

/// Seconds since 1970, for `dateTime` tags and `.Date` when SOURCE_DATE_EPOCH is unset.
fn now_unix() -> i64 {
    now().0
}

/// The clock, read once: seconds since 1970 and the sub-second part (`dateTime`'s default
/// `.999` shows milliseconds).
fn now() -> (i64, u32) {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() as i64, d.subsec_nanos()))
        .unwrap_or_default()
}

/// The engine side-loaded images go to (the one the docker CLI would use), checked to
/// answer before anything is built, so a stopped engine fails the run at once.
async fn local_engine(env: &Env) -> anyhow::Result<kiln_engine::Engine> {
    let endpoint = kiln_engine::resolve(&|k| env.get(k).map(str::to_owned))?;
    let engine = kiln_engine::Engine::new(endpoint)?;
    engine.ping().await?;
    Ok(engine)
}
