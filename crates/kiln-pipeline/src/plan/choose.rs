//! The precedence rules of planning, as pure functions: each takes the values every
//! source gives (flags, environment, skaffold.yaml, `.ko.yaml`, Skaffold's global config,
//! defaults) and returns the one that wins. Nothing here reads a file, runs a process or
//! looks at the clock, so every rule is unit-tested without Go (`plan/tests.rs`).

use kiln_core::env::Env;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::{KoBuild, KoConfig};
use kiln_core::Platform;
use kiln_core::media_type::LayerCompression;
use kiln_core::naming::{KoNaming, ko_image_name, sanitize_image_name, substitute_default_repo};
use kiln_core::platform::PlatformRequest;
use kiln_core::sprig::TemplateInputs;
use kiln_core::template::render_skaffold;
use kiln_gobuild::reject_toolexec;

use super::{BaseSpec, GoSettings};
use crate::Error;
use crate::remote_cache::RemoteCacheMode;

// ---- Run-wide settings -------------------------------------------------------------

/// Skaffold's default repo: `--default-repo`, else `SKAFFOLD_DEFAULT_REPO`, else the
/// global config's `default-repo`; an empty winner means none (Skaffold's
/// `--default-repo=""` turns it off).
pub fn default_repo(flag: Option<&str>, env: &Env, global: Option<&str>) -> Option<String> {
    flag.or_else(|| env.get("SKAFFOLD_DEFAULT_REPO"))
        .or(global)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

/// Skaffold's insecure registries: the union of `--insecure-registry`, every config's
/// `build.insecureRegistries` and the global config's `insecure-registries`, in that order.
pub fn insecure_registries<'a>(
    flag: &'a [String],
    configured: impl IntoIterator<Item = &'a String>,
    global: &'a [String],
) -> Vec<String> {
    flag.iter()
        .chain(configured)
        .chain(global)
        .cloned()
        .collect()
}

/// Skaffold's push rule: `--push`, then `build.local.push`, then false for a local
/// cluster: the global config's `local-cluster` when set, else the kube context's name.
pub fn skaffold_push(
    flag: Option<bool>,
    configured: Option<bool>,
    local_cluster: Option<bool>,
    kube_context: Option<&str>,
) -> bool {
    flag.or(configured).unwrap_or_else(|| {
        !local_cluster
            .unwrap_or_else(|| kube_context.is_some_and(crate::local::is_local_kube_context))
    })
}

/// Skaffold's global config file: `-c/--config`, else `$HOME/.skaffold/config`.
pub fn global_config_path(flag: Option<&Path>, env: &Env) -> PathBuf {
    match flag {
        Some(path) => path.to_owned(),
        None => env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".skaffold")
            .join("config"),
    }
}

/// `--build-concurrency` (-1: the config's `build.local.concurrency`; 0: no limit).
pub fn build_concurrency(flag: i64, configured: Option<u32>) -> Option<usize> {
    usize::try_from(flag)
        .ok()
        .or_else(|| configured.map(|n| n as usize))
}

/// `--remote-cache` applies to pushing runs only: a run that does not push has no
/// repository to hold records of keys.
pub fn remote_cache(push: bool, flag: RemoteCacheMode) -> RemoteCacheMode {
    if push { flag } else { RemoteCacheMode::Off }
}

/// `--disable-multi-platform-build`, else Skaffold's default: on for `dev` and `debug`,
/// off for `build`.
pub fn single_platform_build(flag: Option<bool>, dev_or_debug: bool) -> bool {
    flag.unwrap_or(dev_or_debug)
}

/// The layer compression of a run: `--compression`, else the `KILN_COMPRESSION`
/// environment variable (an environment knob, so skaffold.yaml stays Skaffold's schema),
/// else gzip.
pub fn compression(flag: Option<LayerCompression>, env: &Env) -> Result<LayerCompression, Error> {
    if let Some(chosen) = flag {
        return Ok(chosen);
    }
    match env.get("KILN_COMPRESSION").map(|v| v.trim()) {
        None | Some("") => Ok(LayerCompression::default()),
        Some(value) => LayerCompression::parse(value).ok_or_else(|| {
            Error::planning(
                format!("KILN_COMPRESSION={value:?}"),
                format!(
                    "not a layer compression; set it to one of {} (or unset it for gzip)",
                    LayerCompression::NAMES.join(", ")
                ),
            )
        }),
    }
}

