use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::ErrorKind;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/skaffold")
        .join(name)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn load(name: &str, selection: &ProfileSelection) -> Result<SkaffoldFile, ConfigError> {
    load_skaffold(&fixture(name), selection, &no_env)
}

fn parse(text: &str) -> Result<SkaffoldFile, ConfigError> {
    parse_skaffold(
        text,
        Path::new("skaffold.yaml"),
        &ProfileSelection::default(),
        &no_env,
    )
}

fn select(names: &[&str]) -> ProfileSelection {
    ProfileSelection {
        profiles: names.iter().map(|s| (*s).to_owned()).collect(),
        ..ProfileSelection::default()
    }
}

fn only(file: &SkaffoldFile) -> &Config {
    assert_eq!(file.configs.len(), 1);
    &file.configs[0]
}

fn minimal(version: &str) -> String {
    format!(
        "apiVersion: {version}\nkind: Config\nbuild:\n  artifacts:\n    - image: app\n      ko: {{}}\n"
    )
}

#[test]
fn every_supported_api_version_parses_a_minimal_ko_config() {
    assert_eq!(SUPPORTED_API_VERSIONS.len(), 20);
    for version in SUPPORTED_API_VERSIONS {
        let file = parse(&minimal(version)).unwrap_or_else(|e| panic!("{version}: {e}"));
        let config = only(&file);
        assert_eq!(config.api_version, *version);
        let artifact = &config.build.artifacts[0];
        assert_eq!(artifact.image, "app");
        assert_eq!(artifact.context, Path::new("."));
        assert_eq!(artifact.ko.main, ".");
        assert_eq!(artifact.ko.dir, Path::new("."));
        assert_eq!(artifact.ko.dependencies.paths, ["**/*.go"]);
        assert!(artifact.ko.dependencies.ignore.is_empty());
        assert_eq!(
            config.build.tag_policy,
            TagPolicy::GitCommit(GitCommit::default())
        );
        assert_eq!(config.build.local.push, None);
        assert_eq!(config.build.local.concurrency, None);
        assert_eq!(
            config.manifests.raw_yaml,
            ["k8s/*.yaml"],
            "Skaffold's default renderer"
        );
        assert!(
            config.deploy.kubectl.is_some(),
            "Skaffold's default deployer"
        );
        assert!(!artifact.ko.overrides_ko_builds());
    }
}

#[test]
fn unsupported_api_versions_are_refused_with_the_supported_range() {
    let err = load("old-version.yaml", &ProfileSelection::default()).expect_err("too old");
    assert!(matches!(err.kind(), ErrorKind::Unsupported), "{err:?}");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 1,
            column: 13
        })
    );
    let text = err.to_string();
    assert!(
        text.contains("ko builder requires skaffold/v2beta26 or newer"),
        "{text}"
    );
    assert!(
        text.contains("skaffold/v2beta26 … skaffold/v4beta14"),
        "{text}"
    );

    for version in [
        "skaffold/v1",
        "skaffold/v1beta13",
        "skaffold/v2alpha3",
        "skaffold/v2beta1",
    ] {
        let err = parse(&minimal(version)).expect_err(version);
        assert!(
            err.to_string()
                .contains("requires skaffold/v2beta26 or newer"),
            "{err}"
        );
    }
    let err = parse(&minimal("skaffold/v4beta15")).expect_err("too new");
    assert!(err.to_string().contains("newer than kiln knows"), "{err}");
    let err = parse(&minimal("skaffold/v4beta1x")).expect_err("unknown");
    assert!(err.to_string().contains("unknown apiVersion"), "{err}");
    let err = parse("kind: Config\n").expect_err("missing");
    assert!(
        err.to_string().contains("missing field `apiVersion`"),
        "{err}"
    );
}

