//! `kiln build`: Skaffold's build command for ko artifacts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use kiln_config::ProfileSelection;
use kiln_core::naming::tag_with_digest;
use kiln_pipeline::custom::{CustomPlan, build_custom};
use kiln_pipeline::events::Reporter;
use kiln_pipeline::local::{LoadNaming, LoadTarget};
use kiln_pipeline::output::{BuildOutput, file_output_json};
use kiln_pipeline::planner::{PlanOptions, Plans, plan_all, plan_tags, select_images};
use kiln_pipeline::publish::{Destinations, publish};
use kiln_pipeline::remote_cache::RemoteCacheMode;
use kiln_pipeline::sbom::write_sbom_dir;
use kiln_pipeline::{ArtifactPlan, BuiltArtifact, Context, Event};

use super::{ContextSettings, build_context, cache, now, preflight, process_env};
use crate::cli::{BuildArgs, ConfigArgs};
use crate::printer;

pub async fn run(args: BuildArgs) -> anyhow::Result<()> {
    let session = Session::start(args, "build").await?;
    if session.args.skaffold.dry_run {
        // Skaffold's `--dry-run`: the names and tags a build would give, nothing built,
        // no package resolved, no module downloaded.
        let planned = session.plan_tags(&session.args.build_images).await?;
        return session.report(&planned);
    }
    let plans = session.plan_with_custom(&session.args.build_images).await?;
    let mut outputs = session.build(&plans.ko).await?;
    outputs.extend(session.build_custom(&plans.custom, &outputs).await?);
    session.report(&in_config_order(&session.configs, outputs))
}

/// `outputs` in the order their artifacts appear in the configs, as Skaffold reports them.
pub(crate) fn in_config_order(
    configs: &[kiln_config::Config],
    mut outputs: Vec<BuildOutput>,
) -> Vec<BuildOutput> {
    let position = |name: &str| {
        configs
            .iter()
            .flat_map(|c| &c.build.artifacts)
            .position(|a| a.image == name)
    };
    outputs.sort_by_key(|o| position(&o.image_name));
    outputs
}

/// Everything one `kiln build` (or one round of `kiln dev`) needs, loaded once: the
/// configuration, the run-wide planning options and the build context.
pub struct Session {
    pub args: BuildArgs,
    pub configs: Vec<kiln_config::Config>,
    /// The skaffold.yaml's directory: artifact contexts and manifests are relative to it.
    pub config_dir: PathBuf,
    options: PlanOptions,
    pub ctx: Arc<Context>,
    push: bool,
    load: Vec<(LoadTarget, LoadNaming)>,
    concurrency: Option<usize>,
}