/// Where `kiln ko` sends images instead of a registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalPublisher {
    /// `-L/--local` or `KO_DOCKER_REPO=ko.local…`: a Docker-compatible engine.
    Engine,
    /// `KO_DOCKER_REPO=kind.local…`: kind's nodes.
    Kind,
}

/// What `KO_DOCKER_REPO`, `-L` and `--push` decide for a `kiln ko` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KoDestination {
    /// The repository images are named under (empty: ko's unpushed `app-<md5>` names).
    pub repo: String,
    /// Where images are side-loaded instead of pushed, if anywhere.
    pub local: Option<LocalPublisher>,
    /// Whether images go to the registry (`--push` and no side-load).
    pub push: bool,
}

/// ko's publisher choice (pkg/commands/resolver.go): `-L` or a `ko.local` prefix loads
/// into the engine (an empty repo becoming `ko.local`), a `kind.local` prefix loads into
/// kind, and an empty repo cannot be pushed to. Side-loading never pushes.
pub fn ko_destination(
    env: &Env,
    local_flag: bool,
    push_flag: bool,
) -> Result<KoDestination, Error> {
    let mut repo = env
        .get("KO_DOCKER_REPO")
        .map(str::to_owned)
        .unwrap_or_default();
    if local_flag && repo.is_empty() {
        repo = "ko.local".to_owned();
    }
    let local = if local_flag || repo.starts_with("ko.local") {
        Some(LocalPublisher::Engine)
    } else if repo.starts_with("kind.local") {
        Some(LocalPublisher::Kind)
    } else {
        None
    };
    if repo.is_empty() {
        if push_flag {
            return Err(Error::planning(
                "KO_DOCKER_REPO environment variable is unset",
                "set it to the registry or repository to push to (e.g. KO_DOCKER_REPO=registry.example.com/team), load into the local engine with -L, or pass --push=false with --oci-layout-path or --tarball",
            ));
        }
        // ko names unpushed images under no repository at all (`app-<md5>`).
        return Ok(KoDestination {
            repo,
            local: None,
            push: false,
        });
    }
    ko_registry(&repo)?;
    Ok(KoDestination {
        push: push_flag && local.is_none(),
        repo,
        local,
    })
}

/// The registry host of a `KO_DOCKER_REPO` value (which may name a registry alone).
pub fn ko_registry(repo: &str) -> Result<String, Error> {
    let name = ko_image_name(repo, "example.com/app", KoNaming::BaseImportPaths);
    name.parse::<kiln_core::Reference>()
        .map(|r| r.registry)
        .map_err(|e| {
            Error::planning(
                format!("KO_DOCKER_REPO={repo}"),
                format!("not a registry or repository name: {e}"),
            )
        })
}

/// ko's `--insecure-registry`: the registry of `KO_DOCKER_REPO` when set.
pub fn ko_insecure_registries(flag: bool, repo: &str) -> Result<Vec<String>, Error> {
    Ok(if flag {
        vec![ko_registry(repo)?]
    } else {
        Vec::new()
    })
}

/// The kind cluster ko loads into: `KIND_CLUSTER_NAME`, else `kind`.
pub fn kind_cluster(env: &Env) -> String {
    env.get("KIND_CLUSTER_NAME")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| "kind".to_owned())
}

/// Where ko attaches SBOMs instead of the image's own repository: `COSIGN_REPOSITORY`
/// when set and not empty (`None`: the image's repository).
pub fn sbom_repository(env: &Env) -> Option<String> {
    env.get("COSIGN_REPOSITORY")
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}

// ---- Names and tags ----------------------------------------------------------------

/// The repository a Skaffold image is pushed to: default repo, then sanitizing (which
/// strips `ko://`), as Skaffold's scheduler does.
pub fn skaffold_repository(
    image: &str,
    default_repo: Option<&str>,
    multi_level_repo: bool,
) -> Result<String, Error> {
    let named = substitute_default_repo(default_repo, multi_level_repo, image)
        .map_err(|e| Error::planning(image, e.to_string()))?;
    Ok(sanitize_image_name(&named))
}

