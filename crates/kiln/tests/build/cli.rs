//! Skaffold's and ko's command lines as scripts use them: every Skaffold flag accepted,
//! the SKAFFOLD_<FLAG> forms, -b's substring rule, --dry-run, checks made before building,
//! ko's -v, `ko login` and `ko version`.

use std::io::Write as _;
use std::process::Stdio;

use base64::Engine as _;
use kiln_testkit::{Registry, RegistryKind};
use serde_json::Value;

use crate::support::{Layout, Project, file_in_layer};

/// The multi fixture's envTemplate tag and templates need these.
const ENV: [(&str, &str); 2] = [("RELEASE", "r1"), ("TEAM", "t")];

/// A `var x int = "s"` type error: `go list` plans it, `go build` fails on it. A command
/// that succeeds (or fails for another reason) on this tree ran no `go build`.
fn multi_that_cannot_compile() -> Project {
    let project = Project::new("multi");
    for app in ["alpha", "beta"] {
        let path = project.path().join(format!("cmd/{app}/main.go"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("\nvar broken int = \"not an int\"\n");
        std::fs::write(path, text).unwrap();
    }
    project
}

fn dry_run_builds(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec!["build", "--dry-run", "-q"];
    all.extend_from_slice(args);
    let mut env = env.to_vec();
    env.extend_from_slice(&ENV);
    let out = project.kiln_ok(&all, &env);
    let json: Value = serde_json::from_str(&out.join("\n")).unwrap();
    json["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["imageName"].as_str().unwrap().to_owned(),
                b["tag"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Skaffold v2.24's flags for each command (cmd/skaffold/app/cmd/flags.go, build.go,
/// debug.go, render.go and the root's persistent flags), each with a value of its kind.
const SKAFFOLD_FLAGS: &[(&str, &[&str])] = &[
    (
        "all",
        &[
            "--interactive=false",
            "--update-check=false",
            "--timestamps=false",
            "--color=0",
            "--force-colors",
            "--assume-yes",
            "-v=info",
            "--verbosity=warning",
            "-f=skaffold.yaml",
            "-m=m",
            "--module=m",
            "-u=someone",
            "--remote-cache-dir=/tmp/rc",
            "--sync-remote-cache=never",
            "-p=p",
            "--profile=p",
            "-n=ns",
            "--namespace=ns",
            "-d=reg.example",
            "--default-repo=reg.example",
            "--cache-artifacts=false",
            "--enable-rpc=false",
            "--wait-for-connection=false",
            "--event-log-file=/tmp/ev",
            "--last-log-file=/tmp/ll",
            "-t=t1",
            "--tag=t1",
            "--platform=linux/amd64",
            "--profile-auto-activation=false",
            "--propagate-profiles=false",
        ],
    ),
    (
        "build",
        &[
            "--cache-file=/tmp/cf",
            "--insecure-registry=r.example",
            "--rpc-port=50051",
            "--rpc-http-port=50052",
            "--toot",
            "--skip-tests",
            "-c=/tmp/gc",
            "--config=/tmp/gc",
            "--kube-context=k",
            "--kubeconfig=/tmp/kc",
            "--minikube-profile=mk",
            "--mute-logs=build",
            "-b=a",
            "--build-image=a",
            "--detect-minikube=false",
            "--build-concurrency=2",
            "--disable-multi-platform-build",
            "--check-cluster-node-platforms=false",
            "-q",
            "--quiet",
            "-o={{json .}}",
            "--output={{json .}}",
            "--file-output=/tmp/fo",
            "--dry-run",
            "--push=false",
        ],
    ),
    (
        "dev",
        &[
            "--cache-file=/tmp/cf",
            "--insecure-registry=r.example",
            "--rpc-port=50051",
            "--rpc-http-port=50052",
            "-l=a=b",
            "--label=a=b",
            "--toot",
            "--tail=false",
            "--force=false",
            "--skip-tests",
            "--cleanup=false",
            "--no-prune",
            "--no-prune-children",
            "--port-forward",
            "--port-forward=user",
            "--status-check=false",
            "--iterative-status-check=false",
            "--tolerate-failures-until-deadline",
            "--fast-fail-status-check=false",
            "--render-only=false",
            "-c=/tmp/gc",
            "--kube-context=k",
            "--kubeconfig=/tmp/kc",
            "--minikube-profile=mk",
            "--auto=false",
            "--trigger=polling",
            "--auto-build=false",
            "--auto-sync=false",
            "--auto-deploy=false",
            "-w=app",
            "--watch-image=app",
            "-i=500",
            "--watch-poll-interval=500",
            "--mute-logs=build",
            "--wait-for-deletions=false",
            "--wait-for-deletions-max=30s",
            "--wait-for-deletions-delay=1s",
            "--detect-minikube=false",
            "--auto-create-config=false",
            "--build-concurrency=2",
            "--digest-source=local",
            "--hydration-dir=/tmp/h",
            "--resource-selector-rules-file=/tmp/r",
            "--enable-platform-node-affinity=false",
            "--enable-gke-arm-node-toleration=false",
            "--disable-multi-platform-build=false",
            "--check-cluster-node-platforms=false",
            "--cloud-run-project=p",
            "--cloud-run-location=l",
            "--keep-running-on-failure",
            "--status-check-selectors=/tmp/s",
        ],
    ),
    (
        "debug",
        &[
            "--cache-file=/tmp/cf",
            "--insecure-registry=r.example",
            "--rpc-port=50051",
            "-l=a=b",
            "--tail=false",
            "--port-forward",
            "--status-check=false",
            "-c=/tmp/gc",
            "--trigger=manual",
            "-w=app",
            "-i=500",
            "--auto-create-config=false",
            "--build-concurrency=0",
            "--hydration-dir=/tmp/h",
            "--disable-multi-platform-build",
            "--keep-running-on-failure",
            "--protocols=dap",
        ],
    ),
    (
        "render",
        &[
            "-l=a=b",
            "--label=a=b",
            "-a=/tmp/b.json",
            "--build-artifacts=/tmp/b.json",
            "--digest-source=tag",
            "--hydration-dir=/tmp/h",
            "--resource-selector-rules-file=/tmp/r",
            "--enable-platform-node-affinity=false",
            "--enable-gke-arm-node-toleration=false",
            "--set=a=b",
            "--set-value-file=/tmp/v",
            "-i=app=app:v1",
            "--images=app:v1",
            "--loud",
            "--offline=true",
            "-o=/tmp/out.yaml",
            "--output=/tmp/out.yaml",
        ],
    ),
];

#[test]
fn every_skaffold_flag_of_build_dev_debug_and_render_is_accepted() {
    let project = Project::new("multi");
    for command in ["build", "dev", "debug", "render"] {
        let flags = SKAFFOLD_FLAGS
            .iter()
            .filter(|(on, _)| *on == "all" || *on == command)
            .flat_map(|(_, flags)| flags.iter());
        for flag in flags {
            // `--help` after the flag: clap rejects an unknown flag before it shows help.
            let out = project.kiln(&[command, flag, "--help"], &[]);
            assert!(
                out.status.success(),
                "kiln {command} {flag}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // The root's flags also come before the command, as Skaffold's persistent flags do.
    let out = project.kiln(
        &[
            "--interactive=false",
            "--update-check=false",
            "build",
            "--help",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A flag Skaffold's command does not define stays an error.
    let out = project.kiln(&["build", "--tail", "--help"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn environment_forms_set_tag_selection_quiet_and_are_said_once_when_ignored() {
    let project = multi_that_cannot_compile();
    let builds = dry_run_builds(
        &project,
        &[],
        &[("SKAFFOLD_TAG", "x"), ("SKAFFOLD_BUILD_IMAGE", "lph")],
    );
    assert_eq!(builds, [("alpha".to_owned(), "alpha:x".to_owned())]);

    // SKAFFOLD_QUIET: the build JSON only on stdout.
    let mut env = ENV.to_vec();
    env.extend([
        ("SKAFFOLD_QUIET", "true"),
        ("SKAFFOLD_NAMESPACE", "ns"),
        ("SKAFFOLD_TAIL", "true"),
    ]);
    let out = project.kiln(&["build", "--dry-run", "-n", "other", "--enable-rpc"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("{\"builds\":["), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches("--namespace").count(), 1, "{stderr}");
    assert!(stderr.contains("--enable-rpc ignored"), "{stderr}");
    // SKAFFOLD_TAIL is not a flag of `build`: nothing is said about it.
    assert!(!stderr.contains("--tail"), "{stderr}");
}

#[test]
fn build_image_selects_by_substring_as_skaffold_does() {
    let project = multi_that_cannot_compile();
    let names = |args: &[&str]| -> Vec<String> {
        dry_run_builds(&project, args, &[])
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    assert_eq!(names(&[]), ["alpha", "beta"]);
    assert_eq!(names(&["-b", "lph"]), ["alpha"]);
    assert_eq!(names(&["-b", "et"]), ["beta"]);
    // `a` is in both names, as `strings.Contains` sees it.
    assert_eq!(names(&["-b", "a"]), ["alpha", "beta"]);
    assert_eq!(names(&["-b", "alpha,bet"]), ["alpha", "beta"]);
    let out = project.kiln(&["build", "--dry-run", "-b", "gamma"], &ENV);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("gamma") && stderr.contains("alpha, beta"),
        "{stderr}"
    );
}

#[test]
fn dry_run_prints_names_and_tags_and_builds_nothing() {
    let project = multi_that_cannot_compile();
    let fo = project.path().join("out/build.json");
    let fo_arg = fo.to_str().unwrap();
    let builds = dry_run_builds(
        &project,
        &["-d", "reg.example/team", "--file-output", fo_arg],
        &[],
    );
    assert_eq!(
        builds,
        [
            ("alpha".to_owned(), "reg.example/team/alpha:r1".to_owned()),
            ("beta".to_owned(), "reg.example/team/beta:r1".to_owned()),
        ]
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&fo).unwrap()).unwrap();
    assert_eq!(written["builds"][1]["tag"], "reg.example/team/beta:r1");
    assert!(
        !project.cache.path().join("kiln/artifacts").exists(),
        "nothing was built, nothing cached"
    );
    // The same tree does not compile: a real build fails on it.
    let out = project.kiln(&["build", "--push=false", "--oci-layout-path", "L"], &ENV);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an int"));
}

/// A variable kiln cannot hand on (its value is not UTF-8) is named once on stderr, and the
/// run goes on without it: nothing is dropped in silence.
#[test]
fn a_non_utf8_environment_variable_is_named_and_left_out() {
    use std::os::unix::ffi::OsStrExt as _;
    let project = multi_that_cannot_compile();
    let out = project
        .command(
            std::path::Path::new(env!("CARGO_BIN_EXE_kiln")),
            &["build", "--dry-run", "-d", "reg.example/team"],
            &[],
        )
        .env("RELEASE", "r1")
        .env("KILN_ODD", std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("environment variable KILN_ODD is not UTF-8")
            .count(),
        1,
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reg.example/team/alpha:r1"));
}

#[test]
fn output_template_goes_to_the_file_output_as_in_skaffold() {
    let project = multi_that_cannot_compile();
    let fo = project.path().join("tags.txt");
    let out = project.kiln_ok(
        &[
            "build",
            "--dry-run",
            "-o",
            "{{range .Builds}}{{.Tag}};{{end}}",
            "--file-output",
            fo.to_str().unwrap(),
        ],
        &ENV,
    );
    assert_eq!(out, ["alpha:r1;beta:r1;"]);
    assert_eq!(std::fs::read_to_string(&fo).unwrap(), "alpha:r1;beta:r1;");
}

#[test]
fn bad_tags_paths_modules_and_levels_fail_before_any_go_build() {
    let project = multi_that_cannot_compile();
    let fails = |args: &[&str], env: &[(&str, &str)], expected: &[&str]| {
        let mut all_env = ENV.to_vec();
        all_env.extend_from_slice(env);
        let out = project.kiln(args, &all_env);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: {e:?} not in {stderr}");
        }
        // Had a `go build` run, the type error would be the message.
        assert!(!stderr.contains("not an int"), "{args:?} built: {stderr}");
    };
    let layout = ["--push=false", "--oci-layout-path", "L"];
    fails(
        &[&["build", "-t", "v1.0/beta"][..], &layout].concat(),
        &[],
        &["\"v1.0/beta\"", "`/`"],
    );
    fails(
        &[&["build"][..], &layout].concat(),
        &[("SKAFFOLD_TAG", "-x")],
        &["\"-x\"", "SKAFFOLD_TAG"],
    );
    fails(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "/proc/kiln-layout",
        ],
        &[],
        &["--oci-layout-path /proc/kiln-layout"],
    );
    std::fs::write(project.path().join("afile"), "").unwrap();
    fails(
        &["build", "--push=false", "--oci-layout-path", "afile"],
        &[],
        &["it is a file"],
    );
    fails(
        &["build", "--push=false", "--tarball", "t.tar", "-b", "beta"],
        &[],
        &["--tarball holds one platform", "linux/arm64"],
    );
    fails(
        &["build", "--push=false", "--tarball", "t.tar"],
        &[],
        &["--tarball holds one image", "alpha, beta"],
    );
    fails(
        &[&["build", "-o", "{{.Nope"][..], &layout].concat(),
        &[],
        &["-o/--output"],
    );
    fails(
        &[&["build", "-m", "nope"][..], &layout].concat(),
        &[],
        &["-m/--module nope"],
    );
    fails(
        &["build", "-f", "elsewhere/skaffold.yaml"],
        &[],
        &["elsewhere/skaffold.yaml", "-f/--filename"],
    );
    fails(
        &["dev", "--dry-run"],
        &[],
        &["--dry-run is a `kiln build` flag"],
    );
    // ko's face checks its tags and outputs the same way.
    let repo = [("KO_DOCKER_REPO", "registry.invalid/x")];
    fails(
        &["ko", "build", "--push=false", "-t", "v1/x", "./cmd/alpha"],
        &repo,
        &["\"v1/x\""],
    );
    fails(
        &[
            "ko",
            "build",
            "--push=false",
            "--oci-layout-path",
            "afile",
            "./cmd/alpha",
        ],
        &repo,
        &["--oci-layout-path afile: it is a file"],
    );
    let out = project.kiln(&["build", "-v", "loud"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'loud'"));
    let out = project.kiln(&["build", "--dry-run", "-v", "WARNING"], &ENV);
    assert!(out.status.success(), "logrus's names, any case");
}

#[test]
fn module_selects_configs_by_metadata_name() {
    let project = multi_that_cannot_compile();
    let text = std::fs::read_to_string(project.path().join("skaffold.yaml")).unwrap();
    let (head, _profiles) = text.split_once("profiles:").unwrap();
    let two = format!(
        "{}---\n{}",
        head.replace("kind: Config\n", "kind: Config\nmetadata:\n  name: first\n"),
        head.replace(
            "kind: Config\n",
            "kind: Config\nmetadata:\n  name: second\n"
        )
        .replace("image: alpha", "image: gamma")
        .replace("image: beta", "image: delta")
    );
    std::fs::write(project.path().join("skaffold.yaml"), two).unwrap();
    let names = |args: &[&str]| -> Vec<String> {
        dry_run_builds(&project, args, &[])
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    assert_eq!(names(&[]), ["alpha", "beta", "gamma", "delta"]);
    assert_eq!(names(&["-m", "second"]), ["gamma", "delta"]);
    let env_names: Vec<String> = dry_run_builds(&project, &[], &[("SKAFFOLD_MODULE", "first")])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(env_names, ["alpha", "beta"]);
}

#[test]
fn skaffold_tag_and_single_platform_shape_a_real_build() {
    let project = Project::new("multi");
    let mut env = ENV.to_vec();
    env.push(("SKAFFOLD_TAG", "x"));
    // Outside the repository: an untracked output would change the git state Go stamps.
    let outside = tempfile::tempdir().unwrap();
    let layout_dir = outside.path().join("layout");
    let args = [
        "build",
        "-b",
        "beta",
        "--disable-multi-platform-build",
        "--push=false",
        "--oci-layout-path",
        layout_dir.to_str().unwrap(),
        "--build-concurrency=1",
    ];
    let refs = project.kiln_ok(&args, &env);
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert!(refs[0].starts_with("beta:x@sha256:"), "{refs:?}");
    let layout = Layout(layout_dir.clone());
    let entry = layout.entry("beta:x");
    // beta asks for two platforms; one is built: an image manifest, not an index.
    assert_eq!(
        entry["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "{entry}"
    );

    // The same build again is a cache hit, unless SKAFFOLD_CACHE_ARTIFACTS=false.
    let hit = project.kiln(&args, &env);
    assert!(String::from_utf8_lossy(&hit.stderr).contains("unchanged, using cached image"));

    // --cache-file moves the artifact records: a new place has none, then has this build's.
    let records = outside.path().join("records");
    let with_records = [&args[..], &["--cache-file", records.to_str().unwrap()]].concat();
    let fresh = project.kiln(&with_records, &env);
    assert!(fresh.status.success());
    assert!(!String::from_utf8_lossy(&fresh.stderr).contains("unchanged, using cached image"));
    assert!(
        std::fs::read_dir(&records).unwrap().next().is_some(),
        "records written"
    );
    let again = project.kiln(&with_records, &env);
    assert!(String::from_utf8_lossy(&again.stderr).contains("unchanged, using cached image"));

    env.push(("SKAFFOLD_CACHE_ARTIFACTS", "false"));
    let forced = project.kiln(&args, &env);
    let stderr = String::from_utf8_lossy(&forced.stderr);
    assert!(forced.status.success(), "{stderr}");
    assert!(
        !stderr.contains("unchanged, using cached image"),
        "{stderr}"
    );
}

#[test]
fn date_time_tags_keep_milliseconds_and_read_iana_zones() {
    let project = multi_that_cannot_compile();
    project.edit(
        "skaffold.yaml",
        "    envTemplate:\n      template: \"{{.RELEASE}}\"",
        "    dateTime:\n      timezone: Asia/Tokyo",
    );
    let tag = |project: &Project| dry_run_builds(project, &["-b", "alpha"], &[])[0].1.clone();
    // `2006-01-02_15-04-05.999_MST`: `.999` drops trailing zeros, and the point too when
    // the milliseconds are 000; three runs all on a whole second would be a 1e-9 chance.
    let tags: Vec<String> = (0..3).map(|_| tag(&project)).collect();
    let shape = |t: &str| {
        let rest = t.strip_prefix("alpha:").unwrap();
        let (stamp, zone) = rest.rsplit_once('_').unwrap();
        assert_eq!(zone, "JST", "{t}");
        stamp.split_once('.').map(|(_, ms)| ms.len())
    };
    assert!(
        tags.iter().any(|t| matches!(shape(t), Some(1..=3))),
        "no milliseconds in {tags:?}"
    );
    project.edit(
        "skaffold.yaml",
        "timezone: Asia/Tokyo",
        "timezone: Mars/Olympus",
    );
    let out = project.kiln(&["build", "--dry-run"], &ENV);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Mars/Olympus"));
}

#[test]
fn ko_v_is_the_verbose_flag_and_other_sbom_formats_give_spdx_with_a_warning() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("kosample");
    let repo = format!("{}/v", registry.host());
    let sboms = project.path().join("sboms");
    let out = project.kiln(
        &[
            "ko",
            "build",
            "-v",
            "-B",
            "--sbom=cyclonedx",
            "--sbom-dir",
            sboms.to_str().unwrap(),
            "./cmd/other",
        ],
        &[("KO_DOCKER_REPO", repo.as_str())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(&format!("{repo}/other@sha256:")),
        "{stdout}"
    );
    assert!(
        stderr.contains("--sbom=cyclonedx: kiln writes SPDX"),
        "{stderr}"
    );
    let spdx: Vec<_> = std::fs::read_dir(&sboms).unwrap().collect();
    assert!(!spdx.is_empty(), "SPDX written");
    let out = project.kiln(&["ko", "build", "--sbom=cyclonedx-xml", "."], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ko_login_writes_dockers_config_and_the_push_uses_it() {
    let registry = Registry::start(RegistryKind::htpasswd("kiln", "s3cret"));
    let project = Project::new("kosample");
    let host = registry.host();
    let mut child = project
        .command(
            std::path::Path::new(env!("CARGO_BIN_EXE_kiln")),
            &["ko", "login", &host, "-u", "kiln", "--password-stdin"],
            &[],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
    let config_path = project.cache.path().join(".docker/config.json");
    let config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("kiln:s3cret");
    assert_eq!(config["auths"][host.as_str()]["auth"], auth.as_str());
    let repo = format!("{host}/logged-in");
    let refs = project.kiln_ok(
        &["ko", "build", "-B", "./cmd/example"],
        &[("KO_DOCKER_REPO", repo.as_str())],
    );
    assert!(
        refs[0].starts_with(&format!("{repo}/example@sha256:")),
        "{refs:?}"
    );

    // Docker Hub's names all map to its historical key; other fields are kept.
    let out = project.kiln(&["ko", "login", "docker.io", "-u", "u", "-p", "p"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    assert!(config["auths"]["https://index.docker.io/v1/"]["auth"].is_string());
    assert_eq!(config["auths"][host.as_str()]["auth"], auth.as_str());
    let out = project.kiln(&["ko", "login", &host], &[]);
    assert!(!out.status.success(), "no username or password");

    let version = project.kiln_ok(&["ko", "version"], &[]);
    assert_eq!(version, [env!("CARGO_PKG_VERSION")]);
}

/// `ko login` stores a secret where lookups will find it: through the helper that
/// `credHelpers` names for the registry, whichever way the key is written (`https://…`).
#[test]
fn ko_login_stores_through_the_helper_lookups_would_run() {
    use std::os::unix::fs::PermissionsExt as _;
    let project = Project::new("kosample");
    let bin = project.cache.path().join("helpers");
    std::fs::create_dir_all(&bin).unwrap();
    let stored = project.cache.path().join("stored.json");
    let helper = bin.join("docker-credential-kilntest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = store ] || exit 1\ncat > '{}'\n",
            stored.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config_path = project.cache.path().join(".docker/config.json");
    std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
    std::fs::write(
        &config_path,
        r#"{"credHelpers": {"https://r.example:5000": "kilntest"}}"#,
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = project.kiln(
        &["ko", "login", "r.example:5000", "-u", "u", "-p", "s3cret"],
        &[("PATH", path.as_str())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let request: Value = serde_json::from_slice(&std::fs::read(&stored).unwrap()).unwrap();
    assert_eq!(request["ServerURL"], "r.example:5000");
    assert_eq!(request["Username"], "u");
    assert_eq!(request["Secret"], "s3cret");
    let config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    assert!(config.get("auths").is_none(), "{config}");

    // A helper the file names but PATH lacks is named in the error.
    std::fs::write(&config_path, r#"{"credsStore": "nowhere"}"#).unwrap();
    let out = project.kiln(
        &["ko", "login", "r.example:5000", "-u", "u", "-p", "s3cret"],
        &[("PATH", path.as_str())],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("docker-credential-nowhere") && err.contains("not found on PATH"),
        "{err}"
    );
}

/// `kiln ko build -B --push=false` of `args` into an OCI layout in the project.
fn ko_build_to_layout(project: &Project, args: &[&str]) -> Layout {
    let layout_dir = project.path().join("layout");
    let mut all = vec![
        "ko",
        "build",
        "-B",
        "--push=false",
        "--oci-layout-path",
        layout_dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    project.kiln_ok(&all, &[("KO_DOCKER_REPO", "registry.invalid/t")]);
    Layout(layout_dir)
}

/// The digest of an image's last layer (ko's binary layer).
fn binary_layer_of(layout: &Layout, manifest_digest: &str) -> String {
    layout.json(manifest_digest)["layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn ko_yaml_templates_see_each_platforms_build_environment() {
    let project = Project::new("kosample");
    std::fs::write(
        project.path().join(".ko.yaml"),
        "defaultLdflags:\n  - -X main.version={{.GoEnv.GOARCH}}-{{.GoEnv.CGO_ENABLED}} -X main.source=os-{{.Env.GOOS}}\n",
    )
    .unwrap();
    let layout = ko_build_to_layout(
        &project,
        &["--platform=linux/amd64,linux/arm64", "./cmd/example"],
    );
    let index_digest = layout.index()["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let index = layout.json(&index_digest);
    let mut seen = Vec::new();
    for manifest in index["manifests"].as_array().unwrap() {
        let arch = manifest["platform"]["architecture"].as_str().unwrap();
        let binary_layer = binary_layer_of(&layout, manifest["digest"].as_str().unwrap());
        let binary = file_in_layer(&layout, &binary_layer, "ko-app/example");
        // -trimpath keeps -ldflags out of `go version -m`: look for the -X strings.
        let has = |needle: &str| binary.windows(needle.len()).any(|w| w == needle.as_bytes());
        // The values ko v0.18.1 gives for the same .ko.yaml.
        let other = if arch == "amd64" { "arm64" } else { "amd64" };
        assert!(has(&format!("{arch}-0")), "{arch}-0 in the {arch} binary");
        assert!(
            !has(&format!("{other}-0")),
            "{other}-0 not in the {arch} binary"
        );
        assert!(has("os-linux"), "{arch}");
        seen.push(arch.to_owned());
    }
    seen.sort();
    assert_eq!(seen, ["amd64", "arm64"]);
}

#[test]
fn base_manifest_annotations_are_kept_and_the_base_name_is_normalised_as_ggcr_does() {
    let registry = Registry::start(RegistryKind::Plain);
    // A base with an annotation of its own: built by kiln's ko face, pushed as `base:latest`.
    let seed = Project::new("kosample");
    let base = format!("{}/base", registry.host());
    seed.kiln_ok(
        &[
            "ko",
            "build",
            "--bare",
            "--image-annotation",
            "org.example.from-base=yes",
            "./cmd/example",
        ],
        &[("KO_DOCKER_REPO", base.as_str())],
    );
    let project = Project::new("multi");
    // Named without a tag: ko records `…/base:latest`.
    project.use_base("alpha", &base);
    let repo = format!("{}/team", registry.host());
    let refs = project.kiln_ok(&["build", "--push", "-d", &repo, "-b", "alpha"], &ENV);
    let manifest = crate::support::run_ok(
        std::process::Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}", refs[0].split('@').next().unwrap())),
    );
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.example.from-base"], "yes", "{manifest}");
    assert_eq!(
        annotations["org.opencontainers.image.base.name"],
        format!("{base}:latest")
    );
}

#[test]
fn linux_capabilities_are_written_as_kos_pax_xattr_record() {
    let project = Project::new("kosample");
    project.edit(
        ".ko.yaml",
        "    main: ./cmd/other\n",
        "    main: ./cmd/other\n    linux_capabilities: [net_bind_service=ep]\n",
    );
    let layout = ko_build_to_layout(&project, &["./cmd/other", "./cmd/example"]);
    // Python's tarfile, an independent reader, gives each binary's PAX records.
    let capability = |name: &str| -> String {
        let entry = layout.entry(&format!("registry.invalid/t/{name}:latest"));
        let binary_layer = binary_layer_of(&layout, entry["digest"].as_str().unwrap());
        let blob = layout
            .0
            .join("blobs/sha256")
            .join(binary_layer.trim_start_matches("sha256:"));
        let script = format!(
            "import tarfile,sys\n\
             t=tarfile.open(sys.argv[1])\n\
             m=[m for m in t.getmembers() if m.name.endswith('/{name}')][0]\n\
             v=m.pax_headers.get('SCHILY.xattr.security.capability')\n\
             print('none' if v is None else v.encode('utf-8','surrogateescape').hex())"
        );
        crate::support::run_ok(
            std::process::Command::new("python3")
                .args(["-c", &script])
                .arg(blob),
        )
        .trim()
        .to_owned()
    };
    // ko's bytes for net_bind_service=ep: VFS_CAP_REVISION_2 | effective, permitted 1<<10.
    assert_eq!(
        capability("other"),
        "0100000200040000000000000000000000000000"
    );
    assert_eq!(capability("example"), "none");
}

#[test]
fn a_wrong_main_names_the_skaffold_yaml_line_and_field() {
    let project = Project::new("multi");
    project.edit("skaffold.yaml", "main: ./cmd/beta", "main: ./cmd/gamma");
    // A build (a --dry-run only names and tags, as Skaffold's, and resolves no package).
    let out = project.kiln(&["build", "--push=false", "--oci-layout-path", "out"], &ENV);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = std::fs::read_to_string(project.path().join("skaffold.yaml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("./cmd/gamma"))
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!(
            "skaffold.yaml:{line}:15: build.artifacts[1].ko.main: `./cmd/gamma` of beta"
        )),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_registry_stops_the_build_at_once_and_docker_hub_pushes_get_a_hint() {
    let project = multi_that_cannot_compile();
    // The registry check runs beside the build: its refusal arrives long before the type
    // error a `go build` of this tree would report.
    let out = project.kiln(&["build", "-d", "127.0.0.1:1/team", "-b", "alpha"], &ENV);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot push alpha to 127.0.0.1:1/team/alpha"),
        "{stderr}"
    );
    assert!(!stderr.contains("not an int"), "{stderr}");
    let out = project.kiln(
        &["ko", "build", "./cmd/alpha"],
        &[("KO_DOCKER_REPO", "127.0.0.1:1/ko")],
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot push ./cmd/alpha to 127.0.0.1:1/ko/alpha-"),
        "{stderr}"
    );
    assert!(!stderr.contains("not an int"), "{stderr}");

    // No default repo: `alpha` means Docker Hub, which kiln says, with the ways out.
    let out = project.kiln(&["build", "-b", "alpha"], &ENV);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        stderr.contains("alpha would be pushed to Docker Hub")
            && stderr.contains("-d/--default-repo")
            && stderr.contains("--push=false"),
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), lines.len(), "no line repeated: {stderr}");
}

#[test]
fn fields_kiln_does_not_act_on_are_named_once_with_their_place() {
    let project = Project::new("multi");
    std::fs::write(
        project.path().join("skaffold.yaml"),
        std::fs::read_to_string(project.path().join("skaffold.yaml")).unwrap()
            + "portForward:\n  - resourceType: service\n    resourceName: alpha\n    port: 80\n",
    )
    .unwrap();
    let out = project.kiln(&["build", "--dry-run"], &ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("`portForward`"))
        .unwrap_or_else(|| panic!("portForward is not named:\n{stderr}"));
    assert!(
        line.contains("skaffold.yaml:") && line.contains("not supported by kiln and is ignored"),
        "{line}"
    );
    assert_eq!(stderr.matches("`portForward`").count(), 1, "{stderr}");
}
