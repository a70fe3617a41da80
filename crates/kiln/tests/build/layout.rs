//! Building into an OCI layout: the images are right, run, and are reproducible.

use crate::support::{Layout, Project, digest_of, elf_machine, file_in_layer};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

#[test]
fn two_artifacts_build_run_and_carry_ko_layout() {
    let project = Project::new("multi");
    let refs = project.kiln_ok(&["build", "--push=false", "--oci-layout-path", "out"], ENV);
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs[0].starts_with("alpha:v1.2.3@sha256:"), "{refs:?}");
    assert!(refs[1].starts_with("beta:v1.2.3@sha256:"), "{refs:?}");
    let layout = Layout(project.path().join("out"));

    // alpha: one platform (the default), so a plain manifest.
    let entry = layout.entry("alpha:v1.2.3");
    assert_eq!(entry["digest"], digest_of(&refs[0]));
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let manifest = layout.json(digest_of(&refs[0]));
    let config = layout.json(manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/ko-app/alpha"])
    );
    assert!(config["config"].get("Cmd").is_none());
    assert_eq!(config["config"]["Labels"]["org.example.team"], "core");
    let env = config["config"]["Env"].as_array().unwrap();
    assert!(
        env.iter().any(|e| e == "KO_DATA_PATH=/var/run/ko"),
        "{env:?}"
    );
    assert_eq!(config["config"]["User"], "65532");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "built-in base + kodata + binary");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
    assert!(
        manifest["annotations"]["org.opencontainers.image.base.digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let output = layout.run(digest_of(&refs[0]));
    assert!(
        output.contains("hello from alpha v1.2.3-v1.2.3"),
        "{output}"
    );
    assert!(output.contains("platform linux/amd64"), "{output}");
    assert!(
        output.contains("kodata greeting.txt: from a symlinked file"),
        "{output}"
    );
    assert!(
        output.contains("kodata sub/nested.txt: nested file"),
        "{output}"
    );
    assert!(
        output
            .lines()
            .any(|l| l.starts_with("path ") && l.ends_with(":/ko-app")),
        "{output}"
    );

    // beta: two platforms, so an index in the base's order, each child runnable on its arch.
    let index = layout.json(digest_of(&refs[1]));
    let children = index["manifests"].as_array().unwrap();
    let platforms: Vec<String> = children
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["platform"]["os"].as_str().unwrap(),
                c["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    for (child, machine) in children.iter().zip([62u16, 183]) {
        let manifest = layout.json(child["digest"].as_str().unwrap());
        let binary_layer = manifest["layers"].as_array().unwrap().last().unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            elf_machine(&file_in_layer(&layout, &binary_layer, "ko-app/beta")),
            machine
        );
    }
    let amd64 = layout.run(children[0]["digest"].as_str().unwrap());
    assert!(amd64.contains("hello from beta unset"), "{amd64}");
}

#[test]
fn same_source_in_two_clones_at_different_times_gives_the_same_digests() {
    let first = Project::new("multi");
    let a = first.kiln_ok(&["build", "--push=false", "--oci-layout-path", "out"], ENV);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = Project::clone_of(&first);
    assert_ne!(first.path(), second.path());
    let b = second.kiln_ok(
        &["build", "--push=false", "--oci-layout-path", "elsewhere"],
        ENV,
    );
    assert_eq!(a, b);
}

#[test]
fn rebuild_replaces_the_layout_entry_of_the_same_name() {
    let project = Project::new("multi");
    let args = [
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "alpha",
    ];
    project.kiln_ok(&args, ENV);
    std::fs::write(
        project.path().join("cmd/alpha/kodata/sub/nested.txt"),
        "changed\n",
    )
    .unwrap();
    let refs = project.kiln_ok(&args, ENV);
    let layout = Layout(project.path().join("out"));
    assert_eq!(layout.entry("alpha:v1.2.3")["digest"], digest_of(&refs[0]));
    assert_eq!(layout.index()["manifests"].as_array().unwrap().len(), 1);
}

