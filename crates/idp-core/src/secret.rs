//! Secret values whose `Debug` never shows their contents.
//!
//! Private keys, assertions and access tokens travel in these types so that a stray `{:?}`
//! in a log line or an error cannot leak them. Reading the value takes an explicit call.

use std::fmt;
use zeroize::Zeroizing;

/// Bytes that must not be logged (a private key in PEM or DER form). Zeroed on drop.
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes. Call only where they are needed (signing, writing the key file).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {} bytes])", self.0.len())
    }
}

/// A string that must not be logged (a signed assertion, an access token, a SAS).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret text. Call only where the user asked for it or the protocol needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString([redacted; {} chars])", self.0.len())
    }
}

/// What stands in for a redacted value.
pub const REDACTED: &str = "REDACTED";

/// Parameters whose value is a secret wherever they appear (a URL, a form body echoed back).
const SECRET_PARAMS: [&str; 4] = [
    "sig=",
    "client_assertion=",
    "access_token=",
    "client_secret=",
];

/// Removes what may be a secret from text that came from the network (an error
/// description, a response body, a header) or holds a URL, before idp prints it:
/// - anything shaped like a JWT or JWE, or a part of one: a run of URL or form characters
///   in which a base64url segment starts with `eyJ` (the base64url of `{"`), wherever the
///   segment starts: after a dot, a `=`, a `/`, a percent-encoded character…
/// - the value of `sig=`, `client_assertion=`, `access_token=`, `client_secret=`;
/// - the credential after `Bearer `.
///
/// It errs on the side of hiding: a JWT that Entra echoed back inside its error description
/// must not reach a CI log.
pub fn redact(text: &str) -> String {
    let text = redact_params(text);
    let text = redact_after(&text, "Bearer ");
    redact_jwts(&text)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '/' | '%')
}

fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        // A segment starts after any character that is not base64url, or after a
        // percent-encoded one (`%22eyJ…`, `%3DeyJ…` in a form or URL).
        let jwt_like = run
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .any(|seg| seg.starts_with("eyJ"))
            || run
                .match_indices('%')
                .any(|(i, _)| run.get(i + 3..).is_some_and(|r| r.starts_with("eyJ")));
        out.push_str(if jwt_like { REDACTED } else { run });
    };
    for (i, c) in text.char_indices() {
        match (is_token_char(c), run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                flush(&mut out, &text[start..i]);
                run_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &text[start..]);
    }
    out
}

fn redact_params(text: &str) -> String {
    SECRET_PARAMS
        .iter()
        .fold(text.to_owned(), |t, param| redact_after(&t, param))
}

/// Replaces the value after each `marker` (case-insensitive): the run of characters a URL
/// or form value is made of (letters, digits, `%+/=_.-~`). Prose such as `sig=…` in a hint
/// has no such run and stays.
fn redact_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let marker = marker.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(&marker) {
        let value_start = pos + found + marker.len();
        out.push_str(&text[pos..value_start]);
        let rest = &text[value_start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "%+/=_.-~".contains(c)))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push_str(REDACTED);
        }
        pos = value_start + end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJzIn0.c2lnbmF0dXJl";

    #[test]
    fn a_jwt_anywhere_in_network_text_is_redacted() {
        for text in [
            format!("AADSTS50027: JWT token is invalid or malformed: '{JWT}'."),
            format!("request was client_id=x&client_assertion={JWT}&scope=y"),
            JWT.to_string(),
            format!("token:{JWT}\r\nTrace ID: t"),
            // A JWE (five parts) and a header-only echo.
            format!("{JWT}.abc.def"),
            "header eyJhbGciOiJSUzI1NiJ9. seen".to_owned(),
            // A lone part (a payload quoted without its header) is hidden too.
            "claims 'eyJzdWIiOiJzIn0' and x.eyJzdWIiOiJzIn0".to_owned(),
        ] {
            let r = redact(&text);
            assert!(!r.contains("eyJ"), "{r}");
            assert!(r.contains(REDACTED), "{r}");
        }
    }

    /// Found by fuzzing (fuzz/fuzz_targets/redact.rs, arm_answers.rs, entra_response.rs):
    /// a JWT whose segment starts after a `=`, `/`, `+` or `%` (a parameter idp does not
    /// know, a path) was kept, because only dots separated the segments looked at.
    #[test]
    fn a_jwt_after_any_separator_is_redacted() {
        for text in [
            "403 RequestDisaolicy.=eyJhbGciOiJSUzI1NiJ9d",
            "AADlient_assertion=eyJhbGciOiJSUz",
            "Timestamp: 1eyJhblient_assertion=eyJ~dWI026",
            "token=eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "https://h/x/eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "a+eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "%22eyJhbGciOiJSUzI1NiJ9",
            "client_id=x&client_assertion%3DeyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        ] {
            let r = redact(text);
            assert!(!r.contains("eyJ"), "{text} → {r}");
            assert!(r.contains(REDACTED), "{r}");
        }
        // Not a segment's start: kept.
        assert_eq!(redact("keyJar.1"), "keyJar.1");
    }

    #[test]
    fn secret_parameters_and_bearer_credentials_are_redacted() {
        let r = redact(
            "GET https://h/c?sv=1&sig=SECRET1&se=2 client_assertion=SECRET2&x=1 Authorization: bearer SECRET3 access_token=SECRET4 client_secret=SECRET5",
        );
        for n in 1..=5 {
            assert!(!r.contains(&format!("SECRET{n}")), "{r}");
        }
        assert!(r.contains("sv=1&sig=REDACTED&se=2"), "{r}");
    }

    #[test]
    fn ordinary_text_is_kept() {
        for text in [
            "AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://acct.blob.core.windows.net/oidc'.",
            "Trace ID: 0f1e-2d3c\r\nCorrelation ID: 9a8b\r\nTimestamp: 2026-12-01 10:00:00Z",
            "x-ms-error-code: PublicAccessNotPermitted",
            "see https://login.microsoftonline.com/error?code=700213",
            "kid abc.def.ghi, version 1.2.3",
            "pass the query string of a SAS URL (`sv=…&sig=…`), not `sig=`",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let s = SecretString::new("eyJhbGciOiJSUzI1NiJ9.secret-payload.sig");
        let b = SecretBytes::new(b"-----BEGIN PRIVATE KEY-----".to_vec());
        assert!(!format!("{s:?}").contains("secret-payload"));
        assert!(!format!("{b:?}").contains("PRIVATE"));
        // What they show instead says what they are and how long.
        assert_eq!(format!("{s:?}"), "SecretString([redacted; 39 chars])");
        assert_eq!(format!("{b:?}"), "SecretBytes([redacted; 27 bytes])");
        assert_eq!(s.expose(), "eyJhbGciOiJSUzI1NiJ9.secret-payload.sig");
    }
}