#[test]
fn full_v4_config_maps_every_modelled_field() {
    let file = load("full-v4.yaml", &ProfileSelection::default()).expect("loads");
    let c = only(&file);
    assert_eq!(c.metadata.name.as_deref(), Some("app"));
    assert_eq!(
        c.metadata.labels.get("team").map(String::as_str),
        Some("build")
    );
    assert_eq!(c.requires.len(), 1);
    assert_eq!(c.requires[0].configs, ["base"]);
    assert_eq!(
        c.requires[0].path.as_deref(),
        Some(Path::new("../base/skaffold.yaml"))
    );
    assert_eq!(c.requires[0].active_profiles[0].name, "dev");
    assert_eq!(c.requires[0].active_profiles[0].activated_by, ["dev"]);

    let b = &c.build;
    assert_eq!(b.platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(b.insecure_registries, ["localhost:5000"]);
    assert_eq!(
        b.tag_policy,
        TagPolicy::GitCommit(GitCommit {
            variant: GitVariant::AbbrevCommitSha,
            prefix: "v-".into(),
            ignore_changes: true
        })
    );
    assert_eq!(b.local.push, Some(false));
    assert_eq!(b.local.concurrency, Some(2));
    assert_eq!(b.local.use_buildkit, Some(true));

    let a = &b.artifacts[0];
    assert_eq!(a.image, "ko://example.com/app/cmd/server");
    assert_eq!(a.context, Path::new("services/server"));
    assert_eq!(a.platforms, ["linux/amd64"]);
    assert_eq!(a.runtime_type.as_deref(), Some("go"));
    assert_eq!(
        a.requires,
        [ArtifactDependency {
            image: "helper".into(),
            alias: "helper".into()
        }]
    );
    assert_eq!(
        a.sync.as_ref().map(|s| s.infer.clone()),
        Some(vec!["kodata/**/*".to_owned()])
    );
    assert_eq!(
        a.location,
        Location {
            line: 26,
            column: 7
        }
    );
    let ko = &a.ko;
    assert_eq!(
        ko.from_image.as_deref(),
        Some("gcr.io/distroless/static:nonroot")
    );
    assert_eq!(ko.dependencies.paths, ["**/*.go", "go.*"]);
    assert_eq!(ko.dependencies.ignore, ["vendor"]);
    assert_eq!(ko.dir, Path::new("./src"));
    assert_eq!(ko.env, ["GOPRIVATE=example.com", "CGO_ENABLED=0"]);
    assert_eq!(ko.flags, ["-tags", "netgo"]);
    assert_eq!(ko.ldflags, ["-s -w", "-X main.version={{.IMAGE_TAG}}"]);
    assert_eq!(
        ko.labels.get("version").map(String::as_str),
        Some("1.10"),
        "scalar text is kept"
    );
    assert_eq!(ko.main, "./cmd/server");
    assert!(ko.overrides_ko_builds());

    assert_eq!(c.manifests.raw_yaml, ["k8s/*.yaml", "extra/*.yaml"]);
    assert_eq!(c.deploy.kube_context.as_deref(), Some("kind-dev"));
    let kubectl = c.deploy.kubectl.as_ref().expect("kubectl");
    assert_eq!(kubectl.default_namespace.as_deref(), Some("apps"));
    assert_eq!(kubectl.flags.global, ["--v=2"]);
    assert_eq!(kubectl.flags.apply, ["--server-side"]);
    assert_eq!(c.deploy.status_check_deadline_seconds, Some(60));
    assert_eq!(c.deploy.status_check, None);
    assert!(!c.deploy.tolerate_failures_until_deadline);
    let ignored: Vec<&str> = c.ignored.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(ignored, ["portForward"]);
}

#[test]
fn multi_config_file_keeps_configs_in_order() {
    let file = load("multi-config.yaml", &ProfileSelection::default()).expect("loads");
    assert_eq!(
        file.configs.len(),
        2,
        "trailing `---` is an empty document, skipped"
    );
    assert_eq!(file.configs[0].metadata.name.as_deref(), Some("frontend"));
    assert_eq!(file.configs[0].requires[0].configs, ["backend"]);
    assert_eq!(file.configs[1].metadata.name.as_deref(), Some("backend"));
    assert_eq!(file.configs[1].build.artifacts[0].requires[0].alias, "FE");
    assert_eq!(file.configs[1].location.line, 18);

    // A profile defined in one config only is fine to select.
    let file = load("multi-config.yaml", &select(&["dev"])).expect("loads");
    assert_eq!(file.configs[0].build.tag_policy, TagPolicy::Sha256);
    assert_eq!(file.configs[0].active_profiles, ["dev"]);
    assert!(file.configs[1].active_profiles.is_empty());
    assert_eq!(file.configs[1].build.tag_policy, TagPolicy::default());
}

#[test]
fn duplicate_config_names_and_images_are_errors() {
    let text = format!(
        "{}metadata: {{name: a}}\n---\n{}metadata: {{name: a}}\n",
        minimal("skaffold/v4beta1"),
        minimal("skaffold/v4beta1")
    );
    let err = parse(&text).expect_err("duplicate name");
    assert!(
        err.to_string().contains("duplicate config name `a`"),
        "{err}"
    );
    let text = format!(
        "{}---\n{}",
        minimal("skaffold/v4beta1"),
        minimal("skaffold/v4beta1")
    );
    let err = parse(&text).expect_err("duplicate image");
    assert!(err.to_string().contains("duplicate image `app`"), "{err}");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 12,
            column: 7
        })
    );
}

#[test]
fn mixing_skaffold_v1_and_v2_schema_lines_is_an_error() {
    let text = format!(
        "{}---\n{}",
        minimal("skaffold/v2beta29"),
        minimal("skaffold/v3").replace("app", "other")
    );
    let err = parse(&text).expect_err("mixed");
    assert!(
        err.to_string()
            .contains("mix skaffold/v2beta29 with skaffold/v3"),
        "{err}"
    );
}

#[test]
fn profiles_selected_with_p() {
    let file = load("profiles.yaml", &select(&["ci,kind"])).expect("loads");
    let c = only(&file);
    assert_eq!(c.active_profiles, ["ci", "kind"]);
    assert_eq!(c.build.local.push, Some(true));
    assert_eq!(c.deploy.kube_context.as_deref(), Some("kind-kind"));
    assert_eq!(
        c.build.artifacts.len(),
        2,
        "profile without artifacts keeps the base ones"
    );
}

