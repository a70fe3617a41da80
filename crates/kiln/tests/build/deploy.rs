//! `kiln render`, `run`, `deploy` and `delete` on a project that looks like a real one (two
//! ko services, a raw manifest, a kustomize overlay, a helm chart), with the real kustomize
//! and helm (scripts/ensure-deploy-tools.sh installs them). No Kubernetes cluster can be
//! had here: `kubectl` and `helm` are recording wrappers first on PATH that keep every
//! invocation and its stdin; the wrapped helm runs the real helm for everything that needs
//! no cluster (`template`, `dep build`, and an install's rendering through kiln's
//! post-renderer).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Project, run_ok};

/// The real tool on PATH (the test set-up puts kustomize and helm there).
fn real_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not on PATH: run `source scripts/ensure-deploy-tools.sh` (scripts/test.sh does)")
        })
}

/// `kubectl`, `helm` and `kustomize` wrappers recording into `record/`: `<n>.args` (one argument a
/// line) and `<n>.stdin`. The helm wrapper answers `get` with "not found" (nothing is
/// installed) until [`Recorder::install`], runs the real helm for `template` and `dep`, and
/// for `install`/`upgrade` runs the real `helm template` with the same arguments, keeping
/// what the post-renderer made of the chart in `<n>.rendered` (and as the release's manifest,
/// which `helm get all --template {{.Release.Manifest}}` answers); kustomize runs for real.
/// `helm version` and `helm plugin` run the real helm. `kubectl rollout status TYPE NAME` answers from [`Recorder::rollout`]'s script for NAME,
/// else that the rollout is complete; `kubectl config view` with [`Recorder::context_namespace`].
struct Recorder {
    dir: tempfile::TempDir,
    /// The helm the wrapper runs: helm 3 from PATH unless [`Recorder::with_helm`].
    helm: PathBuf,
}

const WRAPPER: &str = r#"#!/bin/bash
set -u
record="$RECORD_DIR"
# Status checks poll in parallel: numbering is under a lock.
exec 9>>"$record/../lock"
flock 9
n=$(ls "$record" | grep -c '\.args$')
n=$(printf '%03d' "$n")
{ echo "$(basename "$0")"; printf '%s\n' "$@"; } > "$record/$n.args"
flock -u 9
exec 9>&-
sub=""
for a in "$@"; do
  case "$a" in
    apply|build|delete|get|template|dep|package|install|upgrade|version|rollout|config|plugin) sub="$a"; break ;;
  esac
done
case "$(basename "$0"):$sub" in
  kubectl:apply|kubectl:delete) cat > "$record/$n.stdin"; echo "kubectl $sub: recorded" ;;
  kubectl:version) echo "Server Version: v1.31.0 (recorded)" ;;
  kubectl:config) cat "$record/../context-namespace" 2>/dev/null ;;
  kubectl:rollout)
    args=("$@")
    for i in "${!args[@]}"; do
      if [ "${args[$i]}" = status ]; then type="${args[$((i+1))]}"; name="${args[$((i+2))]}"; break; fi
    done
    script="$record/../rollout/$name"
    if [ ! -e "$script" ]; then
      if [ "$type" = deployment ]; then echo "deployment \"$name\" successfully rolled out";
      else echo "statefulset rolling update complete 1 pods at revision $name-1..."; fi
      exit 0
    fi
    # One line per call, the last one again once the script is used up.
    k=$(cat "$script.n" 2>/dev/null || echo 0)
    echo $((k+1)) > "$script.n"
    total=$(wc -l < "$script")
    if [ "$k" -ge "$total" ]; then k=$((total-1)); fi
    line=$(sed -n "$((k+1))p" "$script")
    case "$line" in
      FAIL\ *) echo "${line#FAIL }" >&2; exit 1 ;;
      HANG) exec sleep 600 ;;
      *) echo "$line" ;;
    esac ;;
  helm:get)
    if printf '%s\n' "$@" | grep -qx -- '--template'; then
      if [ -e "$record/../release.yaml" ]; then cat "$record/../release.yaml"; else echo "Error: release: not found" >&2; exit 1; fi
    elif [ -e "$record/../installed" ]; then echo "MANIFEST:"; else echo "Error: release: not found" >&2; exit 1; fi ;;
  helm:template|helm:dep|helm:package|helm:version|helm:plugin) exec "$REAL_HELM" "$@" ;;
  kustomize:build) exec "$REAL_KUSTOMIZE" "$@" ;;
  helm:install|helm:upgrade)
    args=()
    for a in "$@"; do
      if [ "$a" = "$sub" ]; then args+=(template); else args+=("$a"); fi
    done
    "$REAL_HELM" "${args[@]}" > "$record/$n.rendered" || exit 1
    cp "$record/$n.rendered" "$record/../release.yaml"
    echo "Release \"frontend\" has been $sub-ed (recorded)" ;;
  helm:delete) echo "release \"$(printf '%s' "$*")\" uninstalled (recorded)" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

impl Recorder {
    fn new() -> Recorder {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::create_dir(dir.path().join("record")).unwrap();
        for tool in ["kubectl", "helm", "kustomize"] {
            let path = dir.path().join("bin").join(tool);
            std::fs::write(&path, WRAPPER).unwrap();
            run_ok(Command::new("chmod").arg("755").arg(&path));
        }
        Recorder {
            dir,
            helm: real_tool("helm"),
        }
    }

    /// The wrapper runs `helm` instead of the helm on PATH.
    fn with_helm(mut self, helm: PathBuf) -> Recorder {
        self.helm = helm;
        self
    }

