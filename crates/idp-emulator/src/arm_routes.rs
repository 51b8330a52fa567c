//! The ARM API over HTTP: `/subscriptions/{sub}/resourceGroups/{rg}/providers/
//! Microsoft.ManagedIdentity/userAssignedIdentities/{name}[/federatedIdentityCredentials/{fic}]`
//! requests parsed, checked and answered with ARM's bodies; the rules live in [`crate::arm`].
//! Resource groups, the subscription and managed applications are answered here too; Key
//! Vault's ARM resources (vaults, role assignments) by [`crate::vault_routes`].

use crate::Emulator;
use crate::arm::identities::{self, FicSpec};
use crate::arm::kernel::{self, ArmError, ResourceGroup, Target};
use crate::arm::solutions::{self, Application};
use crate::clock;
use crate::http::{
    TokenProblem, arm_error, arm_response, bearer, created, invalid_content, json_object,
    query_param, verify_access_token,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn has_api_version(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "api-version" && !v.is_empty())
    })
}

fn identity_body(body: &[u8]) -> Result<(String, BTreeMap<String, String>), ArmError> {
    let map = json_object(body)?;
    let location = match map.get("location") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid_content("'location' is not a string")),
    };
    let tags = match map.get("tags") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid_content("'tags' is not an object of strings"))?,
    };
    Ok((location, tags))
}

fn fic_body(body: &[u8]) -> Result<FicSpec, ArmError> {
    let map = json_object(body)?;
    let Some(Value::Object(props)) = map.get("properties") else {
        return Err(ArmError {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "The 'properties' object is required.".into(),
        });
    };
    let string = |name: &str| match props.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid_content(format!("'{name}' is not a string"))),
    };
    let audiences = match props.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid_content("'audiences' is not an array of strings"))?,
    };
    Ok(FicSpec {
        issuer: string("issuer")?,
        subject: string("subject")?,
        audiences,
    })
}

/// ARM accepts an Entra access token for itself only: audience
/// `https://management.azure.com/` (or the legacy `https://management.core.windows.net/`),
/// from the tenant's issuer, unexpired. Here: one this emulator signed (the owner token of
/// `--owner-token-out`, or one its token endpoint issued for that resource).
/// Source: Azure REST API reference, "Authenticate Azure REST requests"; ARM answers 401
/// `AuthenticationFailed` without the header, `InvalidAuthenticationToken` for a token it
/// cannot validate, `ExpiredAuthenticationToken` once expired, with a `WWW-Authenticate`
/// challenge naming the tenant's authority (seen in azure-sdk-for-python's challenge-auth
/// tests and in field reports).
const ARM_AUDIENCES: [&str; 3] = [
    "https://management.azure.com/",
    "https://management.azure.com",
    "https://management.core.windows.net/",
];

/// The caller's principal (`oid`), or the 401 ARM answers.
fn authorize(emu: &Emulator, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let refuse = |code: &'static str, message: String| {
        let challenge = format!(
            "Bearer authorization_uri=\"https://login.microsoftonline.com/{}\", error=\"invalid_token\", error_description=\"{message}\"",
            emu.tenant()
        );
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        Box::new(response)
    };
    let Some(token) = bearer(headers) else {
        return Err(refuse(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".into(),
        ));
    };
    match verify_access_token(emu, token, &ARM_AUDIENCES) {
        Ok(claims) => Ok(claims["oid"].as_str().unwrap_or_default().to_owned()),
        Err(TokenProblem::Expired { exp, now }) => Err(refuse(
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{exp}' is earlier than current UTC time '{now}'."
            ),
        )),
        Err(_) => Err(refuse(
            "InvalidAuthenticationToken",
            "The access token is invalid.".into(),
        )),
    }
}

pub(crate) async fn arm_route(
    State(emu): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Without the bearer requirement every caller is the subscription's owner.
    let caller = if emu.config().arm_requires_bearer {
        match authorize(&emu, &headers) {
            Ok(oid) => oid,
            Err(refusal) => return *refusal,
        }
    } else {
        Emulator::OWNER_PRINCIPAL.to_owned()
    };
    match arm_request(&emu, &method, &uri, &headers, &body, &caller).await {
        Ok((status, body)) => arm_response(status, body),
        Err(e) => arm_error(&e),
    }
}

