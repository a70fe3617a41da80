//! The command line, as clap definitions only. Flags and their names follow Skaffold
//! (`kiln build`) so existing scripts keep working.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kiln_core::media_type::LayerCompression;
use kiln_pipeline::remote_cache::RemoteCacheMode;

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "Build Go applications into reproducible OCI images, without Docker. A drop-in for Skaffold's ko builder.",
    propagate_version = true
)]
pub struct Cli {
    /// Log verbosity: panic, fatal, error, warn(ing), info, debug (also every command kiln
    /// runs, with its directory, added environment and duration, secrets redacted) or trace;
    /// default warn. Also accepted after the Skaffold commands; `kiln ko` has ko's boolean
    /// `-v` instead.
    #[arg(
        short = 'v',
        long,
        value_enum,
        ignore_case = true,
        env = "SKAFFOLD_VERBOSITY"
    )]
    pub verbosity: Option<Verbosity>,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The tracing level: the command's own `-v` (ko's boolean one means debug), else the
    /// root's, else warn.
    pub fn log_level(&self) -> &'static str {
        let command_level = match &self.command {
            Command::Build(a) => a.config.verbosity,
            Command::Dev(a) => a.build.config.verbosity,
            Command::Debug(a) => a.build.config.verbosity,
            Command::Render(a) => a.config.verbosity,
            Command::Run(a) => a.build.config.verbosity,
            Command::Deploy(a) => a.config.verbosity,
            Command::Delete(a) => a.config.verbosity,
            Command::Filter(_) => None,
            Command::Ko(KoCommand::Build(a)) => a.build.verbose.then_some(Verbosity::Debug),
            Command::Ko(KoCommand::Resolve(a)) => a.build.verbose.then_some(Verbosity::Debug),
            Command::Ko(_) | Command::Cache(_) => None,
        };
        command_level
            .or(self.verbosity)
            .unwrap_or(Verbosity::Warn)
            .filter()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the ko artifacts of a skaffold.yaml.
    Build(Box<BuildArgs>),
    /// Build, then watch every artifact's inputs and rebuild an artifact when their content
    /// changed (no cluster needed: images go to the registry or the OCI layout each time).
    Dev(Box<DevArgs>),
    /// Build for debugging as `skaffold debug` does (optimizations and trimpath off, one
    /// platform) and rewrite the manifests for Delve: applied to the cluster when one is
    /// reachable, written to --render-output when asked.
    Debug(Box<DebugArgs>),
    /// Render the config's Kubernetes manifests with the built images (Skaffold's render).
    Render(Box<RenderArgs>),
    /// Build, render and deploy once (Skaffold's run): `kubectl apply` of the rendered
    /// manifests (rawYaml, kustomize, manifests.helm) and `helm upgrade --install` of the
    /// deploy.helm releases.
    Run(Box<RunArgs>),
    /// Deploy images built before (Skaffold's deploy): the images of --build-artifacts, or
    /// each artifact's name and tag from the tag policy; nothing is built.
    Deploy(Box<DeployArgs>),
    /// Delete what `kiln run` or `kiln deploy` deployed (Skaffold's delete): `kubectl
    /// delete` of the rendered manifests and `helm delete` of the deploy.helm releases.
    Delete(Box<DeleteArgs>),
    /// Helm's post-renderer during deploys: reads manifests on stdin and writes them with
    /// the images of --build-artifacts (Skaffold's `filter`).
    #[command(hide = true)]
    Filter(FilterArgs),
    /// ko's command line: `kiln ko build`, `kiln ko resolve`, with ko's flags, `.ko.yaml`
    /// and `KO_DOCKER_REPO` (kiln also answers to these when run as `ko`).
    #[command(subcommand)]
    Ko(KoCommand),
    /// Manage kiln's cache ($KILN_CACHE, default ~/.cache/kiln).
    #[command(subcommand)]
    Cache(CacheCommand),
}

/// Skaffold's log levels (logrus's names, any case); kiln's levels are the tracing ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Verbosity {
    Panic,
    Fatal,
    Error,
    #[value(alias = "warning")]
    Warn,
    Info,
    Debug,
    Trace,
}

