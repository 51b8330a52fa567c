//! The published JWKS as `publish-metadata`'s plan reads it (idp-publish `plan`): foreign
//! keys, keys without a kid, odd shapes and sizes.
//!
//! Input: a byte choosing the keyring (the states of three keys) and whether unknown keys
//! may be dropped, then the published JWKS's bytes.
//!
//! Properties: a plan never drops a kid it read without saying so: every kid of the
//! published JWKS is either in the new JWKS or in `kids_removed`; without
//! `--drop-unknown-keys` a plan drops only keys the keyring itself retired, and a refusal
//! names a kid that is really published.
#![no_main]

use idp_core::Issuer;
use idp_core::keyring::KeyState;
use idp_core::metadata::{self, JwksPath};
use idp_fuzz::{ISSUER, keyring, state};
use idp_publish::plan::{Allow, PlanError, Remote, plan, published_kids};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, jwks)) = data.split_first() else {
        return;
    };
    let ring = keyring(&[state(choice), state(choice >> 2), state(choice >> 4)]);
    if ring.keys.iter().filter(|k| k.state == KeyState::Active).count() > 1 {
        return;
    }
    let allow = Allow {
        drop_unknown_keys: choice & 0x40 != 0,
    };
    let issuer = Issuer::parse(ISSUER).unwrap();
    let Ok(local) = metadata::render(&issuer, &JwksPath::default(), &ring) else {
        return;
    };
    let remote = Remote {
        bytes: jwks.to_vec(),
        etag: "\"e\"".into(),
    };
    let read = published_kids(jwks);
    let local_kids: BTreeSet<&String> = local.kids.iter().collect();
    match plan(&local, &ring, Some(&remote), None, allow) {
        Ok(p) => {
            if let Ok(read) = &read {
                for kid in read {
                    assert!(
                        local_kids.contains(kid) || p.kids_removed.contains(kid),
                        "kid `{kid}` was published, is not in the new JWKS, and the plan does not say it goes"
                    );
                }
                for kid in &p.kids_removed {
                    assert!(read.contains(kid), "removes `{kid}`, which was not published");
                }
            } else {
                assert!(allow.drop_unknown_keys, "an unreadable JWKS was replaced unasked");
                assert!(p.kids_removed.is_empty());
            }
            for kid in &p.kids_removed {
                assert!(!local_kids.contains(kid));
                match ring.get(kid) {
                    Some(e) => assert_eq!(e.state, KeyState::Retired, "drops live key {kid}"),
                    None => assert!(allow.drop_unknown_keys, "drops unknown key {kid} unasked"),
                }
            }
        }
        Err(PlanError::DropsUnknownKey { kid }) | Err(PlanError::DropsLiveKey { kid, .. }) => {
            assert!(read.unwrap().contains(&kid));
        }
        Err(PlanError::UnreadableRemote { .. }) => {
            assert!(read.is_err() && !allow.drop_unknown_keys);
        }
        Err(PlanError::MissingActive { .. }) => panic!("the rendered JWKS lacks the active key"),
    }
});
