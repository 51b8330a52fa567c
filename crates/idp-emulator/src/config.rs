//! What the emulator runs with ([`Config`]), and why it cannot start ([`Error`]).

use crate::SigningKey;
use crate::clock::{Clock, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the emulator is and how strict it is. Start from [`Config::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The tenant id (a GUID) in token URLs and tokens.
    pub tenant: String,
    /// The one subscription (a GUID) the ARM API knows.
    pub subscription: String,
    /// The publisher's tenant (a GUID, not [`Config::tenant`]): the tenant of the
    /// machine's managed identities and of the applications the publisher registers. The
    /// token endpoint and Microsoft Graph answer for both tenants. Default
    /// [`DEFAULT_PUBLISHER_TENANT`].
    pub publisher_tenant: String,
    /// The publisher's subscription (a GUID) in the machine identities' resource ids; no
    /// ARM API answers for it. Default [`DEFAULT_PUBLISHER_SUBSCRIPTION`].
    pub publisher_subscription: String,
    /// The user-assigned identities of the publisher's tenant attached to "this machine",
    /// by name: [`crate::Emulator::identity_router`] hands out their tokens. Default one,
    /// `publisher-mi`.
    pub machine_identities: Vec<String>,
    /// How long an issuer's discovery document and JWKS are cached. Default 24 h.
    pub metadata_ttl: Duration,
    /// How long a new or changed FIC answers AADSTS70021 (whole seconds). Default 0.
    pub propagation_delay: Duration,
    /// Each token response leaves no sooner than this after its request arrived: Entra's
    /// round trip (its processing included), for benchmarks. Default 0.
    pub latency: Duration,
    /// How long ARM takes to write a FIC; a second write under the same identity meanwhile
    /// is refused with 409, as Azure refuses concurrent FIC writes. Default 100 ms.
    pub fic_write_duration: Duration,
    /// ARM requests need `Authorization: Bearer` with a token this emulator signed for
    /// ARM, as Azure does (401 otherwise). Default true.
    pub arm_requires_bearer: bool,
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
    /// Require `jwks_uri` on the issuer's host and port (else 90061). Default false: Entra
    /// accepts keys on another host (Google's issuer publishes its keys on
    /// www.googleapis.com and federates with Entra; Learn, "Workload identity federation
    /// with Google Cloud"). The strict reading stays as an option.
    pub require_same_host_jwks: bool,
    /// The emulator's external base URL (`https://host:port`) for its own discovery
    /// document; `None` uses `https://` and the request's `Host`.
    pub public_base_url: Option<String>,
    /// The key for access tokens when there is no state file yet; `None` generates one.
    /// A key in an existing state file always wins.
    pub signing_key: Option<SigningKey>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Gives each vault its own origin, as Azure gives each vault its own host: `None`
    /// serves vaults under the emulator's own URL at `/keyvault/{name}/` (enough for raw
    /// HTTP; Microsoft's Key Vault clients parse ids as `https://host/secrets/{name}/{version}`
    /// and need a vault at an origin's root).
    pub vault_endpoints: Option<VaultEndpoints>,
    /// The cloud it stands in for: its Entra refuses another cloud's resources
    /// (AADSTS500011), and ARM's metadata names that cloud's Key Vault suffix. Default the
    /// global cloud.
    pub cloud: crate::cloud::Cloud,
    /// The storage suffix ARM's metadata names (`suffixes.storage`): where a client finds
    /// `https://<account>.blob.<suffix>`. Default `core.windows.net`.
    pub storage_suffix: String,
}

/// Serves a router on a fresh loopback port with the emulator's TLS; answers its base URL
/// (`https://127.0.0.1:PORT`).
pub type OpenEndpoint = Arc<
    dyn Fn(
            axum::Router,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<String>> + Send>>
        + Send
        + Sync,
>;

/// How vaults get their own origins: `open` serves one vault's data plane. A vault's origin
/// is opened when ARM first answers for it (PUT or GET), and its challenge names the
/// emulator's URL that ARM request came to as the authority.
#[derive(Clone)]
pub struct VaultEndpoints {
    pub open: OpenEndpoint,
}

impl std::fmt::Debug for VaultEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultEndpoints").finish_non_exhaustive()
    }
}

/// The publisher's tenant unless configured (`idp emulator --publisher-tenant`).
pub const DEFAULT_PUBLISHER_TENANT: &str = "5e3f7a2c-9b1d-4e6f-8a0b-7c2d1e9f4a63";
/// The publisher's subscription in the machine identities' resource ids.
pub const DEFAULT_PUBLISHER_SUBSCRIPTION: &str = "3c9e1f7a-5b2d-4a8e-9f6c-0d4b2a7e1c58";
/// The machine identity attached unless configured (`idp emulator --machine-identity`).
pub const DEFAULT_MACHINE_IDENTITY: &str = "publisher-mi";

impl Config {
    /// Entra's defaults for `tenant` and `subscription`, in memory, on the system clock.
    pub fn new(tenant: impl Into<String>, subscription: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            subscription: subscription.into(),
            publisher_tenant: DEFAULT_PUBLISHER_TENANT.into(),
            publisher_subscription: DEFAULT_PUBLISHER_SUBSCRIPTION.into(),
            machine_identities: vec![DEFAULT_MACHINE_IDENTITY.into()],
            metadata_ttl: Duration::from_secs(24 * 3600),
            propagation_delay: Duration::ZERO,
            latency: Duration::ZERO,
            fic_write_duration: Duration::from_millis(100),
            arm_requires_bearer: true,
            extra_roots: Vec::new(),
            state_file: None,
            max_assertion_lifetime: Duration::from_secs(25 * 3600),
            clock_skew: Duration::ZERO,
            fetch_timeout: Duration::from_secs(10),
            require_discovery_issuer_match: true,
            require_same_host_jwks: false,
            public_base_url: None,
            signing_key: None,
            clock: Arc::new(SystemClock),
            vault_endpoints: None,
            cloud: crate::cloud::Cloud::Public,
            storage_suffix: "core.windows.net".into(),
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
    #[error("publisher tenant {0:?} is not a guid")]
    InvalidPublisherTenant(String),
    #[error("the publisher tenant {0} is the customer's tenant; give each its own")]
    SameTenants(String),
    #[error(
        "machine identity name {0:?} is invalid: 3-128 letters, digits, '-' and '_', starting with a letter or digit"
    )]
    InvalidMachineIdentity(String),
    #[error("machine identity {0:?} is named twice")]
    DuplicateMachineIdentity(String),
    #[error("the issuer base url is already {current:?}")]
    IssuerBaseSet { current: String },
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