impl Verbosity {
    /// The tracing filter level.
    pub fn filter(self) -> &'static str {
        match self {
            Verbosity::Panic | Verbosity::Fatal | Verbosity::Error => "error",
            Verbosity::Warn => "warn",
            Verbosity::Info => "info",
            Verbosity::Debug => "debug",
            Verbosity::Trace => "trace",
        }
    }
}

/// The cache is bounded by KILN_CACHE_MAX_SIZE (default 10GiB; e.g. 500MB, 10GiB, or
/// bytes): builds evict its least recently used files when they leave it over the bound.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show what the cache holds, per kind of entry, and its bound.
    Size,
    /// Evict least recently used files now, if the cache is over its bound (waits for
    /// running builds).
    Trim,
    /// Remove everything kiln cached: layers, images, base manifests, binaries.
    Prune,
}

/// Options shared by every command that reads a skaffold.yaml.
#[derive(Clone, Debug, Args)]
pub struct ConfigArgs {
    /// Path to the Skaffold configuration.
    #[arg(
        short = 'f',
        long = "filename",
        default_value = "skaffold.yaml",
        env = "SKAFFOLD_FILENAME"
    )]
    pub filename: PathBuf,

    /// Profiles to activate (repeatable or comma-separated; `-name` deactivates one).
    #[arg(
        short = 'p',
        long = "profile",
        value_delimiter = ',',
        env = "SKAFFOLD_PROFILE"
    )]
    pub profiles: Vec<String>,

    /// Kubernetes context: for profile activation by `kubeContext`, and where `run`,
    /// `deploy` and `delete` go (default: `deploy.kubeContext`, then the kubeconfig's
    /// current context).
    #[arg(long = "kube-context", env = "SKAFFOLD_KUBE_CONTEXT")]
    pub kube_context: Option<String>,

    /// Default repository: image names are rewritten to live under it.
    /// (Also `SKAFFOLD_DEFAULT_REPO`, then `default-repo` in ~/.skaffold/config.)
    #[arg(short = 'd', long = "default-repo")]
    pub default_repo: Option<String>,

    /// Use only the configs with these `metadata.name`s (repeatable or comma-separated).
    #[arg(
        short = 'm',
        long = "module",
        value_delimiter = ',',
        env = "SKAFFOLD_MODULE"
    )]
    pub modules: Vec<String>,

    /// Activate profiles by their `activation` rules (on by default).
    #[arg(long = "profile-auto-activation", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", env = "SKAFFOLD_PROFILE_AUTO_ACTIVATION")]
    pub profile_auto_activation: bool,

    /// Skaffold's global config file (default ~/.skaffold/config).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "SKAFFOLD_CONFIG"
    )]
    pub global_config: Option<PathBuf>,

    /// Log verbosity (as `kiln -v LEVEL`).
    #[arg(short = 'v', long, value_enum, ignore_case = true)]
    pub verbosity: Option<Verbosity>,
}

/// What `run`, `deploy` and `delete` share: the cluster they talk to.
#[derive(Clone, Debug, Default, Args)]
pub struct ClusterFlags {
    /// The namespace to deploy into (or delete from): wins over
    /// `deploy.kubectl.defaultNamespace` and each helm release's `namespace`, as in Skaffold.
    #[arg(short = 'n', long = "namespace", env = "SKAFFOLD_NAMESPACE")]
    pub namespace: Option<String>,

    /// The kubeconfig kubectl and helm use (`--kubeconfig`), and whose current context is
    /// the default kube context.
    #[arg(long = "kubeconfig", value_name = "FILE", env = "SKAFFOLD_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
}

/// Skaffold's `-l/--label` (`dev`, `debug`, `render`, `run`, `deploy`).
#[derive(Clone, Debug, Default, Args)]
pub struct LabelFlags {
    /// Add this label (`KEY=VALUE`) to the deployed objects, where Skaffold adds labels
    /// (repeatable or comma-separated; a label already set on an object is kept).
    #[arg(
        short = 'l',
        long = "label",
        value_name = "KEY=VALUE",
        value_delimiter = ',',
        env = "SKAFFOLD_LABEL"
    )]
    pub labels: Vec<String>,
}

