//! Certificates for local HTTPS: a throw-away CA and a server certificate signed by it,
//! made with rcgen. Clients trust the CA (`ca.pem`); the server presents the certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::time::Duration;
use time::OffsetDateTime;

/// How long a made-up certificate is valid.
pub const VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);

/// A CA certificate and a server certificate with its key, all PEM.
pub struct LocalCa {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Makes a CA and a server certificate for `hosts` (DNS names or IP addresses), valid from
/// an hour ago for [`VALIDITY`].
pub fn local_ca(hosts: &[String]) -> Result<LocalCa, rcgen::Error> {
    let now = OffsetDateTime::now_utc();
    let not_before = now - time::Duration::hours(1);
    let not_after = now + VALIDITY;

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "idp local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(hosts.to_vec())?;
    server.distinguished_name.push(
        DnType::CommonName,
        hosts.first().map_or("localhost", String::as_str),
    );
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.not_before = not_before;
    server.not_after = not_after;
    let cert = server.signed_by(&key, &issuer)?;
    Ok(LocalCa {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Where a listener's HTTPS certificate and key come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// PEM files the user gave (`--tls-cert`, `--tls-key`).
    Files {
        cert: &'a std::path::Path,
        key: &'a std::path::Path,
    },
    /// A new local CA and a server certificate, written to `dir` (`ca.pem` for clients,
    /// `server.pem`, `server.key` 0600), valid for localhost, 127.0.0.1, ::1 and `host`.
    SelfSigned {
        dir: &'a std::path::Path,
        host: Option<&'a str>,
    },
}

/// The material, and for a self-signed one where its CA is and whom it is valid for.
#[derive(Debug)]
pub struct Material {
    pub pem: crate::listen::Pem,
    /// `DIR/ca.pem` and the hosts, for a self-signed certificate.
    pub made: Option<(std::path::PathBuf, Vec<String>)>,
}

/// Why there is no HTTPS material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {}", dir.display())]
    Folder {
        dir: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the local certificates")]
    Make(#[source] rcgen::Error),
    #[error(transparent)]
    Write(#[from] idp_core::fsutil::WriteError),
}

impl idp_core::diagnostic::Diagnostic for TlsError {
    fn hint(&self) -> Option<String> {
        match self {
            TlsError::Read { .. } => Some("check the --tls-cert and --tls-key paths".into()),
            TlsError::Folder { .. } => {
                Some("give --self-signed a folder idp may create and write".into())
            }
            TlsError::Make(_) => None,
            TlsError::Write(e) => e.hint(),
        }
    }

    fn is_usage(&self) -> bool {
        match self {
            TlsError::Read { .. } | TlsError::Folder { .. } => true,
            TlsError::Make(_) => false,
            TlsError::Write(e) => e.is_usage(),
        }
    }
}

/// Reads the certificate and key, or makes them for a self-signed source.
pub fn material(source: Source<'_>) -> Result<Material, TlsError> {
    use idp_core::fsutil::{Overwrite, write_atomic};
    match source {
        Source::Files { cert, key } => {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|source| TlsError::Read {
                    path: p.to_owned(),
                    source,
                })
            };
            Ok(Material {
                pem: crate::listen::Pem {
                    cert: read(cert)?,
                    key: read(key)?,
                },
                made: None,
            })
        }
        Source::SelfSigned { dir, host } => {
            let mut hosts = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            if let Some(host) = host {
                let host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                if !hosts.contains(&host) {
                    hosts.insert(0, host);
                }
            }
            let ca = local_ca(&hosts).map_err(TlsError::Make)?;
            std::fs::create_dir_all(dir).map_err(|source| TlsError::Folder {
                dir: dir.to_owned(),
                source,
            })?;
            let ca_path = dir.join("ca.pem");
            write_atomic(&ca_path, ca.ca_pem.as_bytes(), 0o644, Overwrite::Replace)?;
            write_atomic(
                &dir.join("server.pem"),
                ca.cert_pem.as_bytes(),
                0o644,
                Overwrite::Replace,
            )?;
            write_atomic(
                &dir.join("server.key"),
                ca.key_pem.as_bytes(),
                0o600,
                Overwrite::Replace,
            )?;
            Ok(Material {
                pem: crate::listen::Pem {
                    cert: ca.cert_pem.into_bytes(),
                    key: ca.key_pem.into_bytes(),
                },
                made: Some((ca_path, hosts)),
            })
        }
    }
}
