//! Pushing built artifacts to registries: blobs before manifests before the tag, cross-repo
//! mounts from remembered blob locations, SBOM attachments, and the early and streamed layer
//! uploads that overlap a push with `go build`.

use futures_util::future::try_join_all;
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use kiln_core::{Digest, Reference, media_type};
use kiln_image::cache::Bucket;
use kiln_image::cache::keyed::KeyedJson;
use kiln_image::{BlobStore, Descriptor};
use kiln_registry::{BlobSource, BlobUpload, Client};

use crate::Error;
use crate::artifact::{BuiltArtifact, SbomAttach};
use crate::sbom;

/// Concurrent layer uploads per image (ggcr's default). Uploads of the same digest across
/// images and artifacts are shared by the client.
const PUSH_JOBS: usize = 4;

/// Pushes `artifact` to `target` (`repository:tag`): blobs first, each platform manifest by
/// digest, the index by digest, and only then the tag, so a failure at any point leaves no
/// tag pointing at an incomplete image. Returns the digest the tag points at.
pub async fn push_artifact(
    client: &Client,
    store: &BlobStore,
    base_source: Option<&Reference>,
    artifact: &BuiltArtifact,
    target: &Reference,
) -> Result<Digest, Error> {
    // One HEAD answers the common case of an unchanged image: a registry only accepts a
    // manifest whose blobs it has, so a tag already at our digest means a complete image
    // (unless a registry-cache lookup just found a blob of it gone: `repush`).
    if !artifact.repush && tag_is_current(client, artifact, target).await? {
        return Ok(artifact.top.digest.clone());
    }
    let untagged = Reference {
        tag: None,
        ..target.clone()
    };
    let locations = &BlobLocations::new(store);
    try_join_all(artifact.images.iter().map(|image| {
        let untagged = &untagged;
        async move {
            // The config goes up alongside the layers: all blobs before the manifest.
            let config = async {
                let blob = BlobUpload::from_bytes(image.config.bytes.clone());
                client.push_blob(untagged, &blob, None).await?;
                Ok::<_, Error>(())
            };
            let layers = stream::iter(&image.layers)
                .map(|layer| push_layer(client, store, locations, base_source, untagged, layer))
                .buffer_unordered(PUSH_JOBS)
                .try_collect::<Vec<()>>();
            tokio::try_join!(config, layers)?;
            put_manifest_settled(
                client,
                &untagged.with_digest(image.manifest.digest.clone()),
                &image.media_type,
                &image.manifest.bytes,
            )
            .await?;
            Ok::<_, Error>(())
        }
    }))
    .await?;
    if let Some(index) = &artifact.index {
        put_manifest_settled(
            client,
            &untagged.with_digest(index.digest.clone()),
            &artifact.top.media_type,
            &index.bytes,
        )
        .await?;
    }
    put_manifest_settled(
        client,
        target,
        &artifact.top.media_type,
        top_bytes(artifact),
    )
    .await
}

