//! ARM's answers as idp reads them (idp-arm): a user-assigned identity, its federated
//! credentials, a managed application's `listTokens`, and ARM's error bodies; then the FIC
//! idp would pick among those it read (`choose_fic`).
//!
//! Input: a byte choosing the answer, the status (two bytes), the body.
//!
//! Properties: no error message holds a JWT-looking segment or a secret parameter's value
//! (ARM's messages may echo a request); at most 20 FICs and 100 tokens are kept, and a
//! token's `Debug` never shows it; a chosen FIC trusts the issuer byte for byte with
//! exactly the one audience asked for, and the subject when one is asked for.
#![no_main]

use idp_arm::{choose_fic, parse_fics, parse_identity, parse_list_tokens, read_answer};
use idp_fuzz::{ISSUER, assert_no_secret};
use libfuzzer_sys::fuzz_target;

const AUD: &str = "api://AzureADTokenExchange";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (status, body) = idp_fuzz::status(rest);
    let path = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u";
    let value = match read_answer(path, status, body) {
        Ok(v) => {
            assert!((200..300).contains(&status));
            v
        }
        Err(e) => {
            assert_no_secret("ARM's error", &e.to_string());
            return;
        }
    };
    match which % 3 {
        0 => {
            if let Err(e) = parse_identity(path, &value) {
                assert_no_secret("ARM's error", &e.to_string());
            }
        }
        1 => match parse_fics(path, &value) {
            Ok(fics) => {
                assert!(fics.len() <= 20);
                let subject = fics.get(usize::from(which >> 2) % 3).map(|f| f.subject.as_str());
                for subject in [None, subject] {
                    if let Ok(f) = choose_fic(&fics, ISSUER, AUD, subject) {
                        assert_eq!(f.issuer, ISSUER);
                        assert_eq!(f.audiences, [AUD]);
                        if let Some(s) = subject {
                            assert_eq!(f.subject, s);
                        }
                    }
                }
                if let Err(e) = choose_fic(&fics, ISSUER, AUD, None) {
                    let _ = e.to_string();
                }
            }
            Err(e) => assert_no_secret("ARM's error", &e.to_string()),
        },
        _ => match parse_list_tokens(path, &value) {
            Ok(tokens) => {
                assert!(tokens.len() <= 100);
                for t in &tokens {
                    let shown = format!("{t:?}");
                    let secret = t.access_token.expose();
                    assert!(secret.len() < 8 || !shown.contains(secret), "{shown}");
                }
            }
            Err(e) => assert_no_secret("ARM's error", &e.to_string()),
        },
    }
});
