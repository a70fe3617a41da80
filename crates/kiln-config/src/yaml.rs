//! A small positioned YAML tree.
//!
//! Profiles patch the YAML *before* it is typed, and every later error must still point at a
//! line and column, so the loader needs a tree that keeps positions and the exact scalar text
//! (yaml.v3, which Skaffold uses, hands string fields the source text: `version: 1.10` stays
//! `"1.10"`). serde-saphyr's typed API resolves scalars eagerly, so this module builds the
//! tree from the event parser that serde-saphyr re-exports (`serde_saphyr::granit_parser`).

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Marker, Options, Parser, ScalarStyle, Tag};

use crate::Location;

/// Deepest nesting accepted. Skaffold configs are a dozen levels deep; the bound keeps every
/// recursive walk in this crate (typing, patching, dropping) far from the stack limit.
pub(crate) const MAX_DEPTH: usize = 256;
/// Most nodes one file may expand to, aliases included ("billion laughs" guard).
pub(crate) const MAX_NODES: usize = 200_000;
/// Largest configuration file read. Skaffold configs are kilobytes; the bound keeps a
/// runaway file from costing seconds and hundreds of megabytes before any error.
pub(crate) const MAX_FILE_BYTES: usize = 4 << 20;
/// Longest scalar (and line) accepted: far above any real field, far below a pasted blob.
pub(crate) const MAX_SCALAR_BYTES: usize = 256 << 10;
/// How much of an over-long value an error quotes.
const EXCERPT_CHARS: usize = 40;

/// One YAML node with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) loc: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A non-null scalar, kept as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    /// Plain (unquoted, untagged-as-string) scalars are the only ones resolved to bool/int/float.
    pub(crate) plain: bool,
    /// Explicit core-schema tag (`!!str`, `!!int`, ...), if any.
    pub(crate) tag: Option<CoreTag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoreTag {
    Str,
    Int,
    Float,
    Bool,
}

/// A mapping entry; keys are always scalars here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_loc: Location,
    pub(crate) value: Node,
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

/// A YAML syntax (or structure) problem.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub(crate) loc: Location,
    pub(crate) message: String,
}

impl Node {
    pub(crate) fn new(value: Value, loc: Location) -> Self {
        Node { value, loc }
    }

    pub(crate) fn null(loc: Location) -> Self {
        Node::new(Value::Null, loc)
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value under `key` if this is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|e| e.key == key)
                .map(|e| &mut e.value),
            _ => None,
        }
    }

    /// Removes `key` from a mapping and returns its entry.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Entry> {
        match &mut self.value {
            Value::Map(entries) => {
                let i = entries.iter().position(|e| e.key == key)?;
                Some(entries.remove(i))
            }
            _ => None,
        }
    }

    /// Sets `key` in a mapping, keeping its position if it already exists.
    pub(crate) fn set(&mut self, key: &str, key_loc: Location, value: Node) {
        if let Value::Map(entries) = &mut self.value {
            if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
                e.value = value;
            } else {
                entries.push(Entry {
                    key: key.to_owned(),
                    key_loc,
                    value,
                });
            }
        }
    }

    pub(crate) fn index(&self, i: usize) -> Option<&Node> {
        match &self.value {
            Value::Seq(items) => items.get(i),
            _ => None,
        }
    }

    pub(crate) fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The scalar text, for scalars.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Core-schema meaning of a scalar (None for collections).
    pub(crate) fn resolve(&self) -> Option<Resolved<'_>> {
        match &self.value {
            Value::Null => Some(Resolved::Null),
            Value::Scalar(s) => Some(s.resolve()),
            _ => None,
        }
    }

    /// Short description for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".to_owned(),
            Value::Seq(_) => "a sequence".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
            Value::Scalar(s) => {
                let mut text: String = s.text.chars().take(40).collect();
                if text.len() < s.text.len() {
                    text.push('…');
                }
                match s.resolve() {
                    Resolved::Bool(_) => format!("boolean `{text}`"),
                    Resolved::Int(_) => format!("integer `{text}`"),
                    Resolved::Float(_) => format!("number `{text}`"),
                    _ => format!("string `{text}`"),
                }
            }
        }
    }

    /// Structural equality on resolved values, ignoring positions and mapping order
    /// (used by the JSON-patch `test` operation).
    pub(crate) fn semantic_eq(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (Value::Seq(a), Value::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.semantic_eq(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter().all(|ea| {
                        b.iter()
                            .find(|eb| eb.key == ea.key)
                            .is_some_and(|eb| ea.value.semantic_eq(&eb.value))
                    })
            }
            _ => match (self.resolve(), other.resolve()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl Scalar {
    pub(crate) fn resolve(&self) -> Resolved<'_> {
        let text = self.text.as_str();
        match self.tag {
            Some(CoreTag::Str) => return Resolved::Str(text),
            Some(CoreTag::Bool) => {
                return parse_bool(text).map_or(Resolved::Str(text), Resolved::Bool);
            }
            Some(CoreTag::Int) => {
                return parse_int(text).map_or(Resolved::Str(text), Resolved::Int);
            }
            Some(CoreTag::Float) => {
                return parse_float(text).map_or(Resolved::Str(text), Resolved::Float);
            }
            None => {}
        }
        if !self.plain {
            return Resolved::Str(text);
        }
        if is_null_text(text) {
            return Resolved::Null;
        }
        if let Some(b) = parse_core_bool(text) {
            return Resolved::Bool(b);
        }
        if let Some(i) = parse_int(text) {
            return Resolved::Int(i);
        }
        if looks_numeric(text)
            && let Some(f) = parse_float(text)
        {
            return Resolved::Float(f);
        }
        Resolved::Str(text)
    }
}

fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_core_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Booleans as yaml.v3 accepts them *for bool targets* (YAML 1.1 words included).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    parse_core_bool(text).or(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    })
}

