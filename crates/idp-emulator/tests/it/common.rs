//! Test support: an HTTPS issuer on 127.0.0.1 (the testkit CA, axum-server + rustls) whose
//! documents each test sets, RSA keys made once per test binary, assertions signed with
//! jsonwebtoken, and requests driven through the emulator's router with `oneshot`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt as _;
use idp_emulator::{Config, Emulator, FicSpec, Identity, ManualClock, SigningKey};
use openssl::pkey::{PKey, Private};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tower::ServiceExt as _;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const SUBSCRIPTION: &str = "0b1f6471-1bf0-4dda-aec3-111122223333";
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
pub const SUBJECT: &str = "workload-1";
pub const RG: &str = "rg-test";
pub const UAMI: &str = "uami-test";

/// The emulator's own key, made once per test binary.
pub fn emulator_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().unwrap()).clone()
}

/// An issuer's RSA key with its kid and public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub private: PKey<Private>,
    pub public_pem: String,
    pub n: String,
    pub e: String,
}

impl TestKey {
    pub fn jwk(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": self.n, "e": self.e})
    }

    /// The same key material under another kid.
    pub fn with_kid(&self, kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            ..self.clone()
        }
    }
}

/// The issuer's side is played with OpenSSL (the emulator verifies with RustCrypto).
fn make_key(kid: &str) -> TestKey {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let (n, e) = (rsa.n().to_vec(), rsa.e().to_vec());
    let private = PKey::from_rsa(rsa).unwrap();
    TestKey {
        kid: kid.into(),
        public_pem: String::from_utf8(private.public_key_to_pem().unwrap()).unwrap(),
        private,
        n: URL_SAFE_NO_PAD.encode(n),
        e: URL_SAFE_NO_PAD.encode(e),
    }
}

/// Three issuer keys, made once per test binary.
pub fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let handles: Vec<_> = ["key-a", "key-b", "key-c"]
            .into_iter()
            .map(|kid| std::thread::spawn(move || make_key(kid)))
            .collect();
        let mut keys = handles.into_iter().map(|h| h.join().unwrap());
        [
            keys.next().unwrap(),
            keys.next().unwrap(),
            keys.next().unwrap(),
        ]
    })
}

/// The test CA of every suite (idp-testkit), made once per test binary.
pub fn tls() -> &'static idp_testkit::TestPems {
    static TLS: OnceLock<idp_testkit::TestPems> = OnceLock::new();
    TLS.get_or_init(idp_testkit::TestCa::pems)
}

/// What the test web server answers: path → (status, body), and how often each was asked.
#[derive(Default)]
pub struct Site {
    docs: HashMap<String, (u16, Vec<u8>)>,
    hits: HashMap<String, usize>,
}

#[derive(Clone, Default)]
pub struct SharedSite(Arc<Mutex<Site>>);

impl SharedSite {
    pub fn set(&self, path: &str, status: u16, body: impl Into<Vec<u8>>) {
        self.0
            .lock()
            .unwrap()
            .docs
            .insert(path.to_owned(), (status, body.into()));
    }

    pub fn set_json(&self, path: &str, value: &Value) {
        self.set(path, 200, serde_json::to_vec(value).unwrap());
    }

    pub fn hits(&self, path: &str) -> usize {
        self.0.lock().unwrap().hits.get(path).copied().unwrap_or(0)
    }
}

async fn serve_site(State(site): State<SharedSite>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let mut site = site.0.lock().unwrap();
    *site.hits.entry(path.clone()).or_default() += 1;
    match site.docs.get(&path) {
        Some((status, body)) => (
            StatusCode::from_u16(*status).unwrap(),
            [("content-type", "application/json")],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A running web server; stops when dropped.
pub struct Server {
    pub origin: String,
    pub site: SharedSite,
    handle: axum_server::Handle<std::net::SocketAddr>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

fn listener() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap()
}

/// An HTTPS server on a free 127.0.0.1 port with the test CA's certificate.
pub async fn https_server() -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = tls();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        tls.cert_pem.clone().into_bytes(),
        tls.key_pem.clone().into_bytes(),
    )
    .await
    .unwrap();
    let listener = listener();
    let port = listener.local_addr().unwrap().port();
    let site = SharedSite::default();
    let app = Router::new().fallback(serve_site).with_state(site.clone());
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config)
        .unwrap()
        .handle(handle.clone());
    tokio::spawn(server.serve(app.into_make_service()));
    Server {
        origin: format!("https://127.0.0.1:{port}"),
        site,
        handle,
    }
}

/// A plain-HTTP server on a free 127.0.0.1 port.
pub async fn http_server() -> Server {
    let listener = listener();
    let port = listener.local_addr().unwrap().port();
    let site = SharedSite::default();
    let app = Router::new().fallback(serve_site).with_state(site.clone());
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp(listener)
        .unwrap()
        .handle(handle.clone());
    tokio::spawn(server.serve(app.into_make_service()));
    Server {
        origin: format!("http://127.0.0.1:{port}"),
        site,
        handle,
    }
}

