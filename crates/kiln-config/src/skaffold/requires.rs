//! Config-level `requires`: the tree of configs a skaffold.yaml names, loaded as Skaffold's
//! parser does (pkg/skaffold/parser/config.go): required configs come before the config
//! that requires them, `requires[].configs` picks configs by `metadata.name`,
//! `activeProfiles` (and the `-p` profiles, propagated) choose their profiles, and a config
//! met twice is kept once (with other profiles it is an error). Relative paths of configs
//! from another file are made absolute against that file's folder; the root file's stay
//! relative (to the working directory).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Config, ProfileSelection, check_selected_profiles, parse_file};
use crate::error::FileCtx;
use crate::{ConfigError, yaml};

/// Loads `path` and every config it requires, in Skaffold's order. `modules` (`-m`) keeps
/// only the configs of those `metadata.name`s and what they require (all when empty).
pub fn load_skaffold_configs(
    path: &Path,
    selection: &ProfileSelection,
    env: &dyn Fn(&str) -> Option<String>,
    modules: &[String],
) -> Result<Vec<Config>, ConfigError> {
    let mut walk = Walk {
        selection,
        env,
        modules,
        applied: HashMap::new(),
        profile_names: Vec::new(),
        names: HashMap::new(),
    };
    let root = Visit {
        path: path.to_path_buf(),
        profiles: selection.profiles.clone(),
        only: Vec::new(),
        required: false,
        dependency: false,
    };
    let configs = walk.file(&root)?;
    let ctx = FileCtx::new(path);
    check_selected_profiles(&ctx, &walk.profile_names, selection)?;
    if let Some(missing) = modules.iter().find(|m| !walk.names.contains_key(*m)) {
        let mut known: Vec<&str> = walk.names.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err(ctx.invalid(
            None,
            "metadata.name",
            format!("-m/--module {missing}: no config has `metadata.name: {missing}`"),
            Some(if known.is_empty() {
                "no config sets `metadata.name`".to_owned()
            } else {
                format!("the configs are named {}", known.join(", "))
            }),
        ));
    }
    super::convert::check_across_configs(&ctx, &configs)?;
    Ok(configs)
}

/// One file to load, and how it was reached.
struct Visit {
    path: PathBuf,
    /// Profiles to activate (`-p` for the root; `activeProfiles` plus `-p` below it).
    profiles: Vec<String>,
    /// `requires[].configs`: only these names (all when empty).
    only: Vec<String>,
    /// Required by a config that `-m` kept.
    required: bool,
    /// Reached through another file's `requires`: paths are made absolute.
    dependency: bool,
}

struct Walk<'a> {
    selection: &'a ProfileSelection,
    env: &'a dyn Fn(&str) -> Option<String>,
    modules: &'a [String],
    /// (file, index, kept) → the profiles applied when first met.
    applied: HashMap<(PathBuf, usize, bool), Vec<String>>,
    profile_names: Vec<String>,
    /// `metadata.name` → the file that defines it.
    names: HashMap<String, PathBuf>,
}

