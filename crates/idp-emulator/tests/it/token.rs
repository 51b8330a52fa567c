//! The token endpoint against a real HTTPS issuer: success, every AADSTS code, forged
//! assertions, the order of the checks, metadata caching, propagation and fault injection.

use crate::common::*;
use axum::body::Body;
use axum::extract::Request;
use idp_emulator::{Emulator, Fault, FicSpec};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use std::time::Duration;

async fn get(
    world: &World,
    path: &str,
    host: Option<&str>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::get(path);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    send(&world.router, request.body(Body::empty()).unwrap()).await
}

/// Verifies an access token with the JWKS the emulator serves over its router.
async fn verify_access_token(world: &World, token: &str, resource: &str) -> Value {
    let (status, _, config) = get(
        world,
        &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        Some("login.emulator.test:8443"),
    )
    .await;
    assert_eq!(status, 200);
    let jwks_uri = config["jwks_uri"].as_str().unwrap();
    let path = jwks_uri
        .strip_prefix("https://login.emulator.test:8443")
        .unwrap();
    let (status, _, jwks) = get(world, path, None).await;
    assert_eq!(status, 200);
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the access token's kid is in the served JWKS");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[resource]);
    validation.set_issuer(&[format!("https://sts.windows.net/{TENANT}/")]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the access token verifies with the served JWKS")
        .claims
}

#[tokio::test]
async fn v2_success_issues_an_access_token_verifiable_with_the_served_jwks() {
    let w = world().await;
    let assertion = w.assertion();
    let (status, headers, body) = w.token(&assertion).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(headers["cache-control"], "no-store, no-cache");
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), 4, "{body:#}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86399);
    assert_eq!(body["ext_expires_in"], 86399);
    let token = body["access_token"].as_str().unwrap();
    assert!(!token.contains(&assertion));

    let claims = verify_access_token(&w, token, "https://vault.azure.net").await;
    let id = &w.identity;
    assert_eq!(claims["aud"], "https://vault.azure.net");
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["oid"], id.principal_id.as_str());
    assert_eq!(claims["sub"], id.principal_id.as_str());
    assert_eq!(claims["appid"], id.client_id.as_str());
    // A v1.0 token: `appid`, no `azp`.
    assert_eq!(claims["ver"], "1.0");
    assert!(claims.get("azp").is_none(), "{claims}");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(
        claims["xms_mirid"],
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourcegroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{UAMI}"
        )
    );
    assert_eq!(claims["xms_mirid"], w.emulator.identity_resource_id(id));
    // About 24 h, issued five minutes back, as managed identities' tokens are.
    let now = w.now();
    assert_eq!(claims["iat"], now - 300);
    assert_eq!(claims["nbf"], now - 300);
    assert_eq!(claims["exp"], now + 86399);
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["x5t"], w.emulator.signing_key().x5t());
    assert_eq!(header["kid"], w.emulator.signing_key().kid());
}

#[tokio::test]
async fn v1_success_answers_with_string_times_and_the_resource() {
    let w = world().await;
    let assertion = w.assertion();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", w.identity.client_id.as_str()),
        ("client_assertion_type", idp_emulator::JWT_BEARER),
        ("client_assertion", assertion.as_str()),
        ("resource", "https://management.azure.com/"),
    ];
    let (status, _, body) = w.post(&format!("/{TENANT}/oauth2/token"), &form).await;
    assert_eq!(status, 200, "{body:#}");
    let now = w.now();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], "86399");
    assert_eq!(body["ext_expires_in"], "86399");
    assert_eq!(body["expires_on"], (now + 86399).to_string());
    assert_eq!(body["not_before"], (now - 300).to_string());
    assert_eq!(body["resource"], "https://management.azure.com/");
    let claims = verify_access_token(
        &w,
        body["access_token"].as_str().unwrap(),
        "https://management.azure.com/",
    )
    .await;
    assert_eq!(claims["appid"], w.identity.client_id.as_str());
}

#[tokio::test]
async fn an_extra_claims_field_and_a_client_request_id_are_accepted() {
    let w = world().await;
    let assertion = w.assertion();
    let mut form = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://vault.azure.net/.default",
    );
    form.push((
        "claims",
        r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#,
    ));
    let (status, _, body) = w.post_v2(&form).await;
    assert_eq!(status, 200, "{body:#}");

    // The correlation id comes back from client-request-id.
    let cid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form[..4])
        .finish();
    let request = Request::post(format!("/{TENANT}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("client-request-id", cid)
        .body(Body::from(body))
        .unwrap();
    let response = send(&w.router, request).await;
    assert_aadsts(&response, 900144, 400, "invalid_request");
    assert_eq!(response.2["correlation_id"], cid);
    assert_eq!(response.1["client-request-id"], cid);
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let w = world().await;
    let assertion = w.assertion();
    let form = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://vault.azure.net/.default",
    );
    let r = w
        .post(
            "/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
            &form,
        )
        .await;
    assert_aadsts(&r, 90002, 400, "invalid_request");
    let r = w.post("/contoso.onmicrosoft.com/oauth2/token", &form).await;
    assert_aadsts(&r, 90002, 400, "invalid_request");
    let (status, _, body) = get(
        &w,
        "/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_codes"], json!([90002]));
    // The tenant is a GUID, compared ignoring case.
    let r = w
        .post(
            &format!("/{}/oauth2/v2.0/token", TENANT.to_uppercase()),
            &form,
        )
        .await;
    assert_eq!(r.0, 200, "{:#}", r.2);
}

