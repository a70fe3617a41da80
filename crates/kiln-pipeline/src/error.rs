//! The pipeline's error type: one variant per kind of failure, each carrying the file,
//! field, image or command involved, so the CLI can render it with its causes.

use std::path::PathBuf;
use std::time::Duration;

use kiln_core::Digest;

/// A failure cause that is only ever displayed (a parser's or a library's error).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Go(#[from] kiln_gobuild::Error),
    #[error(transparent)]
    Image(#[from] kiln_image::Error),
    #[error(transparent)]
    Registry(#[from] kiln_registry::Error),
    /// Boxed: config errors carry a whole position and hint, and are rare.
    #[error(transparent)]
    Config(Box<kiln_config::ConfigError>),
    /// A planning rule refused its inputs. `subject` is what the message is about: an
    /// image, a flag, an environment variable, or a file position.
    #[error("{subject}: {message}")]
    Plan { subject: String, message: String },
    /// A file or directory could not be read (or resolved). The text carries the cause
    /// too, so an error embedded in another message keeps it.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done: `reading`, `resolving`, …
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A document (JSON, YAML, a glob) did not parse: `what` names it and where it came
    /// from.
    #[error("{what}: {source}")]
    InvalidDocument {
        what: String,
        #[source]
        source: Cause,
    },
    /// The command line asks for something the run cannot do (`message` names the flag
    /// and the fix).
    #[error("{message}")]
    Usage { message: String },
    /// An output path given by `flag` cannot be written.
    #[error("{flag} {}: {problem}", path.display())]
    Unwritable {
        flag: &'static str,
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<std::io::Error>,
    },
    /// `--digest-source=remote` found no image under a tag the tag policy gives.
    #[error(
        "failed to resolve the digest of {reference}: does the image exist remotely? Build and push it first, or render with --digest-source=local or --digest-source=tag"
    )]
    NotPushed { reference: String },
    /// A failure with the likely reason and its fix said first.
    #[error("{hint}")]
    Hinted {
        hint: String,
        #[source]
        source: Box<Error>,
    },
    /// A deploy step failed (`detail` says which releases or manifests, and why).
    #[error("{detail}")]
    Deploy { detail: String },
    /// A deployed resource did not roll out (Skaffold's "N/M deployment(s) failed");
    /// `detail` names it and says why.
    #[error("status check: {failed}/{total} deployment(s) failed: {detail}")]
    StatusCheck {
        failed: usize,
        total: usize,
        detail: String,
    },
    /// A directory walk failed (unreadable entry, a symlink loop).
    #[error("reading {}: {source}", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    /// git could not say which files it ignores in the repository around a `kodata`
    /// directory, so kiln cannot tell which of its symlinks are safe to follow.
    #[error(
        "{}: git cannot say which files it ignores in the repository at {} ({reason}); kiln follows kodata's symlinks only to files git does not ignore. Fix git, or set KO_DATA_PATH_ALLOWED_ROOT to the folder kodata may read",
        kodata.display(),
        root.display()
    )]
    KodataRepository {
        kodata: PathBuf,
        root: PathBuf,
        reason: String,
    },
    /// The file watcher of `kiln dev` could not start or watch a directory.
    #[error("cannot watch {}: {source}", path.as_ref().map_or_else(|| "for changes".to_owned(), |p| p.display().to_string()))]
    Watch {
        path: Option<PathBuf>,
        #[source]
        source: notify::Error,
    },
    /// A step needs a registry and the run has no client (it neither pushes nor reads
    /// registry bases).
    #[error("{why} needs a registry client")]
    NoRegistry { why: String },
    #[error("making the SBOM of {what}")]
    Sbom {
        what: String,
        #[source]
        source: kiln_core::sbom::SbomError,
    },
    #[error("building {image}")]
    Artifact {
        image: String,
        #[source]
        source: Box<Error>,
    },
    #[error("pushing {image} to {target}")]
    Publish {
        image: String,
        target: String,
        #[source]
        source: Box<Error>,
    },
    #[error("loading {image} into {target}")]
    Load {
        image: String,
        target: String,
        #[source]
        source: Box<Error>,
    },
    #[error(transparent)]
    Engine(#[from] kiln_engine::Error),
    /// A Kubernetes tool (`kubectl`, `kustomize`, `helm`) failed or could not start.
    #[error("`{command}` failed: {detail}")]
    Tool { command: String, detail: String },
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Naming(#[from] kiln_core::naming::NamingError),
    /// A name that must be an image reference (`role` says which) is not one.
    #[error("{image}: {role} is not an image reference")]
    InvalidReference {
        image: String,
        role: &'static str,
        #[source]
        source: kiln_core::reference::ReferenceError,
    },
    #[error("base image {base} was not found in its registry")]
    BaseNotFound { base: String },
    #[error("layer {digest} is neither built locally nor part of a registry base")]
    LayerNotFound { digest: Digest },
    #[error(
        "cannot push {image} to {repository}: the registry {registry} refused or did not answer"
    )]
    RegistryUnavailable {
        image: String,
        repository: String,
        registry: String,
        #[source]
        source: Box<kiln_registry::Error>,
    },
    /// SBOMs asked of an artifact built without them (`action`: "write", "attach").
    #[error("{image}: no SBOMs to {action}: the artifact was built without them")]
    NoSboms { image: String, action: &'static str },
    #[error(
        "{repository} has no OCI referrers API, so an SBOM referrer could not be found there: attach SBOMs by tag instead"
    )]
    NoReferrersApi { repository: String },
    #[error("attaching the SBOM of {image}")]
    AttachSbom {
        image: String,
        #[source]
        source: Box<Error>,
    },
    /// Writing an artifact into a file output (`what`: "the OCI layout DIR", …).
    #[error("{image}: writing {what}")]
    WriteOutput {
        image: String,
        what: String,
        #[source]
        source: Box<Error>,
    },
    #[error(
        "{image}: a docker tarball holds one platform, but {count} were built ({platforms}); choose one with --platform, or write an OCI layout with --oci-layout-path"
    )]
    TarballPlatforms {
        image: String,
        count: usize,
        platforms: String,
    },
    /// A load needs the platform `runner` runs (`os/arch`), which was not built.
    #[error("{runner} {platform} images, but only {built} were built; add it with --platform")]
    PlatformNotBuilt {
        runner: &'static str,
        platform: String,
        built: String,
    },
    #[error(
        "the `{tool}` CLI is not on PATH: install it, or push to a registry instead (`--push` with `-d REPO`; for `kiln ko`, KO_DOCKER_REPO=REGISTRY)"
    )]
    ToolNotFound { tool: String },
    /// A child process (`command`, as shown to the user) could not be started or waited for.
    #[error("running {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} did not finish within {} s", limit.as_secs())]
    TimedOut { command: String, limit: Duration },
    #[error("{command} failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error(
        "{image}: requires `{required}`, which was not built in this run; select it too with -b"
    )]
    RequiredNotBuilt { image: String, required: String },
    #[error("{image}: the custom buildCommand `{command}` failed ({status}); its output is above")]
    CustomFailed {
        image: String,
        command: String,
        status: std::process::ExitStatus,
    },
    #[error(
        "{image}: the custom buildCommand succeeded but pushed no image to {target} ($IMAGE); it must push there"
    )]
    CustomPushedNothing { image: String, target: String },
}

impl Error {
    /// A planning error about `subject` (see [`Error::Plan`]).
    pub fn planning(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Plan {
            subject: subject.into(),
            message: message.into(),
        }
    }

    /// An I/O failure while `action`ing `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// A command line the run cannot honour (see [`Error::Usage`]).
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
        }
    }

    /// A document named by `what` that did not parse.
    pub fn invalid(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::InvalidDocument {
            what: what.into(),
            source: source.into(),
        }
    }
}

impl From<kiln_config::ConfigError> for Error {
    fn from(e: kiln_config::ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}