impl Session {
    pub async fn start(mut args: BuildArgs, command: &str) -> anyhow::Result<Session> {
        let env = process_env();
        let (configs, config_dir) = load_configs(&args.config, command, &env)?;
        // Fail before building, not after.
        preflight::check(&args, command)?;
        if !args.build_images.is_empty() {
            // From here on, the exact names Skaffold's substring rule selects.
            args.build_images = select_images(&configs, &args.build_images)?;
        }
        let kube_context = kiln_pipeline::local::kube_context(
            args.config.kube_context.as_deref(),
            configs
                .iter()
                .find_map(|c| c.deploy.kube_context.as_deref()),
            &env,
        );
        let global = kiln_config::load_global_config(
            &global_config_path(&args.config, &env),
            kube_context.as_deref(),
        )?;
        let push = kiln_pipeline::local::skaffold_push(
            args.push,
            configs.iter().find_map(|c| c.build.local.push),
            global.local_cluster,
            kube_context.as_deref(),
        );
        let writes_files = args.oci_layout_path.is_some() || args.tarball.is_some();
        // A --dry-run builds nothing, so it loads nothing either.
        let load = if !args.skaffold.dry_run
            && kiln_pipeline::local::skaffold_loads(push, writes_files)
        {
            if configs.iter().any(|c| c.build.local.use_docker_cli) {
                printer::info(
                    "build.local.useDockerCLI is not supported: kiln loads images through the engine's API, not the docker CLI",
                );
            }
            if kube_context.as_deref() == Some("minikube") && !env.contains_key("DOCKER_HOST") {
                printer::info(
                    "kube context minikube without DOCKER_HOST: images go to the local engine, not minikube's; run `eval $(minikube docker-env)` first to load into minikube's",
                );
            }
            let engine = LoadTarget::Engine(super::local_engine(&env).await?);
            std::iter::once(engine)
                .chain(kiln_pipeline::local::cluster_load(kube_context.as_deref()))
                .map(|target| (target, LoadNaming::Skaffold))
                .collect()
        } else {
            Vec::new()
        };
        let default_repo = default_repo(&args.config, &env, &global);
        let mut insecure = args.insecure_registries.clone();
        insecure.extend(
            configs
                .iter()
                .flat_map(|c| c.build.insecure_registries.iter().cloned()),
        );
        insecure.extend(global.insecure_registries.iter().cloned());

        let mut context = build_context(
            &env,
            ContextSettings {
                insecure_registries: insecure,
                quiet: args.quiet,
                cache_artifacts: args.cache_artifacts,
                remote_cache: if push {
                    args.remote_cache
                } else {
                    RemoteCacheMode::Off
                },
                jobs: None,
                push,
            },
        )
        .await?;
        context.artifact_records = args.skaffold.cache_file.clone();
        let (now_unix, now_nanos) = now();
        let options = PlanOptions {
            default_repo,
            multi_level_repo: global.multi_level_repo,
            platforms: args.platforms.clone(),
            tag: args.tag.clone(),
            env: env.clone(),
            // `skaffold debug`'s build: optimizations and trimpath off, one platform.
            debug: command == "debug",
            now_unix,
            push,
            only: Vec::new(),
            cache_dir: context.cache_dir.clone(),
            sbom: args.sbom_dir.is_some(),
            events: Reporter(Some(context.events.clone())),
            // Skaffold's default: on for `dev` and `debug`, off for `build`.
            single_platform: args
                .skaffold
                .disable_multi_platform_build
                .unwrap_or(matches!(command, "dev" | "debug")),
            now_nanos,
            config_file: Some(args.config.filename.clone()),
            compression: args.compression,
        };
        // `--build-concurrency` (-1: the config's `build.local.concurrency`; 0: no limit).
        let concurrency = usize::try_from(args.skaffold.build_concurrency)
            .ok()
            .or_else(|| {
                configs
                    .iter()
                    .find_map(|c| c.build.local.concurrency)
                    .map(|n| n as usize)
            });
        Ok(Session {
            args,
            configs,
            config_dir,
            options,
            ctx: Arc::new(context),
            push,
            load,
            concurrency,
        })
    }

    /// Plans the artifacts named in `only` (all when empty), and checks that the outputs
    /// asked for can hold them, before anything is built.
    pub async fn plan(&self, only: &[String]) -> anyhow::Result<Vec<ArtifactPlan>> {
        Ok(self.plan_run(only, false).await?.ko)
    }

    /// [`Session::plan`], with the selected custom artifacts planned too (for `kiln build`).
    pub async fn plan_with_custom(&self, only: &[String]) -> anyhow::Result<Plans> {
        self.plan_run(only, true).await
    }

    async fn plan_run(&self, only: &[String], run_custom: bool) -> anyhow::Result<Plans> {
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
        if self.args.tarball.is_some() {
            preflight::check_tarball(&plans.ko)?;
        }
        report_config_warnings(&self.ctx, &plans.ko);
        Ok(plans)
    }

