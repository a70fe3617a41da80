//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1, in front of a plain-HTTP registry.
//!
//! Every request on every connection is parsed (request line, headers, `Content-Length`
//! body), so faults can target e.g. only `PATCH` uploads even on keep-alive connections.
//! Responses are pumped back untouched. Anything that is not HTTP (a TLS ClientHello from a
//! client probing HTTPS first) is closed at once.
//!
//! Response-side faults (truncated or stalled bodies) send the request to the registry on
//! a connection of their own, read the whole answer, and pass on only part of it.
//!
//! Bounded: threads end when their sockets close; dropping the proxy shuts every socket
//! down and joins every thread (a stalled request notices within 50 ms).

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::wire::{Head, read_head};

/// Which requests a fault applies to.
#[derive(Clone, Debug, Default)]
pub struct RequestMatch {
    /// e.g. `PATCH`; `None` matches every method.
    pub method: Option<String>,
    /// A substring of the path and query; `None` matches every path.
    pub path_contains: Option<String>,
}

impl RequestMatch {
    pub fn any() -> RequestMatch {
        RequestMatch::default()
    }

    pub fn method(method: &str) -> RequestMatch {
        RequestMatch {
            method: Some(method.to_owned()),
            path_contains: None,
        }
    }

    /// `method` requests whose path and query contain `path`.
    pub fn on(method: &str, path: &str) -> RequestMatch {
        RequestMatch {
            method: Some(method.to_owned()),
            path_contains: Some(path.to_owned()),
        }
    }

    fn matches(&self, head: &Head) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&head.method))
            && self
                .path_contains
                .as_ref()
                .is_none_or(|p| head.target.contains(p.as_str()))
    }
}

/// What to break.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Answer the first `n` matching requests with `503` and an OCI error body (then close
    /// that connection). `usize::MAX` means always.
    Fail5xxFirst { n: usize, only: RequestMatch },
    /// For the first matching request, forward its head and only `n` body bytes, then cut
    /// both connections (a push killed mid-upload).
    KillAfterBytes { n: u64, only: RequestMatch },
    /// Close the connection without answering the first `n` matching requests (the client
    /// sees the connection closed before a response: an EOF).
    DropFirst { n: usize, only: RequestMatch },
    /// Never answer the first `n` matching requests (nor read their bodies): a stalled
    /// registry. The connection stays open until the client gives up.
    StallFirst { n: usize, only: RequestMatch },
    /// For the first `n` matching requests, send the registry's answer with only `keep`
    /// bytes of its body, then close the connection (a body that ends early).
    TruncateFirst {
        n: usize,
        keep: u64,
        only: RequestMatch,
    },
    /// Like `TruncateFirst`, but keep the connection open and send nothing more (a body
    /// read that stalls).
    StallBodyFirst {
        n: usize,
        keep: u64,
        only: RequestMatch,
    },
    /// Forward the bodies of the first `n` matching requests at `bytes_per_sec` (a slow
    /// link that keeps moving).
    TrickleFirst {
        n: usize,
        bytes_per_sec: u64,
        only: RequestMatch,
    },
    /// For the first `n` matching requests, send the registry's answer with a wrong
    /// `Docker-Content-Digest` (a registry or cache that misreports a tag's digest).
    WrongDigestFirst { n: usize, only: RequestMatch },
    /// Answer the first `n` matching requests with `429 Too Many Requests` and
    /// `Retry-After: <retry_after>` (seconds or an HTTP date).
    RetryAfterFirst {
        n: usize,
        retry_after: String,
        only: RequestMatch,
    },
}

/// The message in the injected 503's OCI error body.
pub const INJECTED_MESSAGE: &str = "injected by kiln-testkit FaultProxy";

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyLogEntry {
    pub method: String,
    pub path: String,
    /// `Some("503")`, `Some("kill")`, `Some("drop")`, `Some("stall")`, `Some("truncate")`,
    /// `Some("stall-body")`, `Some("429")`, `Some("trickle")`, `Some("wrong-digest")` when a fault was injected.
    pub injected: Option<&'static str>,
}

