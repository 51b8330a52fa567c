//! Reading a customer's managed identity over Azure Resource Manager, with the publisher's
//! control-plane access to the managed resource group: the UAMI (`tenantId`, `clientId`)
//! and its federated credentials, and which FIC trusts idp's issuer, explained when none
//! does (API version 2023-01-31, GA, of Microsoft.ManagedIdentity); and a managed
//! application's `listTokens` (Microsoft.Solutions 2021-07-01).
//!
//! [`ArmClient`] asks its credential for an ARM token once and keeps it until five minutes
//! before it expires (the Azure CLI's credential runs `az` at each ask), so one client
//! serves a whole fleet run, its clones included; answers are read up to 1 MiB, and what
//! ARM says in an error is redacted before it is kept.
//!
//! ```
//! use idp_arm::{Fic, choose_fic};
//! let fics = [Fic {
//!     name: "idp".into(),
//!     issuer: "https://acct.blob.core.windows.net/oidc".into(),
//!     subject: "contoso".into(),
//!     audiences: vec!["api://AzureADTokenExchange".into()],
//! }];
//! let fic = choose_fic(&fics, "https://acct.blob.core.windows.net/oidc", "api://AzureADTokenExchange", None);
//! assert_eq!(fic.unwrap().subject, "contoso");
//! ```

use azure_core::credentials::TokenCredential;
use idp_core::azure_id::IdentityId;
use idp_core::secret::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use thiserror::Error;

pub mod graph;

/// The Microsoft.ManagedIdentity API version used (GA, published by the provider).
pub const API_VERSION: &str = "2023-01-31";
/// Largest ARM answer read (a UAMI with 20 FICs is a few KB).
const MAX_BODY: usize = 1 << 20;

/// What ARM says of a UAMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uami {
    pub tenant_id: String,
    pub client_id: String,
    pub principal_id: String,
}

/// One federated credential of a UAMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fic {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

/// Why ARM did not answer what was asked.
#[derive(Debug, Error)]
pub enum ArmError {
    #[error("ARM answered 404 ({code}) for {id}")]
    NotFound { id: String, code: String },
    #[error("ARM refused access to {id} ({status} {code})")]
    Forbidden {
        id: String,
        status: u16,
        code: String,
    },
    #[error("ARM answered {status} {code} for {id}: {message}")]
    Other {
        id: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach ARM at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("cannot get an ARM token for {scope}: {detail}")]
    Credential { scope: String, detail: String },
    #[error("ARM's answer for {id} is not what the API documents: {detail}")]
    Malformed { id: String, detail: String },
}

impl idp_core::diagnostic::Diagnostic for ArmError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ArmError::NotFound { id, .. } if id.ends_with("/listTokens") => "check the managed application's resource id (subscription, resource group, application name): `az managedapp list --query \"[].id\"`".into(),
            ArmError::NotFound { .. } => "check the resource id (subscription, managed resource group, identity name); a managed app's resources live in its managed resource group, which the publisher reaches only through the application's `publisherAuthorization`".into(),
            // Azure Policy's built-in "Managed Identity Federated Credentials should be from
            // allowed issuer types" (2571b7c3-3056-4a61-b00a-9bc5232234f5) denies FIC writes
            // whose issuer it does not know: 403 RequestDisallowedByPolicy.
            ArmError::Forbidden { code, .. } if code == "RequestDisallowedByPolicy" => "an Azure Policy assignment denied it: when it is \"Managed Identity Federated Credentials should be from allowed issuer types\", the customer's admin adds idp's issuer URL to the assignment's allowedIssuerExceptions parameter (or the customer uses the entra-app way: the policy does not cover app registrations)".into(),
            ArmError::Forbidden { status: 401, .. } => "the ARM token is missing, expired or for another audience: log in again (`az login`), or give a fresh token in --arm-token-file / IDP_ARM_TOKEN_FILE".into(),
            ArmError::Forbidden { id, .. } if id.ends_with("/listTokens") => "only the managed application's publisher may list its tokens: run as the principal that created the application, or one named in its publisher authorizations (`properties.authorizations`)".into(),
            ArmError::Forbidden { .. } => "the identity you run as needs read access to the UAMI and its federated credentials: the `Managed Identity Operator` or `Reader` role on the managed resource group (the managed app's publisher authorization)".into(),
            ArmError::Unreachable { .. } => "check --arm-endpoint / IDP_ARM_ENDPOINT and the network; for a private CA, --ca-cert / IDP_CA_CERT".into(),
            ArmError::Credential { .. } => "log in with `az login` (or run with workload or managed identity), or give an ARM token in --arm-token-file / IDP_ARM_TOKEN_FILE".into(),
            ArmError::Other { .. } | ArmError::Malformed { .. } => "retry later; if it persists, check the identity in the Azure portal".into(),
        })
    }

    fn is_usage(&self) -> bool {
        false
    }
}

