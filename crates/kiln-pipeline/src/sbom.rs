//! SBOMs of built images, as ko makes them (`--sbom=spdx`): one SPDX document per platform
//! image from `go version -m` of its binary, one per index, written into the store at build
//! time so that an artifact-cache hit has them too.
//!
//! Also here: the `--sbom-dir` files (ko's names) and the two manifests that attach an SBOM
//! in a registry, cosign's tag (`sha256-<hex>.sbom`) and an OCI 1.1 referrer. Pushing them
//! is in `push.rs`.

use std::path::{Path, PathBuf};

use kiln_core::naming::binary_name;
use kiln_core::sbom::{ImageSbom, IndexEntry, IndexSbom, SbomBase, SbomError};
use kiln_core::{Digest, media_type};
use kiln_gobuild::Toolchain;
use kiln_image::ko_layers::APP_DIR;
use kiln_image::spec::{Annotations, Index, Manifest, annotation};
use kiln_image::{Blob, BlobStore, Descriptor, Image};
use serde_json::json;

use crate::Error;
use crate::artifact::BuiltArtifact;

/// The layer media type of an SBOM attached by tag: cosign's `SPDXJSONMediaType`, which ko
/// uses and `cosign download sbom` expects.
pub const SPDX_MEDIA_TYPE: &str = "text/spdx+json";
/// The artifact type (and layer media type) of an SBOM referrer: SPDX's IANA media type.
pub const SPDX_ARTIFACT_TYPE: &str = "application/spdx+json";
/// The OCI 1.1 empty descriptor's media type, and its content `{}`.
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_CONFIG: &[u8] = b"{}";

/// The SBOM of one platform image: `go version -m` of its binary (named `/ko-app/<app_name>`,
/// as in the image), the base from the manifest's annotations, the date from its config.
pub(crate) async fn image_sbom(
    toolchain: &Toolchain,
    store: &BlobStore,
    binary: &Path,
    app_name: &str,
    image: &Image,
) -> Result<Descriptor, Error> {
    let build_info = toolchain
        .build_info(binary, &format!("{APP_DIR}/{app_name}"))
        .await?;
    let manifest: Manifest = parse_own("image manifest", &image.manifest)?;
    let base = base_of(&manifest.annotations);
    let json = ImageSbom {
        kiln_version: env!("CARGO_PKG_VERSION"),
        digest: &image.manifest.digest,
        media_type: &image.media_type,
        platform: &image.platform,
        created: &created_of(&image.config)?,
        base: base
            .as_ref()
            .map(|(name, digest)| SbomBase { name, digest }),
        build_info: &build_info,
    }
    .to_json()
    .map_err(|source| sbom_error(format!("image {}", image.platform), source))?;
    store_sbom(store, &json)
}

/// The SBOM of an index: its platform images as the index lists them, its base from its
/// annotations, and (as ko does) the first image's date.
pub(crate) fn index_sbom(
    store: &BlobStore,
    index: &Blob,
    media_type: &str,
    images: &[Image],
) -> Result<Descriptor, Error> {
    let parsed: Index = parse_own("image index", index)?;
    let entries: Vec<IndexEntry> = parsed
        .manifests
        .iter()
        .map(|d| IndexEntry {
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            platform: d.platform.clone(),
        })
        .collect();
    let created = match images.first() {
        Some(image) => created_of(&image.config)?,
        None => String::new(),
    };
    let base = base_of(&parsed.annotations);
    let json = IndexSbom {
        kiln_version: env!("CARGO_PKG_VERSION"),
        digest: &index.digest,
        media_type,
        created: &created,
        base: base
            .as_ref()
            .map(|(name, digest)| SbomBase { name, digest }),
        manifests: &entries,
    }
    .to_json()
    .map_err(|source| sbom_error("the index".to_owned(), source))?;
    store_sbom(store, &json)
}

fn store_sbom(store: &BlobStore, json: &[u8]) -> Result<Descriptor, Error> {
    let digest = store.write_bytes(json)?;
    Ok(Descriptor::new(SPDX_MEDIA_TYPE, json.len() as u64, digest))
}

fn sbom_error(what: String, source: SbomError) -> Error {
    Error::Sbom { what, source }
}

/// A document kiln assembled itself, parsed back.
fn parse_own<T: serde::de::DeserializeOwned>(what: &str, blob: &Blob) -> Result<T, Error> {
    serde_json::from_slice(&blob.bytes)
        .map_err(|source| Error::invalid(format!("{what} {}", blob.digest), source))
}

/// The config's `created`, or empty when it has none (Go's zero time, for ko).
fn created_of(config: &Blob) -> Result<String, Error> {
    let value: serde_json::Value = parse_own("image config", config)?;
    Ok(value
        .get("created")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_owned())
}

/// The base named by the `org.opencontainers.image.base.*` annotations; ko lists a base
/// only when both are there, and so does kiln.
fn base_of(annotations: &Annotations) -> Option<(String, Digest)> {
    let name = annotations.get(annotation::BASE_NAME)?;
    let digest = annotations.get(annotation::BASE_DIGEST)?.parse().ok()?;
    Some((name.clone(), digest))
}

