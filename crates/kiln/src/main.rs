//! kiln's command-line entry point: parse, set up logging on stderr, run, map errors to
//! exit codes. Only this crate prints: references on stdout, everything else on stderr.

mod cli;
mod commands;
mod printer;
mod requests;
mod skaffold_flags;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let matches = skaffold_flags::augment(cli::Cli::command()).get_matches_from(arguments());
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let filter = EnvFilter::new(format!(
        "kiln={0},kiln_pipeline={0},kiln_registry={0},kiln_gobuild={0}",
        cli.log_level()
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    for note in skaffold_flags::notes(&matches) {
        printer::info(&note);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer::error(&anyhow::anyhow!(e));
            return ExitCode::FAILURE;
        }
    };
    // The one read of the environment: everything after takes this snapshot.
    let (env, left_out) = kiln_core::env::Env::from_os_vars(std::env::vars_os());
    for name in left_out {
        printer::info(&format!(
            "environment variable {name} is not UTF-8: kiln and the programs it runs (go, git, kubectl, …) do not see it"
        ));
    }
    match runtime.block_on(commands::run(cli.command, env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            printer::error(&e);
            ExitCode::FAILURE
        }
    }
}

/// The command line, with `ko` inserted when kiln runs as `ko` (a symlink or a copy named
/// so): existing ko scripts then work unchanged.
fn arguments() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_stem())
        .map(|s| s.to_os_string());
    if invoked_as.as_deref() == Some(std::ffi::OsStr::new("ko")) {
        args[0] = "kiln".into();
        args.insert(1, "ko".into());
    }
    args
}
