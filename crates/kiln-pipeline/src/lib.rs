//! The build pipeline: from a resolved plan per artifact to published images.
//!
//! config → [`planner`] → [`plan::ArtifactPlan`] → [`run::run`]: [`build::build_artifact`]
//! (base, kodata, go build, assembly) per plan, then [`run::publish_all`] ([`publish`]: OCI
//! layout, tarball, registry, engine; SBOMs). Progress goes out as [`events::Event`]s; this
//! crate never prints.

pub mod artifact;
pub mod artifact_cache;
pub mod base;
pub mod build;
pub mod context;
pub mod custom;
pub mod deploy;
pub mod deps;
pub mod events;
pub mod inputs;
pub mod ko_planner;
pub mod kodata;
pub mod local;
pub mod manifests;
pub mod memo;
pub mod output;
pub mod plan;
pub mod planner;
pub mod publish;
pub mod push;
pub mod remote_cache;
pub mod run;
pub mod sbom;
pub mod schedule;
pub mod templates;
pub mod watch;
pub mod zoneinfo;

pub use artifact::BuiltArtifact;
pub use build::build_artifact;
pub use context::Context;
pub use events::{Event, EventSink, Stage};
pub use plan::{ArtifactPlan, BaseSpec, GoSettings, MainPackage};

use std::path::PathBuf;
use std::time::Duration;

use kiln_core::Digest;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Go(#[from] kiln_gobuild::Error),
    #[error(transparent)]
    Image(#[from] kiln_image::Error),
    #[error(transparent)]
    Registry(#[from] kiln_registry::Error),
    /// Boxed: config errors carry a whole position and hint, and are rare.
    #[error(transparent)]
    Config(Box<kiln_config::ConfigError>),
    #[error("{0}")]
    Plan(String),
    #[error("making the SBOM of {what}")]
    Sbom {
        what: String,
        #[source]
        source: kiln_core::sbom::SbomError,
    },
    #[error("building {image}")]
    Artifact {
        image: String,
        #[source]
        source: Box<Error>,
    },
    #[error("pushing {image} to {target}")]
    Publish {
        image: String,
        target: String,
        #[source]
        source: Box<Error>,
    },
    #[error("loading {image} into {target}")]
    Load {
        image: String,
        target: String,
        #[source]
        source: Box<Error>,
    },
    #[error(transparent)]
    Engine(#[from] kiln_engine::Error),
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Naming(#[from] kiln_core::naming::NamingError),
    /// Reading or writing a file or directory.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON document that kiln read (a base's manifest) or made and parsed back is
    /// malformed.
    #[error("{what}: invalid JSON")]
    InvalidDocument {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A name that must be an image reference (`role` says which) is not one.
    #[error("{image}: {role} is not an image reference")]
    InvalidReference {
        image: String,
        role: &'static str,
        #[source]
        source: kiln_core::reference::ReferenceError,
    },
    #[error("base image {base} was not found in its registry")]
    BaseNotFound { base: String },
    #[error("layer {digest} is neither built locally nor part of a registry base")]
    LayerNotFound { digest: Digest },
    #[error(
        "cannot push {image} to {repository}: the registry {registry} refused or did not answer"
    )]
    RegistryUnavailable {
        image: String,
        repository: String,
        registry: String,
        #[source]
        source: Box<kiln_registry::Error>,
    },
    /// SBOMs asked of an artifact built without them (`action`: "write", "attach").
    #[error("{image}: no SBOMs to {action}: the artifact was built without them")]
    NoSboms { image: String, action: &'static str },
    #[error(
        "{repository} has no OCI referrers API, so an SBOM referrer could not be found there: attach SBOMs by tag instead"
    )]
    NoReferrersApi { repository: String },
    #[error("attaching the SBOM of {image}")]
    AttachSbom {
        image: String,
        #[source]
        source: Box<Error>,
    },
    /// Writing an artifact into a file output (`what`: "the OCI layout DIR", …).
    #[error("{image}: writing {what}")]
    WriteOutput {
        image: String,
        what: String,
        #[source]
        source: Box<Error>,
    },
    #[error(
        "{image}: a docker tarball holds one platform, but {count} were built ({platforms}); choose one with --platform, or write an OCI layout with --oci-layout-path"
    )]
    TarballPlatforms {
        image: String,
        count: usize,
        platforms: String,
    },
    /// A load needs the platform `runner` runs (`os/arch`), which was not built.
    #[error("{runner} {platform} images, but only {built} were built; add it with --platform")]
    PlatformNotBuilt {
        runner: &'static str,
        platform: String,
        built: String,
    },
    #[error(
        "the `{tool}` CLI is not on PATH: install it, or push to a registry instead (`--push` with `-d REPO`; for `kiln ko`, KO_DOCKER_REPO=REGISTRY)"
    )]
    ToolNotFound { tool: &'static str },
    /// A child process (`command`, as shown to the user) could not be started or waited for.
    #[error("running {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} did not finish within {} s", limit.as_secs())]
    TimedOut { command: String, limit: Duration },
    #[error("{command} failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(
        "{image}: requires `{required}`, which was not built in this run; select it too with -b"
    )]
    RequiredNotBuilt { image: String, required: String },
    #[error("{image}: the custom buildCommand `{command}` failed ({status}); its output is above")]
    CustomFailed {
        image: String,
        command: String,
        status: std::process::ExitStatus,
    },
    #[error(
        "{image}: the custom buildCommand succeeded but pushed no image to {target} ($IMAGE); it must push there"
    )]
    CustomPushedNothing { image: String, target: String },
}

impl From<kiln_config::ConfigError> for Error {
    fn from(e: kiln_config::ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}
