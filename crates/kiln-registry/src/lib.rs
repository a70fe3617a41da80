//! kiln's OCI distribution client: the only crate in kiln that speaks HTTP.
//!
//! It follows go-containerregistry's push protocol, which is what ko uses
//! (ko-skaffold-facts.md §4):
//!
//! * blobs: `HEAD` → optional cross-repo mount (`POST ?mount=&from=`; a 202 answer is used as
//!   the upload session) → `POST` → one streaming `PATCH` → `PUT ?digest=`;
//! * manifests: `HEAD` the tag first and skip the `PUT` when the digest is already there;
//! * concurrent pushes of the same blob to the same repository share one upload;
//! * retries: 3 attempts, 1 s × 3ⁿ backoff with 10 % jitter (or the registry's `Retry-After`,
//!   up to a minute), on 408/429/499/5xx-gateway codes, broken connections, stalls and
//!   bodies that end early; a retried upload restarts from the `HEAD`, a retried download
//!   resumes with `Range` where the registry allows it; no retry starts after the operation's
//!   deadline ([`Timeouts`]);
//! * deadlines: every request and body read fails after [`Timeouts::idle`] without progress
//!   (`KILN_REGISTRY_TIMEOUT`); an upload that keeps moving is never cut;
//! * auth: anonymous, Basic, and Bearer tokens with every scope an operation needs (mounts need
//!   `pull` on the source repository), the OAuth2 refresh-token grant for identity tokens,
//!   credentials from docker/podman config files and credential helpers;
//! * TLS: system roots + `SSL_CERT_FILE` + `certs.d/<host>/*.crt`; `--insecure-registry`
//!   skips verification and allows plain HTTP; loopback and `*.local` registries fall back to
//!   plain HTTP when that is what the port speaks.
//!
//! Architecture invariants: nothing here prints (tracing only), and no credential ever reaches
//! an error, a `Debug` rendering or a log line ([`Secret`]).

mod challenge;
mod client;
mod credentials;
mod error;
mod login;
mod secret;
mod tls;
mod transport;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiln_core::Digest;

pub use challenge::{Challenge, parse as parse_www_authenticate};
pub use client::Client;
pub use credentials::{config_key, credential_helper, docker_config_file, login_helper};
pub use error::{AuthInfo, Ctx, Error, Op, RegistryErrorEntry};
pub use kiln_core::env::Env;
pub use login::{LoggedIn, LoginError, login};
pub use secret::Secret;

/// Receives [`RegistryEvent`]s (progress bars, logs). Called inline: keep it cheap.
pub type RegistryEventSink = Arc<dyn Fn(RegistryEvent) + Send + Sync>;

/// How the [`Client`] is set up.
#[derive(Clone)]
pub struct ClientOptions {
    /// `host[:port]` prefixes (Skaffold's plain string-prefix rule): TLS verification is
    /// skipped and plain HTTP is allowed for matching registries.
    pub insecure_registries: Vec<String>,
    pub user_agent: String,
    /// Where `DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME`,
    /// `HOME`, `SSL_CERT_FILE` and `PATH` (for credential helpers) are read from.
    pub env: Env,
    /// Directories holding `<host[:port]>/*.crt` CA files.
    pub certs_dirs: Vec<PathBuf>,
    pub events: Option<RegistryEventSink>,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
}

impl ClientOptions {
    /// Defaults read from `env`: the standard `certs.d` directories, 3 attempts with 1 s
    /// base backoff, no insecure registries.
    pub fn with_env(user_agent: impl Into<String>, env: Env) -> ClientOptions {
        ClientOptions {
            insecure_registries: Vec::new(),
            user_agent: user_agent.into(),
            certs_dirs: Self::default_certs_dirs(&env),
            events: None,
            retry: RetryPolicy::default(),
            // A bad value is reported by `Client::new`.
            timeouts: Timeouts::from_env(&env).unwrap_or_default(),
            env,
        }
    }

