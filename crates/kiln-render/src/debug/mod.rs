//! `skaffold debug`'s manifest transform for Go containers
//! (pkg/skaffold/kubernetes/debugging/transform.go with pkg/skaffold/debug).
//!
//! Which objects: exactly those Skaffold's typed decoder hands to the transform: `v1` Pod,
//! PodList and ReplicationController, `apps/v1` Deployment, ReplicaSet, StatefulSet and
//! DaemonSet, `batch/v1` Job. (CronJob, older API versions and custom resources are left
//! alone, as Skaffold leaves them, with a warning there.)
//!
//! Which containers: the pod spec's `containers` (not init containers) whose `image` equals
//! an [`ImageInfo`]'s `reference` or `artifact`, and that are Go containers by Skaffold's
//! rules: the artifact declares `runtimeType: go`, or (no runtime type declared) the image
//! environment merged with the container's `env` has `GODEBUG`, `GOGC`, `GOMAXPROCS`,
//! `GOTRACEBACK` or `KO_DATA_PATH` (ko sets the last), or the command line launches `dlv`.
//! A pod spec that already has the `debug.cloud.google.com/config` annotation is skipped.
//!
//! What changes, per container: the command becomes
//! `/dbg/go/bin/dlv exec --headless --continue --accept-multiclient --listen=:56268
//! --api-version=2 <entrypoint> [--] ...` (`--` only when arguments follow; the container's
//! `args` stay as they are; the port moves up if another container of the pod uses 56268;
//! `sh -c` command lines are unwrapped and re-wrapped), a container port `dlv` is exposed and
//! `/dbg` is mounted from the `debugging-support-files` emptyDir volume. Per pod: that volume,
//! an `install-go-debug-support` init container running
//! `<helpers registry>/go`, the annotation with Skaffold's JSON
//! (`{"app":{"artifact":"…","runtime":"go","workingDir":"…","ports":{"dlv":56268}}}`),
//! HTTP probe timeouts raised to 10 minutes (or the `debug.cloud.google.com/probe-timeouts`
//! annotation's duration; `skip` disables it), and `replicas` set to 1 where present.
//!
//! Like Skaffold, a transformed document is written out again (here in its own key order,
//! with untouched scalars spelled as they were, new keys last; comments inside it are lost);
//! every other document is kept byte for byte. A document Kubernetes could not decode (a
//! field the transform reads has the wrong type) is left alone, as Skaffold leaves it.

mod go;
mod shell;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use self::go::{DebugConfiguration, Executable, ImageConfiguration, Port, Runtime};
use kiln_core::gotime::parse_go_duration;

use crate::Error;
use crate::splice;
use crate::tree::{self, Value};
use crate::yaml::{self, Kind};

/// The pod annotation that records each debuggable container's configuration.
pub const DEBUG_CONFIG_ANNOTATION: &str = "debug.cloud.google.com/config";
/// The pod annotation that sets (or, with `skip`, disables) the probe-timeout rewrite.
pub const PROBE_TIMEOUTS_ANNOTATION: &str = "debug.cloud.google.com/probe-timeouts";
/// Where Skaffold's debug support images live (`--debug-helpers-registry`).
pub const DEFAULT_HELPERS_REGISTRY: &str = "gcr.io/k8s-skaffold/skaffold-debug-support";

const SUPPORT_VOLUME: &str = "debugging-support-files";
const SUPPORT_MOUNT_PATH: &str = "/dbg";
/// Skaffold's default minimum probe timeout: 10 minutes.
const DEFAULT_PROBE_TIMEOUT_SECONDS: f64 = 600.0;

/// A built image, with what `skaffold debug` reads from its config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The artifact's image name in skaffold.yaml (recorded as `artifact` in the annotation).
    pub artifact: String,
    /// The reference the manifests use for it after image replacement (`reg/app:tag@sha256:…`).
    pub reference: String,
    /// The image config's `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// The image config's `Cmd`.
    pub cmd: Vec<String>,
    /// The image config's `Env` (`NAME=value`).
    pub env: Vec<String>,
    /// The artifact's `runtimeType` (`go`/`golang` selects the Go transform outright; another
    /// runtime means the container is not transformed here).
    pub runtime_type: Option<String>,
    /// The image config's `WorkingDir` (may be empty).
    pub working_dir: String,
}

