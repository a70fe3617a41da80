//! Basic (htpasswd) and token auth, credentials from docker config and credential helpers,
//! and the guarantee that secrets never show up in errors, Debug output or logs.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use kiln_core::media_type::OCI_MANIFEST;
use kiln_registry::{AuthInfo, BlobPush, BlobUpload, Error, Op};
use kiln_testkit::{Registry, RegistryKind};

use crate::common::*;

const PASSWORD: &str = "s3cret-Pa55word";

/// Captured tracing output (TRACE, all crates).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} contains a secret ({s}):\n{text}");
    }
}

#[tokio::test]
async fn htpasswd_with_docker_config_credentials_and_no_secret_anywhere() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Global, not scoped: a scoped dispatcher can miss events whose callsite interest other
    // test threads cached first (under `cargo test`). Only this test installs one; events
    // of other tests in the same process are captured too, which only widens the check.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    let reg = Registry::start(RegistryKind::htpasswd("alice", PASSWORD));
    let tmp = tempfile::tempdir().unwrap();
    let docker = tmp.path().join("docker");
    reg.write_docker_config(&docker, "alice", PASSWORD);
    let client = client(options(
        tmp.path(),
        &[("DOCKER_CONFIG", docker.as_os_str())],
    ));
    let img = TestImage::new(tmp.path(), 10, 4096, "amd64");
    let r = reference(&reg.reference("private/app:v1"));
    let digest = img.push(&client, &r).await;
    assert_eq!(client.get_manifest(&r, &[]).await.unwrap().digest, digest);
    assert_eq!(
        reg.skopeo()
            .inspect_raw_bytes(&reg.reference("private/app:v1"))
            .unwrap(),
        img.manifest
    );

    // Wrong password in the config: a clear 401 naming user and file, never the password.
    let bad_dir = tmp.path().join("bad");
    let wrong = "wrong-Pa55word";
    let cfg = reg.write_docker_config(&bad_dir, "alice", wrong);
    let bad = crate::common::client(options(
        tmp.path(),
        &[("DOCKER_CONFIG", bad_dir.as_os_str())],
    ));
    let err = bad.get_manifest(&r, &[]).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            &err,
            Error::Unauthorized {
                status: 401,
                auth: AuthInfo::Rejected { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.contains("alice")
            && msg.contains(&cfg.display().to_string())
            && msg.contains(&reg.host()),
        "{msg}"
    );

    // No credentials at all: says so, and where it looked.
    let anon = crate::common::client(options(tmp.path(), &[]));
    let err2 = anon
        .push_blob(&r, &BlobUpload::from_bytes(b"x".to_vec()), None)
        .await
        .unwrap_err();
    let msg2 = err2.to_string();
    assert!(
        matches!(
            &err2,
            Error::Unauthorized {
                auth: AuthInfo::NoCredentials { .. },
                ..
            }
        ),
        "{err2:?}"
    );
    assert!(
        msg2.contains("no credentials") && msg2.contains(".docker/config.json"),
        "{msg2}"
    );

    // The secrets, in every form they travel in.
    let b64 =
        |u: &str, p: &str| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
    let secrets = [
        PASSWORD,
        wrong,
        &b64("alice", PASSWORD),
        &b64("alice", wrong),
    ];
    assert_no_secret(
        "error",
        &format!("{msg}\n{err:?}\n{msg2}\n{err2:?}"),
        &secrets,
    );
    assert_no_secret("client Debug", &format!("{client:?}\n{bad:?}"), &secrets);
    let logs = captured.text();
    assert!(
        logs.contains("registry request"),
        "tracing was captured: {logs}"
    );
    assert_no_secret("tracing output", &logs, &secrets);
}

#[tokio::test]
async fn credential_helper_on_the_env_path() {
    let reg = Registry::start(RegistryKind::htpasswd("helper-user", PASSWORD));
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    let seen = tmp.path().join("helper-saw");
    script(
        &bin.join("docker-credential-kilntest"),
        &format!(
            r#"[ "$1" = get ] || exit 1
read server || true
printf '%s' "$server" > '{}'
printf '{{"ServerURL":"%s","Username":"helper-user","Secret":"{PASSWORD}"}}' "$server""#,
            seen.display()
        ),
    );
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "kilntest"}}}}"#, reg.host()),
    )
    .unwrap();
    let path = path_with(&bin);
    let client = client(options(
        tmp.path(),
        &[
            ("DOCKER_CONFIG", docker.as_os_str()),
            ("PATH", path.as_os_str()),
        ],
    ));
    let r = reference(&reg.reference("helped/app"));
    let blob = BlobUpload::from_bytes(noise(11, 5000));
    assert_eq!(
        client.push_blob(&r, &blob, None).await.unwrap(),
        BlobPush::Uploaded
    );
    // The helper was asked with the registry host, docker's key for it.
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), reg.host());

    // A helper that is configured but missing is an error that names it.
    let empty_bin = tmp.path().join("empty");
    std::fs::create_dir_all(&empty_bin).unwrap();
    let path = path_with(&empty_bin);
    let missing = crate::common::client(options(
        tmp.path(),
        &[
            ("DOCKER_CONFIG", docker.as_os_str()),
            ("PATH", path.as_os_str()),
        ],
    ));
    let err = missing
        .push_blob(&r, &BlobUpload::from_bytes(b"y".to_vec()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Credentials { .. })
            && err.to_string().contains("docker-credential-kilntest"),
        "{err}"
    );
}

