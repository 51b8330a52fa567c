//! The endpoints unchanged clients call besides the token endpoint: v1 tenant metadata,
//! MSAL's instance discovery, ARM's cloud metadata, and the subscriptions az login reads.

use crate::common::*;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use idp_emulator::{Config, Emulator, ManualClock};
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

/// The 2022-09-01 answer read as Terraform's go-azure-sdk reads it
/// (`sdk/internal/metadata`, `environments.FromEndpoint`): one object; `name`,
/// `resourceManager` and `microsoftGraphResourceId` not empty; the token URL made as
/// `{loginEndpoint}/{tenant}/oauth2/v2.0/token` with no doubled slash; the blob endpoint as
/// `https://{account}.blob.{suffixes.storage}`.
#[tokio::test]
async fn arms_cloud_metadata_as_terraform_reads_it() {
    let emu = emulator();
    let (s, _, cloud) = get(&emu, "/metadata/endpoints?api-version=2022-09-01", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(cloud.is_object(), "{cloud}");
    for field in ["name", "resourceManager", "microsoftGraphResourceId"] {
        assert!(!cloud[field].as_str().unwrap().is_empty(), "{field}");
    }
    let login = cloud["authentication"]["loginEndpoint"].as_str().unwrap();
    let token_url = format!("{login}/{TENANT}/oauth2/v2.0/token");
    assert_eq!(
        token_url,
        format!("https://127.0.0.1:8443/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(cloud["resourceManager"], "https://127.0.0.1:8443/");
    let blob = format!(
        "https://acct.blob.{}",
        cloud["suffixes"]["storage"].as_str().unwrap()
    );
    assert_eq!(blob, "https://acct.blob.core.windows.net");
    assert_eq!(cloud["suffixes"]["keyVaultDns"], "vault.azure.net");
}

/// The same answer read as the az CLI's `_arm_to_cli_mapper` reads it (`cloud.py`): an
/// object with `name`, `authentication.loginEndpoint`, `authentication.audiences[0]` (its
/// management resource) and a `suffixes` object; the older api-versions in their shapes.
#[tokio::test]
async fn arms_cloud_metadata_as_the_az_cli_reads_it_and_older_shapes() {
    let mut config = Config::new(TENANT, SUBSCRIPTION);
    config.storage_suffix = "idp.test:10443".into();
    config.cloud = idp_emulator::Cloud::UsGov;
    let emu = Emulator::new(config).unwrap();
    // az joins `--endpoint-resource-manager https://host/` and the path with two slashes.
    for path in ["/metadata/endpoints", "//metadata/endpoints"] {
        let (s, _, cloud) = get(&emu, &format!("{path}?api-version=2022-09-01"), None).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(cloud["name"].is_string());
        assert!(cloud["authentication"]["loginEndpoint"].is_string());
        assert_eq!(
            cloud["authentication"]["audiences"][0],
            "https://management.core.windows.net/"
        );
        assert!(cloud["suffixes"].is_object());
        assert_eq!(cloud["suffixes"]["storage"], "idp.test:10443");
        assert_eq!(cloud["suffixes"]["keyVaultDns"], "vault.usgovcloudapi.net");
    }
    for version in ["2019-05-01", "2020-06-01"] {
        let (_, _, list) = get(
            &emu,
            &format!("/metadata/endpoints?api-version={version}"),
            None,
        )
        .await;
        let clouds = list
            .as_array()
            .unwrap_or_else(|| panic!("{version}: {list}"));
        assert_eq!(clouds.len(), 1);
        assert_eq!(
            clouds[0]["authentication"]["loginEndpoint"],
            "https://127.0.0.1:8443/"
        );
    }
    for version in ["2015-01-01", "2018-01-01"] {
        let (_, _, legacy) = get(
            &emu,
            &format!("/metadata/endpoints?api-version={version}"),
            None,
        )
        .await;
        assert_eq!(
            legacy["authentication"]["loginEndpoint"],
            "https://127.0.0.1:8443/"
        );
        assert_eq!(legacy["galleryEndpoint"], "https://gallery.azure.com/");
        assert_eq!(
            legacy["graphAudience"].is_string(),
            version == "2018-01-01",
            "{version}"
        );
    }
    let (s, _, e) = get(&emu, "/metadata/endpoints?api-version=2030-01-01", None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidApiVersionParameter"))
    );
    let (s, _, e) = get(&emu, "/metadata/endpoints", None).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("MissingApiVersionParameter"))
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
