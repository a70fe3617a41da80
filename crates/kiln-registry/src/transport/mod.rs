//! Per-registry connections, authentication and retries, one concern per file:
//! `endpoint.rs` (discovery, TLS, the plain-HTTP fallback, the `/v2/` probe), `token.rs`
//! (auth schemes, credentials, bearer tokens), `retry.rs` (retries, backoff, `Retry-After`,
//! idle deadlines) and `scope.rs` (token scopes). This file holds the shared state and the one
//! request path, [`Inner::send`]; operations in `client/` are written on top of it and
//! [`Inner::retrying`].

mod endpoint;
mod retry;
mod scheme;
mod scope;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kiln_core::Digest;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::sync::OnceCell;

use crate::challenge;
use crate::credentials::Resolved;
use crate::error::{
    Ctx, Error, body_excerpt, describe_reqwest, parse_error_body, parse_retry_after, redact_url,
};
use crate::{BlobPush, ClientOptions, RegistryEvent, tls};

pub(crate) use endpoint::Endpoint;
pub(crate) use retry::Progress;
use scheme::{AuthScheme, scheme_from};
pub(crate) use scope::Scopes;
use token::CachedToken;

/// A value computed once, by whichever caller gets there first.
type Slot<T> = Arc<OnceCell<T>>;
/// Keyed slots: concurrent callers with the same key share one computation.
type Slots<K, T> = Mutex<HashMap<K, Slot<T>>>;
type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

pub(crate) struct Inner {
    pub opts: ClientOptions,
    endpoints: Slots<String, Arc<Endpoint>>,
    /// Per (registry, repository).
    creds: Slots<(String, String), Arc<Resolved>>,
    /// Per (registry, scope set); the async mutex makes concurrent requests share a fetch.
    tokens: Mutex<HashMap<(String, Scopes), TokenSlot>>,
    /// In-flight blob pushes per (registry, repository, digest).
    pub inflight: Slots<(String, String, Digest), Result<BlobPush, Error>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it consistent: ignore poisoning.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    pub fn new(opts: ClientOptions) -> Inner {
        Inner {
            opts,
            endpoints: Mutex::default(),
            creds: Mutex::default(),
            tokens: Mutex::default(),
            inflight: Mutex::default(),
        }
    }

    pub fn emit(&self, event: RegistryEvent) {
        if let Some(sink) = &self.opts.events {
            sink(event);
        }
    }

