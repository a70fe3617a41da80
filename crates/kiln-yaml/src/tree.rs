//! An owned, editable copy of a document with positions: aliases expanded, `<<` merges
//! applied, repeated keys rejected, nulls normalised. kiln-config types it with serde and
//! patches it (profiles) before typing, and every later error still points at a line and
//! column. Scalars keep their source text (yaml.v3, which Skaffold uses, hands string fields
//! the text: `version: 1.10` stays `"1.10"`).

use crate::document::{Budget, describe_scalar};
use crate::error::Error;
use crate::parse::{Document, Kind, NodeId, Style, TagKind};
use crate::resolve::{
    Resolved, parse_bool, parse_core_bool, parse_float, parse_int, resolve_plain,
};
use crate::{Location, limits};

/// One YAML node with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A non-null scalar, kept as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    /// Plain (unquoted, not a block) scalars are the only untagged ones resolved to
    /// bool/int/float.
    pub plain: bool,
    /// Explicit core-schema tag (`!!str`, `!!int`, ...), if any.
    pub tag: Option<CoreTag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreTag {
    Str,
    Int,
    Float,
    Bool,
}

/// A mapping entry; keys are always scalars here.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_loc: Location,
    pub value: Node,
}

/// A scalar's typed value ([`crate::resolve`]'s reading, with the value).
#[derive(Debug, Clone, PartialEq)]
pub enum Typed<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

/// Copies document `doc` into a tree: an empty document is a null node. Errors: a repeated
/// key, a collection as a key, a bad merge, or aliases expanding past [`crate::limits`].
pub fn document(doc: &Document) -> Result<Node, Error> {
    doc.check_unique_keys()?;
    let Some(root) = doc.root else {
        return Ok(Node::null(doc.start));
    };
    build(doc, root, &mut Budget::new(), 0)
}

