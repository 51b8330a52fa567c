//! The router in-process (`oneshot`): paths, headers, conditional requests, reload.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use idp_core::keyring::{KeyState, Keyring, entry_for};
use idp_core::metadata::{self, JwksPath};
use idp_core::{Issuer, keys};
use idp_server::{CacheControl, Site, SiteHandle, router};
use tower::ServiceExt;

fn ring_with(n: usize) -> Keyring {
    let t = time::OffsetDateTime::UNIX_EPOCH;
    Keyring {
        version: 1,
        keys: (0..n)
            .map(|i| {
                let state = if i == 0 {
                    KeyState::Active
                } else {
                    KeyState::Next
                };
                entry_for(&keys::generate(2048).unwrap(), state, t)
            })
            .collect(),
    }
}

fn site(issuer: &str, ring: &Keyring) -> (Site, metadata::Documents) {
    let issuer = Issuer::parse(issuer).unwrap();
    let docs = metadata::render(&issuer, &JwksPath::default(), ring).unwrap();
    (Site::new(&issuer, &docs), docs)
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn serves_the_rendered_bytes_at_the_issuer_paths() {
    let ring = ring_with(1);
    for (issuer, prefix) in [
        ("https://h/oidc", "/oidc"),
        ("https://h/oidc/", "/oidc"),
        ("https://h", ""),
    ] {
        let (site, docs) = site(issuer, &ring);
        let app = router(
            SiteHandle::new(site),
            &CacheControl::parse("public, max-age=300").unwrap(),
        );
        let (status, headers, body) = send(
            &app,
            get(&format!("{prefix}/.well-known/openid-configuration")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{issuer}");
        assert_eq!(body, docs.discovery);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(
            headers[header::CONTENT_LENGTH],
            docs.discovery.len().to_string()
        );
        let (status, _, body) = send(&app, get(&format!("{prefix}/.well-known/jwks.json"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, docs.jwks);
        let (status, _, _) = send(&app, get(&format!("{prefix}/.well-known/other"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn etag_gives_304_and_head_has_no_body() {
    let (site, docs) = site("https://h/oidc", &ring_with(1));
    let app = router(
        SiteHandle::new(site),
        &CacheControl::parse("no-cache").unwrap(),
    );
    let path = "/oidc/.well-known/jwks.json";
    let (_, headers, _) = send(&app, get(path)).await;
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let conditional = Request::get(path)
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&app, conditional).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG], etag.as_str());
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");

    let stale = Request::get(path)
        .header(header::IF_NONE_MATCH, "\"other\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, stale).await.0, StatusCode::OK);

    let head = Request::head(path).body(Body::empty()).unwrap();
    let (status, headers, body) = send(&app, head).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(headers[header::CONTENT_LENGTH], docs.jwks.len().to_string());

    let post = Request::post(path).body(Body::empty()).unwrap();
    let (status, headers, _) = send(&app, post).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (site, _) = site("https://h/oidc", &ring_with(1));
    let app = router(
        SiteHandle::new(site),
        &CacheControl::parse("no-cache").unwrap(),
    );
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"ok\n");
}

#[tokio::test]
async fn replacing_the_site_serves_the_new_keys_and_a_new_etag() {
    let one = ring_with(1);
    let (site1, _) = site("https://h/oidc", &one);
    let handle = SiteHandle::new(site1);
    let app = router(handle.clone(), &CacheControl::parse("no-cache").unwrap());
    let path = "/oidc/.well-known/jwks.json";
    let (_, h1, _) = send(&app, get(path)).await;

    let mut two = one.clone();
    two.add(entry_for(
        &keys::generate(2048).unwrap(),
        KeyState::Next,
        time::OffsetDateTime::UNIX_EPOCH,
    ))
    .unwrap();
    let (site2, docs2) = site("https://h/oidc", &two);
    handle.replace(site2);
    let (_, h2, body) = send(&app, get(path)).await;
    assert_eq!(body, docs2.jwks);
    assert_ne!(h1[header::ETAG], h2[header::ETAG]);
    // The old ETag no longer matches.
    let conditional = Request::get(path)
        .header(header::IF_NONE_MATCH, h1[header::ETAG].clone())
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, conditional).await.0, StatusCode::OK);
}

#[test]
fn a_bad_cache_control_is_refused() {
    for bad in ["bad\nvalue", "", "   ", "caf\u{e9}"] {
        let e = CacheControl::parse(bad).unwrap_err();
        assert_eq!(e.value, bad);
        use idp_core::diagnostic::Diagnostic as _;
        assert!(e.is_usage() && e.hint().unwrap().contains("public, max-age=300"));
    }
    assert_eq!(CacheControl::default().as_str(), "public, max-age=300");
    assert_eq!(
        CacheControl::parse("no-store").unwrap().as_str(),
        "no-store"
    );
}
