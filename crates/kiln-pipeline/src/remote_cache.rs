//! The artifact cache shared through the registry: after a push, the artifact key
//! (`artifact_cache::key`, machine-independent) is recorded next to the image, so that
//! any other runner whose local cache misses finds the image and only tags it.
//!
//! A record is a small OCI artifact in the image's repository, tagged
//! `kiln-cache-<key hex>`: a runner knows its key before it builds, not the image's digest,
//! so a key-derived tag is the one-request lookup (the OCI referrers API is indexed by the
//! subject's digest). The record names the image as its `subject`, so where the registry
//! has the referrers API it is also listed as a referrer of the image (`oras discover`),
//! and it carries the image's SBOMs as its layers. Records are pushed with the SBOM
//! attachments' mechanism (`push::push_attachment`): blobs, then the manifest.
//!
//! Trust: a record is as trustworthy as push access to the repository, the same trust a
//! tag already has. Untrusted builds (pull requests) use [`RemoteCacheMode::Read`].

use futures_util::future::try_join_all;
use kiln_core::platform::PlatformRequest;
use kiln_core::{Digest, Reference, media_type};
use kiln_image::spec::Annotations;
use kiln_image::{Blob, BlobStore, Descriptor, Image};
use kiln_registry::Client;
use serde::Deserialize;
use serde_json::json;

use crate::Error;
use crate::artifact::{BuiltArtifact, Sboms};
use crate::base::registry_base;
use crate::push::{push_attachment, repository_of};
use crate::sbom::{EMPTY_CONFIG_MEDIA_TYPE, empty_config};

/// The `artifactType` of a record.
pub const RECORD_ARTIFACT_TYPE: &str = "application/vnd.dev.kiln.artifact-record.v1+json";
/// The record's annotation holding the artifact key.
pub const KEY_ANNOTATION: &str = "dev.kiln.artifact.key";
/// An SBOM layer's annotation naming the manifest (or index) it describes.
const SBOM_OF_ANNOTATION: &str = "dev.kiln.sbom.of";

/// `--remote-cache`: whether a pushing build looks artifacts up in the registry and
/// records them there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RemoteCacheMode {
    /// Neither (`--remote-cache=false`, and every build that does not push).
    #[default]
    Off,
    /// Looks up, never records: for builds whose pushes should not be trusted by others.
    Read,
    /// Looks up and records (the default when pushing).
    ReadWrite,
}

impl RemoteCacheMode {
    pub fn reads(self) -> bool {
        self != RemoteCacheMode::Off
    }

    pub fn writes(self) -> bool {
        self == RemoteCacheMode::ReadWrite
    }
}

/// The tag of the record of `key`.
pub fn record_tag(key: &Digest) -> String {
    format!("kiln-cache-{}", key.hex())
}

/// An artifact found through its record, with every document in the store; its layers
/// stay in the registry.
pub struct Found {
    pub record: Reference,
    pub top: Descriptor,
    pub index: Option<Blob>,
    pub images: Vec<Image>,
    pub sboms: Option<Sboms>,
}

/// What a lookup found.
pub enum Lookup {
    /// No record: the usual miss, one request.
    Absent,
    /// A record that cannot be used (its image is gone, a blob is missing, it does not
    /// parse, the registry failed): a miss, with the reason.
    Unusable(String),
    Found(Box<Found>),
}

