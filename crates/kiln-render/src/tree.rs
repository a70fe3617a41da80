//! An editable copy of one document and a block-style emitter for it, for the rewrites that
//! change structure (the debug transform). Scalars remember their source spelling, so an
//! untouched `"8080"`, `1.10` or `!!str 5` is written back exactly as it was; aliases are
//! expanded and `<<` merges applied, as Kubernetes' decoder does; comments are not kept.

use crate::scalar::{any_style, double_quoted};
use crate::yaml::{Budget, Document, Kind, NodeId, Resolved, Style, resolve_plain};

/// A scalar: its value, what go-yaml reads it as, and the source text to write back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) value: String,
    pub(crate) resolved: Resolved,
    /// Tag and scalar as written, when they fit on one line (`None` for new values and for
    /// block or multi-line scalars, which are written from `value`).
    raw: Option<String>,
    /// Tag as written, kept when `raw` is `None`.
    tag: Option<String>,
}

impl Scalar {
    pub(crate) fn string(value: impl Into<String>) -> Scalar {
        Scalar {
            value: value.into(),
            resolved: Resolved::Str,
            raw: None,
            tag: None,
        }
    }

    pub(crate) fn int(value: i64) -> Scalar {
        Scalar {
            value: value.to_string(),
            resolved: Resolved::Int,
            raw: None,
            tag: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(Scalar),
    Seq(Vec<Value>),
    Map(Vec<(Scalar, Value)>),
}

impl Value {
    pub(crate) fn string(value: impl Into<String>) -> Value {
        Value::Scalar(Scalar::string(value))
    }

    pub(crate) fn int(value: i64) -> Value {
        Value::Scalar(Scalar::int(value))
    }

    pub(crate) fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Scalar::string(k), v))
                .collect(),
        )
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Scalar(s) if s.resolved == Resolved::Null)
    }

    /// The string, if this is a string scalar.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Scalar(s) if s.resolved == Resolved::Str => Some(&s.value),
            _ => None,
        }
    }

    /// The integer, if this is an integer scalar.
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Scalar(s) if s.resolved == Resolved::Int => {
                kiln_yaml::resolve::parse_int(&s.value).and_then(|v| i64::try_from(v).ok())
            }
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.value == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` (in place if present, else before `before` if that key exists, else at the
    /// end). Does nothing unless this is a mapping.
    pub(crate) fn set(&mut self, key: &str, value: Value, before: Option<&str>) {
        let Value::Map(entries) = self else {
            return;
        };
        if let Some((_, v)) = entries.iter_mut().find(|(k, _)| k.value == key) {
            *v = value;
            return;
        }
        let at = before
            .and_then(|b| entries.iter().position(|(k, _)| k.value == b))
            .unwrap_or(entries.len());
        entries.insert(at, (Scalar::string(key), value));
    }

    pub(crate) fn remove(&mut self, key: &str) {
        if let Value::Map(entries) = self {
            entries.retain(|(k, _)| k.value != key);
        }
    }

    /// The mapping under `key`, created (before `before`) if absent or null.
    pub(crate) fn map_entry(&mut self, key: &str, before: Option<&str>) -> Option<&mut Value> {
        if self.get(key).is_none_or(Value::is_null) {
            self.set(key, Value::Map(Vec::new()), before);
        }
        self.get_mut(key).filter(|v| matches!(v, Value::Map(_)))
    }

    /// The sequence under `key`, created if absent or null.
    pub(crate) fn seq_entry(&mut self, key: &str) -> Option<&mut Vec<Value>> {
        if self.get(key).is_none_or(Value::is_null) {
            self.set(key, Value::Seq(Vec::new()), None);
        }
        match self.get_mut(key) {
            Some(Value::Seq(items)) => Some(items),
            _ => None,
        }
    }
}

/// Copies node `id` of `doc` into an editable value, expanding aliases and applying `<<`
/// merges as go-yaml does ([`Document::entries`]: a repeated key keeps its last value).
/// `None` if the document cannot be a Kubernetes object (a collection as a mapping key, a
/// merge of something other than mappings) or its aliases expand beyond kiln-yaml's limits.
pub(crate) fn from_document(doc: &Document, text: &str, id: NodeId) -> Option<Value> {
    convert(doc, text, id, &mut Budget::new(), 0)
}

fn convert(
    doc: &Document,
    text: &str,
    id: NodeId,
    budget: &mut Budget,
    depth: usize,
) -> Option<Value> {
    budget.spend(doc, id, depth).ok()?;
    let id = doc.resolve(id);
    Some(match &doc.node(id).kind {
        Kind::Scalar { .. } => Value::Scalar(scalar(doc, text, id)),
        Kind::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|&i| convert(doc, text, i, budget, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Kind::Map(_) => Value::Map(
            doc.entries(id, budget, depth)
                .ok()?
                .into_iter()
                .map(|e| {
                    let value = convert(doc, text, e.value, budget, depth + 1)?;
                    Some((scalar(doc, text, e.key_id), value))
                })
                .collect::<Option<_>>()?,
        ),
        Kind::Alias(_) => return None,
    })
}

fn scalar(doc: &Document, text: &str, id: NodeId) -> Scalar {
    let node = doc.node(id);
    let (value, style) = doc.scalar(id).map_or(("", Style::Plain), |(v, s)| (v, s));
    let source = text.get(node.start..node.end).unwrap_or("");
    let single_line = matches!(style, Style::Plain | Style::Single | Style::Double)
        && !source.contains(['\n', '\r']);
    let raw = single_line.then(|| match &node.tag_text {
        Some(tag) if source.is_empty() => tag.clone(),
        Some(tag) => format!("{tag} {source}"),
        None => source.to_owned(),
    });
    Scalar {
        value: value.to_owned(),
        resolved: doc.resolved(id).unwrap_or(Resolved::Str),
        raw,
        tag: node.tag_text.clone(),
    }
}

/// Writes `value` in block style, two spaces per level, lists at their key's indentation
/// (kubectl's and go-yaml's layout), ending with a line break.
pub(crate) fn emit(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0, false),
        Value::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        other => {
            out.push_str(&inline(other, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, entries: &[(Scalar, Value)], indent: usize, first_inline: bool) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 || !first_inline {
            push_indent(out, indent);
        }
        out.push_str(&key_text(k));
        out.push(':');
        write_after_indicator(out, v, indent, false);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize, first_inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !first_inline {
            push_indent(out, indent);
        }
        out.push('-');
        write_after_indicator(out, item, indent, true);
    }
}

/// Writes what follows `key:` or `-` at `indent`.
fn write_after_indicator(out: &mut String, v: &Value, indent: usize, in_seq: bool) {
    match v {
        Value::Map(entries) if !entries.is_empty() => {
            if in_seq {
                out.push(' ');
                write_map(out, entries, indent + 2, true);
            } else {
                out.push('\n');
                write_map(out, entries, indent + 2, false);
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            if in_seq {
                out.push(' ');
                write_seq(out, items, indent + 2, true);
            } else {
                out.push('\n');
                write_seq(out, items, indent, false);
            }
        }
        other => {
            let text = inline(other, indent + 2);
            if !text.is_empty() {
                out.push(' ');
                out.push_str(&text);
            }
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
}

/// A scalar or empty collection; block scalars carry their own lines at `block_indent`.
fn inline(v: &Value, block_indent: usize) -> String {
    match v {
        Value::Map(_) => "{}".to_owned(),
        Value::Seq(_) => "[]".to_owned(),
        Value::Scalar(s) => {
            if let Some(raw) = &s.raw {
                return raw.clone();
            }
            let body = if s.resolved == Resolved::Str || s.tag.is_some() {
                string_text(&s.value, block_indent)
            } else if resolve_plain(&s.value) == s.resolved {
                s.value.clone()
            } else {
                double_quoted(&s.value)
            };
            match &s.tag {
                Some(tag) => format!("{tag} {body}"),
                None => body,
            }
        }
    }
}

/// A string value: one-line strings as plain/quoted scalars, multi-line ones as literal
/// blocks (`|`, `|-`, `|+`) when they can be, else double-quoted.
fn string_text(s: &str, block_indent: usize) -> String {
    let literal_ok = s.contains('\n')
        && !s.trim().is_empty()
        && !s.chars().any(|c| {
            c != '\n' && (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
        });
    if !literal_ok {
        return any_style(s, false);
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let indicator = if body.starts_with(' ') { "2" } else { "" };
    let mut out = format!("|{indicator}{chomp}\n");
    let pad = " ".repeat(block_indent.max(1));
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    out
}

fn key_text(k: &Scalar) -> String {
    match &k.raw {
        Some(raw) if !raw.is_empty() => raw.clone(),
        _ => {
            let body = if k.resolved == Resolved::Null && k.value == "~" {
                "~".to_owned()
            } else {
                match any_style(&k.value, false) {
                    s if s.contains('\n') => double_quoted(&k.value),
                    s => s,
                }
            };
            match &k.tag {
                Some(tag) => format!("{tag} {body}"),
                None => body,
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn roundtrip(text: &str) -> String {
        let docs = yaml::parse(text).unwrap();
        let doc = &docs[0];
        emit(&from_document(doc, text, doc.root.unwrap()).unwrap())
    }

    #[test]
    fn block_layout_like_kubectl() {
        let text = "a: 1\nb:\n  c: \"8080\"\n  d: [x, 'y']\ne:\n- f: 1\n  g: {}\n- - h\n  - i\n- []\nk:\nl: !!str 5\n";
        assert_eq!(
            roundtrip(text),
            "a: 1\nb:\n  c: \"8080\"\n  d:\n  - x\n  - 'y'\ne:\n- f: 1\n  g: {}\n- - h\n  - i\n- []\nk:\nl: !!str 5\n"
        );
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let text = "a: |\n  x\n   y\nb: >-\n  p\n  q\nc: \"l1\\nl2\\n\\n\"\nd:\n- |-\n  z\n  w\n";
        assert_eq!(
            roundtrip(text),
            "a: |\n  x\n   y\nb: p q\nc: \"l1\\nl2\\n\\n\"\nd:\n- |-\n  z\n  w\n"
        );
        assert_eq!(string_text("l1\nl2\n\n", 2), "|+\n  l1\n  l2\n\n");
        assert_eq!(string_text(" x\ny", 4), "|2-\n     x\n    y\n");
        assert_eq!(string_text("\n", 2), "\"\\n\"");
        assert_eq!(string_text("a\u{1}\nb", 2), "\"a\\x01\\nb\"");
    }

    #[test]
    fn aliases_expand_and_merges_apply() {
        let text = "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nv: &s hi\nw: *s\n";
        assert_eq!(
            roundtrip(text),
            "base:\n  x: 1\n  y: 2\nm:\n  y: 3\n  x: 1\nv: hi\nw: hi\n"
        );
    }
}
