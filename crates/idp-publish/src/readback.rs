//! Fetching an issuer's documents anonymously over HTTPS, the way Entra does: the
//! discovery document at `{issuer}/.well-known/openid-configuration`, then the JWKS at its
//! `jwks_uri`, redirects not followed. Used after a publish (readback) and by `--check`.

use crate::storage;
use idp_core::Issuer;
use thiserror::Error;

use crate::MAX_DOCUMENT_BYTES as MAX_BODY;

/// One fetched document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub url: String,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

/// Both documents as Entra would see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub discovery: Fetched,
    pub jwks: Fetched,
}

impl Published {
    /// How both documents differ from the rendered ones, discovery first.
    pub fn compare(&self, docs: &idp_core::metadata::Documents) -> Vec<Mismatch> {
        let mut out = compare(&self.discovery, &docs.discovery);
        out.extend(compare(&self.jwks, &docs.jwks));
        out
    }
}

/// Why a document could not be fetched anonymously.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} answered {status} to an anonymous request: {cause}")]
    Status {
        url: String,
        status: u16,
        /// Azure Storage's `x-ms-error-code`, when it sent one.
        code: Option<String>,
        cause: &'static str,
    },
    #[error(
        "{url} redirects to {location}; Entra does not follow redirects, so publish at the issuer URL itself"
    )]
    Redirect { url: String, location: String },
    #[error("{url} is larger than {MAX_BODY} bytes")]
    TooLarge { url: String },
    #[error("{url} is not a discovery document with a `jwks_uri`: {detail}")]
    NotDiscovery { url: String, detail: String },
}

impl idp_core::diagnostic::Diagnostic for FetchError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            FetchError::Unreachable { .. } => "check that the issuer URL is reachable from here (and, for a private CA, --ca-cert / IDP_CA_CERT); Entra fetches it from the internet".into(),
            FetchError::Status { status: 404, .. } => "publish the documents first (`idp publish-metadata`), and check that the container allows anonymous read".into(),
            FetchError::Status { .. } => "the issuer's documents must be readable anonymously over HTTPS, as Entra reads them".into(),
            FetchError::Redirect { .. } => "serve the documents at the issuer URL itself".into(),
            FetchError::TooLarge { .. } | FetchError::NotDiscovery { .. } => "publish the documents idp renders (`idp publish-metadata`)".into(),
        })
    }
}

impl FetchError {
    /// True when nothing is published there yet (404 or, on Azurite, a private container).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::Status { status: 404, .. })
    }

    /// True when the storage account refuses every anonymous request
    /// (`allowBlobPublicAccess: false`): Azure answers `409` with the error code
    /// `PublicAccessNotPermitted`. Only the code counts: a bare 409 from a CDN or proxy in
    /// front of storage says nothing about the account.
    pub fn is_public_access_forbidden(&self) -> bool {
        matches!(self, FetchError::Status { code: Some(c), .. } if c == storage::PUBLIC_ACCESS_NOT_PERMITTED)
    }
}

fn cause_of(status: u16, code: Option<&str>) -> &'static str {
    if code == Some(storage::PUBLIC_ACCESS_NOT_PERMITTED) {
        return "the storage account forbids public access (allowBlobPublicAccess is false)";
    }
    match status {
        401 | 403 => {
            "the container does not allow anonymous read (set its public access to `blob`, or allow blob public access on the account, or use the $web static website)"
        }
        404 => {
            "no such document (not published yet, or the container is private: Azure answers 404 to anonymous reads of private containers)"
        }
        _ => "the server refused the request",
    }
}

/// GETs one URL without credentials.
pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<Fetched, FetchError> {
    let unreachable = |e: reqwest::Error| FetchError::Unreachable {
        url: url.to_owned(),
        detail: idp_http::chain(&e),
    };
    let response = client.get(url).send().await.map_err(unreachable)?;
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if status.is_redirection() {
        return Err(FetchError::Redirect {
            url: url.to_owned(),
            location: header("location")
                .map(|l| crate::sas::redact(&l))
                .unwrap_or_else(|| "(no Location)".into()),
        });
    }
    if !status.is_success() {
        let code = header("x-ms-error-code").map(|c| crate::sas::redact(&c));
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            cause: cause_of(status.as_u16(), code.as_deref()),
            code,
        });
    }
    let content_type = header("content-type");
    let cache_control = header("cache-control");
    let bytes = idp_http::read_body(response, MAX_BODY)
        .await
        .map_err(|e| match e {
            idp_http::BodyError::TooLarge { .. } => FetchError::TooLarge {
                url: url.to_owned(),
            },
            idp_http::BodyError::Broken { detail } => FetchError::Unreachable {
                url: url.to_owned(),
                detail,
            },
        })?;
    Ok(Fetched {
        url: url.to_owned(),
        bytes,
        content_type,
        cache_control,
    })
}

