//! Every bad input stops the build with a message that names the problem and the fix,
//! exits non-zero, and leaves no image behind.

use crate::support::{Project, assert_no_image_in};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];

/// Runs a failing build and returns stderr, checking that nothing was written.
fn fails(project: &Project, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec!["build", "--push=false", "--oci-layout-path", "out"];
    args.extend_from_slice(extra);
    let out = project.kiln(&args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected failure, got success:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "no reference is printed on failure");
    assert_no_image_in(&project.path().join("out"));
    stderr
}

#[test]
fn dot_dot_dot_matching_several_packages_names_the_pattern_and_the_matches() {
    let project = Project::new("multi");
    let err = fails(&project, &["-p", "everything"], ENV);
    assert!(
        err.contains("`./...`") && err.contains("matched 3"),
        "{err}"
    );
    assert!(
        err.contains("example.com/multi/cmd/alpha")
            && err.contains("example.com/multi/internal/greet"),
        "{err}"
    );
}

#[test]
fn unknown_field_names_file_line_column_and_field_path() {
    let project = Project::new("multi");
    project.edit("skaffold.yaml", "        ldflags:", "        ldflagz:");
    let err = fails(&project, &[], ENV);
    assert!(err.contains("skaffold.yaml:11:9"), "{err}");
    assert!(
        err.contains("build.artifacts[0].ko") && err.contains("ldflagz") && err.contains("ldflags"),
        "{err}"
    );
}

#[test]
fn template_naming_an_unset_variable_names_the_variable() {
    let project = Project::new("multi");
    let err = fails(&project, &[], &[("TEAM", "core")]);
    assert!(err.contains("RELEASE"), "{err}");
    assert!(!err.contains("<no value>"), "{err}");
}

#[test]
fn compile_errors_are_shown_as_the_compiler_printed_them() {
    let project = Project::new("multi");
    project.edit(
        "cmd/beta/main.go",
        "var version = \"unset\"",
        "var version = undefinedThing",
    );
    let err = fails(&project, &[], ENV);
    assert!(
        err.contains("cmd/beta/main.go:12:15: undefined: undefinedThing"),
        "{err}"
    );
}

#[test]
fn toolexec_in_flags_is_refused() {
    let project = Project::new("multi");
    project.edit(
        "skaffold.yaml",
        "        main: ./cmd/beta",
        "        main: ./cmd/beta\n        flags: [\"-toolexec=/bin/true\"]",
    );
    let err = fails(&project, &[], ENV);
    assert!(
        err.contains("-toolexec=/bin/true") && err.contains("not allowed"),
        "{err}"
    );
}

#[test]
fn malformed_source_date_epoch_is_refused() {
    let project = Project::new("multi");
    let mut env = ENV.to_vec();
    env.push(("SOURCE_DATE_EPOCH", "yesterday"));
    let err = fails(&project, &[], &env);
    assert!(err.contains("SOURCE_DATE_EPOCH=yesterday"), "{err}");
}

#[test]
fn platform_missing_from_the_base_lists_what_it_has() {
    let project = Project::new("multi");
    let err = fails(
        &project,
        &["--platform", "windows/amd64", "-b", "alpha"],
        ENV,
    );
    assert!(
        err.contains("windows/amd64") && err.contains("linux/arm64"),
        "{err}"
    );
}

#[test]
fn symlink_escaping_the_repository_is_refused() {
    let project = Project::new("multi");
    let outside = tempfile::NamedTempFile::new().unwrap();
    let link = project.path().join("cmd/alpha/kodata/escape");
    std::os::unix::fs::symlink(outside.path(), link).unwrap();
    let err = fails(&project, &[], ENV);
    assert!(
        err.contains("escape") && err.contains("outside the allowed root"),
        "{err}"
    );
}

#[test]
fn kodata_symlinks_to_git_config_or_ignored_files_are_refused() {
    let project = Project::new("multi");
    let link = project.path().join("cmd/alpha/kodata/config");
    std::os::unix::fs::symlink("../../../.git/config", &link).unwrap();
    let err = fails(&project, &[], ENV);
    assert!(
        err.contains("kodata/config")
            && err.contains("into the git directory (.git)")
            && err.contains("KO_DATA_PATH_ALLOWED_ROOT"),
        "{err}"
    );
    std::fs::remove_file(&link).unwrap();
    link_kodata_to_an_ignored_secret(&project);
    let err = fails(&project, &[], ENV);
    assert!(
        err.contains("kodata/env") && err.contains("git ignores"),
        "{err}"
    );
}

/// A git-ignored `secret.env` at the project's root, and alpha's `kodata/env` linking to it.
fn link_kodata_to_an_ignored_secret(project: &Project) {
    std::fs::write(project.path().join(".gitignore"), "secret.env\n").unwrap();
    std::fs::write(project.path().join("secret.env"), "TOKEN=x\n").unwrap();
    std::os::unix::fs::symlink(
        "../../../secret.env",
        project.path().join("cmd/alpha/kodata/env"),
    )
    .unwrap();
}

/// Without git's answer, a link to an ignored `.env` would look safe: git missing (or a
/// repository it refuses) is an error before anything is built, never "nothing ignored".
#[test]
fn kodata_in_a_repository_git_cannot_read_is_refused() {
    let project = Project::new("multi");
    link_kodata_to_an_ignored_secret(&project);
    // A PATH with go on it and no git.
    let bin = tempfile::tempdir().unwrap();
    let go = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("go"))
        .find(|go| go.is_file())
        .expect("go on PATH");
    std::os::unix::fs::symlink(go, bin.path().join("go")).unwrap();
    let path = bin.path().display().to_string();
    let env = [ENV, &[("PATH", path.as_str())]].concat();
    let err = fails(&project, &["-b", "alpha"], &env);
    assert!(
        err.contains("cmd/alpha/kodata")
            && err.contains("git cannot say which files it ignores")
            && err.contains("install git")
            && err.contains("KO_DATA_PATH_ALLOWED_ROOT"),
        "{err}"
    );
    assert!(!err.contains("built linux"), "nothing was built: {err}");
}

#[test]
fn pushing_a_ko_uri_image_needs_a_default_repo() {
    let project = Project::new("nested");
    let out = project.kiln(&["build", "--push"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("ko://example.com/nested/service/cmd/server")
            && stderr.contains("--default-repo"),
        "{stderr}"
    );
}

#[test]
fn a_broken_output_template_fails_before_building() {
    let project = Project::new("multi");
    let err = fails(&project, &["-o", "{{range .Builds}"], ENV);
    assert!(err.contains("--output"), "{err}");
    assert!(!err.contains("built linux"), "nothing was built: {err}");
}

#[test]
fn a_package_that_stops_being_main_is_refused_even_behind_a_remembered_go_list() {
    let project = Project::new("multi");
    let args = [
        "build",
        "--push=false",
        "--oci-layout-path",
        "out",
        "-b",
        "alpha",
    ];
    project.kiln_ok(&args, ENV); // remembers `go list ./cmd/alpha`
    project.edit("cmd/alpha/main.go", "package main", "package alpha");
    project.edit("cmd/alpha/main.go", "func main() {", "func Main() {");
    let out = project.kiln(&args, ENV);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("example.com/multi/cmd/alpha") && stderr.contains("not a main package"),
        "{stderr}"
    );
}
