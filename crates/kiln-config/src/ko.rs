//! `.ko.yaml`: ko's own build configuration (github.com/ko-build/ko
//! pkg/commands/options/build.go, pkg/build/config.go).
//!
//! ko reads it with viper, which explains three rules kept here: keys match regardless of
//! case, `KO_<KEY>` environment variables override the file, and list-valued settings may
//! also be written as one string (split on whitespace, except `ldflags`, which stays whole).
//! Like ko, unknown keys are ignored (teams share one file with GoReleaser), but each is
//! reported as a warning with a did-you-mean ([`KoConfig::warnings`]).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::de::{self, Fields, OneOrMany};
use crate::error::FileCtx;
use crate::yaml::{self, Node, Value};
use crate::{ConfigError, Location};

/// ko's base image when neither `fromImage`, `.ko.yaml` nor `KO_DEFAULTBASEIMAGE` names one.
pub const DEFAULT_BASE_IMAGE: &str = "cgr.dev/chainguard/static:latest";

/// File names ko finds in its working directory, in viper's search order.
pub const KO_CONFIG_FILE_NAMES: [&str; 3] = [".ko.json", ".ko.yaml", ".ko.yml"];

/// The effective `.ko.yaml` (file plus `KO_*` environment overrides).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KoConfig {
    /// The file that was read; `None` when there is none and everything is default.
    pub path: Option<PathBuf>,
    /// `defaultBaseImage` / `KO_DEFAULTBASEIMAGE`; see [`KoConfig::base_image`].
    pub default_base_image: Option<String>,
    /// Import path → base image. Keys are lowercased (viper does), so look up with
    /// [`KoConfig::base_image_override`].
    pub base_image_overrides: IndexMap<String, String>,
    /// `defaultPlatforms` / `KO_DEFAULTPLATFORMS`, comma lists already split.
    pub default_platforms: Vec<String>,
    /// Used when a build's `env` is empty (replaced, not merged).
    pub default_env: Vec<String>,
    /// Used when a build's `flags` is empty.
    pub default_flags: Vec<String>,
    /// Used when a build's `ldflags` is empty.
    pub default_ldflags: Vec<String>,
    pub builds: Vec<KoBuild>,
    /// Keys ignored as ko ignores them (unknown, or GoReleaser's), one message each with the
    /// file, line and a did-you-mean; the caller reports them.
    pub warnings: Vec<String>,
}

impl KoConfig {
    /// The configured default base image, or ko's.
    pub fn base_image(&self) -> &str {
        self.default_base_image
            .as_deref()
            .unwrap_or(DEFAULT_BASE_IMAGE)
    }

    /// The base image override for a Go import path (matched case-insensitively).
    pub fn base_image_override(&self, import_path: &str) -> Option<&str> {
        let key = import_path
            .strip_prefix("ko://")
            .unwrap_or(import_path)
            .to_lowercase();
        self.base_image_overrides.get(&key).map(String::as_str)
    }
}

/// `builds[]`: per-binary settings, matched to an import path by resolving `dir` + `main`
/// (that resolution needs `go list` and happens elsewhere).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KoBuild {
    /// Defaults to `#<index>`; only used in messages.
    pub id: String,
    /// Relative to the ko working directory. Default `.`.
    pub dir: PathBuf,
    /// Package path (or a `.go` file in it) relative to `dir`. Default `.`.
    pub main: String,
    pub env: Vec<String>,
    pub flags: Vec<String>,
    pub ldflags: Vec<String>,
    /// setcap-style capabilities for the binary (`linux_capabilities`).
    pub linux_capabilities: Vec<String>,
    pub location: Location,
}

