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

/// Where Linux distributions keep the system roots as one PEM bundle.
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system roots from one bundle file (`SSL_CERT_FILE`, else the distribution's), or
/// `None` to let the platform verifier find them (`SSL_CERT_DIR`, or no bundle found).
/// One file is much cheaper than the platform verifier's default, which also reads every
/// file of `/etc/ssl/certs` (about 30 ms per process on Debian): it matters to pipelines
/// running `idp token` once per customer.
fn system_roots() -> Option<Vec<reqwest::Certificate>> {
    let path = match std::env::var_os("SSL_CERT_FILE") {
        Some(p) => PathBuf::from(p),
        None if std::env::var_os("SSL_CERT_DIR").is_some() => return None,
        None => PathBuf::from(SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file())?),
    };
    let pem = std::fs::read(path).ok()?;
    reqwest::Certificate::from_pem_bundle(&pem)
        .ok()
        .filter(|c| !c.is_empty())
}

/// An HTTPS-only client trusting the system roots and `extra`.
pub fn client(extra: &ExtraRoots, timeouts: Timeouts) -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    let builder = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .user_agent(concat!("idp/", env!("CARGO_PKG_VERSION")));
    let builder = match system_roots() {
        Some(mut roots) => {
            roots.extend(extra.0.iter().cloned());
            builder.tls_certs_only(roots)
        }
        None => builder.tls_certs_merge(extra.0.iter().cloned()),
    };
    builder.build().map_err(HttpError::Build)
}

/// A client for the platform's managed-identity endpoint, and for nothing else: App
/// Service's `IDENTITY_ENDPOINT` (`http://127.0.0.1:…`) and IMDS
/// (`http://169.254.169.254`) speak plain HTTP on the machine itself, so this client allows
/// http (the HTTPS client refuses it), follows no redirects, and ignores proxies (IMDS
/// must never be reached through one, as Azure's SDKs ensure).
pub fn platform_client() -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("idp/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(HttpError::Build)
}

/// Why a response body was not read whole.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the answer broke off: {detail}")]
    Broken { detail: String },
}

/// Reads a whole response body of at most `limit` bytes. A larger one (by its
/// `Content-Length`, or as it arrives) is refused, never cut short: a truncated document
/// must not pass for the real one.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Broken { detail: chain(&e) })?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sends `request` and reads its whole answer, at most `limit` bytes ([`read_body`]): the
/// status and the body, or, when there is no answer to read, why (one line, causes
/// included).
pub async fn send_and_read(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<(u16, Vec<u8>), String> {
    let response = request.send().await.map_err(|e| chain(&e))?;
    let status = response.status().as_u16();
    let body = read_body(response, limit)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// An error and its causes on one line (`a: b: c`), for errors that name a URL but whose
/// useful part (refused, timed out, certificate unknown) is deep in the chain.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    idp_core::diagnostic::causes(e).join(": ")
}

impl idp_core::diagnostic::Diagnostic for HttpError {
    fn hint(&self) -> Option<String> {
        Some("give --ca-cert / IDP_CA_CERT a PEM file with one or more certificates".into())
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::Path as UrlPath;

    /// A loopback server: `/sized/N` answers N bytes with a Content-Length, `/streamed/N`
    /// the same bytes in 1 KiB chunks without one.
    async fn serve() -> String {
        let app = axum::Router::new()
            .route(
                "/sized/{n}",
                axum::routing::get(|UrlPath(n): UrlPath<usize>| async move { vec![b'x'; n] }),
            )
            .route(
                "/streamed/{n}",
                axum::routing::get(|UrlPath(n): UrlPath<usize>| async move {
                    let chunks = (0..n)
                        .step_by(1024)
                        .map(move |at| Ok::<_, std::io::Error>(vec![b'x'; (n - at).min(1024)]));
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_are_read_whole_and_larger_ones_refused() {
        install_crypto_provider();
        let base = serve().await;
        let client = reqwest::Client::new();
        let get = |path: String| {
            let request = client.get(format!("{base}{path}"));
            async move { request.send().await.unwrap() }
        };
        for kind in ["sized", "streamed"] {
            let limit = 4000;
            let whole = read_body(get(format!("/{kind}/{limit}")).await, limit).await;
            assert_eq!(whole.map(|b| b.len()), Ok(limit), "{kind}");
            let over = read_body(get(format!("/{kind}/{}", limit + 1)).await, limit).await;
            assert_eq!(over, Err(BodyError::TooLarge { limit }), "{kind}");
        }
    }
}
