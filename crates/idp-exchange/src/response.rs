//! Entra's answer: an access token, or an error body with AADSTS codes.

use crate::Secret;
use idp_core::secret::redact;
use serde::Deserialize;
use std::time::Duration;

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: Secret,
    pub token_type: String,
    /// Seconds the token is valid for, as Entra said.
    pub expires_in: u64,
}

/// Entra's error body (`reference-error-codes`): never branch on the description text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct EntraError {
    #[serde(skip)]
    pub status: u16,
    pub error: String,
    pub error_description: String,
    pub error_codes: Vec<u64>,
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    pub error_uri: Option<String>,
    /// `Retry-After` in seconds, when the response carried one.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl EntraError {
    /// Hides whatever in the body could be a secret: Entra's descriptions may echo the
    /// request, assertion included. Every text field is network text.
    fn redact(&mut self) {
        for field in [
            &mut self.error,
            &mut self.error_description,
            &mut self.timestamp,
            &mut self.trace_id,
            &mut self.correlation_id,
        ] {
            *field = redact(field);
        }
        if let Some(uri) = &mut self.error_uri {
            *uri = redact(uri);
        }
    }

    /// The first AADSTS code, from `error_codes` or else the description's `AADSTSnnn:`.
    pub fn code(&self) -> Option<u64> {
        self.error_codes.first().copied().or_else(|| {
            let rest = self.error_description.strip_prefix("AADSTS")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
    }

    /// The description without Entra's trailer: ` Trace ID: … Correlation ID: … Timestamp:
    /// …`, on the same line today (single spaces), on lines of their own before 2023.
    pub fn summary(&self) -> &str {
        let first = self
            .error_description
            .split(['\r', '\n'])
            .next()
            .unwrap_or("");
        first.split(" Trace ID: ").next().unwrap_or(first).trim()
    }
}

/// What a response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Token(AccessToken),
    Error(EntraError),
    /// Not Entra's JSON: a proxy's page, an empty 502…
    Unexpected {
        status: u16,
        retry_after: Option<Duration>,
        /// The start of the body, for the error message (bodies here never hold tokens).
        snippet: String,
    },
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<NumOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Num(u64),
    Str(String),
}

/// Parses a `Retry-After` header value (delay in seconds; HTTP dates are not used by Entra).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Reads a token endpoint response.
pub fn parse(status: u16, retry_after_header: Option<&str>, body: &[u8]) -> Parsed {
    let retry_after = retry_after(retry_after_header);
    if (200..300).contains(&status) {
        if let Ok(t) = serde_json::from_slice::<TokenBody>(body) {
            let expires_in = match t.expires_in {
                Some(NumOrString::Num(n)) => n,
                Some(NumOrString::Str(s)) => s.parse().unwrap_or(0),
                None => 0,
            };
            return Parsed::Token(AccessToken {
                token: Secret::new(t.access_token),
                token_type: t.token_type.unwrap_or_else(|| "Bearer".into()),
                expires_in,
            });
        }
    } else if let Ok(mut e) = serde_json::from_slice::<EntraError>(body)
        && (!e.error.is_empty() || !e.error_codes.is_empty())
    {
        e.status = status;
        e.retry_after = retry_after;
        e.redact();
        return Parsed::Error(e);
    }
    let text = String::from_utf8_lossy(body);
    // A 2xx body that is not a token response may hold anything: show none of it.
    let snippet = if (200..300).contains(&status) {
        String::from("(a success status without an access_token)")
    } else {
        redact(&text.chars().take(200).collect::<String>())
    };
    Parsed::Unexpected {
        status,
        retry_after,
        snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_v2_token() {
        let Parsed::Token(t) = parse(
            200,
            None,
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"a.b.c"}"#,
        ) else {
            panic!()
        };
        assert_eq!((t.token.expose(), t.expires_in), ("a.b.c", 3599));
    }

    #[test]
    fn reads_v1_string_numbers() {
        let Parsed::Token(t) = parse(200, None, br#"{"access_token":"x","expires_in":"3599"}"#)
        else {
            panic!()
        };
        assert_eq!(t.expires_in, 3599);
    }

    #[test]
    fn reads_entras_error_body() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject 'x'.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z","error_codes":[700213],"timestamp":"2026-01-01 00:00:00Z","trace_id":"t","correlation_id":"c","error_uri":"https://login.microsoftonline.com/error?code=700213"}"#;
        let Parsed::Error(e) = parse(401, None, body) else {
            panic!()
        };
        assert_eq!(e.code(), Some(700213));
        assert_eq!(e.status, 401);
        assert!(e.summary().ends_with("subject 'x'."));
        assert_eq!(e.trace_id, "t");
        // Today's form: the trailer on the same line, after single spaces.
        let body = br#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject 'x'. Trace ID: t Correlation ID: c Timestamp: 2026-01-01 00:00:00Z","error_codes":[700213]}"#;
        let Parsed::Error(e) = parse(401, None, body) else {
            panic!()
        };
        assert_eq!(
            e.summary(),
            "AADSTS700213: No matching federated identity record found for presented assertion subject 'x'."
        );
    }

    #[test]
    fn code_from_the_description_when_error_codes_is_missing() {
        let Parsed::Error(e) = parse(400, None, br#"{"error":"invalid_request","error_description":"AADSTS90061: Request to External OIDC endpoint failed."}"#) else {
            panic!()
        };
        assert_eq!(e.code(), Some(90061));
    }

    #[test]
    fn an_echoed_assertion_never_leaves_the_parser() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzIn0.c2ln";
        let body = format!(
            r#"{{"error":"invalid_request","error_description":"AADSTS50027: JWT token is invalid: '{jwt}' in client_assertion={jwt}&x=1.\r\nTrace ID: t","error_codes":[50027]}}"#
        );
        let Parsed::Error(e) = parse(400, None, body.as_bytes()) else {
            panic!()
        };
        assert!(!format!("{e:?}").contains("eyJ"), "{e:?}");
        assert!(
            e.summary()
                .starts_with("AADSTS50027: JWT token is invalid: 'REDACTED'")
        );
        assert_eq!(e.code(), Some(50027));
        let Parsed::Unexpected { snippet, .. } = parse(
            502,
            None,
            format!("<p>bad gateway for {jwt}</p>").as_bytes(),
        ) else {
            panic!()
        };
        assert_eq!(snippet, "<p>bad gateway for REDACTED</p>");
    }

    #[test]
    fn other_bodies_are_unexpected_with_retry_after() {
        let p = parse(503, Some("7"), b"<html>busy</html>");
        assert_eq!(
            p,
            Parsed::Unexpected {
                status: 503,
                retry_after: Some(Duration::from_secs(7)),
                snippet: "<html>busy</html>".into()
            }
        );
    }
}
