//! A static Go module proxy on 127.0.0.1, optionally behind HTTP Basic auth.
//!
//! Companies serve private modules from an authenticated proxy (`go help private`:
//! `GOPROXY=https://proxy.corp`, `GOPRIVATE=…`, `GONOPROXY=none`, the credentials in
//! `.netrc`). The GOPROXY protocol is plain files (`<module>/@v/list`, `<version>.info`,
//! `.mod`, `.zip`), so this serves a directory of them: enough to check that `go`, run by
//! kiln, reaches such a proxy with the user's credentials, offline.
//!
//! HTTP/1.1 with `Connection: close`, one thread per connection, a timeout on every read
//! and write. Without the expected `Authorization: Basic …` it answers 401 with a
//! `WWW-Authenticate` challenge; a missing file is a 404 (`go`'s "not found"). Every
//! request is recorded. Dropping the proxy stops it and joins its threads.
//!
//! `go` sends credentials only over HTTPS (`cmd/go/internal/web`, since GOAUTH in Go 1.24),
//! and looks `.netrc` machines up by the URL's `host:port`; so [`GoProxy::start_https`] puts
//! socat in front ([`crate::TlsFront`], TLS with a private CA).

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;

use crate::TlsFront;
use crate::wire::read_head;

const TIMEOUT: Duration = Duration::from_secs(10);

/// One request the proxy answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoProxyRequest {
    /// The request path, without the query (e.g. `/example.internal/greet/@v/v1.0.0.zip`).
    pub path: String,
    /// Whether it carried the expected credentials (always true without credentials).
    pub authorized: bool,
}

/// A running proxy; see the module documentation.
pub struct GoProxy {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<GoProxyRequest>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    tls: Option<TlsFront>,
}

impl GoProxy {
    /// Serves the files under `root`; with `credentials` (user, password), only to requests
    /// that send them.
    pub fn start(root: &Path, credentials: Option<(&str, &str)>) -> GoProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let root = root.to_owned();
        let expected = credentials.map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        });
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, expected, requests) =
                        (root.clone(), expected.clone(), requests.clone());
                    workers.push(std::thread::spawn(move || {
                        // A client that hangs up or stalls only ends its own connection.
                        let _ = serve(stream, &root, expected.as_deref(), &requests);
                    }));
                }
                for worker in workers {
                    let _ = worker.join();
                }
            })
        };
        GoProxy {
            addr,
            requests,
            stop,
            accept: Some(accept),
            tls: None,
        }
    }

    /// Like [`GoProxy::start`], over HTTPS with a certificate for `127.0.0.1` from a private
    /// CA ([`GoProxy::ca_cert`], for `SSL_CERT_FILE`). Needs `socat`.
    pub fn start_https(root: &Path, credentials: Option<(&str, &str)>) -> GoProxy {
        let mut proxy = GoProxy::start(root, credentials);
        let tls = TlsFront::start(&format!("TCP:{}", proxy.addr), false);
        proxy.tls = Some(tls);
        proxy
    }

    /// `http://127.0.0.1:<port>` (`https://…` from [`GoProxy::start_https`]), for `GOPROXY`.
    pub fn url(&self) -> String {
        match &self.tls {
            Some(_) => format!("https://{}", self.host()),
            None => format!("http://{}", self.host()),
        }
    }

    /// `127.0.0.1:<port>`: what a `.netrc` `machine` line names for `go` to send credentials.
    pub fn host(&self) -> String {
        match &self.tls {
            Some(tls) => format!("127.0.0.1:{}", tls.port),
            None => self.addr.to_string(),
        }
    }

    /// The private CA that signed the HTTPS certificate (none over plain HTTP).
    pub fn ca_cert(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.tls.ca_cert.as_path())
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<GoProxyRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for GoProxy {
    fn drop(&mut self) {
        self.tls = None;
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked accept so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, TIMEOUT);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    root: &Path,
    expected: Option<&str>,
    requests: &Mutex<Vec<GoProxyRequest>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let Some(head) = read_head(&mut BufReader::new(&stream))? else {
        return Ok(());
    };
    let path = head.target.split('?').next().unwrap_or("").to_owned();
    let authorized = expected.is_none_or(|e| head.header("authorization") == Some(e));
    requests.lock().unwrap().push(GoProxyRequest {
        path: path.clone(),
        authorized,
    });
    let (status, extra, body) = if !authorized {
        (
            "401 Unauthorized",
            "WWW-Authenticate: Basic realm=\"goproxy\"\r\n",
            b"unauthorized\n".to_vec(),
        )
    } else {
        match file_under(root, &path).and_then(|f| std::fs::read(f).ok()) {
            Some(bytes) if head.method == "GET" || head.method == "HEAD" => ("200 OK", "", bytes),
            _ => ("404 Not Found", "", b"not found\n".to_vec()),
        }
    };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if head.method != "HEAD" {
        out.write_all(&body)?;
    }
    out.flush()
}

/// The file `path` names under `root`; `None` for anything that would leave it.
fn file_under(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(relative))
        .filter(|f| f.is_file())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn get(proxy: &GoProxy, path: &str, auth: Option<&str>) -> String {
        let mut stream = TcpStream::connect(proxy.host()).unwrap();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serves_files_to_the_authorized_only() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("m/@v")).unwrap();
        std::fs::write(root.path().join("m/@v/list"), "v1.0.0\n").unwrap();
        let proxy = GoProxy::start(root.path(), Some(("u", "p")));
        let basic = "Basic dTpw"; // u:p
        assert!(get(&proxy, "/m/@v/list", Some(basic)).ends_with("\r\n\r\nv1.0.0\n"));
        let refused = get(&proxy, "/m/@v/list", Some("Basic dTp4"));
        assert!(refused.starts_with("HTTP/1.1 401 "), "{refused}");
        assert!(refused.contains("WWW-Authenticate: Basic realm=\"goproxy\""));
        for missing in ["/m/@v/v2.0.0.info", "/m/@v/../@v/list", "/"] {
            let answer = get(&proxy, missing, Some(basic));
            assert!(answer.starts_with("HTTP/1.1 404 "), "{missing}: {answer}");
        }
        let seen = proxy.requests();
        assert_eq!(seen.len(), 5);
        assert!(seen[0].authorized && !seen[1].authorized);
    }
}
