//! Manifests and indexes: `GET` (verified when pinned by digest), `HEAD`, and `PUT` after
//! a `HEAD` of the tag, skipped when the tag already names the same bytes.

use kiln_core::{Digest, Reference, media_type};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode};

use super::{Client, ctx, header_str, media_type_of, read_limited};
use crate::error::{Ctx, Error, Op};
use crate::transport::{Endpoint, Scopes};
use crate::{FetchedManifest, ManifestHead, RegistryEvent, verify_digest};

/// Manifests and indexes larger than this are refused (ggcr uses the same order of magnitude).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

impl Client {
    /// One `GET` or `HEAD` of `r`'s manifest, accepting the media types in `accept`.
    async fn manifest_request(
        &self,
        ep: &Endpoint,
        ctx: &Ctx,
        scopes: &Scopes,
        r: &Reference,
        method: Method,
        accept: &str,
    ) -> Result<Response, Error> {
        let url = ep.url(&format!("v2/{}/manifests/{}", r.repository, r.identifier()));
        self.inner
            .send(ep, scopes, &r.repository, ctx, &mut |http| {
                Ok(http
                    .request(method.clone(), url.clone())
                    .header(ACCEPT, accept))
            })
            .await
    }

    /// `GET` a manifest or index. `accept` defaults to [`media_type::MANIFEST_ACCEPT`].
    /// When `r` is pinned by digest, the bytes are verified against it.
    pub async fn get_manifest(
        &self,
        r: &Reference,
        accept: &[&str],
    ) -> Result<FetchedManifest, Error> {
        let accept = if accept.is_empty() {
            &media_type::MANIFEST_ACCEPT[..]
        } else {
            accept
        }
        .join(", ");
        let accept = accept.as_str();
        let scopes = &Scopes::pull(&r.repository);
        self.op(
            Op::GetManifest,
            r,
            Some(r.identifier()),
            |ep, ctx| async move {
                let (ep, ctx) = (&*ep, &ctx);
                let resp = self
                    .manifest_request(ep, ctx, scopes, r, Method::GET, accept)
                    .await?;
                if resp.status() != StatusCode::OK {
                    return Err(self.inner.error_for(resp, ctx).await);
                }
                let media_type = media_type_of(&resp);
                let bytes = read_limited(&self.inner, resp, MAX_MANIFEST_BYTES, ctx).await?;
                if let Some(want) = &r.digest {
                    verify_digest(ctx, want, &bytes)?;
                }
                // For tags the Docker-Content-Digest header is not checked: too many registries
                // get it wrong (ggcr gives up on it too). The digest is of the bytes we got.
                Ok(FetchedManifest {
                    digest: Digest::of(&bytes),
                    bytes,
                    media_type,
                })
            },
        )
        .await
    }

    /// `HEAD` a manifest: `None` when it does not exist (404, and 403 as ggcr does for
    /// Artifactory).
    pub async fn head_manifest(&self, r: &Reference) -> Result<Option<ManifestHead>, Error> {
        self.head_manifest_with(r, &Scopes::pull(&r.repository))
            .await
    }

    async fn head_manifest_with(
        &self,
        r: &Reference,
        scopes: &Scopes,
    ) -> Result<Option<ManifestHead>, Error> {
        let accept = &media_type::MANIFEST_ACCEPT.join(", ");
        let head = self
            .op(
                Op::HeadManifest,
                r,
                Some(r.identifier()),
                |ep, ctx| async move {
                    let (ep, ctx) = (&*ep, &ctx);
                    let resp = self
                        .manifest_request(ep, ctx, scopes, r, Method::HEAD, accept)
                        .await?;
                    match resp.status() {
                        StatusCode::OK => Ok(Some((
                            header_str(&resp, "docker-content-digest")
                                .and_then(|d| d.parse::<Digest>().ok()),
                            media_type_of(&resp),
                            header_str(&resp, CONTENT_LENGTH).and_then(|n| n.parse::<u64>().ok()),
                        ))),
                        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Ok(None),
                        _ => Err(self.inner.error_for(resp, ctx).await),
                    }
                },
            )
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
        if let Some(pinned) = &r.digest {
            verify_digest(
                &ctx(Op::PutManifest, r, Some(target.clone())),
                pinned,
                bytes,
            )?;
        }
        let scopes = Scopes::push(&r.repository);
        let shown = format!(
            "{}/{}{}{target}",
            r.registry,
            r.repository,
            if r.tag.is_some() { ":" } else { "@" }
        );
        if let Some(tag) = &r.tag
            && let Some(head) = self.head_manifest_with(&r.with_tag(tag), &scopes).await?
            && head.digest == digest
        {
            tracing::debug!(reference = %shown, %digest, "existing manifest");
            self.inner.emit(RegistryEvent::ManifestSkipped {
                reference: shown,
                digest: digest.clone(),
            });
            return Ok(digest);
        }
        let body = &bytes::Bytes::copy_from_slice(bytes);
        let (digest, target, scopes) = (&digest, &target, &scopes);
        self.op(
            Op::PutManifest,
            r,
            Some(target.clone()),
            |ep, ctx| async move {
                let (ep, ctx) = (&*ep, &ctx);
                let url = ep.url(&format!("v2/{}/manifests/{target}", r.repository));
                let resp = self
                    .inner
                    .send(ep, scopes, &r.repository, ctx, &mut |http| {
                        Ok(http
                            .put(url.clone())
                            .header(CONTENT_TYPE, media_type)
                            .body(body.clone()))
                    })
                    .await?;
                if !resp.status().is_success() {
                    return Err(self.inner.error_for(resp, ctx).await);
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
            },
        )
        .await?;
        tracing::debug!(reference = %shown, %digest, "pushed manifest");
        self.inner.emit(RegistryEvent::ManifestPushed {
            reference: shown,
            digest: digest.clone(),
        });
        Ok(digest.clone())
    }
}