#[test]
fn source_date_epoch_sets_created_and_kodata_epoch_sets_kodata_mtimes() {
    let project = Project::new("multi");
    let mut env = ENV.to_vec();
    env.extend([
        ("SOURCE_DATE_EPOCH", "1700000000"),
        ("KO_DATA_DATE_EPOCH", "5000"),
    ]);
    let refs = project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "alpha",
        ],
        &env,
    );
    let layout = Layout(project.path().join("out"));
    let manifest = layout.json(digest_of(&refs[0]));
    let config = layout.json(manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let history = config["history"].as_array().unwrap();
    assert_eq!(
        history[history.len() - 2]["created"],
        "1970-01-01T01:23:20Z"
    );
    assert_eq!(
        history[history.len() - 1]["created"],
        "2023-11-14T22:13:20Z"
    );
}

#[test]
fn ko_uri_image_uses_the_import_path_and_dir_of_a_nested_module() {
    let project = Project::new("nested");
    let refs = project.kiln_ok(&["build", "--push=false", "--oci-layout-path", "out"], &[]);
    assert_eq!(refs.len(), 1);
    assert!(
        refs[0].starts_with("example.com/nested/service/cmd/server:latest@sha256:"),
        "{refs:?}"
    );
    let layout = Layout(project.path().join("out"));
    assert!(
        layout
            .run(digest_of(&refs[0]))
            .contains("nested module server")
    );
}

#[test]
fn an_oci_layout_can_be_the_base_and_a_tarball_the_output() {
    let project = Project::new("multi");
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "bases",
            "-b",
            "beta",
        ],
        ENV,
    );
    project.use_base("alpha", "oci:bases:beta:v1.2.3");
    let refs = project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--tarball",
            "alpha.tar",
            "-b",
            "alpha",
            "--platform",
            "linux/arm64",
        ],
        ENV,
    );
    assert!(refs[0].starts_with("alpha:v1.2.3@sha256:"));
    let inspect = crate::support::run_ok(
        std::process::Command::new("skopeo")
            .args(["inspect", "--override-arch", "arm64"])
            .arg(format!(
                "docker-archive:{}",
                project.path().join("alpha.tar").display()
            )),
    );
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Architecture"], "arm64");
    // beta's base layers, its kodata and binary, then alpha's kodata and binary.
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 5);
    let manifest = crate::support::run_ok(
        std::process::Command::new("tar")
            .arg("-xOf")
            .arg(project.path().join("alpha.tar"))
            .arg("manifest.json"),
    );
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["alpha:v1.2.3"]));
}

#[test]
fn quiet_output_template_and_file_output_follow_skaffold() {
    let project = Project::new("multi");
    project.edit(
        "skaffold.yaml",
        "    - image: alpha\n",
        "    - image: alpha\n      runtimeType: go\n",
    );
    let base = [
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "alpha",
    ];
    let quiet = project.kiln_ok(
        &[&base[..], &["-q", "--file-output", "build.json"]].concat(),
        ENV,
    );
    let file = std::fs::read_to_string(project.path().join("build.json")).unwrap();
    assert_eq!(
        quiet,
        std::slice::from_ref(&file),
        "-q prints exactly the --file-output document"
    );
    assert!(!file.ends_with('\n'));
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["builds"][0]["imageName"], "alpha");
    assert_eq!(json["builds"][0]["runtimeType"], "go");
    let tag = json["builds"][0]["tag"].as_str().unwrap().to_owned();
    assert!(tag.starts_with("alpha:v1.2.3@sha256:"), "{tag}");
    let templated = project.kiln_ok(
        &[
            &base[..],
            &["-o", "{{range .Builds}}{{.ImageName}} {{.Tag}}{{end}}"],
        ]
        .concat(),
        ENV,
    );
    assert_eq!(templated, [format!("alpha {tag}")]);
}