/// Skaffold's status check flags (`dev`, `debug`, `run`, `deploy`).
#[derive(Clone, Debug, Default, Args)]
pub struct StatusCheckArgs {
    /// Wait for the deployed Deployments and StatefulSets to roll out, and fail if one
    /// does not (`kubectl rollout status`, 1 s apart, up to `deploy.statusCheckDeadlineSeconds`,
    /// default 600). Default: `deploy.statusCheck`, else true.
    #[arg(long = "status-check", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", env = "SKAFFOLD_STATUS_CHECK")]
    pub status_check: Option<bool>,

    /// Keep polling a rollout that kubectl reports as failed until the deadline, instead of
    /// failing at once (also `deploy.tolerateFailuresUntilDeadline`).
    #[arg(long = "tolerate-failures-until-deadline", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", env = "SKAFFOLD_TOLERATE_FAILURES_UNTIL_DEADLINE")]
    pub tolerate_failures: bool,
}

/// What `run` and `deploy` share: where and how they deploy.
#[derive(Clone, Debug, Default, Args)]
pub struct DeployFlags {
    #[command(flatten)]
    pub cluster: ClusterFlags,

    #[command(flatten)]
    pub labels: LabelFlags,

    #[command(flatten)]
    pub status_check: StatusCheckArgs,

    /// `kubectl apply --force --grace-period=0`, and `helm upgrade --force` for releases
    /// already installed.
    #[arg(long = "force", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", env = "SKAFFOLD_FORCE")]
    pub force: bool,
}

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,

    #[command(flatten)]
    pub deploy: DeployFlags,
}

#[derive(Clone, Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Deploy the images of this build JSON (`kiln build --file-output`).
    #[arg(
        short = 'a',
        long = "build-artifacts",
        value_name = "FILE",
        env = "SKAFFOLD_BUILD_ARTIFACTS"
    )]
    pub build_artifacts: Option<PathBuf>,

    /// Without --build-artifacts: use this tag instead of the tag policy's.
    #[arg(short = 't', long, env = "SKAFFOLD_TAG")]
    pub tag: Option<String>,

    #[command(flatten)]
    pub deploy: DeployFlags,
}

#[derive(Clone, Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub cluster: ClusterFlags,

    /// Delete nothing: print what would be deleted (the kubectl manifests, and each helm
    /// release's `helm get manifest`).
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", env = "SKAFFOLD_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Clone, Debug, Args)]
pub struct FilterArgs {
    /// The build JSON whose images go into the manifests.
    #[arg(long = "build-artifacts", value_name = "FILE")]
    pub build_artifacts: Option<PathBuf>,

    /// A label (`KEY=VALUE`) for the manifests' objects (repeatable).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub build: BuildArgs,

    /// Where each round deploys, when a cluster answers.
    #[command(flatten)]
    pub cluster: ClusterFlags,

    #[command(flatten)]
    pub labels: LabelFlags,

    #[command(flatten)]
    pub status_check: StatusCheckArgs,
}

#[derive(Clone, Debug, Args)]
pub struct DebugArgs {
    #[command(flatten)]
    pub build: BuildArgs,

    /// Where the debug manifests are applied, when a cluster answers.
    #[command(flatten)]
    pub cluster: ClusterFlags,

    #[command(flatten)]
    pub labels: LabelFlags,

    #[command(flatten)]
    pub status_check: StatusCheckArgs,

    /// Write the manifests, rewritten for Delve, to this file.
    #[arg(long = "render-output", value_name = "FILE")]
    pub render_output: Option<PathBuf>,
}

/// Where `kiln render` takes image references from (Skaffold's `--digest-source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DigestSource {
    /// Build (and push) the images, and use the built digests.
    Local,
    /// Build nothing: look up the digest of each image's tag in its registry.
    Remote,
    /// Build nothing: use `image:tag` from the tag policy.
    Tag,
    /// Build nothing, change nothing: the images the manifests name.
    None,
}

