//! The `exec` / `serve-assertions` endpoint's request handling (idp-broker `endpoint`):
//! the axum router driven in process with arbitrary method, path, query, headers and peer.
//!
//! Input: a byte choosing the method, a byte choosing the peer (loopback or not) and
//! whether remote peers are allowed, then lines: the request target (path and query), then
//! headers as `name: value`. A header value `$TOKEN` stands for this run's request token,
//! so the fuzzer can get past the bearer check.
//!
//! Properties: a 200 (the only answer with a token) only for the exact request token in
//! the first `Authorization: Bearer` header, from an admitted peer, for the customer's
//! audience, with the protocol's shape; no answer is cacheable; no refusal holds a token;
//! nothing answers 5xx.
#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use idp_broker::endpoint::router;
use idp_broker::signer::Signer;
use idp_core::assertion::{AssertionSpec, Audience, Lifetime, PrivateClaims, Subject};
use idp_core::secret::SecretString;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt as _;

const TOKEN: &str = "the-request-token-0123456789";

fn routers() -> &'static [axum::Router; 2] {
    static ROUTERS: OnceLock<[axum::Router; 2]> = OnceLock::new();
    ROUTERS.get_or_init(|| {
        let key = idp_core::keys::generate(2048)
            .unwrap()
            .into_signing_key(std::path::Path::new("k"))
            .unwrap();
        let spec = AssertionSpec {
            issuer: idp_core::Issuer::parse(idp_fuzz::ISSUER).unwrap(),
            subject: Subject::parse("s").unwrap(),
            audience: Audience::default(),
            lifetime: Lifetime::new(std::time::Duration::from_secs(600)).unwrap(),
            claims: PrivateClaims::parse(std::iter::empty()).unwrap(),
        };
        let signer = Arc::new(Signer::new(
            Arc::new(idp_core::signer::Signer::Local(key)),
            None,
            "exec",
            spec,
            None,
        ));
        [
            router(signer.clone(), SecretString::new(TOKEN), false),
            router(signer, SecretString::new(TOKEN), true),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let [m, p, rest @ ..] = data else {
        return;
    };
    let method = match m % 5 {
        0 | 1 => Method::GET,
        2 => Method::POST,
        3 => Method::PUT,
        _ => match Method::from_bytes(&rest[..rest.len().min(8)]) {
            Ok(m) => m,
            Err(_) => return,
        },
    };
    let peer: SocketAddr = match p % 4 {
        0 => "127.0.0.1:5000".parse().unwrap(),
        1 => "[::1]:5000".parse().unwrap(),
        2 => "127.8.9.10:1".parse().unwrap(),
        _ => "192.0.2.7:5000".parse().unwrap(),
    };
    let allow_remote = p & 4 != 0;
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let target = lines.next().unwrap_or_default();
    let mut request = Request::builder().method(method).uri(target);
    let mut first_auth: Option<Vec<u8>> = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim_start().replace("$TOKEN", TOKEN);
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            continue;
        };
        if name == header::AUTHORIZATION && first_auth.is_none() {
            first_auth = Some(value.as_bytes().to_vec());
        }
        request = request.header(name, value);
    }
    let Ok(mut request) = request.body(Body::empty()) else {
        return;
    };
    let query = query_pairs(request.uri());
    request.extensions_mut().insert(ConnectInfo(peer));
    let app = routers()[usize::from(allow_remote)].clone();
    let (status, cache, body) = idp_fuzz::runtime().block_on(async move {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let cache = response.headers().get(header::CACHE_CONTROL).cloned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, cache, body)
    });
    assert_eq!(cache.as_ref().map(|v| v.as_bytes()), Some(&b"no-store"[..]));
    assert!(!status.is_server_error(), "{status}");
    if status == StatusCode::METHOD_NOT_ALLOWED {
        // axum's own answer to a known path with another method: empty.
        assert!(body.is_empty());
        return;
    }
    let body: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&body)));
    if status == StatusCode::OK {
        let auth = first_auth.expect("a token was handed out without Authorization");
        assert!(auth.len() == 7 + TOKEN.len(), "{auth:?}");
        assert!(auth[..7].eq_ignore_ascii_case(b"bearer "), "{auth:?}");
        assert_eq!(&auth[7..], TOKEN.as_bytes());
        assert!(allow_remote || peer.ip().is_loopback());
        let token = body["value"].as_str().or(body["oidcToken"].as_str()).unwrap();
        assert!(token.starts_with("eyJ"));
        let audiences: Vec<&str> = query
            .iter()
            .filter(|(k, _)| k == "audience")
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(audiences.is_empty() || audiences == ["api://AzureADTokenExchange"]);
    } else {
        let message = body["message"].as_str().expect("a refusal says why");
        // A refusal may repeat what the client sent in its query (the audience it asked
        // for), never the request token from elsewhere.
        let echoed = query.iter().any(|(k, v)| k.contains(TOKEN) || v.contains(TOKEN));
        assert!(echoed || !message.contains(TOKEN), "{message}");
    }
});

/// The query's pairs, decoded as the endpoint's `Query` extractor decodes them.
fn query_pairs(uri: &axum::http::Uri) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|axum::extract::Query(v)| v)
        .unwrap_or_default()
}
