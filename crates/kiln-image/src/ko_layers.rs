//! The two layers ko adds on top of a base: the kodata layer and the binary layer.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::layer::{EntryMeta, Layer, LayerWriter};
use crate::store::BlobStore;
use crate::{Error, io_error};

/// Where kodata lands in the image (and the value of `KO_DATA_PATH`).
pub const KODATA_ROOT: &str = "/var/run/ko";
/// Where the binary lands in the image.
pub const APP_DIR: &str = "/ko-app";

/// Writes `/ko-app/<name>` from the built binary: mode 0555, owner root, mtime 0 (ko never
/// stamps the binary layer with SOURCE_DATE_EPOCH).
pub fn binary_layer(
    store: &BlobStore,
    binary: &Path,
    name: &str,
    media_type: &str,
) -> Result<Layer, Error> {
    binary_layer_with_capabilities(store, binary, name, media_type, None)
}

/// [`binary_layer`] with the binary's `security.capability` xattr, written as ko writes it:
/// the PAX record `SCHILY.xattr.security.capability` of the binary's entry.
pub fn binary_layer_with_capabilities(
    store: &BlobStore,
    binary: &Path,
    name: &str,
    media_type: &str,
    capability_xattr: Option<&[u8]>,
) -> Result<Layer, Error> {
    let file = File::open(binary).map_err(io_error(binary))?;
    let size = file.metadata().map_err(io_error(binary))?.len();
    let mut layer = LayerWriter::create(store, 0)?;
    let dir = APP_DIR.trim_start_matches('/');
    layer.add_dir(dir, EntryMeta::KO)?;
    let path = format!("{dir}/{name}");
    match capability_xattr {
        Some(xattr) => layer.add_file_with_pax(
            &path,
            EntryMeta::KO,
            size,
            file,
            &[("SCHILY.xattr.security.capability", xattr)],
        )?,
        None => layer.add_file(&path, EntryMeta::KO, size, file)?,
    }
    layer.finish(media_type)
}

/// The root a kodata symlink may point into: the kodata directory itself, widened to
/// `env_allowed_root` (ko's `KO_DATA_PATH_ALLOWED_ROOT`) when that is an ancestor, else to
/// the enclosing git work tree. Widening never narrows.
pub fn kodata_allowed_root(kodata: &Path, env_allowed_root: Option<&Path>) -> PathBuf {
    let kodata = fs::canonicalize(kodata).unwrap_or_else(|_| kodata.to_owned());
    if let Some(root) = env_allowed_root.and_then(|r| fs::canonicalize(r).ok())
        && kodata.starts_with(&root)
    {
        return root;
    }
    kodata
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_owned)
        .unwrap_or(kodata)
}

/// One entry of a kodata tree, in the order it goes into the layer.
pub enum KodataEntry<'a> {
    Dir {
        image_path: &'a str,
    },
    File {
        image_path: &'a str,
        host_path: &'a Path,
        size: u64,
    },
}

/// Visits the tree under `kodata` in lexical order, as ko's walk does: directories before
/// their contents, symlinks followed, but never outside `allowed_root` and never in a
/// cycle. Image paths are relative to the image root (`var/run/ko/...`).
pub fn walk_kodata(
    kodata: &Path,
    allowed_root: &Path,
    visit: &mut dyn FnMut(KodataEntry<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    if !kodata.is_dir() {
        return Ok(());
    }
    let canonical = fs::canonicalize(kodata).map_err(io_error(kodata))?;
    let mut walk = KodataWalk {
        visit,
        allowed_root,
        stack: vec![canonical],
    };
    walk.dir(kodata, KODATA_ROOT.trim_start_matches('/'))
}

/// Writes the kodata layer: `/var`, `/var/run`, `/var/run/ko`, then the tree under
/// `kodata` (if it exists), every entry mode 0555 with mtime `mtime`.
pub fn kodata_layer(
    store: &BlobStore,
    kodata: Option<&Path>,
    allowed_root: &Path,
    mtime: u64,
    media_type: &str,
) -> Result<Layer, Error> {
    let mut layer = LayerWriter::create(store, mtime)?;
    for dir in ["var", "var/run", KODATA_ROOT.trim_start_matches('/')] {
        layer.add_dir(dir, EntryMeta::KO)?;
    }
    if let Some(kodata) = kodata {
        walk_kodata(kodata, allowed_root, &mut |entry| match entry {
            KodataEntry::Dir { image_path } => layer.add_dir(image_path, EntryMeta::KO),
            KodataEntry::File {
                image_path,
                host_path,
                size,
            } => {
                let file = File::open(host_path).map_err(io_error(host_path))?;
                layer.add_file(image_path, EntryMeta::KO, size, file)
            }
        })?;
    }
    layer.finish(media_type)
}

struct KodataWalk<'a> {
    visit: &'a mut dyn FnMut(KodataEntry<'_>) -> Result<(), Error>,
    allowed_root: &'a Path,
    /// Canonical directories being walked, to refuse symlink cycles.
    stack: Vec<PathBuf>,
}

impl KodataWalk<'_> {
    fn dir(&mut self, host_dir: &Path, image_dir: &str) -> Result<(), Error> {
        let mut entries: Vec<_> = fs::read_dir(host_dir)
            .map_err(io_error(host_dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_error(host_dir))?;
        entries.sort();
        for name in entries {
            let host = host_dir.join(&name);
            let Some(name) = name.to_str() else {
                return Err(Error::Kodata {
                    path: host,
                    reason: "the file name is not valid UTF-8".to_owned(),
                });
            };
            self.entry(&host, &format!("{image_dir}/{name}"))?;
        }
        Ok(())
    }

    fn entry(&mut self, host: &Path, image_path: &str) -> Result<(), Error> {
        let link_meta = fs::symlink_metadata(host).map_err(io_error(host))?;
        let resolved = if link_meta.file_type().is_symlink() {
            self.resolve_symlink(host)?
        } else {
            host.to_owned()
        };
        let meta = fs::metadata(&resolved).map_err(io_error(&resolved))?;
        if meta.is_dir() {
            let canonical = fs::canonicalize(&resolved).map_err(io_error(&resolved))?;
            if self.stack.contains(&canonical) {
                return Err(Error::Kodata {
                    path: host.to_owned(),
                    reason: "the symlink forms a cycle".to_owned(),
                });
            }
            (self.visit)(KodataEntry::Dir { image_path })?;
            self.stack.push(canonical);
            self.dir(&resolved, image_path)?;
            self.stack.pop();
            Ok(())
        } else if meta.is_file() {
            (self.visit)(KodataEntry::File {
                image_path,
                host_path: &resolved,
                size: meta.len(),
            })
        } else {
            Err(Error::Kodata {
                path: host.to_owned(),
                reason: "only regular files, directories and symlinks to them can go in kodata"
                    .to_owned(),
            })
        }
    }

    fn resolve_symlink(&self, host: &Path) -> Result<PathBuf, Error> {
        let target = fs::canonicalize(host).map_err(|e| Error::Kodata {
            path: host.to_owned(),
            reason: format!("the symlink cannot be resolved: {e}"),
        })?;
        if !target.starts_with(self.allowed_root) {
            return Err(Error::Kodata {
                path: host.to_owned(),
                reason: format!(
                    "the symlink points to {}, outside the allowed root {}; move the file into kodata or set KO_DATA_PATH_ALLOWED_ROOT to a directory that contains both",
                    target.display(),
                    self.allowed_root.display()
                ),
            });
        }
        Ok(target)
    }
}