/// Integers: optional sign, `0x`/`0o`/`0b` prefixes, `_` separators (as yaml.v3).
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    if digits.is_empty() || text.starts_with('_') {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = digits.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = digits.strip_prefix("0b") {
        (2, rest)
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    Some(if neg { -magnitude } else { magnitude })
}

fn looks_numeric(text: &str) -> bool {
    let t = text.trim_start_matches(['-', '+']);
    matches!(t, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN")
        || (t.starts_with(|c: char| c.is_ascii_digit() || c == '.')
            && t.chars().any(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+' | '_')))
}

pub(crate) fn parse_float(text: &str) -> Option<f64> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    let magnitude = match body {
        ".inf" | ".Inf" | ".INF" => f64::INFINITY,
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ if body.chars().any(|c| c.is_ascii_digit())
            && body
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')) =>
        {
            body.parse::<f64>().ok()?
        }
        _ => return None,
    };
    Some(if neg { -magnitude } else { magnitude })
}

fn location(marker: &Marker) -> Location {
    Location {
        line: marker.line().max(1),
        column: marker.col() + 1,
    }
}

/// Decodes file bytes as UTF-8, pointing at the first bad byte otherwise.
pub(crate) fn decode_utf8(bytes: &[u8]) -> Result<&str, YamlError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // `good` is valid UTF-8 by construction.
        let good = std::str::from_utf8(good).unwrap_or_default();
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        YamlError {
            loc: Location { line, column },
            message: "file is not valid UTF-8".to_owned(),
        }
    })
}

/// Refuses files and lines over the limits before the parser scans them (one linear pass).
fn check_size(text: &str) -> Result<(), YamlError> {
    use kiln_core::text::{excerpt, long_line, size};
    if text.len() > MAX_FILE_BYTES {
        return Err(YamlError {
            loc: Location { line: 1, column: 1 },
            message: format!(
                "the file is {}; configuration files are limited to {}",
                size(text.len()),
                size(MAX_FILE_BYTES)
            ),
        });
    }
    if let Some((line, len, start)) = long_line(text, MAX_SCALAR_BYTES) {
        return Err(YamlError {
            loc: Location { line, column: 1 },
            message: format!(
                "line of {} (`{}`) is longer than the {} limit on lines and values",
                size(len),
                excerpt(start.trim_start(), EXCERPT_CHARS),
                size(MAX_SCALAR_BYTES)
            ),
        });
    }
    Ok(())
}

