//! The loopback endpoint: the GitHub Actions and Azure DevOps token-request protocols, so
//! tools that fetch a fresh assertion at each refresh (Terraform's azurerm provider and
//! backend, GitHub's toolkit, the Azure SDKs' `AzurePipelinesCredential`) get one from idp.
//!
//! - GitHub: `GET {url}&audience={aud}` with `Authorization: Bearer {request token}`,
//!   answered `{"count": 1, "value": "<jwt>"}`. Sources: actions/toolkit
//!   `packages/core/src/oidc-utils.ts`; hashicorp/go-azure-sdk
//!   `sdk/auth/github_oidc_authorizer.go`.
//! - Azure DevOps: `POST {uri}?api-version=7.1&serviceConnectionId={id}` with the bearer,
//!   answered `{"oidcToken": "<jwt>"}`. Sources: azure-sdk-for-python
//!   `azure/identity/_credentials/azure_pipelines.py`; go-azure-sdk
//!   `sdk/auth/ado_pipeline_oidc_authorizer.go`.
//!
//! Only loopback peers, only this run's request token (compared in constant time), only
//! the customer's audience. Nothing is read from a request body.

use crate::signer::Signer;
use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use idp_core::secret::SecretString;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The GitHub form's path; its URL carries `?api-version=2.0`, as GitHub's does, so clients
/// append `&audience=…`.
pub const GITHUB_PATH: &str = "/github/idtoken";
/// The Azure DevOps form's path; clients append `?api-version=7.1&serviceConnectionId=…`.
pub const AZURE_PIPELINES_PATH: &str = "/azure-pipelines/oidctoken";

#[derive(Debug)]
struct Shared {
    signer: Arc<Signer>,
    request_token: SecretString,
    /// Serve peers other than loopback (`idp serve-assertions --allow-remote`, over TLS).
    allow_remote: bool,
}

/// A running endpoint; [`Endpoint::stop`] (or dropping it) closes it.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// A fresh per-run request token: 256 random bits, base64url.
pub fn random_request_token() -> SecretString {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source is available");
    SecretString::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Why the request token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("could not read the request token file {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the request token file {} is readable by others (mode {mode:o})", path.display())]
    Exposed { path: std::path::PathBuf, mode: u32 },
    #[error("the request token file {} {problem}", path.display())]
    Unusable {
        path: std::path::PathBuf,
        problem: &'static str,
    },
    #[error(transparent)]
    Write(#[from] idp_core::fsutil::WriteError),
}

impl idp_core::diagnostic::Diagnostic for TokenFileError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Exposed { path, .. } => format!("chmod 600 {}", path.display()),
            Self::Unusable { .. } => "put one line of 16 to 1024 visible ASCII characters in it, or remove it and idp makes a fresh token".into(),
            Self::Read { .. } | Self::Write(_) => "check the path and its folder".into(),
        })
    }
    fn is_usage(&self) -> bool {
        !matches!(self, Self::Write(_))
    }
}

