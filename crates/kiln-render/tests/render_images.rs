//! `skaffold render` image replacement, with Skaffold's own test vectors
//! (pkg/skaffold/kubernetes/manifest/images_test.go): since only the replaced scalars change,
//! Skaffold's expected manifests are matched byte for byte.

use kiln_render::{Build, Error, replace_images};

fn build(image_name: &str, tag: &str) -> Build {
    Build {
        image_name: image_name.to_owned(),
        tag: tag.to_owned(),
    }
}

const DIGEST: &str = "sha256:81daf011d63b68cfa514ddab7741a1adddd59d3264118dfb0fd9266328bb8883";

#[test]
fn skaffold_test_replace_images() {
    let manifest = format!(
        "
apiVersion: v1
kind: Pod
metadata:
  name: getting-started
spec:
  containers:
  - image: gcr.io/k8s-skaffold/example
    name: not-tagged
  - image: gcr.io/k8s-skaffold/example:latest
    name: latest
  - image: gcr.io/k8s-skaffold/example:v1
    name: ignored-tag
  - image: skaffold/other
    name: other
  - image: gcr.io/k8s-skaffold/example@{DIGEST}
    name: digest
  - image: skaffold/usedbyfqn:TAG
  - image: ko://github.com/GoogleContainerTools/skaffold/cmd/skaffold
  - image: not valid
  - image: unknown
"
    );
    let builds = [
        build(
            "gcr.io/k8s-skaffold/example",
            "gcr.io/k8s-skaffold/example:TAG",
        ),
        build("skaffold/other", "skaffold/other:OTHER_TAG"),
        build("skaffold/unused", "skaffold/unused:TAG"),
        build("skaffold/usedbyfqn", "skaffold/usedbyfqn:TAG"),
        build(
            "github.com/GoogleContainerTools/skaffold/cmd/skaffold",
            "gcr.io/k8s-skaffold/github.com/googlecontainertools/skaffold/cmd/skaffold:TAG",
        ),
    ];
    let expected = format!(
        "
apiVersion: v1
kind: Pod
metadata:
  name: getting-started
spec:
  containers:
  - image: gcr.io/k8s-skaffold/example:TAG
    name: not-tagged
  - image: gcr.io/k8s-skaffold/example:TAG
    name: latest
  - image: gcr.io/k8s-skaffold/example:TAG
    name: ignored-tag
  - image: skaffold/other:OTHER_TAG
    name: other
  - image: gcr.io/k8s-skaffold/example@{DIGEST}
    name: digest
  - image: skaffold/usedbyfqn:TAG
  - image: gcr.io/k8s-skaffold/github.com/googlecontainertools/skaffold/cmd/skaffold:TAG
  - image: not valid
  - image: unknown
"
    );
    assert_eq!(replace_images(&manifest, &builds).unwrap(), expected);
}

const LABELLED: &str = "
apiVersion: {api}
kind: {kind}
metadata:
  name: image-name
  labels:
    app.kubernetes.io/name: image-name
    this.should.not.change: image-name
    image: image-name
spec:
  template:
    spec:
      restartPolicy: image-name
  image: {spec_image}
";

fn labelled(api: &str, kind: &str, spec_image: &str) -> String {
    LABELLED
        .replace("{api}", api)
        .replace("{kind}", kind)
        .replace("{spec_image}", spec_image)
}