#[tokio::test]
async fn token_auth_with_multi_scope_mount() {
    let reg = Registry::start(RegistryKind::token("tokuser", PASSWORD));
    let tmp = tempfile::tempdir().unwrap();
    let docker = tmp.path().join("docker");
    reg.write_docker_config(&docker, "tokuser", PASSWORD);
    let client = client(options(
        tmp.path(),
        &[("DOCKER_CONFIG", docker.as_os_str())],
    ));
    let img = TestImage::new(tmp.path(), 12, 8192, "amd64");
    let src = reference(&reg.reference("base/img:v1"));
    img.push(&client, &src).await;

    // Mount into another repository: one token for both scopes, then 201.
    let dst = reference(&reg.reference("apps/svc:v1"));
    assert_eq!(
        client
            .push_blob(&dst, &img.layer, Some(&src))
            .await
            .unwrap(),
        BlobPush::Mounted
    );
    let mount_posts = reg.requests("POST", "/v2/apps/svc/blobs/uploads/?mount=");
    assert_eq!(
        mount_posts.iter().map(|e| e.status).collect::<Vec<_>>(),
        [201],
        "{:#?}",
        reg.access_log()
    );
    let reqs = reg.token_requests();
    assert!(
        reqs.iter().any(|t| t.status == 200
            && t.account.as_deref() == Some("tokuser")
            && t.scopes
                .contains(&"repository:apps/svc:pull,push".to_owned())
            && t.scopes.contains(&"repository:base/img:pull".to_owned())),
        "{reqs:#?}"
    );
    assert!(reqs.iter().all(|t| t.grant == "basic"), "{reqs:#?}");
    // Tokens are cached per scope set: the whole first image push needed one token.
    let push_scope = reqs
        .iter()
        .filter(|t| t.scopes == ["repository:base/img:pull,push"])
        .count();
    assert_eq!(push_scope, 1, "{reqs:#?}");

    img.push(&client, &dst).await;
    assert_eq!(
        reg.skopeo()
            .inspect_raw_bytes(&reg.reference("apps/svc:v1"))
            .unwrap(),
        img.manifest
    );
    assert_eq!(
        client.get_manifest(&dst, &[]).await.unwrap().bytes,
        img.manifest
    );

    // Bad password: the token service refuses, and the error says so without the secret.
    let bad_dir = tmp.path().join("bad");
    reg.write_docker_config(&bad_dir, "tokuser", "nope-nope");
    let bad = crate::common::client(options(
        tmp.path(),
        &[("DOCKER_CONFIG", bad_dir.as_os_str())],
    ));
    let err = bad.get_manifest(&dst, &[]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized { status: 401, ctx, .. } if ctx.op == Op::Token),
        "{err:?}"
    );
    assert!(!err.to_string().contains("nope-nope") && !format!("{err:?}").contains("nope-nope"));

    // Anonymous: a token without access, so the registry answers 401.
    let anon = crate::common::client(options(tmp.path(), &[]));
    let err = anon.get_manifest(&dst, &[]).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Unauthorized {
                auth: AuthInfo::NoCredentials { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn identity_token_from_a_helper_uses_the_refresh_token_grant() {
    let reg = Registry::start(RegistryKind::token("tokuser", PASSWORD));
    let refresh = reg.refresh_token().unwrap().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    script(
        &bin.join("docker-credential-kilnstore"),
        &format!(r#"cat >/dev/null; printf '{{"Username":"<token>","Secret":"{refresh}"}}'"#),
    );
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let mut f = std::fs::File::create(docker.join("config.json")).unwrap();
    write!(f, r#"{{"credsStore": "kilnstore"}}"#).unwrap();
    let path = path_with(&bin);
    let client = client(options(
        tmp.path(),
        &[
            ("DOCKER_CONFIG", docker.as_os_str()),
            ("PATH", path.as_os_str()),
        ],
    ));
    let r = reference(&reg.reference("oauth/app:v1"));
    let img = TestImage::new(tmp.path(), 13, 1000, "amd64");
    img.push(&client, &r).await;
    let reqs = reg.token_requests();
    assert!(
        !reqs.is_empty()
            && reqs
                .iter()
                .all(|t| t.method == "POST" && t.grant == "refresh_token" && t.status == 200),
        "{reqs:#?}"
    );
    assert_no_secret("client Debug", &format!("{client:?}"), &[&refresh]);
    let m = client.get_manifest(&r, &[OCI_MANIFEST]).await.unwrap();
    assert_eq!(m.bytes, img.manifest);
}