/// Settings of the debug transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugOptions {
    /// Registry of the debug support images (the Go one is `<registry>/go`).
    pub helpers_registry: String,
}

impl Default for DebugOptions {
    fn default() -> Self {
        DebugOptions {
            helpers_registry: DEFAULT_HELPERS_REGISTRY.to_owned(),
        }
    }
}

/// Rewrites `text` (a YAML stream of Kubernetes manifests, images already replaced) for
/// debugging Go containers with Delve, as `skaffold debug` does; see the module docs. Only
/// invalid YAML is an error.
pub fn debug_transform(
    text: &str,
    images: &[ImageInfo],
    options: &DebugOptions,
) -> Result<String, Error> {
    let docs = yaml::parse(text)?;
    let mut edits = Vec::new();
    for doc in &docs {
        let Some(root) = doc.root else {
            continue;
        };
        if !matches!(doc.node(root).kind, Kind::Map(_)) {
            continue;
        }
        let Some(mut value) = tree::from_document(doc, text, root) else {
            continue;
        };
        let transform = Transform { images, options };
        if let Ok(true) = transform.manifest(&mut value) {
            edits.push(splice::replace_document(text, doc.node(root), &value));
        }
    }
    Ok(splice::apply(text, edits))
}

/// A field the transform reads has a type Kubernetes' decoder rejects: the document is left
/// as it is.
struct Undecodable;

type Decoded<T> = Result<T, Undecodable>;

struct Transform<'a> {
    images: &'a [ImageInfo],
    options: &'a DebugOptions,
}