/// Looks `key` up in `repository` and verifies what the record names: the image (its
/// index and every platform manifest), every config and layer blob, and, when `sboms` is
/// asked for, the SBOMs (downloaded into `store`). Never an error: the registry failing is
/// a miss too.
pub async fn lookup(
    client: &Client,
    store: &BlobStore,
    repository: &Reference,
    key: &Digest,
    sboms: bool,
) -> Lookup {
    let at = repository_of(repository).with_tag(&record_tag(key));
    let record = match client.get_manifest(&at, &[media_type::OCI_MANIFEST]).await {
        Ok(record) => record,
        Err(e) if e.status() == Some(404) => return Lookup::Absent,
        Err(e) => return Lookup::Unusable(e.to_string()),
    };
    match verify(client, store, &at, key, &record.bytes, sboms).await {
        Ok(found) => Lookup::Found(Box::new(found)),
        Err(reason) => Lookup::Unusable(reason),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    artifact_type: String,
    subject: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    annotations: Annotations,
}

async fn verify(
    client: &Client,
    store: &BlobStore,
    at: &Reference,
    key: &Digest,
    bytes: &[u8],
    want_sboms: bool,
) -> Result<Found, String> {
    let record: Record =
        serde_json::from_slice(bytes).map_err(|e| format!("the record does not parse: {e}"))?;
    if record.artifact_type != RECORD_ARTIFACT_TYPE
        || record.annotations.get(KEY_ANNOTATION) != Some(&key.to_string())
    {
        return Err("the tag holds something other than this key's record".to_owned());
    }
    let repo = repository_of(at);
    let top = record.subject;
    let image_ref = repo.with_digest(top.digest.clone());
    match client.head_manifest(&image_ref).await {
        Ok(Some(head)) if head.digest == top.digest => {}
        Ok(_) => return Err(format!("the image it names, {}, is gone", top.digest)),
        Err(e) => return Err(e.to_string()),
    }
    // The image's documents, fetched (verified against their digests) into the store, as
    // a registry base's are: all platforms of an index, since the key fixed them.
    let resolved = registry_base(client, store, &image_ref, &PlatformRequest::All)
        .await
        .map_err(|e| e.to_string())?;
    let images: Vec<Image> = resolved
        .images
        .into_iter()
        .map(|base| -> Result<Image, String> {
            let manifest = store.read(&base.digest).map_err(|e| e.to_string())?;
            Ok(Image {
                platform: base.platform,
                media_type: base.manifest_media_type,
                manifest: Blob {
                    bytes: manifest,
                    digest: base.digest,
                },
                config: Blob {
                    digest: base.manifest.config.digest.clone(),
                    bytes: base.config,
                },
                config_media_type: base.manifest.config.media_type.clone(),
                layers: base.manifest.layers,
            })
        })
        .collect::<Result<_, _>>()?;
    let index = if media_type::is_index(&top.media_type) {
        Some(Blob {
            bytes: store.read(&top.digest).map_err(|e| e.to_string())?,
            digest: top.digest.clone(),
        })
    } else {
        None
    };
    verify_present(client, &repo, &images, index.is_some()).await?;
    let sboms = if want_sboms {
        Some(fetch_sboms(client, store, &repo, &record.layers, &top, &images).await?)
    } else {
        None
    };
    Ok(Found {
        record: at.clone(),
        top,
        index,
        images,
        sboms,
    })
}

/// Every platform manifest (documents in the store may have come from another run) and
/// every blob is still in the repository: a registry garbage collection or a deleted
/// image leaves a record naming what is gone.
async fn verify_present(
    client: &Client,
    repo: &Reference,
    images: &[Image],
    indexed: bool,
) -> Result<(), String> {
    let manifests = images.iter().filter(|_| indexed).map(|image| async move {
        let found = client
            .head_manifest(&repo.with_digest(image.manifest.digest.clone()))
            .await?;
        Ok::<_, kiln_registry::Error>((image.manifest.digest.clone(), found.is_some()))
    });
    let mut blobs: Vec<&Digest> = images
        .iter()
        .flat_map(|i| std::iter::once(&i.config.digest).chain(i.layers.iter().map(|l| &l.digest)))
        .collect();
    blobs.sort();
    blobs.dedup();
    let blobs = blobs.into_iter().map(|digest| async move {
        Ok::<_, kiln_registry::Error>((digest.clone(), client.blob_exists(repo, digest).await?))
    });
    let (manifests, blobs) =
        futures_util::future::join(try_join_all(manifests), try_join_all(blobs)).await;
    let found = manifests
        .and_then(|m| Ok(m.into_iter().chain(blobs?)))
        .map_err(|e| e.to_string())?;
    for (digest, present) in found {
        if !present {
            return Err(format!("{digest} is missing from {}", repo.name()));
        }
    }
    Ok(())
}

/// The SBOMs the record carries, one per platform image (and one for the index),
/// downloaded (verified) into the store.
async fn fetch_sboms(
    client: &Client,
    store: &BlobStore,
    repo: &Reference,
    layers: &[Descriptor],
    top: &Descriptor,
    images: &[Image],
) -> Result<Sboms, String> {
    let sbom_of = |subject: &Digest| {
        layers
            .iter()
            .find(|l| l.annotations.get(SBOM_OF_ANNOTATION) == Some(&subject.to_string()))
            .map(|l| Descriptor::new(&l.media_type, l.size, l.digest.clone()))
            .ok_or_else(|| format!("the record has no SBOM of {subject}"))
    };
    let sboms = Sboms {
        images: images
            .iter()
            .map(|i| sbom_of(&i.manifest.digest))
            .collect::<Result<_, _>>()?,
        index: match media_type::is_index(&top.media_type) {
            true => Some(sbom_of(&top.digest)?),
            false => None,
        },
    };
    let missing = sboms
        .images
        .iter()
        .chain(&sboms.index)
        .filter(|d| !store.contains(&d.digest));
    try_join_all(missing.map(|d| async move {
        client
            .download_blob(repo, &d.digest, &store.path(&d.digest))
            .await
    }))
    .await
    .map_err(|e| e.to_string())?;
    Ok(sboms)
}

/// The record of `key` for `artifact`: the empty config, the SBOMs (or the empty blob) as
/// layers, the image as `subject`, the key as an annotation.
fn record_manifest(key: &Digest, artifact: &BuiltArtifact) -> Blob {
    let empty = empty_config().descriptor(EMPTY_CONFIG_MEDIA_TYPE);
    let mut layers: Vec<Descriptor> = Vec::new();
    if let Some(sboms) = &artifact.sboms {
        let subjects = artifact
            .images
            .iter()
            .map(|i| &i.manifest.digest)
            .zip(&sboms.images)
            .chain(sboms.index.iter().map(|s| (&artifact.top.digest, s)));
        for (subject, sbom) in subjects {
            let mut layer = Descriptor::new(&sbom.media_type, sbom.size, sbom.digest.clone());
            layer
                .annotations
                .insert(SBOM_OF_ANNOTATION.to_owned(), subject.to_string());
            layers.push(layer);
        }
    }
    if layers.is_empty() {
        layers.push(empty.clone());
    }
    let top = &artifact.top;
    Blob::json(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": RECORD_ARTIFACT_TYPE,
        "config": empty,
        "layers": layers,
        "subject": Descriptor::new(&top.media_type, top.size, top.digest.clone()),
        "annotations": { KEY_ANNOTATION: key.to_string() },
    }))
}

