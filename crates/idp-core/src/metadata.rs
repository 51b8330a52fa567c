//! The two documents an issuer publishes: `.well-known/openid-configuration` and the JWKS.
//!
//! Rendering is deterministic: the same issuer, JWKS path and keyring give the same bytes,
//! so "is anything to publish?" is a byte comparison.

use crate::issuer::{DISCOVERY_PATH, Issuer};
use crate::keyring::{KeyEntry, Keyring, MAX_PUBLISHED_KEYS};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where the JWKS goes by default, relative to the issuer.
pub const DEFAULT_JWKS_PATH: &str = ".well-known/jwks.json";

/// Claims idp puts in assertions, as advertised in `claims_supported`.
pub const CLAIMS_SUPPORTED: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"];

/// Why the documents cannot be rendered.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MetadataError {
    #[error("JWKS path `{path}` is not usable: {reason}")]
    BadJwksPath { path: String, reason: &'static str },
    #[error("the keyring has no active key, so the JWKS would not carry the signing key")]
    NoActiveKey,
    #[error("the keyring publishes {count} keys; Entra reads at most {MAX_PUBLISHED_KEYS}")]
    TooManyKeys { count: usize },
}

/// A JWKS path: relative to the issuer, no `..`, no query, fragment or whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksPath(String);

impl JwksPath {
    pub fn parse(path: &str) -> Result<Self, MetadataError> {
        let bad = |reason| {
            Err(MetadataError::BadJwksPath {
                path: path.to_owned(),
                reason,
            })
        };
        if path.is_empty() {
            return bad("it is empty");
        }
        if path.starts_with('/') || path.contains("://") {
            return bad("it must be relative to the issuer (like `.well-known/jwks.json`)");
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("it contains whitespace");
        }
        if path.contains(['?', '#', '\\', '%']) {
            return bad("it may not contain `?`, `#`, `%` or `\\`");
        }
        if path
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return bad("it has an empty, `.` or `..` segment");
        }
        if path == DISCOVERY_PATH {
            return bad("it is the discovery document's own path");
        }
        Ok(Self(path.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JwksPath {
    fn default() -> Self {
        Self(DEFAULT_JWKS_PATH.to_owned())
    }
}

/// The discovery document, members in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

/// One public key as the JWKS carries it. There is no field a private member could go in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl Jwk {
    pub fn from_entry(entry: &KeyEntry) -> Self {
        Self {
            kty: "RSA".into(),
            use_: "sig".into(),
            alg: "RS256".into(),
            kid: entry.kid.clone(),
            n: entry.public.n.clone(),
            e: entry.public.e.clone(),
        }
    }
}

/// `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The rendered documents and where each goes, relative to the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    pub discovery_path: String,
    pub discovery: Vec<u8>,
    pub jwks_path: String,
    pub jwks: Vec<u8>,
    /// The kids the JWKS carries, in order.
    pub kids: Vec<String>,
}

/// Builds the discovery document for `issuer` with its JWKS at `jwks_path`.
pub fn discovery(issuer: &Issuer, jwks_path: &JwksPath) -> Discovery {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    Discovery {
        issuer: issuer.as_str().to_owned(),
        jwks_uri: issuer.join(jwks_path.as_str()),
        response_types_supported: strings(&["id_token"]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["RS256"]),
        claims_supported: strings(&CLAIMS_SUPPORTED),
    }
}

/// Builds the JWKS: next, active and retiring keys (active first), never retired ones.
pub fn jwks(keyring: &Keyring) -> Result<Jwks, MetadataError> {
    if keyring.active().is_none() {
        return Err(MetadataError::NoActiveKey);
    }
    let published = keyring.published();
    if published.len() > MAX_PUBLISHED_KEYS {
        return Err(MetadataError::TooManyKeys {
            count: published.len(),
        });
    }
    Ok(Jwks {
        keys: published.into_iter().map(Jwk::from_entry).collect(),
    })
}

/// Renders both documents as they will be published: pretty JSON, newline-terminated.
pub fn render(
    issuer: &Issuer,
    jwks_path: &JwksPath,
    keyring: &Keyring,
) -> Result<Documents, MetadataError> {
    let set = jwks(keyring)?;
    Ok(Documents {
        discovery_path: DISCOVERY_PATH.to_owned(),
        discovery: pretty(&discovery(issuer, jwks_path)),
        jwks_path: jwks_path.as_str().to_owned(),
        kids: set.keys.iter().map(|k| k.kid.clone()).collect(),
        jwks: pretty(&set),
    })
}

/// Pretty JSON with a final newline: stable bytes for a given value.
fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("documents serialise");
    out.push(b'\n');
    out
}

