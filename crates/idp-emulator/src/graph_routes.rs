//! Microsoft Graph over HTTP (`/v1.0/…` on the emulator's HTTPS listener, so a Graph client
//! points at `https://host:port` as its Graph endpoint) and the identity platform's admin
//! consent endpoint. The directory's rules are in [`crate::graph`].
//!
//! | method | path (under `/v1.0`) | answer |
//! |---|---|---|
//! | POST | `/applications` `{"displayName", "signInAudience"?, "uniqueName"?}` | 201 application |
//! | GET | `/applications[?$filter=appId eq '…'\|uniqueName eq '…'\|displayName eq '…']` | `{"value":[…]}` |
//! | GET, PATCH, DELETE | `/applications/{id}`, `/applications(appId='…')`, `/applications(uniqueName='…')` | 200 / 204 / 204 |
//! | POST, GET | `{application}/federatedIdentityCredentials` | 201 FIC / `{"value":[…]}` |
//! | GET, PATCH, DELETE | `{application}/federatedIdentityCredentials/{id}` or `(name='…')`; PATCH with `Prefer: create-if-missing` upserts by name | 200 / 204 (201 when created) / 204 |
//! | POST | `/servicePrincipals` `{"appId"}` | 201 service principal |
//! | GET | `/servicePrincipals?$filter=appId eq '…'`, `/servicePrincipals(appId='…')`, `/servicePrincipals/{id}` | `{"value":[…]}` / 200 |
//! | DELETE | `/servicePrincipals/{id}` | 204 |
//!
//! Sources: Graph v1.0 reference ("Create application", "Get application", "Update
//! application", "Delete application", "Create federatedIdentityCredential", "List
//! federatedIdentityCredentials", "Get / Update / Delete federatedIdentityCredential",
//! "Upsert federatedIdentityCredential", "Create servicePrincipal", "Get servicePrincipal",
//! "List servicePrincipals"); Graph's error body, "Microsoft Graph error responses and
//! resource types" (`{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}`).
//!
//! Authorization: `Authorization: Bearer` with an access token this emulator signed for
//! Graph (`aud` this cloud's Graph resource, or Graph's application id
//! `00000003-0000-0000-c000-000000000000`), from either tenant's Entra, unexpired; else
//! 401 `InvalidAuthenticationToken` with Graph's messages. The token's `tid` selects the
//! tenant's directory. There is no permission model: any such token may do anything in its
//! tenant's directory (Graph would check `Application.ReadWrite.*` and directory roles).
//!
//! Managed identities appear as service principals (`servicePrincipalType`
//! `ManagedIdentity`) in their tenant's lookups: the machine's identities in the
//! publisher's tenant, the customer's user-assigned identities in the customer's.

use crate::graph::{
    AppKey, Application, FicFields, FicKey, GraphError, GraphFic, ServicePrincipal,
};
use crate::http::{TokenProblem, bearer, query_param, verify_token_from};
use crate::ids::{is_guid, iso_utc, new_guid};
use crate::token::correlation_id;
use crate::{Aadsts, Emulator, clock};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Graph's application id, an `aud` Graph accepts besides its URL.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The tenant that owns the managed identities' service principals (Microsoft Services),
/// as Graph shows them in `appOwnerOrganizationId`.
const MANAGED_IDENTITY_OWNER: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// Graph's error answer: the status and `{"error":{"code","message","innerError":{…}}}`.
fn graph_error(e: &GraphError, headers: &HeaderMap, now: i64) -> Response {
    let request_id = new_guid();
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_guid(v))
        .map_or_else(|| request_id.clone(), str::to_owned);
    let date = iso_utc(now);
    let mut error = json!({
        "code": e.code,
        "message": e.message,
        "innerError": {
            "date": date.trim_end_matches('Z'),
            "request-id": request_id,
            "client-request-id": client_request_id,
        },
    });
    if !e.details.is_empty() {
        error["details"] = json!(e.details);
    }
    let mut response = (e.status, axum::Json(json!({ "error": error }))).into_response();
    if e.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
    }
    response
}

