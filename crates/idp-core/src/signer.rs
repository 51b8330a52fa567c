//! What signs an assertion: a private key on disk ([`SigningKey`], OpenSSL in process) or a
//! key that never leaves a vault ([`RemoteKey`], implemented outside idp-core, e.g. over
//! Azure Key Vault's `sign` operation).
//!
//! A remote key signs a SHA-256 digest computed here; its signature is verified here with
//! the public key the keyring recorded before it is used, so a vault that answers with
//! another key (a new version, a different key) fails the mint instead of producing an
//! assertion Entra would refuse.

use crate::keys::{RsaPublic, SigningKey};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use thiserror::Error;

/// A remote signature in progress.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, RemoteError>> + Send + 'a>>;

/// An RSA key held elsewhere that signs RS256 (RSASSA-PKCS1-v1_5) over a SHA-256 digest.
pub trait RemoteKey: Send + Sync + fmt::Debug {
    /// The signature over `digest`, the SHA-256 of the JWS signing input.
    fn sign_sha256(&self, digest: [u8; 32]) -> SignFuture<'_>;
    /// Where the key lives (its key id), for messages.
    fn location(&self) -> &str;
}

/// A remote key's failure, already explained (no token, no secret in it).
#[derive(Debug, Clone, Error)]
#[error("{message}")]
pub struct RemoteError {
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Whether the configuration is at fault (exit 2) rather than the operation (exit 1).
    pub usage: bool,
}

impl RemoteError {
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
            usage: false,
        }
    }
}

impl crate::diagnostic::Diagnostic for RemoteError {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }

    fn is_usage(&self) -> bool {
        self.usage
    }
}

/// Why no signature was made.
#[derive(Debug, Clone, Error)]
pub enum SignError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(
        "the signature {location} returned does not verify with key `{kid}` recorded in the keyring"
    )]
    Mismatch { location: String, kid: String },
}

impl crate::diagnostic::Diagnostic for SignError {
    fn hint(&self) -> Option<String> {
        match self {
            SignError::Remote(e) => e.hint(),
            SignError::Mismatch { .. } => Some(
                "the key in the vault is not the one the keyring (and the published JWKS) holds: was the key version replaced or the key re-created? add it again with `idp keys add --key-vault … --existing`".into(),
            ),
        }
    }

    fn is_usage(&self) -> bool {
        match self {
            SignError::Remote(e) => e.is_usage(),
            SignError::Mismatch { .. } => false,
        }
    }
}

/// The key that signs, with its `kid`.
#[derive(Debug)]
pub enum Signer {
    Local(SigningKey),
    Remote(RemoteSigner),
}

/// A remote key with the public half the keyring recorded for it.
pub struct RemoteSigner {
    kid: String,
    public: RsaPublic,
    verifier: PKey<Public>,
    key: Arc<dyn RemoteKey>,
}

impl fmt::Debug for RemoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSigner")
            .field("kid", &self.kid)
            .field("key", &self.key.location())
            .finish()
    }
}

impl Signer {
    /// A signer for `key`, whose public half is `public` (the keyring's record); its `kid`
    /// is the thumbprint of `public`.
    pub fn remote(public: RsaPublic, key: Arc<dyn RemoteKey>) -> Result<Self, RemoteError> {
        let verifier = public_key(&public).map_err(|reason| RemoteError {
            message: format!(
                "the public key recorded for {} is not usable: {reason}",
                key.location()
            ),
            hint: Some("add the key again with `idp keys add --key-vault … --existing`".into()),
            usage: true,
        })?;
        Ok(Signer::Remote(RemoteSigner {
            kid: public.thumbprint(),
            public,
            verifier,
            key,
        }))
    }

    pub fn kid(&self) -> &str {
        match self {
            Signer::Local(k) => k.kid(),
            Signer::Remote(r) => &r.kid,
        }
    }

    pub fn public(&self) -> &RsaPublic {
        match self {
            Signer::Local(k) => k.public(),
            Signer::Remote(r) => &r.public,
        }
    }

    /// Where the private key lives: `None` for a local key, else the remote key's id.
    pub fn location(&self) -> Option<&str> {
        match self {
            Signer::Local(_) => None,
            Signer::Remote(r) => Some(r.key.location()),
        }
    }

    /// RS256 over `message`: in process for a local key; for a remote key, the digest is
    /// computed here, signed there, and the signature verified here.
    pub async fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            Signer::Local(k) => Ok(k.sign_rs256(message)),
            Signer::Remote(r) => {
                let digest = crate::keys::sha256(message);
                let signature = r.key.sign_sha256(digest).await?;
                if verifies(&r.verifier, message, &signature) {
                    Ok(signature)
                } else {
                    Err(SignError::Mismatch {
                        location: r.key.location().to_owned(),
                        kid: r.kid.clone(),
                    })
                }
            }
        }
    }
}

impl From<SigningKey> for Signer {
    fn from(key: SigningKey) -> Self {
        Signer::Local(key)
    }
}

