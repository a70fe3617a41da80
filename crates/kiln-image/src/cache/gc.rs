//! Keeping kiln's cache directory within a size bound, least recently used files first.
//!
//! **Recording use.** A cache file's modification time is its last use (`mark.rs`).
//!
//! **Concurrency.** A build holds a [`Lease`] (a shared `flock` on `<cache>/lock`) from its
//! first cache lookup until its outputs are written, and evicting needs the exclusive lock:
//! no process ever loses a file between finding it and using it. The trim at the end of a
//! build only *tries* the lock and, when another build is running, leaves the work to
//! whichever ends last; `kiln cache trim` and `prune` wait. Outside a lease a process only
//! reads memo entries (one that vanishes is a miss) and writes new files under hidden
//! temporary names, which no trim removes while they are young.
//!
//! **When.** A walk costs one `stat` per file, about what `du -s` takes (BENCHMARKS.md:
//! tens of milliseconds for the 10k files of a full 10 GiB cache). So [`trim_after_build`]
//! trusts the size the last walk recorded (`<cache>/usage.json`) while that was within the
//! bound and either no file was added or removed since (the directories' modification times
//! are unchanged: a build that only hit the cache pays a few `stat`s) or the walk is less
//! than [`WALK_INTERVAL`] old. The bound can thus be exceeded by what builds write in the
//! minute after a walk, until the next build; iterating with `kiln dev` walks once a minute.
//!
//! **What.** Once over the bound, least recently used files go first, down to
//! [`LOW_WATER_PERCENT`] of the bound so that a cache at its bound is not trimmed after every
//! build (ccache does the same, at 80 %). Entries and blobs are evicted as independent files:
//! every reader checks that what an entry names is still stored, so an evicted file is a
//! cache miss, never an error.

use std::collections::BTreeMap;
use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Bucket;
use crate::{Error, io_error};

/// The environment variable that sets the bound.
pub const MAX_SIZE_VAR: &str = "KILN_CACHE_MAX_SIZE";

/// 10 GiB, as sccache's default local cache (ccache's is 5 GB). An edit build of a typical
/// Go service adds its compressed binary layer, config and manifest (a few MB); the
/// uncompressed binary is kept once per artifact and platform. So the default holds
/// hundreds of builds, days of iteration on several services, while staying small next to
/// Go's own unbounded build cache.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;

/// A trim goes down to this share of the bound.
pub const LOW_WATER_PERCENT: u64 = 90;

/// A walk that found the cache within its bound is trusted this long.
pub const WALK_INTERVAL: Duration = Duration::from_secs(60);

/// The trim at the end of a build keeps everything that build used: all it touched under its
/// lease, and what planning read before it. A file used at time `t` carries a mark no older
/// than `t - TOUCH_INTERVAL`; planning is allowed one more minute.
pub const KEEP_BEFORE_LEASE: Duration = Duration::from_secs(2 * 60);

/// Hidden files are writes in flight (temporary files renamed into place when complete).
/// A write outside any lease (a memo entry during planning) takes milliseconds; anything
/// hidden and older than this was left by a crash.
const ORPHAN_AGE: Duration = Duration::from_secs(60 * 60);

/// Never removed: a process may hold or wait on it at any time.
const LOCK_FILE: &str = "lock";
const STATE_FILE: &str = "usage.json";

/// The bound from the value of [`MAX_SIZE_VAR`] (unset or empty: [`DEFAULT_MAX_SIZE`]).
pub fn max_size(value: Option<&str>) -> Result<u64, Error> {
    match value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_MAX_SIZE),
        Some(text) => parse_size(text),
    }
}

