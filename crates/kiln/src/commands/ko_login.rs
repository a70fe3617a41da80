//! `kiln ko login` and `kiln ko version`: ko's `login` (go-containerregistry's `crane auth
//! login`) stores credentials where docker and kiln's registry client look for them.
//!
//! As crane does: the server is normalised (`docker.io` → Docker Hub's key
//! `https://index.docker.io/v1/`); the file is `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`; a `credHelpers` entry for the server, else `credsStore`, gets
//! the secret through `docker-credential-<helper> store`, otherwise `auths.<server>.auth`
//! holds base64 `user:password`. Every other field of the file is kept.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::cli::KoLoginArgs;
use crate::printer;

/// Docker Hub's key in config.json, as docker and crane write it.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

pub fn version() -> anyhow::Result<()> {
    printer::stdout_line(env!("CARGO_PKG_VERSION"));
    Ok(())
}

pub fn login(args: KoLoginArgs, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
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
    let server = server_key(&args.server)?;
    let path = config_path(env)?;
    let mut config = read_config(&path)?;
    match helper_for(&config, &server) {
        Some(helper) => store_in_helper(&helper, &server, &username, &password)?,
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

/// The registry's key: a host (`registry.example.com:5000`), Docker Hub's aliases mapped
/// to its historical key. A path or a scheme is refused, as `name.NewRegistry` does.
fn server_key(server: &str) -> anyhow::Result<String> {
    let host = server.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') || host.contains(' ') {
        bail!("`{server}` is not a registry host: pass e.g. `registry.example.com` or `docker.io`");
    }
    Ok(match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_owned(),
        _ => host.to_owned(),
    })
}

fn config_path(env: &BTreeMap<String, String>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = env.get("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("config.json"));
    }
    match env.get("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".docker").join("config.json")),
        None => bail!(
            "neither DOCKER_CONFIG nor HOME is set: kiln cannot tell where docker's config.json is"
        ),
    }
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

/// The credential helper docker would use for `server`: `credHelpers`, else `credsStore`.
fn helper_for(config: &Map<String, Value>, server: &str) -> Option<String> {
    let from_helpers = config
        .get("credHelpers")
        .and_then(|h| h.get(server))
        .and_then(Value::as_str);
    from_helpers
        .or_else(|| config.get("credsStore").and_then(Value::as_str))
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

fn store_in_helper(helper: &str, server: &str, user: &str, secret: &str) -> anyhow::Result<()> {
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("store")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {program} (docker's config names it)"))?;
    let request = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
    child
        .stdin
        .take()
        .context("credential helper stdin")?
        .write_all(request.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "{program} store failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
