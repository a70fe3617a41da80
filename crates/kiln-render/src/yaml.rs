//! A positioned YAML node tree per document, built from the event parser that serde-saphyr
//! re-exports (`serde_saphyr::granit_parser`).
//!
//! Why granit-parser and not `saphyr-parser` 0.3: it is already in the build (serde-saphyr,
//! which `kiln-config` uses, re-exports it, so its version moves with serde-saphyr's and no
//! second YAML parser enters the graph); its spans carry **byte** offsets (`Span::byte_range`),
//! where saphyr-parser's `Marker::index` counts characters and needs a conversion before
//! slicing; it reports tags with their source span; and it has libyaml's reading of a block
//! scalar that ends the input without a line break (`block_scalar_eof_without_line_feed`),
//! which is how ko's and Skaffold's go-yaml read it.
//!
//! Nodes live in one arena per document, in event (document) order. Aliases are nodes of
//! their own that point at their anchor's node, so a walk can decide whether to follow them
//! (Skaffold decodes into Go maps, which expands aliases) or not (ko walks `yaml.Node`s,
//! where an alias has no children).

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Options, Parser, ScalarStyle, Span, StructureStyle, Tag};

use crate::Error;

pub(crate) type NodeId = usize;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

/// A node's explicit tag, as far as this crate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// No tag, or the non-specific `!` (go-yaml treats both alike).
    None,
    /// `!!str` (in any spelling).
    Str,
    /// `!!merge`.
    Merge,
    /// Any other tag.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
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
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// Byte offset where the node's text starts: the first character of a scalar (its quote,
    /// for quoted ones), the first content character of a block scalar (not its `|`/`>`
    /// header), the `[`/`{` of a flow collection, the first key/item of a block collection,
    /// the `*` of an alias.
    pub(crate) start: usize,
    /// Byte offset just past the node's text (for a block scalar: past its last line break
    /// and trailing blank lines; for a block collection: past its last child).
    pub(crate) end: usize,
    /// 1-based line and 0-based column of `start`.
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) tag: TagKind,
    /// Source text of the tag (`!!str`), if any.
    pub(crate) tag_text: Option<String>,
    /// Anchor name (`&name`), if any.
    pub(crate) anchor: Option<String>,
    /// Inside a flow collection (`[...]`, `{...}`), where `,[]{}` end a plain scalar.
    pub(crate) in_flow: bool,
    /// End of the previous event's text: a block scalar's header lies between this and `start`.
    pub(crate) prev_end: usize,
}

impl Node {
    /// 1-based line and column, for error messages.
    pub(crate) fn position(&self) -> (usize, usize) {
        (self.line, self.col + 1)
    }
}

/// One document of a stream.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) nodes: Vec<Node>,
    /// The root node (an empty document has a null plain scalar with an empty span).
    pub(crate) root: Option<NodeId>,
}

/// Longest line and scalar accepted: Kubernetes stores objects of at most about 1.5 MiB, so
/// no value that can be applied is longer.
pub(crate) const MAX_SCALAR_BYTES: usize = 2 << 20;
/// Largest single document accepted (the same reasoning, with room for comments).
pub(crate) const MAX_DOCUMENT_BYTES: usize = 8 << 20;
const EXCERPT_CHARS: usize = 40;

fn too_large(line: usize, column: usize, what: &str, len: usize, quote: &str, max: usize) -> Error {
    use kiln_core::text::{excerpt, size};
    Error::TooLarge {
        line,
        column,
        message: format!(
            "{what} of {} (`{}`) is longer than the {} limit",
            size(len),
            excerpt(quote.trim_start(), EXCERPT_CHARS),
            size(max)
        ),
    }
}