/// `1048576`, `500MB`, `1.5 GB`, `10GiB`: bytes, or a number with a decimal (kB, MB, GB, TB)
/// or binary (KiB, MiB, GiB, TiB) unit, in any case. Single letters (`10G`) are refused:
/// tools disagree on whether they mean powers of 1000 or 1024.
pub fn parse_size(text: &str) -> Result<u64, Error> {
    let invalid = |reason: &str| Error::CacheSize {
        value: text.to_owned(),
        reason: reason.to_owned(),
    };
    let text = text.trim();
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let unit: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(invalid(&format!("unknown unit `{other}`"))),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(invalid("not a number"));
    }
    // Up to 18 decimals keep every product below in u128.
    if fraction.len() > 18 {
        return Err(invalid("too many decimals"));
    }
    let digits = |s: &str| -> Result<u128, Error> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse().map_err(|_| invalid("too large"))
        }
    };
    let fraction_bytes = digits(fraction)? * unit / 10u128.pow(fraction.len() as u32);
    let bytes = digits(whole)?
        .checked_mul(unit)
        .and_then(|b| b.checked_add(fraction_bytes))
        .ok_or_else(|| invalid("too large"))?;
    u64::try_from(bytes).map_err(|_| invalid("too large"))
}

fn lock_file(root: &Path) -> Result<(File, PathBuf), Error> {
    fs::create_dir_all(root).map_err(io_error(root))?;
    let path = root.join(LOCK_FILE);
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error(&path))?;
    Ok((file, path))
}

/// A build's hold on the cache: while any lease is held, nothing is evicted. Released when
/// dropped (or when the process dies: the kernel drops `flock`s with their descriptors).
#[derive(Debug)]
pub struct Lease {
    _lock: File,
}

impl Lease {
    /// Waits for a running trim or prune to finish, then holds the cache until dropped.
    pub fn acquire(root: &Path) -> Result<Lease, Error> {
        let (file, path) = lock_file(root)?;
        file.lock_shared().map_err(io_error(&path))?;
        // A prune removes the store's directories, and a store opened before it creates
        // them only once.
        crate::cache::store::create_cache_dirs(root)?;
        Ok(Lease { _lock: file })
    }
}

/// The exclusive lock: no lease is held while it is.
struct Exclusive {
    _lock: File,
}

fn try_exclusive(root: &Path) -> Result<Option<Exclusive>, Error> {
    let (file, path) = lock_file(root)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Exclusive { _lock: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io_error(&path)(e)),
    }
}

/// The exclusive lock, calling `on_wait` first if other processes hold leases.
fn exclusive(root: &Path, on_wait: &mut dyn FnMut()) -> Result<Exclusive, Error> {
    if let Some(lock) = try_exclusive(root)? {
        return Ok(lock);
    }
    on_wait();
    let (file, path) = lock_file(root)?;
    file.lock().map_err(io_error(&path))?;
    Ok(Exclusive { _lock: file })
}

/// One file of the cache.
#[derive(Debug)]
struct CacheFile {
    path: PathBuf,
    area: usize,
    size: u64,
    used: SystemTime,
    hidden: bool,
}

/// Every file under the cache's areas, and the modification time of every directory taken
/// before it was listed (so a change made during the walk shows at the next check).
struct Scan {
    files: Vec<CacheFile>,
    dirs: BTreeMap<String, Option<u128>>,
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn mtime_nanos(meta: &fs::Metadata) -> Option<u128> {
    let modified = meta.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_nanos())
}

fn dir_mtime(path: &Path) -> Option<u128> {
    mtime_nanos(&fs::symlink_metadata(path).ok()?)
}

/// Whether an I/O error means the file went away under us (removed by another process).
fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

fn scan(root: &Path) -> Result<Scan, Error> {
    let mut scan = Scan {
        files: Vec::new(),
        dirs: BTreeMap::new(),
    };
    for (area, bucket) in Bucket::ALL.iter().enumerate() {
        walk(root, &bucket.path(root), area, &mut scan)?;
    }
    Ok(scan)
}

