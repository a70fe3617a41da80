//! Publishing one built artifact to every destination a command asked for: an OCI layout,
//! a docker tarball, a registry. Shared by `kiln build` and `kiln ko build`, which differ
//! only in naming and in what they print.

use std::path::PathBuf;

use kiln_core::{Digest, Reference};

use crate::Error;
use crate::build::{BuiltArtifact, StageEvents};
use crate::context::Context;
use crate::events::Stage;
use crate::output::{write_tarball, write_to_layout};
use crate::plan::BaseSpec;
use crate::remote::{add_tag, fetch_missing_layers, push_artifact};

/// Where built images go. Files are written before the push, as ko's publisher chain does.
#[derive(Clone, Debug, Default)]
pub struct Destinations {
    pub oci_layout: Option<PathBuf>,
    pub tarball: Option<PathBuf>,
    pub push: bool,
}

impl Destinations {
    fn writes_files(&self) -> bool {
        self.oci_layout.is_some() || self.tarball.is_some()
    }
}

/// Publishes `artifact` under every name of its plan (`repository:tag` and each extra tag)
/// and returns the digest those names point at.
pub async fn publish(
    ctx: &Context,
    artifact: &BuiltArtifact,
    to: &Destinations,
) -> Result<Digest, Error> {
    let plan = &artifact.plan;
    // Where layers kiln does not hold live: the repository a registry-cache record found
    // the whole image in, else a registry base's.
    let base_source = match &plan.base {
        _ if artifact.reused_from.is_some() => artifact.reused_from.as_ref(),
        BaseSpec::Registry(reference) => Some(reference),
        _ => None,
    };
    if let Some(source) = base_source.filter(|_| to.writes_files()) {
        // Files need every byte locally, base layers included.
        let client = ctx.registry("copying base layers")?;
        fetch_missing_layers(client, &ctx.store, source, artifact).await?;
    }
    if let Some(dir) = &to.oci_layout {
        write_to_layout(ctx, dir, artifact).map_err(|e| {
            Error::Plan(format!(
                "{}: writing the OCI layout {}: {e}",
                plan.image,
                dir.display()
            ))
        })?;
    }
    if let Some(file) = &to.tarball {
        write_tarball(ctx, file, artifact)?;
    }
    if !to.push {
        return Ok(artifact.top.digest.clone());
    }
    let client = ctx.registry("pushing")?;
    let mut names = plan.tagged_names().into_iter();
    let first = parse_target(&plan.image, &names.next().unwrap_or_default())?;
    let stage = StageEvents::new(&ctx.events, &plan.image, None);
    let pushing = stage.start(Stage::Pushing {
        repository: first.name(),
    });
    let digest = match &artifact.reused_from {
        // Found complete in this very repository: only the tag is written.
        Some(from) if from.name() == first.name() => add_tag(client, artifact, &first).await,
        _ => push_artifact(client, &ctx.store, base_source, artifact, &first).await,
    }
    .map_err(|e| push_error(&plan.image, &first, e))?;
    stage.finish(pushing);
    for name in names {
        let target = parse_target(&plan.image, &name)?;
        add_tag(client, artifact, &target)
            .await
            .map_err(|e| push_error(&plan.image, &target, e))?;
    }
    crate::remote_cache::record_pushed(ctx, artifact, &first).await;
    Ok(digest)
}

fn parse_target(image: &str, name: &str) -> Result<Reference, Error> {
    name.parse()
        .map_err(|e| Error::Plan(format!("{image}: cannot push to `{name}`: {e}")))
}

fn push_error(image: &str, target: &Reference, source: Error) -> Error {
    Error::Publish {
        image: image.to_owned(),
        target: target.to_string(),
        source: Box::new(source),
    }
}