impl Transform<'_> {
    /// `transformManifest`.
    fn manifest(&self, v: &mut Value) -> Decoded<bool> {
        let api_version = v
            .get("apiVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kind = v.get("kind").and_then(Value::as_str).map(str::to_owned);
        match (api_version.as_deref(), kind.as_deref()) {
            (Some("v1"), Some("Pod")) => self.pod_spec(v),
            (Some("v1"), Some("PodList")) => {
                let mut changed = false;
                match v.get_mut("items") {
                    Some(Value::Seq(items)) => {
                        for item in items {
                            if !matches!(item, Value::Map(_)) {
                                return Err(Undecodable);
                            }
                            changed |= self.pod_spec(item)?;
                        }
                    }
                    Some(other) if !other.is_null() => return Err(Undecodable),
                    _ => {}
                }
                Ok(changed)
            }
            (Some("v1"), Some("ReplicationController"))
            | (Some("apps/v1"), Some("Deployment" | "ReplicaSet" | "StatefulSet")) => {
                self.template(v, true)
            }
            (Some("apps/v1"), Some("DaemonSet")) | (Some("batch/v1"), Some("Job")) => {
                self.template(v, false)
            }
            _ => Ok(false),
        }
    }

    /// A workload: its `spec.template` is the pod; `replicas` (if set) becomes 1.
    fn template(&self, v: &mut Value, has_replicas: bool) -> Decoded<bool> {
        let Some(spec) = map_field(v, "spec")? else {
            return Ok(false);
        };
        if has_replicas {
            match spec.get("replicas") {
                Some(r) if !r.is_null() && r.as_int().is_none() => return Err(Undecodable),
                _ => {}
            }
        }
        let Some(template) = map_field(spec, "template")? else {
            return Ok(false);
        };
        let changed = self.pod_spec(template)?;
        if changed
            && has_replicas
            && let Some(replicas) = spec.get_mut("replicas")
            && !replicas.is_null()
        {
            *replicas = Value::int(1);
        }
        Ok(changed)
    }

    /// `transformPodSpec` on an object with `metadata` and `spec` (a Pod or a template).
    fn pod_spec(&self, pod: &mut Value) -> Decoded<bool> {
        let containers = self.rewrite_containers(pod)?;
        let probes = rewrite_probes(pod)?;
        Ok(containers || probes)
    }

    /// `rewriteContainers`.
    fn rewrite_containers(&self, pod: &mut Value) -> Decoded<bool> {
        if annotations(pod)?.contains_key(DEBUG_CONFIG_ANNOTATION) {
            return Ok(false);
        }
        let Some(spec) = map_field(pod, "spec")? else {
            return Ok(false);
        };
        let mut containers = match spec.get("containers") {
            None => Vec::new(),
            Some(Value::Seq(items)) => items.iter().map(container).collect::<Decoded<Vec<_>>>()?,
            Some(v) if v.is_null() => Vec::new(),
            Some(_) => return Err(Undecodable),
        };
        let mut configurations: BTreeMap<String, DebugConfiguration> = BTreeMap::new();
        let mut transformed = Vec::new();
        let mut support_images = BTreeSet::new();
        for i in 0..containers.len() {
            let c = &containers[i];
            let Some(info) = self
                .images
                .iter()
                .find(|im| c.image == im.reference || c.image == im.artifact)
            else {
                continue;
            };
            let taken: Vec<i64> = containers
                .iter()
                .flat_map(|c| c.exec.ports.iter().map(|p| p.container_port))
                .collect();
            let mut alloc = |desired| go::allocate_port(|p| !taken.contains(&p), desired);
            let mut exec = c.exec.clone();
            if let Some((configuration, support)) =
                go::transform_container(&mut exec, &c.env, image_configuration(info), &mut alloc)
            {
                configurations.insert(c.name.clone(), configuration);
                containers[i].exec = exec;
                transformed.push(i);
                support_images.insert(support);
            }
        }
        if !transformed.is_empty() {
            let Some(Value::Seq(items)) = spec.get_mut("containers") else {
                return Err(Undecodable);
            };
            let mount = || {
                Value::map(vec![
                    ("name", Value::string(SUPPORT_VOLUME)),
                    ("mountPath", Value::string(SUPPORT_MOUNT_PATH)),
                ])
            };
            for &i in &transformed {
                write_back(&mut items[i], &containers[i].exec);
                if let Some(mounts) = items[i].seq_entry("volumeMounts") {
                    mounts.push(mount());
                }
            }
            for image in support_images {
                let init = Value::map(vec![
                    (
                        "name",
                        Value::string(format!("install-{image}-debug-support")),
                    ),
                    (
                        "image",
                        Value::string(format!("{}/{image}", self.options.helpers_registry)),
                    ),
                    ("volumeMounts", Value::Seq(vec![mount()])),
                ]);
                if let Some(inits) = spec.seq_entry("initContainers") {
                    inits.push(init);
                }
            }
            if let Some(volumes) = spec.seq_entry("volumes") {
                volumes.push(Value::map(vec![
                    ("name", Value::string(SUPPORT_VOLUME)),
                    ("emptyDir", Value::Map(Vec::new())),
                ]));
            }
        }
        if configurations.is_empty() {
            return Ok(false);
        }
        let json = encode_configurations(&configurations);
        let annotations = pod
            .map_entry("metadata", Some("spec"))
            .and_then(|m| m.map_entry("annotations", None));
        if let Some(annotations) = annotations {
            annotations.set(DEBUG_CONFIG_ANNOTATION, Value::string(json), None);
        }
        Ok(true)
    }
}

/// Skaffold's `ImageConfiguration` for an image.
fn image_configuration(info: &ImageInfo) -> ImageConfiguration {
    let env: HashMap<String, String> = info
        .env
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (pair.clone(), String::new()),
        })
        .collect();
    ImageConfiguration {
        artifact: info.artifact.clone(),
        runtime: Runtime::parse(info.runtime_type.as_deref()),
        env,
        entrypoint: info.entrypoint.clone(),
        arguments: info.cmd.clone(),
        working_dir: info.working_dir.clone(),
    }
}

/// Go's `json.Marshal` of `map[string]ContainerDebugConfiguration` (sorted keys, HTML-safe
/// escaping of `<`, `>`, `&`).
fn encode_configurations(configurations: &BTreeMap<String, DebugConfiguration>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = configurations
        .iter()
        .map(|(name, c)| (name.clone(), c.to_json()))
        .collect();
    serde_json::Value::Object(map)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The mapping under `key`: `None` if absent or null, an error if it is something else.
fn map_field<'v>(v: &'v mut Value, key: &str) -> Decoded<Option<&'v mut Value>> {
    match v.get_mut(key) {
        None => Ok(None),
        Some(m @ Value::Map(_)) => Ok(Some(m)),
        Some(other) if other.is_null() => Ok(None),
        Some(_) => Err(Undecodable),
    }
}