#[test]
fn input_digest_tag_follows_the_dependency_files_only() {
    let project = Project::new("multi");
    let skaffold = std::fs::read_to_string(project.path().join("skaffold.yaml")).unwrap();
    let skaffold = skaffold.replace(
        "    envTemplate:\n      template: \"{{.RELEASE}}\"\n",
        "    inputDigest: {}\n",
    );
    std::fs::write(project.path().join("skaffold.yaml"), skaffold).unwrap();
    let tag = |project: &Project| {
        let refs = project.kiln_ok(
            &[
                "build",
                "--push=false",
                "--oci-layout-path",
                "out",
                "-b",
                "beta",
            ],
            ENV,
        );
        refs[0]
            .split('@')
            .next()
            .unwrap()
            .strip_prefix("beta:")
            .unwrap()
            .to_owned()
    };
    let first = tag(&project);
    assert_eq!(first.len(), 64, "{first}");
    std::fs::write(project.path().join("notes.txt"), "not a dependency\n").unwrap();
    assert_eq!(tag(&project), first);
    let main = project.path().join("cmd/beta/main.go");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, source + "\n// a comment\n").unwrap();
    assert_ne!(tag(&project), first);
}

#[test]
fn ko_yaml_builds_beat_defaults_and_git_templates_work_in_both_files() {
    let project = Project::new("multi");
    std::fs::write(
        project.path().join(".ko.yaml"),
        "defaultLdflags: [\"-X main.version=from-default\"]\nbuilds:\n  - id: beta\n    main: ./cmd/beta\n    ldflags: [\"-X main.version={{.Git.Tag}}-{{.Env.RELEASE}}\"]\n",
    )
    .unwrap();
    std::fs::write(
        project.path().join("kiln.yaml"),
        "apiVersion: skaffold/v4beta14\nkind: Config\nbuild:\n  tagPolicy: {sha256: {}}\n  artifacts:\n    - image: ko://example.com/multi/cmd/beta\n      ko: {}\n    - image: alpha\n      ko:\n        main: ./cmd/alpha\n        ldflags: [\"-X main.version={{.Git.ShortCommit}}-{{.Git.TreeState}}\"]\n",
    )
    .unwrap();
    crate::support::git(project.path(), &["add", "-A"]);
    crate::support::git(project.path(), &["commit", "-q", "-m", "config"]);
    crate::support::git(project.path(), &["tag", "v0.4.2"]);
    let short = crate::support::run_ok(
        std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(project.path()),
    );
    let refs = project.kiln_ok(
        &[
            "build",
            "-f",
            "kiln.yaml",
            "--push=false",
            "--oci-layout-path",
            "out",
        ],
        ENV,
    );
    let layout = Layout(project.path().join("out"));
    assert!(
        refs[0].starts_with("example.com/multi/cmd/beta:latest@"),
        "{refs:?}"
    );
    let beta = layout.run(digest_of(&refs[0]));
    assert!(beta.contains("hello from beta v0.4.2-v1.2.3"), "{beta}");
    let alpha = layout.run(digest_of(&refs[1]));
    assert!(
        alpha.contains(&format!("hello from alpha {}-clean", short.trim())),
        "{alpha}"
    );
}

#[test]
fn requires_orders_the_builds_and_a_cycle_is_refused() {
    let project = Project::new("multi");
    let path = project.path().join("skaffold.yaml");
    let skaffold = std::fs::read_to_string(&path).unwrap();
    let ordered = skaffold.replace(
        "    - image: beta\n",
        "    - image: beta\n      requires: [{image: alpha}]\n",
    );
    std::fs::write(&path, &ordered).unwrap();
    let out = project.kiln(&["build", "--push=false", "--oci-layout-path", "out"], ENV);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let alpha_done = stderr.find("alpha: image sha256:").expect("alpha finished");
    let beta_started = stderr.find("beta: base").expect("beta started");
    assert!(alpha_done < beta_started, "beta waits for alpha:\n{stderr}");

    let cycle = ordered.replace(
        "    - image: alpha\n",
        "    - image: alpha\n      requires: [{image: beta}]\n",
    );
    std::fs::write(&path, cycle).unwrap();
    let out = project.kiln(&["build", "--push=false", "--oci-layout-path", "out"], ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("skaffold.yaml:") && stderr.contains("cycle") && stderr.contains("alpha"),
        "{stderr}"
    );
}

