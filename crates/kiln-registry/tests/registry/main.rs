//! kiln-registry against a real registry (Debian's docker-registry, CNCF Distribution 2.8),
//! started per test by kiln-testkit, with skopeo as an independent oracle. The only fakes are
//! the fault-injecting proxy used for retry tests and, for the referrers API that
//! Distribution 2.8 lacks, a tiny HTTP server in referrers.rs.

mod auth;
mod common;
mod faults;
mod push;
mod referrers;
mod soak;
mod tls;
