//! [`StorageFront`]: Azurite behind accounts it cannot be alone. Its first use is the one
//! account setting Azurite lacks, `allowBlobPublicAccess: false`.
//!
//! Azurite has no account-level properties, so a storage account that forbids anonymous
//! access cannot be made with it alone. This front listens on its own free 127.0.0.1 port
//! over HTTPS (the same test CA) and passes every request through to Azurite, except the
//! two that Azure refuses on such an account, which it answers as Azure documents:
//!
//! - an anonymous request (neither an `Authorization` header nor a SAS `sig`):
//!   `409 PublicAccessNotPermitted`, "Public access is not permitted on this storage account.";
//! - a request that asks for anonymous access (`x-ms-blob-public-access`, sent by Create
//!   Container and Set Container ACL): the same answer, and nothing changes in Azurite.
//!
//! Everything else (authorization, containers, blobs, ETags) is Azurite's own.

use crate::Azurite;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// Requests refused or failed by a front so far, for tests that want to see it did its job.
#[derive(Debug, Default)]
struct Seen {
    refused: std::sync::atomic::AtomicUsize,
    /// Statuses still to answer instead of forwarding, one request each.
    fail_next: std::sync::Mutex<std::collections::VecDeque<u16>>,
    failed: std::sync::atomic::AtomicUsize,
    /// Before forwarding the next blob upload, write other bytes to that blob
    /// unconditionally: another publisher winning the race between read and write.
    race_next_put: std::sync::atomic::AtomicBool,
}

/// What the racing front writes before the upload it races.
pub const RACER_BYTES: &[u8] =
    b"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"racer\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";

struct Upstream {
    client: reqwest::Client,
    base: String,
    seen: Arc<Seen>,
    /// Refuse anonymous access as an account with `allowBlobPublicAccess: false` does.
    forbid_public: bool,
}

/// Azurite behind a pass-through HTTPS front on its own free port, which plays one of
/// three storage accounts Azurite alone cannot be (see the constructors). Stopped on drop.
#[derive(Debug)]
pub struct StorageFront {
    pub port: u16,
    #[allow(dead_code)] // held for its Drop
    running: Running,
    seen: Arc<Seen>,
}

impl StorageFront {
    /// An account that forbids anonymous access (`allowBlobPublicAccess: false`): anonymous
    /// requests and requests for public access get Azure's `409 PublicAccessNotPermitted`.
    pub fn no_public_access(azurite: &Azurite) -> Self {
        Self::serving(azurite, Seen::default(), true)
    }

    /// An account having a bad moment: the first `statuses.len()` requests get those
    /// statuses (408, 429, 503…, with `Retry-After: 0`), to show that storage calls retry.
    pub fn flaky(azurite: &Azurite, statuses: &[u16]) -> Self {
        let seen = Seen::default();
        seen.fail_next
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
        Self::serving(azurite, seen, false)
    }

    /// On the first blob upload it sees, first writes [`RACER_BYTES`] to that blob with no
    /// condition (another publisher's write landing between idp's read and its write), then
    /// forwards idp's upload as it came.
    pub fn racing(azurite: &Azurite) -> Self {
        let seen = Seen::default();
        seen.race_next_put
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Self::serving(azurite, seen, false)
    }

    fn serving(azurite: &Azurite, seen: Seen, forbid_public: bool) -> Self {
        let seen = Arc::new(seen);
        let running = spawn(azurite, seen.clone(), forbid_public);
        Self {
            port: running.port,
            running,
            seen,
        }
    }

    /// `https://127.0.0.1:<port>/devstoreaccount1/<container>`, through the front.
    pub fn container_url(&self, container: &str) -> String {
        format!(
            "https://127.0.0.1:{}/{}/{container}",
            self.port,
            crate::DEV_ACCOUNT
        )
    }

