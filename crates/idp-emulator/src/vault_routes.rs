//! Key Vault over HTTP: the vault and role-assignment ARM resources, and the data plane's
//! secrets and keys under `/keyvault/{vault}/`. The rules and their sources are in
//! [`crate::arm::vaults`] and [`crate::arm::authorization`].

use crate::Emulator;
use crate::arm::authorization::role_assignment_json;
use crate::arm::kernel::{ArmError, Target};
use crate::arm::vaults::{
    self, MAX_SECRET_BYTES, SecretAction, VAULT_RESOURCE, secret_json, vault_json,
};
use crate::http::{
    TokenProblem, bearer, created, invalid_content, json_object, query_param, verify_access_token,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The ARM side: vaults and role assignments.
pub(crate) async fn arm(
    emu: &Emulator,
    method: &Method,
    target: Target<'_>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(StatusCode, Value), ArmError> {
    let sub = emu.subscription().to_owned();
    match (method.clone(), target) {
        (Method::GET, Target::Vault { rg, name }) => {
            let v = emu.registry().vaults.get(rg, name)?.clone();
            let uri = emu.vault_uri(&v.name, headers).await;
            Ok((StatusCode::OK, vault_json(&sub, emu.tenant(), &uri, &v)))
        }
        (Method::PUT, Target::Vault { rg, name }) => {
            let map = json_object(body)?;
            let location = map
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let location = if location.is_empty() {
                location
            } else {
                crate::strict::check_location(&location, vaults::VAULT_TYPE)?
            };
            let Some(Value::Object(props)) = map.get("properties") else {
                return Err(ArmError {
                    status: StatusCode::BAD_REQUEST,
                    code: "BadRequest",
                    message: "The 'properties' object is required: tenantId and sku.".into(),
                });
            };
            if props.get("tenantId").and_then(Value::as_str).is_none() || props.get("sku").is_none()
            {
                return Err(ArmError {
                    status: StatusCode::BAD_REQUEST,
                    code: "BadRequest",
                    message: "The properties 'tenantId' and 'sku' are required.".into(),
                });
            }
            // RBAC is the default for new vaults from api-version 2026-02-01 (Learn:
            // "Azure RBAC as the default access control model"); before it, access policies.
            let default_rbac =
                query_param(uri, "api-version").is_some_and(|v| v.as_str() >= "2026-02-01");
            let rbac = match props.get("enableRbacAuthorization") {
                None | Some(Value::Null) => default_rbac,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(invalid_content(
                        "'enableRbacAuthorization' is not a boolean",
                    ));
                }
            };
            let sku = props
                .get("sku")
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("standard")
                .to_ascii_lowercase();
            let (v, c) = emu.write(|r| r.vaults.put(rg, name, &location, rbac, &sku))?;
            let uri = emu.vault_uri(&v.name, headers).await;
            Ok((created(c), vault_json(&sub, emu.tenant(), &uri, &v)))
        }
        (Method::GET, Target::RoleAssignment { scope, name }) => {
            let a = emu.registry().role_assignments.get(scope, name)?.clone();
            Ok((StatusCode::OK, role_assignment_json(&a)))
        }
        (Method::PUT, Target::RoleAssignment { scope, name }) => {
            let map = json_object(body)?;
            let props = map.get("properties").cloned().unwrap_or(Value::Null);
            let field = |k: &str| {
                props
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (a, c) = emu.write(|r| {
                r.put_role_assignment(
                    &sub,
                    scope,
                    name,
                    &field("roleDefinitionId"),
                    &field("principalId"),
                    &field("principalType"),
                )
            })?;
            Ok((created(c), role_assignment_json(&a)))
        }
        (Method::DELETE, Target::RoleAssignment { scope, name }) => {
            match emu.write(|r| Ok(r.role_assignments.delete(scope, name)))? {
                Some(a) => Ok((StatusCode::OK, role_assignment_json(&a))),
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

/// Key Vault's error body: `{"error":{"code","message"[,"innererror":{"code"}]}}`.
fn kv_error(status: StatusCode, code: &str, message: String, inner: Option<&str>) -> Response {
    let mut error = json!({"code": code, "message": message});
    if let Some(i) = inner {
        error["innererror"] = json!({"code": i});
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// 401 with Key Vault's challenge: the authority (this emulator's URL and the tenant) and
/// the resource to ask a token for.
fn challenge(authority: &str, tenant: &str, message: String) -> Response {
    let mut r = kv_error(StatusCode::UNAUTHORIZED, "Unauthorized", message, None);
    let value =
        format!("Bearer authorization=\"{authority}/{tenant}\", resource=\"{VAULT_RESOURCE}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// The checks every data-plane request passes, in Key Vault's order; the vault and the
/// caller's claims.
async fn admit(
    emu: &Emulator,
    vault_name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    action: SecretAction,
    resource: &str,
) -> Result<(vaults::Vault, Value), Response> {
    let Some(v) = emu.registry().vaults.named(vault_name).cloned() else {
        return Err(kv_error(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            format!("The vault '{vault_name}' does not exist in this emulator."),
            None,
        ));
    };
    let authority = emu.authority_base(&v.name, headers).await;
    let challenge = |m: String| challenge(&authority, emu.tenant(), m);
    let Some(token) = bearer(headers) else {
        return Err(challenge(
            "AKV10000: Request is missing a Bearer or PoP token.".into(),
        ));
    };
    let claims = match verify_access_token(
        emu,
        token,
        &[VAULT_RESOURCE, "https://vault.azure.net/"],
    ) {
        Ok(c) => c,
        Err(TokenProblem::Audience(found)) => {
            return Err(challenge(format!(
                "AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {found}."
            )));
        }
        Err(TokenProblem::Expired { .. }) => {
            return Err(challenge("AKV10032: Token expired.".into()));
        }
        Err(TokenProblem::Invalid) => {
            return Err(challenge("AKV10031: Invalid token: the token was not issued by this tenant's Entra or its signature does not verify.".into()));
        }
    };
    if query_param(uri, "api-version").is_none_or(|v| v.is_empty()) {
        return Err(kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The 'api-version' query parameter is required.".into(),
            None,
        ));
    }
    let principal = claims["oid"].as_str().unwrap_or_default();
    let caller = format!(
        "appid={};oid={principal};iss={}",
        claims["appid"].as_str().unwrap_or_default(),
        emu.access_token_issuer()
    );
    if !v.rbac {
        return Err(kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "The user, group or application '{caller}' does not have secrets {} permission on key vault '{};location={}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                if action == SecretAction::Set {
                    "set"
                } else {
                    "get"
                },
                v.name,
                v.location
            ),
            Some("ForbiddenByPolicy"),
        ));
    }
    if !emu
        .registry()
        .allows(emu.subscription(), &v, principal, action)
    {
        let id = vaults::vault_id(emu.subscription(), &v).to_ascii_lowercase();
        return Err(kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: {caller}\r\nAction: '{}'\r\nResource: '{id}/{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {};location={}\r\n",
                action.data_action(),
                v.name,
                v.location
            ),
            Some("ForbiddenByRbac"),
        ));
    }
    Ok((v, claims))
}

fn bad_parameter(message: String) -> Response {
    kv_error(StatusCode::BAD_REQUEST, "BadParameter", message, None)
}

/// One vault's data plane at the root of its own origin (see [`crate::VaultEndpoints`]).
/// The SDKs ask for an object's latest version as `/{kind}/{name}/` (an empty version).
pub(crate) fn vault_router(emu: &Emulator, vault: &str) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/secrets/{name}", get(read).put(set))
        .route("/secrets/{name}/", get(read))
        .route("/secrets/{name}/{version}", get(read))
        .route("/keys/{name}/create", post(create_key))
        .route("/keys/{name}", get(get_key))
        .route("/keys/{name}/", get(get_key))
        .route("/keys/{name}/{version}", get(get_key))
        .route("/keys/{name}/{version}/sign", post(sign))
        .with_state((emu.clone(), vault.to_owned()))
        .layer(axum::middleware::from_fn_with_state(emu.clone(), gate))
}

/// In front of every vault request: an injected fault answers an authenticated request
/// instead (Key Vault meters callers, and answers a request without a token with its
/// challenge first: Learn, "Azure Key Vault authentication", the challenge flow; "Azure Key
/// Vault throttling guidance"), and every answer leaves `--latency` after its request
/// arrived, the emulator's own work included.
async fn gate(
    State(emu): State<Emulator>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let due = tokio::time::Instant::now() + emu.config().latency;
    let fault = if request.headers().contains_key(header::AUTHORIZATION) {
        emu.take_vault_fault()
    } else {
        None
    };
    let response = match fault {
        Some(r) => r,
        None => next.run(request).await,
    };
    tokio::time::sleep_until(due).await;
    response
}

/// The state of one vault's routes: the emulator and the vault's name.
type InVault = State<(Emulator, String)>;

/// A vault object's path: its name, and its version when the route names one (an empty
/// or absent version is the latest).
#[derive(serde::Deserialize)]
struct Object {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

/// `POST keys/{name}/create`: a new key (or a new version). Rules (Key Vault REST,
/// "Create Key"; Learn, "About keys"): `kty` RSA or EC, RSA-HSM or EC-HSM in a premium
/// vault; RSA `key_size` 2048, 3072 or 4096 (default 2048); EC `crv` P-256, P-384 or P-521
/// (default P-256); an exportable key needs a release policy and HSM protection.
async fn create_key(
    State((emu, vault)): InVault,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (emu, vault_name, name, uri, headers) =
        (&emu, vault.as_str(), name.as_str(), &uri, &headers);
    let (v, _) = match admit(
        emu,
        vault_name,
        uri,
        headers,
        SecretAction::CreateKey,
        &format!("keys/{name}"),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !vaults::valid_secret_name(name) {
        return bad_parameter(format!(
            "The key name '{name}' is invalid: 1 to 127 letters, digits and dashes."
        ));
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return bad_parameter("The request body must be a JSON object with 'kty'.".into());
    };
    let kty = map.get("kty").and_then(Value::as_str).unwrap_or_default();
    let hsm = kty.ends_with("-HSM");
    match kty {
        "RSA" | "EC" => {}
        "RSA-HSM" | "EC-HSM" if v.sku == "premium" => {}
        // Azure's words (azure-sdk-for-net#6551, azure-docs#63888).
        "RSA-HSM" | "EC-HSM" => {
            return bad_parameter("Hardware key operation not allowed on standard vault".into());
        }
        other => {
            return bad_parameter(format!(
                "The key type '{other}' is not supported by the emulator: RSA, RSA-HSM, EC or EC-HSM."
            ));
        }
    }
    // An exportable key needs a release policy and HSM protection (Learn, "Secure key
    // release": exportable keys are RSA-HSM, EC-HSM or oct-HSM, with `release_policy`).
    let exportable = map
        .get("attributes")
        .and_then(|a| a.get("exportable"))
        .and_then(Value::as_bool)
        == Some(true);
    if exportable {
        if !map.get("release_policy").is_some_and(Value::is_object) {
            // Azure's words (azure-sdk-for-python#29945).
            return bad_parameter("Exportable keys must have release policy".into());
        }
        if !hsm {
            return bad_parameter(
                "Only HSM-protected keys (RSA-HSM, EC-HSM) can be exportable.".into(),
            );
        }
    }
    let (private_pem, n, e, curve) = if kty.starts_with("EC") {
        let crv = match map.get("crv") {
            None | Some(Value::Null) => "P-256",
            Some(c) => match c.as_str() {
                Some(c) if crate::vault_keys::CURVES.iter().any(|(k, _)| *k == c) => c,
                _ => {
                    return bad_parameter(format!(
                        "The curve {c} is not supported: P-256, P-384 or P-521."
                    ));
                }
            },
        };
        match crate::vault_keys::generate_ec(crv) {
            Ok((pem, x, y)) => (
                pem,
                String::new(),
                String::new(),
                Some((crv.to_owned(), x, y)),
            ),
            Err(e) => return kv_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e, None),
        }
    } else {
        let bits = match map.get("key_size") {
            None | Some(Value::Null) => 2048,
            Some(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(b) if crate::vault_keys::KEY_SIZES.contains(&b) => b,
                _ => {
                    return bad_parameter(format!(
                        "The key size {n} is not supported: 2048, 3072 or 4096."
                    ));
                }
            },
        };
        match crate::vault_keys::generate(bits) {
            Ok((pem, n, e)) => (pem, n, e, None),
            Err(e) => return kv_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e, None),
        }
    };
    let key_ops: Vec<String> = map
        .get("key_ops")
        .and_then(|o| serde_json::from_value(o.clone()).ok())
        .unwrap_or_else(|| {
            let ops: &[&str] = if curve.is_some() {
                &["sign", "verify"]
            } else {
                &[
                    "sign",
                    "verify",
                    "wrapKey",
                    "unwrapKey",
                    "encrypt",
                    "decrypt",
                ]
            };
            ops.iter().map(|o| (*o).to_owned()).collect()
        });
    let (crv, x, y) = match curve {
        Some((c, x, y)) => (Some(c), Some(x), Some(y)),
        None => (None, None, None),
    };
    let version = vaults::KeyVersion {
        version: crate::ids::new_guid().replace('-', ""),
        kty: kty.to_owned(),
        key_ops,
        n,
        e,
        crv,
        x,
        y,
        exportable,
        private_pem,
        created: crate::clock::unix(emu.now()),
    };
    match emu.write(|r| Ok(r.vaults.add_key_version(&v.name, name, version))) {
        Ok(Some(k)) => {
            let uri = emu.vault_uri(&v.name, headers).await;
            (StatusCode::OK, axum::Json(vaults::key_json(&uri, name, &k))).into_response()
        }
        Ok(None) => kv_error(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            format!("The vault '{vault_name}' no longer exists."),
            None,
        ),
        Err(e) => kv_error(e.status, e.code, e.message, None),
    }
}

fn key_not_found(name: &str, version: Option<&str>) -> Response {
    kv_error(
        StatusCode::NOT_FOUND,
        "KeyNotFound",
        format!(
            "A key with (name/id) {name}{} was not found in this key vault.",
            version.map(|v| format!("/{v}")).unwrap_or_default()
        ),
        None,
    )
}

fn find_key<'a>(
    v: &'a vaults::Vault,
    name: &str,
    version: Option<&str>,
) -> Option<&'a vaults::KeyVersion> {
    v.keys
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(name))
        .and_then(|k| match version {
            None | Some("") => k.versions.last(),
            Some(want) => k
                .versions
                .iter()
                .find(|x| x.version.eq_ignore_ascii_case(want)),
        })
}

