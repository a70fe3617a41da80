//! One module per subcommand; each turns parsed flags into pipeline calls.

mod build;
mod cache;
mod dev;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::{CacheCommand, Command};

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build::run(*args).await,
        Command::Dev(args) => dev::run(*args).await,
        Command::Cache(CacheCommand::Prune) => cache::prune(&cache_dir(&process_env())),
    }
}

/// The process environment, read once: the pipeline takes it as data so that it stays
/// testable and never reads the environment behind the caller's back.
fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// `$KILN_CACHE`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
fn cache_dir(env: &BTreeMap<String, String>) -> PathBuf {
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
