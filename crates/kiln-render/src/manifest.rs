//! Reading a document the way Skaffold's Go code sees it after `yaml.Unmarshal` into
//! `map[string]interface{}`: aliases expanded, `<<` merge keys applied, keys as strings.

use std::collections::HashSet;

use crate::Error;
use crate::yaml::{Document, Kind, NodeId, Resolved};

/// Most nodes a walk may visit through aliases before it is called an alias bomb, and the
/// deepest it may go (the parser bounds nesting without aliases at 255 + 255).
pub(crate) const MAX_VISITS: usize = 1_000_000;
pub(crate) const MAX_DEPTH: usize = 1024;

/// Counts nodes visited, so expanding aliases cannot run away.
pub(crate) struct Budget {
    visits: usize,
}

impl Budget {
    pub(crate) fn new() -> Self {
        Budget { visits: 0 }
    }

    pub(crate) fn spend(&mut self, doc: &Document, id: NodeId, depth: usize) -> Result<(), Error> {
        self.visits += 1;
        if self.visits > MAX_VISITS || depth > MAX_DEPTH {
            let (line, column) = doc.node(id).position();
            return Err(Error::AliasExpansion {
                line,
                column,
                limit: MAX_VISITS,
            });
        }
        Ok(())
    }
}

/// One effective mapping entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) value: NodeId,
}

/// The entries of mapping `map` (alias followed) as Go sees them: explicit entries first, in
/// order, then entries merged in by `<<` keys (a mapping or a list of mappings, aliases
/// followed) whose keys are not already present. Keys are the scalar's text (`null` keys
/// read as the empty string, as go-yaml decodes them into a `string`); a collection key
/// yields `None` for the whole mapping.
pub(crate) fn entries(
    doc: &Document,
    map: NodeId,
    budget: &mut Budget,
    depth: usize,
) -> Result<Option<Vec<Entry>>, Error> {
    let map = doc.resolve(map);
    let Kind::Map(pairs) = &doc.node(map).kind else {
        return Ok(Some(Vec::new()));
    };
    let mut out: Vec<Entry> = Vec::new();
    let mut merges = Vec::new();
    for &(k, v) in pairs {
        let k = doc.resolve(k);
        match doc.resolved(k) {
            None => return Ok(None),
            Some(Resolved::Merge) => merges.push(v),
            Some(Resolved::Null) => push_last_wins(&mut out, String::new(), v),
            Some(_) => {
                let key = doc.scalar(k).map(|(s, _)| s.to_owned()).unwrap_or_default();
                push_last_wins(&mut out, key, v);
            }
        }
    }
    let mut present: HashSet<String> = out.iter().map(|e| e.key.clone()).collect();
    for m in merges {
        budget.spend(doc, m, depth)?;
        let m = doc.resolve(m);
        let sources: Vec<NodeId> = match &doc.node(m).kind {
            Kind::Map(_) => vec![m],
            Kind::Seq(items) => items.clone(),
            _ => Vec::new(),
        };
        for source in sources {
            budget.spend(doc, source, depth + 1)?;
            if !matches!(doc.node(doc.resolve(source)).kind, Kind::Map(_)) {
                continue;
            }
            let Some(merged) = entries(doc, source, budget, depth + 1)? else {
                return Ok(None);
            };
            for e in merged {
                if present.insert(e.key.clone()) {
                    out.push(e);
                }
            }
        }
    }
    Ok(Some(out))
}

fn push_last_wins(out: &mut Vec<Entry>, key: String, value: NodeId) {
    match out.iter_mut().find(|e| e.key == key) {
        Some(e) => e.value = value,
        None => out.push(Entry { key, value }),
    }
}

/// go-yaml v3's `isStringMap`: nested mappings decode to `map[string]interface{}` (which
/// Skaffold's visitor descends into) only if every key is a string or a merge key.
pub(crate) fn is_string_map(doc: &Document, map: NodeId) -> bool {
    let Kind::Map(pairs) = &doc.node(doc.resolve(map)).kind else {
        return false;
    };
    pairs.iter().all(|&(k, _)| {
        matches!(
            doc.resolved(doc.resolve(k)),
            Some(Resolved::Str | Resolved::Merge)
        )
    })
}

/// go-yaml v3 rejects a mapping that repeats a key (`mapping key "x" already defined`).
pub(crate) fn check_unique_keys(doc: &Document) -> Result<(), Error> {
    for node in &doc.nodes {
        let Kind::Map(pairs) = &node.kind else {
            continue;
        };
        if pairs.len() < 2 {
            continue;
        }
        let mut seen: std::collections::HashMap<&str, NodeId> = Default::default();
        for &(k, _) in pairs {
            let Some((value, _)) = doc.scalar(k) else {
                continue;
            };
            if let Some(&first) = seen.get(value) {
                let (line, column) = doc.node(k).position();
                return Err(Error::DuplicateKey {
                    line,
                    column,
                    key: value.to_owned(),
                    first_line: doc.node(first).line,
                });
            }
            seen.insert(value, k);
        }
    }
    Ok(())
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

/// A short description of a node for error messages.
pub(crate) fn describe(doc: &Document, id: NodeId) -> String {
    let id = doc.resolve(id);
    match &doc.node(id).kind {
        Kind::Seq(_) => "a sequence".to_owned(),
        Kind::Map(_) => "a mapping".to_owned(),
        Kind::Alias(_) => "an alias".to_owned(),
        Kind::Scalar { value, .. } => {
            let mut shown: String = value.chars().take(40).collect();
            if shown.len() < value.len() {
                shown.push('…');
            }
            let what = match doc.resolved(id) {
                Some(Resolved::Null) => return "null".to_owned(),
                Some(Resolved::Bool) => "boolean",
                Some(Resolved::Int) => "integer",
                Some(Resolved::Float) => "number",
                Some(Resolved::Timestamp) => "timestamp",
                _ => "string",
            };
            format!("{what} `{shown}`")
        }
    }
}
