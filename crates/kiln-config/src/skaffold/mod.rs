//! `skaffold.yaml`: the typed model kiln builds from, and its loader.

mod convert;
mod profiles;
#[allow(dead_code)] // Fields that exist only so the schema accepts them are never read.
mod raw;
mod requires;
mod version;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use profiles::ProfileSelection;
pub use requires::load_skaffold_configs;
pub use version::SUPPORTED_API_VERSIONS;

use crate::error::FileCtx;
use crate::yaml::{self, Node, Value};
use crate::{ConfigError, Location, de, suggest};

/// Every config of one `skaffold.yaml`, with profiles applied and defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct SkaffoldFile {
    /// The path as given to the loader; errors and relative paths refer to it.
    pub path: PathBuf,
    /// One entry per `---`-separated config, in file order (empty documents skipped).
    pub configs: Vec<Config>,
}

/// One Skaffold config (a `---` document).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// As written, e.g. `skaffold/v4beta14`; one of [`SUPPORTED_API_VERSIONS`].
    pub api_version: String,
    pub metadata: Metadata,
    /// Other configs this one depends on; [`load_skaffold_configs`] follows them.
    pub requires: Vec<ConfigDependency>,
    pub build: Build,
    pub manifests: Manifests,
    pub deploy: Deploy,
    /// Names of the profiles applied, in application order.
    pub active_profiles: Vec<String>,
    /// Valid Skaffold fields that kiln does not act on (`deploy.kpt`, `portForward`, …), so
    /// the CLI can say they were ignored instead of silently dropping them.
    pub ignored: Vec<IgnoredField>,
    /// Where the document starts.
    pub location: Location,
    /// The file the config was read from, as the loader reached it.
    pub source: PathBuf,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// Config name; `requires[].configs` and `--module` refer to it.
    pub name: Option<String>,
    pub labels: IndexMap<String, String>,
    pub annotations: IndexMap<String, String>,
}

/// `requires[]`: a dependency on other configs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigDependency {
    /// Config names to include; empty means all.
    pub configs: Vec<String>,
    pub path: Option<PathBuf>,
    pub git: Option<GitDependency>,
    pub active_profiles: Vec<ProfileDependency>,
}

/// `requires[].git`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GitDependency {
    pub repo: String,
    pub path: Option<String>,
    pub git_ref: Option<String>,
    pub sync: Option<bool>,
}

/// `requires[].activeProfiles[]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileDependency {
    pub name: String,
    pub activated_by: Vec<String>,
}

/// `build`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Build {
    /// Only ko artifacts: anything else is rejected while loading.
    pub artifacts: Vec<Artifact>,
    /// `build.platforms`: the pipeline-wide platform list (`--platform` beats it).
    pub platforms: Vec<String>,
    pub tag_policy: TagPolicy,
    pub local: LocalBuild,
    /// Registries reached over plain HTTP / without TLS verification (matched by prefix).
    pub insecure_registries: Vec<String>,
}

/// `build.local`. Unset options stay `None` so kiln can apply its own defaults
/// (Skaffold pushes unless the cluster is local; concurrency defaults to 1 there).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalBuild {
    pub push: Option<bool>,
    pub concurrency: Option<u32>,
    pub try_import_missing: bool,
    /// Accepted for compatibility; no meaning for ko builds.
    pub use_buildkit: Option<bool>,
    /// Accepted for compatibility; no meaning for ko builds.
    pub use_docker_cli: bool,
}

