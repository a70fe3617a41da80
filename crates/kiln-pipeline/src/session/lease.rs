//! The hold every build keeps on the cache while it runs, so a concurrent `kiln cache
//! trim` never removes what the build uses; the policy (bound, least recently used first,
//! locking) is `kiln_image::cache::gc`'s.

use std::path::PathBuf;

use kiln_image::cache::gc::{self, MAX_SIZE_VAR, Outcome};
use kiln_image::cache::lease;

use crate::Error;
use crate::context::Context;
use crate::events::Event;

/// The cache's bound from `KILN_CACHE_MAX_SIZE` in `env`.
pub fn max_size(env: &kiln_core::env::Env) -> Result<u64, Error> {
    Ok(gc::max_size(env.get(MAX_SIZE_VAR))?)
}

/// A build's hold on the cache, or none when the cache cannot be locked. Dropping it (a
/// failed or interrupted build) only releases the hold.
pub struct BuildLease {
    lease: Option<lease::BuildLease>,
    cache: PathBuf,
}

impl BuildLease {
    /// Takes the hold for a build with `ctx` (waiting for a running trim, if any). A bad
    /// `KILN_CACHE_MAX_SIZE` stops the build here, before anything is built.
    pub async fn begin(ctx: &Context) -> Result<BuildLease, Error> {
        let max_size = max_size(ctx.env())?;
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

    /// Releases the hold and trims the cache if it is over its bound, keeping everything
    /// this build used. Problems are warnings: the build itself succeeded.
    pub async fn finish(self, ctx: &Context) {
        let Some(lease) = self.lease else { return };
        let max_size = lease.max_size();
        let cache = self.cache;
        let outcome = tokio::task::spawn_blocking(move || lease.finish()).await;
        let event = match outcome {
            Ok(Ok(Outcome::Trimmed(trim))) if trim.removed == 0 => Event::CacheOverBound {
                bytes: trim.bytes,
                max_size,
            },
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