#[derive(Clone, Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Render with the images of this build JSON (`kiln build --file-output`) instead of
    /// building.
    #[arg(
        short = 'a',
        long = "build-artifacts",
        value_name = "FILE",
        env = "SKAFFOLD_BUILD_ARTIFACTS"
    )]
    pub build_artifacts: Option<PathBuf>,

    /// Write the rendered manifests to this file instead of standard output.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        env = "SKAFFOLD_OUTPUT"
    )]
    pub output: Option<PathBuf>,

    /// Where image references come from (default: remote, as Skaffold does without a local
    /// cluster).
    #[arg(
        long = "digest-source",
        value_enum,
        default_value = "remote",
        env = "SKAFFOLD_DIGEST_SOURCE"
    )]
    pub digest_source: DigestSource,

    /// With --digest-source=local: push the images (see `kiln build --push`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", env = "SKAFFOLD_PUSH")]
    pub push: Option<bool>,

    /// With --digest-source=local: also write the images into this OCI layout.
    #[arg(long = "oci-layout-path", value_name = "DIR")]
    pub oci_layout_path: Option<PathBuf>,

    /// Use this tag instead of the tag policy's.
    #[arg(short = 't', long, env = "SKAFFOLD_TAG")]
    pub tag: Option<String>,

    /// Target platforms for --digest-source=local.
    #[arg(long = "platform", value_delimiter = ',', env = "SKAFFOLD_PLATFORM")]
    pub platforms: Vec<String>,

    /// Registries to reach over plain HTTP or without TLS verification.
    #[arg(
        long = "insecure-registry",
        value_delimiter = ',',
        env = "SKAFFOLD_INSECURE_REGISTRY"
    )]
    pub insecure_registries: Vec<String>,

    /// With --digest-source=local: reuse an artifact whose inputs are all unchanged.
    #[arg(long = "cache-artifacts", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", env = "SKAFFOLD_CACHE_ARTIFACTS")]
    pub cache_artifacts: bool,

    /// Set `metadata.namespace` to this namespace in the rawYaml and kustomize manifests
    /// Skaffold transforms (a manifest naming another namespace keeps it, with a warning),
    /// and pass it to `helm template` as each release's namespace, as Skaffold does.
    #[arg(short = 'n', long = "namespace", env = "SKAFFOLD_NAMESPACE")]
    pub namespace: Option<String>,

    /// Leave `metadata.namespace` as the manifests have it, even with -n (Skaffold's
    /// `--offline`, for rendering with no cluster, e.g. GitOps).
    #[arg(long = "offline", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", env = "SKAFFOLD_OFFLINE")]
    pub offline: bool,

    /// Labels for the rendered objects (no `skaffold.dev/run-id`: `kiln render`'s output
    /// stays the same from run to run, as Skaffold's does).
    #[command(flatten)]
    pub labels: LabelFlags,
}

