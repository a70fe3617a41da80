//! Remembered answers of the Go toolchain, so that an unchanged build does not pay for
//! `go version` (~30 ms) and `go list` (~50-80 ms) every time.
//!
//! Each answer is keyed by what could change it. `go list` is remembered only for local
//! directory patterns (`.`, `./cmd/app`), keyed by the file *names* in that directory, the
//! module files and the Go environment: an edit inside a file keeps the answer (it cannot
//! move the package), adding or removing a file does not. If a package stops being `main`
//! behind a remembered answer, `go build` then produces no executable, which kiln-gobuild
//! refuses. Patterns with `...`, files and import paths always run `go list`.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use kiln_core::env::Env;
use kiln_gobuild::{Package, Toolchain};
use kiln_image::cache::Bucket;
use kiln_image::cache::keyed::KeyedJson;
use kiln_image::cache::layer::file_digest;

use crate::Error;

/// The Go variables of the snapshot, with the build's own over them, as key parts.
pub(crate) fn go_env_parts(env: &Env, build_env: &[(String, String)]) -> Vec<String> {
    env.vars()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(build_env.iter().cloned())
        .filter(|(k, _)| k.starts_with("GO") || k.starts_with("CGO_"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The Go toolchain: `go_path` or `go` on the environment's PATH, its version remembered
/// per binary (path, size, mtime) and GOROOT/GOTOOLCHAIN.
pub async fn toolchain(
    go_path: Option<PathBuf>,
    cache_dir: &Path,
    env: &Env,
) -> Result<Toolchain, Error> {
    let found = go_path
        .clone()
        .or_else(|| kiln_gobuild::find_program(env, "go"));
    let Some(go) = found else {
        return Ok(Toolchain::discover(go_path, env.clone()).await?);
    };
    let Ok(meta) = std::fs::metadata(&go) else {
        return Ok(Toolchain::discover(Some(go), env.clone()).await?);
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let memo = KeyedJson::new(Bucket::Memo.path(cache_dir));
    let key = KeyedJson::key(&[
        "toolchain/1".to_owned(),
        go.display().to_string(),
        meta.len().to_string(),
        mtime.to_string(),
        env.get("GOROOT").unwrap_or_default().to_owned(),
        env.get("GOTOOLCHAIN").unwrap_or_default().to_owned(),
    ]);
    if let Some(version) = memo.get::<String>(&key) {
        let env = env.clone();
        return Ok(Toolchain { go, version, env });
    }
    let toolchain = Toolchain::discover(Some(go), env.clone()).await?;
    memo.put(&key, &toolchain.version)?;
    Ok(toolchain)
}

/// `go list` of `pattern` in `go_dir`, remembered for local directory patterns;
/// `on_download` hears each module Go fetches meanwhile.
pub async fn resolve_main(
    toolchain: &Toolchain,
    cache_dir: &Path,
    go_dir: &Path,
    pattern: &str,
    build_env: &[(String, String)],
    on_download: &(dyn Fn(&str) + Send + Sync),
) -> Result<Package, Error> {
    let resolve = || toolchain.resolve_main(go_dir, pattern, build_env, on_download);
    let Some(key) = list_key(toolchain, go_dir, pattern, build_env)? else {
        return Ok(resolve().await?);
    };
    let memo = KeyedJson::new(Bucket::Memo.path(cache_dir));
    if let Some(package) = memo.get::<Package>(&key) {
        return Ok(package);
    }
    let package = resolve().await?;
    memo.put(&key, &package)?;
    Ok(package)
}

fn list_key(
    toolchain: &Toolchain,
    go_dir: &Path,
    pattern: &str,
    build_env: &[(String, String)],
) -> Result<Option<kiln_core::Digest>, Error> {
    let local_dir = (pattern == "." || pattern.starts_with("./") || pattern.starts_with("../"))
        && !pattern.contains("...")
        && !pattern.ends_with(".go");
    let package_dir = go_dir.join(pattern);
    let Ok(entries) = std::fs::read_dir(&package_dir) else {
        return Ok(None); // let `go list` report it
    };
    if !local_dir {
        return Ok(None);
    }
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut parts = vec![
        "golist/1".to_owned(),
        toolchain.version.clone(),
        go_dir.display().to_string(),
        pattern.to_owned(),
        names.join("/"),
    ];
    parts.extend(go_env_parts(&toolchain.env, build_env));
    for dir in go_dir.ancestors() {
        for file in ["go.mod", "go.work"] {
            let path = dir.join(file);
            if path.is_file() {
                parts.push(format!("{}={}", path.display(), file_digest(&path)?));
            }
        }
    }
    Ok(Some(KeyedJson::key(&parts)))
}
