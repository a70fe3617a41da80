//! The build pipeline: from a resolved plan per artifact to published images.
//!
//! config → [`planner`] → [`plan::ArtifactPlan`] → [`build::build_artifact`] (go list,
//! base, kodata, go build, assembly) → [`output`] (OCI layout, tarball, registry).
//! Progress goes out as [`events::Event`]s; this crate never prints.

pub mod artifact_cache;
pub mod build;
pub mod context;
pub mod custom;
pub mod deploy;
pub mod deps;
pub mod events;
pub mod go_inputs;
pub mod inputs;
pub mod ko_planner;
pub mod local;
pub mod manifests;
pub mod memo;
pub mod output;
pub mod plan;
pub mod planner;
pub mod publish;
pub mod remote;
pub mod remote_cache;
pub mod sbom;
pub mod schedule;
pub mod templates;
pub mod watch;
pub mod zoneinfo;

pub use build::{BuiltArtifact, build_artifact};
pub use context::Context;
pub use events::{Event, EventSink, Stage};
pub use plan::{ArtifactPlan, BaseSpec, GoSettings, MainPackage};

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
}

impl From<kiln_config::ConfigError> for Error {
    fn from(e: kiln_config::ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}
