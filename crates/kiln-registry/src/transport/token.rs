//! Authentication: the scheme a registry's challenge names (a Bearer realm must stay in the
//! registry's domain), the credential for each repository, and bearer tokens per scope set,
//! fetched from the token service (the refresh-token grant for identity tokens) and cached
//! until shortly before they expire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::Url;

use super::endpoint::Endpoint;
use super::scheme::AuthScheme;
use super::{Inner, Scopes, lock, transport_error};
use crate::Secret;
use crate::credentials::{self, Credential, Resolved};
use crate::error::{AuthInfo, Ctx, Error, Op, parse_error_body, redact_url};

#[derive(Clone)]
pub(super) struct CachedToken {
    token: Secret,
    expires: Instant,
}

impl Inner {
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

    /// The `Authorization` header for a request to `ep`, if any.
    pub(super) async fn authorization(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_headers_are_sensitive() {
        let h = basic_header("u", &Secret::new("p"));
        assert!(h.is_sensitive());
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
        assert!(!format!("{h:?}").contains("dTpw"));
    }
}
