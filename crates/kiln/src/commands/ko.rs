//! `kiln ko build` and `kiln ko resolve`: ko's command line over kiln's pipeline. Naming,
//! tags, precedence and the printed references follow ko (pkg/commands, pkg/publish); the
//! order of the printed references follows the arguments (ko's comes from a Go map, so it
//! is random).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use kiln_core::naming::{KoNaming, tag_only_tag, unique_tags};
use kiln_pipeline::artifact::SbomAttach;
use kiln_pipeline::events::Reporter;
use kiln_pipeline::local::{LoadNaming, LoadTarget};
use kiln_pipeline::plan::PlanOptions;
use kiln_pipeline::plan::choose::{LocalPublisher, remote_cache, sbom_repository};
use kiln_pipeline::plan::ko::{KoOptions, KoPlanner};
use kiln_pipeline::plan::run::{KoFlags, KoRun, ko_run};
use kiln_pipeline::publish::Destinations;
use kiln_pipeline::run::{References, RunOptions, SbomPolicy};
use kiln_pipeline::{ArtifactPlan, Context};

use super::{
    ContextSettings, build_and_publish, build_context, local_engine, now_unix, preflight,
    process_env,
};
use crate::cli::{
    KoBuildArgs, KoBuildOptions, KoPublishArgs, KoResolveArgs, SbomAttachChoice, SbomFormat,
};
use crate::printer;

pub async fn build(args: KoBuildArgs) -> anyhow::Result<()> {
    let session = KoSession::start(&args.publish, &args.build).await?;
    let plans = session.plan(&args.packages).await?;
    for reference in session.build(&plans).await? {
        printer::stdout_line(&reference);
    }
    Ok(())
}

/// `kiln ko resolve`: every `ko://` reference in the inputs is built once and replaced by
/// its published reference; the YAML is printed file by file, `---` between files.
pub async fn resolve(args: KoResolveArgs) -> anyhow::Result<()> {
    let inputs = read_inputs(&args.filenames, args.recursive)?;
    let mut references: Vec<String> = Vec::new();
    let mut found_in: HashMap<String, String> = HashMap::new();
    for (name, text) in &inputs {
        for reference in kiln_render::find_ko_references(text).with_context(|| name.clone())? {
            found_in
                .entry(reference.clone())
                .or_insert_with(|| name.clone());
            if !references.contains(&reference) {
                references.push(reference);
            }
        }
    }
    let session = KoSession::start(&args.publish, &args.build).await?;
    let planner = session.planner().await?;
    let mut plans = Vec::new();
    for reference in &references {
        let plan = planner
            .plan(reference)
            .await
            .with_context(|| format!("{}: `{reference}`", found_in[reference]))?;
        plans.push(plan);
    }
    let published = session.build(&plans).await?;
    let replacements: HashMap<String, String> = references.into_iter().zip(published).collect();
    let mut out = String::new();
    for (position, (name, text)) in inputs.iter().enumerate() {
        if position > 0 && !out.ends_with("---\n") {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("---\n");
        }
        out.push_str(
            &kiln_render::replace_scalars(text, &replacements).with_context(|| name.clone())?,
        );
    }
    printer::stdout_text(&out);
    Ok(())
}

/// The YAML inputs of `-f`, as (name for messages, content), in order: `-` is standard
/// input; a directory gives its `.yaml`, `.yml` and `.json` files (sorted; subdirectories
/// with -R), as ko reads them.
fn read_inputs(filenames: &[PathBuf], recursive: bool) -> anyhow::Result<Vec<(String, String)>> {
    let mut inputs = Vec::new();
    for path in filenames {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("reading standard input")?;
            inputs.push(("<stdin>".to_owned(), text));
        } else if path.is_dir() {
            for file in kiln_pipeline::manifests::ko_yaml_files(path, recursive)? {
                inputs.push(read_input(&file)?);
            }
        } else {
            inputs.push(read_input(path)?);
        }
    }
    Ok(inputs)
}

fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (given with -f)", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// One `kiln ko` run: the publishing choices and the build context, checked before any
/// build starts.
pub struct KoSession {
    publish: KoPublishArgs,
    options: KoOptions,
    run: RunOptions,
    ctx: Arc<Context>,
}

