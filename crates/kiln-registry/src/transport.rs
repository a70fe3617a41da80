//! Per-registry connections (scheme probe, TLS), authentication, token cache and retries.
//! Operations in `client.rs` are written on top of [`Inner::send`] and [`Inner::retrying`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use kiln_core::Digest;
use kiln_core::reference::DOCKER_HUB;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::sync::OnceCell;
use url::Url;

use crate::challenge::{self, Challenge};
use crate::credentials::{self, Credential, Resolved};
use crate::env::Secret;
use crate::error::{
    AuthInfo, Ctx, Error, Op, body_excerpt, describe_reqwest, parse_error_body, parse_retry_after,
    redact_url, redact_url_text,
};
use crate::{BlobPush, ClientOptions, RegistryEvent, tls};

/// How a registry wants to be authenticated, learned from `GET /v2/` and later 401s.
#[derive(Clone, Debug)]
enum AuthScheme {
    Anonymous,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

/// One registry host: its base URL (scheme decided by the probe), HTTP client and auth scheme.
pub(crate) struct Endpoint {
    pub registry: String,
    pub base: Url,
    pub http: reqwest::Client,
    insecure: bool,
    auth: Mutex<AuthScheme>,
}

impl Endpoint {
    /// `base` joined with a path such as `v2/<repo>/blobs/<digest>`.
    pub fn url(&self, path: &str) -> Url {
        // Repository names, tags and digests never need escaping (their grammars exclude it).
        self.base
            .join(path)
            .expect("registry paths are valid URL paths")
    }

    fn is_same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }
}

/// The token scopes one operation needs: sorted, deduplicated.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scopes(Vec<String>);

impl Scopes {
    pub fn pull(repo: &str) -> Scopes {
        Scopes(vec![format!("repository:{repo}:pull")])
    }

    pub fn push(repo: &str) -> Scopes {
        Scopes(vec![format!("repository:{repo}:pull,push")])
    }

    pub fn and_pull(mut self, repo: &str) -> Scopes {
        self.add(format!("repository:{repo}:pull"));
        self
    }

    fn add(&mut self, scope: String) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
            self.0.sort();
        }
    }
}

#[derive(Clone)]
struct CachedToken {
    token: Secret,
    expires: Instant,
}

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

