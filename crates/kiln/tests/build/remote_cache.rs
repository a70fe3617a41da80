//! The artifact cache shared through the registry: two "runners" (git clones of one
//! repository at different paths, each with its own KILN_CACHE, HOME and GOPATH) push to
//! one real registry. Debian's Distribution 2.8 has no OCI referrers API, so these run on
//! a registry without it. What the registry holds is read with skopeo, never with kiln.

use std::process::Command;

use kiln_testkit::{Registry, RegistryKind, Skopeo};

use crate::support::{Layout, Project, digest_of, git, run_ok, sha256_hex};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];
const BUILT: &str = ": built linux/";
const REUSED: &str = "from the registry (record";
const RECORDED: &str = "recorded in the registry cache as";

fn skopeo() -> Skopeo {
    Skopeo {
        tls_verify: false,
        cert_dir: None,
        creds: None,
    }
}

/// The tags of `repository`, as the registry lists them.
fn tags(repository: &str) -> Vec<String> {
    let out = run_ok(
        Command::new("skopeo")
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{repository}")),
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    json["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn record_tags(repository: &str) -> Vec<String> {
    tags(repository)
        .into_iter()
        .filter(|t| t.starts_with("kiln-cache-"))
        .collect()
}

/// The digest `name:tag` points at, as the registry serves it.
fn tag_digest(name_and_tag: &str) -> String {
    let raw = skopeo().inspect_raw_bytes(name_and_tag).unwrap();
    format!("sha256:{}", sha256_hex(&raw))
}

/// Runs kiln, expecting success; returns (stdout lines, stderr).
fn build(project: &Project, args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
    project.kiln_ok_logged(args, env)
}

fn uploads(registry: &Registry) -> usize {
    registry.requests("POST", "/blobs/uploads/").len()
}

#[test]
fn runner_b_tags_what_runner_a_built_without_building_or_uploading() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("multi");
    let b = Project::clone_of(&a);
    let repo = format!("{}/team", registry.host());
    let (a_refs, a_err) = build(&a, &["build", "--push", "-d", &repo], ENV);
    assert!(a_err.contains(BUILT), "{a_err}");
    assert_eq!(a_err.matches(RECORDED).count(), 2, "{a_err}");
    for image in ["alpha", "beta"] {
        assert_eq!(record_tags(&format!("{repo}/{image}")).len(), 1);
    }
    assert_eq!(
        registry.requests("GET", "/manifests/kiln-cache-").len(),
        2,
        "a miss costs one request per artifact"
    );
    let uploads_by_a = uploads(&registry);
    let before_b = registry.access_log().len();

    let (b_refs, b_err) = build(&b, &["build", "--push", "-d", &repo], ENV);
    let b_requests: Vec<_> = registry.access_log().into_iter().skip(before_b).collect();
    assert!(
        b_requests
            .iter()
            .all(|r| r.method == "GET" || r.method == "HEAD"),
        "reusing wrote nothing (the tags were current): {b_requests:?}"
    );
    assert!(!b_err.contains(BUILT), "runner B ran go build:\n{b_err}");
    assert_eq!(b_err.matches(REUSED).count(), 2, "{b_err}");
    assert_eq!(b_refs, a_refs, "same names, same digests");
    assert_eq!(uploads(&registry), uploads_by_a, "runner B uploaded a blob");

    // A new tag: beta's inputs are unchanged, so it is only tagged; alpha's ldflags
    // carry {{.IMAGE_TAG}}, so its binary changes and it is built.
    let c = Project::clone_of(&a);
    let (c_refs, c_err) = build(&c, &["build", "--push", "-d", &repo, "-t", "next"], ENV);
    assert!(c_err.contains("alpha: built linux/amd64"), "{c_err}");
    assert!(!c_err.contains("beta: built linux/"), "{c_err}");
    assert!(c_err.contains("beta: built before"), "{c_err}");
    assert_eq!(digest_of(&c_refs[1]), digest_of(&a_refs[1]));
    assert_eq!(
        tag_digest(&format!("{repo}/beta:next")),
        digest_of(&a_refs[1]),
        "the new tag is in place"
    );
    // The record names the image as its subject, and carries the artifact key.
    let record_tag = &record_tags(&format!("{repo}/beta"))[0];
    let record = skopeo()
        .inspect_raw(&format!("{repo}/beta:{record_tag}"))
        .unwrap();
    assert_eq!(record["subject"]["digest"], digest_of(&a_refs[1]));
    assert_eq!(
        record["artifactType"],
        "application/vnd.dev.kiln.artifact-record.v1+json"
    );
    assert!(
        record_tag.ends_with(
            &record["annotations"]["dev.kiln.artifact.key"]
                .as_str()
                .unwrap()[7..]
        )
    );
}

#[test]
fn changed_inputs_build_and_a_deleted_image_behind_a_record_is_built_and_recorded_again() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let args = ["build", "--push", "-d", repo.as_str(), "-b", "alpha"];
    let (a_refs, _) = build(&a, &args, ENV);

    let changed = Project::clone_of(&a);
    changed.edit("cmd/alpha/main.go", "\"platform\"", "\"platform:\"");
    git(changed.path(), &["commit", "-qam", "change"]);
    let (changed_refs, err) = build(&changed, &args, ENV);
    assert!(err.contains(BUILT) && !err.contains(REUSED), "{err}");
    assert_ne!(digest_of(&changed_refs[0]), digest_of(&a_refs[0]));

    // Delete A's image (not its record) through the registry API.
    let alpha = format!("{repo}/alpha");
    run_ok(
        Command::new("skopeo")
            .args(["delete", "--tls-verify=false"])
            .arg(format!("docker://{alpha}@{}", digest_of(&a_refs[0]))),
    );
    let c = Project::clone_of(&a);
    let (c_refs, err) = build(&c, &args, ENV);
    assert!(err.contains(BUILT), "{err}");
    assert!(
        err.contains("is gone"),
        "the unusable record is reported:\n{err}"
    );
    assert!(err.contains(RECORDED), "{err}");
    assert_eq!(digest_of(&c_refs[0]), digest_of(&a_refs[0]), "reproducible");

    // Reused with a layout output too: the layers come from the registry, and the image
    // written runs.
    let d = Project::clone_of(&a);
    let (d_refs, err) = build(
        &d,
        &[&args[..], &["--oci-layout-path", "out"]].concat(),
        ENV,
    );
    assert!(err.contains(REUSED) && !err.contains(BUILT), "{err}");
    assert_eq!(d_refs, c_refs);
    let layout = Layout(d.path().join("out"));
    let entry = layout.entry(&format!("{alpha}:v1.2.3"));
    assert_eq!(entry["digest"], digest_of(&d_refs[0]));
    assert!(
        layout
            .run(digest_of(&d_refs[0]))
            .contains("hello from alpha v1.2.3")
    );
}

