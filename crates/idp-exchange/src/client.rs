//! The exchange over HTTP: sign, post, parse, retry what is transient.

use crate::Secret;
use crate::explain::{Context, Explanation, explain};
use crate::request::{Target, form};
use crate::response::{AccessToken, EntraError, Parsed, parse};
use crate::retry::{Policy, Transient, decide};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Largest response body read (Entra's are a few KB).
const MAX_BODY: usize = 256 * 1024;

/// An error making the assertion (from the caller's signer, or the managed identity
/// endpoint whose token is the assertion), with its own hint and exit code.
pub type SignError = idp_core::diagnostic::Boxed;

/// Why no token came back.
#[derive(Debug, Error)]
pub enum ExchangeError {
    #[error("Entra refused the token request ({status} {}): {}", .error.error, .error.summary())]
    Entra {
        status: u16,
        error: Box<EntraError>,
        explanation: Option<Explanation>,
    },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} answered {status}, not an Entra response: {snippet}")]
    Unexpected {
        url: String,
        status: u16,
        snippet: String,
    },
    #[error("cannot make the assertion")]
    Sign(#[source] SignError),
}

impl ExchangeError {
    /// The AADSTS code, when Entra answered with one.
    pub fn code(&self) -> Option<u64> {
        match self {
            ExchangeError::Entra { error, .. } => error.code(),
            _ => None,
        }
    }
}

/// Said before each retry (the caller prints it on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryNote {
    /// 1 for the first retry.
    pub retry: u32,
    pub reason: Transient,
    pub code: Option<u64>,
    pub status: Option<u16>,
    pub delay: Duration,
}

enum Failure {
    Parsed(Parsed),
    /// No answer; `permanent` when retrying cannot help (the TLS certificate is refused).
    Unreachable {
        detail: String,
        permanent: bool,
    },
}

async fn attempt(client: &reqwest::Client, target: &Target, assertion: &Secret) -> Failure {
    let response = match client
        .post(target.token_url())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form(target, assertion))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Failure::Unreachable {
                detail: idp_http::chain(&e),
                permanent: is_tls_refusal(&e),
            };
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match idp_http::read_body(response, MAX_BODY).await {
        Ok(body) => Failure::Parsed(parse(status, retry_after.as_deref(), &body)),
        // Not Entra's answer (Entra's are a few kB): reported with its status, unread.
        Err(idp_http::BodyError::TooLarge { limit }) => Failure::Parsed(Parsed::Unexpected {
            status,
            retry_after: crate::response::retry_after(retry_after.as_deref()),
            snippet: format!("(an answer over {limit} bytes, not read)"),
        }),
        Err(idp_http::BodyError::Broken { detail }) => Failure::Unreachable {
            detail,
            permanent: false,
        },
    }
}

/// True when `e` is, or wraps, a rustls error (a refused certificate, a failed handshake):
/// retrying cannot fix those. rustls errors arrive inside `io::Error`s, possibly nested,
/// whose `source()` skips the wrapped error, so those are unwrapped with `get_ref`.
fn is_tls_refusal(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if is_tls_refusal(inner) {
            return true;
        }
    }
    e.source().is_some_and(is_tls_refusal)
}

/// One backoff shared by exchanges that run side by side (a fleet run): when Entra throttles
/// or fails one of them (429, 5xx), every exchange waits out the same delay before its next
/// request, so parallel workers do not hammer a throttled tenant.
#[derive(Debug, Clone, Default)]
pub struct SharedBackoff(std::sync::Arc<std::sync::Mutex<Option<Instant>>>);

impl SharedBackoff {
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds every exchange until `delay` from now (or later, if already held longer).
    pub fn hold(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut at = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if at.is_none_or(|t| t < until) {
            *at = Some(until);
        }
    }

    /// When requests may go out again, if they are held.
    pub fn held_until(&self) -> Option<Instant> {
        let at = *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        at.filter(|t| *t > Instant::now())
    }

    /// Waits until requests may go out.
    pub async fn wait(&self) {
        while let Some(until) = self.held_until() {
            tokio::time::sleep_until(until.into()).await;
        }
    }
}

/// Exchanges a fresh assertion (from `sign`, called once per attempt) for an access token,
/// retrying only what is transient, within `policy`; `on_retry` hears of each retry.
pub async fn exchange(
    client: &reqwest::Client,
    target: &Target,
    context: &Context,
    policy: &Policy,
    sign: impl AsyncFnMut() -> Result<Secret, SignError>,
    on_retry: impl FnMut(&RetryNote),
) -> Result<AccessToken, ExchangeError> {
    exchange_sharing(client, target, context, policy, None, sign, on_retry).await
}