/// A `ko://` image names no registry: pushing it needs a default repo.
pub fn check_ko_uri_repo(image: &str, push: bool, default_repo: Option<&str>) -> Result<(), Error> {
    if image.starts_with("ko://") && push && default_repo.is_none() {
        return Err(Error::planning(
            image,
            "a default repo must be set when pushing an image named with the ko:// prefix; pass --default-repo or set SKAFFOLD_DEFAULT_REPO",
        ));
    }
    Ok(())
}

/// ko's tags: the first `-t` is the plan's tag, the rest are extra; none means `latest`.
pub fn ko_tags(tags: &[String]) -> (String, Vec<String>) {
    match tags.split_first() {
        Some((first, rest)) => (first.clone(), rest.to_vec()),
        None => (kiln_core::naming::LATEST.to_owned(), Vec::new()),
    }
}

/// Skaffold's `-b/--build-image` rule: an artifact is selected when its image name
/// contains one of `fragments` (`opts.IsTargetImage`). Returns the selected names in
/// order; a fragment that selects nothing is an error listing the images.
pub fn select_images(images: &[&str], fragments: &[String]) -> Result<Vec<String>, Error> {
    if let Some(unmatched) = fragments
        .iter()
        .find(|f| !images.iter().any(|i| i.contains(f.as_str())))
    {
        return Err(Error::planning(
            format!("-b/--build-image {unmatched}"),
            format!(
                "no artifact's image contains it; the images in the config are: {}",
                images.join(", ")
            ),
        ));
    }
    Ok(images
        .iter()
        .filter(|i| fragments.is_empty() || fragments.iter().any(|f| i.contains(f.as_str())))
        .map(|i| (*i).to_owned())
        .collect())
}

// ---- Platforms ---------------------------------------------------------------------

/// `--platform` values without blank entries: `--platform ""` means "not given", as in
/// Skaffold (its flag default is an empty list).
pub fn given_platforms(flag: &[String]) -> Vec<String> {
    flag.iter()
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .collect()
}

fn parse_platforms(list: &[String], origin: &str) -> Result<PlatformRequest, Error> {
    PlatformRequest::parse(list).map_err(|e| Error::planning(origin, e.to_string()))
}