#[test]
fn skaffold_test_config_connector_and_predefined_kinds() {
    let builds = [build("image-name", "gcr.io/k8s-skaffold/image-name:TAG")];
    // TestReplaceImagesOnConfigConnectorResources: every `image` key, only matching names.
    let input = labelled(
        "storage.cnrm.cloud.google.com/v1beta1",
        "StorageBucket",
        "this-should-not-change",
    );
    assert_eq!(
        replace_images(&input, &builds).unwrap(),
        input.replace(
            "    image: image-name",
            "    image: gcr.io/k8s-skaffold/image-name:TAG"
        )
    );
    // TestReplaceImagesOnPredefinedAllowedResources: a Job's `image` keys, not other fields.
    let input = labelled("batch/v1", "Job", "this-should-not-change");
    assert_eq!(
        replace_images(&input, &builds).unwrap(),
        input.replace(
            "    image: image-name",
            "    image: gcr.io/k8s-skaffold/image-name:TAG"
        )
    );
    let input = labelled("batch/v1", "Job", "image-name");
    assert_eq!(
        replace_images(&input, &builds).unwrap(),
        input.replace(
            "image: image-name",
            "image: gcr.io/k8s-skaffold/image-name:TAG"
        )
    );
    // A kind that is not on the allow list is left alone.
    let input = labelled("v1", "ConfigMap", "image-name");
    assert_eq!(replace_images(&input, &builds).unwrap(), input);
    let input = labelled("example.com/v1", "Function", "image-name");
    assert_eq!(replace_images(&input, &builds).unwrap(), input);
    // `foo.cnrm.cloud.google.com` but not a bare `cnrm.cloud.google.com` group.
    let input = labelled("cnrm.cloud.google.com/v1", "Thing", "image-name");
    assert_eq!(replace_images(&input, &builds).unwrap(), input);
}

#[test]
fn skaffold_test_empty_invalid_and_non_string_manifests() {
    // TestReplaceEmptyManifest
    for text in ["", "  ", "---\n", "# nothing\n---\n...\n", "~\n"] {
        assert_eq!(replace_images(text, &[]).unwrap(), text);
    }
    // TestReplaceInvalidManifest
    let err = replace_images("INVALID", &[]).unwrap_err();
    assert_eq!(
        err,
        Error::NotAMapping {
            line: 1,
            column: 1,
            found: "string `INVALID`".to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        "line 1, column 1: a Kubernetes manifest must be a mapping, found string `INVALID`"
    );
    let err = replace_images("a: 1\n---\n- x\n", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotAMapping {
                line: 3,
                column: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // TestReplaceNonStringImageField
    let text = "\napiVersion: v1\nimage:\n- value1\n- value2\n";
    assert_eq!(replace_images(text, &[]).unwrap(), text);
}

#[test]
fn names_are_compared_without_tag_sanitized_and_in_ko_form() {
    let builds = [
        build("ko://github.com/Org/App/cmd/app", "reg/app:v1@sha256:aa"),
        build("Web", "reg/web:v2"),
    ];
    let text = "\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers:
      - image: github.com/org/app/cmd/app:old
      containers:
      - image: ko://github.com/Org/App/cmd/app
      - image: web:1.0
      - image: web@sha256:81daf011d63b68cfa514ddab7741a1adddd59d3264118dfb0fd9266328bb8883
      - image: webx
";
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        "\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers:
      - image: reg/app:v1@sha256:aa
      containers:
      - image: reg/app:v1@sha256:aa
      - image: reg/web:v2
      - image: web@sha256:81daf011d63b68cfa514ddab7741a1adddd59d3264118dfb0fd9266328bb8883
      - image: webx
"
    );
}

#[test]
fn comments_quotes_flow_style_and_other_documents_are_kept() {
    let builds = [build("app", "reg.example/app:v1@sha256:0123")];
    let text = "\
# leading comment
apiVersion: v1
kind: Pod
metadata: {name: p}   # flow mapping kept
spec:
  containers:
  - {name: a, image: app}
  - name: b
    image: 'app'   # single-quoted
  - name: c
    image: \"app:dev\"
  - name: d
    image: nginx   # not ours
---
apiVersion: v1
kind: ConfigMap
data:
  image: app
---
apiVersion: v1
kind: Service
spec:
  image: app
";
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        "\
# leading comment
apiVersion: v1
kind: Pod
metadata: {name: p}   # flow mapping kept
spec:
  containers:
  - {name: a, image: reg.example/app:v1@sha256:0123}
  - name: b
    image: 'reg.example/app:v1@sha256:0123'   # single-quoted
  - name: c
    image: \"reg.example/app:v1@sha256:0123\"
  - name: d
    image: nginx   # not ours
---
apiVersion: v1
kind: ConfigMap
data:
  image: app
---
apiVersion: v1
kind: Service
spec:
  image: reg.example/app:v1@sha256:0123
"
    );
}

#[test]
fn navpath_specific_kinds() {
    let builds = [build("app", "reg/app:v1")];
    let text = "\
apiVersion: platform.confluent.io/v1beta1
kind: Kafka
spec:
  image:
    application: app
    init: app
    other: app
  podTemplate:
    image: app
";
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        "\
apiVersion: platform.confluent.io/v1beta1
kind: Kafka
spec:
  image:
    application: reg/app:v1
    init: reg/app:v1
    other: app
  podTemplate:
    image: app
"
    );
}

