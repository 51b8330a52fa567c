//! The token endpoint: `client_credentials` with a federated client assertion, checked in
//! Entra's order (see the crate docs), answered with Entra's success or error body; and the
//! emulator's access tokens, which the machine's identity endpoints and `listTokens` hand
//! out too.

use crate::Emulator;
use crate::aadsts::{Aadsts, no_store};
use crate::arm::identities::{FederatedCredential, Identity, identity_id};
use crate::clock::unix;
use crate::graph::{Application, ServicePrincipal};
use crate::ids::{entra_precise, entra_precise_unix, is_guid, new_guid};
use crate::jwt::{self, Assertion};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// The only `client_assertion_type` Entra takes for a federated credential.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The lifetime of the emulator's managed identities' access tokens, as `expires_in`
/// reports it.
pub const ACCESS_TOKEN_EXPIRES_IN: u64 = 86399;
/// The lifetime of an application's access tokens (Entra's default, about an hour; Learn,
/// "Configurable token lifetimes": 60–90 minutes, `expires_in` 3599 in its examples).
pub const APPLICATION_TOKEN_EXPIRES_IN: u64 = 3599;
/// The application id of "AAD Token Exchange Endpoint": the `aud` of a token requested for
/// `api://AzureADTokenExchange`, as observed (entra-facts §10: jannemattila.com
/// 2024-12-31; gravitational/teleport `rfd/0211-azure-devops-joining.md`).
pub const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";
/// The emulator's private claim saying how a token was obtained: `managed_identity` (from
/// the machine's identity endpoints, or `listTokens`) or `federated` (from the token
/// endpoint, through a client assertion). Entra knows a token's provenance from claims it
/// keeps opaque (the `xms_*` and `uti` family); this claim stands in for them, so the
/// token endpoint can refuse a managed identity's token obtained through federation
/// (AADSTS700231). No client secret exists in the emulator, so no other value.
pub const XMS_EMU_GRANT: &str = "xms_emu_grant";

/// How a token was obtained (the [`XMS_EMU_GRANT`] claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    ManagedIdentity,
    Federated,
}

impl Grant {
    fn claim(self) -> &'static str {
        match self {
            Grant::ManagedIdentity => "managed_identity",
            Grant::Federated => "federated",
        }
    }
}

/// Whom an access token speaks for.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// `tid`.
    pub tenant: String,
    /// `oid` and `sub`: the principal's object id in `tenant`.
    pub object_id: String,
    /// `appid` and `azp`.
    pub client_id: String,
    /// `xms_mirid`, a managed identity's resource id.
    pub mirid: Option<String>,
    pub grant: Grant,
    /// `expires_in`.
    pub lifetime: u64,
}

impl Principal {
    /// A user-assigned identity of the customer's tenant.
    pub(crate) fn identity(emu: &Emulator, identity: &Identity, grant: Grant) -> Self {
        Self {
            tenant: emu.tenant().to_owned(),
            object_id: identity.principal_id.clone(),
            client_id: identity.client_id.clone(),
            mirid: Some(identity_id(emu.subscription(), identity)),
            grant,
            lifetime: ACCESS_TOKEN_EXPIRES_IN,
        }
    }
}

/// Whether `resource` is this cloud's token exchange (`api://AzureADTokenExchange`).
pub(crate) fn is_token_exchange(emu: &Emulator, resource: &str) -> bool {
    resource
        .trim_end_matches('/')
        .eq_ignore_ascii_case(emu.config().cloud.token_exchange_audience())
}

