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
    /// The local cache missed, but the registry holds a record of an image built from
    /// these inputs (by any runner): it is verified and will only be tagged, with no
    /// `go build` and no upload.
    RegistryCacheHit {
        image: String,
        digest: String,
        record: String,
    },
    /// After the push, the artifact's key was recorded in the registry for other runners.
    RegistryCacheRecorded {
        image: String,
        record: String,
    },
    /// A stage of an artifact's build began; `platform` is set for per-platform stages.
    StageStarted {
        image: String,
        platform: Option<String>,
        stage: Stage,
    },
    /// The stage ended (successfully: a failure comes back as the build's error).
    StageFinished {
        image: String,
        platform: Option<String>,
        stage: Stage,
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
    /// What happened at one destination of an artifact ("pushed …", "loaded into …",
    /// "wrote OCI layout …", "wrote tarball …").
    Delivered {
        image: String,
        report: String,
    },
    /// The cache was over its bound at the end of a build: `removed` least recently used
    /// files (`freed` bytes) went, and it now holds `bytes` of `max_size`.
    CacheTrimmed {
        removed: u64,
        freed: u64,
        bytes: u64,
        max_size: u64,
    },
    /// A line a custom artifact's `buildCommand` printed (stdout or stderr).
    CommandOutput {
        image: String,
        line: String,
    },
    /// An artifact of a builder kiln does not run (in this command), left out by `-b`.
    ArtifactSkipped {
        image: String,
        builder: String,
    },
    /// The cache is over its bound at the end of a build, but this build used all of it,
    /// so nothing could be removed.
    CacheOverBound {
        bytes: u64,
        max_size: u64,
    },
    /// The status check after a deploy began: it waits for these resources to roll out
    /// (`team-a:deployment/api`, `statefulset/db` in `default`, as Skaffold names them).
    StatusCheckStarted {
        resources: Vec<String>,
    },
    /// A resource's rollout is under way; `status` is kubectl's report (said when it
    /// changes).
    RolloutPending {
        resource: String,
        status: String,
    },
    /// A resource rolled out; `pending` of `total` are still waited for.
    RolloutReady {
        resource: String,
        pending: usize,
        total: usize,
    },
    /// A resource failed to roll out, or did not within its deadline (the deploy fails).
    RolloutFailed {
        resource: String,
        reason: String,
    },
    /// Every resource rolled out.
    StatusCheckFinished {
        elapsed: Duration,
    },
    /// Something the run wants said plainly, once (a field or builder kiln does not act
    /// on, why nothing is deployed, a deploy tool's report); shown even with `-q`.
    Notice(String),
    Warning(String),
}

/// The stages a person waits on while an artifact builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Finding the base image (a registry round trip, a layout read, or the built-in one).
    ResolvingBase,
    /// `go build` fetching modules (`module` is the first, e.g. `golang.org/x/sys v0.30.0`).
    /// Go downloads and compiles in one process, so the stage ends with the build.
    DownloadingModules { module: String },
    /// `go build` for the event's platform.
    Building,
    /// Writing and gzipping a layer: the binary's (with a platform) or kodata's (without).
    Compressing,
    /// Uploading the image's blobs and manifests to `repository` (`registry/path`, as the
    /// registry client's events name it).
    Pushing { repository: String },
    /// Loading the image into a local engine or cluster (`target` describes it).
    Loading { target: String },
}

pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// Where planning reports (module downloads by `go list`), when anyone listens: an event
/// sink that a `#[derive(Debug)]` options struct can hold.
#[derive(Clone, Default)]
pub struct Reporter(pub Option<EventSink>);

impl Reporter {
    /// The sink, or one that drops every event.
    pub fn sink(&self) -> EventSink {
        self.0.clone().unwrap_or_else(|| Arc::new(|_| {}))
    }
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Reporter"
        } else {
            "Reporter(none)"
        })
    }
}