/// The discovery document, then the JWKS its `jwks_uri` names.
pub async fn fetch_published(
    client: &reqwest::Client,
    issuer: &Issuer,
) -> Result<Published, FetchError> {
    let discovery = fetch(client, &issuer.discovery_url()).await?;
    let jwks_uri = jwks_uri_of(&discovery)?;
    let jwks = fetch(client, &jwks_uri).await?;
    Ok(Published { discovery, jwks })
}

/// The `jwks_uri` a fetched discovery document names.
pub fn jwks_uri_of(discovery: &Fetched) -> Result<String, FetchError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        jwks_uri: String,
    }
    serde_json::from_slice::<Doc>(&discovery.bytes)
        .map(|d| d.jwks_uri)
        .map_err(|e| FetchError::NotDiscovery {
            url: discovery.url.clone(),
            detail: e.to_string(),
        })
}

/// How a fetched document differs from what was rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Different bytes: a cache (CDN, browser-style proxy) still serves an older copy, or
    /// another publisher wrote after this one.
    Bytes { url: String },
    /// Right bytes, but not served as JSON.
    ContentType { url: String, got: Option<String> },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Bytes { url } => write!(
                f,
                "{url} serves other bytes than were rendered: a cache in front of storage still serves an older copy (wait for its max-age), or another publisher wrote after this one"
            ),
            Mismatch::ContentType { url, got } => write!(
                f,
                "{url} is served as `{}`, not application/json",
                got.as_deref().unwrap_or("(none)")
            ),
        }
    }
}

/// Compares a fetched document with the rendered bytes.
pub fn compare(fetched: &Fetched, rendered: &[u8]) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if fetched.bytes != rendered {
        out.push(Mismatch::Bytes {
            url: fetched.url.clone(),
        });
    }
    let json = fetched
        .content_type
        .as_deref()
        .is_some_and(|t| t.split(';').next().unwrap_or("").trim() == "application/json");
    if !json {
        out.push(Mismatch::ContentType {
            url: fetched.url.clone(),
            got: fetched.content_type.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(bytes: &[u8], ct: Option<&str>) -> Fetched {
        Fetched {
            url: "https://h/c/x".into(),
            bytes: bytes.to_vec(),
            content_type: ct.map(str::to_owned),
            cache_control: None,
        }
    }

    #[test]
    fn identical_json_matches() {
        assert!(compare(&f(b"{}", Some("application/json")), b"{}").is_empty());
        assert!(compare(&f(b"{}", Some("application/json; charset=utf-8")), b"{}").is_empty());
    }

    #[test]
    fn other_bytes_or_type_are_named() {
        assert_eq!(
            compare(&f(b"{}", Some("application/json")), b"{ }"),
            vec![Mismatch::Bytes {
                url: "https://h/c/x".into()
            }]
        );
        let m = compare(&f(b"{}", Some("application/octet-stream")), b"{}");
        assert!(matches!(&m[..], [Mismatch::ContentType { .. }]));
        assert!(m[0].to_string().contains("application/octet-stream"));
    }

    fn status(status: u16, code: Option<&str>) -> FetchError {
        FetchError::Status {
            url: "https://h/c/x".into(),
            status,
            code: code.map(str::to_owned),
            cause: cause_of(status, code),
        }
    }

    #[test]
    fn only_an_account_wide_refusal_counts_as_public_access_forbidden() {
        let forbidden = status(409, Some("PublicAccessNotPermitted"));
        assert!(forbidden.is_public_access_forbidden());
        assert!(
            forbidden.to_string().contains("allowBlobPublicAccess"),
            "{forbidden}"
        );
        assert!(status(401, Some("PublicAccessNotPermitted")).is_public_access_forbidden());
        for other in [
            status(404, Some("BlobNotFound")),
            status(404, None),
            status(403, Some("AuthorizationFailure")),
            status(409, Some("LeaseIdMissing")),
            status(409, None),
        ] {
            assert!(!other.is_public_access_forbidden(), "{other}");
        }
    }

    #[test]
    fn discovery_without_jwks_uri_is_refused() {
        let err = jwks_uri_of(&f(br#"{"issuer":"x"}"#, None)).unwrap_err();
        assert!(err.to_string().contains("jwks_uri"), "{err}");
    }
}
