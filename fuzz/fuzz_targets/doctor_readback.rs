//! The discovery document and JWKS as `idp doctor` and publish's readback judge them
//! (idp-publish `doctor`, `readback`).
//!
//! Input: a byte of options (an extra CA was trusted; which content type was served),
//! then `discovery\0jwks`.
//!
//! Properties: `issuer` is ✓ only when the published issuer is the configured one byte for
//! byte; `keys` is ✓ only when every published key is RSA of 2048 bits or more with use
//! sig; `drift` is ✓ exactly when both documents are the rendered bytes, served as JSON;
//! `active key` is ✓ only when the active kid is published.
#![no_main]

use idp_core::Issuer;
use idp_core::keyring::KeyState;
use idp_core::metadata::{self, JwksPath};
use idp_fuzz::{ISSUER, keyring};
use idp_publish::doctor::{IssuerInputs, Status, issuer_findings};
use idp_publish::readback::{Fetched, Published, jwks_uri_of};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let (discovery, jwks) = idp_fuzz::split(rest, 0);
    let issuer = Issuer::parse(ISSUER).unwrap();
    let ring = keyring(&[KeyState::Active, KeyState::Next, KeyState::Retired]);
    let docs = metadata::render(&issuer, &JwksPath::default(), &ring).unwrap();
    let content_type = match options >> 1 & 3 {
        0 => Some("application/json".to_owned()),
        1 => Some("application/json; charset=utf-8".to_owned()),
        2 => None,
        _ => Some(String::from_utf8_lossy(&rest[..rest.len().min(20)]).into_owned()),
    };
    let fetched = |url: String, bytes: &[u8]| Fetched {
        url,
        bytes: bytes.to_vec(),
        content_type: content_type.clone(),
        cache_control: None,
    };
    let discovery = fetched(issuer.discovery_url(), discovery);
    let jwks_url = jwks_uri_of(&discovery).unwrap_or_else(|_| format!("{ISSUER}/jwks.json"));
    let published = Published {
        discovery,
        jwks: fetched(jwks_url, jwks),
    };
    let now = time::OffsetDateTime::from_unix_timestamp(idp_fuzz::NOW).unwrap();
    let findings = issuer_findings(
        IssuerInputs {
            issuer: &issuer,
            keyring: &ring,
            docs: &docs,
            now,
            min_published_age: std::time::Duration::from_secs(86_400),
            extra_ca: options & 1 != 0,
        },
        &Ok(published.clone()),
    );
    let ok = |check: &str| {
        findings
            .iter()
            .any(|f| f.check == check && f.status == Status::Ok)
    };
    let discovery_json: Value =
        serde_json::from_slice(&published.discovery.bytes).unwrap_or(Value::Null);
    if ok("issuer") {
        assert_eq!(discovery_json["issuer"].as_str(), Some(ISSUER));
    }
    let jwks_json: Value = serde_json::from_slice(&published.jwks.bytes).unwrap_or(Value::Null);
    let published_keys = jwks_json["keys"].as_array().cloned().unwrap_or_default();
    if ok("keys") {
        assert!(!published_keys.is_empty());
        for k in &published_keys {
            assert_eq!(k["kty"].as_str(), Some("RSA"), "{k}");
            assert_eq!(k["use"].as_str(), Some("sig"), "{k}");
            let n = idp_core::keys::RsaPublic {
                n: k["n"].as_str().unwrap().into(),
                e: String::new(),
            };
            assert!(n.bits() >= 2048, "{k}");
        }
    }
    let same = published.discovery.bytes == docs.discovery
        && published.jwks.bytes == docs.jwks
        && published.compare(&docs).is_empty();
    assert_eq!(ok("drift"), same, "{findings:?}");
    if ok("active key") {
        let active = &ring.active().unwrap().kid;
        assert!(
            published_keys
                .iter()
                .any(|k| k["kid"].as_str() == Some(active))
        );
    }
    for f in &findings {
        assert!(f.status == Status::Ok || f.fix.is_some(), "{f:?} has no fix");
    }
});
