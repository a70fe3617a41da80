//! `kiln build --push` against the real CNCF registry, checked with skopeo and the
//! registry's own access log, never with kiln's reader.

use std::process::Command;

use kiln_testkit::{Fault, FaultProxy, Registry, RegistryKind, RequestMatch, Skopeo};

use crate::support::{Layout, Project, digest_of, pull, run_ok, sha256_hex};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

fn skopeo() -> Skopeo {
    Skopeo {
        tls_verify: false,
        cert_dir: None,
        creds: None,
    }
}

#[test]
fn pushed_images_resolve_to_the_printed_digest_run_and_an_unchanged_rebuild_uploads_nothing() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let args = ["build", "--push", "-d", repo.as_str()];
    let refs = project.kiln_ok(&args, ENV);
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(
        refs[0].starts_with(&format!("{repo}/alpha:v1.2.3@sha256:")),
        "{refs:?}"
    );
    assert!(
        refs[1].starts_with(&format!("{repo}/beta:v1.2.3@sha256:")),
        "{refs:?}"
    );
    for reference in &refs {
        let raw = skopeo()
            .inspect_raw_bytes(reference.split('@').next().unwrap())
            .unwrap();
        assert_eq!(
            format!("sha256:{}", sha256_hex(&raw)),
            digest_of(reference),
            "the tag points at the printed digest"
        );
    }
    let (_dir, layout) = pull(&refs[0]);
    let manifest_digest = layout.entry("pulled")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        layout
            .run(&manifest_digest)
            .contains("hello from alpha v1.2.3-v1.2.3")
    );

    let uploads = |r: &Registry| r.requests("PATCH", "/blobs/uploads/").len();
    let before = uploads(&registry);
    assert!(before > 0);
    assert_eq!(
        project.kiln_ok(&args, ENV),
        refs,
        "same source, same references"
    );
    assert_eq!(
        uploads(&registry),
        before,
        "an unchanged rebuild uploads no blob"
    );
}

#[test]
fn a_docker_base_on_the_same_registry_is_mounted_and_its_media_types_are_kept() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    // Seed a Docker schema 2 base with skopeo, from an image kiln wrote to a layout.
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "seed",
            "-b",
            "beta",
            "--platform",
            "linux/amd64",
        ],
        ENV,
    );
    let base = format!("{}/bases/docker-base:1", registry.host());
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false", "--format", "v2s2"])
            .arg(format!(
                "oci:{}:beta:v1.2.3",
                project.path().join("seed").display()
            ))
            .arg(format!("docker://{base}")),
    );
    project.use_base("alpha", &base);

    let repo = format!("{}/team", registry.host());
    let refs = project.kiln_ok(&["build", "--push", "-d", &repo, "-b", "alpha"], ENV);
    let manifest = skopeo()
        .inspect_raw(refs[0].split('@').next().unwrap())
        .unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5, "3 base layers + kodata + binary");
    assert!(
        layers
            .iter()
            .all(|l| l["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip")
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.name"],
        base
    );
    let base_raw = skopeo().inspect_raw_bytes(&base).unwrap();
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.digest"],
        format!("sha256:{}", sha256_hex(&base_raw))
    );
    for base_layer in &layers[..3] {
        let digest = base_layer["digest"].as_str().unwrap();
        let mounts: Vec<_> = registry
            .requests("POST", digest.trim_start_matches("sha256:"))
            .into_iter()
            .filter(|r| r.path.contains("/v2/team/alpha/"))
            .collect();
        assert!(
            mounts.iter().any(|r| r.status == 201),
            "{digest} mounted: {mounts:?}"
        );
    }
    let (_dir, layout) = pull(&refs[0]);
    let digest = layout.entry("pulled")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(layout.run(&digest).contains("hello from alpha"));
}

#[test]
fn refused_credentials_fail_with_a_clear_message_and_no_secret() {
    let registry = Registry::start(RegistryKind::htpasswd("kiln", "right-pass-9f3a"));
    let project = Project::new("multi");
    let config_dir = project.cache.path().join("docker");
    registry.write_docker_config(&config_dir, "kiln", "wrong-pass-7c1d");
    let repo = format!("{}/team", registry.host());
    let config = config_dir.display().to_string();
    let mut env = ENV.to_vec();
    env.push(("DOCKER_CONFIG", config.as_str()));
    let out = project.kiln(
        &["build", "--push", "-d", &repo, "-b", "alpha", "-v", "debug"],
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("401") && stderr.contains(&registry.host()),
        "{stderr}"
    );
    let leaked_b64 = "a2lsbjp3cm9uZy1wYXNzLTdjMWQ"; // base64("kiln:wrong-pass-7c1d"), unpadded prefix
    for secret in ["wrong-pass-7c1d", leaked_b64] {
        assert!(
            !stderr.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret),
            "{stderr}"
        );
    }
    registry.write_docker_config(&config_dir, "kiln", "right-pass-9f3a");
    let refs = project.kiln_ok(&["build", "--push", "-d", &repo, "-b", "alpha"], &env);
    assert!(refs[0].starts_with(&format!("{repo}/alpha:v1.2.3@sha256:")));
}