/// The request token kept in `path` (0600): read when the file exists, else a fresh one
/// written there. Returns the token and whether it was created.
pub fn request_token_from_file(
    path: &std::path::Path,
) -> Result<(SecretString, bool), TokenFileError> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let read = |source| TokenFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = random_request_token();
            idp_core::fsutil::write_atomic(
                path,
                token.expose().as_bytes(),
                0o600,
                idp_core::fsutil::Overwrite::Refuse,
            )?;
            return Ok((token, true));
        }
        Err(e) => return Err(read(e)),
    };
    let mode = file.metadata().map_err(read)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(TokenFileError::Exposed {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    let mut text = String::new();
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(|_| TokenFileError::Unusable {
            path: path.to_owned(),
            problem: "is not text",
        })?;
    let token = text.trim_end_matches(['\n', '\r']);
    let unusable = |problem| TokenFileError::Unusable {
        path: path.to_owned(),
        problem,
    };
    if !(16..=1024).contains(&token.len()) {
        return Err(unusable("must hold 16 to 1024 characters"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(unusable(
            "must hold visible ASCII characters only, on one line",
        ));
    }
    Ok((SecretString::new(token), false))
}

impl Endpoint {
    /// Binds `listen` (a loopback address; port 0 picks a free one) and serves until stopped.
    pub async fn start(
        listen: SocketAddr,
        signer: Arc<Signer>,
        request_token: SecretString,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = router(signer, request_token, false);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Self {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The GitHub-form request URL (`ACTIONS_ID_TOKEN_REQUEST_URL`, `ARM_OIDC_REQUEST_URL`).
    pub fn github_url(&self) -> String {
        format!("http://{}{GITHUB_PATH}?api-version=2.0", self.addr)
    }

    /// The Azure DevOps-form request URI (`SYSTEM_OIDCREQUESTURI`).
    pub fn azure_pipelines_url(&self) -> String {
        format!("http://{}{AZURE_PIPELINES_PATH}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The endpoint's routes for `signer`, answering only `request_token`; loopback peers
/// only unless `allow_remote`. The listener must provide `ConnectInfo<SocketAddr>`.
pub fn router(
    signer: Arc<Signer>,
    request_token: SecretString,
    allow_remote: bool,
) -> axum::Router {
    let shared = Arc::new(Shared {
        signer,
        request_token,
        allow_remote,
    });
    axum::Router::new()
        .route(GITHUB_PATH, get(github))
        .route(AZURE_PIPELINES_PATH, post(azure_pipelines))
        .fallback(|| async {
            refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "no such endpoint: GET {GITHUB_PATH}?api-version=2.0&audience=… (GitHub form) or POST {AZURE_PIPELINES_PATH}?api-version=7.1&serviceConnectionId=… (Azure DevOps form)"
                ),
            )
        })
        .with_state(shared)
        // No answer is cached by anything between the tool and idp.
        .layer(axum::middleware::map_response(|mut r: Response| async move {
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }))
}

/// A refused request: its status and a message that never holds a token.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({ "message": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

fn refuse(status: StatusCode, message: String) -> Refusal {
    Refusal { status, message }
}

/// Peer and bearer checks shared by both forms.
fn admit(shared: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Result<(), Refusal> {
    if !shared.allow_remote && !peer.ip().is_loopback() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "only loopback clients are served".into(),
        ));
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "no bearer token: send `Authorization: Bearer $IDP_ASSERTION_REQUEST_TOKEN`".into(),
        ));
    };
    let given = value
        .as_bytes()
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, token)| token);
    let expected = shared.request_token.expose().as_bytes();
    let ok = given.is_some_and(|g| bool::from(g.ct_eq(expected)));
    if !ok {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not this run's request token ($IDP_ASSERTION_REQUEST_TOKEN)"
                .into(),
        ));
    }
    Ok(())
}

async fn mint(shared: &Shared) -> Result<SecretString, Refusal> {
    shared.signer.mint().await.map(|s| s.token).map_err(|e| {
        refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no assertion was signed: {e}"),
        )
    })
}

fn answer(body: serde_json::Value) -> Response {
    Json(body).into_response()
}

async fn github(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = admit(&shared, peer, &headers) {
        return r.into_response();
    }
    let audiences: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "audience")
        .map(|(_, v)| v.as_str())
        .collect();
    let allowed = shared.signer.audience();
    match audiences.as_slice() {
        [] => {}
        [one] if *one == allowed => {}
        [one] => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "audience `{one}` is not allowed: this endpoint signs for `{allowed}` only (the customer's audience, fixed by idp)"
                ),
            )
            .into_response();
        }
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "give `audience` at most once".into(),
            )
            .into_response();
        }
    }
    match mint(&shared).await {
        Ok(token) => answer(json!({ "count": 1, "value": token.expose() })),
        Err(r) => r.into_response(),
    }
}

