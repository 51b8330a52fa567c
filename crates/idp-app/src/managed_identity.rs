//! The assertion of the `entra-app` way: the publisher's own managed identity's token for
//! the token-exchange audience (`api://AzureADTokenExchange`), which the publisher's
//! multi-tenant app trusts through a federated credential (issuer
//! `https://login.microsoftonline.com/{publisher tenant}/v2.0`, subject the identity's
//! principal id). Microsoft Learn, "Configure an application to trust a managed identity".
//!
//! The token comes from the platform the process runs on, found as the Azure SDKs find it
//! (azure-identity's `ManagedIdentityCredential` detection order): App Service, Functions
//! and Container Apps (`IDENTITY_ENDPOINT` with `IDENTITY_HEADER`) and IMDS (virtual
//! machines, scale sets, AKS nodes) through the official `azure_identity` crate; IMDS at
//! another host (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, which Python's and JavaScript's SDKs
//! read and the Rust crate does not) by idp's own request. Platforms whose identity cannot
//! serve this way are refused with the reason. Each token is kept until shortly before it
//! expires, never printed.

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use idp_core::secret::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// The application id of "AAD Token Exchange Endpoint": the `aud` of a managed identity's
/// token for `api://AzureADTokenExchange` (observed; entra-facts §10).
pub const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";

/// The most bytes idp reads of a platform endpoint's answer (a token is a few kilobytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Requests to an endpoint that answers 404, 410, 429 or 5xx (IMDS's retry guidance).
const MAX_ATTEMPTS: u32 = 3;

/// Where this machine's managed identity answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platform {
    /// App Service, Functions, Container Apps: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    AppService,
    /// The instance metadata service at `169.254.169.254`.
    Imds,
    /// An IMDS-shaped endpoint at another origin (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    ImdsAt(String),
    /// A platform whose identity cannot be this way's assertion, and why.
    Unsupported {
        name: &'static str,
        why: &'static str,
    },
}

impl Platform {
    /// The platform the environment names (`var` reads a variable, `None` when unset or
    /// empty), in azure-identity's order: Service Fabric, App Service, Azure Arc, Azure ML
    /// and Cloud Shell, then IMDS.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |v: &str| var(v).is_some();
        if set("IDENTITY_ENDPOINT") {
            if set("IDENTITY_HEADER") {
                if set("IDENTITY_SERVER_THUMBPRINT") {
                    return Platform::Unsupported {
                        name: "Service Fabric",
                        why: "the Azure SDK for Rust has no Service Fabric managed identity; run idp where App Service's or IMDS's identity endpoint answers",
                    };
                }
                return Platform::AppService;
            }
            if set("IMDS_ENDPOINT") {
                return Platform::Unsupported {
                    name: "Azure Arc",
                    why: "an Arc-enabled server has only a system-assigned identity, and an app's federated credential trusts a user-assigned one",
                };
            }
        } else if set("MSI_ENDPOINT") {
            return Platform::Unsupported {
                name: if set("MSI_SECRET") {
                    "Azure Machine Learning"
                } else {
                    "Cloud Shell"
                },
                why: "its identity is not a user-assigned managed identity of the publisher's tenant (Cloud Shell's is the signed-in user's: Entra refuses a user's token, AADSTS700229)",
            };
        }
        match var("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
            Some(host) => Platform::ImdsAt(host.trim_end_matches('/').to_owned()),
            None => Platform::Imds,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Platform::AppService => "App Service's identity endpoint (IDENTITY_ENDPOINT)".into(),
            Platform::Imds => "IMDS (169.254.169.254)".into(),
            Platform::ImdsAt(host) => format!("IMDS at {host} (AZURE_POD_IDENTITY_AUTHORITY_HOST)"),
            Platform::Unsupported { name, .. } => (*name).into(),
        }
    }
}

