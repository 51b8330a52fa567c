//! A local Microsoft Entra emulator: the token endpoint that takes a federated client
//! assertion, the ARM API that creates the user-assigned identities and federated identity
//! credentials (FICs) it is checked against, and the emulator's own discovery and JWKS.
//!
//! It exists to prove that idp's issuer works with Entra, so it shares no code with idp: it
//! fetches the issuer's published metadata over HTTPS like Entra, verifies with the
//! `jsonwebtoken` crate (RustCrypto), and signs its own access tokens with a key made by
//! the `rsa` crate.
//!
//! # What a token request must get past, in order
//!
//! `POST /{tenant}/oauth2/v2.0/token` (form `grant_type`, `client_id`,
//! `client_assertion_type`, `client_assertion`, `scope`; an extra `claims` is ignored) or the
//! v1 `POST /{tenant}/oauth2/token` (`resource` instead of `scope`). The first failing check
//! answers Entra's error body (`error`, `error_description` = `AADSTS<code>: …\r\nTrace ID:
//! …\r\nCorrelation ID: …\r\nTimestamp: …`, `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`, `error_uri`):
//!
//! | # | check | code | status, `error` |
//! |---|---|---|---|
//! | 1 | the path's tenant is this emulator's | 90002 | 400 invalid_request |
//! | 2 | `grant_type` present | 900144 | 400 invalid_request |
//! |   | `grant_type` is `client_credentials` | 70003 | 400 unsupported_grant_type |
//! |   | `client_id` present | 900144 | 400 invalid_request |
//! |   | `client_assertion_type` is jwt-bearer and `client_assertion` present | 7000218 | 401 invalid_client |
//! | 3 | v2: `scope` present / v1: `resource` present | 900144 | 400 invalid_request |
//! |   | each scope is `{resource}/.default` | 70011 | 400 invalid_scope |
//! |   | the scopes name one resource | 700022 | 400 invalid_scope |
//! | 4 | `client_id` is an identity's client id | 700016 | 400 unauthorized_client |
//! | 5 | the assertion is a JWT: three base64url parts, JSON header with `alg`, claims `iss`, `sub`, `aud`, `exp` | 50027 | 400 invalid_request |
//! |   | header `alg` is `RS256` (so never `none`, `HS256`, `ES256`…), before any key is used | 5002738 | 400 invalid_request |
//! | 6 | the identity has a FIC | 70025 | 400 invalid_request |
//! |   | a FIC's issuer equals `iss` byte for byte | 700211 | 401 invalid_client |
//! |   | one of those FICs is past the propagation delay | 70021 | 400 invalid_request |
//! | 7 | `{iss}/.well-known/openid-configuration` and its `jwks_uri` fetched over https (cached per issuer for the metadata TTL) | 90061 | 400 invalid_request |
//! |   | the JWKS parses (and the key found is a usable RSA key) | 900612 | 400 invalid_request |
//! |   | header `kid` is among the JWKS's first 100 signing keys | 7000272 | 401 invalid_client |
//! |   | the RS256 signature verifies with that key | 50027 | 401 invalid_client |
//! | 8 | a FIC's audience is in `aud` | 700212 | 401 invalid_client |
//! |   | that FIC's subject equals `sub` | 700213 (7002138 if equal ignoring case) | 401 invalid_client |
//! | 9 | now within `nbf` (if any) and `exp` | 700024 | 401 invalid_client |
//! |   | `exp` − `iat` (or `nbf`) at most 25 h | 70023 | 400 invalid_request |
//!
//! A FIC is invisible for `propagation_delay` after it is created or changed: if only
//! such FICs match the issuer, or only such a FIC would match audience and subject, the
//! answer is 70021, as Entra answers during propagation.
//!
//! On success: an RS256 access token from the emulator's key with `aud` (the resource),
//! `iss` `https://sts.windows.net/{tenant}/`, `tid`, `oid` and `sub` (principal id), `appid`
//! and `azp` (client id), `idtyp: app`, `xms_mirid`, `iat`, `nbf`, `exp` (1 h); body
//! `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":…}`, v1
//! adding `expires_on`, `not_before`, `resource` (v1 writes its numbers as strings, like
//! Entra v1). Assertions and access tokens are never logged or echoed.
//!
//! # Other routes
//!
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` and `GET
//!   /{tenant}/discovery/v2.0/keys`: the emulator's own metadata, for checking its access
//!   tokens. URLs in it use [`Config::public_base_url`], else `https://{Host}`.
//! - The ARM identity API, see [`arm`].
//! - Fault injection for client retry tests: [`Emulator::inject_faults`], or over HTTP
//!   `POST /_emulator/faults` with `{"status":429|503,"count":N,"retry_after":secs}`
//!   (`DELETE` clears), and `DELETE /_emulator/metadata-cache`.
//!
//! # Example
//!
//! ```no_run
//! use idp_emulator::{Config, Emulator, FicSpec};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = Config::new(
//!     "72f988bf-86f1-41af-91ab-2d7cd011db47",
//!     "00000000-0000-0000-0000-000000000001",
//! );
//! config.state_file = Some("emulator-state.json".into());
//! let emulator = Emulator::new(config)?;
//! let identity = emulator.put_identity("rg", "uami", "westeurope")?;
//! emulator.put_federated_credential(
//!     "rg",
//!     "uami",
//!     "idp",
//!     FicSpec::new("https://issuer.example/oidc", "my-workload", "api://AzureADTokenExchange"),
//! )?;
//! println!("client id {}", identity.client_id);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, emulator.router()).await?;
//! # Ok(())
//! # }
//! ```