async fn azure_pipelines(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = admit(&shared, peer, &headers) {
        return r.into_response();
    }
    // Azure DevOps requires the service connection; idp's customer is fixed per endpoint,
    // so any non-empty id is accepted.
    if !query
        .iter()
        .any(|(k, v)| k == "serviceConnectionId" && !v.is_empty())
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "serviceConnectionId is missing from the query (Azure DevOps' protocol requires it; any value names this customer)".into(),
        )
        .into_response();
    }
    match mint(&shared).await {
        Ok(token) => answer(json!({ "oidcToken": token.expose() })),
        Err(r) => r.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    fn app() -> axum::Router {
        router(super::test_signer(), SecretString::new("the-token"), false)
    }

    async fn call(peer: &str, auth: Option<&str>, method: &str, uri: &str) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        let r = app().oneshot(req).await.unwrap();
        let status = r.status();
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    use serde_json::Value;

    const GH: &str = "/github/idtoken?api-version=2.0";

    #[tokio::test]
    async fn only_loopback_peers_with_the_bearer_are_served() {
        let (s, b) = call("127.0.0.1:5", Some("Bearer the-token"), "GET", GH).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(b["value"].as_str().unwrap().starts_with("eyJ"));
        let (s, _) = call("[::1]:5", Some("bearer the-token"), "GET", GH).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "the scheme is case-insensitive; IPv6 loopback"
        );
        let (s, b) = call("192.0.2.7:5", Some("Bearer the-token"), "GET", GH).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(b["message"], "only loopback clients are served");
        for wrong in [
            "Basic the-token",
            "Bearer the-token ",
            "Bearer the-tokem",
            "Bearer",
            "Bearer the-token-and-more",
            "the-token",
        ] {
            let (s, b) = call("127.0.0.1:5", Some(wrong), "GET", GH).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{wrong}: {b}");
        }
        let (s, _) = call("127.0.0.1:5", Some("Bearer the-token"), "POST", GH).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        let (s, b) = call("127.0.0.1:5", Some("Bearer the-token"), "GET", "/other").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(b["message"].as_str().unwrap().contains(GITHUB_PATH));
    }

    #[tokio::test]
    async fn only_the_customers_audience_is_served_and_only_401_challenges() {
        let ok = format!("{GH}&audience=api%3A%2F%2FAzureADTokenExchange");
        let (s, b) = call("127.0.0.1:5", Some("Bearer the-token"), "GET", &ok).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b) = call(
            "127.0.0.1:5",
            Some("Bearer the-token"),
            "GET",
            &format!("{GH}&audience=api://other"),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(
            b["message"],
            "audience `api://other` is not allowed: this endpoint signs for `api://AzureADTokenExchange` only (the customer's audience, fixed by idp)"
        );
        // Only a 401 carries the challenge header.
        let challenged = |status: StatusCode| async move {
            let r = refuse(status, "m".into()).into_response();
            r.headers().get(header::WWW_AUTHENTICATE).cloned()
        };
        assert_eq!(
            challenged(StatusCode::UNAUTHORIZED).await.unwrap(),
            "Bearer"
        );
        assert!(challenged(StatusCode::BAD_REQUEST).await.is_none());
        assert!(challenged(StatusCode::FORBIDDEN).await.is_none());
    }

    #[tokio::test]
    async fn the_azure_devops_form_needs_a_service_connection() {
        let uri = format!("{AZURE_PIPELINES_PATH}?api-version=7.1&serviceConnectionId=abc");
        let (s, b) = call("127.0.0.1:5", Some("Bearer the-token"), "POST", &uri).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b["oidcToken"].as_str().unwrap().starts_with("eyJ"));
        let uri = format!("{AZURE_PIPELINES_PATH}?api-version=7.1&serviceConnectionId=");
        let (s, _) = call("127.0.0.1:5", Some("Bearer the-token"), "POST", &uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call("10.0.0.1:5", Some("Bearer the-token"), "POST", &uri).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
}

/// A signer with a fresh key, for tests.
#[cfg(test)]
pub(crate) fn test_signer() -> Arc<Signer> {
    test_signer_for(std::time::Duration::from_secs(600))
}

/// The same with assertions valid for `lifetime`.
#[cfg(test)]
pub(crate) fn test_signer_for(lifetime: std::time::Duration) -> Arc<Signer> {
    use idp_core::assertion::{AssertionSpec, Audience, Lifetime, PrivateClaims, Subject};
    let key = idp_core::keys::generate(2048)
        .unwrap()
        .into_signing_key(std::path::Path::new("k"))
        .unwrap();
    let spec = AssertionSpec {
        issuer: idp_core::Issuer::parse("https://h/i").unwrap(),
        subject: Subject::parse("s").unwrap(),
        audience: Audience::default(),
        lifetime: Lifetime::new(lifetime).unwrap(),
        claims: PrivateClaims::parse(std::iter::empty()).unwrap(),
    };
    Arc::new(Signer::new(
        Arc::new(idp_core::signer::Signer::Local(key)),
        None,
        "exec",
        spec,
        None,
    ))
}

