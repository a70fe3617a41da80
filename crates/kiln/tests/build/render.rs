//! `kiln render`: the config's manifests with the built images, from a build JSON, a build,
//! the registry or the tag policy, as Skaffold's render gives them.

use kiln_testkit::{Registry, RegistryKind};

use crate::support::Project;

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

/// The fixture's manifest with alpha's and beta's images replaced, in Skaffold's output
/// format (documents trimmed, `---` between them).
fn expected(alpha: &str, beta: &str) -> String {
    let source = include_str!("../fixtures/multi/k8s/app.yaml");
    source
        .replace("image: alpha\n", &format!("image: {alpha}\n"))
        .replace("image: beta:old-tag\n", &format!("image: {beta}\n"))
}

fn render(project: &Project, args: &[&str]) -> String {
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    project.kiln_ok(&all, ENV).join("\n") + "\n"
}

#[test]
fn render_replaces_each_artifacts_images_from_every_digest_source() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let refs = project.kiln_ok(
        &[
            "build",
            "--push",
            "-d",
            &repo,
            "--file-output",
            "build.json",
        ],
        ENV,
    );
    let (alpha, beta) = (&refs[0], &refs[1]);

    // From the build JSON, without building: no Go needed (none on this PATH).
    let no_go = [("PATH", "/usr/bin:/bin")];
    let from_file = project.kiln_ok(&["render", "--build-artifacts", "build.json"], &no_go);
    assert_eq!(from_file.join("\n") + "\n", expected(alpha, beta));
    // From the registry: the tag policy's tag, resolved to the pushed digest.
    assert_eq!(render(&project, &["-d", &repo]), expected(alpha, beta));
    // From a build.
    let out = project.path().join("rendered.yaml");
    render(
        &project,
        &[
            "-d",
            &repo,
            "--digest-source=local",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        expected(alpha, beta)
    );
    // The tag alone, or nothing at all.
    assert_eq!(
        render(&project, &["-d", &repo, "--digest-source=tag"]),
        expected(
            &format!("{repo}/alpha:v1.2.3"),
            &format!("{repo}/beta:v1.2.3")
        )
    );
    assert_eq!(
        render(&project, &["--digest-source=none"]),
        include_str!("../fixtures/multi/k8s/app.yaml")
    );
}

#[test]
fn render_from_the_registry_fails_when_the_image_was_never_pushed() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let repo = format!("{}/empty", registry.host());
    let out = project.kiln(&["render", "-d", &repo], ENV);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{repo}/alpha:v1.2.3")) && stderr.contains("exist remotely"),
        "{stderr}"
    );
}

/// A manifest beside the fixture's: a Service that names its own namespace, and a
/// ConfigMap (a kind Skaffold's transforms leave alone).
const LEGACY: &str = "# Stays where it is: it names its namespace.
apiVersion: v1
kind: Service
metadata:
  name: legacy
  namespace: other
spec:
  ports:
    - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
";

/// How the namespace and label tests render: by tag, to `reg.example`.
const ARGS: [&str; 3] = ["-d", "reg.example", "--digest-source=tag"];

/// The multi project with [`LEGACY`] among its manifests, and what it renders as written.
fn with_legacy() -> (Project, String) {
    let project = Project::new("multi");
    std::fs::write(project.path().join("k8s/legacy.yaml"), LEGACY).unwrap();
    let plain = expected("reg.example/alpha:v1.2.3", "reg.example/beta:v1.2.3")
        + "---\n"
        + LEGACY.trim_end()
        + "\n";
    (project, plain)
}