#[test]
fn custom_template_tags_combine_components_and_builtins() {
    let project = Project::new("multi");
    let path = project.path().join("skaffold.yaml");
    let skaffold = std::fs::read_to_string(&path).unwrap().replace(
        "    envTemplate:\n      template: \"{{.RELEASE}}\"\n",
        "    customTemplate:\n      template: \"{{.REL}}_{{.SHA}}\"\n      components:\n        - name: REL\n          envTemplate:\n            template: \"{{.RELEASE}}\"\n",
    );
    std::fs::write(&path, skaffold).unwrap();
    let refs = project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "alpha",
        ],
        ENV,
    );
    assert!(
        refs[0].starts_with("alpha:v1.2.3_latest@sha256:"),
        "{refs:?}"
    );
}

#[test]
fn an_unchanged_binary_reuses_its_cached_layer() {
    let project = Project::new("multi");
    let args = [
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "beta",
        "--platform",
        "linux/amd64",
        "--cache-artifacts=false",
    ];
    let build = |project: &Project| {
        let out = project.kiln(&args, ENV);
        assert!(out.status.success());
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let reused = "binary unchanged, cached layer reused";
    let (_, first) = build(&project);
    assert!(!first.contains(reused), "{first}");
    let (_, again) = build(&project);
    assert!(again.contains(reused), "{again}");

    let main = project.path().join("cmd/beta/main.go");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{source}\n// an edit\n")).unwrap();
    let (dirty_ref, dirty) = build(&project);
    assert!(!dirty.contains(reused), "{dirty}");
    // `touch` changes no content, so Go's content-based build ID and the binary stay the
    // same. (A comment edit does change the binary: the build ID hashes the sources.)
    crate::support::run_ok(std::process::Command::new("touch").arg(&main));
    let (same_ref, same) = build(&project);
    assert!(same.contains(reused), "{same}");
    assert_eq!(same_ref, dirty_ref);
}

#[test]
fn git_commit_tags_follow_the_repository() {
    let project = Project::new("multi");
    // The default policy: gitCommit with the Tags variant.
    project.edit(
        "skaffold.yaml",
        "  tagPolicy:\n    envTemplate:\n      template: \"{{.RELEASE}}\"\n",
        "",
    );
    crate::support::git(project.path(), &["commit", "-qam", "default tag policy"]);
    let tag = |project: &Project| {
        let refs = project.kiln_ok(
            &[
                "build",
                "--push=false",
                "--oci-layout-path",
                "out",
                "-b",
                "alpha",
            ],
            ENV,
        );
        refs[0]
            .split('@')
            .next()
            .unwrap()
            .strip_prefix("alpha:")
            .unwrap()
            .to_owned()
    };
    let git = |args: &[&str]| {
        crate::support::run_ok(
            std::process::Command::new("git")
                .args(args)
                .current_dir(project.path()),
        )
        .trim()
        .to_owned()
    };
    assert_eq!(
        tag(&project),
        git(&["rev-parse", "--short", "HEAD"]),
        "no tags yet: the abbreviated commit"
    );
    crate::support::git(project.path(), &["tag", "v9.9.9"]);
    assert_eq!(tag(&project), "v9.9.9");
    project.edit("cmd/alpha/main.go", "var version", "var  version");
    assert_eq!(tag(&project), "v9.9.9-dirty");
    project.edit(
        "skaffold.yaml",
        "build:\n",
        "build:\n  tagPolicy:\n    gitCommit:\n      variant: Branches\n      ignoreChanges: true\n",
    );
    assert_eq!(tag(&project), "main");
}

#[test]
fn skaffold_mode_writes_sboms_only_when_asked() {
    let project = Project::new("multi");
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let sboms = out.path().join("sboms");
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            layout.to_str().unwrap(),
            "--sbom-dir",
            sboms.to_str().unwrap(),
        ],
        ENV,
    );
    let mut names: Vec<String> = std::fs::read_dir(&sboms)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alpha-linux-amd64.spdx.json",
            "beta-index.spdx.json",
            "beta-linux-amd64.spdx.json",
            "beta-linux-arm64-v8.spdx.json"
        ]
    );
    kiln_testkit::validate_spdx(&sboms.join("alpha-linux-amd64.spdx.json"));
}

