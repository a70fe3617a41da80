//! Choosing the platform images of a base: ko's index rules, applied to manifests that
//! come from any source (an OCI layout, kiln's built-in base, or a registry).

use kiln_core::platform::PlatformRequest;

use crate::Error;
use crate::assemble::BaseImage;
use crate::spec::{Descriptor, Index, media_type};

/// A base, narrowed to the platform images that a build will use.
#[derive(Clone, Debug)]
pub struct ResolvedBase {
    /// The name recorded in the `org.opencontainers.image.base.name` annotation.
    pub name: Option<String>,
    /// What the user wrote, for messages.
    pub display: String,
    /// The digest of the top-level document (index or manifest).
    pub top: Descriptor,
    /// The media type of the base index when the base is an index.
    pub index_media_type: Option<String>,
    /// The selected images, in the base's order.
    pub images: Vec<BaseImage>,
}

impl ResolvedBase {
    /// ko's rule: one selected platform gives a plain manifest, several give an index.
    pub fn output_is_index(&self) -> bool {
        self.images.len() > 1
    }
}

/// Selects the descriptors of `index` that `request` asks for, in index order.
/// Descriptors without a platform only match `all`; nested indexes are refused.
pub fn select_from_index(
    display: &str,
    index: &Index,
    request: &PlatformRequest,
) -> Result<Vec<Descriptor>, Error> {
    let selected: Vec<Descriptor> = index
        .manifests
        .iter()
        .filter(|d| match &d.platform {
            Some(p) => request.matches(p),
            None => *request == PlatformRequest::All,
        })
        .cloned()
        .collect();
    if let Some(nested) = selected
        .iter()
        .find(|d| !media_type::is_manifest(&d.media_type))
    {
        return Err(Error::UnsupportedBase {
            base: display.to_owned(),
            reason: format!(
                "unexpected mediaType `{}` for {} (nested indexes are not supported)",
                nested.media_type, nested.digest
            ),
        });
    }
    if selected.is_empty() {
        let available: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .filter(|p| PlatformRequest::All.matches(p))
            .map(ToString::to_string)
            .collect();
        return Err(Error::NoMatchingPlatform {
            base: display.to_owned(),
            requested: describe(request),
            available: available.join(", "),
        });
    }
    Ok(selected)
}

/// For a single-manifest base, checks that its platform is one the request allows
/// (ko's PR #785: an ignored `--platform` is an error, not a silent success).
pub fn check_single(
    display: &str,
    image: &BaseImage,
    request: &PlatformRequest,
) -> Result<(), Error> {
    if request.matches(&image.platform) {
        Ok(())
    } else {
        Err(Error::NoMatchingPlatform {
            base: display.to_owned(),
            requested: describe(request),
            available: image.platform.to_string(),
        })
    }
}

fn describe(request: &PlatformRequest) -> String {
    match request {
        PlatformRequest::All => "all".to_owned(),
        PlatformRequest::Specs(specs) => specs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}
