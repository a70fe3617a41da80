//! The one set of bounds on YAML input, for configuration files and manifests alike.
//!
//! They are sized for the larger of the two, Kubernetes manifests: the API server stores an
//! object of at most about 1.5 MiB, so no value that can be applied is longer than
//! [`MAX_SCALAR_BYTES`], and no real object nests deeper than a few dozen levels or has a
//! million nodes. A Skaffold or ko config is kilobytes and a dozen levels deep. The bounds
//! keep every recursive walk far from the stack limit and make an alias bomb ("billion
//! laughs") an error instead of a hang.

/// Longest line and scalar accepted.
pub const MAX_SCALAR_BYTES: usize = 2 << 20;
/// Largest single document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 8 << 20;
/// Deepest nesting, aliases expanded.
pub const MAX_DEPTH: usize = 256;
/// Most nodes one document may expand to, aliases included.
pub const MAX_NODES: usize = 1_000_000;
/// How much of an over-long value an error quotes.
pub(crate) const EXCERPT_CHARS: usize = 40;