async fn arm_request(
    emu: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    caller: &str,
) -> Result<(StatusCode, Value), ArmError> {
    let Some((subscription, target)) = kernel::parse_path(uri.path()) else {
        return Err(ArmError {
            status: StatusCode::NOT_FOUND,
            code: "InvalidResourceType",
            message: format!("The emulator has no ARM resource at '{}'.", uri.path()),
        });
    };
    if !has_api_version(uri) {
        return Err(ArmError {
            status: StatusCode::BAD_REQUEST,
            code: "MissingApiVersionParameter",
            message:
                "The api-version query parameter (?api-version=) is required for all requests."
                    .into(),
        });
    }
    if !subscription.eq_ignore_ascii_case(emu.subscription()) {
        return Err(ArmError {
            status: StatusCode::NOT_FOUND,
            code: "SubscriptionNotFound",
            message: format!("The subscription '{subscription}' could not be found."),
        });
    }
    let api_version = api_version(uri);
    crate::strict::check_api_version(&target, &api_version)?;
    if let Some(rg) = crate::strict::resource_group(&target) {
        if !kernel::valid_resource_group_name(rg) {
            return Err(ArmError {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidResourceGroupName",
                message: format!("Resource group name '{rg}' is invalid."),
            });
        }
        if emu.registry().resource_groups.get(rg).is_none() {
            return Err(crate::strict::resource_group_not_found(rg));
        }
    }
    let (sub, tenant) = (emu.subscription(), emu.tenant());
    let ok = |v: Value| Ok((StatusCode::OK, v));
    match (method.clone(), target) {
        (Method::GET, Target::Identities { rg }) => {
            let registry = emu.registry();
            let value: Vec<Value> = registry
                .identities
                .list(rg)?
                .into_iter()
                .map(|i| identities::identity_json(sub, tenant, i, &api_version))
                .collect();
            ok(json!({ "value": value }))
        }
        (Method::GET, Target::Identity { rg, name }) => ok(identities::identity_json(
            sub,
            tenant,
            &emu.identity(rg, name)?,
            &api_version,
        )),
        (Method::PUT, Target::Identity { rg, name }) => {
            let (location, tags) = identity_body(body)?;
            let location = if location.is_empty() {
                location
            } else {
                crate::strict::check_location(&location, identities::IDENTITY_TYPE)?
            };
            let (identity, c) = emu.write(|r| r.identities.put(rg, name, &location, tags))?;
            Ok((
                created(c),
                identities::identity_json(sub, tenant, &identity, &api_version),
            ))
        }
        (Method::DELETE, Target::Identity { rg, name }) => match emu.delete_identity(rg, name)? {
            Some(_) => ok(Value::Null),
            None => Ok((StatusCode::NO_CONTENT, Value::Null)),
        },
        (Method::GET, Target::Fics { rg, name }) => {
            let identity = emu.identity(rg, name)?;
            let value: Vec<Value> = identity
                .federated_credentials
                .iter()
                .map(|f| identities::fic_json(sub, &identity, f))
                .collect();
            ok(json!({ "value": value }))
        }
        (Method::GET, Target::Fic { rg, name, fic }) => {
            let registry = emu.registry();
            let f = registry.identities.fic(rg, name, fic)?;
            ok(identities::fic_json(
                sub,
                registry.identities.get(rg, name)?,
                f,
            ))
        }
        (Method::PUT, Target::Fic { rg, name, fic }) => {
            // Azure Policy sees the request before the resource provider does.
            let issuer = policy_issuer(body);
            if let Some((_, denied)) = emu
                .registry()
                .fic_policy_denial(sub, rg, name, fic, &issuer)
            {
                return Ok((StatusCode::FORBIDDEN, denied));
            }
            let identity = emu.identity(rg, name)?;
            let spec = fic_body(body)?;
            let _writing = emu.fic_write(sub, &identity).await?;
            let now = clock::unix(emu.now());
            let (f, c) = emu.write(|r| r.identities.put_fic(rg, name, fic, spec, now))?;
            Ok((
                created(c),
                identities::fic_json(sub, &emu.identity(rg, name)?, &f),
            ))
        }
        (Method::DELETE, Target::Fic { rg, name, fic }) => {
            let identity = emu.identity(rg, name)?;
            let _writing = emu.fic_write(sub, &identity).await?;
            match emu.delete_federated_credential(rg, name, fic)? {
                Some(_) => ok(Value::Null),
                None => Ok((StatusCode::NO_CONTENT, Value::Null)),
            }
        }
        (Method::GET, Target::Subscription) => ok(subscription_json(emu)),
        (Method::GET, Target::ResourceGroup { rg }) => {
            let g = emu
                .registry()
                .resource_groups
                .get(rg)
                .cloned()
                .ok_or_else(|| crate::strict::resource_group_not_found(rg))?;
            ok(resource_group_json(sub, &g))
        }
        (Method::PUT, Target::ResourceGroup { rg }) => {
            let map = json_object(body)?;
            let location = map
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or_default();
            crate::arm::kernel::check_location_given(location)?;
            let location = crate::strict::check_location(location, "resourceGroups")?;
            let (g, c) = emu.write(|r| r.resource_groups.put(rg, &location))?;
            Ok((created(c), resource_group_json(sub, &g)))
        }
        (method, target @ (Target::Application { .. } | Target::ListTokens { .. })) => {
            applications(emu, &method, target, headers, body, caller)
        }
        (method, Target::PolicyAssignment { scope, name }) => {
            policy_assignment(emu, &method, scope, name, body)
        }
        (method, target @ (Target::Vault { .. } | Target::RoleAssignment { .. })) => {
            crate::vault_routes::arm(emu, &method, target, uri, headers, body).await
        }
        (method, _) => Err(ArmError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "MethodNotAllowed",
            message: format!("The method '{method}' is not allowed on this resource."),
        }),
    }
}

