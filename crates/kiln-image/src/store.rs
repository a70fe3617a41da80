//! A content-addressed blob directory (`<root>/blobs/sha256/<hex>`), the layout shared by
//! kiln's cache and by OCI image layouts.
//!
//! Blobs are written to a temporary file in the same directory and renamed into place only
//! after their digest is known, so a crash never leaves a partial blob under a digest name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use kiln_core::Digest;
use tempfile::NamedTempFile;

use crate::hash::HashingWriter;
use crate::{Error, io_error};

#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: &Path) -> Result<Self, Error> {
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(io_error(&blobs))?;
        Ok(BlobStore {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// A temporary file inside the store, to be filled and then passed to [`Self::commit`].
    pub fn temp_file(&self) -> Result<NamedTempFile, Error> {
        let dir = self.root.join("blobs").join("sha256");
        tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(io_error(&dir))
    }

    /// Moves a finished temporary file into place under `digest`.
    pub fn commit(&self, temp: NamedTempFile, digest: &Digest) -> Result<PathBuf, Error> {
        let path = self.path(digest);
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
        let dest = self.path(digest);
        if dest.is_file() {
            return Ok(());
        }
        let src = other.path(digest);
        if fs::hard_link(&src, &dest).is_ok() {
            return Ok(());
        }
        let file = File::open(&src).map_err(io_error(&src))?;
        self.write_verified(digest, file)
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        let path = self.path(digest);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
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
