//! Media types of the manifests, indexes, configs and layers kiln reads and writes.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// zstd layers: pulled by containerd ≥ 1.5, CRI-O and podman, not by every runtime.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub fn is_index(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_MANIFEST_LIST
}

pub fn is_manifest(mt: &str) -> bool {
    mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
}

/// The layer media type that matches a manifest media type: ko follows the base so
/// that registries which reject mixed OCI/Docker manifests accept the result.
pub fn layer_for_manifest(manifest: &str) -> &'static str {
    if manifest == DOCKER_MANIFEST {
        DOCKER_LAYER_GZIP
    } else {
        OCI_LAYER_GZIP
    }
}

/// How kiln compresses the layers it writes (`--compression`, `KILN_COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    /// What every runtime pulls, and ko's only choice.
    #[default]
    Gzip,
    Zstd,
}

impl LayerCompression {
    /// The spellings `--compression` and `KILN_COMPRESSION` accept.
    pub const NAMES: [&str; 2] = ["gzip", "zstd"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "gzip" => Some(LayerCompression::Gzip),
            "zstd" => Some(LayerCompression::Zstd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gzip",
            LayerCompression::Zstd => "zstd",
        }
    }

    /// The media type of a layer added to an image whose manifest is `manifest`. `None`
    /// for zstd in a Docker schema 2 manifest: that schema has no zstd layer type.
    pub fn layer_media_type(self, manifest: &str) -> Option<&'static str> {
        match self {
            LayerCompression::Gzip => Some(layer_for_manifest(manifest)),
            LayerCompression::Zstd => (manifest != DOCKER_MANIFEST).then_some(OCI_LAYER_ZSTD),
        }
    }
}

/// The `Accept` list for manifest requests: images and indexes, OCI and Docker schema 2
/// (never schema 1).
pub const MANIFEST_ACCEPT: [&str; 4] = [
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_layers_go_only_into_oci_manifests() {
        let zstd = LayerCompression::parse("zstd").unwrap();
        assert_eq!(zstd.layer_media_type(OCI_MANIFEST), Some(OCI_LAYER_ZSTD));
        assert_eq!(zstd.layer_media_type(DOCKER_MANIFEST), None);
        let gzip = LayerCompression::default();
        assert_eq!(
            gzip.layer_media_type(DOCKER_MANIFEST),
            Some(DOCKER_LAYER_GZIP)
        );
        assert_eq!(gzip.layer_media_type(OCI_MANIFEST), Some(OCI_LAYER_GZIP));
        assert_eq!(LayerCompression::parse("xz"), None);
    }
}
