//! The "entra-app" way: the publisher's tenant beside the customer's, the machine's managed
//! identity endpoints (App Service- and IMDS-shaped), Microsoft Graph's applications, FICs
//! and service principals, admin consent, the token endpoint taking a managed identity's
//! token as an application's credential (in Entra's order), and Azure Policy's FIC issuer
//! policy on ARM.

use crate::common::*;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_emulator::{
    Config, DEFAULT_PUBLISHER_TENANT as PUBLISHER, Emulator, FicSpec, MachineIdentity, ManualClock,
};
use serde_json::{Value, json};
use std::time::Duration;

const BASE: &str = "https://login.emulator.test";
const EXCHANGE: &str = "api://AzureADTokenExchange";
const EXCHANGE_APP: &str = "fb60f99c-7a34-4190-8149-302f77469936";
const GRAPH: &str = "https://graph.microsoft.com";
const VAULT: &str = "https://vault.azure.net";
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

/// The emulator with its issuer base known, on a manual clock.
struct Entra {
    clock: ManualClock,
    emu: Emulator,
    router: Router,
    machine: Router,
}

fn entra_with(tweak: impl FnOnce(&mut Config)) -> Entra {
    let clock = ManualClock::starting_now();
    let mut c = config(&clock);
    c.public_base_url = Some(BASE.into());
    tweak(&mut c);
    let emu = Emulator::new(c).unwrap();
    Entra {
        router: emu.router(),
        machine: emu.identity_router(),
        emu,
        clock,
    }
}

fn entra() -> Entra {
    entra_with(|_| {})
}

/// The payload of a JWT, unverified.
fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut r = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8443");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if body.is_some() {
        r = r.header("content-type", "application/json");
    }
    send(
        router,
        r.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap(),
    )
    .await
}

impl Entra {
    fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    fn mi(&self) -> MachineIdentity {
        self.emu.machine_identities()[0].clone()
    }

    /// IMDS, with `Metadata: true`.
    async fn imds(&self, pairs: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
        let uri = format!("{}?{}", idp_emulator::IMDS_PATH, query(pairs));
        call(&self.machine, "GET", &uri, &[("metadata", "true")], None).await
    }

    /// App Service, with `X-IDENTITY-HEADER` when given.
    async fn app_service(
        &self,
        pairs: &[(&str, &str)],
        header: Option<&str>,
    ) -> (StatusCode, HeaderMap, Value) {
        let uri = format!("{}?{}", idp_emulator::APP_SERVICE_PATH, query(pairs));
        let headers: Vec<(&str, &str)> = header
            .map(|h| ("x-identity-header", h))
            .into_iter()
            .collect();
        call(&self.machine, "GET", &uri, &headers, None).await
    }

    /// The first machine identity's token for `resource`, from IMDS.
    async fn mi_token(&self, resource: &str) -> String {
        let (s, _, b) = self
            .imds(&[
                ("api-version", "2018-02-01"),
                ("resource", resource),
                ("client_id", &self.mi().client_id),
            ])
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["access_token"].as_str().unwrap().to_owned()
    }

    /// A Graph token of `tenant`'s administrator.
    fn admin(&self, tenant: &str) -> String {
        self.emu
            .admin_token(tenant, GRAPH, Duration::from_secs(3600))
            .unwrap()
    }

    async fn graph(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let auth = format!("Bearer {token}");
        call(
            &self.router,
            method,
            &format!("/v1.0/{path}"),
            &[("authorization", &auth)],
            body,
        )
        .await
    }

