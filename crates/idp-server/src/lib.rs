//! Serving an issuer's two documents (`idp serve`): the discovery document and the JWKS,
//! at the issuer's own paths, exactly the bytes `idp metadata` renders.
//!
//! `GET` and `HEAD` answer with `Content-Type: application/json`, a strong `ETag` and
//! `Cache-Control`; `If-None-Match` gives `304`. `/healthz` answers `ok`. The served
//! [`Site`] can be swapped at any time ([`SiteHandle::replace`]) for a keyring reload.
//!
//! ```
//! use idp_core::{Issuer, metadata};
//! # fn docs() -> metadata::Documents { metadata::Documents {
//! #   discovery_path: ".well-known/openid-configuration".into(), discovery: b"{}".to_vec(),
//! #   jwks_path: ".well-known/jwks.json".into(), jwks: b"{}".to_vec(), kids: vec![] } }
//! let issuer = Issuer::parse("https://127.0.0.1:8443/oidc").unwrap();
//! let site = idp_server::Site::new(&issuer, &docs());
//! assert!(site.paths().any(|p| p == "/oidc/.well-known/openid-configuration"));
//! let cache = idp_server::CacheControl::parse("public, max-age=300").unwrap();
//! let app = idp_server::router(idp_server::SiteHandle::new(site), &cache);
//! # let _ = app;
//! ```

pub mod listen;
pub mod tls;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use idp_core::Issuer;
use idp_core::metadata::Documents;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Makes ring rustls's process-wide crypto provider (idp builds rustls with ring only).
/// Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The default `Cache-Control` for both documents.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=300";

/// One served document.
#[derive(Debug, Clone)]
struct Doc {
    body: Arc<[u8]>,
    etag: HeaderValue,
}

/// The documents by request path (`/oidc/.well-known/openid-configuration`, …).
#[derive(Debug, Clone, Default)]
pub struct Site {
    docs: BTreeMap<String, Doc>,
}

impl Site {
    /// Places `docs` at the issuer's paths.
    pub fn new(issuer: &Issuer, docs: &Documents) -> Self {
        // The request path of `{issuer}/{rel}`, joined the one way idp joins issuer paths.
        let join = |rel: &str| {
            let url = issuer.join(rel);
            url::Url::parse(&url)
                .map(|u| u.path().to_owned())
                .unwrap_or(url)
        };
        let mut map = BTreeMap::new();
        for (rel, bytes) in [
            (&docs.discovery_path, &docs.discovery),
            (&docs.jwks_path, &docs.jwks),
        ] {
            map.insert(
                join(rel),
                Doc {
                    etag: etag_of(bytes),
                    body: Arc::from(bytes.as_slice()),
                },
            );
        }
        Self { docs: map }
    }

    /// The request paths served.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.docs.keys().map(String::as_str)
    }
}

/// A strong validator: the SHA-256 of the bytes, so equal bytes give equal ETags across
/// restarts and replicas.
fn etag_of(bytes: &[u8]) -> HeaderValue {
    let digest = idp_core::keys::sha256(bytes);
    HeaderValue::from_str(&format!("\"{}\"", B64URL.encode(&digest[..18])))
        .expect("base64url is a valid header value")
}

/// The site being served, replaceable while serving.
#[derive(Debug, Clone, Default)]
pub struct SiteHandle(Arc<RwLock<Arc<Site>>>);

impl SiteHandle {
    pub fn new(site: Site) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(site))))
    }

    /// Serves `site` from the next request on.
    pub fn replace(&self, site: Site) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(site);
    }

    fn current(&self) -> Arc<Site> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Debug, Clone)]
struct AppState {
    site: SiteHandle,
    cache_control: HeaderValue,
}

/// A `Cache-Control` value that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid Cache-Control header value: {reason}")]
pub struct BadCacheControl {
    pub value: String,
    pub reason: String,
}

impl idp_core::diagnostic::Diagnostic for BadCacheControl {
    fn hint(&self) -> Option<String> {
        Some(format!(
            "give one line of visible ASCII and spaces, like `{DEFAULT_CACHE_CONTROL}`"
        ))
    }

    fn is_usage(&self) -> bool {
        true
    }
}

/// A `Cache-Control` header value, checked: what `idp serve` sends and what
/// `idp publish-metadata` stores on both blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheControl(HeaderValue);

impl CacheControl {
    /// Visible ASCII and spaces only, not blank: a pasted newline is refused here, not
    /// sent as a broken header later.
    pub fn parse(value: &str) -> Result<Self, BadCacheControl> {
        let bad = |reason: String| BadCacheControl {
            value: value.to_owned(),
            reason,
        };
        if let Some((i, c)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| !(*c == ' ' || c.is_ascii_graphic()))
        {
            return Err(bad(format!(
                "character {} is {c:?}; a Cache-Control value is visible ASCII and spaces",
                i + 1
            )));
        }
        if value.trim().is_empty() {
            return Err(bad("the value is empty".into()));
        }
        HeaderValue::from_str(value)
            .map(Self)
            .map_err(|e| bad(e.to_string()))
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Default for CacheControl {
    fn default() -> Self {
        Self(HeaderValue::from_static(DEFAULT_CACHE_CONTROL))
    }
}

/// The axum router: the documents, `/healthz`, and 404 for anything else.
pub fn router(site: SiteHandle, cache_control: &CacheControl) -> Router {
    let state = AppState {
        site,
        cache_control: cache_control.0.clone(),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(serve_doc)
        .with_state(state)
}

async fn serve_doc(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let site = state.site.current();
    let Some(doc) = site.docs.get(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
            "only GET and HEAD\n",
        )
            .into_response();
    }
    let common = [
        (header::ETAG, doc.etag.clone()),
        (header::CACHE_CONTROL, state.cache_control.clone()),
    ];
    if if_none_match(&headers, &doc.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(doc.body.to_vec())
    };
    let mut resp = (
        StatusCode::OK,
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(doc.body.len()));
    resp
}

/// RFC 9110 §13.1.2: `*` or any listed entity tag matches (weak comparison).
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    headers.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == ours)
        })
    })
}