/// The issuer a FIC PUT's body names, as Azure Policy's alias reads it (empty when absent
/// or unreadable: the policy then judges an empty issuer, and the provider refuses the body).
fn policy_issuer(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["properties"]["issuer"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Policy assignments of the built-in FIC issuer policy (rules in [`crate::arm::policy`]).
fn policy_assignment(
    emu: &Emulator,
    method: &Method,
    scope: &str,
    name: &str,
    body: &[u8],
) -> Result<(StatusCode, Value), ArmError> {
    match method.clone() {
        Method::GET => {
            let a = emu
                .registry()
                .policy_assignments
                .get(scope, name)?
                .to_json();
            Ok((StatusCode::OK, a))
        }
        Method::PUT => {
            let a = crate::arm::policy::parse_assignment(scope, name, &json_object(body)?)?;
            // 201 for a new assignment and a replaced one alike: the spec declares only
            // 201 (azure-rest-api-specs Authorization policy, `PolicyAssignments_Create`,
            // `ArmResourceCreatedSyncResponse`).
            let (a, _) = emu.write(|r| Ok(r.policy_assignments.put(a)))?;
            Ok((StatusCode::CREATED, a.to_json()))
        }
        Method::DELETE => match emu.write(|r| Ok(r.policy_assignments.delete(scope, name)))? {
            Some(a) => Ok((StatusCode::OK, a.to_json())),
            None => Ok((StatusCode::NO_CONTENT, Value::Null)),
        },
        method => Err(ArmError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "MethodNotAllowed",
            message: format!("The method '{method}' is not allowed on this resource."),
        }),
    }
}

/// The value of `api-version` (checked present before).
fn api_version(uri: &Uri) -> String {
    query_param(uri, "api-version").unwrap_or_default()
}

/// A resource group as ARM answers it.
fn resource_group_json(subscription: &str, g: &ResourceGroup) -> Value {
    json!({
        "id": format!("/subscriptions/{subscription}/resourceGroups/{}", g.name),
        "name": g.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": g.location,
        "properties": {"provisioningState": "Succeeded"},
    })
}

/// The one subscription, as `GET /subscriptions/{id}` answers it (api-version 2022-12-01).
/// Source: azure-rest-api-specs, Microsoft.Resources subscriptions stable/2022-12-01,
/// `Subscriptions_Get` example.
pub(crate) fn subscription_json(emu: &Emulator) -> Value {
    json!({
        "id": format!("/subscriptions/{}", emu.subscription()),
        "subscriptionId": emu.subscription(),
        "tenantId": emu.tenant(),
        "displayName": "idp emulator",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        },
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "tags": {}
    })
}

