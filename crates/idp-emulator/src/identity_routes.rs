//! The machine's managed identity endpoints, as a process on an Azure machine reaches
//! them: plain HTTP on the machine, answering for the user-assigned identities of the
//! publisher's tenant attached to it ([`crate::MachineIdentity`]).
//!
//! App Service (and Functions, Container Apps): `GET {IDENTITY_ENDPOINT}?resource=R&
//! api-version=2019-08-01[&client_id=|&principal_id=|&object_id=|&mi_res_id=]` with
//! `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; 200 `{access_token, client_id, expires_on,
//! not_before, resource, token_type}`, numbers as strings. Source: Learn, "Use managed
//! identities for App Service and Azure Functions", REST endpoint reference:
//! - the ID parameters are optional and exclusive ("Cannot be used on a request that
//!   includes …"); without one the system-assigned identity is used ("If you are
//!   attempting to obtain tokens for user-assigned identities, you must include one of the
//!   optional properties"), and the machine has none here, so a request naming no identity
//!   fails even with one user-assigned identity attached;
//! - an identity that is not attached (or none) is 400 `{"statusCode":400,"message":
//!   "Unable to load the proper Managed Identity.","correlationId":…}` (field reports of
//!   App Service and Container Apps; the shape is that of the token service's errors);
//! - a missing or wrong `X-IDENTITY-HEADER` is refused with 401 in that shape, and a
//!   missing `resource` or an api-version other than 2019-08-01 (2017-09-01 is another
//!   protocol, with a `secret` header, not emulated) with 400: statuses and texts are a
//!   guess, no source gives them.
//!
//! IMDS (Azure VMs; `AZURE_POD_IDENTITY_AUTHORITY_HOST` points SDKs elsewhere): `GET
//! /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R[&client_id=|
//! &object_id=|&msi_res_id=]` with `Metadata: true`; 200 with every field a string:
//! `access_token, client_id, expires_in, expires_on, ext_expires_in, not_before, resource,
//! token_type`. Errors `{error, error_description}`: no `Metadata: true` 400
//! `bad_request_102` "Required metadata header not specified"; an identity not attached 400
//! `invalid_request` "Identity not found"; several attached and none named 400
//! `invalid_request` "Multiple user assigned identities exist, please specify the clientId /
//! resourceId of the identity in the token request" (one attached and none named: that
//! one); a resource Entra does not know 400 `invalid_resource` with AADSTS50001. Source:
//! Learn, "How to use managed identities for Azure resources on an Azure VM to acquire an
//! access token" (REST, "Error handling"); entra-facts §10. The texts for a missing
//! api-version or resource, and for several ID parameters, are a guess in IMDS's form.
//!
//! Tokens: [`crate::token::mint`] for the identity, [`crate::XMS_EMU_GRANT`]
//! `managed_identity`; for this cloud's `api://AzureADTokenExchange` a v2.0 token of the
//! publisher's tenant with `aud` the exchange's application id, the token a FIC of an
//! application trusts (entra-facts §10).

use crate::http::query_param;
use crate::ids::{is_guid, new_guid};
use crate::token::{self, Grant, Principal};
use crate::{Emulator, MachineIdentity};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The App Service-shaped endpoint's path: `IDENTITY_ENDPOINT` is the identity listener's
/// origin and this path.
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// The App Service protocol's api-version.
pub const APP_SERVICE_API_VERSION: &str = "2019-08-01";
/// The IMDS-shaped endpoint's path, under `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The api-version Learn documents for IMDS's token endpoint.
pub const IMDS_API_VERSION: &str = "2018-02-01";

pub(crate) fn router(emu: &Emulator) -> Router {
    Router::new()
        .route(APP_SERVICE_PATH, get(app_service))
        .route(IMDS_PATH, get(imds))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(emu.clone())
}

/// How a request names the identity.
enum Named {
    None,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

/// A query parameter naming an identity, and what it names.
type IdParameter<'a> = (&'a str, fn(String) -> Named);

/// The one ID parameter among `names`, or `Err` when several.
fn named(uri: &Uri, names: &[IdParameter<'_>]) -> Result<Named, ()> {
    let mut found = Named::None;
    for (name, make) in names {
        if let Some(v) = query_param(uri, name).filter(|v| !v.is_empty()) {
            if !matches!(found, Named::None) {
                return Err(());
            }
            found = make(v);
        }
    }
    Ok(found)
}

/// The attached identity `named` names (GUIDs and resource ids in any case).
fn find(emu: &Emulator, named: &Named) -> Option<MachineIdentity> {
    emu.machine_identities().into_iter().find(|m| match named {
        Named::ClientId(c) => m.client_id.eq_ignore_ascii_case(c),
        Named::ObjectId(o) => m.principal_id.eq_ignore_ascii_case(o),
        Named::ResourceId(r) => m.resource_id.eq_ignore_ascii_case(r),
        Named::None => false,
    })
}

/// Whether Entra could know `resource`: a GUID or an absolute URI, not another cloud's
/// service.
fn known_resource(emu: &Emulator, resource: &str) -> bool {
    (is_guid(resource) || url::Url::parse(resource).is_ok())
        && !emu.config().cloud.is_foreign(resource)
}

/// Compares the presented header with the secret without stopping at the first difference.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len() && given.iter().zip(secret).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// The identity's token for `resource`: the token, `nbf` and `exp`; `None` when the
/// emulator's issuer base URL is not known yet (needed for a token-exchange token).
fn mint(
    emu: &Emulator,
    identity: &MachineIdentity,
    resource: &str,
) -> Result<Option<(String, i64, i64)>, crate::Error> {
    let base = match emu.issuer_base() {
        Some(base) => base,
        None if token::is_token_exchange(emu, resource) => return Ok(None),
        None => String::new(),
    };
    let who = Principal {
        tenant: emu.publisher_tenant().to_owned(),
        object_id: identity.principal_id.clone(),
        client_id: identity.client_id.clone(),
        mirid: Some(identity.resource_id.clone()),
        grant: Grant::ManagedIdentity,
        lifetime: token::ACCESS_TOKEN_EXPIRES_IN,
    };
    token::mint(emu, &who, resource, &base, emu.now()).map(Some)
}

/// App Service's error body.
fn app_service_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "statusCode": status.as_u16(),
            "message": message,
            "correlationId": new_guid(),
        })),
    )
        .into_response()
}

