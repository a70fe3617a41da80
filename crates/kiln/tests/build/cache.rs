//! The artifact cache: unchanged inputs skip `go build` entirely (seen in kiln's log, not
//! in timings); every input that reaches the image invalidates it. The cache's bound:
//! builds evict least recently used files, and an evicted file is only ever a rebuild.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use kiln_testkit::{Registry, RegistryKind};

use crate::dev::{lines, wait_for};
use crate::support::{Layout, Project, digest_of, run_ok};

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

const HOUR: Duration = Duration::from_secs(3600);
const VERSION: &str = "var version = \"unset\"";

/// Every file in the cache's own directories, with its size and last use.
fn cache_files(project: &Project) -> Vec<(PathBuf, u64, SystemTime)> {
    fn walk(dir: &Path, files: &mut Vec<(PathBuf, u64, SystemTime)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(&path, files);
            } else {
                files.push((path, meta.len(), meta.modified().unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    for area in ["blobs", "layers", "artifacts", "memo", "bin", "tmp"] {
        walk(&project.cache.path().join("kiln").join(area), &mut files);
    }
    files
}

/// Lets `by` pass for the cache: every file was last used that much earlier, and the size
/// the last walk recorded is too old to trust (it is trusted for a minute).
fn age_cache(project: &Project, by: Duration) {
    for (path, _, used) in cache_files(project) {
        File::open(&path).unwrap().set_modified(used - by).unwrap();
    }
    let _ = std::fs::remove_file(project.cache.path().join("kiln/usage.json"));
}

fn cache_blob(project: &Project, digest: &str) -> PathBuf {
    project
        .cache
        .path()
        .join("kiln/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// The binary layer (the last one) of the image `reference` in the project's `out` layout.
fn binary_layer(project: &Project, reference: &str) -> String {
    let manifest = Layout(project.path().join("out")).json(digest_of(reference));
    let layers = manifest["layers"].as_array().unwrap();
    layers.last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sets beta's `version` (its binary changes with it), returning the edited text.
fn set_version(project: &Project, from: &str, version: &str) -> String {
    let to = format!("var version = \"{version}\"");
    project.edit("cmd/beta/main.go", from, &to);
    to
}

#[test]
fn builds_evict_what_went_unused_longest_and_an_evicted_image_rebuilds_identically() {
    let project = Project::new("multi");
    let v1 = expect(&project, ENV, true, "v1")[0].clone();
    age_cache(&project, HOUR);
    let two = set_version(&project, VERSION, "two");
    let v2 = expect(&project, ENV, true, "v2")[0].clone();
    age_cache(&project, HOUR);
    let three = set_version(&project, &two, "three");
    let v3 = expect(&project, ENV, true, "v3")[0].clone();

    // What only v1 used is now two hours old, what v2 used last one hour; v3's is fresh.
    let now = SystemTime::now();
    let files = cache_files(&project);
    let age = |used: SystemTime| now.duration_since(used).unwrap_or_default();
    let total: u64 = files.iter().map(|f| f.1).sum();
    let only_v1: Vec<&(PathBuf, u64, SystemTime)> =
        files.iter().filter(|f| age(f.2) > HOUR * 3 / 2).collect();
    let v1_bytes: u64 = only_v1.iter().map(|f| f.1).sum();
    assert!(
        only_v1.len() >= 3,
        "v1's layer, config, manifest: {only_v1:?}"
    );
    // A bound that the cache exceeds and whose low-water mark (90 %) is met exactly by
    // evicting v1's files: the least recently used go first, and nothing else.
    let bound = ((total - v1_bytes) * 100).div_ceil(90);
    assert!(bound < total, "{bound} < {total}");
    let bound = bound.to_string();
    let with_bound: Vec<(&str, &str)> = [ENV, &[("KILN_CACHE_MAX_SIZE", bound.as_str())]].concat();

    let (_, stderr) = build(&project, &with_bound);
    assert!(stderr.contains(HIT), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cache: removed {} least recently used files",
            only_v1.len()
        )),
        "{stderr}"
    );
    for (path, _, _) in &only_v1 {
        assert!(!path.exists(), "evicted: {}", path.display());
    }
    let remaining = cache_files(&project);
    assert_eq!(
        remaining.len(),
        files.len() - only_v1.len(),
        "only v1's files went"
    );
    assert!(!cache_blob(&project, &binary_layer(&project, &v1)).exists());
    for kept in [&v2, &v3] {
        assert!(cache_blob(&project, &binary_layer(&project, kept)).exists());
    }

    assert_eq!(expect(&project, &with_bound, false, "v3 again"), [v3]);
    set_version(&project, &three, "two");
    assert_eq!(
        expect(
            &project,
            &with_bound,
            false,
            "v2 was used more recently than v1"
        ),
        [v2]
    );
    project.edit("cmd/beta/main.go", &two, VERSION);
    assert_eq!(
        expect(&project, ENV, true, "v1 was evicted: a miss, rebuilt"),
        std::slice::from_ref(&v1),
        "the same image as before"
    );
    let out = Layout(project.path().join("out"));
    assert!(out.run(digest_of(&v1)).contains("beta unset"));
}

#[test]
fn a_bound_below_one_build_keeps_just_what_that_build_used() {
    let project = Project::new("multi");
    let v1 = expect(&project, ENV, true, "v1")[0].clone();
    let v1_layer = cache_blob(&project, &binary_layer(&project, &v1));
    age_cache(&project, HOUR);
    let tiny: Vec<(&str, &str)> = [ENV, &[("KILN_CACHE_MAX_SIZE", "1MB")]].concat();
    let two = set_version(&project, VERSION, "two");
    let (refs, stderr) = build(&project, &tiny);
    assert!(
        stderr.contains(BUILT) && stderr.contains("cache: removed"),
        "{stderr}"
    );
    assert!(!v1_layer.exists(), "v1's layer went");
    let v2_layer = cache_blob(&project, &binary_layer(&project, &refs[0]));
    assert!(
        v2_layer.exists(),
        "the build's own layer stays, over the bound"
    );
    let recent = SystemTime::now() - Duration::from_secs(600);
    assert!(
        cache_files(&project).iter().all(|f| f.2 > recent),
        "all that is left was used by the last build"
    );

    let (again, stderr) = build(&project, &tiny);
    assert_eq!(again, refs);
    assert!(stderr.contains(HIT), "{stderr}");
    assert!(
        stderr
            .contains("over its 1.0 MB bound (KILN_CACHE_MAX_SIZE), but this build used all of it"),
        "{stderr}"
    );
    assert!(v2_layer.exists());

    project.edit("cmd/beta/main.go", &two, VERSION);
    assert_eq!(expect(&project, &tiny, true, "v1 again"), [v1]);
}

#[test]
fn an_entry_whose_layer_was_evicted_is_a_miss_not_a_broken_image() {
    let project = Project::new("multi");
    let first = expect(&project, ENV, true, "first build")[0].clone();
    let layer = binary_layer(&project, &first);
    std::fs::remove_file(cache_blob(&project, &layer)).unwrap();
    // Outside the project: an untracked directory would change the git state Go stamps.
    let fresh = tempfile::tempdir().unwrap();
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            fresh.path().to_str().unwrap(),
            "-b",
            "beta",
            "--platform",
            "linux/amd64",
        ],
        ENV,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(BUILT) && !stderr.contains(HIT), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), first);
    assert!(cache_blob(&project, &layer).exists(), "stored again");
    let fresh = Layout(fresh.path().to_owned());
    assert!(fresh.run(digest_of(&first)).contains("beta unset"));
}

#[test]
fn a_bad_max_size_is_refused_before_anything_is_built() {
    let project = Project::new("multi");
    let bad: Vec<(&str, &str)> = [ENV, &[("KILN_CACHE_MAX_SIZE", "10G")]].concat();
    let out = project.kiln(
        &[
            "build",
            "--push=false",
            "--oci-layout-path",
            "out",
            "-b",
            "beta",
        ],
        &bad,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("KILN_CACHE_MAX_SIZE=`10G` is not a size (unknown unit `g`)")
            && stderr.contains("e.g. 500MB or 10GiB"),
        "{stderr}"
    );
    assert!(!stderr.contains("built"), "{stderr}");
    for command in ["size", "trim"] {
        let out = project.kiln(&["cache", command], &[("KILN_CACHE_MAX_SIZE", "lots")]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("KILN_CACHE_MAX_SIZE=`lots`"),
            "{command}"
        );
    }
}

#[test]
fn cache_size_reports_every_byte_and_trim_within_the_bound_removes_nothing() {
    let project = Project::new("multi");
    expect(&project, ENV, true, "first build");
    let files = cache_files(&project);
    let bytes: u64 = files.iter().map(|f| f.1).sum();
    let out = project.kiln_ok(&["cache", "size"], &[("KILN_CACHE_MAX_SIZE", "10GiB")]);
    let total = out.last().unwrap();
    assert!(
        total.starts_with("total")
            && total.contains(&format!("{} files", files.len()))
            && total.contains(&format!("({bytes} bytes in "))
            && total.ends_with("bound 10.7 GB, KILN_CACHE_MAX_SIZE)"),
        "{out:?}"
    );
    let areas: Vec<&str> = out
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        areas,
        [
            "blobs",
            "layers",
            "artifacts",
            "memo",
            "bin",
            "tmp",
            "total"
        ]
    );

    let out = project.kiln(&["cache", "trim"], &[]);
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 0 files"));
    assert_eq!(cache_files(&project).len(), files.len());
    expect(&project, ENV, false, "after a trim within the bound");

    let out = project.kiln(&["cache", "trim"], &[("KILN_CACHE_MAX_SIZE", "0")]);
    assert!(out.status.success());
    assert!(
        cache_files(&project).is_empty(),
        "a bound of 0 keeps nothing unused"
    );
    expect(&project, ENV, true, "after trimming everything");
}