/// `GET /subscriptions`: the subscriptions the caller sees (az login lists them).
pub(crate) async fn list_subscriptions(
    State(emu): State<Emulator>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if emu.config().arm_requires_bearer
        && let Err(refusal) = authorize(&emu, &headers)
    {
        return *refusal;
    }
    if !has_api_version(&uri) {
        return arm_error(&ArmError {
            status: StatusCode::BAD_REQUEST,
            code: "MissingApiVersionParameter",
            message:
                "The api-version query parameter (?api-version=) is required for all requests."
                    .into(),
        });
    }
    arm_response(
        StatusCode::OK,
        json!({"value": [subscription_json(&emu)], "count": {"type": "Total", "value": 1}}),
    )
}

/// Managed applications and `listTokens` (rules in [`crate::arm::solutions`]).
fn applications(
    emu: &Emulator,
    method: &Method,
    target: Target<'_>,
    headers: &HeaderMap,
    body: &[u8],
    caller: &str,
) -> Result<(StatusCode, Value), ArmError> {
    let sub = emu.subscription().to_owned();
    match (method.clone(), target) {
        (Method::GET, Target::Application { rg, name }) => {
            let a = emu.registry().applications.get(rg, name)?.clone();
            Ok((StatusCode::OK, solutions::application_json(&sub, &a)))
        }
        (Method::PUT, Target::Application { rg, name }) => {
            let map = json_object(body)?;
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let identities = match &map.get("identity").cloned().unwrap_or(Value::Null)["userAssignedIdentities"]
            {
                Value::Object(ids) => ids.keys().cloned().collect(),
                Value::Null => Vec::new(),
                _ => {
                    return Err(invalid_content(
                        "'identity.userAssignedIdentities' is not an object",
                    ));
                }
            };
            let props = map.get("properties").cloned().unwrap_or(Value::Null);
            let authorizations = props["authorizations"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| text(&x["principalId"]))
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let location = map.get("location").map(text).unwrap_or_default();
            let location = if location.is_empty() {
                location
            } else {
                crate::strict::check_location(&location, solutions::APPLICATION_TYPE)?
            };
            let app = Application {
                resource_group: rg.to_owned(),
                name: name.to_owned(),
                location,
                kind: map
                    .get("kind")
                    .map(text)
                    .unwrap_or_else(|| "ServiceCatalog".into()),
                managed_resource_group_id: text(&props["managedResourceGroupId"]),
                identities,
                publisher: caller.to_owned(),
                authorizations,
            };
            let (a, c) = emu.write(|r| r.put_application(&sub, app))?;
            let status = if c {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, solutions::application_json(&sub, &a)))
        }
        (Method::POST, Target::ListTokens { rg, name }) => {
            let map = if body.is_empty() {
                serde_json::Map::new()
            } else {
                json_object(body)?
            };
            let audience = map
                .get("authorizationAudience")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
                .unwrap_or(solutions::DEFAULT_AUDIENCE)
                .to_owned();
            let asked: Option<Vec<String>> = match map.get("userAssignedIdentities") {
                None | Some(Value::Null) => None,
                Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| {
                    invalid_content("'userAssignedIdentities' is not an array of strings")
                })?),
            };
            let identities =
                emu.registry()
                    .list_tokens_for(&sub, rg, name, caller, asked.as_deref())?;
            let now = emu.now();
            let mut value = Vec::with_capacity(identities.len());
            for (id, identity) in identities {
                let (token, iat, exp) = crate::token::access_token(
                    emu, &identity, &audience, headers, now,
                )
                .map_err(|e| ArmError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "InternalServerError",
                    message: e.to_string(),
                })?;
                let issued = crate::clock::unix(now);
                value.push(json!({
                    "accessToken": token,
                    "expiresIn": (exp - issued).to_string(),
                    "expiresOn": exp.to_string(),
                    "notBefore": iat.to_string(),
                    "authorizationAudience": audience,
                    "resourceId": id,
                    "tokenType": "Bearer",
                }));
            }
            Ok((StatusCode::OK, json!({ "value": value })))
        }
        (method, _) => Err(ArmError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "MethodNotAllowed",
            message: format!("The method '{method}' is not allowed on this resource."),
        }),
    }
}
