//! Checks that run before the first `go build`, so that a mistake in the command line costs
//! nothing: tags, templates, output paths, and whether the outputs can hold what is planned.

use std::path::Path;

use kiln_core::Reference;
use kiln_core::platform::PlatformRequest;

use crate::Error;
use crate::plan::ArtifactPlan;

/// A `docker load` tarball holds one image of one platform: refuse a plan that needs more.
pub fn check_tarball(plans: &[ArtifactPlan]) -> Result<(), Error> {
    if plans.len() > 1 {
        return Err(Error::usage(format!(
            "--tarball holds one image, but {} artifacts are selected ({}); select one with -b/--build-image",
            plans.len(),
            plans
                .iter()
                .map(|p| p.image.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for plan in plans {
        if let PlatformRequest::Specs(specs) = &plan.platforms
            && specs.len() > 1
        {
            return Err(Error::usage(format!(
                "--tarball holds one platform, but {} is built for {}; pick one with --platform, or use --oci-layout-path",
                plan.image,
                specs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
}

/// A missing skaffold.yaml says where kiln looked and how to point it elsewhere.
pub fn check_config_file(path: &Path) -> Result<(), Error> {
    if path.exists() || path == Path::new("-") {
        return Ok(());
    }
    let looked = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    Err(Error::usage(format!(
        "no Skaffold config at {}: pass its path with -f/--filename (or SKAFFOLD_FILENAME), or run kiln in its directory",
        looked.display()
    )))
}

/// `dir` exists as a directory (created if need be) and a file can be created in it.
pub fn writable_dir(dir: &Path, flag: &'static str) -> Result<(), Error> {
    if dir.exists() && !dir.is_dir() {
        return Err(unwritable(
            flag,
            dir,
            "it is a file, not a directory; choose a directory path",
            None,
        ));
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::tempfile_in(dir).map(drop))
        .map_err(|e| {
            unwritable(
                flag,
                dir,
                "cannot create or write this directory; choose a writable path",
                Some(e),
            )
        })
}

/// `file` is not a directory and its directory (created if need be) is writable.
pub fn writable_file(file: &Path, flag: &'static str) -> Result<(), Error> {
    if file.is_dir() {
        return Err(unwritable(
            flag,
            file,
            "it is a directory; give a file path",
            None,
        ));
    }
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .and_then(|()| tempfile::tempfile_in(parent).map(drop))
        .map_err(|e| {
            let problem = format!(
                "cannot write into {}; choose a writable path",
                parent.display()
            );
            unwritable(flag, file, &problem, Some(e))
        })?;
    if file.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(file)
            .map_err(|e| unwritable(flag, file, "the file is not writable", Some(e)))?;
    }
    Ok(())
}

fn unwritable(
    flag: &'static str,
    path: &Path,
    problem: &str,
    source: Option<std::io::Error>,
) -> Error {
    Error::Unwritable {
        flag,
        path: path.to_owned(),
        problem: problem.to_owned(),
        source,
    }
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