    /// `/etc/docker/certs.d`, `/etc/containers/certs.d` and `~/.config/containers/certs.d`.
    pub fn default_certs_dirs(env: &Env) -> Vec<PathBuf> {
        let mut dirs = vec![
            PathBuf::from("/etc/docker/certs.d"),
            PathBuf::from("/etc/containers/certs.d"),
        ];
        dirs.extend(
            env.path("HOME")
                .map(|h| h.join(".config").join("containers").join("certs.d")),
        );
        dirs
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("insecure_registries", &self.insecure_registries)
            .field("user_agent", &self.user_agent)
            .field("env", &self.env)
            .field("certs_dirs", &self.certs_dirs)
            .field("events", &self.events.as_ref().map(|_| "<fn>"))
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// Deadlines for registry traffic. A stalled registry fails an attempt after `idle`; a
/// transfer that keeps moving is never cut, however long it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (TCP and TLS).
    pub connect: Duration,
    /// The longest wait without progress: for a response once the request body is sent, and
    /// for each read of a response body. Body bytes handed to the connection reset it.
    pub idle: Duration,
    /// The retry budget of one operation (all its attempts and waits): no retry starts, and
    /// no `Retry-After` is waited for, past it. Never cuts an attempt that is moving.
    pub operation: Duration,
}

/// The variable that sets [`Timeouts::idle`] (and caps `connect`): `30s`, `2m`, `1500ms`, `45`.
pub const TIMEOUT_VAR: &str = "KILN_REGISTRY_TIMEOUT";

impl Default for Timeouts {
    /// Three stalled attempts (20 s each, 1 s and 3 s apart) fail in about a minute.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(15),
            idle: Duration::from_secs(20),
            operation: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    /// The defaults with `idle` (and at most as much `connect`) from `KILN_REGISTRY_TIMEOUT`.
    pub fn from_env(env: &Env) -> Result<Timeouts, Error> {
        let mut t = Timeouts::default();
        let Some(raw) = env.get(TIMEOUT_VAR).filter(|v| !v.is_empty()) else {
            return Ok(t);
        };
        let idle = parse_duration(raw)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{TIMEOUT_VAR}=`{raw}` is not a duration; write e.g. `30s`, `2m` or `1500ms`"
                ))
            })?;
        t.idle = idle;
        t.connect = t.connect.min(idle);
        Ok(t)
    }
}

/// `1500ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    Some(Duration::from_millis(n.checked_mul(ms)?))
}

/// Retry schedule: `attempts` tries in all, waiting `base_delay × factorⁿ` (± `jitter`)
/// between them. ggcr's defaults: 3 tries, 1 s, ×3, 10 %.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub factor: u32,
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            factor: 3,
            jitter: 0.1,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        use std::hash::{BuildHasher as _, Hasher as _};
        let exp = self.factor.saturating_pow(attempt.saturating_sub(1)).max(1);
        let base = self.base_delay.saturating_mul(exp);
        // A fresh RandomState is randomly keyed: good enough for jitter, no rand crate.
        let r = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let unit = (r >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        let scale = 1.0 + self.jitter.clamp(0.0, 1.0) * (2.0 * unit - 1.0);
        base.mul_f64(scale.max(0.0))
    }
}

/// Progress and decisions, for UIs and logs.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RegistryEvent {
    /// A local registry answered on plain HTTP (after HTTPS failed), and will be used so.
    PlainHttp {
        registry: String,
    },
    /// Bytes of a blob upload handed to the connection so far.
    BlobProgress {
        repository: String,
        digest: Digest,
        bytes_sent: u64,
        total: u64,
    },
    /// `HEAD` found the blob: nothing uploaded.
    BlobSkipped {
        repository: String,
        digest: Digest,
        size: u64,
    },
    /// The registry mounted the blob from another repository.
    BlobMounted {
        repository: String,
        digest: Digest,
        from: String,
    },
    BlobUploaded {
        repository: String,
        digest: Digest,
        size: u64,
    },
    /// The tag already pointed at this manifest: no `PUT`.
    ManifestSkipped {
        reference: String,
        digest: Digest,
    },
    ManifestPushed {
        reference: String,
        digest: Digest,
    },
    /// An attempt failed and will be retried after `delay`.
    Retrying {
        what: String,
        attempt: u32,
        max_attempts: u32,
        delay: Duration,
        reason: String,
    },
}

/// A blob to push: its identity and where its bytes are.
#[derive(Clone, Debug)]
pub struct BlobUpload {
    pub digest: Digest,
    pub size: u64,
    pub source: BlobSource,
}

#[derive(Clone, Debug)]
pub enum BlobSource {
    /// Streamed from disk (re-opened on every attempt), never read into memory whole.
    File(PathBuf),
    Bytes(bytes::Bytes),
}

