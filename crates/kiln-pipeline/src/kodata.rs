//! The `kodata` directory of a main package: which of its symlinks may be followed (asked of
//! git once per build, for the artifact key and the layer alike), and its layer.

use std::path::Path;

use kiln_core::env::Env;
use kiln_gobuild::Package;
use kiln_image::ResolvedBase;
use kiln_image::ko_layers::{KodataBoundary, kodata_allowed_root, kodata_layer};
use kiln_image::{BlobStore, Layer};

use crate::Error;
use crate::plan::ArtifactPlan;

/// Where `kodata`'s symlinks may point: the allowed root, minus what git ignores in it
/// (asked of git here, so kiln-image spawns nothing). An explicit
/// `KO_DATA_PATH_ALLOWED_ROOT` allows everything under it, as in ko. In a repository git
/// cannot read (git missing, "dubious ownership"), nothing is known to be safe: an error,
/// never a boundary that lets a link reach an ignored `.env`.
pub(crate) async fn boundary(
    kodata: &Path,
    allowed_env: Option<&Path>,
    env: &Env,
) -> Result<KodataBoundary, Error> {
    let boundary = kodata_allowed_root(kodata, allowed_env);
    if boundary.explicit || !kodata.is_dir() || !boundary.root.join(".git").exists() {
        return Ok(boundary);
    }
    match kiln_gobuild::git::ignored_paths(&boundary.root, env).await {
        Ok(ignored) => Ok(boundary.with_ignored(ignored)),
        Err(reason) => Err(Error::KodataRepository {
            kodata: kodata.to_owned(),
            root: boundary.root,
            reason,
        }),
    }
}

/// The kodata layer of `package` (empty when it has no `kodata` directory), in the store.
pub(crate) async fn write_layer(
    store: &BlobStore,
    plan: &ArtifactPlan,
    package: &Package,
    base: &ResolvedBase,
    boundary: KodataBoundary,
) -> Result<Layer, Error> {
    let kodata = package.dir.join("kodata");
    let mtime = plan.kodata_date_epoch.unwrap_or(0).max(0) as u64;
    let media_type = base.images[0].layer_media_type(plan.compression, &base.display)?;
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        kodata_layer(&store, Some(&kodata), &boundary, mtime, media_type)
    })
    .await?
    .map_err(Error::from)
}
