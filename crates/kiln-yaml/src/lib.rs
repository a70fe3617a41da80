//! kiln-yaml: the one YAML reader that `kiln-config` and `kiln-render` share, with no I/O.
//!
//! - [`parse`] turns a stream into [`Document`]s: one arena of positioned nodes per
//!   document (byte spans, line and column, scalar styles, tags, anchors; aliases are nodes
//!   that point at their anchor), built from the event parser that serde-saphyr re-exports.
//! - [`resolve`] says what a scalar means the way go-yaml v3 (which Skaffold and ko use)
//!   reads it: `010` is the octal 8, `1.10` a float, `2001-01-01` a timestamp, `yes` a string
//!   (but `true` for a bool field).
//! - [`Document::entries`] gives a mapping's entries as go-yaml decodes them (aliases
//!   followed, `<<` merges applied); [`tree`] copies a document into an owned, editable tree
//!   with positions (what kiln-config types and patches).
//! - [`limits`] is the one set of bounds every reader gets: line and value length,
//!   document size, nesting, and nodes after alias expansion. Nothing panics or runs away on
//!   any input.

mod document;
mod error;
pub mod limits;
mod parse;
pub mod resolve;
pub mod tree;

pub use document::{Budget, Entry};
pub use error::{Error, ErrorKind};
pub use parse::{Document, Kind, Node, NodeId, Style, TagKind, decode_utf8, parse};
pub use resolve::Resolved;

/// A 1-based line and column in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_010_is_octal_8_as_in_go_yaml_v3() {
        // Skaffold reads `build.local.concurrency: 010` with go-yaml v3, whose resolver
        // calls strconv.ParseInt(s, 0, 64): a leading 0 means octal.
        let docs = parse("build:\n  local:\n    concurrency: 010\n").unwrap();
        let tree = tree::document(&docs[0]).unwrap();
        let value = tree
            .get("build")
            .and_then(|b| b.get("local"))
            .and_then(|l| l.get("concurrency"))
            .expect("concurrency");
        assert_eq!(value.typed(), Some(tree::Typed::Int(8)));
        assert_eq!(resolve::parse_int("010"), Some(8));
    }
}
