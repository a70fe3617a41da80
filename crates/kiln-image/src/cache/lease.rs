//! A build's hold on the cache, from before its first lookup until its outputs are
//! written: no other kiln process evicts anything meanwhile, and ending it trims the cache
//! if it is over its bound, keeping everything the build used.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::gc::{self, KEEP_BEFORE_LEASE, Lease, Outcome};
use crate::Error;

/// A build's hold on the cache at `cache`, bounded to `max_size` bytes. Dropping it
/// (a failed or interrupted build) only releases the hold; [`BuildLease::finish`] also
/// trims.
#[derive(Debug)]
pub struct BuildLease {
    lease: Lease,
    started: SystemTime,
    max_size: u64,
    cache: PathBuf,
}

impl BuildLease {
    /// Takes the hold, waiting for a running trim or prune to finish. Blocks.
    pub fn acquire(cache: &Path, max_size: u64) -> Result<BuildLease, Error> {
        let started = SystemTime::now();
        Ok(BuildLease {
            lease: Lease::acquire(cache)?,
            started,
            max_size,
            cache: cache.to_owned(),
        })
    }

    /// The cache's bound in bytes.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Releases the hold, then trims the cache if it is over its bound, keeping every file
    /// used since shortly before the hold was taken (planning reads the cache before it).
    /// Blocks while it trims.
    pub fn finish(self) -> Result<Outcome, Error> {
        drop(self.lease);
        let keep_since = self
            .started
            .checked_sub(KEEP_BEFORE_LEASE)
            .unwrap_or(UNIX_EPOCH);
        gc::trim_after_build(&self.cache, self.max_size, keep_since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_a_lease_within_the_bound_trims_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lease = BuildLease::acquire(dir.path(), u64::MAX).unwrap();
        assert_eq!(lease.max_size(), u64::MAX);
        assert!(matches!(lease.finish().unwrap(), Outcome::Within { .. }));
    }
}
