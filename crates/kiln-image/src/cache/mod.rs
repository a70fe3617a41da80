//! kiln's cache directory (`$KILN_CACHE`, default `~/.cache/kiln`): its areas, named once
//! ([`Bucket`]), the content-addressed blob store (`store`), JSON entries by key (`keyed`),
//! compressed binary layers by binary digest (`layer`), the size bound and its trims
//! (`gc`) with the use marks it orders by (`mark`), and a build's hold on the cache
//! (`lease`).

use std::path::{Path, PathBuf};

pub mod gc;
pub mod keyed;
pub mod layer;
pub mod lease;
pub mod mark;
pub mod store;

/// One area (top-level directory) of the cache. Every directory kiln creates in its cache
/// is one of these; the size bound walks and `kiln cache prune` removes these and nothing
/// else, so a mistyped `KILN_CACHE` cannot empty an unrelated directory.
///
/// A bucket's directory name is its format version: an incompatible change to what a
/// bucket holds gets a new name (`artifacts-v2`), never new contents under the old one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Content-addressed blobs (`blobs/sha256/<hex>`), laid out like an OCI layout's.
    Blobs,
    /// Compressed binary layers by binary digest (`layer.rs`).
    Layers,
    /// Built artifacts by artifact key (kiln-pipeline's `artifact_cache.rs`).
    Artifacts,
    /// Remembered answers: `go version`, `go list`, where blobs were pushed.
    Memo,
    /// `go build` outputs at stable paths, so an unchanged build skips the link.
    Binaries,
    /// Blobs being written, renamed into `Blobs` when complete.
    Temp,
}

impl Bucket {
    /// Every bucket, in the order `kiln cache size` lists them.
    pub const ALL: [Bucket; 6] = [
        Bucket::Blobs,
        Bucket::Layers,
        Bucket::Artifacts,
        Bucket::Memo,
        Bucket::Binaries,
        Bucket::Temp,
    ];

    /// The bucket's directory name under the cache root.
    pub const fn dir_name(self) -> &'static str {
        match self {
            Bucket::Blobs => "blobs",
            Bucket::Layers => "layers",
            Bucket::Artifacts => "artifacts",
            Bucket::Memo => "memo",
            Bucket::Binaries => "bin",
            Bucket::Temp => "tmp",
        }
    }

    /// The bucket's directory in the cache rooted at `root`.
    pub fn path(self, root: &Path) -> PathBuf {
        root.join(self.dir_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_have_distinct_directories() {
        let mut names: Vec<&str> = Bucket::ALL.iter().map(|b| b.dir_name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Bucket::ALL.len());
        assert_eq!(Bucket::Memo.path(Path::new("/c")), Path::new("/c/memo"));
    }
}
