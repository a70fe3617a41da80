//! Skaffold's global configuration (`~/.skaffold/config`): the default repo, the
//! multi-level-repo switch and insecure registries, globally and per kube-context.
//!
//! Unlike skaffold.yaml this file is read leniently: it holds many settings kiln has no use
//! for (update checks, survey prompts, local-cluster flags), and a user's global file must
//! not break every build when Skaffold adds a key.

use std::path::Path;

use serde::Deserialize;

use crate::error::FileCtx;
use crate::{ConfigError, de, yaml};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ContextConfig {
    #[serde(default)]
    pub kube_context: String,
    #[serde(default)]
    pub default_repo: Option<String>,
    #[serde(default)]
    pub multi_level_repo: Option<bool>,
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// `local-cluster`: overrides Skaffold's guess from the context's name.
    #[serde(default)]
    pub local_cluster: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGlobalConfig {
    #[serde(default)]
    global: Option<ContextConfig>,
    #[serde(default)]
    kube_contexts: Vec<ContextConfig>,
}

/// The settings in force for one kube-context: its entry merged over `global:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalConfig {
    pub default_repo: Option<String>,
    pub multi_level_repo: bool,
    pub insecure_registries: Vec<String>,
    pub local_cluster: Option<bool>,
}

/// Reads `path` (a missing file means no settings) for `kube_context`.
pub fn load_global_config(
    path: &Path,
    kube_context: Option<&str>,
) -> Result<GlobalConfig, ConfigError> {
    let ctx = FileCtx::new(path);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(GlobalConfig::default()),
        Err(e) => return Err(ctx.read(e)),
    };
    if text.trim().is_empty() {
        return Ok(GlobalConfig::default());
    }
    let docs = yaml::parse_documents(&text).map_err(|e| ctx.syntax(e.loc, e.message))?;
    let raw: RawGlobalConfig = match docs.first() {
        Some(doc) => de::from_node(doc, false).map_err(|e| ctx.de_error(e, &[]))?,
        None => RawGlobalConfig::default(),
    };
    let global = raw.global.unwrap_or_default();
    let context = kube_context
        .and_then(|name| {
            raw.kube_contexts
                .into_iter()
                .find(|c| c.kube_context == name)
        })
        .unwrap_or_default();
    let mut insecure_registries = global.insecure_registries;
    insecure_registries.extend(context.insecure_registries);
    Ok(GlobalConfig {
        default_repo: context.default_repo.or(global.default_repo),
        multi_level_repo: context
            .multi_level_repo
            .or(global.multi_level_repo)
            .unwrap_or(false),
        insecure_registries,
        local_cluster: context.local_cluster.or(global.local_cluster),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, context: Option<&str>) -> GlobalConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, text).unwrap();
        load_global_config(&path, context).unwrap()
    }

    #[test]
    fn context_entry_wins_over_global_and_unknown_keys_are_ignored() {
        let text = "global:\n  default-repo: gcr.io/global\n  local-cluster: true\n  multi-level-repo: true\n  insecure-registries: [a:5000]\n  update-check: false\nkubeContexts:\n  - kube-context: kind-dev\n    default-repo: localhost:5001\n    insecure-registries: [b:5000]\n";
        let dev = load(text, Some("kind-dev"));
        assert_eq!(dev.default_repo.as_deref(), Some("localhost:5001"));
        assert!(dev.multi_level_repo);
        assert_eq!(dev.insecure_registries, ["a:5000", "b:5000"]);
        let other = load(text, Some("prod"));
        assert_eq!(other.default_repo.as_deref(), Some("gcr.io/global"));
        assert_eq!(load(text, None).insecure_registries, ["a:5000"]);
        assert_eq!(other.local_cluster, Some(true));
    }

    #[test]
    fn missing_or_empty_file_means_no_settings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load_global_config(&dir.path().join("nope"), None).unwrap(),
            GlobalConfig::default()
        );
        assert_eq!(load("", None), GlobalConfig::default());
    }

    #[test]
    fn a_wrong_type_names_the_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "global:\n  local-cluster: maybe\n").unwrap();
        let err = load_global_config(&path, None).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "config:2:18: global.local-cluster: expected a boolean, found string `maybe`"
            ),
            "{err}"
        );
        std::fs::write(&path, "global:\n  local-cluster: yes\n").unwrap();
        assert_eq!(
            load_global_config(&path, None).unwrap().local_cluster,
            Some(true)
        );
    }
}