/// The API host for a registry name (Docker Hub's name is not its API host).
pub(crate) fn api_host(registry: &str) -> &str {
    match registry {
        DOCKER_HUB | "docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// The longest `Retry-After` honoured; a registry asking for more is waited for this long.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// When a request body started and last made progress (a chunk handed to the connection),
/// for the idle watchdog of [`Inner::send_watched`].
#[derive(Clone)]
pub(crate) struct Progress(Arc<Mutex<Option<(Instant, Instant)>>>);

/// How many idle periods a long upload may wait for its answer at most (see [`Progress`]).
const MAX_GRACE_IDLES: u32 = 6;

impl Progress {
    pub fn new() -> Progress {
        Progress(Arc::new(Mutex::new(None)))
    }

    pub fn touch(&self) {
        let now = Instant::now();
        let mut p = lock(&self.0);
        *p = Some((p.map_or(now, |(first, _)| first), now));
    }

    /// The latest instant the request may stay silent until. The last chunks of a body sit in
    /// socket buffers (megabytes of them) and drain at the link's pace, which we cannot see,
    /// and a registry may work in proportion to the body once it has it (hashing, copying):
    /// a body that took `T` to send gets `idle + T` (`T` at most [`MAX_GRACE_IDLES`] idle
    /// periods) after its last chunk. A registry that stops reading stops the chunks, so a
    /// stall is still caught `idle` after the last one moved, plus that grace.
    fn silent_until(&self, started: Instant, idle: Duration) -> Instant {
        match *lock(&self.0) {
            None => started + idle,
            Some((first, last)) => {
                last.max(started) + idle + (last - first).min(idle * MAX_GRACE_IDLES)
            }
        }
    }
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

    /// The endpoint for `registry`, probing it on first use.
    pub async fn endpoint(&self, registry: &str) -> Result<Arc<Endpoint>, Error> {
        let cell = lock(&self.endpoints)
            .entry(registry.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.connect(registry))
            .await
            .cloned()
    }

    async fn connect(&self, registry: &str) -> Result<Arc<Endpoint>, Error> {
        let insecure = tls::is_insecure(registry, &self.opts.insecure_registries);
        let local = tls::is_local(registry);
        let ca_files = tls::extra_ca_files(
            registry,
            self.opts.env.path("SSL_CERT_FILE"),
            &self.opts.certs_dirs,
        );
        let tls_config = tls::client_config(registry, insecure, &ca_files)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(self.opts.user_agent.clone())
            .tls_backend_preconfigured(tls_config)
            .connect_timeout(self.opts.timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(50);
        if local {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(describe_reqwest(&e)))?;
        let host = api_host(registry);
        let ctx = Ctx::new(Op::Ping, registry, None, None);
        let (base, challenge) = self
            .retrying(&ctx, |_| {
                self.probe(&http, registry, host, insecure || local, &ctx)
            })
            .await?;
        let auth = match challenge {
            None => AuthScheme::Anonymous,
            Some(ch) => {
                scheme_from(&ch, registry, &base, insecure).map_err(|m| Error::protocol(&ctx, m))?
            }
        };
        tracing::debug!(registry, base = %base, auth = ?auth, "registry endpoint ready");
        if base.scheme() == "http" && !insecure {
            self.emit(RegistryEvent::PlainHttp {
                registry: registry.to_owned(),
            });
        }
        Ok(Arc::new(Endpoint {
            registry: registry.to_owned(),
            base,
            http,
            insecure,
            auth: Mutex::new(auth),
        }))
    }

    /// `GET /v2/` over HTTPS and, when allowed, plain HTTP at the same time (a plain-HTTP Go
    /// server may never answer a TLS ClientHello, so waiting for HTTPS to fail first could
    /// hang). HTTPS wins unless the port demonstrably speaks plain HTTP; a certificate
    /// failure is always reported as such.
    async fn probe(
        &self,
        http: &reqwest::Client,
        registry: &str,
        host: &str,
        allow_http: bool,
        ctx: &Ctx,
    ) -> Result<(Url, Option<Challenge>), Error> {
        let https_url = Url::parse(&format!("https://{host}/")).map_err(|e| {
            Error::Config(format!("registry `{registry}` is not a valid host: {e}"))
        })?;
        let http_url =
            Url::parse(&format!("http://{host}/")).expect("valid when the https form is");
        // No body to send: the idle limit bounds the whole exchange.
        let get = |base: &Url| {
            http.get(base.join("v2/").expect("static path"))
                .timeout(self.opts.timeouts.idle)
                .send()
        };
        let transport = |e: reqwest::Error| match tls::certificate_problem(&e) {
            Some(detail) => Error::Certificate {
                host: registry.to_owned(),
                detail,
            },
            None => transport_error(ctx, e),
        };
        if !allow_http {
            let resp = get(&https_url).await.map_err(transport)?;
            return Ok((https_url, self.ping_result(resp, ctx).await?));
        }
        // With an explicit port both probes hit the same socket, so a plain-HTTP answer
        // proves the port speaks plain HTTP. Without one (443 vs 80) HTTPS must fail first.
        let same_port = https_url.port().is_some();
        let https = get(&https_url);
        let plain = get(&http_url);
        tokio::pin!(https, plain);
        let mut https_err: Option<reqwest::Error> = None;
        let mut plain_done = false;
        let mut plain_answer: Option<Response> = None;
        loop {
            tokio::select! {
                r = &mut https, if https_err.is_none() => match r {
                    Ok(resp) => return Ok((https_url, self.ping_result(resp, ctx).await?)),
                    Err(e) if tls::certificate_problem(&e).is_some() => return Err(transport(e)),
                    Err(e) => https_err = Some(e),
                },
                r = &mut plain, if !plain_done => {
                    plain_done = true;
                    // A TLS server answers plain HTTP with 400 ("client sent an HTTP request
                    // to an HTTPS server"); anything else is a server speaking plain HTTP.
                    if let Ok(resp) = r && resp.status() != StatusCode::BAD_REQUEST {
                        if same_port {
                            return self.plain_http(registry, http_url, resp, ctx).await;
                        }
                        plain_answer = Some(resp);
                    }
                },
            }
            if plain_done && let Some(e) = https_err.take() {
                return match plain_answer.take() {
                    Some(resp) => self.plain_http(registry, http_url, resp, ctx).await,
                    None => Err(transport(e)),
                };
            }
        }
    }

    async fn plain_http(
        &self,
        registry: &str,
        http_url: Url,
        resp: Response,
        ctx: &Ctx,
    ) -> Result<(Url, Option<Challenge>), Error> {
        tracing::debug!(registry, "registry answered on plain HTTP");
        Ok((http_url, self.ping_result(resp, ctx).await?))
    }

    /// 200: anonymous; 401: the challenge; anything else: an error.
    async fn ping_result(&self, resp: Response, ctx: &Ctx) -> Result<Option<Challenge>, Error> {
        match resp.status() {
            StatusCode::OK => Ok(None),
            StatusCode::UNAUTHORIZED => {
                let headers = resp.headers().get_all(WWW_AUTHENTICATE);
                let ch = challenge::pick(headers.iter().filter_map(|h| h.to_str().ok()));
                ch.map(Some).ok_or_else(|| {
                    Error::protocol(ctx, "the registry answered 401 without a Basic or Bearer WWW-Authenticate challenge")
                })
            }
            _ => Err(self.status_error(resp, ctx).await),
        }
    }

    /// The credential for `registry`/`repository`, looked up once per client.
    async fn credential(&self, registry: &str, repository: &str) -> Result<Arc<Resolved>, Error> {
        let cell = lock(&self.creds)
            .entry((registry.to_owned(), repository.to_owned()))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let r = credentials::resolve(&self.opts.env, registry, repository).await?;
            tracing::debug!(registry, repository, credential = %r.credential, source = %r.source, "credentials");
            Ok(Arc::new(r))
        })
        .await
        .cloned()
    }

    /// Why a 401/403 happened, for the error message.
    pub async fn auth_info(&self, registry: &str, repository: Option<&str>) -> AuthInfo {
        let resolved = match repository {
            Some(repo) => self.credential(registry, repo).await.ok(),
            None => None,
        };
        match resolved {
            Some(r) if r.credential != Credential::Anonymous => AuthInfo::Rejected {
                username: r.username(),
                source: r.source.clone(),
            },
            _ => AuthInfo::NoCredentials {
                searched: credentials::config_files(&self.opts.env),
            },
        }
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

    /// Runs `fut` (a request or a body read) until it finishes or makes no progress for the
    /// idle timeout: counted from the start, or as `progress` says.
    pub async fn within_idle<T>(
        &self,
        ctx: &Ctx,
        what: &str,
        progress: Option<&Progress>,
        fut: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let idle = self.opts.timeouts.idle;
        let started = Instant::now();
        let until = || progress.map_or(started + idle, |p| p.silent_until(started, idle));
        tokio::pin!(fut);
        loop {
            if let Ok(v) = tokio::time::timeout_at(until().into(), &mut fut).await {
                return Ok(v);
            }
            if until() <= Instant::now() {
                tracing::debug!(what, ?idle, "registry request stalled");
                return Err(Error::Timeout {
                    ctx: Box::new(ctx.clone()),
                    request: what.to_owned(),
                    phase: "waiting for the answer to",
                    idle,
                    elapsed: started.elapsed(),
                });
            }
        }
    }

    /// The next chunk of a response body, failing after the idle timeout without one.
    pub async fn chunk(
        &self,
        resp: &mut Response,
        ctx: &Ctx,
    ) -> Result<Option<bytes::Bytes>, Error> {
        let what = format!("GET {}", redact_url(resp.url()));
        match self.within_idle(ctx, &what, None, resp.chunk()).await {
            Ok(r) => r.map_err(|e| transport_error(ctx, e)),
            Err(Error::Timeout {
                ctx,
                request,
                idle,
                elapsed,
                ..
            }) => Err(Error::Timeout {
                ctx,
                request,
                phase: "reading the body of",
                idle,
                elapsed,
            }),
            Err(e) => Err(e),
        }
    }

    /// The `Authorization` header for a request to `ep`, if any.
    async fn authorization(
        &self,
        ep: &Endpoint,
        scopes: &Scopes,
        repo: &str,
        refresh: bool,
    ) -> Result<Option<HeaderValue>, Error> {
        let scheme = lock(&ep.auth).clone();
        let (realm, service) = match scheme {
            AuthScheme::Anonymous => return Ok(None),
            AuthScheme::Basic => {
                let resolved = self.credential(&ep.registry, repo).await?;
                return Ok(match &resolved.credential {
                    Credential::Basic { username, password } => {
                        Some(basic_header(username, password))
                    }
                    Credential::RegistryToken(t) => Some(bearer_header(t)),
                    Credential::IdentityToken(t) => Some(basic_header("<token>", t)),
                    Credential::Anonymous => None,
                });
            }
            AuthScheme::Bearer { realm, service } => (realm, service),
        };
        let resolved = self.credential(&ep.registry, repo).await?;
        if let Credential::RegistryToken(t) = &resolved.credential {
            return Ok(Some(bearer_header(t)));
        }
        let slot = lock(&self.tokens)
            .entry((ep.registry.clone(), scopes.clone()))
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if !refresh
            && let Some(t) = cached.as_ref()
            && t.expires > Instant::now()
        {
            return Ok(Some(bearer_header(&t.token)));
        }
        let token = self
            .fetch_token(ep, &realm, service.as_deref(), scopes, repo, &resolved)
            .await?;
        let header = bearer_header(&token.token);
        *cached = Some(token);
        Ok(Some(header))
    }

    /// Asks the token service for a token with `scopes` (Docker token spec; OAuth2
    /// refresh-token grant for identity tokens).
    async fn fetch_token(
        &self,
        ep: &Endpoint,
        realm: &Url,
        service: Option<&str>,
        scopes: &Scopes,
        repo: &str,
        resolved: &Resolved,
    ) -> Result<CachedToken, Error> {
        let ctx = Ctx::new(Op::Token, &ep.registry, Some(repo), Some(redact_url(realm)));
        let req = match &resolved.credential {
            Credential::IdentityToken(refresh) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", refresh.expose())
                    .append_pair("client_id", "kiln")
                    .append_pair("scope", &scopes.0.join(" "));
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                ep.http
                    .post(realm.clone())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish())
            }
            other => {
                let mut url = realm.clone();
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in &scopes.0 {
                        q.append_pair("scope", s);
                    }
                }
                let req = ep.http.get(url);
                match other {
                    Credential::Basic { username, password } => {
                        req.header(AUTHORIZATION, basic_header(username, password))
                    }
                    _ => req,
                }
            }
        };
        let what = format!("token request to {}", redact_url(realm));
        let resp = self
            .within_idle(&ctx, &what, None, req.send())
            .await?
            .map_err(|e| transport_error(&ctx, e))?;
        tracing::debug!(realm = %redact_url(realm), scopes = ?scopes.0, status = resp.status().as_u16(), "token request");
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let body = self.read_error_body(resp, &ctx).await;
            return Err(Error::Unauthorized {
                ctx: Box::new(ctx),
                status: status.as_u16(),
                errors: parse_error_body(&body),
                auth: self.auth_info(&ep.registry, Some(repo)).await,
            });
        }
        if !status.is_success() {
            return Err(self.status_error(resp, &ctx).await);
        }
        let body = self
            .within_idle(&ctx, &what, None, resp.bytes())
            .await?
            .map_err(|e| transport_error(&ctx, e))?;
        // Never quote the body: it holds the token.
        #[derive(serde::Deserialize)]
        struct TokenReply {
            token: Option<Secret>,
            access_token: Option<Secret>,
            expires_in: Option<u64>,
        }
        let reply: TokenReply = serde_json::from_slice(&body).map_err(|_| {
            Error::protocol(&ctx, "the token service's answer is not the expected JSON")
        })?;
        let token = reply
            .token
            .filter(|t| !t.expose().is_empty())
            .or(reply.access_token.filter(|t| !t.expose().is_empty()))
            .ok_or_else(|| Error::protocol(&ctx, "the token service's answer has no token"))?;
        // Default lifetime 60 s (token spec); renew a little early.
        let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(60).max(1));
        Ok(CachedToken {
            token,
            expires: Instant::now() + lifetime.mul_f64(0.9),
        })
    }

    /// Runs `attempt` up to `max_attempts` times while it fails with a retryable error,
    /// sleeping the policy's backoff (or the registry's `Retry-After`, capped) in between. No
    /// retry starts past the operation deadline ([`crate::Timeouts::operation`]).
    pub async fn retrying<T, F, Fut>(&self, ctx: &Ctx, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let policy = &self.opts.retry;
        let max = policy.max_attempts.max(1);
        let deadline = Instant::now() + self.opts.timeouts.operation;
        let mut n = 1;
        loop {
            match attempt(n).await {
                Ok(v) => return Ok(v),
                Err(mut e) => {
                    let mut delay = policy.delay(n);
                    if let Some(asked) = e.retry_after() {
                        delay = delay.max(asked.min(RETRY_AFTER_CAP));
                    }
                    if n >= max || !e.is_retryable() || Instant::now() + delay > deadline {
                        if n > 1 {
                            e.set_attempts(n);
                        }
                        return Err(e);
                    }
                    tracing::info!(what = %ctx, attempt = n, error = %e, ?delay, "retrying");
                    self.emit(RegistryEvent::Retrying {
                        what: ctx.to_string(),
                        attempt: n,
                        max_attempts: max,
                        delay,
                        reason: e.to_string(),
                    });
                    tokio::time::sleep(delay).await;
                    n += 1;
                }
            }
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

/// Maps a challenge to an auth scheme, validating a Bearer realm: it must be https (or http
/// when the registry itself is plain HTTP or insecure) and in the registry's trust domain,
/// so a registry cannot send our credentials elsewhere (ggcr's `validateRealmURL`).
fn scheme_from(
    ch: &Challenge,
    registry: &str,
    base: &Url,
    insecure: bool,
) -> Result<AuthScheme, String> {
    match ch.scheme.as_str() {
        "basic" => Ok(AuthScheme::Basic),
        "bearer" => {
            let realm = ch
                .param("realm")
                .ok_or("the Bearer challenge has no realm")?;
            let url = Url::parse(realm).map_err(|e| {
                format!(
                    "the token realm `{}` is not a URL: {e}",
                    redact_url_text(realm)
                )
            })?;
            let realm = redact_url(&url);
            match url.scheme() {
                "https" => {}
                "http" if base.scheme() == "http" || insecure => {}
                s => {
                    return Err(format!(
                        "the token realm `{realm}` uses `{s}`; only https is allowed for this registry"
                    ));
                }
            }
            let realm_host = url.host_str().unwrap_or("");
            if trust_domain(realm_host) != trust_domain(tls::host_of(api_host(registry))) {
                return Err(format!(
                    "the token realm `{realm}` is outside the registry's domain; refusing to send credentials there"
                ));
            }
            Ok(AuthScheme::Bearer {
                realm: url,
                service: ch.param("service").map(str::to_owned),
            })
        }
        other => Err(format!("unsupported authentication scheme `{other}`")),
    }
}

/// The last two DNS labels; IPs as themselves; every loopback name is one domain.
fn trust_domain(host: &str) -> String {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if tls::is_local(&host) && !host.ends_with(".local") {
        return "loopback".to_owned();
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

fn basic_header(user: &str, pass: &Secret) -> HeaderValue {
    let raw = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", pass.expose()));
    sensitive(format!("Basic {raw}"))
}

fn bearer_header(token: &Secret) -> HeaderValue {
    sensitive(format!("Bearer {}", token.expose()))
}

fn sensitive(value: String) -> HeaderValue {
    // Header values must be visible ASCII; a credential that is not can never be sent.
    let mut v =
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Invalid"));
    v.set_sensitive(true);
    v
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str) -> Challenge {
        Challenge {
            scheme: "bearer".into(),
            params: vec![
                ("realm".into(), realm.into()),
                ("service".into(), "svc".into()),
            ],
        }
    }

    #[test]
    fn realm_validation() {
        let https = Url::parse("https://registry-1.docker.io/").unwrap();
        let http = Url::parse("http://127.0.0.1:5000/").unwrap();
        assert!(
            scheme_from(
                &bearer("https://auth.docker.io/token"),
                DOCKER_HUB,
                &https,
                false
            )
            .is_ok()
        );
        assert!(
            scheme_from(
                &bearer("https://evil.example/token"),
                DOCKER_HUB,
                &https,
                false
            )
            .is_err()
        );
        assert!(
            scheme_from(
                &bearer("http://auth.docker.io/token"),
                DOCKER_HUB,
                &https,
                false
            )
            .is_err()
        );
        assert!(
            scheme_from(
                &bearer("http://localhost:9/token"),
                "127.0.0.1:5000",
                &http,
                false
            )
            .is_ok()
        );
        assert!(
            scheme_from(
                &bearer("http://127.0.0.1:9/token"),
                "127.0.0.1:5000",
                &http,
                false
            )
            .is_ok()
        );
        assert!(
            scheme_from(
                &bearer("https://10.0.0.1/token"),
                "127.0.0.1:5000",
                &http,
                false
            )
            .is_err()
        );
        assert!(scheme_from(&bearer("not a url"), "r.example", &https, false).is_err());
        let basic = Challenge {
            scheme: "basic".into(),
            params: vec![],
        };
        assert!(matches!(
            scheme_from(&basic, "r", &https, false),
            Ok(AuthScheme::Basic)
        ));
    }

    #[test]
    fn scopes_are_sorted_and_deduplicated() {
        let s = Scopes::push("b").and_pull("a").and_pull("a");
        assert_eq!(s.0, ["repository:a:pull", "repository:b:pull,push"]);
        assert_eq!(api_host(DOCKER_HUB), "registry-1.docker.io");
        assert_eq!(api_host("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn auth_headers_are_sensitive() {
        let h = basic_header("u", &Secret::new("p"));
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
        assert!(!format!("{h:?}").contains("dTpw"));
    }
}
