//! The token endpoint: `client_credentials` with a federated client assertion, checked in
//! Entra's order (see the crate docs), answered with Entra's success or error body.

use crate::Emulator;
use crate::aadsts::{Aadsts, no_store};
use crate::arm::identities::{FederatedCredential, Identity, identity_id};
use crate::clock::unix;
use crate::ids::{entra_precise, entra_precise_unix, is_guid, new_guid};
use crate::jwt::{self, Assertion};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// The only `client_assertion_type` Entra takes for a federated credential.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The lifetime of the emulator's access tokens, as `expires_in` reports it.
pub const ACCESS_TOKEN_EXPIRES_IN: u64 = 86399;

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
    let result = match validate(emu, version, tenant, body, now).await {
        Ok((identity, resource)) => issue(emu, version, &identity, &resource, now),
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

/// The checks, in order; the identity and resource to issue a token for.
async fn validate(
    emu: &Emulator,
    version: Version,
    tenant: &str,
    body: &[u8],
    now: SystemTime,
) -> Result<(Identity, String), Aadsts> {
    let config = emu.config();

    // 1. Tenant.
    if !tenant.eq_ignore_ascii_case(&config.tenant) {
        return Err(Aadsts::request(
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }

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
                "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                config.tenant
            ),
        ));
    }

    // 4. Client id.
    let identity = emu.identity_by_client_id(client_id).ok_or_else(|| {
        Aadsts::new(
            700016,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                config.tenant
            ),
        )
    })?;

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

    // 6. Federated credentials: any at all, then by issuer, then propagated.
    let fics = &identity.federated_credentials;
    if fics.is_empty() {
        return Err(Aadsts::request(
            70025,
            format!(
                "The client '{client_id}'({}) has no configured federated identity credentials.",
                identity.name
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
    let delay = config.propagation_delay.as_secs();
    let pending = |f: &FederatedCredential| {
        u64::try_from(unix(now) - f.changed_at).map_or(true, |age| age < delay)
    };
    let no_record = || {
        Aadsts::request(
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                a.iss,
                a.sub,
                a.aud.join(",")
            ),
        )
    };
    let visible: Vec<&FederatedCredential> =
        by_issuer.iter().copied().filter(|f| !pending(f)).collect();
    if visible.is_empty() {
        return Err(no_record());
    }

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
    let pending_match = by_issuer
        .iter()
        .any(|f| pending(f) && a.sub == f.subject && f.audiences.iter().any(|x| a.aud.contains(x)));
    let by_audience: Vec<&FederatedCredential> = visible
        .iter()
        .copied()
        .filter(|f| f.audiences.iter().any(|x| a.aud.contains(x)))
        .collect();
    if by_audience.is_empty() {
        if pending_match {
            return Err(no_record());
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
            return Err(no_record());
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

    // 9. Time: valid now, then not too long-lived.
    let now_s = unix(now);
    let skew = i64::try_from(config.clock_skew.as_secs()).unwrap_or(i64::MAX);
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
    Ok((identity, resource))
}

/// RS256 with the JWKS key; the algorithm is fixed here, never taken from the header.
fn verify_signature(a: &Assertion<'_>, n: &str, e: &str) -> Result<(), Aadsts> {
    let key = DecodingKey::from_rsa_components(n, e).map_err(|err| {
        Aadsts::request(
            900612,
            format!("Failed to parse provider signing keys. Details: {err}"),
        )
    })?;
    match jsonwebtoken::crypto::verify(
        a.signature,
        a.signing_input.as_bytes(),
        &key,
        Algorithm::RS256,
    ) {
        Ok(true) => Ok(()),
        _ => Err(Aadsts::client(
            50027,
            format!(
                "External ID token from issuer '{}' failed signature verification.",
                a.iss
            ),
        )),
    }
}

/// A managed identity's access token for `resource`, as Entra signs it: the token, `iat`
/// and `exp`. The token endpoint and the managed application's `listTokens` both hand it out.
pub(crate) fn access_token(
    emu: &Emulator,
    identity: &Identity,
    resource: &str,
    now: SystemTime,
) -> Result<(String, i64, i64), crate::Error> {
    // A managed identity's token, as Azure issues them: valid about 24 h, issued (`iat`,
    // `nbf`) five minutes before now, v1.0 with `appid` and no `azp`, `kid` and `x5t` in the
    // header. Source: Learn, "Access token claims reference" (v1.0 `appid`, v2.0 `azp`);
    // managed identities' tokens in the field (`expires_in` 86399, `expires_on` −
    // `not_before` = `expires_in` + 300).
    let tenant = &emu.config().tenant;
    let issued = unix(now);
    let iat = issued - 300;
    let exp = issued + ACCESS_TOKEN_EXPIRES_IN as i64;
    let issuer = emu.access_token_issuer();
    let claims = json!({
        "aud": resource,
        "iss": issuer,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "idp": issuer,
        "tid": tenant,
        "oid": identity.principal_id,
        "sub": identity.principal_id,
        "appid": identity.client_id,
        "appidacr": "2",
        "idtyp": "app",
        "ver": "1.0",
        "uti": new_guid(),
        "xms_mirid": identity_id(emu.subscription(), identity),
    });
    Ok((emu.signing_key().sign(&claims)?, iat, exp))
}

/// The access token and the response body for it.
fn issue(
    emu: &Emulator,
    version: Version,
    identity: &Identity,
    resource: &str,
    now: SystemTime,
) -> Result<Value, Aadsts> {
    let (token, iat, exp) = access_token(emu, identity, resource, now).map_err(|e| {
        Aadsts::new(
            50000,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            format!("There was an error issuing a token: {e}."),
        )
    })?;
    Ok(match version {
        Version::V2 => json!({
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_EXPIRES_IN,
            "ext_expires_in": ACCESS_TOKEN_EXPIRES_IN,
            "access_token": token,
        }),
        // Entra's v1 endpoint writes every number as a string.
        Version::V1 => json!({
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_EXPIRES_IN.to_string(),
            "ext_expires_in": ACCESS_TOKEN_EXPIRES_IN.to_string(),
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