/// `build.artifacts[]`, of any builder; kiln builds the ko ones.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Artifact {
    /// Image name as written (may start with `ko://`), without tag or digest.
    pub image: String,
    /// The builder the artifact names; [`Artifact::ko`] holds settings only for `Ko`.
    pub builder: Builder,
    /// Build context, relative to the skaffold.yaml directory. Default `.`.
    pub context: PathBuf,
    /// Platforms this artifact may be built for (intersected with the pipeline's).
    pub platforms: Vec<String>,
    /// Other artifacts this one needs built first.
    pub requires: Vec<ArtifactDependency>,
    /// The ko settings (defaults for an artifact of another builder).
    pub ko: KoArtifact,
    /// The `custom` settings, for a custom artifact.
    pub custom: Option<CustomArtifact>,
    /// `runtimeType` (e.g. `go`) for `skaffold debug`.
    pub runtime_type: Option<String>,
    pub sync: Option<Sync>,
    /// Where the artifact is declared (or patched in).
    pub location: Location,
    /// Where `ko.main` is written, when it is.
    pub main_location: Option<Location>,
}

/// The builder an artifact names (Skaffold allows exactly one; none means docker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Builder {
    #[default]
    Ko,
    /// `docker:`, or no builder at all (`by_default`), which Skaffold builds with docker.
    Docker {
        by_default: bool,
    },
    Custom,
    Buildpacks,
    Jib,
    Bazel,
    Kaniko,
}

impl Builder {
    /// The schema key, e.g. `docker`.
    pub fn name(self) -> &'static str {
        match self {
            Builder::Ko => "ko",
            Builder::Docker { .. } => "docker",
            Builder::Custom => "custom",
            Builder::Buildpacks => "buildpacks",
            Builder::Jib => "jib",
            Builder::Bazel => "bazel",
            Builder::Kaniko => "kaniko",
        }
    }

    fn from_key(key: &str) -> Option<Builder> {
        Some(match key {
            "ko" => Builder::Ko,
            "docker" => Builder::Docker { by_default: false },
            "custom" => Builder::Custom,
            "buildpacks" => Builder::Buildpacks,
            "jib" => Builder::Jib,
            "bazel" => Builder::Bazel,
            "kaniko" => Builder::Kaniko,
            _ => return None,
        })
    }
}

/// `build.artifacts[].requires[]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArtifactDependency {
    pub image: String,
    /// Defaults to `image`.
    pub alias: String,
}

/// `build.artifacts[].ko`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KoArtifact {
    /// Base image. Precedence (Skaffold): `.ko.yaml baseImageOverrides` > this >
    /// `.ko.yaml defaultBaseImage` > ko's default.
    pub from_image: Option<String>,
    pub dependencies: Dependencies,
    /// Where `go` runs, relative to the context. Default `.`.
    pub dir: PathBuf,
    /// Build-time environment (`KEY=value`); templates are expanded later.
    pub env: Vec<String>,
    pub flags: Vec<String>,
    pub ldflags: Vec<String>,
    pub labels: IndexMap<String, String>,
    /// Main package pattern relative to context+dir. Default `.`.
    pub main: String,
}

impl KoArtifact {
    /// Skaffold builds its own ko build config (ignoring `.ko.yaml builds[]`) only when one of
    /// these is set; `dir` and `main` count only when not `.`.
    pub fn overrides_ko_builds(&self) -> bool {
        self.dir != Path::new(".")
            || self.main != "."
            || !self.env.is_empty()
            || !self.flags.is_empty()
            || !self.ldflags.is_empty()
    }
}

/// `build.artifacts[].custom`: an image built by the user's own command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomArtifact {
    /// Run with `sh -c` in the context, with Skaffold's `$IMAGE`, `$PUSH_IMAGE`, … contract
    /// (may be empty: the planner refuses that for a selected artifact).
    pub build_command: String,
    /// `dependencies.paths`/`ignore` (no default: an empty list watches nothing).
    pub dependencies: Dependencies,
    /// `dependencies.command`: prints a JSON array of the dependency paths.
    pub dependencies_command: Option<String>,
    /// Whether `dependencies.dockerfile` is set (its dependencies come from a Dockerfile).
    pub dependencies_dockerfile: bool,
}

/// `ko.dependencies`: globs relative to the context, for watching and cache keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dependencies {
    /// Default `["**/*.go"]` when neither `paths` nor `ignore` is given.
    pub paths: Vec<String>,
    pub ignore: Vec<String>,
}