/// The top-level keys ko reads (viper matches them ignoring case).
const TOP_FIELDS: [&str; 7] = [
    "defaultBaseImage",
    "baseImageOverrides",
    "defaultPlatforms",
    "defaultEnv",
    "defaultFlags",
    "defaultLdflags",
    "builds",
];
/// The `builds[]` keys ko reads (pkg/build/config.go).
const BUILD_FIELDS: [&str; 7] = [
    "id",
    "dir",
    "main",
    "env",
    "flags",
    "ldflags",
    "linux_capabilities",
];
/// GoReleaser's build keys that ko's `builds[]` shares the shape of but ignores.
const GORELEASER_BUILD_FIELDS: [&str; 22] = [
    "binary",
    "builder",
    "buildmode",
    "asmflags",
    "gcflags",
    "goos",
    "goarch",
    "goarm",
    "goamd64",
    "gomips",
    "goarm64",
    "goppc64",
    "goriscv64",
    "targets",
    "ignore",
    "overrides",
    "hooks",
    "skip",
    "gobinary",
    "tool",
    "mod_timestamp",
    "no_unique_dist_dir",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKoConfig {
    #[serde(default)]
    default_base_image: Option<String>,
    #[serde(default)]
    base_image_overrides: Option<IndexMap<String, String>>,
    #[serde(default)]
    default_platforms: Option<Fields>,
    #[serde(default)]
    default_env: Option<Fields>,
    #[serde(default)]
    default_flags: Option<Fields>,
    #[serde(default)]
    default_ldflags: Option<OneOrMany>,
    #[serde(default)]
    builds: Option<Vec<RawKoBuild>>,
}

#[derive(Debug, Deserialize)]
struct RawKoBuild {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    main: Option<String>,
    #[serde(default)]
    env: Option<OneOrMany>,
    #[serde(default)]
    flags: Option<Fields>,
    #[serde(default)]
    ldflags: Option<OneOrMany>,
    #[serde(default)]
    linux_capabilities: Option<Fields>,
}

/// Finds and loads ko's config for working directory `dir` (Skaffold uses `context/dir`).
///
/// `KO_CONFIG_PATH`, when set, names the file or a directory containing `.ko.yaml` (a relative
/// value is relative to the process's working directory, as in ko); otherwise `dir/.ko.json`,
/// `.ko.yaml` or `.ko.yml` is used. No file means defaults, not an error. `KO_DEFAULTBASEIMAGE`,
/// `KO_DEFAULTPLATFORMS`, `KO_DEFAULTENV`, `KO_DEFAULTFLAGS` and `KO_DEFAULTLDFLAGS` override
/// the file.
pub fn load_ko_config(
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<KoConfig, ConfigError> {
    match find(dir, env)? {
        Some(path) => {
            let ctx = FileCtx::new(&path);
            let bytes = std::fs::read(&path).map_err(|e| ctx.read(e))?;
            let text = yaml::decode_utf8(&bytes).map_err(|e| ctx.syntax(e.loc, e.message))?;
            parse_ko_config(text, &path, env)
        }
        None => {
            let mut config = KoConfig::default();
            apply_env(&mut config, env);
            Ok(config)
        }
    }
}

fn find(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(over) = env("KO_CONFIG_PATH").filter(|v| !v.is_empty()) {
        let over = PathBuf::from(over);
        let ctx = FileCtx::new(&over);
        let meta = std::fs::metadata(&over).map_err(|e| ctx.read(e))?;
        let file = if meta.is_dir() {
            over.join(".ko.yaml")
        } else {
            over
        };
        let ctx = FileCtx::new(&file);
        let meta = std::fs::metadata(&file).map_err(|e| ctx.read(e))?;
        if !meta.is_file() {
            return Err(ctx.invalid(
                None,
                "",
                "is not a regular file",
                Some(
                    "KO_CONFIG_PATH names a .ko.yaml file or a directory containing one".to_owned(),
                ),
            ));
        }
        return Ok(Some(file));
    }
    Ok(KO_CONFIG_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file())))
}

