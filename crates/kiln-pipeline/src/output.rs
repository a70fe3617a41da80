//! Writing built artifacts somewhere: an OCI layout, a docker tarball, and Skaffold's build
//! JSON (`--file-output`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::artifact::BuiltArtifact;
use crate::context::Context;

/// Copies every blob of `artifact` into the layout and records it under each `name:tag`.
/// Blobs go in first and `index.json` last, so an interrupted write never leaves a name
/// pointing at an incomplete image.
pub fn write_to_layout(
    ctx: &Context,
    layout_dir: &Path,
    artifact: &BuiltArtifact,
) -> Result<(), Error> {
    let layout = kiln_image::OciLayout::create(layout_dir)?;
    let out = layout.store();
    for image in &artifact.images {
        for layer in &image.layers {
            out.import_from(&ctx.store, &layer.digest)?;
        }
        out.write_bytes(&image.config.bytes)?;
        out.write_bytes(&image.manifest.bytes)?;
    }
    if let Some(index) = &artifact.index {
        out.write_bytes(&index.bytes)?;
    }
    for name in artifact.plan.tagged_names() {
        layout.tag(&name, &artifact.top)?;
    }
    Ok(())
}

/// Writes a `docker load`-able tarball. The format holds one platform image per name.
pub fn write_tarball(ctx: &Context, path: &Path, artifact: &BuiltArtifact) -> Result<(), Error> {
    let [image] = artifact.images.as_slice() else {
        return Err(Error::TarballPlatforms {
            image: artifact.plan.image.clone(),
            count: artifact.images.len(),
            platforms: artifact.platform_list(),
        });
    };
    kiln_image::tarball::write_tarball(path, &ctx.store, image, &artifact.plan.tagged_names())?;
    Ok(())
}

/// One entry of Skaffold's `--file-output` JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BuildOutput {
    pub image_name: String,
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_type: Option<String>,
}

#[derive(Serialize)]
struct BuildsDocument<'a> {
    builds: &'a [BuildOutput],
}

#[derive(Deserialize)]
struct OwnedBuildsDocument {
    builds: Vec<BuildOutput>,
}

/// Skaffold's format: `{{json .}}` of `{"builds":[…]}`, compact, no trailing newline.
pub fn file_output_json(builds: &[BuildOutput]) -> String {
    serde_json::to_string(&BuildsDocument { builds })
        .expect("in-memory JSON serialisation cannot fail")
}

/// Reads a `--file-output` document back (Skaffold's `--build-artifacts`).
pub fn read_build_json(text: &str) -> Result<Vec<BuildOutput>, serde_json::Error> {
    serde_json::from_str::<OwnedBuildsDocument>(text).map(|d| d.builds)
}

/// The images of a build JSON file (`kiln build --file-output`, Skaffold's
/// `--build-artifacts`).
pub fn read_build_file(path: &Path) -> Result<Vec<kiln_render::Build>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("reading --build-artifacts", path, e))?;
    let outputs = read_build_json(&text).map_err(|e| {
        Error::invalid(
            format!(
                "--build-artifacts {}: not a build JSON (`{{\"builds\":[{{\"imageName\":…,\"tag\":…}}]}}`, as `kiln build --file-output` writes)",
                path.display()
            ),
            e,
        )
    })?;
    Ok(outputs.into_iter().map(kiln_render::Build::from).collect())
}

/// A build result as the manifest renderers take it.
impl From<BuildOutput> for kiln_render::Build {
    fn from(output: BuildOutput) -> Self {
        kiln_render::Build {
            image_name: output.image_name,
            tag: output.tag,
        }
    }
}
