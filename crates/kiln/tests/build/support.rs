//! Test helpers: fixture copies, running kiln, and reading OCI layouts without kiln's code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// A copy of a fixture project in a fresh directory, made a git repository (so kodata's
/// allowed root and git tag policies behave as in a real checkout).
pub struct Project {
    pub dir: TempDir,
    pub cache: TempDir,
}

impl Project {
    pub fn new(fixture: &str) -> Project {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
        let dir = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", src.display()))
                .arg(dir.path()),
        );
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "fixture"]);
        Project {
            dir,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    /// A `git clone` of `other` at another path: the same commit, so the same source.
    pub fn clone_of(other: &Project) -> Project {
        let dir = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("git")
                .args(["clone", "-q"])
                .arg(other.path())
                .arg(dir.path()),
        );
        Project {
            dir,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs kiln in the project with a private cache and a fixed, minimal environment.
    pub fn kiln(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_as(Path::new(env!("CARGO_BIN_EXE_kiln")), args, env)
    }

    /// Runs the kiln binary at `program` (e.g. a symlink to it) like [`Project::kiln`].
    pub fn run_as(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(program, args, env)
            .output()
            .expect("kiln runs")
    }

    /// Starts kiln like [`Project::kiln`], with stdout and stderr piped, for long-running
    /// commands (`kiln dev`).
    pub fn spawn_kiln(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        self.command(Path::new(env!("CARGO_BIN_EXE_kiln")), args, env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kiln starts")
    }

    /// The command [`Project::kiln`] runs, to adjust before running (e.g. its stdin).
    pub fn command(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.cache.path())
            .env("KILN_CACHE", self.cache.path().join("kiln"))
            .env("GOCACHE", go_cache())
            .env("GOMODCACHE", go_mod_cache())
            .env("GOPATH", self.cache.path().join("gopath"))
            .env("GOTOOLCHAIN", "local");
        for name in GO_PROXY_SETTINGS {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Replaces `from` (which must be there) with `to` in one of the project's files.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} in {file}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }

    /// Gives the artifact built from `./cmd/<app>` a `fromImage`.
    pub fn use_base(&self, app: &str, base: &str) {
        let main = format!("        main: ./cmd/{app}\n");
        self.edit(
            "skaffold.yaml",
            &main,
            &format!("{main}        fromImage: {base}\n"),
        );
    }

    /// Runs kiln, expecting success: (stdout lines, stderr).
    pub fn kiln_ok_logged(&self, args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
        let out = self.kiln(args, env);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "kiln {args:?} failed:\n{stderr}");
        let refs = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        (refs, stderr)
    }

    pub fn kiln_ok(&self, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
        let out = self.kiln(args, env);
        assert!(
            out.status.success(),
            "kiln {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Where modules come from, taken from the test run's environment when set (else Go's
/// defaults: the public proxy and checksum database), so tests download as `go` would.
const GO_PROXY_SETTINGS: [&str; 6] = [
    "GOPROXY",
    "GOSUMDB",
    "GONOSUMDB",
    "GONOPROXY",
    "GOPRIVATE",
    "GOINSECURE",
];

/// One Go build cache shared by every test: it only speeds up compiles, it is never an input.
fn go_cache() -> PathBuf {
    std::env::temp_dir().join("kiln-tests-gocache")
}

/// One module cache shared by every test: each pinned module is downloaded once per
/// machine (go.sum verifies it), and concurrent tests share it under Go's own file locks.
pub fn go_mod_cache() -> PathBuf {
    std::env::temp_dir().join("kiln-tests-gomodcache")
}

pub fn git(dir: &Path, args: &[&str]) {
    run_ok(
        Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir),
    );
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The OCI layout at `dir` records no image (it may exist: output paths are checked, and
/// may be created, before anything is built).
pub fn assert_no_image_in(dir: &Path) {
    let index = dir.join("index.json");
    if index.exists() {
        let index: Value = serde_json::from_slice(&std::fs::read(index).unwrap()).unwrap();
        assert_eq!(
            index["manifests"],
            serde_json::json!([]),
            "no image is recorded"
        );
    }
}

/// An OCI layout read straight from disk.
pub struct Layout(pub PathBuf);

impl Layout {
    pub fn json(&self, digest: &str) -> Value {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(self.0.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(
            format!("sha256:{}", sha256_hex(&bytes)),
            digest,
            "blob content matches its name"
        );
        serde_json::from_slice(&bytes).unwrap()
    }

    pub fn index(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.0.join("index.json")).unwrap()).unwrap()
    }

    /// The index.json entry named `ref_name`; exactly one must exist.
    pub fn entry(&self, ref_name: &str) -> Value {
        let index = self.index();
        let entries: Vec<&Value> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["annotations"]["org.opencontainers.image.ref.name"] == ref_name)
            .collect();
        assert_eq!(entries.len(), 1, "one entry named {ref_name} in {index}");
        entries[0].clone()
    }

    /// Unpacks the image `manifest_digest` with umoci and runs its entrypoint under chroot with the
    /// image's own environment, returning stdout.
    pub fn run(&self, manifest_digest: &str) -> String {
        let bundle = tempfile::tempdir().unwrap();
        let rootfs_parent = bundle.path().join("b");
        // The layout's own names (`repo:tag`) are not valid umoci tags, so
        // give this manifest a plain tag in a copy of index.json.
        let tag = "kiln-test";
        let scratch = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", self.0.display()))
                .arg(scratch.path()),
        );
        let mut index = self.index();
        index["manifests"] = serde_json::json!([{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": std::fs::metadata(self.0.join("blobs/sha256").join(manifest_digest.trim_start_matches("sha256:"))).unwrap().len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }]);
        std::fs::write(scratch.path().join("index.json"), index.to_string()).unwrap();
        run_ok(
            Command::new("umoci")
                .args(["unpack", "--image"])
                .arg(format!("{}:{tag}", scratch.path().display()))
                .arg(&rootfs_parent),
        );
        let config = self.json(
            self.json(manifest_digest)["config"]["digest"]
                .as_str()
                .unwrap(),
        );
        let entrypoint: Vec<String> =
            serde_json::from_value(config["config"]["Entrypoint"].clone()).unwrap();
        let env: Vec<String> = serde_json::from_value(config["config"]["Env"].clone()).unwrap();
        let mut cmd = Command::new("chroot");
        cmd.arg(rootfs_parent.join("rootfs"))
            .args(&entrypoint)
            .env_clear();
        for kv in env {
            let (k, v) = kv.split_once('=').unwrap();
            cmd.env(k, v);
        }
        run_ok(&mut cmd)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// `name:tag@sha256:…` → the digest.
pub fn digest_of(reference: &str) -> &str {
    reference.rsplit_once('@').unwrap().1
}

/// The ELF machine of a binary (62 = x86-64, 183 = AArch64), from its header.
pub fn elf_machine(bytes: &[u8]) -> u16 {
    assert_eq!(&bytes[..4], b"\x7fELF");
    u16::from_le_bytes([bytes[18], bytes[19]])
}

/// A file's content from a gzipped layer blob, read with the system `tar`.
pub fn file_in_layer(layout: &Layout, layer_digest: &str, path: &str) -> Vec<u8> {
    let blob = layout
        .0
        .join("blobs/sha256")
        .join(layer_digest.trim_start_matches("sha256:"));
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(blob)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{path} in {layer_digest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Copies a pushed image into an OCI layout with skopeo, so it can be unpacked and run.
pub fn pull(reference: &str) -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    // skopeo takes `name:tag` or `name@digest`, not both: pull by digest when there is one.
    let source = match reference.split_once('@') {
        Some((name, digest)) => format!("{}@{digest}", strip_tag(name)),
        None => reference.to_owned(),
    };
    // umoci only unpacks OCI-typed images: convert Docker-typed ones on the way.
    run_ok(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--format", "oci"])
            .arg(format!("docker://{source}"))
            .arg(format!("oci:{}:pulled", dir.path().display())),
    );
    let layout = Layout(dir.path().to_owned());
    (dir, layout)
}

/// `host:port/repo:tag` → `host:port/repo`.
pub fn strip_tag(name: &str) -> &str {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    }
}
