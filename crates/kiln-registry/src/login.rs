//! `kiln ko login` (go-containerregistry's `crane auth login`): stores credentials where
//! docker and this crate's own lookups ([`crate::credentials`]) find them.
//!
//! As crane does: the server is normalised (`docker.io` → Docker Hub's key
//! `https://index.docker.io/v1/`); the file is `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`; a `credHelpers` entry for the server, else `credsStore`, gets
//! the secret through `docker-credential-<helper> store`, otherwise `auths.<server>.auth`
//! holds base64 `user:password`. Every other field of the file is kept.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt as _;

use crate::credentials::{config_key, credential_helper, docker_config_file, login_helper};
use crate::{Env, Secret};

/// Why a login could not be stored; each names the file or program and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("username and password required: pass -u USER and --password-stdin (or -p)")]
    NoCredentials,
    #[error("`{0}` is not a registry host: pass e.g. `registry.example.com` or `docker.io`")]
    NotAHost(String),
    #[error(
        "neither DOCKER_CONFIG nor HOME is set: kiln cannot tell where docker's config.json is"
    )]
    NoConfigFile,
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("docker-credential-{helper} (named in {}) was not found on PATH", config.display())]
    HelperNotFound { helper: String, config: PathBuf },
    #[error("{} store {problem}", program.display())]
    HelperFailed { program: PathBuf, problem: String },
}

/// Where a login went: the server key and the config file.
#[derive(Debug)]
pub struct LoggedIn {
    pub server: String,
    pub config: PathBuf,
}

/// A helper that neither stores nor fails within this long is stopped.
const STORE_TIMEOUT: Duration = Duration::from_secs(60);

/// Stores `username`/`password` for `server` (a registry host) as crane does; every
/// program runs from `env`.
pub async fn login(
    env: &Env,
    server: &str,
    username: &str,
    password: &Secret,
) -> Result<LoggedIn, LoginError> {
    if username.is_empty() && password.expose().is_empty() {
        return Err(LoginError::NoCredentials);
    }
    let host = registry_host(server)?;
    let server = config_key(host);
    let path = docker_config_file(env).ok_or(LoginError::NoConfigFile)?;
    let mut config = read_config(&path)?;
    let helper = login_helper(&config, host).map_err(|e| LoginError::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    match helper {
        Some(helper) => {
            let program =
                credential_helper(env, &helper).ok_or_else(|| LoginError::HelperNotFound {
                    helper,
                    config: path.clone(),
                })?;
            store_in_helper(&program, env, &server, username, password, STORE_TIMEOUT).await?;
        }
        None => {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{}", password.expose()));
            let auths = config
                .entry("auths")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(auths) = auths else {
                return Err(LoginError::Config {
                    path,
                    message: "`auths` is not an object".to_owned(),
                });
            };
            let mut entry = Map::new();
            entry.insert("auth".into(), Value::String(auth));
            auths.insert(server.clone(), Value::Object(entry));
        }
    }
    // Written in both cases, as docker's `configfile.Save` does after a login.
    write_config(&path, &config)?;
    Ok(LoggedIn {
        server,
        config: path,
    })
}

/// The registry named on the command line: a host (`registry.example.com:5000`). A path or
/// a scheme is refused, as `name.NewRegistry` does.
fn registry_host(server: &str) -> Result<&str, LoginError> {
    let host = server.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') || host.contains(' ') {
        return Err(LoginError::NotAHost(server.to_owned()));
    }
    Ok(host)
}

fn read_config(path: &Path) -> Result<Map<String, Value>, LoginError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(LoginError::Config {
                path: path.to_owned(),
                message: "not a JSON object: fix or remove it, then log in again".to_owned(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(source) => Err(io("reading", path, source)),
    }
}

/// Written to a temporary file beside it, then renamed: a failed write leaves the old file.
/// Mode 0600, as docker writes it: it holds secrets.
fn write_config(path: &Path, config: &Map<String, Value>) -> Result<(), LoginError> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let mut text = serde_json::to_vec_pretty(config).unwrap_or_default();
    text.push(b'\n');
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| io("writing into", dir, e))?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(&text))
        .map_err(|e| io("writing", path, e))?;
    file.persist(path)
        .map_err(|e| io("writing", path, e.error))?;
    Ok(())
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> LoginError {
    LoginError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// `docker-credential-<helper> store` (`program`, started from `env`) with the credential
/// on stdin, stopped after `timeout`.
async fn store_in_helper(
    program: &Path,
    env: &Env,
    server: &str,
    user: &str,
    secret: &Secret,
    timeout: Duration,
) -> Result<(), LoginError> {
    let failed = |problem: String| LoginError::HelperFailed {
        program: program.to_owned(),
        problem,
    };
    let mut command = tokio::process::Command::new(program);
    env.apply(command.as_std_mut());
    let mut child = command
        .arg("store")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("could not start (docker's config names it): {e}")))?;
    let request =
        serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret.expose()});
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin fails below with its own message.
        let _ = stdin.write_all(request.to_string().as_bytes()).await;
    }
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| {
            failed(format!(
                "did not finish within {} s and was stopped",
                timeout.as_secs_f64()
            ))
        })?
        .map_err(|e| failed(format!("could not be waited for: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `docker-credential-test` script with `body`, in a fresh directory.
    fn helper(body: &str) -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-credential-test");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, path)
    }

    async fn store(program: &Path, timeout: Duration) -> Result<(), LoginError> {
        let env = Env::from_vars([("PATH", "/usr/bin:/bin")]);
        store_in_helper(
            program,
            &env,
            "r.example",
            "u",
            &Secret::new("s3cret"),
            timeout,
        )
        .await
    }

    #[tokio::test]
    async fn a_helper_that_hangs_is_stopped_at_the_deadline() {
        let (_dir, program) = helper("exec sleep 30");
        let started = std::time::Instant::now();
        let err = store(&program, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        let text = err.to_string();
        assert!(text.contains("did not finish within 0.3 s"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[tokio::test]
    async fn a_failing_helper_is_named_with_its_message_and_never_the_secret() {
        let (_dir, program) = helper("cat >/dev/null; echo 'keychain locked' >&2; exit 3");
        let text = store(&program, Duration::from_secs(10))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("docker-credential-test store failed"),
            "{text}"
        );
        assert!(
            text.contains("keychain locked") && !text.contains("s3cret"),
            "{text}"
        );
    }
}