fn walk(root: &Path, dir: &Path, area: usize, scan: &mut Scan) -> Result<(), Error> {
    let relative = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .to_string_lossy()
        .into_owned();
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => return Ok(()),
        Err(e) if vanished(&e) => {
            scan.dirs.insert(relative, None);
            return Ok(());
        }
        Err(e) => return Err(io_error(dir)(e)),
    };
    scan.dirs.insert(relative, mtime_nanos(&meta));
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if vanished(&e) => return Ok(()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        // Does not follow symbolic links: a link is counted and evicted as itself.
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(io_error(&path)(e)),
        };
        if meta.is_dir() {
            walk(root, &path, area, scan)?;
        } else {
            scan.files.push(CacheFile {
                hidden: entry.file_name().as_encoded_bytes().starts_with(b"."),
                area,
                size: meta.len(),
                used: meta.modified().unwrap_or(UNIX_EPOCH),
                path,
            });
        }
    }
    Ok(())
}

impl Scan {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn state(&self, bytes: u64) -> State {
        State {
            walked: unix_seconds(SystemTime::now()),
            bytes,
            dirs: self.dirs.clone(),
        }
    }
}

/// What the last walk found, so that the next check can tell whether anything was added or
/// removed since. A hint only: a missing or unreadable state means a walk.
#[derive(Serialize, Deserialize)]
struct State {
    /// When the walk was made, in seconds since 1970.
    walked: u64,
    bytes: u64,
    /// Every directory of the areas (relative to the cache) and its modification time in
    /// nanoseconds, or none where an area did not exist.
    dirs: BTreeMap<String, Option<u128>>,
}

impl State {
    fn load(root: &Path) -> Option<State> {
        serde_json::from_slice(&fs::read(root.join(STATE_FILE)).ok()?).ok()
    }

    /// Best effort: a state that cannot be saved costs a walk at the next check.
    fn save(&self, root: &Path) {
        let write = || -> io::Result<()> {
            let mut temp = tempfile::NamedTempFile::new_in(root)?;
            temp.write_all(&serde_json::to_vec(self).map_err(io::Error::other)?)?;
            temp.persist(root.join(STATE_FILE))?;
            Ok(())
        };
        let _ = write();
    }

    /// Saves the state unless the cache directory does not exist (a report must not
    /// create it).
    fn save_if_exists(&self, root: &Path) {
        if root.is_dir() {
            self.save(root);
        }
    }

    /// Less than [`WALK_INTERVAL`] ago (and not in the future: a clock set back).
    fn is_recent(&self) -> bool {
        let now = unix_seconds(SystemTime::now());
        self.walked <= now && now - self.walked < WALK_INTERVAL.as_secs()
    }

    /// No file was added, removed or renamed anywhere in the cache since the walk. (Only
    /// a change within the same kernel clock tick as the walk's `stat` of its directory can
    /// hide; the next change there reveals it.)
    fn is_current(&self, root: &Path) -> bool {
        self.dirs
            .iter()
            // Blobs being written come and go in every build: not a reason to walk.
            .filter(|(dir, _)| dir.as_str() != Bucket::Temp.dir_name())
            .all(|(dir, mtime)| dir_mtime(&root.join(dir)) == *mtime)
    }
}

/// The size of one area of the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AreaUsage {
    pub name: &'static str,
    pub files: u64,
    pub bytes: u64,
}

/// What the cache holds, per area and in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub areas: Vec<AreaUsage>,
    pub files: u64,
    pub bytes: u64,
}

/// Walks the cache and reports its size (apparent sizes: the bytes kiln stored).
pub fn usage(root: &Path) -> Result<Usage, Error> {
    let scan = scan(root)?;
    let bytes = scan.bytes();
    scan.state(bytes).save_if_exists(root);
    let mut areas: Vec<AreaUsage> = Bucket::ALL
        .iter()
        .map(|bucket| AreaUsage {
            name: bucket.dir_name(),
            files: 0,
            bytes: 0,
        })
        .collect();
    for file in &scan.files {
        areas[file.area].files += 1;
        areas[file.area].bytes += file.size;
    }
    Ok(Usage {
        areas,
        files: scan.files.len() as u64,
        bytes,
    })
}

/// What a trim did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trim {
    /// Files removed, and their bytes.
    pub removed: u64,
    pub freed: u64,
    /// What the cache holds afterwards.
    pub bytes: u64,
}