/// The tenant whose directory the bearer token opens, or Graph's 401: "Access token is
/// empty." without one, "Lifetime validation failed, the token is expired." once expired,
/// "Access token validation failure. Invalid audience." for another resource's token,
/// "Access token validation failure." otherwise (Graph's messages as seen in the field).
fn authorize(emu: &Emulator, headers: &HeaderMap) -> Result<String, GraphError> {
    let refuse =
        |m: &str| GraphError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let Some(token) = bearer(headers).filter(|t| !t.is_empty()) else {
        return Err(refuse("Access token is empty."));
    };
    let resource = emu.config().cloud.graph_resource();
    let with_slash = format!("{resource}/");
    let issuers = [
        emu.access_token_issuer_for(emu.tenant()),
        emu.access_token_issuer_for(emu.publisher_tenant()),
    ];
    match verify_token_from(emu, token, &[resource, &with_slash, GRAPH_APP_ID], &issuers) {
        Ok(claims) => {
            let tid = claims["tid"].as_str().unwrap_or_default();
            let iss = claims["iss"].as_str().unwrap_or_default();
            match emu.known_tenant(tid) {
                Some(t) if iss == emu.access_token_issuer_for(t) => Ok(t.to_owned()),
                _ => Err(refuse("Access token validation failure.")),
            }
        }
        Err(TokenProblem::Expired { .. }) => {
            Err(refuse("Lifetime validation failed, the token is expired."))
        }
        Err(TokenProblem::Audience(_)) => {
            Err(refuse("Access token validation failure. Invalid audience."))
        }
        Err(TokenProblem::Invalid) => Err(refuse("Access token validation failure.")),
    }
}

/// What a Graph path names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Applications,
    Application(AppKey<'a>),
    Fics(AppKey<'a>),
    Fic(AppKey<'a>, FicKey<'a>),
    ServicePrincipals,
    ServicePrincipalById(&'a str),
    ServicePrincipalByAppId(&'a str),
}

/// `name` or `name(key='value')`.
fn segment(s: &str) -> (&str, Option<(&str, &str)>) {
    let Some(open) = s.find('(') else {
        return (s, None);
    };
    let Some(inner) = s[open + 1..].strip_suffix(')') else {
        return (s, None);
    };
    let Some((key, value)) = inner.split_once('=') else {
        return (s, None);
    };
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    (&s[..open], Some((key, value)))
}

/// Graph's answer for a path it has no resource at: 400 `BadRequest` "Resource not found
/// for the segment '…'." (Graph's OData router).
fn unknown_segment(s: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{s}'."),
    )
}

fn parse(rest: &str) -> Result<Target<'_>, GraphError> {
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    fn app_key(s: &str) -> Option<AppKey<'_>> {
        match segment(s) {
            ("applications", Some((k, v))) if k.eq_ignore_ascii_case("appId") => {
                Some(AppKey::AppId(v))
            }
            ("applications", Some((k, v))) if k.eq_ignore_ascii_case("uniqueName") => {
                Some(AppKey::UniqueName(v))
            }
            _ => None,
        }
    }
    let fic_segment = |s: &str| segment(s).0 == "federatedIdentityCredentials";
    // The application part: `applications/{id}` (two segments) or `applications(k='v')`.
    let (app, tail): (Option<AppKey<'_>>, &[&str]) = match parts.as_slice() {
        ["applications"] => return Ok(Target::Applications),
        ["servicePrincipals"] => return Ok(Target::ServicePrincipals),
        ["servicePrincipals", id] => return Ok(Target::ServicePrincipalById(id)),
        [one] => match segment(one) {
            ("servicePrincipals", Some((k, v))) if k.eq_ignore_ascii_case("appId") => {
                return Ok(Target::ServicePrincipalByAppId(v));
            }
            _ => (app_key(one), &[]),
        },
        ["applications", id, tail @ ..] if !id.contains('(') => (Some(AppKey::Id(id)), tail),
        [first, tail @ ..] => (app_key(first), tail),
        [] => (None, &[]),
    };
    let Some(app) = app else {
        return Err(unknown_segment(parts.first().copied().unwrap_or_default()));
    };
    match tail {
        [] => Ok(Target::Application(app)),
        ["federatedIdentityCredentials"] => Ok(Target::Fics(app)),
        ["federatedIdentityCredentials", id] => Ok(Target::Fic(app, FicKey::Id(id))),
        [one] if fic_segment(one) => match segment(one).1 {
            Some((k, v)) if k.eq_ignore_ascii_case("name") => Ok(Target::Fic(app, FicKey::Name(v))),
            _ => Err(unknown_segment(one)),
        },
        [other, ..] => Err(unknown_segment(other)),
    }
}