    /// How many requests the front refused as Azure would on an account without public
    /// access.
    pub fn refused(&self) -> usize {
        self.seen.refused.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the racing write happened.
    pub fn raced(&self) -> bool {
        !self
            .seen
            .race_next_put
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many requests were answered with a failure status.
    pub fn failed(&self) -> usize {
        self.seen.failed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A front's listener, thread and shutdown handle.
#[derive(Debug)]
struct Running {
    port: u16,
    handle: axum_server::Handle<std::net::SocketAddr>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves HTTPS on a free 127.0.0.1 port with Azurite's test certificate, passing
/// requests to Azurite through [`forward`].
fn spawn(azurite: &Azurite, seen: Arc<Seen>, forbid_public: bool) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&azurite.ca.ca_pem).unwrap())
        .expect("the test CA");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("an HTTPS client for Azurite");
    let upstream = Arc::new(Upstream {
        client,
        base: format!("https://127.0.0.1:{}", azurite.port),
        seen,
        forbid_public,
    });
    let (cert, key) = (
        std::fs::read(&azurite.ca.cert_pem).unwrap(),
        std::fs::read(&azurite.ca.key_pem).unwrap(),
    );
    // Bound here, so no other test can take the port between choosing and binding it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free 127.0.0.1 port");
    let port = listener.local_addr().expect("the front's address").port();
    let handle = axum_server::Handle::new();
    let server = handle.clone();
    let (started, start) = std::sync::mpsc::channel::<Result<(), String>>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let serving = async {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem(cert, key)
                    .await
                    .map_err(|e| format!("the test server certificate: {e}"))?;
                axum_server::from_tcp_rustls(listener, config)
                    .map_err(|e| format!("the listener: {e}"))
            };
            match serving.await {
                Ok(front) => {
                    let _ = started.send(Ok(()));
                    let app = axum::Router::new().fallback(forward).with_state(upstream);
                    let _ = front.handle(server).serve(app.into_make_service()).await;
                }
                Err(e) => {
                    let _ = started.send(Err(e));
                }
            }
        });
    });
    match start.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the storage front cannot start: {e}"),
        Err(_) => panic!("the storage front did not start within 60 s"),
    }
    Running {
        port,
        handle,
        thread: Some(thread),
    }
}

/// Azure's answer to anonymous access on an account with `allowBlobPublicAccess: false`.
fn public_access_not_permitted() -> Response {
    let body = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>PublicAccessNotPermitted</Code>\
                <Message>Public access is not permitted on this storage account.\n\
                RequestId:00000000-0000-0000-0000-000000000000\n\
                Time:2026-01-01T00:00:00.0000000Z</Message></Error>";
    (
        StatusCode::CONFLICT,
        [
            (header::CONTENT_TYPE, "application/xml"),
            (
                HeaderName::from_static("x-ms-error-code"),
                "PublicAccessNotPermitted",
            ),
        ],
        body,
    )
        .into_response()
}

async fn forward(State(up): State<Arc<Upstream>>, request: Request) -> Response {
    let anonymous = !request.headers().contains_key(header::AUTHORIZATION)
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("sig=")));
    let asks_public = request.headers().contains_key("x-ms-blob-public-access");
    if up.forbid_public && (anonymous || asks_public) {
        up.seen
            .refused
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return public_access_not_permitted();
    }

    let failure = up.seen.fail_next.lock().unwrap().pop_front();
    if let Some(status) = failure {
        up.seen
            .failed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let status = StatusCode::from_u16(status).expect("a valid HTTP status");
        return (
            status,
            [(header::RETRY_AFTER, "0")],
            "the front says: try again",
        )
            .into_response();
    }

    let (parts, body) = request.into_parts();
    let head = parts.method == axum::http::Method::HEAD;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(body) = to_bytes(body, 64 << 20).await else {
        return (StatusCode::BAD_REQUEST, "request body too large").into_response();
    };
    let is_upload =
        parts.method == axum::http::Method::PUT && parts.headers.contains_key("x-ms-blob-type");
    if is_upload
        && up
            .seen
            .race_next_put
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    {
        let mut racer = up
            .client
            .put(format!("{}{path}", up.base))
            .header("x-ms-blob-type", "BlockBlob")
            .body(RACER_BYTES);
        if let Some(v) = parts.headers.get("x-ms-version") {
            racer = racer.header("x-ms-version", v);
        }
        match racer.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    format!("the racing write: {}", r.status()),
                )
                    .into_response();
            }
            Err(e) => {
                return (
                    StatusCode::BAD_GATEWAY,
                    format!("the racing write: {}", e.without_url()),
                )
                    .into_response();
            }
        }
    }
    let mut outgoing = up
        .client
        .request(parts.method, format!("{}{path}", up.base))
        .body(body);
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && name != header::HOST && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    // Errors leave out the URL: its query may hold a SAS signature.
    let bad_gateway = |e: reqwest::Error| {
        (
            StatusCode::BAD_GATEWAY,
            format!("Azurite: {}", e.without_url()),
        )
    };
    let answer = match outgoing.send().await {
        Ok(a) => a,
        Err(e) => return bad_gateway(e).into_response(),
    };
    // A body-less answer (HEAD, 304) keeps Azurite's Content-Length; otherwise hyper
    // sets it from the body.
    let bodiless = head || answer.status() == StatusCode::NOT_MODIFIED;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) && (bodiless || name != header::CONTENT_LENGTH) {
            response = response.header(name, value);
        }
    }
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => return bad_gateway(e).into_response(),
    };
    response
        .body(Body::from(bytes))
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}
