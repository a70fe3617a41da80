//! Registry operations, each attempt retried as a whole: manifests (`manifest.rs`), blob
//! reads (`blob.rs`), blob uploads in four named steps (`upload.rs`) and the referrers API
//! (`referrers.rs`). Every operation starts with [`Client::op`].

mod blob;
mod manifest;
mod referrers;
mod upload;

use std::fmt;
use std::sync::Arc;

use kiln_core::Reference;
use reqwest::Response;
use reqwest::header::CONTENT_TYPE;

use crate::ClientOptions;
use crate::error::{Ctx, Error, Op};
use crate::transport::{Endpoint, Inner, Scopes};

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

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, Error> {
        crate::tls::provider();
        crate::Timeouts::from_env(&opts.env)?;
        Ok(Client {
            inner: Arc::new(Inner::new(opts)),
        })
    }

    /// What every operation does around its requests: names itself (`op` on `object` in
    /// `r`'s repository, for errors and logs), finds `r`'s registry (probing it on first
    /// use), and retries `attempt` as a whole while it fails with a retryable error.
    /// The attempt gets its own handles on both (an `AsyncFn` taking references would be
    /// neater, but its futures cannot be proven `Send` yet).
    async fn op<T, F, Fut>(
        &self,
        op: Op,
        r: &Reference,
        object: Option<String>,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut(Arc<Endpoint>, Ctx) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let ctx = ctx(op, r, object);
        let ep = self.inner.endpoint(&r.registry).await?;
        self.inner
            .retrying(&ctx, |_| attempt(ep.clone(), ctx.clone()))
            .await
    }
}

/// Where one request goes and what it is authorised for.
struct Target<'a> {
    ep: &'a Endpoint,
    repository: &'a str,
    scopes: &'a Scopes,
    ctx: &'a Ctx,
}

impl<'a> Target<'a> {
    fn new(ep: &'a Endpoint, repo: &'a Reference, scopes: &'a Scopes, ctx: &'a Ctx) -> Self {
        Target {
            ep,
            repository: &repo.repository,
            scopes,
            ctx,
        }
    }
}

/// The context of operation `op` on `object` in `r`'s repository.
fn ctx(op: Op, r: &Reference, object: Option<String>) -> Ctx {
    Ctx::new(op, &r.registry, Some(&r.repository), object)
}

fn header_str(resp: &Response, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn media_type_of(resp: &Response) -> String {
    header_str(resp, CONTENT_TYPE)
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default()
}

/// A whole (small) response body, refused past `max` bytes.
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
