//! The artifact cache: a build whose inputs are all unchanged reuses its image without
//! running `go build` at all.
//!
//! The key covers everything that reaches the image: the plan (Go settings after templating,
//! labels, epochs, platforms), the resolved base digests (so a moved `:latest` is a miss,
//! which Skaffold misses), the Go toolchain, the Go-related environment, what `go` reads
//! (`go_inputs.rs`: the files of every package of the dependency graph on this disk and
//! the listings of their folders, the modules from the module cache by version and go.sum
//! hash; never the hand-written
//! `dependencies` globs, which only say what `kiln dev` watches), go.mod, go.sum, go.work,
//! vendor/modules.txt, .ko.yaml and the kodata tree, and the git HEAD and dirty state Go
//! stamps into the binary. Entries are written atomically and checked when read: a corrupt
//! entry or a missing blob (a cache trim evicts files one by one) is a miss, never an error.
//!
//! The key is machine-independent, because runners share it through the registry
//! (`remote_cache.rs`): files are named relative to the Go directory, the Go directory
//! relative to the workspace, and environment variables that only say where Go keeps its
//! caches, or where it downloads modules from (go.sum pins their content), are left out.
//! Absolute paths stay in only where they reach the binary: without `-trimpath` Go embeds
//! the source and GOPATH/GOROOT locations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_core::env::Env;
use kiln_core::{Digest, Platform};
use kiln_image::cache::Bucket;
use kiln_image::cache::keyed::KeyedJson;
use kiln_image::cache::layer::file_digest;
use kiln_image::ko_layers::{KodataBoundary, KodataEntry, walk_kodata};
use kiln_image::spec::Blob;
use kiln_image::{BlobStore, Descriptor, Image, ResolvedBase};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::artifact::Sboms;
use crate::context::Context;
use crate::go_inputs::GoInputs;
use crate::inputs::BuildInputs;
use crate::plan::ArtifactPlan;

/// Bump when the meaning of an entry changes.
const FORMAT: &str = "kiln-artifact/2";

/// Go's own environment knobs that change what it compiles. With `-trimpath`, the
/// locations of Go's caches, module sources and toolchain do not reach the binary (the
/// toolchain is keyed by its version), nor does where modules are downloaded from.
fn reaches_go(name: &str, trimpath: bool) -> bool {
    let locations_only = matches!(
        name,
        "GOCACHE"
            | "GOMODCACHE"
            | "GOTMPDIR"
            | "GOTELEMETRY"
            | "GOTELEMETRYDIR"
            | "GOPROXY"
            | "GONOPROXY"
            | "GOSUMDB"
            | "GONOSUMDB"
            | "GOPRIVATE"
            | "GOINSECURE"
            | "GOAUTH"
            | "GOVCS"
    ) || (trimpath && matches!(name, "GOPATH" | "GOROOT"));
    let go_knob = name.starts_with("GO")
        || name.starts_with("CGO_")
        || matches!(name, "CC" | "CXX" | "AR" | "PKG_CONFIG");
    go_knob && !locations_only
}

/// `path` named from `from` as `../…/rest`: the same on every machine when both are in
/// one checkout, wherever the checkout is.
fn relative_name(path: &Path, from: &Path) -> String {
    for (level, ancestor) in from.ancestors().enumerate() {
        if let Ok(rest) = path.strip_prefix(ancestor) {
            return format!("{}{}", "../".repeat(level), rest.display());
        }
    }
    path.display().to_string()
}