#[cfg(test)]
mod token_file_tests {
    use super::*;
    use idp_core::diagnostic::Diagnostic;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_missing_file_gets_a_fresh_private_token_then_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("request.token");
        let (made, created) = request_token_from_file(&path).unwrap();
        assert!(created);
        assert_eq!(made.expose().len(), 43, "256 bits, base64url");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (read, created) = request_token_from_file(&path).unwrap();
        assert!(!created);
        assert_eq!(read.expose(), made.expose());
        // A trailing newline (an editor's) is not part of the token.
        std::fs::write(&path, "0123456789abcdef-token\n").unwrap();
        assert_eq!(
            request_token_from_file(&path).unwrap().0.expose(),
            "0123456789abcdef-token"
        );
    }

    #[test]
    fn exposed_short_long_or_odd_tokens_are_refused_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        let write = |text: &str, mode: u32| {
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("0123456789abcdef", 0o600);
        assert!(
            request_token_from_file(&path).is_ok(),
            "16 characters is enough"
        );
        for mode in [0o640, 0o604, 0o660] {
            write("0123456789abcdef", mode);
            let e = request_token_from_file(&path).unwrap_err();
            assert!(matches!(e, TokenFileError::Exposed { .. }), "{mode:o}: {e}");
            assert!(e.to_string().contains(&format!("(mode {mode:o})")), "{e}");
            assert!(e.is_usage());
            assert_eq!(e.hint().unwrap(), format!("chmod 600 {}", path.display()));
        }
        for bad in [
            "short",
            "0123456789abcde",
            &"x".repeat(1025),
            "0123456789 abcdef",
            "0123456789abcdef\nsecond",
        ] {
            write(bad, 0o600);
            let e = request_token_from_file(&path).unwrap_err();
            assert!(matches!(e, TokenFileError::Unusable { .. }), "{bad:?}: {e}");
            assert!(e.is_usage());
            assert!(e.hint().unwrap().contains("16 to 1024"));
        }
        write(&"x".repeat(1024), 0o600);
        assert!(
            request_token_from_file(&path).is_ok(),
            "1024 is the limit, not over it"
        );
        // A folder where the file should be: an error reading it, named.
        let e = request_token_from_file(dir.path()).unwrap_err();
        assert!(
            e.to_string().contains(&dir.path().display().to_string()),
            "{e}"
        );
        // Write errors are operations that failed.
        let w = TokenFileError::Write(idp_core::fsutil::WriteError {
            path: path.clone(),
            source: std::io::Error::other("disk full"),
        });
        assert!(!w.is_usage());
        // A missing folder: nothing can be created there.
        assert!(request_token_from_file(&dir.path().join("no/such/file")).is_err());
        // Under a file: a read error, not taken for a missing file to create.
        let e = request_token_from_file(&path.join("below")).unwrap_err();
        assert!(matches!(e, TokenFileError::Read { .. }), "{e}");
    }

    #[tokio::test]
    async fn the_endpoint_names_both_forms_and_closes_when_stopped() {
        let signer = test_signer();
        let ep = Endpoint::start(
            "127.0.0.1:0".parse().unwrap(),
            signer,
            SecretString::new("t"),
        )
        .await
        .unwrap();
        let addr = ep.addr();
        assert_eq!(
            ep.github_url(),
            format!("http://{addr}/github/idtoken?api-version=2.0")
        );
        assert_eq!(
            ep.azure_pipelines_url(),
            format!("http://{addr}/azure-pipelines/oidctoken")
        );
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
        ep.stop().await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "closed after stop"
        );
        // Dropped without stop: closed too.
        let signer = test_signer();
        let ep = Endpoint::start(
            "127.0.0.1:0".parse().unwrap(),
            signer,
            SecretString::new("t"),
        )
        .await
        .unwrap();
        let addr = ep.addr();
        drop(ep);
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "closed after drop"
        );
    }
}
