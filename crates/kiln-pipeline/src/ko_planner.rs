//! Plans for `kiln ko build`: ko's own rules (github.com/ko-build/ko pkg/commands), where
//! [`crate::planner`] has Skaffold's. The names come from `KO_DOCKER_REPO` and a namer,
//! the Go settings from `.ko.yaml` `builds[]` (matched by import path) or its defaults,
//! the platforms from `--platform`, `defaultPlatforms` or `GOOS`/`GOARCH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::{KoBuild, KoConfig};
use kiln_core::naming::{KoNaming, ko_image_name, strip_ko_scheme};
use kiln_core::platform::PlatformRequest;
use kiln_gobuild::{Package, Toolchain};

use crate::Error;
use crate::plan::{ArtifactPlan, MainPackage};
use crate::planner::{
    PlanOptions, base_spec, capabilities, epoch, first_platform, go_settings, parse_env,
    resolve_package, template_data,
};
use crate::templates::GoTemplates;

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
            .map_err(|e| Error::Plan(format!("working directory {}: {e}", wd.display())))?;
        let ko_config = kiln_config::load_ko_config(&wd, &|k| env.get(k).cloned())?;
        let builds = resolve_ko_builds(toolchain, &wd, &ko_config, &options.common).await?;
        let flag = crate::planner::given_platforms(&options.common.platforms);
        let platforms = platforms(&ko_config, env, &flag)?;
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
            Error::Plan(format!(
                "{}: builds[] entry `{}` (dir `{}`, main `{}`) names no main package: {e}",
                ko.path
                    .as_deref()
                    .unwrap_or(Path::new(".ko.yaml"))
                    .display(),
                build.id,
                build.dir.display(),
                build.main,
            ))
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
    let not_supported = |e: Error| Error::Plan(format!("`{arg}` cannot be built: {e}"));
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

async fn plan_one(
    toolchain: &Toolchain,
    wd: &Path,
    arg: &str,
    target: Target<'_>,
    ko: &KoConfig,
    platforms: &PlatformRequest,
    options: &KoOptions,
) -> Result<ArtifactPlan, Error> {
    let common = &options.common;
    let Target {
        package,
        go_dir,
        build,
    } = target;
    let linux_capabilities = capabilities(ko, build)?;
    let import_path = &package.import_path;
    let repository = ko_image_name(&options.repo, import_path, options.naming);

    // A build's own env/flags/ldflags replace the defaults; they are not merged (ko's
    // TestGoBuild_ConfigOverrideDefaults). `--ldflags` replaces both.
    let pick = |own: Option<&Vec<String>>, default: &[String]| -> Vec<String> {
        own.filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| default.to_vec())
    };
    let (env_origin, env_entries) = match build.filter(|b| !b.env.is_empty()) {
        Some(b) => (".ko.yaml builds[].env", b.env.clone()),
        None => (".ko.yaml defaultEnv", ko.default_env.clone()),
    };
    let build_env = parse_env(&env_entries, env_origin)?;
    let flag_templates = pick(build.map(|b| &b.flags), &ko.default_flags);
    let ldflag_templates = if options.ldflags.is_empty() {
        pick(build.map(|b| &b.ldflags), &ko.default_ldflags)
    } else {
        options.ldflags.clone()
    };

    let mut final_env = common.env.clone();
    final_env.extend(build_env.iter().cloned());
    // ko seeds LDFLAGS so that `{{.Env.LDFLAGS}}` is never a missing key.
    final_env.entry("LDFLAGS".to_owned()).or_default();
    let source_date_epoch = epoch(&common.env, "SOURCE_DATE_EPOCH")?;
    let data = template_data(
        toolchain,
        &go_dir,
        &final_env,
        source_date_epoch.unwrap_or(common.now_unix),
        &[&flag_templates, &ldflag_templates],
    )
    .await?;
    let templates = GoTemplates {
        origin: format!("{import_path}: "),
        flags: flag_templates,
        ldflags: ldflag_templates,
        data,
        ..GoTemplates::default()
    };
    let (flags, ldflags) = templates.render(&first_platform(platforms))?;
    let mut go = go_settings(
        flags,
        ldflags,
        build_env,
        &final_env,
        &format!("{import_path}: .ko.yaml flags"),
    )?;
    go.templates = templates.per_platform().then_some(templates);

    let (tag, extra_tags) = match options.tags.split_first() {
        Some((first, rest)) => (first.clone(), rest.to_vec()),
        None => (kiln_core::naming::LATEST.to_owned(), Vec::new()),
    };
    Ok(ArtifactPlan {
        config_warnings: ko.warnings.clone(),
        image: arg.to_owned(),
        runtime_type: None,
        requires: Vec::new(),
        repository,
        tag,
        extra_tags,
        workspace: wd.to_owned(),
        dependencies: kiln_config::Dependencies {
            paths: vec!["**/*.go".to_owned()],
            ignore: Vec::new(),
        },
        ko_config_path: ko.path.clone(),
        base: base_spec(ko, None, &package, wd)?,
        platforms: platforms.clone(),
        go_dir,
        package,
        go,
        labels: key_values(&options.labels, "--image-label")?,
        annotations: key_values(&options.annotations, "--image-annotation")?,
        user: options.user.clone(),
        trimpath: true,
        disable_optimizations: options.disable_optimizations,
        source_date_epoch,
        kodata_date_epoch: epoch(&common.env, "KO_DATA_DATE_EPOCH")?,
        kodata_allowed_root: common
            .env
            .get("KO_DATA_PATH_ALLOWED_ROOT")
            .map(PathBuf::from),
        sbom: options.sbom,
        linux_capabilities,
        compression: crate::planner::compression(common)?,
    })
}