/// A `$filter` of the form `{field} eq '{value}'`, for one of `fields`.
fn filter<'a>(uri: &Uri, fields: &[&'a str]) -> Result<Option<(&'a str, String)>, GraphError> {
    let Some(f) = query_param(uri, "$filter") else {
        return Ok(None);
    };
    let unsupported = || {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!(
                "Unsupported or invalid query filter clause: '{f}'. The emulator supports `{{property}} eq '{{value}}'` for {}.",
                fields.join(", ")
            ),
        )
    };
    let mut words = f.splitn(3, ' ');
    let (Some(field), Some(op), Some(value)) = (words.next(), words.next(), words.next()) else {
        return Err(unsupported());
    };
    let field = fields
        .iter()
        .find(|x| x.eq_ignore_ascii_case(field))
        .ok_or_else(unsupported)?;
    let value = value
        .trim()
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .filter(|_| op.eq_ignore_ascii_case("eq"))
        .ok_or_else(unsupported)?;
    Ok(Some((field, value.replace("''", "'"))))
}

/// The request body as a JSON object, or Graph's 400 for one it cannot read.
fn body_object(body: &[u8]) -> Result<Map<String, Value>, GraphError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

/// A string property, `None` when absent or null; another type is refused.
fn text(
    map: &Map<String, Value>,
    name: &str,
    resource: &str,
) -> Result<Option<String>, GraphError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(GraphError::invalid_property(name, resource)),
    }
}

fn fic_fields(map: &Map<String, Value>) -> Result<FicFields, GraphError> {
    const R: &str = "FederatedIdentityCredential";
    let audiences = match map.get("audiences") {
        None => None,
        Some(Value::Null) => Some(Vec::new()),
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| GraphError::invalid_property("audiences", R))?,
        ),
    };
    let description = match map.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => return Err(GraphError::invalid_property("description", R)),
    };
    Ok(FicFields {
        name: text(map, "name", R)?,
        issuer: text(map, "issuer", R)?,
        subject: text(map, "subject", R)?,
        description,
        audiences,
    })
}

fn context(base: &str, what: &str) -> String {
    format!("{base}/v1.0/$metadata#{what}")
}

fn application_json(base: &str, a: &Application) -> Value {
    json!({
        "@odata.context": context(base, "applications/$entity"),
        "id": a.id,
        "appId": a.app_id,
        "displayName": a.display_name,
        "signInAudience": a.sign_in_audience,
        "uniqueName": a.unique_name,
        "createdDateTime": iso_utc(a.created),
        "deletedDateTime": null,
        "identifierUris": [],
    })
}

fn fic_json(base: &str, app: &Application, f: &GraphFic) -> Value {
    json!({
        "@odata.context": context(base, &format!("applications('{}')/federatedIdentityCredentials/$entity", app.id)),
        "id": f.id,
        "name": f.name,
        "issuer": f.issuer,
        "subject": f.subject,
        "description": f.description,
        "audiences": f.audiences,
    })
}

