//! A whole multi-service skaffold.yaml: a ko artifact next to artifacts of builders kiln
//! does not run (docker, custom), as real projects have them.

use std::process::Command;

use kiln_testkit::{Registry, RegistryKind, Skopeo};

use crate::support::{Layout, Project, assert_no_image_in, digest_of, pull, sha256_hex};

/// Without `-b`, kiln refuses before building anything, naming every artifact it cannot
/// build, its builder, and the `-b` that selects the ko ones.
#[test]
fn artifacts_kiln_cannot_build_are_an_error_naming_them_and_the_b_that_selects_ko() {
    let project = Project::new("services");
    let out = project.kiln(&["build", "--push=false", "--oci-layout-path", "out"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "no reference is printed on failure");
    assert!(
        stderr.contains("`web` (skaffold.yaml:10) uses the docker builder")
            && stderr.contains(
                "`worker` (skaffold.yaml:14) uses the custom builder, whose command pushes its image, so kiln builds it only when pushing"
            ),
        "{stderr}"
    );
    // The required config's ko artifact comes first, as Skaffold orders configs.
    assert!(stderr.contains("`-b tool,api`"), "{stderr}");
    assert_no_image_in(&project.path().join("out"));

    // Selecting a docker artifact by name is the same error, for that artifact only.
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "web",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`web`") && !stderr.contains("`worker`"),
        "{stderr}"
    );
}

/// With `-b` naming the ko artifact, the others are skipped with one line each and the ko
/// image is built and runs.
#[test]
fn b_selecting_the_ko_artifact_skips_the_others_with_one_line_each_and_builds_it() {
    let project = Project::new("services");
    let args = [
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "api",
    ];
    let out = project.kiln(&args, &[]);
    assert!(out.status.success());
    let refs: Vec<String> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!(refs[0].starts_with("api:"), "{refs:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for skipped in ["web", "worker"] {
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("{skipped}: skipped")))
            .collect();
        assert_eq!(lines.len(), 1, "one line for {skipped}:\n{stderr}");
    }
    assert!(stderr.contains("a docker artifact"), "{stderr}");
    let layout = Layout(project.path().join("out"));
    let digest = layout.index()["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(layout.run(&digest).contains("hello from api"));
}

/// A custom artifact requiring the ko one: its build.sh (go + umoci + skopeo, no Docker)
/// gets Skaffold's environment, with `$API` holding the reference kiln pushed for `api`;
/// kiln then reads the digest the script pushed from the registry and prints it.
#[test]
fn a_custom_artifact_runs_its_build_command_with_skaffolds_contract_and_its_pushed_digest_is_printed()
 {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("services");
    let repo = format!("{}/team", registry.host());
    let args = ["build", "--push", "-d", repo.as_str(), "-b", "api,worker"];
    let out = project.kiln(&args, &[("GOPROXY", "off")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let refs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs[0].starts_with(&format!("{repo}/api:")), "{refs:?}");
    assert!(refs[1].starts_with(&format!("{repo}/worker:")), "{refs:?}");
    let worker_tag = strip_tag_and_digest(&refs[1]);

    // The script saw Skaffold's variables (its output is relayed, prefixed by the image).
    let context = std::fs::canonicalize(project.path().join("worker")).unwrap();
    let expected = format!(
        "worker: context={} push=true platforms=[] skip_test=false repo={repo}/worker tag={}",
        context.display(),
        worker_tag.1
    );
    assert!(stderr.contains(&expected), "{expected}\n{stderr}");
    assert!(stderr.contains("web: skipped"), "{stderr}");

    // The printed digest is what the registry serves at the tag.
    let raw = skopeo()
        .inspect_raw_bytes(refs[1].split('@').next().unwrap())
        .unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest_of(&refs[1]));

    // The worker binary carries $API: the api reference kiln printed, digest included.
    let (_dir, layout) = pull(&refs[1]);
    let digest = layout.entry("pulled")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        layout.run(&digest).trim(),
        format!("hello from worker, api={}", refs[0])
    );
}

/// A custom artifact can only be pushed: asked for an OCI layout, kiln says so before
/// building anything.
#[test]
fn a_custom_artifact_into_a_layout_is_refused_before_any_build() {
    let project = Project::new("services");
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "api,worker",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "`worker` (skaffold.yaml:14) uses the custom builder, whose command pushes its image"
        ) && stderr.contains("`-b tool,api`"),
        "{stderr}"
    );
    assert_no_image_in(&project.path().join("out"));
}

fn skopeo() -> Skopeo {
    Skopeo {
        tls_verify: false,
        cert_dir: None,
        creds: None,
    }
}

/// `repo/name:tag@digest` → (`repo/name`, `tag`).
fn strip_tag_and_digest(reference: &str) -> (&str, &str) {
    let name_tag = reference.split('@').next().unwrap();
    name_tag.rsplit_once(':').unwrap()
}

