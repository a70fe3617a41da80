//! Builds the binary layer of one file into a fresh blob store and prints its digest and
//! size: the unit of work the layer benchmark in `scripts/bench.sh` times against ko's layer
//! path (Go's compress/gzip) on the same bytes. `layer BINARY [gzip|zstd]`.
#![allow(clippy::print_stdout)]

use kiln_image::BlobStore;
use kiln_image::ko_layers::binary_layer;
use kiln_image::spec::media_type::LayerCompression;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let binary = args.next().ok_or("usage: layer BINARY [gzip|zstd]")?;
    let compression = match args.next() {
        Some(name) => LayerCompression::parse(&name.to_string_lossy()).ok_or("gzip or zstd")?,
        None => LayerCompression::Gzip,
    };
    let media_type = compression
        .layer_media_type(kiln_image::spec::media_type::OCI_MANIFEST)
        .ok_or("no layer media type")?;
    let dir = tempfile::tempdir()?;
    let store = BlobStore::open(dir.path())?;
    let layer = binary_layer(&store, binary.as_ref(), "app", media_type)?;
    println!("{} {}", layer.descriptor.digest, layer.descriptor.size);
    Ok(())
}