#[derive(Clone, Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Push images to their registry (default: true, or `build.local.push`; false for local
    /// kube contexts such as minikube, kind-*, k3d-*, docker-desktop). Images not pushed are
    /// loaded into the local Docker-compatible engine, unless --oci-layout-path or
    /// --tarball is given.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", env = "SKAFFOLD_PUSH")]
    pub push: Option<bool>,

    /// Write the images into this OCI image layout directory.
    #[arg(long = "oci-layout-path", value_name = "DIR")]
    pub oci_layout_path: Option<PathBuf>,

    /// Write the image as a `docker load` tarball (one platform only).
    #[arg(long, value_name = "FILE")]
    pub tarball: Option<PathBuf>,

    /// Write Skaffold's build JSON (`{"builds":[…]}`) to this file.
    #[arg(
        long = "file-output",
        value_name = "FILE",
        env = "SKAFFOLD_FILE_OUTPUT"
    )]
    pub file_output: Option<PathBuf>,

    /// Use this tag instead of the tag policy's.
    #[arg(short = 't', long, env = "SKAFFOLD_TAG")]
    pub tag: Option<String>,

    /// Target platforms (`linux/amd64,linux/arm64`, or `all` for every platform of the base).
    #[arg(long = "platform", value_delimiter = ',', env = "SKAFFOLD_PLATFORM")]
    pub platforms: Vec<String>,

    /// Only build the artifacts whose image name contains one of these (Skaffold's
    /// substring match: `-b app` selects `app` and `web-app`); after start-up, the exact
    /// names selected.
    #[arg(
        short = 'b',
        long = "build-image",
        value_delimiter = ',',
        env = "SKAFFOLD_BUILD_IMAGE"
    )]
    pub build_images: Vec<String>,

    /// Print only the build JSON (or the --output rendering) on stdout.
    #[arg(short = 'q', long, env = "SKAFFOLD_QUIET")]
    pub quiet: bool,

    /// Format the output with a Go template over `{Builds: [{ImageName, Tag}]}`, e.g.
    /// `{{range .Builds}}{{.Tag}}{{"\n"}}{{end}}` or `{{json .}}`; with --file-output the
    /// rendering is what the file gets, as in Skaffold.
    #[arg(short = 'o', long, env = "SKAFFOLD_OUTPUT")]
    pub output: Option<String>,

    /// Registries to reach over plain HTTP or without TLS verification.
    #[arg(
        long = "insecure-registry",
        value_delimiter = ',',
        env = "SKAFFOLD_INSECURE_REGISTRY"
    )]
    pub insecure_registries: Vec<String>,

    /// Write an SPDX 2.3 SBOM of every image (and index) into this directory, named
    /// `<name>-<os>-<arch>.spdx.json` and `<name>-index.spdx.json` as ko names them.
    #[arg(long = "sbom-dir", value_name = "DIR")]
    pub sbom_dir: Option<PathBuf>,

    /// Reuse an artifact whose inputs are all unchanged, without building it (on by
    /// default; `--cache-artifacts=false` forces a rebuild).
    #[arg(long = "cache-artifacts", num_args = 0..=1, default_missing_value = "true", default_value = "true", env = "SKAFFOLD_CACHE_ARTIFACTS")]
    pub cache_artifacts: bool,

    /// Layer compression: `gzip` (the default, what every runtime pulls) or `zstd` (smaller
    /// and faster; needs containerd ≥ 1.5, CRI-O or podman, and an OCI base). Wins over the
    /// KILN_COMPRESSION environment variable.
    #[arg(long, value_name = "gzip|zstd", value_parser = parse_compression)]
    pub compression: Option<LayerCompression>,
    #[command(flatten)]
    pub skaffold: SkaffoldBuildFlags,

    /// When pushing, reuse an image any runner built from the same inputs, found through a
    /// record in the registry (then only tagged), and record what is pushed: `true`,
    /// `false`, or `read` (look up, never record: for untrusted builds).
    #[arg(long = "remote-cache", value_name = "true|false|read", num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = parse_remote_cache, env = "KILN_REMOTE_CACHE")]
    pub remote_cache: RemoteCacheMode,
}

/// `--remote-cache` values.
fn parse_remote_cache(value: &str) -> Result<RemoteCacheMode, String> {
    match value {
        "true" => Ok(RemoteCacheMode::ReadWrite),
        "false" => Ok(RemoteCacheMode::Off),
        "read" => Ok(RemoteCacheMode::Read),
        _ => Err("expected `true`, `false` or `read`".to_owned()),
    }
}

/// Skaffold's flags of `build`, `dev` and `debug` that change what kiln does (issue 9).
/// The Skaffold flags kiln accepts without effect are in `skaffold_flags.rs`.
#[derive(Clone, Debug, Default, Args)]
pub struct SkaffoldBuildFlags {
    /// `kiln build` only: plan and print each artifact's name and tag, build nothing.
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", env = "SKAFFOLD_DRY_RUN")]
    pub dry_run: bool,