/// `GET keys/{name}[/{version}]`: the public key, never the private half.
async fn get_key(
    State((emu, vault)): InVault,
    Path(object): Path<Object>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (emu, vault_name, uri, headers) = (&emu, vault.as_str(), &uri, &headers);
    let (name, version) = (object.name.as_str(), object.version.as_deref());
    let (v, _) = match admit(
        emu,
        vault_name,
        uri,
        headers,
        SecretAction::GetKey,
        &format!("keys/{name}"),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    match find_key(&v, name, version) {
        Some(k) => {
            let uri = emu.vault_uri(&v.name, headers).await;
            (StatusCode::OK, axum::Json(vaults::key_json(&uri, name, k))).into_response()
        }
        None => key_not_found(name, version),
    }
}

/// `POST keys/{name}/{version}/sign` body `{"alg", "value": base64url(digest)}`:
/// `{"kid", "value": base64url(signature)}`. Source: Key Vault REST, "Sign".
async fn sign(
    State((emu, vault)): InVault,
    Path((name, version)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (emu, vault_name, uri, headers) = (&emu, vault.as_str(), &uri, &headers);
    let (name, version) = (name.as_str(), version.as_str());
    use base64::Engine as _;
    let (v, _) = match admit(
        emu,
        vault_name,
        uri,
        headers,
        SecretAction::Sign,
        &format!("keys/{name}"),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(k) = find_key(&v, name, Some(version)) else {
        return key_not_found(name, Some(version));
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return bad_parameter(
            "The request body must be a JSON object with 'alg' and 'value'.".into(),
        );
    };
    let alg = map.get("alg").and_then(Value::as_str).unwrap_or_default();
    if k.crv.is_some() {
        return bad_parameter(format!(
            "The algorithm '{alg}' is not supported by the emulator for an EC key: it signs RS256, RS384 and RS512 with RSA keys."
        ));
    }
    if !k.key_ops.iter().any(|o| o == "sign") {
        return kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "Operation sign is not permitted on this key (key_ops: {}).",
                k.key_ops.join(", ")
            ),
            Some("KeyOperationForbidden"),
        );
    }
    let Some(len) = crate::vault_keys::digest_len(alg) else {
        return bad_parameter(format!(
            "The algorithm '{alg}' is not supported for an RSA key here: RS256, RS384 or RS512."
        ));
    };
    let digest = map.get("value").and_then(Value::as_str).and_then(|d| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(d.trim_end_matches('='))
            .ok()
    });
    let Some(digest) = digest.filter(|d| d.len() == len) else {
        return bad_parameter(format!(
            "The value must be the base64url {alg} digest ({len} bytes)."
        ));
    };
    match crate::vault_keys::sign_digest(&k.private_pem, alg, &digest) {
        Ok(signature) => {
            let uri = emu.vault_uri(&v.name, headers).await;
            (
                StatusCode::OK,
                axum::Json(json!({
                    "kid": format!("{uri}keys/{name}/{}", k.version),
                    "value": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature),
                })),
            )
                .into_response()
        }
        Err(e) => kv_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e, None),
    }
}

