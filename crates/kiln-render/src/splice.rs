//! Span-preserving rewrites: replace byte ranges of the input, keep everything else as written.

use crate::Error;
use crate::scalar::{block_line_safe, double_quoted, plain_safe, single_quoted};
use crate::tree::{self, Value};
use crate::yaml::{Document, Kind, Node, NodeId, Style};

/// Replace `start..end` of the input with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) text: String,
}

/// Applies non-overlapping edits (the first of two overlapping edits wins; the same range
/// edited twice, as happens when an alias is followed twice, is applied once).
pub(crate) fn apply(src: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(src.len());
    let mut pos = 0;
    for e in edits {
        if e.start < pos || e.end < e.start || e.end > src.len() {
            continue;
        }
        out.push_str(&src[pos..e.start]);
        out.push_str(&e.text);
        pos = e.end;
    }
    out.push_str(&src[pos..]);
    out
}

/// The edits that turn the scalar (or alias) `id` into `value`, keeping its style: a plain
/// scalar stays plain when that reads back as the same string (else it is double-quoted), a
/// quoted one keeps its quotes (single quotes fall back to double quotes for line breaks
/// and control characters), a block scalar becomes a `|-`/`>-` block with the value on one
/// line at the original indentation. Tags, anchors and comments stay where they are. An alias
/// (`*x`) is replaced by a plain or double-quoted scalar.
pub(crate) fn replace_scalar(
    src: &str,
    doc: &Document,
    id: NodeId,
    value: &str,
) -> Result<Vec<Edit>, Error> {
    let node = doc.node(id);
    let whole = |text: String| {
        Ok(vec![Edit {
            start: node.start,
            end: node.end,
            text,
        }])
    };
    let plain_or_double = |s: &str| {
        if plain_safe(s, node.in_flow) {
            s.to_owned()
        } else {
            double_quoted(s)
        }
    };
    let style = match &node.kind {
        Kind::Scalar { style, .. } => *style,
        Kind::Alias(_) => return whole(plain_or_double(value)),
        _ => return Ok(Vec::new()),
    };
    match style {
        Style::Plain => whole(plain_or_double(value)),
        Style::Single => whole(single_quoted(value).unwrap_or_else(|| double_quoted(value))),
        Style::Double => whole(double_quoted(value)),
        Style::Literal | Style::Folded => replace_block(src, doc, id, value, style),
    }
}

fn replace_block(
    src: &str,
    doc: &Document,
    id: NodeId,
    value: &str,
    style: Style,
) -> Result<Vec<Edit>, Error> {
    let node = doc.node(id);
    let Some(header) = block_header(src, node.prev_end, node.start) else {
        let (line, column) = node.position();
        return Err(Error::Syntax {
            line,
            column,
            message: "cannot find the header (`|` or `>`) of this block scalar".to_owned(),
        });
    };
    // The header token: the indicator plus any indentation/chomping indicators.
    let header_end = header
        + src[header..]
            .find(|c: char| c.is_whitespace())
            .unwrap_or(src.len() - header);
    // Content: from the line after the header to the end of the last non-blank line; trailing
    // line breaks and blank lines (outside the value once the chomping is `-`) stay.
    let content_start = match src[header_end..].find('\n') {
        Some(i) => header_end + i + 1,
        None => src.len(),
    };
    let content = src.get(node.start..node.end).unwrap_or("");
    let content_end = node.start + content.trim_end().len();
    if !block_line_safe(value) || content_start > content_end {
        // Cannot keep the block style: the whole scalar becomes a double-quoted one.
        return Ok(vec![Edit {
            start: header,
            end: content_end.max(header_end),
            text: double_quoted(value),
        }]);
    }
    let indicator = if style == Style::Literal { "|-" } else { ">-" };
    Ok(vec![
        Edit {
            start: header,
            end: header_end,
            text: indicator.to_owned(),
        },
        Edit {
            start: content_start,
            end: content_end,
            text: format!("{}{value}", " ".repeat(node.col.max(1))),
        },
    ])
}

/// Finds the `|` or `>` that opens the block scalar whose content starts at `to`, looking
/// only at the text after the previous event (`from`): that text holds indicators (`:`,
/// `-`, `?`), an anchor, a tag, comments and whitespace.
fn block_header(src: &str, from: usize, to: usize) -> Option<usize> {
    let region = src.get(from..to)?;
    let bytes = region.as_bytes();
    let mut i = 0;
    let mut token_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                token_start = true;
                i += 1;
                continue;
            }
            b'#' if token_start => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'&' | b'!' if token_start => {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                continue;
            }
            b'|' | b'>' if token_start => return Some(from + i),
            _ => {}
        }
        token_start = false;
        i += 1;
        // `:`, `-`, `?` and `,` are followed by whitespace, which starts a token again.
    }
    None
}

/// A new value for an alias position that has no style of its own.
pub(crate) fn standalone(value: &str, in_flow: bool) -> String {
    if plain_safe(value, in_flow) {
        value.to_owned()
    } else {
        double_quoted(value)
    }
}

/// The edit that replaces a document's root node with `value` written out in block style
/// (the rewrites that change structure), at the root's indentation.
pub(crate) fn replace_document(text: &str, root: &Node, value: &Value) -> Edit {
    let line_start = text[..root.start].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..root.start];
    let emitted = tree::emit(value);
    // A root on its own line keeps its indentation; one after `--- ` starts a new line
    // (and the blanks before it go).
    let (lead, indent, start) = if prefix.chars().all(|c| c == ' ') {
        ("", prefix.len(), root.start)
    } else {
        let blanks = prefix.len() - prefix.trim_end_matches([' ', '\t']).len();
        ("\n", 0, root.start - blanks)
    };
    let pad = " ".repeat(indent);
    let mut out = String::from(lead);
    for (i, line) in emitted.split_inclusive('\n').enumerate() {
        if i > 0 && line != "\n" {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    if !text[..root.end].ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    // A comment on the root's last line belongs to its last node, which was re-emitted:
    // like the document's other comments it goes, rather than trailing some other line.
    let line_rest = text[root.end..].split('\n').next().unwrap_or_default();
    let end = if line_rest.trim_start().starts_with('#') {
        root.end + line_rest.len()
    } else {
        root.end
    };
    Edit {
        start,
        end,
        text: out,
    }
}
