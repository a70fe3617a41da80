//! The one error type of this crate: what is wrong, and where (1-based line and column).

use crate::Location;
use crate::limits::{MAX_DEPTH, MAX_NODES};

/// Why a YAML input could not be read. `Display` gives the message without the position;
/// each caller places it in its own diagnostic format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    pub kind: ErrorKind,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not YAML (the parser's own message).
    #[error("{0}")]
    Syntax(String),
    #[error("file is not valid UTF-8")]
    NotUtf8,
    /// A line, value or document over [`crate::limits`]; the message quotes a short excerpt.
    #[error("{0}")]
    TooLarge(String),
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("document too large: more than {MAX_NODES} nodes (after expanding aliases)")]
    TooManyNodes,
    /// An alias inside the node its anchor names (`a: &x [*x]`); go-yaml rejects it too.
    #[error("alias `*{name}` refers to a node that contains it")]
    RecursiveAlias { name: String },
    /// A mapping repeats a key, which go-yaml v3 rejects.
    #[error("duplicate key `{key}` (first defined at line {first_line})")]
    DuplicateKey { key: String, first_line: usize },
    /// A sequence or mapping used as a mapping key.
    #[error("complex mapping keys are not supported")]
    ComplexKey,
    /// `<<: x` where `x` is not a mapping or a sequence of mappings.
    #[error("merge key `<<` needs a mapping or a sequence of mappings")]
    BadMerge,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, line: usize, column: usize) -> Self {
        Error { kind, line, column }
    }

    pub fn location(&self) -> Location {
        Location {
            line: self.line,
            column: self.column,
        }
    }
}
