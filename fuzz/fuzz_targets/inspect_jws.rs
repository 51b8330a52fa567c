//! A compact JWS through `idp inspect`'s decoding and checks (idp-core `inspect`).
//!
//! Input: a mode byte, then text. Mode bit 0 clear: the text is the token. Set: the text is
//! `header\0claims` (JSON, as the fuzzer wrote them), signed here with the keyring's active
//! key; bit 1 puts that key's `kid` in the header; bit 2 configures an audience; bits 3-7
//! move "now" by up to a day.
//!
//! Properties: whatever `inspect` calls a valid signature verifies, with OpenSSL, against
//! the keyring key its `kid` names (never another key, never a retired one); a token signed
//! by the active key with its `kid` is never called badly signed; a report that passes every
//! check names an RS256 token of the issuer, unexpired.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use idp_core::Issuer;
use idp_core::inspect::{check, decode};
use idp_core::keyring::KeyState;
use idp_fuzz::{ISSUER, NOW, keyring, keys};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let ring = keyring(&[KeyState::Active, KeyState::Retiring, KeyState::Retired]);
    let active = &keys().signing[0];
    let token = if mode & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let (header, claims) = idp_fuzz::split(rest, 0);
        let mut header = header.to_vec();
        if mode & 2 != 0
            && let Ok(Value::Object(mut h)) = serde_json::from_slice::<Value>(&header)
        {
            h.insert("kid".into(), active.kid().into());
            header = serde_json::to_vec(&h).unwrap();
        }
        let input = format!("{}.{}", B64URL.encode(&header), B64URL.encode(claims));
        let sig = active.sign_rs256(input.as_bytes());
        format!("{input}.{}", B64URL.encode(sig))
    };
    let now = NOW + i64::from(mode >> 3) * 2700;
    let issuer = Issuer::parse(ISSUER).unwrap();
    let audience = (mode & 4 != 0).then_some("api://custom");
    let Ok(decoded) = decode(&token) else {
        return;
    };
    let report = check(&decoded, &issuer, audience, &ring, now);
    let passed = |name: &str| report.checks.iter().any(|c| c.name == name && c.ok);
    let kid = decoded.header.get("kid").and_then(Value::as_str);
    let parts: Vec<&str> = token.trim().split('.').collect();
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    let signature = B64URL.decode(parts[2]).unwrap();

    if passed("signature") {
        let entry = ring
            .get(kid.expect("a verified token names its key"))
            .expect("a verified token's key is in the keyring");
        let key = idp_core::signer::public_key(&entry.public).unwrap();
        assert!(
            idp_core::signer::verifies(&key, signing_input.as_bytes(), &signature),
            "inspect called a signature valid that OpenSSL refuses: {token}"
        );
        assert!(passed("kid") || entry.state == KeyState::Retired);
    }
    if mode & 1 != 0 && kid == Some(active.kid()) {
        assert!(
            passed("signature"),
            "a token the active key signed was refused: {token} {:?}",
            report.checks
        );
    }
    if report.ok() {
        assert_eq!(decoded.header.get("alg").and_then(Value::as_str), Some("RS256"));
        assert_eq!(
            decoded.claims.get("iss").and_then(Value::as_str),
            Some(ISSUER)
        );
        let exp = decoded.claims.get("exp").and_then(Value::as_i64).unwrap();
        assert!(exp > now);
        let entry = ring.get(kid.unwrap()).unwrap();
        assert_ne!(entry.state, KeyState::Retired);
    }
});
