//! `kiln ko login` and `kiln ko version`: ko's `login` (go-containerregistry's `crane auth
//! login`) stores credentials where docker and kiln's registry client look for them.
//!
//! As crane does: the server is normalised (`docker.io` → Docker Hub's key
//! `https://index.docker.io/v1/`); the file is `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`; a `credHelpers` entry for the server, else `credsStore`, gets
//! the secret through `docker-credential-<helper> store`, otherwise `auths.<server>.auth`
//! holds base64 `user:password`. Every other field of the file is kept. The file, the key
//! and the helper are kiln-registry's (`credentials.rs`), so the push that follows reads
//! what this wrote.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use kiln_registry::Env;
use serde_json::{Map, Value};

use crate::cli::KoLoginArgs;
use crate::printer;

pub fn version() -> anyhow::Result<()> {
    printer::stdout_line(env!("CARGO_PKG_VERSION"));
    Ok(())
}

pub fn login(args: KoLoginArgs, env: &Env) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        if args.password.is_some() {
            bail!("--password and --password-stdin are exclusive: pass one");
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from standard input")?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.strip_suffix('\r').unwrap_or(text).to_owned()
    } else {
        args.password.clone().unwrap_or_default()
    };
    let username = args.username.clone().unwrap_or_default();
    if username.is_empty() && password.is_empty() {
        bail!("username and password required: pass -u USER and --password-stdin (or -p)");
    }
    let host = registry_host(&args.server)?;
    let server = kiln_registry::config_key(host);
    let path = kiln_registry::docker_config_file(env).context(
        "neither DOCKER_CONFIG nor HOME is set: kiln cannot tell where docker's config.json is",
    )?;
    let mut config = read_config(&path)?;
    let helper = kiln_registry::login_helper(&config, host)
        .with_context(|| format!("reading {}", path.display()))?;
    match helper {
        Some(helper) => {
            let program = kiln_registry::credential_helper(env, &helper).with_context(|| {
                format!(
                    "docker-credential-{helper} (named in {}) was not found on PATH",
                    path.display()
                )
            })?;
            store_in_helper(&program, env, &server, &username, &password)?
        }
        None => {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            let auths = config
                .entry("auths")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(auths) = auths else {
                bail!("{}: `auths` is not an object", path.display());
            };
            let mut entry = Map::new();
            entry.insert("auth".into(), Value::String(auth));
            auths.insert(server.clone(), Value::Object(entry));
        }
    }
    write_config(&path, &config)?;
    printer::info(&format!("logged in to {server} via {}", path.display()));
    Ok(())
}

/// The registry named on the command line: a host (`registry.example.com:5000`). A path or
/// a scheme is refused, as `name.NewRegistry` does.
fn registry_host(server: &str) -> anyhow::Result<&str> {
    let host = server.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') || host.contains(' ') {
        bail!("`{server}` is not a registry host: pass e.g. `registry.example.com` or `docker.io`");
    }
    Ok(host)
}

fn read_config(path: &PathBuf) -> anyhow::Result<Map<String, Value>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => bail!(
                "{} is not a JSON object: fix or remove it, then log in again",
                path.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Written to a temporary file beside it, then renamed: a failed write leaves the old file.
/// Mode 0600, as docker writes it: it holds secrets.
fn write_config(path: &PathBuf, config: &Map<String, Value>) -> anyhow::Result<()> {
    let dir = path.parent().context("config.json has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = serde_json::to_vec_pretty(config)?;
    text.push(b'\n');
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(&text)?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `docker-credential-<helper> store` (`program`, started from `env`) with the credential
/// on stdin.
fn store_in_helper(
    program: &Path,
    env: &Env,
    server: &str,
    user: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let mut child = env
        .apply(&mut std::process::Command::new(program))
        .arg("store")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {} (docker's config names it)", program.display()))?;
    let request = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
    child
        .stdin
        .take()
        .context("credential helper stdin")?
        .write_all(request.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "{} store failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