/// What a managed identity's token says of it, read without verifying (Entra verifies it;
/// idp reads it to explain a refusal and for `doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFacts {
    /// `iss`: the publisher tenant's v2.0 issuer, which the app's FIC names.
    pub issuer: String,
    /// `tid`: the publisher's tenant.
    pub tenant: String,
    /// `oid` (also `sub`): the identity's principal id, the app's FIC's subject.
    pub principal_id: String,
    /// `azp` (or `appid`): the identity's client id.
    pub client_id: String,
    /// `aud`.
    pub audience: String,
    /// `idtyp`: `app` for an app-only token.
    pub token_type: Option<String>,
}

impl TokenFacts {
    /// Reads the claims of `token`; `None` when it is not a JWT with JSON claims.
    pub fn read(token: &str) -> Option<Self> {
        let claims = idp_core::inspect::decode(token).ok()?.claims;
        let s = |k: &str| {
            claims
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let audience = match claims.get("aud") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            _ => s("aud"),
        };
        let oid = s("oid");
        let azp = s("azp");
        Some(Self {
            issuer: s("iss"),
            tenant: s("tid"),
            principal_id: if oid.is_empty() { s("sub") } else { oid },
            client_id: if azp.is_empty() { s("appid") } else { azp },
            audience,
            token_type: claims
                .get("idtyp")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        })
    }
}

/// A managed identity's token and what it says.
#[derive(Debug, Clone)]
pub struct MiToken {
    pub token: SecretString,
    /// Unix seconds.
    pub expires_on: i64,
    pub facts: TokenFacts,
}

/// Why the managed identity's token could not be had.
#[derive(Debug, Error)]
pub enum ManagedIdentityError {
    #[error("{name} cannot give the managed identity token the entra-app way needs: {why}")]
    Unsupported {
        name: &'static str,
        why: &'static str,
    },
    #[error("{} is not a URL idp can ask: {reason}", platform.name())]
    BadEndpoint { platform: Platform, reason: String },
    #[error("no managed identity token from {}: {detail}", platform.name())]
    Fetch { platform: Platform, detail: String },
    #[error("{} answered something that is not a managed identity's token (not a JWT)", platform.name())]
    NotAJwt { platform: Platform },
}

impl idp_core::diagnostic::Diagnostic for ManagedIdentityError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ManagedIdentityError::Unsupported { .. } => {
                "run idp on Azure compute with the publisher's user-assigned managed identity attached (App Service, Functions, Container Apps, a virtual machine); pipelines outside Azure use the issuer way".into()
            }
            ManagedIdentityError::BadEndpoint { .. } => {
                "correct the variable: an http:// or https:// origin on this machine".into()
            }
            ManagedIdentityError::Fetch { detail, .. }
                if detail.contains("Multiple user assigned identities") =>
            {
                "several identities are attached: name the one the app's federated credential trusts (`idp customers add … --managed-identity CLIENT_ID`)".into()
            }
            ManagedIdentityError::Fetch {
                platform: Platform::AppService,
                detail,
            } if detail.contains("Unable to load the proper Managed Identity") => {
                "App Service uses its system-assigned identity unless one is named: record the publisher's user-assigned identity's client id (`idp customers add … --managed-identity CLIENT_ID`)".into()
            }
            ManagedIdentityError::Fetch { detail, .. }
                if detail.to_ascii_lowercase().contains("identity not found") =>
            {
                "no identity with that client id is attached to this compute: attach the publisher's user-assigned identity, or correct the customer's managed_identity".into()
            }
            ManagedIdentityError::Fetch { .. } => {
                "idp must run where the publisher's user-assigned managed identity is attached (App Service, Container Apps, Functions, a VM); check that it is attached and, when several are, that --managed-identity names its client id".into()
            }
            ManagedIdentityError::NotAJwt { .. } => {
                "the endpoint is not a managed identity endpoint: check IDENTITY_ENDPOINT / AZURE_POD_IDENTITY_AUTHORITY_HOST".into()
            }
        })
    }

    /// The environment is the configuration: a platform that cannot serve, or an endpoint
    /// variable that is not a URL, is the user's to fix.
    fn is_usage(&self) -> bool {
        matches!(
            self,
            ManagedIdentityError::Unsupported { .. } | ManagedIdentityError::BadEndpoint { .. }
        )
    }
}

