//! Key Vault over HTTP: vaults and role assignments through ARM, and the data plane's
//! secrets with Key Vault's challenge, audience check and RBAC.

use crate::common::*;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use idp_emulator::{Emulator, ManualClock};
use serde_json::{Value, json};

const PRINCIPAL: &str = "50000000-0000-4000-8000-000000000005";
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

fn vault_path(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/{name}"
    )
}

async fn request(
    emu: &Emulator,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut r = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8443")
        .header("content-type", "application/json");
    if let Some(b) = bearer {
        r = r.header("authorization", format!("Bearer {b}"));
    }
    let r = r
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    send(&emu.router(), r).await
}

fn owner(emu: &Emulator) -> String {
    emu.owner_token(std::time::Duration::from_secs(3600))
        .unwrap()
}

/// An access token this emulator signed for `aud`, for `oid`.
fn token(emu: &Emulator, aud: &str, oid: &str, exp_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    emu.signing_key()
        .sign(&json!({
            "aud": aud, "iss": emu.access_token_issuer(), "iat": now, "nbf": now,
            "exp": now + exp_in, "oid": oid, "appid": "c1", "tid": TENANT,
        }))
        .unwrap()
}

/// Creates the vault `name` of `sku` as the subscription's owner; returns its ARM body.
async fn put_vault(emu: &Emulator, name: &str, sku: &str) -> Value {
    let (s, _, v) = request(
        emu,
        "PUT",
        &format!("{}?api-version=2026-02-01", vault_path(name)),
        Some(&owner(emu)),
        Some(json!({"location": "westeurope", "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": sku}}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn vault_with_role(emu: &Emulator, role: Option<&str>) -> String {
    let v = put_vault(emu, "kv-test", "standard").await;
    assert_eq!(
        v["properties"]["vaultUri"],
        "https://127.0.0.1:8443/keyvault/kv-test/"
    );
    assert_eq!(
        v["properties"]["enableRbacAuthorization"], true,
        "the default from 2026-02-01"
    );
    if let Some(role) = role {
        let (s, _, a) = request(
            emu,
            "PUT",
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
                vault_path("kv-test"),
                "0a000000-0000-4000-8000-00000000000a"
            ),
            Some(&owner(emu)),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": PRINCIPAL, "principalType": "ServicePrincipal"}})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        assert_eq!(a["properties"]["scope"], vault_path("kv-test"));
    }
    "/keyvault/kv-test/secrets/greeting?api-version=7.5".into()
}

#[tokio::test]
async fn the_data_plane_challenges_then_checks_audience_and_role() {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    let secret = vault_with_role(&emu, Some(SECRETS_USER)).await;
    // No token: 401 and the challenge naming this emulator's authority and the resource.
    let (s, h, b) = request(&emu, "PUT", &secret, None, Some(json!({"value": "hi"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h["www-authenticate"],
        format!(
            "Bearer authorization=\"https://127.0.0.1:8443/{TENANT}\", resource=\"https://vault.azure.net\""
        )
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("AKV10000")
    );
    // ARM's token is not Key Vault's: 401 AKV10022 naming both audiences.
    let (s, _, b) = request(&emu, "GET", &secret, Some(&owner(&emu)), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let m = b["error"]["message"].as_str().unwrap();
    assert!(
        m.starts_with("AKV10022") && m.contains("https://management.azure.com/"),
        "{m}"
    );
    // Expired, and not signed here.
    let (s, _, b) = request(
        &emu,
        "GET",
        &secret,
        Some(&token(&emu, "https://vault.azure.net", PRINCIPAL, -10)),
        None,
    )
    .await;
    assert_eq!(
        (
            s,
            b["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("AKV10032")
        ),
        (StatusCode::UNAUTHORIZED, true)
    );
    let other = idp_emulator::SigningKey::generate().unwrap();
    let forged = other.sign(&json!({"aud": "https://vault.azure.net", "iss": emu.access_token_issuer(), "exp": i64::MAX / 2, "oid": PRINCIPAL})).unwrap();
    assert_eq!(
        request(&emu, "GET", &secret, Some(&forged), None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let kv = token(&emu, "https://vault.azure.net", PRINCIPAL, 600);
    // Secrets User may read but not write: 403 ForbiddenByRbac naming the action.
    let (s, _, b) = request(
        &emu,
        "PUT",
        &secret,
        Some(&kv),
        Some(json!({"value": "hi"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["error"]["innererror"]["code"], "ForbiddenByRbac");
    let m = b["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'")
            && m.contains(&format!("oid={PRINCIPAL}")),
        "{m}"
    );
    // Another principal: refused reading too.
    let stranger = token(
        &emu,
        "https://vault.azure.net",
        "60000000-0000-4000-8000-000000000006",
        600,
    );
    assert_eq!(
        request(&emu, "GET", &secret, Some(&stranger), None).await.0,
        StatusCode::FORBIDDEN
    );
    // A missing secret is 404 for a reader; no api-version is 400.
    let (s, _, b) = request(&emu, "GET", &secret, Some(&kv), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "SecretNotFound")
    );
    let (s, _, _) = request(
        &emu,
        "GET",
        "/keyvault/kv-test/secrets/greeting",
        Some(&kv),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // An unknown vault.
    let (s, _, b) = request(
        &emu,
        "GET",
        "/keyvault/nope/secrets/x?api-version=7.5",
        Some(&kv),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "VaultNotFound")
    );
}

#[tokio::test]
async fn a_secrets_officer_sets_and_reads_versions() {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    let secret = vault_with_role(&emu, Some(SECRETS_OFFICER)).await;
    let kv = token(&emu, "https://vault.azure.net/", PRINCIPAL, 600);
    let (s, _, first) = request(
        &emu,
        "PUT",
        &secret,
        Some(&kv),
        Some(json!({"value": "one"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let id = first["id"].as_str().unwrap();
    assert!(
        id.starts_with("https://127.0.0.1:8443/keyvault/kv-test/secrets/greeting/"),
        "{id}"
    );
    let (_, _, second) = request(
        &emu,
        "PUT",
        &secret,
        Some(&kv),
        Some(json!({"value": "two", "contentType": "text/plain"})),
    )
    .await;
    let (s, _, latest) = request(&emu, "GET", &secret, Some(&kv), None).await;
    assert_eq!(
        (s, latest["value"].as_str().unwrap()),
        (StatusCode::OK, "two")
    );
    assert_eq!(latest["contentType"], "text/plain");
    // The latest as the SDKs ask for it: an empty version.
    let (s, _, latest) = request(
        &emu,
        "GET",
        "/keyvault/kv-test/secrets/greeting/?api-version=7.5",
        Some(&kv),
        None,
    )
    .await;
    assert_eq!(
        (s, latest["value"].as_str().unwrap()),
        (StatusCode::OK, "two")
    );
    let version = id.rsplit('/').next().unwrap();
    let (_, _, old) = request(
        &emu,
        "GET",
        &format!("/keyvault/kv-test/secrets/greeting/{version}?api-version=7.5"),
        Some(&kv),
        None,
    )
    .await;
    assert_eq!(old["value"], "one");
    assert_ne!(second["id"], first["id"]);
    // 25 KiB is Key Vault's limit, not over it.
    let (s, _, b) = request(
        &emu,
        "PUT",
        &secret,
        Some(&kv),
        Some(json!({"value": "x".repeat(25 * 1024)})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // Bad names and values.
    for (uri, body) in [
        (
            "/keyvault/kv-test/secrets/bad_name?api-version=7.5",
            json!({"value": "x"}),
        ),
        (secret.as_str(), json!({"value": 5})),
        (secret.as_str(), json!({"value": "x".repeat(25 * 1024 + 1)})),
    ] {
        let (s, _, b) = request(&emu, "PUT", uri, Some(&kv), Some(body)).await;
        assert_eq!(
            (s, b["error"]["code"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_vault_with_access_policies_refuses_by_policy_and_arm_checks_its_inputs() {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    let put = |name: &'static str, body: Value, api: &'static str| {
        let emu = emu.clone();
        async move {
            request(
                &emu,
                "PUT",
                &format!("{}?api-version={api}", vault_path(name)),
                Some(&owner(&emu)),
                Some(body),
            )
            .await
        }
    };
    // Before 2026-02-01 a new vault uses access policies unless told otherwise.
    let (s, _, v) = put("kv-policy", json!({"location": "westeurope", "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "standard"}}}), "2023-07-01").await;
    assert_eq!(
        (s, v["properties"]["enableRbacAuthorization"].as_bool()),
        (StatusCode::CREATED, Some(false))
    );
    let kv = token(&emu, "https://vault.azure.net", PRINCIPAL, 600);
    let (s, _, b) = request(
        &emu,
        "GET",
        "/keyvault/kv-policy/secrets/x?api-version=7.5",
        Some(&kv),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["innererror"]["code"].as_str().unwrap()),
        (StatusCode::FORBIDDEN, "ForbiddenByPolicy")
    );
    let (s, _, b) = put("kv-bad", json!({"location": "westeurope"}), "2026-02-01").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    for props in [
        json!({"tenantId": TENANT}),
        json!({"sku": {"family": "A", "name": "standard"}}),
    ] {
        let (s, _, b) = put(
            "kv-bad",
            json!({"location": "westeurope", "properties": props}),
            "2026-02-01",
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("'tenantId' and 'sku'"),
            "{b}"
        );
    }
    let (s, _, b) = put(
        "k_v",
        json!({"location": "westeurope", "properties": {"tenantId": TENANT, "sku": {}}}),
        "2026-02-01",
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "VaultNameNotValid")
    );
    // A role assignment on a vault that does not exist, and one without a bearer.
    let path = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/0b000000-0000-4000-8000-00000000000b?api-version=2022-04-01",
        vault_path("missing")
    );
    let (s, _, _) = request(&emu, "PUT", &path, Some(&owner(&emu)), Some(json!({"properties": {"roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}"), "principalId": PRINCIPAL}}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = request(&emu, "PUT", &path, None, Some(json!({}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

const CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";

async fn assign(emu: &Emulator, role: &str, principal: &str, n: u32) {
    let (s, _, a) = request(
        emu,
        "PUT",
        &format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/0d000000-0000-4000-8000-{n:012}?api-version=2022-04-01",
            vault_path("kv-test")
        ),
        Some(&owner(emu)),
        Some(json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": principal}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
}

#[tokio::test]
async fn keys_are_created_read_and_used_to_sign_by_role() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    vault_with_role(&emu, Some(CRYPTO_OFFICER)).await;
    let user = "80000000-0000-4000-8000-000000000008";
    assign(&emu, CRYPTO_USER, user, 2).await;
    let officer = token(&emu, "https://vault.azure.net", PRINCIPAL, 600);
    let user_token = token(&emu, "https://vault.azure.net", user, 600);
    let create = "/keyvault/kv-test/keys/signing/create?api-version=7.5";
    // Only the officer creates.
    let (s, _, b) = request(
        &emu,
        "POST",
        create,
        Some(&user_token),
        Some(json!({"kty": "RSA"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["innererror"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("ForbiddenByRbac"))
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keys/create/action")
    );
    let (s, _, key) = request(
        &emu,
        "POST",
        create,
        Some(&officer),
        Some(json!({"kty": "RSA", "key_size": 2048})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    let kid = key["key"]["kid"].as_str().unwrap().to_owned();
    assert!(
        kid.starts_with("https://127.0.0.1:8443/keyvault/kv-test/keys/signing/"),
        "{kid}"
    );
    assert_eq!(key["key"]["kty"], "RSA");
    assert_eq!(key["attributes"]["exportable"], false);
    assert!(
        key["key"].get("d").is_none() && !key.to_string().contains("PRIVATE"),
        "no private half"
    );
    let version = kid.rsplit('/').next().unwrap();
    // The user reads it (latest and by version) and signs with it.
    let (s, _, latest) = request(
        &emu,
        "GET",
        "/keyvault/kv-test/keys/signing?api-version=7.5",
        Some(&user_token),
        None,
    )
    .await;
    assert_eq!(
        (s, latest["key"]["kid"].as_str().unwrap()),
        (StatusCode::OK, kid.as_str())
    );
    let (s, _, _) = request(
        &emu,
        "GET",
        &format!("/keyvault/kv-test/keys/signing/{version}?api-version=7.5"),
        Some(&user_token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let message = b"header.claims";
    let digest = openssl::sha::sha256(message);
    let sign = format!("/keyvault/kv-test/keys/signing/{version}/sign?api-version=7.5");
    let (s, _, signed) = request(
        &emu,
        "POST",
        &sign,
        Some(&user_token),
        Some(json!({"alg": "RS256", "value": b64.encode(digest)})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{signed}");
    assert_eq!(signed["kid"], kid.as_str());
    let n =
        openssl::bn::BigNum::from_slice(&b64.decode(key["key"]["n"].as_str().unwrap()).unwrap())
            .unwrap();
    let e =
        openssl::bn::BigNum::from_slice(&b64.decode(key["key"]["e"].as_str().unwrap()).unwrap())
            .unwrap();
    let public =
        openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::from_public_components(n, e).unwrap())
            .unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
    verifier.update(message).unwrap();
    assert!(
        verifier
            .verify(&b64.decode(signed["value"].as_str().unwrap()).unwrap())
            .unwrap()
    );
    // Someone without a role: 403; a wrong digest length or algorithm: 400; an unknown key: 404.
    let stranger = token(
        &emu,
        "https://vault.azure.net",
        "60000000-0000-4000-8000-000000000006",
        600,
    );
    let (s, _, _) = request(
        &emu,
        "POST",
        &sign,
        Some(&stranger),
        Some(json!({"alg": "RS256", "value": b64.encode(digest)})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for body in [
        json!({"alg": "RS256", "value": b64.encode([1u8; 20])}),
        json!({"alg": "ES256", "value": b64.encode(digest)}),
        json!({"alg": "RS256"}),
    ] {
        let (s, _, b) = request(&emu, "POST", &sign, Some(&user_token), Some(body.clone())).await;
        assert_eq!(
            (s, b["error"]["code"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, "BadParameter"),
            "{body}"
        );
    }
    let (s, _, b) = request(
        &emu,
        "GET",
        "/keyvault/kv-test/keys/nope?api-version=7.5",
        Some(&user_token),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "KeyNotFound")
    );
    // A second version, then the creation rules.
    let (_, _, again) = request(
        &emu,
        "POST",
        create,
        Some(&officer),
        Some(json!({"kty": "RSA"})),
    )
    .await;
    assert_ne!(again["key"]["kid"], kid.as_str());
    for (body, says) in [
        (json!({"kty": "RSA-HSM"}), "not allowed on standard vault"),
        (json!({"kty": "oct"}), "RSA, RSA-HSM, EC or EC-HSM"),
        (json!({"kty": "EC-HSM"}), "not allowed on standard vault"),
        (
            json!({"kty": "EC", "crv": "P-192"}),
            "P-256, P-384 or P-521",
        ),
        (
            json!({"kty": "RSA", "key_size": 1024}),
            "2048, 3072 or 4096",
        ),
        (
            json!({"kty": "RSA", "attributes": {"exportable": true}}),
            "must have release policy",
        ),
        (
            json!({"kty": "RSA", "attributes": {"exportable": true}, "release_policy": {"data": "e30"}}),
            "Only HSM-protected keys",
        ),
    ] {
        let (s, _, b) = request(&emu, "POST", create, Some(&officer), Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(says),
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_premium_vault_creates_hsm_keys() {
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    let v = put_vault(&emu, "kv-premium", "premium").await;
    assert_eq!(v["properties"]["sku"]["name"], "premium");
    let (s, _, a) = request(
        &emu,
        "PUT",
        &format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/0e000000-0000-4000-8000-00000000000e?api-version=2022-04-01",
            vault_path("kv-premium")
        ),
        Some(&owner(&emu)),
        Some(json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{CRYPTO_OFFICER}"),
            "principalId": PRINCIPAL}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let officer = token(&emu, "https://vault.azure.net", PRINCIPAL, 600);
    let (s, _, key) = request(
        &emu,
        "POST",
        "/keyvault/kv-premium/keys/hsm/create?api-version=7.5",
        Some(&officer),
        Some(json!({"kty": "RSA-HSM", "key_size": 3072})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    assert_eq!(key["key"]["kty"], "RSA-HSM");
    use base64::Engine as _;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["key"]["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len() * 8, 3072);
    assert_eq!(key["attributes"]["exportable"], false);
    // An exportable HSM key, with its release policy; nothing private in the answer.
    let (s, _, key) = request(
        &emu,
        "POST",
        "/keyvault/kv-premium/keys/released/create?api-version=7.5",
        Some(&officer),
        Some(json!({"kty": "RSA-HSM", "attributes": {"exportable": true}, "release_policy": {"data": "e30"}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    assert_eq!(key["attributes"]["exportable"], true);
    assert!(key["key"].get("d").is_none(), "{key}");
    // EC keys: the curve and the point, no RSA members; they do not sign RS256.
    for (crv, width) in [("P-256", 32), ("P-384", 48), ("P-521", 66)] {
        let (s, _, ec) = request(
            &emu,
            "POST",
            "/keyvault/kv-premium/keys/ec/create?api-version=7.5",
            Some(&officer),
            Some(json!({"kty": "EC-HSM", "crv": crv})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{ec}");
        assert_eq!(ec["key"]["kty"], "EC-HSM");
        assert_eq!(ec["key"]["crv"], crv);
        assert!(ec["key"].get("n").is_none(), "{ec}");
        for c in ["x", "y"] {
            let v = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(ec["key"][c].as_str().unwrap())
                .unwrap();
            assert_eq!(v.len(), width, "{crv} {c}");
        }
        assert_eq!(ec["key"]["key_ops"], json!(["sign", "verify"]));
    }
    // Signs a zero digest with the latest version of `name`.
    let sign_zero = async |name: &str| {
        let (_, _, key) = request(
            &emu,
            "GET",
            &format!("/keyvault/kv-premium/keys/{name}?api-version=7.5"),
            Some(&officer),
            None,
        )
        .await;
        let kid = key["key"]["kid"].as_str().unwrap();
        let version = kid.rsplit('/').next().unwrap();
        let zero = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0u8; 32]);
        let (s, _, b) = request(
            &emu,
            "POST",
            &format!("/keyvault/kv-premium/keys/{name}/{version}/sign?api-version=7.5"),
            Some(&officer),
            Some(json!({"alg": "RS256", "value": zero})),
        )
        .await;
        (s, b)
    };
    let (s, b) = sign_zero("ec").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("EC key"),
        "{b}"
    );
    // A key whose key_ops leave out `sign` cannot sign.
    request(
        &emu,
        "POST",
        "/keyvault/kv-premium/keys/verify-only/create?api-version=7.5",
        Some(&officer),
        Some(json!({"kty": "RSA", "key_ops": ["verify"]})),
    )
    .await;
    let (s, b) = sign_zero("verify-only").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["error"]["innererror"]["code"], "KeyOperationForbidden");
}

#[tokio::test]
async fn injected_vault_faults_answer_as_key_vault_throttles_and_are_counted_apart() {
    use idp_emulator::{Fault, FaultTarget};
    let emu = Emulator::new(config(&ManualClock::starting_now())).unwrap();
    emu.put_resource_group(RG, "westeurope").unwrap();
    put_vault(&emu, "kv-faults", "standard").await;
    emu.inject_faults_at(
        FaultTarget::Vault,
        Fault::TooManyRequests {
            retry_after: std::time::Duration::from_secs(7),
        },
        2,
    )
    .unwrap();
    assert_eq!(emu.pending_faults_at(FaultTarget::Vault), 2);
    assert_eq!(
        emu.pending_faults(),
        0,
        "the token endpoint is not throttled"
    );
    let officer = token(&emu, "https://vault.azure.net", PRINCIPAL, 600);
    for left in [1, 0] {
        let (s, h, b) = request(
            &emu,
            "GET",
            "/keyvault/kv-faults/keys/any?api-version=7.5",
            Some(&officer),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
        assert_eq!(h[axum::http::header::RETRY_AFTER], "7");
        assert_eq!(b["error"]["code"], "Throttled");
        assert_eq!(emu.pending_faults_at(FaultTarget::Vault), left);
    }
    // Then the vault answers again (the caller has no role here: 403).
    let (s, _, _) = request(
        &emu,
        "GET",
        "/keyvault/kv-faults/keys/any?api-version=7.5",
        Some(&officer),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
