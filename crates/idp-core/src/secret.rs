//! Secret values whose `Debug` never shows their contents.
//!
//! Private keys, assertions and access tokens travel in these types so that a stray `{:?}`
//! in a log line or an error cannot leak them. Reading the value takes an explicit call.

use std::fmt;
use zeroize::Zeroizing;

/// Bytes that must not be logged (a private key in PEM or DER form). Zeroed on drop.
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes. Call only where they are needed (signing, writing the key file).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {} bytes])", self.0.len())
    }
}

/// A string that must not be logged (a signed assertion, an access token, a SAS).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret text. Call only where the user asked for it or the protocol needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString([redacted; {} chars])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let s = SecretString::new("eyJhbGciOiJSUzI1NiJ9.secret-payload.sig");
        let b = SecretBytes::new(b"-----BEGIN PRIVATE KEY-----".to_vec());
        assert!(!format!("{s:?}").contains("secret-payload"));
        assert!(!format!("{b:?}").contains("PRIVATE"));
        assert_eq!(s.expose(), "eyJhbGciOiJSUzI1NiJ9.secret-payload.sig");
    }
}
