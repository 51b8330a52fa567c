//! The router: which handler answers which path. The token checks live in [`crate::token`],
//! ARM in [`crate::arm_routes`], Key Vault's data plane in [`crate::vault_routes`],
//! Microsoft Graph and admin consent in [`crate::graph_routes`], fault injection in
//! [`crate::faults`]; the helpers routes share in [`crate::http`]. The machine's identity
//! endpoints have a router of their own ([`crate::identity_routes`]), served apart.

use crate::arm_routes::{arm_route, list_subscriptions};
use crate::faults::{delete_faults, post_faults};
use crate::http::{cacheable_json, query_param};
use crate::{Aadsts, Emulator, cloud, graph_routes, token, vault_routes};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use serde_json::json;

/// The routes: token endpoints, the emulator's metadata, ARM and the admin knobs.
pub(crate) fn router(emu: &Emulator) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2).get(token_get))
        .route("/{tenant}/oauth2/token", post(token_v1).get(token_get))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/discovery/keys", get(keys))
        .route("/{tenant}/adminconsent", get(graph_routes::admin_consent))
        .route(
            "/{tenant}/v2.0/adminconsent",
            get(graph_routes::admin_consent_v2),
        )
        .route("/v1.0/{*rest}", any(graph_routes::graph_route))
        .route("/subscriptions", get(list_subscriptions))
        .route("/subscriptions/{*rest}", any(arm_route))
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(openid_configuration_v1),
        )
        .route("/common/discovery/instance", get(instance_discovery))
        .route("/metadata/endpoints", get(metadata_endpoints))
        .route("/keyvault/{vault}/{*rest}", any(vault_routes::under_path))
        .route("/_emulator/faults", post(post_faults).delete(delete_faults))
        .route("/_emulator/metadata-cache", delete(delete_metadata_cache))
        .fallback(not_found)
        .with_state(emu.clone())
        .layer(axum::middleware::map_request(host_from_authority))
}

/// HTTP/2 clients send `:authority` instead of `Host` (RFC 9113 §8.3.1), which hyper puts
/// in the request's URI: the URLs the emulator writes need it as the host, port included.
async fn host_from_authority(mut request: axum::extract::Request) -> axum::extract::Request {
    if !request.headers().contains_key(header::HOST)
        && let Some(value) = request
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        request.headers_mut().insert(header::HOST, value);
    }
    request
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

/// A GET on the token endpoint: AADSTS900561, as Entra answers it. Source: Learn's
/// error-code reference (900561 BadResourceRequestInvalidRequest: "The endpoint only accepts
/// POST, OPTIONS requests"); issue MicrosoftDocs/azure-docs#99862.
async fn token_get(State(emu): State<Emulator>, headers: HeaderMap) -> Response {
    Aadsts::request(
        900561,
        "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
    )
    .into_response_at(emu.now(), &token::correlation_id(&headers))
}

/// The emulator's tenant the path names (the customer's or the publisher's), or Entra's
/// AADSTS90002 answer.
fn known_tenant<'e>(
    emu: &'e Emulator,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<&'e str, Box<Response>> {
    emu.known_tenant(tenant).ok_or_else(|| {
        Box::new(
            Aadsts::request(
                90002,
                format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            )
            .into_response_at(emu.now(), &token::correlation_id(headers)),
        )
    })
}

async fn openid_configuration(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tenant = match known_tenant(&emu, &tenant, &headers) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let base = format!("{}/{tenant}", emu.base_url(&headers));
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
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "idtyp", "xms_mirid"],
        "request_uri_parameter_supported": false,
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

/// The v1 tenant metadata, for resource servers validating the v1.0 tokens the emulator
/// issues (issuer `https://sts.windows.net/{tenant}/`). Source: Learn, "OpenID Connect on
/// the Microsoft identity platform" (v1 `/{tenant}/.well-known/openid-configuration`).
async fn openid_configuration_v1(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let tenant = match known_tenant(&emu, &tenant, &headers) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let base = format!("{}/{tenant}", emu.base_url(&headers));
    cacheable_json(json!({
        "issuer": emu.access_token_issuer_for(tenant),
        "token_endpoint": format!("{base}/oauth2/token"),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "jwks_uri": format!("{base}/discovery/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "microsoft_multi_refresh_token": true,
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

/// MSAL's instance discovery (`GET /common/discovery/instance?api-version=1.1&
/// authorization_endpoint=…`): the tenant discovery endpoint and this host as its own only
/// alias. Source: MSAL Python `msal/authority.py` and MSAL.NET `InstanceDiscoveryResponse`
/// (fields `tenant_discovery_endpoint`, `api-version`, `metadata[]` of
/// `preferred_network`, `preferred_cache`, `aliases`).
async fn instance_discovery(
    State(emu): State<Emulator>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let base = emu.base_url(&headers);
    let host = base
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    let tenant = query_param(&uri, "authorization_endpoint")
        .and_then(|endpoint| {
            let path = url::Url::parse(&endpoint).ok()?.path().to_owned();
            path.trim_start_matches('/')
                .split('/')
                .next()
                .map(str::to_owned)
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| emu.tenant().to_owned());
    cacheable_json(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
}

/// ARM's cloud metadata, in the shape of the api-version asked (see [`crate::cloud`]).
async fn metadata_endpoints(
    State(emu): State<Emulator>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let version = query_param(&uri, "api-version");
    cloud::metadata(&emu, version.as_deref(), &headers)
}

async fn keys(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = known_tenant(&emu, &tenant, &headers) {
        return *r;
    }
    cacheable_json(emu.jwks())
}

async fn delete_metadata_cache(State(emu): State<Emulator>) -> StatusCode {
    emu.clear_metadata_cache();
    StatusCode::NO_CONTENT
}

/// Anything else is 404, but for ARM's metadata asked with a doubled slash: the az CLI
/// joins `--endpoint-resource-manager https://host/` and `/metadata/endpoints` into
/// `https://host//metadata/endpoints`, which ARM answers (azure-cli
/// `command_modules/cloud/custom.py`, `_populate_from_metadata_endpoint`).
async fn not_found(
    State(emu): State<Emulator>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if uri.path().trim_start_matches('/') == "metadata/endpoints" {
        return metadata_endpoints(State(emu), uri, headers).await;
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
