//! Credentials from docker `config.json` and containers `auth.json`, as ggcr's
//! `authn.DefaultKeychain` finds them (ko-skaffold-facts.md §4.2).
//!
//! Files, in order (the first file with an entry for the registry wins):
//! 1. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`;
//! 2. `$REGISTRY_AUTH_FILE`;
//! 3. `$XDG_RUNTIME_DIR/containers/auth.json`;
//! 4. `$XDG_CONFIG_HOME/containers/auth.json` (else `~/.config/containers/auth.json`).
//!
//! ggcr stops at the first file that exists; continuing to the next file when the first has
//! no entry for the registry is a deliberate superset (podman users with a docker config).
//!
//! Within a file, keys are tried as `<registry>/<repository>` first, then `<registry>`
//! (Docker Hub: `https://index.docker.io/v1/` and its aliases), each through `credHelpers`,
//! then `credsStore`, then `auths` (with or without `https://` and a `/v1/` suffix).
//!
//! `kiln ko login` writes where this module reads: [`docker_config_file`], under
//! [`config_key`], through [`login_helper`] found by [`credential_helper`].

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kiln_core::reference::DOCKER_HUB;
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

use crate::error::Error;
use crate::{Env, Secret};

/// What to authenticate with.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) enum Credential {
    #[default]
    Anonymous,
    /// Username and password, sent as Basic auth or exchanged for a token.
    Basic { username: String, password: Secret },
    /// An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user), exchanged
    /// with `grant_type=refresh_token`.
    IdentityToken(Secret),
    /// A registry bearer token, sent as is.
    RegistryToken(Secret),
}

/// A credential and where it came from (for messages; never the secret itself).
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub credential: Credential,
    pub source: String,
}

impl Resolved {
    pub fn username(&self) -> Option<String> {
        match &self.credential {
            Credential::Basic { username, .. } => Some(username.clone()),
            _ => None,
        }
    }
}

/// Docker Hub's key in config files, as docker and crane write it.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(flatten)]
    helpers: Helpers,
}

/// The credential helpers a config file names.
#[derive(Deserialize, Default)]
struct Helpers {
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

impl Helpers {
    /// `credHelpers`' entry for `registry` (keys compared as lookups compare them), else
    /// `credsStore`.
    fn for_registry(&self, registry: &str) -> Option<&str> {
        registry_keys(registry)
            .iter()
            .find_map(|key| find_entry(&self.cred_helpers, key))
            .map(|(_, helper)| helper.as_str())
            .filter(|h| !h.is_empty())
            .or(self.creds_store.as_deref().filter(|s| !s.is_empty()))
    }
}

// No Debug: it holds secrets.
#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<Secret>,
    username: Option<String>,
    password: Option<Secret>,
    identitytoken: Option<Secret>,
    registrytoken: Option<Secret>,
}

/// Docker's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; `None`
/// when neither variable is set. The first file searched, and the one `docker login` (and
/// `kiln ko login`) writes.
pub fn docker_config_file(env: &Env) -> Option<PathBuf> {
    match env.path("DOCKER_CONFIG") {
        Some(dir) => Some(dir.join("config.json")),
        None => env
            .path("HOME")
            .map(|h| h.join(".docker").join("config.json")),
    }
}

/// The files searched, in order (existing or not).
pub(crate) fn config_files(env: &Env) -> Vec<PathBuf> {
    let home = env.path("HOME");
    let mut files = Vec::new();
    files.extend(docker_config_file(env));
    files.extend(env.path("REGISTRY_AUTH_FILE"));
    files.extend(
        env.path("XDG_RUNTIME_DIR")
            .map(|d| d.join("containers").join("auth.json")),
    );
    match env.path("XDG_CONFIG_HOME") {
        Some(dir) => files.push(dir.join("containers").join("auth.json")),
        None => files.extend(home.map(|h| h.join(".config").join("containers").join("auth.json"))),
    }
    files
}

fn is_docker_hub(registry: &str) -> bool {
    matches!(registry, DOCKER_HUB | "docker.io" | "registry-1.docker.io")
}

