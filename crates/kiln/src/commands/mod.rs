//! One module per subcommand; each turns its parsed flags into a pipeline request
//! (`crate::requests`), calls `kiln_pipeline::session`, and prints what comes back.

mod build;
mod cache;
mod debug;
mod dev;
mod ko;
mod ko_login;
mod render;
mod run;

use kiln_pipeline::EventSink;
use kiln_pipeline::session::Sinks;
use kiln_registry::Env;

use crate::cli::{Command, KoCommand};
use crate::printer;

/// Runs `command` with `env`, the environment snapshot `main` took once: the pipeline takes
/// it as data, every child process starts from it, and nothing reads the environment
/// behind its back.
pub async fn run(command: Command, env: Env) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build::run(*args, env).await,
        Command::Dev(args) => dev::run(*args, env).await,
        Command::Debug(args) => debug::run(*args, env).await,
        Command::Render(args) => render::run(*args, env).await,
        Command::Run(args) => run::run(*args, env).await,
        Command::Deploy(args) => run::deploy_built(*args, env).await,
        Command::Delete(args) => run::delete(*args, env).await,
        Command::Filter(args) => run::filter(args),
        Command::Ko(KoCommand::Build(args)) => ko::build(*args, env).await,
        Command::Ko(KoCommand::Resolve(args)) => ko::resolve(*args, env).await,
        Command::Ko(KoCommand::Version) => ko_login::version(),
        Command::Ko(KoCommand::Login(args)) => ko_login::login(args, &env).await,
        Command::Cache(command) => cache::run(command, &env),
    }
}

/// Where a building command's events go: one progress display for the pipeline's and the
/// registry client's (`quiet`: warnings and notices only).
fn sinks(quiet: bool) -> Sinks {
    let progress = printer::Progress::new(quiet);
    Sinks {
        events: progress.event_sink(),
        registry: Some(progress.registry_sink()),
        user_agent: concat!("kiln/", env!("CARGO_PKG_VERSION")).to_owned(),
    }
}

/// The event sink of a command that builds nothing (render, deploy, delete).
fn notices() -> EventSink {
    printer::Progress::new(false).event_sink()
}
