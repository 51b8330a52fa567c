//! Decoding an assertion and checking it as Entra would, against the local keyring.

use crate::keyring::{KeyState, Keyring};
use crate::{Issuer, KNOWN_AUDIENCES};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use josekit::jws::{JwsVerifier, RS256};
use serde_json::{Map, Value};
use thiserror::Error;

/// Entra's limit on `exp - iat` (AADSTS70023): 1 day and 1 hour.
pub const ENTRA_MAX_LIFETIME_SECS: i64 = 25 * 3600;

/// Why a token cannot even be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the token has {parts} dot-separated parts; a compact JWS has 3")]
    Parts { parts: usize },
    #[error("the token's {part} is not unpadded base64url")]
    Base64 { part: &'static str },
    #[error("the token's {part} is not a JSON object")]
    Json { part: &'static str },
}

/// A compact JWS split into its parts.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS, without verifying anything.
pub fn decode(token: &str) -> Result<Decoded, DecodeError> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(DecodeError::Parts { parts: parts.len() });
    }
    let object = |part: &'static str, s: &str| -> Result<Map<String, Value>, DecodeError> {
        let bytes = B64URL.decode(s).map_err(|_| DecodeError::Base64 { part })?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(DecodeError::Json { part }),
        }
    };
    Ok(Decoded {
        header: object("header", parts[0])?,
        claims: object("claims", parts[1])?,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature: B64URL
            .decode(parts[2])
            .map_err(|_| DecodeError::Base64 { part: "signature" })?,
    })
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Every check, in the order Entra would meet them.
#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
    /// Seconds until `exp` (negative once expired), when `exp` is a number.
    pub expires_in: Option<i64>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// Checks `token` against `issuer` and `keyring` at `now` (Unix seconds).
///
/// `audience` is the audience the FIC carries when one was configured; without it, any of
/// the clouds' token-exchange audiences passes.
pub fn check(
    token: &Decoded,
    issuer: &Issuer,
    audience: Option<&str>,
    keyring: &Keyring,
    now: i64,
) -> Report {
    let mut checks = Vec::new();
    let mut push = |name, ok, detail: String| checks.push(Check { name, ok, detail });

    let alg = token.header.get("alg").and_then(Value::as_str);
    push(
        "alg",
        alg == Some("RS256"),
        match alg {
            Some("RS256") => "RS256".into(),
            Some(other) => format!("`{other}`; Entra accepts RS256"),
            None => "missing; Entra accepts RS256".into(),
        },
    );

    let kid = token.header.get("kid").and_then(Value::as_str);
    let entry = kid.and_then(|k| keyring.get(k));
    let (kid_ok, kid_detail) = match (kid, entry) {
        (None, _) => (
            false,
            "header has no `kid`; Entra cannot pick a key (AADSTS7000272)".into(),
        ),
        (Some(k), None) => (
            false,
            format!("`{k}` is not in the local keyring (AADSTS7000272)"),
        ),
        (Some(k), Some(e)) if e.state == KeyState::Retired => (
            false,
            format!("`{k}` is retired and no longer in the JWKS (AADSTS7000272)"),
        ),
        (Some(k), Some(e)) => (true, format!("`{k}` ({})", e.state.as_str())),
    };
    push("kid", kid_ok, kid_detail);

    let signature = match entry {
        None => (false, "no key to verify with".to_owned()),
        Some(e) => match verify(&e.public.n, &e.public.e, token) {
            Ok(()) => (true, "valid".into()),
            Err(reason) => (false, reason),
        },
    };
    push("signature", signature.0, signature.1);

    let iss = token.claims.get("iss").and_then(Value::as_str);
    push(
        "iss",
        iss == Some(issuer.as_str()),
        match iss {
            Some(i) if i == issuer.as_str() => format!("`{i}`"),
            Some(i) if i.trim_end_matches('/') == issuer.as_str().trim_end_matches('/') => format!(
                "`{i}` differs from the issuer `{issuer}` only by a trailing slash; Entra compares exactly (AADSTS700211)"
            ),
            Some(i) => format!("`{i}` is not the issuer `{issuer}` (AADSTS700211)"),
            None => "missing".into(),
        },
    );

    let sub = token.claims.get("sub").and_then(Value::as_str);
    push(
        "sub",
        sub.is_some_and(|s| !s.is_empty() && s.trim() == s),
        match sub {
            Some("") => "empty".into(),
            Some(s) if s.trim() != s => format!("{s:?} has surrounding whitespace"),
            Some(s) => format!("`{s}`"),
            None => "missing".into(),
        },
    );

    let aud = token.claims.get("aud");
    let aud_str = aud.and_then(Value::as_str);
    let expected = |a: &str| match audience {
        Some(configured) => a == configured,
        None => KNOWN_AUDIENCES.contains(&a),
    };
    push(
        "aud",
        aud_str.is_some_and(expected),
        match (aud, aud_str, audience) {
            (_, Some(a), _) if expected(a) => format!("`{a}`"),
            (_, Some(a), Some(configured)) => {
                format!("`{a}` is not the configured audience `{configured}` (AADSTS700212)")
            }
            (_, Some(a), None) => {
                format!("`{a}` is not a token-exchange audience (AADSTS700212)")
            }
            (Some(v), None, _) => format!("{v} is not a single string"),
            (None, _, _) => "missing".into(),
        },
    );

    let num = |k: &str| token.claims.get(k).and_then(Value::as_i64);
    let (iat, nbf, exp) = (num("iat"), num("nbf"), num("exp"));
    let time = match (exp, nbf) {
        (None, _) => (false, "`exp` is missing".to_owned()),
        // Claims are the token's: any i64, so every difference saturates.
        (Some(e), _) if e <= now => (
            false,
            format!(
                "expired {} ago (AADSTS700024)",
                human(now.saturating_sub(e))
            ),
        ),
        (Some(_), Some(n)) if n > now => (
            false,
            format!(
                "not valid for another {} (AADSTS700024)",
                human(n.saturating_sub(now))
            ),
        ),
        (Some(e), _) => (
            true,
            format!("valid for another {}", human(e.saturating_sub(now))),
        ),
    };
    push("time", time.0, time.1);

    let lifetime = match (iat.or(nbf), exp) {
        (Some(start), Some(end)) if end.saturating_sub(start) > ENTRA_MAX_LIFETIME_SECS => (
            false,
            format!(
                "{} from iat to exp; Entra allows 25h (AADSTS70023)",
                human(end.saturating_sub(start))
            ),
        ),
        (Some(start), Some(end)) => (true, human(end.saturating_sub(start))),
        _ => (true, "no iat; not checked".into()),
    };
    push("lifetime", lifetime.0, lifetime.1);

    Report {
        checks,
        expires_in: exp.map(|e| e.saturating_sub(now)),
    }
}

