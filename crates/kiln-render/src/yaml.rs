//! kiln-render's door to kiln-yaml: the positioned node arena with byte spans that the
//! splices edit, go-yaml v3's scalar resolution, and kiln-yaml's errors as this crate's
//! [`Error`].

pub(crate) use kiln_yaml::ErrorKind;

pub(crate) use kiln_yaml::resolve::resolve_plain;
pub(crate) use kiln_yaml::{Budget, Document, Entry, Kind, Node, NodeId, Resolved, Style, TagKind};

use crate::Error;

/// Parses every document of `text`, within kiln-yaml's limits.
pub(crate) fn parse(text: &str) -> Result<Vec<Document>, Error> {
    Ok(kiln_yaml::parse(text)?)
}

impl From<kiln_yaml::Error> for Error {
    fn from(e: kiln_yaml::Error) -> Self {
        let (line, column) = (e.line, e.column);
        match e.kind {
            ErrorKind::Syntax(message) => Error::Syntax {
                line,
                column,
                message,
            },
            ErrorKind::RecursiveAlias { name } => Error::RecursiveAlias { line, column, name },
            ErrorKind::TooManyNodes => Error::AliasExpansion {
                line,
                column,
                limit: kiln_yaml::limits::MAX_NODES,
            },
            ErrorKind::DuplicateKey { key, first_line } => Error::DuplicateKey {
                line,
                column,
                key,
                first_line,
            },
            ErrorKind::ComplexKey => Error::NotAMapping {
                line,
                column,
                found: "a mapping with a collection as a key".to_owned(),
            },
            ErrorKind::BadMerge => Error::BadMerge { line, column },
            other => Error::TooLarge {
                line,
                column,
                message: other.to_string(),
            },
        }
    }
}
