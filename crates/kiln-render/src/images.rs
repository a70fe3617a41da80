//! `skaffold render`'s image replacement (pkg/skaffold/kubernetes/manifest/images.go,
//! visitor.go), with Skaffold's default resource selector.
//!
//! Which fields: in a document whose apiVersion/kind is on Skaffold's `TransformAllowlist`
//! (Pod, Service, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, the
//! `extensions` group's old kinds, Knative Service, Agones, Argo, Cloud Run Job/WorkerPool
//! take every `image` key at any depth; Confluent and Strimzi kinds only their listed paths)
//! or in a Config Connector group (`*.cnrm.cloud.google.com`, every `image` key), a field is
//! replaced when its value is a string that parses as an image reference whose name (after
//! Skaffold's `SanitizeImageName`: `ko://` removed, the name lower-cased) equals a build's
//! sanitized image name and that has **no digest**; a tag does not matter (`app:v1` is
//! replaced). Every other document, field and image is left alone. Skaffold's two helm
//! compatibility rules (`<name>:<name>` and `<name>/<name>:<name>` stand for `<name>`) are
//! kept.
//!
//! Skaffold re-encodes every document (and drops empty ones); here only the replaced scalars
//! change. An `image` whose value is an alias (`image: *app`) gets the new reference in place
//! of the alias; where an anchored scalar is replaced but an alias to it sits in a field
//! Skaffold would not replace, that alias is written out as the original string, so each
//! position ends with the value Skaffold's expanded output has.

use std::collections::{HashMap, HashSet};

use kiln_core::naming::{ImageName, sanitize_image_name};

use crate::Error;
use crate::manifest::{self, Field, Visitor, Walk};
use crate::splice::{self, Edit};
use crate::yaml::{self, Budget, Document, Kind, NodeId};

/// One built artifact, as in Skaffold's build output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The artifact's `image` in skaffold.yaml (`app`, `gcr.io/p/app`, `ko://example.com/cmd/app`).
    pub image_name: String,
    /// The full reference to write into the manifests (`reg/app:v1@sha256:…`).
    pub tag: String,
}

/// Skaffold's default `TransformAllowlist`: group, kind, image paths (`.*` = every `image`
/// key).
const ALLOWLIST: &[(&str, &str, &[&str])] = &[
    ("", "Pod", &[".*"]),
    ("", "Service", &[".*"]),
    ("apps", "DaemonSet", &[".*"]),
    ("apps", "Deployment", &[".*"]),
    ("apps", "ReplicaSet", &[".*"]),
    ("apps", "StatefulSet", &[".*"]),
    ("batch", "CronJob", &[".*"]),
    ("batch", "Job", &[".*"]),
    ("extensions", "DaemonSet", &[".*"]),
    ("extensions", "Deployment", &[".*"]),
    ("extensions", "ReplicaSet", &[".*"]),
    ("serving.knative.dev", "Service", &[".*"]),
    ("agones.dev", "Fleet", &[".*"]),
    ("agones.dev", "GameServer", &[".*"]),
    ("argoproj.io", "Rollout", &[".*"]),
    ("argoproj.io", "Workflow", &[".*"]),
    ("argoproj.io", "CronWorkflow", &[".*"]),
    ("argoproj.io", "WorkflowTemplate", &[".*"]),
    ("argoproj.io", "ClusterWorkflowTemplate", &[".*"]),
    (
        "platform.confluent.io",
        "Connect",
        &[".spec.image.application", ".spec.image.init"],
    ),
    (
        "platform.confluent.io",
        "ControlCenter",
        &[".spec.image.application", ".spec.image.init"],
    ),
    (
        "platform.confluent.io",
        "Kafka",
        &[".spec.image.application", ".spec.image.init"],
    ),
    (
        "platform.confluent.io",
        "KsqlDB",
        &[".spec.image.application", ".spec.image.init"],
    ),
    (
        "platform.confluent.io",
        "SchemaRegistry",
        &[".spec.image.application", ".spec.image.init"],
    ),
    (
        "platform.confluent.io",
        "Zookeeper",
        &[".spec.image.application", ".spec.image.init"],
    ),
    ("run.googleapis.com", "Job", &[".*"]),
    ("run.googleapis.com", "WorkerPool", &[".*"]),
    ("kafka.strimzi.io", "KafkaConnect", &[".spec.image"]),
    (
        "kafka.strimzi.io",
        "Kafka",
        &[
            ".spec.kafka.image",
            ".spec.zookeeper.image",
            ".spec.entityOperator.topicOperator.image",
            ".spec.entityOperator.userOperator.image",
            ".spec.kafkaExporter.image.",
        ],
    ),
];

const IMAGE_FIELD: &str = "image";

fn allowed_images(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    ALLOWLIST
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map(|(_, _, images)| *images)
}

/// Skaffold's `shouldTransformManifest` with the default allow and deny lists: the kind is
/// on the allowlist (no default denylist entry denies a whole kind) or in a Config
/// Connector group. The namespace injection uses it as is; image replacement then narrows
/// to each kind's image paths.
pub(crate) fn transformable(group: &str, kind: &str) -> bool {
    allowed_images(group, kind).is_some() || is_config_connector(group)
}

