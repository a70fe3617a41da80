//! Fault-injection soak: stalls, truncated bodies, resets and `Retry-After` in every request
//! position of a push and a pull, through kiln-testkit's proxy in front of a real registry.
//! Every run must end with a complete image or a clear error, within its deadline.

use std::time::{Duration, Instant};

use kiln_registry::{BlobUpload, Client, ClientOptions, Error, RegistryEvent, Timeouts};
use kiln_testkit::{Fault, FaultProxy, Registry, RegistryKind, RequestMatch};

use crate::common::*;

const IDLE: Duration = Duration::from_millis(300);

/// Every request position of a push (blob HEAD, POST, PATCH, commit PUT; manifest HEAD and
/// PUT) and of a pull (manifest and blob GETs).
fn positions() -> Vec<RequestMatch> {
    [
        ("HEAD", "/blobs/sha256"),
        ("POST", "/blobs/uploads/"),
        ("PATCH", "/blobs/uploads/"),
        ("PUT", "/blobs/uploads/"),
        ("HEAD", "/manifests/"),
        ("PUT", "/manifests/"),
        ("GET", "/manifests/"),
        ("GET", "/blobs/sha256"),
    ]
    .into_iter()
    .map(|(m, p)| RequestMatch::on(m, p))
    .collect()
}

fn fast_options(home: &std::path::Path) -> ClientOptions {
    let mut o = options(home, &[]);
    o.timeouts = Timeouts {
        connect: IDLE,
        idle: IDLE,
        operation: Duration::from_secs(30),
    };
    o
}

/// Pushes `img` under `r`, then pulls the manifest, config and layer back and checks them.
async fn round_trip(
    client: &Client,
    img: &TestImage,
    r: &kiln_core::Reference,
    dir: &std::path::Path,
) -> Result<(), Error> {
    for blob in [&img.layer, &img.config] {
        client.push_blob(r, blob, None).await?;
    }
    client
        .put_manifest(r, kiln_core::media_type::OCI_MANIFEST, &img.manifest)
        .await?;
    let m = client.get_manifest(r, &[]).await?;
    assert_eq!(m.bytes, img.manifest);
    let dest = dir.join("layer.back");
    client.download_blob(r, &img.layer.digest, &dest).await?;
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(&img.layer_path).unwrap()
    );
    let BlobUpload { digest, .. } = &img.config;
    client.get_blob_bytes(r, digest).await?;
    Ok(())
}

#[tokio::test]
async fn a_registry_stalled_in_any_position_fails_within_the_deadline() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let img = TestImage::new(tmp.path(), 40, 200 << 10, "amd64");
    for (i, only) in positions().into_iter().enumerate() {
        let fault = Fault::StallFirst {
            n: usize::MAX,
            only: only.clone(),
        };
        let proxy = FaultProxy::start(&reg.host(), fault);
        let client = client(fast_options(tmp.path()));
        let r = reference(&format!("{}/stall/p{i}:v1", proxy.host()));
        let started = Instant::now();
        let err = round_trip(&client, &img, &r, tmp.path())
            .await
            .expect_err("a stalled registry cannot succeed");
        let took = started.elapsed();
        let msg = kiln_core::text::error_chain(&err);
        let method = only.method.as_deref().unwrap();
        assert!(matches!(err, Error::Timeout { .. }), "{only:?}: {err:?}");
        assert!(
            msg.contains(&format!("answer to {method} http://"))
                && msg.contains("no progress for 0.3s")
                && msg.contains("gave up after 3 attempts")
                && msg.contains("KILN_REGISTRY_TIMEOUT"),
            "{only:?}: {msg}"
        );
        assert!(!msg.contains("_state="), "upload state leaked: {msg}");
        // Three stalled attempts and two short backoffs, plus the steps before the stall.
        assert!(
            took < IDLE * 3 + Duration::from_secs(3),
            "{only:?}: {took:?}"
        );
        assert_eq!(proxy.injected(), 3, "{only:?}: {:#?}", proxy.log());
    }
}

#[tokio::test]
async fn one_stall_or_reset_in_any_position_is_retried_and_the_image_completes() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    for (i, only) in positions().into_iter().enumerate() {
        for (j, fault) in [
            Fault::StallFirst {
                n: 1,
                only: only.clone(),
            },
            Fault::DropFirst {
                n: 1,
                only: only.clone(),
            },
        ]
        .into_iter()
        .enumerate()
        {
            let img = TestImage::new(tmp.path(), 50 + (i * 2 + j) as u64, 100 << 10, "arm64");
            let proxy = FaultProxy::start(&reg.host(), fault);
            let client = client(fast_options(tmp.path()));
            let r = reference(&format!("{}/once/p{i}-{j}:v1", proxy.host()));
            let started = Instant::now();
            round_trip(&client, &img, &r, tmp.path())
                .await
                .unwrap_or_else(|e| panic!("{only:?} #{j}: {e}"));
            assert!(started.elapsed() < Duration::from_secs(5));
            assert_eq!(proxy.injected(), 1, "{only:?}: {:#?}", proxy.log());
        }
    }
}

