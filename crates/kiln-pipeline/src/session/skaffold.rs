//! kiln's Skaffold face: one `kiln build` (or `run`, `dev`, `debug`, `render` build) from
//! its options to its outputs. The configuration, the run-wide settings (push, default
//! repo, load targets, concurrency) and the build context are set up once in
//! [`Session::start`]; the commands then plan, build and publish through it.

use std::path::PathBuf;
use std::sync::Arc;

use kiln_config::{Config, ProfileSelection};
use kiln_core::env::Env;
use kiln_core::media_type::LayerCompression;

use super::{
    ContextSettings, Sinks, build_and_publish, build_context, preflight, report_config_warnings,
};
use crate::custom::CustomPlan;
use crate::events::{Event, EventSink, Reporter};
use crate::local::{LoadNaming, LoadTarget};
use crate::output::{BuildOutput, file_output_json};
use crate::plan::run::{SkaffoldFlags, SkaffoldRun, skaffold_run};
use crate::plan::skaffold::{Plans, plan_all, plan_tags, select_images};
use crate::plan::{PlanOptions, choose};
use crate::publish::Destinations;
use crate::remote_cache::RemoteCacheMode;
use crate::run::{Command, References, RunOptions, SbomPolicy};
use crate::{ArtifactPlan, BuiltArtifact, Context, Error};

/// Where the Skaffold configs come from and how they are selected.
#[derive(Clone, Debug, Default)]
pub struct ConfigSource {
    /// `-f/--filename`.
    pub filename: PathBuf,
    /// `-p/--profile`.
    pub profiles: Vec<String>,
    /// `--kube-context`.
    pub kube_context: Option<String>,
    /// `-d/--default-repo`.
    pub default_repo: Option<String>,
    /// `-m/--module`: the named configs and those they require.
    pub modules: Vec<String>,
    /// `--profile-auto-activation`.
    pub profile_auto_activation: bool,
    /// `-c/--config`: Skaffold's global config file.
    pub global_config: Option<PathBuf>,
}

/// What a building Skaffold command was asked for (its flags, as the CLI parsed them).
#[derive(Clone, Debug, Default)]
pub struct BuildRequest {
    pub config: ConfigSource,
    /// `--push`; `None`: the config's, else Skaffold's default for the kube context.
    pub push: Option<bool>,
    pub oci_layout_path: Option<PathBuf>,
    pub tarball: Option<PathBuf>,
    /// `--file-output`: the build JSON (or the `--output` rendering) goes there.
    pub file_output: Option<PathBuf>,
    /// `-o/--output`: a Go template over the builds.
    pub output: Option<String>,
    pub tag: Option<String>,
    pub platforms: Vec<String>,
    /// `-b/--build-image`: substrings selecting artifacts; after [`Session::start`], the
    /// exact names selected.
    pub build_images: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub sbom_dir: Option<PathBuf>,
    pub cache_artifacts: bool,
    pub remote_cache: RemoteCacheMode,
    pub compression: Option<LayerCompression>,
    /// `--dry-run`: names and tags only, nothing built.
    pub dry_run: bool,
    /// `--build-concurrency` (-1: the config's `build.local.concurrency`; 0: no limit).
    pub build_concurrency: i64,
    /// `--cache-file`: the directory of artifact records.
    pub cache_file: Option<PathBuf>,
    pub disable_multi_platform_build: Option<bool>,
}

/// Everything one `kiln build` (or one round of `kiln dev`) needs, loaded once: the
/// configuration, the run-wide planning options and the build context.
pub struct Session {
    pub request: BuildRequest,
    pub configs: Vec<Config>,
    /// The skaffold.yaml's directory: artifact contexts and manifests are relative to it.
    pub config_dir: PathBuf,
    pub ctx: Arc<Context>,
    options: PlanOptions,
    push: bool,
    load: Vec<(LoadTarget, LoadNaming)>,
    concurrency: Option<usize>,
}

