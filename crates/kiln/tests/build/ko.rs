//! `kiln ko build` as a ko user runs it: KO_DOCKER_REPO, ko's namers and tags, .ko.yaml,
//! against the real registry, read back with skopeo, binaries run from the pulled image.

use kiln_testkit::{Registry, RegistryKind, Skopeo};

use crate::support::{Layout, Project, digest_of, git, pull, sha256_hex};

fn skopeo() -> Skopeo {
    Skopeo {
        tls_verify: false,
        cert_dir: None,
        creds: None,
    }
}

/// The digest a tag points at, as the registry serves it.
fn tag_digest(name_and_tag: &str) -> String {
    let raw = skopeo().inspect_raw_bytes(name_and_tag).unwrap();
    format!("sha256:{}", sha256_hex(&raw))
}

/// Pulls `reference` and runs its binary; returns the line it prints.
fn run_pushed(reference: &str) -> String {
    let (_dir, layout) = pull(reference);
    let manifest = layout.index()["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    layout.run(&manifest).trim().to_owned()
}

fn kosample() -> Project {
    let project = Project::new("kosample");
    git(project.path(), &["tag", "v0.3.0"]);
    project
}

#[test]
fn ko_namers_give_kos_names_and_the_pushed_binary_carries_the_default_ldflags() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = kosample();
    let repo = format!("{}/foo/bar", registry.host());
    let env = [("KO_DOCKER_REPO", repo.as_str())];
    // ko's test vector: md5("example.org/sample/cmd/example").
    let cases: [(&[&str], String); 4] = [
        (
            &[],
            format!("{repo}/example-51d74b7127c5f7495a338df33ecdeb19"),
        ),
        (&["-B"], format!("{repo}/example")),
        (&["-P"], format!("{repo}/example.org/sample/cmd/example")),
        (&["--bare"], repo.clone()),
    ];
    let mut digests = Vec::new();
    for (flags, name) in &cases {
        let mut args = vec!["ko", "build"];
        args.extend_from_slice(flags);
        args.push("./cmd/example");
        let refs = project.kiln_ok(&args, &env);
        assert_eq!(refs.len(), 1, "{refs:?}");
        let reference = &refs[0];
        assert!(
            reference.starts_with(&format!("{name}@sha256:")),
            "{flags:?}: {reference}"
        );
        assert_eq!(tag_digest(&format!("{name}:latest")), digest_of(reference));
        digests.push(digest_of(reference).to_owned());
    }
    digests.dedup();
    assert_eq!(digests.len(), 1, "naming never changes the image");
    let output = run_pushed(&format!("{}@{}", cases[1].1, digests[0]));
    assert!(output.starts_with("example source=default "), "{output}");
}

#[test]
fn several_tags_point_at_one_digest_and_tag_only_prints_just_the_tag() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = kosample();
    let repo = format!("{}/ko", registry.host());
    let env = [("KO_DOCKER_REPO", repo.as_str())];
    let name = format!("{repo}/example");
    let refs = project.kiln_ok(
        &[
            "ko",
            "build",
            "-B",
            "-t",
            "v1",
            "-t",
            "v2,v3",
            "-t",
            "v1",
            "./cmd/example",
        ],
        &env,
    );
    assert_eq!(refs.len(), 1);
    assert!(refs[0].starts_with(&format!("{name}@sha256:")), "{refs:?}");
    for tag in ["v1", "v2", "v3"] {
        assert_eq!(
            tag_digest(&format!("{name}:{tag}")),
            digest_of(&refs[0]),
            "{tag}"
        );
    }
    assert!(
        skopeo()
            .inspect_raw_bytes(&format!("{name}:latest"))
            .is_err(),
        "-t replaces latest"
    );

    // One tag that is not latest: a release, printed with its tag.
    let refs = project.kiln_ok(&["ko", "build", "-B", "-t", "v4", "./cmd/example"], &env);
    assert_eq!(refs, [format!("{name}:v4@{}", digest_of(&refs[0]))]);
    let refs = project.kiln_ok(
        &[
            "ko",
            "build",
            "-B",
            "-t",
            "v5",
            "--tag-only",
            "./cmd/example",
        ],
        &env,
    );
    assert_eq!(refs, [format!("{name}:v5")]);
    assert_eq!(
        tag_digest(&format!("{name}:v5")),
        tag_digest(&format!("{name}:v1"))
    );

    // --tag-only with more than one tag is refused before anything is pushed.
    let out = project.kiln(
        &[
            "ko",
            "build",
            "-B",
            "-t",
            "v6,v7",
            "--tag-only",
            "./cmd/example",
        ],
        &env,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tag-only"), "{stderr}");
    assert!(skopeo().inspect_raw_bytes(&format!("{name}:v6")).is_err());
}

