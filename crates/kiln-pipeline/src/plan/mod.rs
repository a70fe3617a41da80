//! Planning: from configuration, flags and environment to one fully resolved
//! [`ArtifactPlan`] per artifact, in which every precedence rule between skaffold.yaml,
//! .ko.yaml, flags and environment has already been applied.
//!
//! [`choose`] holds those rules as pure functions; `probe` what planning asks the
//! outside world (go list, go env, git); [`skaffold`] and [`ko`] gather each face's inputs
//! and end in the one shared step of `draft`; [`run`] decides the run-wide settings
//! (default repo, push, insecure registries, ko's destination) for the CLI.

pub mod choose;
mod draft;
pub mod ko;
#[cfg(test)]
mod precedence_tests;
mod probe;
pub mod run;
pub mod skaffold;
mod tag;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::events::Reporter;

use kiln_core::Reference;
use kiln_core::media_type::LayerCompression;
use kiln_core::platform::PlatformRequest;

/// Where an artifact's base comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BaseSpec {
    /// kiln's embedded static base.
    Builtin,
    /// `oci:PATH[:REF]`, an OCI image layout on disk.
    OciLayout {
        path: PathBuf,
        reference: Option<String>,
    },
    /// An image in a registry.
    Registry(Reference),
}

impl BaseSpec {
    /// Parses a `fromImage`/`defaultBaseImage` value: `kiln:static`, `oci:PATH[:REF]`, or a
    /// registry reference. Relative layout paths are resolved against `relative_to`.
    pub fn parse(value: &str, relative_to: &std::path::Path) -> Result<Self, String> {
        if value == kiln_image::builtin::BUILTIN_BASE_NAME {
            return Ok(BaseSpec::Builtin);
        }
        if let Some(rest) = value.strip_prefix("oci:") {
            let (path, reference) = match rest.split_once(':') {
                Some((p, r)) if !r.is_empty() => (p, Some(r.to_owned())),
                Some((p, _)) => (p, None),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(format!(
                    "`{value}` names no directory: write `oci:PATH[:REF]`"
                ));
            }
            return Ok(BaseSpec::OciLayout {
                path: relative_to.join(path),
                reference,
            });
        }
        value
            .parse::<Reference>()
            .map(BaseSpec::Registry)
            .map_err(|e| e.to_string())
    }

    pub fn display(&self) -> String {
        match self {
            BaseSpec::Builtin => kiln_image::builtin::BUILTIN_BASE_NAME.to_owned(),
            BaseSpec::OciLayout { path, reference } => match reference {
                Some(r) => format!("oci:{}:{r}", path.display()),
                None => format!("oci:{}", path.display()),
            },
            BaseSpec::Registry(r) => r.to_string(),
        }
    }
}

/// What to build: a `go list` pattern relative to the Go directory, or (for `ko://` names)
/// an import path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MainPackage {
    Pattern(String),
    ImportPath(String),
}

impl MainPackage {
    pub fn as_go_arg(&self) -> &str {
        match self {
            MainPackage::Pattern(p) | MainPackage::ImportPath(p) => p,
        }
    }
}

/// The Go-side settings of a build (from the artifact, or from .ko.yaml).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoSettings {
    pub env: Vec<(String, String)>,
    /// Rendered for the first target platform (for checks and messages).
    pub flags: Vec<String>,
    pub ldflags: Vec<String>,
    /// When the templates read `.Env`/`.GoEnv`: rendered again for each platform built.
    pub templates: Option<crate::templates::GoTemplates>,
}