#[test]
fn unknown_profile_names_list_the_available_ones() {
    let err = load("profiles.yaml", &select(&["kidn"])).expect_err("unknown");
    assert!(
        matches!(err.kind(), ErrorKind::Profile { profile } if profile == "kidn"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("profile `kidn` selected with -p is not defined"),
        "{text}"
    );
    assert!(text.contains("did you mean `kind`?"), "{text}");
    assert!(
        text.contains("available profiles: `ci`, `dev`, `kind`, `both`, `patch`"),
        "{text}"
    );
    let err = load("profiles.yaml", &select(&["-nope"])).expect_err("unknown negation");
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[test]
fn profiles_auto_activate_by_env_command_and_kube_context() {
    let path = fixture("profiles.yaml");
    let ci = env_of(&[("CI", "true")]);
    let file = load_skaffold(&path, &ProfileSelection::default(), &ci).expect("loads");
    assert_eq!(only(&file).active_profiles, ["ci"]);

    // The env pattern is an unanchored regex: `true` matches `untrue` too.
    let untrue = env_of(&[("CI", "untrue")]);
    let file = load_skaffold(&path, &ProfileSelection::default(), &untrue).expect("loads");
    assert_eq!(only(&file).active_profiles, ["ci"]);

    let dev = ProfileSelection {
        command: Some("dev".into()),
        ..ProfileSelection::default()
    };
    let file = load_skaffold(&path, &dev, &no_env).expect("loads");
    assert_eq!(only(&file).active_profiles, ["dev"]);
    assert_eq!(only(&file).build.tag_policy, TagPolicy::Sha256);

    let kind = ProfileSelection {
        kube_context: Some("kind-kind".into()),
        ..ProfileSelection::default()
    };
    let file = load_skaffold(&path, &kind, &no_env).expect("loads");
    assert_eq!(only(&file).active_profiles, ["kind"]);
    let gke = ProfileSelection {
        kube_context: Some("gke_prod".into()),
        ..ProfileSelection::default()
    };
    let file = load_skaffold(&path, &gke, &no_env).expect("loads");
    assert!(only(&file).active_profiles.is_empty());

    // requiresAllActivations: both conditions, or nothing.
    let prod = env_of(&[("DEPLOY_ENV", "prod")]);
    let file = load_skaffold(&path, &ProfileSelection::default(), &prod).expect("loads");
    assert!(only(&file).active_profiles.is_empty());
    let run = ProfileSelection {
        command: Some("run".into()),
        ..ProfileSelection::default()
    };
    let file = load_skaffold(&path, &run, &prod).expect("loads");
    assert_eq!(only(&file).active_profiles, ["both"]);
    assert_eq!(only(&file).build.platforms, ["linux/arm64"]);

    // `-p -ci` deactivates; `--profile-auto-activation=false` turns it all off.
    let minus = ProfileSelection {
        profiles: vec!["-ci".into(), "kind".into()],
        ..ProfileSelection::default()
    };
    let file = load_skaffold(&path, &minus, &ci).expect("loads");
    assert_eq!(only(&file).active_profiles, ["kind"]);
    let off = ProfileSelection {
        auto_activation: false,
        ..ProfileSelection::default()
    };
    let file = load_skaffold(&path, &off, &ci).expect("loads");
    assert!(only(&file).active_profiles.is_empty());
}

#[test]
fn invalid_env_activation_is_a_profile_error() {
    let text = format!(
        "{}profiles:\n  - name: p\n    activation:\n      - env: NOEQUALS\n",
        minimal("skaffold/v4beta1")
    );
    let err = parse(&text).expect_err("bad env");
    assert!(matches!(err.kind(), ErrorKind::Profile { .. }), "{err:?}");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 10,
            column: 14
        })
    );
    assert!(
        err.to_string()
            .contains("invalid env variable format `NOEQUALS`"),
        "{err}"
    );
}

#[test]
fn json_patches_apply_in_order() {
    let file = load("profiles.yaml", &select(&["patch"])).expect("loads");
    let c = only(&file);
    assert_eq!(c.build.artifacts.len(), 1, "remove /build/artifacts/1");
    let ko = &c.build.artifacts[0].ko;
    assert_eq!(ko.main, "./cmd/app2");
    assert_eq!(ko.ldflags, ["-s", "-w"]);
    assert_eq!(ko.env, ["GOFLAGS=-mod=vendor"]);
    assert_eq!(ko.dir, Path::new("./cmd/app2"), "copy");
    assert_eq!(
        ko.from_image.as_deref(),
        Some("alpine"),
        "key=value path segment"
    );
}

#[test]
fn failing_patches_name_the_profile_and_patch_index() {
    let err = load("profiles.yaml", &select(&["bad-patch"])).expect_err("bad patch");
    assert!(
        matches!(err.kind(), ErrorKind::Profile { profile } if profile == "bad-patch"),
        "{err:?}"
    );
    assert_eq!(err.field(), "profiles[5].patches[0]");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 64,
            column: 15
        })
    );
    assert!(
        err.to_string()
            .contains("patch 0 (replace /build/artifacts/5/image)"),
        "{err}"
    );

    // Ops are checked in every profile, selected or not.
    let text = format!(
        "{}profiles:\n  - name: unused\n    patches:\n      - op: replcae\n        path: /build/artifacts/0/image\n",
        minimal("skaffold/v4beta1")
    );
    let err = parse(&text).expect_err("bad op");
    assert_eq!(err.field(), "profiles[0].patches[0].op");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 10,
            column: 13
        })
    );
    assert_eq!(err.hint(), Some("did you mean `replace`?"));
}

#[test]
fn patched_values_are_typed_and_located_at_the_patch() {
    let text = format!(
        "{}profiles:\n  - name: p\n    patches:\n      - op: add\n        path: /build/local\n        value: {{push: sometimes}}\n",
        minimal("skaffold/v4beta1")
    );
    let sel = select(&["p"]);
    let err =
        parse_skaffold(&text, Path::new("skaffold.yaml"), &sel, &no_env).expect_err("bad type");
    assert_eq!(err.field(), "build.local.push");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 12,
            column: 23
        })
    );
}

#[test]
fn unknown_field_reports_position_path_and_suggestion() {
    let err = load("unknown-field.yaml", &ProfileSelection::default()).expect_err("unknown");
    let ErrorKind::UnknownField { name } = err.kind() else {
        panic!("{err:?}")
    };
    assert_eq!(
        err.location(),
        Some(Location {
            line: 10,
            column: 9
        })
    );
    assert_eq!(err.field(), "build.artifacts[0].ko");
    assert_eq!(name, "ldflagz");
    assert_eq!(err.hint(), Some("did you mean `ldflags`?"));
    let text = err.to_string();
    assert!(text.ends_with(
        "unknown-field.yaml:10:9: build.artifacts[0].ko: unknown field `ldflagz`, expected one of `fromImage`, \
         `dependencies`, `dir`, `env`, `flags`, `labels`, `ldflags`, `main`, `platforms`; did you mean `ldflags`?"
    ), "{text}");
}