/// Parses every document of `text`. Bounded: line length before parsing (one linear pass,
/// so a huge value costs no parser time), scalar length and document size while parsing;
/// nesting by the parser's own limit.
pub(crate) fn parse(text: &str) -> Result<Vec<Document>, Error> {
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
        let (event, span) = item.map_err(|e| Error::Syntax {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_owned(),
        })?;
        let range = byte_range(&span, text.len());
        if range.end.saturating_sub(doc_start) > MAX_DOCUMENT_BYTES {
            let (line, column) = (span.start.line(), span.start.col() + 1);
            let doc = &text[doc_start..];
            return Err(too_large(
                line,
                column,
                "a document",
                range.end - doc_start,
                doc,
                MAX_DOCUMENT_BYTES,
            ));
        }
        if let Event::Scalar(value, ..) = &event
            && value.len() > MAX_SCALAR_BYTES
        {
            let (line, column) = (span.start.line(), span.start.col() + 1);
            return Err(too_large(
                line,
                column,
                "a value",
                value.len(),
                value,
                MAX_SCALAR_BYTES,
            ));
        }
        let is_map = matches!(event, Event::MappingStart(..));
        match event {
            Event::DocumentStart(..) => {
                doc_start = range.start;
                builder = Some(Builder::default());
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
                    b.open(node, anchor, style == StructureStyle::Flow);
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
                        let (line, col) = (span.start.line(), span.start.col());
                        return Err(Error::RecursiveAlias {
                            line,
                            column: col + 1,
                            name: text[range.clone()].trim_start_matches('*').to_owned(),
                        });
                    };
                    let node = b.node(
                        Kind::Alias(target),
                        &span,
                        range.clone(),
                        last_end,
                        None,
                        text,
                    );
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
    if tag.core_suffix() == Some("str") {
        return TagKind::Str;
    }
    if tag.suffix_in_namespace("tag:yaml.org,2002:").as_deref() == Some("merge") {
        return TagKind::Merge;
    }
    TagKind::Other
}

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    root: Option<NodeId>,
    /// Open collections, innermost last, with a mapping's key waiting for its value.
    stack: Vec<(NodeId, Option<NodeId>, bool)>,
    /// Anchor id → node, registered once the anchored node is complete.
    anchors: HashMap<usize, NodeId>,
    /// Collections whose anchor is registered when they close.
    pending_anchor: HashMap<NodeId, usize>,
    last_node: Option<NodeId>,
}

impl Builder {
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
            line: span.start.line(),
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

    fn open(&mut self, node: Node, anchor: usize, flow: bool) {
        let id = self.push(node);
        if anchor != 0 {
            self.pending_anchor.insert(id, anchor);
        }
        self.stack.push((id, None, flow));
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
        }
    }
}

impl Document {
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Follows an alias to its anchor's node.
    pub(crate) fn resolve(&self, id: NodeId) -> NodeId {
        match self.nodes[id].kind {
            Kind::Alias(target) => target,
            _ => id,
        }
    }

    /// The scalar's value, if `id` is a scalar (aliases not followed).
    pub(crate) fn scalar(&self, id: NodeId) -> Option<(&str, Style)> {
        match &self.nodes[id].kind {
            Kind::Scalar { value, style } => Some((value, *style)),
            _ => None,
        }
    }

    /// What go-yaml (v3) resolves the scalar `id` to (aliases not followed).
    pub(crate) fn resolved(&self, id: NodeId) -> Option<Resolved> {
        let node = &self.nodes[id];
        let Kind::Scalar { value, style } = &node.kind else {
            return None;
        };
        Some(match node.tag {
            TagKind::Str => Resolved::Str,
            TagKind::Merge => Resolved::Merge,
            TagKind::Other => Resolved::Other,
            TagKind::None if *style != Style::Plain => Resolved::Str,
            TagKind::None => resolve_plain(value),
        })
    }

    /// The string value of `id` if go-yaml decodes it as a string (`!!str`), following an
    /// alias.
    pub(crate) fn str_value(&self, id: NodeId) -> Option<&str> {
        let id = self.resolve(id);
        match self.resolved(id)? {
            Resolved::Str => self.scalar(id).map(|(v, _)| v),
            _ => None,
        }
    }
}

/// What a scalar means to go-yaml v3 (`resolve` in resolve.go), which both ko and Skaffold
/// use to read manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
    Merge,
    Str,
    /// Explicitly tagged with something else.
    Other,
}

