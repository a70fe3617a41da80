//! The client against a real engine (podman's Docker API service), checked with the
//! `docker` CLI.

use std::path::PathBuf;

use bytes::Bytes;
use kiln_engine::{Endpoint, Engine, Error, Host};
use kiln_testkit::{Podman, engine_tools_available};

fn engine(socket: PathBuf) -> Engine {
    Engine::new(Endpoint {
        host: Host::Unix(socket),
        origin: "the test's podman".into(),
    })
    .unwrap()
}

fn podman() -> Podman {
    assert!(
        engine_tools_available(),
        "podman, socat and the docker CLI are needed (scripts/test.sh installs them)"
    );
    Podman::start()
}

#[tokio::test]
async fn the_platform_and_a_missing_image_come_from_the_engine() {
    let podman = podman();
    let engine = engine(podman.socket().to_owned());
    let platform = engine.platform().await.unwrap();
    let out = podman.docker(&["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"]);
    assert_eq!(
        format!("{}/{}", platform.os, platform.arch),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let absent = format!("sha256:{}", "0".repeat(64));
    assert_eq!(engine.image_tags(&absent).await.unwrap(), None);
}

#[tokio::test]
async fn an_archive_the_engine_refuses_comes_back_with_its_message_verbatim() {
    let podman = podman();
    let engine = engine(podman.socket().to_owned());
    let garbage = Bytes::from_static(b"this is not a docker-save archive\n");
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(garbage.clone())]);
    let err = engine.load(body).await.unwrap_err();
    let Error::Refused { message, .. } = &err else {
        panic!("{err:?}")
    };
    // The docker CLI, given the same bytes, shows the engine's same message.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garbage.tar");
    std::fs::write(&file, &garbage).unwrap();
    let out = podman.docker(&["load", "-i", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let cli = String::from_utf8_lossy(&out.stderr);
    // The engine names its own temporary files, so compare the lines that do not.
    let stable: Vec<&str> = message
        .lines()
        .filter(|line| !line.contains("/var/tmp/") && !line.trim().is_empty())
        .collect();
    assert!(stable.len() >= 2, "{message}");
    for line in stable {
        assert!(cli.contains(line), "kiln: {message}\ndocker: {cli}");
    }
    assert!(err.to_string().contains(message.as_str()));
}
