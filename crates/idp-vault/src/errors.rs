//! Key Vault's refusals, explained: what the vault said (its code and message, redacted and
//! shortened: text from the network is not trusted), what it means for idp, what to do.

use azure_core::error::ErrorKind;
use azure_core::http::StatusCode;
use idp_core::signer::RemoteError;
use idp_core::vault_key::VaultKeyId;

/// The longest piece of a vault's message idp repeats.
const MAX_MESSAGE_CHARS: usize = 300;

/// The code, inner code and message of Key Vault's error body
/// (`{"error":{"code","message","innererror":{"code"}}}`).
fn parts(e: &azure_core::Error) -> (String, Option<String>, String) {
    let ErrorKind::HttpResponse {
        error_code,
        raw_response,
        ..
    } = e.kind()
    else {
        return (String::new(), None, String::new());
    };
    let body: serde_json::Value = raw_response
        .as_ref()
        .and_then(|r| serde_json::from_slice(r.body().as_ref()).ok())
        .unwrap_or_default();
    let error = &body["error"];
    let code = error["code"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| error_code.clone())
        .unwrap_or_default();
    let inner = error["innererror"]["code"].as_str().map(str::to_owned);
    let message = error["message"].as_str().unwrap_or_default();
    (clean(&code), inner.map(|i| clean(&i)), clean(message))
}

/// Text from the network made safe to print: one line, bounded, no token. Cut first,
/// then redacted: a cut never leaves half of a redaction's marker behind (`sig=R` of
/// `sig=REDACTED`), and what a cut keeps of a secret is still redacted.
pub(crate) fn clean(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    idp_core::secret::redact(&one_line).trim().to_owned()
}

/// `code/inner: message`, each part already clean, redacted again as a whole: a part
/// glued to the one before can read as the rest of its value (`access_token=REDACTED` and
/// `/Inner` read as the value `REDACTED/Inner`).
fn said(code: &str, inner: Option<&str>, message: &str) -> String {
    let mut s = code.to_owned();
    if let Some(i) = inner {
        s = format!("{s}/{i}");
    }
    if !message.is_empty() {
        s = format!("{s}: {message}");
    }
    idp_core::secret::redact(&s)
}

/// Whether the vault refused to make an HSM key because it holds none: a standard vault
/// answers "Hardware key operation not allowed on standard vault" (azure-sdk-for-net#6551,
/// azure-docs#63888), as a 400 BadParameter.
pub(crate) fn is_no_hsm(e: &azure_core::Error) -> bool {
    let (code, _, message) = parts(e);
    e.http_status() == Some(StatusCode::BadRequest)
        && (code == "BadParameter" || message.contains("Hardware key operation not allowed"))
}

/// Whether the vault could not be reached at all (no HTTP answer).
pub(crate) fn is_unreachable(e: &azure_core::Error) -> bool {
    matches!(e.kind(), ErrorKind::Connection | ErrorKind::Io)
}

pub(crate) fn unreachable(id: &VaultKeyId, detail: Option<&str>) -> RemoteError {
    RemoteError::failed(
        match detail {
            Some(d) => format!("cannot reach the vault {} ({d})", id.vault()),
            None => format!(
                "cannot reach the vault {} (it could not be reached moments ago; not asking again for {} s)",
                id.vault(),
                crate::UNREACHABLE_PAUSE.as_secs()
            ),
        },
        "check the vault URL, DNS and the network path to it (the vault's firewall, a private endpoint); nothing was signed",
    )
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        parts.push(s.to_string());
        next = s.source();
    }
    parts.dedup();
    clean(&parts.join(": "))
}

