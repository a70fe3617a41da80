//! Reading a document's nodes the way go-yaml v3 decodes them: aliases followed, scalars
//! resolved, `<<` merge keys applied, repeated keys rejected, every walk budgeted.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, ErrorKind};
use crate::limits::{MAX_DEPTH, MAX_NODES};
use crate::parse::{Document, Kind, NodeId, Style, TagKind};
use crate::resolve::{Resolved, resolve_plain};

/// Counts the nodes a walk visits, aliases expanded, and bounds its depth, so an alias bomb
/// or a self-nesting expansion is an error instead of a hang ([`crate::limits`]).
#[derive(Debug, Default)]
pub struct Budget {
    visits: usize,
}

impl Budget {
    pub fn new() -> Self {
        Budget::default()
    }

    /// Spends one visit of node `id` at `depth`.
    pub fn spend(&mut self, doc: &Document, id: NodeId, depth: usize) -> Result<(), Error> {
        self.visits += 1;
        let kind = if depth > MAX_DEPTH {
            ErrorKind::TooDeep
        } else if self.visits > MAX_NODES {
            ErrorKind::TooManyNodes
        } else {
            return Ok(());
        };
        let (line, column) = doc.node(id).position();
        Err(Error::new(kind, line, column))
    }
}

/// One effective mapping entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key's text (`""` for a null key, as go-yaml decodes it into a `string`).
    pub key: String,
    /// The key's node (in the mapping it was merged from, for merged entries).
    pub key_id: NodeId,
    pub value: NodeId,
}

impl Document {
    pub fn node(&self, id: NodeId) -> &crate::parse::Node {
        &self.nodes[id]
    }

    /// Follows an alias to its anchor's node.
    pub fn resolve(&self, id: NodeId) -> NodeId {
        match self.nodes[id].kind {
            Kind::Alias(target) => target,
            _ => id,
        }
    }

    /// The scalar's value, if `id` is a scalar (aliases not followed).
    pub fn scalar(&self, id: NodeId) -> Option<(&str, Style)> {
        match &self.nodes[id].kind {
            Kind::Scalar { value, style } => Some((value, *style)),
            _ => None,
        }
    }

    /// What go-yaml v3 resolves the scalar `id` to (aliases not followed). Scalars tagged
    /// with anything but `!!str` or `!!merge` are [`Resolved::Other`]; callers that type
    /// them read [`crate::Node::tag`].
    pub fn resolved(&self, id: NodeId) -> Option<Resolved> {
        let node = &self.nodes[id];
        let Kind::Scalar { value, style } = &node.kind else {
            return None;
        };
        Some(match node.tag {
            TagKind::Str => Resolved::Str,
            TagKind::Merge => Resolved::Merge,
            TagKind::None if *style != Style::Plain => Resolved::Str,
            TagKind::None => resolve_plain(value),
            TagKind::Null | TagKind::Bool | TagKind::Int | TagKind::Float | TagKind::Other => {
                Resolved::Other
            }
        })
    }

    /// The string value of `id` if go-yaml decodes it as a string (`!!str`), following an
    /// alias.
    pub fn str_value(&self, id: NodeId) -> Option<&str> {
        let id = self.resolve(id);
        match self.resolved(id)? {
            Resolved::Str => self.scalar(id).map(|(v, _)| v),
            _ => None,
        }
    }

