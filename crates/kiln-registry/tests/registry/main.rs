//! kiln-registry against a real registry (Debian's docker-registry, CNCF Distribution 2.8),
//! started per test by kiln-testkit, with skopeo as an independent oracle. The only fake is
//! the fault-injecting proxy used for retry tests.

mod auth;
mod common;
mod faults;
mod push;
mod tls;
