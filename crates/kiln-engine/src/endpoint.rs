//! Which engine to talk to, decided as the docker CLI decides it: `DOCKER_HOST` (with
//! `DOCKER_TLS_VERIFY`, `DOCKER_TLS` and `DOCKER_CERT_PATH`), else the context named by
//! `DOCKER_CONTEXT` or `currentContext` in `config.json`, else the default socket.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::Error;

/// The socket the docker CLI uses when nothing else is configured.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How to reach an engine, and where that choice came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: Host,
    /// "DOCKER_HOST", "docker context `x` (…/meta.json)", "the default socket".
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// `host:port`, over TLS when `tls` is set.
    Tcp {
        authority: String,
        tls: Option<TlsFiles>,
    },
}

/// TLS material in the docker layout: `ca.pem`, and `cert.pem` with `key.pem` (both or
/// neither) as the client identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub dir: PathBuf,
    /// Where `dir` came from, for messages ("DOCKER_CERT_PATH", …).
    pub dir_origin: String,
    /// Verify the engine's certificate (against `ca.pem` when present).
    pub verify: bool,
    /// Verifying needs `ca.pem` in `dir`: so with `DOCKER_TLS_VERIFY`, as the docker CLI
    /// requires. A docker context without one verifies against the system's roots.
    pub ca_required: bool,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Unix(path) => write!(f, "unix://{}", path.display()),
            Host::Tcp { authority, tls } => {
                let scheme = if tls.is_some() { "https" } else { "tcp" };
                write!(f, "{scheme}://{authority}")
            }
        }
    }
}

/// The engine the docker CLI would use in this environment (`env` reads a variable).
pub fn resolve(env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, Error> {
    let set = |key: &str| env(key).filter(|v| !v.is_empty());
    let config_dir = set("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| Path::new(&h).join(".docker")))
        .unwrap_or_else(|| PathBuf::from(".docker"));
    if let Some(host) = set("DOCKER_HOST") {
        let verify = set("DOCKER_TLS_VERIFY").is_some();
        let tls = if verify || set("DOCKER_TLS").is_some() {
            let (dir, dir_origin) = match set("DOCKER_CERT_PATH") {
                Some(dir) => (PathBuf::from(dir), "the directory DOCKER_CERT_PATH names"),
                None => (
                    config_dir.clone(),
                    "DOCKER_CERT_PATH is unset, so docker's config directory",
                ),
            };
            Some(TlsFiles {
                dir,
                dir_origin: dir_origin.to_owned(),
                verify,
                ca_required: verify,
            })
        } else {
            None
        };
        return Ok(Endpoint {
            host: parse_host(&host, tls, "DOCKER_HOST")?,
            origin: "DOCKER_HOST".to_owned(),
        });
    }
    let context = match set("DOCKER_CONTEXT") {
        Some(name) => Some(name),
        None => current_context(&config_dir)?,
    };
    match context.filter(|name| name != "default") {
        Some(name) => context_endpoint(&config_dir, &name),
        None => Ok(Endpoint {
            host: Host::Unix(PathBuf::from(DEFAULT_SOCKET)),
            origin: "the default socket; no DOCKER_HOST or docker context is set".to_owned(),
        }),
    }
}

/// `currentContext` from `config.json`, if the file sets one.
fn current_context(config_dir: &Path) -> Result<Option<String>, Error> {
    #[derive(Deserialize)]
    struct ConfigFile {
        #[serde(rename = "currentContext", default)]
        current_context: Option<String>,
    }
    let path = config_dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let file: ConfigFile = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Ok(file.current_context.filter(|c| !c.is_empty()))
}

/// The docker endpoint of context `name`: `contexts/meta/<sha256(name)>/meta.json`, with
/// TLS files from `contexts/tls/<sha256(name)>/docker/`.
fn context_endpoint(config_dir: &Path, name: &str) -> Result<Endpoint, Error> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "Endpoints", default)]
        endpoints: Endpoints,
    }
    #[derive(Deserialize, Default)]
    struct Endpoints {
        docker: Option<DockerEndpoint>,
    }
    #[derive(Deserialize)]
    struct DockerEndpoint {
        #[serde(rename = "Host")]
        host: String,
        #[serde(rename = "SkipTLSVerify", default)]
        skip_tls_verify: bool,
    }
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let path = config_dir.join("contexts/meta").join(&id).join("meta.json");
    let origin = format!("docker context `{name}` ({})", path.display());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Config(format!(
            "{origin}: {e}; create it with `docker context create`, or choose another with DOCKER_CONTEXT or `docker context use`"
        ))
    })?;
    let meta: Meta =
        serde_json::from_str(&text).map_err(|e| Error::Config(format!("{origin}: {e}")))?;
    let docker = meta
        .endpoints
        .docker
        .ok_or_else(|| Error::Config(format!("{origin}: the context has no `Endpoints.docker`")))?;
    let tls_dir = config_dir.join("contexts/tls").join(&id).join("docker");
    let verify = !docker.skip_tls_verify;
    let tls = tls_dir.is_dir().then(|| TlsFiles {
        dir: tls_dir,
        dir_origin: format!("the TLS directory of docker context `{name}`"),
        verify,
        ca_required: false,
    });
    Ok(Endpoint {
        host: parse_host(&docker.host, tls, &origin)?,
        origin,
    })
}