mod aadsts;
pub mod arm;
mod clock;
mod ids;
mod jwt;
mod key;
mod metadata;
mod state;
mod token;

pub use aadsts::Aadsts;
pub use arm::{ArmError, FederatedCredential, FicSpec, Identity};
pub use clock::{Clock, ManualClock, SystemClock};
pub use key::SigningKey;
pub use metadata::{MAX_BODY_BYTES, MAX_KEYS};
pub use token::{ACCESS_TOKEN_EXPIRES_IN, JWT_BEARER};

use arm::{Registry, Target};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use metadata::MetadataCache;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// What the emulator is and how strict it is. Start from [`Config::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The tenant id (a GUID) in token URLs and tokens.
    pub tenant: String,
    /// The one subscription (a GUID) the ARM API knows.
    pub subscription: String,
    /// How long an issuer's discovery document and JWKS are cached. Default 24 h.
    pub metadata_ttl: Duration,
    /// How long a new or changed FIC answers AADSTS70021 (whole seconds). Default 0.
    pub propagation_delay: Duration,
    /// PEM CA certificates trusted, besides the system roots, when fetching issuer metadata.
    pub extra_roots: Vec<Vec<u8>>,
    /// Where identities, FICs and the signing key persist; `None` keeps them in memory.
    pub state_file: Option<PathBuf>,
    /// The longest `exp` − `iat` accepted (AADSTS70023). Default 25 h, Entra's `1.01:00:00`.
    pub max_assertion_lifetime: Duration,
    /// Leeway on `nbf` and `exp`. Default 0: Entra's own tolerance is undocumented.
    pub clock_skew: Duration,
    /// Timeout for each metadata request. Default 10 s.
    pub fetch_timeout: Duration,
    /// Require the discovery document's `issuer` to equal `iss` (else 90061). Default true:
    /// whether Entra checks it is unconfirmed, so the emulator takes the stricter reading.
    pub require_discovery_issuer_match: bool,
    /// Require `jwks_uri` on the issuer's host and port (else 90061). Default true, the
    /// stricter reading of an unconfirmed rule.
    pub require_same_host_jwks: bool,
    /// The emulator's external base URL (`https://host:port`) for its own discovery
    /// document; `None` uses `https://` and the request's `Host`.
    pub public_base_url: Option<String>,
    /// The key for access tokens when there is no state file yet; `None` generates one.
    /// A key in an existing state file always wins.
    pub signing_key: Option<SigningKey>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl Config {
    /// Entra's defaults for `tenant` and `subscription`, in memory, on the system clock.
    pub fn new(tenant: impl Into<String>, subscription: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            subscription: subscription.into(),
            metadata_ttl: Duration::from_secs(24 * 3600),
            propagation_delay: Duration::ZERO,
            extra_roots: Vec::new(),
            state_file: None,
            max_assertion_lifetime: Duration::from_secs(25 * 3600),
            clock_skew: Duration::ZERO,
            fetch_timeout: Duration::from_secs(10),
            require_discovery_issuer_match: true,
            require_same_host_jwks: true,
            public_base_url: None,
            signing_key: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why the emulator cannot start or persist.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tenant {0:?} is not a guid")]
    InvalidTenant(String),
    #[error("subscription {0:?} is not a guid")]
    InvalidSubscription(String),
    #[error("public base url {url:?} is not an absolute http(s) url")]
    InvalidBaseUrl { url: String },
    #[error("cannot generate the signing key: {reason}")]
    KeyGeneration { reason: String },
    #[error("invalid signing key: {reason}")]
    InvalidKey { reason: String },
    #[error("cannot sign an access token: {reason}")]
    Signing { reason: String },
    #[error("extra root certificate {index}: {reason}")]
    ExtraRoot { index: usize, reason: String },
    #[error("cannot build the metadata http client: {reason}")]
    HttpClient { reason: String },
    #[error("cannot read state file {}: {source}", path.display())]
    ReadState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {} is not valid: {reason}", path.display())]
    InvalidState { path: PathBuf, reason: String },
    #[error("cannot write state file {}: {source}", path.display())]
    WriteState {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The most requests one injection may fail.
pub const MAX_FAULT_COUNT: u32 = 100_000;
/// The most injections pending at once.
pub const MAX_FAULT_RUNS: usize = 1_000;
/// The longest `Retry-After` a fault may announce.
pub const MAX_FAULT_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why a fault injection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FaultLimit {
    #[error("count is at most 100000")]
    Count,
    #[error("retry_after is at most 3600 seconds")]
    RetryAfter,
    #[error("1000 injections are already pending; DELETE /_emulator/faults first")]
    Runs,
}

/// A failure the token endpoint answers with instead of checking the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After`, body AADSTS90055 `temporarily_unavailable`.
    TooManyRequests { retry_after: Duration },
    /// 503 with `Retry-After`, body AADSTS90033 `temporarily_unavailable`.
    ServiceUnavailable { retry_after: Duration },
}

/// The emulator. Cheap to clone: clones share state, key, cache and clock.
#[derive(Debug, Clone)]
pub struct Emulator(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Config,
    key: SigningKey,
    registry: Mutex<Registry>,
    metadata: MetadataCache,
    /// Pending faults as runs (`count` requests each), so memory follows the number of
    /// injections, never the counts asked for.
    faults: Mutex<VecDeque<(Fault, u32)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emulator {
    /// Checks `config`, loads the state file if there is one (else creates it), and builds
    /// the metadata client.
    pub fn new(config: Config) -> Result<Self, Error> {
        if !ids::is_guid(&config.tenant) {
            return Err(Error::InvalidTenant(config.tenant));
        }
        if !ids::is_guid(&config.subscription) {
            return Err(Error::InvalidSubscription(config.subscription));
        }
        if let Some(url) = &config.public_base_url {
            let ok = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(Error::InvalidBaseUrl { url: url.clone() });
            }
        }
        let loaded = match &config.state_file {
            Some(path) => state::load(path)?,
            None => None,
        };
        let (key, registry) = match loaded {
            Some(loaded) => loaded,
            None => {
                let key = match &config.signing_key {
                    Some(k) => k.clone(),
                    None => SigningKey::generate()?,
                };
                let registry = Registry::default();
                if let Some(path) = &config.state_file {
                    state::save(path, &key, &registry)?;
                }
                (key, registry)
            }
        };
        let metadata = MetadataCache::new(&config)?;
        Ok(Self(Arc::new(Inner {
            config,
            key,
            registry: Mutex::new(registry),
            metadata,
            faults: Mutex::new(VecDeque::new()),
        })))
    }

    /// The routes: token endpoints, the emulator's metadata, ARM and the admin knobs.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_v2))
            .route("/{tenant}/oauth2/token", post(token_v1))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(openid_configuration),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(keys))
            .route("/{tenant}/discovery/keys", get(keys))
            .route("/subscriptions/{*rest}", any(arm_route))
            .route("/_emulator/faults", post(post_faults).delete(delete_faults))
            .route("/_emulator/metadata-cache", delete(delete_metadata_cache))
            .fallback(not_found)
            .with_state(self.clone())
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.0.config.tenant
    }

    /// The subscription id.
    pub fn subscription(&self) -> &str {
        &self.0.config.subscription
    }

    /// The key that signs access tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.0.key
    }

    /// The JWKS served at `/{tenant}/discovery/v2.0/keys`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.0.key.public_jwk()] })
    }

    /// The `iss` of the emulator's access tokens: `https://sts.windows.net/{tenant}/`.
    pub fn access_token_issuer(&self) -> String {
        format!("https://sts.windows.net/{}/", self.tenant())
    }

    /// The current time of the configured clock.
    pub fn now(&self) -> SystemTime {
        self.0.config.clock.now()
    }

    pub(crate) fn metadata(&self) -> &MetadataCache {
        &self.0.metadata
    }

    /// Makes the next `count` token requests fail with `fault` (queued after any already
    /// pending). Refused beyond [`MAX_FAULT_COUNT`] requests or [`MAX_FAULT_RUNS`] pending
    /// injections: a test double must not be a way to exhaust the process.
    pub fn inject_faults(&self, fault: Fault, count: u32) -> Result<(), FaultLimit> {
        if count > MAX_FAULT_COUNT {
            return Err(FaultLimit::Count);
        }
        if let Fault::TooManyRequests { retry_after } | Fault::ServiceUnavailable { retry_after } =
            fault
            && retry_after > MAX_FAULT_RETRY_AFTER
        {
            return Err(FaultLimit::RetryAfter);
        }
        let mut faults = lock(&self.0.faults);
        if faults.len() >= MAX_FAULT_RUNS {
            return Err(FaultLimit::Runs);
        }
        if count > 0 {
            faults.push_back((fault, count));
        }
        Ok(())
    }

    /// Drops pending faults.
    pub fn clear_faults(&self) {
        lock(&self.0.faults).clear();
    }

    /// How many token requests will still fail.
    pub fn pending_faults(&self) -> usize {
        lock(&self.0.faults).iter().map(|(_, n)| *n as usize).sum()
    }

    /// Forgets every issuer's cached metadata.
    pub fn clear_metadata_cache(&self) {
        self.0.metadata.clear();
    }

    pub(crate) fn take_fault(&self, now: SystemTime, correlation: &str) -> Option<Response> {
        let fault = {
            let mut faults = lock(&self.0.faults);
            let (fault, left) = faults.front_mut()?;
            let fault = *fault;
            *left -= 1;
            if *left == 0 {
                faults.pop_front();
            }
            fault
        };
        let (status, code, message, retry_after) = match fault {
            Fault::TooManyRequests { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                90055,
                "There are too many incoming requests. Retry after the interval in Retry-After.",
                retry_after,
            ),
            Fault::ServiceUnavailable { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                90033,
                "A transient error has occurred. Please try again.",
                retry_after,
            ),
        };
        let mut response = Aadsts::new(code, status, "temporarily_unavailable", message)
            .into_response_at(now, correlation);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs().max(1)),
        );
        Some(response)
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.0.registry)
    }

    /// Runs `change` on a copy of the registry; persists and keeps the copy if it succeeds.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Registry) -> Result<T, ArmError>,
    ) -> Result<T, ArmError> {
        let mut registry = self.registry();
        let mut next = registry.clone();
        let out = change(&mut next)?;
        if next != *registry {
            if let Some(path) = &self.0.config.state_file {
                state::save(path, &self.0.key, &next).map_err(|e| ArmError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "InternalServerError",
                    message: e.to_string(),
                })?;
            }
            *registry = next;
        }
        Ok(out)
    }

    pub(crate) fn identity_by_client_id(&self, client_id: &str) -> Option<Identity> {
        self.registry().by_client_id(client_id).cloned()
    }

    /// All identities.
    pub fn identities(&self) -> Vec<Identity> {
        self.registry().identities.clone()
    }

    /// One identity.
    pub fn identity(&self, resource_group: &str, name: &str) -> Result<Identity, ArmError> {
        self.registry().identity(resource_group, name).cloned()
    }

    /// Creates an identity, or updates its location; client and principal ids never change.
    pub fn put_identity(
        &self,
        resource_group: &str,
        name: &str,
        location: &str,
    ) -> Result<Identity, ArmError> {
        let tags = self
            .registry()
            .identity(resource_group, name)
            .map(|i| i.tags.clone())
            .unwrap_or_default();
        self.write(|r| r.put_identity(resource_group, name, location, tags))
            .map(|(identity, _)| identity)
    }

    /// Deletes an identity and its FICs; `Ok(None)` if it did not exist.
    pub fn delete_identity(
        &self,
        resource_group: &str,
        name: &str,
    ) -> Result<Option<Identity>, ArmError> {
        self.write(|r| r.delete_identity(resource_group, name))
    }

    /// Creates or updates a FIC, with ARM's checks.
    pub fn put_federated_credential(
        &self,
        resource_group: &str,
        identity: &str,
        name: &str,
        spec: FicSpec,
    ) -> Result<FederatedCredential, ArmError> {
        let now = clock::unix(self.now());
        self.write(|r| r.put_fic(resource_group, identity, name, spec, now))
            .map(|(fic, _)| fic)
    }

    /// Deletes a FIC; `Ok(None)` if it did not exist.
    pub fn delete_federated_credential(
        &self,
        resource_group: &str,
        identity: &str,
        name: &str,
    ) -> Result<Option<FederatedCredential>, ArmError> {
        self.write(|r| r.delete_fic(resource_group, identity, name))
    }

    /// The ARM resource id of `identity` (its access tokens' `xms_mirid`).
    pub fn identity_resource_id(&self, identity: &Identity) -> String {
        arm::identity_id(self.subscription(), identity)
    }

    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.0.config.public_base_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
            .unwrap_or("localhost");
        format!("https://{host}")
    }
}