#[test]
fn fields_from_other_api_versions_are_unknown_there() {
    let v3 = minimal("skaffold/v3").replace("ko: {}", "runtimeType: go\n      ko: {}");
    let err = parse(&v3).expect_err("runtimeType needs v4beta2");
    assert!(
        matches!(err.kind(), ErrorKind::UnknownField { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("unknown field `runtimeType` in skaffold/v3 (added in skaffold/v4beta2)"),
        "{err}"
    );

    let v4 = minimal("skaffold/v4beta1").replace("ko: {}", "ko: {platforms: [linux/amd64]}");
    let err = parse(&v4).expect_err("ko.platforms is v2beta26/27 only");
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("build.artifacts[].platforms")),
        "{err}"
    );

    let v2 = minimal("skaffold/v2beta26").replace("ko: {}", "ko: {platforms: [linux/arm64]}");
    let file = parse(&v2).expect("ko.platforms in v2beta26");
    assert_eq!(only(&file).build.artifacts[0].platforms, ["linux/arm64"]);

    let v2 = format!(
        "{}manifests: {{rawYaml: [a.yaml]}}\n",
        minimal("skaffold/v2beta29")
    );
    let err = parse(&v2).expect_err("manifests is v3+");
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("deploy.kubectl.manifests")),
        "{err}"
    );

    let v3 = format!(
        "{}deploy: {{kubectl: {{manifests: [a.yaml]}}}}\n",
        minimal("skaffold/v3")
    );
    let err = parse(&v3).expect_err("kubectl.manifests is v2 only");
    assert_eq!(err.field(), "deploy.kubectl");
    assert!(
        err.hint().is_some_and(|h| h.contains("manifests.rawYaml")),
        "{err}"
    );

    let profile = format!(
        "{}profiles:\n  - name: p\n    manifests: {{rawYaml: [a]}}\n",
        minimal("skaffold/v2beta28")
    );
    let err = parse(&profile).expect_err("profiles are gated too");
    assert_eq!(err.field(), "profiles[0]");
}

#[test]
fn wrong_types_are_errors_with_positions() {
    let err = load("wrong-type.yaml", &ProfileSelection::default()).expect_err("wrong type");
    assert!(matches!(err.kind(), ErrorKind::Invalid), "{err:?}");
    assert_eq!(err.field(), "build.local.push");
    assert_eq!(
        err.location(),
        Some(Location {
            line: 5,
            column: 11
        })
    );
    assert!(
        err.to_string()
            .contains("expected a boolean, found string `maybe`"),
        "{err}"
    );

    let err =
        parse(&minimal("skaffold/v4beta1").replace("ko: {}", "ko: {flags: -v}")).expect_err("list");
    assert_eq!(err.field(), "build.artifacts[0].ko.flags");
    assert!(err.to_string().contains("expected a sequence"), "{err}");

    let err = parse("apiVersion: skaffold/v4beta1\nbuild: {artifacts: [{ko: {}}]}\n")
        .expect_err("no image");
    assert_eq!(err.field(), "build.artifacts[0]");
    assert!(err.to_string().contains("missing field `image`"), "{err}");

    let err = parse("apiVersion: skaffold/v4beta1\nkind: Deployment\n").expect_err("kind");
    assert!(err.to_string().contains("expected `Config`"), "{err}");
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let err = load("syntax-error.yaml", &ProfileSelection::default()).expect_err("syntax");
    assert!(matches!(err.kind(), ErrorKind::Syntax), "{err:?}");
    let loc = err.location().expect("position");
    assert!(loc.line >= 6, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:", fixture("syntax-error.yaml").display())),
        "{err}"
    );

    let err = parse("a: 1\na: 2\n").expect_err("duplicate key");
    assert!(
        err.to_string()
            .contains("skaffold.yaml:2:1: duplicate key `a`"),
        "{err}"
    );
}

#[test]
fn every_builder_is_accepted_and_named() {
    let file = load("docker-artifact.yaml", &ProfileSelection::default()).expect("docker");
    let builders: Vec<Builder> = only(&file)
        .build
        .artifacts
        .iter()
        .map(|a| a.builder)
        .collect();
    assert_eq!(
        builders,
        [Builder::Ko, Builder::Docker { by_default: false }]
    );

    let text = r#"apiVersion: skaffold/v4beta14
build:
  artifacts:
  - {image: k, ko: {main: ./cmd/k}}
  - {image: c, custom: {buildCommand: ./build.sh, dependencies: {paths: [src]}}}
  - {image: p, buildpacks: {builder: "gcr.io/buildpacks/builder:v1"}}
  - {image: j, jib: {}}
  - {image: b, bazel: {target: "//:app.tar"}}
  - {image: n, kaniko: {dockerfile: Dockerfile}}
  - {image: d}
  - {image: e, ko: }
  - {image: s, docker: {}, sync: {infer: ['**/*.html']}}
  cluster: {namespace: builds}
"#;
    let file = parse(text).expect("every builder");
    let c = only(&file);
    let got: Vec<(&str, Builder)> = c
        .build
        .artifacts
        .iter()
        .map(|a| (a.image.as_str(), a.builder))
        .collect();
    assert_eq!(
        got,
        [
            ("k", Builder::Ko),
            ("c", Builder::Custom),
            ("p", Builder::Buildpacks),
            ("j", Builder::Jib),
            ("b", Builder::Bazel),
            ("n", Builder::Kaniko),
            ("d", Builder::Docker { by_default: true }),
            // Skaffold reads an empty `ko:` as no builder, so docker.
            ("e", Builder::Docker { by_default: true }),
            ("s", Builder::Docker { by_default: false }),
        ]
    );
    assert_eq!(c.build.artifacts[0].ko.main, "./cmd/k");
    // Cluster builds are accepted and reported as ignored: kiln builds ko locally.
    assert!(
        c.ignored.iter().any(|f| f.field == "build.cluster"),
        "{:?}",
        c.ignored
    );

    let err =
        parse("apiVersion: skaffold/v4beta1\nbuild: {artifacts: [{image: x, ko: {}, jib: {}}]}\n")
            .expect_err("two");
    assert!(err.to_string().contains("more than one builder"), "{err}");
    assert_eq!(err.field(), "build.artifacts[0]");

    // A profile can swap docker artifacts for ko ones: only the result matters.
    let text = "apiVersion: skaffold/v4beta1\nbuild: {artifacts: [{image: x, docker: {}}]}\nprofiles:\n  - name: ko\n    build: {artifacts: [{image: x, ko: {}}]}\n";
    let file = parse_skaffold(text, Path::new("s.yaml"), &select(&["ko"]), &no_env)
        .expect("profile swaps builder");
    assert_eq!(only(&file).build.artifacts[0].builder, Builder::Ko);
}