impl BlobUpload {
    /// A blob held in memory; digest and size are computed.
    pub fn from_bytes(data: impl Into<bytes::Bytes>) -> BlobUpload {
        let data = data.into();
        BlobUpload {
            digest: Digest::of(&data),
            size: data.len() as u64,
            source: BlobSource::Bytes(data),
        }
    }

    /// A blob on disk whose digest and size the caller already knows (from writing it).
    pub fn from_file(path: impl Into<PathBuf>, digest: Digest, size: u64) -> BlobUpload {
        BlobUpload {
            digest,
            size,
            source: BlobSource::File(path.into()),
        }
    }
}

/// What [`Client::push_blob`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobPush {
    AlreadyPresent,
    Mounted,
    Uploaded,
}

/// A manifest (or index) as the registry sent it: exact bytes, so the digest holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    /// The `Content-Type` the registry answered with (parameters stripped).
    pub media_type: String,
    pub digest: Digest,
}

/// What a manifest `HEAD` tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// Checks that `bytes` hash to `expected`.
pub fn verify_digest(ctx: &Ctx, expected: &Digest, bytes: &[u8]) -> Result<(), Error> {
    let actual = Digest::of(bytes);
    if &actual == expected {
        Ok(())
    } else {
        Err(Error::DigestMismatch {
            ctx: Box::new(ctx.clone()),
            expected: expected.clone(),
            actual: actual.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_three_with_bounded_jitter() {
        let p = RetryPolicy::default();
        for (attempt, secs) in [(1, 1.0), (2, 3.0), (3, 9.0)] {
            for _ in 0..50 {
                let d = p.delay(attempt).as_secs_f64();
                assert!(
                    d >= secs * 0.9 - 1e-9 && d <= secs * 1.1 + 1e-9,
                    "{attempt}: {d}"
                );
            }
        }
        let fast = RetryPolicy {
            base_delay: Duration::from_millis(10),
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(fast.delay(2), Duration::from_millis(30));
    }

    /// Every operation's future can be spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send(
        c: &Client,
        r: &kiln_core::Reference,
        d: &Digest,
        b: &BlobUpload,
        p: &std::path::Path,
    ) {
        fn send<T: Send>(_: &T) {}
        send(&c.get_manifest(r, &[]));
        send(&c.head_manifest(r));
        send(&c.get_blob_bytes(r, d));
        send(&c.download_blob(r, d, p));
        send(&c.blob_exists(r, d));
        send(&c.push_blob(r, b, Some(r)));
        send(&c.put_manifest(r, "", &[]));
        send(&c.supports_referrers(r, d));
        send(c);
    }

    #[test]
    fn registry_timeout_variable() {
        let env = |v: &str| Env::from_vars([(TIMEOUT_VAR, v)]);
        assert_eq!(
            Timeouts::from_env(&Env::from_vars::<_, &str, &str>([])).unwrap(),
            Timeouts::default()
        );
        let t = Timeouts::from_env(&env("5s")).unwrap();
        assert_eq!(
            (t.idle, t.connect),
            (Duration::from_secs(5), Duration::from_secs(5))
        );
        assert_eq!(
            Timeouts::from_env(&env("2m")).unwrap().idle,
            Duration::from_secs(120)
        );
        assert_eq!(
            Timeouts::from_env(&env("45")).unwrap().idle,
            Duration::from_secs(45)
        );
        assert_eq!(
            Timeouts::from_env(&env("1500ms")).unwrap().idle,
            Duration::from_millis(1500)
        );
        for bad in ["soon", "0", "5 parsecs", "-3s"] {
            let e = Timeouts::from_env(&env(bad)).unwrap_err().to_string();
            assert!(e.contains(TIMEOUT_VAR) && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn verify_digest_detects_tampering() {
        let ctx = Ctx::new(Op::GetManifest, "r.example", Some("app"), Some("v1".into()));
        let good = b"{\"schemaVersion\":2}";
        let d = Digest::of(good);
        verify_digest(&ctx, &d, good).unwrap();
        let err = verify_digest(&ctx, &d, b"{\"schemaVersion\":3}").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::DigestMismatch { .. }));
        assert!(
            msg.contains(&d.to_string()) && msg.contains("r.example/app:v1"),
            "{msg}"
        );
    }
}
