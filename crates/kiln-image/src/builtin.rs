//! kiln's built-in static base: a distroless-style root file system with users, groups,
//! `/tmp`, a CA bundle and os-release, for every linux platform Go supports.
//!
//! It is generated, not downloaded, so it needs no network and is byte-for-byte the same on
//! every machine: the CA bundle comes from the pinned `webpki-root-certs` crate (Mozilla's
//! roots), every header is fixed, and the golden-digest test pins the result.

use base64::Engine as _;
use kiln_core::Platform;
use serde_json::json;

use crate::Error;
use crate::cache::store::BlobStore;
use crate::layer::{EntryMeta, Layer, LayerWriter};
use crate::spec::{Blob, Descriptor, Index, Manifest, media_type};

/// How the built-in base is named in messages and configuration (`fromImage: kiln:static`
/// selects it explicitly).
pub const BUILTIN_BASE_NAME: &str = "kiln:static";

const NONROOT: u64 = 65_532;
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// `linux/<arch>[/<variant>]` for every linux port of Go (`go tool dist list`), with the
/// ARM variants Go can target.
const PLATFORMS: &[(&str, Option<&str>)] = &[
    ("386", None),
    ("amd64", None),
    ("arm", Some("v5")),
    ("arm", Some("v6")),
    ("arm", Some("v7")),
    ("arm64", Some("v8")),
    ("loong64", None),
    ("mips", None),
    ("mips64", None),
    ("mips64le", None),
    ("mipsle", None),
    ("ppc64", None),
    ("ppc64le", None),
    ("riscv64", None),
    ("s390x", None),
];

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n\
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n";
const NSSWITCH: &str = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n";
const OS_RELEASE: &str = "PRETTY_NAME=\"kiln static\"\nNAME=\"kiln static\"\nID=kiln-static\nHOME_URL=\"https://github.com/kiln-build/kiln\"\n";

/// The CA bundle, as PEM, in the crate's (stable) order.
fn ca_bundle() -> String {
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

fn root_fs_layer(store: &BlobStore) -> Result<Layer, Error> {
    let root = |mode| EntryMeta {
        mode,
        uid: 0,
        gid: 0,
    };
    let nonroot = EntryMeta {
        mode: 0o700,
        uid: NONROOT,
        gid: NONROOT,
    };
    let mut layer = LayerWriter::create(store, 0, media_type::OCI_LAYER_GZIP)?;
    let file = |layer: &mut LayerWriter, path: &str, body: &str| {
        layer.add_file(path, root(0o644), body.len() as u64, body.as_bytes())
    };
    layer.add_dir("etc", root(0o755))?;
    file(&mut layer, "etc/group", GROUP)?;
    file(&mut layer, "etc/nsswitch.conf", NSSWITCH)?;
    file(&mut layer, "etc/os-release", OS_RELEASE)?;
    file(&mut layer, "etc/passwd", PASSWD)?;
    layer.add_dir("etc/ssl", root(0o755))?;
    layer.add_dir("etc/ssl/certs", root(0o755))?;
    file(
        &mut layer,
        "etc/ssl/certs/ca-certificates.crt",
        &ca_bundle(),
    )?;
    layer.add_dir("home", root(0o755))?;
    layer.add_dir("home/nonroot", nonroot)?;
    layer.add_dir("root", root(0o700))?;
    layer.add_dir("tmp", root(0o1777))?;
    layer.finish()
}

/// Writes the built-in base into `store` and returns the descriptor of its index.
/// Idempotent: the same bytes are produced every time.
pub fn write_builtin_base(store: &BlobStore) -> Result<Descriptor, Error> {
    let layer = root_fs_layer(store)?;
    let mut manifests = Vec::with_capacity(PLATFORMS.len());
    for (arch, variant) in PLATFORMS {
        let platform = Platform::new("linux", arch, *variant);
        let mut config = json!({
            "architecture": arch,
            "os": "linux",
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        config["created"] = json!(EPOCH);
        config["config"] = json!({
            "User": NONROOT.to_string(),
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            ],
            "WorkingDir": "/home/nonroot",
        });
        config["rootfs"] = json!({"type": "layers", "diff_ids": [layer.diff_id]});
        config["history"] = json!([{
            "created": EPOCH,
            "created_by": "kiln built-in static base",
            "comment": "users, groups, /tmp, CA certificates (webpki-root-certs), os-release",
        }]);
        let config = Blob::json(&config);
        store.write_bytes(&config.bytes)?;
        let manifest = Blob::json(&Manifest {
            schema_version: 2,
            media_type: media_type::OCI_MANIFEST.to_owned(),
            config: config.descriptor(media_type::OCI_CONFIG),
            layers: vec![layer.descriptor.clone()],
            annotations: Default::default(),
        });
        store.write_bytes(&manifest.bytes)?;
        let mut descriptor = manifest.descriptor(media_type::OCI_MANIFEST);
        descriptor.platform = Some(platform);
        manifests.push(descriptor);
    }
    let index = Blob::json(&Index {
        schema_version: 2,
        media_type: media_type::OCI_INDEX.to_owned(),
        manifests,
        annotations: Default::default(),
    });
    store.write_bytes(&index.bytes)?;
    Ok(index.descriptor(media_type::OCI_INDEX))
}

/// Whether every blob of the built-in base written as `top` is still in `store`: a cache
/// trim may have evicted some since (between two builds of `kiln dev`).
pub fn is_stored(store: &BlobStore, top: &Descriptor) -> bool {
    let manifest =
        |digest| -> Option<Manifest> { serde_json::from_slice(&store.read(digest).ok()?).ok() };
    let Some(index) = store
        .read(&top.digest)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Index>(&bytes).ok())
    else {
        return false;
    };
    index.manifests.iter().all(|descriptor| {
        manifest(&descriptor.digest).is_some_and(|m| {
            store.contains(&m.config.digest) && m.layers.iter().all(|l| store.contains(&l.digest))
        })
    })
}