    /// The names and tags of the artifacts named in `only` (all when empty), of any
    /// builder, with nothing resolved or built (`--dry-run`).
    pub async fn plan_tags(&self, only: &[String]) -> anyhow::Result<Vec<BuildOutput>> {
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

    /// Runs each custom artifact's command (after those it requires), once the ko images in
    /// `built` are published, and returns their outputs.
    pub async fn build_custom(
        &self,
        plans: &[CustomPlan],
        built: &[BuildOutput],
    ) -> anyhow::Result<Vec<BuildOutput>> {
        let mut references: BTreeMap<String, String> = built
            .iter()
            .map(|o| (o.image_name.clone(), o.tag.clone()))
            .collect();
        let mut outputs = Vec::new();
        let mut pending: Vec<&CustomPlan> = plans.iter().collect();
        while !pending.is_empty() {
            // kiln-config rejects cycles, so some plan is always ready.
            let Some(i) = pending.iter().position(|p| {
                p.requires
                    .iter()
                    .all(|r| !pending.iter().any(|q| q.image == r.image))
            }) else {
                bail!("custom artifacts require each other in a cycle");
            };
            let plan = pending.remove(i);
            let reference = build_custom(&self.ctx, plan, &references)
                .await
                .with_context(|| format!("building {}", plan.image))?;
            self.ctx.events.as_ref()(Event::Delivered {
                image: plan.image.clone(),
                report: format!("pushed {reference} (by its buildCommand)"),
            });
            references.insert(plan.image.clone(), reference.clone());
            outputs.push(BuildOutput {
                image_name: plan.image.clone(),
                tag: reference,
                runtime_type: plan.runtime_type.clone(),
            });
        }
        Ok(outputs)
    }

    pub async fn build(&self, plans: &[ArtifactPlan]) -> anyhow::Result<Vec<BuildOutput>> {
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
    ) -> anyhow::Result<Vec<(BuiltArtifact, BuildOutput)>> {
        let lease = cache::begin_build(&self.ctx, &self.options.env).await?;
        let destinations = Destinations {
            oci_layout: self.args.oci_layout_path.clone(),
            tarball: self.args.tarball.clone(),
            push: self.push,
            load: self.load.clone(),
        };
        let build = build_all(
            &self.ctx,
            plans,
            &self.args,
            &destinations,
            self.concurrency,
        );
        let outputs = preflight::while_checking_registries(&self.ctx, plans, self.push, build)
            .await
            .map_err(|e| {
                match preflight::docker_hub_hint(plans, self.options.default_repo.as_deref()) {
                    Some(hint) if self.push => e.context(hint),
                    _ => e,
                }
            })?;
        lease.finish(&self.ctx).await;
        Ok(outputs)
    }

    /// Writes --file-output and prints the references (or the --output/-q rendering).
    pub fn report(&self, outputs: &[BuildOutput]) -> anyhow::Result<()> {
        let args = &self.args;
        let json = file_output_json(outputs);
        let rendered = match &args.output {
            Some(template) => {
                let builds: Vec<(String, String)> = outputs
                    .iter()
                    .map(|o| (o.image_name.clone(), o.tag.clone()))
                    .collect();
                Some(
                    kiln_core::template::render_build_output(template, &builds)
                        .context("rendering --output")?,
                )
            }
            None => None,
        };
        if let Some(path) = &args.file_output {
            // As in Skaffold, the file gets the --output rendering (by default the JSON).
            let text = rendered.as_deref().unwrap_or(&json);
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if let Some(text) = &rendered {
            printer::stdout_line(text.trim_end());
        } else if args.quiet {
            printer::stdout_line(&json);
        } else {
            for out in outputs {
                printer::stdout_line(&out.tag);
            }
        }
        Ok(())
    }

    /// The config's manifests (rawYaml, kustomize, manifests.helm) with `builds`'
    /// references in their `image` fields.
    pub async fn render(&self, builds: &[kiln_render::Build]) -> anyhow::Result<String> {
        let ctx = super::run::helm_context(
            &self.configs,
            &self.config_dir,
            self.args.config.kube_context.as_deref(),
            &crate::cli::ClusterFlags::default(),
            builds.to_vec(),
        );
        let rendered = kiln_pipeline::render::render_configs(&self.configs, &ctx, false).await?;
        rendered.iter().for_each(super::deploy::report_unmatched);
        Ok(kiln_pipeline::render::joined(&rendered))
    }

    /// Paths kiln writes to, which must never count as source changes.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.ctx.cache_dir.clone()];
        paths.extend(self.args.oci_layout_path.iter().cloned());
        paths.extend(self.args.tarball.iter().cloned());
        paths.extend(self.args.file_output.iter().cloned());
        paths.extend(self.args.sbom_dir.iter().cloned());
        paths
            .into_iter()
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
            .collect()
    }
}

/// The configs of the skaffold.yaml `args` names and of every config it `requires`, with
/// the profiles that apply to `command`, and the directory relative paths are resolved
/// from: the working directory, as Skaffold does for the root file (required files' paths
/// come back absolute, from their own folder).
pub fn load_configs(
    args: &ConfigArgs,
    command: &str,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<(Vec<kiln_config::Config>, PathBuf)> {
    let config_dir = PathBuf::from(".");
    let selection = ProfileSelection {
        profiles: args.profiles.clone(),
        kube_context: args.kube_context.clone(),
        command: Some(command.to_owned()),
        auto_activation: args.profile_auto_activation,
    };
    preflight::check_config_file(&args.filename)?;
    // `-m/--module` keeps the named configs and the configs they require.
    let configs = kiln_config::load_skaffold_configs(
        &args.filename,
        &selection,
        &|k| env.get(k).cloned(),
        &args.modules,
    )?;
    report_ignored_fields(&configs);
    Ok((configs, config_dir))
}

/// Says once, with its place, each Skaffold field that kiln accepts but does not act on
/// (`deploy.kpt`, `portForward`, …): a config is never half-applied in silence.
fn report_ignored_fields(configs: &[kiln_config::Config]) {
    for config in configs {
        for ignored in &config.ignored {
            printer::info(&format!(
                "{}:{}:{}: `{}` is not supported by kiln and is ignored",
                config.source.display(),
                ignored.location.line,
                ignored.location.column,
                ignored.field
            ));
        }
    }
}

/// Skaffold's order: the flag, then SKAFFOLD_DEFAULT_REPO (set but empty disables the
/// global value), then the global config.
fn default_repo(
    args: &ConfigArgs,
    env: &BTreeMap<String, String>,
    global: &kiln_config::GlobalConfig,
) -> Option<String> {
    args.default_repo
        .clone()
        .or_else(|| env.get("SKAFFOLD_DEFAULT_REPO").cloned())
        .or(global.default_repo.clone())
        .filter(|r| !r.is_empty())
}

/// The planning options of a plan-only command (nothing built, pushed or written): the
/// naming and tagging inputs only.
pub fn plan_only_options(
    args: &ConfigArgs,
    tag: Option<String>,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<PlanOptions> {
    let global = kiln_config::load_global_config(
        &global_config_path(args, env),
        args.kube_context.as_deref(),
    )?;
    let (now_unix, now_nanos) = now();
    Ok(PlanOptions {
        default_repo: default_repo(args, env, &global),
        multi_level_repo: global.multi_level_repo,
        tag,
        env: env.clone(),
        now_unix,
        now_nanos,
        ..PlanOptions::default()
    })
}

/// `-c/--config`, else `~/.skaffold/config`: Skaffold's global configuration.
fn global_config_path(args: &ConfigArgs, env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(path) = &args.global_config {
        return path.clone();
    }
    env.get("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".skaffold")
        .join("config")
}

/// Builds every artifact (in `requires` order, `concurrency` at a time), then writes the
/// outputs in artifact order.
async fn build_all(
    ctx: &Arc<Context>,
    plans: &[ArtifactPlan],
    args: &BuildArgs,
    destinations: &Destinations,
    concurrency: Option<usize>,
) -> anyhow::Result<Vec<(BuiltArtifact, BuildOutput)>> {
    let built = kiln_pipeline::schedule::build_all(ctx, plans, concurrency).await?;
    let mut outputs = Vec::new();
    for artifact in built {
        let published = publish(ctx, &artifact, destinations).await?;
        if let Some(dir) = &args.sbom_dir {
            write_sbom_dir(&ctx.store, dir, &artifact)
                .with_context(|| format!("writing SBOMs to {}", dir.display()))?;
        }
        // Skaffold prints `name:tag@digest` for pushed images and the image-ID tag for
        // side-loaded ones; files alone keep the name and digest they were written under.
        let reference = match published.loaded.filter(|_| !destinations.push) {
            Some(loaded) => loaded.reference,
            None => format!(
                "{}:{}",
                artifact.plan.repository,
                tag_with_digest(&artifact.plan.tag, &published.digest)
            ),
        };
        for report in published.reports {
            ctx.events.as_ref()(Event::Delivered {
                image: artifact.plan.image.clone(),
                report,
            });
        }
        let output = BuildOutput {
            image_name: artifact.plan.image.clone(),
            tag: reference,
            runtime_type: artifact.plan.runtime_type.clone(),
        };
        outputs.push((artifact, output));
    }
    Ok(outputs)
}

/// What the plans' configuration files said kiln ignores (the printer says each once).
pub(crate) fn report_config_warnings(ctx: &Context, plans: &[ArtifactPlan]) {
    for warning in plans.iter().flat_map(|p| &p.config_warnings) {
        (ctx.events)(Event::Warning(warning.clone()));
    }
}
