//! SAS tokens: kept out of every log and error message.

use std::fmt;
use thiserror::Error;

/// A shared access signature (the query string, without a leading `?`).
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SasError {
    #[error("the SAS token is empty")]
    Empty,
    #[error(
        "the SAS token has no `sig=` parameter: pass the query string of a SAS URL (`sv=…&sig=…`)"
    )]
    NoSignature,
    #[error("the SAS token has whitespace in it")]
    Whitespace,
}

impl SasToken {
    /// Accepts `sv=…&sig=…`, `?sv=…&sig=…`, or a whole SAS URL (its query is kept).
    pub fn parse(raw: &str) -> Result<Self, SasError> {
        let raw = raw.trim();
        let query = match raw.split_once('?') {
            Some((_, q)) => q,
            None => raw,
        };
        if query.is_empty() {
            return Err(SasError::Empty);
        }
        if query.chars().any(char::is_whitespace) {
            return Err(SasError::Whitespace);
        }
        if !query
            .split('&')
            .any(|p| p.starts_with("sig=") && p.len() > 4)
        {
            return Err(SasError::NoSignature);
        }
        Ok(Self(query.to_owned()))
    }

    /// The query string, for building request URLs only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SasToken(redacted)")
    }
}

/// Hides every secret in `text` (a URL, an error message): `sig=` values, JWTs, bearer
/// credentials. One rule for all of idp: [`idp_core::secret::redact`].
pub use idp_core::secret::redact;

impl idp_core::diagnostic::Diagnostic for SasError {
    fn hint(&self) -> Option<String> {
        Some("pass the SAS token's query string (sv=…&sig=…) or the whole SAS URL; make one with `az storage container generate-sas --as-user --auth-mode login --permissions rcw …`".into())
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_spellings() {
        for raw in [
            "sv=2024&sig=abc%2B",
            "?sv=2024&sig=abc%2B",
            "https://a.blob.core.windows.net/c?sv=2024&sig=abc%2B",
            "  sv=2024&sig=abc%2B\n",
        ] {
            assert_eq!(SasToken::parse(raw).unwrap().expose(), "sv=2024&sig=abc%2B");
        }
    }

    #[test]
    fn refuses_what_is_not_a_sas() {
        assert_eq!(SasToken::parse(""), Err(SasError::Empty));
        assert_eq!(SasToken::parse("sv=1&se=2"), Err(SasError::NoSignature));
        assert_eq!(SasToken::parse("sv=1&sig="), Err(SasError::NoSignature));
        assert_eq!(SasToken::parse("sv=1 x&sig=a"), Err(SasError::Whitespace));
    }

    #[test]
    fn debug_and_redact_hide_the_signature() {
        let t = SasToken::parse("sv=1&sig=SECRET").unwrap();
        assert!(!format!("{t:?}").contains("SECRET"));
        let url = "https://h/c/b?sv=1&sig=SECRET&se=2 and sig=SECRET2";
        let r = redact(url);
        assert!(!r.contains("SECRET"), "{r}");
        assert_eq!(r, "https://h/c/b?sv=1&sig=REDACTED&se=2 and sig=REDACTED");
    }
}