/// `build.artifacts[].sync`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sync {
    pub manual: Vec<SyncRule>,
    /// For ko, every pattern contains `kodata` (checked while loading).
    pub infer: Vec<String>,
    pub auto: Option<bool>,
}

/// `sync.manual[]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncRule {
    pub src: String,
    pub dest: String,
    pub strip: String,
}

/// `build.tagPolicy`: how the image tag is computed. Default `gitCommit` / `Tags`.
#[derive(Debug, Clone, PartialEq)]
pub enum TagPolicy {
    GitCommit(GitCommit),
    /// `latest`; the digest is appended after the push.
    Sha256,
    EnvTemplate {
        template: String,
    },
    /// Skaffold's defaults: format `2006-01-02_15-04-05.999_MST`, timezone `Local`.
    DateTime {
        format: Option<String>,
        timezone: Option<String>,
    },
    InputDigest,
    CustomTemplate {
        template: String,
        components: Vec<TagComponent>,
    },
}

impl Default for TagPolicy {
    fn default() -> Self {
        TagPolicy::GitCommit(GitCommit::default())
    }
}

/// `tagPolicy.gitCommit`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GitCommit {
    pub variant: GitVariant,
    pub prefix: String,
    /// Do not append `-dirty` for uncommitted changes.
    pub ignore_changes: bool,
}

/// Skaffold's gitCommit variants, shared with the tagger in kiln-core.
pub use kiln_core::tag::GitCommitVariant as GitVariant;

/// The variant names, for error hints.
pub(crate) const GIT_VARIANT_NAMES: [&str; 6] = [
    "Tags",
    "CommitSha",
    "AbbrevCommitSha",
    "TreeSha",
    "AbbrevTreeSha",
    "Branches",
];

/// `customTemplate.components[]`: a named tagger usable in the template.
#[derive(Debug, Clone, PartialEq)]
pub struct TagComponent {
    pub name: String,
    pub policy: TagPolicy,
}

/// `manifests` (skaffold/v2's `deploy.kubectl.manifests` ends up here too).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifests {
    /// Globs of Kubernetes YAML; Skaffold's default `["k8s/*.yaml"]` when no renderer or
    /// deployer is configured.
    pub raw_yaml: Vec<String>,
    /// `manifests.kustomize` (skaffold/v2's `deploy.kustomize` ends up here too).
    pub kustomize: Option<Kustomize>,
    /// `manifests.helm` (skaffold/v2's `deploy.helm` ends up here too).
    pub helm: Option<Helm>,
}

/// `manifests.kustomize`: folders `kustomize build` renders.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Kustomize {
    /// Folders holding a kustomization, templated with the environment; `["."]` when
    /// none are given, as Skaffold documents.
    pub paths: Vec<String>,
    /// Passed to `kustomize build` before the path, each split at spaces.
    pub build_args: Vec<String>,
}

/// `manifests.helm` and `deploy.helm`: releases and the flags passed to `helm`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Helm {
    pub releases: Vec<HelmRelease>,
    pub flags: HelmFlags,
    /// `deploy.helm.concurrency`: releases installed at once (0: no limit; default 1).
    pub concurrency: Option<i64>,
}

/// `helm.flags`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HelmFlags {
    /// Passed to every `helm` command.
    pub global: Vec<String>,
    pub install: Vec<String>,
    pub upgrade: Vec<String>,
    pub dep_build: Vec<String>,
    pub template: Vec<String>,
}

