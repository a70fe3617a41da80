//! Table-driven tests of every precedence rule in [`super::choose`], per field: flags over
//! environment over skaffold.yaml over `.ko.yaml` over defaults. They need no Go, git or
//! network: each row gives the sources and the value that must win.

// A table's row is a tuple of its sources; naming each tuple type would hide the columns.
#![allow(clippy::type_complexity)]

use std::collections::BTreeMap;
use std::path::Path;

use kiln_config::{KoBuild, KoConfig};
use kiln_core::media_type::LayerCompression;
use kiln_core::platform::PlatformRequest;
use kiln_core::sprig::TemplateInputs;

use kiln_core::env::Env;

use super::BaseSpec;
use super::choose::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_vars(pairs.iter().copied())
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    env(pairs).vars().clone()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A `.ko.yaml` as ko reads it, `KO_*` variables of `vars` applied.
fn ko_yaml(text: &str, vars: &[(&str, &str)]) -> KoConfig {
    let vars = env(vars);
    kiln_config::parse_ko_config(text, Path::new("/src/.ko.yaml"), &|k| {
        vars.get(k).map(str::to_owned)
    })
    .expect("valid .ko.yaml")
}

fn shown(request: Result<PlatformRequest, crate::Error>) -> String {
    match request {
        Ok(PlatformRequest::All) => "all".to_owned(),
        Ok(PlatformRequest::Specs(s)) => s
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn default_repo_precedence_is_flag_then_env_then_global_config() {
    let set = env(&[("SKAFFOLD_DEFAULT_REPO", "env.example/r")]);
    let unset = env(&[]);
    let rows: [(Option<&str>, &Env, Option<&str>, Option<&str>); 7] = [
        (
            Some("flag.example/r"),
            &set,
            Some("global.example/r"),
            Some("flag.example/r"),
        ),
        (None, &set, Some("global.example/r"), Some("env.example/r")),
        (
            None,
            &unset,
            Some("global.example/r"),
            Some("global.example/r"),
        ),
        (None, &unset, None, None),
        // An empty winner turns the default repo off; it does not fall through.
        (Some(""), &set, Some("global.example/r"), None),
        (
            None,
            &env(&[("SKAFFOLD_DEFAULT_REPO", "")]),
            Some("global.example/r"),
            None,
        ),
        (None, &unset, Some(""), None),
    ];
    for (flag, env, global, want) in rows {
        assert_eq!(
            default_repo(flag, env, global).as_deref(),
            want,
            "flag {flag:?}, env {env:?}, global {global:?}"
        );
    }
}

#[test]
fn insecure_registries_precedence_is_a_union_in_source_order() {
    let configured = strings(&["cfg-a:5000", "cfg-b:5000"]);
    assert_eq!(
        insecure_registries(
            &strings(&["flag:5000"]),
            &configured,
            &strings(&["global:5000"])
        ),
        ["flag:5000", "cfg-a:5000", "cfg-b:5000", "global:5000"]
    );
    assert!(insecure_registries(&[], &Vec::<String>::new(), &[]).is_empty());
}

#[test]
fn push_precedence_is_flag_then_config_then_local_cluster_then_kube_context() {
    // (--push, build.local.push, global local-cluster, kube context, pushes)
    let rows = [
        (Some(true), Some(false), Some(true), Some("minikube"), true),
        (
            Some(false),
            Some(true),
            Some(false),
            Some("gke_p_z_c"),
            false,
        ),
        (None, Some(true), Some(true), Some("minikube"), true),
        (None, Some(false), None, Some("gke_p_z_c"), false),
        (None, None, Some(false), Some("minikube"), true),
        (None, None, Some(true), Some("gke_p_z_c"), false),
        (None, None, None, Some("docker-desktop"), false),
        (None, None, None, Some("docker-for-desktop"), false),
        (None, None, None, Some("minikube"), false),
        (None, None, None, Some("kind-kind"), false),
        (None, None, None, Some("dev@kind"), false),
        (None, None, None, Some("k3d-dev"), false),
        (None, None, None, Some("kind"), true),
        (None, None, None, Some("minikube-2"), true),
        (None, None, None, Some("prod"), true),
        (None, None, None, None, true),
    ];
    for (flag, configured, local_cluster, context, want) in rows {
        assert_eq!(
            skaffold_push(flag, configured, local_cluster, context),
            want,
            "{flag:?} {configured:?} {local_cluster:?} {context:?}"
        );
    }
}

#[test]
fn global_config_precedence_is_flag_then_home() {
    let home = env(&[("HOME", "/home/u")]);
    assert_eq!(
        global_config_path(Some(Path::new("/etc/sk.yaml")), &home),
        Path::new("/etc/sk.yaml")
    );
    assert_eq!(
        global_config_path(None, &home),
        Path::new("/home/u/.skaffold/config")
    );
}

#[test]
fn build_concurrency_precedence_is_flag_then_config() {
    assert_eq!(build_concurrency(3, Some(1)), Some(3));
    assert_eq!(build_concurrency(0, Some(1)), Some(0));
    assert_eq!(build_concurrency(-1, Some(2)), Some(2));
    assert_eq!(build_concurrency(-1, None), None);
}

#[test]
fn compression_precedence_is_flag_then_env_then_gzip() {
    let zstd = env(&[("KILN_COMPRESSION", "zstd")]);
    let gzip = LayerCompression::default();
    assert_eq!(
        compression(Some(gzip), &zstd).unwrap(),
        gzip,
        "--compression beats KILN_COMPRESSION"
    );
    assert_ne!(compression(None, &zstd).unwrap(), gzip);
    assert_eq!(compression(None, &env(&[])).unwrap(), gzip);
    assert_eq!(
        compression(None, &env(&[("KILN_COMPRESSION", " ")])).unwrap(),
        gzip
    );
    let err = compression(None, &env(&[("KILN_COMPRESSION", "lz4")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("KILN_COMPRESSION") && err.contains("gzip"),
        "{err}"
    );
}

#[test]
fn ko_docker_repo_precedence_decides_repo_publisher_and_push() {
    let dest = |vars: &[(&str, &str)], local: bool, push: bool| {
        ko_destination(&env(vars), local, push).map(|d| (d.repo, d.local, d.push))
    };
    use LocalPublisher::{Engine, Kind};
    let repo = [("KO_DOCKER_REPO", "registry.example/team")];
    assert_eq!(
        dest(&repo, false, true).unwrap(),
        ("registry.example/team".into(), None, true)
    );
    assert_eq!(
        dest(&repo, false, false).unwrap(),
        ("registry.example/team".into(), None, false)
    );
    // -L loads into the engine and never pushes, whatever the repo.
    assert_eq!(
        dest(&repo, true, true).unwrap(),
        ("registry.example/team".into(), Some(Engine), false)
    );
    assert_eq!(
        dest(&[], true, true).unwrap(),
        ("ko.local".into(), Some(Engine), false)
    );
    assert_eq!(
        dest(&[("KO_DOCKER_REPO", "ko.local/x")], false, true).unwrap(),
        ("ko.local/x".into(), Some(Engine), false)
    );
    assert_eq!(
        dest(&[("KO_DOCKER_REPO", "kind.local")], false, true).unwrap(),
        ("kind.local".into(), Some(Kind), false)
    );
    // No repo: fine when not pushing (ko's bare `app-<md5>` names), refused otherwise.
    assert_eq!(
        dest(&[], false, false).unwrap(),
        (String::new(), None, false)
    );
    let err = dest(&[("KO_DOCKER_REPO", "")], false, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("KO_DOCKER_REPO environment variable is unset"),
        "{err}"
    );
    let err = dest(&[("KO_DOCKER_REPO", "Not A Repo!")], false, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a registry or repository name"), "{err}");
}

#[test]
fn ko_insecure_registry_precedence_names_the_repo_registry() {
    assert_eq!(
        ko_insecure_registries(true, "localhost:5000/team").unwrap(),
        ["localhost:5000"]
    );
    assert!(
        ko_insecure_registries(false, "localhost:5000/team")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn kind_cluster_and_sbom_repository_precedence_is_env_then_default() {
    assert_eq!(kind_cluster(&env(&[("KIND_CLUSTER_NAME", "dev")])), "dev");
    assert_eq!(kind_cluster(&env(&[("KIND_CLUSTER_NAME", "")])), "kind");
    assert_eq!(kind_cluster(&env(&[])), "kind");
    let cosign = env(&[("COSIGN_REPOSITORY", "reg.example/sigs")]);
    assert_eq!(
        sbom_repository(&cosign).as_deref(),
        Some("reg.example/sigs")
    );
    assert_eq!(sbom_repository(&env(&[("COSIGN_REPOSITORY", "")])), None);
    assert_eq!(sbom_repository(&env(&[])), None);
}

#[test]
fn image_name_precedence_default_repo_then_sanitizing() {
    let rows = [
        ("app", None, false, "app"),
        (
            "app",
            Some("reg.example/team"),
            false,
            "reg.example/team/app",
        ),
        (
            "example.com/org/app",
            Some("reg.example/team"),
            false,
            "reg.example/team/example_com_org_app",
        ),
        (
            "example.com/org/app",
            Some("reg.example/team"),
            true,
            "reg.example/team/example.com/org/app",
        ),
        (
            "ko://example.com/cmd/app",
            Some("reg.example/team"),
            false,
            "reg.example/team/example_com_cmd_app",
        ),
    ];
    for (image, repo, multi, want) in rows {
        assert_eq!(
            skaffold_repository(image, repo, multi).unwrap(),
            want,
            "{image} {repo:?} {multi}"
        );
    }
    assert!(check_ko_uri_repo("ko://example.com/app", true, None).is_err());
    assert!(check_ko_uri_repo("ko://example.com/app", false, None).is_ok());
    assert!(check_ko_uri_repo("ko://example.com/app", true, Some("r.example")).is_ok());
    assert!(check_ko_uri_repo("app", true, None).is_ok());
}

#[test]
fn tag_precedence_for_ko_is_first_flag_then_latest() {
    assert_eq!(
        ko_tags(&strings(&["v1", "v2", "v3"])),
        ("v1".to_owned(), strings(&["v2", "v3"]))
    );
    assert_eq!(ko_tags(&[]), ("latest".to_owned(), Vec::new()));
}

#[test]
fn build_image_selection_precedence_is_substring_in_config_order() {
    let images = ["web", "api", "api-worker"];
    assert_eq!(
        select_images(&images, &strings(&["api"])).unwrap(),
        ["api", "api-worker"]
    );
    assert_eq!(select_images(&images, &[]).unwrap(), images);
    let err = select_images(&images, &strings(&["nope"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("-b/--build-image nope: no artifact's image contains it"),
        "{err}"
    );
}

#[test]
fn skaffold_platform_precedence_is_flag_then_build_then_ko_yaml_then_default() {
    let s = strings;
    // (--platform, build.platforms, artifact platforms, .ko.yaml defaultPlatforms, chosen)
    let rows: [(Vec<String>, Vec<String>, Vec<String>, Vec<String>, &str); 11] = [
        (
            s(&["linux/s390x"]),
            s(&["linux/arm64"]),
            vec![],
            s(&["linux/386"]),
            "linux/s390x",
        ),
        (
            vec![],
            s(&["linux/arm64"]),
            vec![],
            s(&["linux/386"]),
            "linux/arm64",
        ),
        (vec![], vec![], vec![], s(&["linux/386"]), "linux/386"),
        (vec![], vec![], vec![], vec![], "linux/amd64"),
        // `--platform ""` is not given.
        (s(&[""]), vec![], vec![], vec![], "linux/amd64"),
        // The artifact's own platforms narrow the request, and alone beat .ko.yaml.
        (
            s(&["linux/amd64,linux/arm64"]),
            vec![],
            s(&["linux/arm64"]),
            vec![],
            "linux/arm64",
        ),
        (
            vec![],
            vec![],
            s(&["linux/arm64"]),
            s(&["linux/386"]),
            "linux/arm64",
        ),
        (
            s(&["all"]),
            vec![],
            s(&["linux/arm64"]),
            vec![],
            "linux/arm64",
        ),
        (s(&["all"]), vec![], vec![], vec![], "all"),
        (vec![], vec![], vec![], s(&["all"]), "all"),
        (
            s(&["linux/amd64"]),
            vec![],
            s(&["linux/arm64"]),
            vec![],
            "error: app: none of the requested platforms (linux/amd64) is in the artifact's `platforms`",
        ),
    ];
    for (flag, build, own, ko_default, want) in rows {
        assert_eq!(
            shown(skaffold_platforms("app", &flag, &build, &own, &ko_default)),
            want,
            "{flag:?} {build:?} {own:?} {ko_default:?}"
        );
    }
}

#[test]
fn ko_platform_precedence_is_flag_then_ko_yaml_then_goos_goarch_then_default() {
    let arm64 = strings(&["linux/arm64"]);
    let rows: [(&[&str], &[String], &[(&str, &str)], &str); 7] = [
        (&["linux/s390x"], &arm64, &[], "linux/s390x"),
        (&[], &arm64, &[], "linux/arm64"),
        (&["all"], &[], &[], "all"),
        (
            &[],
            &[],
            &[("GOOS", "linux"), ("GOARCH", "arm"), ("GOARM", "7")],
            "linux/arm/v7",
        ),
        (
            &[],
            &[],
            &[("GOOS", "linux"), ("GOARCH", "arm64")],
            "linux/arm64",
        ),
        // GOOS alone is not a platform.
        (&[], &[], &[("GOOS", "linux")], "linux/amd64"),
        (&[], &[], &[], "linux/amd64"),
    ];
    for (flag, ko_default, vars, want) in rows {
        assert_eq!(
            shown(ko_platforms(&strings(flag), ko_default, &env(vars))),
            want,
            "{flag:?} {ko_default:?} {vars:?}"
        );
    }
    let refused = shown(ko_platforms(&[], &arm64, &env(&[("GOARCH", "arm64")])));
    assert!(
        refused.contains(".ko.yaml defaultPlatforms") && refused.contains("unset GOARCH"),
        "{refused}"
    );
}

#[test]
fn ko_default_platforms_precedence_is_env_over_ko_yaml() {
    let ko = ko_yaml(
        "defaultPlatforms: [linux/arm64]\n",
        &[("KO_DEFAULTPLATFORMS", "linux/386,linux/s390x")],
    );
    assert_eq!(
        shown(ko_platforms(&[], &ko.default_platforms, &env(&[]))),
        "linux/386,linux/s390x"
    );
    let ko = ko_yaml("defaultPlatforms: [linux/arm64]\n", &[]);
    assert_eq!(
        shown(ko_platforms(&[], &ko.default_platforms, &env(&[]))),
        "linux/arm64"
    );
}

#[test]
fn single_platform_precedence_is_host_then_first() {
    let host = kiln_core::Platform::new("linux", "arm64", None);
    let request = PlatformRequest::parse(&["linux/amd64", "linux/arm64"]).unwrap();
    assert_eq!(
        shown(Ok(single_platform(request, host.clone()))),
        "linux/arm64"
    );
    let request = PlatformRequest::parse(&["linux/s390x", "linux/amd64"]).unwrap();
    assert_eq!(
        shown(Ok(single_platform(request, host.clone()))),
        "linux/s390x"
    );
    assert_eq!(
        shown(Ok(single_platform(PlatformRequest::All, host))),
        "linux/arm64"
    );
    assert_eq!(go_arch("x86_64"), "amd64");
    assert_eq!(go_arch("aarch64"), "arm64");
}

#[test]
fn base_image_precedence_is_override_then_from_image_then_default_then_builtin() {
    let ko_text = "defaultBaseImage: registry.example/default:1\nbaseImageOverrides:\n  example.com/special: registry.example/special:1\n";
    let from = || Some(("registry.example/from:1", "ko.fromImage".to_owned()));
    let chosen = |ko: &KoConfig, from: Option<(&str, String)>, ip: &str| {
        base_spec(ko, from, ip, Path::new("/src"))
            .map(|b| b.display())
            .unwrap()
    };
    let ko = ko_yaml(ko_text, &[]);
    // baseImageOverrides beats fromImage (Skaffold passes fromImage as ko's BaseImage).
    assert_eq!(
        chosen(&ko, from(), "example.com/special"),
        "registry.example/special:1"
    );
    assert_eq!(
        chosen(&ko, from(), "example.com/app"),
        "registry.example/from:1"
    );
    assert_eq!(
        chosen(&ko, None, "example.com/app"),
        "registry.example/default:1"
    );
    // KO_DEFAULTBASEIMAGE replaces .ko.yaml's defaultBaseImage, not fromImage.
    let ko_env = ko_yaml(
        ko_text,
        &[("KO_DEFAULTBASEIMAGE", "registry.example/env:1")],
    );
    assert_eq!(
        chosen(&ko_env, None, "example.com/app"),
        "registry.example/env:1"
    );
    assert_eq!(
        chosen(&ko_env, from(), "example.com/app"),
        "registry.example/from:1"
    );
    assert_eq!(
        base_spec(
            &KoConfig::default(),
            None,
            "example.com/app",
            Path::new("/")
        )
        .unwrap(),
        BaseSpec::Builtin
    );
    assert_eq!(
        chosen(&KoConfig::default(), Some(("oci:base", "f".into())), "x"),
        "oci:/src/base"
    );
}

#[test]
fn an_invalid_base_image_names_its_file_and_field() {
    let ko = KoConfig {
        path: Some("/src/.ko.yaml".into()),
        default_base_image: Some("Not A Reference!".to_owned()),
        ..KoConfig::default()
    };
    let msg = base_spec(&ko, None, "example.com/app", Path::new("/src"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("/src/.ko.yaml: defaultBaseImage")
            && msg.contains("`Not A Reference!`")
            && msg.contains("example.com/app"),
        "{msg}"
    );
    let from = Some((
        "bad image",
        "skaffold.yaml: artifact app: ko.fromImage".to_owned(),
    ));
    let msg = base_spec(&ko, from, "example.com/app", Path::new("/src"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("ko.fromImage: `bad image`"), "{msg}");
}

fn build(env: &[&str], flags: &[&str], ldflags: &[&str]) -> KoBuild {
    KoBuild {
        env: strings(env),
        flags: strings(flags),
        ldflags: strings(ldflags),
        ..KoBuild::default()
    }
}

#[test]
fn skaffold_flags_precedence_is_artifact_then_ko_build_then_default() {
    let own = strings(&["-own"]);
    let ko_build = strings(&["-build"]);
    let default = strings(&["-default"]);
    let rows: [(bool, &[String], Option<&[String]>, (&str, bool)); 6] = [
        (true, &own, Some(&ko_build), ("-own", true)),
        // An artifact build field other than flags still hides builds[] (the caller
        // then passes no ko build); empty own flags fall through to the default.
        (true, &[], None, ("-default", false)),
        (false, &own, Some(&ko_build), ("-build", false)),
        (false, &[], Some(&ko_build), ("-build", false)),
        (false, &[], Some(&[]), ("-default", false)),
        (false, &[], None, ("-default", false)),
    ];
    for (has_build, own, ko_build, (want, from_artifact)) in rows {
        let chosen = skaffold_templates(has_build, own, ko_build, &default);
        assert_eq!(
            (chosen.list, chosen.from_artifact),
            (strings(&[want]), from_artifact),
            "{has_build} {own:?} {ko_build:?}"
        );
    }
}

#[test]
fn ko_flags_and_ldflags_precedence_is_flag_then_build_then_default() {
    let default = strings(&["-default"]);
    let rows: [(&[&str], Option<&[&str]>, &str); 5] = [
        (&["-X=flag"], Some(&["-build"]), "-X=flag"),
        (&[], Some(&["-build"]), "-build"),
        (&[], Some(&[]), "-default"),
        (&[], None, "-default"),
        (&["-X=flag"], None, "-X=flag"),
    ];
    for (flag, own, want) in rows {
        let own = own.map(strings);
        let chosen = ko_templates(&strings(flag), own.as_deref(), &default);
        assert_eq!(chosen.list, [want], "{flag:?} {own:?}");
        assert!(!chosen.from_artifact);
    }
}

#[test]
fn ko_yaml_default_flags_precedence_is_env_over_file() {
    let ko = ko_yaml(
        "defaultFlags: [-tags=file]\ndefaultLdflags: [-s]\ndefaultEnv: [A=file]\n",
        &[
            ("KO_DEFAULTFLAGS", "-tags=env -v"),
            ("KO_DEFAULTLDFLAGS", "-w -X main.v=1"),
            ("KO_DEFAULTENV", "A=env B=env"),
        ],
    );
    assert_eq!(ko.default_flags, ["-tags=env", "-v"]);
    assert_eq!(ko.default_ldflags, ["-w -X main.v=1"]);
    assert_eq!(ko.default_env, ["A=env", "B=env"]);
}

#[test]
fn env_precedence_is_artifact_then_ko_build_then_default() {
    let ko = KoConfig {
        default_env: strings(&["FROM=default"]),
        ..KoConfig::default()
    };
    let ko_build = build(&["FROM=build"], &[], &[]);
    let empty_build = build(&[], &[], &[]);
    let template_env = skaffold_template_env(&env(&[("X", "x")]), "reg.example/team/app", "v1");
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let skaffold = |own: &[&str], b: Option<&KoBuild>| {
        skaffold_build_env(
            "app",
            &strings(own),
            b,
            &ko,
            &template_env,
            &TemplateInputs::default(),
        )
        .unwrap()
    };
    // The artifact's own env is rendered with IMAGE_REPO/IMAGE_NAME/IMAGE_TAG and the
    // process environment.
    assert_eq!(
        skaffold(
            &["FROM={{.IMAGE_REPO}}|{{.IMAGE_NAME}}|{{.IMAGE_TAG}}|{{.X}}"],
            Some(&ko_build)
        ),
        pairs(&[("FROM", "reg.example/team|app|v1|x")])
    );
    assert_eq!(skaffold(&[], Some(&ko_build)), pairs(&[("FROM", "build")]));
    assert_eq!(
        skaffold(&[], Some(&empty_build)),
        pairs(&[("FROM", "default")])
    );
    assert_eq!(skaffold(&[], None), pairs(&[("FROM", "default")]));
    assert_eq!(
        ko_build_env(Some(&ko_build), &ko).unwrap(),
        pairs(&[("FROM", "build")])
    );
    assert_eq!(
        ko_build_env(None, &ko).unwrap(),
        pairs(&[("FROM", "default")])
    );
    // The build's env goes over the process environment.
    let merged = final_env(
        &env(&[("FROM", "process"), ("KEEP", "1")]),
        &pairs(&[("FROM", "build")]),
    );
    assert_eq!(merged, map(&[("FROM", "build"), ("KEEP", "1")]));
    let err = ko_build_env(Some(&build(&["NOEQUALS"], &[], &[])), &ko)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(".ko.yaml builds[].env: `NOEQUALS` is not of the form KEY=VALUE"),
        "{err}"
    );
}

#[test]
fn go_settings_precedence_cgo_default_yields_to_the_environment() {
    let cgo = |process: &[(&str, &str)], build: &[(&str, &str)]| {
        let build: Vec<(String, String)> = build
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let merged = final_env(&env(process), &build);
        go_settings(Vec::new(), Vec::new(), build, &merged, "flags")
            .unwrap()
            .env
    };
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(cgo(&[], &[]), [pair("CGO_ENABLED", "0")]);
    assert!(cgo(&[("CGO_ENABLED", "1")], &[]).is_empty());
    assert_eq!(
        cgo(&[], &[("CGO_ENABLED", "1")]),
        [pair("CGO_ENABLED", "1")]
    );
    assert!(
        go_settings(
            strings(&["-toolexec=x"]),
            Vec::new(),
            Vec::new(),
            &map(&[]),
            "f"
        )
        .is_err()
    );
    assert!(
        go_settings(
            Vec::new(),
            Vec::new(),
            Vec::new(),
            &map(&[("GOFLAGS", "-toolexec=x")]),
            "f"
        )
        .is_err()
    );
}

#[test]
fn epoch_and_kodata_precedence_is_env_or_unset() {
    let vars = env(&[
        ("SOURCE_DATE_EPOCH", " 1700000000 "),
        ("KO_DATA_DATE_EPOCH", ""),
    ]);
    assert_eq!(
        epoch(&vars, "SOURCE_DATE_EPOCH").unwrap(),
        Some(1_700_000_000)
    );
    assert_eq!(epoch(&vars, "KO_DATA_DATE_EPOCH").unwrap(), None);
    assert_eq!(epoch(&env(&[]), "SOURCE_DATE_EPOCH").unwrap(), None);
    assert!(
        epoch(
            &env(&[("SOURCE_DATE_EPOCH", "yesterday")]),
            "SOURCE_DATE_EPOCH"
        )
        .is_err()
    );
    assert_eq!(
        kodata_allowed_root(&env(&[("KO_DATA_PATH_ALLOWED_ROOT", "/src")])),
        Some("/src".into())
    );
    assert_eq!(kodata_allowed_root(&env(&[])), None);
}

#[test]
fn labels_precedence_renders_the_process_environment_only() {
    let labels: BTreeMap<String, String> = [
        ("team".to_owned(), "{{.TEAM}}".to_owned()),
        ("fixed".to_owned(), "x".to_owned()),
    ]
    .into();
    let rendered = skaffold_labels(
        "app",
        &labels,
        &env(&[("TEAM", "core")]),
        &TemplateInputs::default(),
    )
    .unwrap();
    assert_eq!(rendered, map(&[("team", "core"), ("fixed", "x")]));
    assert_eq!(
        key_values(&strings(&["a=1", "b=2=3"]), "--image-label").unwrap(),
        map(&[("a", "1"), ("b", "2=3")])
    );
}

#[test]
fn custom_platform_precedence_is_flag_then_artifact_then_build() {
    let s = strings;
    assert_eq!(custom_platforms(&s(&["a"]), &s(&["b"]), &s(&["c"])), ["a"]);
    assert_eq!(custom_platforms(&[], &s(&["b"]), &s(&["c"])), ["b"]);
    assert_eq!(custom_platforms(&[], &[], &s(&["c"])), ["c"]);
    assert!(custom_platforms(&[], &[], &[]).is_empty());
}

#[test]
fn an_empty_platform_flag_is_unset() {
    assert!(given_platforms(&[String::new()]).is_empty());
    assert!(given_platforms(&[" ".to_owned()]).is_empty());
    assert_eq!(
        given_platforms(&["linux/arm64".to_owned(), String::new()]),
        ["linux/arm64"]
    );
}

#[test]
fn remote_cache_and_single_platform_precedence() {
    use crate::remote_cache::RemoteCacheMode::{Off, Read, ReadWrite};
    assert_eq!(remote_cache(true, Read), Read);
    assert_eq!(remote_cache(true, ReadWrite), ReadWrite);
    assert_eq!(remote_cache(false, ReadWrite), Off);
    // (--disable-multi-platform-build, dev or debug, one platform)
    for (flag, dev_or_debug, want) in [
        (Some(false), true, false),
        (Some(true), false, true),
        (None, true, true),
        (None, false, false),
    ] {
        assert_eq!(
            single_platform_build(flag, dev_or_debug),
            want,
            "{flag:?} {dev_or_debug}"
        );
    }
}

/// The `repository:tag` of every artifact of a skaffold.yaml whose `build` holds
/// `tag_policy`, under `options` (no Go, git or file is needed by these policies).
async fn tags_of(tag_policy: &str, options: &super::PlanOptions) -> Vec<String> {
    let text = format!(
        "apiVersion: {}\nkind: Config\nbuild:\n  tagPolicy:\n{tag_policy}  artifacts:\n  - image: app\n    ko: {{}}\n  - image: ko://example.com/cmd/svc\n    ko: {{}}\n",
        kiln_config::SUPPORTED_API_VERSIONS.last().unwrap()
    );
    let file = kiln_config::parse_skaffold(
        &text,
        Path::new("/src/skaffold.yaml"),
        &Default::default(),
        &|_| None,
    )
    .expect("valid skaffold.yaml");
    super::skaffold::plan_tags(&file.configs, Path::new("/src"), options)
        .await
        .map(|tags| tags.into_iter().map(|t| t.tagged).collect())
        .unwrap_or_else(|e| vec![format!("error: {e}")])
}

#[tokio::test]
async fn tag_precedence_is_flag_then_tag_policy() {
    let options = |tag: Option<&str>| super::PlanOptions {
        default_repo: Some("reg.example/team".to_owned()),
        tag: tag.map(str::to_owned),
        env: env(&[("VERSION", "1.2")]),
        ..Default::default()
    };
    let env_template = "    envTemplate:\n      template: \"{{.VERSION}}-x\"\n";
    let rows = [
        (
            env_template,
            Some("v9"),
            [
                "reg.example/team/app:v9",
                "reg.example/team/example_com_cmd_svc:v9",
            ],
        ),
        (
            env_template,
            None,
            [
                "reg.example/team/app:1.2-x",
                "reg.example/team/example_com_cmd_svc:1.2-x",
            ],
        ),
        (
            "    sha256: {}\n",
            None,
            [
                "reg.example/team/app:latest",
                "reg.example/team/example_com_cmd_svc:latest",
            ],
        ),
        (
            "    customTemplate:\n      template: \"{{.A}}_{{.SHA}}\"\n      components:\n      - name: A\n        envTemplate:\n          template: \"{{.VERSION}}\"\n",
            None,
            [
                "reg.example/team/app:1.2_latest",
                "reg.example/team/example_com_cmd_svc:1.2_latest",
            ],
        ),
    ];
    for (policy, flag, want) in rows {
        assert_eq!(
            tags_of(policy, &options(flag)).await,
            want,
            "{policy} {flag:?}"
        );
    }
}
