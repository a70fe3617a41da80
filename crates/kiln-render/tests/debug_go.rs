//! `skaffold debug` for Go containers: snapshot tests. The first ones are Skaffold's
//! TestTransformManifestDelve cases (pkg/skaffold/kubernetes/debugging/transform_go_test.go)
//! written as manifests; Skaffold's retriever there answers an empty image configuration for
//! every image, which is an `ImageInfo` with only `reference` set here.

use kiln_render::{DebugOptions, Error, ImageInfo, debug_transform};

fn helpers() -> DebugOptions {
    DebugOptions {
        helpers_registry: "HELPERS".to_owned(),
    }
}

fn any_image(reference: &str) -> ImageInfo {
    ImageInfo {
        reference: reference.to_owned(),
        ..Default::default()
    }
}

fn transform(text: &str) -> String {
    debug_transform(
        text,
        &[any_image("app-image"), any_image("echo-image")],
        &helpers(),
    )
    .unwrap()
}

const DLV_COMMAND: &str = "    command:
    - /dbg/go/bin/dlv
    - exec
    - --headless
    - --continue
    - --accept-multiclient
    - --listen=:56268
    - --api-version=2
    - app
    - --
    - arg
";

#[test]
fn pod_with_no_transformable_container_is_unchanged() {
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  name: pod   # comment kept
spec:
  containers:
  - name: test
    image: echo-image
    command: [echo, Hello World]
";
    assert_eq!(transform(text), text);
}

#[test]
fn pod_with_go_container_with_gomaxprocs() {
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  name: pod
spec:
  containers:
  - name: test
    image: app-image
    command: [app, arg]
    env:
    - name: GOMAXPROCS
      value: \"1\"
";
    let expected = format!(
        "\
apiVersion: v1
kind: Pod
metadata:
  name: pod
  annotations:
    debug.cloud.google.com/config: '{{\"test\":{{\"runtime\":\"go\",\"ports\":{{\"dlv\":56268}}}}}}'
spec:
  containers:
  - name: test
    image: app-image
{DLV_COMMAND}    env:
    - name: GOMAXPROCS
      value: \"1\"
    ports:
    - name: dlv
      containerPort: 56268
    volumeMounts:
    - name: debugging-support-files
      mountPath: /dbg
  initContainers:
  - name: install-go-debug-support
    image: HELPERS/go
    volumeMounts:
    - name: debugging-support-files
      mountPath: /dbg
  volumes:
  - name: debugging-support-files
    emptyDir: {{}}
"
    );
    assert_eq!(transform(text), expected);
}

fn workload(api: &str, kind: &str, replicas: bool) -> String {
    format!(
        "\
apiVersion: {api}
kind: {kind}
metadata:
  name: my-{kind}
spec:
{}  selector:
    matchLabels:
      app: debug-app
  template:
    metadata:
      labels:
        app: debug-app
    spec:
      containers:
      - name: test
        image: app-image
        command: [app, arg]
        env:
        - name: GOMAXPROCS
          value: \"1\"
",
        if replicas { "  replicas: 2\n" } else { "" }
    )
}

fn transformed_workload(api: &str, kind: &str, replicas: bool) -> String {
    let command =
        DLV_COMMAND
            .replace("\n    ", "\n        ")
            .replacen("    command", "        command", 1);
    format!(
        "\
apiVersion: {api}
kind: {kind}
metadata:
  name: my-{kind}
spec:
{}  selector:
    matchLabels:
      app: debug-app
  template:
    metadata:
      labels:
        app: debug-app
      annotations:
        debug.cloud.google.com/config: '{{\"test\":{{\"runtime\":\"go\",\"ports\":{{\"dlv\":56268}}}}}}'
    spec:
      containers:
      - name: test
        image: app-image
{command}        env:
        - name: GOMAXPROCS
          value: \"1\"
        ports:
        - name: dlv
          containerPort: 56268
        volumeMounts:
        - name: debugging-support-files
          mountPath: /dbg
      initContainers:
      - name: install-go-debug-support
        image: HELPERS/go
        volumeMounts:
        - name: debugging-support-files
          mountPath: /dbg
      volumes:
      - name: debugging-support-files
        emptyDir: {{}}
",
        if replicas { "  replicas: 1\n" } else { "" }
    )
}