/// Gets a token for a user-assigned identity (`None`: the machine's only one) and a
/// resource (`api://AzureADTokenExchange`).
#[async_trait]
pub trait Fetch: Send + Sync {
    async fn fetch(
        &self,
        client_id: Option<&str>,
        resource: &str,
    ) -> Result<(SecretString, i64), ManagedIdentityError>;
}

/// The machine's managed identity: its platform, and each token until shortly before it
/// expires.
pub struct ManagedIdentity {
    platform: Platform,
    fetch: Arc<dyn Fetch>,
    cache: Mutex<HashMap<(Option<String>, String), MiToken>>,
    /// One fetch at a time: a fleet's first exchanges all want the same token.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// How long before its expiry a token is fetched again: a quarter of its lifetime, at most
/// an hour and at least five minutes (a 24-hour token is used for 23 hours).
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).clamp(Duration::from_secs(300), Duration::from_secs(3600))
}

impl ManagedIdentity {
    /// The machine's identity as the environment names its platform; requests through
    /// `platform_http` (plain HTTP allowed, no proxy: [`idp_http::platform_client`]).
    pub fn from_env(platform_http: reqwest::Client) -> Self {
        let var = |v: &str| std::env::var(v).ok().filter(|x| !x.is_empty());
        let platform = Platform::detect(var);
        let fetch: Arc<dyn Fetch> = match &platform {
            Platform::AppService | Platform::Imds => Arc::new(Sdk {
                http: platform_http,
                platform: platform.clone(),
                credentials: Mutex::default(),
            }),
            Platform::ImdsAt(host) => Arc::new(ImdsAt {
                http: platform_http,
                host: host.clone(),
            }),
            Platform::Unsupported { name, why } => Arc::new(Refuse { name, why }),
        };
        Self::with(platform, fetch)
    }

    /// The identity behind `fetch` (tests give fakes).
    pub fn with(platform: Platform, fetch: Arc<dyn Fetch>) -> Self {
        Self {
            platform,
            fetch,
            cache: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The token of identity `client_id` (`None`: the only one) for `resource`, from the
    /// cache while it has more than [`refresh_margin`] left.
    pub async fn token(
        &self,
        client_id: Option<&str>,
        resource: &str,
    ) -> Result<MiToken, ManagedIdentityError> {
        let key = (client_id.map(str::to_ascii_lowercase), resource.to_owned());
        let fresh = |t: &MiToken| {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let left = t.expires_on - now;
            left > 0 && Duration::from_secs(left as u64) > refresh_margin(lifetime_of(t, now))
        };
        if let Some(t) = self.cached(&key).filter(fresh) {
            return Ok(t);
        }
        let _one = self.fetching.lock().await;
        if let Some(t) = self.cached(&key).filter(fresh) {
            return Ok(t);
        }
        let (token, expires_on) = self.fetch.fetch(client_id, resource).await?;
        let facts = TokenFacts::read(token.expose()).ok_or(ManagedIdentityError::NotAJwt {
            platform: self.platform.clone(),
        })?;
        let t = MiToken {
            token,
            expires_on,
            facts,
        };
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, t.clone());
        Ok(t)
    }

    fn cached(&self, key: &(Option<String>, String)) -> Option<MiToken> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }
}

/// A token's lifetime as far as idp can tell: from its `iat` when it has one, else what is
/// left of it now.
fn lifetime_of(t: &MiToken, now: i64) -> Duration {
    let iat = idp_core::inspect::decode(t.token.expose())
        .ok()
        .and_then(|d| d.claims.get("iat").and_then(serde_json::Value::as_i64))
        .unwrap_or(now);
    Duration::from_secs((t.expires_on - iat).max(0) as u64)
}

/// A platform that cannot serve this way.
struct Refuse {
    name: &'static str,
    why: &'static str,
}

#[async_trait]
impl Fetch for Refuse {
    async fn fetch(
        &self,
        _: Option<&str>,
        _: &str,
    ) -> Result<(SecretString, i64), ManagedIdentityError> {
        Err(ManagedIdentityError::Unsupported {
            name: self.name,
            why: self.why,
        })
    }
}