/// What the check at the end of a build found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Within the bound: nothing to do.
    Within {
        bytes: u64,
    },
    /// Over the bound, but other builds hold the cache: the last of them to end trims it.
    Busy {
        bytes: u64,
    },
    Trimmed(Trim),
}

/// The check at the end of a build: trims the cache if it is over `max_size`, keeping
/// everything used since `keep_since` (what this build used, see [`KEEP_BEFORE_LEASE`]).
/// The caller must have released its own [`Lease`].
pub fn trim_after_build(
    root: &Path,
    max_size: u64,
    keep_since: SystemTime,
) -> Result<Outcome, Error> {
    if let Some(state) = State::load(root)
        && state.bytes <= max_size
        && (state.is_recent() || state.is_current(root))
    {
        return Ok(Outcome::Within { bytes: state.bytes });
    }
    // Walk before locking: other builds wait for the exclusive lock, and most checks find
    // the cache within its bound.
    let first = scan(root)?;
    let bytes = first.bytes();
    if bytes <= max_size {
        first.state(bytes).save(root);
        return Ok(Outcome::Within { bytes });
    }
    let Some(lock) = try_exclusive(root)? else {
        first.state(bytes).save(root);
        return Ok(Outcome::Busy { bytes });
    };
    // Another process may have trimmed between the walk and the lock.
    let trim = evict(root, scan(root)?, max_size, Some(keep_since))?;
    drop(lock);
    Ok(Outcome::Trimmed(trim))
}

/// `kiln cache trim`: waits for running builds (calling `on_wait` first if there are any),
/// then evicts least recently used files if the cache is over `max_size`.
pub fn trim(root: &Path, max_size: u64, on_wait: &mut dyn FnMut()) -> Result<Trim, Error> {
    if !root.is_dir() {
        return Ok(Trim {
            removed: 0,
            freed: 0,
            bytes: 0,
        });
    }
    let _lock = exclusive(root, on_wait)?;
    let scan = scan(root)?;
    if scan.bytes() <= max_size {
        let bytes = scan.bytes();
        scan.state(bytes).save(root);
        return Ok(Trim {
            removed: 0,
            freed: 0,
            bytes,
        });
    }
    evict(root, scan, max_size, None)
}

/// Removes least recently used files until the cache is within [`LOW_WATER_PERCENT`] of
/// `max_size`, never those used since `keep_since` nor young hidden files. Needs the
/// exclusive lock.
fn evict(
    root: &Path,
    scan: Scan,
    max_size: u64,
    keep_since: Option<SystemTime>,
) -> Result<Trim, Error> {
    let target = (u128::from(max_size) * u128::from(LOW_WATER_PERCENT) / 100) as u64;
    let now = SystemTime::now();
    let mut bytes = scan.bytes();
    let mut candidates: Vec<&CacheFile> = scan
        .files
        .iter()
        .filter(|f| keep_since.is_none_or(|since| f.used < since))
        .filter(|f| {
            !f.hidden
                || now
                    .duration_since(f.used)
                    .is_ok_and(|age| age >= ORPHAN_AGE)
        })
        .collect();
    candidates.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
    let (mut removed, mut freed) = (0, 0);
    for file in candidates {
        if bytes <= target {
            break;
        }
        match fs::remove_file(&file.path) {
            Ok(()) => {
                removed += 1;
                freed += file.size;
            }
            Err(e) if vanished(&e) => {}
            Err(e) => return Err(io_error(&file.path)(e)),
        }
        bytes = bytes.saturating_sub(file.size);
    }
    // Binaries live in a directory per artifact and platform: drop the emptied ones,
    // deepest first (`go build` recreates them). Non-empty ones refuse, which is fine.
    let mut bin_dirs: Vec<&String> = scan.dirs.keys().filter(|d| d.starts_with("bin/")).collect();
    bin_dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
    for dir in bin_dirs {
        let _ = fs::remove_dir(root.join(dir));
    }
    // Under the exclusive lock only memo writes of planning processes can race this stat.
    let mut state = scan.state(bytes);
    for (dir, mtime) in &mut state.dirs {
        *mtime = dir_mtime(&root.join(dir));
    }
    state.save(root);
    Ok(Trim {
        removed,
        freed,
        bytes,
    })
}

