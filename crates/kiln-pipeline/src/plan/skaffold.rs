//! Skaffold's face of planning: gathers each ko artifact's inputs (skaffold.yaml,
//! `.ko.yaml`, flags, environment, `go list`'s answer) and hands them to the shared
//! `PlanDraft` step (`plan/draft.rs`); plans custom artifacts and plan-only tags.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_config::{Artifact, Builder, Config};
use kiln_core::naming::strip_ko_scheme;
use kiln_gobuild::Toolchain;

use super::choose;
use super::draft::PlanDraft;
use super::tag::{Graph, artifact_tag};
use super::{ArtifactPlan, MainPackage, PlanOptions, probe};
use crate::Error;
use crate::custom::CustomPlan;
use crate::events::Event;
use crate::templates::template_inputs;

/// Skaffold's `-b/--build-image` rule over the images of `configs` (see
/// [`choose::select_images`]).
pub fn select_images(configs: &[Config], fragments: &[String]) -> Result<Vec<String>, Error> {
    let images: Vec<&str> = configs
        .iter()
        .flat_map(|c| c.build.artifacts.iter().map(|a| a.image.as_str()))
        .collect();
    choose::select_images(&images, fragments)
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
            .map_err(|e| Error::planning("--tag/SKAFFOLD_TAG", e.to_string()))?;
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
        env: &options.env,
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
            return Err(Error::planning(
                &ko.image,
                format!(
                    "requires the custom artifact `{}`, but kiln builds custom artifacts after the ko ones; build `{}` first with -b, then `{}`",
                    custom.image, custom.image, ko.image
                ),
            ));
        }
    }
    if plans.ko.is_empty() && plans.custom.is_empty() && !options.only.is_empty() {
        return Err(Error::planning(
            "-b/--build-image",
            format!(
                "no artifact is named {}; the images in the config are: {}",
                options.only.join(", "),
                configs
                    .iter()
                    .flat_map(|c| c.build.artifacts.iter().map(|a| a.image.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
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
    Error::planning(
        format!("{}:{}:{}", file.display(), location.line, location.column),
        format!(
            "build.artifacts[{index}].ko.main: `{}` of {} is not a main package kiln can build: {go_error}; fix `main` (relative to the artifact's context and ko.dir)",
            artifact.ko.main, artifact.image,
        ),
    )
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
        env: &options.env,
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
        return Err(Error::planning(
            image,
            "custom artifact sets no `custom.buildCommand`; e.g. `buildCommand: ./build.sh`",
        ));
    }
    let context = config_dir.join(&artifact.context);
    let workspace = std::fs::canonicalize(&context).map_err(|e| {
        Error::planning(
            image,
            format!("the context {} cannot be used: {e}", context.display()),
        )
    })?;
    let tag = artifact_tag(config, artifact, &workspace, graph, options).await?;
    let platforms = choose::custom_platforms(
        &options.platforms,
        &artifact.platforms,
        &config.build.platforms,
    );
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

/// One ko artifact's plan: its sources gathered (the Go directory's `.ko.yaml`, the
/// matching `builds[]` entry, the main package from `go list`), Skaffold's rules applied,
/// then the shared [`PlanDraft`] step.
async fn plan_artifact(
    toolchain: &Toolchain,
    config: &Config,
    artifact: &Artifact,
    graph: &Graph<'_>,
    options: &PlanOptions,
) -> Result<ArtifactPlan, Error> {
    let config_dir = graph.config_dir;
    let ko = &artifact.ko;
    let image = artifact.image.as_str();
    let context = config_dir.join(&artifact.context);
    let go_dir = context.join(&ko.dir);
    let go_dir = std::fs::canonicalize(&go_dir).map_err(|e| {
        Error::planning(
            image,
            format!(
                "the Go directory {} (context `{}` + ko.dir `{}`) cannot be used: {e}",
                go_dir.display(),
                artifact.context.display(),
                ko.dir.display()
            ),
        )
    })?;
    let ko_config =
        kiln_config::load_ko_config(&go_dir, &|k| options.env.get(k).map(str::to_owned))?;

    choose::check_ko_uri_repo(image, options.push, options.default_repo.as_deref())?;
    let repository = repository_of(image, options)?;
    let main = if image.starts_with("ko://") {
        MainPackage::ImportPath(strip_ko_scheme(image).to_owned())
    } else {
        MainPackage::Pattern(ko.main.clone())
    };
    let tag = artifact_tag(config, artifact, &context, graph, options).await?;

    // Build settings: the artifact's own, or the matching .ko.yaml build, with .ko.yaml
    // defaults filling what neither sets (Skaffold gives ko a build config only when one of
    // dir/main/env/flags/ldflags is set, and ko then ignores .ko.yaml builds[]).
    let artifact_has_build = ko.overrides_ko_builds();
    let own_env = choose::parse_env(&ko.env, "ko.env")?;
    let package = probe::resolve_package(toolchain, &go_dir, &main, &own_env, options).await?;
    let ko_build = if artifact_has_build {
        None
    } else {
        probe::matching_ko_build(&ko_config, &go_dir, &package)
    };
    let go_dir = match ko_build {
        Some(build) => go_dir.join(&build.dir),
        None => go_dir,
    };
    let inputs = template_inputs(&options.env, options.now_unix);
    let skaffold_env = choose::skaffold_template_env(&options.env, &repository, &tag);
    let build_env =
        choose::skaffold_build_env(image, &ko.env, ko_build, &ko_config, &skaffold_env, &inputs)?;
    let flags = choose::skaffold_templates(
        artifact_has_build,
        &ko.flags,
        ko_build.map(|b| b.flags.as_slice()),
        &ko_config.default_flags,
    );
    let ldflags = choose::skaffold_templates(
        artifact_has_build,
        &ko.ldflags,
        ko_build.map(|b| b.ldflags.as_slice()),
        &ko_config.default_ldflags,
    );
    let mut platforms = choose::skaffold_platforms(
        image,
        &options.platforms,
        &config.build.platforms,
        &artifact.platforms,
        &ko_config.default_platforms,
    )?;
    if options.debug || options.single_platform {
        platforms = choose::single_platform(platforms, host_platform());
    }
    let labels = choose::skaffold_labels(image, &ko.labels, &options.env, &inputs)?;
    let from_image = ko.from_image.clone().map(|v| {
        let field = format!(
            "the Skaffold config in {}: artifact {image}: ko.fromImage",
            config_dir.display()
        );
        (v, field)
    });
    PlanDraft {
        image: image.to_owned(),
        runtime_type: artifact.runtime_type.clone(),
        requires: artifact.requires.iter().map(|r| r.image.clone()).collect(),
        repository,
        tag,
        extra_tags: Vec::new(),
        workspace: std::fs::canonicalize(&context).unwrap_or_else(|_| context.clone()),
        dependencies: ko.dependencies.clone(),
        ko: &ko_config,
        ko_build,
        from_image,
        base_dir: config_dir.to_owned(),
        go_dir,
        package,
        platforms,
        build_env,
        flags,
        ldflags,
        skaffold_env,
        origin: format!("{image}: "),
        flags_origin: format!("{image}: ko.flags"),
        seed_ldflags: false,
        labels,
        annotations: BTreeMap::new(),
        user: None,
        trimpath: !options.debug,
        disable_optimizations: options.debug,
        sbom: options.sbom,
    }
    .finish(toolchain, options)
    .await
}

/// The platform of this machine, as Go names it.
fn host_platform() -> kiln_core::Platform {
    kiln_core::Platform::new("linux", choose::go_arch(std::env::consts::ARCH), None)
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
    Err(Error::planning(
        "build.artifacts",
        format!(
            "kiln builds ko artifacts (and, in `kiln build`, custom ones), and {} of the selected artifacts cannot be built by it: {}; {fix}",
            foreign.len(),
            foreign.join("; ")
        ),
    ))
}

/// The repository an image is pushed to under this run's default repo.
fn repository_of(image: &str, options: &PlanOptions) -> Result<String, Error> {
    choose::skaffold_repository(
        image,
        options.default_repo.as_deref(),
        options.multi_level_repo,
    )
}
