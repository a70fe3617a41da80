//! kiln's ko face: one `kiln ko build` or `kiln ko resolve` from its options to the
//! references ko would print. Naming, tags, precedence and the printed references follow
//! ko (pkg/commands, pkg/publish); the order of the references follows the arguments (ko's
//! comes from a Go map, so it is random).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::env::Env;
use kiln_core::media_type::LayerCompression;
use kiln_core::naming::{KoNaming, tag_only_tag, unique_tags};

use super::{ContextSettings, Sinks, build_and_publish, build_context, preflight};
use crate::artifact::SbomAttach;
use crate::events::Reporter;
use crate::local::{LoadNaming, LoadTarget};
use crate::plan::PlanOptions;
use crate::plan::choose::{LocalPublisher, remote_cache, sbom_repository};
use crate::plan::ko::{KoOptions, KoPlanner};
use crate::plan::run::{KoFlags, KoRun, ko_run};
use crate::publish::Destinations;
use crate::remote_cache::RemoteCacheMode;
use crate::run::{References, RunOptions, SbomPolicy};
use crate::{ArtifactPlan, Context, Error};

/// What a `kiln ko build`/`resolve` was asked for (ko's flags, as the CLI parsed them).
#[derive(Clone, Debug, Default)]
pub struct KoRequest {
    /// `-t/--tags`.
    pub tags: Vec<String>,
    pub tag_only: bool,
    pub push: bool,
    /// `-L/--local`.
    pub local: bool,
    pub insecure_registry: bool,
    pub oci_layout_path: Option<PathBuf>,
    pub tarball: Option<PathBuf>,
    /// `--image-refs`: the references, one per line, written once all are published.
    pub image_refs: Option<PathBuf>,
    /// `-P`, `-B`, `--bare` (or the default).
    pub naming: KoNaming,
    pub cache_artifacts: bool,
    pub remote_cache: RemoteCacheMode,
    /// `-j/--jobs`: concurrent `go build`s.
    pub jobs: Option<usize>,
    pub disable_optimizations: bool,
    pub ldflags: Vec<String>,
    pub platforms: Vec<String>,
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
    pub user: Option<String>,
    /// `--sbom` other than `none`.
    pub sbom: bool,
    pub sbom_dir: Option<PathBuf>,
    /// `--sbom-attach`; `None` for `none`.
    pub sbom_attach: Option<SbomAttach>,
    pub compression: Option<LayerCompression>,
}

/// One `kiln ko` run: the publishing choices and the build context, checked before any
/// build starts.
pub struct KoSession {
    image_refs: Option<PathBuf>,
    options: KoOptions,
    run: RunOptions,
    ctx: Arc<Context>,
    /// ko's working directory: where `.ko.yaml` and relative packages are found.
    wd: PathBuf,
}

impl KoSession {
    pub async fn start(
        request: KoRequest,
        env: Env,
        wd: &Path,
        sinks: &Sinks,
    ) -> Result<Self, Error> {
        let KoRun {
            destination,
            insecure_registries,
            kind_cluster,
        } = ko_run(
            KoFlags {
                local: request.local,
                push: request.push,
                insecure_registry: request.insecure_registry,
            },
            &env,
        )?;
        let (repo, push) = (destination.repo, destination.push);
        let tags = unique_tags(&request.tags);
        check(&request, &tags, &env)?;
        let load = match destination.local {
            None => None,
            Some(LocalPublisher::Engine) => {
                Some(LoadTarget::Engine(super::local_engine(&env).await?))
            }
            Some(LocalPublisher::Kind) => Some(LoadTarget::Kind {
                cluster: kind_cluster,
            }),
        };
        let ctx = build_context(
            &env,
            sinks,
            ContextSettings {
                insecure_registries,
                cache_artifacts: request.cache_artifacts,
                // A side-loading run (`-L`, ko.local, kind.local) never reaches a registry.
                remote_cache: remote_cache(push, request.remote_cache),
                jobs: request.jobs,
                push,
            },
        )
        .await?;
        let sbom_repository = sbom_repository(&env);
        let options = KoOptions {
            common: PlanOptions {
                platforms: request.platforms.clone(),
                env,
                now_unix: crate::templates::now().0,
                push,
                cache_dir: ctx.cache_dir.clone(),
                events: Reporter(Some(ctx.events.clone())),
                compression: request.compression,
                ..PlanOptions::default()
            },
            repo,
            naming: request.naming,
            tags,
            ldflags: request.ldflags,
            labels: request.labels,
            annotations: request.annotations,
            user: request.user,
            disable_optimizations: request.disable_optimizations,
            sbom: request.sbom,
        };
        let run = RunOptions {
            destinations: Destinations {
                oci_layout: request.oci_layout_path,
                tarball: request.tarball,
                push,
                load: load
                    .map(|target| (target, LoadNaming::Ko))
                    .into_iter()
                    .collect(),
            },
            sboms: SbomPolicy {
                dir: request.sbom_dir,
                attach: request.sbom_attach.filter(|_| request.sbom),
                repository: sbom_repository,
            },
            references: References::Ko {
                tag_only: request.tag_only,
            },
            concurrency: None,
        };
        Ok(KoSession {
            image_refs: request.image_refs,
            options,
            run,
            ctx: Arc::new(ctx),
            wd: wd.to_owned(),
        })
    }

