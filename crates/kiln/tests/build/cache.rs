//! The artifact cache: unchanged inputs skip `go build` entirely (seen in kiln's log, not
//! in timings); every input that reaches the image invalidates it.

use std::process::Command;

use kiln_testkit::{Registry, RegistryKind};

use crate::support::{Project, run_ok};

const ENV: &[(&str, &str)] = &[("RELEASE", "v1.2.3"), ("TEAM", "core")];
const HIT: &str = "unchanged, using cached image";
const BUILT: &str = "beta: built linux/amd64";

fn build(project: &Project, env: &[(&str, &str)]) -> (Vec<String>, String) {
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "beta",
            "--platform",
            "linux/amd64",
        ],
        env,
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    (
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
        stderr,
    )
}

/// Builds and asserts whether `go build` ran.
fn expect(project: &Project, env: &[(&str, &str)], rebuilt: bool, why: &str) -> Vec<String> {
    let (refs, stderr) = build(project, env);
    assert_eq!(stderr.contains(BUILT), rebuilt, "{why}:\n{stderr}");
    assert_eq!(stderr.contains(HIT), !rebuilt, "{why}:\n{stderr}");
    refs
}

fn append(project: &Project, file: &str, text: &str) {
    let path = project.path().join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut content = std::fs::read_to_string(&path).unwrap_or_default();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

#[test]
fn each_input_invalidates_and_untouched_inputs_do_not() {
    let project = Project::new("multi");
    let first = expect(&project, ENV, true, "first build");
    assert_eq!(
        expect(&project, ENV, false, "nothing changed"),
        first,
        "a hit prints the same reference"
    );
    // The tree turns dirty once (Go stamps vcs.modified): that is a real change.
    append(&project, "notes.txt", "not a dependency\n");
    expect(&project, ENV, true, "work tree became dirty");
    append(&project, "notes.txt", "still not a dependency\n");
    expect(
        &project,
        ENV,
        false,
        "a non-dependency file changed in an already dirty tree",
    );
    append(&project, "cmd/beta/main.go", "\n// edit\n");
    expect(&project, ENV, true, "a .go file changed");
    append(&project, "go.mod", "\n// comment\n");
    expect(&project, ENV, true, "go.mod changed");
    append(&project, "cmd/beta/kodata/new.txt", "data\n");
    expect(&project, ENV, true, "kodata changed");
    append(&project, ".ko.yaml", "defaultEnv: [\"X=1\"]\n");
    expect(&project, ENV, true, ".ko.yaml changed");
    let mut env = ENV.to_vec();
    env.push(("GOFLAGS", "-tags=extra"));
    expect(
        &project,
        &env,
        true,
        "an environment variable that reaches go build",
    );
    expect(&project, &env, false, "same environment again");
    let mut env = env.clone();
    env.push(("UNRELATED_VARIABLE", "1"));
    expect(&project, &env, false, "a variable go does not read");
}

#[test]
fn a_corrupt_entry_is_a_rebuild_and_the_flag_forces_one() {
    let project = Project::new("multi");
    let first = expect(&project, ENV, true, "first build");
    let entries = project.cache.path().join("kiln/artifacts");
    for entry in std::fs::read_dir(&entries).unwrap() {
        std::fs::write(entry.unwrap().path(), b"{\"top\": garbage").unwrap();
    }
    assert_eq!(expect(&project, ENV, true, "corrupt entry"), first);
    expect(&project, ENV, false, "the rebuild rewrote the entry");
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "beta",
            "--platform",
            "linux/amd64",
            "--cache-artifacts=false",
        ],
        ENV,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(BUILT));
}

#[test]
fn a_moved_base_tag_invalidates_and_a_pushed_hit_costs_one_head() {
    let registry = Registry::start(RegistryKind::Plain);
    let project = Project::new("multi");
    project.kiln_ok(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "seed",
            "--platform",
            "linux/amd64",
        ],
        ENV,
    );
    let base = format!("{}/bases/moving:latest", registry.host());
    let seed = |name: &str| {
        run_ok(
            Command::new("skopeo")
                .args(["copy", "--dest-tls-verify=false"])
                .arg(format!(
                    "oci:{}:{name}:v1.2.3",
                    project.path().join("seed").display()
                ))
                .arg(format!("docker://{base}")),
        );
    };
    seed("alpha");
    project.use_base("beta", &base);
    let repo = format!("{}/team", registry.host());
    let push = |project: &Project| {
        let out = project.kiln(
            &[
                "build",
                "--push",
                "-d",
                &repo,
                "-b",
                "beta",
                "--platform",
                "linux/amd64",
            ],
            ENV,
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    assert!(push(&project).contains(BUILT));
    let requests = registry.access_log().len();
    let again = push(&project);
    assert!(again.contains(HIT), "{again}");
    let new: Vec<_> = registry.access_log().into_iter().skip(requests).collect();
    let heads = new
        .iter()
        .filter(|r| r.method == "HEAD" && r.path.contains("/manifests/"))
        .count();
    assert!(
        new.iter().all(|r| r.method == "HEAD" || r.path == "/v2/"),
        "a hit only HEADs: {new:?}"
    );
    assert_eq!(
        heads, 2,
        "one HEAD for the base tag, one for the target: {new:?}"
    );
    seed("beta"); // move the base tag
    assert!(push(&project).contains(BUILT), "a moved base tag rebuilds");
}

#[test]
fn cache_prune_empties_the_cache_and_the_next_build_starts_cold() {
    let project = Project::new("multi");
    expect(&project, ENV, true, "first build");
    let cache = project.cache.path().join("kiln");
    let unrelated = cache.join("not-kilns.txt");
    std::fs::write(&unrelated, "keep me").unwrap();
    let out = project.kiln(&["cache", "prune"], &[]);
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed"));
    assert!(!cache.join("blobs").exists() && !cache.join("artifacts").exists());
    assert!(unrelated.exists(), "only kiln's own entries are removed");
    expect(&project, ENV, true, "after prune");
}
