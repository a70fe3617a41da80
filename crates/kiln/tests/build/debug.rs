//! `kiln debug`: Skaffold's debug build (optimizations and trimpath off, one platform) and
//! its Go transform of the manifests, as a snapshot.

use std::process::Command;

use crate::support::{Layout, Project, digest_of, file_in_layer, run_ok};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

#[test]
fn debug_builds_one_unoptimized_platform_and_rewrites_the_manifests_for_delve() {
    let project = Project::new("multi");
    let out = tempfile::tempdir().unwrap();
    let layout_dir = out.path().join("layout");
    let manifests = out.path().join("debug.yaml");
    let refs = project.kiln_ok(
        &[
            "debug",
            "--push=false",
            "--oci-layout-path",
            layout_dir.to_str().unwrap(),
            "--render-output",
            manifests.to_str().unwrap(),
        ],
        ENV,
    );
    assert_eq!(refs.len(), 2, "{refs:?}");
    let layout = Layout(layout_dir);

    // beta asks for linux/amd64 and linux/arm64; a debug build has one platform: a plain
    // manifest, not an index.
    let beta = layout.json(digest_of(&refs[1]));
    assert!(beta.get("manifests").is_none(), "{beta}");
    assert_eq!(
        beta["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );

    // The binary in the image says how it was built.
    let alpha = layout.json(digest_of(&refs[0]));
    let binary_layer = alpha["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let binary = out.path().join("alpha");
    std::fs::write(
        &binary,
        file_in_layer(&layout, &binary_layer, "ko-app/alpha"),
    )
    .unwrap();
    let build_info = run_ok(Command::new("go").args(["version", "-m"]).arg(&binary));
    assert!(
        build_info.contains("build\t-gcflags=\"all=-N -l\""),
        "{build_info}"
    );
    assert!(!build_info.contains("-trimpath=true"), "{build_info}");

    let expected = include_str!("../fixtures/debug/app.debug.yaml")
        .replace("ALPHA", &refs[0])
        .replace("BETA", &refs[1]);
    assert_eq!(std::fs::read_to_string(&manifests).unwrap(), expected);
}
