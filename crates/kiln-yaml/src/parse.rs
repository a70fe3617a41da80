//! Builds one positioned node arena per document from the event parser that serde-saphyr
//! re-exports (`serde_saphyr::granit_parser`).
//!
//! Why granit-parser and not `saphyr-parser` 0.3: it is already in the build (serde-saphyr
//! re-exports it, so its version moves with serde-saphyr's and no second YAML parser enters
//! the graph); its spans carry **byte** offsets (`Span::byte_range`), where saphyr-parser's
//! `Marker::index` counts characters and needs a conversion before slicing; it reports tags
//! with their source span; and it has libyaml's reading of a block scalar that ends the
//! input without a line break (`block_scalar_eof_without_line_feed`), which is how ko's and
//! Skaffold's go-yaml read it.
//!
//! Nodes live in one arena per document, in event (document) order. Aliases are nodes of
//! their own that point at their anchor's node, so a walk can decide whether to follow them
//! (Skaffold decodes into Go maps, which expands aliases) or not (ko walks `yaml.Node`s,
//! where an alias has no children).

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Options, Parser, ScalarStyle, Span, StructureStyle, Tag};

use crate::error::{Error, ErrorKind};
use crate::limits::{EXCERPT_CHARS, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_SCALAR_BYTES};

pub type NodeId = usize;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

/// A node's explicit tag, as far as kiln cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// No tag, or the non-specific `!` (go-yaml treats both alike).
    None,
    /// `!!str` (in any spelling).
    Str,
    /// `!!null`.
    Null,
    /// `!!bool`.
    Bool,
    /// `!!int`.
    Int,
    /// `!!float`.
    Float,
    /// `!!merge`.
    Merge,
    /// Any other tag.
    Other,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar {
        value: String,
        style: Style,
    },
    Seq(Vec<NodeId>),
    Map(Vec<(NodeId, NodeId)>),
    /// An alias; the id is its anchor's node (never itself an alias).
    Alias(NodeId),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    /// Byte offset where the node's text starts: the first character of a scalar (its quote,
    /// for quoted ones), the first content character of a block scalar (not its `|`/`>`
    /// header), the `[`/`{` of a flow collection, the first key/item of a block collection,
    /// the `*` of an alias.
    pub start: usize,
    /// Byte offset just past the node's text (for a block scalar: past its last line break
    /// and trailing blank lines; for a block collection: past its last child).
    pub end: usize,
    /// 1-based line and 0-based column of `start`.
    pub line: usize,
    pub col: usize,
    pub tag: TagKind,
    /// Source text of the tag (`!!str`), if any.
    pub tag_text: Option<String>,
    /// Anchor name (`&name`), if any.
    pub anchor: Option<String>,
    /// Inside a flow collection (`[...]`, `{...}`), where `,[]{}` end a plain scalar.
    pub in_flow: bool,
    /// End of the previous event's text: a block scalar's header lies between this and `start`.
    pub prev_end: usize,
}

impl Node {
    /// 1-based line and column, for error messages.
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.col + 1)
    }

    pub fn location(&self) -> crate::Location {
        crate::Location {
            line: self.line,
            column: self.col + 1,
        }
    }
}

/// One document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    pub nodes: Vec<Node>,
    /// The root node (an empty document has a null plain scalar with an empty span).
    pub root: Option<NodeId>,
    /// Where the document starts (its `---`, or its first content).
    pub start: crate::Location,
}

fn too_large(line: usize, column: usize, what: &str, len: usize, quote: &str, max: usize) -> Error {
    use kiln_core::text::{excerpt, size};
    let message = format!(
        "{what} of {} (`{}`) is longer than the {} limit",
        size(len),
        excerpt(quote.trim_start(), EXCERPT_CHARS),
        size(max)
    );
    Error::new(ErrorKind::TooLarge(message), line, column)
}

/// Decodes input bytes as UTF-8, pointing at the first bad byte otherwise.
pub fn decode_utf8(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|e| {
        // The prefix is valid UTF-8 by construction.
        let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Error::new(ErrorKind::NotUtf8, line, column)
    })
}