#[test]
fn unknown_ko_yaml_keys_warn_once_and_the_build_goes_on_as_in_ko() {
    let project = Project::new("multi");
    std::fs::write(
        project.path().join(".ko.yaml"),
        "defaultBaseImag: nope\nbuilds:\n  - id: beta\n    main: ./cmd/beta\n    mod_timestamp: \"{{ .CommitTimestamp }}\"\n",
    )
    .unwrap();
    let out = project.kiln(&["build", "--push=false", "--oci-layout-path", "out"], ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    // Two artifacts read the same file: each warning is printed once.
    let typo =
        "unknown field `defaultBaseImag` is ignored, as ko does; did you mean `defaultBaseImage`?";
    let goreleaser = "`builds[0].mod_timestamp` is a GoReleaser field; ko and kiln ignore it";
    assert_eq!(stderr.matches(typo).count(), 1, "{stderr}");
    assert_eq!(stderr.matches(goreleaser).count(), 1, "{stderr}");
    assert!(stderr.contains(".ko.yaml:1:1"), "{stderr}");
}

#[test]
fn zstd_layers_are_oci_zstd_unpack_with_umoci_and_run() {
    let project = Project::new("multi");
    let build = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "alpha",
        ];
        args.extend_from_slice(extra);
        let env: Vec<(&str, &str)> = ENV.iter().chain(env).copied().collect();
        project.kiln_ok(&args, &env)[0].clone()
    };
    let gzip = build(&[], &[]);
    // The artifact cache must not hand back the gzip image for a zstd build.
    let zstd = build(&["--compression", "zstd"], &[]);
    assert_ne!(digest_of(&zstd), digest_of(&gzip));
    let layout = Layout(project.path().join("out"));
    let manifest = layout.json(digest_of(&zstd));
    let types: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application/vnd.oci.image.layer.v1.tar+gzip", // the built-in base, as it is
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ]
    );
    // umoci 0.4 cannot read zstd layers: skopeo (its own zstd decoder) reads the image and
    // writes it back gzipped, then umoci unpacks that and the binary runs.
    let converted = tempfile::tempdir().unwrap();
    crate::support::run_ok(
        std::process::Command::new("skopeo")
            .args(["copy", "--dest-compress", "--dest-compress-format", "gzip"])
            .arg(format!("oci:{}:alpha:v1.2.3", layout.0.display()))
            .arg(format!("oci:{}:kiln-test", converted.path().display())),
    );
    let converted = Layout(converted.path().to_owned());
    let entry = converted.entry("kiln-test");
    let output = converted.run(entry["digest"].as_str().unwrap());
    assert!(output.contains("hello from alpha v1.2.3"), "{output}");

    // The environment knob gives the same image; --compression wins over it.
    assert_eq!(build(&[], &[("KILN_COMPRESSION", "zstd")]), zstd);
    assert_eq!(
        build(&["--compression", "gzip"], &[("KILN_COMPRESSION", "zstd")]),
        gzip
    );
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "alpha",
        ],
        &[ENV, &[("KILN_COMPRESSION", "xz")]].concat(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("KILN_COMPRESSION") && stderr.contains("gzip, zstd"),
        "{stderr}"
    );
}