/// ARM's (and Graph's) error body: `{"error":{"code","message"}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A bearer token for one scope from a credential, kept until [`TOKEN_MARGIN`] before it
/// expires; shared by clones, and held while a token is fetched so that parallel requests
/// wait for one fetch.
#[derive(Clone)]
struct Bearer {
    scope: String,
    credential: Arc<dyn TokenCredential>,
    cached: Arc<tokio::sync::Mutex<Option<(SecretString, time::OffsetDateTime)>>>,
}

/// A token is fetched again this long before it expires.
const TOKEN_MARGIN: time::Duration = time::Duration::minutes(5);

impl Bearer {
    fn new(scope: String, credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            scope,
            credential,
            cached: Arc::default(),
        }
    }

    /// The token, or the scope and why none could be had (redacted).
    async fn token(&self) -> Result<SecretString, (String, String)> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && *expires - TOKEN_MARGIN > time::OffsetDateTime::now_utc()
        {
            return Ok(token.clone());
        }
        let token = self
            .credential
            .get_token(&[&self.scope], None)
            .await
            .map_err(|e| (self.scope.clone(), idp_core::secret::redact(&e.to_string())))?;
        let secret = SecretString::new(token.token.secret());
        *cached = Some((secret.clone(), token.expires_on));
        Ok(secret)
    }
}

/// A client for ARM at `endpoint` (https://management.azure.com in the global cloud),
/// authenticating with a bearer token for `scope` from `credential`.
#[derive(Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    endpoint: String,
    bearer: Bearer,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.endpoint)
            .field("scope", &self.bearer.scope)
            .finish_non_exhaustive()
    }
}

impl ArmClient {
    /// `scope` is the ARM scope of the endpoint's cloud, like
    /// `https://management.azure.com/.default`.
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        scope: &str,
        credential: Arc<dyn TokenCredential>,
    ) -> Self {
        Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            bearer: Bearer::new(scope.to_owned(), credential),
        }
    }

    /// The endpoint requests go to (no trailing slash).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn token(&self) -> Result<SecretString, ArmError> {
        self.bearer
            .token()
            .await
            .map_err(|(scope, detail)| ArmError::Credential { scope, detail })
    }

    fn path(id: &IdentityId) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            id.subscription, id.resource_group, id.name
        )
    }

    async fn get(&self, path: &str) -> Result<serde_json::Value, ArmError> {
        self.send(reqwest::Method::GET, path, API_VERSION, None)
            .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        api_version: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ArmError> {
        let url = format!("{}{path}?api-version={api_version}", self.endpoint);
        let token = self.token().await?;
        let mut request = self.http.request(method, &url).bearer_auth(token.expose());
        if let Some(b) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let (status, body) = idp_http::send_and_read(request, MAX_BODY)
            .await
            .map_err(|detail| ArmError::Unreachable { url, detail })?;
        read_answer(path, status, &body)
    }

    /// The UAMI's tenant, client and principal ids.
    pub async fn identity(&self, id: &IdentityId) -> Result<Uami, ArmError> {
        let path = Self::path(id);
        let v = self.get(&path).await?;
        parse_identity(&path, &v)
    }

    /// The UAMI's federated credentials (at most 20).
    pub async fn federated_credentials(&self, id: &IdentityId) -> Result<Vec<Fic>, ArmError> {
        let path = format!("{}/federatedIdentityCredentials", Self::path(id));
        let v = self.get(&path).await?;
        parse_fics(&path, &v)
    }
}

/// What ARM answered `path` with `status`: the JSON of a 2xx answer, else the error its
/// body names (`{"error":{"code","message"}}`, redacted: ARM may echo a request).
pub fn read_answer(path: &str, status: u16, body: &[u8]) -> Result<serde_json::Value, ArmError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| ArmError::Malformed {
            id: path.into(),
            detail: e.to_string(),
        });
    }
    let err: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let (code, message) = (
        idp_core::secret::redact(&err.error.code),
        idp_core::secret::redact(&err.error.message),
    );
    Err(match status {
        404 => ArmError::NotFound {
            id: path.into(),
            code,
        },
        401 | 403 => ArmError::Forbidden {
            id: path.into(),
            status,
            code,
        },
        _ => ArmError::Other {
            id: path.into(),
            status,
            code,
            message,
        },
    })
}

