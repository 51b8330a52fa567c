//! RSA signing keys: generate, load, and name them.
//!
//! A key's `kid` is its RFC 7638 JWK SHA-256 thumbprint, base64url: the same key always gets
//! the same `kid`, on any machine, and anyone holding the JWKS can recompute it.
//! Private keys are PKCS#8 PEM files that only their owner may read.

use crate::secret::SecretBytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use josekit::jws::RS256;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use pkcs1::RsaPrivateKeyRef as Pkcs1PrivateKey;
use pkcs8::PrivateKeyInfoRef;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Smallest RSA modulus idp signs with.
pub const MIN_RSA_BITS: u32 = 2048;
/// Key sizes `idp init` and `idp keys add` generate.
pub const GENERATED_KEY_SIZES: [u32; 3] = [2048, 3072, 4096];

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// Why a private key cannot be used.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("cannot read key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {} can be read by group or others (mode {mode:04o})", path.display())]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{} is not a PEM private key: {reason}", path.display())]
    NotPem { path: PathBuf, reason: String },
    #[error("{} holds a {label} block, not a private key", path.display())]
    NotPrivateKey { path: PathBuf, label: String },
    #[error("{} is an encrypted private key; idp needs it unencrypted", path.display())]
    Encrypted { path: PathBuf },
    #[error("{} holds {found} key; Entra needs RSA (RS256)", path.display())]
    NotRsa { path: PathBuf, found: String },
    #[error("{} holds a {bits}-bit RSA key; idp needs at least {MIN_RSA_BITS} bits", path.display())]
    TooSmall { path: PathBuf, bits: u32 },
    #[error("{} holds a malformed RSA key: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("RSA key size {bits} is not supported; choose 2048, 3072 or 4096")]
    UnsupportedSize { bits: u32 },
    #[error("generating an RSA key failed: {0}")]
    Generate(String),
}

/// The public half of an RSA key, as the JWKS carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RsaPublic {
    /// Modulus, big-endian, unpadded base64url.
    pub n: String,
    /// Public exponent, big-endian, unpadded base64url.
    pub e: String,
}

impl RsaPublic {
    /// Builds from big-endian integers (leading zero bytes are dropped, as RFC 7518 asks).
    pub fn from_be_bytes(n: &[u8], e: &[u8]) -> Self {
        let strip = |b: &[u8]| {
            let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
            B64URL.encode(&b[start..])
        };
        Self {
            n: strip(n),
            e: strip(e),
        }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> u32 {
        let n = B64URL.decode(&self.n).unwrap_or_default();
        match n.first() {
            Some(&first) => (n.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
            None => 0,
        }
    }

    /// RFC 7638 thumbprint: SHA-256 over `{"e":…,"kty":"RSA","n":…}`, base64url.
    pub fn thumbprint(&self) -> String {
        // Members in lexicographic order, no whitespace (RFC 7638 §3.2). The values are
        // base64url, so they need no JSON escaping.
        let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, self.e, self.n);
        B64URL.encode(sha256(canonical.as_bytes()))
    }
}

/// SHA-256 of `data` (OpenSSL's, the one implementation idp's own crates hash with: RFC 7638
/// thumbprints, the digest a vault signs, shard placement, ETags).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

/// A private key ready to sign, with its `kid`. Its `Debug` shows only the `kid`.
///
/// idp has one RSA implementation for private-key operations: OpenSSL (statically linked,
/// the library josekit is built on), which generates keys, converts PKCS#1 and signs. Keys
/// are parsed for their public half by plain DER readers (`pkcs8`, `pkcs1`) and handed to
/// OpenSSL as PKCS#1 DER (`d2i_RSAPrivateKey`): OpenSSL 3's generic PKCS#8 decoder, which
/// josekit's `signer_from_der` goes through, costs about a millisecond per process, and
/// `idp sign` is often one process per assertion.
pub struct SigningKey {
    kid: String,
    public: RsaPublic,
    private: PKey<Private>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public(&self) -> &RsaPublic {
        &self.public
    }

    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `message`.
    pub fn sign_rs256(&self, message: &[u8]) -> Vec<u8> {
        // Signing with a key OpenSSL accepted cannot fail short of memory exhaustion.
        openssl::sign::Signer::new(MessageDigest::sha256(), &self.private)
            .and_then(|mut s| s.sign_oneshot_to_vec(message))
            .expect("RS256 signing with a loaded key")
    }

