//! Splices that add entries to a mapping or set a value in place, shared by the namespace
//! injection and the labels: where a new `key: value` line goes in a block mapping (or
//! the entry in a flow one), and whether a node can change without changing another place
//! (an alias, an anchor something aliases, an entry merged in with `<<`); and [`inject`],
//! which makes such a change in every document of a stream, writing a document out again
//! where its splice does not read back as intended.

use crate::Error;
use crate::splice::{self, Edit};
use crate::tree::{self, Value};
use crate::yaml::{self, Document, Entry, Kind, NodeId, Resolved};

/// A new entry's value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum New<'a> {
    Scalar(&'a str),
    /// A mapping of string keys to string values, in this order.
    Map(&'a [(&'a str, &'a str)]),
}

/// The edit that adds `entries` to mapping `map`: in a flow mapping right after its `{`;
/// in a block mapping on lines of their own, after the entry of the first of `after` that
/// it has (else after its last entry), at its indentation. Keys and values are written
/// plain where they read back as the same strings, else double-quoted. `None` where the
/// text around gives no clean place.
pub(crate) fn insert(
    text: &str,
    doc: &Document,
    map: NodeId,
    after: &[&str],
    entries: &[(&str, New<'_>)],
) -> Option<Edit> {
    let node = doc.node(map);
    let Kind::Map(pairs) = &node.kind else {
        return None;
    };
    if entries.is_empty() {
        return None;
    }
    if text.get(node.start..)?.starts_with('{') {
        let items: Vec<String> = entries
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    New::Scalar(s) => splice::standalone(s, true),
                    New::Map(pairs) => {
                        let inner: Vec<String> = pairs
                            .iter()
                            .map(|(k, v)| {
                                format!(
                                    "{}: {}",
                                    splice::standalone(k, true),
                                    splice::standalone(v, true)
                                )
                            })
                            .collect();
                        format!("{{{}}}", inner.join(", "))
                    }
                };
                format!("{}: {value}", splice::standalone(key, true))
            })
            .collect();
        let separator = if pairs.is_empty() { "" } else { ", " };
        let at = node.start + 1;
        return Some(Edit {
            start: at,
            end: at,
            text: format!("{}{separator}", items.join(", ")),
        });
    }
    let key_is = |k: NodeId, want: &str| doc.scalar(doc.resolve(k)).is_some_and(|(s, _)| s == want);
    let (_, previous) = after
        .iter()
        .find_map(|want| pairs.iter().find(|(k, _)| key_is(*k, want)))
        .or_else(|| pairs.last())?;
    let at = line_after(text, doc, *previous)?;
    let indent = " ".repeat(node.col);
    let mut lines = String::new();
    for (key, value) in entries {
        let key = splice::standalone(key, false);
        match value {
            New::Scalar(s) => {
                lines.push_str(&format!(
                    "{indent}{key}: {}\n",
                    splice::standalone(s, false)
                ));
            }
            New::Map(pairs) => {
                lines.push_str(&format!("{indent}{key}:\n"));
                for (k, v) in *pairs {
                    lines.push_str(&format!(
                        "{indent}  {}: {}\n",
                        splice::standalone(k, false),
                        splice::standalone(v, false)
                    ));
                }
            }
        }
    }
    if at > 0 && !text[..at].ends_with('\n') {
        // The last line of the input, without a line break: the new lines go after one
        // and, like it, end without one.
        lines.pop();
        lines.insert(0, '\n');
    }
    Some(Edit {
        start: at,
        end: at,
        text: lines,
    })
}

/// The edits that set the explicit value `id` to `value` in place, or `None` where that
/// would change more than this value or cannot be written cleanly: another place aliases
/// it, or its tag (`!!null`) would no longer fit. An alias gives way to the value (its
/// anchor stays as it is); an empty value gets it written after its key's `:`.
pub(crate) fn set_value(
    text: &str,
    doc: &Document,
    id: NodeId,
    value: &str,
) -> Result<Option<Vec<Edit>>, Error> {
    let node = doc.node(id);
    if let Kind::Alias(_) = node.kind {
        return Ok(Some(splice::replace_scalar(text, doc, id, value)?));
    }
    if referenced(doc, id) || (node.tag_text.is_some() && go_string(doc, id).is_none()) {
        return Ok(None);
    }
    if !matches!(node.kind, Kind::Scalar { .. }) {
        return Ok(None);
    }
    if node.start == node.end {
        return Ok(after_colon(text, node.start).map(|at| {
            vec![Edit {
                start: at,
                end: at,
                text: format!(" {}", splice::standalone(value, node.in_flow)),
            }]
        }));
    }
    Ok(Some(splice::replace_scalar(text, doc, id, value)?))
}

/// Where a line can go after the value `id` of a block mapping entry: after the line it
/// ends on (past a comment there), or, for a value that ends at the next line's
/// indentation (a block scalar, or a collection ending in one), at that line's start.
fn line_after(text: &str, doc: &Document, id: NodeId) -> Option<usize> {
    let node = doc.node(id);
    // An empty value sits at its key's `:` (and so ends a collection whose last value it is).
    let end = after_colon(text, node.end).unwrap_or(node.end);
    let rest = text.get(end..)?;
    let line_end = rest.find('\n').map_or(text.len(), |i| end + i + 1);
    let tail = text[end..line_end].trim();
    if tail.is_empty() || tail.starts_with('#') {
        return Some(line_end);
    }
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..end]
        .bytes()
        .all(|b| b == b' ')
        .then_some(line_start)
}

