//! Checks that run before the first `go build`, so that a mistake in the command line costs
//! nothing: tags, templates, output paths, and whether the outputs can hold what is planned.

use std::path::Path;

use anyhow::{Context as _, bail};
use kiln_core::Reference;
use kiln_core::platform::PlatformRequest;
use kiln_pipeline::ArtifactPlan;
use kiln_pipeline::run::Command;

use crate::cli::BuildArgs;

/// The checks that need only the command line.
pub fn check(args: &BuildArgs, command: Command) -> anyhow::Result<()> {
    if args.skaffold.dry_run && command != Command::Build {
        bail!(
            "--dry-run is a `kiln build` flag (as in Skaffold); `kiln {}` builds",
            command.as_skaffold()
        );
    }
    if let Some(tag) = &args.tag {
        kiln_core::tag::validate_tag(tag).context("-t/--tag (or SKAFFOLD_TAG)")?;
    }
    if let Some(template) = &args.output {
        kiln_core::template::render_build_output(template, &[]).context("-o/--output")?;
    }
    if let Some(dir) = &args.oci_layout_path {
        writable_dir(dir, "--oci-layout-path")?;
    }
    if let Some(dir) = &args.sbom_dir {
        writable_dir(dir, "--sbom-dir")?;
    }
    if let Some(file) = &args.tarball {
        writable_file(file, "--tarball")?;
    }
    if let Some(file) = &args.file_output {
        writable_file(file, "--file-output")?;
    }
    if let Some(dir) = &args.skaffold.cache_file {
        writable_dir(
            dir,
            "--cache-file (kiln keeps its artifact records in a directory)",
        )?;
    }
    Ok(())
}

/// A `docker load` tarball holds one image of one platform: refuse a plan that needs more.
pub fn check_tarball(plans: &[ArtifactPlan]) -> anyhow::Result<()> {
    if plans.len() > 1 {
        bail!(
            "--tarball holds one image, but {} artifacts are selected ({}); select one with -b/--build-image",
            plans.len(),
            plans
                .iter()
                .map(|p| p.image.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for plan in plans {
        if let PlatformRequest::Specs(specs) = &plan.platforms
            && specs.len() > 1
        {
            bail!(
                "--tarball holds one platform, but {} is built for {}; pick one with --platform, or use --oci-layout-path",
                plan.image,
                specs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// A missing skaffold.yaml says where kiln looked and how to point it elsewhere.
pub fn check_config_file(path: &Path) -> anyhow::Result<()> {
    if path.exists() || path == Path::new("-") {
        return Ok(());
    }
    let looked = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    bail!(
        "no Skaffold config at {}: pass its path with -f/--filename (or SKAFFOLD_FILENAME), or run kiln in its directory",
        looked.display()
    )
}

/// `dir` exists as a directory (created if need be) and a file can be created in it.
pub fn writable_dir(dir: &Path, flag: &str) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "{flag} {}: it is a file, not a directory; choose a directory path",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::tempfile_in(dir).map(drop))
        .with_context(|| {
            format!(
                "{flag} {}: cannot create or write this directory; choose a writable path",
                dir.display()
            )
        })
}

/// `file` is not a directory and its directory (created if need be) is writable.
pub fn writable_file(file: &Path, flag: &str) -> anyhow::Result<()> {
    if file.is_dir() {
        bail!(
            "{flag} {}: it is a directory; give a file path",
            file.display()
        );
    }
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .and_then(|()| tempfile::tempfile_in(parent).map(drop))
        .with_context(|| {
            format!(
                "{flag} {}: cannot write into {}; choose a writable path",
                file.display(),
                parent.display()
            )
        })?;
    if file.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(file)
            .with_context(|| format!("{flag} {}: the file is not writable", file.display()))?;
    }
    Ok(())
}

/// The hint for a push that failed with no default repo set, when an image was headed for
/// Docker Hub only because it has no registry of its own.
pub fn docker_hub_hint(plans: &[ArtifactPlan], default_repo: Option<&str>) -> Option<String> {
    if default_repo.is_some() {
        return None;
    }
    let images: Vec<&str> = plans
        .iter()
        .filter(|p| {
            p.tagged_name()
                .parse::<Reference>()
                .is_ok_and(|r| r.registry == kiln_core::reference::DOCKER_HUB)
        })
        .map(|p| p.image.as_str())
        .collect();
    (!images.is_empty()).then(|| {
        format!(
            "no default repo is set, so {} would be pushed to Docker Hub; set one with -d/--default-repo (or SKAFFOLD_DEFAULT_REPO), or pass --push=false with --oci-layout-path DIR",
            images.join(", ")
        )
    })
}