/// An access token of `who` for `resource`, as Entra signs it: the token, `nbf` (= `iat`)
/// and `exp`. Valid `who.lifetime` seconds, issued (`iat`, `nbf`) five minutes before now
/// (managed identities' tokens in the field: `expires_on` − `not_before` = `expires_in` +
/// 300), `kid` and `x5t` in the header. For the token exchange (`api://AzureADTokenExchange`
/// of this cloud) a v2.0 token as observed (entra-facts §10): `aud` the exchange's
/// application id [`TOKEN_EXCHANGE_APP_ID`], `iss` `{base}/{tenant}/v2.0`; for any other
/// resource a v1.0 token with `aud` the resource and `iss` `https://sts.windows.net/{tenant}/`.
/// The v2.0 token names the client in `azp` (`azpacr` "2": a certificate or federated
/// credential), the v1.0 in `appid` (`appidacr`); both carry `idtyp` `app`, `tid`, `oid` =
/// `sub`, and [`XMS_EMU_GRANT`]. Source: Learn, "Access token claims reference".
pub(crate) fn mint(
    emu: &Emulator,
    who: &Principal,
    resource: &str,
    base: &str,
    now: SystemTime,
) -> Result<(String, i64, i64), crate::Error> {
    let issued = unix(now);
    let iat = issued - 300;
    let exp = issued + i64::try_from(who.lifetime).unwrap_or(i64::MAX);
    let exchange = is_token_exchange(emu, resource);
    let (aud, iss, ver) = if exchange {
        (
            TOKEN_EXCHANGE_APP_ID.to_owned(),
            Emulator::entra_issuer(base, &who.tenant),
            "2.0",
        )
    } else {
        (
            resource.to_owned(),
            emu.access_token_issuer_for(&who.tenant),
            "1.0",
        )
    };
    let mut claims = json!({
        "aud": aud,
        "iss": iss,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "tid": who.tenant,
        "oid": who.object_id,
        "sub": who.object_id,
        "idtyp": "app",
        "ver": ver,
        "uti": new_guid(),
        XMS_EMU_GRANT: who.grant.claim(),
    });
    // v1.0 names the client `appid` (`appidacr`), v2.0 `azp` (`azpacr`), never both
    // (Learn, "Access token claims reference": "appid … Only present in v1.0 tokens",
    // "azp … replacement for appid … Only present in v2.0 tokens").
    if exchange {
        claims["azp"] = json!(who.client_id);
        claims["azpacr"] = json!("2");
    } else {
        claims["appid"] = json!(who.client_id);
        claims["appidacr"] = json!("2");
        claims["idp"] = json!(iss);
    }
    if let Some(mirid) = &who.mirid {
        claims["xms_mirid"] = json!(mirid);
    }
    Ok((emu.signing_key().sign(&claims)?, iat, exp))
}

/// A customer identity's access token for `resource` obtained by ARM for it
/// (`listTokens`): the token, `iat` and `exp`.
pub(crate) fn access_token(
    emu: &Emulator,
    identity: &Identity,
    resource: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<(String, i64, i64), crate::Error> {
    let who = Principal::identity(emu, identity, Grant::ManagedIdentity);
    mint(emu, &who, resource, &emu.entra_base(headers), now)
}

/// Which token endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `/{tenant}/oauth2/token`, with `resource`.
    V1,
    /// `/{tenant}/oauth2/v2.0/token`, with `scope`.
    V2,
}

/// The correlation id of a request: the client's `client-request-id` if it is a GUID.
pub(crate) fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_guid(v))
        .map_or_else(new_guid, str::to_owned)
}

pub(crate) async fn handle(
    emu: &Emulator,
    version: Version,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    // The response leaves `latency` after the request arrived, the emulator's own work
    // included (a round trip to Entra, whose processing is part of its latency).
    let due = tokio::time::Instant::now() + emu.config().latency;
    let response = answer(emu, version, tenant, headers, body).await;
    tokio::time::sleep_until(due).await;
    response
}

async fn answer(
    emu: &Emulator,
    version: Version,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let now = emu.now();
    let correlation = correlation_id(headers);
    if let Some(response) = emu.take_fault(now, &correlation) {
        return response;
    }
    let result = match validate(emu, version, tenant, headers, body, now).await {
        Ok((who, resource)) => issue(emu, version, &who, &resource, headers, now),
        Err(e) => Err(e),
    };
    match result {
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            no_store(&mut response, &correlation);
            response
        }
        Err(e) => e.into_response_at(now, &correlation),
    }
}

