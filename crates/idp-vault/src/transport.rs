//! The SDK's transport and retry policy, bounded: a response is read into a buffer of at
//! most `max` bytes, and a request is retried a few times with a capped wait.

use async_trait::async_trait;
use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::{HeaderName, RETRY_AFTER};
use azure_core::http::policies::{RetryHeaders, RetryPolicy};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, StatusCode};
use azure_core::time::Duration;

/// reqwest (idp's client), with the response body read whole into at most `max` bytes.
#[derive(Debug)]
pub(crate) struct Bounded {
    http: reqwest::Client,
    max: usize,
}

impl Bounded {
    pub(crate) fn new(http: reqwest::Client, max: usize) -> Self {
        Self { http, max }
    }
}

#[async_trait]
impl HttpClient for Bounded {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let response = self.http.execute_request(request).await?;
        let (status, headers, body) = response.deconstruct();
        let mut buffer = vec![0u8; self.max];
        let n = body.collect_into(&mut buffer).await.map_err(|e| {
            Error::with_message(
                ErrorKind::Io,
                format!(
                    "the vault's response is over {} bytes or broken: {e}",
                    self.max
                ),
            )
        })?;
        buffer.truncate(n);
        Ok(AsyncRawResponse::from_bytes(status, headers, buffer))
    }
}

/// At most [`crate::MAX_RETRIES`] retries, 0.5 s doubling, `Retry-After` honoured up to
/// [`crate::MAX_RETRY_AFTER`], all within a minute.
#[derive(Debug)]
pub(crate) struct Retry {
    headers: RetryHeaders,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            headers: RetryHeaders {
                retry_headers: vec![
                    HeaderName::from_static("retry-after-ms"),
                    HeaderName::from_static("x-ms-retry-after-ms"),
                    RETRY_AFTER,
                ],
            },
        }
    }
}

const RETRY_STATUS: [StatusCode; 6] = [
    StatusCode::RequestTimeout,
    StatusCode::TooManyRequests,
    StatusCode::InternalServerError,
    StatusCode::BadGateway,
    StatusCode::ServiceUnavailable,
    StatusCode::GatewayTimeout,
];

#[async_trait]
impl RetryPolicy for Retry {
    fn is_expired(&self, since_start: Duration, retry_count: u32) -> bool {
        retry_count >= crate::MAX_RETRIES || since_start > Duration::seconds(60)
    }

    fn retry_headers(&self) -> Option<&RetryHeaders> {
        Some(&self.headers)
    }

    fn retry_status_codes(&self) -> &[StatusCode] {
        &RETRY_STATUS
    }

    fn sleep_duration(&self, retry_count: u32) -> Duration {
        Duration::milliseconds(500 * (1i64 << retry_count.saturating_sub(1).min(4)))
    }

    async fn wait(&self, retry_count: u32, retry_after: Option<Duration>) {
        let cap = Duration::try_from(crate::MAX_RETRY_AFTER).unwrap_or(Duration::seconds(30));
        let wait = retry_after
            .map(|r| r.min(cap))
            .unwrap_or_default()
            .max(self.sleep_duration(retry_count));
        tokio::time::sleep(wait.try_into().unwrap_or_default()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_few_and_waits_bounded() {
        let r = Retry::default();
        assert!(!r.is_expired(Duration::ZERO, 0));
        assert!(!r.is_expired(Duration::ZERO, 2));
        assert!(r.is_expired(Duration::ZERO, 3));
        assert!(r.is_expired(Duration::seconds(61), 0));
        assert!(!r.is_expired(Duration::seconds(60), 0));
        // Retry-After (and its millisecond forms) is what the vault's 429 says to wait.
        let headers = &r.retry_headers().unwrap().retry_headers;
        assert!(headers.contains(&RETRY_AFTER), "{headers:?}");
        assert_eq!(headers.len(), 3);
        assert_eq!(r.sleep_duration(1), Duration::milliseconds(500));
        assert_eq!(r.sleep_duration(2), Duration::seconds(1));
        assert_eq!(r.sleep_duration(3), Duration::seconds(2));
        assert!(
            r.retry_status_codes()
                .contains(&StatusCode::TooManyRequests)
        );
        assert!(!r.retry_status_codes().contains(&StatusCode::Forbidden));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_up_to_its_cap() {
        let r = Retry::default();
        for (count, after, expect) in [
            (1, None, std::time::Duration::from_millis(500)),
            (2, None, std::time::Duration::from_secs(1)),
            (
                1,
                Some(Duration::seconds(2)),
                std::time::Duration::from_secs(2),
            ),
            (
                3,
                Some(Duration::milliseconds(10)),
                std::time::Duration::from_secs(2),
            ),
            (1, Some(Duration::seconds(3600)), crate::MAX_RETRY_AFTER),
        ] {
            let started = tokio::time::Instant::now();
            r.wait(count, after).await;
            assert_eq!(started.elapsed(), expect, "{count} {after:?}");
        }
    }
}