fn verify(n: &str, e: &str, token: &Decoded) -> Result<(), String> {
    let mut jwk = josekit::jwk::Jwk::new("RSA");
    jwk.set_parameter("n", Some(Value::String(n.into())))
        .and_then(|()| jwk.set_parameter("e", Some(Value::String(e.into()))))
        .map_err(|err| format!("cannot use the keyring's public key: {err}"))?;
    let verifier = RS256
        .verifier_from_jwk(&jwk)
        .map_err(|err| format!("cannot use the keyring's public key: {err}"))?;
    verifier
        .verify(token.signing_input.as_bytes(), &token.signature)
        .map_err(|_| "does not verify with the key named by `kid` (changed after signing, or signed by another key)".to_owned())
}

/// `1h2m3s`-style text for a number of seconds.
pub fn human(secs: i64) -> String {
    crate::duration::format(std::time::Duration::from_secs(secs.unsigned_abs()))
}

impl crate::diagnostic::Diagnostic for DecodeError {
    fn hint(&self) -> Option<String> {
        Some(
            "pass the whole token (header.claims.signature), or `-` to read it from standard input"
                .into(),
        )
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertion::{self, AssertionSpec, Audience, Lifetime, PrivateClaims, Subject};
    use crate::keyring::entry_for;
    use crate::keys;
    use serde_json::json;
    use std::path::Path;
    use time::macros::datetime;

    const NOW: i64 = 1_800_000_000;

    fn setup() -> (Keyring, keys::SigningKey, Issuer) {
        let parsed = keys::generate(2048).unwrap();
        let ring = Keyring {
            version: 1,
            keys: vec![entry_for(
                &parsed,
                KeyState::Active,
                datetime!(2026-01-01 00:00 UTC),
            )],
        };
        let key = parsed.into_signing_key(Path::new("k")).unwrap();
        (ring, key, Issuer::parse("https://h/c").unwrap())
    }

    fn token(key: &keys::SigningKey, iss: &str) -> String {
        let spec = AssertionSpec {
            issuer: Issuer::parse(iss).unwrap(),
            subject: Subject::parse("s").unwrap(),
            audience: Audience::default(),
            lifetime: Lifetime::default(),
            claims: PrivateClaims::default(),
        };
        assertion::sign(&spec, key, NOW, "j")
            .token
            .expose()
            .to_owned()
    }

    fn failing(report: &Report) -> Vec<&'static str> {
        report.failures().map(|c| c.name).collect()
    }

