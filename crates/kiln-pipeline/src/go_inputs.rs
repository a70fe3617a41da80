//! What `go` reads to build an artifact, for its cache key: the files of every package of
//! the main package's dependency graph that lives on this disk (the main module, workspace
//! modules, directory replacements, vendored code, each local module's go.mod) and, for
//! modules from the module cache, their path, version and go.sum hash (the cache is
//! read-only and verified, so that names its content).
//!
//! The graph comes from `go list -deps`, once per platform (build constraints pick files
//! per platform), with the build's flags and environment; loading it downloads the
//! modules it needs, reported as the downloading-modules stage. It is remembered with the
//! content of its files and the listings of its directories: while none of those move
//! (nor the Go settings and module files in the memo's key), no import can have changed,
//! so an unchanged build runs no `go list`. After an edit the remembered graph's key is
//! still sound to look up ([`Remembered::Stale`]), and the graph is listed again while
//! `go build` runs, off the critical path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_core::Digest;
use kiln_gobuild::DepPackage;
use kiln_image::ResolvedBase;
use kiln_image::cache::Bucket;
use kiln_image::cache::keyed::KeyedJson;
use kiln_image::cache::layer::file_digest;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::context::Context;
use crate::inputs::BuildInputs;
use crate::plan::ArtifactPlan;
use crate::stages::{Downloads, StageEvents};

/// The inputs of the graph as read now: every file with its digest, and the modules taken
/// from the module cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoInputs {
    /// Absolute path → sha256 of every file of the graph on this disk.
    pub files: BTreeMap<PathBuf, String>,
    /// Absolute path → digest of the listing of each folder whose listing decides the
    /// graph (a new file there can join it).
    pub dirs: BTreeMap<PathBuf, String>,
    /// `path version sum` (and `=> replacement …`) of each module read from the cache.
    pub modules: BTreeSet<String>,
}

/// The dependency graph, as remembered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Graph {
    files: BTreeSet<PathBuf>,
    /// Directories whose listing decides what the graph holds: each package's, and those
    /// holding embedded files (a new file there can match a `//go:embed` pattern).
    dirs: BTreeSet<PathBuf>,
    modules: BTreeSet<String>,
}

/// A graph with what its files and directories held when it was listed.
#[derive(Serialize, Deserialize)]
struct Memo {
    graph: Graph,
    stamp: Stamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    files: BTreeMap<PathBuf, String>,
    dirs: BTreeMap<PathBuf, String>,
}

/// One `go list -deps` to run: a platform's flags and environment.
type Listing = (Vec<String>, Vec<(String, String)>);

/// What is known of the graph before listing it.
pub(crate) enum Remembered {
    /// Remembered, and none of its files or folders moved: this is the graph.
    Current(GoInputs),
    /// Remembered, but some of its files or folders moved (an edit). Its key, over what
    /// those files and folders hold now, can only find an entry built from exactly them
    /// (entries are only stored under the keys of current graphs, and a graph is a
    /// function of its own files, folders, module files and settings, all in the key), so
    /// it may be looked up while `go list` runs again.
    Stale(GoInputs),
    /// Nothing remembered: list the graph first.
    Unknown,
}

/// Runs `go list -deps` for an artifact's platforms and remembers the answer.
pub(crate) struct Lister<'a> {
    ctx: &'a Context,
    plan: &'a ArtifactPlan,
    requests: Vec<Listing>,
    memo_key: Digest,
}