    /// RSASSA-PKCS1-v1_5 over a SHA-256 `digest` computed elsewhere, as a vault's `sign`
    /// operation makes it (for tests that stand in for a vault).
    #[cfg(test)]
    pub(crate) fn sign_digest_for_tests(&self, digest: &[u8; 32]) -> Vec<u8> {
        let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&self.private).unwrap();
        ctx.sign_init().unwrap();
        ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
        ctx.set_signature_md(openssl::md::Md::sha256()).unwrap();
        let mut out = Vec::new();
        ctx.sign_to_vec(digest, &mut out).unwrap();
        out
    }
}

/// A private key as parsed from PEM: its PKCS#8 DER (secret) and its public half.
#[derive(Debug)]
pub struct ParsedKey {
    pub pkcs8_der: SecretBytes,
    pub public: RsaPublic,
}

impl ParsedKey {
    /// PKCS#8 PEM, the form idp stores keys in.
    pub fn to_pem(&self) -> SecretBytes {
        let pem = pem_rfc7468::encode_string(
            "PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            self.pkcs8_der.expose(),
        )
        .expect("PEM encoding of DER bytes");
        SecretBytes::new(pem.into_bytes())
    }

    /// Makes the key ready to sign. `path` only names the key in errors.
    pub fn into_signing_key(self, path: &Path) -> Result<SigningKey, KeyError> {
        let malformed = |reason: String| KeyError::Malformed {
            path: path.to_owned(),
            reason,
        };
        let info = PrivateKeyInfoRef::try_from(self.pkcs8_der.expose())
            .map_err(|e| malformed(e.to_string()))?;
        let rsa = openssl::rsa::Rsa::private_key_from_der(info.private_key.as_bytes())
            .map_err(|e| malformed(e.to_string()))?;
        let private = PKey::from_rsa(rsa).map_err(|e| malformed(e.to_string()))?;
        Ok(SigningKey {
            kid: self.public.thumbprint(),
            public: self.public,
            private,
        })
    }
}

/// Generates a new RSA key of `bits` bits (2048, 3072 or 4096).
pub fn generate(bits: u32) -> Result<ParsedKey, KeyError> {
    if !GENERATED_KEY_SIZES.contains(&bits) {
        return Err(KeyError::UnsupportedSize { bits });
    }
    let pair = RS256
        .generate_key_pair(bits)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let der = SecretBytes::new(josekit::jwk::KeyPair::to_der_private_key(&pair));
    parse_pkcs8(der, Path::new("<generated>"))
}

/// Parses a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) and checks
/// that it is RSA with at least 2048 bits. `path` only names the key in errors.
pub fn parse_pem(pem: &[u8], path: &Path) -> Result<ParsedKey, KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPem {
        path: path.to_owned(),
        reason: "the file is not text".into(),
    })?;
    let start = text.find("-----BEGIN ").ok_or_else(|| KeyError::NotPem {
        path: path.to_owned(),
        reason: "no `-----BEGIN` line".into(),
    })?;
    // OpenSSL's legacy encryption (RFC 1421 headers in a PKCS#1 block), which strict
    // RFC 7468 decoding would call malformed.
    if text[start..]
        .lines()
        .take(3)
        .any(|l| l.trim_start().starts_with("Proc-Type:") && l.contains("ENCRYPTED"))
    {
        return Err(KeyError::Encrypted {
            path: path.to_owned(),
        });
    }
    let (label, der) =
        pem_rfc7468::decode_vec(text[start..].trim_end().as_bytes()).map_err(|e| {
            KeyError::NotPem {
                path: path.to_owned(),
                reason: format!("{e} (is the file truncated?)"),
            }
        })?;
    let der = SecretBytes::new(der);
    match label {
        "PRIVATE KEY" => parse_pkcs8(der, path),
        "RSA PRIVATE KEY" => {
            let pkcs8 = pkcs1_to_pkcs8(der.expose(), path)?;
            parse_pkcs8(pkcs8, path)
        }
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted {
            path: path.to_owned(),
        }),
        "EC PRIVATE KEY" => Err(KeyError::NotRsa {
            path: path.to_owned(),
            found: "an EC".into(),
        }),
        other => Err(KeyError::NotPrivateKey {
            path: path.to_owned(),
            label: other.to_owned(),
        }),
    }
}