/// Puts a manifest, riding out one race: Distribution's filesystem storage rewrites a file
/// in place when two clients push the same content at once (two runners building one
/// artifact), so for a moment it can report a blob or manifest it holds as unknown or
/// invalid. Every step of a push is idempotent, so the put is simply tried again.
async fn put_manifest_settled(
    client: &Client,
    at: &Reference,
    media_type: &str,
    bytes: &[u8],
) -> Result<Digest, Error> {
    const ATTEMPTS: u64 = 4;
    let mut attempt = 1;
    loop {
        match client.put_manifest(at, media_type, bytes).await {
            Err(e) if attempt < ATTEMPTS && is_concurrent_write(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            result => return Ok(result?),
        }
    }
}

fn is_concurrent_write(e: &kiln_registry::Error) -> bool {
    matches!(e, kiln_registry::Error::Status { status: 400, errors, .. }
    if errors.iter().any(|entry| {
        matches!(
            entry.code.as_str(),
            "MANIFEST_BLOB_UNKNOWN" | "BLOB_UNKNOWN" | "DIGEST_INVALID"
        )
    }))
}

/// Points one more tag at an artifact [`push_artifact`] has pushed to the same repository:
/// the manifest is complete there already, so only the tag is written (if it moved).
pub async fn add_tag(
    client: &Client,
    artifact: &BuiltArtifact,
    target: &Reference,
) -> Result<Digest, Error> {
    if tag_is_current(client, artifact, target).await? {
        return Ok(artifact.top.digest.clone());
    }
    Ok(client
        .put_manifest(target, &artifact.top.media_type, top_bytes(artifact))
        .await?)
}

/// Whether `target` already points at the artifact (one HEAD request).
async fn tag_is_current(
    client: &Client,
    artifact: &BuiltArtifact,
    target: &Reference,
) -> Result<bool, Error> {
    let existing = client.head_manifest(target).await?;
    Ok(existing.is_some_and(|h| h.digest == artifact.top.digest))
}

/// The bytes of what gets tagged: the index, or the single platform manifest.
fn top_bytes(artifact: &BuiltArtifact) -> &[u8] {
    match &artifact.index {
        Some(index) => &index.bytes,
        None => &artifact.images[0].manifest.bytes,
    }
}

/// One layer: skipped when present, mounted from the base's repository when it lives on the
/// same registry, else uploaded from the store (downloading a base layer first if needed).
/// Where kiln last pushed each blob, per registry: pushing the same digest to another
/// repository of that registry then mounts it instead of uploading it again (promoting an
/// image, or changing the default repo). containers/image keeps the same kind of memory.
/// It is only a hint: a mount the registry declines falls back to an upload.
struct BlobLocations(KeyedJson);

impl BlobLocations {
    fn new(store: &BlobStore) -> Self {
        BlobLocations(KeyedJson::new(
            Bucket::Memo.path(store.root()).join("blobs"),
        ))
    }

    fn key(registry: &str, digest: &Digest) -> Digest {
        KeyedJson::key(&["blob-location/1", registry, &digest.to_string()])
    }

    /// Another repository of `target`'s registry known to hold `digest`.
    fn elsewhere(&self, target: &Reference, digest: &Digest) -> Option<Reference> {
        let repository: String = self.0.get(&Self::key(&target.registry, digest))?;
        (repository != target.repository).then(|| Reference {
            registry: target.registry.clone(),
            repository,
            tag: None,
            digest: None,
        })
    }

    fn remember(&self, target: &Reference, digest: &Digest) {
        // A hint cache: failing to write it costs a future upload, not this push.
        let _ = self
            .0
            .put(&Self::key(&target.registry, digest), &target.repository);
    }
}

async fn push_layer(
    client: &Client,
    store: &BlobStore,
    locations: &BlobLocations,
    base_source: Option<&Reference>,
    target: &Reference,
    layer: &Descriptor,
) -> Result<(), Error> {
    let blob = BlobUpload {
        digest: layer.digest.clone(),
        size: layer.size,
        source: BlobSource::File(store.path(&layer.digest)),
    };
    let local = store.contains(&layer.digest);
    let mount_from = base_source.filter(|s| s.registry == target.registry);
    if local {
        let known = mount_from
            .cloned()
            .or_else(|| locations.elsewhere(target, &layer.digest));
        client.push_blob(target, &blob, known.as_ref()).await?;
    } else {
        // A base layer kiln does not hold: mounted when the base lives on this registry.
        // Otherwise, or when the registry declines the mount (the upload it falls back to
        // then fails locally for lack of the file), it is fetched once and uploaded.
        let source = base_source.ok_or_else(|| Error::LayerNotFound {
            digest: layer.digest.clone(),
        })?;
        let mounted = match mount_from {
            Some(from) => match client.push_blob(target, &blob, Some(from)).await {
                Err(kiln_registry::Error::Io { .. }) => false,
                result => {
                    result?;
                    true
                }
            },
            None => false,
        };
        if !mounted {
            client
                .download_blob(source, &layer.digest, &store.path(&layer.digest))
                .await?;
            client.push_blob(target, &blob, None).await?;
        }
    }
    locations.remember(target, &layer.digest);
    Ok(())
}

/// Pushes `layers` to `target` ahead of the image (the base's and kodata's, which are known
/// before `go build` starts), so they travel while Go compiles. Best effort: a failure is
/// only logged, as the push that follows checks every blob and uploads what is missing.
pub(crate) async fn push_layers_early(
    client: Client,
    store: BlobStore,
    base_source: Option<Reference>,
    target: Reference,
    layers: Vec<Descriptor>,
) {
    let untagged = Reference {
        tag: None,
        ..target
    };
    let locations = BlobLocations::new(&store);
    // One at a time: this runs beside `go build`, which has the CPU; the network is idle.
    for layer in &layers {
        let pushed = push_layer(
            &client,
            &store,
            &locations,
            base_source.as_ref(),
            &untagged,
            layer,
        )
        .await;
        if let Err(e) = pushed {
            tracing::debug!(error = %e, "early layer push failed; the image push retries it");
            return;
        }
    }
}

/// Attaches the SBOM `sbom` (a blob in `store`) to `subject`, an image or index already in
/// `target`'s repository (its tag and digest are ignored), as `mode` says. Returns where it
/// went: `repo:sha256-<hex>.sbom` for a tag, `repo@<manifest digest>` for a referrer.
pub async fn attach_sbom(
    client: &Client,
    store: &BlobStore,
    target: &Reference,
    subject: &Descriptor,
    sbom: &Descriptor,
    mode: SbomAttach,
) -> Result<Reference, Error> {
    let repo = repository_of(target);
    let as_referrer = attach_as_referrer(client, &repo, &subject.digest, mode).await?;
    push_sbom_attachment(client, store, &repo, subject, sbom, as_referrer).await
}

/// Attaches every SBOM of `artifact` (each platform image's, and the index's) in `target`'s
/// repository, concurrently, deciding `Auto` once. Returns where each went, images first.
pub async fn attach_sboms(
    client: &Client,
    store: &BlobStore,
    target: &Reference,
    artifact: &BuiltArtifact,
    mode: SbomAttach,
) -> Result<Vec<Reference>, Error> {
    let Some(sboms) = &artifact.sboms else {
        return Err(Error::NoSboms {
            image: artifact.plan.image.clone(),
            action: "attach",
        });
    };
    let repo = repository_of(target);
    let as_referrer = attach_as_referrer(client, &repo, &artifact.top.digest, mode).await?;
    let mut pairs: Vec<(Descriptor, &Descriptor)> = artifact
        .images
        .iter()
        .map(|image| image.descriptor())
        .zip(&sboms.images)
        .collect();
    pairs.extend(sboms.index.iter().map(|sbom| (artifact.top.clone(), sbom)));
    try_join_all(pairs.iter().map(|(subject, sbom)| {
        push_sbom_attachment(client, store, &repo, subject, sbom, as_referrer)
    }))
    .await
}

pub(crate) fn repository_of(target: &Reference) -> Reference {
    Reference {
        tag: None,
        digest: None,
        ..target.clone()
    }
}

/// Whether `mode` means a referrer in `repo`. An explicit referrer on a registry without
/// the referrers API is an error: nothing could ever find it there.
async fn attach_as_referrer(
    client: &Client,
    repo: &Reference,
    subject: &Digest,
    mode: SbomAttach,
) -> Result<bool, Error> {
    match mode {
        SbomAttach::Tag => Ok(false),
        SbomAttach::Auto => Ok(client.supports_referrers(repo, subject).await?),
        SbomAttach::Referrer if client.supports_referrers(repo, subject).await? => Ok(true),
        SbomAttach::Referrer => Err(Error::NoReferrersApi {
            repository: repo.name(),
        }),
    }
}

/// Blobs first (the SBOM, then the config), then the manifest: at its tag for cosign's
/// scheme, by digest for a referrer.
async fn push_sbom_attachment(
    client: &Client,
    store: &BlobStore,
    repo: &Reference,
    subject: &Descriptor,
    sbom: &Descriptor,
    as_referrer: bool,
) -> Result<Reference, Error> {
    let sbom_blob = BlobUpload::from_file(store.path(&sbom.digest), sbom.digest.clone(), sbom.size);
    let (config, manifest, at) = if as_referrer {
        let manifest = sbom::referrer_manifest(subject, sbom);
        let at = repo.with_digest(manifest.digest.clone());
        (sbom::empty_config(), manifest, at)
    } else {
        let (config, manifest) = sbom::tag_attachment(sbom);
        let at = repo.with_tag(&sbom::sbom_tag(&subject.digest));
        (config, manifest, at)
    };
    let blobs = [sbom_blob, BlobUpload::from_bytes(config.bytes)];
    push_attachment(client, &blobs, &manifest, &at).await?;
    Ok(at)
}

/// Pushes a small OCI artifact (an SBOM attachment, an artifact-cache record): its blobs
/// first, in order, then its manifest at `at`, so the manifest never names a missing blob.
pub(crate) async fn push_attachment(
    client: &Client,
    blobs: &[BlobUpload],
    manifest: &kiln_image::Blob,
    at: &Reference,
) -> Result<(), Error> {
    let repo = repository_of(at);
    for blob in blobs {
        client.push_blob(&repo, blob, None).await?;
    }
    put_manifest_settled(client, at, media_type::OCI_MANIFEST, &manifest.bytes).await?;
    Ok(())
}

/// A binary layer uploaded while it is compressed: the layer writer's copy of its bytes
/// feeds one streamed upload to `target`'s repository. Best effort by design: whatever
/// fails here, the push that follows uploads the finished layer from the store.
pub(crate) struct StreamedLayer {
    finished: tokio::sync::oneshot::Sender<(Digest, u64)>,
    upload: tokio::task::JoinHandle<Result<Digest, kiln_registry::Error>>,
}

/// At most this many 128 KiB pieces wait for the network: memory stays flat.
const STREAM_DEPTH: usize = 16;

impl StreamedLayer {
    /// Starts the upload on `runtime` and returns the writer the layer's bytes go to.
    pub(crate) fn start(
        client: &Client,
        target: &Reference,
        runtime: &tokio::runtime::Handle,
    ) -> (Self, Box<dyn std::io::Write + Send>) {
        let (chunks, receiver) = tokio::sync::mpsc::channel(STREAM_DEPTH);
        let (finished, digest) = tokio::sync::oneshot::channel();
        let (client, target) = (client.clone(), target.clone());
        let upload = runtime
            .spawn(async move { client.push_blob_streamed(&target, receiver, digest).await });
        (
            StreamedLayer { finished, upload },
            Box::new(ChunkSender(chunks)),
        )
    }

    /// Gives the upload the finished layer's digest and size and waits for it to land. A
    /// failure is only logged: the push that follows finds the blob missing and uploads it.
    pub(crate) async fn finish(self, layer: &Descriptor) {
        let _ = self.finished.send((layer.digest.clone(), layer.size));
        match self.upload.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "streamed layer upload failed"),
            Err(e) => tracing::debug!(error = %e, "streamed layer upload task failed"),
        }
    }
}

/// Hands written bytes to the upload; blocks while the network is behind (backpressure),
/// fails once the upload has given up (the layer writer then stops copying).
struct ChunkSender(tokio::sync::mpsc::Sender<bytes::Bytes>);

impl std::io::Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(bytes::Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
