//! Errors: every variant says which registry operation failed on what, and carries the
//! registry's own words (the OCI error envelope) when there were any.
//!
//! Invariant: no variant ever holds a credential. Secrets live in [`crate::Secret`], which
//! is never formatted into a message.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kiln_core::Digest;

/// What the client was doing, and on what, when something went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub op: Op,
    /// `host[:port]` as written in the image reference.
    pub registry: String,
    pub repository: Option<String>,
    /// A digest, a tag, or (for token requests) the realm URL.
    pub object: Option<String>,
    /// How many attempts were made before giving up (1 when the error was not retried).
    pub attempts: u32,
}

/// Registry operations, for messages and events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ping,
    Token,
    GetManifest,
    HeadManifest,
    PutManifest,
    HeadBlob,
    GetBlob,
    PushBlob,
    Referrers,
}

impl Ctx {
    pub(crate) fn new(
        op: Op,
        registry: &str,
        repository: Option<&str>,
        object: Option<String>,
    ) -> Ctx {
        Ctx {
            op,
            registry: registry.to_owned(),
            repository: repository.map(str::to_owned),
            object,
            attempts: 1,
        }
    }
}

impl fmt::Display for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.repository {
            Some(r) => format!("{}/{}", self.registry, r),
            None => self.registry.clone(),
        };
        let obj = self.object.as_deref().unwrap_or("");
        // Manifests are named like references (`repo:tag`, `repo@sha256:…`).
        let manifest = |f: &mut fmt::Formatter<'_>, verb: &str| {
            if obj.starts_with("sha256:") {
                write!(f, "{verb} manifest {name}@{obj}")
            } else {
                write!(f, "{verb} manifest {name}:{obj}")
            }
        };
        match self.op {
            Op::Ping => write!(f, "connecting to registry {name}"),
            Op::Token => write!(f, "getting a token for {name} from {obj}"),
            Op::GetManifest => manifest(f, "fetching"),
            Op::HeadManifest => manifest(f, "checking"),
            Op::PutManifest => manifest(f, "pushing"),
            Op::HeadBlob => write!(f, "checking blob {obj} in {name}"),
            Op::GetBlob => write!(f, "fetching blob {obj} from {name}"),
            Op::PushBlob => write!(f, "pushing blob {obj} to {name}"),
            Op::Referrers => write!(f, "listing the referrers of {obj} in {name}"),
        }?;
        if self.attempts > 1 {
            write!(f, " (gave up after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// One entry of the OCI error envelope `{"errors":[{"code","message","detail"}]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryErrorEntry {
    pub code: String,
    pub message: String,
    /// `detail` is free-form JSON; kept as compact text.
    pub detail: Option<String>,
}

impl fmt::Display for RegistryErrorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code.is_empty(), self.message.is_empty()) {
            (false, false) => write!(f, "{}: {}", self.code, self.message)?,
            (false, true) => write!(f, "{}", self.code)?,
            (true, _) => write!(f, "{}", self.message)?,
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Parses the OCI error envelope. Also accepts the `{"details": "..."}` and
/// `{"error": "...", "error_description": "..."}` shapes some token servers use.
pub(crate) fn parse_error_body(body: &[u8]) -> Vec<RegistryErrorEntry> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        return errors
            .iter()
            .map(|e| RegistryErrorEntry {
                code: text(e.get("code")),
                message: text(e.get("message")),
                detail: match e.get("detail") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(d) => Some(text(Some(d))).filter(|s| !s.is_empty() && s != "{}"),
                },
            })
            .collect();
    }
    let mut out = Vec::new();
    for (code_key, msg_key) in [
        ("error", "error_description"),
        ("", "details"),
        ("", "message"),
    ] {
        let code = text(v.get(code_key));
        let message = text(v.get(msg_key));
        if !code.is_empty() || !message.is_empty() {
            out.push(RegistryErrorEntry {
                code,
                message,
                detail: None,
            });
            break;
        }
    }
    out
}

/// A printable, bounded excerpt of a non-JSON error body (HTML error pages, plain text).
pub(crate) fn body_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return None;
    }
    const MAX: usize = 300;
    Some(if text.chars().count() > MAX {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    } else {
        text
    })
}

fn registry_text(errors: &[RegistryErrorEntry], body: &Option<String>) -> String {
    if !errors.is_empty() {
        let joined: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(": {}", joined.join("; "))
    } else if let Some(b) = body {
        format!(": {b}")
    } else {
        String::new()
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// Why the registry (or its token service) refused us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthInfo {
    /// No credentials were found for this registry in any of the searched files.
    NoCredentials { searched: Vec<PathBuf> },
    /// Credentials were found and sent, and were refused.
    Rejected {
        username: Option<String>,
        source: String,
    },
}

impl fmt::Display for AuthInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthInfo::NoCredentials { searched } => {
                write!(f, "no credentials were found for this registry")?;
                if !searched.is_empty() {
                    let files: Vec<String> =
                        searched.iter().map(|p| p.display().to_string()).collect();
                    write!(f, " (searched {})", files.join(", "))?;
                }
                write!(
                    f,
                    "; log in with `docker login` or add them to your docker config.json"
                )
            }
            AuthInfo::Rejected { username, source } => match username {
                Some(u) => write!(
                    f,
                    "the credentials for user `{u}` from {source} were refused"
                ),
                None => write!(f, "the credentials from {source} were refused"),
            },
        }
    }
}

