//! Deterministic, streaming layer writer: tar → sha256 (diffID) → gzip or zstd → sha256
//! (digest) → a temporary file in the blob store, in one pass and with bounded memory.
//!
//! Every tar header is built by hand (no host metadata leaks in: no uname, no host mtime,
//! no host mode), which is what makes the same tree give the same digest everywhere.

use std::io::{self, BufWriter, Read, Write};

use kiln_core::Digest;
use kiln_core::media_type;
use tar::{EntryType, Header};
use tempfile::NamedTempFile;

use crate::cache::store::BlobStore;
use crate::hash::HashingWriter;
use crate::pgzip::ParallelGzip;
use crate::spec::Descriptor;
use crate::{Error, io_error};

/// The gzip level of every gzip layer kiln writes. ko uses Go's `gzip.BestSpeed`; zlib-rs's
/// level 1 ("quick") gives layers about 10 % larger than that, its level 2 about 4 %
/// smaller, and on two threads still in about half the wall time of ko's single-threaded
/// path (BENCHMARKS.md). Changing it, the block size of [`crate::pgzip`], or the zlib-rs
/// version changes every layer digest: the golden-digest test exists to catch that.
pub const GZIP_LEVEL: u32 = 2;
/// The zstd level of zstd layers: libzstd's default, faster than gzip here and smaller.
pub const ZSTD_LEVEL: i32 = 3;
/// Input per zstd job. libzstd's multithreaded output depends on the job size and never
/// on the worker count, so fixing it keeps zstd layers the same on any machine.
const ZSTD_JOB: u32 = 4 << 20;

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

type Output = HashingWriter<BufWriter<Tee>>;

/// Where a layer's compressed bytes go: its file in the store and, optionally, a copy for a
/// consumer such as an upload already under way. The copy is best effort: when it fails,
/// it is dropped and the file alone continues (the file is what the layer is).
struct Tee {
    file: NamedTempFile,
    copy: Option<Box<dyn Write + Send>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_all(buf)?;
        if let Some(copy) = &mut self.copy
            && copy.write_all(buf).is_err()
        {
            self.copy = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
type Sink = HashingWriter<Compressor<Output>>;

/// Threads compressing one layer: the machine's cores. The bytes do not depend on it.
fn compression_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The compressor a layer's media type asks for.
enum Compressor<W: Write> {
    Gzip(ParallelGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    /// A compressor for `media_type` using `threads` threads (the bytes never depend on it).
    fn new(media_type: &str, output: W, threads: usize) -> io::Result<Self> {
        if media_type == media_type::OCI_LAYER_ZSTD {
            let mut zstd = zstd::stream::write::Encoder::new(output, ZSTD_LEVEL)?;
            // Always the multithreaded mode (at least one worker): its bytes differ from
            // the single-threaded mode's, and are the same for any worker count.
            zstd.multithread(threads.max(1) as u32)?;
            zstd.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB))?;
            zstd.include_checksum(true)?;
            return Ok(Compressor::Zstd(zstd));
        }
        let level = flate2::Compression::new(GZIP_LEVEL);
        ParallelGzip::new(output, level, threads).map(Compressor::Gzip)
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(gzip) => gzip.finish(),
            Compressor::Zstd(zstd) => zstd.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(gzip) => gzip.write(buf),
            Compressor::Zstd(zstd) => zstd.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // Neither needs flushing mid-stream; a zstd flush would end a block early and
        // make the bytes depend on when it was called.
        Ok(())
    }
}

pub struct LayerWriter<'s> {
    store: &'s BlobStore,
    tar: tar::Builder<Sink>,
    mtime: u64,
    media_type: String,
}

impl<'s> LayerWriter<'s> {
    /// Starts a layer of `media_type` (which picks gzip or zstd) whose entries all carry
    /// modification time `mtime` (Unix seconds).
    pub fn create(store: &'s BlobStore, mtime: u64, media_type: &str) -> Result<Self, Error> {
        Self::create_teed(store, mtime, media_type, None)
    }

    /// Like [`LayerWriter::create`], also handing every compressed byte, in order, to
    /// `copy` as it is written (best effort: a failing copy is dropped, the layer is not).
    pub fn create_teed(
        store: &'s BlobStore,
        mtime: u64,
        media_type: &str,
        copy: Option<Box<dyn Write + Send>>,
    ) -> Result<Self, Error> {
        let file = store.temp_file()?;
        let output = HashingWriter::new(BufWriter::with_capacity(1 << 17, Tee { file, copy }));
        let threads = compression_threads();
        let compressor =
            Compressor::new(media_type, output, threads).map_err(|source| Error::Layer {
                entry: "<compressor>".to_owned(),
                source,
            })?;
        Ok(LayerWriter {
            store,
            tar: tar::Builder::new(HashingWriter::new(compressor)),
            mtime,
            media_type: media_type.to_owned(),
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
    pub fn finish(self) -> Result<Layer, Error> {
        let layer_error = |source| Error::Layer {
            entry: "<end of archive>".to_owned(),
            source,
        };
        let tarred = self.tar.into_inner().map_err(layer_error)?;
        let (compressor, diff_id, _) = tarred.finish();
        let hashed = compressor.finish().map_err(layer_error)?;
        let (buffered, digest, size) = hashed.finish();
        let mut temp = buffered
            .into_inner()
            .map_err(|e| layer_error(e.into_error()))?
            .file;
        temp.flush().map_err(io_error(temp.path()))?;
        self.store.commit(temp, &digest)?;
        Ok(Layer {
            descriptor: Descriptor::new(&self.media_type, size, digest),
            diff_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(media_type: &str, data: &[u8], threads: usize) -> Vec<u8> {
        let mut compressor = Compressor::new(media_type, Vec::new(), threads).unwrap();
        // Uneven writes: the output must not depend on how the input arrives either.
        for chunk in data.chunks(100_003) {
            compressor.write_all(chunk).unwrap();
        }
        compressor.finish().unwrap()
    }

    #[test]
    fn zstd_layers_are_the_same_for_any_thread_count_and_decode_to_the_input() {
        // Several jobs' worth of compressible, non-trivial bytes.
        let data: Vec<u8> = (0..3 * ZSTD_JOB as usize + 12_345)
            .map(|i| (i % 251) as u8 ^ (i / 4096) as u8 ^ (i / 1_000_003) as u8)
            .collect();
        let one = compress(media_type::OCI_LAYER_ZSTD, &data, 1);
        assert_eq!(compress(media_type::OCI_LAYER_ZSTD, &data, 2), one);
        assert_eq!(compress(media_type::OCI_LAYER_ZSTD, &data, 7), one);
        assert_eq!(zstd::stream::decode_all(one.as_slice()).unwrap(), data);
        assert!(one.len() < data.len() / 4, "{} bytes", one.len());
    }
}
