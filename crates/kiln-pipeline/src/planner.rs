//! From configuration to plans: applies every precedence rule of Skaffold's ko builder
//! (skaffold.yaml, .ko.yaml, flags, environment) and resolves each artifact's main package
//! with one `go list`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_config::{Artifact, Builder, Config, KoConfig, TagPolicy};
use kiln_core::media_type::LayerCompression;
use kiln_core::naming::{sanitize_image_name, strip_ko_scheme, substitute_default_repo};
use kiln_core::platform::PlatformRequest;
use kiln_core::tag::{
    datetime_tag_with, env_template_tag, git_commit_tag, input_digest_file_hash, input_digest_tag,
    sanitize_tag,
};
use kiln_core::template::{KoTemplateData, render_skaffold};
use kiln_gobuild::{Package, Toolchain, reject_toolexec};

use crate::Error;
use crate::build::{Downloads, StageEvents};
use crate::custom::CustomPlan;
use crate::events::{Event, Reporter};
use crate::plan::{ArtifactPlan, BaseSpec, GoSettings, MainPackage};
use crate::templates::{GoTemplates, template_inputs};

/// The run-wide inputs of planning that do not come from config files.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub default_repo: Option<String>,
    pub multi_level_repo: bool,
    /// `--platform`.
    pub platforms: Vec<String>,
    /// `-t/--tag`.
    pub tag: Option<String>,
    /// The process environment, read once by the CLI.
    pub env: BTreeMap<String, String>,
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
    /// `--compression`, when given: it wins over `KILN_COMPRESSION` (see [`compression`]).
    pub compression: Option<LayerCompression>,
}

/// Skaffold's `-b/--build-image` rule: an artifact is selected when its image name
/// contains one of `fragments` (`opts.IsTargetImage`). Returns the selected names in config
/// order; a fragment that selects nothing is an error listing the images.
pub fn select_images(configs: &[Config], fragments: &[String]) -> Result<Vec<String>, Error> {
    let images: Vec<&str> = configs
        .iter()
        .flat_map(|c| c.build.artifacts.iter().map(|a| a.image.as_str()))
        .collect();
    if let Some(unmatched) = fragments
        .iter()
        .find(|f| !images.iter().any(|i| i.contains(f.as_str())))
    {
        return Err(Error::Plan(format!(
            "-b/--build-image {unmatched}: no artifact's image contains it; the images in the config are: {}",
            images.join(", ")
        )));
    }
    Ok(images
        .into_iter()
        .filter(|i| fragments.is_empty() || fragments.iter().any(|f| i.contains(f.as_str())))
        .map(str::to_owned)
        .collect())
}

/// The layer compression of this run: `--compression`, else the `KILN_COMPRESSION`
/// environment variable (an environment knob, so skaffold.yaml stays Skaffold's schema),
/// else gzip.
pub fn compression(options: &PlanOptions) -> Result<LayerCompression, Error> {
    if let Some(chosen) = options.compression {
        return Ok(chosen);
    }
    match options.env.get("KILN_COMPRESSION").map(|v| v.trim()) {
        None | Some("") => Ok(LayerCompression::default()),
        Some(value) => LayerCompression::parse(value).ok_or_else(|| {
            Error::Plan(format!(
                "KILN_COMPRESSION={value:?} is not a layer compression; set it to one of {} \
                 (or unset it for gzip)",
                LayerCompression::NAMES.join(", ")
            ))
        }),
    }
}

/// The plans of one run: ko artifacts kiln builds, custom ones whose command it runs.
#[derive(Clone, Debug, Default)]
pub struct Plans {
    pub ko: Vec<ArtifactPlan>,
    pub custom: Vec<CustomPlan>,
}

