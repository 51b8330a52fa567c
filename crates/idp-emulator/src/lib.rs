//! A local Microsoft Entra emulator: the token endpoint that takes a federated client
//! assertion, the ARM API that creates the user-assigned identities and federated identity
//! credentials (FICs) it is checked against, and the emulator's own discovery and JWKS;
//! beside the customer's tenant a publisher's tenant, with the managed identities attached
//! to "this machine" (App Service- and IMDS-shaped endpoints), a Microsoft Graph subset
//! (applications, their FICs, service principals) and admin consent, for the "entra-app"
//! way: a publisher's managed identity's token as its multi-tenant application's
//! credential in the customer's tenant.
//!
//! It exists to prove that idp's issuer works with Entra, so it shares no code with idp: it
//! fetches the issuer's published metadata over HTTPS like Entra, verifies with the
//! `jsonwebtoken` crate (RustCrypto), and signs its own access tokens through code of its
//! own on the `openssl` crate (no private-key operation goes through RustCrypto `rsa`).
//!
//! Modules: `routes` builds the router. The token endpoint's checks are in `token`. The
//! ARM API's rules are in [`arm`]: its kernel ([`arm::kernel`]: errors, resource ids,
//! resource groups) and one module per resource provider, each owning its store
//! ([`arm::identities`], [`arm::vaults`], [`arm::authorization`], [`arm::solutions`],
//! [`arm::policy`]), composed by the registry. Microsoft Graph's directory is [`graph`],
//! the machine's identities `machine`. Their HTTP side is in `arm_routes` (identities,
//! resource groups, the subscription, applications, policy assignments), `vault_routes`
//! (vaults, role assignments, and Key Vault's data plane), `graph_routes` (Graph and admin
//! consent) and `identity_routes` (the machine's identity endpoints, a router of their
//! own); the helpers every route shares (query parameters, bodies, bearer tokens, ARM's
//! error answer) are in `http`. Fault injection is in `faults`, the configuration in
//! `config`.
//!
//! # Tenants
//!
//! The customer's ([`Config::tenant`]: its subscription, ARM identities, vaults) and the
//! publisher's ([`Config::publisher_tenant`]: the machine's identities, the publisher's
//! applications). The token endpoint, discovery and Graph answer for both; any other
//! tenant is AADSTS90002. Applications live in their home tenant's Graph directory; a
//! multi-tenant one gets a service principal in another tenant by admin consent or Graph.
//!
//! # What a token request must get past, in order
//!
//! `POST /{tenant}/oauth2/v2.0/token` (form `grant_type`, `client_id`,
//! `client_assertion_type`, `client_assertion`, `scope`; an extra `claims` is ignored) or the
//! v1 `POST /{tenant}/oauth2/token` (`resource` instead of `scope`). The first failing check
//! answers Entra's error body (`error`, `error_description` = `AADSTS<code>: … Trace ID:
//! … Correlation ID: … Timestamp: …`, `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`, `error_uri`):
//!
//! | # | check | code | status, `error` |
//! |---|---|---|---|
//! | 1 | the path's tenant is one of this emulator's two | 90002 | 400 invalid_request |
//! | 2 | `grant_type` present | 900144 | 400 invalid_request |
//! |   | `grant_type` is `client_credentials` | 70003 | 400 unsupported_grant_type |
//! |   | `client_id` present | 900144 | 400 invalid_request |
//! |   | `client_assertion_type` is jwt-bearer and `client_assertion` present | 7000218 | 401 invalid_client |
//! | 3 | v2: `scope` present / v1: `resource` present | 900144 | 400 invalid_request |
//! |   | each scope is `{resource}/.default` | 70011 | 400 invalid_scope |
//! |   | the scopes name one resource | 700022 | 400 invalid_scope |
//! |   | the resource is not another cloud's service (`Config::cloud`) | 500011 | 400 invalid_resource |
//! | 4 | `client_id` is a user-assigned identity's client id (customer's tenant only) or an application's id (any tenant's directory) | 700016 | 400 unauthorized_client |
//! | 5 | the assertion is a JWT: three base64url parts, JSON header with `alg`, claims `iss`, `sub`, `aud`, `exp` | 50027 | 400 invalid_request |
//! |   | header `alg` is `RS256` (so never `none`, `HS256`, `ES256`…), before any key is used | 5002738 | 400 invalid_request |
//!
//! Then an assertion this emulator's Entra issued (`iss` `{issuer base}/{tenant}/v2.0` or
//! `https://sts.windows.net/{tenant}/` for either tenant: a managed identity's token)
//! takes Entra's own path:
//!
//! | # | check | code | status, `error` |
//! |---|---|---|---|
//! | E1 | the issuer's tenant is the client's home tenant (an application's; the customer's for a UAMI) | 700236 | 401 invalid_client |
//! | E2 | the signature verifies with the emulator's own key | 50027 | 401 invalid_client |
//! |    | now within `nbf` and `exp` | 700024 | 401 invalid_client |
//! | E3 | the token is app-only (`idtyp` `app`) | 700229 | 401 invalid_client |
//! |    | it is a managed identity's (`xms_mirid`), not an application's | 700226 | 401 invalid_client |
//! |    | it came from a managed identity endpoint, not through federation ([`XMS_EMU_GRANT`]) | 700231 | 401 invalid_client |
//! | E4 | an application client has a service principal in the requesting tenant | 700016 (7000229 in its home tenant) | 400 |
//! | E5 | the client's FICs (Graph's for an application, ARM's for a UAMI) as in 6 and 8 below; a FIC audience of this cloud's `api://AzureADTokenExchange` matches the token's `aud` `fb60f99c-7a34-4190-8149-302f77469936` | 70025, 700211, 70021, 700212, 700213, 7002138 | as below |
//!
//! Any other assertion (an external issuer's, idp's) goes on:
//!
//! | # | check | code | status, `error` |
//! |---|---|---|---|
//! | 5b | an application client has a service principal in the requesting tenant | 700016 (7000229 in its home tenant) | 400 |
//! | 6 | the client has a FIC (ARM's for a UAMI, Graph's for an application) | 70025 | 400 invalid_request |
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
//! A FIC is invisible for `propagation_delay` after it is created or changed (ARM's and
//! Graph's alike): if only such FICs match the issuer, or only such a FIC would match
//! audience and subject, the answer is 70021, as Entra answers during propagation.
//!
//! On success: an RS256 access token from the emulator's key. A UAMI client gets its
//! managed identity's token: `aud` (the resource), `iss` `https://sts.windows.net/{tenant}/`,
//! `tid`, `oid` and `sub` (principal id), `appid` (client id), `idtyp: app`, `xms_mirid`,
//! `iat`, `nbf`, `exp` (about 24 h); an application client its token in the requesting
//! tenant: `tid` that tenant, `oid` = `sub` its service principal there, `appid` the
//! application id, no `xms_mirid`, about 1 h. For this cloud's `api://AzureADTokenExchange`
//! the token is v2.0 (`aud` the exchange's application id, `iss` `{issuer base}/{tenant}/v2.0`,
//! `azp` instead of `appid`). Both carry [`XMS_EMU_GRANT`] `federated`. Body
//! `{"token_type":"Bearer","expires_in":…,"ext_expires_in":…,"access_token":…}`, v1 adding
//! `expires_on`, `not_before`, `resource` (v1 writes its numbers as strings, like Entra v1).
//! Assertions and access tokens are never logged or echoed.
//!
//! # Other routes
//!
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` and `GET
//!   /{tenant}/discovery/v2.0/keys` (either tenant): the emulator's own metadata, for
//!   checking its access tokens. URLs in it use [`Config::public_base_url`], else
//!   `https://{Host}`.
//! - The ARM identity API, see [`arm::identities`]; policy assignments of the built-in FIC
//!   issuer policy, which can deny a FIC PUT, see [`arm::policy`].
//! - Managed applications and `listTokens`, see [`arm::solutions`].
//! - Key Vault: vaults and role assignments through ARM, and the data plane's secrets with
//!   Key Vault's challenge and RBAC, see [`arm::vaults`] and [`arm::authorization`].
//! - Microsoft Graph under `/v1.0/` (applications, FICs, service principals) and admin
//!   consent at `/{tenant}/adminconsent` and `/{tenant}/v2.0/adminconsent`, see [`graph`].
//! - The machine's identity endpoints, on a router of their own
//!   ([`Emulator::identity_router`], plain HTTP, loopback): App Service's
//!   [`APP_SERVICE_PATH`] and IMDS's [`IMDS_PATH`], handing out the tokens of the
//!   [`MachineIdentity`]s (`xms_emu_grant: managed_identity`).
//! - Fault injection for client retry tests: [`Emulator::inject_faults`], or over HTTP
//!   `POST /_emulator/faults` with `{"status":429|503,"count":N,"retry_after":secs}`
//!   (`"service":"vault"` for Key Vault's data plane instead of the token endpoint;
//!   `DELETE` clears), and `DELETE /_emulator/metadata-cache`.
//! - `--latency` delays token responses and Key Vault data-plane responses alike.
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
mod arm_routes;
mod clock;
mod cloud;
mod config;
mod faults;
pub mod graph;
mod graph_routes;
mod http;
mod identity_routes;
mod ids;
mod jwt;
mod key;
mod machine;
mod metadata;
mod routes;
mod state;
pub mod strict;
mod token;
mod vault_keys;
mod vault_routes;