#[test]
fn a_push_that_fails_midway_leaves_no_tag_and_a_rerun_completes() {
    let registry = Registry::start(RegistryKind::Plain);
    // Every blob upload through the proxy fails, as if the registry died mid-push.
    let proxy = FaultProxy::start(
        &registry.host(),
        Fault::Fail5xxFirst {
            n: usize::MAX,
            only: RequestMatch::method("PATCH"),
        },
    );
    let project = Project::new("multi");
    let through_proxy = format!("{}/team", proxy.host());
    let out = project.kiln(
        &["build", "--push", "-d", &through_proxy, "-b", "alpha"],
        ENV,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("503") && stderr.contains("3 attempts"),
        "{stderr}"
    );
    let tag = format!("{}/team/alpha:v1.2.3", registry.host());
    assert!(
        skopeo().inspect_raw(&tag).is_err(),
        "no tag after a failed push"
    );
    assert!(
        registry.requests("PUT", "/manifests/").is_empty(),
        "no manifest was written"
    );

    let direct = format!("{}/team", registry.host());
    let refs = project.kiln_ok(&["build", "--push", "-d", &direct, "-b", "alpha"], ENV);
    assert!(skopeo().inspect_raw(&tag).is_ok(), "{refs:?}");
}

#[test]
fn a_digest_pinned_base_builds_without_its_registry_once_cached() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "seed",
            "-b",
            "beta",
            "--platform",
            "linux/amd64",
        ],
        ENV,
    );
    let base = format!("{}/bases/static:1", registry.host());
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!(
                "oci:{}:beta:v1.2.3",
                project.path().join("seed").display()
            ))
            .arg(format!("docker://{base}")),
    );
    let digest = format!(
        "sha256:{}",
        sha256_hex(&skopeo().inspect_raw_bytes(&base).unwrap())
    );
    project.use_base("alpha", &format!("{base}@{digest}"));
    let args = [
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "alpha",
    ];
    let first = project.kiln_ok(&args, ENV);
    drop(registry);
    let second = project.kiln_ok(&args, ENV);
    assert_eq!(
        first, second,
        "the cached base gives the same image with the registry gone"
    );
    let layout = Layout(project.path().join("out"));
    assert!(
        layout
            .run(digest_of(&second[0]))
            .contains("hello from alpha")
    );
}

#[test]
fn a_tls_registry_with_a_private_ca_serves_an_index_base_and_takes_an_index() {
    let (user, pass) = ("kiln", "tls-pass-4e2b");
    let registry = Registry::start(RegistryKind::Tls {
        htpasswd: Some((user.into(), pass.into())),
    });
    let tls = registry.tls().unwrap();
    let seeder = Skopeo {
        tls_verify: true,
        cert_dir: Some(tls.ca_dir.clone()),
        creds: Some((user.into(), pass.into())),
    };
    let project = Project::new("multi");
    // beta is a 2-platform index: seed it as the base.
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "seed",
            "-b",
            "beta",
        ],
        ENV,
    );
    let base = format!("{}/bases/multi:1", registry.host());
    seeder
        .copy(
            &format!("oci:{}:beta:v1.2.3", project.path().join("seed").display()),
            &base,
        )
        .unwrap();
    project.use_base("alpha", &base);

    let docker_config = project.cache.path().join("docker");
    registry.write_docker_config(&docker_config, user, pass);
    let (ca, config) = (
        tls.ca_cert.display().to_string(),
        docker_config.display().to_string(),
    );
    let mut env = ENV.to_vec();
    env.extend([
        ("SSL_CERT_FILE", ca.as_str()),
        ("DOCKER_CONFIG", config.as_str()),
    ]);
    let repo = format!("{}/team", registry.host());
    let refs = project.kiln_ok(
        &[
            "build",
            "--push",
            "-d",
            &repo,
            "-b",
            "alpha",
            "--platform",
            "linux/amd64,linux/arm64",
        ],
        &env,
    );
    let index = seeder
        .inspect_raw(refs[0].split('@').next().unwrap())
        .unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let archs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.name"],
        base
    );

    // Without the CA, the certificate failure is reported as one, with the way out.
    let env_without_ca: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "SSL_CERT_FILE")
        .cloned()
        .collect();
    let out = project.kiln(
        &["build", "--push", "-d", &repo, "-b", "alpha"],
        &env_without_ca,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("certificate") && stderr.contains("--insecure-registry"),
        "{stderr}"
    );
}