async fn token_v2(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token::handle(&emu, token::Version::V2, &tenant, &headers, &body).await
}

async fn token_v1(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token::handle(&emu, token::Version::V1, &tenant, &headers, &body).await
}

fn unknown_tenant(emu: &Emulator, tenant: &str, headers: &HeaderMap) -> Option<Response> {
    if tenant.eq_ignore_ascii_case(emu.tenant()) {
        return None;
    }
    Some(
        Aadsts::request(
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        )
        .into_response_at(emu.now(), &token::correlation_id(headers)),
    )
}

fn cacheable_json(body: Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    response
}

async fn openid_configuration(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unknown_tenant(&emu, &tenant, &headers) {
        return r;
    }
    let base = format!("{}/{}", emu.base_url(&headers), emu.tenant());
    cacheable_json(json!({
        "issuer": format!("{base}/v2.0"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "grant_types_supported": ["client_credentials"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "azp", "idtyp", "xms_mirid"],
        "request_uri_parameter_supported": false,
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

async fn keys(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unknown_tenant(&emu, &tenant, &headers) {
        return r;
    }
    cacheable_json(emu.jwks())
}

fn arm_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn arm_error(e: &ArmError) -> Response {
    arm_response(e.status, e.body())
}

fn has_api_version(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "api-version" && !v.is_empty())
    })
}

fn invalid_content(detail: impl std::fmt::Display) -> ArmError {
    ArmError {
        status: StatusCode::BAD_REQUEST,
        code: "InvalidRequestContent",
        message: format!("The request content was invalid and could not be deserialized: {detail}"),
    }
}

fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ArmError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_content("the body is not a JSON object")),
        Err(e) => Err(invalid_content(e)),
    }
}