fn service_principal_json(base: &str, sp: &ServicePrincipal, audience: Option<&str>) -> Value {
    json!({
        "@odata.context": context(base, "servicePrincipals/$entity"),
        "id": sp.id,
        "appId": sp.app_id,
        "displayName": sp.display_name,
        "appDisplayName": sp.display_name,
        "appOwnerOrganizationId": sp.app_owner_organization_id,
        "servicePrincipalType": "Application",
        "accountEnabled": true,
        "signInAudience": audience,
        "servicePrincipalNames": [sp.app_id],
    })
}

/// The managed identities' service principals of `tenant`: (app id = client id, JSON).
fn managed_identity_principals(emu: &Emulator, base: &str, tenant: &str) -> Vec<(String, Value)> {
    let one = |client_id: &str, principal_id: &str, name: &str, resource_id: &str| {
        (
            client_id.to_owned(),
            json!({
                "@odata.context": context(base, "servicePrincipals/$entity"),
                "id": principal_id,
                "appId": client_id,
                "displayName": name,
                "appOwnerOrganizationId": MANAGED_IDENTITY_OWNER,
                "servicePrincipalType": "ManagedIdentity",
                "accountEnabled": true,
                "alternativeNames": ["isExplicit=True", resource_id],
                "servicePrincipalNames": [client_id, resource_id],
            }),
        )
    };
    if tenant == emu.publisher_tenant() {
        emu.machine_identities()
            .iter()
            .map(|m| one(&m.client_id, &m.principal_id, &m.name, &m.resource_id))
            .collect()
    } else {
        emu.identities()
            .iter()
            .map(|i| {
                one(
                    &i.client_id,
                    &i.principal_id,
                    &i.name,
                    &emu.identity_resource_id(i),
                )
            })
            .collect()
    }
}

/// `/v1.0/{*rest}`.
pub(crate) async fn graph_route(
    State(emu): State<Emulator>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = clock::unix(emu.now());
    let result = match authorize(&emu, &headers) {
        Ok(tenant) => request(&emu, &tenant, &rest, &method, &uri, &headers, &body, now),
        Err(e) => Err(e),
    };
    match result {
        Ok((status, Value::Null)) => status.into_response(),
        Ok((status, value)) => (status, axum::Json(value)).into_response(),
        Err(e) => graph_error(&e, &headers, now),
    }
}

fn method_not_allowed(method: &Method) -> GraphError {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        format!("The method '{method}' is not allowed on this resource."),
    )
}