#[test]
fn v2_kubectl_manifests_and_v3_raw_yaml_end_up_in_manifests() {
    let file = load("v2beta29-kubectl.yaml", &ProfileSelection::default()).expect("v2");
    let c = only(&file);
    assert_eq!(c.manifests.raw_yaml, ["k8s/app.yaml"]);
    assert_eq!(
        c.deploy.kubectl.as_ref().map(|k| k.flags.apply.clone()),
        Some(vec!["--force".to_owned()])
    );

    // Profile replaces deploy.kubectl whole, but the manifests already moved out (as after
    // Skaffold's upgrade), so they survive.
    let file = load("v2beta29-kubectl.yaml", &select(&["prod"])).expect("v2 prod");
    let c = only(&file);
    assert_eq!(c.manifests.raw_yaml, ["k8s/app.yaml"]);
    assert_eq!(
        c.deploy.kubectl.as_ref().map(|k| k.flags.apply.clone()),
        Some(vec!["--prune".to_owned()])
    );

    // Patch paths written against the v2 layout still work.
    let file = load("v2beta29-kubectl.yaml", &select(&["patched"])).expect("v2 patched");
    assert_eq!(
        only(&file).manifests.raw_yaml,
        ["k8s/app.yaml", "k8s/extra.yaml"]
    );

    let file = load("v3-manifests.yaml", &ProfileSelection::default()).expect("v3");
    let c = only(&file);
    assert_eq!(c.manifests.raw_yaml, ["k8s/deployment.yaml"]);
    assert_eq!(c.deploy.kubectl, Some(KubectlDeploy::default()));
}

#[test]
fn tag_policies() {
    let cases = [
        ("sha256: {}", TagPolicy::Sha256),
        ("inputDigest: {}", TagPolicy::InputDigest),
        (
            "envTemplate: {template: '{{.IMAGE_NAME}}:x'}",
            TagPolicy::EnvTemplate {
                template: "{{.IMAGE_NAME}}:x".into(),
            },
        ),
        (
            "dateTime: {format: '2006', timezone: UTC}",
            TagPolicy::DateTime {
                format: Some("2006".into()),
                timezone: Some("UTC".into()),
            },
        ),
        (
            "customTemplate: {template: '{{.FOO}}', components: [{name: FOO, gitCommit: {variant: Branches}}]}",
            TagPolicy::CustomTemplate {
                template: "{{.FOO}}".into(),
                components: vec![TagComponent {
                    name: "FOO".into(),
                    policy: TagPolicy::GitCommit(GitCommit {
                        variant: GitVariant::Branches,
                        ..GitCommit::default()
                    }),
                }],
            },
        ),
    ];
    for (yaml, expected) in cases {
        let text = format!("{}  tagPolicy: {{{yaml}}}\n", minimal("skaffold/v4beta1"));
        let file = parse(&text).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        assert_eq!(only(&file).build.tag_policy, expected, "{yaml}");
    }
    let text = format!(
        "{}  tagPolicy: {{sha256: {{}}, gitCommit: {{}}}}\n",
        minimal("skaffold/v4beta1")
    );
    assert!(
        parse(&text)
            .expect_err("two")
            .to_string()
            .contains("only one tagger")
    );
    let text = format!(
        "{}  tagPolicy: {{gitCommit: {{variant: commitSha}}}}\n",
        minimal("skaffold/v4beta1")
    );
    let err = parse(&text).expect_err("variant");
    assert_eq!(err.field(), "build.tagPolicy.gitCommit.variant");
    assert_eq!(err.hint(), Some("did you mean `CommitSha`?"));
    let text = format!(
        "{}  tagPolicy: {{sha256: {{x: 1}}}}\n",
        minimal("skaffold/v4beta1")
    );
    assert!(
        parse(&text)
            .expect_err("sha256 takes nothing")
            .to_string()
            .contains("takes no fields")
    );
    let text = format!(
        "{}  tagPolicy: {{sha256: {{}}}}\n  local: {{tryImportMissing: true}}\n",
        minimal("skaffold/v4beta1")
    );
    assert!(
        parse(&text)
            .expect_err("skaffold validation")
            .to_string()
            .contains("tryImportMissing")
    );
}

