//! The `docker save` tarball format, for `docker load` and tools that read it: one config
//! file per image, gzipped layers named by digest, and `manifest.json`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use serde::Serialize;
use tar::{EntryType, Header};

use crate::assemble::Image;
use crate::cache::store::BlobStore;
use crate::{Error, io_error};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TarballManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Writes `image` (whose blobs are all in `store`) to `path` under the given `name:tag`s.
/// The file is written next to `path` and renamed into place, so a failed write leaves no
/// partial tarball behind.
pub fn write_tarball(
    path: &Path,
    store: &BlobStore,
    image: &Image,
    repo_tags: &[String],
) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".kiln-tarball-")
        .tempfile_in(dir)
        .map_err(io_error(dir))?;
    let writer = write_archive(BufWriter::new(temp), store, image, repo_tags)?;
    let temp = writer.into_inner().map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.into_error(),
    })?;
    temp.persist(path).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// Streams `image` as a docker-save archive into `out` (a file, a pipe, an HTTP body),
/// reading each layer from `store` as it goes, so no image is ever held in memory.
/// Returns `out` once the archive is complete.
pub fn write_archive<W: std::io::Write>(
    out: W,
    store: &BlobStore,
    image: &Image,
    repo_tags: &[String],
) -> Result<W, Error> {
    let mut tar = tar::Builder::new(out);
    let entry_error = |entry: &str| {
        let entry = entry.to_owned();
        move |source| Error::Layer { entry, source }
    };
    let append =
        |tar: &mut tar::Builder<_>, name: &str, size: u64, data: &mut dyn std::io::Read| {
            let mut header = Header::new_ustar();
            header.set_entry_type(EntryType::Regular);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_size(size);
            tar.append_data(&mut header, name, data)
                .map_err(entry_error(name))
        };
    let config_name = image.config.digest.to_string();
    append(
        &mut tar,
        &config_name,
        image.config.bytes.len() as u64,
        &mut image.config.bytes.as_slice(),
    )?;
    let mut layer_names = Vec::new();
    for layer in &image.layers {
        let name = format!("{}.tar.gz", layer.digest.hex());
        if !layer_names.contains(&name) {
            let blob = store.path(&layer.digest);
            let mut file = File::open(&blob).map_err(io_error(&blob))?;
            append(&mut tar, &name, layer.size, &mut file)?;
        }
        layer_names.push(name);
    }
    let manifest = serde_json::to_vec(&[TarballManifestEntry {
        config: config_name,
        repo_tags: repo_tags.to_vec(),
        layers: layer_names,
    }])
    .expect("in-memory JSON serialisation cannot fail");
    append(
        &mut tar,
        "manifest.json",
        manifest.len() as u64,
        &mut manifest.as_slice(),
    )?;
    tar.into_inner().map_err(entry_error("<end of archive>"))
}
