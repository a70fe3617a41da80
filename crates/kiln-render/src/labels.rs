//! Skaffold's labels on rendered and deployed manifests: pkg/skaffold/kubernetes/manifest/
//! labels.go (`SetLabels`, `labelsSetter`, `ResourceSelectorLabels.allowByNavpath`) with
//! visitor.go's walk and the default transform allow and deny lists' `labels` paths.
//!
//! Which documents: those whose `apiVersion` and `kind` are strings and whose group/kind
//! is on Skaffold's default transform allowlist (every kind there has the labels path `.*`)
//! or in a Config Connector group: the same selection as image replacement. Any other
//! document (a `ConfigMap`, a `Namespace`, a CRD) is left alone, as Skaffold leaves it.
//!
//! Which places: every mapping entry keyed `metadata`, at any depth (lists keep the path),
//! whose value is a mapping with string keys: the object's own `metadata`, a pod template's
//! (`spec.template.metadata`), a CronJob's job template's… except where the default deny
//! list says not to: a StatefulSet's `spec.volumeClaimTemplates[].metadata` and a Job's
//! `spec.template.metadata`.
//!
//! What changes in one such `metadata`: no `labels` → `labels` with every label is added;
//! `labels` a mapping with string keys → each label it lacks is added, and an existing
//! `skaffold.dev/run-id` is set to this run's (Skaffold always overrides it); every other
//! label already there keeps its value. A `labels` that is null or not a mapping is left
//! as it is (`labels:` with no value gets nothing, as in Skaffold, whose Go type check
//! fails on it). New labels are added in key order (Go's marshaller sorts them).
//!
//! How: a splice, as for the namespace. A new `labels:` block goes after `namespace`,
//! `name` or `generateName` (else after the mapping's last entry), new labels after the
//! last one, a flow mapping's entries right after its `{`. Each spliced document is read
//! back and compared with what Skaffold's decoded copy would hold; where a splice would
//! change more than these mappings (an alias, an anchor something else aliases, an entry
//! merged in with `<<`) or does not read back as intended, the document is written out
//! again whole, as Skaffold writes every document (its comments are then lost).

use std::collections::BTreeMap;

use crate::Error;
use crate::images::transformable;
use crate::manifest::{self, Field, Visitor, Walk};
use crate::mapping::{self, Injection, New, Plan, explicit, find, insert, set_value};
use crate::splice::Edit;
use crate::tree::{self, Scalar, Value};
use crate::yaml::{Budget, Document, Kind, Resolved};

/// The label Skaffold marks every deployed object with: the run's ID.
pub const RUN_ID_LABEL: &str = "skaffold.dev/run-id";

const METADATA: &str = "metadata";
const LABELS: &str = "labels";

/// The default deny list's label path for a kind: the `metadata` (navpath) whose labels
/// Skaffold leaves alone (`TransformDenylist`: StatefulSet's volume claim templates, whose
/// labels cannot change after creation; Job's pod template, which Kubernetes labels).
fn denied_metadata(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("apps", "StatefulSet") => Some(".spec.volumeClaimTemplates.metadata"),
        ("batch", "Job") => Some(".spec.template.metadata"),
        _ => None,
    }
}

/// Adds `labels` where Skaffold's `SetLabels` adds them (see the module docs), keeping
/// everything else byte for byte. No labels: the text as it is (not even parsed, as in
/// Skaffold). Errors where Skaffold's render fails: invalid YAML, a non-empty document
/// that is not a mapping, a repeated key.
pub fn set_labels(text: &str, labels: &BTreeMap<String, String>) -> Result<String, Error> {
    if labels.is_empty() {
        return Ok(text.to_owned());
    }
    mapping::inject(text, &mut Labels(labels))
}

struct Labels<'a>(&'a BTreeMap<String, String>);