/// Parses every document of a YAML stream. Empty documents come back as null nodes.
/// Bounded: file size and line length before parsing; scalar length, nesting and node
/// count (aliases expanded) while parsing.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    check_size(text)?;
    let mut options = Options::default();
    options.set_emit_comments(false);
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut docs = Vec::new();
    let mut builder = Builder::default();
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| YamlError {
            loc: location(e.marker()),
            message: {
                let info = e.info();
                if info.is_empty() {
                    "invalid YAML".to_owned()
                } else {
                    info
                }
            },
        })?;
        let loc = location(&span.start);
        match event {
            Event::DocumentStart(..) => builder.start_document(loc),
            Event::DocumentEnd => docs.push(builder.finish_document()?),
            Event::Scalar(text, style, anchor, tag) => {
                if text.len() > MAX_SCALAR_BYTES {
                    return Err(YamlError {
                        loc,
                        message: format!(
                            "value of {} (`{}`) is longer than the {} limit",
                            kiln_core::text::size(text.len()),
                            kiln_core::text::excerpt(&text, EXCERPT_CHARS),
                            kiln_core::text::size(MAX_SCALAR_BYTES)
                        ),
                    });
                }
                let value = scalar_value(text.into_owned(), style, tag.as_deref());
                builder.node(Node::new(value, loc), anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                builder.open(Frame::Seq(Vec::new()), loc, anchor)?
            }
            Event::MappingStart(_, anchor, _) => {
                builder.open(
                    Frame::Map {
                        entries: Vec::new(),
                        key: None,
                        merges: Vec::new(),
                    },
                    loc,
                    anchor,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close()?,
            Event::Alias(id) => builder.alias(id, loc)?,
            _ => {}
        }
    }
    Ok(docs)
}

fn scalar_value(text: String, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let core = tag.and_then(Tag::core_suffix);
    let plain = style == ScalarStyle::Plain;
    let tag = match core {
        Some("null") => return Value::Null,
        Some("str") => Some(CoreTag::Str),
        Some("int") => Some(CoreTag::Int),
        Some("float") => Some(CoreTag::Float),
        Some("bool") => Some(CoreTag::Bool),
        _ => None,
    };
    if plain && tag.is_none() && is_null_text(&text) {
        return Value::Null;
    }
    Value::Scalar(Scalar { text, plain, tag })
}

enum Frame {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        key: Option<PendingKey>,
        merges: Vec<Node>,
    },
}

/// A mapping key waiting for its value; `merge` marks a plain `<<`.
struct PendingKey {
    text: String,
    loc: Location,
    merge: bool,
}

struct Open {
    frame: Frame,
    loc: Location,
    anchor: usize,
}

/// Anchored node plus its size and height, so aliases can be budgeted without re-walking.
struct Anchored {
    node: Node,
    size: usize,
    height: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    doc_loc: Location,
    anchors: HashMap<usize, Anchored>,
    nodes: usize,
}

impl Builder {
    fn start_document(&mut self, loc: Location) {
        self.stack.clear();
        self.root = None;
        self.anchors.clear();
        self.doc_loc = loc;
    }

    fn finish_document(&mut self) -> Result<Node, YamlError> {
        if let Some(open) = self.stack.last() {
            return Err(YamlError {
                loc: open.loc,
                message: "unterminated collection".to_owned(),
            });
        }
        Ok(self.root.take().unwrap_or_else(|| Node::null(self.doc_loc)))
    }