/// [`exchange`], waiting on and feeding a [`SharedBackoff`] when one is given.
pub async fn exchange_sharing(
    client: &reqwest::Client,
    target: &Target,
    context: &Context,
    policy: &Policy,
    backoff: Option<&SharedBackoff>,
    mut sign: impl AsyncFnMut() -> Result<Secret, SignError>,
    mut on_retry: impl FnMut(&RetryNote),
) -> Result<AccessToken, ExchangeError> {
    let started = Instant::now();
    let mut retries = 0u32;
    let mut server_retries = 0u32;
    loop {
        if let Some(b) = backoff {
            b.wait().await;
        }
        let assertion = sign().await.map_err(ExchangeError::Sign)?;
        let outcome = attempt(client, target, &assertion).await;
        drop(assertion);
        let (transient, code, status, err) = match outcome {
            Failure::Parsed(Parsed::Token(t)) => return Ok(t),
            Failure::Parsed(parsed) => {
                let decision = decide(&parsed);
                let err = match parsed {
                    Parsed::Error(e) => ExchangeError::Entra {
                        status: e.status,
                        explanation: e.code().and_then(|c| explain(c, context)),
                        error: Box::new(e),
                    },
                    Parsed::Unexpected {
                        status, snippet, ..
                    } => ExchangeError::Unexpected {
                        url: target.token_url(),
                        status,
                        snippet,
                    },
                    Parsed::Token(_) => unreachable!("returned above"),
                };
                let status = match &err {
                    ExchangeError::Entra { status, .. }
                    | ExchangeError::Unexpected { status, .. } => Some(*status),
                    _ => None,
                };
                (decision, err.code(), status, err)
            }
            Failure::Unreachable { detail, permanent } => (
                (!permanent).then_some((Transient::Server, None)),
                None,
                None,
                ExchangeError::Unreachable {
                    url: target.token_url(),
                    detail,
                },
            ),
        };
        let Some((reason, retry_after)) = transient else {
            return Err(err);
        };
        let delay = policy.delay(retries, retry_after);
        let allowed = match reason {
            Transient::Propagation => started.elapsed() + delay <= policy.propagation_wait,
            Transient::Throttled | Transient::Server => {
                server_retries += 1;
                server_retries <= policy.max_server_retries
            }
        };
        if !allowed {
            return Err(err);
        }
        retries += 1;
        if let (Some(b), Transient::Throttled | Transient::Server) = (backoff, reason) {
            b.hold(delay);
        }
        on_retry(&RetryNote {
            retry: retries,
            reason,
            code,
            status,
            delay,
        });
        tokio::time::sleep(delay).await;
    }
}

impl ExchangeError {
    /// The assertion's maker's own diagnosis when it failed (a vault's refusal, the audit
    /// log, a managed identity endpoint).
    fn signing(&self) -> Option<&dyn idp_core::diagnostic::Diagnostic> {
        match self {
            ExchangeError::Sign(cause) => Some(cause.inner()),
            _ => None,
        }
    }
}

impl idp_core::diagnostic::Diagnostic for ExchangeError {
    fn hint(&self) -> Option<String> {
        match self {
            ExchangeError::Unreachable { .. } => Some(
                "check the authority host (--authority-host / IDP_EXCHANGE_AUTHORITY_HOST, --cloud), the network, and for a private CA --ca-cert / IDP_CA_CERT".into(),
            ),
            ExchangeError::Unexpected { .. } => Some(
                "the authority host answered, but not as Entra: check --authority-host (a bare https host, no path)".into(),
            ),
            ExchangeError::Sign(_) => self.signing().and_then(|d| d.hint()),
            ExchangeError::Entra { .. } => None,
        }
    }

    /// A signing failure is the user's when the signer says so (an audit log that cannot
    /// be a log); Entra's refusals and the network are failed operations.
    fn is_usage(&self) -> bool {
        self.signing().is_some_and(|d| d.is_usage())
    }
}

#[cfg(test)]
mod diagnosis_tests {
    use super::*;
    use idp_core::diagnostic::Diagnostic;

    #[test]
    fn a_signing_failure_keeps_the_signers_hint_and_code() {
        let audit = idp_core::audit::MintError::Audit(idp_core::audit::AuditError {
            path: "/nope/audit.log".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no folder"),
        });
        let e = ExchangeError::Sign(SignError::new(audit));
        assert!(e.is_usage());
        assert!(e.hint().unwrap().contains("audit log"), "{:?}", e.hint());
        let vault = idp_core::signer::SignError::Remote(idp_core::signer::RemoteError::failed(
            "the vault refused",
            "give idp Key Vault Crypto User",
        ));
        let e = ExchangeError::Sign(SignError::new(idp_core::audit::MintError::Sign(vault)));
        assert!(!e.is_usage());
        assert_eq!(e.hint().as_deref(), Some("give idp Key Vault Crypto User"));
        let other = ExchangeError::Sign(SignError::new(std::io::Error::other("something else")));
        assert_eq!((other.hint(), other.is_usage()), (None, false));
        let entra = ExchangeError::Unreachable {
            url: "u".into(),
            detail: "d".into(),
        };
        assert!(!entra.is_usage() && entra.hint().is_some());
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn a_shared_hold_only_ever_extends() {
        let b = SharedBackoff::new();
        assert!(b.held_until().is_none());
        b.hold(Duration::from_secs(5));
        let first = b.held_until().unwrap();
        b.hold(Duration::from_secs(1));
        assert_eq!(
            b.held_until(),
            Some(first),
            "a shorter hold does not shorten it"
        );
        b.hold(Duration::from_secs(10));
        assert!(b.held_until().unwrap() > first);
        let clone = b.clone();
        assert_eq!(clone.held_until(), b.held_until(), "clones share the hold");
    }
}