/// App Service and IMDS through the official `azure_identity` crate, one credential per
/// identity.
struct Sdk {
    http: reqwest::Client,
    platform: Platform,
    credentials: Mutex<HashMap<Option<String>, Arc<dyn TokenCredential>>>,
}

impl Sdk {
    fn credential(
        &self,
        client_id: Option<&str>,
    ) -> Result<Arc<dyn TokenCredential>, ManagedIdentityError> {
        let mut all = self
            .credentials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = client_id.map(str::to_owned);
        if let Some(c) = all.get(&key) {
            return Ok(Arc::clone(c));
        }
        let options = azure_identity::ManagedIdentityCredentialOptions {
            user_assigned_id: key.clone().map(azure_identity::UserAssignedId::ClientId),
            client_options: crate::credentials::platform_options(self.http.clone()),
        };
        let c: Arc<dyn TokenCredential> =
            azure_identity::ManagedIdentityCredential::new(Some(options)).map_err(|e| {
                ManagedIdentityError::Fetch {
                    platform: self.platform.clone(),
                    detail: idp_core::secret::redact(&e.to_string()),
                }
            })?;
        all.insert(key, Arc::clone(&c));
        Ok(c)
    }
}

#[async_trait]
impl Fetch for Sdk {
    async fn fetch(
        &self,
        client_id: Option<&str>,
        resource: &str,
    ) -> Result<(SecretString, i64), ManagedIdentityError> {
        let credential = self.credential(client_id)?;
        let scope = format!("{resource}/.default");
        let token = credential.get_token(&[&scope], None).await.map_err(|e| {
            ManagedIdentityError::Fetch {
                platform: self.platform.clone(),
                detail: idp_core::secret::redact(&idp_http::chain(&e)),
            }
        })?;
        Ok((
            SecretString::new(token.token.secret().to_owned()),
            token.expires_on.unix_timestamp(),
        ))
    }
}

/// IMDS at another origin, asked by idp: `GET {host}/metadata/identity/oauth2/token
/// ?api-version=2018-02-01&resource=…[&client_id=…]` with `Metadata: true`; the answer's
/// fields are strings (Learn, "How to use managed identities for Azure resources on an
/// Azure VM to acquire an access token": "Get a token using HTTP"); 404, 410, 429 and 5xx
/// are retried ("Error handling", "Retry guidance").
struct ImdsAt {
    http: reqwest::Client,
    host: String,
}

#[async_trait]
impl Fetch for ImdsAt {
    async fn fetch(
        &self,
        client_id: Option<&str>,
        resource: &str,
    ) -> Result<(SecretString, i64), ManagedIdentityError> {
        let platform = || Platform::ImdsAt(self.host.clone());
        let mut url = url::Url::parse(&format!("{}/metadata/identity/oauth2/token", self.host))
            .map_err(|e| ManagedIdentityError::BadEndpoint {
                platform: platform(),
                reason: e.to_string(),
            })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ManagedIdentityError::BadEndpoint {
                platform: platform(),
                reason: "it must be http:// or https://".into(),
            });
        }
        url.query_pairs_mut()
            .append_pair("api-version", "2018-02-01")
            .append_pair("resource", resource);
        if let Some(id) = client_id {
            url.query_pairs_mut().append_pair("client_id", id);
        }
        let fail = |detail: String| ManagedIdentityError::Fetch {
            platform: platform(),
            detail: idp_core::secret::redact(&detail),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self
                .http
                .get(url.clone())
                .header("Metadata", "true")
                .send()
                .await;
            let response = match answer {
                Ok(r) => r,
                Err(e) if attempt < MAX_ATTEMPTS => {
                    let _ = e;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(fail(idp_http::chain(&e))),
            };
            let status = response.status().as_u16();
            let body = idp_http::read_body(response, MAX_ANSWER_BYTES)
                .await
                .map_err(|e| fail(e.to_string()))?;
            if status == 200 {
                return parse_imds(&body).map_err(fail);
            }
            let retry = matches!(status, 404 | 410 | 429 | 500..=599);
            if retry && attempt < MAX_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Err(fail(format!("{status}: {}", error_text(&body))));
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * 2u64.pow(attempt.min(5)))
}