impl Session {
    /// Loads the configs, checks the command line, decides the run-wide settings and sets
    /// up the build context (pinging the local engine when images are loaded into it), all
    /// before anything is built.
    pub async fn start(
        mut request: BuildRequest,
        command: Command,
        env: Env,
        sinks: &Sinks,
    ) -> Result<Session, Error> {
        let (configs, config_dir) = load_configs(&request.config, command, &env, &sinks.events)?;
        // Fail before building, not after.
        check_flags(&request, command)?;
        super::lease::max_size(&env)?;
        if !request.build_images.is_empty() {
            // From here on, the exact names Skaffold's substring rule selects.
            request.build_images = select_images(&configs, &request.build_images)?;
        }
        let SkaffoldRun {
            kube_context,
            push,
            default_repo,
            multi_level_repo,
            insecure_registries,
        } = skaffold_run(&skaffold_flags(&request), &configs, &env)?;
        let load = load_targets(
            &request,
            &configs,
            kube_context.as_deref(),
            push,
            &env,
            sinks,
        )
        .await?;
        let mut context = build_context(
            &env,
            sinks,
            ContextSettings {
                insecure_registries,
                cache_artifacts: request.cache_artifacts,
                remote_cache: choose::remote_cache(push, request.remote_cache),
                jobs: None,
                push,
            },
        )
        .await?;
        context.artifact_records = request.cache_file.clone();
        let (now_unix, now_nanos) = crate::templates::now();
        let options = PlanOptions {
            default_repo,
            multi_level_repo,
            platforms: request.platforms.clone(),
            tag: request.tag.clone(),
            env,
            // `skaffold debug`'s build: optimizations and trimpath off, one platform.
            debug: command == Command::Debug,
            now_unix,
            push,
            only: Vec::new(),
            cache_dir: context.cache_dir.clone(),
            sbom: request.sbom_dir.is_some(),
            events: Reporter(Some(context.events.clone())),
            // Skaffold's default: on for `dev` and `debug`, off for `build`.
            single_platform: choose::single_platform_build(
                request.disable_multi_platform_build,
                matches!(command, Command::Dev | Command::Debug),
            ),
            now_nanos,
            config_file: Some(request.config.filename.clone()),
            compression: request.compression,
        };
        let concurrency = choose::build_concurrency(
            request.build_concurrency,
            configs.iter().find_map(|c| c.build.local.concurrency),
        );
        Ok(Session {
            request,
            configs,
            config_dir,
            options,
            ctx: Arc::new(context),
            push,
            load,
            concurrency,
        })
    }

    /// The environment snapshot the run started from.
    pub fn env(&self) -> &Env {
        &self.options.env
    }

    /// Plans the artifacts named in `only` (all when empty), and checks that the outputs
    /// asked for can hold them, before anything is built.
    pub async fn plan(&self, only: &[String]) -> Result<Vec<ArtifactPlan>, Error> {
        Ok(self.plan_run(only, false).await?.ko)
    }

    async fn plan_run(&self, only: &[String], run_custom: bool) -> Result<Plans, Error> {
        let options = PlanOptions {
            only: only.to_vec(),
            ..self.options.clone()
        };
        let plans = plan_all(
            &self.ctx.toolchain,
            &self.configs,
            &self.config_dir,
            &options,
            run_custom,
        )
        .await?;
        if self.request.tarball.is_some() {
            preflight::check_tarball(&plans.ko)?;
        }
        report_config_warnings(&self.ctx, &plans.ko);
        Ok(plans)
    }

    /// `kiln build` and `kiln run`: every selected artifact planned, built and published
    /// (ko artifacts first, then custom ones, each after those it requires), reported in
    /// the order the configs list them, as Skaffold reports them.
    pub async fn build_selected(&self) -> Result<Vec<BuildOutput>, Error> {
        let plans = self.plan_run(&self.request.build_images, true).await?;
        let mut outputs = self.build(&plans.ko).await?;
        outputs.extend(self.build_custom(&plans.custom, &outputs).await?);
        Ok(in_config_order(&self.configs, outputs))
    }

