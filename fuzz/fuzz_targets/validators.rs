//! The validators of what a user or a file gives idp: the issuer, a subject, an audience,
//! a duration, a FIC's and a managed identity's names, a resource id, a Key Vault key id.
//!
//! Input: a byte choosing the validator, then the text.
//!
//! Properties: a validated issuer renders back byte for byte, and is the discovery
//! document's `issuer` and the `iss` idp signs exactly; subjects and audiences are kept as
//! written; a duration that parses formats to text that parses back to it (whole seconds);
//! names that validate follow ARM's rule; ids that parse render to text that parses to the
//! same id.
#![no_main]

use idp_core::Issuer;
use idp_core::assertion::{Audience, Subject};
use idp_core::keyring::KeyState;
use idp_core::metadata::{self, JwksPath};
use idp_template::names::{FicName, IdentityName};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fn url_friendly(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (3..=max).contains(&n)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 8 {
        0 => {
            if let Ok(issuer) = Issuer::parse(s) {
                assert_eq!(issuer.as_str(), s);
                assert_eq!(issuer.to_string(), s);
                assert!(s.starts_with("https://") && s.len() <= 600);
                let ring = idp_fuzz::keyring(&[KeyState::Active]);
                let docs = metadata::render(&issuer, &JwksPath::default(), &ring).unwrap();
                let discovery: serde_json::Value = serde_json::from_slice(&docs.discovery).unwrap();
                assert_eq!(discovery["issuer"].as_str(), Some(s));
                let jwks_uri = discovery["jwks_uri"].as_str().unwrap();
                assert!(jwks_uri.starts_with(s.trim_end_matches('/')), "{jwks_uri}");
                assert!(issuer.discovery_url().starts_with(s.trim_end_matches('/')));
            }
        }
        1 => {
            if let Ok(sub) = Subject::parse(s) {
                assert_eq!(sub.as_str(), s);
                assert!(!s.is_empty() && s.trim() == s);
            }
        }
        2 => {
            if let Ok(aud) = Audience::parse(s) {
                assert_eq!(aud.as_str(), s);
                assert!(!s.is_empty() && s.trim() == s);
            }
        }
        3 => {
            if let Ok(d) = idp_core::duration::parse(s) {
                let text = idp_core::duration::format(d);
                let again = idp_core::duration::parse(&text)
                    .unwrap_or_else(|e| panic!("{d:?} formats as {text:?}, which does not parse: {e}"));
                assert_eq!(again, Duration::from_secs(d.as_secs()), "{s:?} → {text:?}");
            }
        }
        4 => {
            if let Ok(n) = FicName::parse(s) {
                assert_eq!(n.as_str(), s);
                assert!(url_friendly(s, 120), "{s:?}");
            } else {
                assert!(!url_friendly(s, 120), "{s:?}");
            }
        }
        5 => {
            if let Ok(n) = IdentityName::parse(s) {
                assert_eq!(n.as_str(), s);
                assert!(url_friendly(s, 128), "{s:?}");
            } else {
                assert!(!url_friendly(s, 128), "{s:?}");
            }
        }
        6 => {
            if let Ok(id) = idp_core::azure_id::IdentityId::parse(s) {
                // As idp-arm writes the path of the identity it reads.
                let path = format!(
                    "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
                    id.subscription, id.resource_group, id.name
                );
                let again = idp_core::azure_id::IdentityId::parse(&path)
                    .unwrap_or_else(|e| panic!("{s:?} renders as {path}, which does not parse: {e}"));
                assert_eq!(again, id);
            }
        }
        _ => {
            if let Ok(id) = idp_core::vault_key::VaultKeyId::parse(s) {
                let again = idp_core::vault_key::VaultKeyId::parse(&id.to_string())
                    .unwrap_or_else(|e| panic!("{s:?} renders as {id}, which does not parse: {e}"));
                assert_eq!(again, id);
                assert_eq!(again.to_string(), id.to_string());
            }
        }
    }
});