/// Plans every selected artifact of `configs`, in order. `config_dir` is where relative
/// artifact contexts are resolved from. Custom artifacts are planned when `run_custom`
/// (the caller then runs them after the ko ones are published); otherwise a selected one
/// is an error, as is any selected artifact of a builder kiln does not run.
pub async fn plan_all(
    toolchain: &Toolchain,
    configs: &[Config],
    config_dir: &Path,
    options: &PlanOptions,
    run_custom: bool,
) -> Result<Plans, Error> {
    if let Some(tag) = &options.tag {
        kiln_core::tag::validate_tag(tag)
            .map_err(|e| Error::Plan(format!("--tag/SKAFFOLD_TAG: {e}")))?;
    }
    let selected = |a: &Artifact| options.only.is_empty() || options.only.contains(&a.image);
    // A custom artifact's command pushes its image: it has no layout or tarball to give.
    let runnable =
        |b: Builder| b == Builder::Ko || (b == Builder::Custom && run_custom && options.push);
    check_builders(configs, &selected, &runnable, run_custom)?;
    let report = options.events.sink();
    let graph = Graph {
        artifacts: configs.iter().flat_map(|c| &c.build.artifacts).collect(),
        config_dir,
    };
    let mut plans = Plans::default();
    for config in configs {
        for (index, artifact) in config.build.artifacts.iter().enumerate() {
            if !selected(artifact) {
                if !runnable(artifact.builder) {
                    report(Event::ArtifactSkipped {
                        image: artifact.image.clone(),
                        builder: artifact.builder.name().to_owned(),
                    });
                }
                continue;
            }
            if artifact.builder == Builder::Custom {
                plans
                    .custom
                    .push(plan_custom(config, artifact, &graph, options).await?);
            } else {
                let plan = plan_artifact(toolchain, config, artifact, &graph, options).await;
                plans
                    .ko
                    .push(plan.map_err(|e| at_main(e, config, artifact, index, options))?);
            }
        }
    }
    // Custom artifacts run after the ko ones are published, so a ko artifact cannot wait
    // for one (ko itself never reads what it requires).
    for ko in &plans.ko {
        if let Some(custom) = plans.custom.iter().find(|c| ko.requires.contains(&c.image)) {
            return Err(Error::Plan(format!(
                "{}: requires the custom artifact `{}`, but kiln builds custom artifacts after the ko ones; build `{}` first with -b, then `{}`",
                ko.image, custom.image, custom.image, ko.image
            )));
        }
    }
    if plans.ko.is_empty() && plans.custom.is_empty() && !options.only.is_empty() {
        return Err(Error::Plan(format!(
            "no artifact is named {}; the images in the config are: {}",
            options.only.join(", "),
            configs
                .iter()
                .flat_map(|c| c.build.artifacts.iter().map(|a| a.image.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(plans)
}

/// A `go list` failure of an artifact's main package, pointed at `ko.main` in the
/// skaffold.yaml (file, line, column and field), as config errors are.
fn at_main(
    error: Error,
    config: &Config,
    artifact: &Artifact,
    index: usize,
    options: &PlanOptions,
) -> Error {
    use kiln_gobuild::Error::{List, NotMain, NotOnePackage};
    let Error::Go(go_error @ (List { .. } | NotOnePackage { .. } | NotMain { .. })) = error else {
        return error;
    };
    // The file the config came from (a required one may be another), else the root file.
    let file = Some(config.source.as_path())
        .filter(|p| !p.as_os_str().is_empty())
        .or(options.config_file.as_deref());
    let (Some(file), false) = (file, artifact.image.starts_with("ko://")) else {
        return Error::Go(go_error);
    };
    let location = artifact.main_location.unwrap_or(artifact.location);
    Error::Plan(format!(
        "{}:{}:{}: build.artifacts[{index}].ko.main: `{}` of {} is not a main package kiln can build: {go_error}; fix `main` (relative to the artifact's context and ko.dir)",
        file.display(),
        location.line,
        location.column,
        artifact.ko.main,
        artifact.image,
    ))
}

/// An artifact's name and tag, as a plan-only command needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedImage {
    /// The image name as written in skaffold.yaml.
    pub image: String,
    /// `repository:tag`.
    pub tagged: String,
    pub runtime_type: Option<String>,
}

/// The `repository:tag` of every artifact of `configs`, whatever its builder, without
/// building, resolving packages or downloading modules: a `ko://` name comes from the
/// string, as Skaffold derives it (`render --digest-source=tag`).
pub async fn plan_tags(
    configs: &[Config],
    config_dir: &Path,
    options: &PlanOptions,
) -> Result<Vec<TaggedImage>, Error> {
    let graph = Graph {
        artifacts: configs.iter().flat_map(|c| &c.build.artifacts).collect(),
        config_dir,
    };
    let mut tagged = Vec::new();
    for config in configs {
        for artifact in &config.build.artifacts {
            let workspace = config_dir.join(&artifact.context);
            let tag = artifact_tag(config, artifact, &workspace, &graph, options).await?;
            tagged.push(TaggedImage {
                image: artifact.image.clone(),
                tagged: format!("{}:{tag}", repository_of(&artifact.image, options)?),
                runtime_type: artifact.runtime_type.clone(),
            });
        }
    }
    Ok(tagged)
}

/// `-t/--tag`, else the config's tag policy for `artifact` (whose context is `workspace`).
async fn artifact_tag(
    config: &Config,
    artifact: &Artifact,
    workspace: &Path,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<String, Error> {
    match &options.tag {
        Some(t) => Ok(t.clone()),
        None => {
            compute_tag(
                &config.build.tag_policy,
                artifact,
                workspace,
                graph,
                options,
            )
            .await
        }
    }
}

/// A custom artifact: its name, tag and context; the command runs later.
async fn plan_custom(
    config: &Config,
    artifact: &Artifact,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<CustomPlan, Error> {
    let config_dir = graph.config_dir;
    let image = artifact.image.as_str();
    let custom = artifact.custom.clone().unwrap_or_default();
    if custom.build_command.trim().is_empty() {
        return Err(Error::Plan(format!(
            "{image}: custom artifact sets no `custom.buildCommand`; e.g. `buildCommand: ./build.sh`"
        )));
    }
    let context = config_dir.join(&artifact.context);
    let workspace = std::fs::canonicalize(&context).map_err(|e| {
        Error::Plan(format!(
            "{image}: the context {} cannot be used: {e}",
            context.display()
        ))
    })?;
    let tag = artifact_tag(config, artifact, &workspace, graph, options).await?;
    let platforms = [
        &options.platforms,
        &artifact.platforms,
        &config.build.platforms,
    ]
    .into_iter()
    .find(|p| !p.is_empty())
    .cloned()
    .unwrap_or_default();
    Ok(CustomPlan {
        image: image.to_owned(),
        runtime_type: artifact.runtime_type.clone(),
        repository: repository_of(image, options)?,
        tag,
        workspace,
        build_command: custom.build_command,
        requires: artifact.requires.clone(),
        platforms,
    })
}

/// The repository an image is pushed to: default repo, then sanitizing (which strips
/// `ko://`), as Skaffold's scheduler does.
fn repository_of(image: &str, options: &PlanOptions) -> Result<String, Error> {
    Ok(sanitize_image_name(
        &substitute_default_repo(
            options.default_repo.as_deref(),
            options.multi_level_repo,
            image,
        )
        .map_err(|e| Error::Plan(format!("{image}: {e}")))?,
    ))
}

/// Refuses, before anything is planned or built, the selected artifacts whose builder kiln
/// does not run, naming them and the `-b` that selects the ko ones.
fn check_builders(
    configs: &[Config],
    selected: &dyn Fn(&Artifact) -> bool,
    runnable: &dyn Fn(Builder) -> bool,
    run_custom: bool,
) -> Result<(), Error> {
    let artifacts = || configs.iter().flat_map(|c| &c.build.artifacts);
    let foreign: Vec<String> = configs
        .iter()
        .flat_map(|c| c.build.artifacts.iter().map(move |a| (c, a)))
        .filter(|(_, a)| selected(a) && !runnable(a.builder))
        .map(|(c, a)| {
            let why = match a.builder {
                Builder::Docker { by_default: true } => {
                    "sets no builder, which means docker (write `ko: {}` to build it with ko)"
                        .to_owned()
                }
                Builder::Custom if run_custom => {
                    "uses the custom builder, whose command pushes its image, so kiln builds it only when pushing (not into --oci-layout-path, --tarball or a local engine)".to_owned()
                }
                Builder::Custom => {
                    "uses the custom builder, whose command kiln runs only in `kiln build`"
                        .to_owned()
                }
                b => format!("uses the {} builder", b.name()),
            };
            format!(
                "`{}` ({}:{}) {why}",
                a.image,
                c.source.display(),
                a.location.line
            )
        })
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let ours: Vec<&str> = artifacts()
        .filter(|a| runnable(a.builder))
        .map(|a| a.image.as_str())
        .collect();
    let fix = if ours.is_empty() {
        "the config has no artifact kiln can build here".to_owned()
    } else {
        format!("build only the ones kiln can with `-b {}`", ours.join(","))
    };
    Err(Error::Plan(format!(
        "kiln builds ko artifacts (and, in `kiln build`, custom ones), and {} of the selected artifacts cannot be built by it: {}; {fix}",
        foreign.len(),
        foreign.join("; ")
    )))
}

pub(crate) fn epoch(env: &BTreeMap<String, String>, name: &str) -> Result<Option<i64>, Error> {
    env.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                Error::Plan(format!(
                    "{name}={v} is not a whole number of seconds since 1970; unset it or use e.g. {name}=$(git log -1 --format=%ct)"
                ))
            })
        })
        .transpose()
}

/// `KEY=VALUE` list → pairs; an entry without `=` is an error naming where it came from.
pub(crate) fn parse_env(entries: &[String], origin: &str) -> Result<Vec<(String, String)>, Error> {
    entries
        .iter()
        .map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| Error::Plan(format!("{origin}: `{e}` is not of the form KEY=VALUE")))
        })
        .collect()
}

