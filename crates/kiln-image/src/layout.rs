//! OCI image layouts on disk: reading bases from them (`oci:PATH[:REF]`) and writing
//! build results into them.

use std::fs;
use std::path::{Path, PathBuf};

use kiln_core::Digest;
use kiln_core::platform::PlatformRequest;

use crate::assemble::{BaseImage, parse_json};
use crate::base::{ResolvedBase, check_single, select_from_index};
use crate::cache::store::BlobStore;
use crate::spec::{Blob, Descriptor, Index, Manifest, annotation, media_type};
use crate::{Error, io_error};

const OCI_LAYOUT_FILE: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

#[derive(Clone, Debug)]
pub struct OciLayout {
    store: BlobStore,
}

impl OciLayout {
    /// Opens an existing layout, refusing a directory that is not one.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let marker = path.join(OCI_LAYOUT_FILE);
        if !marker.is_file() || !path.join("index.json").is_file() {
            return Err(Error::NotALayout {
                path: path.to_owned(),
            });
        }
        Ok(OciLayout {
            store: BlobStore::open(path)?,
        })
    }

    /// Opens a layout, creating an empty one if the directory has none.
    pub fn create(path: &Path) -> Result<Self, Error> {
        let store = BlobStore::open(path)?;
        let marker = path.join(OCI_LAYOUT_FILE);
        if !marker.exists() {
            fs::write(&marker, OCI_LAYOUT_CONTENT).map_err(io_error(&marker))?;
        }
        let layout = OciLayout { store };
        if !layout.index_path().exists() {
            layout.write_index(&Index {
                schema_version: 2,
                media_type: media_type::OCI_INDEX.to_owned(),
                manifests: Vec::new(),
                annotations: Default::default(),
            })?;
        }
        Ok(layout)
    }

    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    fn index_path(&self) -> PathBuf {
        self.store.root().join("index.json")
    }

    pub fn index(&self) -> Result<Index, Error> {
        let path = self.index_path();
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        parse_json(&path.display().to_string(), &bytes)
    }

    /// Replaces `index.json` atomically, so a reader never sees a half-written file.
    fn write_index(&self, index: &Index) -> Result<(), Error> {
        let path = self.index_path();
        let mut temp = self.store.temp_file()?;
        std::io::Write::write_all(&mut temp, &Blob::json(index).bytes).map_err(io_error(&path))?;
        temp.persist(&path).map_err(|e| Error::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Records `descriptor` under `ref_name`, replacing any entry of the same name (ko's
    /// layout piles entries up; kiln keeps one per name so rebuilds stay tidy).
    pub fn tag(&self, ref_name: &str, descriptor: &Descriptor) -> Result<(), Error> {
        let mut index = self.index()?;
        index.manifests.retain(|d| {
            d.annotations.get(annotation::REF_NAME).map(String::as_str) != Some(ref_name)
        });
        let mut entry = descriptor.clone();
        entry
            .annotations
            .insert(annotation::REF_NAME.to_owned(), ref_name.to_owned());
        index.manifests.push(entry);
        self.write_index(&index)
    }

    /// Finds the entry that `reference` names: a `ref.name` annotation or a digest; with no
    /// reference, the layout's only entry.
    pub fn find(&self, display: &str, reference: Option<&str>) -> Result<Descriptor, Error> {
        let index = self.index()?;
        let names = || {
            index
                .manifests
                .iter()
                .filter_map(|d| d.annotations.get(annotation::REF_NAME).cloned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = match reference {
            None if index.manifests.len() == 1 => index.manifests.first(),
            None => None,
            Some(r) => index.manifests.iter().find(|d| {
                d.annotations.get(annotation::REF_NAME).map(String::as_str) == Some(r)
                    || d.digest.to_string() == r
            }),
        };
        found.cloned().ok_or_else(|| Error::NotInLayout {
            layout: display.to_owned(),
            reference: reference.unwrap_or("<none>").to_owned(),
            available: names(),
        })
    }

    /// Resolves a base stored in this layout down to the platforms `request` selects.
    pub fn resolve_base(
        &self,
        display: &str,
        reference: Option<&str>,
        request: &PlatformRequest,
    ) -> Result<ResolvedBase, Error> {
        let top = self.find(display, reference)?;
        resolve_from_store(&self.store, display, None, top, request)
    }
}

/// Resolves a base whose index, manifests and configs are all in `store`.
pub fn resolve_from_store(
    store: &BlobStore,
    display: &str,
    name: Option<String>,
    top: Descriptor,
    request: &PlatformRequest,
) -> Result<ResolvedBase, Error> {
    let load =
        |digest: &Digest, index_descriptor: Option<Descriptor>| -> Result<BaseImage, Error> {
            let bytes = store.read(digest)?;
            let manifest: Manifest = parse_json(display, &bytes)?;
            let config = store.read(&manifest.config.digest)?;
            BaseImage::parse(display, digest.clone(), &bytes, config, index_descriptor)
        };
    let (index_media_type, images) = if media_type::is_index(&top.media_type) {
        let index: Index = parse_json(display, &store.read(&top.digest)?)?;
        let images = select_from_index(display, &index, request)?
            .into_iter()
            .map(|d| load(&d.digest.clone(), Some(d)))
            .collect::<Result<Vec<_>, _>>()?;
        let index_mt = if index.media_type.is_empty() {
            top.media_type.clone()
        } else {
            index.media_type
        };
        (Some(index_mt), images)
    } else {
        let image = load(&top.digest, None)?;
        check_single(display, &image, request)?;
        (None, vec![image])
    };
    Ok(ResolvedBase {
        name,
        display: display.to_owned(),
        top,
        index_media_type,
        images,
    })
}
