//! Certificates for the TLS registry and the token issuer, generated with rcgen (pure Rust,
//! ring backend, which kiln already links for rustls) instead of the openssl CLI, so the
//! fixtures need no extra tool and run fast.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A private CA and a separate leaf for `127.0.0.1`/`localhost` (rustls rejects a CA
/// certificate used as a server certificate), written as PEM files.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The CA certificate alone (what `SSL_CERT_FILE` or `certs.d/<host>/ca.crt` should hold).
    pub ca_cert: PathBuf,
    /// A directory holding only `ca.crt` (for `skopeo --cert-dir`).
    pub ca_dir: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate from the same CA, for servers that require one.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsMaterial {
    pub fn generate(dir: &Path) -> TlsMaterial {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kiln-testkit CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("leaf params");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "kiln-testkit registry");
        leaf_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca)
            .expect("leaf certificate");

        let client_key = KeyPair::generate().expect("client key");
        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).expect("client params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "kiln-testkit client");
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params
            .signed_by(&client_key, &ca)
            .expect("client certificate");

        let ca_dir = dir.join("ca");
        std::fs::create_dir_all(&ca_dir).expect("creating CA dir");
        let m = TlsMaterial {
            ca_cert: dir.join("ca.crt"),
            ca_dir: ca_dir.clone(),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        };
        std::fs::write(&m.client_cert, client.pem()).expect("writing client cert");
        std::fs::write(&m.client_key, client_key.serialize_pem()).expect("writing client key");
        std::fs::write(&m.ca_cert, ca.pem()).expect("writing CA");
        std::fs::write(ca_dir.join("ca.crt"), ca.pem()).expect("writing CA");
        // The server presents its chain: leaf then CA.
        std::fs::write(&m.server_cert, format!("{}{}", leaf.pem(), ca.pem()))
            .expect("writing cert");
        std::fs::write(&m.server_key, leaf_key.serialize_pem()).expect("writing key");
        m
    }
}

/// The token issuer's signing identity: a self-signed P-256 certificate (the registry's
/// `rootcertbundle`, and the JWT `x5c` header) and its PKCS#8 key for ring.
pub(crate) struct SigningIdentity {
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    pub pkcs8: Vec<u8>,
}

impl SigningIdentity {
    pub fn generate() -> SigningIdentity {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("signing key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "kiln-testkit token issuer");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).expect("signing certificate");
        SigningIdentity {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            pkcs8: key.serialize_der(),
        }
    }
}