/// Past the `:` that follows `at` (after blanks), when a blank or the end follows it.
fn after_colon(text: &str, at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    let colon = at + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    let after = text.get(colon..)?.strip_prefix(':')?;
    (after.is_empty() || after.starts_with([' ', '\t', '\r', '\n'])).then_some(colon + 1)
}

/// Whether `entry` is one of `map`'s own pairs (not merged in with `<<`).
pub(crate) fn explicit(doc: &Document, map: NodeId, entry: &Entry) -> bool {
    match &doc.node(doc.resolve(map)).kind {
        Kind::Map(pairs) => pairs.iter().any(|&(k, _)| doc.resolve(k) == entry.key_id),
        _ => false,
    }
}

/// Whether an alias elsewhere in the document points at `id`.
pub(crate) fn referenced(doc: &Document, id: NodeId) -> bool {
    doc.nodes
        .iter()
        .any(|n| matches!(n.kind, Kind::Alias(target) if target == id))
}

/// The string go-yaml v3 decodes `id` to in an `interface{}`: strings, and timestamps
/// (which it keeps as strings there).
pub(crate) fn go_string(doc: &Document, id: NodeId) -> Option<&str> {
    match doc.resolved(id)? {
        Resolved::Str | Resolved::Timestamp => doc.scalar(id).map(|(s, _)| s),
        _ => None,
    }
}

/// The entry of `entries` with key `key`.
pub(crate) fn find<'e>(entries: &'e [Entry], key: &str) -> Option<&'e Entry> {
    entries.iter().find(|e| e.key == key)
}

/// What one document needs.
pub(crate) enum Plan {
    Keep,
    Splice(Vec<Edit>),
    /// Write the document out again with the change made.
    Rewrite,
}

impl From<Option<Edit>> for Plan {
    /// An insertion, or a rewrite where [`insert`] found no clean place.
    fn from(edit: Option<Edit>) -> Plan {
        edit.map_or(Plan::Rewrite, |e| Plan::Splice(vec![e]))
    }
}

/// A change made to every document of a stream (the namespace, the labels): spliced where
/// the splice reads back as intended, else the document is written out again.
pub(crate) trait Injection {
    /// What a document that cannot be written out again lacks ("its labels").
    const WHAT: &'static str;

    /// What document `doc` of `text` needs.
    fn plan(&mut self, text: &str, doc: &Document) -> Result<Plan, Error>;

    /// Makes the change in a document's decoded copy; `None` where it cannot.
    fn change(&self, value: &mut Value) -> Option<()>;

    /// Whether `spliced` (a document of `out`) holds what the change intended for `doc` (of
    /// `text`).
    fn reads_back(&self, text: &str, doc: &Document, out: &str, spliced: &Document) -> bool;

    /// The error for a document that cannot be written out again.
    fn error(line: usize, column: usize, message: String) -> Error;
}

/// What one document of a stream becomes: spliced, or written out again whole.
enum Edits {
    Spliced(Vec<Edit>),
    Rewritten(Edit),
}

/// `text` with `injection` made in every document that needs it.
pub(crate) fn inject(text: &str, injection: &mut impl Injection) -> Result<String, Error> {
    let docs = yaml::parse(text)?;
    // (document index, its edits)
    let mut changes: Vec<(usize, Edits)> = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        let edits = match injection.plan(text, doc)? {
            Plan::Keep => continue,
            Plan::Splice(edits) => Edits::Spliced(edits),
            Plan::Rewrite => Edits::Rewritten(rewrite(text, doc, injection)?),
        };
        changes.push((index, edits));
    }
    let out = apply(text, &changes);
    // A splice that does not read back as intended (odd layouts) gives way to a rewrite.
    let out_docs = yaml::parse(&out).ok();
    let mut failed = false;
    for (index, edits) in &mut changes {
        let doc = &docs[*index];
        let reads_back = |spliced: &Document| injection.reads_back(text, doc, &out, spliced);
        if matches!(edits, Edits::Spliced(_))
            && !out_docs
                .as_ref()
                .and_then(|d| d.get(*index))
                .is_some_and(reads_back)
        {
            *edits = Edits::Rewritten(rewrite(text, doc, injection)?);
            failed = true;
        }
    }
    Ok(if failed { apply(text, &changes) } else { out })
}

fn apply(text: &str, changes: &[(usize, Edits)]) -> String {
    let edits = changes
        .iter()
        .flat_map(|(_, edits)| match edits {
            Edits::Spliced(edits) => edits.clone(),
            Edits::Rewritten(edit) => vec![edit.clone()],
        })
        .collect();
    splice::apply(text, edits)
}

/// The edit that writes `doc` out again with the change made in its decoded copy.
fn rewrite<I: Injection>(text: &str, doc: &Document, injection: &I) -> Result<Edit, Error> {
    let value = doc.root.and_then(|root| {
        let mut value = tree::from_document(doc, text, root)?;
        injection.change(&mut value)?;
        Some((root, value))
    });
    let Some((root, value)) = value else {
        // Where the document starts (its root, else its first line).
        let (line, column) = doc.root.map_or((doc.start.line, doc.start.column), |r| {
            doc.node(r).position()
        });
        return Err(I::error(
            line,
            column,
            format!(
                "this manifest cannot be written out again with {} (a collection as a key, a \
                 merge of something other than mappings, or aliases that expand beyond the \
                 limits)",
                I::WHAT
            ),
        ));
    };
    Ok(splice::replace_document(text, doc.node(root), &value))
}
