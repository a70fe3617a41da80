//! A real registry (Debian's `docker-registry`, CNCF Distribution 2.8) per test.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::certs::{SigningIdentity, TlsMaterial};
use crate::skopeo::Skopeo;
use crate::token::{TokenRequest, TokenServer, Users};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The registry's token service name (`aud` claim) and issuer (`iss` claim).
pub const TOKEN_SERVICE: &str = "kiln-testkit-registry";
const TOKEN_ISSUER: &str = "kiln-testkit-issuer";

/// How the registry is set up.
#[derive(Clone, Debug)]
pub enum RegistryKind {
    /// Plain HTTP, anonymous.
    Plain,
    /// Plain HTTP with htpasswd Basic auth.
    Htpasswd { user: String, pass: String },
    /// HTTPS with a certificate from a private CA ([`Registry::tls`]), optionally htpasswd.
    Tls { htpasswd: Option<(String, String)> },
    /// Plain HTTP with token auth; the in-process issuer knows `user`/`pass` and
    /// [`Registry::refresh_token`].
    Token { user: String, pass: String },
}

impl RegistryKind {
    pub fn htpasswd(user: &str, pass: &str) -> RegistryKind {
        RegistryKind::Htpasswd {
            user: user.to_owned(),
            pass: pass.to_owned(),
        }
    }

    pub fn token(user: &str, pass: &str) -> RegistryKind {
        RegistryKind::Token {
            user: user.to_owned(),
            pass: pass.to_owned(),
        }
    }

    pub fn tls() -> RegistryKind {
        RegistryKind::Tls { htpasswd: None }
    }
}

/// One line of the registry's access log (Apache combined format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogEntry {
    pub method: String,
    /// Path and query, as requested.
    pub path: String,
    pub status: u16,
}

