//! The two layers ko adds on top of a base: the kodata layer and the binary layer.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::cache::store::BlobStore;
use crate::layer::{EntryMeta, Layer, LayerWriter};
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
    binary_layer_teed(store, binary, name, media_type, None, None)
}

/// [`binary_layer`] with the binary's `security.capability` xattr, written as ko writes it
/// (the PAX record `SCHILY.xattr.security.capability` of the binary's entry), also
/// handing the compressed bytes to `copy` as they are written (an upload streaming the
/// layer while it is compressed).
pub fn binary_layer_teed(
    store: &BlobStore,
    binary: &Path,
    name: &str,
    media_type: &str,
    capability_xattr: Option<&[u8]>,
    copy: Option<Box<dyn std::io::Write + Send>>,
) -> Result<Layer, Error> {
    let file = File::open(binary).map_err(io_error(binary))?;
    let size = file.metadata().map_err(io_error(binary))?.len();
    let mut layer = LayerWriter::create_teed(store, 0, media_type, copy)?;
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
    layer.finish()
}

/// Where kodata symlinks may point: inside `root`, and (unless the user widened the root
/// explicitly) never into a `.git` directory or to a file git ignores. A committed link to
/// `../../.git/config` or to an ignored `.env` would otherwise put the work tree's secrets
/// (CI checkouts keep auth headers in `.git/config`) into the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KodataBoundary {
    /// Canonical; symlinks must resolve inside it.
    pub root: PathBuf,
    /// `KO_DATA_PATH_ALLOWED_ROOT` chose `root`: `.git` and ignored files are then allowed.
    pub explicit: bool,
    /// Canonical paths git ignores (a directory stands for everything under it).
    pub ignored: Vec<PathBuf>,
}

impl KodataBoundary {
    /// Adds the paths git ignores (from `git ls-files --ignored`, run by the caller).
    pub fn with_ignored(mut self, ignored: Vec<PathBuf>) -> KodataBoundary {
        self.ignored = ignored;
        self
    }

    /// Why a symlink resolving to `target` may not be followed, if it may not.
    fn refuses(&self, target: &Path) -> Option<String> {
        if !target.starts_with(&self.root) {
            return Some(format!(
                "the symlink points to {}, outside the allowed root {}; move the file into kodata or set KO_DATA_PATH_ALLOWED_ROOT to a directory that contains both",
                target.display(),
                self.root.display()
            ));
        }
        if self.explicit {
            return None;
        }
        let inside = target.strip_prefix(&self.root).unwrap_or(target);
        let what = if inside.components().any(|c| c.as_os_str() == ".git") {
            "into the git directory (.git)"
        } else if self.ignored.iter().any(|i| target.starts_with(i)) {
            "to a file git ignores"
        } else {
            return None;
        };
        Some(format!(
            "the symlink points {what} ({}), which may hold secrets; refusing to put it in the image. Link to a committed file instead, or set KO_DATA_PATH_ALLOWED_ROOT to {} to allow it",
            target.display(),
            self.root.display()
        ))
    }
}

/// The boundary for a kodata directory: the kodata directory itself, widened to
/// `env_allowed_root` (ko's `KO_DATA_PATH_ALLOWED_ROOT`) when that is an ancestor, else to
/// the enclosing git work tree. Widening never narrows. No ignored paths yet
/// ([`KodataBoundary::with_ignored`]).
pub fn kodata_allowed_root(kodata: &Path, env_allowed_root: Option<&Path>) -> KodataBoundary {
    let kodata = fs::canonicalize(kodata).unwrap_or_else(|_| kodata.to_owned());
    if let Some(root) = env_allowed_root.and_then(|r| fs::canonicalize(r).ok())
        && kodata.starts_with(&root)
    {
        return KodataBoundary {
            root,
            explicit: true,
            ignored: Vec::new(),
        };
    }
    let root = kodata
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_owned)
        .unwrap_or(kodata);
    KodataBoundary {
        root,
        explicit: false,
        ignored: Vec::new(),
    }
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
/// their contents, symlinks followed, but never across `boundary` and never in a cycle.
/// Image paths are relative to the image root (`var/run/ko/...`).
///
/// Linear in the tree: the root is canonicalised once, each symlink resolved once, and
/// every other path is its canonical parent joined with its name.
pub fn walk_kodata(
    kodata: &Path,
    boundary: &KodataBoundary,
    visit: &mut dyn FnMut(KodataEntry<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    if !kodata.is_dir() {
        return Ok(());
    }
    let canonical = fs::canonicalize(kodata).map_err(io_error(kodata))?;
    let meta = fs::metadata(&canonical).map_err(io_error(&canonical))?;
    let root_id = dir_id(&meta);
    let mut walk = KodataWalk {
        visit,
        boundary,
        on_stack: HashSet::from([root_id]),
    };
    // An explicit stack: a tree thousands of levels deep must not exhaust the thread's.
    let mut stack = vec![Frame::open(
        canonical,
        KODATA_ROOT.trim_start_matches('/').to_owned(),
        root_id,
    )?];
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.next() else {
            walk.on_stack.remove(&frame.id);
            stack.pop();
            continue;
        };
        let host = frame.dir.join(&name);
        let Some(name) = name.to_str() else {
            return Err(Error::Kodata {
                path: host,
                reason: "the file name is not valid UTF-8".to_owned(),
            });
        };
        let image_path = format!("{}/{name}", frame.image_dir);
        if let Some((dir, id)) = walk.entry(host, &image_path)? {
            stack.push(Frame::open(dir, image_path, id)?);
        }
    }
    Ok(())
}

