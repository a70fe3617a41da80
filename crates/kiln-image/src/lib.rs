//! Deterministic OCI image assembly, done natively: kiln's layers, configs, manifests and
//! indexes, its built-in base, and the on-disk outputs (OCI layout, docker tarball).
//!
//! Architecture invariant: this crate does file-system I/O only. It never speaks HTTP,
//! never runs processes and never prints. Digests are computed over bytes it wrote and
//! keeps; nothing re-serialises a document after hashing it.

use std::path::{Path, PathBuf};

use kiln_core::Digest;

pub mod assemble;
pub mod base;
pub mod builtin;
pub mod cache;
mod hash;
pub mod ko_layers;
pub mod layer;
pub mod layout;
pub mod pgzip;
pub mod spec;
pub mod tarball;

pub use assemble::{BaseImage, Image, ImageSpec, assemble, assemble_index};
pub use base::ResolvedBase;
pub use cache::store::BlobStore;
pub use layer::Layer;
pub use layout::OciLayout;
pub use spec::{Blob, Descriptor};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing layer entry `{entry}`: {source}")]
    Layer {
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error("kodata: {}: {reason}", path.display())]
    Kodata { path: PathBuf, reason: String },
    #[error("{what}: content does not match its digest (expected {expected}, got {actual})")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("base image {base}: {reason}")]
    UnsupportedBase { base: String, reason: String },
    #[error(
        "base image {base} has no platform matching `{requested}`; it has: {available}. Pick one of those with --platform or `platforms:`"
    )]
    NoMatchingPlatform {
        base: String,
        requested: String,
        available: String,
    },
    #[error("{} is not an OCI image layout (no `oci-layout` and `index.json`)", path.display())]
    NotALayout { path: PathBuf },
    #[error(
        "{var}=`{value}` is not a size ({reason}): use a number of bytes (1073741824), or a number with a unit: kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 500MB or 10GiB",
        var = cache::gc::MAX_SIZE_VAR
    )]
    CacheSize { value: String, reason: String },
    #[error("OCI layout {layout} has no image named `{reference}`; it has: [{available}]")]
    NotInLayout {
        layout: String,
        reference: String,
        available: String,
    },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}