#[test]
fn two_runners_started_at_once_on_the_same_key_both_succeed_and_agree() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("multi");
    let b = Project::clone_of(&a);
    let repo = format!("{}/team", registry.host());
    let args = ["build", "--push", "-d", repo.as_str()];
    let runners = [a.spawn_kiln(&args, ENV), b.spawn_kiln(&args, ENV)];
    let outputs: Vec<_> = runners
        .into_iter()
        .map(|r| r.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(outputs[0].stdout, outputs[1].stdout, "same digests");
    let refs = String::from_utf8(outputs[0].stdout.clone()).unwrap();
    for (image, reference) in ["alpha", "beta"].iter().zip(refs.lines()) {
        let records = record_tags(&format!("{repo}/{image}"));
        assert_eq!(records.len(), 1, "{records:?}");
        let record = skopeo()
            .inspect_raw(&format!("{repo}/{image}:{}", records[0]))
            .unwrap();
        assert_eq!(record["subject"]["digest"], digest_of(reference));
    }
    // A third runner trusts what they recorded.
    let c = Project::clone_of(&a);
    let (_, err) = build(&c, &args, ENV);
    assert!(err.contains(REUSED) && !err.contains(BUILT), "{err}");
}

#[test]
fn read_only_mode_reuses_but_never_records_and_false_turns_the_cache_off() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let alpha = format!("{repo}/alpha");
    let args = ["build", "--push", "-d", repo.as_str(), "-b", "alpha"];
    let with = |mode: &'static str| [&args[..], &[mode]].concat();

    let (_, err) = build(&a, &with("--remote-cache=read"), ENV);
    assert!(err.contains(BUILT) && !err.contains(RECORDED), "{err}");
    assert!(record_tags(&alpha).is_empty(), "read-only mode recorded");

    let b = Project::clone_of(&a);
    build(&b, &args, ENV);
    assert_eq!(record_tags(&alpha).len(), 1);

    let reader = Project::clone_of(&a);
    let (_, err) = build(&reader, &with("--remote-cache=read"), ENV);
    assert!(err.contains(REUSED) && !err.contains(BUILT), "{err}");

    let off = Project::clone_of(&a);
    let (_, err) = build(&off, &with("--remote-cache=false"), ENV);
    assert!(err.contains(BUILT) && !err.contains(REUSED), "{err}");
}

