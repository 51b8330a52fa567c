//! The HTTP helpers every route module shares: query parameters, request bodies, bearer
//! tokens and the emulator's access tokens, and the shapes of answers (ARM's error body,
//! a PUT's status, cacheable JSON). It knows no route.

use crate::Emulator;
use crate::arm::ArmError;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The first value of query parameter `name`, decoded.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// A PUT's status: 201 when it created the resource, 200 when it replaced one.
pub(crate) fn created(new: bool) -> StatusCode {
    if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// An ARM answer: `status` and the JSON `body`.
pub(crate) fn arm_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// ARM's answer to `e`: its status and `{"error":{"code","message"}}`.
pub(crate) fn arm_error(e: &ArmError) -> Response {
    arm_response(e.status, e.body())
}

/// 400 `InvalidRequestContent`: a request body ARM could not read.
pub(crate) fn invalid_content(detail: impl std::fmt::Display) -> ArmError {
    ArmError {
        status: StatusCode::BAD_REQUEST,
        code: "InvalidRequestContent",
        message: format!("The request content was invalid and could not be deserialized: {detail}"),
    }
}

/// A request body that must be a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ArmError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_content("the body is not a JSON object")),
        Err(e) => Err(invalid_content(e)),
    }
}

/// JSON that clients may cache for a day (metadata, keys, discovery).
pub(crate) fn cacheable_json(body: Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    response
}

/// The bearer token of `Authorization: Bearer …`, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

/// Why an access token is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Not a token this tenant's Entra (this emulator) signed, or malformed.
    Invalid,
    /// For another resource: the `aud` found.
    Audience(String),
    Expired {
        exp: i64,
        now: i64,
    },
}

/// The claims of an access token this emulator signed for one of `audiences`, issued by
/// the customer tenant's Entra, unexpired on the emulator's clock.
pub(crate) fn verify_access_token(
    emu: &Emulator,
    token: &str,
    audiences: &[&str],
) -> Result<Value, TokenProblem> {
    verify_token_from(emu, token, audiences, &[emu.access_token_issuer()])
}

/// [`verify_access_token`] for a token `issuers` (one of them) issued.
pub(crate) fn verify_token_from(
    emu: &Emulator,
    token: &str,
    audiences: &[&str],
    issuers: &[String],
) -> Result<Value, TokenProblem> {
    // The emulator's own tokens: RS256 with its key (the header's `alg` must say so, and
    // is never what chooses the algorithm), then `iss` one of `issuers`.
    let key = emu.signing_key();
    let (n, e) = key.public_components();
    let t = crate::jwt::split(token).map_err(|_| TokenProblem::Invalid)?;
    if t.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(TokenProblem::Invalid);
    }
    crate::jwt::verify_rs256(n, e, t.signing_input.as_bytes(), t.signature)
        .map_err(|_| TokenProblem::Invalid)?;
    let iss = t
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !issuers.iter().any(|i| i == iss) {
        return Err(TokenProblem::Invalid);
    }
    let claims = Value::Object(t.claims);
    let aud = claims["aud"].as_str().unwrap_or_default();
    if !audiences.contains(&aud) {
        return Err(TokenProblem::Audience(aud.to_owned()));
    }
    let now = crate::clock::unix(emu.now());
    match claims["exp"].as_i64() {
        Some(exp) if exp > now => Ok(claims),
        Some(exp) => Err(TokenProblem::Expired { exp, now }),
        None => Err(TokenProblem::Invalid),
    }
}