/// Publishes an issuer at `{origin}{prefix}`: discovery and JWKS with `keys`.
pub fn publish(server: &Server, prefix: &str, keys: &[&TestKey]) -> String {
    let issuer = format!("{}{prefix}", server.origin);
    server.site.set_json(
        &format!("{prefix}/.well-known/openid-configuration"),
        &json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks.json"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }),
    );
    set_jwks(server, prefix, keys);
    issuer
}

pub fn set_jwks(server: &Server, prefix: &str, keys: &[&TestKey]) {
    let keys: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
    server
        .site
        .set_json(&format!("{prefix}/jwks.json"), &json!({ "keys": keys }));
}

/// The usual world: an HTTPS issuer at `/oidc` publishing key A, and an emulator on a
/// manual clock with one identity whose one FIC trusts that issuer for [`SUBJECT`].
pub struct World {
    pub server: Server,
    pub issuer: String,
    pub clock: ManualClock,
    pub emulator: Emulator,
    pub router: Router,
    pub identity: Identity,
}

pub fn config(clock: &ManualClock) -> Config {
    let mut config = Config::new(TENANT, SUBSCRIPTION);
    config.extra_roots = vec![tls().ca_pem.clone().into_bytes()];
    config.signing_key = Some(emulator_key());
    config.clock = Arc::new(clock.clone());
    config
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn world_with(tweak: impl FnOnce(&mut Config)) -> World {
    let server = https_server().await;
    let issuer = publish(&server, "/oidc", &[&keys()[0]]);
    let clock = ManualClock::starting_now();
    let mut config = config(&clock);
    tweak(&mut config);
    let emulator = Emulator::new(config).unwrap();
    let identity = emulator.put_identity(RG, UAMI, "westeurope").unwrap();
    emulator
        .put_federated_credential(RG, UAMI, "idp", FicSpec::new(&issuer, SUBJECT, AUDIENCE))
        .unwrap();
    let router = emulator.router();
    World {
        server,
        issuer,
        clock,
        emulator,
        router,
        identity,
    }
}

impl World {
    pub fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    /// Good claims for this world: issuer, subject, audience, valid for 10 minutes.
    pub fn claims(&self) -> Value {
        let now = self.now();
        json!({
            "iss": self.issuer,
            "sub": SUBJECT,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now - 60,
            "exp": now + 600,
            "jti": "j1",
        })
    }

    /// A good assertion.
    pub fn assertion(&self) -> String {
        sign(&keys()[0], &self.claims())
    }

    /// Exchanges `claims`, signed with the world's trusted key (the first test key).
    pub async fn token_with(&self, claims: &Value) -> (StatusCode, HeaderMap, Value) {
        self.token(&sign(&keys()[0], claims)).await
    }

    pub async fn token(&self, assertion: &str) -> (StatusCode, HeaderMap, Value) {
        let form = v2_form(
            &self.identity.client_id,
            assertion,
            "https://vault.azure.net/.default",
        );
        self.post_v2(&form).await
    }

    /// POSTs `form` to the tenant's v2 token endpoint.
    pub async fn post_v2(&self, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
        self.post(&format!("/{TENANT}/oauth2/v2.0/token"), form)
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        send(&self.router, request).await
    }
}

pub trait ClockExt {
    fn now_unix(&self) -> i64;
}

impl ClockExt for ManualClock {
    fn now_unix(&self) -> i64 {
        use idp_emulator::Clock as _;
        self.now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }
}

pub fn v2_form<'a>(
    client_id: &'a str,
    assertion: &'a str,
    scope: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_assertion_type", idp_emulator::JWT_BEARER),
        ("client_assertion", assertion),
        ("scope", scope),
    ]
}

/// Sends `request` to `router`; status, headers and the body as JSON (`Null` if empty,
/// a string if not JSON).
pub async fn send(router: &Router, request: Request) -> (StatusCode, HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, headers, body)
}

/// An RS256 assertion signed with `key`, header kid = the key's kid.
pub fn sign(key: &TestKey, claims: &Value) -> String {
    sign_with_header(
        key,
        &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}),
        claims,
    )
}

/// An RS256 JWT with this exact header, signed with `key`.
pub fn sign_with_header(key: &TestKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key.private).unwrap();
    let signature = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Checks Entra's error shape: every field, the description's prefix and trailer, the code.
pub fn assert_aadsts(
    (status, _headers, body): &(StatusCode, HeaderMap, Value),
    code: u32,
    want_status: u16,
    error: &str,
) {
    assert_eq!(status.as_u16(), want_status, "status for {code}: {body:#}");
    assert_eq!(body["error"], error, "{body:#}");
    assert_eq!(body["error_codes"], json!([code]), "{body:#}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    let trace = body["trace_id"].as_str().unwrap();
    let correlation = body["correlation_id"].as_str().unwrap();
    let timestamp = body["timestamp"].as_str().unwrap();
    // Today's trailer: single spaces, one line (no CR/LF since 2023).
    assert!(
        description.ends_with(&format!(
            " Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"
        )),
        "{description}"
    );
    assert!(!description.contains(['\r', '\n']), "{description}");
    assert_eq!(trace.len(), 36);
    assert_eq!(correlation.len(), 36);
    assert_eq!(timestamp.len(), "2024-12-03 13:51:30Z".len());
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    assert_eq!(body.as_object().unwrap().len(), 7, "{body:#}");
}

pub const FIVE_MINUTES: Duration = Duration::from_secs(300);
