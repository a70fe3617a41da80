//! A client for the Docker Engine API (Docker, podman's compatible service, minikube's
//! docker-env): find the engine the docker CLI would use, ask for its platform, and load
//! and tag images in it. It speaks HTTP to engines only; registries are kiln-registry's.

mod client;
mod endpoint;

pub use client::{Engine, EnginePlatform};
pub use endpoint::{Endpoint, Host, TlsFiles, resolve};

/// What can go wrong talking to an engine. Every variant names the engine it was about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint settings themselves are wrong (DOCKER_HOST, a context file).
    #[error("{0}")]
    Config(String),
    /// Nothing answers where the engine should be.
    #[error(
        "no Docker-compatible engine answers at {endpoint} ({origin}): {reason}; start the engine (or point DOCKER_HOST or the docker context at a running one), or push to a registry instead (`--push` with `-d REPO`; for `kiln ko`, KO_DOCKER_REPO=REGISTRY without -L)"
    )]
    Unreachable {
        endpoint: String,
        origin: String,
        reason: String,
    },
    /// The engine answered with an error: its message, verbatim.
    #[error("the engine at {endpoint} refused {operation}: {message}")]
    Refused {
        endpoint: String,
        operation: String,
        message: String,
    },
    /// The engine took longer than the deadline for this request.
    #[error("the engine at {endpoint} did not finish {operation} within {seconds} s")]
    Timeout {
        endpoint: String,
        operation: String,
        seconds: u64,
    },
}
