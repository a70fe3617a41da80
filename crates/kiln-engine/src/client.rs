//! The few Engine API calls kiln needs: `/version` (the engine's platform), image inspect
//! (is this image ID there?), `/images/load` (a streamed docker-save archive) and tag.
//! Paths are unversioned, so any API version the engine speaks is used.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use serde::Deserialize;

use crate::Error;
use crate::endpoint::{Endpoint, Host, TlsFiles};

/// How long connecting may take: a local engine answers at once or not at all.
const CONNECT_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline of the small requests (version, inspect, tag).
const REQUEST_DEADLINE: Duration = Duration::from_secs(60);
/// Deadline of a whole load: the engine unpacks every layer before it answers.
const LOAD_DEADLINE: Duration = Duration::from_secs(20 * 60);
/// Longest silence from the engine while a response is read.
const READ_DEADLINE: Duration = Duration::from_secs(5 * 60);

/// A connection to one engine.
#[derive(Clone, Debug)]
pub struct Engine {
    endpoint: Endpoint,
    http: reqwest::Client,
    base: String,
    /// The platform, asked once per run (podman's `/version` takes about a second).
    platform: Arc<Mutex<Option<EnginePlatform>>>,
}

/// The platform the engine runs images on, from `/version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnginePlatform {
    pub os: String,
    pub arch: String,
}

