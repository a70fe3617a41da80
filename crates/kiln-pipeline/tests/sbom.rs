//! SBOMs end to end: a real `go build` of a fixture module with vendored dependencies (one of
//! them replaced by another module), its SPDX documents checked by the SPDX project's own
//! validator (`pyspdxtools`, which shares no code with kiln), an artifact-cache hit that
//! still has them, and cosign-style tag attachment read back with skopeo from a real
//! registry (Distribution 2.8, which has no referrers API).
//!
//! Needs Go on PATH, `pyspdxtools` (`scripts/ensure-spdx-tools.sh`), and for the registry
//! test docker-registry and skopeo — `scripts/test.sh` installs all of them.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use kiln_core::platform::PlatformRequest;
use kiln_core::{Digest, Reference};
use kiln_gobuild::Toolchain;
use kiln_image::Descriptor;
use kiln_image::spec::annotation;
use kiln_pipeline::artifact::SbomAttach;
use kiln_pipeline::push::{attach_sboms, push_artifact};
use kiln_pipeline::sbom::{SPDX_MEDIA_TYPE, sbom_tag, write_sbom_dir};
use kiln_pipeline::{ArtifactPlan, BaseSpec, BuiltArtifact, Context, Event, GoSettings};
use kiln_registry::{Client, ClientOptions, Env};
use kiln_testkit::{Registry, RegistryKind, validate_spdx as validate};
use serde_json::Value;
use tempfile::TempDir;

/// What the builtin base is called in the annotations of these tests: it has no registry
/// name of its own, and ko lists a base in the SBOM only when it has one.
const BASE_NAME: &str = "registry.example/base/static:v1";

/// The fixture project copied to a temp dir, a cache dir, and a context over it.
struct Setup {
    project: TempDir,
    cache: TempDir,
    ctx: Context,
    events: Arc<Mutex<Vec<Event>>>,
}

async fn setup() -> Setup {
    let project = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sbom-app");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixture.display()))
        .arg(project.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let cache = tempfile::tempdir().unwrap();
    let toolchain = Toolchain::discover(None, kiln_core::env::Env::from_vars(std::env::vars_os()))
        .await
        .expect("go on PATH");
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let ctx = Context::new(
        toolchain,
        cache.path(),
        2,
        Arc::new(move |e| sink.lock().unwrap().push(e)),
    )
    .unwrap()
    .with_artifact_cache();
    Setup {
        project,
        cache,
        ctx,
        events,
    }
}

async fn sbom_plan(s: &Setup, repository: &str) -> ArtifactPlan {
    let dir = s.project.path().to_owned();
    let go_env = vec![
        ("CGO_ENABLED".to_owned(), "0".to_owned()),
        ("GOFLAGS".to_owned(), "-mod=vendor".to_owned()),
        ("GOPROXY".to_owned(), "off".to_owned()),
        // Shared with kiln's other Go tests: the standard library compiles once per machine.
        (
            "GOCACHE".to_owned(),
            std::env::temp_dir()
                .join("kiln-tests-gocache")
                .display()
                .to_string(),
        ),
    ];
    let package = s
        .ctx
        .toolchain
        .resolve_main(&dir, ".", &go_env, &|_| {})
        .await
        .unwrap();
    ArtifactPlan {
        config_warnings: Vec::new(),
        image: "sbomapp".into(),
        runtime_type: None,
        requires: Vec::new(),
        repository: repository.into(),
        tag: "v1".into(),
        extra_tags: Vec::new(),
        workspace: dir.clone(),
        dependencies: kiln_config::Dependencies {
            paths: vec!["**/*.go".into()],
            ignore: Vec::new(),
        },
        ko_config_path: None,
        go_dir: dir,
        package,
        base: BaseSpec::Builtin,
        platforms: PlatformRequest::parse(&["linux/amd64", "linux/arm64"]).unwrap(),
        go: GoSettings {
            env: go_env,
            flags: Vec::new(),
            ldflags: Vec::new(),
            templates: None,
        },
        labels: Default::default(),
        annotations: [(annotation::BASE_NAME.to_owned(), BASE_NAME.to_owned())].into(),
        user: None,
        trimpath: true,
        disable_optimizations: false,
        source_date_epoch: None,
        kodata_date_epoch: None,
        kodata_allowed_root: None,
        sbom: true,
        linux_capabilities: None,
        compression: Default::default(),
    }
}

fn purls(doc: &Value) -> Vec<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().unwrap())
        .map(|r| r["referenceLocator"].as_str().unwrap().to_owned())
        .collect()
}

fn package<'d>(doc: &'d Value, name: &str) -> &'d Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

