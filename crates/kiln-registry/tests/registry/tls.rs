//! TLS with a private CA: trusted through SSL_CERT_FILE or certs.d, refused without it,
//! skipped for insecure registries.

use kiln_registry::{BlobPush, Error, RegistryEvent};
use kiln_testkit::{Registry, RegistryKind};

use crate::common::*;

#[tokio::test]
async fn private_ca_via_ssl_cert_file() {
    let reg = Registry::start(RegistryKind::tls());
    let tls = reg.tls().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[("SSL_CERT_FILE", tls.ca_cert.as_os_str())]);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    let img = TestImage::new(tmp.path(), 20, 300 << 10, "amd64");
    let r = reference(&reg.reference("secure/app:v1"));
    img.push(&client, &r).await;
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::PlainHttp { .. })),
        0,
        "stayed on HTTPS"
    );
    assert_eq!(
        format!("{client:?}").matches("https://").count(),
        1,
        "{client:?}"
    );
    // skopeo, verifying with the same CA, sees our manifest.
    assert_eq!(
        reg.skopeo()
            .inspect_raw_bytes(&reg.reference("secure/app:v1"))
            .unwrap(),
        img.manifest
    );
    assert_eq!(
        client.get_manifest(&r, &[]).await.unwrap().bytes,
        img.manifest
    );
}

#[tokio::test]
async fn private_ca_via_certs_d() {
    let reg = Registry::start(RegistryKind::Tls {
        htpasswd: Some(("tlsuser".into(), "tlspass".into())),
    });
    let tmp = tempfile::tempdir().unwrap();
    let certs_d = tmp.path().join("certs.d");
    let host_dir = certs_d.join(reg.host());
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&reg.tls().unwrap().ca_cert, host_dir.join("ca.crt")).unwrap();
    let docker = tmp.path().join("docker");
    reg.write_docker_config(&docker, "tlsuser", "tlspass");
    let mut opts = options(tmp.path(), &[("DOCKER_CONFIG", docker.as_os_str())]);
    opts.certs_dirs = vec![tmp.path().join("nonexistent"), certs_d];
    let client = client(opts);
    let r = reference(&reg.reference("certsd/app"));
    let blob = kiln_registry::BlobUpload::from_bytes(noise(21, 777));
    assert_eq!(
        client.push_blob(&r, &blob, None).await.unwrap(),
        BlobPush::Uploaded
    );
    assert!(client.blob_exists(&r, &blob.digest).await.unwrap());
}

#[tokio::test]
async fn unknown_ca_is_a_certificate_error_with_a_hint() {
    let reg = Registry::start(RegistryKind::tls());
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let r = reference(&reg.reference("secure/app:v1"));
    let err = client.get_manifest(&r, &[]).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
    for part in [
        format!("certificate verification failed for {}", reg.host()),
        format!("certs.d/{}/ca.crt", reg.host()),
        format!("--insecure-registry {}", reg.host()),
        "UnknownIssuer".to_owned(),
    ] {
        assert!(msg.contains(&part), "missing {part:?} in: {msg}");
    }
    // Nothing was sent in plain text to the TLS port except the probe.
    assert!(
        reg.access_log().iter().all(|e| e.path == "/v2/"),
        "{:#?}",
        reg.access_log()
    );
}

#[tokio::test]
async fn insecure_registry_skips_verification() {
    let reg = Registry::start(RegistryKind::tls());
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[]);
    // Skaffold's prefix rule: the host without the last port digit still matches.
    let host = reg.host();
    opts.insecure_registries = vec![host[..host.len() - 1].to_owned()];
    let client = client(opts);
    let img = TestImage::new(tmp.path(), 22, 1000, "arm64");
    let r = reference(&reg.reference("insecure/app:v1"));
    img.push(&client, &r).await;
    assert_eq!(
        client.get_manifest(&r, &[]).await.unwrap().bytes,
        img.manifest
    );
    assert!(
        format!("{client:?}").contains(&format!("https://{host}/")),
        "{client:?}"
    );
}
