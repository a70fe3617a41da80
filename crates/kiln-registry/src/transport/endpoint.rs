//! Endpoint discovery: one HTTP client per registry host, its TLS settings, and the
//! `GET /v2/` probe that decides the scheme (HTTPS, or plain HTTP where allowed and spoken)
//! and how the registry wants to be authenticated.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Response, StatusCode};
use url::Url;

use super::scheme::{AuthScheme, api_host, scheme_from};
use super::{Inner, lock, transport_error};
use crate::challenge::{self, Challenge};
use crate::error::{Ctx, Error, Op, describe_reqwest};
use crate::{RegistryEvent, tls};

/// One registry host: its base URL (scheme decided by the probe), HTTP client and auth scheme.
pub(crate) struct Endpoint {
    pub registry: String,
    pub base: Url,
    pub http: reqwest::Client,
    pub(super) insecure: bool,
    pub(super) auth: Mutex<AuthScheme>,
}

impl Endpoint {
    /// `base` joined with a path such as `v2/<repo>/blobs/<digest>`.
    pub fn url(&self, path: &str) -> Url {
        // Repository names, tags and digests never need escaping (their grammars exclude it).
        self.base
            .join(path)
            .expect("registry paths are valid URL paths")
    }

    pub(super) fn is_same_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }
}

impl Inner {
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
}
