//! The build pipeline: from a resolved plan per artifact to published images.
//!
//! config → [`plan`] → [`plan::ArtifactPlan`] → [`build::build_artifact`] (go list,
//! base, kodata, go build, assembly) → [`output`] (OCI layout, tarball, registry).
//! Progress goes out as [`events::Event`]s; this crate never prints.

pub mod artifact_cache;
pub mod build;
pub mod context;
pub mod custom;
pub mod deploy;
pub mod deps;
mod error;
pub mod events;
pub mod inputs;
pub mod local;
pub mod manifests;
pub mod memo;
pub mod output;
pub mod plan;
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

pub use error::Error;
