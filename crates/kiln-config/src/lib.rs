//! kiln-config: loads `skaffold.yaml` and `.ko.yaml` into typed models.
//!
//! Both files are checked strictly: unknown fields, wrong types and YAML syntax errors come
//! back as [`ConfigError`]s carrying the file, line, column and field path (with a "did you
//! mean" hint where one helps), because a silently ignored typo in a build config is a build
//! that quietly does the wrong thing.
//!
//! The crate does no I/O besides reading the files it is pointed at; environment lookups go
//! through a caller-supplied function so loading is deterministic and testable.
//!
//! ```
//! use std::path::Path;
//! use kiln_config::{ProfileSelection, parse_skaffold};
//!
//! let yaml = "apiVersion: skaffold/v4beta14\nkind: Config\nbuild:\n  artifacts:\n  - image: app\n    ko: {main: ./cmd/app}\n";
//! let env = |_: &str| None;
//! let file = parse_skaffold(yaml, Path::new("skaffold.yaml"), &ProfileSelection::default(), &env)?;
//! assert_eq!(file.configs[0].build.artifacts[0].ko.main, "./cmd/app");
//!
//! let typo = yaml.replace("main:", "mian:");
//! let err = parse_skaffold(&typo, Path::new("skaffold.yaml"), &ProfileSelection::default(), &env)
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("skaffold.yaml:6:10: build.artifacts[0].ko: unknown field `mian`"));
//! assert_eq!(err.hint(), Some("did you mean `main`?"));
//! # Ok::<(), kiln_config::ConfigError>(())
//! ```

// `ConfigError` is ~150 bytes of plain data (file, position, field, message, hint). Loading
// config is a cold path that fails at most once, so a boxed error would buy nothing.
#![allow(clippy::result_large_err)]

mod de;
mod error;
mod global;
mod ko;
mod patch;
mod skaffold;
mod suggest;
mod yaml;

pub use error::{ConfigError, ErrorKind};
pub use global::{GlobalConfig, load_global_config};
pub use ko::{
    DEFAULT_BASE_IMAGE, KO_CONFIG_FILE_NAMES, KoBuild, KoConfig, load_ko_config, parse_ko_config,
};
pub use skaffold::{
    Artifact, ArtifactDependency, Build, Builder, Config, ConfigDependency, CustomArtifact,
    Dependencies, Deploy, GitCommit, GitDependency, GitVariant, Helm, HelmFlags, HelmPackaged,
    HelmRelease, IgnoredField, KoArtifact, KubectlDeploy, KubectlFlags, Kustomize, LocalBuild,
    Manifests, Metadata, ProfileDependency, ProfileSelection, SUPPORTED_API_VERSIONS, SkaffoldFile,
    Sync, SyncRule, TagComponent, TagPolicy, load_skaffold, load_skaffold_configs, parse_skaffold,
};

/// A 1-based position in a config file.
pub use kiln_yaml::Location;
