//! Retries, through kiln-testkit's fault-injecting proxy in front of a real registry.

use kiln_registry::{BlobPush, BlobUpload, Error, RegistryEvent};
use kiln_testkit::{Fault, FaultProxy, Registry, RegistryKind, RequestMatch};

use crate::common::*;

const INJECTED: &str = "injected by kiln-testkit FaultProxy";

#[tokio::test]
async fn upload_503_twice_then_success() {
    let reg = Registry::start(RegistryKind::Plain);
    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::Fail5xxFirst {
            n: 2,
            only: RequestMatch::method("PATCH"),
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[]);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    let img = TestImage::new(tmp.path(), 30, 200 << 10, "amd64");
    let r = reference(&format!("{}/retry/app:v1", proxy.host()));
    assert_eq!(
        client.push_blob(&r, &img.layer, None).await.unwrap(),
        BlobPush::Uploaded
    );
    assert_eq!(proxy.injected(), 2);
    let retries: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            RegistryEvent::Retrying {
                attempt,
                max_attempts,
                reason,
                ..
            } => Some((attempt, max_attempts, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        [(1, 3), (2, 3)]
    );
    assert!(retries[0].2.contains(INJECTED), "{retries:?}");
    // Each attempt restarted from HEAD/POST; the registry saw one complete PATCH.
    let patches = reg.requests("PATCH", "/v2/retry/app/");
    assert_eq!(patches.iter().map(|e| e.status).collect::<Vec<_>>(), [202]);
    assert_eq!(reg.requests("POST", "/v2/retry/app/").len(), 3);
    // The rest of the push works through the proxy (Locations point at the proxy).
    img.push(&client, &r).await;
    assert_eq!(
        client.get_manifest(&r, &[]).await.unwrap().bytes,
        img.manifest
    );
}

#[tokio::test]
async fn upload_503_forever_fails_after_three_attempts_with_the_registry_text() {
    let reg = Registry::start(RegistryKind::Plain);
    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::Fail5xxFirst {
            n: usize::MAX,
            only: RequestMatch::method("PATCH"),
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let r = reference(&format!("{}/retry/forever", proxy.host()));
    let blob = BlobUpload::from_bytes(noise(31, 4096));
    let err = client.push_blob(&r, &blob, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Status { status: 503, ctx, .. } if ctx.attempts == 3),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(INJECTED)
            && msg.contains("UNAVAILABLE")
            && msg.contains("gave up after 3 attempts"),
        "{msg}"
    );
    assert!(
        msg.contains(&blob.digest.to_string()) && msg.contains("retry/forever"),
        "{msg}"
    );
    assert_eq!(proxy.injected(), 3);
}

#[tokio::test]
async fn registry_unavailable_at_first_contact_is_retried_too() {
    let reg = Registry::start(RegistryKind::Plain);
    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::Fail5xxFirst {
            n: usize::MAX,
            only: RequestMatch::any(),
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let r = reference(&format!("{}/down/app:v1", proxy.host()));
    let err = client.get_manifest(&r, &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(
        err.to_string().contains("connecting to registry") && err.to_string().contains(INJECTED),
        "{err}"
    );
    assert_eq!(proxy.injected(), 3, "{:#?}", proxy.log());
}

#[tokio::test]
async fn connection_killed_mid_upload_is_retried_from_the_start() {
    let reg = Registry::start(RegistryKind::Plain);
    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::KillAfterBytes {
            n: 64 << 10,
            only: RequestMatch::method("PATCH"),
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[]);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    let img = TestImage::new(tmp.path(), 32, 1 << 20, "amd64");
    let r = reference(&format!("{}/killed/app", proxy.host()));
    assert_eq!(
        client.push_blob(&r, &img.layer, None).await.unwrap(),
        BlobPush::Uploaded
    );
    assert_eq!(proxy.injected(), 1);
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::Retrying { .. })),
        1
    );
    // The registry has the right bytes.
    let dest = tmp.path().join("back");
    client
        .download_blob(&r, &img.layer.digest, &dest)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dest).unwrap(),
        std::fs::read(&img.layer_path).unwrap()
    );
}

#[tokio::test]
async fn dropped_connection_on_head_is_retried() {
    let reg = Registry::start(RegistryKind::Plain);
    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::DropFirst {
            n: 1,
            only: RequestMatch {
                method: Some("HEAD".into()),
                path_contains: Some("/blobs/".into()),
            },
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let r = reference(&format!("{}/dropped/app", proxy.host()));
    let blob = BlobUpload::from_bytes(noise(33, 100));
    assert!(!client.blob_exists(&r, &blob.digest).await.unwrap());
    assert_eq!(proxy.injected(), 1);
}

#[tokio::test]
async fn nothing_listening_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[]);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    // Port 1 (tcpmux): nothing listens there on a test machine.
    let port = 1;
    let r = reference(&format!("127.0.0.1:{port}/none/app:v1"));
    let started = std::time::Instant::now();
    let err = client.get_manifest(&r, &[]).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("connecting to registry 127.0.0.1:{port}")),
        "{err}"
    );
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::Retrying { .. })),
        0
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
