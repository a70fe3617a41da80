//! Test fixtures for kiln (dev-only):
//!
//! * [`Registry`]: Debian's `/usr/bin/docker-registry` (CNCF Distribution 2.8) on a free
//!   loopback port, plain, with htpasswd Basic auth, TLS with a private CA, or token auth
//!   backed by an in-process token issuer; its access log is parsed for assertions.
//! * [`Skopeo`]: `skopeo inspect --raw` / `skopeo copy` as an independent oracle.
//! * [`validate_spdx`]: PyPI's `pyspdxtools` as the judge of SBOMs.
//! * [`FaultProxy`]: a loopback TCP proxy that injects 5xx answers, dropped connections and
//!   connections killed mid-body, for retry tests.
//! * [`Podman`]: `podman system service` serving the Docker Engine API on a temporary
//!   socket (vfs storage, its own root), read back with the `docker` CLI; [`TlsFront`]
//!   puts a loopback TLS endpoint (socat) in front of it.
//! * [`GoProxy`]: a static Go module proxy on 127.0.0.1 (files on disk), optionally behind
//!   HTTP Basic auth and, through socat, HTTPS with a private CA, for private modules.
//!
//! Needs `docker-registry`, `apache2-utils` (htpasswd) and `skopeo` from Debian (and
//! `podman`, `socat` and a `docker` client for the engine fixtures; `socat` for the HTTPS
//! Go proxy). Fixtures panic with a readable message when something is missing or fails:
//! they are for tests.
//!
//! Every process and thread started here is stopped when its owner is dropped; the registry
//! also stops by itself if the test process dies (see [`Registry`]).

mod certs;
mod engine;
mod goproxy;
mod process;
mod proxy;
mod registry;
mod skopeo;
mod spdx;
mod tls_front;
mod token;
mod wire;

pub use certs::TlsMaterial;
pub use engine::{Podman, RecordingFront, engine_tools_available};
pub use goproxy::{GoProxy, GoProxyRequest};
pub use proxy::{Fault, FaultProxy, ProxyLogEntry, RequestMatch};
pub use registry::{AccessLogEntry, Registry, RegistryKind};
pub use skopeo::{Skopeo, skopeo_copy, skopeo_inspect_raw};
pub use spdx::validate_spdx;
pub use tls_front::TlsFront;
pub use token::TokenRequest;

/// Whether the external tools the registry fixtures need are installed. Tests may use this
/// to skip with a message instead of failing on a machine without them.
pub fn tools_available() -> bool {
    [
        "/usr/bin/docker-registry",
        "/usr/bin/htpasswd",
        "/usr/bin/skopeo",
    ]
    .iter()
    .all(|p| std::path::Path::new(p).exists())
}

/// A free TCP port on 127.0.0.1 (bound then released; callers retry on a collision).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}
