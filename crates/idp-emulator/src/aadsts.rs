//! Entra's token-endpoint error: an AADSTS code, the OAuth `error`, the HTTP status, and
//! the JSON body Entra sends.

use crate::ids::{entra_timestamp, new_guid};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::SystemTime;

/// One token-endpoint failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aadsts {
    /// The AADSTS number, e.g. `700211`.
    pub code: u32,
    /// The HTTP status Entra answers with.
    pub status: StatusCode,
    /// The OAuth `error` value, e.g. `invalid_client`.
    pub error: &'static str,
    /// The message after `AADSTS<code>: `.
    pub message: String,
}

impl Aadsts {
    pub(crate) fn new(
        code: u32,
        status: StatusCode,
        error: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            status,
            error,
            message: message.into(),
        }
    }

    /// 400 `invalid_request`.
    pub(crate) fn request(code: u32, message: impl Into<String>) -> Self {
        Self::new(code, StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401 `invalid_client`.
    pub(crate) fn client(code: u32, message: impl Into<String>) -> Self {
        Self::new(code, StatusCode::UNAUTHORIZED, "invalid_client", message)
    }

    /// The response Entra would send, stamped with `now` and `correlation_id`. The
    /// description's trailer follows single spaces, on the same line: Entra dropped the
    /// `\r\n` separators in 2023 (issues Azure/azure-workload-identity#1232, #1200;
    /// Azure/azure-sdk-for-net#9076 show both forms).
    pub(crate) fn into_response_at(self, now: SystemTime, correlation_id: &str) -> Response {
        let trace_id = new_guid();
        let timestamp = entra_timestamp(now);
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        no_store(&mut response, correlation_id);
        response
    }
}

/// Entra's cache headers for token responses, plus the correlation id echoed back.
pub(crate) fn no_store(response: &mut Response, correlation_id: &str) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(correlation_id) {
        headers.insert("client-request-id", v);
    }
}