#[tokio::test]
async fn sboms_validate_list_the_go_modules_and_survive_a_cache_hit() {
    let s = setup().await;
    let plan = sbom_plan(&s, "registry.example/sbomapp").await;
    let built = kiln_pipeline::build_artifact(&s.ctx, &plan).await.unwrap();
    let sboms = built.sboms.clone().expect("the plan asked for SBOMs");
    assert_eq!(sboms.images.len(), 2);
    assert!(sboms.index.is_some(), "two platforms make an index");

    let dir = s.cache.path().join("sboms");
    let files = write_sbom_dir(&s.ctx.store, &dir, &built).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "sbomapp-linux-amd64.spdx.json",
            "sbomapp-linux-arm64-v8.spdx.json",
            "sbomapp-index.spdx.json"
        ]
    );
    for file in &files {
        validate(file);
    }

    for (file, image) in files.iter().zip(&built.images) {
        let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let purls = purls(&doc);
        for want in [
            "pkg:golang/example.com/sbomapp@(devel)?type=module",
            "pkg:golang/example.com/greet@v1.2.3?type=module",
            // The replacement is what was compiled in.
            "pkg:golang/example.com/fork@v1.0.1?type=module",
        ] {
            assert!(purls.iter().any(|p| p == want), "{want} in {purls:#?}");
        }
        assert_eq!(
            package(&doc, "example.com/fork")["sourceInfo"],
            "replaces example.com/fake v0.3.0"
        );
        let digest = image.manifest.digest.to_string();
        assert_eq!(doc["name"], format!("sbom-{digest}"));
        assert!(
            purls[0].starts_with(&format!(
                "pkg:oci/image@{digest}?arch={}",
                image.platform.architecture
            )),
            "{}",
            purls[0]
        );
        assert!(
            purls
                .iter()
                .any(|p| p.contains("repository_url=registry.example%2Fbase%2Fstatic&tag=v1")),
            "the base is listed: {purls:#?}"
        );
        // `created` is the image's own, not the clock's: the builtin base is dated 1970.
        assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    }
    let index: Value = serde_json::from_slice(&std::fs::read(&files[2]).unwrap()).unwrap();
    for image in &built.images {
        assert!(
            purls(&index)
                .iter()
                .any(|p| p.starts_with(&format!("pkg:oci/image@{}?", image.manifest.digest)))
        );
    }

    // Unchanged inputs: no go build, and the same SBOMs come back from the cache.
    let again = kiln_pipeline::build_artifact(&s.ctx, &plan).await.unwrap();
    assert!(
        s.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::ArtifactCacheHit { .. })),
        "second build was a cache hit"
    );
    assert_eq!(again.sboms, Some(sboms.clone()));

    // A cold build of another copy (another cache, so the binary is at another path) makes
    // the same images, hence the same documents: nothing in them depends on where or when
    // they were made.
    let elsewhere = setup().await;
    let cold_plan = sbom_plan(&elsewhere, "registry.example/sbomapp").await;
    let cold = kiln_pipeline::build_artifact(&elsewhere.ctx, &cold_plan)
        .await
        .unwrap();
    assert_eq!(cold.top, built.top);
    assert_eq!(cold.sboms, Some(sboms));
}

fn client(home: &Path) -> Client {
    let env = Env::from_vars([("HOME", home.as_os_str())]);
    let mut options = ClientOptions::with_env("kiln-test/0", env);
    options.certs_dirs = Vec::new();
    Client::new(options).unwrap()
}

#[tokio::test]
async fn sboms_attach_by_tag_where_the_registry_has_no_referrers_api() {
    let registry = Registry::start(RegistryKind::Plain);
    let s = setup().await;
    let plan = sbom_plan(&s, &registry.reference("team/sbomapp")).await;
    let built: BuiltArtifact = kiln_pipeline::build_artifact(&s.ctx, &plan).await.unwrap();
    let client = client(s.cache.path());
    let target: Reference = plan.tagged_name().parse().unwrap();
    push_artifact(&client, &s.ctx.store, None, &built, &target)
        .await
        .unwrap();

    let refused = attach_sboms(&client, &s.ctx.store, &target, &built, SbomAttach::Referrer)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("no OCI referrers API"),
        "{refused}"
    );

    let attached = attach_sboms(&client, &s.ctx.store, &target, &built, SbomAttach::Auto)
        .await
        .unwrap();
    let sboms = built.sboms.as_ref().unwrap();
    let mut subjects: Vec<(Digest, Descriptor)> = built
        .images
        .iter()
        .zip(&sboms.images)
        .map(|(image, sbom)| (image.manifest.digest.clone(), sbom.clone()))
        .collect();
    subjects.push((built.top.digest.clone(), sboms.index.clone().unwrap()));
    assert_eq!(attached.len(), subjects.len(), "two images and the index");
    let skopeo = registry.skopeo();
    for ((subject, sbom), reference) in subjects.iter().zip(&attached) {
        assert_eq!(reference.tag.as_deref(), Some(sbom_tag(subject).as_str()));
        let name = registry.reference(&format!("team/sbomapp:{}", sbom_tag(subject)));
        let manifest = skopeo.inspect_raw(&name).unwrap();
        assert_eq!(
            manifest["config"]["mediaType"],
            kiln_core::media_type::OCI_CONFIG
        );
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], SPDX_MEDIA_TYPE);
        assert_eq!(layers[0]["digest"], sbom.digest.to_string());

        // The layer itself, fetched by skopeo, is the SPDX document kiln made.
        let copy = tempfile::tempdir().unwrap();
        skopeo
            .copy(&name, &format!("dir:{}", copy.path().display()))
            .unwrap();
        let fetched = std::fs::read(copy.path().join(sbom.digest.hex())).unwrap();
        assert_eq!(fetched, s.ctx.store.read(&sbom.digest).unwrap());
        let doc: Value = serde_json::from_slice(&fetched).unwrap();
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    }

    // Attaching again changes nothing (the tags already point at the same manifests).
    let before = registry.requests("PUT", "/manifests/").len();
    attach_sboms(&client, &s.ctx.store, &target, &built, SbomAttach::Tag)
        .await
        .unwrap();
    assert_eq!(registry.requests("PUT", "/manifests/").len(), before);
}
