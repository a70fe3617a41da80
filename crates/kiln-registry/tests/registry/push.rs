//! Push and pull on a plain (loopback, HTTP) registry.

use futures_util::future::join_all;
use kiln_core::Digest;
use kiln_core::media_type::{OCI_INDEX, OCI_MANIFEST};
use kiln_registry::{BlobPush, BlobUpload, Error, RegistryEvent};
use kiln_testkit::{Registry, RegistryKind};

use crate::common::*;

#[tokio::test]
async fn push_from_file_and_bytes_then_read_back_with_skopeo_and_client() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[]);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    // 3 MiB: several upload chunks, so progress is reported more than once.
    let img = TestImage::new(tmp.path(), 1, 3 << 20, "amd64");
    let r = reference(&reg.reference("team/app:v1"));

    assert_eq!(
        client.push_blob(&r, &img.layer, None).await.unwrap(),
        BlobPush::Uploaded
    );
    assert_eq!(
        client.push_blob(&r, &img.config, None).await.unwrap(),
        BlobPush::Uploaded
    );
    let digest = client
        .put_manifest(&r, OCI_MANIFEST, &img.manifest)
        .await
        .unwrap();
    assert_eq!(digest, Digest::of(&img.manifest));

    // skopeo sees exactly our bytes.
    let raw = reg
        .skopeo()
        .inspect_raw_bytes(&reg.reference("team/app:v1"))
        .unwrap();
    assert_eq!(raw, img.manifest);

    // And so does a second read through our client, by tag and by digest.
    let m = client.get_manifest(&r, &[]).await.unwrap();
    assert_eq!(
        (m.bytes.as_slice(), m.media_type.as_str(), &m.digest),
        (img.manifest.as_slice(), OCI_MANIFEST, &digest)
    );
    let by_digest = client
        .get_manifest(&r.with_digest(digest.clone()), &[OCI_MANIFEST])
        .await
        .unwrap();
    assert_eq!(by_digest.bytes, img.manifest);
    let head = client.head_manifest(&r).await.unwrap().unwrap();
    assert_eq!(
        (head.digest, head.size),
        (digest.clone(), img.manifest.len() as u64)
    );
    assert_eq!(head.media_type, OCI_MANIFEST);
    assert_eq!(
        client.head_manifest(&r.with_tag("nope")).await.unwrap(),
        None
    );

    let config = client.get_blob_bytes(&r, &img.config.digest).await.unwrap();
    assert_eq!(Digest::of(&config), img.config.digest);
    let dest = tmp.path().join("out/layer");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    assert_eq!(
        client
            .download_blob(&r, &img.layer.digest, &dest)
            .await
            .unwrap(),
        img.layer.size
    );
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(&img.layer_path).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temp files left next to the download"
    );
    assert!(client.blob_exists(&r, &img.layer.digest).await.unwrap());
    assert!(
        !client
            .blob_exists(&r, &Digest::of(b"absent"))
            .await
            .unwrap()
    );

    // Plain HTTP was chosen after probing, and the upload reported progress up to its size.
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::PlainHttp { .. })),
        1
    );
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::BlobUploaded { .. })),
        2
    );
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::ManifestPushed { .. })),
        1
    );
    let progress: Vec<u64> = events
        .all()
        .iter()
        .filter_map(|e| match e {
            RegistryEvent::BlobProgress {
                digest, bytes_sent, ..
            } if *digest == img.layer.digest => Some(*bytes_sent),
            _ => None,
        })
        .collect();
    assert!(
        progress.len() > 1 && progress.windows(2).all(|w| w[0] < w[1]),
        "{progress:?}"
    );
    assert_eq!(progress.last(), Some(&img.layer.size));

    // ggcr's protocol on the wire: POST, one PATCH, PUT ?digest= per blob.
    let log = reg.access_log();
    let patches: Vec<_> = log.iter().filter(|e| e.method == "PATCH").collect();
    assert_eq!(patches.len(), 2, "{log:#?}");
    assert!(patches.iter().all(|e| e.status == 202));
    let puts: Vec<_> = log
        .iter()
        .filter(|e| e.method == "PUT" && e.path.contains("digest=sha256"))
        .collect();
    assert_eq!(puts.len(), 2);
    assert!(
        puts.iter()
            .all(|e| e.status == 201 && e.path.contains("_state=")),
        "Location's query kept: {puts:#?}"
    );
}

