//! A content-addressed blob directory (`<root>/blobs/sha256/<hex>`), the layout shared by
//! kiln's cache and by OCI image layouts.
//!
//! Blobs are written to a temporary file on the same file system and renamed into place
//! only after their digest is known, so a crash never leaves a partial blob under a digest
//! name. The cache's store also marks what its lookups find as used, for
//! [`crate::cache::gc`].

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use kiln_core::Digest;
use tempfile::NamedTempFile;

use super::{Bucket, mark};
use crate::hash::HashingWriter;
use crate::{Error, io_error};

/// Where the blobs of the store rooted at `root` live.
pub(crate) fn blob_dir(root: &Path) -> PathBuf {
    Bucket::Blobs.path(root).join("sha256")
}

/// Where kiln's cache store writes blobs until they are complete: outside the blob
/// directory, so that writing a blob again (the built-in base, in every process) leaves
/// that directory unchanged for the cache's size check.
pub(crate) fn cache_temp_dir(root: &Path) -> PathBuf {
    Bucket::Temp.path(root)
}

/// Creates the directories of the cache store rooted at `root`.
pub(crate) fn create_cache_dirs(root: &Path) -> Result<(), Error> {
    for dir in [blob_dir(root), cache_temp_dir(root)] {
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    /// kiln's cache rather than an OCI layout: lookups mark what they find as used, and
    /// temporary files live in [`cache_temp_dir`].
    cache: bool,
}

impl BlobStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: &Path) -> Result<Self, Error> {
        Self::open_with(root, false)
    }

    /// Opens kiln's cache store: every blob a lookup finds is marked as used, so that a
    /// trim evicts the least recently used first.
    pub fn open_cache(root: &Path) -> Result<Self, Error> {
        Self::open_with(root, true)
    }

    fn open_with(root: &Path, cache: bool) -> Result<Self, Error> {
        if cache {
            create_cache_dirs(root)?;
        } else {
            let blobs = blob_dir(root);
            fs::create_dir_all(&blobs).map_err(io_error(&blobs))?;
        }
        Ok(BlobStore {
            root: root.to_owned(),
            cache,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        blob_dir(&self.root).join(digest.hex())
    }

    /// The metadata of a stored blob, marking it used.
    fn find(&self, digest: &Digest) -> Option<Metadata> {
        let path = self.path(digest);
        let meta = fs::metadata(&path).ok().filter(Metadata::is_file)?;
        if self.cache
            && let Ok(modified) = meta.modified()
        {
            mark::mark_used_at(&path, modified);
        }
        Some(meta)
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.find(digest).is_some()
    }

    /// The size of a stored blob, if the store holds it.
    pub fn size(&self, digest: &Digest) -> Option<u64> {
        self.find(digest).map(|meta| meta.len())
    }

    /// A temporary file inside the store, to be filled and then passed to [`Self::commit`].
    pub fn temp_file(&self) -> Result<NamedTempFile, Error> {
        let dir = if self.cache {
            cache_temp_dir(&self.root)
        } else {
            blob_dir(&self.root)
        };
        tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(io_error(&dir))
    }

    /// Moves a finished temporary file into place under `digest`. A blob already stored
    /// with the same size is kept (same digest, same bytes): replacing it would only cut
    /// the hard links outputs share with it.
    pub fn commit(&self, temp: NamedTempFile, digest: &Digest) -> Result<PathBuf, Error> {
        let path = self.path(digest);
        let size = temp
            .as_file()
            .metadata()
            .map_err(io_error(temp.path()))?
            .len();
        if self.size(digest) == Some(size) {
            return Ok(path);
        }
        temp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(path)
    }

    /// Stores `bytes` and returns their digest.
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<Digest, Error> {
        let digest = Digest::of(bytes);
        if !self.contains(&digest) {
            let mut temp = self.temp_file()?;
            temp.write_all(bytes).map_err(io_error(temp.path()))?;
            self.commit(temp, &digest)?;
        }
        Ok(digest)
    }

    /// Copies a stream into the store, verifying that it hashes to `expected`.
    fn write_verified(&self, expected: &Digest, mut reader: impl Read) -> Result<(), Error> {
        let temp = self.temp_file()?;
        let temp_path = temp.path().to_owned();
        let mut writer = HashingWriter::new(temp);
        io::copy(&mut reader, &mut writer).map_err(io_error(&temp_path))?;
        let (temp, actual, _) = writer.finish();
        if &actual != expected {
            return Err(Error::DigestMismatch {
                what: temp_path.display().to_string(),
                expected: expected.clone(),
                actual,
            });
        }
        self.commit(temp, expected)?;
        Ok(())
    }

    /// Copies a blob of another store into this one (a hard link when on the same file
    /// system; blobs are immutable, so sharing the inode is safe).
    pub fn import_from(&self, other: &BlobStore, digest: &Digest) -> Result<(), Error> {
        if self.contains(digest) {
            return Ok(());
        }
        let dest = self.path(digest);
        let src = other.path(digest);
        if other.cache {
            mark::mark_used(&src);
        }
        if fs::hard_link(&src, &dest).is_ok() {
            return Ok(());
        }
        let file = File::open(&src).map_err(io_error(&src))?;
        self.write_verified(digest, file)
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        let path = self.path(digest);
        let mut file = File::open(&path).map_err(io_error(&path))?;
        let meta = file.metadata().map_err(io_error(&path))?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes).map_err(io_error(&path))?;
        if self.cache
            && let Ok(modified) = meta.modified()
        {
            mark::mark_file_used(&file, modified);
        }
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                what: path.display().to_string(),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}