#[test]
fn artifact_validations_follow_skaffold() {
    let base = minimal("skaffold/v4beta1");
    let err = parse(&base.replace("image: app", "image: app:v1")).expect_err("tag");
    assert!(
        err.to_string().contains("no tag should be specified"),
        "{err}"
    );
    parse(&base.replace("image: app", "image: localhost:5000/app"))
        .expect("registry port is not a tag");
    let err =
        parse(&base.replace("ko: {}", "ko: {}\n      sync: {}")).expect_err("default infer **/*");
    assert!(
        err.to_string().contains("must name the `kodata` directory"),
        "{err}"
    );
    let err = parse(&base.replace(
        "ko: {}",
        "ko: {main: ./...}\n      sync: {infer: [kodata/**]}",
    ))
    .expect_err("...");
    assert!(err.to_string().contains("`...` wildcard"), "{err}");
    let err = parse(&base.replace("ko: {}", "ko: {}\n      requires: [{image: app}]"))
        .expect_err("cycle");
    assert!(err.to_string().contains("cycle detected"), "{err}");
    let err = parse(&base.replace(
        "ko: {}",
        "ko: {}\n      requires: [{image: a, alias: X}, {image: b, alias: X}]",
    ))
    .expect_err("alias");
    assert!(err.to_string().contains("alias `X` repeated"), "{err}");
    let file =
        parse(&base.replace("ko: {}", "ko: {dependencies: {ignore: [vendor]}}")).expect("deps");
    assert!(
        only(&file).build.artifacts[0]
            .ko
            .dependencies
            .paths
            .is_empty(),
        "ignore without paths: no defaults"
    );
}

#[test]
fn anchors_in_dot_keys_are_dropped_like_skaffold() {
    let text = "apiVersion: skaffold/v4beta1\n.ko: &ko {main: ./cmd/app}\nbuild:\n  artifacts:\n  - image: a\n    ko: *ko\n";
    let file = parse(text).expect("anchors");
    assert_eq!(only(&file).build.artifacts[0].ko.main, "./cmd/app");
}

#[test]
fn other_deployers_suppress_kubectl_defaults() {
    let text = format!(
        "{}deploy: {{helm: {{releases: []}}}}\n",
        minimal("skaffold/v4beta1")
    );
    let c = parse(&text).expect("helm");
    let c = only(&c);
    assert!(c.deploy.kubectl.is_none());
    assert!(c.manifests.raw_yaml.is_empty());
    assert!(
        c.deploy
            .helm
            .as_ref()
            .is_some_and(|h| h.releases.is_empty())
    );
    assert!(c.ignored.is_empty());
}

