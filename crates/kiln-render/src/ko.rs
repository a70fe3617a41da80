//! `ko resolve`: find every `ko://` string in a YAML stream and put the built references in
//! their place.
//!
//! ko (pkg/resolve/resolve.go) walks each document's `yaml.Node` tree and takes every scalar
//! whose tag is `!!str` and whose value starts with `ko://`, anywhere: mapping values, list
//! items, **mapping keys**, block scalars (`|`, `>`) too. The reference is the value with
//! surrounding whitespace removed (`strings.TrimSpace`, so a `|` block's trailing line break
//! does not count). An alias node has no children in that walk, so a `ko://` behind an alias
//! is found once, at its anchor; replacing the anchored scalar changes every alias to it,
//! exactly as ko's re-encoded output does (it keeps `&anchor`/`*alias`).
//!
//! Unlike ko, which decodes and re-encodes every document (dropping comments and reflowing
//! the text), the replacement here is a splice: only the replaced scalars change.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use kiln_core::naming::KO_SCHEME;

use crate::Error;
use crate::splice::{self, Edit};
use crate::yaml::{self, Document, Kind, NodeId, Resolved};

/// A YAML stream parsed once, for `kiln ko resolve`: list its references, build them, then
/// [`KoManifest::resolve`] without parsing again. One value per file.
#[derive(Debug, Clone)]
pub struct KoManifest<'a> {
    text: &'a str,
    docs: Vec<Document>,
    /// Every `ko://` scalar: document, node, trimmed reference.
    sites: Vec<(usize, NodeId, String)>,
    references: Vec<String>,
}

impl<'a> KoManifest<'a> {
    /// Parses `text` (any number of documents) and collects its `ko://` references.
    pub fn parse(text: &'a str) -> Result<Self, Error> {
        let docs = yaml::parse(text)?;
        let mut sites = Vec::new();
        let mut references: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for (d, doc) in docs.iter().enumerate() {
            for id in 0..doc.nodes.len() {
                let Some(value) = string_scalar(doc, id) else {
                    continue;
                };
                if !value.starts_with(KO_SCHEME) {
                    continue;
                }
                let reference = value.trim().to_owned();
                if seen.insert(reference.clone()) {
                    references.push(reference.clone());
                }
                sites.push((d, id, reference));
            }
        }
        Ok(KoManifest {
            text,
            docs,
            sites,
            references,
        })
    }

    /// The distinct `ko://` references (with the scheme, whitespace trimmed), in the order
    /// they first appear.
    pub fn references(&self) -> &[String] {
        &self.references
    }

    /// The text with every `ko://` scalar replaced by `resolved[reference]`, everything else
    /// byte for byte. A reference missing from `resolved` is an error naming where it is
    /// (ko: `resolved reference to "..." not found`).
    pub fn resolve<S: BuildHasher>(
        &self,
        resolved: &HashMap<String, String, S>,
    ) -> Result<String, Error> {
        let mut edits = Vec::new();
        for (d, id, reference) in &self.sites {
            let doc = &self.docs[*d];
            let Some(value) = resolved.get(reference) else {
                let (line, column) = doc.node(*id).position();
                return Err(Error::Unresolved {
                    line,
                    column,
                    reference: reference.clone(),
                });
            };
            edits.extend(splice::replace_scalar(self.text, doc, *id, value)?);
        }
        Ok(splice::apply(self.text, edits))
    }
}

/// Every distinct `ko://` string scalar of a (multi-document) YAML stream, in first-seen
/// order, with surrounding whitespace trimmed as ko does. See the module docs for which
/// scalars count.
pub fn find_ko_references(text: &str) -> Result<Vec<String>, Error> {
    Ok(KoManifest::parse(text)?.references)
}

/// Replaces every string scalar whose value is a key of `replacements` with the mapped value,
/// keeping everything else byte for byte (documents, `---`, comments, key order, other
/// scalars' spelling). A scalar matches on its value, or on its value without trailing
/// whitespace (a `|` block's line break), as ko's `strings.TrimSpace` does for `ko://`
/// values.
///
/// Only `!!str` scalars are replaced (quoted, block, plain ones that are not numbers,
/// booleans, null or timestamps, or explicitly `!!str`), mapping keys included; aliases are
/// left as they are, so an anchored scalar's replacement shows through every alias to it.
/// The replaced scalar keeps its style; see the crate docs.
pub fn replace_scalars<S: BuildHasher>(
    text: &str,
    replacements: &HashMap<String, String, S>,
) -> Result<String, Error> {
    let docs = yaml::parse(text)?;
    let mut edits: Vec<Edit> = Vec::new();
    for doc in &docs {
        for id in 0..doc.nodes.len() {
            let Some(value) = string_scalar(doc, id) else {
                continue;
            };
            let new = replacements
                .get(value)
                .or_else(|| replacements.get(value.trim_end()));
            if let Some(new) = new {
                edits.extend(splice::replace_scalar(text, doc, id, new)?);
            }
        }
    }
    Ok(splice::apply(text, edits))
}

/// The value of `id` if it is a `!!str` scalar (not an alias).
fn string_scalar(doc: &Document, id: NodeId) -> Option<&str> {
    match (&doc.node(id).kind, doc.resolved(id)) {
        (Kind::Scalar { value, .. }, Some(Resolved::Str)) => Some(value),
        _ => None,
    }
}
