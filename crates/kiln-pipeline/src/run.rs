//! One build-and-publish run, the same for kiln's Skaffold face and its ko face: build the
//! plans (in `requires` order, the registries they push to checked beside the builds), then
//! publish each artifact to every destination, write and attach its SBOMs, and say by which
//! reference it is known. The commands build the options and print what comes back.

use std::path::PathBuf;
use std::sync::Arc;

use kiln_core::naming::{ko_printed_reference, tag_with_digest};
use kiln_core::{Digest, Reference};

use crate::Error;
use crate::artifact::{BuiltArtifact, SbomAttach};
use crate::context::Context;
use crate::events::Event;
use crate::plan::ArtifactPlan;
use crate::publish::{Destinations, publish};
use crate::push::attach_sboms;
use crate::sbom::write_sbom_dir;
use crate::schedule;

/// The Skaffold command a run serves: it picks the profiles that activate and the
/// defaults that differ between commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Build,
    Dev,
    Debug,
    Render,
    Run,
    Deploy,
    Delete,
}

impl Command {
    /// The name Skaffold gives it, as profiles' `activation.command` matches it.
    pub fn as_skaffold(self) -> &'static str {
        match self {
            Command::Build => "build",
            Command::Dev => "dev",
            Command::Debug => "debug",
            Command::Render => "render",
            Command::Run => "run",
            Command::Deploy => "deploy",
            Command::Delete => "delete",
        }
    }
}

/// What a run does with the SBOMs of the artifacts it builds.
#[derive(Clone, Debug, Default)]
pub struct SbomPolicy {
    /// `--sbom-dir`: every artifact's SBOMs are written there, with ko's file names.
    pub dir: Option<PathBuf>,
    /// How pushed artifacts get their SBOMs attached; `None` when they do not.
    pub attach: Option<SbomAttach>,
    /// The repository attachments go to instead of the image's own (ko's
    /// `COSIGN_REPOSITORY`).
    pub repository: Option<String>,
}

/// Which reference names a published artifact, as each face prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum References {
    /// Skaffold's: `repository:tag@digest` for pushed images and files alike, or for a
    /// side-loaded (not pushed) image its image-ID tag.
    Skaffold,
    /// ko's: the reference of the last publisher in its chain (registry, tarball, OCI
    /// layout), or a side-loaded image's tag; `tag_only` drops the digest (`--tag-only`).
    Ko { tag_only: bool },
}

/// Everything one run needs besides the plans.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub destinations: Destinations,
    pub sboms: SbomPolicy,
    pub references: References,
    /// Artifacts built at once (Skaffold's `build.local.concurrency`; `None`: no limit).
    pub concurrency: Option<usize>,
}

/// One artifact as a run delivered it.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub artifact: BuiltArtifact,
    /// The reference the command prints.
    pub reference: String,
    /// ko's `--image-refs` lines: the reference, or for an index the index and every
    /// platform image by digest.
    pub recorded: Vec<String>,
}

/// Builds `plans` and publishes them as `options` say, in plan order. When pushing, each
/// registry is asked about its repository while the builds run: an unreachable registry or
/// refused credentials end the run at once (dropping the builds kills their `go`
/// processes) instead of after every `go build`.
pub async fn run(
    ctx: &Arc<Context>,
    plans: &[ArtifactPlan],
    options: &RunOptions,
) -> Result<Vec<Delivered>, Error> {
    let build = schedule::build_all(ctx, plans, options.concurrency);
    let built = if options.destinations.push {
        tokio::pin!(build);
        tokio::select! {
            built = &mut build => built?,
            checked = check_registries(ctx, plans) => {
                checked?;
                build.await?
            }
        }
    } else {
        build.await?
    };
    publish_all(ctx, built, options).await
}