#[tokio::test]
async fn missing_parameters_are_900144() {
    let w = world().await;
    let assertion = w.assertion();
    let full = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://vault.azure.net/.default",
    );
    for name in ["grant_type", "client_id", "scope"] {
        let form: Vec<_> = full.iter().copied().filter(|(k, _)| *k != name).collect();
        let r = w.post_v2(&form).await;
        assert_aadsts(&r, 900144, 400, "invalid_request");
        assert!(
            r.2["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("'{name}'"))
        );
    }
    // An empty value counts as missing.
    let form: Vec<_> = full
        .iter()
        .map(|&(k, v)| if k == "client_id" { (k, "") } else { (k, v) })
        .collect();
    let r = w.post_v2(&form).await;
    assert_aadsts(&r, 900144, 400, "invalid_request");
    // v1 needs resource.
    let r = w.post(&format!("/{TENANT}/oauth2/token"), &full[..4]).await;
    assert_aadsts(&r, 900144, 400, "invalid_request");
    assert!(
        r.2["error_description"]
            .as_str()
            .unwrap()
            .contains("'resource'")
    );
    // A JSON body is no form at all.
    let request = Request::post(format!("/{TENANT}/oauth2/v2.0/token"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"grant_type":"client_credentials"}"#))
        .unwrap();
    assert_aadsts(
        &send(&w.router, request).await,
        900144,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn wrong_grant_type_is_unsupported_grant_type() {
    let w = world().await;
    let assertion = w.assertion();
    let mut form = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://vault.azure.net/.default",
    );
    form[0].1 = "password";
    let r = w.post_v2(&form).await;
    assert_aadsts(&r, 70003, 400, "unsupported_grant_type");
}

#[tokio::test]
async fn no_jwt_bearer_assertion_is_7000218() {
    let w = world().await;
    let assertion = w.assertion();
    let full = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://vault.azure.net/.default",
    );
    for name in ["client_assertion", "client_assertion_type"] {
        let form: Vec<_> = full.iter().copied().filter(|(k, _)| *k != name).collect();
        let r = w.post_v2(&form).await;
        assert_aadsts(&r, 7000218, 401, "invalid_client");
    }
    let mut form = full.clone();
    form[2].1 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer";
    let r = w.post_v2(&form).await;
    assert_aadsts(&r, 7000218, 401, "invalid_client");
    // A client secret is no assertion either.
    let mut form: Vec<_> = full[..3].to_vec();
    form.push(("client_secret", "s3cret"));
    form.push(full[4]);
    let r = w.post_v2(&form).await;
    assert_aadsts(&r, 7000218, 401, "invalid_client");
}

#[tokio::test]
async fn scopes_without_default_are_1002012_and_two_resources_70011() {
    let w = world().await;
    let assertion = w.assertion();
    for scope in [
        "https://vault.azure.net",
        "openid",
        "https://vault.azure.net/.default openid",
    ] {
        let form = v2_form(&w.identity.client_id, &assertion, scope);
        let r = w.post_v2(&form).await;
        assert_aadsts(&r, 1002012, 400, "invalid_scope");
    }
    let form = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://vault.azure.net/.default https://storage.azure.com/.default",
    );
    let r = w.post_v2(&form).await;
    assert_aadsts(&r, 70011, 400, "invalid_scope");
}

#[tokio::test]
async fn a_national_clouds_entra_has_no_principal_for_another_clouds_service_500011() {
    let w = world_with(|c| c.cloud = idp_emulator::Cloud::UsGov).await;
    let assertion = w.assertion();
    for scope in [
        "https://management.azure.com/.default",
        "https://management.azure.com//.default",
        "https://vault.azure.net/.default",
    ] {
        let form = v2_form(&w.identity.client_id, &assertion, scope);
        let r = w.post_v2(&form).await;
        assert_aadsts(&r, 500011, 400, "invalid_resource");
        let description = r.2["error_description"].as_str().unwrap();
        assert!(
            description.contains("The resource principal named https://"),
            "{description}"
        );
    }
    // Its own services, and those every cloud shares, pass this check.
    for scope in [
        "https://management.usgovcloudapi.net/.default",
        "https://storage.azure.com/.default",
    ] {
        let form = v2_form(&w.identity.client_id, &assertion, scope);
        let (status, _, body) = w.post_v2(&form).await;
        assert_eq!(status, axum::http::StatusCode::OK, "{scope}: {body}");
    }
    // The global cloud (the default) refuses US Government's.
    let w = world().await;
    let assertion = w.assertion();
    let form = v2_form(
        &w.identity.client_id,
        &assertion,
        "https://management.usgovcloudapi.net/.default",
    );
    assert_aadsts(&w.post_v2(&form).await, 500011, 400, "invalid_resource");
}