/// `unix:///path` or `tcp://host[:port]` (2376 with TLS, 2375 without, as docker does).
fn parse_host(value: &str, tls: Option<TlsFiles>, origin: &str) -> Result<Host, Error> {
    if let Some(path) = value.strip_prefix("unix://") {
        return Ok(Host::Unix(PathBuf::from(path)));
    }
    let Some(rest) = value.strip_prefix("tcp://") else {
        return Err(Error::Config(format!(
            "{origin}: `{value}` is not an engine address kiln can use; it speaks to `unix:///path/to/socket` and `tcp://host:port` engines"
        )));
    };
    let authority = rest.trim_end_matches('/');
    let url = url::Url::parse(&format!("tcp://{authority}"))
        .ok()
        .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()) && u.path().is_empty());
    let Some(url) = url else {
        return Err(Error::Config(format!(
            "{origin}: `{value}` is not a valid tcp://host:port address"
        )));
    };
    let authority = match url.port() {
        Some(_) => authority.to_owned(),
        None => format!("{authority}:{}", if tls.is_some() { 2376 } else { 2375 }),
    };
    Ok(Host::Tcp { authority, tls })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn resolve_with(vars: &[(&str, &str)]) -> Result<Endpoint, Error> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&|k| map.get(k).cloned())
    }

    #[test]
    fn docker_host_wins_over_contexts() {
        let e = resolve_with(&[
            ("DOCKER_HOST", "unix:///run/podman.sock"),
            ("DOCKER_CONTEXT", "elsewhere"),
        ])
        .unwrap();
        assert_eq!(e.host, Host::Unix("/run/podman.sock".into()));
        assert_eq!(e.to_string(), "unix:///run/podman.sock");
    }

    #[test]
    fn tcp_hosts_get_docker_default_ports_and_tls_settings() {
        let e = resolve_with(&[
            ("DOCKER_HOST", "tcp://192.168.49.2"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
        ])
        .unwrap();
        assert_eq!(
            e.host,
            Host::Tcp {
                authority: "192.168.49.2:2376".into(),
                tls: Some(TlsFiles {
                    dir: "/certs".into(),
                    dir_origin: "the directory DOCKER_CERT_PATH names".into(),
                    verify: true,
                    ca_required: true,
                })
            }
        );
        let plain = resolve_with(&[("DOCKER_HOST", "tcp://localhost")]).unwrap();
        assert_eq!(plain.to_string(), "tcp://localhost:2375");
    }

    #[test]
    fn unsupported_hosts_are_refused_by_name() {
        let err = resolve_with(&[("DOCKER_HOST", "ssh://me@box")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DOCKER_HOST: `ssh://me@box`"), "{err}");
    }

    #[test]
    fn the_current_context_is_read_from_its_meta_file() {
        let home = tempfile::tempdir().unwrap();
        let docker = home.path().join(".docker");
        let id = hex::encode(Sha256::digest(b"colima"));
        let meta = docker.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            docker.join("config.json"),
            r#"{"auths":{},"currentContext":"colima"}"#,
        )
        .unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"colima","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///home/me/.colima/docker.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let home_str = home.path().to_str().unwrap();
        let e = resolve_with(&[("HOME", home_str)]).unwrap();
        assert_eq!(e.host, Host::Unix("/home/me/.colima/docker.sock".into()));
        assert!(e.origin.contains("docker context `colima`"), "{}", e.origin);

        let err = resolve_with(&[("HOME", home_str), ("DOCKER_CONTEXT", "gone")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("docker context `gone`"), "{err}");

        let default = resolve_with(&[("HOME", home_str), ("DOCKER_CONTEXT", "default")]).unwrap();
        assert_eq!(default.host, Host::Unix(DEFAULT_SOCKET.into()));
    }
}
