//! Recording a use of a cache file, for the size bound's least-recently-used order ([`super::gc`]).
//!
//! A cache file's modification time is its last use, as in Go's own build
//! cache: cache files never change once written, so the time is free to mean "used". A
//! lookup that finds a file already has its metadata, and re-marks it (one `futimens`) only
//! when the mark is older than [`TOUCH_INTERVAL`]: reads never rewrite anything, and a file
//! is marked at most once a minute however often it is used. (Access times would need no
//! marking, but `noatime` and `relatime` mounts make them unreliable.)

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// A use re-marks a file only when its mark is at least this old.
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// Records a use of the cache file at `path`, whose modification time is `modified`.
pub(crate) fn mark_used_at(path: &Path, modified: SystemTime) {
    if is_stale(modified) {
        // Best effort: a mark that cannot be written only makes the file look older.
        if let Ok(file) = File::open(path) {
            let _ = file.set_modified(SystemTime::now());
        }
    }
}

/// Records a use of an open cache file whose modification time is `modified`.
pub(crate) fn mark_file_used(file: &File, modified: SystemTime) {
    if is_stale(modified) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Records a use of the cache file at `path`, if it exists (for files kiln uses without
/// opening them first, such as a binary `go build` found up to date).
pub fn mark_used(path: &Path) {
    if let Ok(modified) = fs::metadata(path).and_then(|m| m.modified()) {
        mark_used_at(path, modified);
    }
}

fn is_stale(modified: SystemTime) -> bool {
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age >= TOUCH_INTERVAL)
}