impl Walk<'_> {
    fn file(&mut self, visit: &Visit) -> Result<Vec<Config>, ConfigError> {
        let ctx = FileCtx::new(&visit.path);
        let bytes = std::fs::read(&visit.path).map_err(|e| ctx.read(e))?;
        let text = yaml::decode_utf8(&bytes).map_err(|e| ctx.syntax(e.loc, e.message))?;
        let selection = ProfileSelection {
            profiles: visit.profiles.clone(),
            ..self.selection.clone()
        };
        let (file, names) = parse_file(text, &visit.path, &selection, self.env)?;
        for name in names {
            if !self.profile_names.contains(&name) {
                self.profile_names.push(name);
            }
        }
        let identity = std::fs::canonicalize(&visit.path).unwrap_or_else(|_| visit.path.clone());
        let folder = visit
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut out = Vec::new();
        for (index, mut config) in file.configs.into_iter().enumerate() {
            let name = config.metadata.name.clone();
            if let Some(name) = &name {
                match self.names.get(name) {
                    Some(other) if *other != identity => {
                        return Err(ctx.invalid(
                            Some(config.location),
                            "metadata.name",
                            format!("config name `{name}` is also used in {}", other.display()),
                            Some("config names must be unique across all files".to_owned()),
                        ));
                    }
                    _ => {
                        self.names.insert(name.clone(), identity.clone());
                    }
                }
            }
            if !visit.only.is_empty() && !name.as_ref().is_some_and(|n| visit.only.contains(n)) {
                continue;
            }
            let required = visit.required
                || self.modules.is_empty()
                || name.as_ref().is_some_and(|n| self.modules.contains(n));
            if visit.dependency {
                absolutize(&mut config, &folder);
            }
            let mut applied = config.active_profiles.clone();
            applied.sort();
            match self.applied.get(&(identity.clone(), index, required)) {
                Some(previous) if *previous == applied => continue,
                Some(_) => {
                    return Err(ctx.invalid(
                        Some(config.location),
                        "",
                        format!(
                            "config {} is required with different sets of profiles",
                            name.map_or_else(|| format!("#{index}"), |n| format!("`{n}`"))
                        ),
                        Some("make every `requires` of it activate the same profiles".to_owned()),
                    ));
                }
                None => {
                    self.applied
                        .insert((identity.clone(), index, required), applied.clone());
                }
            }
            for (i, dep) in config.requires.iter().enumerate() {
                let field = format!("requires[{i}]");
                if dep.git.is_some() {
                    return Err(ctx.unsupported(
                        Some(config.location),
                        format!("{field}.git"),
                        "kiln does not fetch required configs from git",
                        Some("clone the repository and require it with `path`".to_owned()),
                    ));
                }
                let mut path = match &dep.path {
                    Some(p) => folder.join(p),
                    None => visit.path.clone(),
                };
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_dir() => path = path.join("skaffold.yaml"),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(ctx.invalid(
                            Some(config.location),
                            format!("{field}.path"),
                            format!("required config {} cannot be read: {e}", path.display()),
                            None,
                        ));
                    }
                }
                let mut profiles: Vec<String> = dep
                    .active_profiles
                    .iter()
                    .filter(|p| {
                        p.activated_by.is_empty()
                            || p.activated_by.iter().any(|a| applied.contains(a))
                    })
                    .map(|p| p.name.clone())
                    .collect();
                // Skaffold propagates `-p` to required configs (--propagate-profiles).
                for p in &self.selection.profiles {
                    if !profiles.contains(p) {
                        profiles.push(p.clone());
                    }
                }
                let same_file =
                    std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()) == identity;
                out.extend(self.file(&Visit {
                    path,
                    profiles,
                    only: dep.configs.clone(),
                    required,
                    dependency: visit.dependency || !same_file,
                })?);
            }
            if required {
                out.push(config);
            }
        }
        Ok(out)
    }
}

/// Skaffold's `MakeFilePathsAbsolute` for the paths kiln reads: artifact contexts, raw
/// manifests, kustomize paths and helm charts and files, resolved against the required
/// file's folder.
fn absolutize(config: &mut Config, folder: &Path) {
    let base = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
    for artifact in &mut config.build.artifacts {
        artifact.context = base.join(&artifact.context);
    }
    let join = |path: &mut String| *path = base.join(&*path).display().to_string();
    config.manifests.raw_yaml.iter_mut().for_each(join);
    if let Some(k) = &mut config.manifests.kustomize {
        k.paths.iter_mut().for_each(join);
    }
    let helms = [&mut config.manifests.helm, &mut config.deploy.helm];
    for release in helms.into_iter().flatten().flat_map(|h| &mut h.releases) {
        release.chart_path.iter_mut().for_each(join);
        release.values_files.iter_mut().for_each(join);
        release.set_files.iter_mut().for_each(|(_, f)| join(f));
    }
}