/// Parses `.ko.yaml` content already in memory (then applies `KO_*` overrides from `env`);
/// `path` is used for messages and [`KoConfig::path`].
pub fn parse_ko_config(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<KoConfig, ConfigError> {
    let ctx = FileCtx::new(path);
    let docs = yaml::parse_documents(text).map_err(|e| ctx.syntax(e.loc, e.message))?;
    let mut docs = docs.into_iter().filter(|d| !d.is_null());
    let doc = docs.next();
    if let Some(extra) = docs.next() {
        return Err(ctx.invalid(
            Some(extra.loc),
            "",
            "a ko config holds one YAML document",
            None,
        ));
    }
    let mut config = match doc {
        None => KoConfig::default(),
        Some(doc) => typed(&ctx, &doc)?,
    };
    config.path = Some(path.to_path_buf());
    apply_env(&mut config, env);
    Ok(config)
}

fn typed(ctx: &FileCtx, doc: &Node) -> Result<KoConfig, ConfigError> {
    if !matches!(doc.value, Value::Map(_)) {
        return Err(ctx.invalid(
            Some(doc.loc),
            "",
            format!("expected a mapping, found {}", doc.describe()),
            None,
        ));
    }
    let raw: RawKoConfig = de::from_node(doc, true).map_err(|e| ctx.de_error(e, &[]))?;
    let build_nodes = value_ci(doc, "builds")
        .map(Node::as_seq)
        .unwrap_or_default();
    let mut warnings = ignored_keys(ctx, doc, "", &TOP_FIELDS, &[]);
    for (i, build) in build_nodes.iter().enumerate() {
        let prefix = format!("builds[{i}].");
        warnings.extend(ignored_keys(
            ctx,
            build,
            &prefix,
            &BUILD_FIELDS,
            &GORELEASER_BUILD_FIELDS,
        ));
    }
    let builds = raw
        .builds
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let or_dot = |s: Option<String>| {
                s.filter(|s| !s.is_empty())
                    .unwrap_or_else(|| ".".to_owned())
            };
            KoBuild {
                id: b
                    .id
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("#{i}")),
                dir: PathBuf::from(or_dot(b.dir)),
                main: or_dot(b.main),
                env: b.env.map(|v| v.0).unwrap_or_default(),
                flags: b.flags.map(|v| v.0).unwrap_or_default(),
                ldflags: b.ldflags.map(|v| v.0).unwrap_or_default(),
                linux_capabilities: b.linux_capabilities.map(|v| v.0).unwrap_or_default(),
                location: build_nodes.get(i).map_or(doc.loc, |n| n.loc),
            }
        })
        .collect();
    Ok(KoConfig {
        path: None,
        default_base_image: raw.default_base_image.filter(|s| !s.is_empty()),
        base_image_overrides: raw
            .base_image_overrides
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect(),
        default_platforms: platforms(raw.default_platforms.map(|v| v.0).unwrap_or_default()),
        default_env: raw.default_env.map(|v| v.0).unwrap_or_default(),
        default_flags: raw.default_flags.map(|v| v.0).unwrap_or_default(),
        default_ldflags: raw.default_ldflags.map(|v| v.0).unwrap_or_default(),
        builds,
        warnings,
    })
}

/// One warning per key of mapping `node` that ko ignores: `known` are read, `goreleaser`
/// are GoReleaser's (said so), anything else gets a did-you-mean when one is close.
fn ignored_keys(
    ctx: &FileCtx,
    node: &Node,
    prefix: &str,
    known: &[&str],
    goreleaser: &[&str],
) -> Vec<String> {
    let Value::Map(entries) = &node.value else {
        return Vec::new();
    };
    let is = |list: &[&str], key: &str| list.iter().any(|k| k.eq_ignore_ascii_case(key));
    entries
        .iter()
        .filter(|e| !is(known, &e.key))
        .map(|e| {
            let at = format!(
                "{}:{}:{}",
                ctx.path.display(),
                e.key_loc.line,
                e.key_loc.column
            );
            let key = kiln_core::text::excerpt(&e.key, 60);
            if is(goreleaser, &e.key) {
                format!("{at}: `{prefix}{key}` is a GoReleaser field; ko and kiln ignore it")
            } else {
                let hint = crate::suggest::did_you_mean(&e.key, known.iter().copied())
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default();
                format!("{at}: unknown field `{prefix}{key}` is ignored, as ko does{hint}")
            }
        })
        .collect()
}

/// Platform lists may be comma-separated (`KO_DEFAULTPLATFORMS=linux/amd64,linux/arm64`).
fn platforms(items: Vec<String>) -> Vec<String> {
    items
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// viper's `AutomaticEnv` with prefix `KO`: a set, non-empty `KO_<KEY>` beats the file.
fn apply_env(config: &mut KoConfig, env: &dyn Fn(&str) -> Option<String>) {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let words = |v: String| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    if let Some(v) = var("KO_DEFAULTBASEIMAGE") {
        config.default_base_image = Some(v);
    }
    if let Some(v) = var("KO_DEFAULTPLATFORMS") {
        config.default_platforms = platforms(words(v));
    }
    if let Some(v) = var("KO_DEFAULTENV") {
        config.default_env = words(v);
    }
    if let Some(v) = var("KO_DEFAULTFLAGS") {
        config.default_flags = words(v);
    }
    if let Some(v) = var("KO_DEFAULTLDFLAGS") {
        config.default_ldflags = vec![v];
    }
}

/// Mapping lookup ignoring ASCII case (viper keys).
fn value_ci<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|e| e.key.eq_ignore_ascii_case(key))
            .map(|e| &e.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