async fn app_service(State(emu): State<Emulator>, uri: Uri, headers: HeaderMap) -> Response {
    let given = headers
        .get("x-identity-header")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(given, emu.identity_header().as_bytes()) {
        return app_service_error(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    let version = query_param(&uri, "api-version").unwrap_or_default();
    if version != APP_SERVICE_API_VERSION {
        return app_service_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "The api-version '{version}' is not supported; use {APP_SERVICE_API_VERSION}."
            ),
        );
    }
    let Some(resource) = query_param(&uri, "resource").filter(|r| !r.is_empty()) else {
        return app_service_error(
            StatusCode::BAD_REQUEST,
            "The 'resource' query parameter is required.",
        );
    };
    let Ok(named) = named(
        &uri,
        &[
            ("client_id", Named::ClientId),
            ("principal_id", Named::ObjectId),
            ("object_id", Named::ObjectId),
            ("mi_res_id", Named::ResourceId),
        ],
    ) else {
        return app_service_error(
            StatusCode::BAD_REQUEST,
            "Only one of client_id, principal_id, object_id and mi_res_id may be given.",
        );
    };
    // Without an ID parameter the system-assigned identity, which the machine lacks.
    let Some(identity) = find(&emu, &named) else {
        return app_service_error(
            StatusCode::BAD_REQUEST,
            "Unable to load the proper Managed Identity.",
        );
    };
    if !known_resource(&emu, &resource) {
        return app_service_error(
            StatusCode::BAD_REQUEST,
            &aadsts50001(&resource, emu.publisher_tenant()),
        );
    }
    match mint(&emu, &identity, &resource) {
        Ok(Some((token, nbf, exp))) => axum::Json(json!({
            "access_token": token,
            "client_id": identity.client_id,
            "expires_on": exp.to_string(),
            "not_before": nbf.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }))
        .into_response(),
        Ok(None) => app_service_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The emulator's issuer base URL is not known yet.",
        ),
        Err(e) => app_service_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Entra's refusal of a resource it does not know, as IMDS relays it (Learn's IMDS error
/// table: `invalid_resource`, "AADSTS50001: The application named <URI> wasn't found in
/// the tenant named <TENANT-ID>…").
fn aadsts50001(resource: &str, tenant: &str) -> String {
    format!(
        "AADSTS50001: The application named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
    )
}

/// IMDS's error body.
fn imds_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn imds(State(emu): State<Emulator>, uri: Uri, headers: HeaderMap) -> Response {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return imds_error("bad_request_102", "Required metadata header not specified");
    }
    let Some(version) = query_param(&uri, "api-version").filter(|v| !v.is_empty()) else {
        return imds_error(
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    };
    if version != IMDS_API_VERSION {
        return imds_error(
            "invalid_request",
            &format!("Invalid api-version '{version}'; use {IMDS_API_VERSION}"),
        );
    }
    let Some(resource) = query_param(&uri, "resource").filter(|r| !r.is_empty()) else {
        return imds_error(
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let Ok(named) = named(
        &uri,
        &[
            ("client_id", Named::ClientId),
            ("object_id", Named::ObjectId),
            ("msi_res_id", Named::ResourceId),
        ],
    ) else {
        return imds_error(
            "invalid_request",
            "Only one of client_id, object_id and msi_res_id may be specified",
        );
    };
    let identity = if matches!(named, Named::None) {
        let attached = emu.machine_identities();
        match attached.as_slice() {
            [one] => Some(one.clone()),
            [] => None,
            _ => {
                return imds_error(
                    "invalid_request",
                    "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
                );
            }
        }
    } else {
        find(&emu, &named)
    };
    let Some(identity) = identity else {
        return imds_error("invalid_request", "Identity not found");
    };
    if !known_resource(&emu, &resource) {
        return imds_error(
            "invalid_resource",
            &aadsts50001(&resource, emu.publisher_tenant()),
        );
    }
    match mint(&emu, &identity, &resource) {
        Ok(Some((token, nbf, exp))) => {
            let expires_in = token::ACCESS_TOKEN_EXPIRES_IN.to_string();
            let body: Value = json!({
                "access_token": token,
                "client_id": identity.client_id,
                "expires_in": expires_in,
                "expires_on": exp.to_string(),
                "ext_expires_in": expires_in,
                "not_before": nbf.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            });
            axum::Json(body).into_response()
        }
        Ok(None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "service_unavailable", "error_description": "The emulator's issuer base URL is not known yet."})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "unknown", "error_description": e.to_string()})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abd", b"abc"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }
}
