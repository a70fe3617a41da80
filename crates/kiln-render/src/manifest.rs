//! Reading a document the way Skaffold's Go code sees it after `yaml.Unmarshal` into
//! `map[string]interface{}`: the Kubernetes parts. The YAML parts (aliases, `<<` merges,
//! string keys, repeated keys, budgets) are kiln-yaml's [`Document::entries`] and friends.

use crate::Error;
use crate::yaml::{Budget, Document, Entry, ErrorKind, Kind, NodeId, Resolved};

/// The root mapping of `doc` and its entries as `yaml.Unmarshal` into a
/// `map[string]interface{}` reads them; `None` for an empty document. Errors where that
/// read fails: a root that is not a mapping, a repeated key, a collection as a key.
pub(crate) fn root_entries(
    doc: &Document,
    budget: &mut Budget,
) -> Result<Option<(NodeId, Vec<Entry>)>, Error> {
    let Some(root) = doc.root else {
        return Ok(None);
    };
    match &doc.node(root).kind {
        Kind::Map(_) => {}
        Kind::Scalar { .. } if doc.resolved(root) == Some(Resolved::Null) => return Ok(None),
        _ => {
            let (line, column) = doc.node(root).position();
            return Err(Error::NotAMapping {
                line,
                column,
                found: doc.describe(root),
            });
        }
    }
    doc.check_unique_keys()?;
    let top = doc.entries(root, budget, 0).map_err(|e| match e.kind {
        ErrorKind::ComplexKey => {
            let (line, column) = doc.node(root).position();
            Error::NotAMapping {
                line,
                column,
                found: "a mapping with a collection as a key".to_owned(),
            }
        }
        _ => e.into(),
    })?;
    Ok(Some((root, top)))
}

/// A top-level field's string value (`manifest["apiVersion"].(string)`).
pub(crate) fn top_level_str<'d>(
    doc: &'d Document,
    entries: &[Entry],
    key: &str,
) -> Option<&'d str> {
    entries
        .iter()
        .find(|e| e.key == key)
        .and_then(|e| doc.str_value(e.value))
}

/// apimachinery's `FromAPIVersionAndKind(...).Group`: the part before the only `/`; an
/// apiVersion with two or more slashes does not parse and gives no group.
pub(crate) fn api_group(api_version: &str) -> &str {
    if api_version.matches('/').count() == 1 {
        api_version.split_once('/').map_or("", |(g, _)| g)
    } else {
        ""
    }
}