#[tokio::test]
async fn a_get_on_the_token_endpoint_is_900561() {
    let w = world().await;
    for path in [
        format!("/{TENANT}/oauth2/v2.0/token"),
        format!("/{TENANT}/oauth2/token"),
    ] {
        let request = axum::http::Request::builder()
            .method("GET")
            .uri(&path)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = send(&w.emulator.router(), request).await;
        assert_aadsts(&r, 900561, 400, "invalid_request");
        assert!(
            r.2["error_description"]
                .as_str()
                .unwrap()
                .contains("only accepts POST")
        );
    }
}

#[tokio::test]
async fn unknown_client_id_is_700016() {
    let w = world().await;
    let assertion = w.assertion();
    for client_id in [w.identity.principal_id.as_str(), "not-a-guid"] {
        let form = v2_form(client_id, &assertion, "https://vault.azure.net/.default");
        let r = w.post_v2(&form).await;
        assert_aadsts(&r, 700016, 400, "unauthorized_client");
    }
    // The client id is a GUID: case does not matter.
    let upper = w.identity.client_id.to_uppercase();
    let form = v2_form(&upper, &assertion, "https://vault.azure.net/.default");
    let r = w.post_v2(&form).await;
    assert_eq!(r.0, 200, "{:#}", r.2);
}

#[tokio::test]
async fn malformed_assertions_are_50027() {
    let w = world().await;
    let good = w.assertion();
    let header = b64(&json!({"alg": "RS256", "kid": "key-a"}));
    let mut no_exp = w.claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    let cases = [
        "not-a-jwt".to_owned(),
        good.splitn(3, '.').take(2).collect::<Vec<_>>().join("."),
        format!("{good}.extra"),
        format!("{header}.bm90IGpzb24.c2ln"),
        format!("{header}.{}.c2ln", b64(&json!(["array"]))),
        sign(&keys()[0], &no_exp),
    ];
    for assertion in &cases {
        let r = w.token(assertion).await;
        assert_aadsts(&r, 50027, 400, "invalid_request");
        assert!(!r.2.to_string().contains(assertion.as_str()));
    }
    for claim in ["iss", "sub", "aud"] {
        let mut claims = w.claims();
        claims.as_object_mut().unwrap().remove(claim);
        let r = w.token_with(&claims).await;
        assert_aadsts(&r, 50027, 400, "invalid_request");
    }
    assert_eq!(
        w.server.site.hits("/oidc/.well-known/openid-configuration"),
        0
    );
}

#[tokio::test]
async fn forged_algorithms_are_rejected_before_any_key_is_fetched() {
    let w = world().await;
    let claims = w.claims();
    let payload = b64(&claims);

    // alg: none, with and without a kid, with an empty signature.
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": "key-a"}),
    ] {
        let r = w.token(&format!("{}.{payload}.", b64(&header))).await;
        assert_aadsts(&r, 5002738, 400, "invalid_request");
        assert!(
            r.2["error_description"]
                .as_str()
                .unwrap()
                .contains("'none' is not a supported signature algorithm")
        );
    }
    // HS256 keyed with the issuer's public key (PEM and JWKS forms).
    for secret in [keys()[0].public_pem.clone(), keys()[0].jwk().to_string()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("key-a".into());
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap();
        let r = w.token(&forged).await;
        assert_aadsts(&r, 5002738, 400, "invalid_request");
        assert!(
            r.2["error_description"]
                .as_str()
                .unwrap()
                .contains("'HS256'")
        );
    }
    // Other RSA or EC algorithms, signature irrelevant.
    for alg in ["RS512", "PS256", "ES256", ""] {
        let r = w
            .token(&format!(
                "{}.{payload}.c2ln",
                b64(&json!({"alg": alg, "kid": "key-a"}))
            ))
            .await;
        assert_aadsts(&r, 5002738, 400, "invalid_request");
    }
    assert_eq!(
        w.server.site.hits("/oidc/.well-known/openid-configuration"),
        0
    );
    assert_eq!(w.server.site.hits("/oidc/jwks.json"), 0);
    // The real thing still works.
    assert_eq!(w.token(&w.assertion()).await.0, 200);
}

#[tokio::test]
async fn an_identity_without_federated_credentials_is_70025() {
    let w = world().await;
    let bare = w
        .emulator
        .put_identity(RG, "uami-bare", "westeurope")
        .unwrap();
    let assertion = w.assertion();
    let form = v2_form(
        &bare.client_id,
        &assertion,
        "https://vault.azure.net/.default",
    );
    let r = w.post_v2(&form).await;
    assert_aadsts(&r, 70025, 400, "invalid_request");
}

#[tokio::test]
async fn issuer_must_match_byte_for_byte_700211() {
    let w = world().await;
    for iss in [
        format!("{}/", w.issuer),
        w.issuer.to_uppercase(),
        format!(" {}", w.issuer),
        w.issuer.replace("127.0.0.1", "localhost"),
    ] {
        let mut claims = w.claims();
        claims["iss"] = json!(iss);
        let r = w.token_with(&claims).await;
        assert_aadsts(&r, 700211, 401, "invalid_client");
        assert!(
            r.2["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("issuer '{iss}'"))
        );
    }
    assert_eq!(
        w.server.site.hits("/oidc/.well-known/openid-configuration"),
        0
    );
}

#[tokio::test]
async fn trailing_slash_issuer_is_kept_exact_both_ways() {
    // A FIC written with a slash does not match an iss without one.
    let w = world().await;
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "idp",
            FicSpec::new(format!("{}/", w.issuer), SUBJECT, AUDIENCE),
        )
        .unwrap();
    let r = w.token(&w.assertion()).await;
    assert_aadsts(&r, 700211, 401, "invalid_client");
}