struct State {
    upstream: String,
    fault: Fault,
    matched: Mutex<usize>,
    log: Mutex<Vec<ProxyLogEntry>>,
    stop: AtomicBool,
    sockets: Mutex<Vec<TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// See the module docs.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`, loopback).
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding proxy");
        if matches!(fault, Fault::TrickleFirst { .. }) {
            // Loopback buffers grow to megabytes: without a cap the kernel would take a
            // whole upload at once and the trickle would pace nothing the client can see.
            socket2::SockRef::from(&listener)
                .set_recv_buffer_size(64 << 10)
                .expect("proxy receive buffer");
        }
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State {
            upstream: upstream.to_owned(),
            fault,
            matched: Mutex::new(0),
            log: Mutex::default(),
            stop: AtomicBool::new(false),
            sockets: Mutex::default(),
            threads: Mutex::default(),
        });
        let st = state.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st2 = st.clone();
                let t = std::thread::spawn(move || {
                    let _ = serve(&st2, conn);
                });
                lock(&st.threads).push(t);
            }
        });
        FaultProxy {
            addr,
            state,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`, to use as the registry host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Requests seen so far.
    pub fn log(&self) -> Vec<ProxyLogEntry> {
        lock(&self.state.log).clone()
    }

    /// How many faults were injected.
    pub fn injected(&self) -> usize {
        self.log().iter().filter(|e| e.injected.is_some()).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in lock(&self.state.sockets).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        let threads: Vec<_> = lock(&self.state.threads).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Decides whether this request gets the fault (counting matches).
fn take_fault(st: &State, head: &Head) -> Option<&'static str> {
    let (n, only, kind) = match &st.fault {
        Fault::None => return None,
        Fault::Fail5xxFirst { n, only } => (*n, only, "503"),
        Fault::KillAfterBytes { only, .. } => (1, only, "kill"),
        Fault::DropFirst { n, only } => (*n, only, "drop"),
        Fault::StallFirst { n, only } => (*n, only, "stall"),
        Fault::TruncateFirst { n, only, .. } => (*n, only, "truncate"),
        Fault::StallBodyFirst { n, only, .. } => (*n, only, "stall-body"),
        Fault::RetryAfterFirst { n, only, .. } => (*n, only, "429"),
        Fault::TrickleFirst { n, only, .. } => (*n, only, "trickle"),
        Fault::WrongDigestFirst { n, only } => (*n, only, "wrong-digest"),
    };
    if !only.matches(head) {
        return None;
    }
    let mut matched = lock(&st.matched);
    if *matched >= n {
        return None;
    }
    *matched += 1;
    Some(kind)
}

fn serve(st: &State, client: TcpStream) -> std::io::Result<()> {
    let timeout = Some(Duration::from_secs(60));
    client.set_read_timeout(timeout)?;
    client.set_write_timeout(timeout)?;
    let upstream = TcpStream::connect_timeout(
        &st.upstream
            .parse()
            .map_err(|_| std::io::Error::other("upstream must be ip:port"))?,
        Duration::from_secs(5),
    )?;
    upstream.set_read_timeout(timeout)?;
    upstream.set_write_timeout(timeout)?;
    {
        let mut socks = lock(&st.sockets);
        socks.push(client.try_clone()?);
        socks.push(upstream.try_clone()?);
    }
    if st.stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    // Responses: upstream → client, untouched.
    let (mut up_r, mut cl_w) = (upstream.try_clone()?, client.try_clone()?);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_r, &mut cl_w);
        let _ = cl_w.shutdown(Shutdown::Write);
    });
    let result = forward_requests(st, &client, &upstream);
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = back.join();
    result
}

/// Holds the calling connection thread until the proxy stops.
fn stall(st: &State) {
    while !st.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`ask_upstream`], reading no body when the request was a `HEAD`.
fn ask_upstream_head_only(
    st: &State,
    head: &[u8],
    body: &[u8],
    method: &str,
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    ask(st, head, body, !method.eq_ignore_ascii_case("HEAD"))
}

/// Sends one request to the registry on a fresh connection: the answer's head and body.
fn ask_upstream(st: &State, head: &[u8], body: &[u8]) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    ask(st, head, body, true)
}

fn ask(
    st: &State,
    head: &[u8],
    body: &[u8],
    with_body: bool,
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let addr = st
        .upstream
        .parse()
        .map_err(|_| std::io::Error::other("upstream must be ip:port"))?;
    let mut up = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    up.set_read_timeout(Some(Duration::from_secs(30)))?;
    up.write_all(head)?;
    up.write_all(body)?;
    up.flush()?;
    let mut reader = BufReader::new(up);
    let answer = read_head(&mut reader)?
        .ok_or_else(|| std::io::Error::other("the registry sent no answer"))?;
    let mut body = Vec::new();
    if with_body {
        (&mut reader)
            .take(answer.content_length())
            .read_to_end(&mut body)?;
    }
    Ok((answer.raw, body))
}

fn forward_requests(st: &State, client: &TcpStream, upstream: &TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut up = upstream.try_clone()?;
    let mut cl = client.try_clone()?;
    loop {
        let Some(head) = read_head(&mut reader)? else {
            return Ok(());
        };
        let injected = take_fault(st, &head);
        lock(&st.log).push(ProxyLogEntry {
            method: head.method.clone(),
            path: head.target.clone(),
            injected,
        });
        let len = head.content_length();
        match (injected, &st.fault) {
            (Some("503"), _) => {
                std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink())?;
                let body = format!(
                    r#"{{"errors":[{{"code":"UNAVAILABLE","message":"{INJECTED_MESSAGE}"}}]}}"#
                );
                write!(
                    cl,
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )?;
                cl.flush()?;
                return Ok(());
            }
            (Some("drop"), _) => return Ok(()),
            (Some("stall"), _) => {
                stall(st);
                return Ok(());
            }
            (Some("wrong-digest"), _) => {
                let mut body = Vec::new();
                (&mut reader).take(len).read_to_end(&mut body)?;
                let (head, answer) = ask_upstream_head_only(st, &head.raw, &body, &head.method)?;
                let text = String::from_utf8_lossy(&head).into_owned();
                let wrong = format!("sha256:{}", "0".repeat(64));
                let rewritten: String = text
                    .split_inclusive("\r\n")
                    .map(|line| {
                        if line
                            .to_ascii_lowercase()
                            .starts_with("docker-content-digest:")
                        {
                            format!("Docker-Content-Digest: {wrong}\r\n")
                        } else {
                            line.to_owned()
                        }
                    })
                    .collect();
                cl.write_all(rewritten.as_bytes())?;
                cl.write_all(&answer)?;
                cl.flush()?;
            }
            (Some("trickle"), Fault::TrickleFirst { bytes_per_sec, .. }) => {
                up.write_all(&head.raw)?;
                // Tenths of a second, so the pace is steady rather than bursty.
                let slice = (*bytes_per_sec / 10).max(1);
                let mut left = len;
                while left > 0 && !st.stop.load(Ordering::SeqCst) {
                    let n = left.min(slice);
                    std::io::copy(&mut (&mut reader).take(n), &mut up)?;
                    left -= n;
                    std::thread::sleep(Duration::from_millis(100));
                }
                up.flush()?;
            }
            (Some("429"), Fault::RetryAfterFirst { retry_after, .. }) => {
                std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink())?;
                write!(
                    cl,
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
                cl.flush()?;
                return Ok(());
            }
            (
                Some(kind @ ("truncate" | "stall-body")),
                Fault::TruncateFirst { keep, .. } | Fault::StallBodyFirst { keep, .. },
            ) => {
                let mut body = Vec::new();
                (&mut reader).take(len).read_to_end(&mut body)?;
                let (head, answer) = ask_upstream(st, &head.raw, &body)?;
                cl.write_all(&head)?;
                cl.write_all(&answer[..answer.len().min(*keep as usize)])?;
                cl.flush()?;
                if kind == "stall-body" {
                    stall(st);
                }
                return Ok(());
            }
            (Some(_), Fault::KillAfterBytes { n, .. }) => {
                up.write_all(&head.raw)?;
                std::io::copy(&mut (&mut reader).take(len.min(*n)), &mut up)?;
                up.flush()?;
                return Ok(());
            }
            _ => {
                up.write_all(&head.raw)?;
                if head.is_chunked() {
                    // Not parsed further: pass the rest of the connection through.
                    std::io::copy(&mut reader, &mut up)?;
                    return Ok(());
                }
                std::io::copy(&mut (&mut reader).take(len), &mut up)?;
                up.flush()?;
            }
        }
    }
}
