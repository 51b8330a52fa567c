//! Key Vault's answers as idp-vault reads them: a key (`create`, `adopt`), a signature
//! (`sign`), and a refusal explained (`explain`), through the SDK's own models.
//!
//! Input: a byte choosing the answer (and the key id asked for), the status (two bytes),
//! the body.
//!
//! Properties: a key idp takes is RSA of at least 2048 bits, at a version, of the name
//! asked for (and the version asked for, when one was); a signature that comes back is
//! verified before use (a random one never verifies); what idp says of a refusal is one
//! line without a JWT-looking segment or a secret parameter's value.
#![no_main]

use idp_core::vault_key::VaultKeyId;
use idp_fuzz::{assert_no_secret, keys};
use idp_vault::answers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (status, body) = idp_fuzz::status(rest);
    let unversioned = VaultKeyId::parse("https://kv.vault.azure.net/keys/signing").unwrap();
    let id = if which & 4 != 0 {
        unversioned
            .with_version("0123456789abcdef0123456789abcdef")
            .unwrap()
    } else {
        unversioned
    };
    match which % 4 {
        0 => match answers::key(&id, body) {
            Ok((versioned, public)) => {
                assert!(public.bits() >= idp_core::keys::MIN_RSA_BITS);
                let version = versioned.version().expect("a version");
                assert!(versioned.name().eq_ignore_ascii_case(id.name()));
                if let Some(asked) = id.version() {
                    assert!(asked.eq_ignore_ascii_case(version));
                }
                assert_eq!(versioned.vault(), id.vault());
            }
            Err(e) => check_message(&e.message),
        },
        1 => match answers::signature(&id, body) {
            Ok(sig) => {
                let k = &keys().signing[0];
                let public = idp_core::signer::public_key(k.public()).unwrap();
                let message = b"header.claims";
                assert!(!idp_core::signer::verifies(&public, message, &sig) || sig == k.sign_rs256(message));
            }
            Err(e) => check_message(&e.message),
        },
        n => {
            let op = if n == 2 { "sign" } else { "create" };
            let e = answers::refusal(status, body, op, &id);
            check_message(&e.message);
            if let Some(hint) = &e.hint {
                check_message(hint);
            }
        }
    }
});

fn check_message(message: &str) {
    assert_no_secret("what idp says of the vault's answer", message);
    assert!(!message.contains(['\n', '\r']), "{message:?}");
}
