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
    /// The self-signed certificate of the key (DER, standard base64), as Entra publishes
    /// `x5c`, and its SHA-1 thumbprint (base64url), `x5t`.
    x5c: String,
    x5t: String,
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
        let der = certificate(&private)?;
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der);
        let x5t = openssl::hash::hash(MessageDigest::sha1(), &der)
            .map(|d| URL_SAFE_NO_PAD.encode(d))
            .map_err(|e| Error::InvalidKey {
                reason: e.to_string(),
            })?;
        Ok(Self(Arc::new(Inner {
            private,
            n,
            e,
            kid,
            x5c,
            x5t,
        })))
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    /// The public key as a JWK, as Entra publishes its keys: `kty`, `use`, `kid`, `x5t`,
    /// `alg`, `n`, `e`, `x5c`.
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.0.kid,
            "x5t": self.0.x5t,
            "alg": "RS256",
            "n": self.0.n,
            "e": self.0.e,
            "x5c": [self.0.x5c],
        })
    }

    /// The public key's JWK members `n` and `e` (base64url), for verifying the emulator's
    /// own signatures without building the whole JWK.
    pub(crate) fn public_components(&self) -> (&str, &str) {
        (&self.0.n, &self.0.e)
    }

    /// The certificate's SHA-1 thumbprint (base64url), the header's `x5t`.
    pub fn x5t(&self) -> &str {
        &self.0.x5t
    }

    /// Signs `claims` as an RS256 JWT whose header names this key by `kid` and `x5t`, as
    /// Entra's access tokens do (RFC 7515 compact form).
    pub fn sign(&self, claims: &Value) -> Result<String, Error> {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.0.x5t, "kid": self.0.kid});
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

/// A self-signed certificate for the key, the same bytes for the same key (fixed serial,
/// name and validity; RSA PKCS#1 v1.5 signatures are deterministic), so `x5t` is stable
/// across restarts.
fn certificate(private: &PKey<Private>) -> Result<Vec<u8>, Error> {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let err = |e: openssl::error::ErrorStack| Error::InvalidKey {
        reason: e.to_string(),
    };
    let mut name = X509NameBuilder::new().map_err(err)?;
    name.append_entry_by_text("CN", "idp emulator token signing")
        .map_err(err)?;
    let name = name.build();
    let mut b = X509Builder::new().map_err(err)?;
    b.set_version(2).map_err(err)?;
    let serial = BigNum::from_u32(1)
        .and_then(|n| Asn1Integer::from_bn(&n))
        .map_err(err)?;
    b.set_serial_number(&serial).map_err(err)?;
    b.set_subject_name(&name).map_err(err)?;
    b.set_issuer_name(&name).map_err(err)?;
    let not_before = Asn1Time::from_str("20250101000000Z").map_err(err)?;
    let not_after = Asn1Time::from_str("20350101000000Z").map_err(err)?;
    b.set_not_before(&not_before).map_err(err)?;
    b.set_not_after(&not_after).map_err(err)?;
    b.set_pubkey(private).map_err(err)?;
    b.sign(private, MessageDigest::sha256()).map_err(err)?;
    b.build().to_der().map_err(err)
}

/// RFC 7638 §3: SHA-256 over the members `e`, `kty`, `n` in that order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_names_the_key_and_its_thumbprint_is_stable() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(key.x5t(), again.x5t(), "same key, same certificate");
        let jwk = key.public_jwk();
        let der = base64::engine::general_purpose::STANDARD
            .decode(jwk["x5c"][0].as_str().unwrap())
            .unwrap();
        let cert = openssl::x509::X509::from_der(&der).unwrap();
        let public = cert.public_key().unwrap().rsa().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(public.n().to_vec()), jwk["n"]);
        let sha1 = openssl::hash::hash(MessageDigest::sha1(), &der).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(sha1), jwk["x5t"]);
        // The header names it too.
        let token = key.sign(&json!({"a": 1})).unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["x5t"], jwk["x5t"]);
        assert_eq!(header["kid"], jwk["kid"]);
        assert_ne!(SigningKey::generate().unwrap().x5t(), key.x5t());
    }

    #[test]
    fn debug_shows_the_kid_and_nothing_private() {
        let key = SigningKey::generate().unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()), "{shown}");
        assert!(
            !shown.contains("PRIVATE") && !shown.contains(&key.0.n),
            "{shown}"
        );
    }

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
