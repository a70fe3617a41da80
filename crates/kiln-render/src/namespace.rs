//! `skaffold render -n NS`'s namespace injection: pkg/skaffold/kubernetes/manifest/
//! namespaces.go (`SetNamespace`, `addOrUpdateNamespace`), with visitor.go's
//! `shouldTransformManifest` choosing the documents.
//!
//! Which documents: those whose `apiVersion` and `kind` are strings and whose group/kind is
//! on Skaffold's default transform allowlist, or in a Config Connector group (the same
//! selection as image replacement, [`crate::images`]). A `ConfigMap`, a `Namespace` or any
//! other kind outside it is left alone, as Skaffold leaves it.
//!
//! What changes, per document: no `metadata` → `metadata: {namespace: NS}` is added; a
//! `metadata.namespace` that is absent, null, `""` or already NS → it is set to NS; any
//! other namespace is kept, and a [`NamespaceConflict`] says so (Skaffold's warning), except
//! when NS is `default`, which never overrides a namespace and is never warned about. An
//! empty NS means `default`, as in Skaffold. A `metadata` that is not a mapping (null, a
//! list, a mapping with keys that are not strings) fails, as it fails Skaffold's render.
//!
//! How: like image replacement, a splice. The new `namespace:` line goes after `name`
//! (else after the mapping's last entry) at the mapping's indentation, a new `metadata:`
//! after `kind`; a null or empty namespace is replaced in place, keeping its quotes; a
//! flow mapping gets the entry right after its `{`. Every other byte stays. Where a splice
//! would change more than this document's own `metadata` (it is an alias, is merged in with
//! `<<`, or anchors a node another place aliases) or does not read back with the namespace,
//! the document is written out again with the namespace set, as Skaffold writes every
//! document (comments in it are then lost).

use std::fmt;

use crate::Error;
use crate::images::transformable;
use crate::manifest;
use crate::mapping::{
    self, Injection, New, Plan, explicit, find, go_string, insert, referenced, set_value,
};
use crate::tree::Value;
use crate::yaml::{Budget, Document, Kind, NodeId, Resolved, TagKind};

const METADATA: &str = "metadata";
const NAMESPACE: &str = "namespace";
/// What an empty namespace means, and the namespace that never overrides another.
const DEFAULT_NAMESPACE: &str = "default";

/// [`set_namespace`]'s result: the manifests, and the documents that kept their own
/// namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaced {
    pub text: String,
    pub conflicts: Vec<NamespaceConflict>,
}

/// A manifest that names another namespace than the one asked for keeps its own; Skaffold
/// warns of it. Displays as Skaffold's warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceConflict {
    /// The manifest's `kind`.
    pub kind: String,
    /// Its `metadata.name`, if it has a string one.
    pub name: Option<String>,
    /// The namespace it keeps, as written.
    pub kept: String,
    /// The namespace asked for (`-n`).
    pub requested: String,
}

impl fmt::Display for NamespaceConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a manifest already has namespace set \"{}\" which conflicts with namespace on the CLI \"{}\"",
            self.kept, self.requested
        )
    }
}

/// Sets `metadata.namespace` to `namespace` in every document of `text` that Skaffold's
/// `SetNamespace` changes (see the module docs), keeping everything else byte for byte.
/// Errors where Skaffold's render fails: invalid YAML, a non-empty document that is not a
/// mapping, a repeated key, a selected document whose `metadata` is not a mapping.
pub fn set_namespace(text: &str, namespace: &str) -> Result<Namespaced, Error> {
    let namespace = if namespace.is_empty() {
        DEFAULT_NAMESPACE
    } else {
        namespace
    };
    let mut injection = Namespace {
        namespace,
        conflicts: Vec::new(),
    };
    let text = mapping::inject(text, &mut injection)?;
    Ok(Namespaced {
        text,
        conflicts: injection.conflicts,
    })
}

struct Namespace<'a> {
    namespace: &'a str,
    /// The documents that keep a namespace of their own.
    conflicts: Vec<NamespaceConflict>,
}

impl Injection for Namespace<'_> {
    const WHAT: &'static str = "its namespace";

    fn plan(&mut self, text: &str, doc: &Document) -> Result<Plan, Error> {
        plan(text, doc, self.namespace, &mut self.conflicts)
    }

    /// `metadata.namespace` set (before `spec` when `metadata` is new, last in `metadata`
    /// when `namespace` is).
    fn change(&self, value: &mut Value) -> Option<()> {
        let metadata = value.map_entry(METADATA, Some("spec"))?;
        metadata.set(NAMESPACE, Value::string(self.namespace), None);
        Some(())
    }

    fn reads_back(&self, _: &str, _: &Document, _: &str, spliced: &Document) -> bool {
        has_namespace(spliced, self.namespace)
    }

    fn error(line: usize, column: usize, message: String) -> Error {
        Error::SetNamespace {
            line,
            column,
            message,
        }
    }
}