#[test]
fn deployment_with_go_container() {
    // Spelled out once; the other workload kinds below are checked against the same shape.
    assert_eq!(
        transform(&workload("apps/v1", "Deployment", true)),
        "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-Deployment
spec:
  replicas: 1
  selector:
    matchLabels:
      app: debug-app
  template:
    metadata:
      labels:
        app: debug-app
      annotations:
        debug.cloud.google.com/config: '{\"test\":{\"runtime\":\"go\",\"ports\":{\"dlv\":56268}}}'
    spec:
      containers:
      - name: test
        image: app-image
        command:
        - /dbg/go/bin/dlv
        - exec
        - --headless
        - --continue
        - --accept-multiclient
        - --listen=:56268
        - --api-version=2
        - app
        - --
        - arg
        env:
        - name: GOMAXPROCS
          value: \"1\"
        ports:
        - name: dlv
          containerPort: 56268
        volumeMounts:
        - name: debugging-support-files
          mountPath: /dbg
      initContainers:
      - name: install-go-debug-support
        image: HELPERS/go
        volumeMounts:
        - name: debugging-support-files
          mountPath: /dbg
      volumes:
      - name: debugging-support-files
        emptyDir: {}
"
    );
}

#[test]
fn every_workload_kind_skaffold_transforms() {
    for (api, kind, replicas) in [
        ("apps/v1", "Deployment", true),
        ("apps/v1", "ReplicaSet", true),
        ("apps/v1", "StatefulSet", true),
        ("v1", "ReplicationController", true),
        ("apps/v1", "DaemonSet", false),
        ("batch/v1", "Job", false),
    ] {
        assert_eq!(
            transform(&workload(api, kind, replicas)),
            transformed_workload(api, kind, replicas),
            "{kind}"
        );
    }
    // DaemonSet and Job have no replicas to reset; a `replicas` field there is left alone.
    let daemonset = workload("apps/v1", "DaemonSet", true);
    assert!(transform(&daemonset).contains("  replicas: 2\n"));
}

#[test]
fn kinds_and_versions_skaffold_does_not_transform_are_unchanged() {
    for (api, kind) in [
        ("batch/v1", "CronJob"),
        ("apps/v1beta1", "Deployment"),
        ("extensions/v1beta1", "Deployment"),
        ("openfaas.com/v1alpha2", "Function"),
        ("v1", "List"),
    ] {
        let text = workload(api, kind, true);
        assert_eq!(transform(&text), text, "{api} {kind}");
    }
}

#[test]
fn pod_list_with_go_and_non_go_container() {
    let text = "\
apiVersion: v1
kind: PodList
items:
- spec:
    containers:
    - name: echo
      image: echo-image
      command: [echo, Hello World]
- spec:
    containers:
    - name: test
      image: app-image
      command: [app, arg]
      env:
      - name: GOMAXPROCS
        value: \"1\"
";
    let command =
        DLV_COMMAND
            .replace("\n    ", "\n      ")
            .replacen("    command", "      command", 1);
    assert_eq!(
        transform(text),
        format!(
            "\
apiVersion: v1
kind: PodList
items:
- spec:
    containers:
    - name: echo
      image: echo-image
      command:
      - echo
      - Hello World
- metadata:
    annotations:
      debug.cloud.google.com/config: '{{\"test\":{{\"runtime\":\"go\",\"ports\":{{\"dlv\":56268}}}}}}'
  spec:
    containers:
    - name: test
      image: app-image
{command}      env:
      - name: GOMAXPROCS
        value: \"1\"
      ports:
      - name: dlv
        containerPort: 56268
      volumeMounts:
      - name: debugging-support-files
        mountPath: /dbg
    initContainers:
    - name: install-go-debug-support
      image: HELPERS/go
      volumeMounts:
      - name: debugging-support-files
        mountPath: /dbg
    volumes:
    - name: debugging-support-files
      emptyDir: {{}}
"
        )
    );
}

