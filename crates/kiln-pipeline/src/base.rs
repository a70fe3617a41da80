//! Bases from registries, and the base layers an output needs.
//!
//! Base manifests and configs are cached by digest in the context's store: a
//! digest-pinned base needs no network once cached, and a tag costs one HEAD request. Base
//! layers are never downloaded unless an output needs their bytes (an OCI layout, a tarball,
//! or a push to a registry that can neither find nor mount them).

use std::collections::HashSet;

use futures_util::future::try_join_all;
use kiln_core::platform::PlatformRequest;
use kiln_core::{Digest, Reference, media_type};
use kiln_image::spec::{Index, Manifest};
use kiln_image::{BlobStore, Descriptor, ResolvedBase};
use kiln_registry::Client;

use crate::Error;
use crate::artifact::BuiltArtifact;

/// Resolves `reference` to the platform images `request` selects.
pub async fn registry_base(
    client: &Client,
    store: &BlobStore,
    reference: &Reference,
    request: &PlatformRequest,
) -> Result<ResolvedBase, Error> {
    let display = reference.to_string();
    let (top_digest, top_bytes) = match &reference.digest {
        Some(d) => {
            let repo = reference.with_digest(d.clone());
            (d.clone(), cached_manifest(client, store, &repo, d).await?)
        }
        None => tagged_manifest(client, store, reference, &display).await?,
    };
    let top_media_type = document_media_type(&top_bytes);
    let top = Descriptor::new(&top_media_type, top_bytes.len() as u64, top_digest);
    let manifests: Vec<Manifest> = if media_type::is_index(&top_media_type) {
        let index: Index = serde_json::from_slice(&top_bytes).map_err(|source| {
            Error::invalid(format!("the index of base image {display}"), source)
        })?;
        let selected = kiln_image::base::select_from_index(&display, &index, request)?;
        try_join_all(selected.iter().map(|child| async {
            let bytes = cached_manifest(
                client,
                store,
                &reference.with_digest(child.digest.clone()),
                &child.digest,
            )
            .await?;
            parse_manifest(&display, &bytes)
        }))
        .await?
    } else {
        vec![parse_manifest(&display, &top_bytes)?]
    };
    try_join_all(manifests.iter().map(|m| async {
        if !store.contains(&m.config.digest) {
            let bytes = client.get_blob_bytes(reference, &m.config.digest).await?;
            store.write_bytes(&bytes)?;
        }
        Ok::<_, Error>(())
    }))
    .await?;
    let store = store.clone();
    let name = reference.ggcr_name();
    let request = request.clone();
    tokio::task::spawn_blocking(move || {
        kiln_image::layout::resolve_from_store(&store, &display, Some(name), top, &request)
    })
    .await?
    .map_err(Error::from)
}

/// A tag's manifest: `HEAD` for its digest (free when the manifest is cached), and a `GET`
/// by tag when the digest the `HEAD` gave does not fetch (a registry or proxy that answers
/// `HEAD` with a wrong digest).
async fn tagged_manifest(
    client: &Client,
    store: &BlobStore,
    reference: &Reference,
    display: &str,
) -> Result<(Digest, Vec<u8>), Error> {
    let head = client
        .head_manifest(reference)
        .await?
        .ok_or_else(|| Error::BaseNotFound {
            base: display.to_owned(),
        })?;
    let by_digest = reference.with_digest(head.digest.clone());
    match cached_manifest(client, store, &by_digest, &head.digest).await {
        Ok(bytes) => Ok((head.digest, bytes)),
        Err(Error::Registry(e))
            if matches!(e, kiln_registry::Error::DigestMismatch { .. })
                || e.status() == Some(404) =>
        {
            let m = client
                .get_manifest(reference, &media_type::MANIFEST_ACCEPT)
                .await?;
            store.write_bytes(&m.bytes)?;
            Ok((m.digest, m.bytes))
        }
        Err(e) => Err(e),
    }
}

async fn cached_manifest(
    client: &Client,
    store: &BlobStore,
    reference: &Reference,
    digest: &Digest,
) -> Result<Vec<u8>, Error> {
    if store.contains(digest) {
        return Ok(store.read(digest)?);
    }
    let manifest = client
        .get_manifest(reference, &media_type::MANIFEST_ACCEPT)
        .await?;
    store.write_bytes(&manifest.bytes)?;
    Ok(manifest.bytes)
}

fn parse_manifest(display: &str, bytes: &[u8]) -> Result<Manifest, Error> {
    serde_json::from_slice(bytes)
        .map_err(|source| Error::invalid(format!("the manifest of base image {display}"), source))
}

/// A stored manifest's media type: its own `mediaType`, or (for documents that omit it) an
/// index when it lists manifests.
fn document_media_type(bytes: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    match value.get("mediaType").and_then(|m| m.as_str()) {
        Some(mt) if !mt.is_empty() => mt.to_owned(),
        _ if value.get("manifests").is_some() => media_type::OCI_INDEX.to_owned(),
        _ => media_type::OCI_MANIFEST.to_owned(),
    }
}

/// Downloads (verified) every layer of `artifact` that the store lacks: outputs that write
/// files need all bytes locally.
pub async fn fetch_missing_layers(
    client: &Client,
    store: &BlobStore,
    source: &Reference,
    artifact: &BuiltArtifact,
) -> Result<(), Error> {
    let missing: HashSet<&Digest> = artifact
        .images
        .iter()
        .flat_map(|i| &i.layers)
        .map(|l| &l.digest)
        .filter(|d| !store.contains(d))
        .collect();
    try_join_all(missing.into_iter().map(|digest| async move {
        client
            .download_blob(source, digest, &store.path(digest))
            .await?;
        Ok::<_, Error>(())
    }))
    .await?;
    Ok(())
}