impl KoSession {
    pub async fn start(publish: &KoPublishArgs, build: &KoBuildOptions) -> anyhow::Result<Self> {
        let env = process_env();
        let KoRun {
            destination,
            insecure_registries,
            kind_cluster,
        } = ko_run(
            KoFlags {
                local: publish.local,
                push: publish.push,
                insecure_registry: publish.insecure_registry,
            },
            &env,
        )?;
        let (repo, push) = (destination.repo, destination.push);
        let load = match destination.local {
            None => None,
            Some(LocalPublisher::Engine) => Some(LoadTarget::Engine(local_engine(&env).await?)),
            Some(LocalPublisher::Kind) => Some(LoadTarget::Kind {
                cluster: kind_cluster,
            }),
        };
        let tags = unique_tags(&publish.tags);
        for tag in &tags {
            kiln_core::tag::validate_tag(tag).context("-t/--tags")?;
        }
        // Fail before building: every output path must be writable.
        for (dir, flag) in [
            (&publish.oci_layout_path, "--oci-layout-path"),
            (&build.sbom_dir, "--sbom-dir"),
        ] {
            if let Some(dir) = dir {
                preflight::writable_dir(dir, flag)?;
            }
        }
        for (file, flag) in [
            (&publish.tarball, "--tarball"),
            (&publish.image_refs, "--image-refs"),
        ] {
            if let Some(file) = file {
                preflight::writable_file(file, flag)?;
            }
        }
        if matches!(build.sbom, SbomFormat::Cyclonedx | SbomFormat::GoVersionM) {
            // ko v0.18 takes every value but `none` as SPDX; so does kiln, saying so.
            printer::info(&format!(
                "--sbom={}: kiln writes SPDX, as ko v0.18 does for every value but `none`",
                build.sbom.name()
            ));
        }
        if publish.tag_only {
            tag_only_tag(&tags).context("--tag-only")?;
        }
        let ctx = build_context(
            &env,
            ContextSettings {
                insecure_registries,
                quiet: false,
                cache_artifacts: publish.cache_artifacts,
                // A side-loading run (`-L`, ko.local, kind.local) never reaches a registry.
                remote_cache: remote_cache(push, publish.remote_cache),
                jobs: build.jobs,
                push,
            },
        )
        .await?;
        let sbom_repository = sbom_repository(&env);
        let options = KoOptions {
            common: PlanOptions {
                platforms: build.platform.clone(),
                env,
                now_unix: now_unix(),
                push,
                cache_dir: ctx.cache_dir.clone(),
                events: Reporter(Some(ctx.events.clone())),
                compression: build.compression,
                ..PlanOptions::default()
            },
            repo,
            naming: KoNaming::from_flags(
                publish.preserve_import_paths,
                publish.base_import_paths,
                publish.bare,
            ),
            tags,
            ldflags: build.ldflags.clone(),
            labels: build.image_label.clone(),
            annotations: build.image_annotation.clone(),
            user: build.image_user.clone(),
            disable_optimizations: build.disable_optimizations,
            sbom: build.sbom != SbomFormat::None,
        };
        if build.sbom == SbomFormat::None && build.sbom_dir.is_some() {
            bail!("--sbom-dir needs SBOMs, but --sbom=none turns them off");
        }
        let run = RunOptions {
            destinations: Destinations {
                oci_layout: publish.oci_layout_path.clone(),
                tarball: publish.tarball.clone(),
                push,
                load: load
                    .map(|target| (target, LoadNaming::Ko))
                    .into_iter()
                    .collect(),
            },
            sboms: SbomPolicy {
                dir: build.sbom_dir.clone(),
                attach: match (build.sbom, build.sbom_attach) {
                    (SbomFormat::None, _) | (_, SbomAttachChoice::None) => None,
                    (_, SbomAttachChoice::Auto) => Some(SbomAttach::Auto),
                    (_, SbomAttachChoice::Tag) => Some(SbomAttach::Tag),
                    (_, SbomAttachChoice::Referrer) => Some(SbomAttach::Referrer),
                },
                repository: sbom_repository,
            },
            references: References::Ko {
                tag_only: publish.tag_only,
            },
            concurrency: None,
        };
        Ok(KoSession {
            publish: publish.clone(),
            options,
            run,
            ctx: Arc::new(ctx),
        })
    }

    pub async fn plan(&self, packages: &[String]) -> anyhow::Result<Vec<ArtifactPlan>> {
        let planner = self.planner().await?;
        let mut plans = Vec::new();
        for package in packages {
            plans.push(planner.plan(package).await?);
        }
        super::build::report_config_warnings(&self.ctx, &plans);
        Ok(plans)
    }

    /// A planner over the working directory's `.ko.yaml`, for this run's options.
    pub async fn planner(&self) -> anyhow::Result<KoPlanner<'_>> {
        let wd = std::env::current_dir().context("reading the working directory")?;
        Ok(KoPlanner::new(&self.ctx.toolchain, &wd, self.options.clone()).await?)
    }

    /// Builds and publishes every plan; returns the references ko would print, in order.
    pub async fn build(&self, plans: &[ArtifactPlan]) -> anyhow::Result<Vec<String>> {
        if self.options.naming == KoNaming::Bare && plans.len() > 1 {
            bail!(
                "--bare names every image `{}`, so {} packages would overwrite each other; build one package per run, or drop --bare",
                self.options.repo,
                plans.len()
            );
        }
        if self.run.destinations.tarball.is_some() && plans.len() > 1 {
            bail!(
                "--tarball holds one image, but {} packages were given; write several with --oci-layout-path",
                plans.len()
            );
        }
        let delivered =
            build_and_publish(&self.ctx, &self.options.common.env, plans, &self.run).await?;
        if let Some(path) = &self.publish.image_refs {
            // Written once every artifact is published: never a list of half a run.
            let lines: String = delivered
                .iter()
                .flat_map(|d| &d.recorded)
                .map(|line| format!("{line}\n"))
                .collect();
            std::fs::write(path, lines).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(delivered.into_iter().map(|d| d.reference).collect())
    }
}
