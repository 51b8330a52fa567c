//! Entra's token-endpoint answers, success and error bodies, as idp-exchange parses,
//! retries and explains them (`response::parse`, `retry::decide`, `explain::explain`).
//!
//! Input: the status (two bytes), a `Retry-After` header (up to the first `\0`), the body.
//!
//! Properties: a token only from a 2xx, an error only from another status; nothing kept
//! of an error or an unexpected body holds a JWT-looking segment or a secret parameter's
//! value (Entra's descriptions may echo the assertion); nothing of a 2xx body that is not
//! a token response is shown; only
//! propagation, throttling and server errors are retried, never longer than the policy
//! allows.
#![no_main]

use idp_exchange::client::ExchangeError;
use idp_exchange::explain::{Context, EntraApp, explain};
use idp_exchange::response::{Parsed, parse};
use idp_exchange::retry::{Policy, decide};
use idp_fuzz::assert_no_secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, rest) = idp_fuzz::status(data);
    let (retry_after, body) = idp_fuzz::split(rest, 0);
    let retry_after = String::from_utf8_lossy(retry_after);
    let parsed = parse(status, Some(&retry_after), body);
    let success = (200..300).contains(&status);
    match &parsed {
        Parsed::Token(t) => {
            assert!(success);
            assert!(!format!("{t:?}").contains(t.token.expose()) || t.token.expose().len() < 8);
        }
        Parsed::Error(e) => {
            assert!(!success);
            assert_eq!(e.status, status);
            for (field, text) in [
                ("error", &e.error),
                ("error_description", &e.error_description),
                ("timestamp", &e.timestamp),
                ("trace_id", &e.trace_id),
                ("correlation_id", &e.correlation_id),
            ] {
                assert_no_secret(field, text);
            }
            if let Some(uri) = &e.error_uri {
                assert_no_secret("error_uri", uri);
            }
            assert_no_secret("summary", e.summary());
            let context = Context {
                issuer: idp_fuzz::ISSUER.into(),
                subject: "s".into(),
                audience: "api://AzureADTokenExchange".into(),
                tenant: "t".into(),
                client_id: "c".into(),
                scope: "https://management.azure.com/.default".into(),
                authority: "https://login.microsoftonline.com".into(),
                lifetime_secs: 600,
                entra_app: (status % 2 == 0).then(EntraApp::default),
            };
            let explanation = e.code().and_then(|c| explain(c, &context));
            let err = ExchangeError::Entra {
                status,
                error: Box::new(e.clone()),
                explanation,
            };
            assert_no_secret("the error message", &err.to_string());
        }
        Parsed::Unexpected { snippet, .. } => {
            assert_no_secret("snippet", snippet);
            if success {
                assert_eq!(snippet, "(a success status without an access_token)");
            }
        }
    }
    let policy = Policy::default();
    if let Some((_, after)) = decide(&parsed) {
        assert!(!matches!(parsed, Parsed::Token(_)));
        for n in [0, 1, 5, 40, u32::MAX] {
            assert!(policy.delay(n, after) <= policy.max_delay * 4);
        }
    }
});