#[tokio::test]
async fn second_push_is_skipped_by_head() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = options(tmp.path(), &[]);
    let events = Events::attach(&mut opts);
    let client = client(opts);
    let img = TestImage::new(tmp.path(), 2, 64 << 10, "amd64");
    let r = reference(&reg.reference("app:latest"));
    img.push(&client, &r).await;
    let writes = |reg: &Registry| {
        reg.access_log()
            .iter()
            .filter(|e| matches!(e.method.as_str(), "PATCH" | "PUT" | "POST"))
            .count()
    };
    let before = writes(&reg);

    assert_eq!(
        client.push_blob(&r, &img.layer, None).await.unwrap(),
        BlobPush::AlreadyPresent
    );
    assert_eq!(
        client.push_blob(&r, &img.config, None).await.unwrap(),
        BlobPush::AlreadyPresent
    );
    client
        .put_manifest(&r, OCI_MANIFEST, &img.manifest)
        .await
        .unwrap();

    assert_eq!(
        writes(&reg),
        before,
        "no POST/PATCH/PUT on the second push: {:#?}",
        reg.access_log()
    );
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::BlobSkipped { .. })),
        2
    );
    assert_eq!(
        events.count(|e| matches!(e, RegistryEvent::ManifestSkipped { .. })),
        1
    );
}

#[tokio::test]
async fn cross_repo_mount_and_declined_mount_reuses_the_session() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let img = TestImage::new(tmp.path(), 3, 256 << 10, "amd64");
    let src = reference(&reg.reference("base/img"));
    let dst = reference(&reg.reference("apps/one"));
    assert_eq!(
        client.push_blob(&src, &img.layer, None).await.unwrap(),
        BlobPush::Uploaded
    );

    assert_eq!(
        client
            .push_blob(&dst, &img.layer, Some(&src))
            .await
            .unwrap(),
        BlobPush::Mounted
    );
    let posts = reg.requests("POST", "/v2/apps/one/blobs/uploads/");
    assert_eq!(posts.len(), 1);
    assert!(
        posts[0].path.contains(&format!(
            "mount={}",
            img.layer.digest.to_string().replace(':', "%3A")
        )),
        "{posts:?}"
    );
    assert!(
        posts[0].path.contains("from=base%2Fimg") || posts[0].path.contains("from=base/img"),
        "{posts:?}"
    );
    assert_eq!(posts[0].status, 201);
    assert!(reg.requests("PATCH", "/v2/apps/one/").is_empty());
    assert!(client.blob_exists(&dst, &img.layer.digest).await.unwrap());

    // The source lacks this blob: the registry answers the mount with 202 and an upload
    // session, which must be used (one POST, one PATCH).
    let other = BlobUpload::from_bytes(noise(33, 1000));
    let dst2 = reference(&reg.reference("apps/two"));
    assert_eq!(
        client.push_blob(&dst2, &other, Some(&src)).await.unwrap(),
        BlobPush::Uploaded
    );
    let posts = reg.requests("POST", "/v2/apps/two/blobs/uploads/");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, 202);
    assert!(posts[0].path.contains("mount="));
    assert_eq!(reg.requests("PATCH", "/v2/apps/two/").len(), 1);

    // Another registry as the source: no mount attempted.
    let elsewhere = reference("example.invalid/base/img");
    let third = BlobUpload::from_bytes(noise(34, 10));
    let dst3 = reference(&reg.reference("apps/three"));
    assert_eq!(
        client
            .push_blob(&dst3, &third, Some(&elsewhere))
            .await
            .unwrap(),
        BlobPush::Uploaded
    );
    assert!(
        reg.requests("POST", "/v2/apps/three/")
            .iter()
            .all(|e| !e.path.contains("mount="))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_of_one_blob_share_one_upload() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let img = TestImage::new(tmp.path(), 4, 2 << 20, "amd64");
    let r = reference(&reg.reference("dedupe/app"));
    let results = join_all((0..4).map(|_| {
        let (client, r, blob) = (client.clone(), r.clone(), img.layer.clone());
        tokio::spawn(async move { client.push_blob(&r, &blob, None).await })
    }))
    .await;
    for res in results {
        assert_eq!(res.unwrap().unwrap(), BlobPush::Uploaded);
    }
    assert_eq!(
        reg.requests("PATCH", "/v2/dedupe/app/").len(),
        1,
        "{:#?}",
        reg.access_log()
    );
    assert_eq!(reg.requests("POST", "/v2/dedupe/app/").len(), 1);
    // Once finished, a later push asks the registry again.
    assert_eq!(
        client.push_blob(&r, &img.layer, None).await.unwrap(),
        BlobPush::AlreadyPresent
    );
}

