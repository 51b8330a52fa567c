//! Managed applications and `listTokens`: the publisher gets the application's identities'
//! tokens; anyone else is refused.

use crate::common::*;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use idp_emulator::{Emulator, ManualClock};
use serde_json::{Value, json};

const OTHER: &str = "60000000-0000-4000-8000-000000000006";
const DELEGATE: &str = "70000000-0000-4000-8000-000000000007";

async fn request(
    emu: &Emulator,
    method: &str,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let r = Request::builder()
        .method(method)
        .uri(format!("{path}?api-version=2021-07-01"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {bearer}"))
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    send(&emu.router(), r).await
}

fn arm_token(emu: &Emulator, oid: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    emu.signing_key()
        .sign(&json!({"aud": "https://management.azure.com/", "iss": emu.access_token_issuer(), "exp": now + 600, "oid": oid}))
        .unwrap()
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn list_tokens_serves_the_publisher_only() {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    let owner = emu
        .owner_token(std::time::Duration::from_secs(600))
        .unwrap();
    let uami = emu
        .put_identity("mrg", "app-identity", "westeurope")
        .unwrap();
    let loose = emu
        .put_identity("mrg", "not-attached", "westeurope")
        .unwrap();
    let id = emu.identity_resource_id(&uami);
    let app = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Solutions/applications/contoso-app"
    );
    let (s, _, a) = request(&emu, "PUT", &app, &owner, Some(json!({
        "location": "westeurope", "kind": "ServiceCatalog",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {id.clone(): {}}},
        "properties": {"managedResourceGroupId": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/mrg"),
                        "authorizations": [{"principalId": DELEGATE, "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}]}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, _, got) = request(&emu, "GET", &app, &owner, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        got["identity"]["userAssignedIdentities"].get(&id).is_some(),
        "{got}"
    );
    assert_eq!(got["id"], app.as_str());

    let list = format!("{app}/listTokens");
    let body =
        json!({"authorizationAudience": "https://vault.azure.net", "userAssignedIdentities": [id]});
    for caller in [owner.clone(), arm_token(&emu, DELEGATE)] {
        let (s, _, v) = request(&emu, "POST", &list, &caller, Some(body.clone())).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let t = &v["value"][0];
        assert_eq!(t["tokenType"], "Bearer");
        assert_eq!(t["resourceId"], id.as_str());
        assert_eq!(t["authorizationAudience"], "https://vault.azure.net");
        assert_eq!(t["expiresIn"], "86399");
        let c = claims(t["accessToken"].as_str().unwrap());
        assert_eq!(c["aud"], "https://vault.azure.net");
        assert_eq!(c["xms_mirid"], id.as_str());
        assert_eq!(c["appid"], uami.client_id.as_str());
    }
    // The default audience is ARM.
    let (_, _, v) = request(
        &emu,
        "POST",
        &list,
        &owner,
        Some(json!({"userAssignedIdentities": [id]})),
    )
    .await;
    assert_eq!(
        claims(v["value"][0]["accessToken"].as_str().unwrap())["aud"],
        "https://management.azure.com/"
    );
    // Anyone else: 403. An unknown application: 404.
    let (s, _, v) = request(
        &emu,
        "POST",
        &list,
        &arm_token(&emu, OTHER),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str().unwrap()),
        (StatusCode::FORBIDDEN, "AuthorizationFailed")
    );
    assert!(!v.to_string().contains("eyJ"));
    let (s, _, _) = request(
        &emu,
        "POST",
        &format!("{app}-gone/listTokens"),
        &owner,
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An identity not attached, or none named (no system-assigned identity here): 400.
    let loose_id = emu.identity_resource_id(&loose);
    for b in [json!({"userAssignedIdentities": [loose_id]}), json!({})] {
        let (s, _, v) = request(&emu, "POST", &list, &owner, Some(b)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    // Re-PUT by someone else keeps the publisher: they still cannot list.
    let (s, _, _) = request(&emu, "PUT", &app, &arm_token(&emu, OTHER), Some(json!({
        "location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {emu.identity_resource_id(&uami): {}}},
        "properties": {"managedResourceGroupId": "/subscriptions/x/resourceGroups/mrg"}}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = request(
        &emu,
        "POST",
        &list,
        &arm_token(&emu, OTHER),
        Some(json!({"userAssignedIdentities": [emu.identity_resource_id(&uami)]})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An identity that does not exist cannot be attached.
    let (s, _, _) = request(&emu, "PUT", &format!("{app}2"), &owner, Some(json!({
        "location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/mrg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope"): {}}},
        "properties": {"managedResourceGroupId": "/subscriptions/x/resourceGroups/mrg"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