#[allow(clippy::too_many_arguments)]
fn request(
    emu: &Emulator,
    tenant: &str,
    rest: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(StatusCode, Value), GraphError> {
    let base = emu.base_url(headers);
    let target = parse(rest)?;
    let ok = |v: Value| Ok((StatusCode::OK, v));
    let no_content = || Ok((StatusCode::NO_CONTENT, Value::Null));
    match (method.clone(), target) {
        (Method::POST, Target::Applications) => {
            const R: &str = "Application";
            let map = body_object(body)?;
            let name = text(&map, "displayName", R)?.unwrap_or_default();
            let audience = text(&map, "signInAudience", R)?;
            let unique = text(&map, "uniqueName", R)?;
            let app = emu.write_directory(|d| {
                d.create_application(tenant, &name, audience.as_deref(), unique.as_deref(), now)
            })?;
            Ok((StatusCode::CREATED, application_json(&base, &app)))
        }
        (Method::GET, Target::Applications) => {
            let filter = filter(uri, &["appId", "uniqueName", "displayName"])?;
            let registry = emu.registry();
            let value: Vec<Value> = registry
                .directories
                .applications(tenant, |a| match &filter {
                    None => true,
                    Some(("appId", v)) => a.app_id.eq_ignore_ascii_case(v),
                    Some(("uniqueName", v)) => a
                        .unique_name
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(v)),
                    Some((_, v)) => a.display_name == *v,
                })
                .into_iter()
                .map(|a| application_json(&base, a))
                .collect();
            ok(json!({"@odata.context": context(&base, "applications"), "value": value}))
        }
        (Method::GET, Target::Application(key)) => {
            let registry = emu.registry();
            ok(application_json(
                &base,
                registry.directories.application(tenant, key)?,
            ))
        }
        (Method::PATCH, Target::Application(key)) => {
            const R: &str = "Application";
            let map = body_object(body)?;
            let name = text(&map, "displayName", R)?;
            let audience = text(&map, "signInAudience", R)?;
            let unique = text(&map, "uniqueName", R)?;
            emu.write_directory(|d| {
                d.update_application(
                    tenant,
                    key,
                    name.as_deref(),
                    audience.as_deref(),
                    unique.as_deref(),
                )
            })?;
            no_content()
        }
        (Method::DELETE, Target::Application(key)) => {
            emu.write_directory(|d| d.delete_application(tenant, key))?;
            no_content()
        }
        (Method::POST, Target::Fics(key)) => {
            let fields = fic_fields(&body_object(body)?)?;
            let (app, fic) = emu.write_directory(|d| {
                let fic = d.create_fic(tenant, key, fields, now)?;
                Ok((d.application(tenant, key)?.clone(), fic))
            })?;
            Ok((StatusCode::CREATED, fic_json(&base, &app, &fic)))
        }
        (Method::GET, Target::Fics(key)) => {
            let registry = emu.registry();
            let app = registry.directories.application(tenant, key)?;
            let value: Vec<Value> = app
                .federated_credentials
                .iter()
                .map(|f| {
                    let mut v = fic_json(&base, app, f);
                    v.as_object_mut().map(|m| m.remove("@odata.context"));
                    v
                })
                .collect();
            ok(json!({
                "@odata.context": context(&base, &format!("applications('{}')/federatedIdentityCredentials", app.id)),
                "value": value,
            }))
        }
        (Method::GET, Target::Fic(key, fic)) => {
            let registry = emu.registry();
            let app = registry.directories.application(tenant, key)?;
            ok(fic_json(
                &base,
                app,
                registry.directories.fic(tenant, key, fic)?,
            ))
        }
        (Method::PATCH, Target::Fic(key, fic)) => {
            let fields = fic_fields(&body_object(body)?)?;
            // "Prefer: create-if-missing. Required for upsert behavior, otherwise the
            // request is treated as an update operation." (Graph v1.0, "Upsert
            // federatedIdentityCredential": 201 when created, 204 when updated.)
            let upsert = headers
                .get_all("prefer")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|p| p.trim().eq_ignore_ascii_case("create-if-missing"));
            let created = emu.write_directory(|d| {
                let made = d.update_fic(tenant, key, fic, fields, upsert, now)?;
                Ok(match made {
                    Some(f) => Some((d.application(tenant, key)?.clone(), f)),
                    None => None,
                })
            })?;
            match created {
                Some((app, f)) => Ok((StatusCode::CREATED, fic_json(&base, &app, &f))),
                None => no_content(),
            }
        }
        (Method::DELETE, Target::Fic(key, fic)) => {
            emu.write_directory(|d| d.delete_fic(tenant, key, fic))?;
            no_content()
        }
        (Method::POST, Target::ServicePrincipals) => {
            let map = body_object(body)?;
            let app_id = text(&map, "appId", "ServicePrincipal")?.unwrap_or_default();
            let sp = emu.write_directory(|d| d.create_service_principal(tenant, &app_id, now))?;
            let audience = emu
                .registry()
                .directories
                .by_app_id(&sp.app_id)
                .map(|a| a.sign_in_audience.clone());
            Ok((
                StatusCode::CREATED,
                service_principal_json(&base, &sp, audience.as_deref()),
            ))
        }
        (Method::GET, Target::ServicePrincipals) => {
            let filter = filter(uri, &["appId"])?;
            let wanted = |app_id: &str| {
                filter
                    .as_ref()
                    .is_none_or(|(_, v)| app_id.eq_ignore_ascii_case(v))
            };
            let mut value: Vec<Value> = principals(emu, &base, tenant)
                .into_iter()
                .filter(|(app_id, _)| wanted(app_id))
                .map(|(_, mut v)| {
                    v.as_object_mut().map(|m| m.remove("@odata.context"));
                    v
                })
                .collect();
            value.truncate(999);
            ok(json!({"@odata.context": context(&base, "servicePrincipals"), "value": value}))
        }
        (Method::GET, Target::ServicePrincipalByAppId(app_id)) => principals(emu, &base, tenant)
            .into_iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(app_id))
            .map(|(_, v)| (StatusCode::OK, v))
            .ok_or_else(|| GraphError::not_found(app_id)),
        (Method::GET, Target::ServicePrincipalById(id)) => principals(emu, &base, tenant)
            .into_iter()
            .find(|(_, v)| v["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))
            .map(|(_, v)| (StatusCode::OK, v))
            .ok_or_else(|| GraphError::not_found(id)),
        (Method::DELETE, Target::ServicePrincipalById(id)) => {
            emu.write_directory(|d| d.delete_service_principal(tenant, id))?;
            no_content()
        }
        (method, _) => Err(method_not_allowed(&method)),
    }
}

