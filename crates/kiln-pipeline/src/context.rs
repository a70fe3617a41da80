//! What every build in one kiln run shares: the toolchain, the cache directory, the limit
//! on concurrent `go build`s, and the event sink.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_gobuild::Toolchain;
use kiln_image::{BlobStore, Descriptor};
use tokio::sync::{Mutex, Semaphore};

use crate::Error;
use crate::events::EventSink;

pub struct Context {
    pub toolchain: Toolchain,
    pub cache_dir: PathBuf,
    /// Every blob kiln makes or fetches lands here first; outputs copy (or hard-link) out.
    pub store: BlobStore,
    pub events: EventSink,
    /// Bounds concurrent `go build`s (and layer compression) to the machine's cores.
    pub go_jobs: Arc<Semaphore>,
    /// The registry client, when bases or outputs live in registries.
    pub registry: Option<kiln_registry::Client>,
    /// `--cache-artifacts`: reuse unchanged artifacts without building them.
    pub artifact_cache: bool,
    /// `--cache-file`: where the artifact records live (default: the store's `artifacts/`).
    pub artifact_records: Option<PathBuf>,
    /// `--remote-cache`: look artifacts up in (and record them to) the registry pushed to.
    pub remote_cache: crate::remote_cache::RemoteCacheMode,
    /// Images will be pushed to their plan's first name: binary layers are uploaded there
    /// while they are compressed (the push then finds them in place).
    pub stream_pushes: bool,
    /// The built-in base once written into the store.
    builtin_base: Mutex<Option<Descriptor>>,
}

impl Context {
    pub fn new(
        toolchain: Toolchain,
        cache_dir: &Path,
        jobs: usize,
        events: EventSink,
    ) -> Result<Self, Error> {
        let store = BlobStore::open_cache(cache_dir)?;
        Ok(Context {
            toolchain,
            cache_dir: cache_dir.to_owned(),
            store,
            events,
            go_jobs: Arc::new(Semaphore::new(jobs.max(1))),
            registry: None,
            artifact_cache: false,
            artifact_records: None,
            remote_cache: Default::default(),
            stream_pushes: false,
            builtin_base: Mutex::new(None),
        })
    }

    pub fn with_registry(mut self, client: kiln_registry::Client) -> Self {
        self.registry = Some(client);
        self
    }

    /// Uploads binary layers to the push target while they are compressed.
    pub fn with_streamed_pushes(mut self) -> Self {
        self.stream_pushes = true;
        self
    }

    /// Turns the artifact cache on.
    pub fn with_artifact_cache(mut self) -> Self {
        self.artifact_cache = true;
        self
    }

    /// Shares artifacts through the registry as `mode` says (see `remote_cache.rs`).
    pub fn with_remote_cache(mut self, mode: crate::remote_cache::RemoteCacheMode) -> Self {
        self.remote_cache = mode;
        self
    }

    /// The environment snapshot: every child process starts from it, and the artifact key
    /// hashes its Go variables.
    pub fn env(&self) -> &kiln_core::env::Env {
        &self.toolchain.env
    }

    /// The registry client, or an error explaining why a registry is needed.
    pub fn registry(&self, why: &str) -> Result<&kiln_registry::Client, Error> {
        self.registry.as_ref().ok_or_else(|| Error::NoRegistry {
            why: why.to_owned(),
        })
    }

    /// The stable path of one artifact's binary for one platform. Keeping it stable lets
    /// `go build` skip the link step when nothing changed; it then leaves the file as it
    /// was, so asking for the path marks the binary used, for the cache's trims.
    pub fn binary_path(&self, go_dir: &Path, import_path: &str, platform_slug: &str) -> PathBuf {
        let key = kiln_core::Digest::of(format!("{}\0{import_path}", go_dir.display()).as_bytes());
        let path = self
            .cache_dir
            .join(kiln_image::cache::Bucket::Binaries.dir_name())
            .join(&key.hex()[..16])
            .join(platform_slug)
            .join("out");
        kiln_image::cache::mark::mark_used(&path);
        path
    }

    /// The built-in base, written into the cache store once per process, and again if a
    /// trim between two builds (`kiln dev`) evicted any of its blobs.
    pub async fn builtin_base(&self) -> Result<Descriptor, Error> {
        let mut written = self.builtin_base.lock().await;
        let store = self.store.clone();
        let known = written.clone();
        let top = tokio::task::spawn_blocking(move || match known {
            Some(top) if kiln_image::builtin::is_stored(&store, &top) => Ok(top),
            _ => kiln_image::builtin::write_builtin_base(&store),
        })
        .await??;
        *written = Some(top.clone());
        Ok(top)
    }
}