/// Managed applications, at their path before [`arm`] owned them.
pub use arm::solutions;

/// Key Vault's vaults and role assignments, at their path before [`arm`] owned them.
pub mod vault {
    pub use crate::arm::authorization::{
        ROLE_ASSIGNMENT_TYPE, RoleAssignment, role_assignment_json,
    };
    pub use crate::arm::vaults::{
        KEY_VAULT_ADMINISTRATOR, KEY_VAULT_CRYPTO_OFFICER, KEY_VAULT_CRYPTO_USER,
        KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_SECRETS_USER, Key, KeyVersion, MAX_SECRET_BYTES,
        Secret, SecretAction, SecretVersion, VAULT_RESOURCE, VAULT_TYPE, Vault, key_json,
        secret_json, valid_secret_name, valid_vault_name, vault_id, vault_json, vault_uri,
    };
}

pub use aadsts::Aadsts;
pub use arm::{ArmError, FederatedCredential, FicSpec, Identity};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cloud::Cloud;
pub use config::{
    Config, DEFAULT_MACHINE_IDENTITY, DEFAULT_PUBLISHER_SUBSCRIPTION, DEFAULT_PUBLISHER_TENANT,
    Error, OpenEndpoint, VaultEndpoints,
};
pub use faults::{
    Fault, FaultLimit, FaultTarget, MAX_FAULT_COUNT, MAX_FAULT_RETRY_AFTER, MAX_FAULT_RUNS,
};
pub use identity_routes::{APP_SERVICE_API_VERSION, APP_SERVICE_PATH, IMDS_API_VERSION, IMDS_PATH};
pub use key::SigningKey;
pub use machine::{MACHINE_RESOURCE_GROUP, MachineIdentity};
pub use metadata::{MAX_BODY_BYTES, MAX_KEYS};
pub use token::{ACCESS_TOKEN_EXPIRES_IN, JWT_BEARER};
pub use token::{TOKEN_EXCHANGE_APP_ID, XMS_EMU_GRANT};