#[tokio::test]
async fn manifest_index_push_and_read_back() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let repo = reference(&reg.reference("multi/app"));
    let mut manifests = Vec::new();
    for (seed, arch) in [(5, "amd64"), (6, "arm64")] {
        let img = TestImage::new(tmp.path(), seed, 10 << 10, arch);
        for blob in [&img.layer, &img.config] {
            client.push_blob(&repo, blob, None).await.unwrap();
        }
        // Children by digest, as ggcr pushes them.
        let d = client
            .put_manifest(
                &repo.with_digest(Digest::of(&img.manifest)),
                OCI_MANIFEST,
                &img.manifest,
            )
            .await
            .unwrap();
        manifests.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": d, "size": img.manifest.len(),
            "platform": {"os": "linux", "architecture": arch},
        }));
    }
    let index = serde_json::to_vec(
        &serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}),
    )
    .unwrap();
    let tagged = repo.with_tag("v2");
    let d = client
        .put_manifest(&tagged, OCI_INDEX, &index)
        .await
        .unwrap();
    assert_eq!(d, Digest::of(&index));

    let raw = reg
        .skopeo()
        .inspect_raw(&reg.reference("multi/app:v2"))
        .unwrap();
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(
        reg.skopeo()
            .inspect_raw_bytes(&reg.reference("multi/app:v2"))
            .unwrap(),
        index
    );
    let got = client.get_manifest(&tagged, &[]).await.unwrap();
    assert_eq!((got.media_type.as_str(), got.bytes), (OCI_INDEX, index));
    let child: Digest = raw["manifests"][1]["digest"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let child = client
        .get_manifest(&repo.with_digest(child), &[])
        .await
        .unwrap();
    assert_eq!(child.media_type, OCI_MANIFEST);
}

#[tokio::test]
async fn registry_errors_carry_the_registry_text() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let r = reference(&reg.reference("missing/app:nope"));
    let err = client.get_manifest(&r, &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    let msg = err.to_string();
    assert!(
        msg.contains("MANIFEST_UNKNOWN")
            && msg.contains(&reg.host())
            && msg.contains("missing/app:nope"),
        "{msg}"
    );

    // A manifest whose blobs are missing: the registry refuses, and says why.
    let img = TestImage::new(tmp.path(), 7, 100, "amd64");
    let err = client
        .put_manifest(&r, OCI_MANIFEST, &img.manifest)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    assert!(
        err.to_string().contains("BLOB_UNKNOWN")
            || err.to_string().contains("MANIFEST_BLOB_UNKNOWN"),
        "{err}"
    );

    // A blob whose bytes do not match its digest: the registry's DIGEST_INVALID, after one try.
    let mut lie = BlobUpload::from_bytes(b"hello".to_vec());
    lie.digest = Digest::of(b"other");
    let err = client.push_blob(&r, &lie, None).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("DIGEST_INVALID"), "{err}");

    // Pinned digest that does not match the bytes: refused before any request.
    let wrong = r.with_digest(Digest::of(b"x"));
    assert!(matches!(
        client
            .put_manifest(&wrong, OCI_MANIFEST, &img.manifest)
            .await
            .unwrap_err(),
        Error::DigestMismatch { .. }
    ));
}

#[tokio::test]
async fn skopeo_seeded_bases_are_readable_and_mountable() {
    let reg = Registry::start(RegistryKind::Plain);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(options(tmp.path(), &[]));
    let img = TestImage::new(tmp.path(), 8, 5000, "amd64");
    img.push(&client, &reference(&reg.reference("base/src:v1")))
        .await;

    // registry → registry, digests preserved.
    kiln_testkit::skopeo_copy(
        &reg.reference("base/src:v1"),
        &reg.reference("base/copy:v1"),
    )
    .unwrap();
    let copy = reference(&reg.reference("base/copy:v1"));
    assert_eq!(
        client.get_manifest(&copy, &[]).await.unwrap().bytes,
        img.manifest
    );
    let app = reference(&reg.reference("apps/on-base"));
    assert_eq!(
        client
            .push_blob(&app, &img.layer, Some(&copy))
            .await
            .unwrap(),
        BlobPush::Mounted
    );

    // OCI layout (made with umoci) → registry.
    let layout = tmp.path().join("layout");
    for args in [vec!["init", "--layout"], vec!["new", "--image"]] {
        let target = if args[0] == "init" {
            layout.display().to_string()
        } else {
            format!("{}:base", layout.display())
        };
        let ok = std::process::Command::new("umoci")
            .args(&args)
            .arg(target)
            .status()
            .unwrap()
            .success();
        assert!(ok, "umoci {args:?}");
    }
    kiln_testkit::skopeo_copy(
        &format!("oci:{}:base", layout.display()),
        &reg.reference("base/empty:v1"),
    )
    .unwrap();
    let m = client
        .get_manifest(&reference(&reg.reference("base/empty:v1")), &[])
        .await
        .unwrap();
    assert_eq!(m.media_type, OCI_MANIFEST);
    let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    let config: Digest = v["config"]["digest"].as_str().unwrap().parse().unwrap();
    let cfg = client
        .get_blob_bytes(&reference(&reg.reference("base/empty")), &config)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&cfg).unwrap()["os"],
        "linux"
    );
}
