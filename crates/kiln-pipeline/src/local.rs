//! Local clusters without a registry: Skaffold's push default (false for local kube
//! contexts), and loading a built image into a Docker-compatible engine or into kind's
//! nodes (`kind load image-archive`), as Skaffold and ko side-load.

use kiln_core::env::Env;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use kiln_engine::Engine;
use kiln_image::BlobStore;
use kiln_image::assemble::Image;
use tokio::sync::mpsc;

use crate::Error;
use crate::artifact::BuiltArtifact;

/// Where an image goes when it is not pushed.
#[derive(Clone, Debug)]
pub enum LoadTarget {
    /// A Docker-compatible engine, through its API.
    Engine(Engine),
    /// The nodes of a kind cluster, through the `kind` CLI.
    Kind { cluster: String },
    /// The nodes of a k3d cluster, through the `k3d` CLI.
    K3d { cluster: String },
}

impl LoadTarget {
    pub fn describe(&self) -> String {
        match self {
            LoadTarget::Engine(engine) => format!("the engine at {}", engine.endpoint()),
            LoadTarget::Kind { cluster } => format!("kind cluster `{cluster}`"),
            LoadTarget::K3d { cluster } => format!("k3d cluster `{cluster}`"),
        }
    }
}

/// The cluster Skaffold also loads side-loaded images into for a kube context: kind's
/// `kind-<cluster>` and k3d's `k3d-<cluster>` nodes cannot see the engine's images.
pub fn cluster_load(kube_context: Option<&str>) -> Option<LoadTarget> {
    let context = kube_context?;
    if let Some(cluster) = kind_cluster(context) {
        return Some(LoadTarget::Kind {
            cluster: cluster.to_owned(),
        });
    }
    context.strip_prefix("k3d-").map(|cluster| LoadTarget::K3d {
        cluster: cluster.to_owned(),
    })
}

/// Skaffold's local kube contexts (`isDefaultLocal`), where images are loaded, not pushed.
pub fn is_local_kube_context(name: &str) -> bool {
    matches!(name, "docker-desktop" | "docker-for-desktop" | "minikube")
        || kind_cluster(name).is_some()
        || name.starts_with("k3d-")
}

/// The kind cluster of a context: `kind-<name>`, or `<name>@kind` (kind before 0.6).
fn kind_cluster(context: &str) -> Option<&str> {
    context
        .strip_prefix("kind-")
        .or_else(|| context.strip_suffix("@kind"))
}

/// Whether a Skaffold-face build that does not push loads into the engine: it does,
/// unless the run writes files (an OCI layout or a tarball), which are then its
/// destinations, as they were before engines existed in kiln.
pub fn skaffold_loads(push: bool, writes_files: bool) -> bool {
    !push && !writes_files
}

/// The kube context Skaffold would use: `--kube-context`, else the skaffold.yaml's
/// `deploy.kubeContext`, else `current-context` of the first KUBECONFIG file that sets
/// one (`~/.kube/config` without KUBECONFIG).
pub fn kube_context(flag: Option<&str>, configured: Option<&str>, env: &Env) -> Option<String> {
    if let Some(name) = flag.or(configured).filter(|n| !n.is_empty()) {
        return Some(name.to_owned());
    }
    let files: Vec<PathBuf> = match env.get("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(list).collect(),
        None => vec![Path::new(env.get("HOME")?).join(".kube/config")],
    };
    files.iter().find_map(|file| current_context(file))
}

/// The `current-context` of one kubeconfig file (read by kiln-yaml, as every YAML kiln
/// reads); a file that is missing or is not YAML names none.
fn current_context(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let documents = kiln_yaml::parse(&text).ok()?;
    let config = kiln_yaml::tree::document(documents.first()?).ok()?;
    let name = config.get("current-context")?.as_str()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// How loaded images are named: Skaffold's `name:tag` plus the image-ID tag it prints, or
/// ko's `name:<manifest hex>` plus each `-t` tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadNaming {
    Skaffold,
    Ko,
}

/// What a load did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The reference the face prints (Skaffold: `repo:<image ID hex>`; ko:
    /// `repo:<manifest hex>`).
    pub reference: String,
    /// False when the engine had the image already and only tags changed.
    pub uploaded: bool,
    /// The platform loaded, when several were built.
    pub platform: Option<String>,
}