/// Computes the key of `plan` built on `base` from `go_inputs`, whose kodata links stay
/// inside `boundary`. Reads every other input file once.
pub async fn key(
    plan: &ArtifactPlan,
    base: &ResolvedBase,
    boundary: &KodataBoundary,
    go_inputs: &GoInputs,
    go_version: &str,
    env: &Env,
) -> Result<Digest, Error> {
    // Go stamps the commit and dirty state into binaries, unless told not to: then a new
    // commit that changes no input reuses the image, on any runner.
    // The build's own env wins over the process's (kiln_gobuild sets it last).
    let build_goflags = plan.go.env.iter().rev().find(|(k, _)| k == "GOFLAGS");
    let goflags = build_goflags
        .map(|(_, v)| v.as_str())
        .or_else(|| env.get("GOFLAGS"));
    let stamps_vcs = !plan
        .go
        .flags
        .iter()
        .map(String::as_str)
        .chain(goflags)
        .any(|f| f.split_whitespace().any(|f| f == "-buildvcs=false"));
    let vcs = match stamps_vcs {
        true => kiln_gobuild::git::vcs_state(&plan.go_dir, env).await,
        false => None,
    };
    // Per-platform templates can give each platform its own flags.
    let platform_flags = base
        .images
        .iter()
        .map(|i| plan.go.for_platform(&i.platform))
        .collect::<Result<Vec<_>, Error>>()?;
    let (plan, base, go_version) = (plan.clone(), base.clone(), go_version.to_owned());
    let boundary = boundary.clone();
    let named = |entries: &BTreeMap<std::path::PathBuf, String>| -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(path, digest)| (relative_name(path, &plan.go_dir), digest.clone()))
            .collect()
    };
    let go_files = serde_json::json!({
        "files": named(&go_inputs.files),
        "dirs": named(&go_inputs.dirs),
        "modules": go_inputs.modules,
    });
    let env: Vec<(String, String)> = env
        .vars()
        .iter()
        .filter(|(k, _)| reaches_go(k, plan.trimpath))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let files = module_config_and_kodata_files(&plan, &boundary)?;
        // Without -trimpath the absolute directory is compiled into the binary.
        let go_dir = if plan.trimpath {
            relative_name(&plan.go_dir, &plan.workspace)
        } else {
            plan.go_dir.display().to_string()
        };
        let document = serde_json::json!({
            "format": FORMAT,
            "kiln": env!("CARGO_PKG_VERSION"),
            "go": go_version,
            "env": env,
            "vcs": vcs,
            "import_path": plan.package.import_path,
            "go_dir": go_dir,
            "go_env": plan.go.env,
            "flags": plan.go.flags,
            "ldflags": plan.go.ldflags,
            "platform_flags": platform_flags,
            "labels": plan.labels,
            "annotations": plan.annotations,
            "user": plan.user,
            "trimpath": plan.trimpath,
            "disable_optimizations": plan.disable_optimizations,
            "source_date_epoch": plan.source_date_epoch,
            "kodata_date_epoch": plan.kodata_date_epoch,
            "sbom": plan.sbom,
            "linux_capabilities": plan.linux_capabilities,
            "compression": plan.compression,
            "base_name": base.name,
            "base": base.top.digest,
            "base_images": base.images.iter().map(|i| i.digest.to_string()).collect::<Vec<_>>(),
            "platforms": base.images.iter().map(|i| i.platform.to_string()).collect::<Vec<_>>(),
            "go_inputs": go_files,
            "files": files,
        });
        Ok(Digest::of(document.to_string().as_bytes()))
    })
    .await?
}

/// The digest of the artifact's watched files (its `dependencies` globs, module and ko
/// config files, kodata; no base, toolchain or git state): `kiln dev` rebuilds an artifact
/// only when it moves, as Skaffold's watcher does.
pub async fn inputs_digest(plan: &ArtifactPlan, env: &Env) -> Result<Digest, Error> {
    let boundary = crate::kodata::boundary(
        &plan.package.dir.join("kodata"),
        plan.kodata_allowed_root.as_deref(),
        env,
    )
    .await?;
    let plan = plan.clone();
    tokio::task::spawn_blocking(move || {
        let mut files = dependency_files(&plan)?;
        files.extend(module_config_and_kodata_files(&plan, &boundary)?);
        let files = serde_json::json!(files);
        Ok(Digest::of(files.to_string().as_bytes()))
    })
    .await?
}

fn hash(path: &Path) -> Result<String, Error> {
    file_digest(path)
        .map(|d| d.to_string())
        .map_err(Error::from)
}

/// `(name, sha256)` of the files the artifact's `dependencies` globs match, relative to
/// the workspace.
fn dependency_files(plan: &ArtifactPlan) -> Result<Vec<(String, String)>, Error> {
    let inputs = BuildInputs::of(plan)?;
    let mut files = Vec::new();
    for relative in inputs.dependencies.files(&inputs.workspace)? {
        let digest = hash(&inputs.workspace.join(&relative))?;
        files.push((format!("deps:{relative}"), digest));
    }
    Ok(files)
}

/// `(name, sha256)` of the module and ko config files of the artifact's [`BuildInputs`]
/// (relative to the Go directory) and of its kodata tree (by image path), whose symlinks
/// stay inside `boundary`.
fn module_config_and_kodata_files(
    plan: &ArtifactPlan,
    boundary: &KodataBoundary,
) -> Result<Vec<(String, String)>, Error> {
    let inputs = BuildInputs::of(plan)?;
    let mut files = Vec::new();
    for path in inputs.files.iter().filter(|p| p.is_file()) {
        let name = relative_name(path, &plan.go_dir);
        files.push((format!("file:{name}"), hash(path)?));
    }
    walk_kodata(&inputs.kodata, boundary, &mut |entry| {
        match entry {
            KodataEntry::Dir { image_path } => {
                files.push((format!("kodata:{image_path}/"), String::new()))
            }
            KodataEntry::File {
                image_path,
                host_path,
                ..
            } => files.push((
                format!("kodata:{image_path}"),
                file_digest(host_path)?.to_string(),
            )),
        }
        Ok(())
    })?;
    Ok(files)
}