/// What is remembered of the graph of `plan` built on `base`'s platforms, and the lister
/// that lists it anew.
pub(crate) async fn remembered<'a>(
    ctx: &'a Context,
    plan: &'a ArtifactPlan,
    base: &ResolvedBase,
) -> Result<(Lister<'a>, Remembered), Error> {
    let mut requests: Vec<Listing> = Vec::new();
    for image in &base.images {
        let (flags, _) = plan.go.for_platform(&image.platform)?;
        let platform_env = image.platform.go_env().map_err(|e| {
            Error::planning(format!("{}: {}", plan.image, image.platform), e.to_string())
        })?;
        let env: Vec<(String, String)> = plan
            .go
            .env
            .iter()
            .cloned()
            .chain(platform_env.into_iter().map(|(k, v)| (k.to_owned(), v)))
            .collect();
        if !requests.contains(&(flags.clone(), env.clone())) {
            requests.push((flags, env));
        }
    }
    let memo_key = memo_key(ctx, plan, &requests)?;
    let lister = Lister {
        ctx,
        plan,
        requests,
        memo_key,
    };
    let memo = KeyedJson::new(Bucket::Memo.path(&ctx.cache_dir));
    let Some(remembered) = memo.get::<Memo>(&lister.memo_key) else {
        return Ok((lister, Remembered::Unknown));
    };
    let graph = remembered.graph.clone();
    let stamp = blocking(move || stamp_of(&graph)).await?;
    let current = stamp == remembered.stamp;
    let inputs = inputs(remembered.graph, stamp);
    Ok(match current {
        true => (lister, Remembered::Current(inputs)),
        false => (lister, Remembered::Stale(inputs)),
    })
}

impl Lister<'_> {
    /// The graph's inputs as `go list -deps` gives them now, remembered; `None` when Go
    /// cannot load the graph (a missing package or module, a syntax error in an import
    /// block): then nothing is cached and `go build` reports the problem in its own words.
    /// Modules it downloads are reported as `stage`'s downloading-modules stage.
    pub(crate) async fn list(&self, stage: &StageEvents) -> Result<Option<GoInputs>, Error> {
        let (ctx, plan) = (self.ctx, self.plan);
        let downloads = Downloads::new(stage);
        let on_download = |module: &str| downloads.heard(module);
        let listings = self.requests.iter().map(|(flags, env)| {
            ctx.toolchain.list_deps(
                &plan.go_dir,
                &plan.package.import_path,
                flags,
                env,
                &on_download,
            )
        });
        let listed = futures_util::future::try_join_all(listings).await;
        let packages: Vec<DepPackage> = listed?.into_iter().flatten().collect();
        if packages
            .iter()
            .any(|p| p.error.is_some() || !p.deps_errors.is_empty())
        {
            // Not "downloaded": a module may be what failed; `go build` says so.
            return Ok(None);
        }
        downloads.finish();
        let mut graph = graph_of(&packages, &plan.go_dir);
        // A workspace file named by GOWORK (the build's, else the process's) rather than
        // found above the Go directory: its `use` and `replace` lines shape the graph too.
        let gowork = plan
            .go
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "GOWORK")
            .map(|(_, v)| v.as_str());
        if let Some(file) = gowork.or_else(|| ctx.env().get("GOWORK"))
            && !matches!(file, "" | "off" | "auto")
        {
            let file = plan.go_dir.join(file);
            graph.files.insert(file.with_extension("work.sum"));
            graph.files.insert(file);
        }
        let listed_graph = graph.clone();
        let stamp = blocking(move || stamp_of(&listed_graph)).await?;
        let memo = KeyedJson::new(Bucket::Memo.path(&ctx.cache_dir));
        memo.put(
            &self.memo_key,
            &Memo {
                graph: graph.clone(),
                stamp: stamp.clone(),
            },
        )?;
        Ok(Some(inputs(graph, stamp)))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await?
}

fn inputs(graph: Graph, stamp: Stamp) -> GoInputs {
    GoInputs {
        files: stamp.files,
        dirs: stamp.dirs,
        modules: graph.modules,
    }
}