fn key_values(entries: &[String], flag: &str) -> Result<BTreeMap<String, String>, Error> {
    Ok(parse_env(entries, flag)?.into_iter().collect())
}

/// ko's platform sources, in order: `--platform`, `.ko.yaml defaultPlatforms` (or
/// `KO_DEFAULTPLATFORMS`), `GOOS`/`GOARCH` (both set; `GOARM` adds a variant), linux/amd64.
/// Like ko, an explicit list while `GOOS`/`GOARCH`/`GOARM` is set is refused: the two
/// would disagree about what gets built.
fn platforms(
    ko: &KoConfig,
    env: &BTreeMap<String, String>,
    flag: &[String],
) -> Result<PlatformRequest, Error> {
    let parse = |list: &[String], origin: &str| {
        PlatformRequest::parse(list).map_err(|e| Error::Plan(format!("{origin}: {e}")))
    };
    let go_env: Vec<&str> = ["GOOS", "GOARCH", "GOARM"]
        .into_iter()
        .filter(|k| env.get(*k).is_some_and(|v| !v.is_empty()))
        .collect();
    let explicit = if !flag.is_empty() {
        Some((flag, "--platform"))
    } else if !ko.default_platforms.is_empty() {
        Some((ko.default_platforms.as_slice(), ".ko.yaml defaultPlatforms"))
    } else {
        None
    };
    if let Some((list, origin)) = explicit {
        if !go_env.is_empty() {
            return Err(Error::Plan(format!(
                "{origin} is set while {} is set in the environment; unset {} or drop {origin}",
                go_env.join("/"),
                go_env.join(" and ")
            )));
        }
        return parse(list, origin);
    }
    match (env.get("GOOS"), env.get("GOARCH")) {
        (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => {
            let mut spec = format!("{os}/{arch}");
            if let Some(arm) = env.get("GOARM").filter(|v| !v.is_empty())
                && arch.contains("arm")
            {
                spec.push_str(&format!("/v{arm}"));
            }
            parse(&[spec], "GOOS/GOARCH")
        }
        _ => Ok(PlatformRequest::Specs(vec![kiln_core::Platform::new(
            "linux", "amd64", None,
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn chosen(ko: &KoConfig, env: &BTreeMap<String, String>, flag: &[&str]) -> String {
        let flag: Vec<String> = flag.iter().map(|s| s.to_string()).collect();
        match platforms(ko, env, &flag) {
            Ok(PlatformRequest::All) => "all".to_owned(),
            Ok(PlatformRequest::Specs(s)) => s
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn platform_sources_follow_kos_order() {
        let ko = KoConfig {
            default_platforms: vec!["linux/arm64".into()],
            ..KoConfig::default()
        };
        let none = KoConfig::default();
        assert_eq!(chosen(&ko, &env(&[]), &["linux/s390x"]), "linux/s390x");
        assert_eq!(chosen(&ko, &env(&[]), &[]), "linux/arm64");
        assert_eq!(chosen(&none, &env(&[]), &["all"]), "all");
        assert_eq!(
            chosen(
                &none,
                &env(&[("GOOS", "linux"), ("GOARCH", "arm"), ("GOARM", "7")]),
                &[]
            ),
            "linux/arm/v7"
        );
        assert_eq!(
            chosen(&none, &env(&[("GOOS", "linux")]), &[]),
            "linux/amd64"
        );
        assert_eq!(chosen(&none, &env(&[]), &[]), "linux/amd64");
        let refused = chosen(&ko, &env(&[("GOARCH", "arm64")]), &[]);
        assert!(
            refused.contains(".ko.yaml defaultPlatforms") && refused.contains("unset GOARCH"),
            "{refused}"
        );
    }

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