/// The key docker writes `registry`'s credentials under: Docker Hub's names all map to its
/// historical `https://index.docker.io/v1/`; any other registry is its own `host[:port]`.
pub fn config_key(registry: &str) -> String {
    if is_docker_hub(registry) {
        DOCKER_HUB_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// Keys to look up, most specific first.
fn lookup_keys(registry: &str, repository: &str) -> Vec<String> {
    let mut keys = if is_docker_hub(registry) {
        vec![
            format!("{DOCKER_HUB}/{repository}"),
            format!("docker.io/{repository}"),
        ]
    } else {
        vec![format!("{registry}/{repository}")]
    };
    keys.extend(registry_keys(registry));
    keys
}

/// The keys naming the whole registry, its [`config_key`] first.
fn registry_keys(registry: &str) -> Vec<String> {
    if is_docker_hub(registry) {
        [
            DOCKER_HUB_KEY,
            DOCKER_HUB,
            "docker.io",
            "registry-1.docker.io",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        vec![registry.to_owned()]
    }
}

/// The credential helper that holds `registry`'s secret according to a config file's
/// contents (its `credHelpers` entry, else `credsStore`), or `None` when the secret belongs
/// in `auths`: where `kiln ko login` stores it, so that lookups find it.
pub fn login_helper(
    config: &serde_json::Map<String, serde_json::Value>,
    registry: &str,
) -> Result<Option<String>, Error> {
    let helpers: Helpers = serde_json::from_value(serde_json::Value::Object(config.clone()))
        .map_err(|e| {
            cred_err(
                registry,
                format!("`credHelpers` or `credsStore` is not what docker writes: {e}"),
            )
        })?;
    Ok(helpers.for_registry(registry).map(str::to_owned))
}

/// `https://host/v1/` → `host`; `host/repo` stays.
fn normalize_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    k.strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k)
}

fn find_entry<'a, V>(map: &'a HashMap<String, V>, key: &str) -> Option<(&'a String, &'a V)> {
    map.get_key_value(key).or_else(|| {
        map.iter()
            .find(|(k, _)| normalize_key(k) == normalize_key(key))
    })
}

fn cred_err(registry: &str, message: impl Into<String>) -> Error {
    Error::Credentials {
        registry: registry.to_owned(),
        message: message.into(),
    }
}

fn entry_credential(
    registry: &str,
    file: &Path,
    key: &str,
    e: &AuthEntry,
) -> Result<Option<Credential>, Error> {
    let nonempty = |s: &Option<Secret>| s.as_ref().filter(|s| !s.expose().is_empty()).cloned();
    if let Some(t) = nonempty(&e.identitytoken) {
        return Ok(Some(Credential::IdentityToken(t)));
    }
    if let Some(t) = nonempty(&e.registrytoken) {
        return Ok(Some(Credential::RegistryToken(t)));
    }
    if let Some(auth) = nonempty(&e.auth) {
        let bad = || {
            cred_err(
                registry,
                format!(
                    "the `auth` value for `{key}` in {} is not base64 of `user:password`",
                    file.display()
                ),
            )
        };
        let raw = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
            .decode(auth.expose().trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (user, pass) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credential::Basic {
            username: user.to_owned(),
            password: Secret::new(pass),
        }));
    }
    match (&e.username, nonempty(&e.password)) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::Basic {
            username: u.clone(),
            password: p,
        })),
        _ => Ok(None),
    }
}

/// Finds the credential for `registry`/`repository`, running credential helpers as needed.
pub(crate) async fn resolve(
    env: &Env,
    registry: &str,
    repository: &str,
) -> Result<Resolved, Error> {
    let keys = lookup_keys(registry, repository);
    for file in config_files(env) {
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(cred_err(
                    registry,
                    format!("reading {}: {e}", file.display()),
                ));
            }
        };
        // serde_json's messages name a line and column, never the offending value.
        let cfg: ConfigFile = serde_json::from_slice(&text)
            .map_err(|e| cred_err(registry, format!("parsing {}: {e}", file.display())))?;
        let helpers = &cfg.helpers;
        // A store is asked for the repository's key and the registry's own key only.
        let store_keys = [keys[0].clone(), config_key(registry)];
        for key in &keys {
            if let Some((server, helper)) = find_entry(&helpers.cred_helpers, key)
                && !helper.is_empty()
            {
                let source = format!(
                    "docker-credential-{helper} (credHelpers in {})",
                    file.display()
                );
                if let Some(c) = run_helper(env, helper, server, registry, &file).await? {
                    return Ok(Resolved {
                        credential: c,
                        source,
                    });
                }
            }
            if let Some(store) = helpers.creds_store.as_deref().filter(|s| !s.is_empty())
                && store_keys.contains(key)
                && let Some(c) = run_helper(env, store, key, registry, &file).await?
            {
                let source = format!(
                    "docker-credential-{store} (credsStore in {})",
                    file.display()
                );
                return Ok(Resolved {
                    credential: c,
                    source,
                });
            }
            if let Some((k, entry)) = find_entry(&cfg.auths, key)
                && let Some(c) = entry_credential(registry, &file, k, entry)?
            {
                return Ok(Resolved {
                    credential: c,
                    source: file.display().to_string(),
                });
            }
        }
    }
    Ok(Resolved {
        credential: Credential::Anonymous,
        source: "anonymous".to_owned(),
    })
}