/// The OpenSSL public key for `public`.
pub fn public_key(public: &RsaPublic) -> Result<PKey<Public>, String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    let n = B64URL.decode(&public.n).map_err(|e| format!("n: {e}"))?;
    let e = B64URL.decode(&public.e).map_err(|e| format!("e: {e}"))?;
    let rsa = openssl::rsa::Rsa::from_public_components(
        openssl::bn::BigNum::from_slice(&n).map_err(|e| e.to_string())?,
        openssl::bn::BigNum::from_slice(&e).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    PKey::from_rsa(rsa).map_err(|e| e.to_string())
}

/// Whether `signature` is a valid RS256 signature over `message` under `key`.
pub fn verifies(key: &PKey<Public>, message: &[u8], signature: &[u8]) -> bool {
    openssl::sign::Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| v.verify_oneshot(signature, message))
        .unwrap_or(false)
}

/// Runs a future that completes without waiting (a local key's signature, a test's fake
/// vault) to its end.
#[cfg(test)]
pub(crate) fn ready<T>(f: impl Future<Output = T>) -> T {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("this future was expected to complete at once"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A "vault" holding a local key, counting its calls; `wrong` answers with another key.
    #[derive(Debug)]
    struct FakeVault {
        key: SigningKey,
        calls: AtomicUsize,
        fail: bool,
    }

    impl RemoteKey for FakeVault {
        fn sign_sha256(&self, digest: [u8; 32]) -> SignFuture<'_> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if self.fail {
                    return Err(RemoteError::failed("vault says no", "fix it"));
                }
                // RSASSA-PKCS1-v1_5 over a digest: sign the DigestInfo with OpenSSL's
                // digest-less mode, as a vault does.
                Ok(self.key.sign_digest_for_tests(&digest))
            })
        }

        fn location(&self) -> &str {
            "https://v.vault.azure.net/keys/k/1"
        }
    }

    fn key() -> SigningKey {
        crate::keys::generate(2048)
            .unwrap()
            .into_signing_key(Path::new("k"))
            .unwrap()
    }

    #[test]
    fn a_remote_signature_over_the_digest_verifies_as_rs256_over_the_message() {
        let k = key();
        let public = k.public().clone();
        let vault = Arc::new(FakeVault {
            key: k,
            calls: AtomicUsize::new(0),
            fail: false,
        });
        let signer = Signer::remote(public.clone(), vault.clone()).unwrap();
        assert_eq!(signer.kid(), public.thumbprint());
        assert_eq!(
            signer.location(),
            Some("https://v.vault.azure.net/keys/k/1")
        );
        let debug = format!("{signer:?}");
        assert!(
            debug.contains(signer.kid()) && debug.contains("https://v.vault.azure.net/keys/k/1"),
            "{debug}"
        );
        let sig = ready(signer.sign_rs256(b"a.b")).unwrap();
        assert!(verifies(&public_key(&public).unwrap(), b"a.b", &sig));
        assert!(!verifies(&public_key(&public).unwrap(), b"a.c", &sig));
        assert_eq!(vault.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_vault_answering_with_another_key_fails_the_signature() {
        let recorded = key();
        let vault = Arc::new(FakeVault {
            key: key(),
            calls: AtomicUsize::new(0),
            fail: false,
        });
        let signer = Signer::remote(recorded.public().clone(), vault).unwrap();
        let err = ready(signer.sign_rs256(b"a.b")).unwrap_err();
        assert!(
            matches!(err, SignError::Mismatch { ref kid, .. } if kid == recorded.kid()),
            "{err}"
        );
        assert!(
            crate::diagnostic::Diagnostic::hint(&err)
                .unwrap()
                .contains("--existing")
        );
        // The vault's key is not the user's input: a failed operation (exit 1).
        assert!(!crate::diagnostic::Diagnostic::is_usage(&err));
    }

    #[test]
    fn a_vault_failure_is_passed_on_with_its_hint() {
        let k = key();
        let signer = Signer::remote(
            k.public().clone(),
            Arc::new(FakeVault {
                key: key(),
                calls: AtomicUsize::new(0),
                fail: true,
            }),
        )
        .unwrap();
        let err = ready(signer.sign_rs256(b"a.b")).unwrap_err();
        assert_eq!(err.to_string(), "vault says no");
        // A failed operation (exit 1), unless the error says the input is at fault.
        use crate::diagnostic::Diagnostic as _;
        assert!(!err.is_usage());
        let usage = RemoteError {
            usage: true,
            ..RemoteError::failed("bad id", "fix it")
        };
        assert!(usage.is_usage());
        assert!(SignError::from(usage).is_usage());
        assert_eq!(
            crate::diagnostic::Diagnostic::hint(&err).as_deref(),
            Some("fix it")
        );
    }

    #[test]
    fn a_local_key_signs_in_process() {
        let k = key();
        let public = k.public().clone();
        let signer = Signer::from(k);
        assert_eq!(signer.location(), None);
        assert_eq!(signer.kid(), public.thumbprint());
        let sig = ready(signer.sign_rs256(b"x")).unwrap();
        assert!(verifies(&public_key(&public).unwrap(), b"x", &sig));
    }

    #[test]
    fn a_malformed_public_key_is_refused() {
        let k = key();
        let bad = RsaPublic {
            n: "!!".into(),
            e: "AQAB".into(),
        };
        let vault = Arc::new(FakeVault {
            key: k,
            calls: AtomicUsize::new(0),
            fail: false,
        });
        assert!(Signer::remote(bad, vault).is_err());
    }
}
