//! Pure image assembly: base manifest + base config + new layers → new config, manifest and
//! index bytes. No I/O happens here; layers are already in a blob store.

use std::collections::BTreeMap;

use kiln_core::gotime::rfc3339_utc as rfc3339;
use kiln_core::media_type::LayerCompression;
use kiln_core::{Digest, Platform};
use serde_json::{Map, Value, json};

use crate::Error;
use crate::ko_layers::{APP_DIR, KODATA_ROOT};
use crate::layer::Layer;
use crate::spec::{Annotations, Blob, Descriptor, Index, Manifest, annotation, media_type};

/// The author recorded in history entries and the config.
pub const AUTHOR: &str = "kiln";

/// One platform image of a base: its manifest and its config bytes, exactly as stored.
#[derive(Clone, Debug)]
pub struct BaseImage {
    pub digest: Digest,
    pub manifest_media_type: String,
    pub manifest: Manifest,
    pub config: Vec<u8>,
    pub platform: Platform,
    /// The descriptor of this image in its base index, if any: ko copies its `urls`,
    /// `annotations` and `platform` into the new index.
    pub index_descriptor: Option<Descriptor>,
}

impl BaseImage {
    /// Parses a base manifest and its config. The platform comes from the config (ko's
    /// defaults: linux/amd64 when unset).
    pub fn parse(
        what: &str,
        digest: Digest,
        manifest_bytes: &[u8],
        config: Vec<u8>,
        index_descriptor: Option<Descriptor>,
    ) -> Result<Self, Error> {
        let manifest: Manifest = parse_json(what, manifest_bytes)?;
        let manifest_media_type = if manifest.media_type.is_empty() {
            index_descriptor
                .as_ref()
                .map_or(media_type::OCI_MANIFEST, |d| d.media_type.as_str())
                .to_owned()
        } else {
            manifest.media_type.clone()
        };
        if !media_type::is_manifest(&manifest_media_type) {
            return Err(Error::UnsupportedBase {
                base: what.to_owned(),
                reason: format!("unexpected mediaType `{manifest_media_type}`"),
            });
        }
        if Digest::of(&config) != manifest.config.digest {
            return Err(Error::DigestMismatch {
                what: format!("config of {what}"),
                expected: manifest.config.digest.clone(),
                actual: Digest::of(&config),
            });
        }
        let value: Value = parse_json(what, &config)?;
        let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default();
        let platform = Platform {
            os: Some(field("os"))
                .filter(|s| !s.is_empty())
                .unwrap_or("linux")
                .to_owned(),
            architecture: Some(field("architecture"))
                .filter(|s| !s.is_empty())
                .unwrap_or("amd64")
                .to_owned(),
            variant: Some(field("variant"))
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            os_version: Some(field("os.version"))
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        };
        Ok(BaseImage {
            digest,
            manifest_media_type,
            manifest,
            config,
            platform,
            index_descriptor,
        })
    }

    /// The media type new layers compressed with `compression` take on this base (`base`
    /// names it in the error): gzip layers match the base's schema; zstd needs OCI.
    pub fn layer_media_type(
        &self,
        compression: LayerCompression,
        base: &str,
    ) -> Result<&'static str, Error> {
        compression
            .layer_media_type(&self.manifest_media_type)
            .ok_or_else(|| Error::UnsupportedBase {
                base: base.to_owned(),
                reason: "it is a Docker schema 2 image, which has no zstd layer type; \
                         use an OCI base image or --compression gzip"
                    .to_owned(),
            })
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::UnsupportedBase {
        base: what.to_owned(),
        reason: format!("invalid JSON: {e}"),
    })
}

/// Everything about the new image that is not in the base.
#[derive(Clone, Debug, Default)]
pub struct ImageSpec {
    /// The binary's name under `/ko-app`.
    pub app_name: String,
    /// The import path, for history entries (`kiln build ko://<import path>`).
    pub import_path: String,
    pub labels: BTreeMap<String, String>,
    /// Manifest annotations (base name/digest are added by the caller).
    pub annotations: Annotations,
    /// `--image-user`: replaces the base's user when set.
    pub user: Option<String>,
    /// SOURCE_DATE_EPOCH: the config's `created` and the binary history entry.
    pub created: Option<i64>,
    /// KO_DATA_DATE_EPOCH: the kodata history entry.
    pub kodata_created: Option<i64>,
}

/// A finished single-platform image.
#[derive(Clone, Debug)]
pub struct Image {
    pub platform: Platform,
    pub media_type: String,
    pub manifest: Blob,
    pub config: Blob,
    pub config_media_type: String,
    /// Every layer, base layers first.
    pub layers: Vec<Descriptor>,
}

impl Image {
    pub fn descriptor(&self) -> Descriptor {
        self.manifest.descriptor(&self.media_type)
    }
}