/// Whether `doc`'s `metadata.namespace` is the string `namespace`.
fn has_namespace(doc: &Document, namespace: &str) -> bool {
    let mut budget = Budget::new();
    let Ok(Some((_, top))) = manifest::root_entries(doc, &mut budget) else {
        return false;
    };
    let Some(metadata) = find(&top, METADATA) else {
        return false;
    };
    doc.entries(metadata.value, &mut budget, 1)
        .ok()
        .and_then(|entries| find(&entries, NAMESPACE).and_then(|e| doc.str_value(e.value)))
        == Some(namespace)
}

/// `shouldTransformManifest`, then `addOrUpdateNamespace` (a namespace it keeps goes to
/// `conflicts`), for one document.
fn plan(
    text: &str,
    doc: &Document,
    namespace: &str,
    conflicts: &mut Vec<NamespaceConflict>,
) -> Result<Plan, Error> {
    let mut budget = Budget::new();
    let Some((root, top)) = manifest::root_entries(doc, &mut budget)? else {
        return Ok(Plan::Keep);
    };
    let api_version = manifest::top_level_str(doc, &top, "apiVersion");
    let kind = manifest::top_level_str(doc, &top, "kind");
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Ok(Plan::Keep);
    };
    if !transformable(manifest::api_group(api_version), kind) {
        return Ok(Plan::Keep);
    }
    let Some(metadata) = find(&top, METADATA) else {
        let new = New::Map(&[(NAMESPACE, namespace)]);
        let entries = [(METADATA, new)];
        return Ok(insert(text, doc, root, &["kind", "apiVersion"], &entries).into());
    };
    let map = doc.resolve(metadata.value);
    if !matches!(doc.node(map).kind, Kind::Map(_)) || !doc.is_string_map(map) {
        let (line, column) = doc.node(metadata.key_id).position();
        let found = match doc.node(map).kind {
            Kind::Map(_) => "a mapping with keys that are not strings".to_owned(),
            _ => doc.describe(metadata.value),
        };
        return Err(Error::SetNamespace {
            line,
            column,
            message: format!("`metadata` must be a mapping, found {found}"),
        });
    }
    // Splicing into a mapping that is not this document's own `metadata` alone would
    // change other places too.
    let shared = !explicit(doc, root, metadata)
        || matches!(doc.node(metadata.value).kind, Kind::Alias(_))
        || referenced(doc, map);
    let entries = doc.entries(map, &mut budget, 1)?;
    let Some(current) = find(&entries, NAMESPACE) else {
        if shared {
            return Ok(Plan::Rewrite);
        }
        let entries = [(NAMESPACE, New::Scalar(namespace))];
        return Ok(insert(text, doc, map, &["name", "generateName"], &entries).into());
    };
    let value = doc.resolve(current.value);
    let written = go_string(doc, value);
    let null = doc.resolved(value) == Some(Resolved::Null)
        || (doc.node(value).tag == TagKind::Null && doc.scalar(value).is_some());
    if written == Some(namespace) {
        return Ok(Plan::Keep);
    }
    if null || written == Some("") {
        if shared {
            return Ok(Plan::Rewrite);
        }
        if !explicit(doc, map, current) {
            // Merged in with `<<`: an explicit key wins over it.
            let entries = [(NAMESPACE, New::Scalar(namespace))];
            return Ok(insert(text, doc, map, &["name", "generateName"], &entries).into());
        }
        return Ok(match set_value(text, doc, current.value, namespace)? {
            Some(edits) => Plan::Splice(edits),
            None => Plan::Rewrite,
        });
    }
    if namespace == DEFAULT_NAMESPACE {
        return Ok(Plan::Keep);
    }
    conflicts.push(NamespaceConflict {
        kind: kind.to_owned(),
        name: find(&entries, "name").and_then(|e| doc.str_value(e.value).map(str::to_owned)),
        kept: shown(text, doc, value),
        requested: namespace.to_owned(),
    });
    Ok(Plan::Keep)
}