    #[test]
    fn a_fresh_token_passes_every_check() {
        let (ring, key, issuer) = setup();
        let r = check(
            &decode(&token(&key, "https://h/c")).unwrap(),
            &issuer,
            None,
            &ring,
            NOW,
        );
        assert!(r.ok(), "{:?}", r.checks);
        assert_eq!(r.expires_in, Some(600));
    }

    #[test]
    fn names_the_failing_check() {
        let (ring, key, issuer) = setup();
        let t = token(&key, "https://h/c/");
        let r = check(&decode(&t).unwrap(), &issuer, None, &ring, NOW);
        assert_eq!(failing(&r), ["iss"]);
        assert!(r.checks[3].detail.contains("trailing slash"));

        let t = token(&key, "https://h/c");
        let r = check(&decode(&t).unwrap(), &issuer, None, &ring, NOW + 601);
        assert_eq!(failing(&r), ["time"]);

        // Payload changed after signing.
        let parts: Vec<&str> = t.split('.').collect();
        let mut claims: Value = serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = "other".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        let r = check(&decode(&forged).unwrap(), &issuer, None, &ring, NOW);
        assert_eq!(failing(&r), ["signature"]);

        // Signed by a key the keyring does not know.
        let (_, other, _) = setup();
        let r = check(
            &decode(&token(&other, "https://h/c")).unwrap(),
            &issuer,
            None,
            &ring,
            NOW,
        );
        assert_eq!(failing(&r), ["kid", "signature"]);
    }

