//! Local clusters without a registry: images not pushed are loaded into a real
//! Docker-compatible engine (podman's Docker API service), read back with the `docker` CLI.

use kiln_testkit::{Podman, Registry, RegistryKind, engine_tools_available};

use crate::support::{Project, git, sha256_hex};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

/// The engine tools, or a panic saying which is missing: these tests never pass silently.
fn podman() -> Podman {
    assert!(
        engine_tools_available(),
        "podman, socat and the docker CLI are needed (scripts/test.sh installs them)"
    );
    Podman::start()
}

/// A kubeconfig whose current context is `context`, and the env that selects it.
fn kubeconfig(project: &Project, context: &str) -> String {
    let path = project.cache.path().join(format!("kubeconfig-{context}"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: []\ncontexts:\n- name: {context}\n  context: {{cluster: c, user: u}}\ncurrent-context: {context}\nusers: []\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// A recording stand-in for a cluster CLI (`kind`, `k3d`), which cannot run here: it keeps
/// its arguments in `<dir>/<tool>.args` and the archive it was given in `<dir>/<tool>.tar`.
/// Returns a PATH with it first.
fn stub_cluster_cli(dir: &std::path::Path, tool: &str) -> String {
    let script = dir.join(tool);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {rec}.args\ncp \"$3\" {rec}.tar\n",
            rec = dir.join(tool).display()
        ),
    )
    .unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, mode).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

/// The `RepoTags` of the docker-save archive a stub was given, read with `tar`.
fn archive_tags(archive: &std::path::Path) -> Vec<String> {
    let listing = crate::support::run_ok(std::process::Command::new("tar").arg("-tf").arg(archive));
    assert!(listing.lines().any(|l| l == "manifest.json"), "{listing}");
    let manifest = crate::support::run_ok(
        std::process::Command::new("tar")
            .arg("-xOf")
            .arg(archive)
            .arg("manifest.json"),
    );
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    manifest[0]["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn kiln_ok(project: &Project, args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
    let out = project.kiln(args, env);
    assert!(
        out.status.success(),
        "kiln {args:?} failed:\n{}",
        stderr(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    (stdout.lines().map(str::to_owned).collect(), stderr(&out))
}

/// `docker save NAME`'s config digest, read from the archive without kiln's code.
fn saved_config_digest(podman: &Podman, name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("saved.tar");
    let out = podman.docker(&["save", "-o", archive.to_str().unwrap(), name]);
    assert!(out.status.success(), "docker save: {}", stderr(&out));
    let unpacked = dir.path().join("x");
    std::fs::create_dir(&unpacked).unwrap();
    crate::support::run_ok(
        std::process::Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&unpacked),
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let config = manifest[0]["Config"].as_str().unwrap();
    sha256_hex(&std::fs::read(unpacked.join(config)).unwrap())
}

#[test]
fn a_local_kube_context_loads_into_the_engine_and_an_unchanged_round_uploads_nothing() {
    let podman = podman();
    let project = Project::new("multi");
    let kubeconfig = kubeconfig(&project, "kind-dev");
    let host = podman.docker_host();
    let bin = tempfile::tempdir().unwrap();
    let path = stub_cluster_cli(bin.path(), "kind");
    let mut env = ENV.to_vec();
    env.extend([
        ("KUBECONFIG", kubeconfig.as_str()),
        ("DOCKER_HOST", host.as_str()),
        ("PATH", path.as_str()),
    ]);
    let args = ["build", "-b", "alpha", "--file-output", "out.json"];
    let (refs, err) = kiln_ok(&project, &args, &env);
    // Skaffold's side-loaded reference: `image:<image ID hex>`.
    let [reference] = refs.as_slice() else {
        panic!("{refs:?}")
    };
    let id_hex = reference.strip_prefix("alpha:").expect(reference);
    assert_eq!(id_hex.len(), 64, "{reference}");
    assert!(
        err.contains("alpha: loaded into the engine at unix://"),
        "{err}"
    );
    let id = podman
        .inspect(reference, "{{.Id}}")
        .expect("docker image inspect");
    assert_eq!(id.trim_start_matches("sha256:"), id_hex);
    assert_eq!(
        podman.inspect("alpha:v1.2.3", "{{.Id}}"),
        podman.inspect(reference, "{{.Id}}")
    );
    assert_eq!(saved_config_digest(&podman, "alpha:v1.2.3"), id_hex);
    // kind-dev's nodes get the same names through `kind load image-archive`, as Skaffold
    // runs `kind load docker-image` for kind contexts.
    let kind_args = std::fs::read_to_string(bin.path().join("kind.args")).unwrap();
    assert!(kind_args.trim_end().ends_with("--name dev"), "{kind_args}");
    let tags = archive_tags(&bin.path().join("kind.tar"));
    assert!(
        tags.contains(reference) && tags.contains(&"alpha:v1.2.3".to_owned()),
        "{tags:?}"
    );
    let json = std::fs::read_to_string(project.path().join("out.json")).unwrap();
    assert_eq!(
        json,
        format!(r#"{{"builds":[{{"imageName":"alpha","tag":"{reference}"}}]}}"#)
    );

    assert_eq!(podman.load_count(1), 1, "the engine's log records the load");
    // Through a recording proxy: the unchanged round asks whether the engine answers
    // (before building) and whether it has the image ID, and nothing else.
    let front = podman.recording_front();
    let front_host = front.docker_host();
    for (key, value) in env.iter_mut() {
        if *key == "DOCKER_HOST" {
            *value = front_host.as_str();
        }
    }
    let (again, err) = kiln_ok(&project, &args, &env);
    assert_eq!(again, refs);
    assert!(err.contains("already in the engine"), "{err}");
    assert_eq!(podman.load_count(1), 1, "no second upload");
    assert_eq!(
        front.requests(),
        [
            "GET /_ping HTTP/1.1".to_owned(),
            format!("GET /images/sha256:{id_hex}/json HTTP/1.1")
        ]
    );
}

#[test]
fn several_platforms_load_the_engines_own_and_tags_move_without_an_upload() {
    let podman = podman();
    let project = Project::new("multi");
    let host = podman.docker_host();
    let mut env = ENV.to_vec();
    env.push(("DOCKER_HOST", host.as_str()));
    let (first, err) = kiln_ok(
        &project,
        &["build", "--push=false", "-b", "beta", "-t", "one"],
        &env,
    );
    assert!(err.contains("linux/amd64 of the platforms built"), "{err}");
    assert_eq!(
        podman
            .inspect("beta:one", "{{.Os}}/{{.Architecture}}")
            .as_deref(),
        Some("linux/amd64")
    );
    assert_eq!(podman.load_count(1), 1);
    let front = podman.recording_front();
    let front_host = front.docker_host();
    env.retain(|(key, _)| *key != "DOCKER_HOST");
    env.push(("DOCKER_HOST", front_host.as_str()));
    let (second, err) = kiln_ok(
        &project,
        &["build", "--push=false", "-b", "beta", "-t", "two"],
        &env,
    );
    assert_eq!(first, second, "the same image ID");
    assert!(err.contains("already in the engine"), "{err}");
    let requests = front.requests();
    assert!(
        !requests.iter().any(|r| r.starts_with("POST /images/load")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/tag?repo=beta&tag=two")),
        "{requests:?}"
    );
    assert_eq!(
        podman.inspect("beta:two", "{{.Id}}"),
        podman.inspect("beta:one", "{{.Id}}")
    );
}

#[test]
fn tcp_with_tls_and_client_certificates_reaches_the_engine() {
    let podman = podman();
    let front = podman.tls_front();
    let project = Project::new("multi");
    let host = format!("tcp://127.0.0.1:{}", front.port);
    let certs = front.docker_cert_path();
    let mut env = ENV.to_vec();
    env.extend([
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", certs.to_str().unwrap()),
    ]);
    let (refs, err) = kiln_ok(&project, &["build", "--push=false", "-b", "alpha"], &env);
    assert!(
        err.contains(&format!("https://127.0.0.1:{}", front.port)),
        "{err}"
    );
    assert!(podman.inspect(&refs[0], "{{.Id}}").is_some(), "{refs:?}");

    // Half a client certificate: kiln names the missing file before connecting.
    std::fs::remove_file(certs.join("key.pem")).unwrap();
    let out = project.kiln(&["build", "--push=false", "-b", "alpha"], &env);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} is not", certs.join("key.pem").display())),
        "{err}"
    );
}

#[test]
fn the_current_docker_context_names_the_engine() {
    let podman = podman();
    let project = Project::new("multi");
    // HOME is the project's cache directory (see support.rs).
    let docker = project.cache.path().join(".docker");
    let id = sha256_hex(b"podman-test");
    let meta = docker.join("contexts/meta").join(id);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(
        docker.join("config.json"),
        r#"{"currentContext":"podman-test"}"#,
    )
    .unwrap();
    std::fs::write(
        meta.join("meta.json"),
        format!(
            r#"{{"Name":"podman-test","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{}","SkipTLSVerify":false}}}}}}"#,
            podman.docker_host()
        ),
    )
    .unwrap();
    let (refs, err) = kiln_ok(&project, &["build", "--push=false", "-b", "alpha"], ENV);
    assert!(podman.inspect(&refs[0], "{{.Id}}").is_some(), "{err}");
}

#[test]
fn no_engine_names_what_was_tried_and_the_fixes() {
    let project = Project::new("multi");
    let missing = project.cache.path().join("no-engine.sock");
    let host = format!("unix://{}", missing.display());
    let mut env = ENV.to_vec();
    env.push(("DOCKER_HOST", host.as_str()));
    let out = project.kiln(&["build", "--push=false", "-b", "alpha"], &env);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no reference for an image nowhere");
    let err = stderr(&out);
    for needle in [
        host.as_str(),
        "DOCKER_HOST",
        "start the engine",
        "--push",
        "-d REPO",
    ] {
        assert!(err.contains(needle), "{needle} in {err}");
    }
    // Nothing configured: the default socket is named.
    let out = project.kiln(&["build", "--push=false", "-b", "alpha"], ENV);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unix:///var/run/docker.sock"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn push_defaults_follow_the_kube_context_and_outputs_add_up() {
    let podman = podman();
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let repo = registry.host();
    let host = podman.docker_host();
    let remote = kubeconfig(&project, "gke_team_zone_prod");
    let local = kubeconfig(&project, "minikube");
    fn with<'a>(kubeconfig: &'a str, host: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut env = ENV.to_vec();
        env.extend([("KUBECONFIG", kubeconfig), ("DOCKER_HOST", host)]);
        env
    }
    let build = ["build", "-b", "alpha", "-d", repo.as_str()];

    // A remote context pushes, and a layout adds a destination without removing the push.
    let mut args = build.to_vec();
    args.extend(["--oci-layout-path", "out"]);
    let (refs, err) = kiln_ok(&project, &args, &with(&remote, &host));
    assert!(
        refs[0].starts_with(&format!("{repo}/alpha:v1.2.3@sha256:")),
        "{refs:?}"
    );
    assert!(
        err.contains("pushed ") && err.contains("wrote OCI layout out"),
        "{err}"
    );
    let pushed = kiln_testkit::skopeo_inspect_raw(&format!("docker://{repo}/alpha:v1.2.3"), false)
        .expect("the pushed image is in the registry");
    assert!(pushed["layers"].is_array(), "{pushed}");
    let layout = crate::support::Layout(project.path().join("out"));
    assert_eq!(
        layout.entry(&format!("{repo}/alpha:v1.2.3"))["digest"],
        crate::support::digest_of(&refs[0])
    );

    // minikube loads into the engine; --push still pushes there.
    let (refs, err) = kiln_ok(&project, &build, &with(&local, &host));
    assert!(
        refs[0].starts_with(&format!("{repo}/alpha:")) && !refs[0].contains('@'),
        "{refs:?}"
    );
    assert!(
        err.contains("loaded into the engine") || err.contains("already in the engine"),
        "{err}"
    );
    assert!(podman.inspect(&refs[0], "{{.Id}}").is_some());
    let mut args = build.to_vec();
    args.push("--push");
    let (refs, err) = kiln_ok(&project, &args, &with(&local, &host));
    assert!(
        refs[0].contains("@sha256:") && err.contains("pushed "),
        "{err}"
    );

    // --kube-context names a local context over a remote current context.
    let mut args = build.to_vec();
    args.extend(["--kube-context", "docker-desktop"]);
    let (refs, _) = kiln_ok(&project, &args, &with(&remote, &host));
    assert!(!refs[0].contains('@'), "{refs:?}");
}

#[test]
fn render_with_local_digests_uses_the_loaded_reference() {
    let podman = podman();
    let project = Project::new("multi");
    let host = podman.docker_host();
    let local = kubeconfig(&project, "docker-desktop");
    let mut env = ENV.to_vec();
    env.extend([
        ("KUBECONFIG", local.as_str()),
        ("DOCKER_HOST", host.as_str()),
    ]);
    let out = project.kiln(&["render", "--digest-source=local"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let id = podman
        .inspect("alpha:v1.2.3", "{{.Id}}")
        .expect("alpha loaded");
    let id = id.trim_start_matches("sha256:");
    assert!(yaml.contains(&format!("image: alpha:{id}")), "{yaml}");
}

fn kosample() -> Project {
    let project = Project::new("kosample");
    git(project.path(), &["tag", "v0.3.0"]);
    project
}

const KO_NAME: &str = "example-51d74b7127c5f7495a338df33ecdeb19";

#[test]
fn ko_local_loads_under_ko_local_names() {
    let podman = podman();
    let project = kosample();
    let host = podman.docker_host();
    for (args, env) in [
        (vec!["ko", "build", "-L", "./cmd/example"], vec![]),
        (
            vec!["ko", "build", "./cmd/example", "-t", "dev"],
            vec![("KO_DOCKER_REPO", "ko.local")],
        ),
    ] {
        let mut env = env;
        env.push(("DOCKER_HOST", host.as_str()));
        let (refs, err) = kiln_ok(&project, &args, &env);
        // ko's daemon publisher: `ko.local/<name>:<manifest hex>`, plus each tag.
        let prefix = format!("ko.local/{KO_NAME}:");
        let hex = refs[0].strip_prefix(&prefix).expect(&refs[0]);
        assert_eq!(hex.len(), 64, "{refs:?}");
        assert!(
            err.contains("loaded into") || err.contains("already in"),
            "{err}"
        );
        let id = podman.inspect(&refs[0], "{{.Id}}").expect("loaded");
        let tag = if args.contains(&"dev") {
            "dev"
        } else {
            "latest"
        };
        assert_eq!(
            podman.inspect(&format!("{prefix}{tag}"), "{{.Id}}"),
            Some(id)
        );
    }
}

#[test]
fn kind_local_hands_a_docker_archive_to_kind_load() {
    let project = kosample();
    let bin = tempfile::tempdir().unwrap();
    let path = stub_cluster_cli(bin.path(), "kind");
    let env = [
        ("KO_DOCKER_REPO", "kind.local"),
        ("KIND_CLUSTER_NAME", "dev"),
        ("PATH", path.as_str()),
    ];
    let (refs, err) = kiln_ok(&project, &["ko", "build", "./cmd/example"], &env);
    // Side-loading never pushes, so nothing asks `kind.local` for a cache record.
    assert!(!err.contains("registry cache record"), "{err}");
    let prefix = format!("kind.local/{KO_NAME}:");
    let hex = refs[0].strip_prefix(&prefix).expect(&refs[0]).to_owned();
    let args = std::fs::read_to_string(bin.path().join("kind.args")).unwrap();
    assert!(
        args.starts_with("load image-archive ") && args.trim_end().ends_with("--name dev"),
        "{args}"
    );
    // The archive is a docker-save tarball `tar` reads, naming the image as printed.
    let tags = archive_tags(&bin.path().join("kind.tar"));
    assert!(tags.contains(&format!("{prefix}{hex}")), "{tags:?}");
    assert!(tags.contains(&format!("{prefix}latest")), "{tags:?}");

    // Without kind on PATH: a clear error, nothing printed.
    let no_kind = [("KO_DOCKER_REPO", "kind.local")];
    let out = project.kiln(&["ko", "build", "./cmd/example"], &no_kind);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(
        stderr(&out).contains("`kind` CLI is not on PATH"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dev_against_a_local_context_lands_every_round_in_the_engine() {
    use crate::dev::{lines, wait_for};
    let podman = podman();
    let project = Project::new("multi");
    let kubeconfig = kubeconfig(&project, "minikube");
    let host = podman.docker_host();
    let mut env = ENV.to_vec();
    env.extend([
        ("KUBECONFIG", kubeconfig.as_str()),
        ("DOCKER_HOST", host.as_str()),
    ]);
    let mut child = project.spawn_kiln(&["dev", "-b", "beta", "--platform", "linux/amd64"], &env);
    let stdout = lines(child.stdout.take().unwrap());
    let is_ref = |l: &str| l.starts_with("beta:") && !l.contains('@');
    let first = wait_for(&stdout, "the first loaded image", is_ref);
    assert!(podman.inspect(&first, "{{.Id}}").is_some(), "{first}");

    let main = project.path().join("cmd/beta/main.go");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, source.replace("\"platform\"", "\"arch\"")).unwrap();
    let second = wait_for(&stdout, "the image after the edit", is_ref);
    assert_ne!(second, first);
    let id = podman
        .inspect(&second, "{{.Id}}")
        .expect("the new round is in the engine");
    assert_eq!(
        id.trim_start_matches("sha256:"),
        second.trim_start_matches("beta:")
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiln dev did not stop on SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