#[tokio::test]
async fn a_new_federated_credential_answers_70021_until_it_has_propagated() {
    let w = world_with(|c| c.propagation_delay = FIVE_MINUTES).await;
    let r = w.token(&w.assertion()).await;
    assert_aadsts(&r, 70021, 400, "invalid_request");
    assert_eq!(
        w.server.site.hits("/oidc/.well-known/openid-configuration"),
        0
    );
    w.clock.advance(FIVE_MINUTES - Duration::from_secs(1));
    let r = w.token(&w.assertion()).await;
    assert_aadsts(&r, 70021, 400, "invalid_request");
    w.clock.advance(Duration::from_secs(1));
    let (status, _, body) = w.token(&w.assertion()).await;
    assert_eq!(status, 200, "{body:#}");

    // A second FIC for the same issuer but another subject: the old one is visible, the
    // new one would match, so 70021 rather than a subject mismatch.
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "idp-2",
            FicSpec::new(&w.issuer, "workload-2", AUDIENCE),
        )
        .unwrap();
    let mut claims = w.claims();
    claims["sub"] = json!("workload-2");
    let r = w.token_with(&claims).await;
    assert_aadsts(&r, 70021, 400, "invalid_request");
    w.clock.advance(FIVE_MINUTES);
    let mut claims = w.claims();
    claims["sub"] = json!("workload-2");
    assert_eq!(w.token_with(&claims).await.0, 200);

    // Changing a FIC's subject restarts its window; an identical re-PUT does not.
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "idp-2",
            FicSpec::new(&w.issuer, "workload-2", AUDIENCE),
        )
        .unwrap();
    assert_eq!(w.token_with(&claims).await.0, 200);
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "idp-2",
            FicSpec::new(&w.issuer, "workload-3", AUDIENCE),
        )
        .unwrap();
    let mut claims = w.claims();
    claims["sub"] = json!("workload-3");
    assert_aadsts(&w.token_with(&claims).await, 70021, 400, "invalid_request");
}

async fn expect_90061(w: &World) {
    let r = w.token(&w.assertion()).await;
    assert_aadsts(&r, 90061, 400, "invalid_request");
}

#[tokio::test]
async fn unreachable_or_bad_discovery_is_90061() {
    let w = world().await;
    let path = "/oidc/.well-known/openid-configuration";
    let good = serde_json::to_vec(
        &json!({"issuer": w.issuer, "jwks_uri": format!("{}/jwks.json", w.issuer)}),
    )
    .unwrap();

    w.server.site.set(path, 404, "{}");
    expect_90061(&w).await;
    w.server.site.set(path, 500, good.clone());
    expect_90061(&w).await;
    w.server.site.set(path, 200, "not json");
    expect_90061(&w).await;
    w.server.site.set_json(path, &json!({"issuer": w.issuer}));
    expect_90061(&w).await;
    // A redirect to the right document is not followed.
    w.server.site.set(path, 302, good.clone());
    expect_90061(&w).await;
    // The discovery issuer must be the assertion's.
    w.server.site.set_json(
        path,
        &json!({"issuer": format!("{}/", w.issuer), "jwks_uri": format!("{}/jwks.json", w.issuer)}),
    );
    expect_90061(&w).await;
    // Bodies over the cap are refused.
    let mut big = json!({"issuer": w.issuer, "jwks_uri": format!("{}/jwks.json", w.issuer)});
    big["padding"] = json!("x".repeat(idp_emulator::MAX_BODY_BYTES));
    w.server.site.set_json(path, &big);
    expect_90061(&w).await;
    // The JWKS missing.
    w.server.site.set(path, 200, good.clone());
    w.server.site.set("/oidc/jwks.json", 404, "");
    expect_90061(&w).await;
    // Failures are not cached: fixed, it works at once.
    set_jwks(&w.server, "/oidc", &[&keys()[0]]);
    assert_eq!(w.token(&w.assertion()).await.0, 200);
}

