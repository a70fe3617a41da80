//! `kiln cache size|trim|prune`. The policy (bound, least recently used first, locking)
//! is `kiln_image::cache::gc`'s; a build's hold on the cache is
//! `kiln_pipeline::session::lease`.

use kiln_core::env::Env;
use std::path::Path;

use anyhow::Context as _;
use kiln_image::cache::gc::{self, MAX_SIZE_VAR};
use kiln_pipeline::session::cache_dir;

use crate::cli::CacheCommand;
use crate::printer::{self, size};

pub fn run(command: CacheCommand, env: &Env) -> anyhow::Result<()> {
    let cache = cache_dir(env);
    match command {
        CacheCommand::Size => report_size(&cache, max_size(env)?),
        CacheCommand::Trim => trim(&cache, max_size(env)?),
        CacheCommand::Prune => prune(&cache),
    }
}

/// The bound from `KILN_CACHE_MAX_SIZE`.
fn max_size(env: &Env) -> anyhow::Result<u64> {
    Ok(kiln_pipeline::session::lease::max_size(env)?)
}

fn waiting() {
    printer::info("waiting for other kiln builds to finish with the cache");
}

/// What each area holds, like `du`: on stdout, as it is the command's answer.
fn report_size(cache: &Path, max_size: u64) -> anyhow::Result<()> {
    let usage = gc::usage(cache).with_context(|| format!("reading {}", cache.display()))?;
    let files = |n: u64| format!("{n} file{}", if n == 1 { "" } else { "s" });
    for area in &usage.areas {
        printer::stdout_line(&format!(
            "{:<10} {:>9}  {}",
            area.name,
            size(area.bytes),
            files(area.files)
        ));
    }
    printer::stdout_line(&format!(
        "{:<10} {:>9}  {}  ({} bytes in {}; bound {}, {MAX_SIZE_VAR})",
        "total",
        size(usage.bytes),
        files(usage.files),
        usage.bytes,
        cache.display(),
        size(max_size),
    ));
    Ok(())
}

fn trim(cache: &Path, max_size: u64) -> anyhow::Result<()> {
    let trim = gc::trim(cache, max_size, &mut waiting)
        .with_context(|| format!("trimming {}", cache.display()))?;
    printer::info(&format!(
        "removed {} files ({}) from {}; it holds {} of its {} bound",
        trim.removed,
        size(trim.freed),
        cache.display(),
        size(trim.bytes),
        size(max_size)
    ));
    Ok(())
}

fn prune(cache: &Path) -> anyhow::Result<()> {
    let freed =
        gc::prune(cache, &mut waiting).with_context(|| format!("emptying {}", cache.display()))?;
    printer::info(&format!("removed {} from {}", size(freed), cache.display()));
    Ok(())
}