impl Injection for Labels<'_> {
    const WHAT: &'static str = "its labels";

    fn plan(&mut self, text: &str, doc: &Document) -> Result<Plan, Error> {
        plan(text, doc, self.0)
    }

    fn change(&self, value: &mut Value) -> Option<()> {
        label(value, self.0);
        Some(())
    }

    /// The spliced document reads back as Skaffold's labelled copy of the original would.
    fn reads_back(&self, text: &str, doc: &Document, out: &str, spliced: &Document) -> bool {
        let read_back = spliced
            .root
            .and_then(|root| tree::from_document(spliced, out, root));
        let expected = doc.root.and_then(|root| {
            let mut value = tree::from_document(doc, text, root)?;
            label(&mut value, self.0);
            Some(value)
        });
        matches!((read_back, expected), (Some(a), Some(b)) if same(&a, &b))
    }

    fn error(line: usize, column: usize, message: String) -> Error {
        Error::SetLabels {
            line,
            column,
            message,
        }
    }
}

/// `traverseManifestFields` with the labels setter, for one document.
fn plan(text: &str, doc: &Document, labels: &BTreeMap<String, String>) -> Result<Plan, Error> {
    let mut budget = Budget::new();
    let Some((root, top)) = manifest::root_entries(doc, &mut budget)? else {
        return Ok(Plan::Keep);
    };
    let api_version = manifest::top_level_str(doc, &top, "apiVersion");
    let kind = manifest::top_level_str(doc, &top, "kind");
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Ok(Plan::Keep);
    };
    let group = manifest::api_group(api_version);
    if !transformable(group, kind) {
        // Skaffold's non-recursive visitor sees the top-level `metadata` of other kinds,
        // but no label path selects it.
        return Ok(Plan::Keep);
    }
    let mut setter = LabelsSetter {
        text,
        labels,
        denied: denied_metadata(group, kind),
        edits: Vec::new(),
        rewrite: false,
    };
    Walk::new(doc, budget).document(&mut setter, root, &top)?;
    Ok(if setter.rewrite {
        Plan::Rewrite
    } else if setter.edits.is_empty() {
        Plan::Keep
    } else {
        Plan::Splice(setter.edits)
    })
}

/// `labelsSetter` over the document as written: splices.
struct LabelsSetter<'a> {
    text: &'a str,
    labels: &'a BTreeMap<String, String>,
    denied: Option<&'static str>,
    edits: Vec<Edit>,
    /// A change the splices cannot make alone.
    rewrite: bool,
}

impl Visitor for LabelsSetter<'_> {
    /// `labelsSetter.Visit`.
    fn visit(&mut self, walk: &mut Walk<'_>, field: &Field<'_>) -> Result<bool, Error> {
        let Field {
            entry: e,
            navpath,
            shared,
            depth,
            ..
        } = *field;
        let doc = walk.doc;
        if e.key != METADATA || self.denied == Some(navpath) {
            return Ok(true);
        }
        let metadata = doc.resolve(e.value);
        if !matches!(doc.node(metadata).kind, Kind::Map(_)) || !doc.is_string_map(metadata) {
            return Ok(true);
        }
        let Some(entries) = walk.string_entries(metadata, depth + 1)? else {
            return Ok(true);
        };
        let Some(current) = find(&entries, LABELS) else {
            if shared {
                self.rewrite = true;
                return Ok(false);
            }
            let pairs: Vec<(&str, &str)> = self
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let new = [(LABELS, New::Map(&pairs))];
            match insert(
                self.text,
                doc,
                metadata,
                &["namespace", "name", "generateName"],
                &new,
            ) {
                Some(edit) => self.edits.push(edit),
                None => self.rewrite = true,
            }
            return Ok(false);
        };
        let map = doc.resolve(current.value);
        if !matches!(doc.node(map).kind, Kind::Map(_)) || !doc.is_string_map(map) {
            return Ok(true);
        }
        let Some(existing) = walk.string_entries(map, depth + 2)? else {
            return Ok(true);
        };
        let shared = shared || !explicit(doc, metadata, current) || walk.shares(current.value);
        let mut added: Vec<(&str, New<'_>)> = Vec::new();
        let mut edits = Vec::new();
        for (key, value) in self.labels {
            match find(&existing, key) {
                None => added.push((key, New::Scalar(value))),
                // Only the run ID is overridden.
                Some(old) if key != RUN_ID_LABEL || doc.str_value(old.value) == Some(value) => {}
                // Merged in with `<<`: an explicit key wins over it.
                Some(old) if !explicit(doc, map, old) => added.push((key, New::Scalar(value))),
                Some(old) => match set_value(self.text, doc, old.value, value)? {
                    Some(set) => edits.extend(set),
                    None => self.rewrite = true,
                },
            }
        }
        if added.is_empty() && edits.is_empty() {
            return Ok(false);
        }
        if shared {
            self.rewrite = true;
            return Ok(false);
        }
        if !added.is_empty() {
            match insert(self.text, doc, map, &[], &added) {
                Some(edit) => edits.push(edit),
                None => self.rewrite = true,
            }
        }
        self.edits.extend(edits);
        Ok(false)
    }
}