/// What can change the graph besides its own files: the toolchain, the package, the Go
/// environment, each platform's flags and environment, and the module files above the Go
/// directory (go.mod, go.sum, go.work, vendor/modules.txt: present or not, and content).
fn memo_key(ctx: &Context, plan: &ArtifactPlan, requests: &[Listing]) -> Result<Digest, Error> {
    let mut parts = vec![
        "godeps/1".to_owned(),
        ctx.toolchain.version.clone(),
        plan.go_dir.display().to_string(),
        plan.package.import_path.clone(),
    ];
    parts.extend(crate::memo::go_env_parts(ctx.env(), &[]));
    for (flags, env) in requests {
        parts.push(format!("flags={flags:?} env={env:?}"));
    }
    for path in BuildInputs::module_files(&plan.go_dir) {
        if path.is_file() {
            parts.push(format!("{}={}", path.display(), file_digest(&path)?));
        }
    }
    Ok(KeyedJson::key(&parts))
}

/// The module-cache entry a package comes from, when it comes from the module cache.
fn cached_module(package: &DepPackage) -> Option<String> {
    let module = package.module.as_ref()?;
    let source = module.replace.as_deref().unwrap_or(module);
    // Main modules and directory replacements have no version; vendored modules have no
    // directory of their own (their code is in vendor/, on this disk).
    if source.version.is_empty() || source.dir.is_none() {
        return None;
    }
    Some(match module.replace.as_deref() {
        Some(to) => format!(
            "{} {} => {} {} {}",
            module.path, module.version, to.path, to.version, to.sum
        ),
        None => format!("{} {} {}", module.path, module.version, module.sum),
    })
}

/// The files, folders and cached modules of `packages`; relative paths `go list` gives
/// (a `-modfile` in GOFLAGS) are resolved from `go_dir`, where `go` ran.
fn graph_of(packages: &[DepPackage], go_dir: &Path) -> Graph {
    let mut graph = Graph::default();
    for package in packages.iter().filter(|p| !p.standard) {
        if let Some(module) = cached_module(package) {
            graph.modules.insert(module);
            continue;
        }
        let Some(dir) = &package.dir else { continue };
        graph.dirs.insert(dir.clone());
        for file in package.files() {
            graph.files.insert(dir.join(file));
        }
        for embedded in &package.embed_files {
            let path = dir.join(embedded);
            graph.dirs.extend(
                path.ancestors()
                    .skip(1)
                    .take_while(|a| a.starts_with(dir) && a != dir)
                    .map(Path::to_path_buf),
            );
        }
        let local_module = package
            .module
            .as_ref()
            .map(|m| m.replace.as_deref().unwrap_or(m));
        if let Some(go_mod) = local_module.and_then(|m| m.go_mod.as_deref()) {
            let go_mod = go_dir.join(go_mod);
            // `-modfile=alt.mod` reads alt.sum beside it, as go.mod has go.sum.
            if go_mod.file_name().is_some_and(|n| n != "go.mod") {
                graph.files.insert(go_mod.with_extension("sum"));
            }
            graph.files.insert(go_mod);
        }
    }
    graph
}