    /// Artifacts built at once (-1: `build.local.concurrency`, 0: no limit).
    #[arg(
        long = "build-concurrency",
        default_value_t = -1,
        allow_negative_numbers = true,
        env = "SKAFFOLD_BUILD_CONCURRENCY"
    )]
    pub build_concurrency: i64,

    /// Where kiln keeps its artifact records (which inputs gave which image), instead of
    /// $KILN_CACHE/artifacts: a new path reuses nothing. A directory, unlike Skaffold's file.
    #[arg(long = "cache-file", value_name = "DIR", env = "SKAFFOLD_CACHE_FILE")]
    pub cache_file: Option<PathBuf>,

    /// Build one platform only: the host's when it is among the target platforms, else
    /// the first (default: on for `dev` and `debug`, off for `build`, as in Skaffold).
    #[arg(long = "disable-multi-platform-build", num_args = 0..=1, require_equals = true, default_missing_value = "true", env = "SKAFFOLD_DISABLE_MULTI_PLATFORM_BUILD")]
    pub disable_multi_platform_build: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum KoCommand {
    /// Build Go main packages into images and publish them under KO_DOCKER_REPO; prints
    /// one reference per line, in argument order.
    #[command(visible_alias = "publish")]
    Build(Box<KoBuildArgs>),
    /// Build every `ko://` reference in Kubernetes YAML (once each, in parallel) and print
    /// the YAML with each replaced by the image's digest reference; nothing else changes.
    Resolve(Box<KoResolveArgs>),
    /// Print kiln's version (ko's `ko version`).
    Version,
    /// Log in to a registry: stores the credentials in docker's config.json
    /// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), or in its credential
    /// helper when one is configured, as `ko login` does.
    Login(KoLoginArgs),
}

/// `ko login` (go-containerregistry's `crane auth login`).
#[derive(Clone, Debug, Args)]
pub struct KoLoginArgs {
    /// The registry, e.g. `registry.example.com` or `docker.io`.
    pub server: String,

    /// Username.
    #[arg(short = 'u', long)]
    pub username: Option<String>,

    /// Password (prefer --password-stdin: a password on the command line is visible to
    /// other processes).
    #[arg(short = 'p', long)]
    pub password: Option<String>,

    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Clone, Debug, Args)]
pub struct KoResolveArgs {
    /// YAML files or directories to resolve (`-` for standard input); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub filenames: Vec<PathBuf>,

    /// Also read the subdirectories of directories given with -f.
    #[arg(short = 'R', long)]
    pub recursive: bool,

    #[command(flatten)]
    pub publish: KoPublishArgs,

    #[command(flatten)]
    pub build: KoBuildOptions,
}

#[derive(Clone, Debug, Args)]
pub struct KoBuildArgs {
    /// Local paths (`.`, `./cmd/app`) or import paths (`example.com/app`, `ko://…`) of main
    /// packages.
    #[arg(value_name = "PATH|IMPORTPATH", default_value = ".")]
    pub packages: Vec<String>,

    #[command(flatten)]
    pub publish: KoPublishArgs,

    #[command(flatten)]
    pub build: KoBuildOptions,
}

/// ko's publishing flags (pkg/commands/options/publish.go).
#[derive(Clone, Debug, Args)]
pub struct KoPublishArgs {
    /// Tags to publish (repeatable or comma-separated).
    #[arg(
        short = 't',
        long = "tags",
        value_delimiter = ',',
        default_value = "latest"
    )]
    pub tags: Vec<String>,

    /// Print `name:tag` without the digest (needs exactly one tag, not `latest`).
    #[arg(long)]
    pub tag_only: bool,

    /// Push images to KO_DOCKER_REPO (`--push=false` to only write files).
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub push: bool,

    /// Load into the local Docker-compatible engine (DOCKER_HOST, the docker context, or
    /// /var/run/docker.sock) as `ko.local/…` instead of pushing.
    #[arg(short = 'L', long)]
    pub local: bool,

    /// Reach KO_DOCKER_REPO's registry over plain HTTP or without TLS verification.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub insecure_registry: bool,

    /// Also write the images into this OCI image layout directory.
    #[arg(long, value_name = "DIR")]
    pub oci_layout_path: Option<PathBuf>,

    /// Also write the image as a `docker load` tarball (one image, one platform).
    #[arg(long, value_name = "FILE")]
    pub tarball: Option<PathBuf>,

    /// Write the published references to this file, one per line (every platform image of
    /// an index too).
    #[arg(long, value_name = "FILE")]
    pub image_refs: Option<PathBuf>,

    /// Name images `KO_DOCKER_REPO/<full import path>`.
    #[arg(short = 'P', long)]
    pub preserve_import_paths: bool,

    /// Name images `KO_DOCKER_REPO/<last element of the import path>`.
    #[arg(short = 'B', long)]
    pub base_import_paths: bool,

    /// Name images `KO_DOCKER_REPO` itself.
    #[arg(long)]
    pub bare: bool,

    /// Reuse an artifact whose inputs are all unchanged, without building it.
    #[arg(long = "cache-artifacts", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set)]
    pub cache_artifacts: bool,

    /// When pushing, reuse an image any runner built from the same inputs, found through a
    /// record in the registry (then only tagged), and record what is pushed: `true`,
    /// `false`, or `read` (look up, never record: for untrusted builds).
    #[arg(long = "remote-cache", value_name = "true|false|read", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parse_remote_cache, env = "KILN_REMOTE_CACHE")]
    pub remote_cache: RemoteCacheMode,
}

