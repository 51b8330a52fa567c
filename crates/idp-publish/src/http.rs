//! The one way idp builds an HTTPS client for outgoing calls (storage, readback, token
//! exchange): https only, redirects never followed (Entra does not follow them either),
//! bounded timeouts, and the system roots plus any CAs given with `--ca-cert`.

use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// Why the HTTPS client cannot be built.
#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot read the CA file {path}")]
    ReadCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: PathBuf },
    #[error("{path} has a certificate that cannot be used")]
    BadCertificate {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot build the HTTPS client")]
    Build(#[source] reqwest::Error),
}

/// Extra trusted CAs, read from PEM files (each may hold several certificates).
#[derive(Debug, Clone, Default)]
pub struct ExtraRoots(Vec<reqwest::Certificate>);

impl ExtraRoots {
    /// Reads every certificate of every file.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self, HttpError> {
        let mut certs = Vec::new();
        for path in paths {
            certs.extend(Self::read_one(path)?);
        }
        Ok(Self(certs))
    }

    fn read_one(path: &Path) -> Result<Vec<reqwest::Certificate>, HttpError> {
        let pem = std::fs::read(path).map_err(|source| HttpError::ReadCa {
            path: path.to_owned(),
            source,
        })?;
        if !pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(HttpError::NoCertificate {
                path: path.to_owned(),
            });
        }
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| HttpError::BadCertificate {
            path: path.to_owned(),
            source,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Timeouts of one client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// Makes rustls's process-wide crypto provider ring (idp builds rustls with ring only).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTPS-only client trusting the system roots and `extra`.
pub fn client(extra: &ExtraRoots, timeouts: Timeouts) -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .user_agent(concat!("idp/", env!("CARGO_PKG_VERSION")))
        .tls_certs_merge(extra.0.iter().cloned())
        .build()
        .map_err(HttpError::Build)
}
