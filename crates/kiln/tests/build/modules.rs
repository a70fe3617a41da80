//! Projects with Go module dependencies, as `go` sees them: modules through the proxy
//! (pinned in go.mod/go.sum, downloaded once into the tests' shared module cache), a
//! vendored app built offline, a `go.work` workspace with a `replace`d local module, a
//! private module from an authenticated proxy with `.netrc` credentials, and the artifact
//! key that follows what `go` reads rather than `dependencies.paths`.

use std::path::Path;
use std::process::Command;

use kiln_testkit::{GoProxy, Registry, RegistryKind};
use serde_json::Value;

use crate::support::{Layout, Project, assert_no_image_in, digest_of, pull, run_ok};

const HIT: &str = "unchanged, using cached image";

/// A build of the only artifact into the OCI layout `out`, for linux/amd64.
const LAYOUT_BUILD: [&str; 6] = [
    "build",
    "--push=false",
    "--oci-layout-path",
    "out",
    "--platform",
    "linux/amd64",
];

/// [`LAYOUT_BUILD`], which must succeed: (references, stderr).
fn layout_build(project: &Project, env: &[(&str, &str)]) -> (Vec<String>, String) {
    project.kiln_ok_logged(&LAYOUT_BUILD, env)
}

/// What the image's binary prints, run under chroot from the layout's rootfs.
fn run_built(project: &Project, reference: &str) -> String {
    Layout(project.path().join("out")).run(digest_of(reference))
}

/// `path version h1:…` of every module (not go.mod) line of a go.sum.
fn go_sum_modules(go_sum: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(go_sum)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (path, version, sum) = (parts.next()?, parts.next()?, parts.next()?);
            (!version.ends_with("/go.mod")).then(|| (path.into(), version.into(), sum.into()))
        })
        .collect()
}

/// The hex of an `h1:` hash (base64 of a SHA-256), decoded by coreutils' base64.
fn h1_hex(sum: &str) -> String {
    let b64 = sum.strip_prefix("h1:").unwrap();
    run_ok(Command::new("sh").arg("-c").arg(format!(
        "printf %s '{b64}' | base64 -d | od -An -v -tx1 | tr -d ' \\n'"
    )))
}