    /// A token with these claims and a signature that does not verify.
    fn unsigned(claims: Value) -> Decoded {
        let header = B64URL.encode(br#"{"alg":"RS256","kid":"k"}"#);
        let claims = B64URL.encode(serde_json::to_vec(&claims).unwrap());
        decode(&format!("{header}.{claims}.c2ln")).unwrap()
    }

    #[test]
    fn each_check_fails_alone_with_its_reason() {
        let (ring, _, issuer) = setup();
        let kid = ring.keys[0].kid.clone();
        let base = json!({"iss": "https://h/c", "sub": "s", "aud": "api://AzureADTokenExchange",
            "iat": NOW, "nbf": NOW - 60, "exp": NOW + 600});
        let token = |header: Value, claims: Value| {
            let h = B64URL.encode(serde_json::to_vec(&header).unwrap());
            let c = B64URL.encode(serde_json::to_vec(&claims).unwrap());
            decode(&format!("{h}.{c}.c2ln")).unwrap()
        };
        let with = |key: &str, v: Value| {
            let mut c = base.clone();
            match v {
                Value::Null => {
                    c.as_object_mut().unwrap().remove(key);
                }
                v => c[key] = v,
            }
            c
        };
        let rs = json!({"alg": "RS256", "kid": kid});
        // (header, claims, the failing checks besides `signature`, words in the detail)
        let cases: Vec<(Value, Value, &str, &str)> = vec![
            (
                json!({"alg": "HS256", "kid": kid}),
                base.clone(),
                "alg",
                "Entra accepts RS256",
            ),
            (json!({"kid": kid}), base.clone(), "alg", "missing"),
            (
                json!({"alg": "RS256"}),
                base.clone(),
                "kid",
                "header has no `kid`",
            ),
            (
                json!({"alg": "RS256", "kid": "other"}),
                base.clone(),
                "kid",
                "not in the local keyring",
            ),
            (
                rs.clone(),
                with("iss", "https://h/c/".into()),
                "iss",
                "only by a trailing slash",
            ),
            (
                rs.clone(),
                with("iss", "https://x/c".into()),
                "iss",
                "is not the issuer",
            ),
            (rs.clone(), with("iss", Value::Null), "iss", "missing"),
            (rs.clone(), with("sub", "".into()), "sub", "empty"),
            (
                rs.clone(),
                with("sub", " s".into()),
                "sub",
                "surrounding whitespace",
            ),
            (rs.clone(), with("sub", Value::Null), "sub", "missing"),
            (
                rs.clone(),
                with("aud", "api://other".into()),
                "aud",
                "not a token-exchange audience",
            ),
            (
                rs.clone(),
                with("aud", json!(["api://AzureADTokenExchange"])),
                "aud",
                "not a single string",
            ),
            (rs.clone(), with("aud", Value::Null), "aud", "missing"),
            (
                rs.clone(),
                with("exp", (NOW - 1).into()),
                "time",
                "expired 1s ago",
            ),
            (
                rs.clone(),
                with("exp", Value::Null),
                "time",
                "`exp` is missing",
            ),
            (
                rs.clone(),
                with("nbf", (NOW + 30).into()),
                "time",
                "not valid for another 30s",
            ),
            (
                rs.clone(),
                {
                    let mut c = with("exp", (NOW + 25 * 3600 + 1).into());
                    c["nbf"] = NOW.into();
                    c
                },
                "lifetime",
                "Entra allows 25h",
            ),
        ];
        for (header, claims, check_name, words) in cases {
            let r = check(&token(header, claims.clone()), &issuer, None, &ring, NOW);
            let failed: Vec<_> = failing(&r)
                .into_iter()
                .filter(|n| *n != "signature")
                .collect();
            assert_eq!(failed, [check_name], "{claims}: {:?}", r.checks);
            let detail = &r
                .checks
                .iter()
                .find(|c| c.name == check_name)
                .unwrap()
                .detail;
            assert!(detail.contains(words), "{check_name}: {detail}");
        }
        // A lifetime of exactly 25 h passes.
        let mut c = with("exp", (NOW + 25 * 3600).into());
        c["iat"] = NOW.into();
        let r = check(&token(rs, c), &issuer, None, &ring, NOW);
        assert!(!failing(&r).contains(&"lifetime"), "{:?}", r.checks);
    }

    #[test]
    fn extreme_times_fail_without_overflowing() {
        let (ring, _, issuer) = setup();
        let d = unsigned(json!({"iss": "https://h/c", "sub": "s",
            "aud": "api://AzureADTokenExchange", "iat": i64::MIN, "nbf": i64::MIN, "exp": i64::MAX}));
        let r = check(&d, &issuer, None, &ring, NOW);
        assert!(failing(&r).contains(&"lifetime"), "{:?}", r.checks);
        assert_eq!(r.expires_in, Some(i64::MAX - NOW));
        let d = unsigned(json!({"iss": "https://h/c", "sub": "s",
            "aud": "api://AzureADTokenExchange", "iat": i64::MAX, "exp": i64::MIN}));
        let r = check(&d, &issuer, None, &ring, NOW);
        assert!(failing(&r).contains(&"time"), "{:?}", r.checks);
        assert_eq!(r.expires_in, Some(i64::MIN));
    }

    #[test]
    fn a_configured_audience_is_the_one_expected() {
        let (ring, _, issuer) = setup();
        let with = |aud: &str| {
            unsigned(json!({"iss": "https://h/c", "sub": "s", "aud": aud,
                "iat": NOW, "exp": NOW + 600}))
        };
        let aud_check = |d: &Decoded, configured: Option<&str>| {
            check(d, &issuer, configured, &ring, NOW)
                .checks
                .into_iter()
                .find(|c| c.name == "aud")
                .unwrap()
        };
        assert!(aud_check(&with("api://AzureADTokenExchangeUSGov"), None).ok);
        assert!(!aud_check(&with("api://custom"), None).ok);
        assert!(aud_check(&with("api://custom"), Some("api://custom")).ok);
        let c = aud_check(&with("api://AzureADTokenExchange"), Some("api://custom"));
        assert!(!c.ok);
        assert!(
            c.detail.contains("configured audience `api://custom`"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn undecodable_tokens_say_why() {
        assert_eq!(decode("a.b").unwrap_err(), DecodeError::Parts { parts: 2 });
        assert_eq!(
            decode("!!.e30.AA").unwrap_err(),
            DecodeError::Base64 { part: "header" }
        );
        assert_eq!(
            decode("W10.e30.AA").unwrap_err(),
            DecodeError::Json { part: "header" }
        );
    }
}