async fn plan_artifact(
    toolchain: &Toolchain,
    config: &Config,
    artifact: &Artifact,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<ArtifactPlan, Error> {
    let config_dir = graph.config_dir;
    let ko = &artifact.ko;
    let context = config_dir.join(&artifact.context);
    let go_dir = context.join(&ko.dir);
    let go_dir = std::fs::canonicalize(&go_dir).map_err(|e| {
        Error::Plan(format!(
            "{}: the Go directory {} (context `{}` + ko.dir `{}`) cannot be used: {e}",
            artifact.image,
            go_dir.display(),
            artifact.context.display(),
            ko.dir.display()
        ))
    })?;
    let ko_config = kiln_config::load_ko_config(&go_dir, &|k| options.env.get(k).cloned())?;
    let image = artifact.image.as_str();

    // Naming: default repo, then sanitizing (which strips ko://), as Skaffold's scheduler does.
    let is_ko_uri = image.starts_with("ko://");
    if is_ko_uri && options.push && options.default_repo.is_none() {
        return Err(Error::Plan(format!(
            "{image}: a default repo must be set when pushing an image named with the ko:// prefix; pass --default-repo or set SKAFFOLD_DEFAULT_REPO"
        )));
    }
    let repository = repository_of(image, options)?;

    let main = if is_ko_uri {
        MainPackage::ImportPath(strip_ko_scheme(image).to_owned())
    } else {
        MainPackage::Pattern(ko.main.clone())
    };
    let source_date_epoch = epoch(&options.env, "SOURCE_DATE_EPOCH")?;
    let kodata_date_epoch = epoch(&options.env, "KO_DATA_DATE_EPOCH")?;
    let tag = artifact_tag(config, artifact, &context, graph, options).await?;

    // Build settings: the artifact's own, or the matching .ko.yaml build, with .ko.yaml
    // defaults filling what neither sets (Skaffold gives ko a build config only when one of
    // dir/main/env/flags/ldflags is set, and ko then ignores .ko.yaml builds[]).
    let artifact_has_build = ko.overrides_ko_builds();
    let package = resolve_package(
        toolchain,
        &go_dir,
        &main,
        &parse_env(&ko.env, "ko.env")?,
        options,
    )
    .await?;
    let ko_build = if artifact_has_build {
        None
    } else {
        matching_ko_build(&ko_config, &go_dir, &package)
    };
    let linux_capabilities = capabilities(&ko_config, ko_build)?;
    let go_dir = match ko_build {
        Some(build) => go_dir.join(&build.dir),
        None => go_dir,
    };

    let (repo_part, name_part) = repository.rsplit_once('/').unwrap_or(("", &repository));
    let inputs = template_inputs(&options.env, options.now_unix);
    let mut skaffold_env = options.env.clone();
    skaffold_env.insert("IMAGE_REPO".into(), repo_part.to_owned());
    skaffold_env.insert("IMAGE_NAME".into(), name_part.to_owned());
    skaffold_env.insert("IMAGE_TAG".into(), tag.clone());
    let render_env = |entries: &[String]| -> Result<Vec<String>, Error> {
        entries
            .iter()
            .map(|e| {
                render_skaffold(e, &skaffold_env, None, &inputs)
                    .map_err(|err| Error::Plan(format!("{image}: ko.env: {err}")))
            })
            .collect()
    };
    let build_env = match ko_build {
        _ if !ko.env.is_empty() => parse_env(&render_env(&ko.env)?, "ko.env")?,
        Some(b) if !b.env.is_empty() => parse_env(&b.env, ".ko.yaml builds[].env")?,
        _ => parse_env(&ko_config.default_env, ".ko.yaml defaultEnv")?,
    };
    let mut final_env = options.env.clone();
    final_env.extend(build_env.iter().cloned());
    let (flag_templates, flags_from_artifact) = go_templates(
        artifact_has_build,
        &ko.flags,
        ko_build.map(|b| &b.flags),
        &ko_config.default_flags,
    );
    let (ldflag_templates, ldflags_from_artifact) = go_templates(
        artifact_has_build,
        &ko.ldflags,
        ko_build.map(|b| &b.ldflags),
        &ko_config.default_ldflags,
    );
    let template_data = template_data(
        toolchain,
        &go_dir,
        &final_env,
        source_date_epoch.unwrap_or(options.now_unix),
        &[&flag_templates, &ldflag_templates],
    )
    .await?;
    // The artifact's own values get Skaffold's template pass (with ko's variables as kiln's
    // extension); .ko.yaml values get ko's. They are rendered per platform, as ko does.
    let platforms = if options.debug || options.single_platform {
        single_platform(platforms(config, artifact, &ko_config, options)?)
    } else {
        platforms(config, artifact, &ko_config, options)?
    };
    let templates = GoTemplates {
        origin: format!("{image}: "),
        flags: flag_templates,
        flags_from_artifact,
        ldflags: ldflag_templates,
        ldflags_from_artifact,
        data: template_data,
        skaffold_env,
        inputs: inputs.clone(),
    };
    let (flags, ldflags) = templates.render(&first_platform(&platforms))?;
    let mut go = go_settings(
        flags,
        ldflags,
        build_env,
        &final_env,
        &format!("{image}: ko.flags"),
    )?;
    go.templates = templates.per_platform().then_some(templates);

    let labels = ko
        .labels
        .iter()
        .map(|(k, v)| {
            render_skaffold(v, &options.env, None, &inputs)
                .map(|v| (k.clone(), v))
                .map_err(|e| Error::Plan(format!("{image}: ko.labels.{k}: {e}")))
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;

    Ok(ArtifactPlan {
        config_warnings: ko_config.warnings.clone(),
        image: image.to_owned(),
        runtime_type: artifact.runtime_type.clone(),
        requires: artifact.requires.iter().map(|r| r.image.clone()).collect(),
        repository,
        tag,
        extra_tags: Vec::new(),
        workspace: std::fs::canonicalize(&context).unwrap_or_else(|_| context.clone()),
        dependencies: ko.dependencies.clone(),
        ko_config_path: ko_config.path.clone(),
        go_dir,
        base: base_spec(
            &ko_config,
            ko.from_image.as_deref().map(|v| {
                let field = format!(
                    "the Skaffold config in {}: artifact {image}: ko.fromImage",
                    config_dir.display()
                );
                (v, field)
            }),
            &package,
            config_dir,
        )?,
        platforms,
        package,
        go,
        labels,
        annotations: BTreeMap::new(),
        user: None,
        trimpath: !options.debug,
        disable_optimizations: options.debug,
        source_date_epoch,
        kodata_date_epoch,
        kodata_allowed_root: options
            .env
            .get("KO_DATA_PATH_ALLOWED_ROOT")
            .map(PathBuf::from),
        sbom: options.sbom,
        linux_capabilities,
        compression: compression(options)?,
    })
}

/// Which flag (or ldflag) templates apply, and whether they are the artifact's own: the
/// artifact's when it sets any build field (Skaffold then hands ko a build config, which
/// replaces .ko.yaml's `builds[]`), else the matching `builds[]` entry's, else the
/// .ko.yaml default. An empty list falls through to the default, as in ko.
fn go_templates(
    artifact_has_build: bool,
    own: &[String],
    ko_build: Option<&Vec<String>>,
    default: &[String],
) -> (Vec<String>, bool) {
    if artifact_has_build && !own.is_empty() {
        return (own.to_vec(), true);
    }
    match ko_build.filter(|b| !b.is_empty()) {
        Some(list) => (list.clone(), false),
        None => (default.to_vec(), false),
    }
}

/// ko's template data for `templates`. git and `go env` each cost a subprocess, so they
/// only run when a template mentions them.
pub(crate) async fn template_data(
    toolchain: &Toolchain,
    dir: &Path,
    env: &BTreeMap<String, String>,
    build_time_unix: i64,
    templates: &[&[String]],
) -> Result<KoTemplateData, Error> {
    let mentions = |needle: &str| {
        templates
            .iter()
            .flat_map(|t| t.iter())
            .any(|t| t.contains(needle))
    };
    let (needs_git, needs_go_env) = (mentions(".Git"), mentions("GoEnv"));
    let git = if needs_git {
        kiln_gobuild::git::template_info(dir).await
    } else {
        Default::default()
    };
    let go_env = if needs_go_env {
        toolchain.env().await?
    } else {
        BTreeMap::new()
    };
    Ok(KoTemplateData::new(
        env.clone(),
        go_env,
        git,
        build_time_unix,
    ))
}

/// The `security.capability` xattr ko writes on the binary for a `.ko.yaml` build's
/// `linux_capabilities`; a term ko would refuse is an error naming the file and line.
pub(crate) fn capabilities(
    ko: &KoConfig,
    build: Option<&kiln_config::KoBuild>,
) -> Result<Option<Vec<u8>>, Error> {
    let Some(build) = build else {
        return Ok(None);
    };
    kiln_core::caps::capability_xattr(&build.linux_capabilities).map_err(|e| {
        Error::Plan(format!(
            "{}:{}: builds[] entry `{}`: linux_capabilities: {e}",
            ko.path
                .as_deref()
                .unwrap_or(Path::new(".ko.yaml"))
                .display(),
            build.location.line,
            build.id,
        ))
    })
}

/// The Go settings of a build once its flags are rendered: `-toolexec` refused in the
/// flags (`flags_origin` names them) and in `GOFLAGS`, and `CGO_ENABLED=0` first unless the
/// environment sets it (ko's `buildEnv` order: its defaults, then the build's env).
pub(crate) fn go_settings(
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

pub(crate) async fn resolve_package(
    toolchain: &Toolchain,
    go_dir: &Path,
    main: &MainPackage,
    build_env: &[(String, String)],
    options: &PlanOptions,
) -> Result<Package, Error> {
    // Planning has no image yet to name: the stage is reported under the package.
    let stage = StageEvents::new(&options.events.sink(), main.as_go_arg(), None);
    let downloads = Downloads::new(&stage);
    let package = crate::memo::resolve_main(
        toolchain,
        &options.cache_dir,
        go_dir,
        main.as_go_arg(),
        &options.env,
        build_env,
        &|module| downloads.heard(module),
    )
    .await?;
    downloads.finish();
    if let MainPackage::ImportPath(ip) = main
        && package.import_path != *ip
    {
        return Err(Error::Plan(format!(
            "ko://{ip} resolved to {}; write the full import path of a main package",
            package.import_path
        )));
    }
    Ok(package)
}

/// The .ko.yaml `builds[]` entry for `package`: the one whose `<dir>/<main>` is the
/// package's directory (a `main` naming a file means its directory, as in ko).
fn matching_ko_build<'k>(
    ko: &'k KoConfig,
    wd: &Path,
    package: &Package,
) -> Option<&'k kiln_config::KoBuild> {
    let target = std::fs::canonicalize(&package.dir).ok()?;
    ko.builds.iter().find(|b| {
        let mut dir = wd.join(&b.dir).join(&b.main);
        if dir.is_file() {
            dir.pop();
        }
        std::fs::canonicalize(&dir).is_ok_and(|d| d == target)
    })
}

/// Skaffold's base precedence: `baseImageOverrides[import path]` > `fromImage` >
/// `defaultBaseImage` (or `KO_DEFAULTBASEIMAGE`) > kiln's built-in base (where ko would
/// pull cgr.dev/chainguard/static). `from_image` comes with the field it was read from, so
/// an invalid value is reported with its file and field.
pub(crate) fn base_spec(
    ko: &KoConfig,
    from_image: Option<(&str, String)>,
    package: &Package,
    config_dir: &Path,
) -> Result<BaseSpec, Error> {
    let ko_file = || {
        ko.path
            .as_ref()
            .map_or_else(|| ".ko.yaml".to_owned(), |p| p.display().to_string())
    };
    let chosen = match ko.base_image_override(&package.import_path) {
        Some(v) => Some((
            v,
            format!("{}: baseImageOverrides[{}]", ko_file(), package.import_path),
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
        Some((value, origin)) => BaseSpec::parse(value, config_dir).map_err(|e| {
            Error::Plan(format!(
                "{origin}: `{}` is not a usable base image for {}: {e}",
                kiln_core::text::excerpt(value, 80),
                package.import_path
            ))
        }),
    }
}

/// `--platform` values without blank entries: `--platform ""` means "not given".
pub(crate) fn given_platforms(flag: &[String]) -> Vec<String> {
    flag.iter()
        .filter(|p| !p.trim().is_empty())
        .cloned()
        .collect()
}

/// `--platform` > `build.platforms` > .ko.yaml `defaultPlatforms` > linux/amd64, narrowed
/// by the artifact's own `platforms` (an empty intersection is an error).
fn platforms(
    config: &Config,
    artifact: &Artifact,
    ko: &KoConfig,
    options: &PlanOptions,
) -> Result<PlatformRequest, Error> {
    let parse = |list: &[String], origin: &str| {
        PlatformRequest::parse(list)
            .map_err(|e| Error::Plan(format!("{}: {origin}: {e}", artifact.image)))
    };
    // `--platform ""` is unset, as in Skaffold (its flag default is an empty list).
    let flag = given_platforms(&options.platforms);
    let requested = if !flag.is_empty() {
        Some(parse(&flag, "--platform")?)
    } else if !config.build.platforms.is_empty() {
        Some(parse(&config.build.platforms, "build.platforms")?)
    } else {
        None
    };
    let own = (!artifact.platforms.is_empty())
        .then(|| parse(&artifact.platforms, "platforms"))
        .transpose()?;
    let chosen = match (requested, own) {
        (Some(PlatformRequest::Specs(req)), Some(PlatformRequest::Specs(own))) => {
            let both: Vec<_> = req.iter().filter(|p| own.contains(p)).cloned().collect();
            if both.is_empty() {
                return Err(Error::Plan(format!(
                    "{}: none of the requested platforms ({}) is in the artifact's `platforms`",
                    artifact.image,
                    req.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            PlatformRequest::Specs(both)
        }
        (Some(PlatformRequest::All), Some(own)) => own,
        (Some(req), _) => req,
        (None, Some(own)) => own,
        (None, None) if !ko.default_platforms.is_empty() => {
            parse(&ko.default_platforms, ".ko.yaml defaultPlatforms")?
        }
        (None, None) => {
            PlatformRequest::Specs(vec![kiln_core::Platform::new("linux", "amd64", None)])
        }
    };
    Ok(chosen)
}

/// `skaffold debug` builds one platform (its `--disable-multi-platform-build`): the host's
/// architecture when requested (a debugger attaches to what runs here), else the first.
/// The platform a plan's templates are first rendered for: the first requested, else
/// ko's default linux/amd64 (`all` is known only once the base is resolved).
pub(crate) fn first_platform(request: &PlatformRequest) -> kiln_core::Platform {
    match request {
        PlatformRequest::Specs(specs) if !specs.is_empty() => specs[0].clone(),
        _ => kiln_core::Platform::new("linux", "amd64", None),
    }
}

fn single_platform(request: PlatformRequest) -> PlatformRequest {
    let host = kiln_core::Platform::new("linux", go_arch(std::env::consts::ARCH), None);
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

/// Rust's name of an architecture → Go's.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Every artifact of the run's configs, for following `requires`.
struct Graph<'a> {
    artifacts: Vec<&'a Artifact>,
    /// Artifact contexts are relative to it.
    config_dir: &'a Path,
}

impl Graph<'_> {
    /// Skaffold's `TransitiveArtifactDependencies`: the artifact's own input files, then
    /// those of each artifact it requires, recursively (kiln-config rejects cycles), as
    /// absolute paths, unsorted and with repeats, as Skaffold hashes them.
    fn transitive_inputs(
        &self,
        artifact: &Artifact,
        workspace: &Path,
    ) -> Result<Vec<PathBuf>, Error> {
        let mut files: Vec<PathBuf> = input_files(artifact, workspace)?
            .iter()
            .map(|f| workspace.join(f))
            .collect();
        for dep in &artifact.requires {
            let Some(required) = self.artifacts.iter().find(|a| a.image == dep.image) else {
                return Err(Error::Plan(format!(
                    "{}: requires `{}`, which no config defines",
                    artifact.image, dep.image
                )));
            };
            let context = self.config_dir.join(&required.context);
            let dep_workspace = std::fs::canonicalize(&context).map_err(|e| {
                Error::Plan(format!(
                    "{}: the context {} of the required `{}` cannot be used: {e}",
                    artifact.image,
                    context.display(),
                    dep.image
                ))
            })?;
            files.extend(self.transitive_inputs(required, &dep_workspace)?);
        }
        Ok(files)
    }
}

/// `path` relative to `base`, as Go's `filepath.Rel` gives it for two clean absolute paths
/// (`../x` when `path` is outside `base`), with `/` separators.
fn relative_to(path: &Path, base: &Path) -> String {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n("..".to_owned(), base.len() - common);
    let rest = path[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(rest).collect::<Vec<_>>().join("/")
}

/// The files an `inputDigest` tag hashes: the artifact's `dependencies` (for a custom
/// artifact, the list its `dependencies.command` prints, as Skaffold runs it).
fn input_files(artifact: &Artifact, workspace: &Path) -> Result<Vec<String>, Error> {
    let image = &artifact.image;
    let Some(custom) = &artifact.custom else {
        return crate::deps::dependency_files(workspace, &artifact.ko.dependencies);
    };
    if custom.dependencies_dockerfile {
        return Err(Error::Plan(format!(
            "{image}: an inputDigest tag of a custom artifact whose `dependencies.dockerfile` is set needs Dockerfile parsing, which kiln does not do; list `dependencies.paths` instead"
        )));
    }
    let Some(command) = &custom.dependencies_command else {
        return crate::deps::dependency_files(workspace, &custom.dependencies);
    };
    // Skaffold splits the command on spaces and runs it without a shell.
    let mut words = command.split(' ');
    let program = words.next().unwrap_or_default();
    let out = std::process::Command::new(program)
        .args(words)
        .current_dir(workspace)
        .output()
        .map_err(|e| Error::Plan(format!("{image}: dependencies.command `{command}`: {e}")))?;
    if !out.status.success() {
        return Err(Error::Plan(format!(
            "{image}: dependencies.command `{command}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut files: Vec<String> = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::Plan(format!(
            "{image}: dependencies.command `{command}` must print a JSON array of paths: {e}"
        ))
    })?;
    files.sort();
    files.dedup();
    Ok(files)
}

async fn compute_tag(
    policy: &TagPolicy,
    artifact: &Artifact,
    workspace: &Path,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<String, Error> {
    let image = artifact.image.as_str();
    let tag_error = |e: kiln_core::tag::TagError| Error::Plan(format!("{image}: tagPolicy: {e}"));
    let tag = match policy {
        TagPolicy::GitCommit(git) => {
            let variant = git.variant;
            match kiln_gobuild::git::tag_outputs(workspace, variant).await {
                Some(outputs) => git_commit_tag(variant, &git.prefix, git.ignore_changes, &outputs)
                    .map_err(tag_error)?,
                None => {
                    return Err(Error::Plan(
                        match kiln_gobuild::git::repository_problem(workspace).await {
                            Some(problem) => {
                                format!("{image}: the gitCommit tag policy: {problem}")
                            }
                            None => format!(
                                "{image}: the gitCommit tag policy needs a git repository at {}; run `git init`, choose another tagPolicy, or pass --tag",
                                workspace.display()
                            ),
                        },
                    ));
                }
            }
        }
        TagPolicy::Sha256 => "latest".to_owned(),
        TagPolicy::EnvTemplate { template } => env_template_tag(
            template,
            &options.env,
            image,
            &template_inputs(&options.env, options.now_unix),
        )
        .map_err(tag_error)?,
        TagPolicy::DateTime { format, timezone } => {
            let zone = |name: &str| crate::zoneinfo::zone_at(name, &options.env, options.now_unix);
            datetime_tag_with(
                format.as_deref(),
                timezone.as_deref(),
                options.now_unix,
                options.now_nanos,
                &zone,
            )
            .map_err(tag_error)?
        }
        TagPolicy::InputDigest => {
            // Skaffold hashes the artifact's inputs and those of every artifact it requires,
            // transitively, sorted by absolute path, each named relative to this workspace.
            let workspace =
                std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_owned());
            let mut files = graph.transitive_inputs(artifact, &workspace)?;
            files.sort();
            let hashes = files
                .iter()
                .map(|f| {
                    let contents = std::fs::read(f).map_err(|e| {
                        Error::Plan(format!("{image}: reading {}: {e}", f.display()))
                    })?;
                    Ok(input_digest_file_hash(
                        &relative_to(f, &workspace),
                        &contents,
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            input_digest_tag(&hashes)
        }
        TagPolicy::CustomTemplate {
            template,
            components,
        } => {
            // Skaffold's built-in components, overridable by name; only the components the
            // template mentions are computed (each may run git or hash files).
            let builtins = [
                ("GIT", TagPolicy::GitCommit(Default::default())),
                (
                    "DATE",
                    TagPolicy::DateTime {
                        format: None,
                        timezone: None,
                    },
                ),
                ("SHA", TagPolicy::Sha256),
                ("INPUT_DIGEST", TagPolicy::InputDigest),
            ];
            let named = builtins
                .iter()
                .filter(|(name, _)| !components.iter().any(|c| c.name == *name))
                .map(|(name, policy)| (name.to_string(), policy))
                .chain(components.iter().map(|c| (c.name.clone(), &c.policy)));
            let mut values = BTreeMap::new();
            for (name, policy) in named {
                if template.contains(&name) {
                    let value =
                        Box::pin(compute_tag(policy, artifact, workspace, graph, options)).await?;
                    values.insert(name, value);
                }
            }
            render_skaffold(
                template,
                &values,
                None,
                &template_inputs(&options.env, options.now_unix),
            )
            .map_err(|e| Error::Plan(format!("{image}: tagPolicy.customTemplate: {e}")))?
        }
    };
    Ok(sanitize_tag(&tag))
}

#[cfg(test)]
mod platform_flag_tests {
    use super::{base_spec, given_platforms};
    use kiln_config::KoConfig;
    use kiln_gobuild::Package;
    use std::path::Path;

    #[test]
    fn an_invalid_base_image_names_its_file_and_field() {
        let package = Package {
            import_path: "example.com/app".to_owned(),
            name: "main".to_owned(),
            dir: "/src/app".into(),
            go_files: Vec::new(),
        };
        let ko = KoConfig {
            path: Some("/src/.ko.yaml".into()),
            default_base_image: Some("Not A Reference!".to_owned()),
            ..KoConfig::default()
        };
        let msg = base_spec(&ko, None, &package, Path::new("/src"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("/src/.ko.yaml: defaultBaseImage")
                && msg.contains("`Not A Reference!`")
                && msg.contains("example.com/app"),
            "{msg}"
        );
        let from = Some((
            "bad image",
            "skaffold.yaml: artifact app: ko.fromImage".to_owned(),
        ));
        let msg = base_spec(&ko, from, &package, Path::new("/src"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("ko.fromImage: `bad image`"), "{msg}");
    }

    #[test]
    fn an_empty_platform_flag_is_unset() {
        assert!(given_platforms(&[String::new()]).is_empty());
        assert!(given_platforms(&[" ".to_owned()]).is_empty());
        assert_eq!(
            given_platforms(&["linux/arm64".to_owned(), String::new()]),
            ["linux/arm64"]
        );
    }
}
