//! Shared helpers: isolated client options, deterministic test images, event capture.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_core::media_type::OCI_MANIFEST;
use kiln_core::{Digest, Reference};
use kiln_registry::{BlobPush, BlobUpload, Client, ClientOptions, Env, RegistryEvent};

/// Options that see nothing of the real machine: `HOME` is an empty temp dir, no certs.d,
/// millisecond backoff.
pub fn options(home: &Path, extra: &[(&str, &std::ffi::OsStr)]) -> ClientOptions {
    let mut vars: Vec<(String, std::ffi::OsString)> = vec![("HOME".into(), home.into())];
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut o = ClientOptions::with_env("kiln-test/0", Env::from_vars(vars));
    o.certs_dirs = Vec::new();
    o.retry.base_delay = Duration::from_millis(20);
    o
}

pub struct Events(pub Arc<Mutex<Vec<RegistryEvent>>>);

impl Events {
    pub fn attach(opts: &mut ClientOptions) -> Events {
        let store: Arc<Mutex<Vec<RegistryEvent>>> = Arc::default();
        let s = store.clone();
        opts.events = Some(Arc::new(move |e| s.lock().unwrap().push(e)));
        Events(store)
    }

    pub fn all(&self) -> Vec<RegistryEvent> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, pred: impl Fn(&RegistryEvent) -> bool) -> usize {
        self.all().iter().filter(|e| pred(e)).count()
    }
}

pub fn client(opts: ClientOptions) -> Client {
    Client::new(opts).expect("client")
}

pub fn reference(s: &str) -> Reference {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Deterministic pseudo-random bytes (incompressible, so sizes are what they say).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A minimal but valid OCI image: one layer on disk, a config, and a manifest.
pub struct TestImage {
    pub layer: BlobUpload,
    pub layer_path: PathBuf,
    pub config: BlobUpload,
    pub manifest: Vec<u8>,
}

impl TestImage {
    pub fn new(dir: &Path, seed: u64, layer_size: usize, arch: &str) -> TestImage {
        let layer_bytes = noise(seed, layer_size);
        let layer_path = dir.join(format!("layer-{seed}.tar.gz"));
        std::fs::write(&layer_path, &layer_bytes).unwrap();
        let layer = BlobUpload::from_file(
            &layer_path,
            Digest::of(&layer_bytes),
            layer_bytes.len() as u64,
        );
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": [format!("SEED={seed}")]},
            "rootfs": {"type": "layers", "diff_ids": [Digest::of(&layer_bytes).to_string()]},
        });
        let config = BlobUpload::from_bytes(serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.digest, "size": layer.size}],
        });
        TestImage {
            layer,
            layer_path,
            config,
            manifest: serde_json::to_vec(&manifest).unwrap(),
        }
    }

    /// Pushes blobs then the manifest under `r`; returns the manifest digest.
    pub async fn push(&self, client: &Client, r: &Reference) -> Digest {
        for blob in [&self.layer, &self.config] {
            let got = client.push_blob(r, blob, None).await.unwrap();
            assert!(
                matches!(got, BlobPush::Uploaded | BlobPush::AlreadyPresent),
                "{got:?}"
            );
        }
        client
            .put_manifest(r, OCI_MANIFEST, &self.manifest)
            .await
            .unwrap()
    }
}

/// Writes an executable shell script.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `PATH` for a client env: `bin` first, then the system (for `sh`, `cat`).
pub fn path_with(bin: &Path) -> std::ffi::OsString {
    std::env::join_paths([bin, Path::new("/usr/bin"), Path::new("/bin")]).unwrap()
}
