//! How a registry wants to be authenticated: the scheme its challenge names (a Bearer
//! realm must stay in the registry's trust domain, so credentials never go elsewhere), and
//! the API host a registry name stands for.

use kiln_core::reference::DOCKER_HUB;
use url::Url;

use crate::challenge::Challenge;
use crate::error::{redact_url, redact_url_text};
use crate::tls;

/// How a registry wants to be authenticated, learned from `GET /v2/` and later 401s.
#[derive(Clone, Debug)]
pub(super) enum AuthScheme {
    Anonymous,
    Basic,
    Bearer { realm: Url, service: Option<String> },
}

/// The API host for a registry name (Docker Hub's name is not its API host).
pub(crate) fn api_host(registry: &str) -> &str {
    match registry {
        DOCKER_HUB | "docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// Maps a challenge to an auth scheme, validating a Bearer realm: it must be https (or http
/// when the registry itself is plain HTTP or insecure) and in the registry's trust domain,
/// so a registry cannot send our credentials elsewhere (ggcr's `validateRealmURL`).
pub(super) fn scheme_from(
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
        // (realm, registry, the registry's base URL, accepted)
        let cases = [
            ("https://auth.docker.io/token", DOCKER_HUB, &https, true),
            ("https://evil.example/token", DOCKER_HUB, &https, false),
            ("http://auth.docker.io/token", DOCKER_HUB, &https, false),
            ("http://localhost:9/token", "127.0.0.1:5000", &http, true),
            ("http://127.0.0.1:9/token", "127.0.0.1:5000", &http, true),
            ("https://10.0.0.1/token", "127.0.0.1:5000", &http, false),
            ("not a url", "r.example", &https, false),
        ];
        for (realm, registry, base, accepted) in cases {
            let got = scheme_from(&bearer(realm), registry, base, false);
            assert_eq!(got.is_ok(), accepted, "{realm} for {registry}: {got:?}");
        }
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
    fn docker_hubs_api_host_is_not_its_name() {
        assert_eq!(api_host(DOCKER_HUB), "registry-1.docker.io");
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("ghcr.io"), "ghcr.io");
    }
}
