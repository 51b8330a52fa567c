//! The ARM identity API over HTTP, its rules and error bodies, and the state file.

use crate::common::*;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use idp_emulator::{Config, Emulator, Error, FicSpec, ManualClock};
use serde_json::{Value, json};

const API: &str = "api-version=2023-01-31";

fn emulator() -> Emulator {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    emu
}

fn identity_path(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

fn fic_path(identity: &str, fic: &str) -> String {
    format!(
        "{}/federatedIdentityCredentials/{fic}",
        identity_path(identity)
    )
}

async fn call(
    emu: &Emulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let uri = if path.contains('?') {
        path.to_owned()
    } else {
        format!("{path}?{API}")
    };
    let owner = emu
        .owner_token(std::time::Duration::from_secs(3600))
        .unwrap();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {owner}"))
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    send(&emu.router(), request).await
}

/// An ARM request with this Authorization header (or none).
async fn call_as(emu: &Emulator, authorization: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder()
        .method("GET")
        .uri(format!("{}?{API}", identity_path("anyone")));
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    send(&emu.router(), request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn arm_needs_a_bearer_token_for_arm_signed_here_and_unexpired() {
    let clock = ManualClock::starting_now();
    let emu = Emulator::new(config(&clock)).unwrap();
    let (status, headers, body) = call_as(&emu, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer authorization_uri=\"https://login.microsoftonline.com/")
    );
    for bad in ["Bearer not-a-jwt", "Basic dXNlcjpwdw==", "Bearer "] {
        let (status, _, body) = call_as(&emu, Some(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(
            body["error"]["code"]
                .as_str()
                .unwrap()
                .contains("Authentication"),
            "{bad}: {body}"
        );
    }
    // A token signed by another key (another emulator) is not this ARM's.
    let mut other_config = config(&clock);
    other_config.signing_key = None;
    let other = Emulator::new(other_config).unwrap();
    assert_ne!(other.signing_key().kid(), emu.signing_key().kid());
    let foreign = other
        .owner_token(std::time::Duration::from_secs(60))
        .unwrap();
    let (status, _, body) = call_as(&emu, Some(&format!("Bearer {foreign}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    // The owner token works until it expires, on the emulator's clock.
    let owner = emu.owner_token(std::time::Duration::from_secs(60)).unwrap();
    let (status, _, _) = call_as(&emu, Some(&format!("Bearer {owner}"))).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "authorized, and no such identity"
    );
    clock.advance(std::time::Duration::from_secs(61));
    let (status, _, body) = call_as(&emu, Some(&format!("Bearer {owner}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
}

fn fic_body(issuer: &str, subject: &str, audiences: Value) -> Option<Value> {
    Some(json!({"properties": {"issuer": issuer, "subject": subject, "audiences": audiences}}))
}

fn assert_arm_error(
    r: &(StatusCode, HeaderMap, Value),
    status: u16,
    code: &str,
    message: Option<&str>,
) {
    assert_eq!(r.0.as_u16(), status, "{:#}", r.2);
    assert_eq!(r.2["error"]["code"], code, "{:#}", r.2);
    assert!(r.2["error"]["message"].is_string());
    if let Some(message) = message {
        assert_eq!(r.2["error"]["message"], message);
    }
    assert_eq!(r.2.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn identity_put_creates_then_updates_with_stable_ids() {
    let emu = emulator();
    let (status, _, created) = call(
        &emu,
        "PUT",
        &identity_path(UAMI),
        Some(json!({"location": "westeurope", "tags": {"env": "test"}})),
    )
    .await;
    assert_eq!(status, 201, "{created:#}");
    assert_eq!(created["name"], UAMI);
    assert_eq!(
        created["type"],
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    );
    assert_eq!(created["location"], "westeurope");
    assert_eq!(created["tags"], json!({"env": "test"}));
    assert_eq!(
        created["id"],
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourcegroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{UAMI}"
        )
    );
    let props = &created["properties"];
    assert_eq!(props["tenantId"], TENANT);
    let client_id = props["clientId"].as_str().unwrap();
    let principal_id = props["principalId"].as_str().unwrap();
    assert_eq!(client_id.len(), 36);
    assert_ne!(client_id, principal_id);

    let (status, _, updated) = call(
        &emu,
        "PUT",
        &identity_path(UAMI),
        Some(json!({"location": "northeurope"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["properties"], *props);
    assert_eq!(updated["location"], "northeurope");

    // Literal segments and names are case-insensitive, like ARM.
    let lower = identity_path(&UAMI.to_uppercase()).to_lowercase();
    let (status, _, got) = call(&emu, "GET", &lower, None).await;
    assert_eq!(status, 200);
    assert_eq!(got["properties"], *props);

    let (status, _, list) = call(&emu, "GET", identity_path("").trim_end_matches('/'), None).await;
    assert_eq!(status, 200);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);

    // Another identity gets other ids.
    let (_, _, other) = call(
        &emu,
        "PUT",
        &identity_path("uami-2"),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_ne!(other["properties"]["clientId"], props["clientId"]);

    let (status, _, _) = call(&emu, "DELETE", &identity_path(UAMI), None).await;
    assert_eq!(status, 200);
    assert_arm_error(
        &call(&emu, "GET", &identity_path(UAMI), None).await,
        404,
        "ResourceNotFound",
        None,
    );
    assert_eq!(
        call(&emu, "DELETE", &identity_path(UAMI), None).await.0,
        204
    );
}

#[tokio::test]
async fn identity_requests_are_validated() {
    let emu = emulator();
    assert_arm_error(
        &call(&emu, "PUT", &identity_path(UAMI), Some(json!({"tags": {}}))).await,
        400,
        "LocationRequired",
        None,
    );
    assert_arm_error(
        &call(&emu, "PUT", &identity_path(UAMI), Some(json!([1]))).await,
        400,
        "InvalidRequestContent",
        None,
    );
    for bad in ["ab", "-uami", "my.uami", "uami%20x"] {
        assert_arm_error(
            &call(
                &emu,
                "PUT",
                &identity_path(bad),
                Some(json!({"location": "westeurope"})),
            )
            .await,
            400,
            "InvalidResourceName",
            None,
        );
    }
    let bad_rg = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg./providers/Microsoft.ManagedIdentity/userAssignedIdentities/{UAMI}"
    );
    assert_arm_error(
        &call(&emu, "PUT", &bad_rg, Some(json!({"location": "x"}))).await,
        400,
        "InvalidResourceGroupName",
        None,
    );
    assert_arm_error(
        &call(&emu, "GET", &identity_path("missing"), None).await,
        404,
        "ResourceNotFound",
        None,
    );
    assert_arm_error(
        &call(&emu, "POST", &identity_path(UAMI), None).await,
        405,
        "MethodNotAllowed",
        None,
    );
}

#[tokio::test]
async fn a_wrong_subscription_is_404_and_api_version_is_required() {
    let emu = emulator();
    let wrong = identity_path(UAMI).replace(SUBSCRIPTION, "00000000-0000-0000-0000-000000000000");
    assert_arm_error(
        &call(&emu, "PUT", &wrong, Some(json!({"location": "westeurope"}))).await,
        404,
        "SubscriptionNotFound",
        Some("The subscription '00000000-0000-0000-0000-000000000000' could not be found."),
    );
    let wrong_fic = fic_path(UAMI, "fic").replace(SUBSCRIPTION, "not-a-guid");
    assert_arm_error(
        &call(&emu, "GET", &wrong_fic, None).await,
        404,
        "SubscriptionNotFound",
        None,
    );
    let no_version = identity_path(UAMI) + "?other=1";
    assert_arm_error(
        &call(
            &emu,
            "PUT",
            &no_version,
            Some(json!({"location": "westeurope"})),
        )
        .await,
        400,
        "MissingApiVersionParameter",
        None,
    );
    let unknown = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/x"
    );
    assert_eq!(call(&emu, "GET", &unknown, None).await.0, 404);
    assert!(emu.identities().is_empty());
}

#[tokio::test]
async fn federated_credentials_put_get_list_delete() {
    let emu = emulator();
    emu.put_identity(RG, UAMI, "westeurope").unwrap();
    let iss = "https://issuer.example/oidc";
    let (status, _, created) = call(
        &emu,
        "PUT",
        &fic_path(UAMI, "idp-fic"),
        fic_body(iss, SUBJECT, json!([AUDIENCE])),
    )
    .await;
    assert_eq!(status, 201, "{created:#}");
    assert_eq!(
        created,
        json!({
            "id": format!("/subscriptions/{SUBSCRIPTION}/resourcegroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{UAMI}/federatedIdentityCredentials/idp-fic"),
            "name": "idp-fic",
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {"issuer": iss, "subject": SUBJECT, "audiences": [AUDIENCE]},
        })
    );
    let (status, _, updated) = call(
        &emu,
        "PUT",
        &fic_path(UAMI, "idp-fic"),
        fic_body(iss, "other", json!([AUDIENCE])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["properties"]["subject"], "other");
    let (status, _, got) = call(&emu, "GET", &fic_path(UAMI, "IDP-FIC"), None).await;
    assert_eq!(status, 200);
    assert_eq!(got, updated);
    call(
        &emu,
        "PUT",
        &fic_path(UAMI, "second"),
        fic_body(iss, "two", json!([AUDIENCE])),
    )
    .await;
    let list_path = format!("{}/federatedIdentityCredentials", identity_path(UAMI));
    let (status, _, list) = call(&emu, "GET", &list_path, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["idp-fic", "second"]);
    assert_eq!(
        call(&emu, "DELETE", &fic_path(UAMI, "second"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&emu, "DELETE", &fic_path(UAMI, "second"), None)
            .await
            .0,
        204
    );
    assert_arm_error(
        &call(&emu, "GET", &fic_path(UAMI, "second"), None).await,
        404,
        "ResourceNotFound",
        None,
    );
    // Deleting the identity takes its FICs with it.
    call(&emu, "DELETE", &identity_path(UAMI), None).await;
    emu.put_identity(RG, UAMI, "westeurope").unwrap();
    assert!(
        emu.identity(RG, UAMI)
            .unwrap()
            .federated_credentials
            .is_empty()
    );
}

#[tokio::test]
async fn federated_credential_rules_each_answer_400() {
    let emu = emulator();
    emu.put_identity(RG, UAMI, "westeurope").unwrap();
    let iss = "https://issuer.example/oidc";
    let put = |name: String, body: Option<Value>| {
        let emu = emu.clone();
        async move { call(&emu, "PUT", &fic_path(UAMI, &name), body).await }
    };

    for bad in ["ab", "_fic", "-fic", "fic.name", "fic+1", &"f".repeat(121)] {
        let r = put(bad.to_owned(), fic_body(iss, SUBJECT, json!([AUDIENCE]))).await;
        assert_arm_error(
            &r,
            400,
            "BadRequest",
            Some(&format!(
                "Federated Identity Credential name '{bad}' is invalid."
            )),
        );
    }
    assert_eq!(
        put(
            "f".repeat(120),
            fic_body(iss, "long-name", json!([AUDIENCE]))
        )
        .await
        .0,
        201
    );

    for audiences in [json!([]), json!([AUDIENCE, "api://other"])] {
        let r = put("fic".into(), fic_body(iss, SUBJECT, audiences)).await;
        assert_arm_error(
            &r,
            400,
            "BadRequest",
            Some("Federated identity credentials must have exactly one audience."),
        );
    }
    let r = put(
        "fic".into(),
        Some(json!({"properties": {"issuer": iss, "subject": SUBJECT}})),
    )
    .await;
    assert_arm_error(
        &r,
        400,
        "BadRequest",
        Some("Federated identity credentials must have exactly one audience."),
    );

    let long = "x".repeat(601);
    for body in [
        fic_body(
            &format!("https://issuer.example/{long}"),
            SUBJECT,
            json!([AUDIENCE]),
        ),
        fic_body(iss, &long, json!([AUDIENCE])),
        fic_body(iss, SUBJECT, json!([long])),
    ] {
        let r = put("fic".into(), body).await;
        assert_arm_error(&r, 400, "BadRequest", None);
        assert!(
            r.2["error"]["message"].as_str().unwrap().contains("600"),
            "{:#}",
            r.2
        );
    }
    assert_eq!(
        put(
            "fic-600".into(),
            fic_body(iss, &"s".repeat(600), json!([AUDIENCE]))
        )
        .await
        .0,
        201
    );

    for issuer in ["issuer.example/oidc", "/oidc", "not a url", ""] {
        assert_arm_error(
            &put("fic".into(), fic_body(issuer, SUBJECT, json!([AUDIENCE]))).await,
            400,
            "BadRequest",
            None,
        );
    }
    assert_arm_error(
        &put("fic".into(), fic_body(iss, "", json!([AUDIENCE]))).await,
        400,
        "BadRequest",
        None,
    );
    assert_arm_error(
        &put("fic".into(), Some(json!({"issuer": iss}))).await,
        400,
        "BadRequest",
        None,
    );
    assert_arm_error(
        &put("fic".into(), Some(json!({"properties": {"issuer": 1}}))).await,
        400,
        "InvalidRequestContent",
        None,
    );

    // (issuer, subject) unique per identity.
    assert_eq!(
        put("fic".into(), fic_body(iss, SUBJECT, json!([AUDIENCE])))
            .await
            .0,
        201
    );
    let r = put(
        "fic-dup".into(),
        fic_body(iss, SUBJECT, json!(["api://other"])),
    )
    .await;
    assert_arm_error(
        &r,
        400,
        "BadRequest",
        Some("Issuer and subject combination already exists for this Managed Identity."),
    );
    // Re-putting the same FIC is an update, not a duplicate.
    assert_eq!(
        put("fic".into(), fic_body(iss, SUBJECT, json!([AUDIENCE])))
            .await
            .0,
        200
    );

    // At most 20 per identity (3 exist).
    for i in 3..20 {
        assert_eq!(
            put(
                format!("fic-{i}"),
                fic_body(iss, &format!("s-{i}"), json!([AUDIENCE]))
            )
            .await
            .0,
            201
        );
    }
    let r = put("fic-20".into(), fic_body(iss, "s-20", json!([AUDIENCE]))).await;
    assert_arm_error(&r, 400, "BadRequest", None);
    assert_eq!(
        emu.identity(RG, UAMI).unwrap().federated_credentials.len(),
        20
    );

    // A FIC under a missing identity.
    let r = call(
        &emu,
        "PUT",
        &fic_path("missing", "fic"),
        fic_body(iss, SUBJECT, json!([AUDIENCE])),
    )
    .await;
    assert_arm_error(&r, 404, "ResourceNotFound", None);
    let r = call(
        &emu,
        "GET",
        &format!("{}/federatedIdentityCredentials", identity_path("missing")),
        None,
    )
    .await;
    assert_arm_error(&r, 404, "ResourceNotFound", None);
}

#[tokio::test]
async fn state_file_round_trips_identities_fics_and_the_key_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let clock = ManualClock::starting_now();
    let mut cfg = config(&clock);
    cfg.state_file = Some(path.clone());
    let first = Emulator::new(cfg.clone()).unwrap();
    // Written at start, before any change, so the key survives.
    assert!(path.exists());
    let identity = first.put_identity(RG, UAMI, "westeurope").unwrap();
    call(
        &first,
        "PUT",
        &fic_path(UAMI, "idp"),
        fic_body("https://issuer.example/oidc", SUBJECT, json!([AUDIENCE])),
    )
    .await;
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["state.json"]);

    // A restart without a configured key loads it from the file (no new key is made).
    let mut again = config(&clock);
    again.state_file = Some(path.clone());
    again.signing_key = None;
    let second = Emulator::new(again).unwrap();
    assert_eq!(second.identities(), first.identities());
    assert_eq!(
        second.identity(RG, UAMI).unwrap().client_id,
        identity.client_id
    );
    assert_eq!(
        second
            .identity(RG, UAMI)
            .unwrap()
            .federated_credentials
            .len(),
        1
    );
    assert_eq!(second.signing_key().kid(), first.signing_key().kid());
    assert_eq!(second.jwks(), first.jwks());

    // Deletes persist too.
    second.delete_identity(RG, UAMI).unwrap();
    let third = Emulator::new(cfg).unwrap();
    assert!(third.identities().is_empty());
}

#[tokio::test]
async fn tokens_stay_verifiable_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let w = world_with(|c| c.state_file = Some(path.clone())).await;
    let (status, _, body) = w.token(&w.assertion()).await;
    assert_eq!(status, 200, "{body:#}");
    let token = body["access_token"].as_str().unwrap();
    let mut cfg = config(&w.clock);
    cfg.state_file = Some(path);
    cfg.signing_key = None;
    let restarted = Emulator::new(cfg).unwrap();
    let jwk = &restarted.jwks()["keys"][0];
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://vault.azure.net"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    // And the restarted emulator knows the same identity.
    let identity = restarted.identity(RG, UAMI).unwrap();
    assert_eq!(identity.client_id, w.identity.client_id);
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let private = |p: &std::path::Path| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap()
    };
    std::fs::write(&path, "{not json").unwrap();
    private(&path);
    let mut cfg = config(&ManualClock::starting_now());
    cfg.state_file = Some(path.clone());
    assert!(matches!(
        Emulator::new(cfg.clone()),
        Err(Error::InvalidState { reason, .. }) if !reason.contains("may read")
    ));
    std::fs::write(
        &path,
        r#"{"version":1,"signing_key":"nope","identities":[]}"#,
    )
    .unwrap();
    assert!(matches!(
        Emulator::new(cfg),
        Err(Error::InvalidState { reason, .. }) if !reason.contains("may read")
    ));
}

#[tokio::test]
async fn a_state_file_others_can_read_is_refused_like_a_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut cfg = config(&ManualClock::starting_now());
    cfg.state_file = Some(path.clone());
    let emu = Emulator::new(cfg.clone()).unwrap();
    emu.put_identity(RG, "uami", "westeurope").unwrap();
    assert!(path.exists());
    Emulator::new(cfg.clone()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        Emulator::new(cfg),
        Err(Error::InvalidState { reason, .. }) if reason.contains("group or others may read it (mode 0644)")
    ));
}

#[test]
fn config_is_checked() {
    let clock = ManualClock::starting_now();
    let mut bad = config(&clock);
    bad.tenant = "contoso.onmicrosoft.com".into();
    assert!(matches!(Emulator::new(bad), Err(Error::InvalidTenant(_))));
    let mut bad = config(&clock);
    bad.subscription = "sub".into();
    assert!(matches!(
        Emulator::new(bad),
        Err(Error::InvalidSubscription(_))
    ));
    let mut bad = config(&clock);
    bad.public_base_url = Some("login.example".into());
    assert!(matches!(
        Emulator::new(bad),
        Err(Error::InvalidBaseUrl { .. })
    ));
    let mut bad = config(&clock);
    bad.extra_roots = vec![b"not a pem".to_vec()];
    assert!(matches!(
        Emulator::new(bad),
        Err(Error::ExtraRoot { index: 0, .. })
    ));
    let ok: Config = config(&clock);
    let emu = Emulator::new(ok).unwrap();
    assert_eq!((emu.tenant(), emu.subscription()), (TENANT, SUBSCRIPTION));
    // The key is redacted in Debug output.
    let debug = format!("{:?}", emu.config());
    assert!(!debug.contains("PRIVATE KEY"));
    let pem = emu.signing_key().to_pkcs8_pem().unwrap();
    assert!(!format!("{emu:?}").contains(&pem[40..80]));
}

#[tokio::test]
async fn api_fic_spec_helper_matches_http() {
    let emu = emulator();
    emu.put_identity(RG, UAMI, "westeurope").unwrap();
    let fic = emu
        .put_federated_credential(
            RG,
            UAMI,
            "api-fic",
            FicSpec::new("https://issuer.example", SUBJECT, AUDIENCE),
        )
        .unwrap();
    let (_, _, got) = call(&emu, "GET", &fic_path(UAMI, "api-fic"), None).await;
    assert_eq!(got["properties"]["issuer"], fic.issuer);
    assert_eq!(got["properties"]["audiences"], json!(fic.audiences));
    let e = emu
        .put_federated_credential(
            RG,
            "missing",
            "api-fic",
            FicSpec::new("https://issuer.example", SUBJECT, AUDIENCE),
        )
        .unwrap_err();
    assert_eq!((e.status.as_u16(), e.code), (404, "ResourceNotFound"));
}

#[tokio::test]
async fn arm_is_as_strict_as_azure_on_groups_versions_and_locations() {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    // Nothing in a resource group that was not created: 404 ResourceGroupNotFound.
    let put = |path: String, body: Value| {
        let emu = emu.clone();
        async move { call(&emu, "PUT", &path, Some(body)).await }
    };
    let r = put(identity_path(UAMI), json!({"location": "westeurope"})).await;
    assert_arm_error(
        &r,
        404,
        "ResourceGroupNotFound",
        Some(&format!("Resource group '{RG}' could not be found.")),
    );
    let r = call(&emu, "GET", &identity_path(UAMI), None).await;
    assert_arm_error(&r, 404, "ResourceGroupNotFound", None);
    // Create it (ARM's PUT), read it back; its location is fixed once set.
    let group = format!("/subscriptions/{SUBSCRIPTION}/resourcegroups/{RG}?api-version=2021-04-01");
    let (s, _, g) = put(group.clone(), json!({"location": "West Europe"})).await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["location"], "westeurope");
    let (s, _, _) = put(group.clone(), json!({"location": "westeurope"})).await;
    assert_eq!(s, 200);
    assert_arm_error(
        &put(group.clone(), json!({"location": "northeurope"})).await,
        409,
        "InvalidResourceGroupLocation",
        None,
    );
    assert_arm_error(
        &put(group.clone(), json!({"location": "atlantis"})).await,
        400,
        "LocationNotAvailableForResourceType",
        None,
    );
    let (s, _, g) = call(&emu, "GET", &group, None).await;
    assert_eq!((s.as_u16(), g["name"].as_str().unwrap()), (200, RG));
    // Now the identity: an unknown location is refused, a known one normalised.
    assert_arm_error(
        &put(identity_path(UAMI), json!({"location": "atlantis"})).await,
        400,
        "LocationNotAvailableForResourceType",
        None,
    );
    let (s, _, created) = put(identity_path(UAMI), json!({"location": "North Europe"})).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["location"], "northeurope");
    // An api-version the provider does not publish: 400 NoRegisteredProviderFound.
    let r = call(
        &emu,
        "GET",
        &format!("{}?api-version=2023-01-30", identity_path(UAMI)),
        None,
    )
    .await;
    assert_arm_error(&r, 400, "NoRegisteredProviderFound", None);
    assert!(
        r.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2023-01-31")
    );
    // From 2024-11-30 an identity carries isolationScope; before, not.
    let (_, _, new) = call(
        &emu,
        "GET",
        &format!("{}?api-version=2024-11-30", identity_path(UAMI)),
        None,
    )
    .await;
    assert_eq!(new["properties"]["isolationScope"], "None");
    let (_, _, old) = call(&emu, "GET", &identity_path(UAMI), None).await;
    assert!(old["properties"].get("isolationScope").is_none(), "{old}");
}

#[tokio::test]
async fn concurrent_fic_writes_under_one_identity_are_409_and_serial_ones_pass() {
    let emu = emulator();
    for name in ["one", "two"] {
        let (s, _, b) = call(
            &emu,
            "PUT",
            &identity_path(name),
            Some(json!({"location": "westeurope"})),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let body = |sub: &str| {
        fic_body(
            "https://issuer.example/oidc",
            sub,
            json!(["api://AzureADTokenExchange"]),
        )
    };
    // Two at once under one identity: one is written, the other refused.
    let (pa, pb) = (fic_path("one", "fic-a"), fic_path("one", "fic-b"));
    let (a, b) = tokio::join!(
        call(&emu, "PUT", &pa, body("a")),
        call(&emu, "PUT", &pb, body("b")),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{:#} {:#}", a.2, b.2);
    let refused = if a.0 == 409 { &a } else { &b };
    assert_arm_error(
        refused,
        409,
        "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
        None,
    );
    assert!(
        refused.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one at a time")
    );
    // Under two identities at once: both written. One after the other: both written.
    let (pc, pd) = (fic_path("one", "fic-c"), fic_path("two", "fic-d"));
    let (a, b) = tokio::join!(
        call(&emu, "PUT", &pc, body("c")),
        call(&emu, "PUT", &pd, body("d")),
    );
    assert_eq!((a.0.as_u16(), b.0.as_u16()), (201, 201));
    let (s, _, _) = call(&emu, "PUT", &fic_path("one", "fic-e"), body("e")).await;
    assert_eq!(s, 201);
    let (s, _, _) = call(&emu, "PUT", &fic_path("one", "fic-f"), body("f")).await;
    assert_eq!(s, 201);
    // A delete counts as a write too.
    let (pe, pg) = (fic_path("one", "fic-e"), fic_path("one", "fic-g"));
    let (a, b) = tokio::join!(
        call(&emu, "DELETE", &pe, None),
        call(&emu, "PUT", &pg, body("g")),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert!(statuses.contains(&409), "{statuses:?}");
}
