//! The emulator's own RSA key, which signs the access tokens it hands out.
//!
//! Made with the RustCrypto `rsa` crate and used through `jsonwebtoken`, so none of idp's
//! signing code (ring, OpenSSL, josekit) is involved.

use crate::Error;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::PrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::Arc;

/// Bits in a generated key.
pub const KEY_BITS: usize = 2048;

/// An RSA signing key with its public JWK. Cheap to clone; `Debug` shows only the kid.
#[derive(Clone)]
pub struct SigningKey(Arc<Inner>);

struct Inner {
    private: PrivateKey,
    encoding: EncodingKey,
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
    /// Generates a fresh 2048-bit key from the OS RNG. Slow in debug builds (up to a second):
    /// make one per process and share it.
    pub fn generate() -> Result<Self, Error> {
        let mut rng = getrandom::SysRng;
        let private = PrivateKey::new(&mut rng, KEY_BITS).map_err(|e| Error::KeyGeneration {
            reason: e.to_string(),
        })?;
        Self::from_private(private)
    }

    /// Loads a PKCS#8 PEM (`BEGIN PRIVATE KEY`) RSA key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        let private = PrivateKey::from_pkcs8_pem(pem).map_err(|e| Error::InvalidKey {
            reason: e.to_string(),
        })?;
        Self::from_private(private)
    }

    /// The key as PKCS#8 PEM. Secret: handle with care.
    pub fn to_pkcs8_pem(&self) -> Result<String, Error> {
        self.0
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| Error::InvalidKey {
                reason: e.to_string(),
            })
    }

    fn from_private(private: PrivateKey) -> Result<Self, Error> {
        let der = private.to_pkcs1_der().map_err(|e| Error::InvalidKey {
            reason: e.to_string(),
        })?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let n = URL_SAFE_NO_PAD.encode(private.n_bytes());
        let e = URL_SAFE_NO_PAD.encode(private.e_bytes());
        let kid = thumbprint(&n, &e);
        Ok(Self(Arc::new(Inner {
            private,
            encoding,
            n,
            e,
            kid,
        })))
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

    /// Signs `claims` as an RS256 JWT whose header names this key.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.0.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.0.encoding)
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