/// `kiln cache prune`: waits for running builds (calling `on_wait` first if there are
/// any), then removes every area of the cache. Returns the bytes freed.
pub fn prune(root: &Path, on_wait: &mut dyn FnMut()) -> Result<u64, Error> {
    if !root.is_dir() {
        return Ok(0);
    }
    let _lock = exclusive(root, on_wait)?;
    let freed = scan(root)?.bytes();
    for bucket in Bucket::ALL {
        let path = bucket.path(root);
        match fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if vanished(&e) => {}
            Err(e) => return Err(io_error(&path)(e)),
        }
    }
    let state = root.join(STATE_FILE);
    match fs::remove_file(&state) {
        Ok(()) => {}
        Err(e) if vanished(&e) => {}
        Err(e) => return Err(io_error(&state)(e)),
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use kiln_core::Digest;

    use super::*;
    use crate::cache::keyed::KeyedJson;
    use crate::cache::mark::TOUCH_INTERVAL;
    use crate::cache::store::BlobStore;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A file of `size` bytes at `relative`, last used `age` ago.
    fn file(root: &Path, relative: &str, size: usize, age: Duration) -> PathBuf {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![b'x'; size]).unwrap();
        set_age(&path, age);
        path
    }

    fn set_age(path: &Path, age: Duration) {
        File::open(path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    fn age(path: &Path) -> Duration {
        SystemTime::now()
            .duration_since(fs::metadata(path).unwrap().modified().unwrap())
            .unwrap_or_default()
    }

    fn never_waits() -> impl FnMut() {
        || panic!("nothing holds the cache")
    }

    #[test]
    fn sizes_parse_in_every_accepted_form_and_bad_ones_name_the_variable() {
        for (text, bytes) in [
            ("1048576", 1 << 20),
            ("0", 0),
            ("500MB", 500_000_000),
            ("500 mb", 500_000_000),
            ("10GiB", 10 << 30),
            ("1.5GB", 1_500_000_000),
            ("0.5KiB", 512),
            ("2tib", 2 << 40),
            ("7B", 7),
            (" 3kB ", 3000),
        ] {
            assert_eq!(parse_size(text).unwrap(), bytes, "{text}");
        }
        assert_eq!(max_size(None).unwrap(), DEFAULT_MAX_SIZE);
        assert_eq!(max_size(Some("")).unwrap(), DEFAULT_MAX_SIZE);
        for bad in [
            "10G",
            "ten",
            "GB",
            "1.2.3MB",
            "-1",
            "99999999999999999999TB",
            "1e9",
        ] {
            let message = max_size(Some(bad)).unwrap_err().to_string();
            assert!(
                message.starts_with(&format!("KILN_CACHE_MAX_SIZE=`{bad}` is not a size"))
                    && message.contains("500MB or 10GiB"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_trim_evicts_least_recently_used_first_down_to_the_low_water_mark() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let binary = file(root, "bin/0123/linux-amd64/out", 100, 10 * HOUR);
        let a = file(root, "blobs/sha256/aa", 100, 5 * HOUR);
        let b = file(root, "blobs/sha256/bb", 100, 4 * HOUR);
        let c = file(root, "blobs/sha256/cc", 100, 3 * HOUR);
        let entry = file(root, "layers/ee.json", 100, 2 * HOUR);
        let memo = file(root, "memo/mm.json", 100, HOUR);
        let unrelated = file(root, "notes.txt", 5000, 20 * HOUR);
        // 600 bytes over a bound of 400: down to 360, the oldest first.
        let trim = trim(root, 400, &mut never_waits()).unwrap();
        assert_eq!(
            trim,
            Trim {
                removed: 3,
                freed: 300,
                bytes: 300
            }
        );
        for gone in [&binary, &a, &b] {
            assert!(!gone.exists(), "{}", gone.display());
        }
        for kept in [&c, &entry, &memo, &unrelated] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert!(
            !root.join("bin/0123").exists(),
            "emptied binary directories go"
        );
        assert!(root.join("bin").is_dir());
        assert_eq!(usage(root).unwrap().bytes, 300);
        assert_eq!(
            super::trim(root, 400, &mut never_waits()).unwrap().removed,
            0,
            "within the bound, nothing goes"
        );
    }

    #[test]
    fn the_end_of_build_trim_keeps_what_the_build_used_and_young_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let old = file(root, "blobs/sha256/aa", 1000, 3 * HOUR);
        let orphan = file(root, "blobs/sha256/.tmp-orphan", 1000, 2 * HOUR);
        let writing = file(root, "memo/.tmpWRITING", 1000, HOUR / 2);
        let used = file(root, "blobs/sha256/bb", 1000, Duration::ZERO);
        let keep_since = SystemTime::now() - KEEP_BEFORE_LEASE;
        let outcome = trim_after_build(root, 1, keep_since).unwrap();
        assert_eq!(
            outcome,
            Outcome::Trimmed(Trim {
                removed: 2,
                freed: 2000,
                bytes: 2000
            }),
            "over the bound, but the build's own files and a write in flight stay"
        );
        assert!(!old.exists() && !orphan.exists());
        assert!(used.exists() && writing.exists());
    }

    /// Makes the last walk look `age` old.
    fn walked_ago(root: &Path, age: Duration) {
        let mut state = State::load(root).unwrap();
        state.walked = unix_seconds(SystemTime::now() - age);
        state.save(root);
    }

    #[test]
    fn the_check_trusts_a_recent_walk_or_an_unchanged_cache_and_walks_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        file(root, "blobs/sha256/aa", 100, 2 * HOUR);
        let keep_since = SystemTime::now() - Duration::from_secs(10);
        let check = || trim_after_build(root, 1000, keep_since).unwrap();
        assert_eq!(check(), Outcome::Within { bytes: 100 });
        // Within a minute of a walk that found the cache within its bound, what was written
        // since is not looked at.
        let new = file(root, "blobs/sha256/bb", 500, Duration::ZERO);
        assert_eq!(check(), Outcome::Within { bytes: 100 });
        // Later, the new file has changed its directory's modification time: a walk.
        walked_ago(root, 2 * WALK_INTERVAL);
        assert_eq!(check(), Outcome::Within { bytes: 600 });
        // Nothing added or removed since: the recorded size stands, however old. (Growing a
        // file in place, which kiln never does, shows that no walk happened.)
        walked_ago(root, 2 * WALK_INTERVAL);
        fs::write(&new, vec![b'x'; 5000]).unwrap();
        assert_eq!(check(), Outcome::Within { bytes: 600 });
        // A file removed: a walk, over the bound, and a trim of what this build did not use.
        std::thread::sleep(Duration::from_millis(50));
        file(root, "memo/.tmp-gone", 1, Duration::ZERO);
        fs::remove_file(root.join("memo/.tmp-gone")).unwrap();
        assert_eq!(
            check(),
            Outcome::Trimmed(Trim {
                removed: 1,
                freed: 100,
                bytes: 5000
            })
        );
    }

    #[test]
    fn storing_a_blob_again_leaves_the_cache_unchanged_for_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let store = BlobStore::open_cache(root).unwrap();
        let put = || {
            let mut temp = store.temp_file().unwrap();
            temp.write_all(b"the built-in base, say").unwrap();
            store
                .commit(temp, &Digest::of(b"the built-in base, say"))
                .unwrap()
        };
        let blob = put();
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
        let first = inode(&blob);
        usage(root).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        put();
        assert!(State::load(root).unwrap().is_current(root));
        assert_eq!(inode(&blob), first, "the stored blob is kept, not replaced");
    }

    #[test]
    fn a_lease_holds_off_every_trim_until_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let old = file(&root, "blobs/sha256/aa", 100, 2 * HOUR);
        let lease = Lease::acquire(&root).unwrap();
        assert_eq!(
            trim_after_build(&root, 10, SystemTime::now()).unwrap(),
            Outcome::Busy { bytes: 100 }
        );
        assert!(old.exists());

        let (released_tx, released_rx) = mpsc::channel();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            released_tx.send(()).unwrap();
            drop(lease);
        });
        let mut waited = false;
        let trim = trim(&root, 10, &mut || waited = true).unwrap();
        assert!(waited, "told the user it waits");
        assert!(
            released_rx.try_recv().is_ok(),
            "evicted only after the lease was released"
        );
        assert_eq!(trim.removed, 1);
        holder.join().unwrap();

        let lease = Lease::acquire(&root).unwrap();
        let pruner = std::thread::spawn({
            let root = root.clone();
            move || prune(&root, &mut || {}).unwrap()
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!pruner.is_finished(), "prune waits for the lease");
        drop(lease);
        pruner.join().unwrap();
    }

    #[test]
    fn prune_removes_every_area_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for area in Bucket::ALL.map(Bucket::dir_name) {
            file(root, &format!("{area}/x/y"), 10, Duration::ZERO);
        }
        let unrelated = file(root, "notes.txt", 10, Duration::ZERO);
        let usage = usage(root).unwrap();
        let areas = Bucket::ALL.len() as u64;
        assert_eq!((usage.files, usage.bytes), (areas, 10 * areas));
        assert!(usage.areas.iter().all(|a| a.files == 1 && a.bytes == 10));
        assert_eq!(
            prune(root, &mut never_waits()).unwrap(),
            10 * Bucket::ALL.len() as u64
        );
        for bucket in Bucket::ALL {
            assert!(!bucket.path(root).exists());
        }
        assert!(unrelated.exists() && root.join(LOCK_FILE).exists());
        assert!(!root.join(STATE_FILE).exists());
    }

    #[test]
    fn a_cache_store_marks_what_it_finds_and_a_layout_store_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobStore::open_cache(&dir.path().join("cache")).unwrap();
        let layout = BlobStore::open(&dir.path().join("layout")).unwrap();
        let digest = cache.write_bytes(b"blob").unwrap();
        layout.write_bytes(b"blob").unwrap();
        let (in_cache, in_layout) = (cache.path(&digest), layout.path(&digest));
        type Lookup = fn(&BlobStore, &Digest);
        let lookups: [(&str, Lookup); 4] = [
            ("contains", |s, d| assert!(s.contains(d))),
            ("size", |s, d| assert_eq!(s.size(d), Some(4))),
            ("read", |s, d| assert_eq!(s.read(d).unwrap(), b"blob")),
            ("write_bytes", |s, _| {
                s.write_bytes(b"blob").unwrap();
            }),
        ];
        for (name, lookup) in lookups {
            set_age(&in_cache, HOUR);
            set_age(&in_layout, HOUR);
            lookup(&cache, &digest);
            lookup(&layout, &digest);
            assert!(age(&in_cache) < TOUCH_INTERVAL, "{name} marks a cache blob");
            assert!(
                age(&in_layout) >= HOUR,
                "{name} leaves a layout's blob alone"
            );
        }
        // Copying out of the cache is a use of the cache's blob.
        let out = BlobStore::open(&dir.path().join("out")).unwrap();
        set_age(&in_cache, HOUR);
        out.import_from(&cache, &digest).unwrap();
        assert!(age(&in_cache) < TOUCH_INTERVAL);

        // A recent mark is not rewritten.
        set_age(&in_cache, TOUCH_INTERVAL / 2);
        cache.contains(&digest);
        assert!(age(&in_cache) >= TOUCH_INTERVAL / 2);

        let entries = KeyedJson::new(dir.path().join("cache/memo"));
        let key = KeyedJson::key(&["k"]);
        entries.put(&key, &"answer").unwrap();
        let entry = dir.path().join(format!("cache/memo/{}.json", key.hex()));
        set_age(&entry, HOUR);
        assert_eq!(entries.get::<String>(&key).as_deref(), Some("answer"));
        assert!(age(&entry) < TOUCH_INTERVAL, "a hit marks the entry");
    }
}