/// Explains the failure of `op` (`create`, `get`, `sign`) on the key `id`.
pub fn explain(e: azure_core::Error, op: &str, id: &VaultKeyId) -> RemoteError {
    if is_unreachable(&e) {
        return unreachable(id, Some(&source_chain(&e)));
    }
    if matches!(e.kind(), ErrorKind::Credential) {
        return RemoteError::failed(
            format!("cannot get a token for Key Vault: {}", source_chain(&e)),
            "log in with `az login` (or run with workload or managed identity), or give a Key Vault token in --key-vault-token-file / IDP_KEY_VAULT_TOKEN_FILE",
        );
    }
    let Some(status) = e.http_status() else {
        return RemoteError::failed(
            format!("Key Vault {op} of {id} failed: {}", source_chain(&e)),
            "try again; if it persists, check the vault in the Azure portal",
        );
    };
    let (code, inner, message) = parts(&e);
    let vault_said = said(&code, inner.as_deref(), &message);
    let (role, verb) = match op {
        "create" => ("Key Vault Crypto Officer", "create keys"),
        "get" => ("Key Vault Crypto User", "read the key"),
        _ => ("Key Vault Crypto User", "sign with the key"),
    };
    let (message, hint) = match (status, inner.as_deref()) {
        (StatusCode::Unauthorized, _) => (
            format!("the vault refused idp's token for {op} on {id} ({vault_said})"),
            "the token must be for Key Vault (https://vault.azure.net) and the vault's tenant; with a token file: `az account get-access-token --resource https://vault.azure.net`".to_owned(),
        ),
        (StatusCode::Forbidden, Some("ForbiddenByPolicy")) => (
            format!("the vault's access policy does not let idp {verb} {id} ({vault_said})"),
            format!("grant the identity idp runs as the key permission `{op}` in the vault's access policies, or switch the vault to Azure RBAC and assign {role}"),
        ),
        (StatusCode::Forbidden, _) => (
            format!("the identity idp runs as has no role that lets it {verb}: {role} is missing on {id} ({vault_said})"),
            format!("assign it: `az role assignment create --role \"{role}\" --assignee <idp's principal> --scope <vault resource id>/keys/{}`; role assignments can take minutes to apply", id.name()),
        ),
        (StatusCode::NotFound, _) if code == "KeyNotFound" => (
            format!("the vault has no key {id} ({vault_said})"),
            if op == "get" {
                "check the key name and version; to create the key instead, leave out --existing".to_owned()
            } else {
                "the key or this version was deleted or disabled: recover it (soft delete) or add and activate another key".to_owned()
            },
        ),
        (StatusCode::NotFound, _) => (
            format!("no vault answers at {} ({vault_said})", id.vault()),
            "check the vault URL (`az keyvault show --name <vault> --query properties.vaultUri`)".to_owned(),
        ),
        (StatusCode::TooManyRequests, _) => (
            format!("the vault throttled idp's {op} requests (429) through {} retries ({vault_said})", crate::MAX_RETRIES),
            "Key Vault limits RSA operations per vault and per 10 s (Learn: \"Azure Key Vault service limits\"); lower --parallel, or spread the load over time".to_owned(),
        ),
        (StatusCode::BadRequest, _) => (
            format!("the vault refused the {op} request for {id} ({vault_said})"),
            "check the key's type and size; idp signs RS256 with RSA keys of 2048 bits or more".to_owned(),
        ),
        (s, _) if s.is_server_error() => (
            format!("the vault failed the {op} request for {id} with {} through {} retries ({vault_said})", u16::from(s), crate::MAX_RETRIES),
            "try again later; see the Azure status page for Key Vault".to_owned(),
        ),
        (s, _) => (
            format!("the vault answered {} to the {op} request for {id} ({vault_said})", u16::from(s)),
            "check the key id and idp's access to the vault".to_owned(),
        ),
    };
    RemoteError {
        message,
        hint: Some(hint),
        usage: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::RawResponse;
    use azure_core::http::headers::Headers;

    fn id() -> VaultKeyId {
        VaultKeyId::parse("https://kv.vault.azure.net/keys/signing").unwrap()
    }

    fn answered(status: StatusCode, body: &str) -> azure_core::Error {
        azure_core::Error::new(
            ErrorKind::HttpResponse {
                status,
                error_code: None,
                raw_response: Some(Box::new(RawResponse::from_bytes(
                    status,
                    Headers::new(),
                    body.as_bytes().to_vec(),
                ))),
            },
            "the vault answered an error",
        )
    }

    fn kv(code: &str, inner: Option<&str>, message: &str) -> String {
        let mut e = serde_json::json!({"code": code, "message": message});
        if let Some(i) = inner {
            e["innererror"] = serde_json::json!({"code": i});
        }
        serde_json::json!({ "error": e }).to_string()
    }

    #[test]
    fn each_refusal_names_its_cause_and_what_to_do() {
        let forbidden = answered(
            StatusCode::Forbidden,
            &kv(
                "Forbidden",
                Some("ForbiddenByRbac"),
                "Caller is not authorized",
            ),
        );
        let e = explain(forbidden, "sign", &id());
        assert!(
            e.message.contains("Key Vault Crypto User is missing"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("Forbidden/ForbiddenByRbac: Caller is not authorized")
        );
        assert!(e.hint.unwrap().contains("--role \"Key Vault Crypto User\""));
        assert!(!e.usage);
        let e = explain(
            answered(
                StatusCode::Forbidden,
                &kv("Forbidden", Some("ForbiddenByRbac"), "x"),
            ),
            "create",
            &id(),
        );
        assert!(
            e.message.contains("Key Vault Crypto Officer is missing"),
            "{}",
            e.message
        );
        let e = explain(
            answered(
                StatusCode::Forbidden,
                &kv("Forbidden", Some("ForbiddenByPolicy"), "x"),
            ),
            "sign",
            &id(),
        );
        assert!(e.message.contains("access policy"), "{}", e.message);
        let e = explain(
            answered(
                StatusCode::Unauthorized,
                &kv("Unauthorized", None, "AKV10022: Invalid audience"),
            ),
            "sign",
            &id(),
        );
        assert!(e.message.contains("refused idp's token") && e.message.contains("AKV10022"));
        let e = explain(
            answered(StatusCode::NotFound, &kv("KeyNotFound", None, "no")),
            "get",
            &id(),
        );
        assert!(e.hint.unwrap().contains("leave out --existing"));
        let e = explain(
            answered(StatusCode::NotFound, &kv("KeyNotFound", None, "no")),
            "sign",
            &id(),
        );
        assert!(e.hint.unwrap().contains("recover it"));
        let e = explain(answered(StatusCode::NotFound, "<html>"), "sign", &id());
        assert!(
            e.message
                .contains("no vault answers at https://kv.vault.azure.net/")
        );
        let e = explain(
            answered(StatusCode::TooManyRequests, &kv("Throttled", None, "slow")),
            "sign",
            &id(),
        );
        assert!(e.message.contains("throttled") && e.message.contains("3 retries"));
        let e = explain(answered(StatusCode::ServiceUnavailable, ""), "sign", &id());
        assert!(
            e.message.contains("with 503 through 3 retries"),
            "{}",
            e.message
        );
        let e = explain(
            answered(
                StatusCode::Forbidden,
                &kv("Forbidden", Some("ForbiddenByRbac"), "x"),
            ),
            "get",
            &id(),
        );
        assert!(
            e.message.contains("Key Vault Crypto User is missing")
                && e.message.contains("read the key"),
            "{}",
            e.message
        );
        let e = explain(
            answered(StatusCode::BadRequest, &kv("BadParameter", None, "bad")),
            "sign",
            &id(),
        );
        assert!(e.message.contains("refused the sign request"));
        let e = explain(answered(StatusCode::Conflict, ""), "sign", &id());
        assert!(e.message.contains("answered 409"), "{}", e.message);
    }

    #[test]
    fn text_from_the_vault_is_redacted_single_line_and_bounded() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        let long = format!("line one\nline two {jwt} {}", "x".repeat(1000));
        let e = explain(
            answered(StatusCode::Forbidden, &kv("Forbidden", None, &long)),
            "sign",
            &id(),
        );
        assert!(!e.message.contains(jwt), "{}", e.message);
        assert!(!e.message.contains('\n'));
        assert!(
            e.message.len() < MAX_MESSAGE_CHARS + 400,
            "{}",
            e.message.len()
        );
    }

    /// Found by fuzzing (fuzz/fuzz_targets/vault_answers.rs): redacted, then cut at the
    /// bound, a `sig=` value became `sig=R`, the first letter of the marker, which reads
    /// as a value; and a secret cut at the bound must still be redacted.
    #[test]
    fn the_bound_cuts_before_redaction_so_no_marker_is_cut_and_no_secret_kept() {
        for cut in 0..12 {
            let pad = ".".repeat(MAX_MESSAGE_CHARS - 40 - cut);
            for tail in [
                "sig=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
                "access_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
                "Bearer abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
            ] {
                let text = format!("Request was not processed {pad} {tail}");
                let e = explain(
                    answered(StatusCode::TooManyRequests, &kv("Throttled", None, &text)),
                    "sign",
                    &id(),
                );
                let value = tail.split(['=', ' ']).nth(1).unwrap();
                assert!(!e.message.contains(&value[..4]), "{cut}: {}", e.message);
                assert!(
                    !e.message.contains("=R)") && !e.message.contains("=RE)"),
                    "a cut marker: {}",
                    e.message
                );
            }
        }
    }

    /// Found by fuzzing (fuzz/fuzz_targets/vault_answers.rs): the code and the inner code,
    /// each redacted alone, were glued with `/`, so `access_token=REDACTED` and `/ForbiddenX`
    /// read as one value, `REDACTED/ForbiddenX`.
    #[test]
    fn a_code_and_its_inner_code_are_redacted_as_one_text() {
        let e = explain(
            answered(
                StatusCode::Forbidden,
                &kv("Forbiaccess_token=dde~", Some("ForbiddenX"), "T."),
            ),
            "sign",
            &id(),
        );
        let at = e.message.find("access_token=").expect("the code is said") + 13;
        let value: String = e.message[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "%+/=_.-~".contains(*c))
            .collect();
        assert_eq!(value, idp_core::secret::REDACTED, "{}", e.message);
    }

    #[test]
    fn only_a_400_about_hardware_keys_means_no_hsm() {
        assert!(is_no_hsm(&answered(
            StatusCode::BadRequest,
            &kv(
                "BadParameter",
                None,
                "Hardware key operation not allowed on standard vault"
            ),
        )));
        assert!(!is_no_hsm(&answered(
            StatusCode::Forbidden,
            &kv("BadParameter", None, "x")
        )));
        assert!(!is_no_hsm(&answered(
            StatusCode::BadRequest,
            &kv("Other", None, "x")
        )));
        // Either Key Vault's code or its words are enough.
        assert!(is_no_hsm(&answered(
            StatusCode::BadRequest,
            &kv("BadParameter", None, "other")
        )));
        assert!(is_no_hsm(&answered(
            StatusCode::BadRequest,
            &kv(
                "Other",
                None,
                "Hardware key operation not allowed on standard vault"
            ),
        )));
        let io = azure_core::Error::with_message(ErrorKind::Connection, "connection refused");
        assert!(is_unreachable(&io));
        let e = explain(io, "sign", &id());
        assert!(
            e.message.contains(
                "cannot reach the vault https://kv.vault.azure.net/ (connection refused)"
            ),
            "{}",
            e.message
        );
        let cred = azure_core::Error::with_message(ErrorKind::Credential, "no login");
        assert!(
            explain(cred, "sign", &id())
                .message
                .contains("cannot get a token for Key Vault")
        );
    }
}
