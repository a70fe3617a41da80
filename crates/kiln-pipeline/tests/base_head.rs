//! A base tag whose `HEAD` reports a wrong digest is fetched by tag, through kiln-testkit's
//! fault proxy in front of a real registry.

use kiln_core::Reference;
use kiln_core::media_type::OCI_MANIFEST;
use kiln_core::platform::PlatformRequest;
use kiln_image::BlobStore;
use kiln_registry::{BlobUpload, Client, ClientOptions, Env};
use kiln_testkit::{Fault, FaultProxy, Registry, RegistryKind, RequestMatch};

#[tokio::test]
async fn a_base_tag_whose_head_digest_is_wrong_is_fetched_by_tag() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let mut options =
        ClientOptions::with_env("kiln-test/0", Env::from_vars([("HOME", tmp.path())]));
    options.certs_dirs = Vec::new();
    let client = Client::new(options).unwrap();

    let layer = BlobUpload::from_bytes(b"not really a tar, never read".to_vec());
    let config = BlobUpload::from_bytes(
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.digest.to_string()]},
        }))
        .unwrap(),
    );
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest, "size": config.size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.digest, "size": layer.size}],
    }))
    .unwrap();
    let direct: Reference = format!("{}/base/img:v1", reg.host()).parse().unwrap();
    for blob in [&layer, &config] {
        client.push_blob(&direct, blob, None).await.unwrap();
    }
    let digest = client
        .put_manifest(&direct, OCI_MANIFEST, &manifest)
        .await
        .unwrap();

    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::WrongDigestFirst {
            n: usize::MAX,
            only: RequestMatch::on("HEAD", "/manifests/v1"),
        },
    );
    let through: Reference = format!("{}/base/img:v1", proxy.host()).parse().unwrap();
    let store = BlobStore::open(&tmp.path().join("store")).unwrap();
    let request = PlatformRequest::parse(&["linux/amd64"]).unwrap();
    let base = kiln_pipeline::base::registry_base(&client, &store, &through, &request)
        .await
        .expect("the tag is fetched when its HEAD digest does not fetch");
    assert_eq!(base.top.digest, digest);
    assert!(proxy.injected() >= 1);
    assert!(
        proxy
            .log()
            .iter()
            .any(|e| e.method == "GET" && e.path.ends_with("/manifests/v1")),
        "{:#?}",
        proxy.log()
    );
}
