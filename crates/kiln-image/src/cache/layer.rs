//! A cache of finished layers, keyed by everything that determines their bytes, so that an
//! unchanged input is not tarred and gzipped again.
//!
//! Entries are small JSON files written atomically next to the blob store. An entry is only
//! trusted if it parses and its blob is still in the store with the recorded size (a trim
//! may have evicted it); anything else is a miss, never an error.

use std::fs::File;
use std::path::Path;

use kiln_core::Digest;
use serde::{Deserialize, Serialize};

use super::Bucket;
use super::keyed::KeyedJson;
use super::store::BlobStore;
use crate::Error;
use crate::hash::HashingWriter;
use crate::layer::{GZIP_LEVEL, Layer, ZSTD_LEVEL};
use crate::spec::Descriptor;

/// Bumped whenever the layer writer's output changes for the same input.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Entry {
    descriptor: Descriptor,
    diff_id: Digest,
}

#[derive(Clone, Debug)]
pub struct LayerCache {
    entries: KeyedJson,
    store: BlobStore,
}

impl LayerCache {
    pub fn new(store: &BlobStore) -> Self {
        LayerCache {
            entries: KeyedJson::new(Bucket::Layers.path(store.root())),
            store: store.clone(),
        }
    }

    /// A key from the parts that determine a layer's bytes (the writer's format and both
    /// compression levels are always included; the media type, among `parts`, says which
    /// compressor).
    pub fn key(parts: &[&str]) -> Digest {
        let format = format!("kiln-layer/{FORMAT}/gzip-{GZIP_LEVEL}/zstd-{ZSTD_LEVEL}");
        KeyedJson::key(&[&[format.as_str()], parts].concat())
    }

    /// The cached layer for `key`, if the entry is sound and its blob still there.
    pub fn get(&self, key: &Digest) -> Option<Layer> {
        let entry: Entry = self.entries.get(key)?;
        let size = self.store.size(&entry.descriptor.digest)?;
        (size == entry.descriptor.size).then_some(Layer {
            descriptor: entry.descriptor,
            diff_id: entry.diff_id,
        })
    }

    /// Records `layer` under `key`.
    pub fn put(&self, key: &Digest, layer: &Layer) -> Result<(), Error> {
        self.entries.put(
            key,
            &Entry {
                descriptor: layer.descriptor.clone(),
                diff_id: layer.diff_id.clone(),
            },
        )
    }
}

/// The sha256 of a file, streamed.
pub fn file_digest(path: &Path) -> Result<Digest, Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut hashed = HashingWriter::new(std::io::sink());
    std::io::copy(&mut File::open(path).map_err(io_error)?, &mut hashed).map_err(io_error)?;
    Ok(hashed.finish().1)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::ko_layers::binary_layer;
    use crate::spec::media_type::OCI_LAYER_GZIP;

    #[test]
    fn hits_after_put_and_treats_corruption_or_a_lost_blob_as_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let cache = LayerCache::new(&store);
        let bin = dir.path().join("app");
        fs::write(&bin, b"binary").unwrap();
        let key = LayerCache::key(&[
            &file_digest(&bin).unwrap().to_string(),
            "app",
            OCI_LAYER_GZIP,
        ]);
        assert!(cache.get(&key).is_none());
        let layer = binary_layer(&store, &bin, "app", OCI_LAYER_GZIP).unwrap();
        cache.put(&key, &layer).unwrap();
        assert_eq!(cache.get(&key), Some(layer.clone()));

        fs::write(cache.entries.path(&key), b"{not json").unwrap();
        assert!(cache.get(&key).is_none(), "corrupt entry is a miss");
        cache.put(&key, &layer).unwrap();
        fs::remove_file(store.path(&layer.descriptor.digest)).unwrap();
        assert!(
            cache.get(&key).is_none(),
            "entry without its blob is a miss"
        );
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(LayerCache::key(&["ab", "c"]), LayerCache::key(&["a", "bc"]));
    }
}