#[derive(Serialize, Deserialize)]
struct CachedImage {
    platform: Platform,
    media_type: String,
    manifest: Digest,
    config: Digest,
    config_media_type: String,
    layers: Vec<Descriptor>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    top: Descriptor,
    index: Option<Digest>,
    images: Vec<CachedImage>,
    /// The layers the store held when the entry was written: kiln's own (kodata, binary)
    /// and any base layers it had. A hit needs them all, since only a build makes kiln's
    /// layers again; a registry base's layers need not be held (outputs fetch them), and a
    /// layout's or the built-in base's are stored again before the lookup.
    held: Vec<Digest>,
    sboms: Option<Sboms>,
}

/// A cache hit: the images, index and SBOMs as they were built.
pub struct Cached {
    pub top: Descriptor,
    pub index: Option<Blob>,
    pub images: Vec<Image>,
    pub sboms: Option<Sboms>,
}

#[derive(Clone, Debug)]
pub struct ArtifactCache {
    entries: KeyedJson,
    store: BlobStore,
}

impl ArtifactCache {
    /// The records of `ctx`'s run: where `--cache-file` put them, else the store's
    /// `artifacts/`, over the blobs of its store.
    pub fn of(ctx: &Context) -> Self {
        let dir = match &ctx.artifact_records {
            Some(dir) => dir.clone(),
            None => Bucket::Artifacts.path(ctx.store.root()),
        };
        ArtifactCache {
            entries: KeyedJson::new(dir),
            store: ctx.store.clone(),
        }
    }

    /// The cached result for `key`, if its entry parses, every document it names is in
    /// the store with the right digest, and so is every layer it held.
    pub fn get(&self, key: &Digest) -> Option<Cached> {
        let entry: Entry = self.entries.get(key)?;
        if !entry.held.iter().all(|digest| self.store.contains(digest)) {
            return None;
        }
        let blob = |digest: &Digest| {
            let bytes = self.store.read(digest).ok()?;
            Some(Blob {
                bytes,
                digest: digest.clone(),
            })
        };
        let images = entry
            .images
            .into_iter()
            .map(|i| {
                Some(Image {
                    platform: i.platform,
                    media_type: i.media_type,
                    manifest: blob(&i.manifest)?,
                    config: blob(&i.config)?,
                    config_media_type: i.config_media_type,
                    layers: i.layers,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let index = match &entry.index {
            Some(digest) => Some(blob(digest)?),
            None => None,
        };
        let sbom_blobs = entry
            .sboms
            .iter()
            .flat_map(|s| s.images.iter().chain(&s.index));
        for sbom in sbom_blobs {
            if !self.store.contains(&sbom.digest) {
                return None;
            }
        }
        Some(Cached {
            top: entry.top,
            index,
            images,
            sboms: entry.sboms,
        })
    }

    /// Records a build under `key`, atomically.
    pub fn put(
        &self,
        key: &Digest,
        top: &Descriptor,
        index: Option<&Blob>,
        images: &[Image],
        sboms: Option<&Sboms>,
    ) -> Result<(), Error> {
        let entry = Entry {
            top: top.clone(),
            sboms: sboms.cloned(),
            index: index.map(|b| b.digest.clone()),
            images: images
                .iter()
                .map(|i| CachedImage {
                    platform: i.platform.clone(),
                    media_type: i.media_type.clone(),
                    manifest: i.manifest.digest.clone(),
                    config: i.config.digest.clone(),
                    config_media_type: i.config_media_type.clone(),
                    layers: i.layers.clone(),
                })
                .collect(),
            held: images
                .iter()
                .flat_map(|i| &i.layers)
                .map(|l| &l.digest)
                .filter(|d| self.store.contains(d))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        Ok(self.entries.put(key, &entry)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_from_the_go_directory_wherever_the_checkout_is() {
        for root in ["/home/a/src/repo", "/tmp/runner-7/w"] {
            let root = Path::new(root);
            let go_dir = root.join("services/api");
            assert_eq!(relative_name(&root.join("go.mod"), &go_dir), "../../go.mod");
            assert_eq!(relative_name(&go_dir.join("go.mod"), &go_dir), "go.mod");
            assert_eq!(relative_name(&go_dir, root), "services/api");
        }
    }

    #[test]
    fn cache_and_download_locations_are_not_inputs() {
        for name in ["GOCACHE", "GOMODCACHE", "GOPROXY", "GOTMPDIR"] {
            assert!(
                !reaches_go(name, true) && !reaches_go(name, false),
                "{name}"
            );
        }
        for name in ["GOFLAGS", "GOAMD64", "CGO_ENABLED", "GOEXPERIMENT", "CC"] {
            assert!(reaches_go(name, true), "{name}");
        }
        assert!(!reaches_go("GOPATH", true) && reaches_go("GOPATH", false));
        assert!(!reaches_go("HOME", false) && !reaches_go("KILN_CACHE", false));
    }
}