/// A kept namespace for the warning: a scalar's value, else the text as written.
fn shown(text: &str, doc: &Document, id: NodeId) -> String {
    match doc.scalar(id) {
        Some((value, _)) => value.to_owned(),
        None => {
            let node = doc.node(id);
            text.get(node.start..node.end)
                .unwrap_or("")
                .trim()
                .to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, namespace: &str) -> Namespaced {
        set_namespace(text, namespace).unwrap()
    }

    fn text(text: &str, namespace: &str) -> String {
        let out = set(text, namespace);
        assert!(out.conflicts.is_empty(), "{:?}", out.conflicts);
        out.text
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\n";

    #[test]
    fn no_metadata_gets_one_after_kind() {
        assert_eq!(
            text(&format!("{POD}spec:\n  containers: []\n"), "team-a"),
            format!("{POD}metadata:\n  namespace: team-a\nspec:\n  containers: []\n")
        );
        // Skaffold's own vector: the kind last, no final line break.
        assert_eq!(
            text("apiVersion: v1\nkind: Pod", "test"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: test"
        );
        // A flow mapping gets it first.
        assert_eq!(
            text("{apiVersion: v1, kind: Service}\n", "team-a"),
            "{metadata: {namespace: team-a}, apiVersion: v1, kind: Service}\n"
        );
    }

    #[test]
    fn metadata_without_namespace_gets_it_after_name() {
        // Skaffold's "single Pod manifest in the list".
        let manifest = format!(
            "{POD}metadata:\n  name: getting-started\nspec:\n  containers:\n  - image: gcr.io/k8s-skaffold/example\n    name: example\n"
        );
        assert_eq!(
            text(&manifest, "test"),
            manifest.replace(
                "name: getting-started\n",
                "name: getting-started\n  namespace: test\n"
            )
        );
        // After `name` even when other keys follow it, at the mapping's indentation; a
        // comment on `name`'s line stays on it.
        assert_eq!(
            text(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: web # the web tier\n    labels:\n        app: web\n",
                "team-a"
            ),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: web # the web tier\n    namespace: team-a\n    labels:\n        app: web\n"
        );
        // No name: after the last entry, past a block scalar that ends it.
        assert_eq!(
            text(
                &format!(
                    "{POD}metadata:\n  annotations:\n    note: |\n      two\n      lines\n\nspec: {{}}\n"
                ),
                "team-a"
            ),
            format!(
                "{POD}metadata:\n  annotations:\n    note: |\n      two\n      lines\n\n  namespace: team-a\nspec: {{}}\n"
            )
        );
        // A flow `metadata`.
        assert_eq!(
            text(&format!("{POD}metadata: {{name: p}}\n"), "team-a"),
            format!("{POD}metadata: {{namespace: team-a, name: p}}\n")
        );
        assert_eq!(
            text(&format!("{POD}metadata: {{}}\n"), "team-a"),
            format!("{POD}metadata: {{namespace: team-a}}\n")
        );
    }

    #[test]
    fn null_and_empty_namespaces_are_set_in_place() {
        for (written, becomes) in [
            ("namespace:\n", "namespace: test\n"),
            (
                "namespace:   # set by CI\n",
                "namespace: test   # set by CI\n",
            ),
            ("namespace: ~\n", "namespace: test\n"),
            ("namespace: null\n", "namespace: test\n"),
            ("namespace: \"\"\n", "namespace: \"test\"\n"),
            ("namespace: ''\n", "namespace: 'test'\n"),
            // An alias to an empty string gives way to the value; the anchor stays.
            ("namespace: *empty\n", "namespace: test\n"),
        ] {
            let manifest = format!(
                "{POD}status: &empty ''\nmetadata:\n  name: getting-started\n  {written}spec: {{}}\n"
            );
            assert_eq!(
                text(&manifest, "test"),
                manifest.replace(written, becomes),
                "{written:?}"
            );
        }
    }

    #[test]
    fn an_equal_namespace_is_left_as_written() {
        let manifest = format!("{POD}metadata:\n  name: p\n  namespace: \"test\" # here\n");
        assert_eq!(text(&manifest, "test"), manifest);
    }

    #[test]
    fn a_conflicting_namespace_is_kept_with_skaffolds_warning() {
        let manifest = format!(
            "{POD}metadata:\n  name: getting-started\n  namespace: other\nspec: {{}}\n---\n{POD}metadata:\n  name: second\n"
        );
        let out = set(&manifest, "test");
        assert_eq!(
            out.text,
            manifest.replace("name: second\n", "name: second\n  namespace: test\n")
        );
        assert_eq!(
            out.conflicts,
            [NamespaceConflict {
                kind: "Pod".into(),
                name: Some("getting-started".into()),
                kept: "other".into(),
                requested: "test".into(),
            }]
        );
        assert_eq!(
            out.conflicts[0].to_string(),
            "a manifest already has namespace set \"other\" which conflicts with namespace on the CLI \"test\""
        );
        // `default` never overrides another namespace, and says nothing.
        let out = set(&manifest, "default");
        assert!(out.conflicts.is_empty());
        assert!(out.text.contains("namespace: other\n"));
        assert!(out.text.contains("name: second\n  namespace: default\n"));
        // A namespace that is not a string conflicts too.
        let out = set(&format!("{POD}metadata:\n  namespace: 5\n"), "test");
        assert_eq!(out.conflicts[0].kept, "5");
    }

    #[test]
    fn an_empty_namespace_means_default() {
        assert_eq!(
            text(&format!("{POD}metadata:\n  name: p\n"), ""),
            format!("{POD}metadata:\n  name: p\n  namespace: default\n")
        );
    }

    #[test]
    fn kinds_outside_the_allowlist_are_untouched() {
        for manifest in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: getting-started\n",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
            "apiVersion: example.com/v1\nkind: Pod\nmetadata:\n  name: p\n",
            // apiVersion and kind must be strings.
            "apiVersion: v1\nkind: 5\nmetadata:\n  name: p\n",
            "apiVersion: v1\nkind: [Pod]\nmetadata:\n  name: p\n",
            "apiVersion: 1\nkind: Pod\nmetadata:\n  name: p\n",
            "kind: Pod\nmetadata:\n  name: p\n",
            // Skaffold's "unexpected metadata type": no kind, so not selected.
            "metadata: []",
            "",
            "---\n# only a comment\n",
        ] {
            let out = set(manifest, "test");
            assert_eq!(out.text, manifest);
            assert!(out.conflicts.is_empty());
        }
        // Config Connector groups are selected.
        assert_eq!(
            text(
                "apiVersion: iam.cnrm.cloud.google.com/v1beta1\nkind: IAMPolicy\nmetadata:\n  name: p\n",
                "team-a"
            ),
            "apiVersion: iam.cnrm.cloud.google.com/v1beta1\nkind: IAMPolicy\nmetadata:\n  name: p\n  namespace: team-a\n"
        );
    }

    #[test]
    fn comments_and_formatting_elsewhere_are_kept() {
        let manifest = "# Leading comment\n---\napiVersion: apps/v1   # group/version\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web, \"tier\": 'front'}\nspec:\n  replicas: 0x2 # hex\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: \"reg/web:v1\"\n          args: [--port, '8080']\n...\n---\napiVersion: v1\nkind: ConfigMap # not selected\ndata:\n  k: |\n    v\n";
        assert_eq!(
            text(manifest, "team-a"),
            manifest.replace("  name: web\n", "  name: web\n  namespace: team-a\n")
        );
    }

    #[test]
    fn shared_metadata_is_written_out_again() {
        // An anchored `metadata` that a pod template aliases: only the top-level one gets
        // the namespace, as in Skaffold's decoded copy.
        let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata: &m\n  name: web\nspec:\n  template:\n    metadata: *m\n";
        assert_eq!(
            text(manifest, "team-a"),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: team-a\nspec:\n  template:\n    metadata:\n      name: web\n"
        );
        // A tag that would no longer fit the value.
        assert_eq!(
            text(
                &format!("{POD}metadata:\n  namespace: !!null # none\n"),
                "team-a"
            ),
            format!("{POD}metadata:\n  namespace: team-a\n")
        );
        // A namespace merged in empty gets an explicit key, which wins over the merge.
        let merged = format!("{POD}metadata:\n  <<: {{namespace: \"\"}}\n  name: p\nspec: {{}}\n");
        assert_eq!(
            text(&merged, "team-a"),
            merged.replace("  name: p\n", "  name: p\n  namespace: team-a\n")
        );
    }

    #[test]
    fn metadata_that_is_not_a_mapping_fails() {
        for (manifest, found) in [
            (format!("{POD}metadata:\n"), "null"),
            (format!("{POD}metadata: [a]\n"), "a sequence"),
            (format!("{POD}metadata: x\n"), "string `x`"),
            (
                format!("{POD}metadata: {{1: x}}\n"),
                "a mapping with keys that are not strings",
            ),
        ] {
            let err = set_namespace(&manifest, "test").unwrap_err();
            assert_eq!(
                err,
                Error::SetNamespace {
                    line: 3,
                    column: 1,
                    message: format!("`metadata` must be a mapping, found {found}"),
                },
                "{manifest:?}"
            );
        }
        // Not selected: nothing is read.
        assert!(set_namespace("apiVersion: v1\nkind: ConfigMap\nmetadata:\n", "test").is_ok());
    }
}