use arm::Registry;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
pub use graph::{Application, GraphError, GraphFic, ServicePrincipal};
use metadata::MetadataCache;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

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
    /// The same for Key Vault's data plane.
    vault_faults: Mutex<VecDeque<(Fault, u32)>>,
    /// Identities (lowercase ARM id) with a FIC write in progress.
    fic_writes: Mutex<std::collections::HashSet<String>>,
    /// Each vault's data-plane origin once opened: lowercase name → (`https://…/`, the
    /// emulator's base URL its challenge names as the authority).
    vault_origins: tokio::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
    /// The base URL of the emulator's Entra issuers when [`Config::public_base_url`] is
    /// not set: the main listener's `https://host:port`, set once it is bound.
    issuer_base: std::sync::OnceLock<String>,
    /// The machine's `IDENTITY_HEADER`: a secret made per start, as App Service rotates it.
    identity_header: String,
}

/// A FIC write in progress; dropping it ends it.
#[derive(Debug)]
pub(crate) struct FicWrite {
    emu: Emulator,
    key: String,
}

impl Drop for FicWrite {
    fn drop(&mut self) {
        lock(&self.emu.0.fic_writes).remove(&self.key);
    }
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
        if !ids::is_guid(&config.publisher_tenant) {
            return Err(Error::InvalidPublisherTenant(config.publisher_tenant));
        }
        if config.publisher_tenant.eq_ignore_ascii_case(&config.tenant) {
            return Err(Error::SameTenants(config.tenant));
        }
        if !ids::is_guid(&config.publisher_subscription) {
            return Err(Error::InvalidSubscription(config.publisher_subscription));
        }
        for (i, name) in config.machine_identities.iter().enumerate() {
            if !arm::valid_identity_name(name) {
                return Err(Error::InvalidMachineIdentity(name.clone()));
            }
            if config.machine_identities[..i]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
            {
                return Err(Error::DuplicateMachineIdentity(name.clone()));
            }
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
        let (key, mut registry, mut dirty) = match loaded {
            Some((key, registry)) => (key, registry, false),
            None => {
                let key = match &config.signing_key {
                    Some(k) => k.clone(),
                    None => SigningKey::generate()?,
                };
                (key, Registry::default(), true)
            }
        };
        // The machine identities' ids, made once per name and kept.
        dirty |= registry
            .machine_identities
            .ensure(&config.machine_identities);
        if dirty && let Some(path) = &config.state_file {
            state::save(path, &key, &registry)?;
        }
        let metadata = MetadataCache::new(&config)?;
        Ok(Self(Arc::new(Inner {
            config,
            key,
            registry: Mutex::new(registry),
            metadata,
            faults: Mutex::new(VecDeque::new()),
            vault_faults: Mutex::new(VecDeque::new()),
            vault_origins: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            fic_writes: Mutex::new(std::collections::HashSet::new()),
            issuer_base: std::sync::OnceLock::new(),
            identity_header: ids::new_secret(),
        })))
    }

