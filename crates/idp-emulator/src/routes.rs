//! The router: which handler answers which path. The token checks live in [`crate::token`],
//! ARM in [`crate::arm_routes`], fault injection in [`crate::faults`].

use crate::arm_routes::arm_route;
use crate::faults::{delete_faults, post_faults};
use crate::{Aadsts, Emulator, token, vault_routes};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use serde_json::{Value, json};

/// The routes: token endpoints, the emulator's metadata, ARM and the admin knobs.
pub(crate) fn router(emu: &Emulator) -> Router {
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
        .route(
            "/keyvault/{vault}/secrets/{name}",
            put(vault_routes::set_secret).get(vault_routes::get_secret),
        )
        .route(
            "/keyvault/{vault}/secrets/{name}/",
            get(vault_routes::get_secret),
        )
        .route(
            "/keyvault/{vault}/secrets/{name}/{version}",
            get(vault_routes::get_secret_version),
        )
        .route("/_emulator/faults", post(post_faults).delete(delete_faults))
        .route("/_emulator/metadata-cache", delete(delete_metadata_cache))
        .fallback(not_found)
        .with_state(emu.clone())
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

async fn delete_metadata_cache(State(emu): State<Emulator>) -> StatusCode {
    emu.clear_metadata_cache();
    StatusCode::NO_CONTENT
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
