//! Serving certificates: PEM files (reloaded when they change) and self-signed certificates
//! generated with rcgen for local use.

use std::path::Path;
use std::sync::Arc;

/// TLS errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {problem}")]
    Pem {
        /// The file (or `<memory>`).
        path: String,
        /// What is missing.
        problem: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// A certificate chain and key in PEM.
#[derive(Debug, Clone)]
pub struct PemPair {
    /// Certificate chain (leaf first).
    pub cert: String,
    /// Private key.
    pub key: String,
}

/// A generated CA and a serving certificate signed by it.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The CA certificate (PEM): the webhook configurations' `caBundle`, base64-encoded.
    pub ca_pem: String,
    /// The serving certificate and key.
    pub serving: PemPair,
}

impl SelfSigned {
    /// The `caBundle` value: the CA certificate PEM, base64-encoded.
    pub fn ca_bundle(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes())
    }
}

/// Generates a CA and a serving certificate for `names` (DNS names or IP addresses; the first
/// is also the common name). ECDSA P-256 keys.
pub fn self_signed(names: &[String]) -> Result<SelfSigned, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "palisade-admission-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("palisade-admission", String::as_str),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    Ok(SelfSigned {
        ca_pem: ca_cert.pem(),
        serving: PemPair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        },
    })
}

/// Reads a certificate and key from files.
pub fn read_pair(cert: &Path, key: &Path) -> Result<PemPair, TlsError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| TlsError::Io {
            path: p.display().to_string(),
            source,
        })
    };
    Ok(PemPair {
        cert: read(cert)?,
        key: read(key)?,
    })
}

/// A rustls server configuration (ring provider, TLS 1.2 and 1.3, ALPN `h2` and
/// `http/1.1`) for a certificate and key. `name` labels errors.
pub fn server_config(pair: &PemPair, name: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut pair.cert.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: name.into(),
            problem: format!("bad certificate PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: name.into(),
            problem: "no CERTIFICATE block found".into(),
        });
    }
    let key = rustls_pemfile::private_key(&mut pair.key.as_bytes())
        .map_err(|e| TlsError::Pem {
            path: name.into(),
            problem: format!("bad key PEM: {e}"),
        })?
        .ok_or_else(|| TlsError::Pem {
            path: name.into(),
            problem: "no PRIVATE KEY block found".into(),
        })?;
    // ring rather than aws-lc-rs: no C/CMake build; rustls marks it deprecated only because it
    // offers no post-quantum key exchange.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_loads() {
        let s = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(s.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(server_config(&s.serving, "mem").is_ok());
        assert!(!s.ca_bundle().contains('\n'));
    }

    #[test]
    fn bad_pem_is_named() {
        let e = server_config(
            &PemPair {
                cert: "nope".into(),
                key: "nope".into(),
            },
            "x.crt",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.crt") && e.contains("CERTIFICATE"), "{e}");
    }
}