/// Reads and parses a private key file, refusing one that group or others can read.
pub fn load_file(path: &Path) -> Result<SigningKey, KeyError> {
    check_private_mode(path)?;
    let pem = SecretBytes::new(std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?);
    parse_pem(pem.expose(), path)?.into_signing_key(path)
}

/// Refuses a key file that group or others may read, as OpenSSH does.
pub fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

fn parse_pkcs8(der: SecretBytes, path: &Path) -> Result<ParsedKey, KeyError> {
    let malformed = |reason: String| KeyError::Malformed {
        path: path.to_owned(),
        reason,
    };
    let info = PrivateKeyInfoRef::try_from(der.expose())
        .map_err(|e| malformed(format!("not a PKCS#8 private key: {e}")))?;
    let oid = info.algorithm.oid.to_string();
    if oid != OID_RSA_ENCRYPTION {
        return Err(KeyError::NotRsa {
            path: path.to_owned(),
            found: algorithm_name(&oid),
        });
    }
    let rsa = Pkcs1PrivateKey::try_from(info.private_key.as_bytes())
        .map_err(|e| malformed(format!("bad RSA key structure: {e}")))?;
    let public = RsaPublic::from_be_bytes(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes());
    let bits = public.bits();
    if bits < MIN_RSA_BITS {
        return Err(KeyError::TooSmall {
            path: path.to_owned(),
            bits,
        });
    }
    Ok(ParsedKey {
        pkcs8_der: der,
        public,
    })
}

fn pkcs1_to_pkcs8(pkcs1_der: &[u8], path: &Path) -> Result<SecretBytes, KeyError> {
    let pair = josekit::jwk::alg::rsa::RsaKeyPair::from_der(pkcs1_der).map_err(|e| {
        KeyError::Malformed {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })?;
    Ok(SecretBytes::new(josekit::jwk::KeyPair::to_der_private_key(
        &pair,
    )))
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.2.1" => "an EC".into(),
        "1.3.101.112" => "an Ed25519".into(),
        "1.3.101.113" => "an Ed448".into(),
        "1.2.840.113549.1.1.10" => "an RSA-PSS-only".into(),
        "1.2.840.10040.4.1" => "a DSA".into(),
        other => format!("a non-RSA (algorithm {other})"),
    }
}

impl crate::diagnostic::Diagnostic for KeyError {
    fn hint(&self) -> Option<String> {
        Some(match self {
        KeyError::Permissions { path, .. } => format!("run `chmod 600 {}`", path.display()),
        KeyError::NotPem { .. } | KeyError::Malformed { .. } => {
            "the key file is damaged or not a PEM private key: restore it from your backup, or add a new key with `idp keys add`".into()
        }
        KeyError::NotPrivateKey { .. } => "give the private key (-----BEGIN PRIVATE KEY-----), not a certificate or public key".into(),
        KeyError::Encrypted { path } => format!(
            "decrypt it first: `openssl pkey -in {} -out key.pem` (it asks for the passphrase), then `chmod 600 key.pem`",
            path.display()
        ),
        KeyError::NotRsa { .. } | KeyError::TooSmall { .. } => {
            "use an RSA key of 2048 bits or more: `idp keys add --key-size 3072`, or import one made by `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`".into()
        }
        KeyError::UnsupportedSize { .. } => "choose --key-size 2048, 3072 or 4096".into(),
        KeyError::Read { .. } => "check the keys folder (--keys-dir / IDP_KEYS_DIR)".into(),
        KeyError::Generate(_) => return None,
        })
    }

