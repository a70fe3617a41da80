//! `kiln build`: Skaffold's build command for ko artifacts.

use kiln_pipeline::output::{BuildOutput, file_output_json};
use kiln_pipeline::run::Command;
use kiln_pipeline::session::skaffold::Session;

use kiln_core::env::Env;

use super::sinks;
use crate::cli::BuildArgs;
use crate::printer;

pub async fn run(args: BuildArgs, env: Env) -> anyhow::Result<()> {
    let session = start(&args, Command::Build, env).await?;
    let outputs = if session.request.dry_run {
        // Skaffold's `--dry-run`: the names and tags a build would give, nothing built,
        // no package resolved, no module downloaded.
        session.plan_tags(&session.request.build_images).await?
    } else {
        session.build_selected().await?
    };
    report(&session, &args, &outputs)
}

/// The session of a building command with `args`.
pub async fn start(args: &BuildArgs, command: Command, env: Env) -> anyhow::Result<Session> {
    let sinks = sinks(args.quiet);
    Ok(Session::start(args.request(), command, env, &sinks).await?)
}

/// Writes --file-output and prints the references (or the --output/-q rendering).
pub fn report(session: &Session, args: &BuildArgs, outputs: &[BuildOutput]) -> anyhow::Result<()> {
    match session.write_outputs(outputs)? {
        Some(rendered) => printer::stdout_line(rendered.trim_end()),
        None if args.quiet => printer::stdout_line(&file_output_json(outputs)),
        None => outputs.iter().for_each(|o| printer::stdout_line(&o.tag)),
    }
    Ok(())
}