    /// The entries of mapping `map` (alias followed) as go-yaml decodes them into a Go map:
    /// explicit entries first, in order (a repeated key keeps its first place and its last
    /// value), then the entries that `<<` keys merge in (a mapping or a sequence of
    /// mappings, aliases followed, earlier sources first) whose keys are not already present.
    /// Not a mapping: no entries. A collection as a key is [`ErrorKind::ComplexKey`]; a merge
    /// of anything but mappings is [`ErrorKind::BadMerge`].
    pub fn entries(
        &self,
        map: NodeId,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<Vec<Entry>, Error> {
        let map = self.resolve(map);
        let Kind::Map(pairs) = &self.node(map).kind else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Entry> = Vec::new();
        let mut merges = Vec::new();
        for &(k, v) in pairs {
            let key_id = self.resolve(k);
            let key = match self.resolved(key_id) {
                None => return Err(self.error_at(k, ErrorKind::ComplexKey)),
                Some(Resolved::Merge) => {
                    merges.push(v);
                    continue;
                }
                Some(Resolved::Null) => String::new(),
                Some(_) => self
                    .scalar(key_id)
                    .map(|(s, _)| s.to_owned())
                    .unwrap_or_default(),
            };
            match out.iter_mut().find(|e| e.key == key) {
                Some(e) => e.value = v,
                None => out.push(Entry {
                    key,
                    key_id,
                    value: v,
                }),
            }
        }
        let mut present: HashSet<String> = out.iter().map(|e| e.key.clone()).collect();
        for m in merges {
            budget.spend(self, m, depth)?;
            let target = self.resolve(m);
            let sources: Vec<NodeId> = match &self.node(target).kind {
                Kind::Map(_) => vec![target],
                Kind::Seq(items) => items.clone(),
                _ => return Err(self.error_at(m, ErrorKind::BadMerge)),
            };
            for source in sources {
                budget.spend(self, source, depth + 1)?;
                if !matches!(self.node(self.resolve(source)).kind, Kind::Map(_)) {
                    return Err(self.error_at(source, ErrorKind::BadMerge));
                }
                for e in self.entries(source, budget, depth + 1)? {
                    if present.insert(e.key.clone()) {
                        out.push(e);
                    }
                }
            }
        }
        Ok(out)
    }

    /// go-yaml v3's `isStringMap`: a mapping decodes to `map[string]interface{}` only if
    /// every key is a string or a merge key.
    pub fn is_string_map(&self, map: NodeId) -> bool {
        let Kind::Map(pairs) = &self.node(self.resolve(map)).kind else {
            return false;
        };
        pairs.iter().all(|&(k, _)| {
            matches!(
                self.resolved(self.resolve(k)),
                Some(Resolved::Str | Resolved::Merge)
            )
        })
    }

    /// go-yaml v3 rejects a mapping that repeats a scalar key
    /// (`mapping key "x" already defined at line N`): the first repeat, at its position.
    pub fn check_unique_keys(&self) -> Result<(), Error> {
        for node in &self.nodes {
            let Kind::Map(pairs) = &node.kind else {
                continue;
            };
            if pairs.len() < 2 {
                continue;
            }
            let mut seen: HashMap<&str, NodeId> = HashMap::new();
            for &(k, _) in pairs {
                let Some((value, _)) = self.scalar(k) else {
                    continue;
                };
                if let Some(&first) = seen.get(value) {
                    let kind = ErrorKind::DuplicateKey {
                        key: value.to_owned(),
                        first_line: self.node(first).line,
                    };
                    return Err(self.error_at(k, kind));
                }
                seen.insert(value, k);
            }
        }
        Ok(())
    }

    /// A short description of a node for "expected X, found Y" messages.
    pub fn describe(&self, id: NodeId) -> String {
        let id = self.resolve(id);
        match &self.node(id).kind {
            Kind::Seq(_) => "a sequence".to_owned(),
            Kind::Map(_) => "a mapping".to_owned(),
            Kind::Alias(_) => "an alias".to_owned(),
            Kind::Scalar { value, .. } => {
                describe_scalar(value, self.resolved(id).unwrap_or(Resolved::Str))
            }
        }
    }

    fn error_at(&self, id: NodeId, kind: ErrorKind) -> Error {
        let (line, column) = self.node(id).position();
        Error::new(kind, line, column)
    }
}

/// `integer `8080``, `string `app``, `null`: a scalar for "expected X, found Y" messages,
/// its text cut at 40 characters.
pub(crate) fn describe_scalar(text: &str, resolved: Resolved) -> String {
    let mut shown: String = text.chars().take(40).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    let what = match resolved {
        Resolved::Null => return "null".to_owned(),
        Resolved::Bool => "boolean",
        Resolved::Int => "integer",
        Resolved::Float => "number",
        Resolved::Timestamp => "timestamp",
        _ => "string",
    };
    format!("{what} `{shown}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn keys(doc: &Document, entries: &[Entry]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| {
                let v = doc.scalar(doc.resolve(e.value)).map_or("", |(s, _)| s);
                (e.key.clone(), v.to_owned())
            })
            .collect()
    }

    #[test]
    fn merges_apply_after_explicit_keys_earlier_sources_first() {
        let text = "a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nm:\n  <<: [*a, *b]\n  x: 0\n";
        let docs = parse(text).unwrap();
        let doc = &docs[0];
        let mut budget = Budget::new();
        let top = doc.entries(doc.root.unwrap(), &mut budget, 0).unwrap();
        let m = top.iter().find(|e| e.key == "m").unwrap().value;
        let entries = doc.entries(m, &mut budget, 1).unwrap();
        let expected = [("x", "0"), ("y", "2"), ("z", "4")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(keys(doc, &entries), expected);
    }

    #[test]
    fn merging_a_scalar_and_collection_keys_are_errors() {
        let docs = parse("m:\n  <<: 5\n").unwrap();
        let doc = &docs[0];
        let mut budget = Budget::new();
        let top = doc.entries(doc.root.unwrap(), &mut budget, 0).unwrap();
        let err = doc.entries(top[0].value, &mut budget, 1).unwrap_err();
        assert_eq!(
            (err.kind, err.line, err.column),
            (ErrorKind::BadMerge, 2, 7)
        );
        let docs = parse("? [a]\n: 1\n").unwrap();
        let doc = &docs[0];
        let err = doc.entries(doc.root.unwrap(), &mut budget, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ComplexKey);
    }

    #[test]
    fn repeated_keys_are_found() {
        let docs = parse("a: 1\nb:\n  c: 1\n  c: 2\n").unwrap();
        let err = docs[0].check_unique_keys().unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::DuplicateKey {
                key: "c".into(),
                first_line: 3
            }
        );
        assert_eq!((err.line, err.column), (4, 3));
    }

    #[test]
    fn descriptions() {
        let docs = parse("[1, '1', 1.5, ~, yes, 2001-01-01, [x], *a]").err();
        assert!(docs.is_some(), "unknown alias is a parse error");
        let docs = parse("[1, '1', 1.5, ~, yes, 2001-01-01, [x]]").unwrap();
        let doc = &docs[0];
        let Kind::Seq(items) = &doc.node(doc.root.unwrap()).kind else {
            panic!("seq")
        };
        let shown: Vec<String> = items.iter().map(|&i| doc.describe(i)).collect();
        assert_eq!(
            shown,
            [
                "integer `1`",
                "string `1`",
                "number `1.5`",
                "null",
                "string `yes`",
                "timestamp `2001-01-01`",
                "a sequence"
            ]
        );
    }
}
