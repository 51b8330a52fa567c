//! The emulator's own RSA key, which signs the access tokens it hands out.
//!
//! Generated and used through the `openssl` crate directly, with the JWT put together
//! here: none of idp's signing code (idp-core's keys and assertions) is involved, and no
//! private-key operation goes through RustCrypto `rsa` (RUSTSEC-2023-0071). Incoming
//! assertions are verified with another library (`jsonwebtoken`, RustCrypto).

use crate::Error;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::Arc;

/// Bits in a generated key.
pub const KEY_BITS: u32 = 2048;

/// An RSA signing key with its public JWK. Cheap to clone; `Debug` shows only the kid.
#[derive(Clone)]
pub struct SigningKey(Arc<Inner>);

struct Inner {
    private: PKey<Private>,
    n: String,
    e: String,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.0.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit key.
    pub fn generate() -> Result<Self, Error> {
        let rsa = openssl::rsa::Rsa::generate(KEY_BITS).map_err(|e| Error::KeyGeneration {
            reason: e.to_string(),
        })?;
        let private = PKey::from_rsa(rsa).map_err(|e| Error::KeyGeneration {
            reason: e.to_string(),
        })?;
        Self::from_private(private)
    }

    /// Loads a PKCS#8 PEM (`BEGIN PRIVATE KEY`) RSA key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        let private =
            PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| Error::InvalidKey {
                reason: e.to_string(),
            })?;
        Self::from_private(private)
    }

    /// The key as PKCS#8 PEM. Secret: handle with care.
    pub fn to_pkcs8_pem(&self) -> Result<String, Error> {
        let invalid = |reason: String| Error::InvalidKey { reason };
        let pem = self
            .0
            .private
            .private_key_to_pem_pkcs8()
            .map_err(|e| invalid(e.to_string()))?;
        String::from_utf8(pem).map_err(|e| invalid(e.to_string()))
    }

    fn from_private(private: PKey<Private>) -> Result<Self, Error> {
        let rsa = private.rsa().map_err(|_| Error::InvalidKey {
            reason: "not an RSA key".into(),
        })?;
        let n = URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
        let e = URL_SAFE_NO_PAD.encode(rsa.e().to_vec());
        let kid = thumbprint(&n, &e);
        Ok(Self(Arc::new(Inner { private, n, e, kid })))
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The public key as a JWK: `kty`, `use`, `kid`, `alg`, `n`, `e`.
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.0.kid,
            "alg": "RS256",
            "n": self.0.n,
            "e": self.0.e,
        })
    }

    /// Signs `claims` as an RS256 JWT whose header names this key (RFC 7515 compact form).
    pub fn sign(&self, claims: &Value) -> Result<String, Error> {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.0.kid});
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", encode(&header), encode(claims));
        let signature = openssl::sign::Signer::new(MessageDigest::sha256(), &self.0.private)
            .and_then(|mut s| s.sign_oneshot_to_vec(input.as_bytes()))
            .map_err(|e| Error::Signing {
                reason: e.to_string(),
            })?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// RFC 7638 §3: SHA-256 over the members `e`, `kty`, `n` in that order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