/// `metadata.annotations` (a `map[string]string`).
fn annotations(pod: &Value) -> Decoded<HashMap<String, String>> {
    let mut out = HashMap::new();
    let metadata = match pod.get("metadata") {
        None => return Ok(out),
        Some(m @ Value::Map(_)) => m,
        Some(m) if m.is_null() => return Ok(out),
        Some(_) => return Err(Undecodable),
    };
    match metadata.get("annotations") {
        None => {}
        Some(Value::Map(entries)) => {
            for (k, v) in entries {
                out.insert(k.value.clone(), optional_string(Some(v))?);
            }
        }
        Some(v) if v.is_null() => {}
        Some(_) => return Err(Undecodable),
    }
    Ok(out)
}

/// A string field: absent or null reads as empty.
fn optional_string(v: Option<&Value>) -> Decoded<String> {
    match v {
        None => Ok(String::new()),
        Some(v) if v.is_null() => Ok(String::new()),
        Some(v) => v.as_str().map(str::to_owned).ok_or(Undecodable),
    }
}

/// A `[]string` field: `None` if absent or null.
fn string_list(v: Option<&Value>) -> Decoded<Option<Vec<String>>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(Value::Seq(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or(Undecodable))
            .collect::<Decoded<Vec<_>>>()
            .map(Some),
        Some(_) => Err(Undecodable),
    }
}

/// A list of mappings: empty if absent or null.
fn map_list(v: Option<&Value>) -> Decoded<&[Value]> {
    match v {
        None => Ok(&[]),
        Some(v) if v.is_null() => Ok(&[]),
        Some(Value::Seq(items)) if items.iter().all(|i| matches!(i, Value::Map(_))) => Ok(items),
        Some(_) => Err(Undecodable),
    }
}

/// What the transform reads from one container.
struct Container {
    name: String,
    image: String,
    env: Vec<(String, String)>,
    exec: Executable,
    original: Executable,
}

fn container(v: &Value) -> Decoded<Container> {
    if !matches!(v, Value::Map(_)) {
        return Err(Undecodable);
    }
    let env = map_list(v.get("env"))?
        .iter()
        .map(|e| {
            Ok((
                optional_string(e.get("name"))?,
                optional_string(e.get("value"))?,
            ))
        })
        .collect::<Decoded<Vec<_>>>()?;
    let ports = map_list(v.get("ports"))?
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let container_port = match p.get("containerPort") {
                None => 0,
                Some(n) if n.is_null() => 0,
                Some(n) => n.as_int().ok_or(Undecodable)?,
            };
            Ok(Port {
                name: optional_string(p.get("name"))?,
                container_port,
                original: Some(i),
            })
        })
        .collect::<Decoded<Vec<_>>>()?;
    let exec = Executable {
        command: string_list(v.get("command"))?,
        args: string_list(v.get("args"))?,
        ports,
    };
    Ok(Container {
        name: optional_string(v.get("name"))?,
        image: optional_string(v.get("image"))?,
        env,
        original: exec.clone(),
        exec,
    })
}

/// The adapter's `Apply`: writes the changed command, args and ports back into the
/// container mapping `v`, leaving unchanged fields as they were written.
fn write_back(v: &mut Value, exec: &Executable) {
    let original = match container(v) {
        Ok(c) => c.original,
        Err(Undecodable) => return,
    };
    for (key, new, old) in [
        ("command", &exec.command, &original.command),
        ("args", &exec.args, &original.args),
    ] {
        if new == old {
            continue;
        }
        match new {
            Some(list) if !list.is_empty() => {
                let list = Value::Seq(list.iter().map(Value::string).collect());
                if v.get(key).is_some() {
                    v.set(key, list, None);
                } else {
                    // A new `command` goes where Kubernetes lists it: after `image`, before
                    // `args`.
                    insert_after(
                        v,
                        key,
                        list,
                        if key == "command" { "image" } else { "command" },
                    );
                }
            }
            _ => v.remove(key),
        }
    }
    if exec.ports == original.ports {
        return;
    }
    let old_ports: Vec<Value> = match v.get("ports") {
        Some(Value::Seq(items)) => items.clone(),
        _ => Vec::new(),
    };
    let ports: Vec<Value> = exec
        .ports
        .iter()
        .map(|p| match p.original.and_then(|i| old_ports.get(i)) {
            Some(old) => {
                let mut port = old.clone();
                let old_number = port.get("containerPort").and_then(Value::as_int);
                if old_number != Some(p.container_port) {
                    port.set("containerPort", Value::int(p.container_port), None);
                }
                port
            }
            None => Value::map(vec![
                ("name", Value::string(p.name.clone())),
                ("containerPort", Value::int(p.container_port)),
            ]),
        })
        .collect();
    if ports.is_empty() {
        v.remove("ports");
    } else {
        v.set("ports", Value::Seq(ports), None);
    }
}