    /// Registers an application in `tenant`; its Graph body.
    async fn app(&self, tenant: &str, audience: &str) -> Value {
        let (s, _, b) = self
            .graph(
                "POST",
                "applications",
                &self.admin(tenant),
                Some(json!({"displayName": "contoso-access", "signInAudience": audience})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }

    /// Adds a FIC to the application `app` (its Graph body) of `tenant`.
    async fn fic(&self, tenant: &str, app: &Value, body: Value) -> (StatusCode, HeaderMap, Value) {
        let path = format!(
            "applications(appId='{}')/federatedIdentityCredentials",
            app["appId"].as_str().unwrap()
        );
        self.graph("POST", &path, &self.admin(tenant), Some(body))
            .await
    }

    /// Admin consent for `app` in `tenant`, without a redirect.
    async fn consent(&self, tenant: &str, app: &Value) -> (StatusCode, HeaderMap, Value) {
        let q = query(&[("client_id", app["appId"].as_str().unwrap())]);
        call(
            &self.router,
            "GET",
            &format!("/{tenant}/adminconsent?{q}"),
            &[],
            None,
        )
        .await
    }

    /// The client-credentials request at `tenant` with `assertion`.
    async fn exchange(
        &self,
        tenant: &str,
        client_id: &str,
        assertion: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let form = query(&v2_form(
            client_id,
            assertion,
            "https://vault.azure.net/.default",
        ));
        send(
            &self.router,
            Request::post(format!("/{tenant}/oauth2/v2.0/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await
    }
}

/// A FIC trusting the machine identity `m` of the publisher's tenant.
fn trusting(m: &MachineIdentity, name: &str) -> Value {
    json!({
        "name": name,
        "issuer": format!("{BASE}/{PUBLISHER}/v2.0"),
        "subject": m.principal_id,
        "description": "the publisher's machine",
        "audiences": [EXCHANGE],
    })
}

fn strings_only(body: &Value, fields: &[&str]) {
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), fields.len(), "{body:#}");
    for f in fields {
        assert!(obj[*f].is_string(), "{f} is not a string: {body:#}");
    }
}

#[tokio::test]
async fn app_service_endpoint_answers_as_app_service_does() {
    let e = entra();
    let m = e.mi();
    let secret = e.emu.identity_header().to_owned();
    assert!(secret.len() >= 32);
    let ok = [
        ("resource", VAULT),
        ("api-version", "2019-08-01"),
        ("client_id", m.client_id.as_str()),
    ];
    // The header: missing or wrong, 401 in the token service's error shape.
    for header in [None, Some("wrong")] {
        let (s, _, b) = e.app_service(&ok, header).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        assert_eq!(b["statusCode"], 401);
        assert!(b["correlationId"].is_string() && b["message"].is_string());
    }
    // 2019-08-01 only; a resource is required.
    let (s, _, b) = e
        .app_service(
            &[
                ("resource", VAULT),
                ("api-version", "2017-09-01"),
                ("client_id", &m.client_id),
            ],
            Some(&secret),
        )
        .await;
    assert_eq!(
        (s, b["statusCode"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );
    let (s, _, _) = e
        .app_service(&[("api-version", "2019-08-01")], Some(&secret))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Naming no identity means the system-assigned one, which the machine lacks: refused
    // even with a single user-assigned identity attached.
    let (s, _, b) = e
        .app_service(
            &[("resource", VAULT), ("api-version", "2019-08-01")],
            Some(&secret),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["message"], "Unable to load the proper Managed Identity.");
    // By client id: 200, every value a string, `expires_on` the token's `exp`.
    let (s, h, b) = e.app_service(&ok, Some(&secret)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(h["content-type"], "application/json");
    strings_only(
        &b,
        &[
            "access_token",
            "client_id",
            "expires_on",
            "not_before",
            "resource",
            "token_type",
        ],
    );
    assert_eq!(b["client_id"], m.client_id.as_str());
    assert_eq!(b["resource"], VAULT);
    assert_eq!(b["token_type"], "Bearer");
    let exp: i64 = b["expires_on"].as_str().unwrap().parse().unwrap();
    assert_eq!(exp, e.now() + 86399);
    assert_eq!(claims(b["access_token"].as_str().unwrap())["exp"], exp);
    // By principal id (or its alias object_id) and by resource id, in any case.
    for (k, v) in [
        ("principal_id", m.principal_id.to_uppercase()),
        ("object_id", m.principal_id.clone()),
        ("mi_res_id", m.resource_id.to_uppercase()),
    ] {
        let (s, _, b) = e
            .app_service(
                &[("resource", VAULT), ("api-version", "2019-08-01"), (k, &v)],
                Some(&secret),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{k}: {b}");
        assert_eq!(
            claims(b["access_token"].as_str().unwrap())["oid"],
            m.principal_id.as_str()
        );
    }
    // An identity not attached, or two parameters: 400.
    let stranger = "11111111-2222-4333-8444-555555555555";
    for extra in [
        vec![("client_id", stranger)],
        vec![
            ("client_id", m.client_id.as_str()),
            ("mi_res_id", m.resource_id.as_str()),
        ],
    ] {
        let mut q = vec![("resource", VAULT), ("api-version", "2019-08-01")];
        q.extend(extra);
        let (s, _, b) = e.app_service(&q, Some(&secret)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    }
    // Another cloud's service is not Entra's here.
    let (s, _, b) = e
        .app_service(
            &[
                ("resource", "https://vault.azure.cn"),
                ("api-version", "2019-08-01"),
                ("client_id", &m.client_id),
            ],
            Some(&secret),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["message"].as_str().unwrap().starts_with("AADSTS50001"),
        "{b}"
    );
}

#[tokio::test]
async fn imds_endpoint_answers_as_imds_does() {
    let e = entra_with(|c| c.machine_identities = vec!["mi-one".into(), "mi-two".into()]);
    let [one, two] = <[MachineIdentity; 2]>::try_from(e.emu.machine_identities()).unwrap();
    assert_ne!(one.client_id, two.client_id);
    assert!(one.resource_id.ends_with("/resourcegroups/publisher-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-one"));
    // Without `Metadata: true`: IMDS's own 400.
    let uri = format!(
        "{}?{}",
        idp_emulator::IMDS_PATH,
        query(&[("api-version", "2018-02-01"), ("resource", VAULT)])
    );
    for headers in [vec![], vec![("metadata", "false")]] {
        let (s, _, b) = call(&e.machine, "GET", &uri, &headers, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(
            b,
            json!({"error": "bad_request_102", "error_description": "Required metadata header not specified"})
        );
    }
    // Several identities and none named.
    let (s, _, b) = e
        .imds(&[("api-version", "2018-02-01"), ("resource", VAULT)])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        json!({"error": "invalid_request", "error_description": "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"})
    );
    // Named by client id, object id, resource id: all eight fields, all strings.
    for (k, v) in [
        ("client_id", two.client_id.to_uppercase()),
        ("object_id", two.principal_id.clone()),
        ("msi_res_id", two.resource_id.clone()),
    ] {
        let (s, _, b) = e
            .imds(&[("api-version", "2018-02-01"), ("resource", VAULT), (k, &v)])
            .await;
        assert_eq!(s, StatusCode::OK, "{k}: {b}");
        strings_only(
            &b,
            &[
                "access_token",
                "client_id",
                "expires_in",
                "expires_on",
                "ext_expires_in",
                "not_before",
                "resource",
                "token_type",
            ],
        );
        assert_eq!(b["client_id"], two.client_id.as_str());
        assert_eq!(b["expires_in"], "86399");
        assert_eq!(b["ext_expires_in"], "86399");
        assert_eq!(b["expires_on"], (e.now() + 86399).to_string());
        assert_eq!(b["not_before"], (e.now() - 300).to_string());
    }
    // Unknown identity; unknown resource; missing resource or api-version.
    let (s, _, b) = e
        .imds(&[
            ("api-version", "2018-02-01"),
            ("resource", VAULT),
            ("client_id", "11111111-2222-4333-8444-555555555555"),
        ])
        .await;
    assert_eq!(
        (s, b),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "Identity not found"})
        )
    );
    let (s, _, b) = e
        .imds(&[
            ("api-version", "2018-02-01"),
            ("resource", "not a resource"),
            ("client_id", &one.client_id),
        ])
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_resource"))
    );
    for q in [
        vec![
            ("api-version", "2018-02-01"),
            ("client_id", one.client_id.as_str()),
        ],
        vec![("resource", VAULT), ("client_id", one.client_id.as_str())],
        vec![
            ("api-version", "2017-12-01"),
            ("resource", VAULT),
            ("client_id", one.client_id.as_str()),
        ],
    ] {
        let (s, _, b) = e.imds(&q).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{q:?}"
        );
    }

    // One identity attached and none named: that one.
    let single = entra();
    let (s, _, b) = single
        .imds(&[("api-version", "2018-02-01"), ("resource", VAULT)])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["client_id"], single.mi().client_id.as_str());
    // None attached: not found.
    let none = entra_with(|c| c.machine_identities.clear());
    let (s, _, b) = none
        .imds(&[("api-version", "2018-02-01"), ("resource", VAULT)])
        .await;
    assert_eq!(
        (s, b["error_description"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Identity not found"))
    );
}

#[tokio::test]
async fn managed_identity_tokens_are_shaped_as_observed() {
    let e = entra();
    let m = e.mi();
    // The token exchange: v2.0 of the publisher's tenant, `aud` the exchange's app id.
    let t = e.mi_token(EXCHANGE).await;
    let c = claims(&t);
    assert_eq!(c["iss"], format!("{BASE}/{PUBLISHER}/v2.0"));
    assert_eq!(c["aud"], EXCHANGE_APP);
    assert_eq!(c["sub"], m.principal_id.as_str());
    assert_eq!(c["oid"], m.principal_id.as_str());
    assert_eq!(c["azp"], m.client_id.as_str());
    assert_eq!(c["azpacr"], "2");
    assert!(c.get("appid").is_none(), "v2.0 has azp, not appid: {c}");
    assert_eq!(c["tid"], PUBLISHER);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["xms_mirid"], m.resource_id.as_str());
    assert_eq!(c["xms_emu_grant"], "managed_identity");
    assert_eq!(c["exp"], e.now() + 86399);
    assert_eq!(c["iat"], e.now() - 300);
    // Signed with the key the publisher tenant's JWKS publishes.
    let (s, _, jwks) = call(
        &e.router,
        "GET",
        &format!("/{PUBLISHER}/discovery/v2.0/keys"),
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let key = &jwks["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[EXCHANGE_APP]);
    v.set_issuer(&[format!("{BASE}/{PUBLISHER}/v2.0")]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(&t, &decoding, &v).unwrap();
    // The publisher tenant's discovery names that issuer.
    let (_, _, d) = call(
        &e.router,
        "GET",
        &format!("/{PUBLISHER}/v2.0/.well-known/openid-configuration"),
        &[],
        None,
    )
    .await;
    assert_eq!(d["issuer"], format!("{BASE}/{PUBLISHER}/v2.0"));
    // Any other resource: a v1.0 token with `aud` the resource.
    let c = claims(&e.mi_token(VAULT).await);
    assert_eq!(c["aud"], VAULT);
    assert_eq!(c["iss"], format!("https://sts.windows.net/{PUBLISHER}/"));
    assert_eq!(c["appid"], m.client_id.as_str());
    assert!(c.get("azp").is_none(), "{c}");
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["xms_mirid"], m.resource_id.as_str());
}

#[tokio::test]
async fn the_machine_endpoints_wait_for_the_issuer_base() {
    let clock = ManualClock::starting_now();
    let emu = Emulator::new(config(&clock)).unwrap();
    let m = emu.machine_identities()[0].clone();
    let uri = format!(
        "{}?{}",
        idp_emulator::IMDS_PATH,
        query(&[("api-version", "2018-02-01"), ("resource", EXCHANGE)])
    );
    let machine = emu.identity_router();
    let (s, _, _) = call(&machine, "GET", &uri, &[("metadata", "true")], None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    emu.set_issuer_base("https://127.0.0.1:8443/").unwrap();
    assert!(emu.set_issuer_base("https://127.0.0.1:9999").is_err());
    emu.set_issuer_base("https://127.0.0.1:8443").unwrap();
    let (s, _, b) = call(&machine, "GET", &uri, &[("metadata", "true")], None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(c["iss"], format!("https://127.0.0.1:8443/{PUBLISHER}/v2.0"));
    assert_eq!(c["sub"], m.principal_id.as_str());
}

#[tokio::test]
async fn graph_wants_a_graph_token_of_either_tenant() {
    let e = entra();
    let (s, h, b) = call(&e.router, "GET", "/v1.0/applications", &[], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.contains_key("www-authenticate"));
    assert_eq!(b["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(b["error"]["message"], "Access token is empty.");
    let inner = &b["error"]["innerError"];
    assert!(
        inner["date"].is_string()
            && inner["request-id"].is_string()
            && inner["client-request-id"].is_string(),
        "{b}"
    );
    // A vault token is not Graph's; an expired one neither; a forged one neither.
    let vault = e
        .emu
        .admin_token(TENANT, VAULT, Duration::from_secs(60))
        .unwrap();
    let (s, _, b) = e.graph("GET", "applications", &vault, None).await;
    assert_eq!(
        (s, b["error"]["message"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("Access token validation failure. Invalid audience.")
        )
    );
    let short = e
        .emu
        .admin_token(TENANT, GRAPH, Duration::from_secs(60))
        .unwrap();
    e.clock.advance(Duration::from_secs(61));
    let (s, _, b) = e.graph("GET", "applications", &short, None).await;
    assert_eq!(
        (s, b["error"]["message"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("Lifetime validation failed, the token is expired.")
        )
    );
    let forged = idp_emulator::SigningKey::generate().unwrap().sign(&json!({"aud": GRAPH, "iss": format!("https://sts.windows.net/{TENANT}/"), "tid": TENANT, "exp": e.now() + 60})).unwrap();
    assert_eq!(
        e.graph("GET", "applications", &forged, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The machine identity's Graph token opens the publisher's directory; Graph's app id
    // is an accepted audience too.
    let mi = e.mi_token(GRAPH).await;
    let (s, _, b) = e.graph("GET", "applications", &mi, None).await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let by_id = e
        .emu
        .admin_token(
            PUBLISHER,
            "00000003-0000-0000-c000-000000000000",
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(
        e.graph("GET", "applications", &by_id, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn graph_applications_live_in_their_tenant() {
    let e = entra();
    let admin = e.admin(PUBLISHER);
    let (s, _, app) = e
        .graph(
            "POST",
            "applications",
            &admin,
            Some(json!({"displayName": "contoso-access", "uniqueName": "contoso-access"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    assert_eq!(app["signInAudience"], "AzureADMyOrg", "Graph's default");
    assert_eq!(app["displayName"], "contoso-access");
    for field in ["id", "appId"] {
        assert_eq!(app[field].as_str().unwrap().len(), 36);
    }
    let (id, app_id) = (app["id"].as_str().unwrap(), app["appId"].as_str().unwrap());
    for path in [
        format!("applications/{id}"),
        format!("applications(appId='{app_id}')"),
        "applications(uniqueName='contoso-access')".to_owned(),
    ] {
        let (s, _, b) = e.graph("GET", &path, &admin, None).await;
        assert_eq!(
            (s, b["appId"].as_str()),
            (StatusCode::OK, Some(app_id)),
            "{path}"
        );
    }
    let (_, _, list) = e
        .graph(
            "GET",
            &format!("applications?$filter=appId%20eq%20'{app_id}'"),
            &admin,
            None,
        )
        .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    // The customer's directory does not have it.
    let (s, _, b) = e
        .graph("GET", &format!("applications/{id}"), &e.admin(TENANT), None)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound"))
    );
    // Graph does not make the service principal (the portal does).
    let (s, _, _) = e
        .graph(
            "GET",
            &format!("servicePrincipals(appId='{app_id}')"),
            &admin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Rules: a display name, a known audience, a unique uniqueName.
    for body in [
        json!({}),
        json!({"displayName": "x", "signInAudience": "Everyone"}),
        json!({"displayName": 3}),
    ] {
        let (s, _, b) = e.graph("POST", "applications", &admin, Some(body)).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("Request_BadRequest"))
        );
    }
    let (s, _, b) = e
        .graph(
            "POST",
            "applications",
            &admin,
            Some(json!({"displayName": "x", "uniqueName": "CONTOSO-ACCESS"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("Request_MultipleObjectsWithSameKeyValue")
        )
    );
    // PATCH makes it multi-tenant; DELETE removes it.
    let (s, _, _) = e
        .graph(
            "PATCH",
            &format!("applications/{id}"),
            &admin,
            Some(json!({"signInAudience": "AzureADMultipleOrgs"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, b) = e
        .graph("GET", &format!("applications/{id}"), &admin, None)
        .await;
    assert_eq!(b["signInAudience"], "AzureADMultipleOrgs");
    assert_eq!(
        e.graph(
            "DELETE",
            &format!("applications(appId='{app_id}')"),
            &admin,
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        e.graph("GET", &format!("applications/{id}"), &admin, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        e.graph("GET", "users", &admin, None).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn graph_federated_credentials_follow_graphs_rules() {
    let e = entra();
    let admin = e.admin(PUBLISHER);
    let m = e.mi();
    let app = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
    let (s, _, fic) = e.fic(PUBLISHER, &app, trusting(&m, "publisher-mi")).await;
    assert_eq!(s, StatusCode::CREATED, "{fic}");
    assert_eq!(fic["name"], "publisher-mi");
    assert_eq!(fic["audiences"], json!([EXCHANGE]));
    assert_eq!(fic["description"], "the publisher's machine");
    let fic_id = fic["id"].as_str().unwrap();
    let fics = format!(
        "applications/{}/federatedIdentityCredentials",
        app["id"].as_str().unwrap()
    );
    // Refused: names, audiences, lengths; a second of the same name (409) or the same
    // issuer and subject (400).
    let issuer = format!("{BASE}/{PUBLISHER}/v2.0");
    let bad = [
        json!({"name": "ab", "issuer": issuer, "subject": "s", "audiences": [EXCHANGE]}),
        json!({"name": "-abc", "issuer": issuer, "subject": "s", "audiences": [EXCHANGE]}),
        json!({"name": "a.bc", "issuer": issuer, "subject": "s", "audiences": [EXCHANGE]}),
        json!({"name": "two", "issuer": issuer, "subject": "s", "audiences": [EXCHANGE, "api://other"]}),
        json!({"name": "none", "issuer": issuer, "subject": "s", "audiences": []}),
        json!({"name": "long", "issuer": issuer, "subject": "s".repeat(601), "audiences": [EXCHANGE]}),
        json!({"name": "longd", "issuer": issuer, "subject": "s", "description": "d".repeat(601), "audiences": [EXCHANGE]}),
        json!({"name": "nosub", "issuer": issuer, "audiences": [EXCHANGE]}),
        json!({"name": "pair", "issuer": issuer, "subject": m.principal_id, "audiences": [EXCHANGE]}),
    ];
    for body in bad {
        let (s, _, b) = e.graph("POST", &fics, &admin, Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
    }
    let (s, _, b) = e.graph("POST", &fics, &admin, Some(json!({"name": "PUBLISHER-MI", "issuer": issuer, "subject": "x", "audiences": [EXCHANGE]}))).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("Request_MultipleObjectsWithSameKeyValue")
        )
    );
    // Wrong values are accepted at create (they fail at exchange); 600 characters pass.
    let (s, _, b) = e.graph("POST", &fics, &admin, Some(json!({"name": "wrong", "issuer": "https://nowhere.example", "subject": "s".repeat(600), "audiences": ["api://whatever"]}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // At most 20.
    for i in 2..20 {
        let (s, _, b) = e.graph("POST", &fics, &admin, Some(json!({"name": format!("fic-{i}"), "issuer": issuer, "subject": format!("s{i}"), "audiences": [EXCHANGE]}))).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (_, _, list) = e.graph("GET", &fics, &admin, None).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 20);
    let (s, _, _) = e.graph("POST", &fics, &admin, Some(json!({"name": "fic-20", "issuer": issuer, "subject": "s20", "audiences": [EXCHANGE]}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Get by id and by name; the name is immutable; PATCH updates (204).
    let by_name = format!("{fics}(name='publisher-mi')");
    let (s, _, b) = e
        .graph("GET", &format!("{fics}/{fic_id}"), &admin, None)
        .await;
    assert_eq!(
        (s, b["name"].as_str()),
        (StatusCode::OK, Some("publisher-mi"))
    );
    let (s, _, _) = e
        .graph("PATCH", &by_name, &admin, Some(json!({"name": "renamed"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = e
        .graph(
            "PATCH",
            &by_name,
            &admin,
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        e.graph("GET", &by_name, &admin, None).await.2["description"],
        "changed"
    );
    // Upsert by name needs `Prefer: create-if-missing`, and room.
    e.graph("DELETE", &format!("{fics}(name='fic-19')"), &admin, None)
        .await;
    let upsert = format!("{fics}(name='upserted')");
    let body = json!({"issuer": issuer, "subject": "u", "audiences": [EXCHANGE]});
    let (s, _, _) = e.graph("PATCH", &upsert, &admin, Some(body.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let auth = format!("Bearer {admin}");
    let (s, _, b) = call(
        &e.router,
        "PATCH",
        &format!("/v1.0/{upsert}"),
        &[("authorization", &auth), ("prefer", "create-if-missing")],
        Some(body),
    )
    .await;
    assert_eq!(
        (s, b["name"].as_str()),
        (StatusCode::CREATED, Some("upserted")),
        "{b}"
    );
    assert_eq!(
        e.graph("DELETE", &upsert, &admin, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        e.graph("GET", &upsert, &admin, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn service_principals_and_admin_consent() {
    let e = entra();
    let single = e.app(PUBLISHER, "AzureADMyOrg").await;
    let multi = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
    let customer = e.admin(TENANT);
    // A single-tenant application is not visible in another tenant.
    let (s, _, b) = e
        .graph(
            "POST",
            "servicePrincipals",
            &customer,
            Some(json!({"appId": single["appId"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["code"], "Request_BadRequest");
    assert_eq!(
        b["error"]["details"][0]["code"],
        "NoBackingApplicationObject"
    );
    // Its home tenant may have one.
    let (s, _, _) = e
        .graph(
            "POST",
            "servicePrincipals",
            &e.admin(PUBLISHER),
            Some(json!({"appId": single["appId"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // A multi-tenant one: created in the customer's tenant, once.
    let (s, _, sp) = e
        .graph(
            "POST",
            "servicePrincipals",
            &customer,
            Some(json!({"appId": multi["appId"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sp}");
    assert_eq!(sp["appOwnerOrganizationId"], PUBLISHER);
    assert_eq!(sp["servicePrincipalType"], "Application");
    assert_eq!(sp["appId"], multi["appId"]);
    let (s, _, b) = e
        .graph(
            "POST",
            "servicePrincipals",
            &customer,
            Some(json!({"appId": multi["appId"]})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("Request_MultipleObjectsWithSameKeyValue")
        )
    );
    let app_id = multi["appId"].as_str().unwrap();
    let (s, _, b) = e
        .graph(
            "GET",
            &format!("servicePrincipals(appId='{app_id}')"),
            &customer,
            None,
        )
        .await;
    assert_eq!((s, &b["id"]), (StatusCode::OK, &sp["id"]));
    let (_, _, b) = e
        .graph(
            "GET",
            &format!("servicePrincipals?$filter=appId%20eq%20'{app_id}'"),
            &customer,
            None,
        )
        .await;
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    // Managed identities are service principals of their tenant too.
    let m = e.mi();
    let (s, _, b) = e
        .graph(
            "GET",
            &format!("servicePrincipals(appId='{}')", m.client_id),
            &e.admin(PUBLISHER),
            None,
        )
        .await;
    assert_eq!(
        (s, b["id"].as_str(), b["servicePrincipalType"].as_str()),
        (
            StatusCode::OK,
            Some(m.principal_id.as_str()),
            Some("ManagedIdentity")
        )
    );
    assert_eq!(
        e.graph(
            "DELETE",
            &format!("servicePrincipals/{}", sp["id"].as_str().unwrap()),
            &customer,
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        e.graph(
            "GET",
            &format!("servicePrincipals(appId='{app_id}')"),
            &customer,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Admin consent: a single-tenant application in another tenant is AADSTS50194.
    let r = e.consent(TENANT, &single).await;
    assert_aadsts(&r, 50194, 400, "invalid_request");
    assert!(
        r.2["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "Application '{}' is not configured as a multi-tenant application.",
                single["appId"].as_str().unwrap()
            ))
    );
    // An unknown application is AADSTS700016; a tenant not the emulator's AADSTS90002.
    let unknown = json!({"appId": "11111111-2222-4333-8444-555555555555"});
    assert_aadsts(
        &e.consent(TENANT, &unknown).await,
        700016,
        400,
        "unauthorized_client",
    );
    assert_aadsts(
        &e.consent("common", &multi).await,
        90002,
        400,
        "invalid_request",
    );
    // With a redirect: 302 there, with admin_consent, tenant and state; the service
    // principal exists afterwards.
    let q = query(&[
        ("client_id", app_id),
        ("redirect_uri", "https://publisher.example/consented?x=1"),
        ("state", "s 1"),
    ]);
    let (s, h, _) = call(
        &e.router,
        "GET",
        &format!("/{TENANT}/adminconsent?{q}"),
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FOUND);
    assert_eq!(
        h["location"],
        format!(
            "https://publisher.example/consented?x=1&admin_consent=True&tenant={TENANT}&state=s+1"
        )
    );
    let (s, _, sp) = e
        .graph(
            "GET",
            &format!("servicePrincipals(appId='{app_id}')"),
            &customer,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Again without a redirect: 200 and the same service principal.
    let (s, _, b) = e.consent(TENANT, &multi).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        json!({"admin_consent": "True", "tenant": TENANT, "client_id": app_id, "service_principal_id": sp["id"]})
    );
    // v2 needs a scope.
    let q = query(&[("client_id", app_id)]);
    assert_aadsts(
        &call(
            &e.router,
            "GET",
            &format!("/{TENANT}/v2.0/adminconsent?{q}"),
            &[],
            None,
        )
        .await,
        900144,
        400,
        "invalid_request",
    );
    let q = query(&[
        ("client_id", app_id),
        ("scope", "https://vault.azure.net/.default"),
    ]);
    assert_eq!(
        call(
            &e.router,
            "GET",
            &format!("/{TENANT}/v2.0/adminconsent?{q}"),
            &[],
            None
        )
        .await
        .0,
        StatusCode::OK
    );
}

/// The publisher's multi-tenant application trusting the machine identity, consented to in
/// the customer's tenant; its Graph body and its service principal's id there.
async fn consented_app(e: &Entra) -> (Value, String) {
    let app = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
    let (s, _, b) = e
        .fic(PUBLISHER, &app, trusting(&e.mi(), "publisher-mi"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _, b) = e.consent(TENANT, &app).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sp = b["service_principal_id"].as_str().unwrap().to_owned();
    (app, sp)
}

#[tokio::test]
async fn the_publishers_machine_reaches_the_customers_vault_through_its_app() {
    let e = entra();
    // The publisher registers the app with the machine's own Graph token.
    let graph = e.mi_token(GRAPH).await;
    let (s, _, app) = e
        .graph(
            "POST",
            "applications",
            &graph,
            Some(json!({"displayName": "contoso-access", "signInAudience": "AzureADMultipleOrgs"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let app_id = app["appId"].as_str().unwrap();
    let (s, _, b) = e
        .graph(
            "POST",
            &format!("applications(appId='{app_id}')/federatedIdentityCredentials"),
            &graph,
            Some(trusting(&e.mi(), "publisher-mi")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, _, consent) = e.consent(TENANT, &app).await;
    let sp = consent["service_principal_id"].as_str().unwrap();

    // The customer grants the service principal a role on a vault.
    e.emu.put_resource_group(RG, "westeurope").unwrap();
    let owner = format!(
        "Bearer {}",
        e.emu.owner_token(Duration::from_secs(3600)).unwrap()
    );
    let vault = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/kv-entra"
    );
    let (s, _, b) = call(&e.router, "PUT", &format!("{vault}?api-version=2026-02-01"), &[("authorization", &owner)], Some(json!({"location": "westeurope", "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "standard"}}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _, b) = call(
        &e.router,
        "PUT",
        &format!("{vault}/providers/Microsoft.Authorization/roleAssignments/0a000000-0000-4000-8000-00000000000b?api-version=2022-04-01"),
        &[("authorization", &owner)],
        Some(json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_OFFICER}"),
            "principalId": sp, "principalType": "ServicePrincipal"}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // The machine's token is the app's credential in the customer's tenant.
    let assertion = e.mi_token(EXCHANGE).await;
    let (s, h, b) = e.exchange(TENANT, app_id, &assertion).await;
    assert_eq!(s, StatusCode::OK, "{b:#}");
    assert_eq!(h["cache-control"], "no-store, no-cache");
    assert_eq!(
        b["expires_in"], 3599,
        "an application's token lives about an hour"
    );
    let token = b["access_token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(c["oid"], sp);
    assert_eq!(c["sub"], sp);
    assert_eq!(c["appid"], app_id);
    assert_eq!(c["aud"], VAULT);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["xms_emu_grant"], "federated");
    assert!(c.get("xms_mirid").is_none(), "{c}");
    assert_eq!(c["exp"], e.now() + 3599);

    // The vault takes it, by the role assigned to the service principal.
    let auth = format!("Bearer {token}");
    let secret = "/keyvault/kv-entra/secrets/greeting?api-version=7.5";
    let (s, _, b) = call(
        &e.router,
        "PUT",
        secret,
        &[("authorization", &auth)],
        Some(json!({"value": "hello customer"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = call(&e.router, "GET", secret, &[("authorization", &auth)], None).await;
    assert_eq!(
        (s, b["value"].as_str()),
        (StatusCode::OK, Some("hello customer"))
    );
    // The machine's own vault token is another tenant's: the customer's vault refuses it.
    let foreign = format!("Bearer {}", e.mi_token(VAULT).await);
    assert_eq!(
        call(
            &e.router,
            "GET",
            secret,
            &[("authorization", &foreign)],
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn entra_issued_assertions_are_checked_in_entras_order() {
    let e = entra();
    let (app, sp) = consented_app(&e).await;
    let app_id = app["appId"].as_str().unwrap();
    let assertion = e.mi_token(EXCHANGE).await;
    assert_eq!(
        e.exchange(TENANT, app_id, &assertion).await.0,
        StatusCode::OK
    );

    // a. 700236: an application of the customer's tenant trusting the publisher's tenant.
    let local = e.app(TENANT, "AzureADMyOrg").await;
    let (s, _, _) = e
        .fic(TENANT, &local, trusting(&e.mi(), "publisher-mi"))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let r = e
        .exchange(TENANT, local["appId"].as_str().unwrap(), &assertion)
        .await;
    assert_aadsts(&r, 700236, 401, "invalid_client");
    assert!(
        r.2["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("issued by issuer '{BASE}/{PUBLISHER}/v2.0'"))
    );
    // ... and the customer's UAMI trusting the publisher's tenant (the obvious setup).
    let uami = e.emu.put_identity(RG, UAMI, "westeurope").unwrap();
    e.emu
        .put_federated_credential(
            RG,
            UAMI,
            "publisher",
            FicSpec::new(
                format!("{BASE}/{PUBLISHER}/v2.0"),
                &e.mi().principal_id,
                EXCHANGE,
            ),
        )
        .unwrap();
    assert_aadsts(
        &e.exchange(TENANT, &uami.client_id, &assertion).await,
        700236,
        401,
        "invalid_client",
    );
    // a before b: a forged token of the other tenant is still 700236.
    let forged = format!(
        "{}.{}",
        assertion.rsplit_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode(b"nope")
    );
    assert_aadsts(
        &e.exchange(TENANT, local["appId"].as_str().unwrap(), &forged)
            .await,
        700236,
        401,
        "invalid_client",
    );

    // b. 50027 for a signature that does not verify, 700024 once expired.
    assert_aadsts(
        &e.exchange(TENANT, app_id, &forged).await,
        50027,
        401,
        "invalid_client",
    );

    // c. 700229: not app-only (an administrator's token of the publisher's tenant).
    let user = e
        .emu
        .admin_token(PUBLISHER, EXCHANGE_APP, Duration::from_secs(600))
        .unwrap();
    assert_aadsts(
        &e.exchange(TENANT, app_id, &user).await,
        700229,
        401,
        "invalid_client",
    );
    // 700226: an application's own token (the app's token in its home tenant).
    let (s, _, _) = e
        .graph(
            "POST",
            "servicePrincipals",
            &e.admin(PUBLISHER),
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, b) = e.exchange(PUBLISHER, app_id, &assertion).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let apps_own = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&apps_own)["tid"], PUBLISHER);
    assert_aadsts(
        &e.exchange(TENANT, app_id, &apps_own).await,
        700226,
        401,
        "invalid_client",
    );

    // d. 700016: a multi-tenant application not consented to in the customer's tenant;
    // 7000229 in its home tenant without a service principal there.
    let unconsented = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
    let (s, _, _) = e
        .fic(PUBLISHER, &unconsented, trusting(&e.mi(), "publisher-mi"))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let unconsented_id = unconsented["appId"].as_str().unwrap();
    let r = e.exchange(TENANT, unconsented_id, &assertion).await;
    assert_aadsts(&r, 700016, 400, "unauthorized_client");
    assert!(r.2["error_description"].as_str().unwrap().contains(&format!("Application with identifier '{unconsented_id}' was not found in the directory '{TENANT}'")));
    assert_aadsts(
        &e.exchange(PUBLISHER, unconsented_id, &assertion).await,
        7000229,
        400,
        "invalid_client",
    );

    // e. The FIC: issuer byte for byte (700211), audience (700212), subject (700213).
    let cases = [
        (
            json!({"name": "slash", "issuer": format!("{BASE}/{PUBLISHER}/v2.0/"), "subject": e.mi().principal_id, "audiences": [EXCHANGE]}),
            700211,
        ),
        (
            json!({"name": "aud", "issuer": format!("{BASE}/{PUBLISHER}/v2.0"), "subject": e.mi().principal_id, "audiences": ["api://AzureADTokenExchangeUSGov"]}),
            700212,
        ),
        (
            json!({"name": "sub", "issuer": format!("{BASE}/{PUBLISHER}/v2.0"), "subject": sp, "audiences": [EXCHANGE]}),
            700213,
        ),
        (
            json!({"name": "case", "issuer": format!("{BASE}/{PUBLISHER}/v2.0"), "subject": e.mi().principal_id.to_uppercase(), "audiences": [EXCHANGE]}),
            7002138,
        ),
    ];
    for (fic, code) in cases {
        let other = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
        let (s, _, _) = e.fic(PUBLISHER, &other, fic).await;
        assert_eq!(s, StatusCode::CREATED);
        e.consent(TENANT, &other).await;
        assert_aadsts(
            &e.exchange(TENANT, other["appId"].as_str().unwrap(), &assertion)
                .await,
            code,
            401,
            "invalid_client",
        );
    }
    // An application without any FIC: 70025.
    let bare = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
    e.consent(TENANT, &bare).await;
    assert_aadsts(
        &e.exchange(TENANT, bare["appId"].as_str().unwrap(), &assertion)
            .await,
        70025,
        400,
        "invalid_request",
    );

    // b again: the machine's token expires after about 24 h.
    e.clock.advance(Duration::from_secs(86399));
    assert_aadsts(
        &e.exchange(TENANT, app_id, &assertion).await,
        700024,
        401,
        "invalid_client",
    );
}

#[tokio::test]
async fn a_managed_identitys_federated_token_is_not_a_credential() {
    // The customer's UAMI gets a token-exchange token through its own (external) FIC: a
    // managed identity's token, but obtained through federation: 700231 for an app of its
    // tenant that trusts it.
    let w = world_with(|c| c.public_base_url = Some(BASE.into())).await;
    let own = w.assertion();
    let form = v2_form(
        &w.identity.client_id,
        &own,
        "api://AzureADTokenExchange/.default",
    );
    let (s, _, b) = w.post_v2(&form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let federated = b["access_token"].as_str().unwrap().to_owned();
    let c = claims(&federated);
    assert_eq!(c["aud"], EXCHANGE_APP);
    assert_eq!(c["iss"], format!("{BASE}/{TENANT}/v2.0"));
    assert_eq!(c["xms_emu_grant"], "federated");
    assert_eq!(c["xms_mirid"], w.emulator.identity_resource_id(&w.identity));
    let admin = w
        .emulator
        .admin_token(TENANT, GRAPH, Duration::from_secs(600))
        .unwrap();
    let (s, _, app) = send(
        &w.router,
        Request::post("/v1.0/applications")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(json!({"displayName": "local"}).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let form = v2_form(
        app["appId"].as_str().unwrap(),
        &federated,
        "https://vault.azure.net/.default",
    );
    assert_aadsts(&w.post_v2(&form).await, 700231, 401, "invalid_client");
}

#[tokio::test]
async fn an_apps_fic_propagates_like_an_identitys() {
    let e = entra_with(|c| c.propagation_delay = Duration::from_secs(60));
    let (app, _) = consented_app(&e).await;
    let assertion = e.mi_token(EXCHANGE).await;
    let app_id = app["appId"].as_str().unwrap();
    assert_aadsts(
        &e.exchange(TENANT, app_id, &assertion).await,
        70021,
        400,
        "invalid_request",
    );
    e.clock.advance(Duration::from_secs(60));
    assert_eq!(
        e.exchange(TENANT, app_id, &assertion).await.0,
        StatusCode::OK
    );
    // A change of subject restarts the clock.
    let path =
        format!("applications(appId='{app_id}')/federatedIdentityCredentials(name='publisher-mi')");
    let (s, _, _) = e
        .graph(
            "PATCH",
            &path,
            &e.admin(PUBLISHER),
            Some(json!({"subject": "someone-else"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = e
        .graph(
            "PATCH",
            &path,
            &e.admin(PUBLISHER),
            Some(json!({"subject": e.mi().principal_id})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let assertion = e.mi_token(EXCHANGE).await;
    assert_aadsts(
        &e.exchange(TENANT, app_id, &assertion).await,
        70021,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn an_app_with_an_external_assertion_uses_its_graph_fics() {
    let w = world().await;
    let admin = w
        .emulator
        .admin_token(TENANT, GRAPH, Duration::from_secs(600))
        .unwrap();
    let graph = |method: &str, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(format!("/v1.0/{path}"))
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (_, _, app) = send(
        &w.router,
        graph("POST", "applications", json!({"displayName": "ci"})),
    )
    .await;
    let app_id = app["appId"].as_str().unwrap().to_owned();
    let (s, _, _) = send(
        &w.router,
        graph(
            "POST",
            &format!("applications(appId='{app_id}')/federatedIdentityCredentials"),
            json!({"name": "idp", "issuer": w.issuer, "subject": SUBJECT, "audiences": [AUDIENCE]}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let good = w.assertion();
    let form = v2_form(&app_id, &good, "https://vault.azure.net/.default");
    // Its home tenant, no service principal yet: 7000229, before the FIC is looked at.
    assert_aadsts(&w.post_v2(&form).await, 7000229, 400, "invalid_client");
    let (s, _, sp) = send(
        &w.router,
        graph("POST", "servicePrincipals", json!({"appId": app_id})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, b) = w.post_v2(&form).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let c = claims(b["access_token"].as_str().unwrap());
    assert_eq!(
        (c["oid"].as_str(), c["appid"].as_str()),
        (sp["id"].as_str(), Some(app_id.as_str()))
    );
    // Another subject: 700213 against the Graph FIC.
    let other = sign(
        &keys()[0],
        &json!({"iss": w.issuer, "sub": "other", "aud": AUDIENCE, "iat": w.now(), "exp": w.now() + 600}),
    );
    let form = v2_form(&app_id, &other, "https://vault.azure.net/.default");
    assert_aadsts(&w.post_v2(&form).await, 700213, 401, "invalid_client");
}

#[tokio::test]
async fn tenants_and_clients_per_tenant() {
    let w = world().await;
    // The publisher's tenant answers; a UAMI is the customer tenant's only.
    let good = w.assertion();
    let form = v2_form(
        &w.identity.client_id,
        &good,
        "https://vault.azure.net/.default",
    );
    let r = w
        .post(&format!("/{PUBLISHER}/oauth2/v2.0/token"), &form)
        .await;
    assert_aadsts(&r, 700016, 400, "unauthorized_client");
    let r = w
        .post(
            "/5e3f7a2c-0000-4e6f-8a0b-7c2d1e9f4a63/oauth2/v2.0/token",
            &form,
        )
        .await;
    assert_aadsts(&r, 90002, 400, "invalid_request");
    assert_eq!(w.emulator.publisher_tenant(), PUBLISHER);
    // Configuration: the tenants differ, names are identity names, each once.
    let clock = ManualClock::starting_now();
    let mut c = config(&clock);
    c.publisher_tenant = TENANT.to_uppercase();
    assert!(matches!(
        Emulator::new(c),
        Err(idp_emulator::Error::SameTenants(_))
    ));
    let mut c = config(&clock);
    c.publisher_tenant = "nope".into();
    assert!(Emulator::new(c).is_err());
    let mut c = config(&clock);
    c.machine_identities = vec!["ok-name".into(), "x".into()];
    assert!(matches!(
        Emulator::new(c),
        Err(idp_emulator::Error::InvalidMachineIdentity(_))
    ));
    let mut c = config(&clock);
    c.machine_identities = vec!["ok-name".into(), "OK-NAME".into()];
    assert!(matches!(
        Emulator::new(c),
        Err(idp_emulator::Error::DuplicateMachineIdentity(_))
    ));
}

#[tokio::test]
async fn the_state_file_keeps_machine_ids_directories_and_policies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let make = || {
        entra_with(|c| {
            c.state_file = Some(path.clone());
            c.machine_identities = vec!["publisher-mi".into(), "second-mi".into()];
        })
    };
    let e = make();
    let ids = e.emu.machine_identities();
    let app = e.app(PUBLISHER, "AzureADMultipleOrgs").await;
    e.fic(PUBLISHER, &app, trusting(&ids[0], "publisher-mi"))
        .await;
    e.consent(TENANT, &app).await;
    e.emu.put_resource_group(RG, "westeurope").unwrap();
    let (s, _, b) = policy(
        &e,
        "deny-all",
        &format!("/subscriptions/{SUBSCRIPTION}"),
        json!({"effect": {"value": "Deny"}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    drop(e);
    let again = make();
    assert_eq!(
        again.emu.machine_identities(),
        ids,
        "stable across a restart"
    );
    let (s, _, b) = again
        .graph(
            "GET",
            &format!(
                "servicePrincipals(appId='{}')",
                app["appId"].as_str().unwrap()
            ),
            &again.admin(TENANT),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = again
        .graph(
            "GET",
            &format!(
                "applications/{}/federatedIdentityCredentials",
                app["id"].as_str().unwrap()
            ),
            &again.admin(PUBLISHER),
            None,
        )
        .await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (s, _, _) = arm(&again, "GET", &format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/deny-all?api-version=2023-04-01"), None).await;
    assert_eq!(s, StatusCode::OK);
    // A state file written before these existed still loads.
    let mut old: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for k in ["directories", "policy_assignments", "machine_identities"] {
        old.as_object_mut().unwrap().remove(k);
    }
    drop(again);
    std::fs::write(&path, old.to_string()).unwrap();
    let reloaded = make();
    assert_eq!(reloaded.emu.machine_identities().len(), 2);
}

async fn arm(
    e: &Entra,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let owner = format!(
        "Bearer {}",
        e.emu.owner_token(Duration::from_secs(3600)).unwrap()
    );
    call(&e.router, method, uri, &[("authorization", &owner)], body).await
}

/// PUTs a policy assignment of the FIC definition at `scope` with `parameters`.
async fn policy(
    e: &Entra,
    name: &str,
    scope: &str,
    parameters: Value,
) -> (StatusCode, HeaderMap, Value) {
    arm(
        e,
        "PUT",
        &format!("{scope}/providers/Microsoft.Authorization/policyAssignments/{name}?api-version=2023-04-01"),
        Some(json!({"properties": {
            "displayName": "FICs from allowed issuers only",
            "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/2571b7c3-3056-4a61-b00a-9bc5232234f5",
            "parameters": parameters,
        }})),
    )
    .await
}

async fn put_fic(e: &Entra, rg: &str, name: &str, issuer: &str) -> (StatusCode, HeaderMap, Value) {
    arm(
        e,
        "PUT",
        &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{UAMI}/federatedIdentityCredentials/{name}?api-version=2023-01-31"),
        Some(json!({"properties": {"issuer": issuer, "subject": format!("subject-{name}"), "audiences": [EXCHANGE]}})),
    )
    .await
}

#[tokio::test]
async fn azure_policy_denies_fics_from_issuers_it_does_not_allow() {
    let e = entra_with(|c| c.fic_write_duration = Duration::ZERO);
    let sub = format!("/subscriptions/{SUBSCRIPTION}");
    for rg in [RG, "other-rg"] {
        e.emu.put_resource_group(rg, "westeurope").unwrap();
        e.emu.put_identity(rg, UAMI, "westeurope").unwrap();
    }
    let idp = "https://issuer.example/oidc";
    // Refused assignments: another definition, an effect in the wrong case, an unknown
    // parameter, an api-version Authorization does not publish.
    let (s, _, b) = arm(&e, "PUT", &format!("{sub}/providers/Microsoft.Authorization/policyAssignments/x?api-version=2023-04-01"), Some(json!({"properties": {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c"}}))).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("PolicyDefinitionNotFound"))
    );
    let (s, _, b) = policy(&e, "x", &sub, json!({"effect": {"value": "deny"}})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("PolicyParameterValueNotAllowed")
        )
    );
    let (s, _, b) = policy(&e, "x", &sub, json!({"allowIdp": {"value": true}})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("UndefinedPolicyParameter"))
    );
    let (s, _, b) = arm(
        &e,
        "GET",
        &format!(
            "{sub}/providers/Microsoft.Authorization/policyAssignments/x?api-version=2022-04-01"
        ),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("NoRegisteredProviderFound"))
    );

    // Deny, federated credentials allowed, GitHub allowed, the issuer not excepted.
    let params = json!({"effect": {"value": "Deny"}, "allowFederatedCredentials": {"value": true}, "allowGitHub": {"value": true}});
    let (s, _, a) = policy(&e, "fic-issuers", &sub, params.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["type"], "Microsoft.Authorization/policyAssignments");
    assert_eq!(
        a["id"],
        format!("{sub}/providers/Microsoft.Authorization/policyAssignments/fic-issuers")
    );
    assert_eq!(a["properties"]["parameters"], params);
    let (s, _, b) = put_fic(&e, RG, "idp", idp).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let err = &b["error"];
    assert_eq!(err["code"], "RequestDisallowedByPolicy");
    assert_eq!(err["target"], "idp");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.starts_with("Resource 'idp' was disallowed by policy. Policy identifiers: '[{"),
        "{message}"
    );
    assert!(
        message.contains("\"name\":\"FICs from allowed issuers only\"")
            && message.contains("2571b7c3-3056-4a61-b00a-9bc5232234f5"),
        "{message}"
    );
    let info = &err["additionalInfo"][0];
    assert_eq!(info["type"], "PolicyViolation");
    assert_eq!(
        info["info"]["policyDefinitionId"],
        "/providers/Microsoft.Authorization/policyDefinitions/2571b7c3-3056-4a61-b00a-9bc5232234f5"
    );
    assert_eq!(info["info"]["policyAssignmentName"], "fic-issuers");
    assert_eq!(info["info"]["policyDefinitionEffect"], "Deny");
    assert_eq!(info["info"]["policyAssignmentScope"], sub);
    assert!(info["info"]["evaluationDetails"]["evaluatedExpressions"].is_array());
    assert_eq!(err.as_object().unwrap().len(), 4, "{err:#}");
    assert!(
        e.emu
            .identity(RG, UAMI)
            .unwrap()
            .federated_credentials
            .is_empty()
    );
    // The library's own write is denied alike.
    let denied = e
        .emu
        .put_federated_credential(RG, UAMI, "lib", FicSpec::new(idp, "s", EXCHANGE))
        .unwrap_err();
    assert_eq!(
        (denied.status, denied.code),
        (StatusCode::FORBIDDEN, "RequestDisallowedByPolicy")
    );
    // GitHub's issuer is allowed.
    assert_eq!(
        put_fic(
            &e,
            RG,
            "github",
            "https://token.actions.githubusercontent.com"
        )
        .await
        .0,
        StatusCode::CREATED
    );
    // An exception lets idp's issuer through.
    let mut excepted = params.clone();
    excepted["allowedIssuerExceptions"] = json!({"value": [idp]});
    assert_eq!(
        policy(&e, "fic-issuers", &sub, excepted).await.0,
        StatusCode::CREATED
    );
    assert_eq!(put_fic(&e, RG, "idp", idp).await.0, StatusCode::CREATED);
    // Audit (and Disabled) let anything through; so does DoNotEnforce.
    assert_eq!(
        policy(
            &e,
            "fic-issuers",
            &sub,
            json!({"effect": {"value": "Audit"}})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        put_fic(&e, RG, "audited", "https://other.example").await.0,
        StatusCode::CREATED
    );
    // Without allowFederatedCredentials the definition refuses every FIC, GitHub's too.
    assert_eq!(
        policy(
            &e,
            "fic-issuers",
            &sub,
            json!({"effect": {"value": "Deny"}, "allowGitHub": {"value": true}})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        put_fic(
            &e,
            RG,
            "github2",
            "https://token.actions.githubusercontent.com"
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // A resource group's assignment covers that group only.
    assert_eq!(arm(&e, "DELETE", &format!("{sub}/providers/Microsoft.Authorization/policyAssignments/fic-issuers?api-version=2023-04-01"), None).await.0, StatusCode::OK);
    assert_eq!(arm(&e, "DELETE", &format!("{sub}/providers/Microsoft.Authorization/policyAssignments/fic-issuers?api-version=2023-04-01"), None).await.0, StatusCode::NO_CONTENT);
    let rg_scope = format!("{sub}/resourceGroups/other-rg");
    assert_eq!(
        policy(
            &e,
            "rg-deny",
            &rg_scope,
            json!({"effect": {"value": "Deny"}})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        put_fic(&e, "other-rg", "blocked", idp).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put_fic(&e, RG, "free", "https://free.example").await.0,
        StatusCode::CREATED
    );
    let (s, _, b) = arm(&e, "GET", &format!("{rg_scope}/providers/Microsoft.Authorization/policyAssignments/rg-deny?api-version=2025-03-01"), None).await;
    assert_eq!(
        (s, b["properties"]["scope"].as_str()),
        (StatusCode::OK, Some(rg_scope.as_str()))
    );
    // DoNotEnforce does not deny.
    let (s, _, _) = arm(&e, "PUT", &format!("{rg_scope}/providers/Microsoft.Authorization/policyAssignments/rg-deny?api-version=2023-04-01"), Some(json!({"properties": {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/2571b7c3-3056-4a61-b00a-9bc5232234f5", "enforcementMode": "DoNotEnforce", "parameters": {"effect": {"value": "Deny"}}}}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        put_fic(&e, "other-rg", "not-enforced", idp).await.0,
        StatusCode::CREATED
    );

    // An application's FIC (Graph) is no ARM resource: no policy sees it.
    assert_eq!(
        policy(&e, "deny-all", &sub, json!({"effect": {"value": "Deny"}}))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(put_fic(&e, RG, "after", idp).await.0, StatusCode::FORBIDDEN);
    let app = e.app(TENANT, "AzureADMyOrg").await;
    let (s, _, b) = e
        .fic(
            TENANT,
            &app,
            json!({"name": "idp", "issuer": idp, "subject": "s", "audiences": [EXCHANGE]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}
