//! `idp_core::secret::redact` over arbitrary text: what idp does to every piece of network
//! text (error descriptions, bodies, headers, URLs) before printing it.
//!
//! Properties: the output holds no base64url segment starting with `eyJ` (a JWT's header or
//! claims), no value after `sig=`, `client_assertion=`, `access_token=`, `client_secret=`
//! or `Bearer ` other than `REDACTED`; redacting twice changes nothing more; text with
//! neither `eyJ` nor a marker comes back unchanged.
#![no_main]

use idp_core::secret::redact;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let out = redact(&text);
    idp_fuzz::assert_redacted("redact's output", &out);
    assert_eq!(redact(&out), out, "redacting again changed {out:?}");
    let lower = text.to_ascii_lowercase();
    let marked = ["eyj", "sig=", "client_assertion=", "access_token=", "client_secret=", "bearer "]
        .iter()
        .any(|m| lower.contains(m));
    if !marked {
        assert_eq!(out, text, "unmarked text was changed");
    }
});
