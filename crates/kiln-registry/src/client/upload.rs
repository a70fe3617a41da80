//! Uploading blobs in ggcr's four named steps: [`Client::check_existing`] (`HEAD`),
//! [`Client::start_upload`] (a cross-repository mount or a new session: `POST`),
//! [`Client::stream`] (the whole body in one `PATCH`) and [`Client::commit`]
//! (`PUT ?digest=`). Concurrent pushes of one blob share one upload; a blob still being
//! written goes up through the same steps, unretried.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt as _;
use kiln_core::{Digest, Reference};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use url::Url;

use super::{Client, Target, header_str};
use crate::error::{Ctx, Error, Op, redact_url_text};
use crate::transport::{Endpoint, Progress, Scopes};
use crate::{BlobPush, BlobSource, BlobUpload, RegistryEvent, RegistryEventSink};

const UPLOAD_CHUNK: usize = 256 << 10;

/// What [`Client::start_upload`] got.
enum Started {
    /// The registry mounted the blob from the other repository: nothing to upload.
    Mounted,
    /// An upload session to stream into (also what a declined mount answers).
    Session(Url),
}

impl Client {
    /// Pushes a blob unless the repository has it: `HEAD`, then a cross-repository mount when
    /// `mount_from` is another repository on the same registry, else `POST` + one streaming
    /// `PATCH` + `PUT ?digest=`. Concurrent calls for the same registry, repository and
    /// digest share one push.
    pub async fn push_blob(
        &self,
        repo: &Reference,
        blob: &BlobUpload,
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
        blob: &BlobUpload,
        mount_from: Option<&Reference>,
    ) -> Result<BlobPush, Error> {
        let mount =
            mount_from.filter(|m| m.registry == repo.registry && m.repository != repo.repository);
        let mut scopes = Scopes::push(&repo.repository);
        if let Some(m) = mount {
            scopes = scopes.and_pull(&m.repository);
        }
        let scopes = &scopes;
        self.op(
            Op::PushBlob,
            repo,
            Some(blob.digest.to_string()),
            |ep, ctx| async move {
                let to = Target::new(&ep, repo, scopes, &ctx);
                self.push_blob_once(&to, repo, blob, mount).await
            },
        )
        .await
    }

