//! The OCI 1.1 referrers probe. Distribution 2.8 has no referrers API; a registry that has
//! one is played by a tiny HTTP server that answers `/v2/` and `/v2/<name>/referrers/`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use kiln_core::Digest;
use kiln_core::media_type::OCI_INDEX;
use kiln_testkit::{Registry, RegistryKind};

use crate::common::*;

#[tokio::test]
async fn distribution_2_8_has_no_referrers_api() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let repo = reference(&reg.reference("team/app"));
    assert!(
        !client
            .supports_referrers(&repo, &Digest::of(b"image"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_index_answer_means_the_api_is_there() {
    let server = FakeRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let subject = Digest::of(b"image");
    let with_api = reference(&format!("127.0.0.1:{}/oci11/app", server.port));
    assert!(
        client
            .supports_referrers(&with_api, &subject)
            .await
            .unwrap()
    );
    // A 200 that is not an index (a catch-all web page) is not the API.
    let html = reference(&format!("127.0.0.1:{}/html/app", server.port));
    assert!(!client.supports_referrers(&html, &subject).await.unwrap());
}

/// Answers `GET /v2/` with 200, `/v2/oci11/…/referrers/…` with an empty OCI index, and any
/// other path with an HTML page. Closes TLS probes at once.
struct FakeRegistry {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRegistry {
    fn start() -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => answer(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeRegistry {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(mut stream: TcpStream) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) if head.is_empty() && byte[0] == 0x16 => return, // a TLS ClientHello
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or_default();
    let (content_type, body) = if path == "/v2/" {
        ("application/json", "{}".to_owned())
    } else if path.starts_with("/v2/oci11/") && path.contains("/referrers/") {
        (
            OCI_INDEX,
            format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#),
        )
    } else {
        ("text/html", "<html>hello</html>".to_owned())
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
