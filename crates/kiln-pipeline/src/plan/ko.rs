//! ko's face of planning (`kiln ko build`, github.com/ko-build/ko pkg/commands), where
//! [`super::skaffold`] is Skaffold's. The names come from `KO_DOCKER_REPO` and a namer,
//! the Go settings from `.ko.yaml` `builds[]` (matched by import path) or its defaults,
//! the platforms from `--platform`, `defaultPlatforms` or `GOOS`/`GOARCH`.

use std::path::{Path, PathBuf};

use kiln_config::{KoBuild, KoConfig};
use kiln_core::naming::{KoNaming, ko_image_name, strip_ko_scheme};
use kiln_core::platform::PlatformRequest;
use kiln_gobuild::{Package, Toolchain};

use super::choose::{self, parse_env};
use super::draft::PlanDraft;
use super::probe::resolve_package;
use super::{ArtifactPlan, MainPackage, PlanOptions};
use crate::Error;

/// `kiln ko build`'s flags, beyond the run-wide [`PlanOptions`] (environment, time, cache,
/// `--platform`).
#[derive(Clone, Debug, Default)]
pub struct KoOptions {
    pub common: PlanOptions,
    /// `KO_DOCKER_REPO`.
    pub repo: String,
    pub naming: KoNaming,
    /// `-t`, de-duplicated, at least one.
    pub tags: Vec<String>,
    /// `--ldflags`: replaces the build's and the default ldflags when given.
    pub ldflags: Vec<String>,
    /// `--image-label`, `--image-annotation` (`KEY=VALUE`) and `--image-user`.
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    pub user: Option<String>,
    pub disable_optimizations: bool,
    /// Generate SBOMs (`--sbom=spdx`, ko's default).
    pub sbom: bool,
}

/// One `ko build` argument resolved to its package, and the `.ko.yaml` build that applies.
struct Target<'k> {
    package: Package,
    /// ko's "builder directory": the working directory joined with the build's `dir`.
    go_dir: PathBuf,
    build: Option<&'k KoBuild>,
}

/// Plans `kiln ko build` arguments (`.`, `./cmd/app`, `ko://example.com/app`,
/// `example.com/app`) from the ko working directory: `.ko.yaml`, its `builds[]` packages and
/// the platforms are resolved once, when the planner is made.
pub struct KoPlanner<'t> {
    toolchain: &'t Toolchain,
    wd: PathBuf,
    ko_config: KoConfig,
    builds: Vec<(KoBuild, Package)>,
    platforms: PlatformRequest,
    options: KoOptions,
}

impl<'t> KoPlanner<'t> {
    pub async fn new(
        toolchain: &'t Toolchain,
        wd: &Path,
        options: KoOptions,
    ) -> Result<KoPlanner<'t>, Error> {
        let env = &options.common.env;
        let wd = std::fs::canonicalize(wd)
            .map_err(|e| Error::io("resolving the working directory", wd, e))?;
        let ko_config = kiln_config::load_ko_config(&wd, &|k| env.get(k).map(str::to_owned))?;
        let builds = resolve_ko_builds(toolchain, &wd, &ko_config, &options.common).await?;
        let platforms =
            choose::ko_platforms(&options.common.platforms, &ko_config.default_platforms, env)?;
        Ok(KoPlanner {
            toolchain,
            wd,
            ko_config,
            builds,
            platforms,
            options,
        })
    }

    /// The plan for one argument.
    pub async fn plan(&self, arg: &str) -> Result<ArtifactPlan, Error> {
        let target = resolve_target(
            self.toolchain,
            &self.wd,
            arg,
            &self.builds,
            &self.options.common,
        )
        .await?;
        plan_one(
            self.toolchain,
            &self.wd,
            arg,
            target,
            &self.ko_config,
            &self.platforms,
            &self.options,
        )
        .await
    }
}

/// Resolves every `builds[]` entry to its package once, as ko does when loading the
/// config: a build naming no main package is an error even if it is not requested (#483).
async fn resolve_ko_builds(
    toolchain: &Toolchain,
    wd: &Path,
    ko: &KoConfig,
    options: &PlanOptions,
) -> Result<Vec<(KoBuild, Package)>, Error> {
    let mut resolved = Vec::new();
    for build in &ko.builds {
        let dir = normalize(&wd.join(&build.dir));
        let mut main = dir.join(&build.main);
        if main.is_file() {
            main.pop();
        }
        let pattern = format!(
            "./{}",
            main.strip_prefix(&dir).unwrap_or(&main).to_string_lossy()
        );
        let env = parse_env(&build.env, ".ko.yaml builds[].env")?;
        let package = resolve_package(
            toolchain,
            &dir,
            &MainPackage::Pattern(pattern),
            &env,
            options,
        )
        .await
        .map_err(|e| {
            Error::planning(
                ko.path
                    .as_deref()
                    .unwrap_or(Path::new(".ko.yaml"))
                    .display()
                    .to_string(),
                format!(
                    "builds[] entry `{}` (dir `{}`, main `{}`) names no main package: {e}",
                    build.id,
                    build.dir.display(),
                    build.main,
                ),
            )
        })?;
        resolved.push((build.clone(), package));
    }
    Ok(resolved)
}