/// `value` (a decoded document) as Skaffold's copy holds it after `SetLabels`.
fn label(value: &mut Value, labels: &BTreeMap<String, String>) {
    let group = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(|v| manifest::api_group(v).to_owned());
    let kind = value.get("kind").and_then(Value::as_str).map(str::to_owned);
    if let (Some(group), Some(kind)) = (group, kind)
        && transformable(&group, &kind)
        && let Value::Map(entries) = value
    {
        let setter = Setter {
            labels,
            denied: denied_metadata(&group, &kind),
        };
        setter.entries(entries, "");
    }
}

/// `labelsSetter` over a decoded copy, as Skaffold runs it.
struct Setter<'a> {
    labels: &'a BTreeMap<String, String>,
    denied: Option<&'static str>,
}

impl Setter<'_> {
    fn entries(&self, entries: &mut [(Scalar, Value)], navpath: &str) {
        for (key, value) in entries.iter_mut() {
            let path = format!("{navpath}.{}", key.value);
            if self.visit(&key.value, value, &path) {
                self.fields(value, &path);
            }
        }
    }

    fn fields(&self, value: &mut Value, navpath: &str) {
        match value {
            Value::Seq(items) => items.iter_mut().for_each(|i| self.fields(i, navpath)),
            Value::Map(entries) if string_keys(entries) => self.entries(entries, navpath),
            _ => {}
        }
    }

    fn visit(&self, key: &str, value: &mut Value, navpath: &str) -> bool {
        if key != METADATA || self.denied == Some(navpath) {
            return true;
        }
        let Value::Map(metadata) = value else {
            return true;
        };
        if !string_keys(metadata) {
            return true;
        }
        let new = |k: &str, v: &str| (Scalar::string(k), Value::string(v));
        match metadata.iter_mut().find(|(k, _)| k.value == LABELS) {
            None => {
                let all = self.labels.iter().map(|(k, v)| new(k, v)).collect();
                metadata.push((Scalar::string(LABELS), Value::Map(all)));
                false
            }
            Some((_, Value::Map(existing))) if string_keys(existing) => {
                for (k, v) in self.labels {
                    match existing.iter_mut().find(|(key, _)| key.value == *k) {
                        None => existing.push(new(k, v)),
                        Some((_, old)) if k == RUN_ID_LABEL => *old = Value::string(v),
                        Some(_) => {}
                    }
                }
                false
            }
            Some(_) => true,
        }
    }
}

/// Whether a mapping decodes to `map[string]interface{}`.
fn string_keys(entries: &[(Scalar, Value)]) -> bool {
    entries.iter().all(|(k, _)| k.resolved == Resolved::Str)
}