/// Skaffold's platforms: `--platform`, else `build.platforms`, else .ko.yaml
/// `defaultPlatforms`, else linux/amd64, narrowed by the artifact's own `platforms` (an empty intersection is an
/// error; `all` takes the artifact's).
pub fn skaffold_platforms(
    image: &str,
    flag: &[String],
    configured: &[String],
    own: &[String],
    ko_default: &[String],
) -> Result<PlatformRequest, Error> {
    let parse =
        |list: &[String], origin: &str| parse_platforms(list, &format!("{image}: {origin}"));
    let flag = given_platforms(flag);
    let requested = if !flag.is_empty() {
        Some(parse(&flag, "--platform")?)
    } else if !configured.is_empty() {
        Some(parse(configured, "build.platforms")?)
    } else {
        None
    };
    let own = (!own.is_empty())
        .then(|| parse(own, "platforms"))
        .transpose()?;
    Ok(match (requested, own) {
        (Some(PlatformRequest::Specs(req)), Some(PlatformRequest::Specs(own))) => {
            let both: Vec<_> = req.iter().filter(|p| own.contains(p)).cloned().collect();
            if both.is_empty() {
                return Err(Error::planning(
                    image,
                    format!(
                        "none of the requested platforms ({}) is in the artifact's `platforms`",
                        req.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            PlatformRequest::Specs(both)
        }
        (Some(PlatformRequest::All), Some(own)) => own,
        (Some(req), _) => req,
        (None, Some(own)) => own,
        (None, None) if !ko_default.is_empty() => parse(ko_default, ".ko.yaml defaultPlatforms")?,
        (None, None) => PlatformRequest::Specs(vec![default_platform()]),
    })
}

/// A custom artifact's platforms: `--platform` > the artifact's > `build.platforms`.
pub fn custom_platforms(flag: &[String], own: &[String], configured: &[String]) -> Vec<String> {
    [flag, own, configured]
        .into_iter()
        .find(|p| !p.is_empty())
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

/// ko's platform sources, in order: `--platform`, `.ko.yaml defaultPlatforms` (or
/// `KO_DEFAULTPLATFORMS`), `GOOS`/`GOARCH` (both set; `GOARM` adds a variant), linux/amd64.
/// Like ko, an explicit list while `GOOS`/`GOARCH`/`GOARM` is set is refused: the two
/// would disagree about what gets built.
pub fn ko_platforms(
    flag: &[String],
    ko_default: &[String],
    env: &Env,
) -> Result<PlatformRequest, Error> {
    let flag = given_platforms(flag);
    let go_env: Vec<&str> = ["GOOS", "GOARCH", "GOARM"]
        .into_iter()
        .filter(|k| env.get(k).is_some_and(|v| !v.is_empty()))
        .collect();
    let explicit = if !flag.is_empty() {
        Some((flag.as_slice(), "--platform"))
    } else if !ko_default.is_empty() {
        Some((ko_default, ".ko.yaml defaultPlatforms"))
    } else {
        None
    };
    if let Some((list, origin)) = explicit {
        if !go_env.is_empty() {
            return Err(Error::planning(
                origin,
                format!(
                    "set while {} is set in the environment; unset {} or drop {origin}",
                    go_env.join("/"),
                    go_env.join(" and ")
                ),
            ));
        }
        return parse_platforms(list, origin);
    }
    match (env.get("GOOS"), env.get("GOARCH")) {
        (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => {
            let mut spec = format!("{os}/{arch}");
            if let Some(arm) = env.get("GOARM").filter(|v| !v.is_empty())
                && arch.contains("arm")
            {
                spec.push_str(&format!("/v{arm}"));
            }
            parse_platforms(&[spec], "GOOS/GOARCH")
        }
        _ => Ok(PlatformRequest::Specs(vec![default_platform()])),
    }
}

/// ko's default platform.
fn default_platform() -> Platform {
    Platform::new("linux", "amd64", None)
}

/// `skaffold debug` and `--disable-multi-platform-build` build one platform: `host` when
/// requested (a debugger attaches to what runs here), else the first.
pub fn single_platform(request: PlatformRequest, host: Platform) -> PlatformRequest {
    match request {
        PlatformRequest::All => PlatformRequest::Specs(vec![host]),
        PlatformRequest::Specs(specs) => {
            let chosen = specs
                .iter()
                .find(|p| p.os == host.os && p.architecture == host.architecture)
                .or(specs.first())
                .cloned()
                .unwrap_or(host);
            PlatformRequest::Specs(vec![chosen])
        }
    }
}

/// The platform a plan's templates are first rendered for: the first requested, else
/// ko's default linux/amd64 (`all` is known only once the base is resolved).
pub fn first_platform(request: &PlatformRequest) -> Platform {
    match request {
        PlatformRequest::Specs(specs) if !specs.is_empty() => specs[0].clone(),
        _ => default_platform(),
    }
}

/// Rust's name of an architecture → Go's.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

// ---- Base image --------------------------------------------------------------------

/// Skaffold's and ko's base precedence: `.ko.yaml` `baseImageOverrides[import path]` >
/// the artifact's `fromImage` > `defaultBaseImage` (which `KO_DEFAULTBASEIMAGE` already
/// replaced when set) > kiln's built-in base (where ko would pull
/// cgr.dev/chainguard/static). `from_image` comes with the field it was read from, so an
/// invalid value is reported with its file and field.
pub fn base_spec(
    ko: &KoConfig,
    from_image: Option<(&str, String)>,
    import_path: &str,
    relative_to: &Path,
) -> Result<BaseSpec, Error> {
    let ko_file = || {
        ko.path
            .as_ref()
            .map_or_else(|| ".ko.yaml".to_owned(), |p| p.display().to_string())
    };
    let chosen = match ko.base_image_override(import_path) {
        Some(v) => Some((
            v,
            format!("{}: baseImageOverrides[{import_path}]", ko_file()),
        )),
        None => from_image.or_else(|| {
            ko.default_base_image.as_deref().map(|v| {
                (
                    v,
                    format!("{}: defaultBaseImage (or KO_DEFAULTBASEIMAGE)", ko_file()),
                )
            })
        }),
    };
    match chosen {
        None => Ok(BaseSpec::Builtin),
        Some((value, origin)) => BaseSpec::parse(value, relative_to).map_err(|e| {
            Error::planning(
                origin,
                format!(
                    "`{}` is not a usable base image for {import_path}: {e}",
                    kiln_core::text::excerpt(value, 80)
                ),
            )
        }),
    }
}

// ---- Go settings -------------------------------------------------------------------

/// Flag or ldflag templates and whether they are the artifact's own (then rendered with
/// Skaffold's template pass as well as ko's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Templates {
    pub list: Vec<String>,
    pub from_artifact: bool,
}

impl Templates {
    fn ko(list: &[String]) -> Self {
        Templates {
            list: list.to_vec(),
            from_artifact: false,
        }
    }
}

/// Skaffold's flags (or ldflags): the artifact's when it sets any build field (Skaffold
/// then hands ko a build config, which replaces .ko.yaml's `builds[]`), else the matching
/// `builds[]` entry's, else the .ko.yaml default. An empty list falls through, as in ko.
pub fn skaffold_templates(
    artifact_has_build: bool,
    own: &[String],
    ko_build: Option<&[String]>,
    default: &[String],
) -> Templates {
    if artifact_has_build && !own.is_empty() {
        return Templates {
            list: own.to_vec(),
            from_artifact: true,
        };
    }
    Templates::ko(ko_build.filter(|b| !b.is_empty()).unwrap_or(default))
}

/// ko's flags or ldflags: `--ldflags` (for ldflags) replaces both; else the build's own
/// (not merged with the defaults: ko's TestGoBuild_ConfigOverrideDefaults), else the
/// .ko.yaml default.
pub fn ko_templates(flag: &[String], own: Option<&[String]>, default: &[String]) -> Templates {
    if !flag.is_empty() {
        return Templates::ko(flag);
    }
    Templates::ko(own.filter(|v| !v.is_empty()).unwrap_or(default))
}

/// Skaffold's build environment: the artifact's `ko.env` (rendered with Skaffold's
/// template pass over `skaffold_env`), else the matching `builds[]` entry's, else
/// `.ko.yaml` `defaultEnv` (or `KO_DEFAULTENV`).
pub fn skaffold_build_env(
    image: &str,
    own: &[String],
    ko_build: Option<&KoBuild>,
    ko: &KoConfig,
    skaffold_env: &BTreeMap<String, String>,
    inputs: &TemplateInputs,
) -> Result<Vec<(String, String)>, Error> {
    if !own.is_empty() {
        let rendered = own
            .iter()
            .map(|e| {
                render_skaffold(e, skaffold_env, None, inputs)
                    .map_err(|err| Error::planning(format!("{image}: ko.env"), err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return parse_env(&rendered, "ko.env");
    }
    ko_build_env(ko_build, ko)
}

/// ko's build environment: the build's `env`, else `defaultEnv` (replaced, not merged).
pub fn ko_build_env(
    build: Option<&KoBuild>,
    ko: &KoConfig,
) -> Result<Vec<(String, String)>, Error> {
    match build.filter(|b| !b.env.is_empty()) {
        Some(b) => parse_env(&b.env, ".ko.yaml builds[].env"),
        None => parse_env(&ko.default_env, ".ko.yaml defaultEnv"),
    }
}

/// The environment templates and `go build` see: the process's, then the build's on top.
pub fn final_env(env: &Env, build_env: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = env.vars().clone();
    out.extend(build_env.iter().cloned());
    out
}

/// The Go settings of a build once its flags are rendered: `-toolexec` refused in the
/// flags (`flags_origin` names them) and in `GOFLAGS`, and `CGO_ENABLED=0` first unless the
/// environment sets it (ko's `buildEnv` order: its defaults, then the build's env).
pub fn go_settings(
    flags: Vec<String>,
    ldflags: Vec<String>,
    build_env: Vec<(String, String)>,
    final_env: &BTreeMap<String, String>,
    flags_origin: &str,
) -> Result<GoSettings, Error> {
    reject_toolexec(&flags, flags_origin)?;
    if let Some(goflags) = final_env.get("GOFLAGS") {
        reject_toolexec(std::slice::from_ref(goflags), "GOFLAGS")?;
    }
    let mut env = Vec::new();
    if !final_env.contains_key("CGO_ENABLED") {
        env.push(("CGO_ENABLED".to_owned(), "0".to_owned()));
    }
    env.extend(build_env);
    Ok(GoSettings {
        env,
        flags,
        ldflags,
        templates: None,
    })
}

/// The `security.capability` xattr ko writes on the binary for a `.ko.yaml` build's
/// `linux_capabilities`; a term ko would refuse is an error naming the file and line.
pub fn capabilities(ko: &KoConfig, build: Option<&KoBuild>) -> Result<Option<Vec<u8>>, Error> {
    let Some(build) = build else {
        return Ok(None);
    };
    kiln_core::caps::capability_xattr(&build.linux_capabilities).map_err(|e| {
        Error::planning(
            format!(
                "{}:{}",
                ko.path
                    .as_deref()
                    .unwrap_or(Path::new(".ko.yaml"))
                    .display(),
                build.location.line
            ),
            format!("builds[] entry `{}`: linux_capabilities: {e}", build.id),
        )
    })
}

// ---- Values from the environment -----------------------------------------------------

/// A `SOURCE_DATE_EPOCH`-style variable: unset or empty is none, else whole seconds.
pub fn epoch(env: &Env, name: &str) -> Result<Option<i64>, Error> {
    env.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                Error::planning(
                    format!("{name}={v}"),
                    format!(
                        "not a whole number of seconds since 1970; unset it or use e.g. {name}=$(git log -1 --format=%ct)"
                    ),
                )
            })
        })
        .transpose()
}

/// `KO_DATA_PATH_ALLOWED_ROOT`, if set.
pub fn kodata_allowed_root(env: &Env) -> Option<PathBuf> {
    env.get("KO_DATA_PATH_ALLOWED_ROOT").map(PathBuf::from)
}

/// `KEY=VALUE` list → pairs; an entry without `=` is an error naming where it came from.
pub fn parse_env(entries: &[String], origin: &str) -> Result<Vec<(String, String)>, Error> {
    entries
        .iter()
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    Error::planning(origin, format!("`{e}` is not of the form KEY=VALUE"))
                })
        })
        .collect()
}

/// `KEY=VALUE` flags (`--image-label`, `--image-annotation`) → a map.
pub fn key_values(entries: &[String], flag: &str) -> Result<BTreeMap<String, String>, Error> {
    Ok(parse_env(entries, flag)?.into_iter().collect())
}

/// Skaffold's `ko.labels`, each value rendered with Skaffold's template pass.
pub fn skaffold_labels<'a>(
    image: &str,
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    env: &Env,
    inputs: &TemplateInputs,
) -> Result<BTreeMap<String, String>, Error> {
    labels
        .into_iter()
        .map(|(k, v)| {
            render_skaffold(v, env.vars(), None, inputs)
                .map(|v| (k.clone(), v))
                .map_err(|e| Error::planning(format!("{image}: ko.labels.{k}"), e.to_string()))
        })
        .collect()
}

/// The variables Skaffold adds for templates in an artifact's `ko.env` and flags:
/// `IMAGE_REPO`, `IMAGE_NAME` (the repository split at its last `/`) and `IMAGE_TAG`.
pub fn skaffold_template_env(env: &Env, repository: &str, tag: &str) -> BTreeMap<String, String> {
    let (repo_part, name_part) = repository.rsplit_once('/').unwrap_or(("", repository));
    let mut out = env.vars().clone();
    out.insert("IMAGE_REPO".into(), repo_part.to_owned());
    out.insert("IMAGE_NAME".into(), name_part.to_owned());
    out.insert("IMAGE_TAG".into(), tag.to_owned());
    out
}