#[test]
fn helm_and_kustomize_sections_are_typed() {
    let text = format!(
        r#"{}manifests:
  kustomize:
    buildArgs: ["--load-restrictor LoadRestrictionsNone"]
  helm:
    flags: {{template: ["--skip-crds"], global: ["--debug"]}}
    releases:
    - name: web
      chartPath: charts/web
      valuesFiles: [charts/web/values-dev.yaml]
      namespace: apps
      setValues: {{replicas: 2, ingress: {{enabled: true, hosts: [a.example, b.example]}}}}
      setValueTemplates: {{image.repository: "{{{{.IMAGE_REPO_app}}}}", image.tag: "{{{{.IMAGE_TAG_app}}}}"}}
      overrides: {{resources: {{limits: {{cpu: 1}}}}}}
deploy:
  helm:
    releases: [{{name: other, remoteChart: bitnami/redis}}]
"#,
        minimal("skaffold/v4beta11")
    );
    let file = parse(&text).expect("helm and kustomize");
    let c = only(&file);
    let k = c.manifests.kustomize.as_ref().expect("kustomize");
    assert_eq!(k.paths, ["."], "Skaffold's documented default");
    assert_eq!(k.build_args, ["--load-restrictor LoadRestrictionsNone"]);
    let h = c.manifests.helm.as_ref().expect("helm");
    assert_eq!(h.flags.template, ["--skip-crds"]);
    let r = &h.releases[0];
    assert_eq!(r.chart_path.as_deref(), Some("charts/web"));
    assert_eq!(
        r.set_values,
        [
            ("ingress.enabled".to_owned(), "true".to_owned()),
            ("ingress.hosts[0]".to_owned(), "a.example".to_owned()),
            ("ingress.hosts[1]".to_owned(), "b.example".to_owned()),
            ("replicas".to_owned(), "2".to_owned()),
        ]
    );
    assert_eq!(
        r.set_value_templates,
        [
            (
                "image.repository".to_owned(),
                "{{.IMAGE_REPO_app}}".to_owned()
            ),
            ("image.tag".to_owned(), "{{.IMAGE_TAG_app}}".to_owned()),
        ]
    );
    assert_eq!(
        r.overrides.as_deref(),
        Some(r#"{"resources":{"limits":{"cpu":1}}}"#)
    );
    // The deployer takes the render config's releases, as Skaffold's does.
    let d = c.deploy.helm.as_ref().expect("deploy.helm");
    assert_eq!(d.releases, h.releases);
    assert!(c.deploy.kubectl.is_none());
    assert!(c.manifests.raw_yaml.is_empty());
}

#[test]
fn skaffold_v2_helm_and_kustomize_deployers_are_upgraded_as_skaffold_does() {
    let text = format!(
        r#"{}deploy:
  kubectl:
    flags: {{apply: ["--force"]}}
  kustomize:
    paths: [k8s/overlays/dev]
    defaultNamespace: dev
    flags: {{apply: ["--server-side"]}}
  helm:
    releases:
    - name: fqn
      chartPath: charts/a
      artifactOverrides: {{image: gcr.io/x/app-one}}
    - name: conv
      chartPath: charts/b
      artifactOverrides: {{image: app}}
      imageStrategy: {{helm: {{explicitRegistry: true}}}}
"#,
        minimal("skaffold/v2beta29")
    );
    let file = parse(&text).expect("v2 deployers");
    let c = only(&file);
    assert_eq!(
        c.manifests.kustomize.as_ref().unwrap().paths,
        ["k8s/overlays/dev"]
    );
    let kubectl = c.deploy.kubectl.as_ref().unwrap();
    assert_eq!(kubectl.flags.apply, ["--force", "--server-side"]);
    assert_eq!(kubectl.default_namespace.as_deref(), Some("dev"));
    let h = c.manifests.helm.as_ref().unwrap();
    assert_eq!(
        h.releases[0].set_value_templates,
        [(
            "image".to_owned(),
            "{{.IMAGE_FULLY_QUALIFIED_gcr_io_x_app_one}}".to_owned()
        )]
    );
    assert_eq!(
        h.releases[1].set_value_templates,
        [
            (
                "image.registry".to_owned(),
                "{{.IMAGE_DOMAIN_app}}".to_owned()
            ),
            (
                "image.repository".to_owned(),
                "{{.IMAGE_REPO_NO_DOMAIN_app}}".to_owned()
            ),
            (
                "image.tag".to_owned(),
                "{{.IMAGE_TAG_app}}@{{.IMAGE_DIGEST_app}}".to_owned()
            ),
        ]
    );
    assert_eq!(c.deploy.helm.as_ref().unwrap().releases, h.releases);

    let v3 = format!(
        "{}deploy: {{helm: {{releases: [{{name: a, chartPath: c, artifactOverrides: {{image: app}}}}]}}}}\n",
        minimal("skaffold/v3")
    );
    let err = parse(&v3)
        .expect_err("artifactOverrides is gone in v3")
        .to_string();
    assert!(err.contains("setValueTemplates"), "{err}");
    let both = format!(
        "{}manifests: {{helm: {{releases: [{{name: a, chartPath: c, remoteChart: r}}]}}}}\n",
        minimal("skaffold/v4beta1")
    );
    let err = parse(&both).expect_err("two chart sources").to_string();
    assert!(err.contains("only one chart source"), "{err}");
}

#[test]
fn empty_and_non_mapping_files() {
    assert!(
        parse("")
            .expect_err("empty")
            .to_string()
            .contains("no configs found")
    );
    assert!(
        parse("- a\n")
            .expect_err("list")
            .to_string()
            .contains("must be a mapping")
    );
}

/// Cheap deterministic fuzzing: random bytes and mutated fixtures must never panic.
#[test]
fn never_panics_on_garbage() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let corpus: Vec<String> = [
        "full-v4.yaml",
        "profiles.yaml",
        "v2beta29-kubectl.yaml",
        "multi-config.yaml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(fixture(f)).expect("fixture"))
    .collect();
    let alphabet = b" \n-:{}[],&*!|>'\"#%@`?~0123456789abcxyz./=\t<";
    let sel = ProfileSelection {
        profiles: vec!["patch".into(), "dev".into(), "prod".into()],
        command: Some("dev".into()),
        kube_context: Some("kind-x".into()),
        auto_activation: true,
    };
    let rounds = std::env::var("KILN_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3000);
    for round in 0..rounds {
        let text = if round % 4 == 0 {
            let len = (next() % 200) as usize;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect::<String>()
        } else {
            let mut bytes = corpus[round % corpus.len()].clone().into_bytes();
            for _ in 0..(1 + next() % 4) {
                if bytes.is_empty() {
                    break;
                }
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
                    _ => bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let result = std::panic::catch_unwind(|| {
            let _ = parse_skaffold(&text, Path::new("f.yaml"), &sel, &no_env);
            let _ = crate::parse_ko_config(&text, Path::new(".ko.yaml"), &no_env);
        });
        assert!(result.is_ok(), "panicked on input:\n{text}");
    }
}

/// Writes `files` (path, text) under a fresh directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const LIB: &str = "apiVersion: skaffold/v4beta14\nmetadata: {name: lib}\nbuild:\n  artifacts: [{image: lib, context: src, ko: {}}]\nmanifests: {rawYaml: [k8s/*.yaml]}\nprofiles:\n  - name: fast\n    build: {artifacts: [{image: lib-fast, context: src, ko: {}}]}\n---\napiVersion: skaffold/v4beta14\nmetadata: {name: other}\nbuild:\n  artifacts: [{image: other, ko: {}}]\n";

#[test]
fn required_configs_come_first_with_their_profiles_and_their_own_folder_for_paths() {
    let dir = tree(&[
        (
            "deploy/skaffold.yaml",
            "apiVersion: skaffold/v4beta14\nmetadata: {name: app}\nrequires:\n  - path: ../lib\n    configs: [lib]\n    activeProfiles: [{name: fast}]\nbuild:\n  artifacts: [{image: app, context: svc, ko: {}}]\n",
        ),
        ("lib/skaffold.yaml", LIB),
    ]);
    let root = dir.path().join("deploy/skaffold.yaml");
    let configs =
        load_skaffold_configs(&root, &ProfileSelection::default(), &no_env, &[]).expect("tree");
    let names: Vec<_> = configs
        .iter()
        .map(|c| c.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["lib", "app"], "required first; `other` not named");
    assert_eq!(configs[0].active_profiles, ["fast"]);
    assert_eq!(configs[0].build.artifacts[0].image, "lib-fast");
    let lib_dir = std::path::absolute(dir.path().join("deploy/../lib")).unwrap();
    assert_eq!(configs[0].build.artifacts[0].context, lib_dir.join("src"));
    assert_eq!(
        configs[0].manifests.raw_yaml,
        [lib_dir.join("k8s/*.yaml").display().to_string()]
    );
    // The root file's paths stay relative: Skaffold resolves them from the working dir.
    assert_eq!(configs[1].build.artifacts[0].context, Path::new("svc"));
    assert_eq!(configs[1].source, root);

    // -m keeps a config and what it requires.
    let only_lib = load_skaffold_configs(
        &root,
        &ProfileSelection::default(),
        &no_env,
        &["lib".into()],
    )
    .expect("-m lib");
    assert_eq!(only_lib.len(), 1);
    let err = load_skaffold_configs(
        &root,
        &ProfileSelection::default(),
        &no_env,
        &["nope".into()],
    )
    .expect_err("-m nope");
    assert!(
        err.to_string()
            .contains("-m/--module nope: no config has `metadata.name: nope`"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("app, lib, other"), "{err}");

    // -p propagates, and must exist in some file of the tree (here only in lib's).
    let fast = load_skaffold_configs(&root, &select(&["fast"]), &no_env, &[]).expect("-p fast");
    assert_eq!(fast[0].active_profiles, ["fast"]);
    let err = load_skaffold_configs(&root, &select(&["slow"]), &no_env, &[]).expect_err("slow");
    assert!(err.to_string().contains("profile `slow`"), "{err}");
}

#[test]
fn a_config_required_twice_with_other_profiles_or_a_missing_file_is_an_error() {
    let dir = tree(&[
        (
            "skaffold.yaml",
            "apiVersion: skaffold/v4beta14\nrequires:\n  - {path: lib, configs: [lib]}\n  - {path: lib, configs: [lib], activeProfiles: [{name: fast}]}\n",
        ),
        ("lib/skaffold.yaml", LIB),
    ]);
    let root = dir.path().join("skaffold.yaml");
    let err = load_skaffold_configs(&root, &ProfileSelection::default(), &no_env, &[])
        .expect_err("conflict");
    assert!(
        err.to_string()
            .contains("config `lib` is required with different sets of profiles"),
        "{err}"
    );

    std::fs::write(
        &root,
        "apiVersion: skaffold/v4beta14\nrequires:\n  - {path: missing}\n",
    )
    .unwrap();
    let err = load_skaffold_configs(&root, &ProfileSelection::default(), &no_env, &[])
        .expect_err("missing");
    assert_eq!(err.field(), "requires[0].path");
    assert!(err.to_string().contains("missing"), "{err}");

    // The same config required twice with the same profiles is loaded once; a config
    // without a path requires from its own file.
    std::fs::write(
        &root,
        "apiVersion: skaffold/v4beta14\nmetadata: {name: a}\nrequires: [{configs: [b]}, {configs: [b]}]\n---\napiVersion: skaffold/v4beta14\nmetadata: {name: b}\nbuild: {artifacts: [{image: b, ko: {}}]}\n",
    )
    .unwrap();
    let configs = load_skaffold_configs(&root, &ProfileSelection::default(), &no_env, &[])
        .expect("same file");
    let names: Vec<_> = configs
        .iter()
        .map(|c| c.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["b", "a"]);
}

#[test]
fn configs_that_require_each_other_across_files_load_once_each() {
    let dir = tree(&[
        (
            "a/skaffold.yaml",
            "apiVersion: skaffold/v4beta14\nmetadata: {name: a}\nrequires: [{path: ../b}]\nbuild: {artifacts: [{image: a, ko: {}}]}\n",
        ),
        (
            "b/skaffold.yaml",
            "apiVersion: skaffold/v4beta14\nmetadata: {name: b}\nrequires: [{path: ../a}]\nbuild: {artifacts: [{image: b, ko: {}}]}\n",
        ),
    ]);
    let configs = load_skaffold_configs(
        &dir.path().join("a/skaffold.yaml"),
        &ProfileSelection::default(),
        &no_env,
        &[],
    )
    .expect("cycle of files");
    let names: Vec<_> = configs
        .iter()
        .map(|c| c.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["b", "a"]);
}

#[test]
fn local_concurrency_reads_integers_as_skaffolds_go_yaml_does() {
    // go-yaml v3 resolves plain integers with strconv.ParseInt(s, 0, 64): `010` is the
    // YAML 1.1 octal 8, `0x10` is 16, and `08` (no octal) is the float 8, which it sets
    // into an int field.
    let concurrency = |value: &str| {
        let text = format!(
            "apiVersion: skaffold/v4beta14\nkind: Config\nbuild:\n  artifacts:\n  - image: app\n    ko: {{}}\n  local:\n    concurrency: {value}\n"
        );
        parse(&text).map(|file| only(&file).build.local.concurrency)
    };
    assert_eq!(concurrency("010").expect("octal"), Some(8));
    assert_eq!(concurrency("0x10").expect("hex"), Some(16));
    assert_eq!(concurrency("08").expect("not octal"), Some(8));
    assert_eq!(
        concurrency("'010'").ok(),
        None,
        "a quoted number is a string"
    );
    let err = concurrency("1.5").expect_err("a fraction");
    assert!(
        err.to_string().ends_with(
            "build.local.concurrency: expected a non-negative integer, found number `1.5`"
        ),
        "{err}"
    );
}

#[test]
fn status_check_settings_are_read() {
    let text = format!(
        "{}deploy:\n  statusCheck: false\n  statusCheckDeadlineSeconds: 30\n  tolerateFailuresUntilDeadline: true\n",
        minimal("skaffold/v4beta13")
    );
    let file = parse(&text).expect("parses");
    let d = &only(&file).deploy;
    assert_eq!(d.status_check, Some(false));
    assert_eq!(d.status_check_deadline_seconds, Some(30));
    assert!(d.tolerate_failures_until_deadline);
    assert!(only(&file).ignored.is_empty());
    // Unset: Skaffold's defaults are for the deployer to apply.
    let file = parse(&minimal("skaffold/v4beta13")).expect("parses");
    let d = &only(&file).deploy;
    assert_eq!(
        (d.status_check, d.status_check_deadline_seconds),
        (None, None)
    );
    assert!(!d.tolerate_failures_until_deadline);
    // A wrong type is an error at its position.
    let text = format!(
        "{}deploy:\n  statusCheck: sometimes\n",
        minimal("skaffold/v4beta13")
    );
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("statusCheck"), "{err}");
}