/// Publishes each built artifact to every destination, then writes and attaches its
/// SBOMs, reporting what happened at each as [`Event::Delivered`].
pub async fn publish_all(
    ctx: &Context,
    built: Vec<BuiltArtifact>,
    options: &RunOptions,
) -> Result<Vec<Delivered>, Error> {
    let to = &options.destinations;
    let mut delivered = Vec::with_capacity(built.len());
    for artifact in built {
        let image = artifact.plan.image.clone();
        let published = publish(ctx, &artifact, to).await?;
        let mut reports = published.reports;
        reports.extend(publish_sboms(ctx, &artifact, &options.sboms, to.push).await?);
        for report in reports {
            ctx.events.as_ref()(Event::Delivered {
                image: image.clone(),
                report,
            });
        }
        // A loaded image exists under its printed name only; loads never go with a push
        // in ko, and in Skaffold the pushed reference wins.
        let (reference, recorded) = match published.loaded.filter(|_| !to.push) {
            Some(loaded) => (loaded.reference.clone(), vec![loaded.reference]),
            None => {
                let plan = &artifact.plan;
                let tags: Vec<&str> = std::iter::once(&plan.tag)
                    .chain(&plan.extra_tags)
                    .map(String::as_str)
                    .collect();
                let reference = printed_reference(
                    &plan.repository,
                    &tags,
                    &published.digest,
                    to,
                    options.references,
                )?;
                let recorded = recorded_references(&reference, &artifact);
                (reference, recorded)
            }
        };
        delivered.push(Delivered {
            artifact,
            reference,
            recorded,
        });
    }
    Ok(delivered)
}

/// Writes the artifact's SBOMs to the policy's directory and, when pushing, attaches them
/// to the pushed images. Returns one report per attachment.
async fn publish_sboms(
    ctx: &Context,
    artifact: &BuiltArtifact,
    policy: &SbomPolicy,
    pushed: bool,
) -> Result<Vec<String>, Error> {
    let image = &artifact.plan.image;
    if let Some(dir) = &policy.dir {
        write_sbom_dir(&ctx.store, dir, artifact).map_err(|source| Error::WriteOutput {
            image: image.clone(),
            what: format!("SBOMs to {}", dir.display()),
            source: Box::new(source),
        })?;
    }
    let Some(mode) = policy.attach.filter(|_| pushed && artifact.sboms.is_some()) else {
        return Ok(Vec::new());
    };
    let repository = policy
        .repository
        .as_deref()
        .unwrap_or(&artifact.plan.repository);
    let target = parse_reference(image, "the SBOM repository", repository)?;
    let client = ctx.registry("attaching SBOMs")?;
    let locations = attach_sboms(client, &ctx.store, &target, artifact, mode)
        .await
        .map_err(|source| Error::AttachSbom {
            image: image.clone(),
            source: Box::new(source),
        })?;
    Ok(locations
        .iter()
        .map(|location| format!("published SBOM {location}"))
        .collect())
}

/// The reference an artifact published to `to` (and loaded nowhere) is printed as: its
/// `repository`, its `tags` (the plan's tag first) and its `digest`, as `style` says.
fn printed_reference(
    repository: &str,
    tags: &[&str],
    digest: &Digest,
    to: &Destinations,
    style: References,
) -> Result<String, Error> {
    let tag = tags.first().copied().unwrap_or_default();
    let tag_only = match style {
        References::Skaffold => {
            return Ok(format!("{repository}:{}", tag_with_digest(tag, digest)));
        }
        References::Ko { tag_only } => tag_only,
    };
    Ok(if to.push {
        ko_printed_reference(repository, tags, digest, tag_only)?
    } else if to.tarball.is_some() {
        ko_printed_reference(repository, tags, digest, false)?
    } else if let Some(layout) = &to.oci_layout {
        format!("{}@{digest}", layout.display())
    } else if tag_only {
        format!("{repository}:{tag}")
    } else {
        format!("{repository}:{tag}@{digest}")
    })
}

/// `--image-refs` lines for one artifact: its reference, or for an index the index and every
/// platform image by digest (ko's recorder).
fn recorded_references(reference: &str, artifact: &BuiltArtifact) -> Vec<String> {
    if artifact.index.is_none() {
        return vec![reference.to_owned()];
    }
    let repository = &artifact.plan.repository;
    std::iter::once(&artifact.top.digest)
        .chain(artifact.images.iter().map(|i| &i.manifest.digest))
        .map(|d| format!("{repository}@{d}"))
        .collect()
}