impl crate::diagnostic::Diagnostic for MetadataError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            MetadataError::BadJwksPath { .. } => {
                "use a relative path like `.well-known/jwks.json`".into()
            }
            MetadataError::NoActiveKey => "activate a key with `idp keys activate <kid>`".into(),
            MetadataError::TooManyKeys { .. } => {
                "retire keys that no longer sign with `idp keys retire <kid>`".into()
            }
        })
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::KeyState;
    use crate::keys::RsaPublic;
    use time::macros::datetime;

    fn entry(n: u8, state: KeyState) -> KeyEntry {
        let public = RsaPublic::from_be_bytes(&[n; 256], &[1, 0, 1]);
        KeyEntry {
            kid: public.thumbprint(),
            file: "x.pem".into(),
            state,
            bits: 2048,
            public,
            created_at: datetime!(2026-01-01 00:00 UTC),
            activated_at: None,
            retiring_at: None,
            retired_at: None,
            published_at: None,
            key_vault: None,
        }
    }

    fn ring(states: &[KeyState]) -> Keyring {
        Keyring {
            version: 1,
            keys: states
                .iter()
                .enumerate()
                .map(|(i, s)| entry(i as u8 + 1, *s))
                .collect(),
        }
    }

    #[test]
    fn discovery_issuer_is_byte_identical_with_and_without_trailing_slash() {
        for s in [
            "https://a.blob.core.windows.net/c",
            "https://a.blob.core.windows.net/c/",
        ] {
            let issuer = Issuer::parse(s).unwrap();
            let docs = render(&issuer, &JwksPath::default(), &ring(&[KeyState::Active])).unwrap();
            let d: serde_json::Value = serde_json::from_slice(&docs.discovery).unwrap();
            assert_eq!(d["issuer"].as_str().unwrap().as_bytes(), s.as_bytes());
            assert_eq!(
                d["jwks_uri"],
                "https://a.blob.core.windows.net/c/.well-known/jwks.json"
            );
        }
    }

    #[test]
    fn jwks_uri_is_under_the_issuer_on_the_same_origin() {
        let issuer = Issuer::parse("https://h:8443/x/y").unwrap();
        let d = discovery(&issuer, &JwksPath::parse("keys/jwks").unwrap());
        assert!(d.jwks_uri.starts_with(&format!("{}/", issuer.as_str())));
        assert!(d.jwks_uri.starts_with(&issuer.origin()));
        assert_eq!(d.response_types_supported, ["id_token"]);
        assert_eq!(d.subject_types_supported, ["public"]);
        assert_eq!(d.id_token_signing_alg_values_supported, ["RS256"]);
    }

    #[test]
    fn jwks_has_only_public_members_and_no_retired_keys() {
        use KeyState::*;
        let r = ring(&[Retired, Next, Active, Retiring]);
        let docs = render(
            &Issuer::parse("https://h/c").unwrap(),
            &JwksPath::default(),
            &r,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&docs.jwks).unwrap();
        let keys = v["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0]["kid"], r.keys[2].kid, "active key first");
        for k in keys {
            let mut members: Vec<_> = k.as_object().unwrap().keys().cloned().collect();
            members.sort();
            assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
            assert_eq!(k["kty"], "RSA");
            assert_eq!(k["use"], "sig");
            assert_eq!(k["alg"], "RS256");
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(k.get(private).is_none());
            }
            let n = k["n"].as_str().unwrap();
            assert!(!n.contains(['=', '+', '/']), "n must be unpadded base64url");
        }
        assert!(!docs.kids.contains(&r.keys[0].kid));
    }

    #[test]
    fn rendering_is_deterministic() {
        let r = ring(&[KeyState::Active, KeyState::Next]);
        let i = Issuer::parse("https://h/c").unwrap();
        let a = render(&i, &JwksPath::default(), &r).unwrap();
        let b = render(&i, &JwksPath::default(), &r.clone()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn refuses_a_jwks_without_an_active_key() {
        let r = ring(&[KeyState::Next]);
        let i = Issuer::parse("https://h/c").unwrap();
        assert_eq!(
            render(&i, &JwksPath::default(), &r),
            Err(MetadataError::NoActiveKey)
        );
    }

    #[test]
    fn bad_jwks_paths_are_refused() {
        for p in [
            "",
            "/abs",
            "a/../b",
            "a//b",
            "a?x",
            "a b",
            "https://evil/jwks",
            ".well-known/openid-configuration",
        ] {
            assert!(JwksPath::parse(p).is_err(), "{p:?}");
        }
        assert!(JwksPath::parse("openid/v1/jwks").is_ok());
    }
}