/// Records `key` → `artifact` in `target`'s repository, where the artifact has just been
/// pushed completely: called last, so a record never names an incomplete image, and two
/// runners recording the same key write the same bytes (reproducible builds give the
/// same image). Returns the record's reference.
pub async fn record(
    client: &Client,
    store: &BlobStore,
    target: &Reference,
    key: &Digest,
    artifact: &BuiltArtifact,
) -> Result<Reference, Error> {
    let at = repository_of(target).with_tag(&record_tag(key));
    let manifest = record_manifest(key, artifact);
    let mut blobs = vec![kiln_registry::BlobUpload::from_bytes(empty_config().bytes)];
    for sbom in artifact
        .sboms
        .iter()
        .flat_map(|s| s.images.iter().chain(&s.index))
    {
        blobs.push(kiln_registry::BlobUpload::from_file(
            store.path(&sbom.digest),
            sbom.digest.clone(),
            sbom.size,
        ));
    }
    push_attachment(client, &blobs, &manifest, &at).await?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_tag_is_a_valid_tag_derived_from_the_whole_key() {
        let key = Digest::of(b"inputs");
        let tag = record_tag(&key);
        assert_eq!(tag, format!("kiln-cache-{}", key.hex()));
        // The distribution spec's tag grammar: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
        assert!(tag.len() <= 128);
        assert!(
            tag.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        );
    }

    #[test]
    fn modes_read_and_write_as_named() {
        assert!(!RemoteCacheMode::Off.reads() && !RemoteCacheMode::Off.writes());
        assert!(RemoteCacheMode::Read.reads() && !RemoteCacheMode::Read.writes());
        assert!(RemoteCacheMode::ReadWrite.reads() && RemoteCacheMode::ReadWrite.writes());
    }
}