    pub fn known_endpoints(&self) -> Vec<(String, String)> {
        let map = lock(&self.endpoints);
        let mut v: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, cell)| cell.get().map(|ep| (k.clone(), ep.base.to_string())))
            .collect();
        v.sort();
        v
    }

    /// Sends the request `make` builds, authenticated for `scopes`. On a 401 the challenge is
    /// re-read (expired token, missing scope, auth only on some paths) and the request is
    /// rebuilt and sent once more. The answer must start within the idle timeout.
    pub async fn send(
        &self,
        ep: &Endpoint,
        scopes: &Scopes,
        repo: &str,
        ctx: &Ctx,
        make: &mut (dyn FnMut(&reqwest::Client) -> Result<RequestBuilder, Error> + Send),
    ) -> Result<Response, Error> {
        self.send_watched(ep, scopes, repo, ctx, None, make).await
    }

    /// [`Inner::send`] for a streamed body whose chunks touch `progress`: the idle timeout
    /// counts from the last chunk sent, so a slow upload that keeps moving is never cut.
    pub async fn send_watched(
        &self,
        ep: &Endpoint,
        scopes: &Scopes,
        repo: &str,
        ctx: &Ctx,
        progress: Option<&Progress>,
        make: &mut (dyn FnMut(&reqwest::Client) -> Result<RequestBuilder, Error> + Send),
    ) -> Result<Response, Error> {
        let mut scopes = scopes.clone();
        let mut refreshed = false;
        loop {
            let mut req = make(&ep.http)?
                .build()
                .map_err(|e| transport_error(ctx, e))?;
            if ep.is_same_origin(req.url())
                && let Some(value) = self.authorization(ep, &scopes, repo, refreshed).await?
            {
                req.headers_mut().insert(AUTHORIZATION, value);
            }
            let (method, url) = (req.method().clone(), req.url().clone());
            let what = format!("{method} {}", redact_url(&url));
            let resp = self
                .within_idle(ctx, &what, progress, ep.http.execute(req))
                .await?
                .map_err(|e| transport_error(ctx, e))?;
            tracing::debug!(%method, url = %redact_url(&url), status = resp.status().as_u16(), "registry request");
            if resp.status() == StatusCode::UNAUTHORIZED && !refreshed {
                let headers = resp.headers().get_all(WWW_AUTHENTICATE);
                if let Some(ch) = challenge::pick(headers.iter().filter_map(|h| h.to_str().ok())) {
                    if let Some(scope) = ch.param("scope") {
                        // Registries may ask for more than we guessed (ggcr adds these too).
                        for s in scope.split(' ').filter(|s| !s.is_empty()) {
                            scopes.add(s.to_owned());
                        }
                    }
                    let scheme = scheme_from(&ch, &ep.registry, &ep.base, ep.insecure)
                        .map_err(|m| Error::protocol(ctx, m))?;
                    let was = std::mem::replace(&mut *lock(&ep.auth), scheme.clone());
                    if matches!((was, scheme), (AuthScheme::Basic, AuthScheme::Basic)) {
                        // Same Basic credentials again would get the same answer.
                        return Ok(resp);
                    }
                }
                refreshed = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The error for an unexpected response (reads a bounded part of the body).
    pub async fn error_for(&self, resp: Response, ctx: &Ctx) -> Error {
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let body = self.read_error_body(resp, ctx).await;
            return Error::Unauthorized {
                ctx: Box::new(ctx.clone()),
                status: status.as_u16(),
                errors: parse_error_body(&body),
                auth: self
                    .auth_info(&ctx.registry, ctx.repository.as_deref())
                    .await,
            };
        }
        self.status_error(resp, ctx).await
    }

    /// At most [`ERROR_BODY_LIMIT`] bytes of an error answer; whatever arrived before a
    /// stall or a broken connection.
    async fn read_error_body(&self, mut resp: Response, ctx: &Ctx) -> Vec<u8> {
        let mut body = Vec::new();
        while body.len() < ERROR_BODY_LIMIT {
            match self.chunk(&mut resp, ctx).await {
                Ok(Some(c)) => body.extend_from_slice(&c),
                _ => break,
            }
        }
        body.truncate(ERROR_BODY_LIMIT);
        body
    }

    async fn status_error(&self, resp: Response, ctx: &Ctx) -> Error {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let body = self.read_error_body(resp, ctx).await;
        let errors = parse_error_body(&body);
        Error::Status {
            ctx: Box::new(ctx.clone()),
            status,
            body: if errors.is_empty() {
                body_excerpt(&body)
            } else {
                None
            },
            errors,
            retry_after,
        }
    }
}

pub(crate) fn transport_error(ctx: &Ctx, e: reqwest::Error) -> Error {
    if let Some(detail) = tls::certificate_problem(&e) {
        return Error::Certificate {
            host: e
                .url()
                .and_then(|u| u.host_str())
                .unwrap_or(&ctx.registry)
                .to_owned(),
            detail,
        };
    }
    // The URL (with its query: upload state, pre-signed signatures) leaves the error, whose
    // chain is printed whole; the context already says what was being done.
    let e = e.without_url();
    Error::Transport {
        ctx: Box::new(ctx.clone()),
        detail: describe_reqwest(&e),
        source: Arc::new(e),
    }
}

const ERROR_BODY_LIMIT: usize = 64 * 1024;