/// Skaffold's `ConfigConnectorResourceSelector`: the unanchored Go regexp
/// `([[:alpha:]]+\.)+cnrm\.cloud\.google\.com` on the group.
fn is_config_connector(group: &str) -> bool {
    const SUFFIX: &str = "cnrm.cloud.google.com";
    let b = group.as_bytes();
    group
        .match_indices(SUFFIX)
        .any(|(i, _)| i >= 2 && b[i - 1] == b'.' && b[i - 2].is_ascii_alphabetic())
}

/// Replaces the `image` fields Skaffold's `render` replaces (see the module docs) with the
/// matching build's `tag`, keeping everything else byte for byte. Errors where Skaffold's
/// render fails: invalid YAML, a non-empty document that is not a mapping, a repeated
/// mapping key.
pub fn replace_images(text: &str, builds: &[Build]) -> Result<String, Error> {
    let mut tags: HashMap<String, String> = HashMap::new();
    for b in builds {
        tags.insert(sanitize_image_name(&b.image_name), b.tag.clone());
    }
    let docs = yaml::parse(text)?;
    let mut edits = Vec::new();
    for doc in &docs {
        edits.extend(document_edits(text, doc, &tags)?);
    }
    Ok(splice::apply(text, edits))
}

fn document_edits(
    text: &str,
    doc: &Document,
    tags: &HashMap<String, String>,
) -> Result<Vec<Edit>, Error> {
    let mut budget = Budget::new();
    let Some((root, top)) = manifest::root_entries(doc, &mut budget)? else {
        return Ok(Vec::new());
    };
    let api_version = manifest::top_level_str(doc, &top, "apiVersion");
    let kind = manifest::top_level_str(doc, &top, "kind");
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        // Not transformable: Skaffold's non-recursive visitor only sees top-level fields,
        // and no top-level field of an unlisted kind is selected.
        return Ok(Vec::new());
    };
    let group = manifest::api_group(api_version);
    let allowed = allowed_images(group, kind);
    let config_connector = is_config_connector(group);
    if allowed.is_none() && !config_connector {
        return Ok(Vec::new());
    }
    let mut replacer = ImageReplacer {
        text,
        tags,
        allowed,
        config_connector,
        edits: Vec::new(),
        edited: HashSet::new(),
    };
    Walk::new(doc, budget).document(&mut replacer, root, &top)?;
    replacer.restore_other_aliases(doc);
    Ok(replacer.edits)
}

struct ImageReplacer<'a> {
    text: &'a str,
    tags: &'a HashMap<String, String>,
    allowed: Option<&'static [&'static str]>,
    config_connector: bool,
    edits: Vec<Edit>,
    edited: HashSet<NodeId>,
}

impl Visitor for ImageReplacer<'_> {
    /// `imageReplacer.Visit`.
    fn visit(&mut self, walk: &mut Walk<'_>, field: &Field<'_>) -> Result<bool, Error> {
        let value = field.entry.value;
        if !self.allow_by_navpath(field.navpath, &field.entry.key) {
            return Ok(true);
        }
        let Some(image) = walk.doc.str_value(value) else {
            return Ok(true);
        };
        if let Some(tag) = self.replacement(image) {
            let tag = tag.to_owned();
            if self.edited.insert(value) {
                self.edits
                    .extend(splice::replace_scalar(self.text, walk.doc, value, &tag)?);
            }
        }
        Ok(false)
    }
}

impl ImageReplacer<'_> {
    /// `ResourceSelectorImages.allowByNavpath` with the default deny list (which lists no
    /// image paths).
    fn allow_by_navpath(&self, navpath: &str, key: &str) -> bool {
        match self.allowed {
            Some(paths) => paths
                .iter()
                .any(|p| (*p == ".*" && key == IMAGE_FIELD) || *p == navpath),
            None => self.config_connector && key == IMAGE_FIELD,
        }
    }

    /// The build tag for `image`, if Skaffold's `selectLocalManifestImages` picks one.
    fn replacement(&self, image: &str) -> Option<&str> {
        let (base_name, domain, has_digest) = match ImageName::parse(image) {
            Ok(parsed) => (parsed.base_name, parsed.domain, parsed.digest.is_some()),
            Err(_) => {
                // helm compatibility: `<artifact>:<artifact>` where the artifact name has a
                // registry (so the "tag" has a `/` and the reference does not parse).
                let parts: Vec<&str> = image.split(':').collect();
                if parts.len() == 2
                    && image.starts_with(parts[1])
                    && self.tags.contains_key(parts[1])
                {
                    (parts[1].to_owned(), None, false)
                } else {
                    return None;
                }
            }
        };
        // helm compatibility: `<artifact>/<artifact>:<artifact>` stands for `<artifact>`.
        let mut base_name = base_name;
        if let Some(domain) = domain
            && let Some((repo, _)) = base_name.rsplit_once('/')
            && repo == domain
            && self.tags.contains_key(repo)
        {
            base_name = repo.to_owned();
        }
        if has_digest {
            return None;
        }
        self.tags.get(&base_name).map(String::as_str)
    }

    /// Aliases to a replaced anchor that were not themselves replaced keep the old string.
    fn restore_other_aliases(&mut self, doc: &Document) {
        for (id, node) in doc.nodes.iter().enumerate() {
            let Kind::Alias(target) = node.kind else {
                continue;
            };
            if !self.edited.contains(&target) || self.edited.contains(&id) {
                continue;
            }
            if let Some((value, _)) = doc.scalar(target) {
                self.edits.push(Edit {
                    start: node.start,
                    end: node.end,
                    text: splice::standalone(value, node.in_flow),
                });
            }
        }
    }
}