/// Inserts `key` right after `after` (or at the end without it) in mapping `v`.
fn insert_after(v: &mut Value, key: &str, value: Value, after: &str) {
    if let Value::Map(entries) = v {
        let at = entries
            .iter()
            .position(|(k, _)| k.value == after)
            .map_or(entries.len(), |i| i + 1);
        entries.insert(at, (tree::Scalar::string(key), value));
    }
}

/// `rewriteProbes`: HTTP probes of debugged containers get at least the minimum timeout.
fn rewrite_probes(pod: &mut Value) -> Decoded<bool> {
    let annotations = annotations(pod)?;
    let mut min_timeout = DEFAULT_PROBE_TIMEOUT_SECONDS;
    if let Some(setting) = annotations.get(PROBE_TIMEOUTS_ANNOTATION) {
        if setting == "skip" {
            return Ok(false);
        }
        if let Some(seconds) = parse_go_duration(setting) {
            min_timeout = seconds;
        }
    }
    let Some(config) = annotations.get(DEBUG_CONFIG_ANNOTATION) else {
        return Ok(false);
    };
    let Some(names) = debugged_containers(config) else {
        return Ok(false);
    };
    // Go's int32(minTimeout.Seconds()).
    let timeout = min_timeout
        .trunc()
        .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i64;
    let Some(spec) = map_field(pod, "spec")? else {
        return Ok(false);
    };
    let Some(Value::Seq(containers)) = spec.get_mut("containers") else {
        return Ok(false);
    };
    let mut changed = false;
    for c in containers.iter_mut() {
        let name = optional_string(c.get("name"))?;
        if !names.contains(&name) {
            continue;
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let Some(p) = map_field(c, probe)? else {
                continue;
            };
            if p.get("httpGet").is_none_or(Value::is_null) {
                continue;
            }
            let current = match p.get("timeoutSeconds") {
                None => 0,
                Some(t) if t.is_null() => 0,
                Some(t) => t.as_int().ok_or(Undecodable)?,
            };
            if timeout < current {
                continue;
            }
            if current != timeout || p.get("timeoutSeconds").is_none() {
                p.set("timeoutSeconds", Value::int(timeout), None);
            }
            changed = true;
        }
    }
    Ok(changed)
}

/// The container names of a debug-config annotation, if it decodes as Skaffold's
/// `map[string]ContainerDebugConfiguration`.
fn debugged_containers(json: &str) -> Option<Vec<String>> {
    let serde_json::Value::Object(map) = serde_json::from_str(json).ok()? else {
        return None;
    };
    let valid = |c: &serde_json::Value| match c {
        serde_json::Value::Null => true,
        serde_json::Value::Object(fields) => fields.iter().all(|(k, v)| match k.as_str() {
            "artifact" | "runtime" | "workingDir" => v.is_string() || v.is_null(),
            "ports" => match v {
                serde_json::Value::Null => true,
                serde_json::Value::Object(ports) => ports
                    .values()
                    .all(|p| p.is_null() || p.as_u64().is_some_and(|n| n <= u64::from(u32::MAX))),
                _ => false,
            },
            _ => true,
        }),
        _ => false,
    };
    map.values()
        .all(valid)
        .then(|| map.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_encode_like_go() {
        let config = DebugConfiguration {
            artifact: "a&b".to_owned(),
            runtime: "go".to_owned(),
            working_dir: String::new(),
            ports: BTreeMap::from([("dlv".to_owned(), 56268)]),
        };
        let json = encode_configurations(&BTreeMap::from([
            ("z".to_owned(), config.clone()),
            ("a".to_owned(), config),
        ]));
        assert_eq!(
            json,
            r#"{"a":{"artifact":"a\u0026b","runtime":"go","ports":{"dlv":56268}},"z":{"artifact":"a\u0026b","runtime":"go","ports":{"dlv":56268}}}"#
        );
    }
}