    fn is_usage(&self) -> bool {
        !matches!(self, KeyError::Generate(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_thumbprint_vector() {
        let key = RsaPublic {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.bits(), 2048);
    }

    #[test]
    fn leading_zero_bytes_are_dropped_from_n_and_e() {
        let p = RsaPublic::from_be_bytes(&[0, 0, 0xff, 1], &[0, 1, 0, 1]);
        assert_eq!(p.n, B64URL.encode([0xff, 1]));
        assert_eq!(p.e, "AQAB");
        assert_eq!(p.bits(), 16);
    }

    #[test]
    fn generated_key_round_trips_through_pem() {
        let key = generate(2048).unwrap();
        let pem = key.to_pem();
        assert!(
            std::str::from_utf8(pem.expose())
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        let again = parse_pem(pem.expose(), Path::new("k.pem")).unwrap();
        assert_eq!(again.public, key.public);
        assert_eq!(again.public.bits(), 2048);
        assert_eq!(again.public.e, "AQAB");
    }

    #[test]
    fn signatures_verify_with_an_independent_implementation() {
        let p = Path::new("k.pem");
        for bits in [2048, 3072] {
            let pem = generate(bits).unwrap().to_pem();
            let key = parse_pem(pem.expose(), p)
                .unwrap()
                .into_signing_key(p)
                .unwrap();
            assert!(!format!("{key:?}").contains("PRIVATE"));
            // RustCrypto's verifier (through jsonwebtoken), not OpenSSL.
            let public =
                jsonwebtoken::DecodingKey::from_rsa_components(&key.public().n, &key.public().e)
                    .unwrap();
            for msg in [&b""[..], b"header.claims", &[7u8; 5000][..]] {
                let sig = key.sign_rs256(msg);
                assert_eq!(sig.len() as u32 * 8, bits);
                let ok = jsonwebtoken::crypto::verify(
                    &B64URL.encode(&sig),
                    msg,
                    &public,
                    jsonwebtoken::Algorithm::RS256,
                )
                .unwrap();
                assert!(ok, "{bits}-bit signature over {} bytes", msg.len());
                let mut tampered = msg.to_vec();
                tampered.push(0);
                assert!(
                    !jsonwebtoken::crypto::verify(
                        &B64URL.encode(&sig),
                        &tampered,
                        &public,
                        jsonwebtoken::Algorithm::RS256,
                    )
                    .unwrap()
                );
            }
        }
    }

    #[test]
    fn refuses_other_sizes_for_generation() {
        assert!(matches!(
            generate(1024),
            Err(KeyError::UnsupportedSize { bits: 1024 })
        ));
    }

    #[test]
    fn garbage_and_truncated_pem_are_refused() {
        let p = Path::new("k.pem");
        assert!(matches!(
            parse_pem(b"hello", p),
            Err(KeyError::NotPem { .. })
        ));
        assert!(matches!(
            parse_pem(&[0xff, 0xfe], p),
            Err(KeyError::NotPem { .. })
        ));
        let pem = generate(2048).unwrap().to_pem();
        let text = std::str::from_utf8(pem.expose()).unwrap();
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            parse_pem(truncated.as_bytes(), p),
            Err(KeyError::NotPem { .. })
        ));
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_pem(cert.as_bytes(), p),
            Err(KeyError::NotPrivateKey { .. })
        ));
    }

    #[test]
    fn a_legacy_encrypted_pem_is_called_encrypted() {
        // `openssl genrsa -aes256` / `openssl rsa -aes256` output: RFC 1421 headers.
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            parse_pem(legacy.as_bytes(), Path::new("k.pem")),
            Err(KeyError::Encrypted { .. })
        ));
    }
}