    async fn build_custom(
        &self,
        plans: &[CustomPlan],
        built: &[BuildOutput],
    ) -> Result<Vec<BuildOutput>, Error> {
        crate::custom::build_all(&self.ctx, plans, built).await
    }

    /// The names and tags of the artifacts named in `only` (all when empty), of any
    /// builder, with nothing resolved or built (`--dry-run`).
    pub async fn plan_tags(&self, only: &[String]) -> Result<Vec<BuildOutput>, Error> {
        Ok(plan_tags(&self.configs, &self.config_dir, &self.options)
            .await?
            .into_iter()
            .filter(|t| only.is_empty() || only.contains(&t.image))
            .map(|t| BuildOutput {
                image_name: t.image,
                tag: t.tagged,
                runtime_type: t.runtime_type,
            })
            .collect())
    }

    pub async fn build(&self, plans: &[ArtifactPlan]) -> Result<Vec<BuildOutput>, Error> {
        Ok(self
            .build_artifacts(plans)
            .await?
            .into_iter()
            .map(|(_, output)| output)
            .collect())
    }

    /// [`Session::build`], keeping each built artifact next to its output.
    pub async fn build_artifacts(
        &self,
        plans: &[ArtifactPlan],
    ) -> Result<Vec<(BuiltArtifact, BuildOutput)>, Error> {
        let options = RunOptions {
            destinations: Destinations {
                oci_layout: self.request.oci_layout_path.clone(),
                tarball: self.request.tarball.clone(),
                push: self.push,
                load: self.load.clone(),
            },
            sboms: SbomPolicy {
                dir: self.request.sbom_dir.clone(),
                ..SbomPolicy::default()
            },
            references: References::Skaffold,
            concurrency: self.concurrency,
        };
        let delivered = build_and_publish(&self.ctx, plans, &options)
            .await
            .map_err(|e| {
                match preflight::docker_hub_hint(plans, self.options.default_repo.as_deref()) {
                    Some(hint) if self.push => Error::Hinted {
                        hint,
                        source: Box::new(e),
                    },
                    _ => e,
                }
            })?;
        Ok(delivered
            .into_iter()
            .map(|d| {
                let output = BuildOutput {
                    image_name: d.artifact.plan.image.clone(),
                    tag: d.reference,
                    runtime_type: d.artifact.plan.runtime_type.clone(),
                };
                (d.artifact, output)
            })
            .collect())
    }

    /// Every artifact's tag from the tag policy with the digest its registry holds under
    /// it (`kiln render --digest-source=remote`): nothing is built, and an artifact of any
    /// builder can be named.
    pub async fn pushed_builds(&self) -> Result<Vec<kiln_render::Build>, Error> {
        let client = self.ctx.registry("--digest-source=remote")?;
        let mut builds = Vec::new();
        for planned in self.plan_tags(&[]).await? {
            let tagged = planned.tag;
            let reference: kiln_core::Reference =
                tagged.parse().map_err(|source| Error::InvalidReference {
                    image: planned.image_name.clone(),
                    role: "its tag",
                    source,
                })?;
            let head = client.head_manifest(&reference).await?;
            let Some(head) = head else {
                return Err(Error::NotPushed { reference: tagged });
            };
            builds.push(kiln_render::Build {
                image_name: planned.image_name,
                tag: format!("{tagged}@{}", head.digest),
            });
        }
        Ok(builds)
    }