/// `helm.releases[]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HelmRelease {
    /// Templated with the environment.
    pub name: String,
    /// A local chart (folder or packaged `.tgz`), templated with the environment.
    pub chart_path: Option<String>,
    /// A chart `helm` fetches itself (`repo/chart`, `oci://…`, a URL).
    pub remote_chart: Option<String>,
    pub values_files: Vec<String>,
    pub namespace: Option<String>,
    pub version: Option<String>,
    /// `setValues`, flattened as Skaffold does (`a.b`, `list[0]`), sorted by key.
    pub set_values: Vec<(String, String)>,
    /// `setValueTemplates`, flattened and sorted; values are templates over the
    /// environment and the built images (`IMAGE_REPO_<name>`, …).
    pub set_value_templates: Vec<(String, String)>,
    /// `setFiles`, sorted by key.
    pub set_files: Vec<(String, String)>,
    pub create_namespace: bool,
    pub wait: bool,
    pub recreate_pods: bool,
    pub skip_build_dependencies: bool,
    pub skip_tests: bool,
    pub use_helm_secrets: bool,
    pub repo: Option<String>,
    pub upgrade_on_change: Option<bool>,
    /// `overrides` as a JSON document (a valid YAML values file), when given.
    pub overrides: Option<String>,
    /// `packaged` (`helm package` before installing).
    pub packaged: Option<HelmPackaged>,
    pub depends_on: Vec<String>,
}

/// `releases[].packaged`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HelmPackaged {
    pub version: Option<String>,
    pub app_version: Option<String>,
}

/// `deploy`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Deploy {
    /// Set when kubectl deploys, including by Skaffold's default.
    pub kubectl: Option<KubectlDeploy>,
    /// `deploy.kubeContext`.
    pub kube_context: Option<String>,
    /// `deploy.helm`: releases installed with `helm upgrade --install`. When the config
    /// also has `manifests.helm`, its releases and flags are these (Skaffold copies them).
    pub helm: Option<Helm>,
    /// `deploy.statusCheck`: whether to wait for what was deployed to stabilize (unset:
    /// Skaffold's default, yes).
    pub status_check: Option<bool>,
    /// `deploy.statusCheckDeadlineSeconds` (unset or not positive: Skaffold's 600).
    pub status_check_deadline_seconds: Option<i64>,
    /// `deploy.tolerateFailuresUntilDeadline`: a failing rollout is polled again until the
    /// deadline instead of failing the deploy.
    pub tolerate_failures_until_deadline: bool,
}

/// `deploy.kubectl`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KubectlDeploy {
    pub flags: KubectlFlags,
    pub default_namespace: Option<String>,
    pub remote_manifests: Vec<String>,
}

/// `deploy.kubectl.flags`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KubectlFlags {
    pub global: Vec<String>,
    pub apply: Vec<String>,
    pub delete: Vec<String>,
    pub disable_validation: bool,
}

/// A Skaffold field that was accepted but has no effect in kiln.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredField {
    /// e.g. `deploy.kpt`.
    pub field: String,
    pub location: Location,
}