/// Appends the kodata and binary layers to `base` and rewrites its config as ko does:
/// entrypoint set, Cmd dropped, `/ko-app` on PATH, `KO_DATA_PATH`, labels, created, user,
/// history and diff IDs.
pub fn assemble(
    base: &BaseImage,
    kodata: &Layer,
    binary: &Layer,
    spec: &ImageSpec,
) -> Result<Image, Error> {
    let mut config: Map<String, Value> = parse_json("base config", &base.config)?;
    edit_runtime_config(&mut config, spec);
    if let Some(created) = spec.created {
        config.insert("created".into(), Value::String(rfc3339(created)));
    }
    let created_by = format!("{AUTHOR} build ko://{}", spec.import_path);
    let history_entry = |created: Option<i64>, comment: String| {
        json!({
            "created": created.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), rfc3339),
            "created_by": created_by,
            "author": AUTHOR,
            "comment": comment,
        })
    };
    let history = array_field(&mut config, "history");
    history.push(history_entry(
        spec.kodata_created,
        "kodata contents, at $KO_DATA_PATH".to_owned(),
    ));
    history.push(history_entry(
        spec.created,
        format!("go build output, at {APP_DIR}/{}", spec.app_name),
    ));
    let rootfs = config
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers"}));
    let Some(rootfs) = rootfs.as_object_mut() else {
        return Err(Error::UnsupportedBase {
            base: "base config".into(),
            reason: "`rootfs` is not an object".into(),
        });
    };
    let diff_ids = array_field(rootfs, "diff_ids");
    diff_ids.push(Value::String(kodata.diff_id.to_string()));
    diff_ids.push(Value::String(binary.diff_id.to_string()));

    let config = Blob::json(&config);
    let mut layers = base.manifest.layers.clone();
    layers.push(kodata.descriptor.clone());
    layers.push(binary.descriptor.clone());
    let manifest = Manifest {
        schema_version: 2,
        media_type: base.manifest_media_type.clone(),
        config: config.descriptor(&base.manifest.config.media_type),
        layers: layers.clone(),
        annotations: spec.annotations.clone(),
    };
    Ok(Image {
        platform: base.platform.clone(),
        media_type: base.manifest_media_type.clone(),
        manifest: Blob::json(&manifest),
        config_media_type: base.manifest.config.media_type.clone(),
        config,
        layers,
    })
}

fn edit_runtime_config(config: &mut Map<String, Value>, spec: &ImageSpec) {
    let runtime = config
        .entry("config")
        .or_insert_with(|| Value::Object(Map::new()));
    if !runtime.is_object() {
        *runtime = Value::Object(Map::new());
    }
    let runtime = runtime.as_object_mut().expect("just made an object");
    runtime.insert(
        "Entrypoint".into(),
        json!([format!("{APP_DIR}/{}", spec.app_name)]),
    );
    runtime.remove("Cmd");
    let env = array_field(runtime, "Env");
    match env
        .iter_mut()
        .find(|v| v.as_str().is_some_and(|s| s.starts_with("PATH=")))
    {
        Some(path) => {
            *path = Value::String(format!("{}:{APP_DIR}", path.as_str().unwrap_or_default()))
        }
        None => env.push(Value::String(format!("PATH={APP_DIR}"))),
    }
    // ko appends KO_DATA_PATH blindly; replacing an existing entry avoids duplicates when
    // the base is itself a ko-built image.
    env.retain(|v| !v.as_str().is_some_and(|s| s.starts_with("KO_DATA_PATH=")));
    env.push(Value::String(format!("KO_DATA_PATH={KODATA_ROOT}")));
    if !spec.labels.is_empty() {
        let labels = runtime
            .entry("Labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        let labels = labels.as_object_mut().expect("just made an object");
        for (k, v) in &spec.labels {
            labels.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if let Some(user) = &spec.user {
        runtime.insert("User".into(), Value::String(user.clone()));
    }
}

/// `map[key]` as a mutable array, created (or replacing a `null`) when needed.
fn array_field<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Vec<Value> {
    let value = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !value.is_array() {
        *value = Value::Array(Vec::new());
    }
    value.as_array_mut().expect("just made an array")
}

/// Builds an index over `images`, in the given (base) order, copying each base index
/// descriptor's `urls`, `annotations` and `platform` as ko does.
pub fn assemble_index(
    media_type: &str,
    images: &[(Image, Option<Descriptor>)],
    annotations: Annotations,
) -> Blob {
    let manifests = images
        .iter()
        .map(|(image, base)| {
            let mut d = image.descriptor();
            match base {
                Some(base) => {
                    d.urls = base.urls.clone();
                    d.annotations = base.annotations.clone();
                    d.platform = base.platform.clone();
                }
                None => d.platform = Some(image.platform.clone()),
            }
            d
        })
        .collect();
    Blob::json(&Index {
        schema_version: 2,
        media_type: media_type.to_owned(),
        manifests,
        annotations,
    })
}

/// The base annotations ko puts on an image built from `base_name` at `base_digest`.
pub fn base_annotations(base_name: Option<&str>, base_digest: &Digest) -> Annotations {
    let mut a = Annotations::new();
    if let Some(name) = base_name {
        a.insert(annotation::BASE_NAME.into(), name.to_owned());
    }
    a.insert(annotation::BASE_DIGEST.into(), base_digest.to_string());
    a
}