/// Asks each registry the plans push to about their repository (a blob HEAD: it reaches
/// the registry and authenticates like a push's first request). A repository that does not
/// exist yet is fine.
async fn check_registries(ctx: &Context, plans: &[ArtifactPlan]) -> Result<(), Error> {
    let client = ctx.registry("pushing")?;
    let mut seen = std::collections::BTreeSet::new();
    let checks = plans
        .iter()
        .filter(|p| seen.insert(p.repository.clone()))
        .map(|plan| async move {
            let reference = parse_reference(&plan.image, "the push target", &plan.tagged_name())?;
            let empty = Digest::of(b"");
            client
                .blob_exists(&reference, &empty)
                .await
                .map_err(|source| Error::RegistryUnavailable {
                    image: plan.image.clone(),
                    repository: reference.name(),
                    registry: reference.registry.clone(),
                    source: Box::new(source),
                })?;
            Ok::<_, Error>(())
        });
    futures_util::future::try_join_all(checks).await?;
    Ok(())
}

fn parse_reference(image: &str, role: &'static str, text: &str) -> Result<Reference, Error> {
    text.parse().map_err(|source| Error::InvalidReference {
        image: image.to_owned(),
        role,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(tags: &[&str], to: &Destinations, style: References) -> String {
        let digest = Digest::of(b"image");
        printed_reference("reg.example/app", tags, &digest, to, style)
            .unwrap()
            .replace(&digest.to_string(), "DIGEST")
    }

    #[test]
    fn each_face_prints_its_own_reference() {
        let push = Destinations {
            push: true,
            ..Destinations::default()
        };
        let layout = Destinations {
            oci_layout: Some("out".into()),
            ..Destinations::default()
        };
        let tarball = Destinations {
            tarball: Some("app.tar".into()),
            ..layout.clone()
        };
        let ko = References::Ko { tag_only: false };
        let tag_only = References::Ko { tag_only: true };
        let cases = [
            // Skaffold: always `repository:tag@digest`.
            (
                &["v1"][..],
                &push,
                References::Skaffold,
                "reg.example/app:v1@DIGEST",
            ),
            (
                &["v1"],
                &layout,
                References::Skaffold,
                "reg.example/app:v1@DIGEST",
            ),
            // ko: one tag other than latest shows; `latest` or several do not.
            (&["v1"], &push, ko, "reg.example/app:v1@DIGEST"),
            (&["latest"], &push, ko, "reg.example/app@DIGEST"),
            (&["v1", "v2"], &push, ko, "reg.example/app@DIGEST"),
            (&["v1"], &push, tag_only, "reg.example/app:v1"),
            // The last publisher in ko's chain names it: a tarball after a layout…
            (&["v1"], &tarball, ko, "reg.example/app:v1@DIGEST"),
            (&["v1"], &tarball, tag_only, "reg.example/app:v1@DIGEST"),
            // …and a layout alone by its path.
            (&["v1"], &layout, ko, "out@DIGEST"),
            // Nothing written: the name and digest the push would have had.
            (
                &["latest"],
                &Destinations::default(),
                ko,
                "reg.example/app:latest@DIGEST",
            ),
            (
                &["v1"],
                &Destinations::default(),
                tag_only,
                "reg.example/app:v1",
            ),
        ];
        for (tags, to, style, expected) in cases {
            assert_eq!(
                printed(tags, to, style),
                expected,
                "{tags:?} {to:?} {style:?}"
            );
        }
    }

    #[test]
    fn commands_have_skaffolds_names() {
        let names = [
            Command::Build,
            Command::Dev,
            Command::Debug,
            Command::Render,
        ]
        .map(Command::as_skaffold);
        assert_eq!(names, ["build", "dev", "debug", "render"]);
    }
}
