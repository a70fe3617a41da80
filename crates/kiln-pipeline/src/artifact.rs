//! What building one artifact gives: its platform images, the index over them, their SBOMs,
//! and what the caches learned about it. Every later step (publishing, loading, writing
//! files, attaching SBOMs) reads a [`BuiltArtifact`].

use kiln_core::{Digest, Reference};
use kiln_image::{Blob, Descriptor, Image, ResolvedBase};
use serde::{Deserialize, Serialize};

use crate::plan::ArtifactPlan;

/// A built artifact: its platform images (in base order) and, for several platforms,
/// the index over them. Every blob is in the context's store.
#[derive(Clone, Debug)]
pub struct BuiltArtifact {
    pub plan: ArtifactPlan,
    pub base: ResolvedBase,
    pub images: Vec<Image>,
    pub index: Option<Blob>,
    /// The descriptor of what gets tagged: the index, or the single manifest.
    pub top: Descriptor,
    /// The SPDX documents, when the plan asked for them.
    pub sboms: Option<Sboms>,
    /// The key to record in the registry once pushed: set when this run built the
    /// artifact with a cache on (a cache hit was recorded by whoever built it, and
    /// re-recording would cost an unchanged push its one-HEAD fast path).
    pub record_key: Option<Digest>,
    /// The repository where a registry-cache record found this artifact complete: its
    /// layers are there, not in the store, and publishing only tags it.
    pub reused_from: Option<Reference>,
    /// A record named this image but the registry lacks part of it: the push checks every
    /// blob and manifest, even where the tag already points at the image.
    pub repush: bool,
}

impl BuiltArtifact {
    /// The platforms built, for messages: `linux/amd64, linux/arm64`.
    pub fn platform_list(&self) -> String {
        self.images
            .iter()
            .map(|i| i.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The SPDX documents of one built artifact, as blobs in the context's store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sboms {
    /// One per platform image, in the order of [`BuiltArtifact::images`].
    pub images: Vec<Descriptor>,
    /// The index's, when the artifact is an index.
    pub index: Option<Descriptor>,
}

/// How an SBOM is attached to its image in a registry (`--sbom-attach`; `none` is not
/// attaching them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomAttach {
    /// As ko and cosign do: a manifest tagged `sha256-<image hex>.sbom`.
    Tag,
    /// An OCI 1.1 referrer (`subject` = the image), found through the referrers API.
    Referrer,
    /// A referrer when the registry has the referrers API, else a tag.
    Auto,
}
