//! kiln-config's door to kiln-yaml: the positioned tree (aliases expanded, merges applied,
//! scalars as written) that profiles patch and [`crate::de`] types, and its errors as
//! position plus message.

use crate::Location;

pub(crate) use kiln_yaml::limits::MAX_NODES;
pub(crate) use kiln_yaml::resolve::{parse_bool, parse_float, parse_int};
pub(crate) use kiln_yaml::tree::{CoreTag, Entry, Node, Typed, Value};

/// A YAML syntax (or structure) problem.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub(crate) loc: Location,
    pub(crate) message: String,
}

impl From<kiln_yaml::Error> for YamlError {
    fn from(e: kiln_yaml::Error) -> Self {
        YamlError {
            loc: e.location(),
            message: e.kind.to_string(),
        }
    }
}

/// Decodes file bytes as UTF-8, pointing at the first bad byte otherwise.
pub(crate) fn decode_utf8(bytes: &[u8]) -> Result<&str, YamlError> {
    Ok(kiln_yaml::decode_utf8(bytes)?)
}

/// Parses every document of a YAML stream into trees; empty documents are null nodes.
/// Bounded by [`kiln_yaml::limits`].
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    let docs = kiln_yaml::parse(text)?;
    Ok(docs
        .iter()
        .map(kiln_yaml::tree::document)
        .collect::<Result<_, _>>()?)
}