impl GoSettings {
    /// `(flags, ldflags)` for a build targeting `platform`.
    pub fn for_platform(
        &self,
        platform: &kiln_core::Platform,
    ) -> Result<(Vec<String>, Vec<String>), crate::Error> {
        match &self.templates {
            Some(templates) => templates.render(platform),
            None => Ok((self.flags.clone(), self.ldflags.clone())),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ArtifactPlan {
    /// The image name as written in skaffold.yaml (the `imageName` of --file-output).
    pub image: String,
    /// `runtimeType` (e.g. `go`), reported in the build JSON for debugging tools.
    pub runtime_type: Option<String>,
    /// Images (as written in skaffold.yaml) that must be built before this one.
    pub requires: Vec<String>,
    /// The repository the image is published as (default repo applied, sanitized).
    pub repository: String,
    pub tag: String,
    /// ko's further `-t` tags: the same image is also published under each.
    pub extra_tags: Vec<String>,
    /// The artifact's context (Skaffold's workspace): dependency globs are relative to it.
    pub workspace: PathBuf,
    /// `ko.dependencies`: which files under the workspace the image depends on.
    pub dependencies: kiln_config::Dependencies,
    /// The .ko.yaml that applied, if any (its content is a build input).
    pub ko_config_path: Option<PathBuf>,
    /// Where `go` runs: the artifact context joined with `ko.dir`.
    pub go_dir: PathBuf,
    /// The main package, resolved once by `go list` during planning.
    pub package: kiln_gobuild::Package,
    pub base: BaseSpec,
    pub platforms: PlatformRequest,
    pub go: GoSettings,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub user: Option<String>,
    pub trimpath: bool,
    pub disable_optimizations: bool,
    pub source_date_epoch: Option<i64>,
    pub kodata_date_epoch: Option<i64>,
    /// `KO_DATA_PATH_ALLOWED_ROOT`, if set.
    pub kodata_allowed_root: Option<PathBuf>,
    /// Make an SPDX SBOM per image and per index while building (ko's `--sbom=spdx`).
    /// Skaffold's ko builder never does.
    pub sbom: bool,
    /// The binary's `security.capability` xattr (`.ko.yaml` `linux_capabilities`).
    pub linux_capabilities: Option<Vec<u8>>,
    /// What the configuration files said that kiln ignores (unknown `.ko.yaml` keys), for
    /// the CLI to report once.
    pub config_warnings: Vec<String>,
    /// How the kodata and binary layers are compressed (gzip unless asked otherwise).
    pub compression: LayerCompression,
}

impl ArtifactPlan {
    /// `repository:tag`, the name an OCI layout entry and a tarball carry.
    pub fn tagged_name(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// `repository:tag` for the tag and every extra tag, in order.
    pub fn tagged_names(&self) -> Vec<String> {
        std::iter::once(&self.tag)
            .chain(&self.extra_tags)
            .map(|t| format!("{}:{t}", self.repository))
            .collect()
    }
}

/// The run-wide inputs of planning that do not come from config files.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub default_repo: Option<String>,
    pub multi_level_repo: bool,
    /// `--platform`.
    pub platforms: Vec<String>,
    /// `-t/--tag`.
    pub tag: Option<String>,
    /// The environment snapshot, taken once by the CLI.
    pub env: kiln_core::env::Env,
    /// Debug builds: optimizations off and trimpath off, as `skaffold debug` does.
    pub debug: bool,
    /// The current time, for `dateTime` tags and `.Date` when SOURCE_DATE_EPOCH is unset.
    pub now_unix: i64,
    /// Whether images will be pushed (a `ko://` image then needs a default repo).
    pub push: bool,
    /// `-b/--build-image`: only these artifacts (all when empty).
    pub only: Vec<String>,
    /// kiln's cache directory (remembered `go list` answers live there).
    pub cache_dir: PathBuf,
    /// Generate SBOMs (Skaffold mode only does when asked, with `--sbom-dir`).
    pub sbom: bool,
    /// Where planning reports module downloads.
    pub events: Reporter,
    /// `--disable-multi-platform-build`: one platform per artifact, the host's if requested.
    pub single_platform: bool,
    /// The sub-second part of the current time (`dateTime`'s default `.999`).
    pub now_nanos: u32,
    /// The skaffold.yaml the configs come from, for errors that point into it.
    pub config_file: Option<PathBuf>,
    /// `--compression`, when given: it wins over `KILN_COMPRESSION` (see
    /// [`choose::compression`]).
    pub compression: Option<LayerCompression>,
}
