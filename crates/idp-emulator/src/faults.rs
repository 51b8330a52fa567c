//! Fault injection for client retry tests: the next requests to the token endpoint answer
//! 429 or 503 with `Retry-After`, set in process or over HTTP (`POST /_emulator/faults`),
//! bounded so that a request cannot exhaust the emulator.

use crate::{Aadsts, Emulator, lock};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The most requests one injection may fail.
pub const MAX_FAULT_COUNT: u32 = 100_000;
/// The most injections pending at once.
pub const MAX_FAULT_RUNS: usize = 1_000;
/// The longest `Retry-After` a fault may announce.
pub const MAX_FAULT_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why a fault injection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FaultLimit {
    #[error("count is at most 100000")]
    Count,
    #[error("retry_after is at most 3600 seconds")]
    RetryAfter,
    #[error("1000 injections are already pending; DELETE /_emulator/faults first")]
    Runs,
}

/// A failure the token endpoint answers with instead of checking the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After`, body AADSTS90055 `temporarily_unavailable`.
    TooManyRequests { retry_after: Duration },
    /// 503 with `Retry-After`, body AADSTS90033 `temporarily_unavailable`.
    ServiceUnavailable { retry_after: Duration },
}

/// Where injected faults answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// Entra's token endpoint (AADSTS bodies).
    Token,
    /// Key Vault's data plane (Key Vault's error body).
    Vault,
}

impl Emulator {
    /// Makes the next `count` token requests fail with `fault` (queued after any already
    /// pending). Refused beyond [`MAX_FAULT_COUNT`] requests or [`MAX_FAULT_RUNS`] pending
    /// injections: a test double must not be a way to exhaust the process.
    pub fn inject_faults(&self, fault: Fault, count: u32) -> Result<(), FaultLimit> {
        self.inject_faults_at(FaultTarget::Token, fault, count)
    }

    /// [`Emulator::inject_faults`] for `target`.
    pub fn inject_faults_at(
        &self,
        target: FaultTarget,
        fault: Fault,
        count: u32,
    ) -> Result<(), FaultLimit> {
        if count > MAX_FAULT_COUNT {
            return Err(FaultLimit::Count);
        }
        if let Fault::TooManyRequests { retry_after } | Fault::ServiceUnavailable { retry_after } =
            fault
            && retry_after > MAX_FAULT_RETRY_AFTER
        {
            return Err(FaultLimit::RetryAfter);
        }
        let mut faults = lock(self.queue(target));
        if faults.len() >= MAX_FAULT_RUNS {
            return Err(FaultLimit::Runs);
        }
        if count > 0 {
            faults.push_back((fault, count));
        }
        Ok(())
    }

    fn queue(
        &self,
        target: FaultTarget,
    ) -> &std::sync::Mutex<std::collections::VecDeque<(Fault, u32)>> {
        match target {
            FaultTarget::Token => &self.0.faults,
            FaultTarget::Vault => &self.0.vault_faults,
        }
    }

    /// Drops pending faults, at every target.
    pub fn clear_faults(&self) {
        lock(&self.0.faults).clear();
        lock(&self.0.vault_faults).clear();
    }

    /// How many token requests will still fail.
    pub fn pending_faults(&self) -> usize {
        self.pending_faults_at(FaultTarget::Token)
    }

    /// How many requests to `target` will still fail.
    pub fn pending_faults_at(&self, target: FaultTarget) -> usize {
        lock(self.queue(target))
            .iter()
            .map(|(_, n)| *n as usize)
            .sum()
    }

    fn next_fault(&self, target: FaultTarget) -> Option<Fault> {
        let mut faults = lock(self.queue(target));
        let (fault, left) = faults.front_mut()?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            faults.pop_front();
        }
        Some(fault)
    }

    /// The next injected fault for Key Vault's data plane, as Key Vault answers it: 429
    /// with `Retry-After` and code `Throttled` (Learn, "Azure Key Vault throttling
    /// guidance"), or 503 `ServiceUnavailable`.
    pub(crate) fn take_vault_fault(&self) -> Option<Response> {
        let (status, code, message, retry_after) = match self.next_fault(FaultTarget::Vault)? {
            Fault::TooManyRequests { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                "Request was not processed because too many requests were received. Reason: A1",
                retry_after,
            ),
            Fault::ServiceUnavailable { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please try again.",
                retry_after,
            ),
        };
        let mut response = (
            status,
            axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
        )
            .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs().max(1)),
        );
        Some(response)
    }

    pub(crate) fn take_fault(&self, now: SystemTime, correlation: &str) -> Option<Response> {
        let fault = self.next_fault(FaultTarget::Token)?;
        let (status, code, message, retry_after) = match fault {
            Fault::TooManyRequests { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                90055,
                "There are too many incoming requests. Retry after the interval in Retry-After.",
                retry_after,
            ),
            Fault::ServiceUnavailable { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                90033,
                "A transient error has occurred. Please try again.",
                retry_after,
            ),
        };
        let mut response = Aadsts::new(code, status, "temporarily_unavailable", message)
            .into_response_at(now, correlation);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs().max(1)),
        );
        Some(response)
    }
}

pub(crate) async fn post_faults(State(emu): State<Emulator>, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let field = |v: &Value, name: &str| v.get(name).and_then(Value::as_u64);
    let fault = parsed.ok().and_then(|v| {
        let retry_after = Duration::from_secs(field(&v, "retry_after").unwrap_or(1));
        let count = u32::try_from(field(&v, "count").unwrap_or(1)).unwrap_or(u32::MAX);
        let fault = match field(&v, "status")? {
            429 => Fault::TooManyRequests { retry_after },
            503 => Fault::ServiceUnavailable { retry_after },
            _ => return None,
        };
        let target = match v.get("service").and_then(Value::as_str) {
            None | Some("token") => FaultTarget::Token,
            Some("vault") => FaultTarget::Vault,
            Some(_) => return None,
        };
        Some((target, fault, count))
    });
    match fault {
        Some((target, fault, count)) => match emu.inject_faults_at(target, fault, count) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(limit) => (StatusCode::BAD_REQUEST, format!("refused: {limit}\n")).into_response(),
        },
        None => (
            StatusCode::BAD_REQUEST,
            "expected {\"status\":429|503,\"count\":n,\"retry_after\":seconds,\"service\":\"token\"|\"vault\"}\n",
        )
            .into_response(),
    }
}

pub(crate) async fn delete_faults(State(emu): State<Emulator>) -> StatusCode {
    emu.clear_faults();
    StatusCode::NO_CONTENT
}