/// Every service principal of `tenant`: the applications' and the managed identities'.
fn principals(emu: &Emulator, base: &str, tenant: &str) -> Vec<(String, Value)> {
    let mut all: Vec<(String, Value)> = {
        let registry = emu.registry();
        registry
            .directories
            .service_principals(tenant, |_| true)
            .into_iter()
            .map(|sp| {
                let audience = registry
                    .directories
                    .by_app_id(&sp.app_id)
                    .map(|a| a.sign_in_audience.clone());
                (
                    sp.app_id.clone(),
                    service_principal_json(base, sp, audience.as_deref()),
                )
            })
            .collect()
    };
    all.extend(managed_identity_principals(emu, base, tenant));
    all
}

/// The identity platform's admin consent endpoint, `GET /{tenant}/adminconsent?client_id=
/// …[&redirect_uri=…&state=…]` and `GET /{tenant}/v2.0/adminconsent?client_id=…&scope=…
/// [&redirect_uri=…&state=…]` (Learn, "Grant tenant-wide admin consent to an application",
/// "Microsoft identity platform admin consent protocols"). In Entra an administrator of
/// `{tenant}` signs in and approves in a browser; the emulator stands in for that approval:
/// it creates the application's service principal in `{tenant}` (when missing) and answers
/// as Entra does after the approval, 302 to `redirect_uri` with `admin_consent=True`,
/// `tenant` and `state`. Without `redirect_uri` it answers 200 with
/// `{"admin_consent":"True","tenant","client_id","service_principal_id"}`: the emulator's
/// own convenience (Entra would show a page). No authentication: it is the admin's
/// browser. The emulator does not check `redirect_uri` against the application's reply
/// URLs (Entra does, AADSTS50011): its applications have none.
///
/// Refusals, answered as Entra's error body (Entra shows them on its error page): a
/// tenant that is not the emulator's AADSTS90002; no `client_id` (or, in v2, no `scope`)
/// AADSTS900144; a `redirect_uri` that is not an absolute URI AADSTS90102; an unknown
/// application AADSTS700016; a single-tenant application asked in another tenant
/// AADSTS50194 (Learn, "Microsoft Entra authentication and authorization error codes").
pub(crate) async fn admin_consent(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    consent(&emu, &tenant, false, &uri, &headers)
}

