//! Builds the binary layer of one file into a fresh blob store and prints its digest:
//! the unit of work the layer benchmark in `scripts/bench.sh` times against sha256sum +
//! gzip on the same bytes.
#![allow(clippy::print_stdout)]

use kiln_image::BlobStore;
use kiln_image::ko_layers::binary_layer;
use kiln_image::spec::media_type::OCI_LAYER_GZIP;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let binary = std::env::args_os().nth(1).ok_or("usage: layer BINARY")?;
    let dir = tempfile::tempdir()?;
    let store = BlobStore::open(dir.path())?;
    let layer = binary_layer(&store, binary.as_ref(), "app", OCI_LAYER_GZIP)?;
    println!("{} {}", layer.descriptor.digest, layer.descriptor.size);
    Ok(())
}
