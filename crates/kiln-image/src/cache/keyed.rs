//! Small JSON records keyed by a digest, in one directory of the cache: the shared mechanics
//! of kiln's caches (layers, artifacts, toolchains, package resolutions).
//!
//! Writes are atomic (a temporary file renamed into place), and anything unreadable is a
//! miss, never an error, so a damaged cache can only cost a rebuild. A hit marks the entry
//! as used, for [`crate::cache::gc`].

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use kiln_core::Digest;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use super::mark;
use crate::Error;

#[derive(Clone, Debug)]
pub struct KeyedJson {
    dir: PathBuf,
}

impl KeyedJson {
    pub fn new(dir: PathBuf) -> Self {
        KeyedJson { dir }
    }

    /// A key from parts, each length-prefixed so that no two lists of parts collide.
    pub fn key<S: AsRef<str>>(parts: &[S]) -> Digest {
        let mut hasher = Sha256::new();
        for part in parts {
            let part = part.as_ref();
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Digest::from_sha256(hasher.finalize().into())
    }

    pub(crate) fn path(&self, key: &Digest) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }

    pub fn get<T: DeserializeOwned>(&self, key: &Digest) -> Option<T> {
        let mut file = File::open(self.path(key)).ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        let value = serde_json::from_slice(&bytes).ok()?;
        if let Ok(modified) = file.metadata().and_then(|m| m.modified()) {
            mark::mark_file_used(&file, modified);
        }
        Some(value)
    }

    pub fn put<T: Serialize>(&self, key: &Digest, value: &T) -> Result<(), Error> {
        let io = |path: PathBuf| move |source| Error::Io { path, source };
        std::fs::create_dir_all(&self.dir).map_err(io(self.dir.clone()))?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io(self.dir.clone()))?;
        let bytes = serde_json::to_vec(value).expect("in-memory JSON serialisation cannot fail");
        temp.write_all(&bytes).map_err(io(temp.path().to_owned()))?;
        let path = self.path(key);
        temp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}