/// Whether two values hold the same data (mappings in any order, scalars by value and
/// type, not spelling).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => x.value == y.value && x.resolved == y.resolved,
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter().any(|(k2, v2)| {
                        k.value == k2.value && k.resolved == k2.resolved && same(v, v2)
                    })
                })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn set(text: &str, pairs: &[(&str, &str)]) -> String {
        set_labels(text, &labels(pairs)).unwrap()
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\n";
    const RUN: &[(&str, &str)] = &[(RUN_ID_LABEL, "0a1b")];

    #[test]
    fn skaffolds_vectors() {
        // TestSetLabels: added in key order, after `name`.
        let pod = format!(
            "{POD}metadata:\n  name: getting-started\nspec:\n  containers:\n  - image: gcr.io/k8s-skaffold/example\n    name: example\n"
        );
        assert_eq!(
            set(&pod, &[("key2", "value2"), ("key1", "value1")]),
            pod.replace(
                "  name: getting-started\n",
                "  name: getting-started\n  labels:\n    key1: value1\n    key2: value2\n"
            )
        );
        // TestAddLabels: a label already there keeps its value.
        let labelled = pod.replace("metadata:\n", "metadata:\n  labels:\n    key0: value0\n");
        assert_eq!(
            set(
                &labelled,
                &[
                    ("key0", "should-be-ignored"),
                    ("key1", "value1"),
                    ("key2", "value2")
                ]
            ),
            labelled.replace(
                "    key0: value0\n",
                "    key0: value0\n    key1: value1\n    key2: value2\n"
            )
        );
        // TestSetNoLabel: nothing to add, nothing read (not even invalid YAML).
        assert_eq!(set(&pod, &[]), pod);
        assert_eq!(set("{{ not yaml", &[]), "{{ not yaml");
        // TestSetNoLabelWhenTypeUnexpected.
        for unexpected in [
            format!("{POD}metadata: 3\n"),
            format!("{POD}metadata:\n  labels: 3\n  name: getting-started\n"),
        ] {
            assert_eq!(set(&unexpected, &[("key0", "value0")]), unexpected);
        }
        // TestAlwaysSetRunIDLabel: the run ID is the one label that is overridden.
        let old = pod.replace(
            "metadata:\n",
            "metadata:\n  labels:\n    skaffold.dev/run-id: foo\n",
        );
        assert_eq!(
            set(&old, &[(RUN_ID_LABEL, "bar")]),
            old.replace("run-id: foo", "run-id: bar")
        );
    }

    #[test]
    fn every_metadata_of_a_workload_gets_them() {
        let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # the web tier\n  namespace: team-a\n  annotations:\n    note: x\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: web\n";
        assert_eq!(
            set(deployment, RUN),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # the web tier\n  namespace: team-a\n  labels:\n    skaffold.dev/run-id: 0a1b\n  annotations:\n    note: x\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n        skaffold.dev/run-id: 0a1b\n    spec:\n      containers:\n        - name: web\n          image: web\n"
        );
        // A CronJob: itself, its job template and the job template's pod template.
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  jobTemplate:\n    metadata:\n      name: j\n    spec:\n      template:\n        metadata: {}\n        spec: {}\n";
        assert_eq!(
            set(cron, RUN),
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\n  labels:\n    skaffold.dev/run-id: 0a1b\nspec:\n  jobTemplate:\n    metadata:\n      name: j\n      labels:\n        skaffold.dev/run-id: 0a1b\n    spec:\n      template:\n        metadata: {labels: {skaffold.dev/run-id: 0a1b}}\n        spec: {}\n"
        );
        // A `metadata` in a list keeps the list's path.
        let knative = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: k\nspec:\n  items:\n  - metadata:\n      name: x\n";
        assert!(set(knative, RUN).ends_with(
            "  - metadata:\n      name: x\n      labels:\n        skaffold.dev/run-id: 0a1b\n"
        ));
    }

    #[test]
    fn the_default_deny_list_is_kept() {
        // A StatefulSet's volume claim templates and a Job's pod template keep their labels.
        let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  template:\n    metadata:\n      labels: {app: db}\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n";
        assert_eq!(
            set(sts, RUN),
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\n  labels:\n    skaffold.dev/run-id: 0a1b\nspec:\n  template:\n    metadata:\n      labels: {skaffold.dev/run-id: 0a1b, app: db}\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n"
        );
        let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    metadata:\n      name: p\n";
        assert_eq!(
            set(job, RUN),
            job.replace(
                "  name: j\n",
                "  name: j\n  labels:\n    skaffold.dev/run-id: 0a1b\n"
            )
        );
    }

    #[test]
    fn kinds_outside_the_allowlist_are_untouched() {
        for manifest in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
            "apiVersion: example.com/v1\nkind: Pod\nmetadata:\n  name: p\n",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: c\n",
            "apiVersion: v1\nkind: [Pod]\nmetadata:\n  name: p\n",
            "kind: Pod\nmetadata:\n  name: p\n",
            "",
            "---\n# only a comment\n",
        ] {
            assert_eq!(set(manifest, RUN), manifest);
        }
        // Config Connector groups are selected: every `metadata` in them.
        assert_eq!(
            set(
                "apiVersion: iam.cnrm.cloud.google.com/v1beta1\nkind: IAMPolicy\nmetadata:\n  name: p\n",
                RUN
            ),
            "apiVersion: iam.cnrm.cloud.google.com/v1beta1\nkind: IAMPolicy\nmetadata:\n  name: p\n  labels:\n    skaffold.dev/run-id: 0a1b\n"
        );
    }

    #[test]
    fn labels_that_are_not_a_mapping_are_left_alone() {
        // `labels:` with no value is null in Go, not a map: Skaffold adds nothing there.
        for labels_field in [
            "labels:\n",
            "labels: ~\n",
            "labels: [a]\n",
            "labels: {1: a}\n",
        ] {
            let manifest = format!("{POD}metadata:\n  name: p\n  {labels_field}");
            assert_eq!(set(&manifest, RUN), manifest, "{labels_field:?}");
        }
    }

    #[test]
    fn values_are_quoted_where_plain_would_read_otherwise() {
        assert_eq!(
            set(
                &format!("{POD}metadata:\n  name: p\n"),
                &[
                    ("version", "1.10"),
                    ("empty", ""),
                    ("flag", "true"),
                    ("team", "a b")
                ]
            ),
            format!(
                "{POD}metadata:\n  name: p\n  labels:\n    empty: \"\"\n    flag: \"true\"\n    team: a b\n    version: \"1.10\"\n"
            )
        );
    }

    #[test]
    fn the_last_line_without_a_line_break_and_several_documents() {
        assert_eq!(
            set(&format!("{POD}metadata:\n  name: p"), RUN),
            format!("{POD}metadata:\n  name: p\n  labels:\n    skaffold.dev/run-id: 0a1b")
        );
        let stream = format!(
            "# head\n---\n{POD}metadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n{POD}metadata:\n  labels:\n    app: b # keep\n"
        );
        assert_eq!(
            set(&stream, RUN),
            stream
                .replace(
                    "  name: a\n",
                    "  name: a\n  labels:\n    skaffold.dev/run-id: 0a1b\n"
                )
                .replace(
                    "    app: b # keep\n",
                    "    app: b # keep\n    skaffold.dev/run-id: 0a1b\n"
                )
        );
    }

    #[test]
    fn shared_labels_are_written_out_again() {
        // The pod template and the selector alias the object's labels: a splice into the
        // anchor would put the run ID into the selector, which Skaffold's decoded copy
        // leaves alone.
        let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: &l\n    app: web\nspec:\n  selector:\n    matchLabels: *l\n  template:\n    metadata:\n      labels: *l\n";
        assert_eq!(
            set(manifest, RUN),
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\n    skaffold.dev/run-id: 0a1b\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n        skaffold.dev/run-id: 0a1b\n"
        );
        // A run ID merged in with `<<` gets an explicit key, which wins over the merge.
        let merged = format!(
            "{POD}metadata:\n  name: p\n  labels:\n    <<: {{skaffold.dev/run-id: old}}\n    app: p\n"
        );
        assert_eq!(
            set(&merged, RUN),
            merged.replace(
                "    app: p\n",
                "    app: p\n    skaffold.dev/run-id: 0a1b\n"
            )
        );
        // A run ID written as null is set in place.
        let null = format!("{POD}metadata:\n  labels:\n    skaffold.dev/run-id:\n");
        assert_eq!(
            set(&null, RUN),
            format!("{POD}metadata:\n  labels:\n    skaffold.dev/run-id: 0a1b\n")
        );
    }

    #[test]
    fn flow_mappings_get_entries_after_their_brace() {
        assert_eq!(
            set(
                &format!("{POD}metadata: {{name: p}}\n"),
                &[("a", "1"), ("b", "x")]
            ),
            format!("{POD}metadata: {{labels: {{a: \"1\", b: x}}, name: p}}\n")
        );
    }

    #[test]
    fn invalid_manifests_fail_as_in_skaffold() {
        assert!(matches!(
            set_labels("- a\n- b\n", &labels(RUN)),
            Err(Error::NotAMapping { .. })
        ));
        assert!(matches!(
            set_labels("a: [\n", &labels(RUN)),
            Err(Error::Syntax { .. })
        ));
    }
}
