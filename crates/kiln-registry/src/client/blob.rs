//! Reading blobs: `HEAD`, small blobs into memory, large ones streamed to a file with
//! `Range` resumption; every read verified against its digest.

use std::path::Path;

use kiln_core::{Digest, Reference};
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Response, StatusCode};
use sha2::Digest as _;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};

use super::{Client, Target, ctx, header_str, read_limited};
use crate::error::{Ctx, Error, Op};
use crate::transport::{Endpoint, Scopes};
use crate::verify_digest;

/// [`Client::get_blob_bytes`] is for configs and other small blobs.
const MAX_SMALL_BLOB_BYTES: u64 = 64 << 20;

impl Client {
    /// Whether `repo` has the blob (`HEAD`).
    pub async fn blob_exists(&self, repo: &Reference, digest: &Digest) -> Result<bool, Error> {
        let scopes = &Scopes::pull(&repo.repository);
        self.op(
            Op::HeadBlob,
            repo,
            Some(digest.to_string()),
            |ep, ctx| async move {
                let to = Target::new(&ep, repo, scopes, &ctx);
                self.check_existing(&to, digest).await
            },
        )
        .await
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
        self.op(
            Op::GetBlob,
            repo,
            Some(digest.to_string()),
            |ep, ctx| async move {
                let (ep, ctx) = (&*ep, &ctx);
                let resp = self.get_blob_response(ep, repo, digest, 0, ctx).await?;
                let bytes = read_limited(&self.inner, resp, MAX_SMALL_BLOB_BYTES, ctx).await?;
                verify_digest(ctx, digest, &bytes)?;
                Ok(bytes)
            },
        )
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
        let ctx = ctx(Op::GetBlob, repo, Some(digest.to_string()));
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
        let partial = &partial;
        let tmp_path = tmp.path();
        let size = self
            .op(
                Op::GetBlob,
                repo,
                Some(digest.to_string()),
                |ep, ctx| async move {
                    let (ep, ctx) = (&*ep, &ctx);
                    self.download_blob_once(ep, repo, digest, partial, tmp_path, ctx)
                        .await
                },
            )
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