fn identity_body(body: &[u8]) -> Result<(String, BTreeMap<String, String>), ArmError> {
    let map = json_object(body)?;
    let location = match map.get("location") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid_content("'location' is not a string")),
    };
    let tags = match map.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid_content("'tags' is not an object of strings"))?,
    };
    Ok((location, tags))
}

fn fic_body(body: &[u8]) -> Result<FicSpec, ArmError> {
    let map = json_object(body)?;
    let Some(Value::Object(props)) = map.get("properties") else {
        return Err(ArmError {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "The 'properties' object is required.".into(),
        });
    };
    let string = |name: &str| match props.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid_content(format!("'{name}' is not a string"))),
    };
    let audiences = match props.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid_content("'audiences' is not an array of strings"))?,
    };
    Ok(FicSpec {
        issuer: string("issuer")?,
        subject: string("subject")?,
        audiences,
    })
}

async fn arm_route(State(emu): State<Emulator>, method: Method, uri: Uri, body: Bytes) -> Response {
    match arm_request(&emu, &method, &uri, &body) {
        Ok((status, body)) => arm_response(status, body),
        Err(e) => arm_error(&e),
    }
}

fn arm_request(
    emu: &Emulator,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Result<(StatusCode, Value), ArmError> {
    let Some((subscription, target)) = arm::parse_path(uri.path()) else {
        return Err(ArmError {
            status: StatusCode::NOT_FOUND,
            code: "InvalidResourceType",
            message: format!("The emulator has no ARM resource at '{}'.", uri.path()),
        });
    };
    if !has_api_version(uri) {
        return Err(ArmError {
            status: StatusCode::BAD_REQUEST,
            code: "MissingApiVersionParameter",
            message:
                "The api-version query parameter (?api-version=) is required for all requests."
                    .into(),
        });
    }
    if !subscription.eq_ignore_ascii_case(emu.subscription()) {
        return Err(ArmError {
            status: StatusCode::NOT_FOUND,
            code: "SubscriptionNotFound",
            message: format!("The subscription '{subscription}' could not be found."),
        });
    }
    let (sub, tenant) = (emu.subscription(), emu.tenant());
    let ok = |v: Value| Ok((StatusCode::OK, v));
    let created = |c: bool| {
        if c {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    };
    match (method.clone(), target) {
        (Method::GET, Target::Identities { rg }) => {
            let registry = emu.registry();
            let value: Vec<Value> = registry
                .list(rg)?
                .into_iter()
                .map(|i| arm::identity_json(sub, tenant, i))
                .collect();
            ok(json!({ "value": value }))
        }
        (Method::GET, Target::Identity { rg, name }) => {
            ok(arm::identity_json(sub, tenant, &emu.identity(rg, name)?))
        }
        (Method::PUT, Target::Identity { rg, name }) => {
            let (location, tags) = identity_body(body)?;
            let (identity, c) = emu.write(|r| r.put_identity(rg, name, &location, tags))?;
            Ok((created(c), arm::identity_json(sub, tenant, &identity)))
        }
        (Method::DELETE, Target::Identity { rg, name }) => match emu.delete_identity(rg, name)? {
            Some(_) => ok(Value::Null),
            None => Ok((StatusCode::NO_CONTENT, Value::Null)),
        },
        (Method::GET, Target::Fics { rg, name }) => {
            let identity = emu.identity(rg, name)?;
            let value: Vec<Value> = identity
                .federated_credentials
                .iter()
                .map(|f| arm::fic_json(sub, &identity, f))
                .collect();
            ok(json!({ "value": value }))
        }
        (Method::GET, Target::Fic { rg, name, fic }) => {
            let registry = emu.registry();
            let f = registry.fic(rg, name, fic)?;
            ok(arm::fic_json(sub, registry.identity(rg, name)?, f))
        }
        (Method::PUT, Target::Fic { rg, name, fic }) => {
            emu.identity(rg, name)?;
            let spec = fic_body(body)?;
            let now = clock::unix(emu.now());
            let (f, c) = emu.write(|r| r.put_fic(rg, name, fic, spec, now))?;
            Ok((created(c), arm::fic_json(sub, &emu.identity(rg, name)?, &f)))
        }
        (Method::DELETE, Target::Fic { rg, name, fic }) => {
            match emu.delete_federated_credential(rg, name, fic)? {
                Some(_) => ok(Value::Null),
                None => Ok((StatusCode::NO_CONTENT, Value::Null)),
            }
        }
        (method, _) => Err(ArmError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "MethodNotAllowed",
            message: format!("The method '{method}' is not allowed on this resource."),
        }),
    }
}

async fn post_faults(State(emu): State<Emulator>, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let field = |v: &Value, name: &str| v.get(name).and_then(Value::as_u64);
    let fault = parsed.ok().and_then(|v| {
        let retry_after = Duration::from_secs(field(&v, "retry_after").unwrap_or(1));
        let count = u32::try_from(field(&v, "count").unwrap_or(1)).unwrap_or(u32::MAX);
        let fault = match field(&v, "status")? {
            429 => Fault::TooManyRequests { retry_after },
            503 => Fault::ServiceUnavailable { retry_after },
            _ => return None,
        };
        Some((fault, count))
    });
    match fault {
        Some((fault, count)) => match emu.inject_faults(fault, count) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(limit) => (StatusCode::BAD_REQUEST, format!("refused: {limit}\n")).into_response(),
        },
        None => (
            StatusCode::BAD_REQUEST,
            "expected {\"status\":429|503,\"count\":n,\"retry_after\":seconds}\n",
        )
            .into_response(),
    }
}

async fn delete_faults(State(emu): State<Emulator>) -> StatusCode {
    emu.clear_faults();
    StatusCode::NO_CONTENT
}

async fn delete_metadata_cache(State(emu): State<Emulator>) -> StatusCode {
    emu.clear_metadata_cache();
    StatusCode::NO_CONTENT
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