#[tokio::test]
async fn an_untrusted_certificate_is_90061() {
    let server = https_server().await;
    let issuer = publish(&server, "/oidc", &[&keys()[0]]);
    let clock = idp_emulator::ManualClock::starting_now();
    let mut config = config(&clock);
    config.extra_roots.clear();
    let emulator = Emulator::new(config).unwrap();
    let identity = emulator.put_identity(RG, UAMI, "westeurope").unwrap();
    emulator
        .put_federated_credential(RG, UAMI, "idp", FicSpec::new(&issuer, SUBJECT, AUDIENCE))
        .unwrap();
    let now = clock.now_unix();
    let assertion = sign(
        &keys()[0],
        &json!({"iss": issuer, "sub": SUBJECT, "aud": AUDIENCE, "iat": now, "exp": now + 600}),
    );
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(v2_form(
            &identity.client_id,
            &assertion,
            "https://vault.azure.net/.default",
        ))
        .finish();
    let request = Request::post(format!("/{TENANT}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let r = send(&emulator.router(), request).await;
    assert_aadsts(&r, 90061, 400, "invalid_request");
    assert_eq!(
        server.site.hits("/oidc/.well-known/openid-configuration"),
        0
    );
}

#[tokio::test]
async fn an_issuer_served_over_plain_http_is_90061() {
    let w = world().await;
    let http = http_server().await;
    let http_issuer = publish(&http, "/oidc", &[&keys()[0]]);
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "plain",
            FicSpec::new(&http_issuer, SUBJECT, AUDIENCE),
        )
        .unwrap();
    let mut claims = w.claims();
    claims["iss"] = json!(http_issuer);
    let r = w.token_with(&claims).await;
    assert_aadsts(&r, 90061, 400, "invalid_request");
    assert_eq!(http.site.hits("/oidc/.well-known/openid-configuration"), 0);
}

#[tokio::test]
async fn a_jwks_served_over_plain_http_is_90061() {
    let w = world().await;
    let http = http_server().await;
    publish(&http, "/oidc", &[&keys()[0]]);
    let jwks_uri = format!("{}/oidc/jwks.json", http.origin);
    let discovery = json!({"issuer": w.issuer, "jwks_uri": jwks_uri});
    w.server
        .site
        .set_json("/oidc/.well-known/openid-configuration", &discovery);
    expect_90061(&w).await;
    // Also with the strict same-host rule on: http is refused whichever rule applies.
    let w2 = world_with(|c| c.require_same_host_jwks = true).await;
    w2.server.site.set_json(
        "/oidc/.well-known/openid-configuration",
        &json!({"issuer": w2.issuer, "jwks_uri": jwks_uri}),
    );
    expect_90061(&w2).await;
    assert_eq!(http.site.hits("/oidc/jwks.json"), 0);
}

#[tokio::test]
async fn a_jwks_on_another_host_is_accepted_unless_the_strict_rule_is_on() {
    // Entra's behaviour: a jwks_uri on another host works (Google's issuer).
    let w = world().await;
    let other = https_server().await;
    publish(&other, "/elsewhere", &[&keys()[0]]);
    w.server.site.set_json(
        "/oidc/.well-known/openid-configuration",
        &json!({"issuer": w.issuer, "jwks_uri": format!("{}/elsewhere/jwks.json", other.origin)}),
    );
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    // The strict reading, on request.
    let w2 = world_with(|c| c.require_same_host_jwks = true).await;
    w2.server.site.set_json(
        "/oidc/.well-known/openid-configuration",
        &json!({"issuer": w2.issuer, "jwks_uri": format!("{}/elsewhere/jwks.json", other.origin)}),
    );
    expect_90061(&w2).await;
}

#[tokio::test]
async fn an_unparseable_jwks_is_900612() {
    let w = world().await;
    for body in [
        "not json",
        r#"{"keys":"x"}"#,
        r#"{"jwks":[]}"#,
        r#"{"keys":[1]}"#,
    ] {
        w.server.site.set("/oidc/jwks.json", 200, body);
        let r = w.token(&w.assertion()).await;
        assert_aadsts(&r, 900612, 400, "invalid_request");
    }
    // The kid names a key that is not RSA.
    w.server.site.set_json(
        "/oidc/jwks.json",
        &json!({"keys": [{"kty": "EC", "kid": "key-a", "crv": "P-256", "x": "AA", "y": "AA"}]}),
    );
    assert_aadsts(
        &w.token(&w.assertion()).await,
        900612,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn kid_not_in_the_jwks_is_7000272() {
    let w = world().await;
    let claims = w.claims();
    // A kid the issuer never published, signed with an unpublished key.
    assert_aadsts(
        &w.token(&sign(&keys()[2], &claims)).await,
        7000272,
        401,
        "invalid_client",
    );
    // No kid at all.
    let no_kid = sign_with_header(&keys()[0], &json!({"alg": "RS256", "typ": "JWT"}), &claims);
    let r = w.token(&no_kid).await;
    assert_aadsts(&r, 7000272, 401, "invalid_client");
    assert!(
        r.2["error_description"]
            .as_str()
            .unwrap()
            .contains("The certificate with identifier  used")
    );
}

#[tokio::test]
async fn a_kid_from_another_issuer_is_7000272() {
    let w = world().await;
    // Issuer B on the same server publishes key B; the assertion claims issuer A.
    publish(&w.server, "/other", &[&keys()[1]]);
    let r = w.token(&sign(&keys()[1], &w.claims())).await;
    assert_aadsts(&r, 7000272, 401, "invalid_client");
}

#[tokio::test]
async fn only_the_first_hundred_keys_count() {
    let w = world().await;
    let mut published: Vec<TestKey> = (0..100)
        .map(|i| keys()[1].with_kid(&format!("filler-{i}")))
        .collect();
    published.push(keys()[0].clone());
    set_jwks(&w.server, "/oidc", &published.iter().collect::<Vec<_>>());
    assert_aadsts(
        &w.token(&w.assertion()).await,
        7000272,
        401,
        "invalid_client",
    );

    published.remove(0);
    set_jwks(&w.server, "/oidc", &published.iter().collect::<Vec<_>>());
    w.emulator.clear_metadata_cache();
    assert_eq!(w.token(&w.assertion()).await.0, 200);
}

#[tokio::test]
async fn a_bad_signature_is_50027_unauthorized() {
    let w = world().await;
    let claims = w.claims();
    // A valid signature by a key that is not the one the JWKS has under that kid.
    let impostor = keys()[2].with_kid("key-a");
    let r = w.token(&sign(&impostor, &claims)).await;
    assert_aadsts(&r, 50027, 401, "invalid_client");
    assert!(
        r.2["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "External ID token from issuer '{}' failed signature verification",
                w.issuer
            ))
    );
    // The payload changed after signing.
    let good = w.assertion();
    let parts: Vec<&str> = good.split('.').collect();
    let mut changed = claims.clone();
    changed["sub"] = json!("someone-else");
    let tampered = format!("{}.{}.{}", parts[0], b64(&changed), parts[2]);
    assert_aadsts(&w.token(&tampered).await, 50027, 401, "invalid_client");
    // The header changed after signing.
    let header = json!({"alg": "RS256", "kid": "key-a", "typ": "JWT", "x": 1});
    let tampered = format!("{}.{}.{}", b64(&header), parts[1], parts[2]);
    assert_aadsts(&w.token(&tampered).await, 50027, 401, "invalid_client");
    // One signature character changed (in the middle, so still valid base64url).
    let mut sig = parts[2].to_owned();
    let mid = sig.len() / 2;
    let flipped = if &sig[mid..=mid] == "A" { "B" } else { "A" };
    sig.replace_range(mid..=mid, flipped);
    let tampered = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert_aadsts(&w.token(&tampered).await, 50027, 401, "invalid_client");
}

#[tokio::test]
async fn audience_mismatch_is_700212() {
    let w = world().await;
    for aud in [
        json!("api://AzureADTokenExchangeUSGov"),
        json!("API://AzureADTokenExchange"),
        json!(["other"]),
    ] {
        let mut claims = w.claims();
        claims["aud"] = aud;
        assert_aadsts(&w.token_with(&claims).await, 700212, 401, "invalid_client");
    }
    // An array containing the audience is accepted.
    let mut claims = w.claims();
    claims["aud"] = json!(["other", AUDIENCE]);
    assert_eq!(w.token_with(&claims).await.0, 200);
}

#[tokio::test]
async fn subject_mismatch_is_700213_and_case_only_7002138() {
    let w = world().await;
    let mut claims = w.claims();
    claims["sub"] = json!("workload-2");
    assert_aadsts(&w.token_with(&claims).await, 700213, 401, "invalid_client");
    claims["sub"] = json!("Workload-1");
    assert_aadsts(&w.token_with(&claims).await, 7002138, 401, "invalid_client");
    claims["sub"] = json!("workload-1 ");
    assert_aadsts(&w.token_with(&claims).await, 700213, 401, "invalid_client");
}

#[tokio::test]
async fn expired_or_not_yet_valid_is_700024() {
    let w = world().await;
    let now = w.now();
    let mut claims = w.claims();
    claims["exp"] = json!(now);
    let r = w.token_with(&claims).await;
    assert_aadsts(&r, 700024, 401, "invalid_client");
    let d = r.2["error_description"].as_str().unwrap().to_owned();
    assert!(
        d.contains("Current time: ")
            && d.contains("assertion valid from ")
            && d.contains("expiry time of assertion "),
        "{d}"
    );

    let mut claims = w.claims();
    claims["nbf"] = json!(now + 30);
    assert_aadsts(&w.token_with(&claims).await, 700024, 401, "invalid_client");

    // A good assertion goes bad when the clock passes exp.
    let assertion = w.assertion();
    assert_eq!(w.token(&assertion).await.0, 200);
    w.clock.advance(Duration::from_secs(600));
    assert_aadsts(&w.token(&assertion).await, 700024, 401, "invalid_client");
}

#[tokio::test]
async fn clock_skew_is_configurable() {
    let w = world_with(|c| c.clock_skew = Duration::from_secs(60)).await;
    let mut claims = w.claims();
    claims["nbf"] = json!(w.now() + 30);
    assert_eq!(w.token_with(&claims).await.0, 200);
}

#[tokio::test]
async fn a_lifetime_over_25_hours_is_70023() {
    let w = world().await;
    let now = w.now();
    let mut claims = w.claims();
    claims["iat"] = json!(now);
    claims["exp"] = json!(now + 25 * 3600);
    assert_eq!(w.token_with(&claims).await.0, 200);
    claims["exp"] = json!(now + 25 * 3600 + 1);
    let r = w.token_with(&claims).await;
    assert_aadsts(&r, 70023, 400, "invalid_request");
    assert!(
        r.2["error_description"]
            .as_str()
            .unwrap()
            .contains("less than or equal to 1.01:00:00")
    );
    // Without iat, nbf is the start.
    let mut claims = w.claims();
    claims.as_object_mut().unwrap().remove("iat");
    claims["nbf"] = json!(now - 3600);
    claims["exp"] = json!(now + 24 * 3600 + 1);
    assert_aadsts(&w.token_with(&claims).await, 70023, 400, "invalid_request");
}

#[tokio::test]
async fn checks_run_in_entra_order() {
    let w = world().await;
    let code = |r: &(axum::http::StatusCode, axum::http::HeaderMap, Value)| {
        r.2["error_codes"][0].as_u64().unwrap()
    };
    let now = w.now();
    let bad_everything = sign(
        &keys()[2],
        &json!({"iss": format!("{}/", w.issuer), "sub": "x", "aud": "y", "iat": now - 100_000, "exp": now - 1}),
    );
    // Tenant before everything.
    let r = w
        .post(
            "/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
            &[],
        )
        .await;
    assert_eq!(code(&r), 90002);
    // Parameters before the client id.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
    ];
    assert_eq!(code(&w.post_v2(&form).await), 7000218);
    // Scope before the client id.
    let form = v2_form("nobody", &bad_everything, "openid");
    assert_eq!(code(&w.post_v2(&form).await), 1002012);
    // Client id before the assertion.
    let form = v2_form("nobody", "garbage", "https://vault.azure.net/.default");
    assert_eq!(code(&w.post_v2(&form).await), 700016);
    // Issuer before key, signature, audience, subject and time.
    assert_eq!(code(&w.token(&bad_everything).await), 700211);
    // Key before signature, audience, subject, time.
    let c = json!({"iss": w.issuer, "sub": "x", "aud": "y", "iat": now - 100_000, "exp": now - 1});
    assert_eq!(code(&w.token(&sign(&keys()[2], &c)).await), 7000272);
    // Signature before audience.
    assert_eq!(
        code(&w.token(&sign(&keys()[2].with_kid("key-a"), &c)).await),
        50027
    );
    // Audience before subject.
    assert_eq!(code(&w.token_with(&c).await), 700212);
    // Subject before time.
    let c =
        json!({"iss": w.issuer, "sub": "x", "aud": AUDIENCE, "iat": now - 100_000, "exp": now - 1});
    assert_eq!(code(&w.token_with(&c).await), 700213);
    // Validity before lifetime.
    let c = json!({"iss": w.issuer, "sub": SUBJECT, "aud": AUDIENCE, "iat": now - 100_000, "exp": now - 1});
    assert_eq!(code(&w.token_with(&c).await), 700024);
    let c = json!({"iss": w.issuer, "sub": SUBJECT, "aud": AUDIENCE, "iat": now - 100_000, "exp": now + 10});
    assert_eq!(code(&w.token_with(&c).await), 70023);
}

#[tokio::test]
async fn metadata_is_cached_for_the_ttl_so_a_late_key_is_7000272_until_it_expires() {
    let w = world_with(|c| c.metadata_ttl = Duration::from_secs(3600)).await;
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    assert_eq!(
        w.server.site.hits("/oidc/.well-known/openid-configuration"),
        1
    );
    assert_eq!(w.server.site.hits("/oidc/jwks.json"), 1);

    // Key B is published after Entra cached the JWKS.
    set_jwks(&w.server, "/oidc", &[&keys()[0], &keys()[1]]);
    let with_b = |w: &World| sign(&keys()[1], &w.claims());
    assert_aadsts(&w.token(&with_b(&w)).await, 7000272, 401, "invalid_client");
    w.clock.advance(Duration::from_secs(3599));
    assert_aadsts(&w.token(&with_b(&w)).await, 7000272, 401, "invalid_client");
    assert_eq!(w.server.site.hits("/oidc/jwks.json"), 1);
    w.clock.advance(Duration::from_secs(1));
    let (status, _, body) = w.token(&with_b(&w)).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(w.server.site.hits("/oidc/jwks.json"), 2);

    // Key A removed: still accepted from the cache until the next expiry.
    set_jwks(&w.server, "/oidc", &[&keys()[1]]);
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    w.clock.advance(Duration::from_secs(3600));
    assert_aadsts(
        &w.token(&w.assertion()).await,
        7000272,
        401,
        "invalid_client",
    );
}

#[tokio::test]
async fn injected_faults_answer_429_and_503_with_retry_after() {
    let w = world().await;
    w.emulator
        .inject_faults(
            Fault::TooManyRequests {
                retry_after: Duration::from_secs(1),
            },
            2,
        )
        .unwrap();
    assert_eq!(w.emulator.pending_faults(), 2);
    for _ in 0..2 {
        let r = w.token(&w.assertion()).await;
        assert_aadsts(&r, 90055, 429, "temporarily_unavailable");
        assert_eq!(r.1["retry-after"], "1");
    }
    assert_eq!(w.token(&w.assertion()).await.0, 200);

    // Over HTTP, for clients in another process.
    let request = Request::post("/_emulator/faults")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"status":503,"count":1,"retry_after":3}"#))
        .unwrap();
    assert_eq!(send(&w.router, request).await.0, 204);
    let r = w.token(&w.assertion()).await;
    assert_aadsts(&r, 90033, 503, "temporarily_unavailable");
    assert_eq!(r.1["retry-after"], "3");
    assert_eq!(w.token(&w.assertion()).await.0, 200);

    let request = Request::post("/_emulator/faults")
        .body(Body::from(r#"{"status":429,"count":5}"#))
        .unwrap();
    assert_eq!(send(&w.router, request).await.0, 204);
    let request = Request::delete("/_emulator/faults")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w.router, request).await.0, 204);
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    let request = Request::post("/_emulator/faults")
        .body(Body::from(r#"{"status":200}"#))
        .unwrap();
    assert_eq!(send(&w.router, request).await.0, 400);
}

#[tokio::test]
async fn absurd_fault_injections_are_refused_and_the_emulator_lives_on() {
    let w = world().await;
    let post = |body: &'static str| {
        Request::post("/_emulator/faults")
            .body(Body::from(body))
            .unwrap()
    };
    // Each of these once aborted the process on a huge allocation, or would hold a client
    // for hours.
    for body in [
        r#"{"status":429,"count":4294967295}"#,
        r#"{"status":429,"count":18446744073709551615}"#,
        r#"{"status":429,"count":100001}"#,
        r#"{"status":503,"count":1,"retry_after":3601}"#,
    ] {
        let (status, _, text) = send(&w.router, post(body)).await;
        assert_eq!(status, 400, "{body}");
        assert!(text.as_str().unwrap().contains("refused"), "{text}");
    }
    assert_eq!(w.emulator.pending_faults(), 0);
    // The largest allowed count costs one queue entry, and every request still counts.
    assert_eq!(
        send(&w.router, post(r#"{"status":429,"count":100000}"#))
            .await
            .0,
        204
    );
    assert_eq!(w.emulator.pending_faults(), 100_000);
    assert_eq!(w.token(&w.assertion()).await.0, 429);
    assert_eq!(w.emulator.pending_faults(), 99_999);
    // Injections pending at once are bounded too.
    w.emulator.clear_faults();
    let fault = Fault::TooManyRequests {
        retry_after: Duration::from_secs(1),
    };
    for _ in 0..idp_emulator::MAX_FAULT_RUNS {
        w.emulator.inject_faults(fault, 1).unwrap();
    }
    assert_eq!(
        w.emulator.inject_faults(fault, 1),
        Err(idp_emulator::FaultLimit::Runs)
    );
    assert_eq!(w.emulator.pending_faults(), idp_emulator::MAX_FAULT_RUNS);
}

#[tokio::test]
async fn own_discovery_uses_the_host_or_the_configured_base_url() {
    let w = world().await;
    let (status, headers, doc) = get(
        &w,
        &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        Some("127.0.0.1:9443"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "max-age=86400, private");
    let base = format!("https://127.0.0.1:9443/{TENANT}");
    assert_eq!(doc["issuer"], format!("{base}/v2.0"));
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/v2.0/token"));
    assert_eq!(doc["jwks_uri"], format!("{base}/discovery/v2.0/keys"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );

    let w2 = world_with(|c| c.public_base_url = Some("https://login.example.test/".into())).await;
    let (_, _, doc) = get(
        &w2,
        &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
        Some("ignored:1"),
    )
    .await;
    assert_eq!(
        doc["token_endpoint"],
        format!("https://login.example.test/{TENANT}/oauth2/v2.0/token")
    );

    let (status, _, jwks) = get(&w, &format!("/{TENANT}/discovery/v2.0/keys"), None).await;
    assert_eq!(status, 200);
    assert_eq!(jwks, w.emulator.jwks());
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], w.emulator.signing_key().kid());
    for field in ["kty", "use", "kid", "n", "e", "alg"] {
        assert!(key[field].is_string(), "{field}");
    }
}

#[tokio::test]
async fn latency_is_added_to_each_token_response() {
    let w = world_with(|c| c.latency = Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    assert_eq!(w.token(&w.assertion()).await.0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "each response"
    );
}

#[tokio::test]
async fn a_pending_fic_for_another_subject_does_not_hide_an_audience_mismatch() {
    let w = world_with(|c| c.propagation_delay = FIVE_MINUTES).await;
    w.clock.advance(FIVE_MINUTES);
    // The visible FIC trusts the issuer for another audience; a new (pending) one trusts
    // it for another subject. Neither could ever match: 700212, not "still propagating".
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "idp",
            FicSpec::new(&w.issuer, SUBJECT, "api://other-audience"),
        )
        .unwrap();
    w.clock.advance(FIVE_MINUTES);
    w.emulator
        .put_federated_credential(
            RG,
            UAMI,
            "idp-2",
            FicSpec::new(&w.issuer, "someone-else", AUDIENCE),
        )
        .unwrap();
    let r = w.token(&w.assertion()).await;
    assert_aadsts(&r, 700212, 401, "invalid_client");
}

#[tokio::test]
async fn an_assertion_valid_from_this_very_second_is_accepted() {
    let w = world().await;
    let mut claims = w.claims();
    claims["nbf"] = json!(w.now());
    assert_eq!(w.token_with(&claims).await.0, 200);
    claims["nbf"] = json!(w.now() + 1);
    assert_aadsts(&w.token_with(&claims).await, 700024, 401, "invalid_client");
}