/// Builds `packages` into a fresh OCI layout (no push) and runs each image's binary.
fn build_and_run(project: &Project, extra: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let layout_dir = out.path().join("layout");
    let layout_arg = layout_dir.to_str().unwrap();
    let mut args = vec![
        "ko",
        "build",
        "--push=false",
        "--oci-layout-path",
        layout_arg,
    ];
    args.extend_from_slice(extra);
    let refs = project.kiln_ok(&args, env);
    let layout = Layout(layout_dir.clone());
    refs.iter()
        .map(|r| layout.run(digest_of(r)).trim().to_owned())
        .collect()
}

#[test]
fn ko_yaml_builds_replace_the_defaults_and_git_templates_follow_the_tree() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = kosample();
    let repo = format!("{}/ko", registry.host());
    let epoch = ("SOURCE_DATE_EPOCH", "1700000000");
    let env = [("KO_DOCKER_REPO", repo.as_str()), epoch];
    let short = crate::support::run_ok(
        std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(project.path()),
    );
    let short = short.trim();

    // Pushed, pulled, run: the builds[] entry's templated ldflags replace defaultLdflags
    // for its package; the other package keeps the default.
    let refs = project.kiln_ok(
        &[
            "ko",
            "build",
            "-B",
            "./cmd/other",
            "ko://example.org/sample/cmd/example",
        ],
        &env,
    );
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs[0].starts_with(&format!("{repo}/other@")), "{refs:?}");
    assert!(refs[1].starts_with(&format!("{repo}/example@")), "{refs:?}");
    assert_eq!(
        run_pushed(&refs[0]),
        format!(
            "other source=build version=v0.3.0 commit={short} state=clean date=2023-11-14T22:13:20Z platform=linux/amd64"
        )
    );
    assert!(run_pushed(&refs[1]).starts_with("example source=default version=unset "));

    // --ldflags replaces both.
    let lines = build_and_run(
        &project,
        &[
            "--ldflags=-X main.source=cli",
            "./cmd/other",
            "./cmd/example",
        ],
        &env,
    );
    assert!(
        lines[0].starts_with("other source=cli version=unset "),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("example source=cli "), "{lines:?}");

    // A dirty tree.
    project.edit(
        "cmd/other/main.go",
        "func main() {",
        "func main() { // edited",
    );
    let lines = build_and_run(&project, &["./cmd/other"], &env);
    assert!(
        lines[0].contains(&format!("version=v0.3.0 commit={short} state=dirty")),
        "{lines:?}"
    );

    // No repository: empty values and a clean tree, as ko renders them.
    std::fs::remove_dir_all(project.path().join(".git")).unwrap();
    let lines = build_and_run(&project, &["./cmd/other"], &env);
    assert!(
        lines[0].starts_with("other source=build version= commit= state=clean "),
        "{lines:?}"
    );
}