    /// The routes: token endpoints, the emulator's metadata, ARM and the admin knobs.
    pub fn router(&self) -> Router {
        routes::router(self)
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

    /// The publisher's tenant id.
    pub fn publisher_tenant(&self) -> &str {
        &self.0.config.publisher_tenant
    }

    /// The emulator's tenant `t` names (either, in any case) as configured, if any.
    pub(crate) fn known_tenant(&self, t: &str) -> Option<&str> {
        [self.tenant(), self.publisher_tenant()]
            .into_iter()
            .find(|x| x.eq_ignore_ascii_case(t))
    }

    /// The v1 `iss` of `tenant`'s access tokens: `https://sts.windows.net/{tenant}/`.
    pub fn access_token_issuer_for(&self, tenant: &str) -> String {
        format!("https://sts.windows.net/{tenant}/")
    }

    /// The base URL of the emulator's Entra, in its v2 issuers (`{base}/{tenant}/v2.0`):
    /// [`Config::public_base_url`], else what [`Emulator::set_issuer_base`] set (the
    /// binary sets the main listener's `https://host:port` once bound).
    pub fn issuer_base(&self) -> Option<String> {
        match &self.0.config.public_base_url {
            Some(url) => Some(url.trim_end_matches('/').to_owned()),
            None => self.0.issuer_base.get().cloned(),
        }
    }

    /// Sets the base URL of the emulator's Entra issuers (`https://host:port`), once, when
    /// [`Config::public_base_url`] is not set: the machine's identity endpoints need it
    /// for the `iss` of their token-exchange tokens.
    pub fn set_issuer_base(&self, base: &str) -> Result<(), Error> {
        let base = base.trim_end_matches('/').to_owned();
        let ok = url::Url::parse(&base)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if !ok {
            return Err(Error::InvalidBaseUrl { url: base });
        }
        if let Some(current) = self.issuer_base()
            && current != base
        {
            return Err(Error::IssuerBaseSet { current });
        }
        let _ = self.0.issuer_base.set(base);
        Ok(())
    }

    /// The v2 issuer of `tenant` on `base`: `{base}/{tenant}/v2.0`.
    pub fn entra_issuer(base: &str, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", base.trim_end_matches('/'))
    }

    /// The managed identities attached to the machine, in the configured order.
    pub fn machine_identities(&self) -> Vec<MachineIdentity> {
        let registry = self.registry();
        self.0
            .config
            .machine_identities
            .iter()
            .filter_map(|name| {
                let ids = registry.machine_identities.get(name)?;
                Some(MachineIdentity {
                    name: name.clone(),
                    client_id: ids.client_id.clone(),
                    principal_id: ids.principal_id.clone(),
                    resource_id: machine::resource_id(&self.0.config.publisher_subscription, name),
                })
            })
            .collect()
    }

    /// The machine's identity endpoints, plain HTTP as on the machine: App Service's at
    /// [`APP_SERVICE_PATH`] (with `X-IDENTITY-HEADER` [`Emulator::identity_header`]) and
    /// IMDS's at [`IMDS_PATH`]. Serve it on loopback only.
    pub fn identity_router(&self) -> Router {
        identity_routes::router(self)
    }

    /// The machine's `IDENTITY_HEADER`, a secret made per start.
    pub fn identity_header(&self) -> &str {
        &self.0.identity_header
    }

    /// An access token of `tenant`'s administrator for `resource`, valid for `lifetime`:
    /// what `az account get-access-token --resource …` gives a signed-in admin (a Graph
    /// token to register applications or service principals, for tests and scripts).
    pub fn admin_token(
        &self,
        tenant: &str,
        resource: &str,
        lifetime: std::time::Duration,
    ) -> Result<String, Error> {
        let tenant = self
            .known_tenant(tenant)
            .ok_or_else(|| Error::InvalidTenant(tenant.to_owned()))?;
        let now = clock::unix(self.now());
        let claims = json!({
            "aud": resource,
            "iss": self.access_token_issuer_for(tenant),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime.as_secs() as i64,
            "tid": tenant,
            "oid": Self::OWNER_PRINCIPAL,
            "sub": Self::OWNER_PRINCIPAL,
            "idtyp": "user",
            "name": "Tenant administrator (emulator)",
        });
        self.signing_key().sign(&claims)
    }

    /// The principal id of the subscription's owner, whom [`Emulator::owner_token`] speaks for.
    pub const OWNER_PRINCIPAL: &'static str = "30000000-0000-4000-8000-000000000003";

    /// An ARM access token of the subscription's owner, valid for `lifetime`: what
    /// `az account get-access-token` gives a signed-in admin. Secret: scripts keep it in a
    /// 0600 file (`idp emulator --owner-token-out`).
    pub fn owner_token(&self, lifetime: std::time::Duration) -> Result<String, Error> {
        let now = clock::unix(self.now());
        let claims = json!({
            "aud": "https://management.azure.com/",
            "iss": self.access_token_issuer(),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime.as_secs() as i64,
            "tid": self.tenant(),
            "oid": Self::OWNER_PRINCIPAL,
            "sub": Self::OWNER_PRINCIPAL,
            "idtyp": "user",
            "name": "Subscription owner (emulator)",
        });
        self.signing_key().sign(&claims)
    }

    /// The current time of the configured clock.
    pub fn now(&self) -> SystemTime {
        self.0.config.clock.now()
    }

    pub(crate) fn metadata(&self) -> &MetadataCache {
        &self.0.metadata
    }

    /// Forgets every issuer's cached metadata.
    pub fn clear_metadata_cache(&self) {
        self.0.metadata.clear();
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.0.registry)
    }