/// `docker-credential-<name>` on the environment's `PATH`.
pub fn credential_helper(env: &Env, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let exe = format!("docker-credential-{name}");
    env.path_candidates(&exe).into_iter().find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: Option<Secret>,
}

/// Runs `docker-credential-<name> get` with `server` on stdin (the docker-credential-helpers
/// protocol). "credentials not found" is `Ok(None)`.
async fn run_helper(
    env: &Env,
    name: &str,
    server: &str,
    registry: &str,
    file: &Path,
) -> Result<Option<Credential>, Error> {
    let exe = format!("docker-credential-{name}");
    let path = credential_helper(env, name).ok_or_else(|| {
        cred_err(
            registry,
            format!(
                "{exe} (configured in {}) was not found on PATH",
                file.display()
            ),
        )
    })?;
    let mut command = tokio::process::Command::new(&path);
    env.apply(command.as_std_mut());
    command
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let started = std::time::Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| cred_err(registry, format!("running {}: {e}", path.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(server.as_bytes()).await;
    }
    let out = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output()).await;
    let outcome =
        kiln_core::command::outcome(out.as_ref().ok().map(|r| r.as_ref().map(|o| o.status)));
    let std = command.as_std();
    let ran = kiln_core::command::CommandLine::new(
        std.get_program(),
        std.get_args(),
        std.get_current_dir(),
        env.changes(std.get_envs()),
    )
    .describe_run(&outcome, started.elapsed());
    tracing::debug!("ran {ran}");
    let out = out
        .map_err(|_| {
            cred_err(
                registry,
                format!("{exe} get did not finish within {HELPER_TIMEOUT:?}"),
            )
        })?
        .map_err(|e| cred_err(registry, format!("running {exe}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.contains("credentials not found") || stderr.contains("credentials not found") {
            return Ok(None);
        }
        // stdout is never quoted: on success it carries the secret.
        let first_line = stderr
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(cred_err(
            registry,
            format!(
                "{exe} get failed ({}){}",
                out.status,
                if first_line.is_empty() {
                    String::new()
                } else {
                    format!(": {first_line}")
                }
            ),
        ));
    }
    let reply: HelperReply = serde_json::from_slice(&out.stdout).map_err(|_| {
        cred_err(
            registry,
            format!("{exe} get printed something that is not its JSON reply"),
        )
    })?;
    let Some(secret) = reply.secret.filter(|s| !s.expose().is_empty()) else {
        return Ok(None);
    };
    Ok(Some(if reply.username == "<token>" {
        Credential::IdentityToken(secret)
    } else {
        Credential::Basic {
            username: reply.username,
            password: secret,
        }
    }))
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Anonymous => f.write_str("anonymous"),
            Credential::Basic { username, .. } => write!(f, "user `{username}`"),
            Credential::IdentityToken(_) => f.write_str("an identity token"),
            Credential::RegistryToken(_) => f.write_str("a registry token"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    async fn get(env: &Env, reg: &str, repo: &str) -> Credential {
        resolve(env, reg, repo).await.unwrap().credential
    }

    fn basic(u: &str, p: &str) -> Credential {
        Credential::Basic {
            username: u.into(),
            password: Secret::new(p),
        }
    }

    #[tokio::test]
    async fn docker_config_keys_and_precedence() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(
            d,
            "docker/config.json",
            &format!(
                r#"{{"auths": {{
                    "r.example:5000/team/app": {{"auth": "{}"}},
                    "https://r.example:5000": {{"auth": "{}"}},
                    "https://index.docker.io/v1/": {{"username": "hub", "password": "hp"}},
                    "tok.example": {{"identitytoken": "idt"}},
                    "empty.example": {{}}
                }}}}"#,
                b64("team:tp"),
                b64("reg:rp:with:colons")
            ),
        );
        let env = Env::from_vars([
            ("DOCKER_CONFIG", d.join("docker")),
            ("HOME", d.join("nohome")),
        ]);
        assert_eq!(
            get(&env, "r.example:5000", "team/app").await,
            basic("team", "tp")
        );
        assert_eq!(
            get(&env, "r.example:5000", "other").await,
            basic("reg", "rp:with:colons")
        );
        assert_eq!(
            get(&env, DOCKER_HUB, "library/golang").await,
            basic("hub", "hp")
        );
        assert_eq!(
            get(&env, "tok.example", "x").await,
            Credential::IdentityToken(Secret::new("idt"))
        );
        assert_eq!(get(&env, "empty.example", "x").await, Credential::Anonymous);
        assert_eq!(
            get(&env, "unknown.example", "x").await,
            Credential::Anonymous
        );
        let r = resolve(&env, "r.example:5000", "other").await.unwrap();
        assert!(r.source.ends_with("config.json"), "{}", r.source);
    }

    #[tokio::test]
    async fn falls_through_to_podman_auth_files_and_home() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(d, "home/.docker/config.json", r#"{"auths": {}}"#);
        write(
            d,
            "run/containers/auth.json",
            &format!(
                r#"{{"auths": {{"p.example": {{"auth": "{}"}}}}}}"#,
                b64("pod:pp")
            ),
        );
        write(
            d,
            "home/.config/containers/auth.json",
            &format!(
                r#"{{"auths": {{"q.example": {{"auth": "{}"}}}}}}"#,
                b64("q:qp")
            ),
        );
        let env = Env::from_vars([("HOME", d.join("home")), ("XDG_RUNTIME_DIR", d.join("run"))]);
        assert_eq!(get(&env, "p.example", "x").await, basic("pod", "pp"));
        assert_eq!(get(&env, "q.example", "x").await, basic("q", "qp"));
        let files = config_files(&env);
        assert_eq!(files[0], d.join("home/.docker/config.json"));
        assert_eq!(files.len(), 3);
    }

    #[tokio::test]
    async fn broken_config_is_an_error_without_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            "config.json",
            r#"{"auths": {"x.example": {"auth": "!!!hunter2!!!"}}}"#,
        );
        let env = Env::from_vars([("DOCKER_CONFIG", tmp.path())]);
        let err = resolve(&env, "x.example", "r")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not base64") && !err.contains("hunter2"),
            "{err}"
        );
        write(tmp.path(), "config.json", r#"{"auths": "#);
        let err = resolve(&env, "x.example", "r")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("parsing"), "{err}");
    }

    #[test]
    fn key_normalisation() {
        assert_eq!(
            normalize_key("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(normalize_key("http://h:5000/"), "h:5000");
        assert_eq!(normalize_key("h:5000/team/app"), "h:5000/team/app");
        assert_eq!(lookup_keys("h:1", "a/b"), ["h:1/a/b", "h:1"]);
        assert_eq!(
            lookup_keys("docker.io", "library/go"),
            [
                "index.docker.io/library/go",
                "docker.io/library/go",
                "https://index.docker.io/v1/",
                "index.docker.io",
                "docker.io",
                "registry-1.docker.io",
            ]
        );
        for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(config_key(hub), "https://index.docker.io/v1/");
        }
        assert_eq!(config_key("r.example:5000"), "r.example:5000");
    }

    #[test]
    fn login_writes_to_the_file_lookups_read_first() {
        let env = Env::from_vars([("DOCKER_CONFIG", "/d"), ("HOME", "/h")]);
        assert_eq!(docker_config_file(&env), Some("/d/config.json".into()));
        assert_eq!(config_files(&env)[0], PathBuf::from("/d/config.json"));
        let env = Env::from_vars([("DOCKER_CONFIG", ""), ("HOME", "/h")]);
        assert_eq!(
            docker_config_file(&env),
            Some("/h/.docker/config.json".into())
        );
        assert_eq!(
            docker_config_file(&Env::from_vars([("PATH", "/bin")])),
            None
        );
    }

    #[test]
    fn the_login_helper_is_the_one_lookups_would_run() {
        let config = |json: &str| match serde_json::from_str(json).unwrap() {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("test input is an object"),
        };
        // credHelpers keys are compared as lookups compare them: scheme and /v1/ aside.
        let c = config(
            r#"{"credHelpers": {"https://r.example:5000": "pass", "https://index.docker.io/v1/": "hub"},
                "credsStore": "desktop", "auths": {}}"#,
        );
        assert_eq!(
            login_helper(&c, "r.example:5000").unwrap().as_deref(),
            Some("pass")
        );
        assert_eq!(
            login_helper(&c, "docker.io").unwrap().as_deref(),
            Some("hub")
        );
        assert_eq!(
            login_helper(&c, "q.example").unwrap().as_deref(),
            Some("desktop")
        );
        let c = config(r#"{"credHelpers": {"docker.io": "hub"}}"#);
        assert_eq!(
            login_helper(&c, "index.docker.io").unwrap().as_deref(),
            Some("hub")
        );
        let c = config(r#"{"credHelpers": {"q.example": ""}, "credsStore": ""}"#);
        assert_eq!(login_helper(&c, "q.example").unwrap(), None);
        assert_eq!(login_helper(&config("{}"), "q.example").unwrap(), None);
        let err = login_helper(&config(r#"{"credHelpers": ["pass"]}"#), "q.example")
            .unwrap_err()
            .to_string();
        assert!(err.contains("credHelpers"), "{err}");
    }

    #[test]
    fn debug_of_credentials_is_redacted() {
        let c = basic("u", "hunter2");
        assert!(!format!("{c:?} {c}").contains("hunter2"));
        let c = Credential::IdentityToken(Secret::new("hunter2"));
        assert!(!format!("{c:?} {c}").contains("hunter2"));
    }
}
