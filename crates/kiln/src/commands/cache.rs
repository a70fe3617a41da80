//! `kiln cache size|trim|prune`, and the hold every build keeps on the cache. The policy
//! (bound, least recently used first, locking) is `kiln_image::cache::gc`'s.

use kiln_core::env::Env;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use kiln_image::cache::gc::{self, MAX_SIZE_VAR, Outcome};
use kiln_image::cache::lease;
use kiln_pipeline::{Context, Event};

use super::cache_dir;
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
pub fn max_size(env: &Env) -> anyhow::Result<u64> {
    Ok(gc::max_size(env.get(MAX_SIZE_VAR))?)
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

/// A build's hold on the cache (`kiln_image::cache::lease`), or none when the cache cannot
/// be locked. Dropping it (a failed or interrupted build) only releases the hold.
pub struct BuildLease {
    lease: Option<lease::BuildLease>,
    cache: PathBuf,
}

/// Takes the hold for a build with `ctx` (waiting for a running trim, if any). A bad
/// `KILN_CACHE_MAX_SIZE` stops the build here, before anything is built.
pub async fn begin_build(ctx: &Context, env: &Env) -> anyhow::Result<BuildLease> {
    let max_size = max_size(env)?;
    let cache = ctx.cache_dir.clone();
    let lease = tokio::task::spawn_blocking({
        let cache = cache.clone();
        move || lease::BuildLease::acquire(&cache, max_size)
    })
    .await?;
    let lease = match lease {
        Ok(lease) => Some(lease),
        // Caches never decide whether a build works: without the lock (a file system
        // without `flock`), build anyway; no trim can take the lock either.
        Err(e) => {
            ctx.events.as_ref()(Event::Warning(format!(
                "cannot lock the cache, so it will not be trimmed: {e}"
            )));
            None
        }
    };
    Ok(BuildLease { lease, cache })
}

impl BuildLease {
    /// Releases the hold and trims the cache if it is over its bound, keeping everything
    /// this build used. Problems are warnings: the build itself succeeded.
    pub async fn finish(self, ctx: &Context) {
        let Some(lease) = self.lease else { return };
        let max_size = lease.max_size();
        let cache = self.cache;
        let outcome = tokio::task::spawn_blocking(move || lease.finish()).await;
        let event = match outcome {
            Ok(Ok(Outcome::Trimmed(trim))) if trim.removed == 0 => Event::Warning(format!(
                "the cache holds {}, over its {} bound ({MAX_SIZE_VAR}), but this build used all of it",
                size(trim.bytes),
                size(max_size)
            )),
            Ok(Ok(Outcome::Trimmed(trim))) => Event::CacheTrimmed {
                removed: trim.removed,
                freed: trim.freed,
                bytes: trim.bytes,
                max_size,
            },
            Ok(Ok(Outcome::Within { .. } | Outcome::Busy { .. })) => return,
            Ok(Err(e)) => Event::Warning(format!("trimming the cache {}: {e}", cache.display())),
            Err(e) => Event::Warning(format!("trimming the cache {}: {e}", cache.display())),
        };
        ctx.events.as_ref()(event);
    }
}