    /// Writes `--file-output` (the `--output` rendering, by default the build JSON, as in
    /// Skaffold) and returns the `--output` rendering, if one was asked for.
    pub fn write_outputs(&self, outputs: &[BuildOutput]) -> Result<Option<String>, Error> {
        let rendered = match &self.request.output {
            Some(template) => {
                let builds: Vec<(String, String)> = outputs
                    .iter()
                    .map(|o| (o.image_name.clone(), o.tag.clone()))
                    .collect();
                Some(
                    kiln_core::template::render_build_output(template, &builds)
                        .map_err(|e| Error::invalid("rendering --output", e))?,
                )
            }
            None => None,
        };
        if let Some(path) = &self.request.file_output {
            let text = rendered
                .clone()
                .unwrap_or_else(|| file_output_json(outputs));
            std::fs::write(path, text).map_err(|e| Error::io("writing", path, e))?;
        }
        Ok(rendered)
    }

    /// Paths kiln writes to, which must never count as source changes.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let request = &self.request;
        let mut paths = vec![self.ctx.cache_dir.clone()];
        paths.extend(request.oci_layout_path.iter().cloned());
        paths.extend(request.tarball.iter().cloned());
        paths.extend(request.file_output.iter().cloned());
        paths.extend(request.sbom_dir.iter().cloned());
        paths
            .into_iter()
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
            .collect()
    }
}

/// Where images that are not pushed go (Skaffold's local build): the local engine, pinged
/// now, and a local cluster's own loader (kind, k3d); nothing for a `--dry-run`, a push or
/// file outputs.
async fn load_targets(
    request: &BuildRequest,
    configs: &[Config],
    kube_context: Option<&str>,
    push: bool,
    env: &Env,
    sinks: &Sinks,
) -> Result<Vec<(LoadTarget, LoadNaming)>, Error> {
    let writes_files = request.oci_layout_path.is_some() || request.tarball.is_some();
    if request.dry_run || !crate::local::skaffold_loads(push, writes_files) {
        return Ok(Vec::new());
    }
    let notice = |text: &str| sinks.events.as_ref()(Event::Notice(text.to_owned()));
    if configs.iter().any(|c| c.build.local.use_docker_cli) {
        notice(
            "build.local.useDockerCLI is not supported: kiln loads images through the engine's API, not the docker CLI",
        );
    }
    if kube_context == Some("minikube") && env.get("DOCKER_HOST").is_none() {
        notice(
            "kube context minikube without DOCKER_HOST: images go to the local engine, not minikube's; run `eval $(minikube docker-env)` first to load into minikube's",
        );
    }
    let engine = LoadTarget::Engine(super::local_engine(env).await?);
    Ok(std::iter::once(engine)
        .chain(crate::local::cluster_load(kube_context))
        .map(|target| (target, LoadNaming::Skaffold))
        .collect())
}

/// `outputs` in the order their artifacts appear in the configs, as Skaffold reports them.
pub fn in_config_order(configs: &[Config], mut outputs: Vec<BuildOutput>) -> Vec<BuildOutput> {
    let position = |name: &str| {
        configs
            .iter()
            .flat_map(|c| &c.build.artifacts)
            .position(|a| a.image == name)
    };
    outputs.sort_by_key(|o| position(&o.image_name));
    outputs
}

/// The configs of the skaffold.yaml `source` names and of every config it `requires`, with
/// the profiles that apply to `command`, and the directory relative paths are resolved
/// from: the working directory, as Skaffold does for the root file (required files' paths
/// come back absolute, from their own folder). Each field kiln does not act on is said.
pub fn load_configs(
    source: &ConfigSource,
    command: Command,
    env: &Env,
    events: &EventSink,
) -> Result<(Vec<Config>, PathBuf), Error> {
    let config_dir = PathBuf::from(".");
    let selection = ProfileSelection {
        profiles: source.profiles.clone(),
        kube_context: source.kube_context.clone(),
        command: Some(command.as_skaffold().to_owned()),
        auto_activation: source.profile_auto_activation,
    };
    preflight::check_config_file(&source.filename)?;
    let configs = kiln_config::load_skaffold_configs(
        &source.filename,
        &selection,
        &|k| env.get(k).map(str::to_owned),
        &source.modules,
    )?;
    report_ignored_fields(&configs, events);
    Ok((configs, config_dir))
}