    /// One attempt: the four steps, with their events.
    async fn push_blob_once(
        &self,
        to: &Target<'_>,
        repo: &Reference,
        blob: &BlobUpload,
        mount: Option<&Reference>,
    ) -> Result<BlobPush, Error> {
        let name = repo.name();
        let digest = &blob.digest;
        let size = blob.size;
        if self.check_existing(to, digest).await? {
            tracing::debug!(repository = %name, %digest, "existing blob");
            self.inner.emit(RegistryEvent::BlobSkipped {
                repository: name,
                digest: digest.clone(),
                size,
            });
            return Ok(BlobPush::AlreadyPresent);
        }
        let mount_request = mount.map(|m| (digest, m.repository.as_str()));
        let session = match self.start_upload(to, mount_request).await? {
            Started::Session(session) => session,
            Started::Mounted => {
                let from = mount.map(Reference::name).unwrap_or_default();
                tracing::debug!(repository = %name, %digest, %from, "mounted blob");
                self.inner.emit(RegistryEvent::BlobMounted {
                    repository: name,
                    digest: digest.clone(),
                    from,
                });
                return Ok(BlobPush::Mounted);
            }
        };
        let events = self.inner.opts.events.clone();
        let progress = Progress::new();
        let commit_to = self
            .stream(to, session, Some(size), Some(&progress), &mut || {
                Ok(match &blob.source {
                    BlobSource::Bytes(b) => {
                        if b.len() as u64 != size {
                            return Err(Error::protocol(
                                to.ctx,
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
                        to.ctx,
                        events.clone(),
                        &name,
                        digest,
                        progress.clone(),
                    )?,
                })
            })
            .await?;
        if matches!(blob.source, BlobSource::Bytes(_)) {
            self.inner.emit(RegistryEvent::BlobProgress {
                repository: name.clone(),
                digest: digest.clone(),
                bytes_sent: size,
                total: size,
            });
        }
        self.commit(to, commit_to, digest).await?;
        tracing::debug!(repository = %name, %digest, size, "uploaded blob");
        self.inner.emit(RegistryEvent::BlobUploaded {
            repository: name,
            digest: digest.clone(),
            size,
        });
        Ok(BlobPush::Uploaded)
    }

    /// Step 1, `HEAD`: whether the repository has the blob already.
    pub(super) async fn check_existing(
        &self,
        to: &Target<'_>,
        digest: &Digest,
    ) -> Result<bool, Error> {
        let url = to.ep.url(&format!("v2/{}/blobs/{digest}", to.repository));
        let resp = self
            .inner
            .send(to.ep, to.scopes, to.repository, to.ctx, &mut |http| {
                Ok(http.head(url.clone()))
            })
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.inner.error_for(resp, to.ctx).await),
        }
    }

    /// Step 2, `POST`: an upload session, or, when `mount` names the blob and the
    /// repository to take it from, that mount.
    async fn start_upload(
        &self,
        to: &Target<'_>,
        mount: Option<(&Digest, &str)>,
    ) -> Result<Started, Error> {
        let mut start = to.ep.url(&format!("v2/{}/blobs/uploads/", to.repository));
        if let Some((digest, from)) = mount {
            start
                .query_pairs_mut()
                .append_pair("mount", &digest.to_string())
                .append_pair("from", from);
        }
        let resp = self
            .inner
            .send(to.ep, to.scopes, to.repository, to.ctx, &mut |http| {
                Ok(http.post(start.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => Ok(Started::Mounted),
            // A declined mount also answers 202: that session is ours to use.
            StatusCode::ACCEPTED => Ok(Started::Session(location(to.ep, &resp, to.ctx)?)),
            _ => Err(self.inner.error_for(resp, to.ctx).await),
        }
    }

    /// Step 3, `PATCH`: the whole blob into `session` in one streamed request (`size` as its
    /// length when known), `body` made anew for each send. Every chunk sent touches
    /// `progress`, which resets the idle deadline. Returns where to commit.
    async fn stream(
        &self,
        to: &Target<'_>,
        session: Url,
        size: Option<u64>,
        progress: Option<&Progress>,
        body: &mut (dyn FnMut() -> Result<reqwest::Body, Error> + Send),
    ) -> Result<Url, Error> {
        let resp = self
            .inner
            .send_watched(
                to.ep,
                to.scopes,
                to.repository,
                to.ctx,
                progress,
                &mut |http| {
                    let body = body()?;
                    let patch = http
                        .patch(session.clone())
                        .header(CONTENT_TYPE, "application/octet-stream");
                    Ok(match size {
                        Some(size) => patch.header(CONTENT_LENGTH, size),
                        None => patch,
                    }
                    .body(body))
                },
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.inner.error_for(resp, to.ctx).await);
        }
        if resp.headers().contains_key(LOCATION) {
            location(to.ep, &resp, to.ctx)
        } else {
            Ok(session)
        }
    }

    /// Step 4, `PUT ?digest=`: the registry checks the bytes and makes the blob visible.
    async fn commit(&self, to: &Target<'_>, session: Url, digest: &Digest) -> Result<(), Error> {
        let commit = commit_url(session, digest);
        let resp = self
            .inner
            .send(to.ep, to.scopes, to.repository, to.ctx, &mut |http| {
                Ok(http.put(commit.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.inner.error_for(resp, to.ctx).await);
        }
        Ok(())
    }

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
        let to = Target::new(&ep, repo, &scopes, &ctx);
        let Started::Session(session) = self.start_upload(&to, None).await? else {
            return Err(Error::protocol(
                &ctx,
                "the registry mounted a blob it was not asked to mount",
            ));
        };
        let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
            let chunk = chunks.recv().await?;
            Some((Ok::<_, std::io::Error>(chunk), chunks))
        });
        let mut body = Some(reqwest::Body::wrap_stream(stream));
        let commit_to = self
            .stream(&to, session, None, None, &mut || {
                // A second send (a refreshed token) has no body left to send.
                body.take()
                    .ok_or_else(|| Error::protocol(&ctx, "a streamed upload cannot be sent twice"))
            })
            .await?;
        // The producer failing drops its end: no digest, no PUT, nothing committed.
        let (digest, size) = finished
            .await
            .map_err(|_| Error::protocol(&ctx, "the streamed blob was not finished"))?;
        self.commit(&to, commit_to, &digest).await?;
        tracing::debug!(repository = %repo.name(), %digest, "uploaded blob while it was written");
        self.inner.emit(RegistryEvent::BlobUploaded {
            repository: repo.name(),
            digest: digest.clone(),
            size,
        });
        Ok(digest)
    }
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

/// A request body streaming `path` (opened now, so each attempt reads from the start),
/// reporting progress.
fn file_body(
    path: &Path,
    size: u64,
    ctx: &Ctx,
    events: Option<RegistryEventSink>,
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
