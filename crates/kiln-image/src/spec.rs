//! The OCI and Docker schema2 JSON documents kiln reads and writes.
//!
//! kiln keeps its own small serde types rather than `oci-spec`'s: the bytes we hash must be
//! exactly the bytes we write (field order included), Docker media types are as common as
//! OCI ones in bases (and ko's output follows the base), and the shared `Digest` and
//! `Platform` types of kiln-core are used directly.

use std::collections::BTreeMap;

use kiln_core::{Digest, Platform};
use serde::{Deserialize, Serialize};

pub use kiln_core::media_type;

pub type Annotations = BTreeMap<String, String>;

/// A content descriptor. Unknown fields of a base's descriptors (`urls`, `annotations`,
/// `platform`) are kept because ko copies them into the output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub size: u64,
    pub digest: Digest,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    pub fn new(media_type: &str, size: u64, digest: Digest) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            size,
            digest,
            urls: Vec::new(),
            annotations: Annotations::new(),
            platform: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

/// A serialised document together with its digest. Digests are only ever computed over
/// these bytes, and nothing re-serialises them afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl Blob {
    pub fn json<T: Serialize>(value: &T) -> Self {
        let bytes = serde_json::to_vec(value).expect("in-memory JSON serialisation cannot fail");
        Blob {
            digest: Digest::of(&bytes),
            bytes,
        }
    }

    pub fn descriptor(&self, media_type: &str) -> Descriptor {
        Descriptor::new(media_type, self.bytes.len() as u64, self.digest.clone())
    }
}

pub mod annotation {
    pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
    pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
}
