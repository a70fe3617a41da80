//! Deterministic parallel gzip (the pigz design): the input is cut into fixed 1 MiB blocks,
//! each deflated on its own thread with the previous block's last 32 KiB as dictionary,
//! sync-flushed, and the results are concatenated in order into one gzip member.
//!
//! Block boundaries depend only on the input, never on the thread count or timing, so the
//! bytes are the same on any machine — unlike `gzp`, whose output varies run to run. Memory
//! is bounded by the blocks in flight (a few MiB), whatever the layer size.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Bytes of input per block.
pub const BLOCK: usize = 1 << 20;
/// Deflate's window: what a block may refer back to.
const WINDOW: usize = 32 * 1024;

pub struct ParallelGzip<W: Write> {
    inner: W,
    level: Compression,
    block: Vec<u8>,
    dictionary: Vec<u8>,
    crc: crc32fast::Hasher,
    total: u64,
    in_flight: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    threads: usize,
}

impl<W: Write> ParallelGzip<W> {
    /// Compresses into `inner` using up to `threads` compressing threads.
    pub fn new(mut inner: W, level: Compression, threads: usize) -> io::Result<Self> {
        // A fixed gzip header: no name, mtime 0, unknown OS, and XFL as gzip sets it.
        let xfl = match level.level() {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        inner.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255])?;
        Ok(ParallelGzip {
            inner,
            level,
            block: Vec::with_capacity(BLOCK),
            dictionary: Vec::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
            in_flight: VecDeque::new(),
            threads: threads.max(1),
        })
    }

    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let dictionary = std::mem::replace(
            &mut self.dictionary,
            block[block.len().saturating_sub(WINDOW)..].to_vec(),
        );
        let level = self.level;
        self.in_flight.push_back(std::thread::spawn(move || {
            deflate(&block, &dictionary, level, last)
        }));
        while self.in_flight.len() > self.threads || (last && !self.in_flight.is_empty()) {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(handle) = self.in_flight.pop_front() {
            let compressed = handle
                .join()
                .map_err(|_| io::Error::other("a compression thread panicked"))??;
            self.inner.write_all(&compressed)?;
        }
        Ok(())
    }

    /// Ends the gzip member (last block, CRC-32 and length) and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        let crc = self.crc.clone().finalize();
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner.write_all(&(self.total as u32).to_le_bytes())?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        self.total += n as u64;
        if self.block.len() == BLOCK {
            self.dispatch(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Raw deflate of one block: sync-flushed (byte-aligned, so blocks concatenate), or
/// finished for the last one.
fn deflate(block: &[u8], dictionary: &[u8], level: Compression, last: bool) -> io::Result<Vec<u8>> {
    let mut compress = Compress::new(level, false);
    if !dictionary.is_empty() {
        compress
            .set_dictionary(dictionary)
            .map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(block.len() / 2 + 1024);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = compress.total_in() as usize;
        let status = compress
            .compress_vec(&block[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = compress.total_in() as usize == block.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A sync flush is complete once all input is in and output space is left over.
            _ if !last && all_in && out.len() < out.capacity() => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gzip(data: &[u8], threads: usize) -> Vec<u8> {
        let mut gz = ParallelGzip::new(
            Vec::new(),
            Compression::new(crate::layer::GZIP_LEVEL),
            threads,
        )
        .unwrap();
        // Uneven writes, so block filling is exercised across write boundaries.
        for chunk in data.chunks(77_777) {
            gz.write_all(chunk).unwrap();
        }
        gz.finish().unwrap()
    }

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a repeating text with a counter.
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
            .collect()
    }

    #[test]
    fn output_is_the_same_for_any_thread_count_and_decodes_to_the_input() {
        for len in [
            0,
            1,
            WINDOW,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK + 12_345,
        ] {
            let data = sample(len);
            let one = gzip(&data, 1);
            assert_eq!(gzip(&data, 2), one, "len {len}");
            assert_eq!(gzip(&data, 8), one, "len {len}");
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(one.as_slice())
                .read_to_end(&mut decoded)
                .unwrap();
            assert_eq!(decoded, data, "len {len}");
        }
    }

    #[test]
    fn the_system_gzip_accepts_the_stream() {
        let data = sample(2 * BLOCK + 5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        std::fs::write(&path, gzip(&data, 2)).unwrap();
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}