fn missing(name: &str) -> Aadsts {
    Aadsts::request(
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// The form fields, first occurrence winning; empty values count as absent.
fn form(body: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if !v.is_empty() {
            fields
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
    }
    fields
}

/// The one resource named by a v2 `scope`: `{resource}/.default`, repeated at most.
pub(crate) fn resource_from_scope(scope: &str) -> Result<String, Aadsts> {
    let mut resources: Vec<&str> = Vec::new();
    for s in scope.split_whitespace() {
        // A client-credentials scope must be `{resource}/.default`. Source: Learn, "Microsoft
        // identity platform and the OAuth 2.0 client credentials flow"; AADSTS1002012 in
        // Learn's error-code reference and MicrosoftDocs/azure-docs#99862.
        let Some(resource) = s.strip_suffix("/.default").filter(|r| !r.is_empty()) else {
            return Err(Aadsts::new(
                1002012,
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!(
                    "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ));
        };
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    match resources.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err(missing("scope")),
        // Two resources in one request. Source: Learn's error-code reference (AADSTS70011
        // InvalidScope) and field reports of `static scope limit exceeded`.
        _ => Err(Aadsts::new(
            70011,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid. static scope limit exceeded."
            ),
        )),
    }
}

/// `d.hh:mm:ss`, the way Entra writes a .NET TimeSpan (`1.01:00:00` for 25 h).
fn timespan(d: Duration) -> String {
    let s = d.as_secs();
    let hms = format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60);
    if s >= 86_400 {
        format!("{}.{hms}", s / 86_400)
    } else {
        hms
    }
}

/// The client a request names: a user-assigned identity of the customer's tenant, or an
/// application registered in a tenant's directory.
enum Client {
    Identity(Identity),
    Application(Application),
}

impl Client {
    /// The tenant it is registered in.
    fn home<'a>(&'a self, emu: &'a Emulator) -> &'a str {
        match self {
            Client::Identity(_) => emu.tenant(),
            Client::Application(app) => &app.tenant,
        }
    }

    /// Its FICs: ARM's for an identity, Graph's for an application.
    fn fics(&self) -> Vec<FederatedCredential> {
        match self {
            Client::Identity(i) => i.federated_credentials.clone(),
            Client::Application(app) => app
                .federated_credentials
                .iter()
                .map(|f| FederatedCredential {
                    name: f.name.clone(),
                    issuer: f.issuer.clone(),
                    subject: f.subject.clone(),
                    audiences: f.audiences.clone(),
                    changed_at: f.changed_at,
                })
                .collect(),
        }
    }

    /// Its name, as AADSTS70025 writes it after the client id.
    fn name(&self) -> &str {
        match self {
            Client::Identity(i) => &i.name,
            Client::Application(app) => &app.display_name,
        }
    }
}

/// Whom a successful request gets a token for.
pub(crate) enum Issued {
    Identity(Identity),
    Application {
        app: Application,
        sp: ServicePrincipal,
    },
}

/// AADSTS700016: no such application in the tenant's directory. Source: Learn's error-code
/// reference (UnauthorizedClient_DoesNotMatchRequest); entra-facts §10.
pub(crate) fn not_in_directory(client_id: &str, tenant: &str) -> Aadsts {
    Aadsts::new(
        700016,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// An application client's service principal in the requesting tenant. Without one:
/// in another tenant AADSTS700016 (the application is not installed there; entra-facts
/// §10), in its home tenant AADSTS7000229 ("The client application {appId} is missing
/// service principal in the tenant {tenant}", Learn's error-code reference,
/// MissingServicePrincipal).
fn service_principal(
    emu: &Emulator,
    tenant: &str,
    app: &Application,
) -> Result<ServicePrincipal, Aadsts> {
    if let Some(sp) = emu
        .registry()
        .directories
        .service_principal(tenant, &app.app_id)
    {
        return Ok(sp.clone());
    }
    if app.tenant.eq_ignore_ascii_case(tenant) {
        return Err(Aadsts::new(
            7000229,
            StatusCode::BAD_REQUEST,
            "invalid_client",
            format!(
                "The client application {} is missing service principal in the tenant {tenant}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
                app.app_id
            ),
        ));
    }
    Err(not_in_directory(&app.app_id, tenant))
}

/// The tenant whose Entra (this emulator) issued `iss`: `{base}/{tenant}/v2.0` on the
/// emulator's issuer base (or the URL this request came to), or the v1
/// `https://sts.windows.net/{tenant}/`, for either of its tenants.
fn entra_issuer_tenant<'e>(emu: &'e Emulator, iss: &str, headers: &HeaderMap) -> Option<&'e str> {
    let bases: Vec<String> = [emu.issuer_base(), Some(emu.base_url(headers))]
        .into_iter()
        .flatten()
        .collect();
    [emu.tenant(), emu.publisher_tenant()]
        .into_iter()
        .find(|t| {
            iss == emu.access_token_issuer_for(t)
                || bases.iter().any(|b| iss == Emulator::entra_issuer(b, t))
        })
}

/// The checks, in order; whom to issue a token for, and the resource.
async fn validate(
    emu: &Emulator,
    version: Version,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(Issued, String), Aadsts> {
    let config = emu.config();

    // 1. Tenant: either of the emulator's.
    let Some(tenant) = emu.known_tenant(tenant) else {
        return Err(Aadsts::request(
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    };

    // 2. Parameters.
    let fields = form(body);
    let field = |name: &str| fields.get(name).map(String::as_str);
    let grant_type = field("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(Aadsts::new(
            70003,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    let assertion = match (field("client_assertion_type"), field("client_assertion")) {
        (Some(JWT_BEARER), Some(assertion)) => assertion,
        _ => {
            return Err(Aadsts::client(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    };

    // 3. Scope or resource.
    let resource = match version {
        Version::V2 => resource_from_scope(field("scope").ok_or_else(|| missing("scope"))?)?,
        Version::V1 => field("resource")
            .ok_or_else(|| missing("resource"))?
            .to_owned(),
    };

    // A national cloud's Entra has no principal for another cloud's services.
    if config.cloud.is_foreign(&resource) {
        return Err(Aadsts::new(
            500011,
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        ));
    }

    // 4. Client id: a user-assigned identity (of the customer's tenant, only there), or an
    // application of any tenant's directory (whether it is installed in this tenant is
    // checked later, as Entra does).
    let client = (tenant == emu.tenant())
        .then(|| emu.identity_by_client_id(client_id))
        .flatten()
        .map(Client::Identity)
        .or_else(|| {
            emu.registry()
                .directories
                .by_app_id(client_id)
                .cloned()
                .map(Client::Application)
        })
        .ok_or_else(|| not_in_directory(client_id, tenant))?;

    // 5. The assertion's shape, then its algorithm, before any key is looked at.
    let a = jwt::parse(assertion)
        .map_err(|e| Aadsts::request(50027, format!("JWT token is invalid or malformed: {e}.")))?;
    if a.alg != "RS256" {
        return Err(Aadsts::request(
            5002738,
            format!(
                "Invalid JWT token. '{}' is not a supported signature algorithm.",
                a.alg
            ),
        ));
    }

    // An assertion this emulator's Entra issued takes Entra's own path.
    if let Some(issuer_tenant) = entra_issuer_tenant(emu, &a.iss, headers) {
        let who = entra_assertion(emu, tenant, client, &a, issuer_tenant, now)?;
        return Ok((who, resource));
    }

    // An application must be installed in the requesting tenant.
    let sp = match &client {
        Client::Application(app) => Some(service_principal(emu, tenant, app)?),
        Client::Identity(_) => None,
    };

    // 6. Federated credentials: any at all, then by issuer, then propagated.
    let fics = client.fics();
    let (by_issuer, visible) = by_issuer(emu, &fics, &a, client_id, client.name(), now)?;

    // 7. The issuer's metadata, the key, the signature.
    let keys = emu.metadata().keys(&a.iss, now).await?;
    let kid = a.kid.as_deref().unwrap_or("");
    let jwk = keys
        .find(kid)
        .map_err(|reason| {
            Aadsts::request(
                900612,
                format!("Failed to parse provider signing keys. Details: {reason}"),
            )
        })?
        .ok_or_else(|| {
            Aadsts::client(
                7000272,
                format!(
                    "The certificate with identifier {kid} used to sign the federated credential could not be found in the metadata of identity provider {}.",
                    a.iss
                ),
            )
        })?;
    verify_signature(&a, &jwk.n, &jwk.e)?;

    // 8. Audience, subject (a pending credential that would match answers 70021).
    audience_and_subject(emu, &by_issuer, &visible, &a, now, |f| {
        a.aud.iter().any(|x| x == f)
    })?;

    // 9. Time: valid now, then not too long-lived.
    valid_now(emu, &a, now)?;
    let now_s = unix(now);
    let start = a.iat.or(a.nbf).unwrap_or(now_s);
    let max = i64::try_from(config.max_assertion_lifetime.as_secs()).unwrap_or(i64::MAX);
    if a.exp.saturating_sub(start) > max {
        return Err(Aadsts::request(
            70023,
            format!(
                "External OIDC Provider token must have a lifetime of less than or equal to {}.",
                timespan(config.max_assertion_lifetime)
            ),
        ));
    }
    Ok((issued(client, sp), resource))
}

fn issued(client: Client, sp: Option<ServicePrincipal>) -> Issued {
    match (client, sp) {
        (Client::Application(app), Some(sp)) => Issued::Application { app, sp },
        (Client::Identity(identity), _) => Issued::Identity(identity),
        // An application always has its service principal by now.
        (Client::Application(app), None) => {
            unreachable!("application {} without a service principal", app.app_id)
        }
    }
}

/// An assertion the emulator's Entra issued (a managed identity's token as a federated
/// credential, entra-facts §10), checked in Entra's order:
///
/// a. the issuer's tenant is the client's home tenant (AADSTS700236: a FIC of another
///    tenant's Entra, e.g. the customer's UAMI trusting the publisher's tenant; Learn Q&A
///    2139753, arsenvlad/entra-cross-tenant-app-fic-managed-identity);
/// b. the signature (the emulator's own key, AADSTS50027) and the time (AADSTS700024);
/// c. a managed identity's app-only token, obtained from the managed identity endpoint: a
///    token that is not app-only AADSTS700229 (Learn's error-code reference;
///    MicrosoftDocs/azure-docs#109083), an application's token AADSTS700226, a managed
///    identity's token obtained through federation AADSTS700231 (Azure/azure-workload-identity#1363);
/// d. an application client is installed in the requesting tenant (AADSTS700016);
/// e. the client's FICs, as for an external issuer, the FIC's audience
///    `api://AzureADTokenExchange` (this cloud's) matching the token's `aud`, the exchange's
///    application id.
///
/// The statuses of 700236, 700229, 700226 and 700231 are not documented; 401
/// `invalid_client`, as for the other credential refusals, is a guess.
fn entra_assertion(
    emu: &Emulator,
    tenant: &str,
    client: Client,
    a: &Assertion<'_>,
    issuer_tenant: &str,
    now: SystemTime,
) -> Result<Issued, Aadsts> {
    // a.
    if !issuer_tenant.eq_ignore_ascii_case(client.home(emu)) {
        return Err(Aadsts::client(
            700236,
            format!(
                "Entra ID tokens issued by issuer '{}' may not be used for federated identity credential flows for applications or managed identities registered in this tenant.",
                a.iss
            ),
        ));
    }
    // b.
    let key = emu.signing_key();
    let (n, e) = key.public_components();
    verify_signature(a, n, e)?;
    valid_now(emu, a, now)?;
    // c.
    let claim = |name: &str| a.claims.get(name).and_then(Value::as_str);
    if claim("idtyp") != Some("app") {
        return Err(Aadsts::client(
            700229,
            "Forbidden token type. Only app-only tokens may be used as Federated Identity Credentials for AAD issuer.",
        ));
    }
    if claim("xms_mirid").is_none() {
        return Err(Aadsts::client(
            700226,
            "Only MSI tokens may be used as Federated Identity Credentials for AAD issuer.",
        ));
    }
    if claim(XMS_EMU_GRANT) != Some(Grant::ManagedIdentity.claim()) {
        return Err(Aadsts::client(
            700231,
            "Token obtained using another federated identity credential may not be used as federated identity credential.",
        ));
    }
    // d.
    let sp = match &client {
        Client::Application(app) => Some(service_principal(emu, tenant, app)?),
        Client::Identity(_) => None,
    };
    // e.
    let fics = client.fics();
    let client_id = match &client {
        Client::Identity(i) => i.client_id.clone(),
        Client::Application(app) => app.app_id.clone(),
    };
    let (by_issuer, visible) = by_issuer(emu, &fics, a, &client_id, client.name(), now)?;
    let exchange = emu.config().cloud.token_exchange_audience();
    audience_and_subject(emu, &by_issuer, &visible, a, now, |f| {
        a.aud.iter().any(|x| x == f)
            || (f == exchange && a.aud.iter().any(|x| x == TOKEN_EXCHANGE_APP_ID))
    })?;
    Ok(issued(client, sp))
}

/// AADSTS70021, as Entra answers while a FIC propagates.
fn no_record(a: &Assertion<'_>) -> Aadsts {
    Aadsts::request(
        70021,
        format!(
            "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
            a.iss,
            a.sub,
            a.aud.join(",")
        ),
    )
}

/// Whether `f` is still propagating.
fn pending(emu: &Emulator, f: &FederatedCredential, now: SystemTime) -> bool {
    let delay = emu.config().propagation_delay.as_secs();
    u64::try_from(unix(now) - f.changed_at).map_or(true, |age| age < delay)
}

/// The FICs whose issuer is `iss` byte for byte, and those of them past propagation:
/// AADSTS70025 without any FIC, 700211 without one of this issuer, 70021 when all of them
/// still propagate.
fn by_issuer<'f>(
    emu: &Emulator,
    fics: &'f [FederatedCredential],
    a: &Assertion<'_>,
    client_id: &str,
    name: &str,
    now: SystemTime,
) -> Result<(Vec<&'f FederatedCredential>, Vec<&'f FederatedCredential>), Aadsts> {
    if fics.is_empty() {
        return Err(Aadsts::request(
            70025,
            format!(
                "The client '{client_id}'({name}) has no configured federated identity credentials."
            ),
        ));
    }
    let by_issuer: Vec<&FederatedCredential> = fics.iter().filter(|f| f.issuer == a.iss).collect();
    if by_issuer.is_empty() {
        return Err(Aadsts::client(
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                a.iss
            ),
        ));
    }
    let visible: Vec<&FederatedCredential> = by_issuer
        .iter()
        .copied()
        .filter(|f| !pending(emu, f, now))
        .collect();
    if visible.is_empty() {
        return Err(no_record(a));
    }
    Ok((by_issuer, visible))
}

/// A visible FIC whose audience `matches` and whose subject is `sub`: AADSTS700212 without
/// such an audience, 700213 (7002138 if equal ignoring case) without such a subject, 70021
/// instead of either when a propagating FIC would match.
fn audience_and_subject(
    emu: &Emulator,
    by_issuer: &[&FederatedCredential],
    visible: &[&FederatedCredential],
    a: &Assertion<'_>,
    now: SystemTime,
    matches: impl Fn(&str) -> bool,
) -> Result<(), Aadsts> {
    let pending_match = by_issuer.iter().any(|f| {
        pending(emu, f, now) && a.sub == f.subject && f.audiences.iter().any(|x| matches(x))
    });
    let by_audience: Vec<&FederatedCredential> = visible
        .iter()
        .copied()
        .filter(|f| f.audiences.iter().any(|x| matches(x)))
        .collect();
    if by_audience.is_empty() {
        if pending_match {
            return Err(no_record(a));
        }
        return Err(Aadsts::client(
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                a.aud.join(",")
            ),
        ));
    }
    if !by_audience.iter().any(|f| f.subject == a.sub) {
        if pending_match {
            return Err(no_record(a));
        }
        if by_audience
            .iter()
            .any(|f| f.subject.to_lowercase() == a.sub.to_lowercase())
        {
            return Err(Aadsts::client(
                7002138,
                format!(
                    "No matching federated identity record found for presented assertion subject '{}'. The subject matches a federated identity credential only when compared case-insensitively; the matching is case-sensitive. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                    a.sub
                ),
            ));
        }
        return Err(Aadsts::client(
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                a.sub
            ),
        ));
    }
    Ok(())
}

/// AADSTS700024 unless now is within `nbf` (if any) and `exp`, with the configured skew.
fn valid_now(emu: &Emulator, a: &Assertion<'_>, now: SystemTime) -> Result<(), Aadsts> {
    let now_s = unix(now);
    let skew = i64::try_from(emu.config().clock_skew.as_secs()).unwrap_or(i64::MAX);
    let not_yet = a.nbf.is_some_and(|nbf| now_s.saturating_add(skew) < nbf);
    let expired = now_s.saturating_sub(skew) >= a.exp;
    if not_yet || expired {
        let from = a
            .nbf
            .or(a.iat)
            .map_or_else(|| "(not set)".to_owned(), entra_precise_unix);
        return Err(Aadsts::client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {from}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                entra_precise(now),
                entra_precise_unix(a.exp)
            ),
        ));
    }
    Ok(())
}

/// RS256 with the JWKS key; the algorithm is fixed here, never taken from the header.
fn verify_signature(a: &Assertion<'_>, n: &str, e: &str) -> Result<(), Aadsts> {
    match crate::jwt::verify_rs256(n, e, a.signing_input.as_bytes(), a.signature) {
        Ok(()) => Ok(()),
        Err(err @ crate::jwt::BadSignature::Key(_)) => Err(Aadsts::request(
            900612,
            format!("Failed to parse provider signing keys. Details: {err}"),
        )),
        Err(crate::jwt::BadSignature::Mismatch) => Err(Aadsts::client(
            50027,
            format!(
                "External ID token from issuer '{}' failed signature verification.",
                a.iss
            ),
        )),
    }
}

/// The access token and the response body for it. A user-assigned identity gets its
/// managed identity's token (`xms_mirid`, about 24 h); an application its token in the
/// requesting tenant: `tid` that tenant, `oid` = `sub` its service principal there,
/// `appid` = `azp` the application id, no `xms_mirid`, about an hour. Both through
/// federation ([`XMS_EMU_GRANT`] `federated`).
fn issue(
    emu: &Emulator,
    version: Version,
    who: &Issued,
    resource: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<Value, Aadsts> {
    let principal = match who {
        Issued::Identity(identity) => Principal::identity(emu, identity, Grant::Federated),
        Issued::Application { app, sp } => Principal {
            tenant: sp.tenant.clone(),
            object_id: sp.id.clone(),
            client_id: app.app_id.clone(),
            mirid: None,
            grant: Grant::Federated,
            lifetime: APPLICATION_TOKEN_EXPIRES_IN,
        },
    };
    let (token, iat, exp) = mint(emu, &principal, resource, &emu.entra_base(headers), now)
        .map_err(|e| {
            Aadsts::new(
                50000,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("There was an error issuing a token: {e}."),
            )
        })?;
    let expires_in = principal.lifetime;
    Ok(match version {
        Version::V2 => json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        }),
        // Entra's v1 endpoint writes every number as a string.
        Version::V1 => json!({
            "token_type": "Bearer",
            "expires_in": expires_in.to_string(),
            "ext_expires_in": expires_in.to_string(),
            "expires_on": exp.to_string(),
            "not_before": iat.to_string(),
            "resource": resource,
            "access_token": token,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_exactly_one_resource() {
        assert_eq!(
            resource_from_scope("https://vault.azure.net/.default").unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(
            resource_from_scope("https://management.azure.com//.default").unwrap(),
            "https://management.azure.com/"
        );
        assert_eq!(
            resource_from_scope("api://x/.default api://x/.default").unwrap(),
            "api://x"
        );
        assert_eq!(resource_from_scope("openid").unwrap_err().code, 1002012);
        assert_eq!(resource_from_scope("/.default").unwrap_err().code, 1002012);
        assert_eq!(
            resource_from_scope("https://vault.azure.net/.default openid")
                .unwrap_err()
                .code,
            1002012
        );
        let two = resource_from_scope("api://a/.default api://b/.default").unwrap_err();
        assert_eq!((two.code, two.error), (70011, "invalid_scope"));
        assert_eq!(resource_from_scope("  ").unwrap_err().code, 900144);
    }

    #[test]
    fn timespans_look_like_dotnet() {
        assert_eq!(timespan(Duration::from_secs(25 * 3600)), "1.01:00:00");
        assert_eq!(timespan(Duration::from_secs(3600 + 61)), "01:01:01");
    }

    #[test]
    fn form_keeps_the_first_non_empty_value() {
        let f = form(b"a=1&a=2&b=&c=x%20y");
        assert_eq!(f["a"], "1");
        assert!(!f.contains_key("b"));
        assert_eq!(f["c"], "x y");
    }

    #[test]
    fn correlation_id_is_taken_from_the_client_only_if_a_guid() {
        let mut h = HeaderMap::new();
        h.insert(
            "client-request-id",
            "72f988bf-86f1-41af-91ab-2d7cd011db47".parse().unwrap(),
        );
        assert_eq!(correlation_id(&h), "72f988bf-86f1-41af-91ab-2d7cd011db47");
        h.insert("client-request-id", "<script>".parse().unwrap());
        assert!(is_guid(&correlation_id(&h)));
    }
}
