//! `kiln dev` as a real process: edit, see a new image; break the code, see the error
//! while it stays alive; fix it, see a new image; Ctrl-C exits cleanly and leaves no
//! temporary files.

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{Project, run_ok};

const WAIT: Duration = Duration::from_secs(90);

pub(crate) fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line for which `pred` holds, within WAIT.
pub(crate) fn wait_for(
    rx: &mpsc::Receiver<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => continue,
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// `kiln dev` on the multi fixture's beta, one platform, into an OCI layout.
pub(crate) fn spawn_dev_beta(project: &Project) -> std::process::Child {
    spawn_dev(project, "beta", &[])
}

/// `kiln dev` on one artifact of the multi fixture, one platform, into an OCI layout.
fn spawn_dev(project: &Project, image: &str, env: &[(&str, &str)]) -> std::process::Child {
    let mut env = env.to_vec();
    env.extend([("RELEASE", "v1.2.3"), ("TEAM", "core")]);
    project.spawn_kiln(
        &[
            "dev",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            image,
            "--platform",
            "linux/amd64",
        ],
        &env,
    )
}

#[test]
fn dev_loop_rebuilds_survives_compile_errors_and_stops_on_ctrl_c() {
    let project = Project::new("multi");
    let mut child = spawn_dev_beta(&project);
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let is_ref = |l: &str| l.starts_with("beta:v1.2.3@sha256:");
    let first = wait_for(&stdout, "the first image", is_ref);
    // The fixture has manifests and kubectl is the default deployer, but without a cluster
    // (no kubeconfig here) the loop only builds, and says so.
    wait_for(&stderr, "the no-cluster note", |l| {
        l.contains("no Kubernetes cluster reachable") && l.contains("building only")
    });
    wait_for(&stderr, "the watcher", |l| {
        l.contains("watching for changes")
    });

    let main = project.path().join("cmd/beta/main.go");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, source.replace("\"platform\"", "\"arch\"")).unwrap();
    let second = wait_for(&stdout, "an image after the edit", is_ref);
    assert_ne!(second, first);

    std::fs::write(
        &main,
        source.replace("var version = \"unset\"", "var version = broken"),
    )
    .unwrap();
    let error = wait_for(&stderr, "the compile error", |l| {
        l.contains("undefined: broken")
    });
    assert!(error.contains("main.go"), "{error}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "kiln dev stays alive after a compile error"
    );

    std::fs::write(&main, &source).unwrap();
    let third = wait_for(&stdout, "an image after the fix", is_ref);
    assert_eq!(third, first, "the fixed source is the first source again");

    // Ctrl-C.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "kiln dev did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let leftovers: Vec<_> = walk(&project.cache.path().join("kiln"))
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Every line that arrives within `period`.
fn lines_within(rx: &mpsc::Receiver<String>, period: Duration) -> Vec<String> {
    let deadline = Instant::now() + period;
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        seen.push(line);
    }
    seen
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

const IS_ALPHA_REF: fn(&str) -> bool = |l| l.starts_with("alpha:v1.2.3@sha256:");

#[test]
fn dev_rests_on_an_untouched_tree_and_builds_once_per_change() {
    // alpha has kodata, which once made the loop rebuild at once and forever.
    let project = Project::new("multi");
    let mut child = spawn_dev(&project, "alpha", &[]);
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    wait_for(&stdout, "the first image", IS_ALPHA_REF);
    wait_for(&stderr, "the watcher", |l| {
        l.contains("watching for changes")
    });

    // Ten seconds of an untouched tree (kiln's own reads of main.go and kodata included).
    let idle_out = lines_within(&stdout, Duration::from_secs(10));
    let idle_err = lines_within(&stderr, Duration::from_secs(0));
    assert!(idle_out.is_empty(), "no round while idle: {idle_out:?}");
    assert!(idle_err.is_empty(), "nothing said while idle: {idle_err:?}");

    // Saving a file unchanged and touching kodata change no input's content: no round.
    let main = project.path().join("cmd/alpha/main.go");
    let source = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, &source).unwrap();
    run_ok(Command::new("touch").arg(project.path().join("cmd/alpha/kodata/greeting.txt")));
    let unchanged = lines_within(&stdout, Duration::from_secs(3));
    assert!(unchanged.is_empty(), "{unchanged:?}");

    // One edit: exactly one round.
    std::fs::write(&main, source.replace("\"path\"", "\"PATH\"")).unwrap();
    wait_for(&stdout, "an image after the edit", IS_ALPHA_REF);
    let more = lines_within(&stdout, Duration::from_secs(4));
    assert!(more.is_empty(), "one edit, one round: {more:?}");

    // A compile error is printed once and not retried while nothing changes.
    std::fs::write(
        &main,
        source.replace("var version = \"unset\"", "var version = broken"),
    )
    .unwrap();
    wait_for(&stderr, "the compile error", |l| {
        l.contains("undefined: broken")
    });
    let after = lines_within(&stderr, Duration::from_secs(6));
    assert!(
        !after.iter().any(|l| l.contains("undefined: broken")),
        "the error is printed once: {after:?}"
    );

    // A .ko.yaml appearing next to the module is an input.
    std::fs::write(&main, &source).unwrap();
    wait_for(&stdout, "an image after the fix", IS_ALPHA_REF);
    std::fs::write(project.path().join(".ko.yaml"), "defaultLdflags: [-s]\n").unwrap();
    wait_for(&stdout, "an image after .ko.yaml appeared", IS_ALPHA_REF);
    stop(child);
}

