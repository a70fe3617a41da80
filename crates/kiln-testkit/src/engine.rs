//! A real Docker-compatible engine for tests: Debian's `podman system service` on a
//! temporary unix socket, with its own storage (`vfs`), run root and configuration, so it
//! needs no system setup and leaves nothing behind; the `docker` CLI (client only) as the
//! independent reader; and a loopback TLS front (`socat`) for TCP+TLS endpoints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::process::run;
use crate::tls_front::{Stopped, TlsFront};

/// A `podman system service` serving the Docker Engine API; stopped when dropped, and
/// its storage (vfs: plain directories) goes with the temporary directory.
pub struct Podman {
    dir: tempfile::TempDir,
    socket: PathBuf,
    _child: Stopped,
}

/// Whether podman, the docker CLI and socat are installed.
pub fn engine_tools_available() -> bool {
    ["podman", "docker", "socat"].iter().all(|t| on_path(t))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

impl Podman {
    pub fn start() -> Podman {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).expect("conf dir");
        // Accept any image, search no registry, and need neither systemd nor journald.
        std::fs::write(
            conf.join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("policy.json");
        std::fs::write(
            conf.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .expect("registries.conf");
        // The event log is this engine's own (podman's default file is shared by all).
        std::fs::write(
            conf.join("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"{}\"\n",
                dir.path().join("events.log").display()
            ),
        )
        .expect("containers.conf");
        let socket = dir.path().join("podman.sock");
        let log = std::fs::File::create(dir.path().join("podman.log")).expect("log file");
        let child = Command::new("podman")
            .args(Self::global_args(dir.path()))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .envs(Self::config_env(dir.path()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("starting podman system service (is podman installed?)");
        let podman = Podman {
            dir,
            socket,
            _child: Stopped(child),
        };
        podman.wait_ready();
        podman
    }

    fn global_args(dir: &Path) -> Vec<String> {
        vec![
            format!("--root={}", dir.join("root").display()),
            format!("--runroot={}", dir.join("run").display()),
            "--storage-driver=vfs".to_owned(),
            "--cgroup-manager=cgroupfs".to_owned(),
            "--events-backend=file".to_owned(),
        ]
    }

    fn config_env(dir: &Path) -> Vec<(String, PathBuf)> {
        let conf = dir.join("conf");
        vec![
            ("CONTAINERS_CONF".into(), conf.join("containers.conf")),
            (
                "CONTAINERS_REGISTRIES_CONF".into(),
                conf.join("registries.conf"),
            ),
            ("CONTAINERS_POLICY_JSON".into(), conf.join("policy.json")),
            ("XDG_RUNTIME_DIR".into(), dir.join("xdg")),
        ]
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.socket.exists() && self.docker(&["version"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "podman did not serve {} within 30 s:\n{}",
            self.socket.display(),
            std::fs::read_to_string(self.dir.path().join("podman.log")).unwrap_or_default()
        );
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `unix:///…/podman.sock`, a `DOCKER_HOST` value.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The `docker` CLI against this engine (and no other configuration).
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .arg("-H")
            .arg(self.docker_host())
            .args(args);
        run(cmd, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `docker image inspect --format FORMAT NAME`, or `None` when the engine lacks it.
    pub fn inspect(&self, name: &str, format: &str) -> Option<String> {
        let out = self.docker(&["image", "inspect", "--format", format, name]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// How many archives the engine has loaded, from its own event log, once it records
    /// at least `expected` (podman appends events after answering, so this waits up to
    /// 10 s for them).
    pub fn load_count(&self, expected: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let count = self.recorded_loads();
            if count >= expected || Instant::now() > deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn recorded_loads(&self) -> usize {
        let mut cmd = Command::new("podman");
        cmd.args(Self::global_args(self.dir.path()))
            .envs(Self::config_env(self.dir.path()))
            .args(["events", "--stream=false", "--format", "{{.Status}}"]);
        let out = run(cmd, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "podman events: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|status| status.starts_with("load"))
            .count()
    }

    /// A socket in front of the engine's that records every request line passing through
    /// (`socat -v`); dropped with the returned guard.
    pub fn recording_front(&self) -> RecordingFront {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("front.sock");
        let log = dir.path().join("traffic.log");
        let child = Command::new("socat")
            .arg("-v")
            .arg(format!("UNIX-LISTEN:{},fork", socket.display()))
            .arg(format!("UNIX-CONNECT:{}", self.socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("traffic log"))
            .spawn()
            .expect("starting socat (is it installed?)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "socat did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        RecordingFront {
            _dir: dir,
            socket,
            log,
            _child: Stopped(child),
        }
    }

    /// A TLS endpoint in front of the socket, requiring a client certificate from the
    /// same CA; dropped with the returned guard.
    pub fn tls_front(&self) -> TlsFront {
        TlsFront::start(&format!("UNIX-CONNECT:{}", self.socket.display()), true)
    }
}

/// A recording proxy in front of an engine socket ([`Podman::recording_front`]).
pub struct RecordingFront {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    log: PathBuf,
    _child: Stopped,
}

impl RecordingFront {
    /// `unix:///…`, a `DOCKER_HOST` value.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Every request line sent so far (`GET /version HTTP/1.1`, …), in order.
    pub fn requests(&self) -> Vec<String> {
        let text = std::fs::read(&self.log).expect("traffic log");
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| {
                ["GET /", "POST /", "HEAD /", "PUT /", "DELETE /"]
                    .iter()
                    .any(|m| l.starts_with(m))
            })
            .map(|l| l.trim_end_matches("\\r").trim_end_matches('\r').to_owned())
            .collect()
    }
}