#[test]
fn pushing_the_same_image_to_another_repository_mounts_instead_of_uploading() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let first = format!("{}/staging", registry.host());
    let second = format!("{}/production", registry.host());
    project.kiln_ok(&["build", "--push", "-d", &first, "-b", "alpha"], ENV);
    let refs = project.kiln_ok(&["build", "--push", "-d", &second, "-b", "alpha"], ENV);
    assert!(refs[0].starts_with(&format!("{second}/alpha:")), "{refs:?}");
    let layer_uploads: Vec<_> = registry.requests("PATCH", "/v2/production/");
    // Only the config (kept in memory, not remembered) may be uploaded; every layer mounts.
    assert!(layer_uploads.len() <= 1, "{layer_uploads:?}");
    let mounts = registry.requests("POST", "from=staging");
    assert!(
        mounts.iter().filter(|r| r.status == 201).count() >= 3,
        "{mounts:?}"
    );
}

#[test]
fn a_base_on_another_registry_is_copied_into_the_target() {
    let bases = Registry::start(RegistryKind::Plain);
    let target = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "seed",
            "-b",
            "beta",
            "--platform",
            "linux/amd64",
        ],
        ENV,
    );
    let base = format!("{}/bases/static:1", bases.host());
    skopeo()
        .copy(
            &format!("oci:{}:beta:v1.2.3", project.path().join("seed").display()),
            &base,
        )
        .unwrap();
    project.use_base("alpha", &base);
    // A fresh cache: kiln holds none of the base's layers and must fetch them.
    let fresh = tempfile::tempdir().unwrap();
    let cache = fresh.path().display().to_string();
    let mut env = ENV.to_vec();
    env.push(("KILN_CACHE", cache.as_str()));
    let repo = format!("{}/team", target.host());
    let refs = project.kiln_ok(&["build", "--push", "-d", &repo, "-b", "alpha"], &env);
    let fetched = bases.requests("GET", "/blobs/sha256:").len();
    assert!(
        fetched >= 3,
        "the base's layers were fetched from their registry: {fetched}"
    );
    let (_dir, layout) = pull(&refs[0]);
    let digest = layout.entry("pulled")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(layout.run(&digest).contains("hello from alpha"));
}

#[test]
fn the_binary_layer_is_uploaded_while_compressed_and_a_failed_stream_falls_back() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let args = |repo: &str| {
        [
            "build",
            "--push",
            "-d",
            repo,
            "-b",
            "alpha",
            "-v",
            "debug",
            "--cache-artifacts=false",
        ]
        .map(str::to_owned)
    };
    let direct = format!("{}/stream", registry.host());
    let out = project.kiln(&args(&direct).each_ref().map(String::as_str), ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("uploaded blob while it was written"),
        "{stderr}"
    );
    // What skopeo pulls from the registry runs.
    let output_of = |reference: &str| {
        let (_dir, pulled) = pull(reference);
        let entry = pulled.entry("pulled");
        pulled.run(entry["digest"].as_str().unwrap())
    };
    let reference = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(output_of(&reference).contains("hello from alpha"));

    // The streamed PATCH fails: the push uploads the layer from the store instead, and the
    // image is whole. The repository already holds the base and kodata layers (pushed once
    // directly), so the only upload of the edited build, which makes a new binary layer, is
    // the streamed one.
    let direct_fallback = format!("{}/fallback", registry.host());
    project.kiln_ok(&args(&direct_fallback).each_ref().map(String::as_str), ENV);
    let proxy = FaultProxy::start(
        &registry.host(),
        Fault::Fail5xxFirst {
            n: 1,
            only: RequestMatch::method("PATCH"),
        },
    );
    let main = project.path().join("cmd/alpha/main.go");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{source}\n// an edit\n")).unwrap();
    let through_proxy = format!("{}/fallback", proxy.host());
    let out = project.kiln(&args(&through_proxy).each_ref().map(String::as_str), ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("streamed layer upload failed"), "{stderr}");
    let tag = format!("{}/fallback/alpha:v1.2.3", registry.host());
    assert!(output_of(&tag).contains("hello from alpha"));
}

/// The base and kodata layers are known before `go build` starts, so they go up while Go
/// compiles: the registry has them before the binary layer, which can only be written
/// (and streamed) after the build.
#[test]
fn base_and_kodata_layers_are_pushed_before_the_binary_layer() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let repo = format!("{}/early", registry.host());
    project.kiln_ok(
        &[
            "build",
            "--push",
            "-d",
            &repo,
            "-b",
            "alpha",
            "--cache-artifacts=false",
        ],
        ENV,
    );
    let raw = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{repo}/alpha:v1.2.3")),
    );
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        layers.len() >= 3,
        "base, kodata and binary layers: {layers:?}"
    );
    // Where in the access log each layer's upload was committed (its final PUT).
    let log = registry.access_log();
    let committed = |digest: &str| {
        log.iter()
            .position(|e| {
                e.method == "PUT"
                    && e.path
                        .contains(&format!("digest={}", digest.replace(':', "%3A")))
            })
            .unwrap_or_else(|| panic!("no upload of {digest} in {log:?}"))
    };
    let binary = committed(layers.last().unwrap());
    for earlier in &layers[..layers.len() - 1] {
        assert!(
            committed(earlier) < binary,
            "{earlier} was committed after the binary layer"
        );
    }
}