/// Loads `artifact` into `target` under the names `naming` gives it (`kind` and `k3d`
/// start from `env`).
pub async fn load(
    store: &BlobStore,
    artifact: &BuiltArtifact,
    target: &LoadTarget,
    naming: LoadNaming,
    env: &Env,
) -> Result<Loaded, Error> {
    let plan = &artifact.plan;
    let wrap = |source: Error| Error::Load {
        image: plan.image.clone(),
        target: target.describe(),
        source: Box::new(source),
    };
    let image = match target {
        LoadTarget::Engine(engine) => engine_image(engine, artifact).await,
        LoadTarget::Kind { .. } | LoadTarget::K3d { .. } => host_image(artifact),
    }
    .map_err(wrap)?;
    let unique = match naming {
        LoadNaming::Skaffold => image.config.digest.hex().to_owned(),
        LoadNaming::Ko => image.manifest.digest.hex().to_owned(),
    };
    let mut tags = vec![unique.clone()];
    tags.extend(std::iter::once(&plan.tag).chain(&plan.extra_tags).cloned());
    if naming == LoadNaming::Skaffold {
        tags.rotate_left(1);
    }
    tags.dedup();
    let uploaded = match target {
        LoadTarget::Engine(engine) => into_engine(engine, store, image, &plan.repository, &tags)
            .await
            .map_err(wrap)?,
        LoadTarget::Kind { cluster } | LoadTarget::K3d { cluster } => {
            let names: Vec<String> = tags
                .iter()
                .map(|t| format!("{}:{t}", plan.repository))
                .collect();
            let (tool, args) = match target {
                LoadTarget::Kind { .. } => ("kind", ["load", "image-archive", "--name"]),
                _ => ("k3d", ["image", "import", "--cluster"]),
            };
            into_cluster(store, image, &names, tool, args, cluster, env)
                .await
                .map_err(wrap)?;
            true
        }
    };
    Ok(Loaded {
        reference: format!("{}:{unique}", plan.repository),
        uploaded,
        platform: (artifact.images.len() > 1).then(|| image.platform.to_string()),
    })
}

/// The image for the engine's own platform (the only one when one was built).
async fn engine_image<'a>(
    engine: &Engine,
    artifact: &'a BuiltArtifact,
) -> Result<&'a Image, Error> {
    if let [image] = artifact.images.as_slice() {
        return Ok(image);
    }
    let platform = engine.platform().await?;
    pick(artifact, &platform.os, &platform.arch, "the engine runs")
}

/// The image for this machine's platform (kind's nodes run on it).
fn host_image(artifact: &BuiltArtifact) -> Result<&Image, Error> {
    if let [image] = artifact.images.as_slice() {
        return Ok(image);
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    pick(artifact, "linux", arch, "this machine runs")
}

fn pick<'a>(
    artifact: &'a BuiltArtifact,
    os: &str,
    arch: &str,
    runner: &'static str,
) -> Result<&'a Image, Error> {
    artifact
        .images
        .iter()
        .find(|i| i.platform.os == os && i.platform.architecture == arch)
        .ok_or_else(|| Error::PlatformNotBuilt {
            runner,
            platform: format!("{os}/{arch}"),
            built: artifact.platform_list(),
        })
}

/// Loads `image` unless the engine has it already (its ID is the config digest), then
/// adds the tags it lacks. Returns whether the archive was uploaded.
async fn into_engine(
    engine: &Engine,
    store: &BlobStore,
    image: &Image,
    repository: &str,
    tags: &[String],
) -> Result<bool, Error> {
    let id = image.config.digest.to_string();
    let present = engine.image_tags(&id).await?;
    let upload = present.is_none();
    if upload {
        stream_archive(engine, store, image).await?;
    }
    let have = present.unwrap_or_default();
    for tag in tags {
        let name = format!("{repository}:{tag}");
        if !have.iter().any(|h| engine_name_is(h, &name)) {
            engine.tag(&id, repository, tag).await?;
        }
    }
    Ok(upload)
}

/// Whether the engine's name `held` is `name`: engines qualify short names, podman under
/// `localhost/`, Docker (in some versions) under `docker.io/library/`.
fn engine_name_is(held: &str, name: &str) -> bool {
    held == name
        || ["localhost/", "docker.io/library/", "docker.io/"]
            .iter()
            .any(|prefix| held.strip_prefix(prefix) == Some(name) && is_short_name(name))
}

/// A name with no registry host (its first component has no `.` or `:` and is not
/// `localhost`).
fn is_short_name(name: &str) -> bool {
    match name.split_once('/') {
        None => true,
        Some((first, _)) => !(first.contains(['.', ':']) || first == "localhost"),
    }
}

/// Chunks handed from the archive writer to the HTTP body; with the bounded channel at
/// most a few MiB are in flight, whatever the image's size.
const CHUNK: usize = 256 * 1024;