    /// The environment kiln runs in: the wrappers first on PATH, the real kustomize next.
    fn env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        vec![
            ("PATH".to_owned(), path),
            (
                "RECORD_DIR".to_owned(),
                self.dir.path().join("record").display().to_string(),
            ),
            ("REAL_HELM".to_owned(), self.helm.display().to_string()),
            (
                "REAL_KUSTOMIZE".to_owned(),
                real_tool("kustomize").display().to_string(),
            ),
            ("RELEASE".to_owned(), "v7".to_owned()),
            ("STAGE".to_owned(), "dev".to_owned()),
        ]
    }

    /// Every recorded invocation, in order: its words and its stdin.
    fn runs(&self) -> Vec<Run> {
        let dir = self.dir.path().join("record");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".args"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|name| {
                let stem = name.trim_end_matches(".args");
                let read =
                    |ext: &str| std::fs::read_to_string(dir.join(format!("{stem}.{ext}"))).ok();
                let text = read("args").unwrap();
                Run {
                    words: text.lines().map(str::to_owned).collect(),
                    stdin: read("stdin"),
                    rendered: read("rendered"),
                }
            })
            .collect()
    }

    /// Every recorded command line, in order.
    fn lines(&self) -> Vec<String> {
        self.runs().iter().map(Run::line).collect()
    }

    /// The first recorded `kubectl … COMMAND` (after kubectl's `--flag value` pairs); its
    /// absence fails the test, showing every run.
    fn kubectl(&self, command: &str) -> Run {
        let runs = self.runs();
        let position = runs.iter().position(|r| {
            r.words[0] == "kubectl"
                && r.words[1..]
                    .iter()
                    .step_by(2)
                    .find(|w| !w.starts_with("--"))
                    .is_some_and(|w| w == command)
        });
        match position {
            Some(i) => runs.into_iter().nth(i).unwrap(),
            None => panic!("no kubectl {command} in {runs:#?}"),
        }
    }

    /// From now on, helm answers that the release is installed.
    fn install(&self) {
        std::fs::write(self.dir.path().join("installed"), "").unwrap();
    }

    /// What `kubectl rollout status … NAME` answers, one line per call (the last one
    /// again after): kubectl's report on stdout, `FAIL <error>` for an error and exit
    /// status 1, `HANG` for a kubectl that never answers.
    fn rollout(&self, name: &str, script: &[&str]) {
        let dir = self.dir.path().join("rollout");
        std::fs::create_dir_all(&dir).unwrap();
        let _ = std::fs::remove_file(dir.join(format!("{name}.n")));
        std::fs::write(dir.join(name), script.join("\n") + "\n").unwrap();
    }

    /// The namespace of the kube context, as `kubectl config view --minify` answers it.
    fn context_namespace(&self, namespace: &str) {
        std::fs::write(self.dir.path().join("context-namespace"), namespace).unwrap();
    }

    fn clear(&self) {
        let dir = self.dir.path().join("record");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
    }
}

#[derive(Debug)]
struct Run {
    words: Vec<String>,
    stdin: Option<String>,
    rendered: Option<String>,
}

impl Run {
    fn line(&self) -> String {
        self.words.join(" ")
    }
}

fn kiln(project: &Project, recorder: &Recorder, args: &[&str]) -> std::process::Output {
    let env = recorder.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    project.kiln(args, &env)
}

