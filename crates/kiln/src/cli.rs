//! The command line, as clap definitions only. Flags and their names follow Skaffold
//! (`kiln build`) so existing scripts keep working.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "Build Go applications into reproducible OCI images, without Docker. A drop-in for Skaffold's ko builder.",
    propagate_version = true
)]
pub struct Cli {
    /// Log verbosity: error, warn, info, debug or trace.
    #[arg(
        short = 'v',
        long,
        global = true,
        default_value = "warn",
        env = "SKAFFOLD_VERBOSITY"
    )]
    pub verbosity: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the ko artifacts of a skaffold.yaml.
    Build(Box<BuildArgs>),
    /// Build, then watch every artifact's sources and rebuild what changed (no cluster
    /// needed: images go to the registry or the OCI layout on each change).
    Dev(Box<BuildArgs>),
    /// Manage kiln's cache ($KILN_CACHE, default ~/.cache/kiln).
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
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

    /// Kubernetes context, for profile activation by `kubeContext`.
    #[arg(long = "kube-context", env = "SKAFFOLD_KUBE_CONTEXT")]
    pub kube_context: Option<String>,

    /// Default repository: image names are rewritten to live under it.
    /// (Also `SKAFFOLD_DEFAULT_REPO`, then `default-repo` in ~/.skaffold/config.)
    #[arg(short = 'd', long = "default-repo")]
    pub default_repo: Option<String>,
}

#[derive(Clone, Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Push images to their registry. Without a registry to push to, use
    /// --oci-layout-path or --tarball.
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
    #[arg(short = 't', long)]
    pub tag: Option<String>,

    /// Target platforms (`linux/amd64,linux/arm64`, or `all` for every platform of the base).
    #[arg(long = "platform", value_delimiter = ',', env = "SKAFFOLD_PLATFORM")]
    pub platforms: Vec<String>,

    /// Only build these artifacts (image names as in skaffold.yaml).
    #[arg(short = 'b', long = "build-image", value_delimiter = ',')]
    pub build_images: Vec<String>,

    /// Print only the build JSON on stdout.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Format the output with a Go template over `{Builds: [{ImageName, Tag}]}`, e.g.
    /// `{{range .Builds}}{{.Tag}}{{"\n"}}{{end}}` or `{{json .}}`.
    #[arg(short = 'o', long)]
    pub output: Option<String>,

    /// Registries to reach over plain HTTP or without TLS verification.
    #[arg(long = "insecure-registry", value_delimiter = ',')]
    pub insecure_registries: Vec<String>,

    /// Reuse an artifact whose inputs are all unchanged, without building it (on by
    /// default; `--cache-artifacts=false` forces a rebuild).
    #[arg(long = "cache-artifacts", num_args = 0..=1, default_missing_value = "true", default_value = "true")]
    pub cache_artifacts: bool,
}
