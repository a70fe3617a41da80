//! A loopback TLS front (`socat`) before a plain endpoint: a certificate for 127.0.0.1
//! from a private CA, and, when asked, client certificates from the same CA required.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TlsMaterial;

/// A child process killed (and reaped) when dropped.
pub(crate) struct Stopped(pub(crate) Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback TLS proxy in front of an endpoint; stopped when dropped.
pub struct TlsFront {
    dir: tempfile::TempDir,
    pub tls: TlsMaterial,
    pub port: u16,
    _child: Stopped,
}

impl TlsFront {
    /// A `DOCKER_CERT_PATH` directory in docker's layout: `ca.pem`, `cert.pem`, `key.pem`.
    pub fn docker_cert_path(&self) -> PathBuf {
        let path = self.dir.path().join("docker-certs");
        std::fs::create_dir_all(&path).expect("cert dir");
        std::fs::copy(&self.tls.ca_cert, path.join("ca.pem")).expect("ca.pem");
        std::fs::copy(&self.tls.client_cert, path.join("cert.pem")).expect("cert.pem");
        std::fs::copy(&self.tls.client_key, path.join("key.pem")).expect("key.pem");
        path
    }
}

impl TlsFront {
    /// TLS on a free port of 127.0.0.1 before `target` (a socat address: `TCP:host:port`,
    /// `UNIX-CONNECT:path`), requiring a client certificate when `client_certs`.
    pub(crate) fn start(target: &str, client_certs: bool) -> TlsFront {
        let dir = tempfile::tempdir().expect("temp dir");
        let tls = TlsMaterial::generate(dir.path());
        let port = crate::free_port();
        let verify = if client_certs {
            format!("cafile={},verify=1", tls.ca_cert.display())
        } else {
            "verify=0".to_owned()
        };
        let child = Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},{verify}",
                tls.server_cert.display(),
                tls.server_key.display(),
            ))
            .arg(target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting socat (is it installed?)");
        let child = Stopped(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "socat did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsFront {
            dir,
            tls,
            port,
            _child: child,
        }
    }
}