#[test]
fn render_with_a_namespace_sets_it_where_skaffold_does() {
    let (project, plain) = with_legacy();
    let args = ARGS;

    // Without -n nothing changes, and nothing is said.
    let (out, stderr) = project.kiln_ok_logged(&[&["render"], &args[..]].concat(), ENV);
    assert_eq!(out.join("\n") + "\n", plain);
    assert!(!stderr.contains("namespace"), "{stderr}");

    // -n: the Deployment and the Job get it after their name; the Service that names
    // another namespace keeps it, with Skaffold's warning; the ConfigMap is left alone.
    let namespaced = plain
        .replace("  name: alpha\n", "  name: alpha\n  namespace: team-a\n")
        .replace("  name: beta\n", "  name: beta\n  namespace: team-a\n");
    let (out, stderr) =
        project.kiln_ok_logged(&[&["render", "-n", "team-a"], &args[..]].concat(), ENV);
    assert_eq!(out.join("\n") + "\n", namespaced);
    assert!(
        stderr.contains(
            "warning: a manifest already has namespace set \"other\" which conflicts with namespace on the CLI \"team-a\""
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Service `legacy`"), "{stderr}");
    assert!(!stderr.contains("ignored"), "{stderr}");

    // Its environment form, as Skaffold reads it.
    let mut env = ENV.to_vec();
    env.push(("SKAFFOLD_NAMESPACE", "team-a"));
    let out = project.kiln_ok(&[&["render"], &args[..]].concat(), &env);
    assert_eq!(out.join("\n") + "\n", namespaced);

    // --offline: the manifests as they are, and no warning.
    let (out, stderr) = project.kiln_ok_logged(
        &[&["render", "-n", "team-a", "--offline"], &args[..]].concat(),
        ENV,
    );
    assert_eq!(out.join("\n") + "\n", plain);
    assert!(!stderr.contains("namespace"), "{stderr}");
    let out = project.kiln_ok(
        &[
            &["render", "--namespace=team-a", "--offline=false"],
            &args[..],
        ]
        .concat(),
        ENV,
    );
    assert_eq!(out.join("\n") + "\n", namespaced);

    // A selected manifest whose metadata is no mapping fails with -n, as Skaffold's
    // render fails (`setting namespace in manifests`), and renders without it.
    std::fs::write(
        project.path().join("k8s/z-pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n",
    )
    .unwrap();
    project.kiln_ok(&[&["render"], &args[..]].concat(), ENV);
    let out = project.kiln(&[&["render", "-n", "team-a"], &args[..]].concat(), ENV);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "manifests.rawYaml document 5: line 3, column 1: setting namespace in manifests: `metadata` must be a mapping, found null"
        ),
        "{stderr}"
    );
}

#[test]
fn render_with_labels_adds_them_where_skaffold_does_and_no_run_id() {
    let (project, plain) = with_legacy();
    let args = ARGS;
    // The Deployment, its pod template, the Job (not its pod template: Skaffold's deny
    // list) and the Service get them, in key order; the ConfigMap does not. Without -l
    // there is no label at all: `kiln render` adds no run ID, as `skaffold render` adds
    // none, so its output is the same from run to run.
    let labelled = plain
        .replace(
            "  name: alpha\n",
            "  name: alpha\n  labels:\n    team: web\n    tier: \"1\"\n",
        )
        .replace(
            "      labels: {app: alpha}\n",
            "      labels: {team: web, tier: \"1\", app: alpha}\n",
        )
        .replace(
            "  name: beta\n",
            "  name: beta\n  labels:\n    team: web\n    tier: \"1\"\n",
        )
        .replace(
            "  namespace: other\n",
            "  namespace: other\n  labels:\n    team: web\n    tier: \"1\"\n",
        );
    for flags in [
        &["-l", "tier=1", "-l", "team=web"][..],
        &["--label=team=web,tier=1"][..],
    ] {
        let out = project.kiln_ok(&[&["render"], flags, &args[..]].concat(), ENV);
        assert_eq!(out.join("\n") + "\n", labelled, "{flags:?}");
    }
    let out = project.kiln_ok(&[&["render"], &args[..]].concat(), ENV);
    assert_eq!(out.join("\n") + "\n", plain);
    // The environment form, and with -n (labels first, then the namespace after `name`).
    let mut env = ENV.to_vec();
    env.push(("SKAFFOLD_LABEL", "team=web,tier=1"));
    let out = project.kiln_ok(&[&["render", "-n", "team-a"], &args[..]].concat(), &env);
    assert_eq!(
        out.join("\n") + "\n",
        labelled
            .replace("  name: alpha\n", "  name: alpha\n  namespace: team-a\n")
            .replace("  name: beta\n", "  name: beta\n  namespace: team-a\n")
    );
}