/// Writes `artifact`'s SBOMs into `dir` with ko's `--sbom-dir` names:
/// `<app>-<os>-<arch>[-<variant>].spdx.json` per image and `<app>-index.spdx.json`, where
/// `<app>` is the binary's name. Returns the files written, in that order.
pub fn write_sbom_dir(
    store: &BlobStore,
    dir: &Path,
    artifact: &BuiltArtifact,
) -> Result<Vec<PathBuf>, Error> {
    let Some(sboms) = &artifact.sboms else {
        return Err(Error::NoSboms {
            image: artifact.plan.image.clone(),
            action: "write",
        });
    };
    let app = binary_name(&artifact.plan.package.import_path);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::io("writing", path, source)
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut files: Vec<(String, &Descriptor)> = artifact
        .images
        .iter()
        .zip(&sboms.images)
        .map(|(image, sbom)| (format!("{app}-{}", image.platform.slug()), sbom))
        .collect();
    files.extend(
        sboms
            .index
            .iter()
            .map(|sbom| (format!("{app}-index"), sbom)),
    );
    files
        .into_iter()
        .map(|(stem, sbom)| {
            let path = dir.join(format!("{stem}.spdx.json"));
            let bytes = store.read(&sbom.digest)?;
            std::fs::write(&path, bytes).map_err(io(&path))?;
            Ok(path)
        })
        .collect()
}

/// The tag cosign (and so ko) attaches `subject`'s SBOM under: `sha256-<hex>.sbom`.
pub fn sbom_tag(subject: &Digest) -> String {
    format!("sha256-{}.sbom", subject.hex())
}

/// cosign's static-file attachment (`static.NewFile` + `mutate.Append` onto `empty.Image`):
/// an OCI manifest whose only layer is the SBOM, with the config go-containerregistry writes
/// for it. The same bytes as ko's, so a re-push by either tool changes nothing. Returns
/// `(config, manifest)`.
pub fn tag_attachment(sbom: &Descriptor) -> (Blob, Blob) {
    let config = json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [sbom.digest]},
        "config": {},
    });
    let config = Blob::json(&config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST.to_owned(),
        config: config.descriptor(media_type::OCI_CONFIG),
        layers: vec![Descriptor::new(
            SPDX_MEDIA_TYPE,
            sbom.size,
            sbom.digest.clone(),
        )],
        annotations: Annotations::new(),
    };
    (config, Blob::json(&manifest))
}

/// An OCI 1.1 referrer for `sbom`: `artifactType` SPDX, the empty config, the SBOM as the one
/// layer, and `subject` the image (or index) it describes.
pub fn referrer_manifest(subject: &Descriptor, sbom: &Descriptor) -> Blob {
    Blob::json(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": SPDX_ARTIFACT_TYPE,
        "config": empty_config().descriptor(EMPTY_CONFIG_MEDIA_TYPE),
        "layers": [Descriptor::new(SPDX_ARTIFACT_TYPE, sbom.size, sbom.digest.clone())],
        "subject": Descriptor::new(&subject.media_type, subject.size, subject.digest.clone()),
    }))
}

/// The OCI empty blob `{}`, the config of every referrer.
pub fn empty_config() -> Blob {
    Blob {
        bytes: EMPTY_CONFIG.to_vec(),
        digest: Digest::of(EMPTY_CONFIG),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sbom() -> Descriptor {
        Descriptor::new(SPDX_MEDIA_TYPE, 5, Digest::of(b"{}\n\n\n"))
    }

    #[test]
    fn tag_attachment_is_cosigns_static_file() {
        let (config, manifest) = tag_attachment(&sbom());
        assert_eq!(
            String::from_utf8(config.bytes.clone()).unwrap(),
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{}}}}"#,
                sbom().digest
            )
        );
        assert_eq!(
            String::from_utf8(manifest.bytes).unwrap(),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":{},"digest":"{}"}},"layers":[{{"mediaType":"text/spdx+json","size":5,"digest":"{}"}}]}}"#,
                config.bytes.len(),
                config.digest,
                sbom().digest
            )
        );
        assert_eq!(
            sbom_tag(&Digest::of(b"image")),
            format!("sha256-{}.sbom", Digest::of(b"image").hex())
        );
    }

    #[test]
    fn referrer_points_at_its_subject_with_the_empty_config() {
        let mut subject = Descriptor::new(media_type::OCI_MANIFEST, 123, Digest::of(b"image"));
        // Index-only fields of the subject's descriptor do not belong in `subject`.
        subject.platform = Some("linux/amd64".parse().unwrap());
        let manifest = referrer_manifest(&subject, &sbom());
        assert_eq!(
            String::from_utf8(manifest.bytes).unwrap(),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}},"layers":[{{"mediaType":"application/spdx+json","size":5,"digest":"{}"}}],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":123,"digest":"{}"}}}}"#,
                sbom().digest,
                Digest::of(b"image")
            )
        );
    }

    #[test]
    fn the_base_needs_both_annotations() {
        let digest = Digest::of(b"base");
        let mut a = Annotations::new();
        a.insert(annotation::BASE_DIGEST.into(), digest.to_string());
        assert_eq!(base_of(&a), None);
        a.insert(annotation::BASE_NAME.into(), "r.example/base:1".into());
        assert_eq!(base_of(&a), Some(("r.example/base:1".into(), digest)));
        a.insert(annotation::BASE_DIGEST.into(), "sha256:short".into());
        assert_eq!(base_of(&a), None);
    }
}