/// Streams the docker-save archive of `image` into the engine while it is written.
async fn stream_archive(engine: &Engine, store: &BlobStore, image: &Image) -> Result<(), Error> {
    let (sender, mut receiver) = mpsc::channel::<std::io::Result<Bytes>>(8);
    let (store, image) = (store.clone(), image.clone());
    let writer = tokio::task::spawn_blocking(move || {
        let out = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(CHUNK),
        };
        let result =
            kiln_image::tarball::write_archive(out, &store, &image, &[]).and_then(|mut out| {
                out.flush().map_err(|e| kiln_image::Error::Io {
                    path: PathBuf::from("<engine upload>"),
                    source: e,
                })
            });
        if let Err(e) = &result {
            // End the body with an error, so the engine never takes a cut archive as whole.
            let _ = sender.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        result
    });
    let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let loaded = engine.load(body).await;
    // A failure to write the archive explains a failed upload better than the engine can.
    writer.await??;
    loaded?;
    Ok(())
}

struct ChannelWriter {
    sender: mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the engine stopped reading the image archive"))
    }
}

/// How long a cluster CLI may take to load: it copies the archive into every node.
const CLUSTER_LOAD_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// Writes the docker-save archive to a temporary file and hands it to the cluster's CLI
/// (`kind load image-archive FILE --name C`, `k3d image import FILE --cluster C`), as
/// ko's kind publisher and Skaffold's kind and k3d loaders do.
async fn into_cluster(
    store: &BlobStore,
    image: &Image,
    names: &[String],
    tool: &str,
    [verb, object, cluster_flag]: [&str; 3],
    cluster: &str,
    env: &Env,
) -> Result<(), Error> {
    let program = kiln_gobuild::find_program(env, tool).ok_or_else(|| Error::ToolNotFound {
        tool: tool.to_owned(),
    })?;
    let dir = tempfile::tempdir()
        .map_err(|source| Error::io("creating a directory in", std::env::temp_dir(), source))?;
    let archive = dir.path().join("image.tar");
    kiln_image::tarball::write_tarball(&archive, store, image, names)?;
    let shown = format!("`{tool} {verb} {object} … {cluster_flag} {cluster}`");
    let mut command = tokio::process::Command::new(&program);
    env.apply(command.as_std_mut());
    command
        .args([verb, object])
        .arg(&archive)
        .args([cluster_flag, cluster])
        .kill_on_drop(true);
    let output = tokio::time::timeout(CLUSTER_LOAD_DEADLINE, command.output())
        .await
        .map_err(|_| Error::TimedOut {
            command: shown.clone(),
            limit: CLUSTER_LOAD_DEADLINE,
        })?
        .map_err(|source| Error::Spawn {
            command: program.display().to_string(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::CommandFailed {
            command: shown,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_k3d_contexts_also_load_into_their_cluster() {
        assert!(matches!(
            cluster_load(Some("kind-dev")),
            Some(LoadTarget::Kind { cluster }) if cluster == "dev"
        ));
        assert!(matches!(
            cluster_load(Some("k3d-k3s-default")),
            Some(LoadTarget::K3d { cluster }) if cluster == "k3s-default"
        ));
        assert!(matches!(
            cluster_load(Some("old@kind")),
            Some(LoadTarget::Kind { cluster }) if cluster == "old"
        ));
        assert!(cluster_load(Some("minikube")).is_none());
        assert!(cluster_load(None).is_none());
    }

    #[test]
    fn engine_qualified_short_names_count_as_the_same_name() {
        assert!(engine_name_is("alpha:v1", "alpha:v1"));
        assert!(engine_name_is("localhost/alpha:v1", "alpha:v1"));
        assert!(engine_name_is("docker.io/library/alpha:v1", "alpha:v1"));
        assert!(engine_name_is("docker.io/team/alpha:v1", "team/alpha:v1"));
        assert!(!engine_name_is(
            "localhost/reg.io/alpha:v1",
            "reg.io/alpha:v1"
        ));
        assert!(!engine_name_is("alpha:v2", "alpha:v1"));
    }

    #[test]
    fn files_replace_the_load_but_never_the_push() {
        assert!(skaffold_loads(false, false));
        assert!(!skaffold_loads(false, true));
        assert!(!skaffold_loads(true, false));
    }

    #[test]
    fn the_kube_context_comes_from_the_flag_the_config_or_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        let kind = dir.path().join("kind");
        std::fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();
        std::fs::write(&kind, "apiVersion: v1\ncurrent-context: kind-dev\n").unwrap();
        let list = std::env::join_paths([&empty, &kind]).unwrap();
        let env = Env::from_vars([("KUBECONFIG", &list)]);
        assert_eq!(kube_context(None, None, &env).as_deref(), Some("kind-dev"));
        assert_eq!(
            kube_context(None, Some("minikube"), &env).as_deref(),
            Some("minikube")
        );
        assert_eq!(
            kube_context(Some("gke"), Some("minikube"), &env).as_deref(),
            Some("gke")
        );
        let home = Env::from_vars([("HOME", dir.path())]);
        assert_eq!(kube_context(None, None, &home), None);
    }
}