#[test]
fn an_app_with_popular_modules_is_pushed_runs_and_its_sbom_pins_every_module() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("modapp");
    let sboms = tempfile::tempdir().unwrap();
    let repo = format!("{}/team", registry.host());
    let refs = project.kiln_ok(
        &[
            "build",
            "--push",
            "-d",
            &repo,
            "--platform",
            "linux/amd64",
            "--sbom-dir",
            sboms.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(refs.len(), 1, "{refs:?}");
    let (_pulled, layout) = pull(&refs[0]);
    let output = layout.run(digest_of(&refs[0]));
    // cobra ran the command (its flag default is the prefix), yaml.v3 read the embedded
    // catalog, uuid named the items, x/text titled them, x/sync summed them.
    for line in [
        "- b0ab9de7-c7a7-5ebe-89fa-de3050ec0667 Blue Widget x3",
        "- 560b1af1-b970-571c-805f-c366deb05ae0 Red Gadget x5",
        "total 8",
    ] {
        assert!(output.contains(line), "{line:?} in:\n{output}");
    }

    let files: Vec<_> = std::fs::read_dir(sboms.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    kiln_testkit::validate_spdx(&files[0]);
    let sbom: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let packages = sbom["packages"].as_array().unwrap();
    let compiled_in = [
        "github.com/google/uuid",
        "github.com/spf13/cobra",
        "github.com/spf13/pflag",
        "golang.org/x/sync",
        "golang.org/x/text",
        "gopkg.in/yaml.v3",
    ];
    let pinned = go_sum_modules(&project.path().join("go.sum"));
    for module in compiled_in {
        let (_, version, sum) = pinned
            .iter()
            .find(|(path, _, _)| path == module)
            .unwrap_or_else(|| panic!("{module} pinned in go.sum"));
        let package = packages
            .iter()
            .find(|p| p["name"] == module)
            .unwrap_or_else(|| panic!("{module} in the SBOM: {packages:?}"));
        assert_eq!(package["versionInfo"], version.as_str(), "{package}");
        assert_eq!(
            package["checksums"][0],
            serde_json::json!({"algorithm": "SHA256", "checksumValue": h1_hex(sum)}),
            "{module}'s go.sum hash"
        );
    }
}

#[test]
fn the_first_build_shows_module_downloads_as_a_stage_before_go_build() {
    let project = Project::new("modapp");
    let empty_cache = tempfile::tempdir().unwrap();
    let mod_cache = empty_cache.path().display().to_string();
    // -modcacherw: the private cache can be deleted when the test ends.
    let env = [
        ("GOMODCACHE", mod_cache.as_str()),
        ("GOFLAGS", "-modcacherw"),
    ];
    let (_, stderr) = layout_build(&project, &env);
    let lines: Vec<&str> = stderr.lines().collect();
    let position = |part: &str| {
        lines
            .iter()
            .position(|l| l.contains(part))
            .unwrap_or_else(|| panic!("no line with `{part}` in:\n{stderr}"))
    };
    // Planning resolves the package before the image has a name: then the stage is
    // reported under the package (`./cmd/inventory: downloading modules (…)...`).
    let started = position(": downloading modules (");
    let finished = position(": downloaded modules in ");
    let building = position("inventory: building for linux/amd64");
    assert!(started < finished && finished < building, "{stderr}");
    assert!(!stderr.contains('\x1b'), "no terminal codes in a log");
    assert!(
        Path::new(&mod_cache)
            .join("cache/download/github.com/spf13/cobra/@v/v1.10.2.zip")
            .is_file(),
        "cobra came through the proxy into GOMODCACHE"
    );

    // Warm: nothing to download, no stage.
    project.edit("cmd/inventory/main.go", "\"dev\"", "\"warm\"");
    let (_, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains("downloading modules"), "{stderr}");
}

#[test]
fn a_vendored_app_builds_offline_from_its_vendor_directory() {
    let project = Project::new("vendored");
    let empty_cache = tempfile::tempdir().unwrap();
    let env = [
        ("GOPROXY", "off"),
        ("GOMODCACHE", empty_cache.path().to_str().unwrap()),
    ];
    let (refs, _) = layout_build(&project, &env);
    let output = run_built(&project, &refs[0]);
    assert!(
        output.contains("alpha e200f71f-ae9a-5a95-a653-6eb7bdf18131"),
        "{output}"
    );
    // A patch to vendored code is what go compiles: it rebuilds, and shows.
    project.edit(
        "vendor/github.com/google/uuid/uuid.go",
        "func (uuid UUID) String() string {\n",
        "func (uuid UUID) String() string {\n\tif true {\n\t\treturn \"patched\"\n\t}\n",
    );
    let (refs, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "{stderr}");
    assert!(
        run_built(&project, &refs[0]).contains("alpha patched"),
        "the vendored patch is in the image"
    );
}

#[test]
fn a_workspace_with_a_replaced_local_module_builds_main_by_import_path() {
    let project = Project::new("workspace");
    let (refs, _) = layout_build(&project, &[]);
    let output = run_built(&project, &refs[0]);
    for line in [
        "hello from the workspace, api",
        "REPLACED (patched fork)",
        "id 437fe9d0-39c7-55bd-b12d-95025991cc4a",
    ] {
        assert!(output.contains(line), "{line:?} in:\n{output}");
    }
}

#[test]
fn edits_to_any_package_go_reads_rebuild_whatever_dependencies_paths_say() {
    let project = Project::new("modapp");
    // A hand-written list that misses the main package, as generated lists do.
    project.edit(
        "skaffold.yaml",
        "        main: ./cmd/inventory\n",
        "        main: ./cmd/inventory\n        dependencies:\n          paths: [other/**]\n",
    );
    crate::support::git(project.path(), &["commit", "-qam", "deps"]);
    // Without VCS stamping, an edit outside the graph changes nothing that go builds.
    let env = [("GOFLAGS", "-buildvcs=false")];
    let (first, _) = layout_build(&project, &env);
    let (again, stderr) = layout_build(&project, &env);
    assert!(stderr.contains(HIT), "nothing changed:\n{stderr}");
    assert_eq!(again, first);

    project.edit("cmd/inventory/main.go", "\"dev\"", "\"edited\"");
    let (edited, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "main.go edited:\n{stderr}");
    assert_ne!(digest_of(&edited[0]), digest_of(&first[0]));
    assert!(run_built(&project, &edited[0]).contains("inventory edited"));

    project.edit("internal/catalog/items.yaml", "count: 3", "count: 4");
    let (embedded, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "an embedded file edited:\n{stderr}");
    assert!(run_built(&project, &embedded[0]).contains("total 9"));

    std::fs::write(
        project.path().join("cmd/inventory/extra.go"),
        "package main\n\nfunc init() { version += \"+extra\" }\n",
    )
    .unwrap();
    let (added, stderr) = layout_build(&project, &env);
    assert!(
        !stderr.contains(HIT),
        "a file added to the package:\n{stderr}"
    );
    assert!(run_built(&project, &added[0]).contains("inventory edited+extra"));

    std::fs::write(project.path().join("NOTES.md"), "not read by go\n").unwrap();
    let (_, stderr) = layout_build(&project, &env);
    assert!(stderr.contains(HIT), "a file go does not read:\n{stderr}");

    // Undoing an edit finds the image built before it.
    project.edit("cmd/inventory/main.go", "\"edited\"", "\"again\"");
    layout_build(&project, &env);
    project.edit("cmd/inventory/main.go", "\"again\"", "\"edited\"");
    let (undone, stderr) = layout_build(&project, &env);
    assert!(stderr.contains(HIT), "an edit undone:\n{stderr}");
    assert_eq!(undone, added);

    // An edit that imports a new package: the graph grows, and the new package is an
    // input from then on.
    std::fs::create_dir_all(project.path().join("internal/banner")).unwrap();
    std::fs::write(
        project.path().join("internal/banner/banner.go"),
        "package banner\n\nconst Text = \"== banner one ==\"\n",
    )
    .unwrap();
    project.edit(
        "cmd/inventory/main.go",
        "\"example.com/modapp/internal/catalog\"\n",
        "\"example.com/modapp/internal/banner\"\n\t\"example.com/modapp/internal/catalog\"\n",
    );
    project.edit(
        "cmd/inventory/main.go",
        "fmt.Printf(\"inventory %s\\n\", version)",
        "fmt.Println(banner.Text)\n\t\t\tfmt.Printf(\"inventory %s\\n\", version)",
    );
    let (_, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "a new import:\n{stderr}");
    let (_, stderr) = layout_build(&project, &env);
    assert!(stderr.contains(HIT), "nothing changed since:\n{stderr}");
    project.edit("internal/banner/banner.go", "banner one", "banner two");
    let (refs, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "the new package edited:\n{stderr}");
    assert!(run_built(&project, &refs[0]).contains("== banner two =="));
}

#[test]
fn a_replaced_module_outside_the_context_is_an_input() {
    let project = Project::new("workspace");
    // The context is the api module: its `**/*.go` default covers neither the workspace
    // module nor the fork that `replace` points at.
    project.edit(
        "skaffold.yaml",
        "        dir: services/api\n        main: example.com/ws/api/cmd/api\n",
        "        main: ./cmd/api\n",
    );
    project.edit(
        "skaffold.yaml",
        "    - image: api\n",
        "    - image: api\n      context: services/api\n",
    );
    let env = [("GOFLAGS", "-buildvcs=false")];
    layout_build(&project, &env);
    let (_, stderr) = layout_build(&project, &env);
    assert!(stderr.contains(HIT), "{stderr}");
    project.edit("third_party/shout/shout.go", "(patched fork)", "(fork v2)");
    let (refs, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "{stderr}");
    assert!(run_built(&project, &refs[0]).contains("REPLACED (fork v2)"));
    project.edit("libs/greeting/greeting.go", "hello from", "hi from");
    let (refs, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "{stderr}");
    assert!(run_built(&project, &refs[0]).contains("hi from the workspace"));
}

#[test]
fn a_go_line_newer_than_the_toolchain_is_a_clear_error_and_gotoolchain_reaches_go() {
    let project = Project::new("vendored");
    project.edit("go.mod", "go 1.22\n", "go 1.99\n");
    let args = ["build", "--push=false", "--oci-layout-path", "out"];
    let out = project.kiln(&args, &[("GOTOOLCHAIN", "local")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let go_mod = std::fs::canonicalize(project.path().join("go.mod")).unwrap();
    for part in [
        format!("{} asks for Go 1.99", go_mod.display()),
        "the installed Go is 1.26".to_owned(),
        "GOTOOLCHAIN=local".to_owned(),
        "set GOTOOLCHAIN=auto".to_owned(),
        "lower the `go` line".to_owned(),
    ] {
        assert!(stderr.contains(&part), "{part} in:\n{stderr}");
    }
    assert_no_image_in(&project.path().join("out"));

    // GOTOOLCHAIN is go's to act on: with `auto`, go itself looks for go1.99 (there is
    // none) and says so.
    let out = project.kiln(&args, &[("GOTOOLCHAIN", "auto")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("go1.99") && !stderr.contains("asks for Go 1.99"),
        "go tried to switch toolchains:\n{stderr}"
    );
}

#[test]
fn a_workspace_file_named_by_gowork_is_an_input() {
    let project = Project::new("workspace");
    let go_work = project.path().join("go.work");
    let named = project.path().join("team.work");
    std::fs::rename(&go_work, &named).unwrap();
    std::fs::create_dir_all(project.path().join("third_party/shout2")).unwrap();
    for file in ["go.mod", "shout.go"] {
        let text = std::fs::read_to_string(project.path().join("third_party/shout").join(file))
            .unwrap()
            .replace("(patched fork)", "(second fork)");
        std::fs::write(project.path().join("third_party/shout2").join(file), text).unwrap();
    }
    let gowork = named.display().to_string();
    let env = [("GOWORK", gowork.as_str()), ("GOFLAGS", "-buildvcs=false")];
    let (refs, _) = layout_build(&project, &env);
    assert!(run_built(&project, &refs[0]).contains("REPLACED (patched fork)"));
    let (_, stderr) = layout_build(&project, &env);
    assert!(stderr.contains(HIT), "{stderr}");
    // The workspace file's own `replace` wins over the module's: the image follows it.
    let mut text = std::fs::read_to_string(&named).unwrap();
    text.push_str("\nreplace example.com/shout v1.4.0 => ./third_party/shout2\n");
    std::fs::write(&named, text).unwrap();
    let (refs, stderr) = layout_build(&project, &env);
    assert!(!stderr.contains(HIT), "{stderr}");
    assert!(run_built(&project, &refs[0]).contains("REPLACED (second fork)"));
}

/// The private module's proxy files (`example.internal/greet/@v/…`).
fn private_proxy_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/privapp-proxy")
}

const PROXY_USER: &str = "ci-bot";
const PROXY_PASSWORD: &str = "s3cret-netrc-pa55";

/// A build of `privapp` as `go help private` sets a company up: everything through the
/// company's HTTPS proxy (`GONOPROXY=none`; its CA in `SSL_CERT_FILE`), no checksum
/// database for `example.internal` (`GOPRIVATE`), the proxy's credentials in the `.netrc`
/// that `NETRC` names (`password` for the proxy's user), and an empty module cache, so the
/// private module really is fetched. Returns kiln's output, the project, the proxy and the
/// caches, which must outlive it.
fn private_build(password: &str) -> (std::process::Output, Project, GoProxy, tempfile::TempDir) {
    let proxy = GoProxy::start_https(&private_proxy_root(), Some((PROXY_USER, PROXY_PASSWORD)));
    let project = Project::new("privapp");
    let dir = tempfile::tempdir().unwrap();
    let netrc_file = dir.path().join("netrc");
    // Go matches `machine` against the proxy URL's host and port.
    let host = proxy.host();
    let netrc = format!("machine {host} login {PROXY_USER} password {password}\n");
    std::fs::write(&netrc_file, netrc).unwrap();
    let mod_cache = dir.path().join("gomodcache");
    let url = proxy.url();
    let ca = proxy.ca_cert().expect("an HTTPS proxy");
    let env = [
        ("GOPROXY", url.as_str()),
        ("SSL_CERT_FILE", ca.to_str().unwrap()),
        ("GOPRIVATE", "example.internal"),
        ("GONOPROXY", "none"),
        ("NETRC", netrc_file.to_str().unwrap()),
        ("GOMODCACHE", mod_cache.to_str().unwrap()),
        // -modcacherw: the private cache can be deleted when the test ends.
        ("GOFLAGS", "-modcacherw"),
    ];
    let out = project.kiln(&LAYOUT_BUILD, &env);
    (out, project, proxy, dir)
}

#[test]
fn a_private_module_comes_through_an_authenticated_proxy_with_netrc_credentials() {
    let (out, project, proxy, _caches) = private_build(PROXY_PASSWORD);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kiln build failed:\n{stderr}");
    let refs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(refs.len(), 1, "{refs:?}");
    let output = run_built(&project, &refs[0]);
    assert!(
        output.contains("hello kiln, greetings from behind the private proxy"),
        "the private module's code is in the binary:\n{output}"
    );
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/example.internal/greet/@v/v1.0.0.zip" && r.authorized),
        "go fetched the module's zip with the .netrc credentials: {requests:?}"
    );
    assert!(
        !stderr.contains(PROXY_PASSWORD) && !refs.concat().contains(PROXY_PASSWORD),
        "the password is never printed:\n{stderr}"
    );
}

#[test]
fn a_private_module_without_credentials_fails_naming_the_module() {
    // A stale password: the proxy refuses it as it refuses none at all.
    let (out, project, proxy, _caches) = private_build("expired-pa55");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for part in ["example.internal/greet", "401 Unauthorized"] {
        assert!(stderr.contains(part), "{part} in:\n{stderr}");
    }
    assert!(!stderr.contains("expired-pa55"), "{stderr}");
    assert!(
        !stderr
            .lines()
            .any(|l| l.starts_with("hello: downloaded modules")),
        "a refused download is not reported as downloaded:\n{stderr}"
    );
    assert_no_image_in(&project.path().join("out"));
    let requests = proxy.requests();
    assert!(
        !requests.is_empty() && requests.iter().all(|r| !r.authorized),
        "go asked the proxy and was refused: {requests:?}"
    );
}