fn build(doc: &Document, id: NodeId, budget: &mut Budget, depth: usize) -> Result<Node, Error> {
    budget.spend(doc, id, depth)?;
    let id = doc.resolve(id);
    let node = doc.node(id);
    let value = match &node.kind {
        Kind::Scalar { value, style } => scalar_value(value, *style, node.tag),
        Kind::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|&item| build(doc, item, budget, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map(_) => Value::Map(
            doc.entries(id, budget, depth)?
                .into_iter()
                .map(|e| {
                    Ok(Entry {
                        key: e.key,
                        key_loc: doc.node(e.key_id).location(),
                        value: build(doc, e.value, budget, depth + 1)?,
                    })
                })
                .collect::<Result<_, Error>>()?,
        ),
        // `resolve` never returns an alias.
        Kind::Alias(_) => Value::Null,
    };
    Ok(Node::new(value, node.location()))
}

fn scalar_value(text: &str, style: Style, tag: TagKind) -> Value {
    let tag = match tag {
        TagKind::Null => return Value::Null,
        TagKind::Str => Some(CoreTag::Str),
        TagKind::Int => Some(CoreTag::Int),
        TagKind::Float => Some(CoreTag::Float),
        TagKind::Bool => Some(CoreTag::Bool),
        TagKind::None | TagKind::Merge | TagKind::Other => None,
    };
    let plain = style == Style::Plain;
    if plain && tag.is_none() && resolve_plain(text) == Resolved::Null {
        return Value::Null;
    }
    Value::Scalar(Scalar {
        text: text.to_owned(),
        plain,
        tag,
    })
}

impl Node {
    pub fn new(value: Value, loc: Location) -> Self {
        Node { value, loc }
    }

    pub fn null(loc: Location) -> Self {
        Node::new(Value::Null, loc)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value under `key` if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|e| e.key == key)
                .map(|e| &mut e.value),
            _ => None,
        }
    }

    /// Removes `key` from a mapping and returns its entry.
    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        match &mut self.value {
            Value::Map(entries) => {
                let i = entries.iter().position(|e| e.key == key)?;
                Some(entries.remove(i))
            }
            _ => None,
        }
    }

    /// Sets `key` in a mapping, keeping its position if it already exists.
    pub fn set(&mut self, key: &str, key_loc: Location, value: Node) {
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

    pub fn index(&self, i: usize) -> Option<&Node> {
        match &self.value {
            Value::Seq(items) => items.get(i),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The scalar text, for scalars.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Typed value of a scalar (None for collections).
    pub fn typed(&self) -> Option<Typed<'_>> {
        match &self.value {
            Value::Null => Some(Typed::Null),
            Value::Scalar(s) => Some(s.typed()),
            _ => None,
        }
    }

    /// Short description for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "null".to_owned(),
            Value::Seq(_) => "a sequence".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
            Value::Scalar(s) => {
                let kind = match s.typed() {
                    Typed::Bool(_) => Resolved::Bool,
                    Typed::Int(_) => Resolved::Int,
                    Typed::Float(_) => Resolved::Float,
                    _ => Resolved::Str,
                };
                describe_scalar(&s.text, kind)
            }
        }
    }

    /// Structural equality on typed values, ignoring positions and mapping order
    /// (the JSON-patch `test` operation).
    pub fn semantic_eq(&self, other: &Node) -> bool {
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
            _ => match (self.typed(), other.typed()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// (node count, height) of the subtree, to keep edited trees within [`crate::limits`].
    pub fn measure(&self) -> (usize, usize) {
        match &self.value {
            Value::Seq(items) => items.iter().fold((1, 1), |(s, h), n| {
                let (ns, nh) = n.measure();
                (s.saturating_add(ns), h.max(nh + 1))
            }),
            Value::Map(entries) => entries.iter().fold((1, 1), |(s, h), e| {
                let (ns, nh) = e.value.measure();
                (s.saturating_add(ns), h.max(nh + 1))
            }),
            _ => (1, 0),
        }
    }

    /// Whether an edited tree is still within [`crate::limits`].
    pub fn within_limits(&self) -> bool {
        let (size, height) = self.measure();
        size <= limits::MAX_NODES && height <= limits::MAX_DEPTH
    }
}

impl Scalar {
    /// The typed value: `!!str` and non-plain scalars are strings; an explicit `!!int`,
    /// `!!float` or `!!bool` tag reads the text as that type (a string if it is none);
    /// untagged plain scalars as [`crate::resolve`] says (timestamps stay strings).
    pub fn typed(&self) -> Typed<'_> {
        let text = self.text.as_str();
        let typed = match self.tag {
            Some(CoreTag::Str) => None,
            Some(CoreTag::Bool) => parse_bool(text).map(Typed::Bool),
            Some(CoreTag::Int) => parse_int(text).map(Typed::Int),
            Some(CoreTag::Float) => parse_float(text).map(Typed::Float),
            None if !self.plain => None,
            None => match resolve_plain(text) {
                Resolved::Null => Some(Typed::Null),
                Resolved::Bool => parse_core_bool(text).map(Typed::Bool),
                Resolved::Int => parse_int(text).map(Typed::Int),
                Resolved::Float => parse_float(text).map(Typed::Float),
                _ => None,
            },
        };
        typed.unwrap_or(Typed::Str(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let docs = crate::parse(text).expect("parses");
        assert_eq!(docs.len(), 1);
        document(&docs[0]).expect("tree")
    }

    fn tree_err(text: &str) -> Error {
        let docs = crate::parse(text).expect("parses");
        docs.iter()
            .map(document)
            .find_map(Result::err)
            .expect("an error")
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
    fn types_scalars_as_go_yaml_v3() {
        let doc = one(
            "a: true\nb: 0x10\nc: '5'\nd: 1e3\ne: !!str 7\nf: yes\ng: 010\nh: 08\ni: !!int 0o7\n",
        );
        let typed = |k: &str| doc.get(k).and_then(Node::typed);
        assert_eq!(typed("a"), Some(Typed::Bool(true)));
        assert_eq!(typed("b"), Some(Typed::Int(16)));
        assert_eq!(typed("c"), Some(Typed::Str("5")));
        assert_eq!(typed("d"), Some(Typed::Float(1000.0)));
        assert_eq!(typed("e"), Some(Typed::Str("7")));
        assert_eq!(typed("f"), Some(Typed::Str("yes")));
        assert_eq!(typed("g"), Some(Typed::Int(8)));
        assert_eq!(typed("h"), Some(Typed::Float(8.0)));
        assert_eq!(typed("i"), Some(Typed::Int(7)));
        assert_eq!(doc.get("g").unwrap().describe(), "integer `010`");
    }

    #[test]
    fn multi_document_and_empty_documents() {
        let docs = crate::parse("a: 1\n---\n---\nb: 2\n").expect("parses");
        assert_eq!(docs.len(), 3);
        assert!(document(&docs[1]).expect("tree").is_null());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = tree_err("a: 1\nb: 2\na: 3\n");
        assert_eq!(err.location(), Location { line: 3, column: 1 });
        assert_eq!(
            err.to_string(),
            "duplicate key `a` (first defined at line 1)"
        );
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let doc = one("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let used = doc.get("use").expect("use");
        assert_eq!(used.get("x").and_then(Node::as_str), Some("1"));
        assert_eq!(used.get("y").and_then(Node::as_str), Some("3"));
        assert_eq!(doc.get("list").expect("list").as_seq().len(), 1);
        let err = tree_err("a: [1]\nb:\n  <<: 1\n");
        assert_eq!(
            err.to_string(),
            "merge key `<<` needs a mapping or a sequence of mappings"
        );
        let err = tree_err("? [a]\n: 1\n");
        assert_eq!(err.to_string(), "complex mapping keys are not supported");
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
        let started = std::time::Instant::now();
        let err = tree_err(&text);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(err.to_string().contains("too large"), "{err}");
    }
}