#[test]
fn ko_config_path_and_default_platforms_come_from_the_environment_and_flags_win() {
    let project = kosample();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join(".ko.yaml"),
        "defaultLdflags: ['-X main.source=elsewhere']\n",
    )
    .unwrap();
    let config = elsewhere.path().to_str().unwrap();
    let lines = build_and_run(&project, &["./cmd/example"], &[("KO_CONFIG_PATH", config)]);
    assert!(
        lines[0].starts_with("example source=elsewhere "),
        "{lines:?}"
    );

    let out = tempfile::tempdir().unwrap();
    let layout_dir = out.path().join("layout");
    let platform_of = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["ko", "build", "--push=false", "--oci-layout-path"];
        args.push(layout_dir.to_str().unwrap());
        args.extend_from_slice(extra);
        args.push("./cmd/example");
        let refs = project.kiln_ok(&args, env);
        let layout = Layout(layout_dir.clone());
        let manifest = layout.json(digest_of(&refs[0]));
        let config = layout.json(manifest["config"]["digest"].as_str().unwrap());
        config["architecture"].as_str().unwrap().to_owned()
    };
    let arm = [("KO_DEFAULTPLATFORMS", "linux/arm64")];
    assert_eq!(platform_of(&[], &arm), "arm64");
    assert_eq!(platform_of(&["--platform=linux/amd64"], &arm), "amd64");
    assert_eq!(
        platform_of(&[], &[("GOOS", "linux"), ("GOARCH", "arm64")]),
        "arm64"
    );
}