/// Skaffold's `inputDigest` of an artifact that requires another hashes both artifacts'
/// inputs (sorted by absolute path, named relative to the tagged artifact's context), so
/// an edit to the required artifact's source changes the dependent's tag too. The expected
/// tag is computed here with md5sum and sha256, from Skaffold's documented rule.
#[test]
fn input_digest_of_an_artifact_includes_the_inputs_of_the_artifacts_it_requires() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("services");
    project.edit(
        "skaffold.yaml",
        "build:\n",
        "build:\n  tagPolicy: {inputDigest: {}}\n",
    );
    let repo = format!("{}/team", registry.host());
    let tags = |project: &Project| -> Vec<String> {
        project
            .kiln_ok(&["build", "--push", "-d", &repo, "-b", "api,worker"], &[])
            .iter()
            .map(|r| strip_tag_and_digest(r).1.to_owned())
            .collect()
    };
    let first = tags(&project);
    // worker's inputs: its own `**/*.go` and build.sh, then api's `**/*.go` from the root
    // context (which holds worker/main.go and the tools too: Skaffold keeps the repeat).
    let root = std::fs::canonicalize(project.path()).unwrap();
    let mut files = [
        "worker/main.go",
        "worker/build.sh",
        "cmd/api/main.go",
        "tools/cmd/tool/main.go",
        "worker/main.go",
    ];
    files.sort();
    let hashes: Vec<String> = files
        .iter()
        .map(|f| {
            let rel = pathdiff(&root.join(f), &root.join("worker"));
            let out = Command::new("sh")
                .arg("-c")
                .arg("{ printf '%s' \"$1\"; cat \"$2\"; } | md5sum")
                .args(["-", &rel])
                .arg(root.join(f))
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()[..32].to_owned()
        })
        .collect();
    let json = format!("{}\n", serde_json::to_string(&hashes).unwrap());
    assert_eq!(first[1], sha256_hex(json.as_bytes()), "worker's tag");

    project.edit("cmd/api/main.go", "hello from api", "hello again from api");
    let second = tags(&project);
    assert_ne!(second[0], first[0], "api's own input changed");
    assert_ne!(
        second[1], first[1],
        "worker requires api: its tag follows api's inputs"
    );
}

/// `path` relative to `base` for paths in this test (both under one root).
fn pathdiff(path: &std::path::Path, base: &std::path::Path) -> String {
    match path.strip_prefix(base) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => format!(
            "../{}",
            path.strip_prefix(base.parent().unwrap()).unwrap().display()
        ),
    }
}

/// Config-level `requires`: the required file's config named in `configs` is loaded with
/// the profile `activeProfiles` turns on, its paths resolved from its own folder; the root
/// file's paths resolve from the working directory even when it lives elsewhere (`-f`).
#[test]
fn a_required_config_builds_with_its_active_profile_and_each_file_resolves_paths_as_skaffold() {
    let project = Project::new("services");
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "--push=false", "--oci-layout-path", "out"];
        args.extend_from_slice(extra);
        project.kiln_ok(&args, &[])
    };
    let refs = build(&["-b", "tool,api"]);
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(
        refs[0].starts_with("tool:") && refs[1].starts_with("api:"),
        "{refs:?}"
    );
    let layout = Layout(project.path().join("out"));
    assert_eq!(
        layout.run(digest_of(&refs[0])).trim(),
        "hello from tool, mode=release"
    );

    // The config the requirement does not name is not loaded: its image is unknown.
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "not-required",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("-b/--build-image not-required: no artifact's image contains it"),
        "{stderr}"
    );

    // `-f deploy/skaffold.yaml` from the repository root: `context: .` is the root, and
    // the required path is relative to deploy/.
    std::fs::create_dir(project.path().join("deploy")).unwrap();
    let text = std::fs::read_to_string(project.path().join("skaffold.yaml")).unwrap();
    std::fs::write(
        project.path().join("deploy/skaffold.yaml"),
        text.replace("path: ./tools", "path: ../tools"),
    )
    .unwrap();
    std::fs::remove_file(project.path().join("skaffold.yaml")).unwrap();
    let moved = build(&["-f", "deploy/skaffold.yaml", "-b", "tool,api"]);
    assert!(
        moved[0].starts_with("tool:") && moved[1].starts_with("api:"),
        "{moved:?}"
    );
    assert_eq!(
        layout.run(digest_of(&moved[0])).trim(),
        "hello from tool, mode=release"
    );
    assert_eq!(layout.run(digest_of(&moved[1])).trim(), "hello from api");
}

/// `render --digest-source=tag` plans names and tags only: no Go on PATH, no module
/// download, no output demanded though `build.local.push` is false, `ko://` names taken
/// from the string, and artifacts of every builder rendered, as Skaffold does.
#[test]
fn render_with_tags_needs_no_build_no_go_and_no_output_and_names_every_builders_images() {
    let project = Project::new("services");
    for file in ["skaffold.yaml", "k8s/app.yaml"] {
        let path = project.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("image: api\n", "image: ko://example.com/services/cmd/api\n"),
        )
        .unwrap();
    }
    project.edit(
        "skaffold.yaml",
        "build:\n",
        "build:\n  local: {push: false}\n",
    );
    let no_go = [("PATH", "/usr/bin:/bin")];
    let out = project.kiln(
        &[
            "render",
            "--digest-source=tag",
            "-d",
            "reg.example/team",
            "-t",
            "v1",
        ],
        &no_go,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rendered = String::from_utf8(out.stdout).unwrap();
    for image in [
        "reg.example/team/example_com_services_cmd_api:v1",
        "reg.example/team/web:v1",
        "reg.example/team/worker:v1",
    ] {
        assert!(
            rendered.contains(&format!("image: {image}\n")),
            "{image}:\n{rendered}"
        );
    }
}

/// Skaffold's template functions in ldflags: `cmd` runs a process (here `printf`) and
/// sprig's string functions apply, so the binary carries what Skaffold would put there.
#[test]
fn ldflags_templates_run_cmd_and_sprig_functions_as_skaffold() {
    let project = Project::new("multi");
    project.edit(
        "skaffold.yaml",
        "-X main.version={{.Env.RELEASE}}-{{.IMAGE_TAG}}",
        r#"-X main.version={{cmd "printf" "%s" "from-cmd"}}-{{.RELEASE | upper | trimPrefix "V"}}"#,
    );
    let env = [("RELEASE", "v1.2.3"), ("TEAM", "core")];
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
    let output = layout.run(digest_of(&refs[0]));
    assert!(
        output.contains("hello from alpha from-cmd-1.2.3"),
        "{output}"
    );
}
