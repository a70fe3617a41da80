//! Deterministic, streaming layer writer: tar → sha256 (diffID) → gzip → sha256 (digest) →
//! a temporary file in the blob store, in one pass and with bounded memory.
//!
//! Every tar header is built by hand (no host metadata leaks in: no uname, no host mtime,
//! no host mode), which is what makes the same tree give the same digest everywhere.

use std::io::{BufWriter, Read, Write};

use flate2::Compression;
use kiln_core::Digest;
use tar::{EntryType, Header};
use tempfile::NamedTempFile;

use crate::hash::HashingWriter;
use crate::pgzip::ParallelGzip;
use crate::spec::Descriptor;
use crate::store::BlobStore;
use crate::{Error, io_error};

/// The gzip level of every layer kiln writes. Level 1 is what ko uses (`gzip.BestSpeed`).
/// Changing it, the block size of [`crate::pgzip`], or the zlib-rs version changes every
/// layer digest: the golden-digest test exists to catch that.
pub const GZIP_LEVEL: u32 = 1;

/// Ownership and permissions of one tar entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

impl EntryMeta {
    /// ko's entries: root-owned, read and execute for everyone, writable by no one.
    pub const KO: EntryMeta = EntryMeta {
        mode: 0o555,
        uid: 0,
        gid: 0,
    };
}

/// A finished layer in a blob store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
}

type Sink = HashingWriter<ParallelGzip<HashingWriter<BufWriter<NamedTempFile>>>>;

/// Threads compressing one layer: the machine's cores. The bytes do not depend on it.
fn compression_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub struct LayerWriter<'s> {
    store: &'s BlobStore,
    tar: tar::Builder<Sink>,
    mtime: u64,
}

impl<'s> LayerWriter<'s> {
    /// Starts a layer whose entries all carry modification time `mtime` (Unix seconds).
    pub fn create(store: &'s BlobStore, mtime: u64) -> Result<Self, Error> {
        let temp = store.temp_file()?;
        let gzip = ParallelGzip::new(
            HashingWriter::new(BufWriter::with_capacity(1 << 17, temp)),
            Compression::new(GZIP_LEVEL),
            compression_threads(),
        )
        .map_err(|source| Error::Layer {
            entry: "<gzip header>".to_owned(),
            source,
        })?;
        Ok(LayerWriter {
            store,
            tar: tar::Builder::new(HashingWriter::new(gzip)),
            mtime,
        })
    }

    fn header(&self, kind: EntryType, meta: EntryMeta, size: u64) -> Header {
        let mut header = Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(meta.mode);
        header.set_uid(meta.uid);
        header.set_gid(meta.gid);
        header.set_mtime(self.mtime);
        header.set_size(size);
        header
    }

    /// Adds a directory. `path` is relative to the image root (`var/run/ko`).
    pub fn add_dir(&mut self, path: &str, meta: EntryMeta) -> Result<(), Error> {
        let mut header = self.header(EntryType::Directory, meta, 0);
        let name = format!("{}/", path.trim_end_matches('/'));
        self.tar
            .append_data(&mut header, name, std::io::empty())
            .map_err(|e| Error::Layer {
                entry: path.to_owned(),
                source: e,
            })
    }

    /// Adds a regular file of exactly `size` bytes read from `data`.
    pub fn add_file(
        &mut self,
        path: &str,
        meta: EntryMeta,
        size: u64,
        data: impl Read,
    ) -> Result<(), Error> {
        let mut header = self.header(EntryType::Regular, meta, size);
        self.tar
            .append_data(&mut header, path, data)
            .map_err(|e| Error::Layer {
                entry: path.to_owned(),
                source: e,
            })
    }

    /// [`LayerWriter::add_file`] preceded by a PAX extended header carrying `records`
    /// (e.g. `SCHILY.xattr.security.capability`), as Go's archive/tar writes `PAXRecords`.
    pub fn add_file_with_pax(
        &mut self,
        path: &str,
        meta: EntryMeta,
        size: u64,
        data: impl Read,
        records: &[(&str, &[u8])],
    ) -> Result<(), Error> {
        self.tar
            .append_pax_extensions(records.iter().copied())
            .map_err(|e| Error::Layer {
                entry: path.to_owned(),
                source: e,
            })?;
        self.add_file(path, meta, size, data)
    }

    /// Ends the archive and moves the compressed layer into the store.
    pub fn finish(self, media_type: &str) -> Result<Layer, Error> {
        let layer_error = |source| Error::Layer {
            entry: "<end of archive>".to_owned(),
            source,
        };
        let tarred = self.tar.into_inner().map_err(layer_error)?;
        let (gzip, diff_id, _) = tarred.finish();
        let hashed = gzip.finish().map_err(layer_error)?;
        let (buffered, digest, size) = hashed.finish();
        let mut temp = buffered
            .into_inner()
            .map_err(|e| layer_error(e.into_error()))?;
        temp.flush().map_err(io_error(temp.path()))?;
        self.store.commit(temp, &digest)?;
        Ok(Layer {
            descriptor: Descriptor::new(media_type, size, digest),
            diff_id,
        })
    }
}