/// A running registry. Stopped (by PID) and its directory removed on drop.
///
/// The registry runs under a tiny `sh` supervisor that kills it when its stdin closes: that
/// happens on drop, and also when the test process dies without dropping (a panic=abort,
/// a nextest timeout), so no registry outlives its test.
pub struct Registry {
    kind: RegistryKind,
    port: u16,
    dir: TempDir,
    supervisor: Child,
    supervisor_stdin: Option<ChildStdin>,
    registry_pid: u32,
    tls: Option<TlsMaterial>,
    token: Option<TokenServer>,
    refresh_token: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("host", &self.host())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn htpasswd_line(user: &str, pass: &str) -> String {
    let mut cmd = Command::new("htpasswd");
    cmd.args(["-Bbn", user, pass]);
    let out = crate::process::run(cmd, Duration::from_secs(30))
        .expect("htpasswd (apache2-utils) must be installed");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("htpasswd output is text")
        .trim()
        .to_owned()
        + "\n"
}

impl Registry {
    /// Starts a registry and waits until it answers. Panics (with its log) if it cannot.
    pub fn start(kind: RegistryKind) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: `apt-get install docker-registry apache2-utils skopeo`"
        );
        let mut dir = tempfile::Builder::new()
            .prefix("kiln-registry-")
            .tempdir()
            .expect("tempdir");
        let mut auth = String::new();
        let mut tls = None;
        let mut token = None;
        let mut refresh_token = None;
        let htpasswd = match &kind {
            RegistryKind::Htpasswd { user, pass } => Some((user.clone(), pass.clone())),
            RegistryKind::Tls { htpasswd } => htpasswd.clone(),
            _ => None,
        };
        if let Some((user, pass)) = htpasswd {
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, htpasswd_line(&user, &pass)).expect("writing htpasswd");
            auth = format!(
                "auth:\n  htpasswd:\n    realm: kiln-testkit\n    path: {}\n",
                path.display()
            );
        }
        if let RegistryKind::Tls { .. } = kind {
            tls = Some(TlsMaterial::generate(dir.path()));
        }
        if let RegistryKind::Token { user, pass } = &kind {
            let identity = SigningIdentity::generate();
            let bundle = dir.path().join("token-signer.crt");
            std::fs::write(&bundle, &identity.cert_pem).expect("writing token cert");
            let refresh = format!("kiln-refresh-{}", crate::free_port());
            let server = TokenServer::start(
                Users {
                    user: user.clone(),
                    pass: pass.clone(),
                    refresh_token: refresh.clone(),
                },
                TOKEN_SERVICE,
                TOKEN_ISSUER,
                &identity,
            );
            auth = format!(
                "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                server.realm(),
                bundle.display()
            );
            token = Some(server);
            refresh_token = Some(refresh);
        }

        let mut last_log = String::new();
        for _ in 0..8 {
            let port = crate::free_port();
            let tls_yaml = tls
                .as_ref()
                .map(|t| {
                    format!(
                        "  tls:\n    certificate: {}\n    key: {}\n",
                        t.server_cert.display(),
                        t.server_key.display()
                    )
                })
                .unwrap_or_default();
            let config = format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: kiln-testkit-not-a-secret\n{tls_yaml}{auth}",
                data = dir.path().join("data").display(),
            );
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).expect("writing config.yml");
            let (access, errlog) = (
                dir.path().join("access.log"),
                dir.path().join("registry.log"),
            );
            // The supervisor prints the registry's PID, then waits for EOF on stdin.
            let mut supervisor = Command::new("sh")
                .args([
                    "-c",
                    r#""$1" serve "$2" >>"$3" 2>>"$4" </dev/null & pid=$!; echo $pid; read _ignored; kill $pid 2>/dev/null; wait $pid"#,
                    "kiln-registry-supervisor",
                ])
                .arg(REGISTRY_BIN)
                .arg(&config_path)
                .arg(&access)
                .arg(&errlog)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting sh");
            let mut line = String::new();
            BufReader::new(supervisor.stdout.take().expect("piped"))
                .read_line(&mut line)
                .expect("reading registry pid");
            let registry_pid: u32 = line.trim().parse().expect("registry pid");
            let mut reg = Registry {
                kind: kind.clone(),
                port,
                supervisor_stdin: supervisor.stdin.take(),
                supervisor,
                registry_pid,
                dir,
                tls: tls.clone(),
                token,
                refresh_token: refresh_token.clone(),
            };
            match reg.wait_ready() {
                Ok(()) => return reg,
                Err(log) => {
                    last_log = log;
                    reg.stop_process();
                    // Take the pieces back for the next attempt.
                    token = reg.token.take();
                    dir = std::mem::replace(&mut reg.dir, tempfile::tempdir().expect("tempdir"));
                    let _ = std::fs::remove_file(dir.path().join("registry.log"));
                    if !last_log.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("docker-registry did not start:\n{last_log}");
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            if log.contains("listening on") {
                break;
            }
            if let Ok(Some(_)) = self.supervisor.try_wait() {
                return Err(log);
            }
            if !alive(self.registry_pid) || Instant::now() > deadline {
                return Err(format!(
                    "{log}\n(registry exited or did not listen within {START_TIMEOUT:?})"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.tls.is_some() {
            return Ok(());
        }
        // Plain HTTP: make sure /v2/ answers, and that it is ours.
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(
            conn,
            "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.host()
        )
        .map_err(|e| e.to_string())?;
        let mut resp = String::new();
        let _ = conn.read_to_string(&mut resp);
        if resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.1 401") {
            Ok(())
        } else {
            Err(format!("unexpected /v2/ answer: {resp}"))
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://…` for TLS registries.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// `host/name` (e.g. `reference("app:v1")` → `127.0.0.1:PORT/app:v1`).
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    pub fn kind(&self) -> &RegistryKind {
        &self.kind
    }

    /// The registry's own log (stderr).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// The access log (stdout, Apache combined format).
    pub fn access_log_path(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// The fixture's directory (config, data, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Parsed access log. The registry writes a line just after answering, so this waits
    /// until the file stops growing (briefly, bounded).
    pub fn access_log(&self) -> Vec<AccessLogEntry> {
        let read = || std::fs::read_to_string(self.access_log_path()).unwrap_or_default();
        let mut text = read();
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            std::thread::sleep(Duration::from_millis(40));
            let again = read();
            if again == text || Instant::now() > deadline {
                text = again;
                break;
            }
            text = again;
        }
        text.lines().filter_map(parse_access_line).collect()
    }

    /// Access-log entries with `method` whose path contains `path_part`.
    pub fn requests(&self, method: &str, path_part: &str) -> Vec<AccessLogEntry> {
        self.access_log()
            .into_iter()
            .filter(|e| e.method == method && e.path.contains(path_part))
            .collect()
    }

    /// TLS material for [`RegistryKind::Tls`].
    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.tls.as_ref()
    }

    /// The user and password, for authenticated kinds.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match &self.kind {
            RegistryKind::Htpasswd { user, pass } | RegistryKind::Token { user, pass } => {
                Some((user, pass))
            }
            RegistryKind::Tls {
                htpasswd: Some((u, p)),
            } => Some((u, p)),
            _ => None,
        }
    }

    /// A refresh token the token issuer accepts (`grant_type=refresh_token`).
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }

    /// Requests the token issuer answered, for [`RegistryKind::Token`].
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token
            .as_ref()
            .map(TokenServer::requests)
            .unwrap_or_default()
    }

    /// A skopeo set up for this registry (TLS CA, credentials).
    pub fn skopeo(&self) -> Skopeo {
        Skopeo {
            tls_verify: self.tls.is_some(),
            cert_dir: self.tls.as_ref().map(|t| t.ca_dir.clone()),
            creds: self
                .credentials()
                .map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    /// Writes a docker `config.json` with `auths` (base64 `user:pass`) for this registry
    /// into `dir` (use `dir` as `DOCKER_CONFIG`).
    pub fn write_docker_config(&self, dir: &Path, user: &str, pass: &str) -> PathBuf {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let cfg = serde_json::json!({"auths": {self.host(): {"auth": auth}}});
        std::fs::create_dir_all(dir).expect("creating docker config dir");
        let path = dir.join("config.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).expect("json"))
            .expect("writing config.json");
        path
    }

    fn stop_process(&mut self) {
        // Closing stdin makes the supervisor kill the registry and exit.
        drop(self.supervisor_stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.supervisor.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // The supervisor did not comply: kill both by PID.
        let _ = Command::new("kill")
            .args(["-9", &self.registry_pid.to_string()])
            .status();
        let _ = self.supervisor.kill();
        let _ = self.supervisor.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop_process();
    }
}

/// Whether `pid` runs (exists and is not a zombie waiting for the supervisor to reap it).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Format: `pid (comm) S …`; comm may contain spaces, so look after the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// `127.0.0.1 - user [date] "GET /v2/ HTTP/1.1" 200 2 "" "ua"` → entry.
fn parse_access_line(line: &str) -> Option<AccessLogEntry> {
    let start = line.find('"')?;
    let rest = &line[start + 1..];
    let end = rest.find('"')?;
    let mut req = rest[..end].split(' ');
    let method = req.next()?.to_owned();
    let path = req.next()?.to_owned();
    let status = rest[end + 1..].split_whitespace().next()?.parse().ok()?;
    Some(AccessLogEntry {
        method,
        path,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_parse() {
        let e = parse_access_line(
            r#"127.0.0.1 - - [23/Nov/2026:23:25:05 +0000] "POST /v2/foo/blobs/uploads/?mount=a&from=b HTTP/1.1" 202 0 "" "kiln/0.1""#,
        )
        .unwrap();
        assert_eq!(
            (e.method.as_str(), e.path.as_str(), e.status),
            ("POST", "/v2/foo/blobs/uploads/?mount=a&from=b", 202)
        );
        assert!(parse_access_line("time=... level=info").is_none());
    }
}