    /// Plans each `ko build` argument, in order.
    pub async fn plan(&self, packages: &[String]) -> Result<Vec<ArtifactPlan>, Error> {
        let planner = self.planner().await?;
        let mut plans = Vec::new();
        for package in packages {
            plans.push(planner.plan(package).await?);
        }
        super::report_config_warnings(&self.ctx, &plans);
        Ok(plans)
    }

    /// A planner over the working directory's `.ko.yaml`, for this run's options.
    async fn planner(&self) -> Result<KoPlanner<'_>, Error> {
        KoPlanner::new(&self.ctx.toolchain, &self.wd, self.options.clone()).await
    }

    /// `kiln ko resolve`: every `ko://` reference in `inputs` ((name, YAML text), in order)
    /// is built once and replaced by its published reference; returns the documents, file
    /// by file, `---` between files.
    pub async fn resolve(&self, inputs: &[(String, String)]) -> Result<String, Error> {
        let mut references: Vec<String> = Vec::new();
        let mut found_in: HashMap<String, String> = HashMap::new();
        for (name, text) in inputs {
            let found = kiln_render::find_ko_references(text)
                .map_err(|e| Error::invalid(name.clone(), e))?;
            for reference in found {
                found_in
                    .entry(reference.clone())
                    .or_insert_with(|| name.clone());
                if !references.contains(&reference) {
                    references.push(reference);
                }
            }
        }
        let planner = self.planner().await?;
        let mut plans = Vec::new();
        for reference in &references {
            let plan = planner.plan(reference).await.map_err(|e| {
                Error::invalid(format!("{}: `{reference}`", found_in[reference]), e)
            })?;
            plans.push(plan);
        }
        let published = self.build(&plans).await?;
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
                &kiln_render::replace_scalars(text, &replacements)
                    .map_err(|e| Error::invalid(name.clone(), e))?,
            );
        }
        Ok(out)
    }

    /// Builds and publishes every plan; returns the references ko would print, in order.
    pub async fn build(&self, plans: &[ArtifactPlan]) -> Result<Vec<String>, Error> {
        if self.options.naming == KoNaming::Bare && plans.len() > 1 {
            return Err(Error::usage(format!(
                "--bare names every image `{}`, so {} packages would overwrite each other; build one package per run, or drop --bare",
                self.options.repo,
                plans.len()
            )));
        }
        if self.run.destinations.tarball.is_some() && plans.len() > 1 {
            return Err(Error::usage(format!(
                "--tarball holds one image, but {} packages were given; write several with --oci-layout-path",
                plans.len()
            )));
        }
        let delivered = build_and_publish(&self.ctx, plans, &self.run).await?;
        if let Some(path) = &self.image_refs {
            // Written once every artifact is published: never a list of half a run.
            let lines: String = delivered
                .iter()
                .flat_map(|d| &d.recorded)
                .map(|line| format!("{line}\n"))
                .collect();
            std::fs::write(path, lines).map_err(|e| Error::io("writing", path, e))?;
        }
        Ok(delivered.into_iter().map(|d| d.reference).collect())
    }
}

/// The checks that need only the command line: `tags` (`-t`, de-duplicated), output
/// paths, flag combinations.
fn check(request: &KoRequest, tags: &[String], env: &Env) -> Result<(), Error> {
    for tag in tags {
        kiln_core::tag::validate_tag(tag).map_err(|e| Error::invalid("-t/--tags", e))?;
    }
    // Fail before building: every output path must be writable.
    for (dir, flag) in [
        (&request.oci_layout_path, "--oci-layout-path"),
        (&request.sbom_dir, "--sbom-dir"),
    ] {
        if let Some(dir) = dir {
            preflight::writable_dir(dir, flag)?;
        }
    }
    for (file, flag) in [
        (&request.tarball, "--tarball"),
        (&request.image_refs, "--image-refs"),
    ] {
        if let Some(file) = file {
            preflight::writable_file(file, flag)?;
        }
    }
    if request.tag_only {
        tag_only_tag(tags).map_err(|e| Error::invalid("--tag-only", e))?;
    }
    if !request.sbom && request.sbom_dir.is_some() {
        return Err(Error::usage(
            "--sbom-dir needs SBOMs, but --sbom=none turns them off",
        ));
    }
    super::lease::max_size(env)?;
    Ok(())
}
