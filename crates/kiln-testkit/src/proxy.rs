//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1, in front of a plain-HTTP registry.
//!
//! Every request on every connection is parsed (request line, headers, `Content-Length`
//! body), so faults can target e.g. only `PATCH` uploads even on keep-alive connections.
//! Responses are pumped back untouched. Anything that is not HTTP (a TLS ClientHello from a
//! client probing HTTPS first) is closed at once.
//!
//! Bounded: threads end when their sockets close; dropping the proxy shuts every socket
//! down and joins every thread.

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
}

/// The message in the injected 503's OCI error body.
pub const INJECTED_MESSAGE: &str = "injected by kiln-testkit FaultProxy";

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyLogEntry {
    pub method: String,
    pub path: String,
    /// `Some("503")`, `Some("kill")`, `Some("drop")` when a fault was injected.
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
