//! skopeo as an independent oracle: what another client sees in the registry.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);

/// skopeo flags for one registry.
#[derive(Clone, Debug, Default)]
pub struct Skopeo {
    /// Verify TLS (for HTTPS registries with [`Skopeo::cert_dir`]); `false` also lets skopeo
    /// fall back to plain HTTP.
    pub tls_verify: bool,
    /// A directory of `*.crt` CA files.
    pub cert_dir: Option<PathBuf>,
    pub creds: Option<(String, String)>,
}

fn with_transport(image: &str) -> String {
    if image.contains("://")
        || image.starts_with("oci:")
        || image.starts_with("oci-archive:")
        || image.starts_with("dir:")
    {
        image.to_owned()
    } else {
        format!("docker://{image}")
    }
}

fn base_command() -> Command {
    let mut cmd = Command::new("skopeo");
    // Keep the user's auth files and registries.conf out of it.
    cmd.env("REGISTRY_AUTH_FILE", "/nonexistent/kiln-testkit-auth.json");
    cmd
}

impl Skopeo {
    fn registry_flags(&self, cmd: &mut Command, prefix: &str) {
        cmd.arg(format!("--{prefix}tls-verify={}", self.tls_verify));
        if let Some(d) = &self.cert_dir {
            cmd.arg(format!("--{prefix}cert-dir")).arg(d);
        }
        match &self.creds {
            Some((u, p)) => {
                cmd.arg(format!("--{prefix}creds")).arg(format!("{u}:{p}"));
            }
            None => {
                cmd.arg(format!("--{prefix}no-creds"));
            }
        }
    }

    /// `skopeo inspect --raw`: the manifest bytes exactly as served.
    pub fn inspect_raw_bytes(&self, image: &str) -> Result<Vec<u8>, String> {
        let image = with_transport(image);
        let mut cmd = base_command();
        cmd.args(["inspect", "--raw"]);
        if image.starts_with("docker://") {
            self.registry_flags(&mut cmd, "");
        }
        cmd.arg(&image);
        let out = crate::process::run(cmd, TIMEOUT)?;
        if !out.status.success() {
            return Err(format!(
                "skopeo inspect --raw {image}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(out.stdout)
    }

    /// `skopeo inspect --raw`, parsed.
    pub fn inspect_raw(&self, image: &str) -> Result<serde_json::Value, String> {
        let bytes = self.inspect_raw_bytes(image)?;
        serde_json::from_slice(&bytes).map_err(|e| format!("skopeo printed invalid JSON: {e}"))
    }

    /// `skopeo copy --all src dst` (`docker://` is assumed for bare references); this
    /// registry's flags apply to whichever side is `docker://`.
    pub fn copy(&self, src: &str, dst: &str) -> Result<(), String> {
        let (src, dst) = (with_transport(src), with_transport(dst));
        let mut cmd = base_command();
        cmd.args([
            "copy",
            "--insecure-policy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
        ]);
        if src.starts_with("docker://") {
            self.registry_flags(&mut cmd, "src-");
        }
        if dst.starts_with("docker://") {
            self.registry_flags(&mut cmd, "dest-");
        }
        cmd.arg(&src).arg(&dst);
        let out = crate::process::run(cmd, TIMEOUT)?;
        if !out.status.success() {
            return Err(format!(
                "skopeo copy {src} {dst}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }
}

/// `skopeo inspect --raw` without credentials.
pub fn skopeo_inspect_raw(image: &str, tls_verify: bool) -> Result<serde_json::Value, String> {
    Skopeo {
        tls_verify,
        ..Skopeo::default()
    }
    .inspect_raw(image)
}

/// `skopeo copy` without TLS verification or credentials (seeding bases into a plain registry).
pub fn skopeo_copy(src: &str, dst: &str) -> Result<(), String> {
    Skopeo::default().copy(src, dst)
}
