use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::ErrorKind;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ko")
        .join(name)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn string_forms_follow_flag_array_and_string_array_rules() {
    let c = load_ko_config(&dir("flags"), &no_env).expect("loads");
    assert_eq!(
        c.path.as_deref(),
        Some(dir("flags").join(".ko.yaml").as_path())
    );
    assert_eq!(c.default_base_image.as_deref(), Some("alpine"));
    assert_eq!(c.base_image(), "alpine");
    assert_eq!(c.default_platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(c.default_env, ["FOO=bar"]);
    assert_eq!(
        c.default_flags,
        ["-tags", "netgo"],
        "FlagArray: a string is split on whitespace"
    );
    assert_eq!(
        c.default_ldflags,
        ["-s -w"],
        "StringArray: a string stays one element"
    );

    let server = &c.builds[0];
    assert_eq!(server.id, "server");
    assert_eq!(server.dir, Path::new("./app"));
    assert_eq!(server.main, "./cmd/server");
    assert_eq!(server.env, ["CGO_ENABLED=1"]);
    assert_eq!(server.flags, ["-trimpath", "-v"]);
    assert_eq!(server.ldflags, ["-X main.version=1.2.3 -s"]);
    assert_eq!(server.linux_capabilities, ["cap_net_bind_service=ep"]);
    assert_eq!(server.location, Location { line: 9, column: 5 });

    let worker = &c.builds[1];
    assert_eq!(worker.id, "#1");
    assert_eq!(worker.dir, Path::new("."));
    assert_eq!(worker.flags, ["-a", "-b"]);
    assert_eq!(worker.ldflags, ["-s", "-w"]);
}

#[test]
fn list_forms_and_case_insensitive_keys() {
    let c = load_ko_config(&dir("strings"), &no_env).expect("loads");
    assert_eq!(c.default_platforms, ["linux/arm64", "linux/amd64"]);
    assert_eq!(c.default_flags, ["-tags", "netgo"]);
    assert_eq!(c.default_ldflags, ["-s -w"]);
    assert_eq!(
        c.default_env,
        ["A=1", "B=2"],
        "`DefaultEnv` matches like viper"
    );
    assert_eq!(c.default_base_image, None);
    assert_eq!(c.base_image(), DEFAULT_BASE_IMAGE);
}

#[test]
fn base_image_overrides_are_matched_lowercased() {
    let c = load_ko_config(&dir("flags"), &no_env).expect("loads");
    assert_eq!(
        c.base_image_overrides.keys().collect::<Vec<_>>(),
        ["example.com/app/cmd/server"]
    );
    assert_eq!(
        c.base_image_override("example.com/App/cmd/Server"),
        Some("gcr.io/distroless/base")
    );
    assert_eq!(
        c.base_image_override("ko://example.com/app/cmd/server"),
        Some("gcr.io/distroless/base")
    );
    assert_eq!(c.base_image_override("example.com/other"), None);
}

#[test]
fn missing_file_means_defaults() {
    let c = load_ko_config(&dir("empty"), &no_env).expect("defaults");
    assert_eq!(c, KoConfig::default());
    assert_eq!(c.base_image(), DEFAULT_BASE_IMAGE);
}

#[test]
fn ko_yml_is_found_too() {
    let c = load_ko_config(&dir("yml"), &no_env).expect("loads");
    assert_eq!(c.default_base_image.as_deref(), Some("from-yml"));
}

#[test]
fn ko_config_path_as_file_and_as_directory() {
    let file = dir("custom").join("my-ko.yaml");
    let env = env_of(&[("KO_CONFIG_PATH", file.display().to_string())]);
    let c = load_ko_config(&dir("flags"), &env).expect("file");
    assert_eq!(c.default_base_image.as_deref(), Some("wow"));
    assert_eq!(c.path.as_deref(), Some(file.as_path()));

    let env = env_of(&[("KO_CONFIG_PATH", dir("config-dir").display().to_string())]);
    let c = load_ko_config(&dir("flags"), &env).expect("dir");
    assert_eq!(c.default_base_image.as_deref(), Some("from-dir"));

    let env = env_of(&[("KO_CONFIG_PATH", dir("empty").display().to_string())]);
    let err = load_ko_config(&dir("flags"), &env).expect_err("dir without .ko.yaml");
    assert!(matches!(err.kind(), ErrorKind::Read), "{err:?}");
    assert!(err.to_string().contains("empty/.ko.yaml"), "{err}");

    let env = env_of(&[("KO_CONFIG_PATH", dir("bad-config").display().to_string())]);
    let err = load_ko_config(&dir("flags"), &env).expect_err(".ko.yaml is a directory");
    assert!(err.to_string().contains("is not a regular file"), "{err}");

    let env = env_of(&[("KO_CONFIG_PATH", dir("nope").display().to_string())]);
    assert!(matches!(
        load_ko_config(&dir("flags"), &env),
        Err(e) if *e.kind() == ErrorKind::Read
    ));
}

#[test]
fn env_overrides_beat_the_file() {
    let env = env_of(&[
        ("KO_DEFAULTBASEIMAGE", "distroless".to_owned()),
        ("KO_DEFAULTPLATFORMS", "linux/arm64,linux/s390x".to_owned()),
        ("KO_DEFAULTFLAGS", "-v  -x".to_owned()),
        ("KO_DEFAULTLDFLAGS", "-s -w".to_owned()),
        ("KO_DEFAULTENV", String::new()),
    ]);
    let c = load_ko_config(&dir("flags"), &env).expect("loads");
    assert_eq!(c.default_base_image.as_deref(), Some("distroless"));
    assert_eq!(c.default_platforms, ["linux/arm64", "linux/s390x"]);
    assert_eq!(c.default_flags, ["-v", "-x"]);
    assert_eq!(c.default_ldflags, ["-s -w"]);
    assert_eq!(
        c.default_env,
        ["FOO=bar"],
        "an empty variable does not override"
    );

    let c = load_ko_config(&dir("empty"), &env).expect("no file, env only");
    assert_eq!(c.base_image(), "distroless");
}

#[test]
fn unknown_and_goreleaser_fields_are_warnings_with_suggestions_as_ko_ignores_them() {
    let c = load_ko_config(&dir("unknown"), &no_env).expect("ko ignores unknown fields");
    assert_eq!(c.builds[0].main, ".", "the misspelt key is not read");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].ends_with(
            "unknown/.ko.yaml:4:5: unknown field `builds[0].mian` is ignored, as ko does; did you mean `main`?"
        ),
        "{:?}",
        c.warnings
    );

    let text = "defaultBaseImag: x\nbuilds:\n- id: app\n  main: ./cmd/app\n  binary: app\n  mod_timestamp: '{{ .CommitTimestamp }}'\n  goos: [linux]\n  ldflags: -s -w\n";
    let c = parse_ko_config(text, Path::new(".ko.yaml"), &no_env).expect("GoReleaser shape");
    assert_eq!(c.builds[0].main, "./cmd/app");
    assert_eq!(c.builds[0].ldflags, ["-s -w"]);
    assert_eq!(
        c.warnings,
        [
            ".ko.yaml:1:1: unknown field `defaultBaseImag` is ignored, as ko does; did you mean `defaultBaseImage`?",
            ".ko.yaml:5:3: `builds[0].binary` is a GoReleaser field; ko and kiln ignore it",
            ".ko.yaml:6:3: `builds[0].mod_timestamp` is a GoReleaser field; ko and kiln ignore it",
            ".ko.yaml:7:3: `builds[0].goos` is a GoReleaser field; ko and kiln ignore it",
        ]
    );
    // Known keys in any case (viper) are no warning.
    let c = parse_ko_config("DefaultBaseImage: x\n", Path::new(".ko.yaml"), &no_env).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn wrong_types_and_syntax_errors() {
    let err =
        parse_ko_config("builds: {id: x}\n", Path::new(".ko.yaml"), &no_env).expect_err("type");
    assert_eq!(err.field(), "builds");
    assert!(err.to_string().contains("expected a sequence"), "{err}");
    let err = parse_ko_config("defaultFlags: {a: b}\n", Path::new(".ko.yaml"), &no_env)
        .expect_err("type");
    assert_eq!(err.field(), "defaultFlags");
    let err = parse_ko_config("builds: [\n", Path::new(".ko.yaml"), &no_env).expect_err("syntax");
    assert!(matches!(err.kind(), ErrorKind::Syntax), "{err:?}");
    let c = parse_ko_config("", Path::new(".ko.yaml"), &no_env).expect("empty file");
    assert_eq!(c.builds.len(), 0);
}
