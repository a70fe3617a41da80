//! Reading a document the way Skaffold's Go code sees it after `yaml.Unmarshal` into
//! `map[string]interface{}`: the Kubernetes parts. The YAML parts (aliases, `<<` merges,
//! string keys, repeated keys, budgets) are kiln-yaml's [`Document::entries`] and friends.
//! [`Walk`] is visitor.go's walk, shared by the image replacer and the labels setter.

use std::collections::HashSet;

use crate::Error;
use crate::mapping;
use crate::yaml::{Budget, Document, Entry, ErrorKind, Kind, NodeId, Resolved};

/// The root mapping of `doc` and its entries as `yaml.Unmarshal` into a
/// `map[string]interface{}` reads them; `None` for an empty document. Errors where that
/// read fails: a root that is not a mapping, a repeated key, a collection as a key.
pub(crate) fn root_entries(
    doc: &Document,
    budget: &mut Budget,
) -> Result<Option<(NodeId, Vec<Entry>)>, Error> {
    let Some(root) = doc.root else {
        return Ok(None);
    };
    match &doc.node(root).kind {
        Kind::Map(_) => {}
        Kind::Scalar { .. } if doc.resolved(root) == Some(Resolved::Null) => return Ok(None),
        _ => {
            let (line, column) = doc.node(root).position();
            return Err(Error::NotAMapping {
                line,
                column,
                found: doc.describe(root),
            });
        }
    }
    doc.check_unique_keys()?;
    let top = doc.entries(root, budget, 0).map_err(|e| match e.kind {
        ErrorKind::ComplexKey => {
            let (line, column) = doc.node(root).position();
            Error::NotAMapping {
                line,
                column,
                found: "a mapping with a collection as a key".to_owned(),
            }
        }
        _ => e.into(),
    })?;
    Ok(Some((root, top)))
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

/// One entry visitor.go's walk reaches.
pub(crate) struct Field<'a> {
    pub(crate) entry: &'a Entry,
    /// `.spec.template.metadata`: the keys from the root (lists keep the path).
    pub(crate) navpath: &'a str,
    /// Whether its value is reached through an alias, an anchor something aliases or a `<<`
    /// merge, so that editing it in place changes other places too.
    pub(crate) shared: bool,
    pub(crate) depth: usize,
}

/// A `Visit` method of Skaffold's visitors (the image replacer, the labels setter).
pub(crate) trait Visitor {
    /// Visits one entry; true means "descend into its value".
    fn visit(&mut self, walk: &mut Walk<'_>, field: &Field<'_>) -> Result<bool, Error>;
}

/// visitor.go's `visitFields` over one document's string-keyed mappings, within a budget.
pub(crate) struct Walk<'d> {
    pub(crate) doc: &'d Document,
    budget: Budget,
    /// Nodes some alias points at: editing inside one edits every place that aliases it.
    targets: HashSet<NodeId>,
}

impl<'d> Walk<'d> {
    /// A walk of `doc` that goes on with `budget` (the one [`root_entries`] spent).
    pub(crate) fn new(doc: &'d Document, budget: Budget) -> Self {
        let targets = doc
            .nodes
            .iter()
            .filter_map(|n| match n.kind {
                Kind::Alias(target) => Some(target),
                _ => None,
            })
            .collect();
        Walk {
            doc,
            budget,
            targets,
        }
    }

    /// Visits `top`, the entries of the document's root mapping `root`, and descends where
    /// `visitor` says.
    pub(crate) fn document(
        mut self,
        visitor: &mut impl Visitor,
        root: NodeId,
        top: &[Entry],
    ) -> Result<(), Error> {
        self.entries(visitor, root, top, "", false, 0)
    }

    /// Visits `entries`, the entries of mapping `map` at `navpath`, and descends where
    /// `visitor` says.
    fn entries(
        &mut self,
        visitor: &mut impl Visitor,
        map: NodeId,
        entries: &[Entry],
        navpath: &str,
        shared: bool,
        depth: usize,
    ) -> Result<(), Error> {
        for entry in entries {
            let navpath = format!("{navpath}.{}", entry.key);
            let shared =
                shared || !mapping::explicit(self.doc, map, entry) || self.shares(entry.value);
            let field = Field {
                entry,
                navpath: &navpath,
                shared,
                depth,
            };
            if visitor.visit(self, &field)? {
                self.fields(visitor, &navpath, entry.value, shared, depth + 1)?;
            }
        }
        Ok(())
    }

    /// `visitFields`: lists keep the path, string-keyed mappings extend it.
    fn fields(
        &mut self,
        visitor: &mut impl Visitor,
        navpath: &str,
        id: NodeId,
        shared: bool,
        depth: usize,
    ) -> Result<(), Error> {
        self.budget.spend(self.doc, id, depth)?;
        let target = self.doc.resolve(id);
        match &self.doc.node(target).kind {
            Kind::Seq(items) => {
                for &item in items {
                    let shared = shared || self.shares(item);
                    self.fields(visitor, navpath, item, shared, depth + 1)?;
                }
            }
            Kind::Map(_) if self.doc.is_string_map(target) => {
                if let Some(entries) = self.string_entries(target, depth)? {
                    self.entries(visitor, target, &entries, navpath, shared, depth)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the node `id` is an alias or an anchor something aliases.
    pub(crate) fn shares(&self, id: NodeId) -> bool {
        matches!(self.doc.node(id).kind, Kind::Alias(_))
            || self.targets.contains(&self.doc.resolve(id))
    }

    /// Mapping `map`'s entries if it is a `map[string]interface{}`; `None` where a merge
    /// brings in a collection key.
    pub(crate) fn string_entries(
        &mut self,
        map: NodeId,
        depth: usize,
    ) -> Result<Option<Vec<Entry>>, Error> {
        match self.doc.entries(map, &mut self.budget, depth) {
            Ok(entries) => Ok(Some(entries)),
            Err(e) if e.kind == ErrorKind::ComplexKey => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