/// go-yaml v3's resolution of an untagged plain scalar.
pub(crate) fn resolve_plain(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Resolved::Bool,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float,
        "<<" => return Resolved::Merge,
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => {
            if is_go_decimal_float(s) {
                Resolved::Float
            } else {
                Resolved::Str
            }
        }
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                return Resolved::Timestamp;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if is_go_int(&plain) {
                Resolved::Int
            } else if is_yaml_style_float(&plain) {
                Resolved::Float
            } else if is_prefixed_int(&plain, "0b", 2) || is_prefixed_int(&plain, "0o", 8) {
                Resolved::Int
            } else {
                Resolved::Str
            }
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` acceptance (overflow aside, which falls
/// through to the float rule in go-yaml anyway for decimal forms).
fn is_go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (digits, radix) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (d, 16)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (d, 8)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (d, 2)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    // Out-of-range values fail both ParseInt and ParseUint.
    let negative = s.starts_with('-');
    match u64::from_str_radix(digits, radix) {
        Ok(v) => !negative || v <= (i64::MAX as u64) + 1,
        Err(_) => false,
    }
}

fn is_prefixed_int(s: &str, prefix: &str, radix: u32) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    body.strip_prefix(prefix).is_some_and(|d| {
        !d.is_empty()
            && d.chars().all(|c| c.is_digit(radix))
            && u64::from_str_radix(d, radix).is_ok()
    })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat` on a string starting with `.` (decimal only; no underscores).
fn is_go_decimal_float(s: &str) -> bool {
    s.len() > 1 && !s.contains('_') && is_yaml_style_float(s)
}

/// go-yaml's `parseTimestamp`: `YYYY-M-D`, optionally followed by `T`/`t`/space and
/// `h:m:s[.frac]`, with `Z`/`±hh:mm` only after `T`/`t`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // Reads 1 or 2 digits at `*i`.
    let num = |i: &mut usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && *i - start < 2 && b[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            None
        } else {
            s[start..*i].parse().ok()
        }
    };
    let expect = |i: &mut usize, c: u8| -> bool {
        let ok = b.get(*i) == Some(&c);
        if ok {
            *i += 1;
        }
        ok
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let mut i = 5;
    let Some(month) = num(&mut i) else {
        return false;
    };
    if !expect(&mut i, b'-') {
        return false;
    }
    let Some(day) = num(&mut i) else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    let zoned = match b[i] {
        b'T' | b't' => true,
        b' ' => false,
        _ => return false,
    };
    i += 1;
    let Some(hour) = num(&mut i) else {
        return false;
    };
    if !expect(&mut i, b':') {
        return false;
    }
    let Some(minute) = num(&mut i) else {
        return false;
    };
    if !expect(&mut i, b':') {
        return false;
    }
    let Some(second) = num(&mut i) else {
        return false;
    };
    if hour > 23 || minute > 59 || second > 59 {
        return false;
    }
    if expect(&mut i, b'.') {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if !zoned {
        return i == b.len();
    }
    match &s[i..] {
        "Z" => true,
        tz => {
            let t = tz.as_bytes();
            t.len() == 6
                && matches!(t[0], b'+' | b'-')
                && t[1..3].iter().all(u8::is_ascii_digit)
                && t[3] == b':'
                && t[4..6].iter().all(u8::is_ascii_digit)
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v3_does() {
        for s in ["", "~", "null", "NULL"] {
            assert_eq!(resolve_plain(s), Resolved::Null, "{s}");
        }
        for s in ["true", "False", "TRUE"] {
            assert_eq!(resolve_plain(s), Resolved::Bool, "{s}");
        }
        for s in ["1", "-12", "0x1F", "0o17", "017", "1_000", "0b101", "+3"] {
            assert_eq!(resolve_plain(s), Resolved::Int, "{s}");
        }
        for s in ["1.5", ".5", "1e3", "08", "-.inf", ".NaN", "1."] {
            assert_eq!(resolve_plain(s), Resolved::Float, "{s}");
        }
        for s in [
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-1-2 3:04:05",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Timestamp, "{s}");
        }
        for s in [
            "yes",
            "on",
            "app",
            "ko://x",
            "1.2.3",
            "2001-13-01",
            "0x",
            "1:20",
            ".",
            "-",
            "gcr.io/a:1",
            "12abc",
        ] {
            assert_eq!(resolve_plain(s), Resolved::Str, "{s}");
        }
        assert_eq!(resolve_plain("<<"), Resolved::Merge);
    }

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
        let msg = err.to_string();
        assert!(
            msg.starts_with("line 3, column 1: a line of 8.0 MiB (`x: aaaa"),
            "{msg}"
        );
        assert!(msg.len() < 200, "{msg}");
        let block: String = (0..30_000)
            .map(|_| format!("    {}\n", "b".repeat(100)))
            .collect();
        let msg = parse(&format!("data:\n  x: |\n{block}"))
            .expect_err("long value")
            .to_string();
        assert!(msg.contains("a value of 2.") && msg.len() < 200, "{msg}");
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
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_an_error() {
        let err = parse("a: &x [*x]\n").unwrap_err();
        assert!(
            matches!(
                err,
                Error::RecursiveAlias {
                    line: 1,
                    column: 8,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