/// IMDS's `{"error","error_description"}`, or the start of whatever else came.
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        error: Option<String>,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(E {
            error: Some(e),
            error_description,
        }) => format!("{e}: {}", error_description.unwrap_or_default()),
        _ => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

/// IMDS's success: `access_token` and `expires_on` (a string of unix seconds; a number
/// accepted too).
fn parse_imds(body: &[u8]) -> Result<(SecretString, i64), String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: Option<String>,
        expires_on: Option<serde_json::Value>,
    }
    let a: Answer =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not IMDS's JSON ({e})"))?;
    let token = a
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?;
    let expires_on = match a.expires_on {
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .ok_or("the answer has no expires_on in unix seconds")?;
    Ok((SecretString::new(token), expires_on))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |v| {
            vars.iter()
                .find(|(k, _)| *k == v)
                .map(|(_, x)| (*x).to_owned())
        }
    }

    #[test]
    fn the_platform_is_found_in_azure_identitys_order() {
        use Platform::*;
        assert_eq!(
            Platform::detect(env(&[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
                ("IDENTITY_HEADER", "h"),
                ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:2"),
            ])),
            AppService
        );
        let unsupported = |vars| match Platform::detect(env(vars)) {
            Unsupported { name, .. } => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            unsupported(&[
                ("IDENTITY_ENDPOINT", "x"),
                ("IDENTITY_HEADER", "h"),
                ("IDENTITY_SERVER_THUMBPRINT", "t"),
            ]),
            "Service Fabric"
        );
        assert_eq!(
            unsupported(&[("IDENTITY_ENDPOINT", "x"), ("IMDS_ENDPOINT", "y")]),
            "Azure Arc"
        );
        assert_eq!(unsupported(&[("MSI_ENDPOINT", "x")]), "Cloud Shell");
        assert_eq!(
            unsupported(&[("MSI_ENDPOINT", "x"), ("MSI_SECRET", "s")]),
            "Azure Machine Learning"
        );
        assert_eq!(
            Platform::detect(env(&[(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                "http://127.0.0.1:2/"
            )])),
            ImdsAt("http://127.0.0.1:2".into())
        );
        assert_eq!(Platform::detect(env(&[])), Imds);
        // IDENTITY_ENDPOINT alone is no platform of its own: IMDS, as the SDKs do.
        assert_eq!(Platform::detect(env(&[("IDENTITY_ENDPOINT", "x")])), Imds);
    }

    fn jwt(claims: serde_json::Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            b(br#"{"alg":"RS256","typ":"JWT"}"#),
            b(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn a_tokens_facts_are_its_issuer_tenant_principal_and_client() {
        let t = jwt(serde_json::json!({
            "iss": "https://login.microsoftonline.com/p-tenant/v2.0",
            "tid": "p-tenant", "oid": "principal", "sub": "principal",
            "azp": "client", "aud": TOKEN_EXCHANGE_APP_ID, "idtyp": "app",
        }));
        let f = TokenFacts::read(&t).unwrap();
        assert_eq!(f.issuer, "https://login.microsoftonline.com/p-tenant/v2.0");
        assert_eq!(
            (
                f.tenant.as_str(),
                f.principal_id.as_str(),
                f.client_id.as_str()
            ),
            ("p-tenant", "principal", "client")
        );
        assert_eq!(f.audience, TOKEN_EXCHANGE_APP_ID);
        assert_eq!(f.token_type.as_deref(), Some("app"));
        // v1 tokens name the client `appid`; `sub` stands in for a missing `oid`.
        let f = TokenFacts::read(&jwt(serde_json::json!({"sub": "s", "appid": "a"}))).unwrap();
        assert_eq!((f.principal_id.as_str(), f.client_id.as_str()), ("s", "a"));
        assert_eq!(TokenFacts::read("opaque"), None);
    }

    struct Counting {
        calls: AtomicUsize,
        lifetime: i64,
    }

    #[async_trait]
    impl Fetch for Counting {
        async fn fetch(
            &self,
            client_id: Option<&str>,
            resource: &str,
        ) -> Result<(SecretString, i64), ManagedIdentityError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let t = jwt(serde_json::json!({
                "iat": now, "n": n, "azp": client_id.unwrap_or("only"), "aud": resource,
            }));
            Ok((SecretString::new(t), now + self.lifetime))
        }
    }

    #[tokio::test]
    async fn a_token_is_kept_until_shortly_before_it_expires_per_identity_and_resource() {
        let fetch = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime: 86_400,
        });
        let mi = ManagedIdentity::with(Platform::Imds, fetch.clone());
        let a = mi.token(None, "api://AzureADTokenExchange").await.unwrap();
        let b = mi.token(None, "api://AzureADTokenExchange").await.unwrap();
        assert_eq!(a.token.expose(), b.token.expose());
        assert_eq!(fetch.calls.load(Ordering::SeqCst), 1);
        // Another identity or resource is another token.
        let c = mi
            .token(Some("ID-1"), "api://AzureADTokenExchange")
            .await
            .unwrap();
        assert_eq!(c.facts.client_id, "ID-1");
        mi.token(Some("id-1"), "api://AzureADTokenExchange")
            .await
            .unwrap();
        mi.token(None, "api://AzureADTokenExchangeUSGov")
            .await
            .unwrap();
        assert_eq!(fetch.calls.load(Ordering::SeqCst), 3);

        // A token within its margin of expiry is fetched again.
        let short = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime: 240,
        });
        let mi = ManagedIdentity::with(Platform::Imds, short.clone());
        mi.token(None, "r").await.unwrap();
        mi.token(None, "r").await.unwrap();
        assert_eq!(short.calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_margin_is_a_quarter_of_the_lifetime_between_five_minutes_and_an_hour() {
        let h = |n: u64| Duration::from_secs(n * 3600);
        assert_eq!(refresh_margin(h(24)), h(1));
        assert_eq!(refresh_margin(h(2)), Duration::from_secs(1800));
        assert_eq!(
            refresh_margin(Duration::from_secs(600)),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn imds_answers_are_read_as_imds_writes_them() {
        let (t, on) =
            parse_imds(br#"{"access_token":"eyJ.x.y","expires_on":"1700000000","resource":"r"}"#)
                .unwrap();
        assert_eq!((t.expose(), on), ("eyJ.x.y", 1_700_000_000));
        assert_eq!(
            parse_imds(br#"{"access_token":"t","expires_on":1700000000}"#)
                .unwrap()
                .1,
            1_700_000_000
        );
        assert!(
            parse_imds(br#"{"expires_on":"1"}"#)
                .unwrap_err()
                .contains("access_token")
        );
        assert!(
            parse_imds(br#"{"access_token":"t"}"#)
                .unwrap_err()
                .contains("expires_on")
        );
        assert_eq!(
            error_text(br#"{"error":"invalid_request","error_description":"Identity not found"}"#),
            "invalid_request: Identity not found"
        );
    }

    #[test]
    fn several_identities_or_an_unknown_one_get_their_own_hint() {
        use idp_core::diagnostic::Diagnostic as _;
        let fetch = |detail: &str| ManagedIdentityError::Fetch {
            platform: Platform::Imds,
            detail: detail.into(),
        };
        assert!(
            fetch("400: invalid_request: Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request")
                .hint()
                .unwrap()
                .contains("--managed-identity")
        );
        assert!(
            fetch("400: invalid_request: Identity not found")
                .hint()
                .unwrap()
                .contains("no identity with that client id")
        );
        let refused = ManagedIdentityError::Unsupported {
            name: "Cloud Shell",
            why: "w",
        };
        assert!(refused.is_usage());
        assert!(!fetch("x").is_usage());
    }
}
