//! What is worth retrying: a FIC that is still propagating (AADSTS70021, 70025), throttling
//! (429) and server errors (5xx), honouring `Retry-After`. Never another 4xx: a wrong
//! issuer, subject or audience does not fix itself.

use crate::response::Parsed;
use std::time::Duration;

/// Why a failed attempt may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// A new FIC is not visible yet everywhere in Entra.
    Propagation,
    /// 429: Entra asks to slow down.
    Throttled,
    /// 5xx, or the connection failed.
    Server,
}

/// The retry decision for one response.
pub fn decide(parsed: &Parsed) -> Option<(Transient, Option<Duration>)> {
    match parsed {
        Parsed::Token(_) => None,
        Parsed::Error(e) => {
            if e.status == 429 {
                Some((Transient::Throttled, e.retry_after))
            } else if e.status >= 500 {
                Some((Transient::Server, e.retry_after))
            } else if matches!(e.code(), Some(70021 | 70025)) {
                Some((Transient::Propagation, e.retry_after))
            } else {
                None
            }
        }
        Parsed::Unexpected {
            status,
            retry_after,
            ..
        } => match status {
            429 => Some((Transient::Throttled, *retry_after)),
            500..=599 => Some((Transient::Server, *retry_after)),
            _ => None,
        },
    }
}

/// Bounds on retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Give up on propagation after this long since the first attempt.
    pub propagation_wait: Duration,
    /// At most this many retries of throttling and server errors.
    pub max_server_retries: u32,
    /// First backoff delay; doubles each time, capped at `max_delay`.
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            propagation_wait: Duration::from_secs(300),
            max_server_retries: 4,
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl Policy {
    /// The delay before retry number `n` (0-based): the server's `Retry-After` when given
    /// (capped at `max_delay` × 4), else exponential backoff.
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_delay * 4);
        }
        let factor = 1u32.checked_shl(n.min(16)).unwrap_or(u32::MAX);
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::parse;

    fn error(status: u16, code: u64, retry_after: Option<&str>) -> Parsed {
        parse(
            status,
            retry_after,
            format!(
                r#"{{"error":"x","error_description":"AADSTS{code}: y","error_codes":[{code}]}}"#
            )
            .as_bytes(),
        )
    }

    #[test]
    fn only_propagation_throttling_and_server_errors_are_retried() {
        assert_eq!(
            decide(&error(400, 70021, None)),
            Some((Transient::Propagation, None))
        );
        assert_eq!(
            decide(&error(400, 70025, None)),
            Some((Transient::Propagation, None))
        );
        assert_eq!(
            decide(&error(429, 90055, Some("3"))),
            Some((Transient::Throttled, Some(Duration::from_secs(3))))
        );
        assert_eq!(
            decide(&error(503, 90033, None)),
            Some((Transient::Server, None))
        );
        for code in [
            700211, 700212, 700213, 7000272, 700024, 70023, 90061, 700016, 90002,
        ] {
            assert_eq!(decide(&error(401, code, None)), None, "{code}");
            assert_eq!(decide(&error(400, code, None)), None, "{code}");
        }
        assert_eq!(
            decide(&parse(502, None, b"bad gateway")),
            Some((Transient::Server, None))
        );
        assert_eq!(decide(&parse(404, None, b"not found")), None);
    }

    #[test]
    fn backoff_doubles_and_honours_retry_after() {
        let p = Policy::default();
        assert_eq!(p.delay(0, None), Duration::from_secs(2));
        assert_eq!(p.delay(1, None), Duration::from_secs(4));
        assert_eq!(p.delay(10, None), Duration::from_secs(30));
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(120)
        );
    }
}
