//! What the pipeline reports while it works. The CLI decides how to show it (progress
//! bars on a terminal, log lines otherwise); the pipeline itself never prints.

use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The base an artifact builds on, with the platforms chosen from it.
    BaseResolved {
        image: String,
        base: String,
        platforms: Vec<String>,
    },
    /// Every input is unchanged: the cached image is used and nothing is built.
    ArtifactCacheHit {
        image: String,
        digest: String,
    },
    GoBuildStarted {
        image: String,
        platform: String,
    },
    GoBuildFinished {
        image: String,
        platform: String,
        elapsed: Duration,
    },
    /// The binary was byte-for-byte unchanged, so its cached layer was reused (no tar, no
    /// gzip).
    BinaryLayerReused {
        image: String,
        platform: String,
    },
    /// An image (or index) is complete, before it is published anywhere.
    ImageAssembled {
        image: String,
        digest: String,
    },
    /// The final reference of an artifact, once published.
    Published {
        image: String,
        reference: String,
    },
    /// The cache was over its bound at the end of a build: `removed` least recently used
    /// files (`freed` bytes) went, and it now holds `bytes` of `max_size`.
    CacheTrimmed {
        removed: u64,
        freed: u64,
        bytes: u64,
        max_size: u64,
    },
    Warning(String),
}

pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;
