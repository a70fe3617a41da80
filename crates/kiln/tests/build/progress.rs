//! Progress as a person sees it: live stage lines on a terminal (read through a real
//! pseudo-terminal that util-linux's `script` makes), plain start and end lines without
//! one, and `-v debug` naming every command kiln runs, where, and for how long.

use std::path::Path;

use kiln_testkit::{Registry, RegistryKind};

use crate::support::{Project, run_ok};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

/// A build of `-b IMAGE` for linux/arm64 into an OCI layout.
fn layout_build(image: &str) -> Vec<&str> {
    vec![
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        image,
        "--platform",
        "linux/arm64",
    ]
}

/// Runs kiln under `script`, so that its stderr is a terminal (`term`, as `TERM`); returns
/// what the terminal got.
fn kiln_in_terminal(project: &Project, term: &str, args: &[&str]) -> String {
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let command_line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_kiln"))
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut env = ENV.to_vec();
    env.push(("TERM", term));
    run_ok(&mut project.command(
        Path::new("script"),
        &["-qfec", &command_line.join(" "), "/dev/null"],
        &env,
    ))
}

/// The text after `what` in `text`, up to the end of its line or redraw.
fn after<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.match_indices(what)
        .map(|(at, _)| {
            let rest = &text[at + what.len()..];
            rest.split(['\r', '\n', '\x1b']).next().unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_terminal_shows_a_live_line_per_artifact_and_platform_with_stage_and_elapsed_time() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    let repo = format!("{}/team", registry.host());
    let screen = kiln_in_terminal(
        &project,
        "xterm-256color",
        &[
            "build",
            "--push",
            "-d",
            &repo,
            "-b",
            "alpha",
            "--platform",
            "linux/arm64",
        ],
    );
    assert!(
        screen.contains("\x1b[2K"),
        "live lines are redrawn: {screen:?}"
    );
    for stage in [
        "alpha: resolving base ",
        "alpha: building for linux/arm64/v8 ",
        "alpha: compressing the linux/arm64/v8 binary layer ",
        "alpha: pushing ",
    ] {
        let shown = after(&screen, stage);
        assert!(
            shown.iter().any(|rest| rest.trim_end().ends_with('s')),
            "a live `{stage}` line with its elapsed time: {screen:?}"
        );
    }
    assert!(
        !screen.contains("building for linux/arm64/v8..."),
        "no plain start lines on a terminal: {screen:?}"
    );
    assert!(
        screen.contains("alpha: built linux/arm64/v8 in "),
        "{screen:?}"
    );
    let pushed = after(&screen, "alpha: pushed ");
    assert!(
        pushed
            .iter()
            .any(|p| p.contains(&format!(" to {repo}/alpha in ")) && !p.starts_with("0 B")),
        "the end line says how much was pushed: {pushed:?}"
    );
}

#[test]
fn without_a_terminal_each_stage_starts_and_ends_with_a_plain_line() {
    let project = Project::new("multi");
    let out = project.kiln(&layout_build("alpha"), ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let position = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line `{prefix}…` in:\n{stderr}"))
    };
    for (start, end) in [
        ("alpha: resolving base...", "alpha: resolved base in "),
        (
            "alpha: building for linux/arm64/v8...",
            "alpha: built linux/arm64/v8 in ",
        ),
        (
            "alpha: compressing the linux/arm64/v8 binary layer...",
            "alpha: compressed the linux/arm64/v8 binary layer in ",
        ),
        (
            "alpha: compressing the kodata layer...",
            "alpha: compressed the kodata layer in ",
        ),
    ] {
        assert!(position(start) < position(end), "{start} before {end}");
    }
    assert!(
        !stderr.contains('\x1b'),
        "no terminal codes in a log: {stderr}"
    );
}

#[test]
fn debug_verbosity_shows_each_command_with_its_directory_added_environment_and_duration() {
    let project = Project::new("multi");
    project.edit(
        "skaffold.yaml",
        "        main: ./cmd/alpha\n",
        "        main: ./cmd/alpha\n        env:\n          - MY_API_TOKEN=hunter2\n",
    );
    let out = project.kiln(&[layout_build("alpha"), vec!["-v", "debug"]].concat(), ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let dir = std::fs::canonicalize(project.path()).unwrap();
    let go_build = stderr
        .lines()
        .find(|l| l.contains("ran `") && l.contains("go build "))
        .unwrap_or_else(|| panic!("no go build line in:\n{stderr}"));
    for part in [
        format!("` in {} with ", dir.display()),
        "GOARCH=arm64".to_owned(),
        "MY_API_TOKEN=<redacted>".to_owned(),
        "exit status: 0 after ".to_owned(),
    ] {
        assert!(go_build.contains(&part), "{part} in {go_build}");
    }
    assert!(go_build.trim_end().ends_with('s'), "{go_build}");
    assert!(
        stderr.contains("git rev-parse ") && stderr.contains("go list "),
        "git and go list are shown too: {stderr}"
    );
    assert!(!stderr.contains("hunter2"), "secrets never shown: {stderr}");
}

#[test]
fn a_terminal_that_cannot_draw_live_lines_gets_plain_lines() {
    let project = Project::new("multi");
    let screen = kiln_in_terminal(&project, "dumb", &layout_build("alpha"));
    assert!(
        screen.contains("alpha: resolving base...") && screen.contains("alpha: built "),
        "{screen:?}"
    );
}

/// A Go module proxy in a directory (`GOPROXY=file://…`) serving `example.com/dep v1.0.0`;
/// the zip is written by Python's zipfile, which shares nothing with Go or kiln.
fn file_proxy(dir: &Path) {
    let versions = dir.join("example.com/dep/@v");
    std::fs::create_dir_all(&versions).unwrap();
    let go_mod = "module example.com/dep\n\ngo 1.22\n";
    std::fs::write(versions.join("list"), "v1.0.0\n").unwrap();
    std::fs::write(
        versions.join("v1.0.0.info"),
        r#"{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    std::fs::write(versions.join("v1.0.0.mod"), go_mod).unwrap();
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("example.com/dep@v1.0.0/go.mod", sys.argv[2])
    z.writestr("example.com/dep@v1.0.0/dep.go", "package dep\n\nconst Word = \"hello\"\n")
"#;
    run_ok(
        std::process::Command::new("python3")
            .args(["-c", script])
            .arg(versions.join("v1.0.0.zip"))
            .arg(go_mod),
    );
}

#[test]
fn module_downloads_are_a_stage_of_their_own() {
    let project = Project::new("multi");
    let proxy = tempfile::tempdir().unwrap();
    file_proxy(proxy.path());
    std::fs::create_dir_all(project.path().join("cmd/gamma")).unwrap();
    std::fs::write(
        project.path().join("cmd/gamma/main.go"),
        "package main\n\nimport \"example.com/dep\"\n\nfunc main() { println(dep.Word) }\n",
    )
    .unwrap();
    project.edit(
        "go.mod",
        "go 1.22\n",
        "go 1.22\n\nrequire example.com/dep v1.0.0\n",
    );
    project.edit("skaffold.yaml", "main: ./cmd/beta", "main: ./cmd/gamma");
    let goproxy = format!("file://{}", proxy.path().display());
    // A module cache of its own, so the module is downloaded whatever other tests fetched
    // (-modcacherw: it can be deleted afterwards).
    let mod_cache = tempfile::tempdir().unwrap();
    let mut env = ENV.to_vec();
    env.extend([
        ("GOPROXY", goproxy.as_str()),
        ("GOSUMDB", "off"),
        ("GOFLAGS", "-mod=mod -modcacherw"),
        ("GOMODCACHE", mod_cache.path().to_str().unwrap()),
    ]);
    let out = project.kiln(&layout_build("beta"), &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("downloading modules (example.com/dep v1.0.0)...")
            && stderr.contains("downloaded modules in "),
        "{stderr}"
    );
}

#[test]
fn debug_verbosity_shows_the_credential_helper_run_but_never_the_secret() {
    const PASSWORD: &str = "helper-secret-7c1d";
    let registry = Registry::start(RegistryKind::htpasswd("helper-user", PASSWORD));
    let project = Project::new("multi");
    let tools = tempfile::tempdir().unwrap();
    let helper = tools.path().join("docker-credential-kilntest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n"
        ),
    )
    .unwrap();
    run_ok(std::process::Command::new("chmod").arg("+x").arg(&helper));
    std::fs::write(
        tools.path().join("config.json"),
        format!(
            r#"{{"credHelpers": {{"{}": "kilntest"}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap()
    );
    let docker_config = tools.path().display().to_string();
    let mut env = ENV.to_vec();
    env.extend([("PATH", path.as_str()), ("DOCKER_CONFIG", &docker_config)]);
    let repo = format!("{}/team", registry.host());
    let args = ["build", "-v", "debug", "--push", "-d", &repo, "-b", "alpha"];
    let out = project.kiln(&args, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let ran = format!("ran `{} get`", helper.display());
    let line = stderr
        .lines()
        .find(|l| l.contains(&ran))
        .unwrap_or_else(|| panic!("no `{ran}` in:\n{stderr}"));
    assert!(line.contains("exit status: 0 after "), "{line}");
    assert!(
        !stderr.contains(PASSWORD),
        "the secret never shows: {stderr}"
    );
}

#[test]
fn debug_verbosity_shows_the_kubectl_probe() {
    let project = Project::new("multi");
    let args = [
        "debug",
        "-v",
        "debug",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "alpha",
        "--kube-context",
        "kiln-test-context",
    ];
    let out = project.kiln(&args, ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let probe = "ran `kubectl --context kiln-test-context version --request-timeout=5s`";
    let line = stderr
        .lines()
        .find(|l| l.contains(probe))
        .unwrap_or_else(|| panic!("no `{probe}` in:\n{stderr}"));
    assert!(line.contains(" after "), "{line}");
}