impl Engine {
    /// A client for `endpoint`; nothing is sent until the first call.
    pub fn new(endpoint: Endpoint) -> Result<Engine, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_DEADLINE)
            .read_timeout(READ_DEADLINE)
            .no_proxy()
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")));
        let (builder, base) = match &endpoint.host {
            Host::Unix(path) => (
                builder.unix_socket(path.as_path()),
                "http://engine".to_owned(),
            ),
            Host::Tcp {
                authority,
                tls: None,
            } => (builder, format!("http://{authority}")),
            Host::Tcp {
                authority,
                tls: Some(files),
            } => (
                with_tls(builder, files, &endpoint)?,
                format!("https://{authority}"),
            ),
        };
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("{} ({}): {e}", endpoint, endpoint.origin)))?;
        Ok(Engine {
            endpoint,
            http,
            base,
            platform: Arc::default(),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether the engine answers (`GET /_ping`, the cheapest call: podman's `/version`
    /// runs its OCI runtime and takes about a second).
    pub async fn ping(&self) -> Result<(), Error> {
        let operation = "the ping";
        let response = self
            .send(
                self.http.get(self.url("/_ping")),
                operation,
                REQUEST_DEADLINE,
            )
            .await?;
        self.check(response, operation).await?;
        Ok(())
    }

    /// The engine's OS and architecture (`GET /version`, once per [`Engine`]).
    pub async fn platform(&self) -> Result<EnginePlatform, Error> {
        if let Some(known) = self.known_platform() {
            return Ok(known);
        }
        let platform = self.fetch_platform().await?;
        *self.platform.lock().unwrap_or_else(|e| e.into_inner()) = Some(platform.clone());
        Ok(platform)
    }

    fn known_platform(&self) -> Option<EnginePlatform> {
        self.platform
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn fetch_platform(&self) -> Result<EnginePlatform, Error> {
        #[derive(Deserialize)]
        struct Version {
            #[serde(rename = "Os")]
            os: String,
            #[serde(rename = "Arch")]
            arch: String,
        }
        let operation = "the version request";
        let response = self
            .send(
                self.http.get(self.url("/version")),
                operation,
                REQUEST_DEADLINE,
            )
            .await?;
        let response = self.check(response, operation).await?;
        let version: Version = response
            .json()
            .await
            .map_err(|e| self.failure(e, operation, REQUEST_DEADLINE))?;
        Ok(EnginePlatform {
            os: version.os,
            arch: version.arch,
        })
    }

    /// The names of the image with this ID (`sha256:…`, the config digest), or `None`
    /// when the engine does not have it.
    pub async fn image_tags(&self, id: &str) -> Result<Option<Vec<String>>, Error> {
        #[derive(Deserialize)]
        struct Inspect {
            #[serde(rename = "RepoTags", default)]
            repo_tags: Option<Vec<String>>,
        }
        let operation = format!("inspecting image {id}");
        let response = self
            .send(
                self.http.get(self.url(&format!("/images/{id}/json"))),
                &operation,
                REQUEST_DEADLINE,
            )
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let inspect: Inspect = self
            .check(response, &operation)
            .await?
            .json()
            .await
            .map_err(|e| self.failure(e, &operation, REQUEST_DEADLINE))?;
        Ok(Some(inspect.repo_tags.unwrap_or_default()))
    }

    /// Streams a docker-save archive into the engine (`POST /images/load`). An error the
    /// engine reports, in the status or in its progress messages, comes back verbatim.
    pub async fn load<S>(&self, archive: S) -> Result<(), Error>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static,
    {
        let operation = "the image archive";
        let request = self
            .http
            .post(self.url("/images/load?quiet=1"))
            .header(reqwest::header::CONTENT_TYPE, "application/x-tar")
            .body(reqwest::Body::wrap_stream(archive));
        let response = self.send(request, operation, LOAD_DEADLINE).await?;
        let response = self.check(response, operation).await?;
        let text = response
            .text()
            .await
            .map_err(|e| self.failure(e, operation, LOAD_DEADLINE))?;
        match load_error(&text) {
            Some(message) => Err(self.refused(operation, message)),
            None => Ok(()),
        }
    }

    /// Points `repo:tag` at the image `id` (`POST /images/{id}/tag`).
    pub async fn tag(&self, id: &str, repo: &str, tag: &str) -> Result<(), Error> {
        let operation = format!("tagging {repo}:{tag}");
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("repo", repo)
            .append_pair("tag", tag)
            .finish();
        let request = self
            .http
            .post(self.url(&format!("/images/{id}/tag?{query}")));
        let response = self.send(request, &operation, REQUEST_DEADLINE).await?;
        self.check(response, &operation).await?;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        operation: &str,
        deadline: Duration,
    ) -> Result<reqwest::Response, Error> {
        request
            .timeout(deadline)
            .send()
            .await
            .map_err(|e| self.failure(e, operation, deadline))
    }

    /// `response` if it succeeded; otherwise the engine's own message.
    async fn check(
        &self,
        response: reqwest::Response,
        operation: &str,
    ) -> Result<reqwest::Response, Error> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {status}: {}", body.trim()));
        Err(self.refused(operation, message))
    }

    fn refused(&self, operation: &str, message: String) -> Error {
        Error::Refused {
            endpoint: self.endpoint.to_string(),
            operation: operation.to_owned(),
            message,
        }
    }

    fn failure(&self, error: reqwest::Error, operation: &str, deadline: Duration) -> Error {
        if error.is_timeout() {
            return Error::Timeout {
                endpoint: self.endpoint.to_string(),
                operation: operation.to_owned(),
                seconds: deadline.as_secs(),
            };
        }
        Error::Unreachable {
            endpoint: self.endpoint.to_string(),
            origin: self.endpoint.origin.clone(),
            reason: kiln_core::text::error_chain(&error),
        }
    }
}

/// The engine's TLS settings: `ca.pem` as the only trusted root when verifying, and
/// `cert.pem` + `key.pem` as the client identity. Half an identity, or no `ca.pem` where one
/// is required, is an error rather than a connection that fails later for a vaguer reason.
fn with_tls(
    builder: reqwest::ClientBuilder,
    files: &TlsFiles,
    endpoint: &Endpoint,
) -> Result<reqwest::ClientBuilder, Error> {
    let read = |name: &str| {
        let path = files.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Config(format!(
                "{} ({}): {}: {e}",
                endpoint,
                endpoint.origin,
                path.display()
            ))),
        }
    };
    let bad = |name: &str, e: reqwest::Error| {
        Error::Config(format!(
            "{} ({}): {}: {e}",
            endpoint,
            endpoint.origin,
            files.dir.join(name).display()
        ))
    };
    let missing = |problem: String, fix: &str| {
        Error::Config(format!(
            "{} ({}): {problem} ({}: {}); {fix}",
            endpoint,
            endpoint.origin,
            files.dir_origin,
            files.dir.display()
        ))
    };
    let mut builder = builder.tls_backend_rustls();
    if files.verify {
        match read("ca.pem")? {
            Some(ca) => {
                let roots =
                    reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| bad("ca.pem", e))?;
                builder = builder.tls_certs_only(roots);
            }
            None if files.ca_required => {
                return Err(missing(
                    format!(
                        "DOCKER_TLS_VERIFY is set but there is no {}",
                        files.dir.join("ca.pem").display()
                    ),
                    "put the CA certificate that signed the engine's certificate there as ca.pem, or point DOCKER_CERT_PATH at the directory that holds ca.pem, cert.pem and key.pem",
                ));
            }
            None => {}
        }
    } else {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    match (read("cert.pem")?, read("key.pem")?) {
        (Some(mut cert), Some(key)) => {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            let identity = reqwest::Identity::from_pem(&cert).map_err(|e| bad("cert.pem", e))?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        (cert, _) => {
            let (present, absent) = if cert.is_some() {
                ("cert.pem", "key.pem")
            } else {
                ("key.pem", "cert.pem")
            };
            return Err(missing(
                format!(
                    "{} is there but {} is not, and a client certificate needs both",
                    files.dir.join(present).display(),
                    files.dir.join(absent).display()
                ),
                &format!(
                    "put the matching {absent} beside it, or remove {present} to connect without a client certificate"
                ),
            ));
        }
    }
    Ok(builder)
}

/// The first error in the engine's load progress stream (JSON messages, one per line).
fn load_error(text: &str) -> Option<String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .filter_map(Result::ok)
        .find_map(|message| {
            let detail = message
                .pointer("/errorDetail/message")
                .or_else(|| message.get("error"))?;
            detail.as_str().map(str::to_owned)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `Engine::new` gives for a TLS engine whose files are in `dir` as
    /// `DOCKER_CERT_PATH` (or, when `None`, in `$HOME/.docker`).
    fn tls_error(
        home: &std::path::Path,
        cert_path: Option<&std::path::Path>,
        vars: &[(&str, &str)],
    ) -> String {
        let mut env: Vec<(String, String)> = vec![
            ("DOCKER_HOST".into(), "tcp://127.0.0.1:2376".into()),
            ("HOME".into(), home.display().to_string()),
        ];
        env.extend(cert_path.map(|p| ("DOCKER_CERT_PATH".into(), p.display().to_string())));
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let endpoint =
            crate::resolve(&|key| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
                .unwrap();
        match Engine::new(endpoint) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn half_a_client_certificate_is_an_error_naming_both_files_and_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let certs = tmp.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("cert.pem"), "not read").unwrap();
        let err = tls_error(tmp.path(), Some(&certs), &[("DOCKER_TLS", "1")]);
        for needle in [
            &certs.join("cert.pem").display().to_string(),
            &certs.join("key.pem").display().to_string(),
            "DOCKER_CERT_PATH",
            "put the matching key.pem beside it, or remove cert.pem",
            "https://127.0.0.1:2376 (DOCKER_HOST)",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
        std::fs::rename(certs.join("cert.pem"), certs.join("key.pem")).unwrap();
        let err = tls_error(tmp.path(), Some(&certs), &[("DOCKER_TLS", "1")]);
        assert!(
            err.contains("put the matching cert.pem beside it, or remove key.pem"),
            "{err}"
        );
        // Neither file: TLS without a client certificate, as docker does.
        std::fs::remove_file(certs.join("key.pem")).unwrap();
        assert_eq!(
            tls_error(tmp.path(), Some(&certs), &[("DOCKER_TLS", "1")]),
            ""
        );
    }

    #[test]
    fn verifying_without_a_ca_file_is_an_error_naming_the_file_and_its_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let certs = tmp.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        let err = tls_error(tmp.path(), Some(&certs), &[("DOCKER_TLS_VERIFY", "1")]);
        for needle in [
            "DOCKER_TLS_VERIFY is set",
            &certs.join("ca.pem").display().to_string(),
            "the directory DOCKER_CERT_PATH names",
            "put the CA certificate",
        ] {
            assert!(err.contains(needle), "{needle}: {err}");
        }
        // Without DOCKER_CERT_PATH the files are looked for in docker's config directory.
        let err = tls_error(tmp.path(), None, &[("DOCKER_TLS_VERIFY", "1")]);
        let docker_dir = tmp.path().join(".docker");
        assert!(
            err.contains(&docker_dir.join("ca.pem").display().to_string())
                && err.contains("DOCKER_CERT_PATH is unset"),
            "{err}"
        );
        // Not verifying needs no CA file.
        assert_eq!(
            tls_error(tmp.path(), Some(&certs), &[("DOCKER_TLS", "1")]),
            ""
        );
    }

    #[test]
    fn load_errors_come_from_the_progress_stream() {
        let ok = "{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\n";
        assert_eq!(load_error(ok), None);
        let failed = "{\"stream\":\"x\"}\n{\"errorDetail\":{\"message\":\"invalid diffID\"},\"error\":\"invalid diffID\"}\n";
        assert_eq!(load_error(failed).as_deref(), Some("invalid diffID"));
    }

    #[tokio::test]
    async fn a_missing_socket_is_unreachable_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("none.sock");
        let engine = Engine::new(Endpoint {
            host: Host::Unix(socket.clone()),
            origin: "DOCKER_HOST".into(),
        })
        .unwrap();
        let err = engine.platform().await.unwrap_err();
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("unix://{}", socket.display())) && text.contains("DOCKER_HOST"),
            "{text}"
        );
    }
}
