//! Registry operations: manifests and blobs, each attempt retried as a whole.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt as _;
use kiln_core::{Digest, Reference, media_type};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Response, StatusCode};
use sha2::Digest as _;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use url::Url;

use crate::error::{Ctx, Error, Op, redact_url_text};
use crate::transport::{Endpoint, Inner, Progress, Scopes};
use crate::{
    Blob, BlobPush, BlobSource, ClientOptions, Manifest, ManifestHead, RegistryEvent, verify_digest,
};

/// Manifests and indexes larger than this are refused (ggcr uses the same order of magnitude).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// [`Client::get_blob_bytes`] is for configs and other small blobs.
const MAX_SMALL_BLOB_BYTES: u64 = 64 << 20;
const UPLOAD_CHUNK: usize = 256 << 10;

/// A registry client. Cheap to clone; clones share connections, tokens, credentials and
/// in-flight uploads.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.opts)
            .field("endpoints", &self.inner.known_endpoints())
            .finish_non_exhaustive()
    }
}

fn header_str(resp: &Response, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn media_type_of(resp: &Response) -> String {
    header_str(resp, CONTENT_TYPE)
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default()
}

async fn read_limited(
    inner: &Inner,
    mut resp: Response,
    max: u64,
    ctx: &Ctx,
) -> Result<Vec<u8>, Error> {
    let too_big = || {
        Error::protocol(
            ctx,
            format!("the registry sent more than {max} bytes; refusing"),
        )
    };
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let mut out = Vec::new();
    while let Some(chunk) = inner.chunk(&mut resp, ctx).await? {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(too_big());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Resolves an upload `Location` (possibly relative) against the registry URL, keeping its query.
fn location(ep: &Endpoint, resp: &Response, ctx: &Ctx) -> Result<Url, Error> {
    let loc = header_str(resp, LOCATION).ok_or_else(|| {
        Error::protocol(
            ctx,
            format!(
                "the registry answered {} without a Location header",
                resp.status()
            ),
        )
    })?;
    ep.base.join(loc).map_err(|e| {
        Error::protocol(
            ctx,
            format!(
                "the upload Location `{}` is not a URL: {e}",
                redact_url_text(loc)
            ),
        )
    })
}

/// The `PUT` that commits an upload: the session URL with `digest=` added to its own query
/// (`?digest=` or `&digest=`).
fn commit_url(mut session: Url, digest: &Digest) -> Url {
    session
        .query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    session
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, Error> {
        crate::tls::provider();
        crate::Timeouts::from_env(&opts.env)?;
        Ok(Client {
            inner: Arc::new(Inner::new(opts)),
        })
    }

    /// `GET` a manifest or index. `accept` defaults to [`media_type::MANIFEST_ACCEPT`].
    /// When `r` is pinned by digest, the bytes are verified against it.
    pub async fn get_manifest(&self, r: &Reference, accept: &[&str]) -> Result<Manifest, Error> {
        let ctx = Ctx::new(
            Op::GetManifest,
            &r.registry,
            Some(&r.repository),
            Some(r.identifier()),
        );
        let ep = self.inner.endpoint(&r.registry).await?;
        let accept = if accept.is_empty() {
            &media_type::MANIFEST_ACCEPT[..]
        } else {
            accept
        }
        .join(", ");
        self.inner
            .retrying(&ctx, |_| self.get_manifest_once(&ep, r, &accept, &ctx))
            .await
    }

    async fn get_manifest_once(
        &self,
        ep: &Endpoint,
        r: &Reference,
        accept: &str,
        ctx: &Ctx,
    ) -> Result<Manifest, Error> {
        let url = ep.url(&format!("v2/{}/manifests/{}", r.repository, r.identifier()));
        let scopes = Scopes::pull(&r.repository);
        let resp = self
            .inner
            .send(ep, &scopes, &r.repository, ctx, &mut |http| {
                Ok(http.get(url.clone()).header(ACCEPT, accept))
            })
            .await?;
        if resp.status() != StatusCode::OK {
            return Err(self.inner.error_for(resp, ctx).await);
        }
        let media_type = media_type_of(&resp);
        let bytes = read_limited(&self.inner, resp, MAX_MANIFEST_BYTES, ctx).await?;
        if let Some(want) = &r.digest {
            verify_digest(ctx, want, &bytes)?;
        }
        // For tags the Docker-Content-Digest header is not checked: too many registries get
        // it wrong (ggcr gives up on it too). The digest is of the bytes we got.
        Ok(Manifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type,
        })
    }

    /// `HEAD` a manifest: `None` when it does not exist (404, and 403 as ggcr does for
    /// Artifactory).
    pub async fn head_manifest(&self, r: &Reference) -> Result<Option<ManifestHead>, Error> {
        let ep = self.inner.endpoint(&r.registry).await?;
        self.head_manifest_with(&ep, r, &Scopes::pull(&r.repository))
            .await
    }

    async fn head_manifest_with(
        &self,
        ep: &Endpoint,
        r: &Reference,
        scopes: &Scopes,
    ) -> Result<Option<ManifestHead>, Error> {
        let ctx = Ctx::new(
            Op::HeadManifest,
            &r.registry,
            Some(&r.repository),
            Some(r.identifier()),
        );
        let url = ep.url(&format!("v2/{}/manifests/{}", r.repository, r.identifier()));
        let accept = media_type::MANIFEST_ACCEPT.join(", ");
        let head = self
            .inner
            .retrying(&ctx, |_| async {
                let resp = self
                    .inner
                    .send(ep, scopes, &r.repository, &ctx, &mut |http| {
                        Ok(http.head(url.clone()).header(ACCEPT, accept.as_str()))
                    })
                    .await?;
                match resp.status() {
                    StatusCode::OK => Ok(Some((
                        header_str(&resp, "docker-content-digest")
                            .and_then(|d| d.parse::<Digest>().ok()),
                        media_type_of(&resp),
                        header_str(&resp, CONTENT_LENGTH).and_then(|n| n.parse::<u64>().ok()),
                    ))),
                    StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Ok(None),
                    _ => Err(self.inner.error_for(resp, &ctx).await),
                }
            })
            .await?;
        let Some((digest, media_type, size)) = head else {
            return Ok(None);
        };
        match (digest, size) {
            (Some(digest), Some(size)) if !media_type.is_empty() => Ok(Some(ManifestHead {
                digest,
                media_type,
                size,
            })),
            // Some registries omit the headers on HEAD: fall back to a GET.
            _ => {
                let m = self.get_manifest(r, &[]).await?;
                Ok(Some(ManifestHead {
                    digest: m.digest,
                    size: m.bytes.len() as u64,
                    media_type: m.media_type,
                }))
            }
        }
    }

    /// `PUT` a manifest or index under `r`'s tag (or its digest when it has no tag). For a
    /// tag, the current manifest is checked first and the `PUT` skipped when it is the same.
    /// Returns the digest of `bytes`, which the registry's `Docker-Content-Digest` must match.
    pub async fn put_manifest(
        &self,
        r: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, Error> {
        let digest = Digest::of(bytes);
        let target = r.tag.clone().unwrap_or_else(|| digest.to_string());
        let ctx = Ctx::new(
            Op::PutManifest,
            &r.registry,
            Some(&r.repository),
            Some(target.clone()),
        );
        if let Some(pinned) = &r.digest {
            verify_digest(&ctx, pinned, bytes)?;
        }
        let ep = self.inner.endpoint(&r.registry).await?;
        let scopes = Scopes::push(&r.repository);
        let shown = format!(
            "{}/{}{}{target}",
            r.registry,
            r.repository,
            if r.tag.is_some() { ":" } else { "@" }
        );
        if let Some(tag) = &r.tag
            && let Some(head) = self
                .head_manifest_with(&ep, &r.with_tag(tag), &scopes)
                .await?
            && head.digest == digest
        {
            tracing::debug!(reference = %shown, %digest, "existing manifest");
            self.inner.emit(RegistryEvent::ManifestSkipped {
                reference: shown,
                digest: digest.clone(),
            });
            return Ok(digest);
        }
        let url = ep.url(&format!("v2/{}/manifests/{target}", r.repository));
        let body = bytes::Bytes::copy_from_slice(bytes);
        self.inner
            .retrying(&ctx, |_| async {
                let resp = self
                    .inner
                    .send(&ep, &scopes, &r.repository, &ctx, &mut |http| {
                        Ok(http
                            .put(url.clone())
                            .header(CONTENT_TYPE, media_type)
                            .body(body.clone()))
                    })
                    .await?;
                if !resp.status().is_success() {
                    return Err(self.inner.error_for(resp, &ctx).await);
                }
                if let Some(theirs) = header_str(&resp, "docker-content-digest")
                    && theirs != digest.to_string()
                {
                    return Err(Error::DigestMismatch {
                        ctx: Box::new(ctx.clone()),
                        expected: digest.clone(),
                        actual: theirs.to_owned(),
                    });
                }
                Ok(())
            })
            .await?;
        tracing::debug!(reference = %shown, %digest, "pushed manifest");
        self.inner.emit(RegistryEvent::ManifestPushed {
            reference: shown,
            digest: digest.clone(),
        });
        Ok(digest)
    }

    /// Whether the registry serves the OCI 1.1 referrers API for `repo`, asked as the
    /// distribution spec says clients must: `GET /v2/<name>/referrers/<subject>` answers an
    /// image index (empty when nothing refers to `subject`) where the API exists, and 404
    /// where it does not. A 200 that is not an index (a catch-all page), 400 or 405 also
    /// mean no.
    pub async fn supports_referrers(
        &self,
        repo: &Reference,
        subject: &Digest,
    ) -> Result<bool, Error> {
        let ep = self.inner.endpoint(&repo.registry).await?;
        let ctx = Ctx::new(
            Op::Referrers,
            &repo.registry,
            Some(&repo.repository),
            Some(subject.to_string()),
        );
        let url = ep.url(&format!("v2/{}/referrers/{subject}", repo.repository));
        let scopes = Scopes::pull(&repo.repository);
        self.inner
            .retrying(&ctx, |_| async {
                let resp = self
                    .inner
                    .send(&ep, &scopes, &repo.repository, &ctx, &mut |http| {
                        Ok(http.get(url.clone()).header(ACCEPT, media_type::OCI_INDEX))
                    })
                    .await?;
                match resp.status() {
                    StatusCode::OK => Ok(media_type_of(&resp) == media_type::OCI_INDEX),
                    // 404: no such route. Some registries answer an unknown route with 400
                    // or 405 instead.
                    StatusCode::NOT_FOUND
                    | StatusCode::BAD_REQUEST
                    | StatusCode::METHOD_NOT_ALLOWED => Ok(false),
                    _ => Err(self.inner.error_for(resp, &ctx).await),
                }
            })
            .await
    }

    /// Whether `repo` has the blob (`HEAD`).
    pub async fn blob_exists(&self, repo: &Reference, digest: &Digest) -> Result<bool, Error> {
        let ep = self.inner.endpoint(&repo.registry).await?;
        let ctx = Ctx::new(
            Op::HeadBlob,
            &repo.registry,
            Some(&repo.repository),
            Some(digest.to_string()),
        );
        let scopes = Scopes::pull(&repo.repository);
        self.inner
            .retrying(&ctx, |_| {
                self.blob_exists_once(&ep, repo, digest, &scopes, &ctx)
            })
            .await
    }

    async fn blob_exists_once(
        &self,
        ep: &Endpoint,
        repo: &Reference,
        digest: &Digest,
        scopes: &Scopes,
        ctx: &Ctx,
    ) -> Result<bool, Error> {
        let url = ep.url(&format!("v2/{}/blobs/{digest}", repo.repository));
        let resp = self
            .inner
            .send(ep, scopes, &repo.repository, ctx, &mut |http| {
                Ok(http.head(url.clone()))
            })
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.inner.error_for(resp, ctx).await),
        }
    }

    /// `GET` a blob, from byte `from` on when that is not 0 (the answer may still be the
    /// whole blob: 200 rather than 206).
    async fn get_blob_response(
        &self,
        ep: &Endpoint,
        repo: &Reference,
        digest: &Digest,
        from: u64,
        ctx: &Ctx,
    ) -> Result<Response, Error> {
        let url = ep.url(&format!("v2/{}/blobs/{digest}", repo.repository));
        let resp = self
            .inner
            .send(
                ep,
                &Scopes::pull(&repo.repository),
                &repo.repository,
                ctx,
                &mut |http| {
                    let get = http.get(url.clone());
                    Ok(if from > 0 {
                        get.header(RANGE, format!("bytes={from}-"))
                    } else {
                        get
                    })
                },
            )
            .await?;
        if resp.status() != StatusCode::OK && resp.status() != StatusCode::PARTIAL_CONTENT {
            return Err(self.inner.error_for(resp, ctx).await);
        }
        Ok(resp)
    }

    /// A small blob (a config), read into memory and verified.
    pub async fn get_blob_bytes(
        &self,
        repo: &Reference,
        digest: &Digest,
    ) -> Result<Vec<u8>, Error> {
        let ep = self.inner.endpoint(&repo.registry).await?;
        let ctx = Ctx::new(
            Op::GetBlob,
            &repo.registry,
            Some(&repo.repository),
            Some(digest.to_string()),
        );
        self.inner
            .retrying(&ctx, |_| async {
                let resp = self.get_blob_response(&ep, repo, digest, 0, &ctx).await?;
                let bytes = read_limited(&self.inner, resp, MAX_SMALL_BLOB_BYTES, &ctx).await?;
                verify_digest(&ctx, digest, &bytes)?;
                Ok(bytes)
            })
            .await
    }

    /// Streams a blob into a temporary file next to `dest`, verifies its sha256, then renames
    /// it to `dest` atomically. Returns its size. A retry after a body that ended early asks
    /// for the rest only (`Range`), and starts over when the registry sends the whole blob.
    pub async fn download_blob(
        &self,
        repo: &Reference,
        digest: &Digest,
        dest: &Path,
    ) -> Result<u64, Error> {
        let ep = self.inner.endpoint(&repo.registry).await?;
        let ctx = Ctx::new(
            Op::GetBlob,
            &repo.registry,
            Some(&repo.repository),
            Some(digest.to_string()),
        );
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Removed on drop unless persisted: no partial file survives an error or cancellation.
        let tmp = tempfile::Builder::new()
            .prefix(".kiln-download-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(&ctx, dir, e))?;
        let file = tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io(&ctx, tmp.path(), e))?;
        let partial = tokio::sync::Mutex::new(Partial {
            file: tokio::fs::File::from_std(file),
            hasher: sha2::Sha256::new(),
            size: 0,
        });
        let size = self
            .inner
            .retrying(&ctx, |_| {
                self.download_blob_once(&ep, repo, digest, &partial, tmp.path(), &ctx)
            })
            .await?;
        tmp.persist(dest)
            .map_err(|e| Error::io(&ctx, dest, e.error))?;
        Ok(size)
    }

    async fn download_blob_once(
        &self,
        ep: &Endpoint,
        repo: &Reference,
        digest: &Digest,
        partial: &tokio::sync::Mutex<Partial>,
        path: &Path,
        ctx: &Ctx,
    ) -> Result<u64, Error> {
        let mut p = partial.lock().await;
        let io = |e| Error::io(ctx, path, e);
        let mut resp = self
            .get_blob_response(ep, repo, digest, p.size, ctx)
            .await?;
        let resumed = resp.status() == StatusCode::PARTIAL_CONTENT
            && header_str(&resp, CONTENT_RANGE)
                .is_some_and(|r| r.starts_with(&format!("bytes {}-", p.size)));
        if !resumed {
            p.restart().await.map_err(io)?;
        } else {
            tracing::debug!(%digest, from = p.size, "resuming blob download");
        }
        while let Some(chunk) = self.inner.chunk(&mut resp, ctx).await? {
            p.file.write_all(&chunk).await.map_err(io)?;
            p.hasher.update(&chunk);
            p.size += chunk.len() as u64;
        }
        p.file.flush().await.map_err(io)?;
        p.file.sync_all().await.map_err(io)?;
        let actual = Digest::from_sha256(p.hasher.clone().finalize().into());
        if &actual != digest {
            // A retry must not resume from bytes that hash wrong.
            p.restart().await.map_err(io)?;
            return Err(Error::DigestMismatch {
                ctx: Box::new(ctx.clone()),
                expected: digest.clone(),
                actual: actual.to_string(),
            });
        }
        Ok(p.size)
    }

    /// Pushes a blob unless the repository has it: `HEAD`, then a cross-repository mount when
    /// `mount_from` is another repository on the same registry, else `POST` + one streaming
    /// `PATCH` + `PUT ?digest=`. Concurrent calls for the same registry, repository and
    /// digest share one push.
    pub async fn push_blob(
        &self,
        repo: &Reference,
        blob: &Blob,
        mount_from: Option<&Reference>,
    ) -> Result<BlobPush, Error> {
        let key = (
            repo.registry.clone(),
            repo.repository.clone(),
            blob.digest.clone(),
        );
        let cell = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_init(|| self.push_blob_uncached(repo, blob, mount_from))
            .await
            .clone();
        // Forget finished pushes, so a later call checks the registry again.
        let mut map = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if map.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            map.remove(&key);
        }
        result
    }

    async fn push_blob_uncached(
        &self,
        repo: &Reference,
        blob: &Blob,
        mount_from: Option<&Reference>,
    ) -> Result<BlobPush, Error> {
        let ctx = Ctx::new(
            Op::PushBlob,
            &repo.registry,
            Some(&repo.repository),
            Some(blob.digest.to_string()),
        );
        let ep = self.inner.endpoint(&repo.registry).await?;
        let mount =
            mount_from.filter(|m| m.registry == repo.registry && m.repository != repo.repository);
        let mut scopes = Scopes::push(&repo.repository);
        if let Some(m) = mount {
            scopes = scopes.and_pull(&m.repository);
        }
        self.inner
            .retrying(&ctx, |_| {
                self.push_blob_once(&ep, repo, blob, mount, &scopes, &ctx)
            })
            .await
    }

    async fn push_blob_once(
        &self,
        ep: &Endpoint,
        repo: &Reference,
        blob: &Blob,
        mount: Option<&Reference>,
        scopes: &Scopes,
        ctx: &Ctx,
    ) -> Result<BlobPush, Error> {
        let name = repo.name();
        let digest = &blob.digest;
        let repository = repo.repository.as_str();
        if self.blob_exists_once(ep, repo, digest, scopes, ctx).await? {
            tracing::debug!(repository = %name, %digest, "existing blob");
            self.inner.emit(RegistryEvent::BlobSkipped {
                repository: name,
                digest: digest.clone(),
                size: blob.size,
            });
            return Ok(BlobPush::AlreadyPresent);
        }

        // Start an upload session, asking for a mount when we can.
        let mut start = ep.url(&format!("v2/{repository}/blobs/uploads/"));
        if let Some(m) = mount {
            start
                .query_pairs_mut()
                .append_pair("mount", &digest.to_string())
                .append_pair("from", &m.repository);
        }
        let resp = self
            .inner
            .send(ep, scopes, repository, ctx, &mut |http| {
                Ok(http.post(start.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => {
                let from = mount.map(Reference::name).unwrap_or_default();
                tracing::debug!(repository = %name, %digest, %from, "mounted blob");
                self.inner.emit(RegistryEvent::BlobMounted {
                    repository: name,
                    digest: digest.clone(),
                    from,
                });
                return Ok(BlobPush::Mounted);
            }
            // A declined mount also answers 202: that session is ours to use.
            StatusCode::ACCEPTED => {}
            _ => return Err(self.inner.error_for(resp, ctx).await),
        }
        let upload = location(ep, &resp, ctx)?;

        // One PATCH with the whole blob, streamed; every chunk sent resets the idle timer.
        let events = self.inner.opts.events.clone();
        let size = blob.size;
        let progress = Progress::new();
        let resp = self
            .inner
            .send_watched(ep, scopes, repository, ctx, Some(&progress), &mut |http| {
                let body = match &blob.source {
                    BlobSource::Bytes(b) => {
                        if b.len() as u64 != size {
                            return Err(Error::protocol(
                                ctx,
                                format!(
                                    "the blob has {} bytes but was declared as {size}",
                                    b.len()
                                ),
                            ));
                        }
                        bytes_body(b.clone(), progress.clone())
                    }
                    BlobSource::File(path) => file_body(
                        path,
                        size,
                        ctx,
                        events.clone(),
                        &name,
                        digest,
                        progress.clone(),
                    )?,
                };
                Ok(http
                    .patch(upload.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, size)
                    .body(body))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.inner.error_for(resp, ctx).await);
        }
        let commit = if resp.headers().contains_key(LOCATION) {
            location(ep, &resp, ctx)?
        } else {
            upload
        };
        if matches!(blob.source, BlobSource::Bytes(_)) {
            self.inner.emit(RegistryEvent::BlobProgress {
                repository: name.clone(),
                digest: digest.clone(),
                bytes_sent: size,
                total: size,
            });
        }

        let commit = commit_url(commit, digest);
        let resp = self
            .inner
            .send(ep, scopes, repository, ctx, &mut |http| {
                Ok(http.put(commit.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.inner.error_for(resp, ctx).await);
        }
        tracing::debug!(repository = %name, %digest, size, "uploaded blob");
        self.inner.emit(RegistryEvent::BlobUploaded {
            repository: name,
            digest: digest.clone(),
            size,
        });
        Ok(BlobPush::Uploaded)
    }
}

/// A download in progress: kept across attempts so a retry can resume.
struct Partial {
    file: tokio::fs::File,
    hasher: sha2::Sha256,
    size: u64,
}

impl Partial {
    async fn restart(&mut self) -> std::io::Result<()> {
        self.file.set_len(0).await?;
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        self.hasher = sha2::Sha256::new();
        self.size = 0;
        Ok(())
    }
}

/// An in-memory request body in upload-sized chunks, each touching `progress`.
fn bytes_body(bytes: bytes::Bytes, progress: Progress) -> reqwest::Body {
    let chunks: Vec<bytes::Bytes> = (0..bytes.len())
        .step_by(UPLOAD_CHUNK)
        .map(|at| bytes.slice(at..(at + UPLOAD_CHUNK).min(bytes.len())))
        .collect();
    let stream = futures_util::stream::iter(chunks).map(move |c| {
        progress.touch();
        Ok::<_, std::io::Error>(c)
    });
    reqwest::Body::wrap_stream(stream)
}

impl Client {
    /// Uploads a blob whose bytes are still being produced, so that compressing a layer and
    /// sending it overlap: one session (`POST`), one `PATCH` whose body is `chunks` as they
    /// arrive (chunked, its length unknown yet), and the `PUT ?digest=` once `finished`
    /// gives the digest and size. Never retried (the body cannot be replayed): the caller keeps the
    /// bytes and falls back to [`Client::push_blob`], which finds the blob if this worked.
    pub async fn push_blob_streamed(
        &self,
        repo: &Reference,
        chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>,
        finished: tokio::sync::oneshot::Receiver<(Digest, u64)>,
    ) -> Result<Digest, Error> {
        let ctx = Ctx::new(Op::PushBlob, &repo.registry, Some(&repo.repository), None);
        let ep = self.inner.endpoint(&repo.registry).await?;
        let scopes = Scopes::push(&repo.repository);
        let repository = repo.repository.as_str();
        let start = ep.url(&format!("v2/{repository}/blobs/uploads/"));
        let resp = self
            .inner
            .send(&ep, &scopes, repository, &ctx, &mut |http| {
                Ok(http.post(start.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.inner.error_for(resp, &ctx).await);
        }
        let upload = location(&ep, &resp, &ctx)?;
        let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
            let chunk = chunks.recv().await?;
            Some((Ok::<_, std::io::Error>(chunk), chunks))
        });
        let mut body = Some(reqwest::Body::wrap_stream(stream));
        let resp = self
            .inner
            .send(&ep, &scopes, repository, &ctx, &mut |http| {
                // A second attempt (a refreshed token) has no body left to send.
                let body = body.take().ok_or_else(|| {
                    Error::protocol(&ctx, "a streamed upload cannot be sent twice")
                })?;
                Ok(http
                    .patch(upload.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.inner.error_for(resp, &ctx).await);
        }
        let commit = if resp.headers().contains_key(LOCATION) {
            location(&ep, &resp, &ctx)?
        } else {
            upload
        };
        // The producer failing drops its end: no digest, no PUT, nothing committed.
        let (digest, size) = finished
            .await
            .map_err(|_| Error::protocol(&ctx, "the streamed blob was not finished"))?;
        let commit = commit_url(commit, &digest);
        let resp = self
            .inner
            .send(&ep, &scopes, repository, &ctx, &mut |http| {
                Ok(http.put(commit.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.inner.error_for(resp, &ctx).await);
        }
        tracing::debug!(repository = %repo.name(), %digest, "uploaded blob while it was written");
        self.inner.emit(RegistryEvent::BlobUploaded {
            repository: repo.name(),
            digest: digest.clone(),
            size,
        });
        Ok(digest)
    }
}

/// A request body streaming `path` (opened now, so each attempt reads from the start),
/// reporting progress.
fn file_body(
    path: &Path,
    size: u64,
    ctx: &Ctx,
    events: Option<crate::EventSink>,
    repository: &str,
    digest: &Digest,
    progress: Progress,
) -> Result<reqwest::Body, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(ctx, path, e))?;
    let actual = file.metadata().map_err(|e| Error::io(ctx, path, e))?.len();
    if actual != size {
        return Err(Error::protocol(
            ctx,
            format!(
                "{} has {actual} bytes but the blob was declared as {size}",
                path.display()
            ),
        ));
    }
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), UPLOAD_CHUNK);
    let (repository, digest) = (repository.to_owned(), digest.clone());
    let mut sent = 0u64;
    let stream = stream.map(move |chunk| {
        progress.touch();
        if let (Ok(c), Some(sink)) = (&chunk, &events) {
            sent += c.len() as u64;
            sink(RegistryEvent::BlobProgress {
                repository: repository.clone(),
                digest: digest.clone(),
                bytes_sent: sent,
                total: size,
            });
        }
        chunk
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_registry_and_keep_their_query() {
        let base = Url::parse("http://127.0.0.1:5000/").unwrap();
        let d = Digest::of(b"x");
        let rel = base
            .join("/v2/app/blobs/uploads/u1?_state=abc%3D%3D")
            .unwrap();
        assert_eq!(
            rel.as_str(),
            "http://127.0.0.1:5000/v2/app/blobs/uploads/u1?_state=abc%3D%3D"
        );
        assert_eq!(
            commit_url(rel, &d).as_str(),
            format!(
                "http://127.0.0.1:5000/v2/app/blobs/uploads/u1?_state=abc%3D%3D&digest=sha256%3A{}",
                d.hex()
            )
        );
        let abs = base.join("https://storage.example/upload/u2").unwrap();
        assert_eq!(
            commit_url(abs, &d).as_str(),
            format!(
                "https://storage.example/upload/u2?digest=sha256%3A{}",
                d.hex()
            )
        );
    }
}