    fn count(&mut self, n: usize, loc: Location) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                loc,
                message: format!(
                    "document too large: more than {MAX_NODES} nodes (after expanding aliases)"
                ),
            });
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, loc: Location, anchor: usize) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                loc,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        self.count(1, loc)?;
        self.stack.push(Open { frame, loc, anchor });
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let Some(open) = self.stack.pop() else {
            return Err(YamlError {
                loc: self.doc_loc,
                message: "unbalanced collection end".to_owned(),
            });
        };
        let value = match open.frame {
            Frame::Seq(items) => Value::Seq(items),
            Frame::Map {
                mut entries,
                key,
                merges,
            } => {
                if let Some(k) = key {
                    return Err(YamlError {
                        loc: k.loc,
                        message: "mapping key without a value".to_owned(),
                    });
                }
                apply_merges(&mut entries, merges)?;
                Value::Map(entries)
            }
        };
        self.finish_node(Node::new(value, open.loc), open.anchor)
    }

    /// A scalar node (already counted as one).
    fn node(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        self.count(1, node.loc)?;
        self.finish_node(node, anchor)
    }

    fn alias(&mut self, id: usize, loc: Location) -> Result<(), YamlError> {
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(YamlError {
                loc,
                message: "unknown alias".to_owned(),
            });
        };
        if self.stack.len() + anchored.height > MAX_DEPTH {
            return Err(YamlError {
                loc,
                message: format!("alias expands to nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        let (size, node) = (anchored.size, anchored.node.clone());
        self.count(size, loc)?;
        self.attach(node)
    }

    fn finish_node(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            let (size, height) = measure(&node);
            self.anchors.insert(
                anchor,
                Anchored {
                    node: node.clone(),
                    size,
                    height,
                },
            );
        }
        self.attach(node)
    }

    fn attach(&mut self, node: Node) -> Result<(), YamlError> {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut top.frame {
            Frame::Seq(items) => items.push(node),
            Frame::Map {
                entries,
                key,
                merges,
            } => match key.take() {
                None => {
                    let (text, merge) = match node.value {
                        Value::Null => (String::new(), false),
                        Value::Scalar(s) => {
                            let merge = s.plain && s.tag.is_none() && s.text == "<<";
                            (s.text, merge)
                        }
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError {
                                loc: node.loc,
                                message: "complex mapping keys are not supported".to_owned(),
                            });
                        }
                    };
                    *key = Some(PendingKey {
                        text,
                        loc: node.loc,
                        merge,
                    });
                }
                Some(k) => {
                    if k.merge {
                        merges.push(node);
                    } else if let Some(first) = entries.iter().find(|e| e.key == k.text) {
                        return Err(YamlError {
                            loc: k.loc,
                            message: format!(
                                "duplicate key `{}` (first defined at line {})",
                                k.text, first.key_loc.line
                            ),
                        });
                    } else {
                        entries.push(Entry {
                            key: k.text,
                            key_loc: k.loc,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

/// YAML merge keys (`<<: *base`): explicit keys win, then earlier merge sources.
fn apply_merges(entries: &mut Vec<Entry>, merges: Vec<Node>) -> Result<(), YamlError> {
    for merge in merges {
        let sources = match merge.value {
            Value::Map(_) => vec![merge],
            Value::Seq(items) => items,
            _ => {
                return Err(YamlError {
                    loc: merge.loc,
                    message: "merge key `<<` needs a mapping or a sequence of mappings".to_owned(),
                });
            }
        };
        for source in sources {
            let Value::Map(source_entries) = source.value else {
                return Err(YamlError {
                    loc: source.loc,
                    message: "merge key `<<` needs a mapping or a sequence of mappings".to_owned(),
                });
            };
            for entry in source_entries {
                if !entries.iter().any(|e| e.key == entry.key) {
                    entries.push(entry);
                }
            }
        }
    }
    Ok(())
}

/// (node count, height) of a subtree; bounded by `MAX_DEPTH`.
pub(crate) fn measure(node: &Node) -> (usize, usize) {
    match &node.value {
        Value::Seq(items) => items.iter().fold((1, 1), |(s, h), n| {
            let (ns, nh) = measure(n);
            (s.saturating_add(ns), h.max(nh + 1))
        }),
        Value::Map(entries) => entries.iter().fold((1, 1), |(s, h), e| {
            let (ns, nh) = measure(&e.value);
            (s.saturating_add(ns), h.max(nh + 1))
        }),
        _ => (1, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse_documents(text).expect("parses");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn keeps_scalar_text_and_positions() {
        let doc = one("a: 1.10\nb:\n  - 'x'\n  - ~\n");
        let a = doc.get("a").expect("a");
        assert_eq!(a.as_str(), Some("1.10"));
        assert_eq!(a.loc, Location { line: 1, column: 4 });
        let b = doc.get("b").expect("b");
        assert_eq!(b.as_seq().len(), 2);
        assert!(b.as_seq()[1].is_null());
        assert_eq!(
            doc.entry("b").expect("b").key_loc,
            Location { line: 2, column: 1 }
        );
    }

    #[test]
    fn resolves_core_schema() {
        let doc = one("a: true\nb: 0x10\nc: '5'\nd: 1e3\ne: !!str 7\nf: yes\n");
        assert_eq!(
            doc.get("a").and_then(Node::resolve),
            Some(Resolved::Bool(true))
        );
        assert_eq!(
            doc.get("b").and_then(Node::resolve),
            Some(Resolved::Int(16))
        );
        assert_eq!(
            doc.get("c").and_then(Node::resolve),
            Some(Resolved::Str("5"))
        );
        assert_eq!(
            doc.get("d").and_then(Node::resolve),
            Some(Resolved::Float(1000.0))
        );
        assert_eq!(
            doc.get("e").and_then(Node::resolve),
            Some(Resolved::Str("7"))
        );
        assert_eq!(
            doc.get("f").and_then(Node::resolve),
            Some(Resolved::Str("yes"))
        );
    }

    #[test]
    fn multi_document_and_empty_documents() {
        let docs = parse_documents("a: 1\n---\n---\nb: 2\n").expect("parses");
        assert_eq!(docs.len(), 3);
        assert!(docs[1].is_null());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!(err.loc, Location { line: 3, column: 1 });
        assert!(err.message.contains("duplicate key `a`"), "{}", err.message);
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let doc = one("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let used = doc.get("use").expect("use");
        assert_eq!(used.get("x").and_then(Node::as_str), Some("1"));
        assert_eq!(used.get("y").and_then(Node::as_str), Some("3"));
        assert_eq!(doc.get("list").expect("list").as_seq().len(), 1);
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_documents(&text).expect_err("too large");
        assert!(err.message.contains("too large"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse_documents(&text).is_err());
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(&" ".repeat(i));
            text.push_str("k:\n");
        }
        assert!(parse_documents(&text).is_err());
    }

    #[test]
    fn huge_values_are_refused_fast_with_a_short_excerpt() {
        // The case: an 8 MiB scalar. Refused before the parser scans it.
        let text = format!("build:\n  image: {}\n", "a".repeat(8 << 20));
        let started = std::time::Instant::now();
        let err = parse_documents(&text).expect_err("too large");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(
            err.message.contains("8.0 MiB") && err.message.contains("4 MiB"),
            "{}",
            err.message
        );
        assert!(err.message.len() < 200, "{}", err.message);
        // Under the file limit, a line over the value limit names its line and starts.
        let text = format!("a: 1\nimage: {}\n", "b".repeat(300 << 10));
        let err = parse_documents(&text).expect_err("long line");
        assert_eq!(err.loc.line, 2);
        assert!(
            err.message.contains("`image: bbbb") && err.message.contains("…`"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("256 KiB") && err.message.len() < 200,
            "{}",
            err.message
        );
        // A value over the limit that spans lines is caught while parsing.
        let block: String = (0..3000)
            .map(|_| format!("  {}\n", "c".repeat(100)))
            .collect();
        let err = parse_documents(&format!("a: |\n{block}")).expect_err("long scalar");
        assert!(err.loc.line <= 2, "{:?}", err.loc);
        assert!(
            err.message.contains("value of") && err.message.len() < 200,
            "{}",
            err.message
        );
        // Values just under the limit are fine.
        parse_documents(&format!("a: {}\n", "d".repeat(200 << 10))).expect("under the limit");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_documents("a: [1, 2\nb: 3\n").expect_err("syntax");
        assert!(err.loc.line >= 1);
        assert!(!err.message.is_empty());
    }

    #[test]
    fn utf8_errors_point_at_the_byte() {
        let err = decode_utf8(b"a: 1\nb: \xff\n").expect_err("bad utf8");
        assert_eq!(err.loc, Location { line: 2, column: 4 });
    }
}