/// A UAMI as ARM answers `GET` on it (at `path`): its tenant, client and principal ids.
pub fn parse_identity(path: &str, v: &serde_json::Value) -> Result<Uami, ArmError> {
    let field = |name: &str| {
        v["properties"][name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ArmError::Malformed {
                id: path.to_owned(),
                detail: format!("no properties.{name}"),
            })
    };
    Ok(Uami {
        tenant_id: field("tenantId")?,
        client_id: field("clientId")?,
        principal_id: field("principalId")?,
    })
}

/// A UAMI's federated credentials as ARM lists them (at `path`); at most 20 are kept.
pub fn parse_fics(path: &str, v: &serde_json::Value) -> Result<Vec<Fic>, ArmError> {
    let value = v["value"].as_array().ok_or_else(|| ArmError::Malformed {
        id: path.to_owned(),
        detail: "no `value` array".into(),
    })?;
    Ok(value
        .iter()
        .take(20)
        .map(|f| {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            Fic {
                name: s(&f["name"]),
                issuer: s(&f["properties"]["issuer"]),
                subject: s(&f["properties"]["subject"]),
                audiences: f["properties"]["audiences"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect())
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// The Microsoft.Solutions API version of `listTokens` (GA).
pub const SOLUTIONS_API_VERSION: &str = "2021-07-01";

/// One token `listTokens` handed out. The secret is the access token.
#[derive(Debug)]
pub struct ListedToken {
    pub access_token: SecretString,
    pub expires_in: Option<u64>,
    pub expires_on: Option<i64>,
    pub resource_id: String,
}

impl ArmClient {
    /// `listTokens` on managed application `application` (its resource id): the tokens of
    /// `identities` (its user-assigned identities; none: its system-assigned one) for
    /// `audience`. Expiry fields are read in both spellings the documentation shows
    /// (`expiresIn`/`expires_in`…), numbers or strings.
    pub async fn list_tokens(
        &self,
        application: &str,
        audience: &str,
        identities: &[String],
    ) -> Result<Vec<ListedToken>, ArmError> {
        let path = format!("{application}/listTokens");
        let mut body = serde_json::json!({ "authorizationAudience": audience });
        if !identities.is_empty() {
            body["userAssignedIdentities"] = serde_json::json!(identities);
        }
        let v = self
            .send(
                reqwest::Method::POST,
                &path,
                SOLUTIONS_API_VERSION,
                Some(body),
            )
            .await?;
        parse_list_tokens(&path, &v)
    }
}

/// What `listTokens` answered (at `path`): at most 100 tokens. Expiry fields are read in
/// both spellings the documentation shows (`expiresIn`/`expires_in`…), numbers or strings.
pub fn parse_list_tokens(path: &str, v: &serde_json::Value) -> Result<Vec<ListedToken>, ArmError> {
    let value = v["value"].as_array().ok_or_else(|| ArmError::Malformed {
        id: path.to_owned(),
        detail: "no `value` array".into(),
    })?;
    let number = |t: &serde_json::Value, a: &str, b: &str| {
        let x = if t[a].is_null() { &t[b] } else { &t[a] };
        x.as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    };
    value
        .iter()
        .take(100)
        .map(|t| {
            let token = t["accessToken"]
                .as_str()
                .or_else(|| t["access_token"].as_str())
                .ok_or_else(|| ArmError::Malformed {
                    id: path.to_owned(),
                    detail: "a token without `accessToken`".into(),
                })?;
            Ok(ListedToken {
                access_token: SecretString::new(token),
                expires_in: number(t, "expiresIn", "expires_in")
                    .and_then(|n| u64::try_from(n).ok()),
                expires_on: number(t, "expiresOn", "expires_on"),
                resource_id: t["resourceId"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// Why no federated credential of a UAMI can serve idp.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FicMismatch {
    #[error("the identity has no federated credentials")]
    None,
    #[error(
        "no federated credential has idp's issuer `{issuer}`; the closest is FIC `{fic}` with `{theirs}`: {difference}"
    )]
    Issuer {
        issuer: String,
        fic: String,
        theirs: String,
        difference: String,
    },
    #[error(
        "FIC `{fic}` trusts idp's issuer, but its audience is {theirs:?}, not `{audience}` (AADSTS700212)"
    )]
    Audience {
        fic: String,
        theirs: Vec<String>,
        audience: String,
    },
    #[error(
        "{count} federated credentials trust idp's issuer (subjects {subjects:?}): pick one with --subject"
    )]
    Several { count: usize, subjects: Vec<String> },
    #[error(
        "no federated credential with idp's issuer has subject `{subject}` (they have {subjects:?})"
    )]
    NoSuchSubject {
        subject: String,
        subjects: Vec<String>,
    },
}

impl idp_core::diagnostic::Diagnostic for FicMismatch {
    fn hint(&self) -> Option<String> {
        Some(match self {
            FicMismatch::None | FicMismatch::Issuer { .. } => "the managed app's template must create a FIC whose issuer is idp's issuer exactly (`idp fic` prints it); fix the template or the FIC, then add the customer again".into(),
            FicMismatch::Audience { .. } => "the FIC's one audience must be the one idp signs (--audience / IDP_ASSERTION_AUDIENCE / assertion.audience; by default the cloud's, api://AzureADTokenExchange)".into(),
            FicMismatch::Several { .. } | FicMismatch::NoSuchSubject { .. } => "pass --subject with the FIC's subject".into(),
        })
    }

    fn is_usage(&self) -> bool {
        false
    }
}

/// How two issuer strings differ, in the terms of AADSTS700211's usual causes.
pub fn issuer_difference(ours: &str, theirs: &str) -> String {
    if theirs.trim_end_matches('/') == ours.trim_end_matches('/') {
        if theirs.ends_with('/') {
            "it has a trailing slash and idp's issuer does not".into()
        } else {
            "idp's issuer has a trailing slash and it does not".into()
        }
    } else if theirs.trim() == ours {
        "it has leading or trailing white space".into()
    } else if theirs.eq_ignore_ascii_case(ours) {
        "they differ only in letter case, and Entra compares case-sensitively".into()
    } else if theirs.strip_prefix("http://") == ours.strip_prefix("https://") {
        "it says http://, idp's issuer https://".into()
    } else {
        "a different URL".into()
    }
}

/// The FIC that trusts `issuer` (byte for byte) with `audience`, and `subject` when given.
pub fn choose_fic<'a>(
    fics: &'a [Fic],
    issuer: &str,
    audience: &str,
    subject: Option<&str>,
) -> Result<&'a Fic, FicMismatch> {
    if fics.is_empty() {
        return Err(FicMismatch::None);
    }
    let ours: Vec<&Fic> = fics.iter().filter(|f| f.issuer == issuer).collect();
    if ours.is_empty() {
        // The closest: the longest common prefix with idp's issuer.
        let common = |f: &&Fic| {
            f.issuer
                .to_ascii_lowercase()
                .chars()
                .zip(issuer.to_ascii_lowercase().chars())
                .take_while(|(a, b)| a == b)
                .count()
        };
        let closest = fics.iter().max_by_key(common).expect("not empty");
        return Err(FicMismatch::Issuer {
            issuer: issuer.into(),
            fic: closest.name.clone(),
            theirs: closest.issuer.clone(),
            difference: issuer_difference(issuer, &closest.issuer),
        });
    }
    let candidates: Vec<&Fic> = match subject {
        Some(s) => ours.iter().copied().filter(|f| f.subject == s).collect(),
        None => ours.clone(),
    };
    match candidates.as_slice() {
        [] => Err(FicMismatch::NoSuchSubject {
            subject: subject.unwrap_or_default().into(),
            subjects: ours.iter().map(|f| f.subject.clone()).collect(),
        }),
        [one] if one.audiences.len() == 1 && one.audiences[0] == audience => Ok(one),
        [one] => Err(FicMismatch::Audience {
            fic: one.name.clone(),
            theirs: one.audiences.clone(),
            audience: audience.into(),
        }),
        several => Err(FicMismatch::Several {
            count: several.len(),
            subjects: several.iter().map(|f| f.subject.clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use azure_core::credentials::{AccessToken, TokenRequestOptions};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its asks; its tokens live `life`.
    #[derive(Debug)]
    struct Counting {
        asks: AtomicUsize,
        life: time::Duration,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            assert_eq!(scopes, ["https://management.azure.com/.default"]);
            let n = self.asks.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(
                format!("t{n}"),
                time::OffsetDateTime::now_utc() + self.life,
            ))
        }
    }

    fn client(life: time::Duration) -> (ArmClient, Arc<Counting>) {
        // idp builds rustls with ring only.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cred = Arc::new(Counting {
            asks: AtomicUsize::new(0),
            life,
        });
        let http = reqwest::Client::builder().build().unwrap();
        let c = ArmClient::new(
            http,
            "https://management.azure.com/",
            "https://management.azure.com/.default",
            cred.clone(),
        );
        (c, cred)
    }

    #[tokio::test]
    async fn a_token_is_asked_once_for_the_client_and_its_clones() {
        let (c, cred) = client(time::Duration::hours(1));
        let clone = c.clone();
        let (a, b) = tokio::join!(c.token(), clone.token());
        assert_eq!(a.unwrap().expose(), "t0");
        assert_eq!(b.unwrap().expose(), "t0");
        assert_eq!(c.token().await.unwrap().expose(), "t0");
        assert_eq!(cred.asks.load(Ordering::SeqCst), 1);
        assert_eq!(c.endpoint(), "https://management.azure.com");
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_asked_again() {
        let (c, cred) = client(time::Duration::minutes(4));
        assert_eq!(c.token().await.unwrap().expose(), "t0");
        assert_eq!(c.token().await.unwrap().expose(), "t1");
        assert_eq!(cred.asks.load(Ordering::SeqCst), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://acct.blob.core.windows.net/oidc";
    const AUD: &str = "api://AzureADTokenExchange";

    fn fic(name: &str, issuer: &str, subject: &str, aud: &str) -> Fic {
        Fic {
            name: name.into(),
            issuer: issuer.into(),
            subject: subject.into(),
            audiences: vec![aud.into()],
        }
    }

    #[test]
    fn the_fic_with_idps_issuer_gives_the_subject() {
        let fics = [
            fic(
                "github",
                "https://token.actions.githubusercontent.com",
                "repo:x",
                AUD,
            ),
            fic("idp", ISS, "cust-1", AUD),
        ];
        assert_eq!(choose_fic(&fics, ISS, AUD, None).unwrap().subject, "cust-1");
        assert_eq!(
            choose_fic(&fics, ISS, AUD, Some("cust-1")).unwrap().name,
            "idp"
        );
    }

    #[test]
    fn each_issuer_difference_is_named() {
        for (theirs, says) in [
            (
                "https://acct.blob.core.windows.net/oidc/",
                "trailing slash and idp's",
            ),
            ("https://ACCT.blob.core.windows.net/oidc", "letter case"),
            ("http://acct.blob.core.windows.net/oidc", "http://"),
            (" https://acct.blob.core.windows.net/oidc", "white space"),
            ("https://other.example/oidc", "a different URL"),
        ] {
            match choose_fic(&[fic("f", theirs, "s", AUD)], ISS, AUD, None) {
                Err(FicMismatch::Issuer {
                    difference,
                    theirs: t,
                    ..
                }) => {
                    assert!(difference.contains(says), "{theirs}: {difference}");
                    assert_eq!(t, theirs);
                }
                other => panic!("{theirs}: {other:?}"),
            }
        }
        assert!(
            issuer_difference("https://h/c/", "https://h/c")
                .contains("idp's issuer has a trailing slash")
        );
    }

    #[test]
    fn audience_count_and_subject_problems_are_refused() {
        assert_eq!(choose_fic(&[], ISS, AUD, None), Err(FicMismatch::None));
        assert!(matches!(
            choose_fic(&[fic("f", ISS, "s", "api://other")], ISS, AUD, None),
            Err(FicMismatch::Audience { .. })
        ));
        let two = [fic("a", ISS, "s1", AUD), fic("b", ISS, "s2", AUD)];
        assert!(matches!(
            choose_fic(&two, ISS, AUD, None),
            Err(FicMismatch::Several { count: 2, .. })
        ));
        assert_eq!(choose_fic(&two, ISS, AUD, Some("s2")).unwrap().name, "b");
        assert!(matches!(
            choose_fic(&two, ISS, AUD, Some("s3")),
            Err(FicMismatch::NoSuchSubject { .. })
        ));
    }

    #[test]
    fn a_policy_denial_says_what_the_customers_admin_changes() {
        use idp_core::diagnostic::Diagnostic as _;
        let denied = ArmError::Forbidden {
            id: "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u/federatedIdentityCredentials/idp".into(),
            status: 403,
            code: "RequestDisallowedByPolicy".into(),
        };
        let hint = denied.hint().unwrap();
        assert!(
            hint.contains("allowedIssuerExceptions") && hint.contains("entra-app"),
            "{hint}"
        );
        let other = ArmError::Forbidden {
            id: "/x".into(),
            status: 403,
            code: "AuthorizationFailed".into(),
        };
        assert!(!other.hint().unwrap().contains("allowedIssuerExceptions"));
    }
}