/// Reads and loads `path`. The only I/O is reading that file; `env` answers environment
/// lookups for profile activation (the CLI answers them from its environment snapshot).
pub fn load_skaffold(
    path: &Path,
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SkaffoldFile, ConfigError> {
    let ctx = FileCtx::new(path);
    let bytes = std::fs::read(path).map_err(|e| ctx.read(e))?;
    let text = yaml::decode_utf8(&bytes).map_err(|e| ctx.syntax(e.loc, e.message))?;
    parse_skaffold(text, path, selection, env)
}

/// Loads skaffold.yaml content already in memory; `path` is used for messages only.
/// Config-level `requires` are not followed: see [`load_skaffold_configs`].
pub fn parse_skaffold(
    text: &str,
    path: &Path,
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SkaffoldFile, ConfigError> {
    let (file, profile_names) = parse_file(text, path, selection, env)?;
    check_selected_profiles(&FileCtx::new(path), &profile_names, selection)?;
    Ok(file)
}

/// [`parse_skaffold`] without checking that every `-p` profile exists (it may exist in
/// another file of the config tree); also returns every profile name the file defines.
fn parse_file(
    text: &str,
    path: &Path,
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(SkaffoldFile, Vec<String>), ConfigError> {
    let ctx = FileCtx::new(path);
    let docs = yaml::parse_documents(text).map_err(|e| ctx.syntax(e.loc, e.message))?;

    struct Parsed {
        tree: Node,
        version: version::Version,
        raw: raw::RawConfig,
    }
    let mut parsed = Vec::new();
    for mut doc in docs {
        if doc.is_null() {
            continue;
        }
        if !matches!(doc.value, Value::Map(_)) {
            return Err(ctx.invalid(
                Some(doc.loc),
                "",
                format!("a config must be a mapping, found {}", doc.describe()),
                None,
            ));
        }
        // Skaffold drops top-level keys starting with `.`: they only hold YAML anchors.
        if let Value::Map(entries) = &mut doc.value {
            entries.retain(|e| !e.key.starts_with('.'));
        }
        let version = read_version(&ctx, &doc)?;
        version::check_gates(&ctx, &doc, version)?;
        let raw: raw::RawConfig = de::from_node(&doc, false).map_err(|e| ctx.de_error(e, &[]))?;
        parsed.push(Parsed {
            tree: doc,
            version,
            raw,
        });
    }
    if parsed.is_empty() {
        return Err(ctx.invalid(
            None,
            "",
            "no configs found",
            Some("a skaffold.yaml needs at least `apiVersion` and `kind: Config`".to_owned()),
        ));
    }

    // Skaffold refuses to mix its v1 (skaffold/v2…) and v2 (skaffold/v3…, v4…) schema lines.
    if let (Some(old), Some(new)) = (
        parsed.iter().find(|p| p.version.is_v2_schema()),
        parsed.iter().find(|p| !p.version.is_v2_schema()),
    ) {
        let loc = new.tree.get("apiVersion").map(|n| n.loc);
        return Err(ctx.unsupported(
            loc,
            "apiVersion",
            format!(
                "configs in one file mix {} with {}, which Skaffold refuses",
                old.version.name(),
                new.version.name()
            ),
            Some("upgrade every config with `skaffold fix`".to_owned()),
        ));
    }

    check_config_names(&ctx, parsed.iter().map(|p| (&p.raw, &p.tree)))?;
    let profile_names = check_profile_names(&ctx, parsed.iter().map(|p| (&p.raw, &p.tree)))?;

    let mut configs = Vec::new();
    for Parsed {
        mut tree,
        version,
        mut raw,
    } in parsed
    {
        let profiles = raw.profiles.take().unwrap_or_default();
        let mut profile_nodes: Vec<Node> = tree
            .remove("profiles")
            .map(|e| e.value.as_seq().to_vec())
            .unwrap_or_default();
        let location = tree.loc;
        if version.is_v2_schema() {
            profiles::normalize_v2(&mut tree);
            profile_nodes.iter_mut().for_each(profiles::normalize_v2);
        }
        let active = profiles::activated(&ctx, &profiles, &profile_nodes, selection, env)?;
        for &i in &active {
            if let (Some(profile), Some(node)) = (profiles.get(i), profile_nodes.get(i)) {
                profiles::apply(&ctx, &mut tree, profile, node, i, version)?;
            }
        }
        if version.is_v2_schema() {
            profiles::normalize_v2(&mut tree);
        }
        // Type the result again: profiles and the v2 normalization changed the tree, and a
        // patch may have put anything anywhere.
        let final_raw: raw::RawConfig =
            de::from_node(&tree, false).map_err(|e| ctx.de_error(e, &[]))?;
        let names = active.iter().map(|&i| profiles[i].name.clone()).collect();
        let mut config = convert::config(&ctx, final_raw, &tree, version, names, location)?;
        config.source = path.to_path_buf();
        configs.push(config);
    }
    convert::check_across_configs(&ctx, &configs)?;
    Ok((
        SkaffoldFile {
            path: path.to_path_buf(),
            configs,
        },
        profile_names,
    ))
}

fn read_version(ctx: &FileCtx, doc: &Node) -> Result<version::Version, ConfigError> {
    let Some(entry) = doc.entry("apiVersion") else {
        return Err(ctx.invalid(
            Some(doc.loc),
            "",
            "missing field `apiVersion`",
            Some(format!(
                "add `apiVersion: {}`",
                SUPPORTED_API_VERSIONS[SUPPORTED_API_VERSIONS.len() - 1]
            )),
        ));
    };
    let Some(text) = entry.value.as_str() else {
        return Err(ctx.invalid(
            Some(entry.value.loc),
            "apiVersion",
            format!("expected a string, found {}", entry.value.describe()),
            None,
        ));
    };
    let version = version::parse(ctx, text, entry.value.loc)?;
    if let Some(kind) = doc.entry("kind")
        && let Some(k) = kind.value.as_str()
        && k != "Config"
    {
        return Err(ctx.invalid(
            Some(kind.value.loc),
            "kind",
            format!("expected `Config`, found `{k}`"),
            Some("is this a Kubernetes manifest rather than a skaffold.yaml?".to_owned()),
        ));
    }
    Ok(version)
}

fn check_config_names<'a>(
    ctx: &FileCtx,
    configs: impl Iterator<Item = (&'a raw::RawConfig, &'a Node)>,
) -> Result<(), ConfigError> {
    let mut seen: Vec<(String, Location)> = Vec::new();
    for (raw, tree) in configs {
        let Some(name) = raw
            .metadata
            .as_ref()
            .and_then(|m| m.name.clone())
            .filter(|n| !n.is_empty())
        else {
            continue;
        };
        let loc = tree
            .get("metadata")
            .and_then(|m| m.get("name"))
            .map_or(tree.loc, |n| n.loc);
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            return Err(ctx.invalid(
                Some(loc),
                "metadata.name",
                format!(
                    "duplicate config name `{name}` (first used at line {})",
                    first.line
                ),
                Some("config names must be unique within a file".to_owned()),
            ));
        }
        seen.push((name, loc));
    }
    Ok(())
}

/// Profile names must be unique and non-empty within a config; returns every name.
fn check_profile_names<'a>(
    ctx: &FileCtx,
    configs: impl Iterator<Item = (&'a raw::RawConfig, &'a Node)>,
) -> Result<Vec<String>, ConfigError> {
    let mut all: Vec<String> = Vec::new();
    for (raw, tree) in configs {
        let mut mine: Vec<&str> = Vec::new();
        for (i, p) in raw
            .profiles
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let node = tree.get("profiles").and_then(|ps| ps.index(i));
            let loc = node.map(|n| n.get("name").unwrap_or(n).loc);
            let field = format!("profiles[{i}].name");
            if p.name.is_empty() {
                return Err(ctx.profile(loc, field, "", "profile name must not be empty", None));
            }
            if mine.contains(&p.name.as_str()) {
                return Err(ctx.profile(
                    loc,
                    field,
                    p.name.clone(),
                    format!("duplicate profile name `{}`", p.name),
                    None,
                ));
            }
            profiles::check_patches(ctx, p, node, i)?;
            mine.push(&p.name);
            if !all.contains(&p.name) {
                all.push(p.name.clone());
            }
        }
    }
    Ok(all)
}

/// Every `-p` name must exist in some config of the files loaded (Skaffold: "profile
/// selection … did not match those defined in any configurations").
fn check_selected_profiles(
    ctx: &FileCtx,
    all: &[String],
    selection: &ProfileSelection,
) -> Result<(), ConfigError> {
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    for name in selection.names() {
        let bare = name.strip_prefix('-').unwrap_or(name);
        if all.contains(&bare) {
            continue;
        }
        let available = if all.is_empty() {
            "the file defines no profiles".to_owned()
        } else {
            format!("available profiles: {}", suggest::one_of(&all))
        };
        let hint = suggest::did_you_mean(bare, all.iter().copied())
            .map_or(available.clone(), |d| format!("{d} ({available})"));
        return Err(ctx.profile(
            None,
            "",
            bare,
            format!("profile `{bare}` selected with -p is not defined in any config"),
            Some(hint),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