/// The graph's files and directory listings as they are now. A file that is gone gets an
/// empty digest (so the graph is listed again, and `go` says what is missing).
fn stamp_of(graph: &Graph) -> Result<Stamp, Error> {
    let files = graph
        .files
        .iter()
        .map(|path| {
            let digest = match file_digest(path) {
                Ok(digest) => digest.to_string(),
                Err(_) if !path.is_file() => String::new(),
                Err(e) => return Err(Error::from(e)),
            };
            Ok((path.clone(), digest))
        })
        .collect::<Result<_, Error>>()?;
    let dirs = graph
        .dirs
        .iter()
        .map(|dir| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect();
            names.sort();
            (
                dir.clone(),
                Digest::of(names.join("/").as_bytes()).to_string(),
            )
        })
        .collect();
    Ok(Stamp { files, dirs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_gobuild::DepModule;

    fn module(path: &str, version: &str, dir: Option<&str>) -> DepModule {
        DepModule {
            path: path.into(),
            version: version.into(),
            dir: dir.map(PathBuf::from),
            go_mod: dir.map(|d| Path::new(d).join("go.mod")),
            sum: if version.is_empty() { "" } else { "h1:abc=" }.into(),
            ..DepModule::default()
        }
    }

    #[test]
    fn local_vendored_and_replaced_code_is_read_from_disk_and_cached_modules_are_named() {
        let main = DepPackage {
            import_path: "example.com/app/cmd/app".into(),
            dir: Some("/src/cmd/app".into()),
            module: Some(DepModule {
                main: true,
                ..module("example.com/app", "", Some("/src"))
            }),
            go_files: vec!["main.go".into()],
            embed_files: vec!["static/css/site.css".into()],
            ignored_go_files: vec!["main_windows.go".into()],
            ..DepPackage::default()
        };
        let cached = DepPackage {
            import_path: "github.com/google/uuid".into(),
            dir: Some("/mod/github.com/google/uuid@v1.6.0".into()),
            module: Some(module(
                "github.com/google/uuid",
                "v1.6.0",
                Some("/mod/github.com/google/uuid@v1.6.0"),
            )),
            go_files: vec!["uuid.go".into()],
            ..DepPackage::default()
        };
        let vendored = DepPackage {
            import_path: "golang.org/x/sync/errgroup".into(),
            dir: Some("/src/vendor/golang.org/x/sync/errgroup".into()),
            module: Some(module("golang.org/x/sync", "v0.25.0", None)),
            go_files: vec!["errgroup.go".into()],
            ..DepPackage::default()
        };
        let replaced = DepPackage {
            import_path: "example.com/fork".into(),
            dir: Some("/fork".into()),
            module: Some(DepModule {
                replace: Some(Box::new(module("../fork", "", Some("/fork")))),
                ..module("example.com/fork", "v1.0.0", None)
            }),
            go_files: vec!["fork.go".into()],
            ..DepPackage::default()
        };
        let std = DepPackage {
            import_path: "fmt".into(),
            dir: Some("/goroot/src/fmt".into()),
            standard: true,
            go_files: vec!["print.go".into()],
            ..DepPackage::default()
        };
        let graph = graph_of(&[main, cached, vendored, replaced, std], Path::new("/src"));
        let files: Vec<&str> = graph.files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            files,
            [
                "/fork/fork.go",
                "/fork/go.mod",
                "/src/cmd/app/main.go",
                "/src/cmd/app/main_windows.go",
                "/src/cmd/app/static/css/site.css",
                "/src/go.mod",
                "/src/vendor/golang.org/x/sync/errgroup/errgroup.go",
            ]
        );
        let dirs: Vec<&str> = graph.dirs.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            dirs,
            [
                "/fork",
                "/src/cmd/app",
                "/src/cmd/app/static",
                "/src/cmd/app/static/css",
                "/src/vendor/golang.org/x/sync/errgroup",
            ]
        );
        assert_eq!(
            graph.modules.into_iter().collect::<Vec<_>>(),
            ["github.com/google/uuid v1.6.0 h1:abc="]
        );
    }

    /// `GOFLAGS=-modfile=alt.mod`: `go list` names the file as given, relative to where it
    /// ran; the graph holds it and the alt.sum beside it, from the Go directory.
    #[test]
    fn a_modfile_from_goflags_is_read_from_the_go_directory_with_its_sum() {
        let main = DepPackage {
            import_path: "example.com/app".into(),
            dir: Some("/src/app".into()),
            module: Some(DepModule {
                main: true,
                go_mod: Some("alt.mod".into()),
                ..module("example.com/app", "", Some("/src/app"))
            }),
            go_files: vec!["main.go".into()],
            ..DepPackage::default()
        };
        let graph = graph_of(&[main], Path::new("/src/app"));
        let files: Vec<&str> = graph.files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            files,
            ["/src/app/alt.mod", "/src/app/alt.sum", "/src/app/main.go"]
        );
    }
}