/// Parses every document of `text`. Bounded (see [`crate::limits`]): line length before
/// parsing (one linear pass, so a huge value costs no parser time), scalar length, document
/// size and nesting while parsing. Aliases are not expanded here; walks that follow them
/// spend a [`crate::Budget`].
pub fn parse(text: &str) -> Result<Vec<Document>, Error> {
    if let Some((line, len, start)) = kiln_core::text::long_line(text, MAX_SCALAR_BYTES) {
        return Err(too_large(line, 1, "a line", len, start, MAX_SCALAR_BYTES));
    }
    let mut options = Options::default();
    options.block_scalar_eof_without_line_feed = true;
    options.emit_anchor_events = true;
    options.set_emit_comments(false);
    let parser = Parser::new_from_str_with_options(text, options);

    let mut docs = Vec::new();
    let mut builder: Option<Builder> = None;
    let mut last_end = 0usize;
    let mut doc_start = 0usize;
    for item in parser {
        let (event, span) = item.map_err(|e| {
            let info = e.info();
            let message = if info.is_empty() {
                "invalid YAML".to_owned()
            } else {
                info.to_owned()
            };
            Error::new(
                ErrorKind::Syntax(message),
                e.marker().line().max(1),
                e.marker().col() + 1,
            )
        })?;
        let range = byte_range(&span, text.len());
        let (line, column) = (span.start.line().max(1), span.start.col() + 1);
        if range.end.saturating_sub(doc_start) > MAX_DOCUMENT_BYTES {
            let doc = &text[doc_start..];
            let len = range.end - doc_start;
            return Err(too_large(
                line,
                column,
                "a document",
                len,
                doc,
                MAX_DOCUMENT_BYTES,
            ));
        }
        if let Event::Scalar(value, ..) = &event
            && value.len() > MAX_SCALAR_BYTES
        {
            let len = value.len();
            return Err(too_large(
                line,
                column,
                "a value",
                len,
                value,
                MAX_SCALAR_BYTES,
            ));
        }
        let is_map = matches!(event, Event::MappingStart(..));
        match event {
            Event::DocumentStart(..) => {
                doc_start = range.start;
                builder = Some(Builder::new(crate::Location { line, column }));
            }
            Event::DocumentEnd => {
                if let Some(b) = builder.take() {
                    docs.push(b.finish());
                }
            }
            Event::Anchor(_, name) => {
                if let Some(b) = builder.as_mut() {
                    b.name_last_anchor(&name);
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                if let Some(b) = builder.as_mut() {
                    let style = match style {
                        ScalarStyle::Plain => Style::Plain,
                        ScalarStyle::SingleQuoted => Style::Single,
                        ScalarStyle::DoubleQuoted => Style::Double,
                        ScalarStyle::Literal => Style::Literal,
                        ScalarStyle::Folded => Style::Folded,
                    };
                    let kind = Kind::Scalar {
                        value: value.into_owned(),
                        style,
                    };
                    let node = b.node(kind, &span, range.clone(), last_end, tag.as_deref(), text);
                    b.attach(node, anchor);
                }
            }
            Event::SequenceStart(style, anchor, tag) | Event::MappingStart(style, anchor, tag) => {
                if let Some(b) = builder.as_mut() {
                    let kind = if is_map {
                        Kind::Map(Vec::new())
                    } else {
                        Kind::Seq(Vec::new())
                    };
                    let node = b.node(kind, &span, range.clone(), last_end, tag.as_deref(), text);
                    b.open(node, anchor, style == StructureStyle::Flow)?;
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(b) = builder.as_mut() {
                    b.close(range.end, text);
                }
            }
            Event::Alias(anchor) => {
                if let Some(b) = builder.as_mut() {
                    let Some(&target) = b.anchors.get(&anchor) else {
                        let name = text[range.clone()].trim_start_matches('*').to_owned();
                        return Err(Error::new(ErrorKind::RecursiveAlias { name }, line, column));
                    };
                    let kind = Kind::Alias(target);
                    let node = b.node(kind, &span, range.clone(), last_end, None, text);
                    b.attach(node, 0);
                }
            }
            _ => {}
        }
        // Anchor events point back at the anchor token, before the node they name.
        if !range.is_empty() && range.end > last_end {
            last_end = range.end;
        }
    }
    if let Some(b) = builder.take() {
        docs.push(b.finish());
    }
    Ok(docs)
}

fn byte_range(span: &Span, len: usize) -> std::ops::Range<usize> {
    match span.byte_range() {
        Some(r) if r.start <= r.end && r.end <= len => r,
        // new_from_str always yields byte offsets; never slice out of bounds regardless.
        _ => 0..0,
    }
}

fn classify_tag(tag: Option<&Tag>) -> TagKind {
    let Some(tag) = tag else {
        return TagKind::None;
    };
    let (handle, suffix) = tag.parts();
    if handle.is_empty() && suffix == "!" {
        return TagKind::None;
    }
    match tag.core_suffix() {
        Some("str") => return TagKind::Str,
        Some("null") => return TagKind::Null,
        Some("bool") => return TagKind::Bool,
        Some("int") => return TagKind::Int,
        Some("float") => return TagKind::Float,
        _ => {}
    }
    if tag.suffix_in_namespace("tag:yaml.org,2002:").as_deref() == Some("merge") {
        return TagKind::Merge;
    }
    TagKind::Other
}

struct Builder {
    nodes: Vec<Node>,
    root: Option<NodeId>,
    start: crate::Location,
    /// Open collections, innermost last, with a mapping's key waiting for its value.
    stack: Vec<(NodeId, Option<NodeId>, bool)>,
    /// Anchor id → node, registered once the anchored node is complete.
    anchors: HashMap<usize, NodeId>,
    /// Collections whose anchor is registered when they close.
    pending_anchor: HashMap<NodeId, usize>,
    last_node: Option<NodeId>,
}

impl Builder {
    fn new(start: crate::Location) -> Self {
        Builder {
            nodes: Vec::new(),
            root: None,
            start,
            stack: Vec::new(),
            anchors: HashMap::new(),
            pending_anchor: HashMap::new(),
            last_node: None,
        }
    }

    fn in_flow(&self) -> bool {
        self.stack.last().is_some_and(|&(_, _, flow)| flow)
    }

    fn node(
        &self,
        kind: Kind,
        span: &Span,
        range: std::ops::Range<usize>,
        prev_end: usize,
        tag: Option<&Tag>,
        text: &str,
    ) -> Node {
        let tag_text = tag
            .and(span.tag_span())
            .and_then(|t| t.slice(text))
            .map(str::to_owned);
        Node {
            kind,
            start: range.start,
            end: range.end,
            line: span.start.line().max(1),
            col: span.start.col(),
            tag: classify_tag(tag),
            tag_text,
            anchor: None,
            in_flow: self.in_flow(),
            prev_end,
        }
    }

    fn push(&mut self, node: Node) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(node);
        self.last_node = Some(id);
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
            Some((parent, pending_key, _)) => {
                let parent = *parent;
                match &mut self.nodes[parent].kind {
                    Kind::Seq(items) => items.push(id),
                    Kind::Map(entries) => match pending_key.take() {
                        None => *pending_key = Some(id),
                        Some(key) => entries.push((key, id)),
                    },
                    _ => {}
                }
            }
        }
        id
    }

    fn attach(&mut self, node: Node, anchor: usize) {
        let id = self.push(node);
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
    }

    fn open(&mut self, node: Node, anchor: usize, flow: bool) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            let (line, column) = node.position();
            return Err(Error::new(ErrorKind::TooDeep, line, column));
        }
        let id = self.push(node);
        if anchor != 0 {
            self.pending_anchor.insert(id, anchor);
        }
        self.stack.push((id, None, flow));
        Ok(())
    }

    fn close(&mut self, end_event_end: usize, text: &str) {
        // (A mapping key still waiting for its value cannot come out of the parser.)
        let Some((id, _, flow)) = self.stack.pop() else {
            return;
        };
        let end = if flow {
            end_event_end
        } else {
            match &self.nodes[id].kind {
                Kind::Seq(items) => items.last().map(|&c| self.nodes[c].end),
                Kind::Map(entries) => entries.last().map(|&(k, v)| {
                    let (key_end, value) = (self.nodes[k].end, &self.nodes[v]);
                    if value.start == value.end && value.end <= key_end {
                        // An empty value (`key:`) is placed at the end of its key, before
                        // the `:`; the mapping ends after the `:`.
                        let rest = &text[key_end..];
                        let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                        if rest[blanks..].starts_with(':') {
                            key_end + blanks + 1
                        } else {
                            key_end
                        }
                    } else {
                        value.end.max(key_end)
                    }
                }),
                _ => None,
            }
            .unwrap_or(self.nodes[id].start)
        };
        self.nodes[id].end = end.max(self.nodes[id].start);
        if let Some(anchor) = self.pending_anchor.remove(&id) {
            self.anchors.insert(anchor, id);
        }
    }

    fn name_last_anchor(&mut self, name: &str) {
        if let Some(id) = self.last_node {
            self.nodes[id].anchor = Some(name.to_owned());
        }
    }

    fn finish(self) -> Document {
        Document {
            nodes: self.nodes,
            root: self.root,
            start: self.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes_and_aliases_point_at_anchors() {
        let text = "a: é\nb: &x 'q'\nc: *x\n";
        let docs = parse(text).unwrap();
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        let root = doc.root.unwrap();
        let Kind::Map(entries) = &doc.node(root).kind else {
            panic!("not a map")
        };
        let b = doc.node(entries[1].1);
        assert_eq!(&text[b.start..b.end], "'q'");
        assert_eq!(b.anchor.as_deref(), Some("x"));
        let c = entries[2].1;
        assert_eq!(doc.resolve(c), entries[1].1);
        assert_eq!(doc.str_value(c), Some("q"));
    }

    #[test]
    fn huge_lines_values_and_documents_are_refused_fast_with_a_short_excerpt() {
        let started = std::time::Instant::now();
        let text = format!("kind: ConfigMap\ndata:\n  x: {}\n", "a".repeat(8 << 20));
        let err = parse(&text).expect_err("long line");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!((err.line, err.column), (3, 1));
        let msg = err.to_string();
        assert!(msg.starts_with("a line of 8.0 MiB (`x: aaaa"), "{msg}");
        assert!(msg.ends_with("…`) is longer than the 2 MiB limit"), "{msg}");
        let block: String = (0..30_000)
            .map(|_| format!("    {}\n", "b".repeat(100)))
            .collect();
        let err = parse(&format!("data:\n  x: |\n{block}")).expect_err("long value");
        let msg = err.to_string();
        assert!(msg.contains("a value of 2.") && msg.len() < 200, "{msg}");
        assert_eq!(err.line, 3, "{err:?}");
        let items: String = (0..100_000)
            .map(|i| format!("- item-{i}-{}\n", "c".repeat(80)))
            .collect();
        let msg = parse(&format!("---\nx: 1\n---\nitems:\n{items}"))
            .expect_err("big document")
            .to_string();
        assert!(
            msg.contains("a document of") && msg.contains("8 MiB limit") && msg.len() < 200,
            "{msg}"
        );
        // Values just under the limit are fine.
        parse(&format!("a: {}\n", "d".repeat((2 << 20) - 16))).expect("under the limit");
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_an_error() {
        let err = parse("a: &x [*x]\n").unwrap_err();
        assert_eq!(
            err,
            Error::new(ErrorKind::RecursiveAlias { name: "x".into() }, 1, 8)
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse(&text).is_err());
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(&" ".repeat(i));
            text.push_str("k:\n");
        }
        assert!(parse(&text).is_err());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").expect_err("syntax");
        assert!(err.line >= 1);
        assert!(matches!(err.kind, ErrorKind::Syntax(ref m) if !m.is_empty()));
    }

    #[test]
    fn utf8_errors_point_at_the_byte() {
        let err = decode_utf8(b"a: 1\nb: \xff\n").expect_err("bad utf8");
        assert_eq!(err.location(), crate::Location { line: 2, column: 4 });
    }

    #[test]
    fn tags_are_classified() {
        let docs = parse("[!!str a, !!int 1, !!null x, !!merge <<, !custom z, ! q, b]").unwrap();
        let doc = &docs[0];
        let Kind::Seq(items) = &doc.node(doc.root.unwrap()).kind else {
            panic!("not a seq")
        };
        let tags: Vec<TagKind> = items.iter().map(|&i| doc.node(i).tag).collect();
        use TagKind::*;
        assert_eq!(tags, [Str, Int, Null, Merge, Other, None, None]);
        assert_eq!(doc.node(items[0]).tag_text.as_deref(), Some("!!str"));
    }
}