/// A vault under the emulator's own URL (`/keyvault/{vault}/…`, when vaults have no origin
/// of their own): the same data plane as at a vault's origin, the path's rest given to it.
pub(crate) async fn under_path(
    State(emu): State<Emulator>,
    Path((vault, rest)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    use tower::ServiceExt as _;
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return bad_parameter("The request path is not valid.".into());
    };
    parts.uri = uri;
    // The outer route's path parameters must not reach the vault's own routes.
    parts.extensions = Default::default();
    let request = axum::extract::Request::from_parts(parts, body);
    match vault_router(&emu, &vault).oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

async fn set(
    State((emu, vault)): InVault,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (emu, vault_name, name, uri, headers) =
        (&emu, vault.as_str(), name.as_str(), &uri, &headers);
    let (v, _) = match admit(
        emu,
        vault_name,
        uri,
        headers,
        SecretAction::Set,
        &format!("secrets/{name}"),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !vaults::valid_secret_name(name) {
        return bad_parameter(format!(
            "The secret name '{name}' is invalid: 1 to 127 letters, digits and dashes."
        ));
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return bad_parameter("The request body must be a JSON object with 'value'.".into());
    };
    let Some(value) = map.get("value").and_then(Value::as_str) else {
        return bad_parameter("The parameter 'value' is required and must be a string.".into());
    };
    if value.len() > MAX_SECRET_BYTES {
        return bad_parameter(format!(
            "The secret value is {} bytes; Key Vault stores at most {MAX_SECRET_BYTES}.",
            value.len()
        ));
    }
    let content_type = map
        .get("contentType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let now = crate::clock::unix(emu.now());
    let written = emu.write(|r| {
        Ok(r.vaults
            .set_secret(&v.name, name, value.to_owned(), content_type, now))
    });
    match written {
        Ok(Some(version)) => {
            let uri = emu.vault_uri(&v.name, headers).await;
            (
                StatusCode::OK,
                axum::Json(secret_json(&uri, name, &version)),
            )
                .into_response()
        }
        Ok(None) => kv_error(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            format!("The vault '{vault_name}' no longer exists."),
            None,
        ),
        Err(e) => kv_error(e.status, e.code, e.message, None),
    }
}

async fn read(
    State((emu, vault)): InVault,
    Path(object): Path<Object>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (emu, vault_name, uri, headers) = (&emu, vault.as_str(), &uri, &headers);
    let (name, version) = (object.name.as_str(), object.version.as_deref());
    let (v, _) = match admit(
        emu,
        vault_name,
        uri,
        headers,
        SecretAction::Get,
        &format!("secrets/{name}"),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let found = v
        .secrets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .and_then(|s| match version {
            None | Some("") => s.versions.last(),
            Some(want) => s
                .versions
                .iter()
                .find(|x| x.version.eq_ignore_ascii_case(want)),
        });
    match found {
        Some(sv) => {
            let uri = emu.vault_uri(&v.name, headers).await;
            (StatusCode::OK, axum::Json(secret_json(&uri, name, sv))).into_response()
        }
        None => kv_error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {name}{} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
                version.map(|v| format!("/{v}")).unwrap_or_default()
            ),
            None,
        ),
    }
}
