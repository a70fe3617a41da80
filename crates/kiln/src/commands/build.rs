//! `kiln build`: Skaffold's build command for ko artifacts.

use kiln_core::env::Env;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use kiln_config::ProfileSelection;
use kiln_pipeline::custom::{CustomPlan, build_custom};
use kiln_pipeline::events::Reporter;
use kiln_pipeline::local::{LoadNaming, LoadTarget};
use kiln_pipeline::output::{BuildOutput, file_output_json};
use kiln_pipeline::plan::run::{SkaffoldFlags, SkaffoldRun, skaffold_run};
use kiln_pipeline::plan::skaffold::{Plans, plan_all, plan_tags, select_images};
use kiln_pipeline::plan::{PlanOptions, choose};
use kiln_pipeline::publish::Destinations;
use kiln_pipeline::run::{Command, References, RunOptions, SbomPolicy};
use kiln_pipeline::{ArtifactPlan, BuiltArtifact, Context, Event};

use super::{ContextSettings, build_and_publish, build_context, now, preflight, process_env};
use crate::cli::{BuildArgs, ConfigArgs};
use crate::printer;

pub async fn run(args: BuildArgs) -> anyhow::Result<()> {
    let session = Session::start(args, Command::Build).await?;
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
    pub async fn start(mut args: BuildArgs, command: Command) -> anyhow::Result<Session> {
        let env = process_env();
        let (configs, config_dir) = load_configs(&args.config, command, &env)?;
        // Fail before building, not after.
        preflight::check(&args, command)?;
        if !args.build_images.is_empty() {
            // From here on, the exact names Skaffold's substring rule selects.
            args.build_images = select_images(&configs, &args.build_images)?;
        }
        let SkaffoldRun {
            kube_context,
            push,
            default_repo,
            multi_level_repo,
            insecure_registries,
        } = skaffold_run(&skaffold_flags(&args), &configs, &env)?;
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
            if kube_context.as_deref() == Some("minikube") && env.get("DOCKER_HOST").is_none() {
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
        let mut context = build_context(
            &env,
            ContextSettings {
                insecure_registries,
                quiet: args.quiet,
                cache_artifacts: args.cache_artifacts,
                remote_cache: choose::remote_cache(push, args.remote_cache),
                jobs: None,
                push,
            },
        )
        .await?;
        context.artifact_records = args.skaffold.cache_file.clone();
        let (now_unix, now_nanos) = now();
        let options = PlanOptions {
            default_repo,
            multi_level_repo,
            platforms: args.platforms.clone(),
            tag: args.tag.clone(),
            env: env.clone(),
            // `skaffold debug`'s build: optimizations and trimpath off, one platform.
            debug: command == Command::Debug,
            now_unix,
            push,
            only: Vec::new(),
            cache_dir: context.cache_dir.clone(),
            sbom: args.sbom_dir.is_some(),
            events: Reporter(Some(context.events.clone())),
            // Skaffold's default: on for `dev` and `debug`, off for `build`.
            single_platform: choose::single_platform_build(
                args.skaffold.disable_multi_platform_build,
                matches!(command, Command::Dev | Command::Debug),
            ),
            now_nanos,
            config_file: Some(args.config.filename.clone()),
            compression: args.compression,
        };
        // `--build-concurrency` (-1: the config's `build.local.concurrency`; 0: no limit).
        let concurrency = choose::build_concurrency(
            args.skaffold.build_concurrency,
            configs.iter().find_map(|c| c.build.local.concurrency),
        );
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
        let options = RunOptions {
            destinations: Destinations {
                oci_layout: self.args.oci_layout_path.clone(),
                tarball: self.args.tarball.clone(),
                push: self.push,
                load: self.load.clone(),
            },
            sboms: SbomPolicy {
                dir: self.args.sbom_dir.clone(),
                ..SbomPolicy::default()
            },
            references: References::Skaffold,
            concurrency: self.concurrency,
        };
        let delivered = build_and_publish(&self.ctx, &self.options.env, plans, &options)
            .await
            .map_err(|e| {
                let failed_run = e.downcast_ref::<kiln_pipeline::Error>().is_some();
                match preflight::docker_hub_hint(plans, self.options.default_repo.as_deref()) {
                    Some(hint) if self.push && failed_run => e.context(hint),
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
    command: Command,
    env: &Env,
) -> anyhow::Result<(Vec<kiln_config::Config>, PathBuf)> {
    let config_dir = PathBuf::from(".");
    let selection = ProfileSelection {
        profiles: args.profiles.clone(),
        kube_context: args.kube_context.clone(),
        command: Some(command.as_skaffold().to_owned()),
        auto_activation: args.profile_auto_activation,
    };
    preflight::check_config_file(&args.filename)?;
    // `-m/--module` keeps the named configs and the configs they require.
    let configs = kiln_config::load_skaffold_configs(
        &args.filename,
        &selection,
        &|k| env.get(k).map(str::to_owned),
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

/// The flags of `args` that decide run-wide settings (see [`skaffold_run`]).
fn skaffold_flags(args: &BuildArgs) -> SkaffoldFlags<'_> {
    SkaffoldFlags {
        default_repo: args.config.default_repo.as_deref(),
        push: args.push,
        insecure_registries: &args.insecure_registries,
        kube_context: args.config.kube_context.as_deref(),
        global_config: args.config.global_config.as_deref(),
    }
}

/// The planning options of a plan-only command (nothing built, pushed or written): the
/// naming and tagging inputs only.
pub fn plan_only_options(
    args: &ConfigArgs,
    tag: Option<String>,
    env: &Env,
) -> anyhow::Result<PlanOptions> {
    let global = kiln_pipeline::plan::run::global_config(
        args.global_config.as_deref(),
        args.kube_context.as_deref(),
        env,
    )?;
    let (now_unix, now_nanos) = now();
    Ok(PlanOptions {
        default_repo: choose::default_repo(
            args.default_repo.as_deref(),
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

/// What the plans' configuration files said kiln ignores (the printer says each once).
pub(crate) fn report_config_warnings(ctx: &Context, plans: &[ArtifactPlan]) {
    for warning in plans.iter().flat_map(|p| &p.config_warnings) {
        (ctx.events)(Event::Warning(warning.clone()));
    }
}