/// Says once, with its place, each Skaffold field that kiln accepts but does not act on
/// (`deploy.kpt`, `portForward`, …): a config is never half-applied in silence.
fn report_ignored_fields(configs: &[Config], events: &EventSink) {
    for config in configs {
        for ignored in &config.ignored {
            events.as_ref()(Event::Notice(format!(
                "{}:{}:{}: `{}` is not supported by kiln and is ignored",
                config.source.display(),
                ignored.location.line,
                ignored.location.column,
                ignored.field
            )));
        }
    }
}

/// The checks that need only the command line.
fn check_flags(request: &BuildRequest, command: Command) -> Result<(), Error> {
    if request.dry_run && command != Command::Build {
        return Err(Error::usage(format!(
            "--dry-run is a `kiln build` flag (as in Skaffold); `kiln {}` builds",
            command.as_skaffold()
        )));
    }
    if let Some(tag) = &request.tag {
        kiln_core::tag::validate_tag(tag)
            .map_err(|e| Error::invalid("-t/--tag (or SKAFFOLD_TAG)", e))?;
    }
    if let Some(template) = &request.output {
        kiln_core::template::render_build_output(template, &[])
            .map_err(|e| Error::invalid("-o/--output", e))?;
    }
    if let Some(dir) = &request.oci_layout_path {
        preflight::writable_dir(dir, "--oci-layout-path")?;
    }
    if let Some(dir) = &request.sbom_dir {
        preflight::writable_dir(dir, "--sbom-dir")?;
    }
    if let Some(file) = &request.tarball {
        preflight::writable_file(file, "--tarball")?;
    }
    if let Some(file) = &request.file_output {
        preflight::writable_file(file, "--file-output")?;
    }
    if let Some(dir) = &request.cache_file {
        preflight::writable_dir(
            dir,
            "--cache-file (kiln keeps its artifact records in a directory)",
        )?;
    }
    Ok(())
}

/// The flags of `request` that decide run-wide settings (see [`skaffold_run`]).
fn skaffold_flags(request: &BuildRequest) -> SkaffoldFlags<'_> {
    SkaffoldFlags {
        default_repo: request.config.default_repo.as_deref(),
        push: request.push,
        insecure_registries: &request.insecure_registries,
        kube_context: request.config.kube_context.as_deref(),
        global_config: request.config.global_config.as_deref(),
    }
}

/// The planning options of a plan-only command (nothing built, pushed or written): the
/// naming and tagging inputs only.
pub fn plan_only_options(
    source: &ConfigSource,
    tag: Option<String>,
    env: &Env,
) -> Result<PlanOptions, Error> {
    let global = crate::plan::run::global_config(
        source.global_config.as_deref(),
        source.kube_context.as_deref(),
        env,
    )?;
    let (now_unix, now_nanos) = crate::templates::now();
    Ok(PlanOptions {
        default_repo: choose::default_repo(
            source.default_repo.as_deref(),
            env,
            global.default_repo.as_deref(),
        ),
        multi_level_repo: global.multi_level_repo,
        tag,
        env: env.clone(),
        now_unix,
        now_nanos,
        ..PlanOptions::default()
    })
}

/// Each artifact's name and tag from the tag policy (or `tag`), with nothing built,
/// resolved or downloaded.
pub async fn tagged_builds(
    configs: &[Config],
    config_dir: &std::path::Path,
    source: &ConfigSource,
    tag: Option<String>,
    env: &Env,
) -> Result<Vec<kiln_render::Build>, Error> {
    let options = plan_only_options(source, tag, env)?;
    Ok(plan_tags(configs, config_dir, &options)
        .await?
        .into_iter()
        .map(|t| kiln_render::Build {
            image_name: t.image,
            tag: t.tagged,
        })
        .collect())
}
