//! An in-process token issuer for the registry's `auth.token` mode (Docker token spec).
//!
//! * `GET /token?service=…&scope=…` with Basic credentials, or anonymous;
//! * `POST /token` with `grant_type=refresh_token` (identity tokens) or `grant_type=password`.
//!
//! A valid user gets exactly the requested scopes; an anonymous caller gets a token with no
//! access (the registry then answers 401 insufficient_scope); bad credentials get 401.
//! Tokens are ES256 JWTs signed with ring (already in kiln's tree through rustls), with the
//! signing certificate in the `x5c` header so Distribution verifies them against its
//! `rootcertbundle`.

use std::io::{BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SecureRandom as _;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use crate::certs::SigningIdentity;
use crate::wire::{form_decode, read_head};

/// One request the issuer answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: String,
    /// `basic`, `refresh_token`, `password` or `anonymous`.
    pub grant: String,
    /// The authenticated user, when the credentials were good.
    pub account: Option<String>,
    /// Requested scopes, as sent (split on spaces).
    pub scopes: Vec<String>,
    pub service: Option<String>,
    /// HTTP status answered.
    pub status: u16,
}

pub(crate) struct Users {
    pub user: String,
    pub pass: String,
    pub refresh_token: String,
}

struct State {
    users: Users,
    service: String,
    issuer: String,
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    requests: Mutex<Vec<TokenRequest>>,
    stop: AtomicBool,
}

pub(crate) struct TokenServer {
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    pub fn start(
        users: Users,
        service: &str,
        issuer: &str,
        identity: &SigningIdentity,
    ) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding token server");
        let addr = listener.local_addr().expect("token server address");
        let rng = ring::rand::SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &identity.pkcs8, &rng)
            .expect("loading signing key");
        let state = Arc::new(State {
            users,
            service: service.to_owned(),
            issuer: issuer.to_owned(),
            key,
            cert_der: identity.cert_der.clone(),
            requests: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    // Requests are tiny; one at a time keeps this simple and bounded.
                    let _ = handle(&st, conn);
                }
            }
        });
        TokenServer {
            addr,
            state,
            thread: Some(thread),
        }
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn respond(conn: &mut TcpStream, status: u16, body: &serde_json::Value) -> std::io::Result<()> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        _ => "Error",
    };
    write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

fn handle(st: &State, mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut body = vec![0u8; head.content_length().min(1 << 20) as usize];
    reader.read_exact(&mut body)?;

    let mut params = form_decode(head.query());
    if head.method == "POST" {
        params.extend(form_decode(&String::from_utf8_lossy(&body)));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let u = &st.users;
    let (grant, account): (&str, Result<Option<String>, ()>) =
        match (head.method.as_str(), get("grant_type").as_deref()) {
            ("POST", Some("refresh_token")) => (
                "refresh_token",
                if get("refresh_token").as_deref() == Some(u.refresh_token.as_str()) {
                    Ok(Some(u.user.clone()))
                } else {
                    Err(())
                },
            ),
            ("POST", Some("password")) => (
                "password",
                if get("username").as_deref() == Some(&u.user)
                    && get("password").as_deref() == Some(&u.pass)
                {
                    Ok(Some(u.user.clone()))
                } else {
                    Err(())
                },
            ),
            ("GET", _) => match head
                .header("authorization")
                .and_then(|h| h.strip_prefix("Basic "))
            {
                None => ("anonymous", Ok(None)),
                Some(b64) => {
                    let decoded = STANDARD
                        .decode(b64.trim())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok());
                    let ok = decoded.as_deref() == Some(&format!("{}:{}", u.user, u.pass));
                    (
                        "basic",
                        if ok {
                            Ok(Some(u.user.clone()))
                        } else {
                            Err(())
                        },
                    )
                }
            },
            _ => ("unsupported", Err(())),
        };
    let mut record = TokenRequest {
        method: head.method.clone(),
        grant: grant.to_owned(),
        account: account.clone().ok().flatten(),
        scopes: scopes.clone(),
        service: get("service"),
        status: 200,
    };
    let result = match account {
        Err(()) => {
            record.status = 401;
            respond(
                &mut conn,
                401,
                &json!({"errors": [{"code": "UNAUTHORIZED", "message": "invalid username, password or refresh token"}]}),
            )
        }
        Ok(account) => {
            let granted = if account.is_some() {
                scopes.as_slice()
            } else {
                &[]
            };
            let token = sign(st, account.as_deref().unwrap_or(""), granted);
            let mut reply = json!({"token": token, "access_token": token, "expires_in": 300});
            if grant == "refresh_token" {
                reply["refresh_token"] = json!(u.refresh_token);
            }
            respond(&mut conn, 200, &reply)
        }
    };
    st.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(record);
    result
}

/// `repository:a/b:pull,push` → the JWT access entry.
fn access_entry(scope: &str) -> Option<serde_json::Value> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
}

fn sign(st: &State, subject: &str, scopes: &[String]) -> String {
    let rng = ring::rand::SystemRandom::new();
    let mut jti = [0u8; 16];
    rng.fill(&mut jti).expect("random");
    let now = now();
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&st.cert_der)]});
    let claims = json!({
        "iss": st.issuer,
        "sub": subject,
        "aud": st.service,
        "exp": now + 300,
        "nbf": now.saturating_sub(10),
        "iat": now,
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "access": scopes.iter().filter_map(|s| access_entry(s)).collect::<Vec<_>>(),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // FIXED signing yields r‖s (64 bytes), which is JWS ES256's encoding.
    let sig = st
        .key
        .sign(&rng, signing_input.as_bytes())
        .expect("signing");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_become_access_entries() {
        assert_eq!(
            access_entry("repository:a/b:pull,push").unwrap(),
            json!({"type": "repository", "name": "a/b", "actions": ["pull", "push"]})
        );
        assert_eq!(
            access_entry("registry:catalog:*").unwrap()["name"],
            "catalog"
        );
        assert!(access_entry("junk").is_none());
    }
}