#[test]
fn helm_compatibility_forms() {
    let builds = [
        build(
            "gcr.io/example-repo/skaffold-helm-image",
            "gcr.io/example-repo/skaffold-helm-image:T1",
        ),
        build("skaffold-helm-image", "skaffold-helm-image:T2"),
    ];
    let text = "\
apiVersion: v1
kind: Pod
spec:
  containers:
  - image: gcr.io/example-repo/skaffold-helm-image:gcr.io/example-repo/skaffold-helm-image
  - image: skaffold-helm-image/skaffold-helm-image:skaffold-helm-image
  - image: skaffold-helm-image:skaffold-helm-image
";
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        "\
apiVersion: v1
kind: Pod
spec:
  containers:
  - image: gcr.io/example-repo/skaffold-helm-image:T1
  - image: skaffold-helm-image:T2
  - image: skaffold-helm-image:T2
"
    );
}

#[test]
fn aliases_end_with_the_values_skaffolds_expanded_output_has() {
    let builds = [build("app", "reg/app:v1")];
    let text = "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    original: &img app
spec:
  containers:
  - image: *img
  - image: &other app
    env:
    - name: IMAGE
      value: *other
";
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        "\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    original: &img app
spec:
  containers:
  - image: reg/app:v1
  - image: &other reg/app:v1
    env:
    - name: IMAGE
      value: app
"
    );
}

#[test]
fn non_string_image_values_and_keys() {
    let builds = [build("123", "reg/123:v1"), build("app", "reg/app:v1")];
    let text = "\
apiVersion: v1
kind: Pod
spec:
  image: 123
  quoted:
    image: '123'
  intkeys:
    1: x
    image: app
";
    // `123` is an integer to go-yaml, and a mapping with a non-string key is not visited.
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        text.replace("'123'", "'reg/123:v1'")
    );
}

#[test]
fn repeated_keys_are_an_error_as_in_go_yaml() {
    let err = replace_images("apiVersion: v1\nkind: Pod\nkind: Pod\n", &[]).unwrap_err();
    assert_eq!(
        err,
        Error::DuplicateKey {
            line: 3,
            column: 1,
            key: "kind".to_owned(),
            first_line: 2
        }
    );
}

#[test]
fn merging_a_scalar_is_an_error_as_in_go_yaml() {
    // go-yaml v3: "map merge requires map or sequence of maps as the value".
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  <<: 5\n";
    let err = replace_images(text, &[]).unwrap_err();
    assert_eq!(err, Error::BadMerge { line: 4, column: 7 });
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  <<: [{a: 1}, x]\n";
    let err = replace_images(text, &[]).unwrap_err();
    assert_eq!(
        err,
        Error::BadMerge {
            line: 4,
            column: 16
        }
    );
}

#[test]
fn merge_keys_are_followed() {
    let builds = [build("app", "reg/app:v1")];
    let text = "\
apiVersion: v1
kind: Pod
spec:
  containers:
  - <<: &base {image: app}
    name: a
";
    assert_eq!(
        replace_images(text, &builds).unwrap(),
        text.replace("{image: app}", "{image: reg/app:v1}")
    );
}
