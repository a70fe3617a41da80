//! The run-wide settings each face decides before planning, from the parsed flags, the
//! environment snapshot and the configs: for Skaffold the kube context, push, default
//! repo and insecure registries; for ko the destination that `KO_DOCKER_REPO`, `-L` and
//! `--push` select. The rules are [`super::choose`]'s; this module only gathers their
//! inputs (the kubeconfig and Skaffold's global config are files).

use kiln_core::env::Env;
use std::path::Path;

use kiln_config::{Config, GlobalConfig};

use super::choose::{self, KoDestination};
use crate::Error;

/// The Skaffold flags that decide run-wide settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct SkaffoldFlags<'a> {
    /// `--default-repo`.
    pub default_repo: Option<&'a str>,
    /// `--push`.
    pub push: Option<bool>,
    /// `--insecure-registry`.
    pub insecure_registries: &'a [String],
    /// `--kube-context`.
    pub kube_context: Option<&'a str>,
    /// `-c/--config`: Skaffold's global config file.
    pub global_config: Option<&'a Path>,
}

/// What a Skaffold-face run decided before planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkaffoldRun {
    /// `--kube-context`, else `deploy.kubeContext`, else the kubeconfig's current context.
    pub kube_context: Option<String>,
    /// See [`choose::skaffold_push`].
    pub push: bool,
    /// See [`choose::default_repo`].
    pub default_repo: Option<String>,
    /// The global config's `multi-level-repo`.
    pub multi_level_repo: bool,
    /// See [`choose::insecure_registries`].
    pub insecure_registries: Vec<String>,
}

/// Decides a Skaffold-face run's settings: the kube context, then the global config's
/// section for it, then push, default repo and insecure registries by their precedence.
pub fn skaffold_run(
    flags: &SkaffoldFlags<'_>,
    configs: &[Config],
    env: &Env,
) -> Result<SkaffoldRun, Error> {
    let kube_context = crate::local::kube_context(
        flags.kube_context,
        configs
            .iter()
            .find_map(|c| c.deploy.kube_context.as_deref()),
        env,
    );
    let global = global_config(flags.global_config, kube_context.as_deref(), env)?;
    Ok(SkaffoldRun {
        push: choose::skaffold_push(
            flags.push,
            configs.iter().find_map(|c| c.build.local.push),
            global.local_cluster,
            kube_context.as_deref(),
        ),
        default_repo: choose::default_repo(flags.default_repo, env, global.default_repo.as_deref()),
        multi_level_repo: global.multi_level_repo,
        insecure_registries: choose::insecure_registries(
            flags.insecure_registries,
            configs.iter().flat_map(|c| &c.build.insecure_registries),
            &global.insecure_registries,
        ),
        kube_context,
    })
}

/// Skaffold's global config (`-c/--config`, else `~/.skaffold/config`), its section for
/// `kube_context` over its `global` one.
pub fn global_config(
    flag: Option<&Path>,
    kube_context: Option<&str>,
    env: &Env,
) -> Result<GlobalConfig, Error> {
    let path = choose::global_config_path(flag, env);
    Ok(kiln_config::load_global_config(&path, kube_context)?)
}

/// The ko flags that decide run-wide settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct KoFlags {
    /// `-L/--local`.
    pub local: bool,
    /// `--push`.
    pub push: bool,
    /// `--insecure-registry`.
    pub insecure_registry: bool,
}

/// What a `kiln ko` run decided before planning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KoRun {
    pub destination: KoDestination,
    /// The registries reached without TLS verification.
    pub insecure_registries: Vec<String>,
    /// The kind cluster a `kind.local` repository loads into.
    pub kind_cluster: String,
}

/// Decides a `kiln ko` run's settings from its flags and `KO_DOCKER_REPO`,
/// `KIND_CLUSTER_NAME`.
pub fn ko_run(flags: KoFlags, env: &Env) -> Result<KoRun, Error> {
    let destination = choose::ko_destination(env, flags.local, flags.push)?;
    Ok(KoRun {
        insecure_registries: choose::ko_insecure_registries(
            flags.insecure_registry,
            &destination.repo,
        )?,
        destination,
        kind_cluster: choose::kind_cluster(env),
    })
}
