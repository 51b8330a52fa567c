//! The Entra emulator's token endpoint (idp-emulator `token`, `jwt`): a client assertion
//! checked in Entra's order, through the router in process.
//!
//! Input: a mode byte, then `assertion\0extra form`. Mode bit 0: the v1 endpoint; bit 1:
//! the publisher's tenant in the path; bits 2-3: the assertion is the text as it is (0),
//! `header\0claims` JSON with a junk signature (1), claims JSON signed by the emulator's
//! own key, as a managed identity's token (2), or claims JSON signed by an idp key (3);
//! bit 4: the identity's client id (else the form's); bit 5: the whole text is the form.
//! The extra form is appended as is (`&k=v…`, placeholders as in `emulator_arm`).
//!
//! Properties: no panic and no 5xx; every answer is Entra's JSON: a token, or an error
//! whose `error_codes` start with the AADSTS code its description names; no answer
//! echoes the assertion.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use idp_fuzz::emulator::{fill, fresh, send};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn form_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let emu = fresh();
    let tenant = if mode & 2 == 0 {
        emu.tenant().to_owned()
    } else {
        emu.publisher_tenant().to_owned()
    };
    let path = if mode & 1 == 0 {
        format!("/{tenant}/oauth2/v2.0/token")
    } else {
        format!("/{tenant}/oauth2/token")
    };
    let (assertion_part, extra) = idp_fuzz::split(rest, 0);
    let extra = fill(&emu, &String::from_utf8_lossy(extra));
    let body = if mode & 32 != 0 {
        fill(&emu, &String::from_utf8_lossy(rest))
    } else {
        let assertion = match mode >> 2 & 3 {
            0 => String::from_utf8_lossy(assertion_part).into_owned(),
            1 => {
                let (h, c) = idp_fuzz::split(assertion_part, 0);
                format!("{}.{}.c2ln", B64URL.encode(h), B64URL.encode(c))
            }
            2 => match serde_json::from_slice::<Value>(assertion_part) {
                Ok(claims) => emu.signing_key().sign(&claims).unwrap(),
                Err(_) => return,
            },
            _ => {
                let key = &idp_fuzz::keys().signing[0];
                let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, key.kid());
                let input = format!("{}.{}", B64URL.encode(header), B64URL.encode(assertion_part));
                let sig = key.sign_rs256(input.as_bytes());
                format!("{input}.{}", B64URL.encode(sig))
            }
        };
        let client_id = if mode & 16 != 0 {
            emu.identity("rg", "uami").unwrap().client_id
        } else {
            String::new()
        };
        let scope = if mode & 1 == 0 {
            "scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
        } else {
            "resource=https%3A%2F%2Fmanagement.azure.com%2F"
        };
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}&{scope}{extra}",
            form_value(&client_id),
            form_value(&assertion),
        );
        // A composed JWT (not text the fuzzer may have copied from the emulator's own).
        let echo = mode >> 2 & 3 != 0;
        return check(&emu, &path, &form, echo.then_some(assertion.as_str()));
    };
    check(&emu, &path, &body, None);
});

fn check(emu: &idp_emulator::Emulator, path: &str, form: &str, assertion: Option<&str>) {
    let request = format!(
        "POST {path}\ncontent-type: application/x-www-form-urlencoded\n\n{form}"
    );
    let Some((status, body)) = send(emu, &request) else {
        return;
    };
    assert!(!status.is_server_error(), "{status}: {}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{status}: not JSON: {}", String::from_utf8_lossy(&body)));
    if status.is_success() {
        assert!(answer["access_token"].is_string(), "{answer}");
    } else {
        let code = answer["error_codes"][0].as_u64().expect("an AADSTS code");
        let description = answer["error_description"].as_str().unwrap();
        assert!(description.starts_with(&format!("AADSTS{code}:")), "{answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    if let Some(a) = assertion {
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(a), "the answer echoes the assertion: {text}");
    }
}