#[test]
fn ko_errors_name_the_cause_and_the_fix() {
    let project = kosample();
    let fails = |args: &[&str], env: &[(&str, &str)]| {
        let out = project.kiln(args, env);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "no reference printed for {args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = fails(&["ko", "build", "./cmd/example"], &[]);
    assert!(
        err.contains("KO_DOCKER_REPO environment variable is unset"),
        "{err}"
    );
    assert!(err.contains("--push=false"), "{err}");

    // -L with no engine running: the socket tried, and the fixes.
    let err = fails(&["ko", "build", "-L", "./cmd/example"], &[]);
    assert!(
        err.contains("no Docker-compatible engine answers at unix:///var/run/docker.sock"),
        "{err}"
    );
    assert!(
        err.contains("start the engine") && err.contains("KO_DOCKER_REPO"),
        "{err}"
    );

    let repo = [("KO_DOCKER_REPO", "registry.invalid/x")];
    let err = fails(
        &[
            "ko",
            "build",
            "--push=false",
            "--bare",
            "./cmd/example",
            "./cmd/other",
        ],
        &repo,
    );
    assert!(
        err.contains("--bare names every image `registry.invalid/x`"),
        "{err}"
    );

    let err = fails(&["ko", "build", "--push=false", "./pkg/lib"], &repo);
    assert!(err.contains("`./pkg/lib` cannot be built"), "{err}");
    assert!(err.contains("example.org/sample/pkg/lib"), "{err}");

    let err = fails(
        &[
            "ko",
            "build",
            "--push=false",
            "ko://example.org/sample/cmd/missing",
        ],
        &repo,
    );
    assert!(err.contains("ko://example.org/sample/cmd/missing"), "{err}");

    let err = fails(
        &[
            "ko",
            "build",
            "--push=false",
            "--platform=linux/arm64",
            "./cmd/example",
        ],
        &[
            ("KO_DOCKER_REPO", "registry.invalid/x"),
            ("GOARCH", "amd64"),
        ],
    );
    assert!(err.contains("unset GOARCH"), "{err}");

    project.edit(
        ".ko.yaml",
        "main: ./cmd/other\n",
        "main: ./cmd/other\n    linux_capabilities: [CAP_NET_FLY]\n",
    );
    let err = fails(&["ko", "build", "--push=false", "./cmd/other"], &repo);
    assert!(
        err.contains(".ko.yaml:4")
            && err.contains("linux_capabilities")
            && err.contains("CAP_NET_FLY"),
        "{err}"
    );
    project.edit(".ko.yaml", "    linux_capabilities: [CAP_NET_FLY]\n", "");

    project.edit(".ko.yaml", "main: ./cmd/other", "main: ./cmd/gone");
    let err = fails(&["ko", "build", "--push=false", "./cmd/example"], &repo);
    assert!(
        err.contains(".ko.yaml") && err.contains("./cmd/gone"),
        "{err}"
    );
}

#[test]
fn run_as_ko_it_takes_kos_command_line_and_prints_what_ko_prints_without_a_push() {
    let project = kosample();
    let bin = tempfile::tempdir().unwrap();
    let ko = bin.path().join("ko");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kiln"), &ko).unwrap();
    let out = project.run_as(&ko, &["build", "--push=false", "./cmd/example"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    // ko's e2e check: with nothing published, `name:latest@sha256:…` (no KO_DOCKER_REPO).
    assert!(
        printed.starts_with("example-51d74b7127c5f7495a338df33ecdeb19:latest@sha256:"),
        "{printed}"
    );
}

#[test]
fn resolve_builds_each_ko_reference_once_and_changes_nothing_else() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = kosample();
    let repo = format!("{}/ko", registry.host());
    // other's ldflags stamp {{.Date}}: a fixed epoch makes both runs give one digest.
    let env = [
        ("KO_DOCKER_REPO", repo.as_str()),
        ("SOURCE_DATE_EPOCH", "1700000000"),
    ];
    let out = project.kiln(&["ko", "resolve", "-B", "-f", "config"], &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let resolved = String::from_utf8(out.stdout).unwrap();
    // example appears twice and other once: two builds.
    assert_eq!(stderr.matches("built linux/amd64").count(), 2, "{stderr}");
    assert!(!resolved.contains("ko://"), "{resolved}");

    let example = format!("{repo}/example@sha256:");
    let other = format!("{repo}/other@sha256:");
    let digest_after = |prefix: &str| {
        let start = resolved.find(prefix).unwrap() + prefix.len() - "sha256:".len();
        resolved[start..start + 71].to_owned()
    };
    let (example_digest, other_digest) = (digest_after(&example), digest_after(&other));
    assert_eq!(
        tag_digest(&format!("{repo}/example:latest")),
        example_digest
    );
    assert_eq!(tag_digest(&format!("{repo}/other:latest")), other_digest);
    // Everything but the references is as written: comments, quoting, flow lists, the
    // other image, the documents.
    let source = std::fs::read_to_string(project.path().join("config/app.yaml")).unwrap();
    let expected = source
        .replace(
            "ko://example.org/sample/cmd/example",
            &format!("{repo}/example@{example_digest}"),
        )
        .replace(
            "ko://example.org/sample/cmd/other",
            &format!("{repo}/other@{other_digest}"),
        );
    assert_eq!(resolved, expected);

    // The same through standard input.
    let mut child = project.command(
        std::path::Path::new(env!("CARGO_BIN_EXE_kiln")),
        &["ko", "resolve", "-B", "-f", "-"],
        &env,
    );
    child.stdin(std::fs::File::open(project.path().join("config/app.yaml")).unwrap());
    let piped = crate::support::run_ok(&mut child);
    assert_eq!(piped, expected);
}

#[test]
fn resolve_names_the_file_and_the_reference_that_cannot_be_built() {
    let project = kosample();
    let manifest = project.path().join("config/bad.yaml");
    std::fs::write(
        &manifest,
        "image: ko://example.org/sample/pkg/lib\nother: docker.io/library/busybox\n",
    )
    .unwrap();
    let out = project.kiln(
        &["ko", "resolve", "--push=false", "-f", "config/bad.yaml"],
        &[("KO_DOCKER_REPO", "registry.invalid/x")],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config/bad.yaml") && stderr.contains("ko://example.org/sample/pkg/lib"),
        "{stderr}"
    );
    assert!(stderr.contains("not a main package"), "{stderr}");
}

#[test]
fn sboms_are_valid_spdx_written_with_kos_names_and_attached_at_kos_tag() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = kosample();
    let repo = format!("{}/ko", registry.host());
    let env = [("KO_DOCKER_REPO", repo.as_str())];
    let sbom_dir = tempfile::tempdir().unwrap();
    let out = project.kiln(
        &[
            "ko",
            "build",
            "-B",
            "--platform=linux/amd64,linux/arm64",
            "--sbom-dir",
            sbom_dir.path().to_str().unwrap(),
            "./cmd/example",
        ],
        &env,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let refs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut names: Vec<String> = std::fs::read_dir(sbom_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "example-index.spdx.json",
            "example-linux-amd64.spdx.json",
            // The base's arm64 image has variant v8, and ko names files by the platform.
            "example-linux-arm64-v8.spdx.json"
        ]
    );
    for name in &names {
        kiln_testkit::validate_spdx(&sbom_dir.path().join(name));
    }
    let image_sbom: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sbom_dir.path().join("example-linux-arm64-v8.spdx.json")).unwrap(),
    )
    .unwrap();
    let purls: Vec<&str> = image_sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .filter_map(|r| r["referenceLocator"].as_str())
        .collect();
    assert!(
        purls
            .iter()
            .any(|p| p.starts_with("pkg:golang/example.org/sample")),
        "{purls:?}"
    );

    // The registry here has no referrers API: the SBOM goes to ko's tag, and its one layer
    // is the index's document.
    let digest = digest_of(&refs[0]);
    let attachment = format!(
        "{repo}/example:{}.sbom",
        digest.replace("sha256:", "sha256-")
    );
    let manifest = skopeo().inspect_raw(&attachment).unwrap();
    // Each attachment is reported with where it went, after the image's own push.
    let pushed = stderr
        .find(&format!("pushed {repo}/example"))
        .expect(&stderr);
    let published = stderr
        .find(&format!(": published SBOM {attachment}"))
        .expect(&stderr);
    assert!(pushed < published, "{stderr}");
    assert_eq!(manifest["layers"][0]["mediaType"], "text/spdx+json");
    let index_sbom = std::fs::read(sbom_dir.path().join("example-index.spdx.json")).unwrap();
    assert_eq!(
        manifest["layers"][0]["digest"],
        format!("sha256:{}", sha256_hex(&index_sbom))
    );

    // --sbom=none: nothing attached.
    let refs = project.kiln_ok(
        &[
            "ko",
            "build",
            "-B",
            "-t",
            "nosbom",
            "--sbom=none",
            "./cmd/other",
        ],
        &env,
    );
    let attachment = format!(
        "{repo}/other:{}.sbom",
        digest_of(&refs[0]).replace("sha256:", "sha256-")
    );
    assert!(skopeo().inspect_raw(&attachment).is_err());
}