/// Everything the registry client can fail with. Cheap to clone (sources are shared), so
/// concurrent callers of a deduplicated upload all get the same error.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry answered with an unexpected status.
    #[error("{ctx}: the registry answered {}{}", status_text(*status), registry_text(errors, body))]
    Status {
        ctx: Box<Ctx>,
        status: u16,
        errors: Vec<RegistryErrorEntry>,
        body: Option<String>,
        /// The registry's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },

    /// 401/403 after authenticating (or with nothing to authenticate with).
    #[error("{ctx}: {}{} — {auth}", status_text(*status), registry_text(errors, &None))]
    Unauthorized {
        ctx: Box<Ctx>,
        status: u16,
        errors: Vec<RegistryErrorEntry>,
        auth: AuthInfo,
    },

    /// The request never got an HTTP answer (connection refused, reset, timeout, …).
    #[error("{ctx}: {detail}")]
    Transport {
        ctx: Box<Ctx>,
        detail: String,
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// A request or body read made no progress for the idle timeout (a stalled registry).
    #[error(
        "{ctx}: no progress for {} while {phase} {request} ({} in all); the registry may be \
         stalled (set KILN_REGISTRY_TIMEOUT to wait longer)",
        secs(*idle), secs(*elapsed)
    )]
    Timeout {
        ctx: Box<Ctx>,
        /// Method and URL, the query redacted.
        request: String,
        /// `waiting for the answer to`, `reading the body of`.
        phase: &'static str,
        idle: Duration,
        elapsed: Duration,
    },

    /// The registry's TLS certificate did not verify.
    #[error(
        "TLS certificate verification failed for {host}: {detail}. If the registry uses a private CA, \
         install it as certs.d/{host}/ca.crt (in /etc/docker/certs.d, /etc/containers/certs.d or \
         ~/.config/containers/certs.d) or point SSL_CERT_FILE at it; to skip verification (and allow \
         plain HTTP), pass `--insecure-registry {host}`"
    )]
    Certificate { host: String, detail: String },

    /// Content did not hash to the digest it was fetched or pushed under.
    #[error("{ctx}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        ctx: Box<Ctx>,
        expected: Digest,
        actual: String,
    },

    /// A local file could not be read or written.
    #[error("{ctx}: {}: {source}", path.display())]
    Io {
        ctx: Box<Ctx>,
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },

    /// Credentials could not be read (bad config file, failing credential helper).
    #[error("reading credentials for {registry}: {message}")]
    Credentials { registry: String, message: String },

    /// The registry broke the protocol (missing Location, bad token response, oversized body…).
    #[error("{ctx}: {message}")]
    Protocol { ctx: Box<Ctx>, message: String },

    /// The client could not be set up.
    #[error("setting up the registry client: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status the registry answered with, when that is what failed.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } | Error::Unauthorized { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The operation context, when the error has one.
    pub fn ctx(&self) -> Option<&Ctx> {
        match self {
            Error::Status { ctx, .. }
            | Error::Unauthorized { ctx, .. }
            | Error::Transport { ctx, .. }
            | Error::Timeout { ctx, .. }
            | Error::DigestMismatch { ctx, .. }
            | Error::Io { ctx, .. }
            | Error::Protocol { ctx, .. } => Some(ctx),
            _ => None,
        }
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        if let Error::Status { ctx, .. }
        | Error::Transport { ctx, .. }
        | Error::Timeout { ctx, .. }
        | Error::DigestMismatch { ctx, .. }
        | Error::Protocol { ctx, .. } = self
        {
            ctx.attempts = attempts;
        }
    }

    pub(crate) fn io(ctx: &Ctx, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            ctx: Box::new(ctx.clone()),
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn protocol(ctx: &Ctx, message: impl Into<String>) -> Error {
        Error::Protocol {
            ctx: Box::new(ctx.clone()),
            message: message.into(),
        }
    }

    /// How long the registry asked us to wait (`Retry-After`).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether trying again could help (ggcr's list: 408, 429, 499, 5xx gateway codes, and
    /// connections that broke or timed out), plus stalls, and, for reads, bodies that ended
    /// early (a decode error is a body cut short) or hashed wrong: a GET is safe to repeat.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Error::Status { status, .. } => RETRYABLE_STATUSES.contains(status),
            Error::Timeout { .. } => true,
            Error::DigestMismatch { ctx, .. } => matches!(ctx.op, Op::GetBlob | Op::GetManifest),
            Error::Transport { ctx, source, .. } => {
                if find_rustls_error(source.as_ref()).is_some() {
                    return false;
                }
                // A refused connection on the very first contact means nothing listens there:
                // fail fast. Later, the registry was up, so a refusal is a restart or a blip.
                if ctx.op == Op::Ping && source.is_connect() && !source.is_timeout() {
                    return false;
                }
                source.is_timeout()
                    || source.is_connect()
                    || source.is_request()
                    || source.is_body()
                    || source.is_decode()
            }
            _ => false,
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `20s`, `1.5s`, `2m05s` for messages.
fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 && !ms.is_multiple_of(1000) {
        format!("{:.1}s", d.as_secs_f64())
    } else if d.as_secs() < 120 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// `url` with its userinfo and query removed: upload `_state` tokens and pre-signed URLs'
/// signatures must never reach a message or a log line.
pub(crate) fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        u.set_query(Some("REDACTED"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("REDACTED");
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// [`redact_url`] for text that may or may not be a URL (a header value).
pub(crate) fn redact_url_text(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(u) => redact_url(&u),
        Err(_) => match text.split_once('?') {
            Some((path, _)) => format!("{path}?REDACTED"),
            None => text.to_owned(),
        },
    }
}

pub(crate) const RETRYABLE_STATUSES: [u16; 8] = [408, 429, 499, 500, 502, 503, 504, 522];

/// Renders a reqwest error with its causes (reqwest's own Display stops at the first line).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    kiln_core::text::join_causes(without_url(e), std::error::Error::source(e))
}

fn without_url(e: &reqwest::Error) -> String {
    // The URL is already in the context; reqwest appends it as " for url (…)".
    let s = e.to_string();
    match s.find(" for url (") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// The rustls error somewhere in an error chain. `io::Error::source` skips the error it
/// wraps, so wrapped errors are looked into explicitly.
pub(crate) fn find_rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(r) = find_rustls_error(inner)
        {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_parsed_with_detail() {
        let body = br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:00"}]}"#;
        let e = parse_error_body(body);
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].to_string(),
            "BLOB_UNKNOWN: blob unknown to registry (sha256:00)"
        );
        let body = br#"{"errors":[{"code":"DENIED","message":"no","detail":{"a":1}}]}"#;
        assert_eq!(
            parse_error_body(body)[0].detail.as_deref(),
            Some(r#"{"a":1}"#)
        );
    }

    #[test]
    fn other_error_shapes_and_garbage() {
        assert_eq!(
            parse_error_body(br#"{"details":"incorrect username or password"}"#)[0].message,
            "incorrect username or password"
        );
        assert_eq!(
            parse_error_body(br#"{"error":"invalid_grant","error_description":"bad"}"#)[0]
                .to_string(),
            "invalid_grant: bad"
        );
        assert!(parse_error_body(b"<html>oops</html>").is_empty());
        assert!(parse_error_body(b"").is_empty());
        assert_eq!(
            body_excerpt(b"  <html>\n oops </html> ").as_deref(),
            Some("<html> oops </html>")
        );
        assert_eq!(body_excerpt(b" \n "), None);
        assert!(body_excerpt(&[b'x'; 1000]).unwrap().ends_with('…'));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after(" 2 ", now), Some(Duration::from_secs(2)));
        // 2015-10-21T07:28:00Z, i.e. now + 120 s.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn urls_lose_queries_and_userinfo() {
        let u =
            url::Url::parse("https://user:pw@storage.example/up/1?X-Amz-Signature=abc&_state=xyz")
                .unwrap();
        let r = redact_url(&u);
        assert_eq!(r, "https://REDACTED@storage.example/up/1?REDACTED");
        assert!(!r.contains("abc") && !r.contains("pw") && !r.contains("xyz"));
        assert_eq!(
            redact_url_text("/v2/a/blobs/uploads/1?_state=s"),
            "/v2/a/blobs/uploads/1?REDACTED"
        );
        assert_eq!(redact_url_text("/v2/a/"), "/v2/a/");
    }

    #[test]
    fn timeout_message_names_the_request_and_the_wait() {
        let e = Error::Timeout {
            ctx: Box::new(Ctx::new(
                Op::PushBlob,
                "r.example",
                Some("app"),
                Some("sha256:ab".into()),
            )),
            request: "PATCH https://r.example/v2/app/blobs/uploads/1?REDACTED".into(),
            phase: "waiting for the answer to",
            idle: Duration::from_secs(20),
            elapsed: Duration::from_secs(75),
        };
        assert_eq!(
            e.to_string(),
            "pushing blob sha256:ab to r.example/app: no progress for 20s while waiting for the answer \
             to PATCH https://r.example/v2/app/blobs/uploads/1?REDACTED (75s in all); the registry \
             may be stalled (set KILN_REGISTRY_TIMEOUT to wait longer)"
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn status_error_message_names_everything() {
        let mut e = Error::Status {
            ctx: Box::new(Ctx::new(
                Op::PushBlob,
                "127.0.0.1:5000",
                Some("app"),
                Some("sha256:ab".into()),
            )),
            status: 503,
            errors: parse_error_body(
                br#"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#,
            ),
            body: None,
            retry_after: None,
        };
        e.set_attempts(3);
        assert_eq!(
            e.to_string(),
            "pushing blob sha256:ab to 127.0.0.1:5000/app (gave up after 3 attempts): the registry answered \
             HTTP 503 Service Unavailable: UNAVAILABLE: try later"
        );
        assert!(e.is_retryable());
    }
}
