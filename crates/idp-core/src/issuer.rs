//! The issuer URL, kept byte for byte.
//!
//! Entra compares the FIC's issuer with the assertion's `iss` as plain strings: a trailing
//! slash on one side and not the other fails the exchange (AADSTS700211 / 70021). So the
//! issuer is validated but never normalised, and every document and token takes it from here.

use std::fmt;
use thiserror::Error;

/// Most characters an issuer may have (Entra's FIC limit).
pub const ISSUER_MAX_CHARS: usize = crate::FIC_VALUE_MAX_CHARS;

/// The path of the discovery document, relative to the issuer.
pub const DISCOVERY_PATH: &str = ".well-known/openid-configuration";

/// Why a string is not a usable issuer.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IssuerError {
    #[error("issuer is empty")]
    Empty,
    #[error("issuer is {len} characters long; Entra accepts at most {ISSUER_MAX_CHARS}")]
    TooLong { len: usize },
    #[error("issuer contains whitespace at character {position}")]
    Whitespace { position: usize },
    #[error("issuer `{issuer}` does not use https (Entra fetches metadata over https only)")]
    NotHttps { issuer: String },
    #[error("issuer `{issuer}` is not a valid URL: {reason}")]
    Invalid { issuer: String, reason: String },
    #[error("issuer `{issuer}` has a query string; OIDC issuers may not")]
    Query { issuer: String },
    #[error("issuer `{issuer}` has a fragment; OIDC issuers may not")]
    Fragment { issuer: String },
    #[error("issuer `{issuer}` has user information before the host; OIDC issuers may not")]
    UserInfo { issuer: String },
}

/// A validated issuer URL, stored exactly as the user wrote it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    /// Validates `s` as an OIDC issuer (https, no query, fragment, userinfo or whitespace,
    /// at most 600 characters) and keeps it unchanged.
    pub fn parse(s: &str) -> Result<Self, IssuerError> {
        if s.is_empty() {
            return Err(IssuerError::Empty);
        }
        let len = s.chars().count();
        if len > ISSUER_MAX_CHARS {
            return Err(IssuerError::TooLong { len });
        }
        if let Some(position) = s.chars().position(char::is_whitespace) {
            return Err(IssuerError::Whitespace {
                position: position + 1,
            });
        }
        // The scheme is compared exactly: Entra and the FIC see this string verbatim.
        if !s.starts_with("https://") {
            return Err(IssuerError::NotHttps {
                issuer: s.to_owned(),
            });
        }
        let url = url::Url::parse(s).map_err(|e| IssuerError::Invalid {
            issuer: s.to_owned(),
            reason: e.to_string(),
        })?;
        // `Url` drops an empty `?` or `#`, so look at the raw string too.
        if url.query().is_some() || s.contains('?') {
            return Err(IssuerError::Query {
                issuer: s.to_owned(),
            });
        }
        if url.fragment().is_some() || s.contains('#') {
            return Err(IssuerError::Fragment {
                issuer: s.to_owned(),
            });
        }
        let authority = &s["https://".len()..];
        let authority = authority.split('/').next().unwrap_or_default();
        if !url.username().is_empty() || url.password().is_some() || authority.contains('@') {
            return Err(IssuerError::UserInfo {
                issuer: s.to_owned(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(IssuerError::Invalid {
                issuer: s.to_owned(),
                reason: "no host".into(),
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// The exact issuer string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the issuer ends with `/`. The FIC must then end with `/` too.
    pub fn has_trailing_slash(&self) -> bool {
        self.0.ends_with('/')
    }

    /// `{issuer}/{relative}` without doubling the slash when the issuer already ends in one.
    /// Entra builds the discovery URL the same way (it never requests `//.well-known`).
    pub fn join(&self, relative: &str) -> String {
        let relative = relative.trim_start_matches('/');
        if self.has_trailing_slash() {
            format!("{}{relative}", self.0)
        } else {
            format!("{}/{relative}", self.0)
        }
    }

    /// Where Entra fetches the discovery document.
    pub fn discovery_url(&self) -> String {
        self.join(DISCOVERY_PATH)
    }

    /// The scheme, host and port: what a `jwks_uri` must share with the issuer.
    pub fn origin(&self) -> String {
        let rest = &self.0["https://".len()..];
        let end = rest.find('/').unwrap_or(rest.len());
        format!("https://{}", &rest[..end])
    }

    /// A note for people creating the FIC: the exact string, and what the slash means.
    pub fn fic_note(&self) -> String {
        if self.has_trailing_slash() {
            format!(
                "the FIC's issuer must be exactly `{}`, with the trailing slash; without it Entra rejects the exchange (AADSTS700211)",
                self.0
            )
        } else {
            format!(
                "the FIC's issuer must be exactly `{}`, with no trailing slash; with one added Entra rejects the exchange (AADSTS700211)",
                self.0
            )
        }
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Issuer({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_issuer_is_kept_exact() {
        for s in [
            "https://acct.blob.core.windows.net/oidc",
            "https://acct.blob.core.windows.net/oidc/",
            "https://acct.z13.web.core.windows.net/",
            "https://127.0.0.1:10000/devstoreaccount1/oidc",
            "https://Example.COM/Path",
        ] {
            assert_eq!(Issuer::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn join_never_doubles_or_drops_the_slash() {
        let a = Issuer::parse("https://h/c").unwrap();
        let b = Issuer::parse("https://h/c/").unwrap();
        assert_eq!(
            a.discovery_url(),
            "https://h/c/.well-known/openid-configuration"
        );
        assert_eq!(
            b.discovery_url(),
            "https://h/c/.well-known/openid-configuration"
        );
        let host = Issuer::parse("https://h").unwrap();
        assert_eq!(host.join("keys"), "https://h/keys");
        assert_eq!(host.origin(), "https://h");
        assert_eq!(
            Issuer::parse("https://h:8443/x").unwrap().origin(),
            "https://h:8443"
        );
    }

    #[test]
    fn bad_issuers_are_refused_with_the_reason() {
        use IssuerError::*;
        type Expect = fn(&IssuerError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("", |e| matches!(e, Empty)),
            ("http://acct.blob.core.windows.net/c", |e| {
                matches!(e, NotHttps { .. })
            }),
            ("HTTPS://acct/c", |e| matches!(e, NotHttps { .. })),
            ("https://h/c?x=1", |e| matches!(e, Query { .. })),
            ("https://h/c?", |e| matches!(e, Query { .. })),
            ("https://h/c#frag", |e| matches!(e, Fragment { .. })),
            ("https://h/c#", |e| matches!(e, Fragment { .. })),
            ("https://user:pw@h/c", |e| matches!(e, UserInfo { .. })),
            ("https://@h/c", |e| matches!(e, UserInfo { .. })),
            (" https://h/c", |e| matches!(e, Whitespace { position: 1 })),
            ("https://h/c ", |e| matches!(e, Whitespace { .. })),
            ("https://h/a b", |e| matches!(e, Whitespace { .. })),
            ("https://", |e| matches!(e, Invalid { .. })),
        ];
        for (input, check) in cases {
            let err = Issuer::parse(input).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn length_limit_is_600_characters() {
        let base = "https://h/";
        let ok = format!("{base}{}", "a".repeat(600 - base.len()));
        assert!(Issuer::parse(&ok).is_ok());
        let long = format!("{ok}a");
        assert_eq!(Issuer::parse(&long), Err(IssuerError::TooLong { len: 601 }));
    }
}