/// A directory being walked: its canonical path, image path, identity, and the names of
/// its entries not visited yet, in lexical order.
struct Frame {
    dir: PathBuf,
    image_dir: String,
    id: DirId,
    names: std::vec::IntoIter<std::ffi::OsString>,
}

impl Frame {
    fn open(dir: PathBuf, image_dir: String, id: DirId) -> Result<Frame, Error> {
        let mut names: Vec<_> = fs::read_dir(&dir)
            .map_err(io_error(&dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_error(&dir))?;
        names.sort();
        Ok(Frame {
            dir,
            image_dir,
            id,
            names: names.into_iter(),
        })
    }
}

/// A directory's identity (device, inode), for cycle detection without comparing paths.
type DirId = (u64, u64);

fn dir_id(meta: &fs::Metadata) -> DirId {
    use std::os::unix::fs::MetadataExt as _;
    (meta.dev(), meta.ino())
}

/// Writes the kodata layer: `/var`, `/var/run`, `/var/run/ko`, then the tree under
/// `kodata` (if it exists), every entry mode 0555 with mtime `mtime`.
pub fn kodata_layer(
    store: &BlobStore,
    kodata: Option<&Path>,
    boundary: &KodataBoundary,
    mtime: u64,
    media_type: &str,
) -> Result<Layer, Error> {
    let mut layer = LayerWriter::create(store, mtime, media_type)?;
    for dir in ["var", "var/run", KODATA_ROOT.trim_start_matches('/')] {
        layer.add_dir(dir, EntryMeta::KO)?;
    }
    if let Some(kodata) = kodata {
        walk_kodata(kodata, boundary, &mut |entry| match entry {
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
    layer.finish()
}

struct KodataWalk<'a> {
    visit: &'a mut dyn FnMut(KodataEntry<'_>) -> Result<(), Error>,
    boundary: &'a KodataBoundary,
    /// Directories being walked, to refuse symlink cycles.
    on_stack: HashSet<DirId>,
}

impl KodataWalk<'_> {
    /// Visits one entry; `host` is canonical up to its last component, which may be a
    /// symlink. A directory comes back (canonical, with its identity) to be walked next.
    fn entry(
        &mut self,
        host: PathBuf,
        image_path: &str,
    ) -> Result<Option<(PathBuf, DirId)>, Error> {
        let mut meta = fs::symlink_metadata(&host).map_err(io_error(&host))?;
        let resolved = if meta.file_type().is_symlink() {
            let target = self.resolve_symlink(&host)?;
            meta = fs::metadata(&target).map_err(io_error(&target))?;
            target
        } else {
            host.clone()
        };
        if meta.is_dir() {
            let id = dir_id(&meta);
            if !self.on_stack.insert(id) {
                return Err(Error::Kodata {
                    path: host,
                    reason: "the symlink forms a cycle".to_owned(),
                });
            }
            (self.visit)(KodataEntry::Dir { image_path })?;
            Ok(Some((resolved, id)))
        } else if meta.is_file() {
            (self.visit)(KodataEntry::File {
                image_path,
                host_path: &resolved,
                size: meta.len(),
            })?;
            Ok(None)
        } else {
            Err(Error::Kodata {
                path: host,
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
        match self.boundary.refuses(&target) {
            Some(reason) => Err(Error::Kodata {
                path: host.to_owned(),
                reason,
            }),
            None => Ok(target),
        }
    }
}