/// The v2 form of [`admin_consent`].
pub(crate) async fn admin_consent_v2(
    State(emu): State<Emulator>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    consent(&emu, &tenant, true, &uri, &headers)
}

fn consent(emu: &Emulator, tenant: &str, v2: bool, uri: &Uri, headers: &HeaderMap) -> Response {
    let now = emu.now();
    match consented(emu, tenant, v2, uri) {
        Ok(response) => response,
        Err(e) => e.into_response_at(now, &correlation_id(headers)),
    }
}

fn consented(emu: &Emulator, tenant: &str, v2: bool, uri: &Uri) -> Result<Response, Aadsts> {
    let Some(tenant) = emu.known_tenant(tenant) else {
        return Err(Aadsts::request(
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    };
    let param = |name: &str| query_param(uri, name).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        Aadsts::request(
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    let client_id = param("client_id").ok_or_else(|| missing("client_id"))?;
    if v2 && param("scope").is_none() {
        return Err(missing("scope"));
    }
    let redirect = param("redirect_uri");
    if let Some(r) = &redirect
        && url::Url::parse(r).is_err()
    {
        return Err(Aadsts::request(
            90102,
            "'redirect_uri' value must be a valid absolute URI.",
        ));
    }
    let app = emu
        .registry()
        .directories
        .by_app_id(&client_id)
        .cloned()
        .ok_or_else(|| crate::token::not_in_directory(&client_id, tenant))?;
    if !app.tenant.eq_ignore_ascii_case(tenant) && !app.is_multi_tenant() {
        return Err(Aadsts::request(
            50194,
            format!(
                "Application '{}' is not configured as a multi-tenant application.",
                app.app_id
            ),
        ));
    }
    let now = clock::unix(emu.now());
    let sp = emu
        .write_directory(|d| match d.service_principal(tenant, &app.app_id) {
            Some(sp) => Ok(sp.clone()),
            None => d.create_service_principal(tenant, &app.app_id, now),
        })
        .map_err(|e| {
            Aadsts::new(
                50000,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.message,
            )
        })?;
    let state = param("state");
    let Some(redirect) = redirect else {
        return Ok(axum::Json(json!({
            "admin_consent": "True",
            "tenant": tenant,
            "client_id": app.app_id,
            "service_principal_id": sp.id,
        }))
        .into_response());
    };
    let mut location = url::Url::parse(&redirect).map_err(|_| {
        Aadsts::request(90102, "'redirect_uri' value must be a valid absolute URI.")
    })?;
    {
        let mut query = location.query_pairs_mut();
        query.append_pair("admin_consent", "True");
        query.append_pair("tenant", tenant);
        if let Some(state) = &state {
            query.append_pair("state", state);
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_paths() {
        assert_eq!(parse("applications").unwrap(), Target::Applications);
        assert_eq!(
            parse("applications/abc").unwrap(),
            Target::Application(AppKey::Id("abc"))
        );
        assert_eq!(
            parse("applications(appId='x')/federatedIdentityCredentials").unwrap(),
            Target::Fics(AppKey::AppId("x"))
        );
        assert_eq!(
            parse("applications(uniqueName='u')/federatedIdentityCredentials(name='n')").unwrap(),
            Target::Fic(AppKey::UniqueName("u"), FicKey::Name("n"))
        );
        assert_eq!(
            parse("applications/o/federatedIdentityCredentials/f").unwrap(),
            Target::Fic(AppKey::Id("o"), FicKey::Id("f"))
        );
        assert_eq!(
            parse("servicePrincipals(appId='a')").unwrap(),
            Target::ServicePrincipalByAppId("a")
        );
        assert_eq!(
            parse("servicePrincipals/s").unwrap(),
            Target::ServicePrincipalById("s")
        );
        assert_eq!(parse("users").unwrap_err().code, "BadRequest");
        assert!(parse("applications/o/owners").is_err());
        assert!(parse("applications(displayName='x')").is_err());
    }
}
