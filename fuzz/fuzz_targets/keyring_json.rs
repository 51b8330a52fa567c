//! `keyring.json` as idp-core reads it (`Keyring::parse`), then what idp does with a
//! keyring it read: render the JWKS, check and make rotations.
//!
//! Input: a byte of choices (which key to activate or retire, how far "now" moves), then
//! the file's bytes.
//!
//! Properties: a keyring that parses has at most one active key and writes back to the
//! same keyring; the JWKS rendered from it carries exactly its published keys, the active
//! one first; a rotation it allows leaves a keyring that parses again, with one active key
//! after an activation; checking a rotation never panics, whatever the recorded times.
#![no_main]

use idp_core::Issuer;
use idp_core::keyring::{KeyState, Keyring};
use idp_core::metadata::{self, JwksPath};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, bytes)) = data.split_first() else {
        return;
    };
    let path = Path::new("keyring.json");
    let Ok(ring) = Keyring::parse(bytes, path) else {
        return;
    };
    let active = ring.keys.iter().filter(|k| k.state == KeyState::Active).count();
    assert!(active <= 1);
    let written = serde_json::to_vec_pretty(&ring).unwrap();
    assert_eq!(Keyring::parse(&written, path).expect("what idp writes, it reads"), ring);

    let issuer = Issuer::parse(idp_fuzz::ISSUER).unwrap();
    if let Ok(docs) = metadata::render(&issuer, &JwksPath::default(), &ring) {
        let published: Vec<String> = ring.published().iter().map(|k| k.kid.clone()).collect();
        assert_eq!(docs.kids, published);
        if let Some(a) = ring.active() {
            assert_eq!(docs.kids[0], a.kid);
        }
    }

    if ring.keys.is_empty() {
        return;
    }
    let now = time::OffsetDateTime::from_unix_timestamp(idp_fuzz::NOW).unwrap()
        + time::Duration::days(i64::from(choice >> 4) * 700 - 5000);
    let kid = ring.keys[usize::from(choice & 7) % ring.keys.len()].kid.clone();
    let kids = ring.keys.iter().map(|k| k.kid.clone()).collect();
    let _ = ring.check_retirement(&kid, now);
    let _ = ring.check_activation(&kid, &kids, "https://h/jwks", std::time::Duration::from_secs(86_400), now);
    let mut rotated = ring.clone();
    let done = if choice & 8 == 0 {
        rotated.activate(&kid, now).is_ok()
    } else {
        rotated.retire(&kid, now).is_ok()
    };
    if done {
        let again = Keyring::parse(&serde_json::to_vec(&rotated).unwrap(), path)
            .expect("a rotation leaves a valid keyring");
        if choice & 8 == 0 {
            assert_eq!(again.active().map(|k| k.kid.as_str()), Some(kid.as_str()));
        }
    }
    let mut recorded = ring.clone();
    recorded.record_published(&kids, now);
});