/// ko's `QualifyImport` + `IsSupportedReference`: a local path (`.`, `./x`, `../x`) is
/// listed in the builder directory of the `builds[]` entry whose `dir` holds it; anything
/// else is an import path (with or without `ko://`), taken from a `builds[]` entry when
/// one resolves to it.
async fn resolve_target<'k>(
    toolchain: &Toolchain,
    wd: &Path,
    arg: &str,
    builds: &'k [(KoBuild, Package)],
    options: &PlanOptions,
) -> Result<Target<'k>, Error> {
    let not_supported =
        |e: Error| Error::planning(format!("`{arg}` cannot be built"), e.to_string());
    if is_local_import(arg) {
        let path = normalize(&wd.join(arg));
        // The innermost `dir` holding the path is the one whose module it belongs to.
        let builder = builds
            .iter()
            .map(|(b, _)| normalize(&wd.join(&b.dir)))
            .filter(|dir| path.starts_with(dir))
            .max_by_key(|dir| dir.components().count())
            .unwrap_or_else(|| wd.to_owned());
        let pattern = match path.strip_prefix(&builder) {
            Ok(rest) if rest.as_os_str().is_empty() => ".".to_owned(),
            Ok(rest) => format!("./{}", rest.to_string_lossy()),
            Err(_) => arg.to_owned(),
        };
        let package = resolve_package(
            toolchain,
            &builder,
            &MainPackage::Pattern(pattern),
            &[],
            options,
        )
        .await
        .map_err(not_supported)?;
        let build = builds
            .iter()
            .find(|(_, p)| p.import_path == package.import_path)
            .map(|(b, _)| b);
        return Ok(Target {
            package,
            go_dir: builder,
            build,
        });
    }
    let import_path = strip_ko_scheme(arg);
    if let Some((build, package)) = builds.iter().find(|(_, p)| p.import_path == import_path) {
        return Ok(Target {
            package: package.clone(),
            go_dir: normalize(&wd.join(&build.dir)),
            build: Some(build),
        });
    }
    let package = resolve_package(
        toolchain,
        wd,
        &MainPackage::ImportPath(import_path.to_owned()),
        &[],
        options,
    )
    .await
    .map_err(not_supported)?;
    Ok(Target {
        package,
        go_dir: wd.to_owned(),
        build: None,
    })
}

/// Go's `build.IsLocalImport`.
fn is_local_import(arg: &str) -> bool {
    arg == "." || arg == ".." || arg.starts_with("./") || arg.starts_with("../")
}

/// `a/./b/../c` → `a/c`, without touching the file system (the path may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// One argument's plan: ko's rules for names, tags and Go settings, then the shared
/// [`PlanDraft`] step.
async fn plan_one(
    toolchain: &Toolchain,
    wd: &Path,
    arg: &str,
    target: Target<'_>,
    ko: &KoConfig,
    platforms: &PlatformRequest,
    options: &KoOptions,
) -> Result<ArtifactPlan, Error> {
    let Target {
        package,
        go_dir,
        build,
    } = target;
    let import_path = package.import_path.clone();
    let (tag, extra_tags) = choose::ko_tags(&options.tags);
    PlanDraft {
        image: arg.to_owned(),
        runtime_type: None,
        requires: Vec::new(),
        repository: ko_image_name(&options.repo, &import_path, options.naming),
        tag,
        extra_tags,
        workspace: wd.to_owned(),
        dependencies: kiln_config::Dependencies {
            paths: vec!["**/*.go".to_owned()],
            ignore: Vec::new(),
        },
        ko,
        ko_build: build,
        from_image: None,
        base_dir: wd.to_owned(),
        go_dir,
        package,
        platforms: platforms.clone(),
        build_env: choose::ko_build_env(build, ko)?,
        flags: choose::ko_templates(&[], build.map(|b| b.flags.as_slice()), &ko.default_flags),
        ldflags: choose::ko_templates(
            &options.ldflags,
            build.map(|b| b.ldflags.as_slice()),
            &ko.default_ldflags,
        ),
        skaffold_env: Default::default(),
        origin: format!("{import_path}: "),
        flags_origin: format!("{import_path}: .ko.yaml flags"),
        seed_ldflags: true,
        labels: choose::key_values(&options.labels, "--image-label")?,
        annotations: choose::key_values(&options.annotations, "--image-annotation")?,
        user: options.user.clone(),
        trimpath: true,
        disable_optimizations: options.disable_optimizations,
        sbom: options.sbom,
    }
    .finish(toolchain, &options.common)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_imports_are_gos() {
        for local in [".", "..", "./cmd/app", "../other"] {
            assert!(is_local_import(local), "{local}");
        }
        for remote in ["example.com/app", "ko://example.com/app", ".hidden/x"] {
            assert!(!is_local_import(remote), "{remote}");
        }
        assert_eq!(
            normalize(Path::new("/w/./cmd/../app")),
            PathBuf::from("/w/app")
        );
    }
}