#[test]
fn dev_rebuilds_when_the_ko_config_path_file_or_go_work_changes() {
    let project = Project::new("multi");
    let outside = tempfile::tempdir().unwrap();
    let ko_config = outside.path().join("ko-settings.yaml");
    std::fs::write(&ko_config, "defaultLdflags: [-s]\n").unwrap();
    let ko_config_env = ko_config.display().to_string();
    let mut child = spawn_dev(&project, "alpha", &[("KO_CONFIG_PATH", &ko_config_env)]);
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    wait_for(&stdout, "the first image", IS_ALPHA_REF);
    wait_for(&stderr, "the watcher", |l| {
        l.contains("watching for changes")
    });

    std::fs::write(&ko_config, "defaultLdflags: [-s, -w]\n").unwrap();
    wait_for(
        &stdout,
        "an image after the KO_CONFIG_PATH edit",
        IS_ALPHA_REF,
    );

    std::fs::write(project.path().join("go.work"), "go 1.22\n\nuse .\n").unwrap();
    wait_for(&stdout, "an image after go.work appeared", IS_ALPHA_REF);
    stop(child);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
#[ignore = "needs a Kubernetes cluster in kubectl's current context; none can be had here (run with --ignored against one)"]
fn dev_applies_the_manifests_with_the_new_image_when_a_cluster_is_reachable() {
    let reachable = Command::new("kubectl")
        .args(["version", "--request-timeout=5s"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(reachable, "no cluster answers in kubectl's current context");
    let kubeconfig = std::env::var_os("KUBECONFIG").unwrap_or_else(|| {
        std::path::Path::new(&std::env::var_os("HOME").unwrap())
            .join(".kube/config")
            .into()
    });
    let project = Project::new("multi");
    let namespace = format!("kiln-test-{}", std::process::id());
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap()
    };
    assert!(
        kubectl(&["create", "namespace", &namespace])
            .status
            .success()
    );
    project.edit(
        "skaffold.yaml",
        "profiles:",
        &format!("deploy:\n  kubectl:\n    defaultNamespace: {namespace}\nprofiles:"),
    );
    let kubeconfig_env = kubeconfig.to_string_lossy().into_owned();
    let mut child = project.spawn_kiln(
        &[
            "dev",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "alpha",
        ],
        &[
            ("KUBECONFIG", kubeconfig_env.as_str()),
            ("RELEASE", "v1.2.3"),
            ("TEAM", "core"),
        ],
    );
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let reference = wait_for(&stdout, "the image", |l| l.starts_with("alpha:"));
    wait_for(&stderr, "kubectl's report", |l| {
        l.contains("deployment.apps/alpha")
    });
    let deployed = kubectl(&[
        "get",
        "deployment",
        "alpha",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    kubectl(&["delete", "namespace", &namespace, "--wait=false"]);
    assert_eq!(String::from_utf8_lossy(&deployed.stdout), reference);
}