#[test]
fn ko_build_reuses_across_runners_with_the_sbom_from_the_record() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("kosample");
    git(a.path(), &["tag", "v0.3.0"]);
    let b = Project::clone_of(&a);
    let repo = format!("{}/ko", registry.host());
    let env = [("KO_DOCKER_REPO", repo.as_str())];
    let sboms = tempfile::tempdir().unwrap();
    let sbom_dir = sboms.path().to_str().unwrap();
    let (a_refs, a_err) = build(&a, &["ko", "build", "-B", "./cmd/example"], &env);
    assert!(a_err.contains(RECORDED), "{a_err}");
    let uploads_by_a = uploads(&registry);
    let (b_refs, b_err) = build(
        &b,
        &[
            "ko",
            "build",
            "-B",
            "-t",
            "v2",
            "--sbom-dir",
            sbom_dir,
            "./cmd/example",
        ],
        &env,
    );
    assert!(
        b_err.contains(REUSED) && !b_err.contains(BUILT),
        "runner B built:\n{b_err}"
    );
    assert_eq!(uploads(&registry), uploads_by_a, "runner B uploaded a blob");
    assert_eq!(digest_of(&a_refs[0]), digest_of(&b_refs[0]));
    assert_eq!(
        tag_digest(&format!("{repo}/example:v2")),
        digest_of(&b_refs[0])
    );
    // The SBOM came with the record: written to --sbom-dir, an SPDX document.
    let written: Vec<_> = std::fs::read_dir(sboms.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let spdx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
}

#[test]
fn a_new_commit_that_changes_no_input_is_reused_when_go_does_not_stamp_the_commit() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let args = ["build", "--push", "-d", repo.as_str(), "-b", "beta"];
    let env = [ENV, &[("GOFLAGS", "-buildvcs=false")]].concat();
    let (a_refs, _) = build(&a, &args, &env);
    let b = Project::clone_of(&a);
    std::fs::write(b.path().join("NOTES.md"), "not an input\n").unwrap();
    git(b.path(), &["add", "NOTES.md"]);
    git(b.path(), &["commit", "-qm", "docs only"]);
    let (b_refs, err) = build(&b, &args, &env);
    assert!(err.contains(REUSED) && !err.contains(BUILT), "{err}");
    assert_eq!(b_refs, a_refs);
    // Go stamps the commit by default, so then the new commit is a new input.
    let c = Project::clone_of(&b);
    let (_, err) = build(&c, &args, ENV);
    assert!(err.contains(BUILT), "{err}");
}

#[test]
fn a_record_whose_image_lost_a_blob_is_a_miss_and_the_build_restores_it() {
    let registry = Registry::start(RegistryKind::Plain);
    let a = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let args = ["build", "--push", "-d", repo.as_str(), "-b", "alpha"];
    let (a_refs, _) = build(&a, &args, ENV);
    // Unlink the binary layer (the image's last) from the repository, as a garbage
    // collection of a shared blob store would leave it.
    let manifest = skopeo()
        .inspect_raw(&format!("{repo}/alpha:v1.2.3"))
        .unwrap();
    let layer = manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = registry
        .dir()
        .join("data/docker/registry/v2/repositories/team/alpha/_layers/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    std::fs::remove_dir_all(&link).unwrap();

    let b = Project::clone_of(&a);
    let (b_refs, err) = build(&b, &args, ENV);
    assert!(err.contains(&format!("{layer} is missing")), "{err}");
    assert!(err.contains(BUILT) && !err.contains(REUSED), "{err}");
    assert_eq!(b_refs, a_refs, "rebuilt identically");
    let c = Project::clone_of(&a);
    let (_, err) = build(&c, &args, ENV);
    assert!(err.contains(REUSED) && !err.contains(BUILT), "{err}");
}
