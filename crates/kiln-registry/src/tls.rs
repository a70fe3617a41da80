//! TLS: trust roots per registry, insecure mode, and telling certificate failures apart
//! from "that port speaks plain HTTP" (ko-skaffold-facts.md §4.3).
//!
//! Trusted, for `host[:port]`: the system roots, `$SSL_CERT_FILE`, and every `*.crt` in
//! `<certs_dir>/<host[:port]>/` (the Docker and containers `certs.d` convention).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, find_rustls_error};

/// Installs ring as the process-wide rustls provider once; "already installed" is fine
/// (the binary may have installed one itself).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Arc::new(rustls::crypto::ring::default_provider())
        })
        .clone()
}

/// The operating system's roots, loaded once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let result = rustls_native_certs::load_native_certs();
        for e in &result.errors {
            tracing::debug!(error = %e, "skipping unreadable system certificate");
        }
        result.certs
    })
}

/// PEM certificates from one file.
fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
    iter.collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The extra CA files for `registry`: `SSL_CERT_FILE` and `certs.d/<registry>/*.crt`.
pub(crate) fn extra_ca_files(
    registry: &str,
    ssl_cert_file: Option<PathBuf>,
    certs_dirs: &[PathBuf],
) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ssl_cert_file.into_iter().collect();
    for dir in certs_dirs {
        let Ok(entries) = std::fs::read_dir(dir.join(registry)) else {
            continue;
        };
        let mut crts: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "crt"))
            .collect();
        crts.sort();
        files.extend(crts);
    }
    files
}

/// The rustls configuration for one registry.
pub(crate) fn client_config(
    registry: &str,
    skip_verify: bool,
    ca_files: &[PathBuf],
) -> Result<rustls::ClientConfig, Error> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup: {e}")))?;
    let mut config = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
        tracing::trace!(added, ignored, "system roots");
        for file in ca_files {
            let certs = pem_certs(file).map_err(|e| {
                Error::Config(format!("reading CA certificates for {registry}: {e}"))
            })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            tracing::debug!(registry, file = %file.display(), added, "extra CA certificates");
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// `--insecure-registry`: accept any certificate, but still check handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The certificate failure in `e`, if that is what it is.
pub(crate) fn certificate_problem(e: &reqwest::Error) -> Option<String> {
    match find_rustls_error(e)? {
        r @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
            Some(r.to_string())
        }
        _ => None,
    }
}

/// `localhost`, `*.localhost`, `127.*`, `::1` and `*.local`: registries that may be plain HTTP
/// without being listed as insecure (ggcr's rule, minus RFC 1918 ranges).
pub(crate) fn is_local(registry: &str) -> bool {
    let host = host_of(registry);
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// `host` of `host[:port]` / `[v6]:port`.
pub(crate) fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => registry,
    }
}

/// Skaffold's rule: a registry is insecure when any listed entry is a plain string prefix
/// of it (so `localhost:5000` also matches `localhost:50001`).
pub(crate) fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    insecure.iter().any(|i| {
        let i = i
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        !i.is_empty() && registry.starts_with(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts() {
        for h in [
            "localhost:5000",
            "127.0.0.1:1",
            "127.8.9.1",
            "[::1]:5000",
            "a.localhost",
            "reg.local:80",
            "LOCALHOST",
        ] {
            assert!(is_local(h), "{h}");
        }
        for h in [
            "10.0.0.1:5000",
            "example.com",
            "localhost.example.com",
            "gcr.io",
            "[::2]:1",
        ] {
            assert!(!is_local(h), "{h}");
        }
        assert_eq!(host_of("[::1]:5000"), "::1");
        assert_eq!(host_of("h:5000"), "h");
    }

    #[test]
    fn insecure_prefix_match() {
        let list = vec![
            "localhost:5000".to_owned(),
            "http://reg.example/".to_owned(),
        ];
        assert!(is_insecure("localhost:5000", &list));
        assert!(is_insecure("localhost:50001", &list)); // Skaffold's prefix quirk
        assert!(is_insecure("reg.example:443", &list));
        assert!(!is_insecure("other.example", &list));
        assert!(!is_insecure("x", &["".to_owned()]));
    }

    #[test]
    fn certs_d_files_are_found_per_registry() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("reg.example:5000");
        std::fs::create_dir_all(&d).unwrap();
        for f in ["ca.crt", "b.crt", "client.cert", "client.key"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        let files = extra_ca_files(
            "reg.example:5000",
            Some("/ssl.pem".into()),
            &[tmp.path().into(), "/nonexistent".into()],
        );
        assert_eq!(
            files,
            vec![PathBuf::from("/ssl.pem"), d.join("b.crt"), d.join("ca.crt")]
        );
        assert!(extra_ca_files("reg.example", None, &[tmp.path().into()]).is_empty());
    }
}
