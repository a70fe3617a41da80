//! Reading a document the way Skaffold's Go code sees it after `yaml.Unmarshal` into
//! `map[string]interface{}`: the Kubernetes parts. The YAML parts (aliases, `<<` merges,
//! string keys, repeated keys, budgets) are kiln-yaml's [`Document::entries`] and friends.

use crate::yaml::{Document, Entry};

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