/// `kiln ARGS`, which must succeed: its stdout and stderr.
fn kiln_logged(project: &Project, recorder: &Recorder, args: &[&str]) -> (String, String) {
    let out = kiln(project, recorder, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "kiln {args:?} failed:\n{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn kiln_ok(project: &Project, recorder: &Recorder, args: &[&str]) -> String {
    let out = kiln(project, recorder, args);
    assert!(
        out.status.success(),
        "kiln {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a real tool in the project and returns its stdout.
fn tool(project: &Project, program: &Path, args: &[&str]) -> String {
    run_ok(Command::new(program).args(args).current_dir(project.path()))
}

/// A YAML stream's documents, trimmed, as Skaffold splits and prints them.
fn documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push(current);
    docs.into_iter()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect()
}

/// What Skaffold's documented rules give for the fixture with `api` and `web-frontend`
/// built as `api_ref` and `frontend_ref` (`repo:tag` and `@digest` if any): the raw
/// namespace, `kustomize build` of the overlay with the `image: api` field replaced, and
/// `helm template` of the release with the IMAGE_REPO/IMAGE_TAG/IMAGE_DIGEST values of
/// the frontend image, all from the real tools.
fn expected_render(project: &Project, api_ref: &str, frontend: (&str, &str, &str)) -> Vec<String> {
    let (repo, tag, digest) = frontend;
    let mut docs =
        documents(&std::fs::read_to_string(project.path().join("k8s/namespace.yaml")).unwrap());
    let kustomized = tool(
        project,
        &real_tool("kustomize"),
        &[
            "build",
            "--load-restrictor",
            "LoadRestrictionsNone",
            "deploy/overlays/dev",
        ],
    );
    assert!(kustomized.contains("- image: api\n"), "{kustomized}");
    docs.extend(documents(
        &kustomized.replace("- image: api\n", &format!("- image: {api_ref}\n")),
    ));
    let image_tag = if digest.is_empty() {
        tag.to_owned()
    } else {
        format!("{tag}@{digest}")
    };
    let templated = tool(
        project,
        &real_tool("helm"),
        &[
            "template",
            "frontend-dev",
            "charts/frontend",
            "--set",
            "replicaCount=2",
            "--set",
            &format!("image.repository={repo}"),
            "--set",
            &format!("image.tag={image_tag}"),
            "-f",
            "charts/frontend/values-dev.yaml",
            "--namespace",
            "web",
        ],
    );
    assert!(templated.contains("image: api\n"), "{templated}");
    docs.extend(documents(
        &templated.replace("image: api\n", &format!("image: {api_ref}\n")),
    ));
    docs
}

/// The one `skaffold.dev/run-id` of `text`'s labels, checked to be a random UUID v4.
fn run_id(text: &str) -> String {
    let ids: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("skaffold.dev/run-id: "))
        .collect();
    assert_eq!(ids.len(), 1, "one run ID in {text}");
    let id = ids.into_iter().next().unwrap();
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{id}"
    );
    assert!(parts[2].starts_with('4') && id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    id.to_owned()
}

/// `docs` with each run ID spelled `RUN-ID`, so two runs' manifests compare.
fn same_run(docs: &[String]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            d.lines()
                .map(|l| match l.split_once("skaffold.dev/run-id: ") {
                    Some((indent, _)) => format!("{indent}skaffold.dev/run-id: RUN-ID"),
                    None => l.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// `docs` with `labels` where Skaffold puts them (kiln-render's unit tests hold the rules;
/// here the wiring is checked).
fn labelled(docs: &[String], labels: &[(&str, &str)]) -> Vec<String> {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    docs.iter()
        .map(|d| kiln_render::set_labels(d, &labels).unwrap())
        .collect()
}

#[test]
fn render_runs_kustomize_and_helm_as_skaffold_does() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    let out = kiln_ok(
        &project,
        &recorder,
        &[
            "render",
            "--digest-source=tag",
            "-d",
            "registry.example/team",
        ],
    );
    assert_eq!(
        documents(&out),
        expected_render(
            &project,
            "registry.example/team/api:v7",
            ("registry.example/team/web-frontend", "v7", ""),
        )
    );
    // Exactly Skaffold's helm command lines; kustomize is not wrapped (it needs no cluster).
    let lines = recorder.lines();
    let overlay = project.path().join("deploy/overlays/dev");
    assert_eq!(
        lines,
        [
            // Each buildArgs entry split at spaces, the path made absolute, as Skaffold does.
            &format!(
                "kustomize build --load-restrictor LoadRestrictionsNone {}",
                overlay.display()
            ),
            "helm dep build charts/frontend",
            "helm template frontend-dev charts/frontend --set replicaCount=2 \
             --set image.repository=registry.example/team/web-frontend --set image.tag=v7 \
             -f charts/frontend/values-dev.yaml --namespace web",
        ]
    );

    // A template naming an image that was not built is an error naming the value.
    project.edit(
        "skaffold.yaml",
        "IMAGE_REPO_web_frontend",
        "IMAGE_REPO_nothing",
    );
    let failed = kiln(
        &project,
        &recorder,
        &[
            "render",
            "--digest-source=tag",
            "-d",
            "registry.example/team",
        ],
    );
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("IMAGE_REPO_nothing"), "{stderr}");
}

#[test]
fn a_skaffold_v2_config_renders_as_skaffolds_upgrade_makes_it() {
    // The same project as Skaffold v1 users wrote it: kustomize and helm as deployers,
    // the image named by `artifactOverrides` with the `helm` image strategy.
    let project = Project::new("platform");
    std::fs::write(
        project.path().join("skaffold-v2.yaml"),
        r#"apiVersion: skaffold/v2beta29
kind: Config
build:
  tagPolicy:
    envTemplate:
      template: "{{.RELEASE}}"
  artifacts:
    - image: api
      ko:
        main: ./cmd/api
    - image: web-frontend
      ko:
        main: ./cmd/frontend
deploy:
  kustomize:
    paths: [deploy/overlays/dev]
    buildArgs: ["--load-restrictor LoadRestrictionsNone"]
  helm:
    releases:
      - name: frontend-dev
        chartPath: charts/frontend
        namespace: web
        valuesFiles: [charts/frontend/values-dev.yaml]
        setValues:
          replicaCount: 2
        artifactOverrides:
          image: web-frontend
        imageStrategy:
          helm: {}
"#,
    )
    .unwrap();
    let recorder = Recorder::new();
    let out = kiln_ok(
        &project,
        &recorder,
        &[
            "render",
            "-f",
            "skaffold-v2.yaml",
            "--digest-source=tag",
            "-d",
            "registry.example/team",
        ],
    );
    let mut expected = expected_render(
        &project,
        "registry.example/team/api:v7",
        ("registry.example/team/web-frontend", "v7", ""),
    );
    expected.remove(0); // no rawYaml: v2's kustomize deployer replaces the default
    assert_eq!(documents(&out), expected);
    let lines = recorder.lines();
    assert_eq!(
        lines[2],
        "helm template frontend-dev charts/frontend --set replicaCount=2 \
         --set image.repository=registry.example/team/web-frontend --set image.tag=v7 \
         -f charts/frontend/values-dev.yaml --namespace web"
    );
}

#[test]
fn run_builds_then_applies_with_kubectl_and_installs_with_helm_as_skaffold_passes_them() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    let out_dir = tempfile::tempdir().unwrap();
    let layout = out_dir.path().join("layout");
    let build_json = out_dir.path().join("build.json");
    // The overlay's Deployment takes three polls to roll out; the frontend is ready at once.
    recorder.rollout(
        "dev-api",
        &[
            "Waiting for deployment \"dev-api\" rollout to finish: 1 of 3 updated replicas are available...",
            "Waiting for deployment \"dev-api\" rollout to finish: 2 of 3 updated replicas are available...",
            "deployment \"dev-api\" successfully rolled out",
        ],
    );
    let (stdout, stderr) = kiln_logged(
        &project,
        &recorder,
        &[
            "run",
            "-p",
            "helm-deploy",
            "--push=false",
            "--oci-layout-path",
            layout.to_str().unwrap(),
            "--file-output",
            build_json.to_str().unwrap(),
            "--kube-context",
            "staging",
            "-d",
            "registry.example/team",
        ],
    );
    // Built references on stdout, as `kiln build` prints them.
    let refs: Vec<&str> = stdout.lines().collect();
    assert_eq!(refs.len(), 2, "{stdout}");
    assert!(
        refs[0].starts_with("registry.example/team/api:v7@sha256:"),
        "{stdout}"
    );
    let (frontend_repo, frontend_digest) = refs[1].split_once(":v7@").unwrap();
    assert_eq!(frontend_repo, "registry.example/team/web-frontend");

    let runs = recorder.runs();
    let lines: Vec<String> = runs.iter().map(Run::line).collect();
    // kubectl applies what it deploys: the raw manifest and the kustomize overlay (and the
    // manifests.helm render, which Skaffold's kubectl deployer gets too).
    let apply = &runs[3];
    assert_eq!(
        apply.line(),
        "kubectl --context staging apply --server-side -f -",
        "{lines:#?}"
    );
    let applied = documents(apply.stdin.as_deref().unwrap());
    let id = run_id(apply.stdin.as_deref().unwrap());
    let expected = expected_render(&project, refs[0], (frontend_repo, "v7", frontend_digest));
    // Every object Skaffold labels has the run's ID, its pod templates too; the Namespace
    // (a kind Skaffold does not transform) has none.
    assert_eq!(
        applied,
        labelled(&expected, &[("skaffold.dev/run-id", &id)])
    );
    assert!(!applied[0].contains("run-id"), "{}", applied[0]);
    assert_eq!(applied[2].matches(&id).count(), 2, "{}", applied[2]);
    // helm: render for kubectl (dep build, template), then the deployer: which helm (3
    // takes kiln as post-renderer executable), is the release installed, dep build,
    // install with Skaffold's arguments and kiln as post-renderer.
    assert_eq!(
        lines[1],
        "helm --kube-context staging dep build charts/frontend"
    );
    assert!(
        lines[2].starts_with("helm --kube-context staging template frontend-dev"),
        "{lines:#?}"
    );
    assert_eq!(lines[4], "helm version");
    assert_eq!(
        lines[5],
        "helm --kube-context staging get all --namespace web frontend-dev"
    );
    assert_eq!(
        lines[6],
        "helm --kube-context staging dep build charts/frontend"
    );
    let install = &runs[7].words;
    let kiln_exe = env!("CARGO_BIN_EXE_kiln");
    let builds_file = install
        .iter()
        .find_map(|w| w.strip_prefix("--build-artifacts="))
        .expect("the post-renderer reads a build JSON");
    let expected_install: Vec<String> = [
        "helm",
        "--kube-context",
        "staging",
        "install",
        "frontend-dev",
        "charts/frontend",
        "--namespace",
        "web",
        "--create-namespace",
        "--set",
        "replicaCount=2",
        "--set",
        &format!("image.repository={frontend_repo}"),
        "--set",
        &format!("image.tag=v7@{frontend_digest}"),
        "-f",
        "charts/frontend/values-dev.yaml",
        "--post-renderer",
        kiln_exe,
        "--post-renderer-args",
        "filter",
        "--post-renderer-args",
        &format!("--label=skaffold.dev/run-id={id}"),
        "--post-renderer-args",
        &format!("--build-artifacts={builds_file}"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(install, &expected_install);
    // Skaffold's helm deployer reads back what the release holds.
    assert_eq!(
        lines[8],
        "helm --kube-context staging get all --namespace web frontend-dev --template {{.Release.Manifest}}"
    );
    // Then the status check: each Deployment kubectl and helm deployed, once, polled with
    // Skaffold's command line until it has rolled out (the two in parallel).
    let polls = |name: &str| -> Vec<usize> {
        (0..lines.len())
            .filter(|&i| lines[i].contains(&format!(" rollout status deployment {name} ")))
            .collect()
    };
    let (api_polls, frontend_polls) = (polls("dev-api"), polls("frontend-dev"));
    assert_eq!(api_polls.len(), 3, "{lines:#?}");
    assert_eq!(frontend_polls.len(), 1, "{lines:#?}");
    assert!(api_polls.iter().chain(&frontend_polls).all(|&i| i > 8));
    assert_eq!(
        lines[api_polls[0]],
        "kubectl --context staging rollout status deployment dev-api --namespace platform-dev --watch=false"
    );
    assert_eq!(
        lines[frontend_polls[0]],
        "kubectl --context staging rollout status deployment frontend-dev --namespace web --watch=false"
    );
    assert_eq!(runs.len(), 13, "{lines:#?}");
    // Progress in Skaffold's words, each status once, as it changes.
    for said in [
        "Waiting for deployments to stabilize...",
        " - platform-dev:deployment/dev-api: waiting for rollout to finish: 1 of 3 updated replicas are available...",
        " - platform-dev:deployment/dev-api: waiting for rollout to finish: 2 of 3 updated replicas are available...",
        " - web:deployment/frontend-dev is ready. [1/2 deployment(s) still pending]",
        " - platform-dev:deployment/dev-api is ready.",
        "Deployments stabilized in ",
    ] {
        assert_eq!(stderr.matches(said).count(), 1, "{said:?} in {stderr}");
    }
    // What helm installs is the chart through kiln's post-renderer: the images set by
    // setValueTemplates, and the one the chart names as the artifact, replaced.
    let installed = runs[7].rendered.as_deref().unwrap();
    assert!(
        installed.contains(&format!("image: \"{}\"", refs[1])),
        "{installed}"
    );
    assert!(
        installed.contains(&format!("image: {}\n", refs[0])),
        "{installed}"
    );
    assert!(!installed.contains("image: api\n"), "{installed}");
    // ...and labelled by it with the run's ID.
    assert_eq!(run_id(installed), id);
    // The post-renderer's file is gone after the deploy.
    assert!(!Path::new(builds_file).exists());

    // `kiln deploy` of that build JSON into another namespace: nothing is built; the
    // release is installed already, so it is upgraded.
    recorder.clear();
    recorder.install();
    kiln_ok(
        &project,
        &recorder,
        &[
            "deploy",
            "-p",
            "helm-deploy",
            "--build-artifacts",
            build_json.to_str().unwrap(),
            "--kube-context",
            "staging",
            "-n",
            "qa",
            "--force",
        ],
    );
    let runs = recorder.runs();
    let lines: Vec<String> = runs.iter().map(Run::line).collect();
    assert_eq!(
        lines[3],
        "kubectl --context staging --namespace qa apply --server-side -f - --force --grace-period=0"
    );
    let redeployed = runs[3].stdin.as_deref().unwrap();
    assert_ne!(run_id(redeployed), id, "a new run, a new ID");
    assert_eq!(
        same_run(&documents(redeployed)),
        same_run(
            &applied
                .iter()
                .map(|d| d.replace("namespace: web", "namespace: qa"))
                .collect::<Vec<_>>()
        )
    );
    assert_eq!(lines[4], "helm version");
    assert_eq!(
        lines[5],
        "helm --kube-context staging get all --namespace qa frontend-dev"
    );
    assert!(
        lines[7].starts_with(
            "helm --kube-context staging upgrade frontend-dev --force charts/frontend --namespace qa --set replicaCount=2"
        ),
        "{lines:#?}"
    );
    assert!(!lines[7].contains("--create-namespace"), "only on install");

    // `kiln delete`: kubectl deletes what it applied, helm deletes the release; the
    // kubeconfig given is passed on and its current context is the kube context.
    recorder.clear();
    let kubeconfig = out_dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: from-file\n",
    )
    .unwrap();
    let kc = kubeconfig.to_str().unwrap();
    kiln_ok(
        &project,
        &recorder,
        &["delete", "-p", "helm-deploy", "--kubeconfig", kc],
    );
    let runs = recorder.runs();
    let lines: Vec<String> = runs.iter().map(Run::line).collect();
    assert_eq!(
        lines[3..],
        [
            format!(
                "kubectl --context from-file --kubeconfig {kc} delete --ignore-not-found=true --wait=false -f -"
            ),
            format!(
                "helm --kube-context from-file delete frontend-dev --namespace web --kubeconfig {kc}"
            ),
        ],
        "{lines:#?}"
    );
    let deleted = documents(runs[3].stdin.as_deref().unwrap());
    assert_eq!(deleted.len(), applied.len());
    assert!(deleted.iter().any(|d| d.contains("name: dev-api")));

    // `--dry-run`: what would be deleted on stdout, nothing deleted.
    recorder.clear();
    recorder.install();
    let dry = kiln_ok(
        &project,
        &recorder,
        &[
            "delete",
            "-p",
            "helm-deploy",
            "--kube-context",
            "staging",
            "--dry-run",
        ],
    );
    let printed = dry;
    let kubectl_part = printed
        .strip_suffix("MANIFEST:\n")
        .expect("helm get manifest's output last");
    assert_eq!(same_run(&documents(kubectl_part)), same_run(&deleted));
    let lines = recorder.lines();
    assert_eq!(
        lines[3..],
        ["helm --kube-context staging get manifest frontend-dev --namespace web"],
        "no kubectl delete, no helm delete: {lines:#?}"
    );
}

/// `kiln deploy -p packaged` with a build JSON of two images (the fixture's `api` and
/// `web-frontend`), which must succeed; returns their references.
fn deploy_packaged(project: &Project, recorder: &Recorder) -> (String, String) {
    let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let (api, frontend) = (
        format!("reg.example/api:v1@{}", digest('a')),
        format!("reg.example/web-frontend:v1@{}", digest('b')),
    );
    let dir = tempfile::tempdir().unwrap();
    let builds = dir.path().join("build.json");
    std::fs::write(
        &builds,
        format!(
            r#"{{"builds":[{{"imageName":"api","tag":"{api}"}},{{"imageName":"web-frontend","tag":"{frontend}"}}]}}"#
        ),
    )
    .unwrap();
    kiln_ok(
        project,
        recorder,
        &["deploy", "-p", "packaged", "-a", builds.to_str().unwrap()],
    );
    (api, frontend)
}

#[test]
fn deploy_installs_a_packaged_chart_with_the_images_of_a_build_json() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    let (api, frontend) = deploy_packaged(&project, &recorder);
    let runs = recorder.runs();
    let lines: Vec<String> = runs.iter().map(Run::line).collect();
    let package = lines
        .iter()
        .position(|l| l.starts_with("helm package charts/frontend --destination "))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(
        lines[package].ends_with(" --version 0.3.1-dev --app-version v7"),
        "{}",
        lines[package]
    );
    let install = &runs[package + 1];
    // Installed from the archive (no --kube-context: no kubeconfig here).
    let chart = &install.words[3];
    assert_eq!(install.words[..3], ["helm", "install", "frontend-dev"]);
    assert!(chart.ends_with("/frontend-0.3.1-dev.tgz"), "{chart}");
    assert!(!install.words.contains(&"--version".to_owned()));
    let installed = install.rendered.as_deref().unwrap();
    assert!(
        installed.contains(&format!("image: \"{frontend}\"")),
        "{installed}"
    );
    assert!(
        installed.contains(&format!("image: {api}\n")),
        "{installed}"
    );
}

/// helm 4 runs post-renderers only as plugins: kiln installs itself as one for the deploy
/// (`type: postrenderer/v1`, as Skaffold's `PreparePostRenderer` does), the real helm 4
/// runs it over the chart, and the plugin is uninstalled and its folder gone afterwards.
#[test]
fn with_helm_4_kiln_is_a_post_renderer_plugin_for_the_deploy_only() {
    let helm4 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/helm4/helm");
    assert!(
        helm4.is_file(),
        "helm 4 is not installed at {}: run `source scripts/ensure-deploy-tools.sh` (scripts/test.sh does)",
        helm4.display()
    );
    let project = Project::new("platform");
    let recorder = Recorder::new().with_helm(helm4);
    let (api, frontend) = deploy_packaged(&project, &recorder);
    let runs = recorder.runs();
    let lines: Vec<String> = runs.iter().map(Run::line).collect();
    let at = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {lines:#?}"))
    };
    let (version, install_plugin) = (at("helm version"), at("helm plugin install "));
    let plugin_dir =
        PathBuf::from(lines[install_plugin].trim_start_matches("helm plugin install "));
    let name = plugin_dir.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with("kiln-filter-"), "{name}");
    let install = runs
        .iter()
        .position(|r| r.words.get(1).map(String::as_str) == Some("install"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let uninstall = at("helm plugin uninstall ");
    assert!(version < install_plugin && install_plugin < install && install < uninstall);
    assert_eq!(lines[uninstall], format!("helm plugin uninstall {name}"));
    // The plugin by name, the same filter arguments after it.
    let words = &runs[install].words;
    let renderer = words.iter().position(|w| w == "--post-renderer").unwrap();
    assert_eq!(words[renderer + 1], name);
    assert_eq!(
        words[renderer + 2..renderer + 4],
        ["--post-renderer-args", "filter"]
    );
    // helm 4 ran kiln over the chart: the built images are in what it installs.
    let installed = runs[install].rendered.as_deref().unwrap();
    assert!(
        installed.contains(&format!("image: \"{frontend}\"")),
        "{installed}"
    );
    assert!(
        installed.contains(&format!("image: {api}\n")),
        "{installed}"
    );
    // Nothing is left behind (helm 4 keeps plugins in $HOME/.local/share/helm/plugins).
    let plugins: Vec<_> = std::fs::read_dir(project.cache.path().join(".local/share/helm/plugins"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(plugins.is_empty(), "{plugins:?}");
    assert!(!plugin_dir.exists(), "{}", plugin_dir.display());
}

#[test]
fn dev_deploys_each_build_with_kubectl_and_helm_when_a_cluster_answers() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    let layout = tempfile::tempdir().unwrap();
    let env = recorder.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut child = project.spawn_kiln(
        &[
            "dev",
            "-p",
            "helm-deploy",
            "--push=false",
            "--oci-layout-path",
            layout.path().to_str().unwrap(),
            "--kube-context",
            "staging",
            "-n",
            "team-a",
        ],
        &env,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let lines = loop {
        let lines = recorder.lines();
        // The round ends with the status check of what it deployed.
        if lines.iter().any(|l| l.contains(" install frontend-dev "))
            && lines.iter().any(|l| l.contains(" rollout status "))
        {
            break lines;
        }
        assert!(
            std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "kiln dev deployed nothing: {lines:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        lines[0],
        "kubectl --context staging version --request-timeout=5s"
    );
    // Each round deploys where `-n` says, the namespace in the manifests too.
    let runs = recorder.runs();
    let apply = runs
        .iter()
        .find(|r| {
            r.line() == "kubectl --context staging --namespace team-a apply --server-side -f -"
        })
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let applied = documents(apply.stdin.as_deref().unwrap());
    let placed: Vec<(Option<&str>, Option<&str>)> =
        applied.iter().map(|d| name_and_namespace(d)).collect();
    // The overlay keeps its own namespace (Skaffold warns); helm's output is in team-a.
    for expected in [
        (Some("dev-api"), Some("platform-dev")),
        (Some("frontend-dev"), Some("team-a")),
    ] {
        assert!(placed.contains(&expected), "{expected:?} in {applied:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" install frontend-dev ") && l.contains("--namespace team-a")),
        "{lines:#?}"
    );
    let rollout = lines
        .iter()
        .position(|l| l.contains(" rollout status "))
        .unwrap();
    assert!(
        lines[rollout]
            .starts_with("kubectl --context staging --namespace team-a rollout status deployment "),
        "{lines:#?}"
    );
    assert!(
        lines[..rollout]
            .iter()
            .any(|l| l.contains(" install frontend-dev ")),
        "after the deploy: {lines:#?}"
    );
}

#[test]
fn deploy_without_build_artifacts_deploys_the_tag_policys_images() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    // Nothing is built: the tag policy (RELEASE=v7) gives each image its tag.
    kiln_ok(
        &project,
        &recorder,
        &["deploy", "-d", "reg.example", "--kube-context", "qa"],
    );
    let apply = recorder.kubectl("apply");
    let applied = apply.stdin.as_deref().unwrap();
    assert!(applied.contains("image: reg.example/api:v7\n"), "{applied}");
    assert!(
        applied.contains("image: \"reg.example/web-frontend:v7\""),
        "{applied}"
    );
}

#[test]
fn deploy_labels_what_it_deploys_with_the_run_id_and_the_l_labels() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    kiln_ok(
        &project,
        &recorder,
        &[
            "deploy",
            "-p",
            "helm-deploy",
            "-d",
            "reg.example",
            "--kube-context",
            "qa",
            "-l",
            "team=web",
            "--label=tier=front",
        ],
    );
    let runs = recorder.runs();
    let apply = recorder.kubectl("apply");
    let text = apply.stdin.as_deref().unwrap();
    let id = run_id(text);
    let applied = documents(text);
    let labels = [
        ("skaffold.dev/run-id", id.as_str()),
        ("team", "web"),
        ("tier", "front"),
    ];
    assert_eq!(applied, labelled(&same_labels_removed(&applied), &labels));
    // The Deployment's own labels and its pod template's.
    let deployment = &applied[2];
    assert_eq!(deployment.matches("team: web").count(), 2, "{deployment}");
    assert!(
        !applied[0].contains("team"),
        "the Namespace: {}",
        applied[0]
    );
    // helm's post-renderer gets the same labels, and what it installs carries them.
    let install = runs
        .iter()
        .find(|r| r.words.contains(&"install".to_owned()))
        .unwrap_or_else(|| panic!("{runs:#?}"));
    let filter: Vec<&str> = install
        .words
        .windows(2)
        .filter(|w| w[0] == "--post-renderer-args")
        .map(|w| w[1].as_str())
        .collect();
    assert_eq!(
        filter[..4],
        [
            "filter",
            &format!("--label=skaffold.dev/run-id={id}"),
            "--label=team=web",
            "--label=tier=front",
        ]
    );
    assert!(filter[4].starts_with("--build-artifacts="), "{filter:?}");
    let installed = install.rendered.as_deref().unwrap();
    assert_eq!(run_id(installed), id);
    assert_eq!(installed.matches("tier: front").count(), 3, "{installed}");
}

/// `docs` without the lines kiln's labels added (the fixture's manifests name no such
/// labels), so they can be labelled again for comparison.
fn same_labels_removed(docs: &[String]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            let mut out: Vec<&str> = Vec::new();
            for line in d.lines() {
                let t = line.trim_start();
                if t.starts_with("skaffold.dev/run-id: ")
                    || t.starts_with("team: ")
                    || t.starts_with("tier: ")
                {
                    continue;
                }
                out.push(line);
            }
            // A `labels:` left with nothing under it was added whole.
            let mut kept: Vec<&str> = Vec::new();
            for (i, line) in out.iter().enumerate() {
                let indent = line.len() - line.trim_start().len();
                let next_deeper = out
                    .get(i + 1)
                    .is_some_and(|n| n.len() - n.trim_start().len() > indent);
                if line.trim() == "labels:" && !next_deeper {
                    continue;
                }
                kept.push(line);
            }
            kept.join("\n")
        })
        .collect()
}

/// `kiln run` of the platform fixture into `staging`, images in an OCI layout.
fn run_args(layout: &Path) -> Vec<String> {
    [
        "run",
        "--push=false",
        "--oci-layout-path",
        layout.to_str().unwrap(),
        "--kube-context",
        "staging",
        "-d",
        "registry.example/team",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// The recorded `kubectl rollout status` command lines.
fn rollouts(recorder: &Recorder) -> Vec<String> {
    recorder
        .runs()
        .iter()
        .map(Run::line)
        .filter(|l| l.contains(" rollout status "))
        .collect()
}

#[test]
fn a_rollout_that_fails_fails_kiln_run_naming_the_deployment() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    let layout = tempfile::tempdir().unwrap();
    recorder.rollout(
        "dev-api",
        &[
            "Waiting for deployment \"dev-api\" rollout to finish: 0 of 3 updated replicas are available...",
            "FAIL error: deployment \"dev-api\" exceeded its progress deadline",
        ],
    );
    // The frontend never finishes: the failure ends the wait for it too (fail fast).
    recorder.rollout(
        "frontend-dev",
        &["Waiting for deployment \"frontend-dev\" rollout to finish: 0 of 2 updated replicas are available..."],
    );
    let args = run_args(layout.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let out = kiln(&project, &recorder, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(
        stderr.contains(
            " - platform-dev:deployment/dev-api failed. Error: deployment \"dev-api\" exceeded its progress deadline."
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "error: status check: 1/2 deployment(s) failed: platform-dev:deployment/dev-api: deployment \"dev-api\" exceeded its progress deadline"
        ),
        "{stderr}"
    );
    let polled = rollouts(&recorder);
    let api: Vec<&String> = polled.iter().filter(|l| l.contains("dev-api")).collect();
    assert_eq!(api.len(), 2, "{polled:#?}");
    assert!(
        api.iter().all(|l| *l
            == "kubectl --context staging rollout status deployment dev-api --namespace platform-dev --watch=false"),
        "{polled:#?}"
    );
}

#[test]
fn status_check_false_polls_nothing() {
    let project = Project::new("platform");
    let recorder = Recorder::new();
    let layout = tempfile::tempdir().unwrap();
    // A rollout that would never finish: nothing waits for it.
    recorder.rollout("dev-api", &["FAIL error: should not be asked"]);
    let mut args = run_args(layout.path());
    args.push("--status-check=false".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, stderr) = kiln_logged(&project, &recorder, &args);
    assert!(rollouts(&recorder).is_empty(), "{:#?}", recorder.runs());
    assert!(!stderr.contains("stabilize"), "{stderr}");
    assert!(!stderr.contains("ignored"), "{stderr}");
    assert!(
        recorder.runs().iter().any(|r| r.line().contains(" apply ")),
        "it still deploys"
    );

    // `deploy.statusCheck: false` in the config does the same, and `--status-check` wins
    // over it.
    project.edit(
        "skaffold.yaml",
        "deploy:\n  kubectl:\n",
        "deploy:\n  statusCheck: false\n  kubectl:\n",
    );
    recorder.clear();
    let deploy = ["deploy", "-d", "reg.example", "--kube-context", "qa"];
    kiln_ok(&project, &recorder, &deploy);
    assert!(rollouts(&recorder).is_empty(), "{:#?}", recorder.runs());
    recorder.clear();
    recorder.rollout(
        "dev-api",
        &["deployment \"dev-api\" successfully rolled out"],
    );
    kiln_ok(
        &project,
        &recorder,
        &[&deploy[..], &["--status-check"]].concat(),
    );
    assert_eq!(rollouts(&recorder).len(), 2, "{:#?}", recorder.runs());
}

#[test]
fn a_rollout_past_its_deadline_fails_and_a_hanging_kubectl_is_killed() {
    let project = Project::new("platform");
    project.edit(
        "skaffold.yaml",
        "deploy:\n  kubectl:\n",
        "deploy:\n  statusCheckDeadlineSeconds: 2\n  kubectl:\n",
    );
    let recorder = Recorder::new();
    let waiting = "Waiting for deployment \"dev-api\" rollout to finish: 0 of 3 updated replicas are available...";
    recorder.rollout("dev-api", &[waiting]);
    let deploy = ["deploy", "-d", "reg.example", "--kube-context", "qa"];
    let started = std::time::Instant::now();
    let out = kiln(&project, &recorder, &deploy);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "error: status check: 1/2 deployment(s) failed: platform-dev:deployment/dev-api: could not stabilize within 2s (last status: waiting for rollout to finish: 0 of 3 updated replicas are available...)"
        ),
        "{stderr}"
    );
    // Polled one second apart: at 1, 2 and (the one last try Skaffold allows) 3 seconds.
    let polls = rollouts(&recorder)
        .iter()
        .filter(|l| l.contains("dev-api"))
        .count();
    assert!((2..=3).contains(&polls), "{polls}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    // A kubectl that never answers is killed at the deadline.
    recorder.clear();
    recorder.rollout("dev-api", &["HANG"]);
    let started = std::time::Instant::now();
    let out = kiln(&project, &recorder, &deploy);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("platform-dev:deployment/dev-api: could not stabilize within 2s"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    // Tolerated failures are polled again until the deadline.
    recorder.clear();
    recorder.rollout(
        "dev-api",
        &[
            "FAIL error: deployment \"dev-api\" exceeded its progress deadline",
            "deployment \"dev-api\" successfully rolled out",
        ],
    );
    kiln_ok(
        &project,
        &recorder,
        &[&deploy[..], &["--tolerate-failures-until-deadline"]].concat(),
    );
}

#[test]
fn objects_without_a_namespace_are_polled_where_kubectl_put_them() {
    let project = Project::new("platform");
    // The kustomize base names no namespace.
    project.edit(
        "skaffold.yaml",
        "      - deploy/overlays/dev\n",
        "      - deploy/base\n",
    );
    let recorder = Recorder::new();
    recorder.context_namespace("from-context");
    let deploy = ["deploy", "-d", "reg.example", "--kube-context", "qa"];
    kiln_ok(&project, &recorder, &deploy);
    let lines = recorder.lines();
    assert!(
        lines.contains(
            &"kubectl --context qa config view --minify -o jsonpath={..namespace}".to_owned()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &"kubectl --context qa rollout status deployment api --namespace from-context --watch=false"
                .to_owned()
        ),
        "{lines:#?}"
    );
    // With -n: there, as Skaffold's kubectl passes it, and the context is not asked.
    recorder.clear();
    kiln_ok(
        &project,
        &recorder,
        &[&deploy[..], &["-n", "team-a"]].concat(),
    );
    let lines = recorder.lines();
    assert!(
        !lines.iter().any(|l| l.contains(" config view ")),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &"kubectl --context qa --namespace team-a rollout status deployment api --namespace team-a --watch=false"
                .to_owned()
        ),
        "{lines:#?}"
    );
    // deploy.kubectl.defaultNamespace, which kubectl got as --namespace.
    project.edit(
        "skaffold.yaml",
        "deploy:\n  kubectl:\n",
        "deploy:\n  kubectl:\n    defaultNamespace: team-b\n",
    );
    recorder.clear();
    kiln_ok(&project, &recorder, &deploy);
    let lines = recorder.lines();
    assert!(
        lines.contains(
            &"kubectl --context qa rollout status deployment api --namespace team-b --watch=false"
                .to_owned()
        ),
        "{lines:#?}"
    );
}

/// The top-level `metadata`'s `name` and `namespace` of a document as kubectl, kustomize
/// and helm print them (block style, two spaces).
fn name_and_namespace(doc: &str) -> (Option<&str>, Option<&str>) {
    let (mut name, mut namespace, mut in_metadata) = (None, None, false);
    for line in doc.lines() {
        if !line.starts_with(' ') {
            in_metadata = line == "metadata:";
        } else if in_metadata {
            if let Some(v) = line.strip_prefix("  name: ") {
                name = Some(v);
            } else if let Some(v) = line.strip_prefix("  namespace: ") {
                namespace = Some(v);
            }
        }
    }
    (name, namespace)
}

#[test]
fn deploy_and_delete_with_a_namespace_hand_kubectl_manifests_carrying_it() {
    let project = Project::new("platform");
    // Beside the fixture's: a raw Deployment and the kustomize base, which name no
    // namespace (the dev overlay names `platform-dev`).
    std::fs::write(
        project.path().join("k8s/worker.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker # queue consumer\nspec:\n  template:\n    spec:\n      containers:\n        - name: worker\n          image: api\n",
    )
    .unwrap();
    project.edit(
        "skaffold.yaml",
        "    - k8s/namespace.yaml\n",
        "    - k8s/namespace.yaml\n    - k8s/worker.yaml\n",
    );
    project.edit(
        "skaffold.yaml",
        "      - deploy/overlays/dev\n",
        "      - deploy/overlays/dev\n      - deploy/base\n",
    );
    let recorder = Recorder::new();
    let out = kiln(
        &project,
        &recorder,
        &[
            "deploy",
            "-d",
            "reg.example",
            "--kube-context",
            "qa",
            "-n",
            "team-a",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let apply = recorder.kubectl("apply");
    assert_eq!(
        apply.line(),
        "kubectl --context qa --namespace team-a apply --server-side -f -"
    );
    let applied = documents(apply.stdin.as_deref().unwrap());
    let placed: Vec<(Option<&str>, Option<&str>)> =
        applied.iter().map(|d| name_and_namespace(d)).collect();
    assert_eq!(
        placed,
        [
            // rawYaml: a Namespace is no kind Skaffold transforms; the worker gets it.
            (Some("platform-dev"), None),
            (Some("worker # queue consumer"), Some("team-a")),
            // The overlay's own namespace stays (with a warning)...
            (Some("dev-api"), Some("platform-dev")),
            (Some("dev-api"), Some("platform-dev")),
            // ...the base gets it.
            (Some("api"), Some("team-a")),
            (Some("api"), Some("team-a")),
            // helm's output is helm's: `--namespace team-a` made it so.
            (Some("frontend-dev"), Some("team-a")),
            (Some("frontend-dev"), Some("team-a")),
        ],
        "{applied:#?}"
    );
    assert!(
        applied[1].contains("  name: worker # queue consumer\n  namespace: team-a\n"),
        "{}",
        applied[1]
    );
    for object in ["Service `dev-api`", "Deployment `dev-api`"] {
        assert!(
            stderr.contains(&format!(
                "warning: a manifest already has namespace set \"platform-dev\" which conflicts with namespace on the CLI \"team-a\": {object} stays in \"platform-dev\""
            )),
            "{stderr}"
        );
    }
    assert!(!stderr.contains("ignored"), "{stderr}");

    // `kiln delete -n` deletes what `deploy -n` applied.
    recorder.clear();
    kiln_ok(
        &project,
        &recorder,
        &["delete", "--kube-context", "qa", "-n", "team-a"],
    );
    let delete = recorder.kubectl("delete");
    assert!(
        delete
            .line()
            .starts_with("kubectl --context qa --namespace team-a delete "),
        "{}",
        delete.line()
    );
    let deleted = documents(delete.stdin.as_deref().unwrap());
    let worker = deleted.iter().find(|d| d.contains("name: worker")).unwrap();
    assert_eq!(name_and_namespace(worker).1, Some("team-a"));

    // Without -n, the manifests are as written.
    recorder.clear();
    kiln_ok(
        &project,
        &recorder,
        &["deploy", "-d", "reg.example", "--kube-context", "qa"],
    );
    let apply = recorder.kubectl("apply");
    assert_eq!(
        apply.line(),
        "kubectl --context qa apply --server-side -f -"
    );
    let applied = documents(apply.stdin.as_deref().unwrap());
    assert_eq!(name_and_namespace(&applied[1]).1, None);
    assert_eq!(name_and_namespace(&applied[4]).1, None);
}

#[test]
fn a_missing_tool_is_named_with_where_to_get_it() {
    let project = Project::new("platform");
    // Neither kustomize nor kubectl (Skaffold's fallback, `kubectl kustomize`) is there.
    let empty = tempfile::tempdir().unwrap();
    let no_tools = [
        ("PATH", empty.path().to_str().unwrap()),
        ("RELEASE", "v7"),
        ("STAGE", "dev"),
    ];
    let out = project.kiln(&["render", "--digest-source=tag"], &no_tools);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`kustomize` is not on PATH"), "{stderr}");
    assert!(
        stderr.contains("go install sigs.k8s.io/kustomize"),
        "{stderr}"
    );
}

#[test]
#[ignore = "no Kubernetes cluster on this machine"]
fn run_deploys_to_a_real_cluster_and_delete_removes_it() {
    // Needs a cluster in the current kube context, a registry it pulls from in
    // KILN_TEST_REGISTRY, and the real kubectl and helm on PATH.
    let registry = std::env::var("KILN_TEST_REGISTRY").expect("KILN_TEST_REGISTRY");
    let project = Project::new("platform");
    let env = [
        ("RELEASE", "v7"),
        ("STAGE", "dev"),
        (
            "KUBECONFIG",
            &std::env::var("KUBECONFIG").unwrap_or_default(),
        ),
    ];
    project.kiln_ok(&["run", "-p", "helm-deploy", "-d", &registry], &env);
    let kubectl = |args: &[&str]| run_ok(Command::new("kubectl").args(args));
    let image = kubectl(&[
        "get",
        "deployment",
        "dev-api",
        "-n",
        "platform-dev",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert!(
        image.starts_with(&format!("{registry}/api:v7@sha256:")),
        "{image}"
    );
    assert!(
        run_ok(Command::new("helm").args(["status", "frontend-dev", "-n", "web"]))
            .contains("deployed")
    );
    project.kiln_ok(&["delete", "-p", "helm-deploy"], &env);
    let gone = Command::new("kubectl")
        .args(["get", "deployment", "dev-api", "-n", "platform-dev"])
        .output()
        .unwrap();
    assert!(!gone.status.success());
}

#[test]
fn run_deploy_and_delete_accept_skaffolds_flags() {
    let project = Project::new("platform");
    let flags: &[(&str, &[&str])] = &[
        (
            "run",
            &[
                "-n=ns",
                "--force",
                "--tail=false",
                "--port-forward",
                "--status-check=false",
                "-l=a=b",
                "--cleanup=false",
                "--kubeconfig=/tmp/kc",
                "-b=api",
                "--push=false",
                "--file-output=/tmp/fo",
                "--enable-rpc=false",
                "--toot",
            ],
        ),
        (
            "deploy",
            &[
                "-a=/tmp/b.json",
                "--build-artifacts=/tmp/b.json",
                "-i=app:v1",
                "-n=ns",
                "--force=false",
                "--status-check=false",
                "-t=v1",
                "--kube-context=k",
            ],
        ),
        (
            "delete",
            &[
                "-n=ns",
                "--kubeconfig=/tmp/kc",
                "--detect-minikube=false",
                "-p=p",
            ],
        ),
    ];
    for (command, flags) in flags {
        for flag in *flags {
            let out = project.kiln(&[command, flag, "--help"], &[]);
            assert!(
                out.status.success(),
                "kiln {command} {flag}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // A dev-loop flag is not `run`'s, as in Skaffold.
    let out = project.kiln(&["run", "--trigger=polling", "--help"], &[]);
    assert_eq!(out.status.code(), Some(2));
}