#[test]
fn a_prune_between_two_dev_rounds_costs_only_a_rebuild() {
    /// Stops `kiln dev` even when an assertion fails first.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let project = Project::new("multi");
    let mut child = Running(crate::dev::spawn_dev_beta(&project));
    let stdout = lines(child.0.stdout.take().unwrap());
    let stderr = lines(child.0.stderr.take().unwrap());
    let is_ref = |l: &str| l.starts_with("beta:v1.2.3@sha256:");
    let first = wait_for(&stdout, "the first image", is_ref);
    wait_for(&stderr, "the watcher", |l| {
        l.contains("watching for changes")
    });

    // kiln dev holds the cache only while it builds: a prune goes ahead between rounds,
    // taking the built-in base the process wrote into the cache with it.
    let pruned = project.kiln(&["cache", "prune"], &[]);
    assert!(pruned.status.success());
    set_version(&project, VERSION, "two");
    let second = wait_for(&stdout, "an image after the prune", is_ref);
    assert_ne!(second, first);
    let out = Layout(project.path().join("out"));
    assert!(out.run(digest_of(&second)).contains("beta two"));

    Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn an_unchanged_build_adds_and_removes_nothing_so_its_cache_check_needs_no_walk() {
    let project = Project::new("multi");
    expect(&project, ENV, true, "first build");
    let dirs = || {
        let mut dirs: Vec<(PathBuf, SystemTime)> = cache_files(&project)
            .into_iter()
            .filter_map(|(path, _, _)| path.parent().map(Path::to_owned))
            .filter(|dir| !dir.ends_with("tmp"))
            .map(|dir| {
                let modified = std::fs::metadata(&dir).unwrap().modified().unwrap();
                (dir, modified)
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    };
    let before = dirs();
    // Past a clock tick, so that any change shows in the directories' times.
    std::thread::sleep(Duration::from_millis(50));
    expect(&project, ENV, false, "nothing changed");
    assert_eq!(dirs(), before);
}
