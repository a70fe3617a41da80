//! The build pipeline: from a resolved plan per artifact to published images.
//!
//! config → [`plan`] → [`plan::ArtifactPlan`] → [`run::run`]: [`build::build_artifact`]
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
mod error;
pub mod events;
pub mod go_inputs;
pub mod helm;
pub mod inputs;
pub mod kodata;
pub mod local;
pub mod manifests;
pub mod memo;
pub mod output;
pub mod plan;
pub mod publish;
pub mod push;
pub mod remote_cache;
pub mod render;
pub mod run;
pub mod sbom;
pub mod schedule;
pub mod session;
mod stages;
pub mod templates;
pub mod tool;
pub mod watch;
pub mod zoneinfo;

pub use artifact::BuiltArtifact;
pub use build::build_artifact;
pub use context::Context;
pub use error::Error;
pub use events::{Event, EventSink, Stage};
pub use plan::{ArtifactPlan, BaseSpec, GoSettings, MainPackage};