#[test]
fn image_flags_reach_the_image_and_image_refs_lists_the_index_and_its_images() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = kosample();
    let repo = format!("{}/ko", registry.host());
    let refs_file = tempfile::NamedTempFile::new().unwrap();
    let refs = project.kiln_ok(
        &[
            "ko",
            "build",
            "-B",
            "--platform=linux/amd64,linux/arm64",
            "--image-label=org.example.team=core,org.example.tier=web",
            "--image-annotation=org.example.owner=ops",
            "--image-user=1234",
            "--image-refs",
            refs_file.path().to_str().unwrap(),
            "./cmd/example",
        ],
        &[("KO_DOCKER_REPO", repo.as_str())],
    );
    let name = format!("{repo}/example");
    let index = skopeo().inspect_raw(&refs[0]).unwrap();
    let children: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 2);
    assert_eq!(index["annotations"]["org.example.owner"], "ops");

    // ko's recorder: the index, then every platform image, by digest.
    let recorded = std::fs::read_to_string(refs_file.path()).unwrap();
    let mut expected = vec![format!("{name}@{}", digest_of(&refs[0]))];
    expected.extend(children.iter().map(|d| format!("{name}@{d}")));
    assert_eq!(recorded.lines().collect::<Vec<_>>(), expected);

    let child = skopeo()
        .inspect_raw(&format!("{name}@{}", children[0]))
        .unwrap();
    assert_eq!(child["annotations"]["org.example.owner"], "ops");
    let (_dir, layout) = pull(&format!("{name}@{}", children[0]));
    let manifest = layout.index()["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = layout.json(layout.json(&manifest)["config"]["digest"].as_str().unwrap());
    assert_eq!(config["config"]["User"], "1234");
    assert_eq!(config["config"]["Labels"]["org.example.team"], "core");
    assert_eq!(config["config"]["Labels"]["org.example.tier"], "web");
}