    /// Runs `change` on the registry. A change checks everything before it changes
    /// anything, so a refusal leaves the registry as it was (debug builds, the test suite,
    /// check that on every refusal), and the registry is not copied per write: a fleet of
    /// 10,000 identities is made in seconds. With a state file, the change is made on a copy
    /// that replaces the registry only once it is saved.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Registry) -> Result<T, ArmError>,
    ) -> Result<T, ArmError> {
        self.write_as(change, |e| ArmError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalServerError",
            message: e.to_string(),
        })
    }

    /// [`Emulator::write`] for a change refused with `E`; `saving` makes one of a failure
    /// to save the state file.
    fn write_as<T, E: std::fmt::Display>(
        &self,
        change: impl FnOnce(&mut Registry) -> Result<T, E>,
        saving: impl FnOnce(Error) -> E,
    ) -> Result<T, E> {
        let mut registry = self.registry();
        if let Some(path) = &self.0.config.state_file {
            let mut next = registry.clone();
            let out = change(&mut next)?;
            state::save(path, &self.0.key, &next).map_err(saving)?;
            *registry = next;
            return Ok(out);
        }
        #[cfg(debug_assertions)]
        let before = registry.clone();
        match change(&mut registry) {
            Ok(out) => Ok(out),
            Err(e) => {
                #[cfg(debug_assertions)]
                assert!(
                    *registry == before,
                    "a refused change ({e}) changed the registry"
                );
                Err(e)
            }
        }
    }

    /// Runs `change` on the tenants' Graph directories, as [`Emulator::write`] does.
    pub(crate) fn write_directory<T>(
        &self,
        change: impl FnOnce(&mut graph::Directories) -> Result<T, GraphError>,
    ) -> Result<T, GraphError> {
        self.write_as(
            |r| change(&mut r.directories),
            |e| {
                GraphError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    e.to_string(),
                )
            },
        )
    }

    pub(crate) fn identity_by_client_id(&self, client_id: &str) -> Option<Identity> {
        self.registry().identities.by_client_id(client_id).cloned()
    }

    /// All identities.
    pub fn identities(&self) -> Vec<Identity> {
        self.registry().identities.all().to_vec()
    }

    /// One identity.
    pub fn identity(&self, resource_group: &str, name: &str) -> Result<Identity, ArmError> {
        self.registry()
            .identities
            .get(resource_group, name)
            .cloned()
    }

    /// Creates a resource group (ARM requires one before anything is created in it).
    pub fn put_resource_group(&self, name: &str, location: &str) -> Result<(), ArmError> {
        let location = strict::check_location(location, "resourceGroups")?;
        self.write(|r| r.resource_groups.put(name, &location))
            .map(|_| ())
    }

    /// Creates an identity, or updates its location; client and principal ids never change.
    /// For embedding and tests, its resource group is created when missing (over HTTP, ARM's
    /// rule applies: 404 `ResourceGroupNotFound`).
    pub fn put_identity(
        &self,
        resource_group: &str,
        name: &str,
        location: &str,
    ) -> Result<Identity, ArmError> {
        let tags = self
            .registry()
            .identities
            .get(resource_group, name)
            .map(|i| i.tags.clone())
            .unwrap_or_default();
        self.write(|r| {
            if r.resource_groups.get(resource_group).is_none() {
                r.resource_groups.put(resource_group, location)?;
            }
            r.identities.put(resource_group, name, location, tags)
        })
        .map(|(identity, _)| identity)
    }

    /// Deletes an identity and its FICs; `Ok(None)` if it did not exist.
    pub fn delete_identity(
        &self,
        resource_group: &str,
        name: &str,
    ) -> Result<Option<Identity>, ArmError> {
        self.write(|r| r.identities.delete(resource_group, name))
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
        if let Some((denied, _)) = self.registry().fic_policy_denial(
            self.subscription(),
            resource_group,
            identity,
            name,
            &spec.issuer,
        ) {
            return Err(denied);
        }
        self.write(|r| {
            r.identities
                .put_fic(resource_group, identity, name, spec, now)
        })
        .map(|(fic, _)| fic)
    }

    /// Deletes a FIC; `Ok(None)` if it did not exist.
    pub fn delete_federated_credential(
        &self,
        resource_group: &str,
        identity: &str,
        name: &str,
    ) -> Result<Option<FederatedCredential>, ArmError> {
        self.write(|r| r.identities.delete_fic(resource_group, identity, name))
    }

    /// The ARM resource id of `identity` (its access tokens' `xms_mirid`).
    pub fn identity_resource_id(&self, identity: &Identity) -> String {
        arm::identity_id(self.subscription(), identity)
    }

    /// The URI of vault `name` (ending in `/`): its own origin when the configuration opens
    /// one per vault (opened on first use), else `{base}/keyvault/{name}/`.
    pub(crate) async fn vault_uri(&self, name: &str, headers: &HeaderMap) -> String {
        let Some(endpoints) = &self.0.config.vault_endpoints else {
            return arm::vaults::vault_uri(&self.base_url(headers), name);
        };
        let key = name.to_ascii_lowercase();
        let mut origins = self.0.vault_origins.lock().await;
        if let Some((uri, _)) = origins.get(&key) {
            return uri.clone();
        }
        match (endpoints.open)(vault_routes::vault_router(self, name)).await {
            Ok(base) => {
                let uri = format!("{}/", base.trim_end_matches('/'));
                origins.insert(key, (uri.clone(), self.base_url(headers)));
                uri
            }
            // Without its own origin the vault still answers under the emulator's URL.
            Err(_) => arm::vaults::vault_uri(&self.base_url(headers), name),
        }
    }

    /// Marks a FIC write under `identity` for `fic_write_duration` (the time ARM takes),
    /// or refuses it with 409 when another is in progress: "Creating multiple federated
    /// identity credentials under the same user-assigned managed identity concurrently
    /// triggers concurrency detection logic, which causes requests to fail with 409-conflict
    /// HTTP status code" (Learn, "Important considerations and restrictions for federated
    /// identity credentials").
    pub(crate) async fn fic_write(
        &self,
        subscription: &str,
        identity: &Identity,
    ) -> Result<FicWrite, ArmError> {
        let id = arm::identity_id(subscription, identity);
        let key = id.to_ascii_lowercase();
        if !lock(&self.0.fic_writes).insert(key.clone()) {
            return Err(ArmError {
                status: StatusCode::CONFLICT,
                code: "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                message: format!(
                    "Too many Federated Identity Credentials are written concurrently for the managed identity {id}. Concurrent Federated Identity Credentials writes under the same managed identity are not supported. Create them one at a time."
                ),
            });
        }
        let write = FicWrite {
            emu: self.clone(),
            key,
        };
        tokio::time::sleep(self.0.config.fic_write_duration).await;
        Ok(write)
    }

    /// The base URL vault `name`'s challenge names as the authority: the emulator's URL
    /// as ARM was reached when the vault's origin opened, else this request's.
    pub(crate) async fn authority_base(&self, name: &str, headers: &HeaderMap) -> String {
        match self
            .0
            .vault_origins
            .lock()
            .await
            .get(&name.to_ascii_lowercase())
        {
            Some((_, authority)) => authority.clone(),
            None => self.base_url(headers),
        }
    }

    /// The base of the emulator's v2 issuers for a request: [`Emulator::issuer_base`],
    /// else the URL the request came to.
    pub(crate) fn entra_base(&self, headers: &HeaderMap) -> String {
        self.issuer_base().unwrap_or_else(|| self.base_url(headers))
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