/// What kiln passes for a ko-built image.
fn ko_image() -> ImageInfo {
    ImageInfo {
        artifact: "ko://example.com/cmd/app".to_owned(),
        reference: "reg.example/app:v1@sha256:0123".to_owned(),
        entrypoint: vec!["/ko-app/app".to_owned()],
        cmd: Vec::new(),
        env: vec![
            "PATH=/usr/local/bin:/usr/bin:/bin:/ko-app".to_owned(),
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_owned(),
            "KO_DATA_PATH=/var/run/ko".to_owned(),
        ],
        runtime_type: None,
        working_dir: "/".to_owned(),
    }
}

#[test]
fn ko_image_in_a_multi_document_stream() {
    let text = "\
# Service first; kept byte for byte.
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app   # this comment goes: the document is written again
  labels: {app: app}
spec:
  replicas: 3
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: app
        image: reg.example/app:v1@sha256:0123
        args: [--port=8080, \"--greeting=hello world\"]
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        livenessProbe:
          httpGet: {path: /healthz, port: http}
          timeoutSeconds: 5
        readinessProbe:
          exec:
            command: [/ko-app/app, --check]
      - name: sidecar
        image: nginx:1.25
---
# trailing document, kept
apiVersion: v1
kind: ConfigMap
data:
  image: reg.example/app:v1@sha256:0123
";
    let expected = "\
# Service first; kept byte for byte.
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels:
    app: app
spec:
  replicas: 1
  template:
    metadata:
      labels:
        app: app
      annotations:
        debug.cloud.google.com/config: '{\"app\":{\"artifact\":\"ko://example.com/cmd/app\",\"runtime\":\"go\",\"workingDir\":\"/\",\"ports\":{\"dlv\":56268}}}'
    spec:
      containers:
      - name: app
        image: reg.example/app:v1@sha256:0123
        command:
        - /dbg/go/bin/dlv
        - exec
        - --headless
        - --continue
        - --accept-multiclient
        - --listen=:56268
        - --api-version=2
        - /ko-app/app
        - --
        args:
        - --port=8080
        - \"--greeting=hello world\"
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        - name: dlv
          containerPort: 56268
        livenessProbe:
          httpGet:
            path: /healthz
            port: http
          timeoutSeconds: 600
        readinessProbe:
          exec:
            command:
            - /ko-app/app
            - --check
        volumeMounts:
        - name: debugging-support-files
          mountPath: /dbg
      - name: sidecar
        image: nginx:1.25
      initContainers:
      - name: install-go-debug-support
        image: gcr.io/k8s-skaffold/skaffold-debug-support/go
        volumeMounts:
        - name: debugging-support-files
          mountPath: /dbg
      volumes:
      - name: debugging-support-files
        emptyDir: {}
---
# trailing document, kept
apiVersion: v1
kind: ConfigMap
data:
  image: reg.example/app:v1@sha256:0123
";
    assert_eq!(
        debug_transform(text, &[ko_image()], &DebugOptions::default()).unwrap(),
        expected
    );
}

#[test]
fn the_artifact_name_also_matches_and_ports_do_not_clash() {
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  name: two
spec:
  containers:
  - name: b
    image: ko://example.com/cmd/app
  - name: a
    image: reg.example/app:v1@sha256:0123
    command: [/ko-app/app, serve]
";
    let out = debug_transform(text, &[ko_image()], &helpers()).unwrap();
    assert!(out.contains(
        "debug.cloud.google.com/config: '{\"a\":{\"artifact\":\"ko://example.com/cmd/app\",\"runtime\":\"go\",\"workingDir\":\"/\",\"ports\":{\"dlv\":56269}},\"b\":{\"artifact\":\"ko://example.com/cmd/app\",\"runtime\":\"go\",\"workingDir\":\"/\",\"ports\":{\"dlv\":56268}}}'"
    ), "{out}");
    assert!(out.contains("    - --listen=:56269\n    - --api-version=2\n    - /ko-app/app\n    - --\n    - serve\n"), "{out}");
    assert_eq!(out.matches("install-go-debug-support").count(), 1, "{out}");
    assert_eq!(out.matches("emptyDir").count(), 1, "{out}");
}

#[test]
fn runtime_type_decides_first() {
    let text = "\
apiVersion: v1
kind: Pod
spec:
  containers:
  - name: app
    image: app-image
    command: [/app]
";
    let go = ImageInfo {
        runtime_type: Some("golang".to_owned()),
        ..any_image("app-image")
    };
    assert!(
        debug_transform(text, &[go], &helpers())
            .unwrap()
            .contains("/dbg/go/bin/dlv")
    );
    // No hint at all: not recognised as Go.
    assert_eq!(
        debug_transform(text, &[any_image("app-image")], &helpers()).unwrap(),
        text
    );
    // Another declared runtime belongs to another Skaffold transformer.
    let node = ImageInfo {
        runtime_type: Some("nodejs".to_owned()),
        env: vec!["KO_DATA_PATH=/var/run/ko".to_owned()],
        ..any_image("app-image")
    };
    assert_eq!(debug_transform(text, &[node], &helpers()).unwrap(), text);
    // A Go image without a command line cannot be rewritten.
    let no_command =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    image: app-image\n";
    let hinted = ImageInfo {
        env: vec!["GOTRACEBACK=all".to_owned()],
        ..any_image("app-image")
    };
    assert_eq!(
        debug_transform(no_command, &[hinted], &helpers()).unwrap(),
        no_command
    );
}

#[test]
fn sh_dash_c_and_existing_dlv_command_lines() {
    let text = "\
apiVersion: v1
kind: Pod
spec:
  containers:
  - name: app
    image: reg.example/app:v1@sha256:0123
    command: [/bin/sh, -c, \"/ko-app/app --name 'a b'\"]
";
    let out = debug_transform(text, &[ko_image()], &helpers()).unwrap();
    assert!(
        out.contains("    command:\n    - /bin/sh\n    - -c\n    - /dbg/go/bin/dlv exec --headless --continue --accept-multiclient --listen=:56268 --api-version=2 /ko-app/app -- --name \"a b\"\n"),
        "{out}"
    );
    let text = "\
apiVersion: v1
kind: Pod
spec:
  containers:
  - name: app
    image: reg.example/app:v1@sha256:0123
    command: [dlv, exec, --headless, --listen=:4000, /ko-app/app]
";
    let out = debug_transform(text, &[ko_image()], &helpers()).unwrap();
    assert!(out.contains("    command:\n    - dlv\n    - exec\n    - --headless\n    - --listen=:4000\n    - /ko-app/app\n    ports:\n    - name: dlv\n      containerPort: 4000\n"), "{out}");
    assert!(
        out.contains("\\\"ports\\\":{\\\"dlv\\\":4000}")
            || out.contains("\"ports\":{\"dlv\":4000}"),
        "{out}"
    );
}

#[test]
fn annotated_pods_are_skipped_but_their_probes_are_raised() {
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    debug.cloud.google.com/config: '{\"app\":{\"runtime\":\"go\"}}'
spec:
  containers:
  - name: app
    image: app-image
    command: [app]
    env: [{name: GOGC, value: \"off\"}]
    readinessProbe:
      httpGet: {port: 8080}
";
    let out = transform(text);
    assert!(!out.contains("/dbg/go/bin/dlv"), "{out}");
    assert!(
        out.contains(
            "    readinessProbe:\n      httpGet:\n        port: 8080\n      timeoutSeconds: 600\n"
        ),
        "{out}"
    );
}

#[test]
fn probe_timeout_annotation() {
    let pod = |annotation: &str| {
        format!(
            "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    debug.cloud.google.com/probe-timeouts: {annotation}
spec:
  containers:
  - name: app
    image: app-image
    command: [app]
    env: [{{name: GOGC, value: \"off\"}}]
    livenessProbe:
      httpGet: {{port: 8080}}
      timeoutSeconds: 30
    startupProbe:
      httpGet: {{port: 8080}}
      timeoutSeconds: 3600
"
        )
    };
    let out = transform(&pod("1m"));
    assert!(
        out.contains(
            "    livenessProbe:\n      httpGet:\n        port: 8080\n      timeoutSeconds: 60\n"
        ),
        "{out}"
    );
    assert!(out.contains("      timeoutSeconds: 3600\n"), "{out}");
    let out = transform(&pod("skip"));
    assert!(
        out.contains("/dbg/go/bin/dlv") && out.contains("      timeoutSeconds: 30\n"),
        "{out}"
    );
}

#[test]
fn documents_kubernetes_cannot_decode_are_left_alone() {
    for text in [
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    image: app-image\n    command: [app]\n    env: [{name: GOGC, value: 1}]\n",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    image: app-image\n    command: app\n    env: [{name: GOGC, value: x}]\n",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    image: app-image\n    command: [app]\n    env: [{name: GOGC, value: x}]\n    ports: [{containerPort: http}]\n",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers: {}\n",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: two\n  template:\n    spec:\n      containers:\n      - name: app\n        image: app-image\n        command: [app]\n        env: [{name: GOGC, value: x}]\n",
        "- a list\n",
        "just a string\n",
        "",
        "? [complex, key]\n: value\n",
    ] {
        assert_eq!(transform(text), text, "{text}");
    }
}

#[test]
fn layout_of_the_rewritten_document() {
    let gogc = "{name: GOGC, value: x}";
    // A flow mapping on the `---` line, and an indented block mapping.
    let text = format!(
        "--- {{apiVersion: v1, kind: Pod, spec: {{containers: [{{name: a, image: app-image, command: [app], env: [{gogc}]}}]}}}}\n"
    );
    let out = transform(&text);
    assert!(
        out.starts_with("---\napiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n"),
        "{out}"
    );
    assert!(
        out.contains("\nspec:\n  containers:\n  - name: a\n"),
        "{out}"
    );
    assert!(out.ends_with("    emptyDir: {}\n"), "{out}");
    let text = format!(
        "  apiVersion: v1\n  kind: Pod\n  spec:\n    containers: [{{name: a, image: app-image, command: [app], env: [{gogc}]}}]\n"
    );
    let out = transform(&text);
    assert!(
        out.starts_with("  apiVersion: v1\n  kind: Pod\n  metadata:\n    annotations:\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  spec:\n    containers:\n    - name: a\n"),
        "{out}"
    );
    // Aliases are expanded; untouched scalars keep their spelling.
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: &l {{app: x, v: '1.10', n: 0x1F}}\nspec:\n  x: *l\n  containers: [{{name: a, image: app-image, command: [app], env: [{gogc}]}}]\n"
    );
    let out = transform(&text);
    assert!(
        out.contains("  labels:\n    app: x\n    v: '1.10'\n    n: 0x1F\n")
            && out.contains("  x:\n    app: x\n    v: '1.10'\n    n: 0x1F\n"),
        "{out}"
    );
}

#[test]
fn invalid_yaml_is_an_error() {
    let err = debug_transform("a: [\n", &[], &DebugOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: 1,
                column: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_comment_on_a_rewritten_documents_last_line_goes_with_it() {
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  name: pod
spec:
  containers:
  - name: test
    image: app-image
    command: [app, arg]
    env: [{name: GOGC, value: \"50\"}] # last line
---
kind: ConfigMap # untouched
";
    let out = transform(text);
    assert!(!out.contains("# last line"), "{out}");
    assert!(
        out.contains("    emptyDir: {}\n---\nkind: ConfigMap # untouched\n"),
        "{out}"
    );
}
