//! The endpoints unchanged clients call besides the token endpoint: v1 tenant metadata,
//! MSAL's instance discovery, ARM's cloud metadata, and the subscriptions az login reads.

use crate::common::*;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use idp_emulator::{Emulator, ManualClock};
use serde_json::Value;

async fn get(emu: &Emulator, uri: &str, bearer: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut r = Request::builder().uri(uri).header("host", "127.0.0.1:8443");
    if let Some(b) = bearer {
        r = r.header("authorization", format!("Bearer {b}"));
    }
    send(&emu.router(), r.body(Body::empty()).unwrap()).await
}

fn emulator() -> Emulator {
    Emulator::new(config(&ManualClock::starting_now())).unwrap()
}

#[tokio::test]
async fn v1_tenant_metadata_names_the_sts_issuer_and_its_keys() {
    let emu = emulator();
    let (s, _, doc) = get(
        &emu,
        &format!("/{TENANT}/.well-known/openid-configuration"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(
        doc["jwks_uri"],
        format!("https://127.0.0.1:8443/{TENANT}/discovery/keys")
    );
    assert_eq!(
        doc["token_endpoint"],
        format!("https://127.0.0.1:8443/{TENANT}/oauth2/token")
    );
    let (s, _, keys) = get(&emu, &format!("/{TENANT}/discovery/keys"), None).await;
    assert_eq!(s, StatusCode::OK);
    let key = &keys["keys"][0];
    assert_eq!(key["kid"], emu.signing_key().kid());
    assert_eq!(key["x5t"], emu.signing_key().x5t());
    assert!(key["x5c"][0].as_str().unwrap().len() > 500);
    // Another tenant: Entra's 90002.
    let (s, _, body) = get(
        &emu,
        "/00000000-0000-0000-0000-000000000000/.well-known/openid-configuration",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 90002);
}

#[tokio::test]
async fn msals_instance_discovery_points_at_this_host() {
    let emu = emulator();
    let uri = format!(
        "/common/discovery/instance?api-version=1.1&authorization_endpoint=https%3A%2F%2F127.0.0.1%3A8443%2F{TENANT}%2Foauth2%2Fv2.0%2Fauthorize"
    );
    let (s, _, body) = get(&emu, &uri, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body["tenant_discovery_endpoint"],
        format!("https://127.0.0.1:8443/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    assert_eq!(body["api-version"], "1.1");
    assert_eq!(body["metadata"][0]["aliases"][0], "127.0.0.1:8443");
    assert_eq!(body["metadata"][0]["preferred_network"], "127.0.0.1:8443");
}

#[tokio::test]
async fn arms_cloud_metadata_in_both_shapes() {
    let emu = emulator();
    let (s, _, list) = get(&emu, "/metadata/endpoints?api-version=2022-09-01", None).await;
    assert_eq!(s, StatusCode::OK);
    let cloud = &list[0];
    assert_eq!(
        cloud["authentication"]["loginEndpoint"],
        "https://127.0.0.1:8443/"
    );
    assert_eq!(cloud["resourceManager"], "https://127.0.0.1:8443/");
    assert_eq!(cloud["suffixes"]["keyVaultDns"], "vault.azure.net");
    let (_, _, one) = get(&emu, "/metadata/endpoints?api-version=2019-05-01", None).await;
    assert!(one.is_object(), "{one}");
    assert_eq!(
        one["authentication"]["audiences"][1],
        "https://management.azure.com/"
    );
}

#[tokio::test]
async fn subscriptions_are_listed_and_read_with_an_arm_token() {
    let emu = emulator();
    let owner = emu
        .owner_token(std::time::Duration::from_secs(600))
        .unwrap();
    let (s, _, list) = get(&emu, "/subscriptions?api-version=2022-12-01", Some(&owner)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["value"][0]["subscriptionId"], SUBSCRIPTION);
    assert_eq!(list["value"][0]["tenantId"], TENANT);
    assert_eq!(list["value"][0]["state"], "Enabled");
    let (s, _, one) = get(
        &emu,
        &format!("/subscriptions/{SUBSCRIPTION}?api-version=2022-12-01"),
        Some(&owner),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["id"], format!("/subscriptions/{SUBSCRIPTION}"));
    let (s, _, body) = get(
        &emu,
        "/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01",
        Some(&owner),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "SubscriptionNotFound")
    );
    let (s, _, body) = get(&emu, "/subscriptions?api-version=2022-12-01", None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "AuthenticationFailed")
    );
    let (s, _, body) = get(&emu, "/subscriptions", Some(&owner)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "MissingApiVersionParameter")
    );
}