#[tokio::test]
async fn bodies_cut_short_or_stalled_are_retried_and_blobs_resume_with_range() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let faults = [
        Fault::TruncateFirst {
            n: 2,
            keep: 100,
            only: RequestMatch::on("GET", "/manifests/"),
        },
        Fault::TruncateFirst {
            n: 2,
            keep: 64 << 10,
            only: RequestMatch::on("GET", "/blobs/sha256"),
        },
        Fault::StallBodyFirst {
            n: 1,
            keep: 10,
            only: RequestMatch::on("GET", "/blobs/sha256"),
        },
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let img = TestImage::new(tmp.path(), 60 + i as u64, 1 << 20, "amd64");
        let direct = client(fast_options(tmp.path()));
        let r = reference(&format!("{}/cut/p{i}:v1", reg.host()));
        img.push(&direct, &r).await;
        let proxy = FaultProxy::start(&reg.host(), fault.clone());
        let mut opts = fast_options(tmp.path());
        let events = Events::attach(&mut opts);
        let client = client(opts);
        let r = reference(&format!("{}/cut/p{i}:v1", proxy.host()));
        round_trip(&client, &img, &r, tmp.path())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert!(proxy.injected() >= 1, "{fault:?}");
        assert!(
            events.count(|e| matches!(e, RegistryEvent::Retrying { .. })) >= 1,
            "{fault:?}"
        );
    }
    // The cut blob downloads asked for the rest only, and the registry sent just that.
    let layer_gets = reg.requests("GET", "/v2/cut/p1/blobs/");
    assert!(
        layer_gets.iter().any(|e| e.status == 206),
        "{layer_gets:#?}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..2 {
        let retry_after = match i {
            0 => "2".to_owned(),
            _ => httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3)),
        };
        let proxy = FaultProxy::start(
            &reg.host(),
            Fault::RetryAfterFirst {
                n: 1,
                retry_after: retry_after.clone(),
                only: RequestMatch::on("HEAD", "/blobs/sha256"),
            },
        );
        let mut opts = fast_options(tmp.path());
        let events = Events::attach(&mut opts);
        let client = client(opts);
        let r = reference(&format!("{}/later/p{i}", proxy.host()));
        let blob = BlobUpload::from_bytes(noise(70 + i as u64, 1000));
        let started = Instant::now();
        client.push_blob(&r, &blob, None).await.unwrap();
        let took = started.elapsed();
        // An HTTP date has whole seconds: at least one full second is left of "now + 3".
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
            "Retry-After: {retry_after}: {took:?}: {:#?} {:#?}",
            events.all(),
            proxy.log()
        );
        let delays: Vec<Duration> = events
            .all()
            .into_iter()
            .filter_map(|e| match e {
                RegistryEvent::Retrying { delay, .. } => Some(delay),
                _ => None,
            })
            .collect();
        assert_eq!(delays.len(), 1, "{delays:?}");
        assert_eq!(proxy.injected(), 1);
    }
}

#[tokio::test]
async fn a_slow_upload_that_keeps_moving_is_not_cut() {
    let reg = Registry::start(RegistryKind::Plain);
    // 8 MiB at 2 MiB/s: about four seconds, four times the idle timeout.
    let proxy = FaultProxy::start(
        &reg.host(),
        Fault::TrickleFirst {
            n: 1,
            bytes_per_sec: 2 << 20,
            only: RequestMatch::method("PATCH"),
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = fast_options(tmp.path());
    opts.timeouts.idle = Duration::from_secs(1);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    let img = TestImage::new(tmp.path(), 80, 8 << 20, "amd64");
    let r = reference(&format!("{}/slow/app:v1", proxy.host()));
    let started = Instant::now();
    client.push_blob(&r, &img.layer, None).await.unwrap();
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "{:?} {:#?}",
        started.elapsed(),
        events
            .all()
            .into_iter()
            .filter(|e| matches!(e, RegistryEvent::Retrying { .. }))
            .collect::<Vec<_>>()
    );
    assert_eq!(proxy.injected(), 1);
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::Retrying { .. })),
        0,
        "{:#?}",
        events.all()
    );
    assert_eq!(reg.requests("PATCH", "/v2/slow/app/").len(), 1);
}