/// ko's build flags (pkg/commands/options/build.go).
#[derive(Clone, Debug, Args)]
pub struct KoBuildOptions {
    /// Enable debug logs (ko's `-v/--verbose`).
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Concurrent `go build`s (default: one per core).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,

    /// Build with `-gcflags all=-N -l`, for debuggers.
    #[arg(long)]
    pub disable_optimizations: bool,

    /// ldflags for every build, replacing .ko.yaml's (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub ldflags: Vec<String>,

    /// Platforms to build (`linux/amd64,linux/arm64`, or `all` for every platform of the
    /// base).
    #[arg(long, value_delimiter = ',')]
    pub platform: Vec<String>,

    /// Labels for the image config, `KEY=VALUE` (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub image_label: Vec<String>,

    /// Annotations for the manifest, `KEY=VALUE` (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub image_annotation: Vec<String>,

    /// The user the image runs as.
    #[arg(long)]
    pub image_user: Option<String>,

    /// Generate an SBOM for every image and index: `spdx` (SPDX 2.3 JSON, from `go version
    /// -m` of the binary) or `none`; `cyclonedx` and `go.version-m` give SPDX with a
    /// warning, as ko v0.18 does.
    #[arg(long, value_enum, default_value = "spdx")]
    pub sbom: SbomFormat,

    /// Also write the SBOMs here, as `<name>-<os>-<arch>.spdx.json` and
    /// `<name>-index.spdx.json`.
    #[arg(long, value_name = "DIR")]
    pub sbom_dir: Option<PathBuf>,

    /// How a pushed image's SBOM is attached: `auto` (an OCI referrer where the registry
    /// supports them, else a tag), `tag` (ko's `<repo>:sha256-<hex>.sbom`), `referrer`, or
    /// `none`.
    #[arg(long, value_enum, default_value = "auto")]
    pub sbom_attach: SbomAttachChoice,

    /// Layer compression: `gzip` (the default, what every runtime pulls) or `zstd` (smaller
    /// and faster; needs containerd ≥ 1.5, CRI-O or podman, and an OCI base). Wins over the
    /// KILN_COMPRESSION environment variable.
    #[arg(long, value_name = "gzip|zstd", value_parser = parse_compression)]
    pub compression: Option<LayerCompression>,
}

fn parse_compression(value: &str) -> Result<LayerCompression, String> {
    LayerCompression::parse(value)
        .ok_or_else(|| format!("expected one of {}", LayerCompression::NAMES.join(", ")))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    Spdx,
    /// Accepted as ko v0.18 accepts it: SPDX is written, with a warning.
    Cyclonedx,
    /// Accepted as ko v0.18 accepts it: SPDX is written, with a warning.
    #[value(name = "go.version-m")]
    GoVersionM,
    None,
}

impl SbomFormat {
    /// The value as given on the command line.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomAttachChoice {
    Auto,
    Tag,
    Referrer,
    None,
}
