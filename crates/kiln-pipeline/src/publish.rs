//! Publishing one built artifact to every destination a command asked for: an OCI layout,
//! a docker tarball, a registry, a local engine or kind cluster. Destinations add up; each
//! is reported by what happened there. Shared by `kiln build` and `kiln ko build`, which
//! differ only in naming and in what they print.

use std::path::PathBuf;

use kiln_core::{Digest, Reference};

use crate::Error;
use crate::artifact::BuiltArtifact;
use crate::base::fetch_missing_layers;
use crate::context::Context;
use crate::events::{Event, Stage};
use crate::local::{LoadNaming, LoadTarget, Loaded, load};
use crate::output::{write_tarball, write_to_layout};
use crate::plan::BaseSpec;
use crate::push::{add_tag, push_artifact};
use crate::remote_cache;
use crate::stages::StageEvents;

/// Where built images go. Files are written before the push or load, as ko's publisher
/// chain does.
#[derive(Clone, Debug, Default)]
pub struct Destinations {
    pub oci_layout: Option<PathBuf>,
    pub tarball: Option<PathBuf>,
    pub push: bool,
    /// Side-load into an engine or cluster, named as `LoadNaming` says, in order (the
    /// first one's reference is the one reported).
    pub load: Vec<(LoadTarget, LoadNaming)>,
}

impl Destinations {
    pub fn writes_files(&self) -> bool {
        self.oci_layout.is_some() || self.tarball.is_some()
    }

    /// Whether every byte of the image must be local (files and loads carry base layers).
    fn needs_base_layers(&self) -> bool {
        self.writes_files() || !self.load.is_empty()
    }
}

/// What publishing one artifact did.
#[derive(Clone, Debug)]
pub struct Published {
    /// The digest the plan's names point at (index or single manifest).
    pub digest: Digest,
    /// The load's result, when the image was side-loaded.
    pub loaded: Option<Loaded>,
    /// One line per destination, saying what happened there.
    pub reports: Vec<String>,
}

/// Publishes `artifact` under every name of its plan (`repository:tag` and each extra tag)
/// to every destination in `to`.
pub async fn publish(
    ctx: &Context,
    artifact: &BuiltArtifact,
    to: &Destinations,
) -> Result<Published, Error> {
    let plan = &artifact.plan;
    let digest = artifact.top.digest.clone();
    let mut reports = Vec::new();
    // Where layers kiln does not hold live: the repository a registry-cache record found
    // the whole image in, else a registry base's.
    let base_source = match &plan.base {
        _ if artifact.reused_from.is_some() => artifact.reused_from.as_ref(),
        BaseSpec::Registry(reference) => Some(reference),
        _ => None,
    };
    if let Some(source) = base_source.filter(|_| to.needs_base_layers()) {
        // Files need every byte locally, base layers included.
        let client = ctx.registry("copying base layers")?;
        fetch_missing_layers(client, &ctx.store, source, artifact).await?;
    }
    if let Some(dir) = &to.oci_layout {
        write_to_layout(ctx, dir, artifact).map_err(|source| Error::WriteOutput {
            image: plan.image.clone(),
            what: format!("the OCI layout {}", dir.display()),
            source: Box::new(source),
        })?;
        reports.push(format!(
            "wrote OCI layout {}: {} @ {digest}",
            dir.display(),
            plan.tagged_names().join(", ")
        ));
    }
    if let Some(file) = &to.tarball {
        write_tarball(ctx, file, artifact)?;
        reports.push(format!(
            "wrote tarball {}: {}",
            file.display(),
            plan.tagged_names().join(", ")
        ));
    }
    let mut loaded = None;
    for (target, naming) in &to.load {
        let stage = StageEvents::new(&ctx.events, &plan.image, None);
        let loading = stage.start(Stage::Loading {
            target: target.describe(),
        });
        let done = load(&ctx.store, artifact, target, *naming, ctx.env()).await?;
        stage.finish(loading);
        reports.push(load_report(&done, target));
        loaded.get_or_insert(done);
    }
    if to.push {
        let client = ctx.registry("pushing")?;
        let mut names = plan.tagged_names().into_iter();
        let first = parse_target(&plan.image, &names.next().unwrap_or_default())?;
        let stage = StageEvents::new(&ctx.events, &plan.image, None);
        let pushing = stage.start(Stage::Pushing {
            repository: first.name(),
        });
        match &artifact.reused_from {
            // Found complete in this very repository: only the tag is written.
            Some(from) if from.name() == first.name() => add_tag(client, artifact, &first).await,
            _ => push_artifact(client, &ctx.store, base_source, artifact, &first).await,
        }
        .map_err(|e| push_error(&plan.image, &first, e))?;
        stage.finish(pushing);
        reports.push(format!("pushed {first}@{digest}"));
        for name in names {
            let target = parse_target(&plan.image, &name)?;
            add_tag(client, artifact, &target)
                .await
                .map_err(|e| push_error(&plan.image, &target, e))?;
            reports.push(format!("pushed {target}@{digest}"));
        }
        record_pushed(ctx, artifact, &first).await;
    }
    Ok(Published {
        digest,
        loaded,
        reports,
    })
}

/// After `artifact` is pushed to `target` (all its tags written), records it when the
/// context's mode writes and this run built it. A failed record costs other runners a
/// build, not this one its push: it is a warning.
async fn record_pushed(ctx: &Context, artifact: &BuiltArtifact, target: &Reference) {
    let (Some(key), Some(client)) = (&artifact.record_key, &ctx.registry) else {
        return;
    };
    if !ctx.remote_cache.writes() {
        return;
    }
    let image = artifact.plan.image.clone();
    match remote_cache::record(client, &ctx.store, target, key, artifact).await {
        Ok(at) => ctx.events.as_ref()(Event::RegistryCacheRecorded {
            image,
            record: at.to_string(),
        }),
        Err(e) => ctx.events.as_ref()(Event::Warning(format!(
            "{image}: pushed, but recording it in the registry cache failed: {}",
            error_chain(&e)
        ))),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn load_report(loaded: &Loaded, target: &LoadTarget) -> String {
    let platform = loaded
        .platform
        .as_ref()
        .map(|p| format!(" ({p} of the platforms built)"))
        .unwrap_or_default();
    if loaded.uploaded {
        format!(
            "loaded into {} as {}{platform}",
            target.describe(),
            loaded.reference
        )
    } else {
        format!(
            "already in {}, tagged {} (nothing uploaded){platform}",
            target.describe(),
            loaded.reference
        )
    }
}

fn parse_target(image: &str, name: &str) -> Result<Reference, Error> {
    name.parse().map_err(|source| Error::InvalidReference {
        image: image.to_owned(),
        role: "the push target",
        source,
    })
}

fn push_error(image: &str, target: &Reference, source: Error) -> Error {
    Error::Publish {
        image: image.to_owned(),
        target: target.to_string(),
        source: Box::new(source),
    }
}
