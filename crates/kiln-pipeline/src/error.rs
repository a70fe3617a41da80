//! The pipeline's error type: one variant per kind of failure, each carrying the file,
//! field, image or command involved, so the CLI can render it with its causes.

use std::path::PathBuf;

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
    Planning { subject: String, message: String },
    /// The catch-all of the publishing files (build, remote, sbom, publish, local,
    /// custom), which are being given their own variants; planning uses
    /// [`Error::Planning`].
    #[error("{0}")]
    Plan(String),
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
    /// `kubectl apply` could not be run or failed (`detail` is its standard error).
    #[error("kubectl apply failed: {detail}")]
    Deploy { detail: String },
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
    #[error("internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// A planning error about `subject` (see [`Error::Planning`]).
    pub fn planning(subject: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Planning {
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
