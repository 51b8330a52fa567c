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
    #[error("issuer has {found}, which cannot be typed reliably into a FIC")]
    Untypeable { found: crate::text::Untypeable },
    #[error("issuer has `{found}` at character {position}, which a URL may not hold as it is")]
    NotUriCharacter { found: char, position: usize },
    #[error("issuer has the non-ASCII character `{found}` at character {position}")]
    NonAscii { found: char, position: usize },
    #[error("issuer's host `{host}` is not ASCII; the FIC would have to hold `{ascii}`")]
    NonAsciiHost { host: String, ascii: String },
    #[error("issuer `{issuer}` has no host right after `https://`")]
    EmptyAuthority { issuer: String },
    #[error("issuer `{issuer}` has port 0, which nothing can listen on")]
    PortZero { issuer: String },
    #[error(
        "issuer `{issuer}` has the path segment `{segment}`; URL parsers remove it, so the FIC and the URL fetched would differ"
    )]
    DotSegment { issuer: String, segment: String },
    #[error("issuer `{issuer}` has a `%` at character {position} not followed by two hex digits")]
    BadPercent { issuer: String, position: usize },
}

/// Whether `c` may stand in a URI as written (RFC 3986: unreserved, reserved, `%`).
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// Checks each character of a would-be issuer, in order: what cannot be typed, what is not
/// ASCII, what a URI may not hold.
fn check_characters(s: &str) -> Result<(), IssuerError> {
    if let Some(found) = crate::text::first_untypeable(s) {
        return Err(IssuerError::Untypeable { found });
    }
    for (i, c) in s.chars().enumerate() {
        let position = i + 1;
        if !c.is_ascii() {
            return Err(IssuerError::NonAscii { found: c, position });
        }
        if !is_uri_char(c) {
            return Err(IssuerError::NotUriCharacter { found: c, position });
        }
    }
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(IssuerError::BadPercent {
                issuer: s.to_owned(),
                position: i + 1,
            });
        }
    }
    Ok(())
}

/// The host of an `https://` string, when it is not ASCII: the error names its ASCII
/// (punycode) form, the one a FIC could hold.
fn non_ascii_host(s: &str) -> Option<IssuerError> {
    let rest = s.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?;
    if host.is_ascii() || crate::text::first_untypeable(host).is_some() {
        return None;
    }
    let ascii = url::Url::parse(&format!("https://{host}/"))
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "(no valid ASCII form)".into());
    Some(IssuerError::NonAsciiHost {
        host: host.to_owned(),
        ascii,
    })
}

/// The port as written after the host (`Url` forgets an explicit default port and may
/// normalise others), or `None` when there is no `:` after the host.
fn written_port(authority: &str) -> Option<&str> {
    let after_host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.1,
        None => authority.find(':').map_or("", |i| &authority[i..]),
    };
    after_host.strip_prefix(':')
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
        if let Some(position) = s.chars().position(|c| c.is_ascii_whitespace()) {
            return Err(IssuerError::Whitespace {
                position: position + 1,
            });
        }
        if let Some(host) = non_ascii_host(s) {
            return Err(host);
        }
        check_characters(s)?;
        // The scheme is compared exactly: Entra and the FIC see this string verbatim.
        if !s.starts_with("https://") {
            return Err(IssuerError::NotHttps {
                issuer: s.to_owned(),
            });
        }
        let authority = s["https://".len()..]
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if authority.is_empty() {
            return Err(IssuerError::EmptyAuthority {
                issuer: s.to_owned(),
            });
        }
        let path = &s["https://".len() + authority.len()..];
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if let Some(segment) = path.split('/').find(|seg| {
            let seg = seg.to_ascii_lowercase().replace("%2e", ".");
            seg == "." || seg == ".."
        }) {
            return Err(IssuerError::DotSegment {
                issuer: s.to_owned(),
                segment: segment.to_owned(),
            });
        }
        let url = url::Url::parse(s).map_err(|e| IssuerError::Invalid {
            issuer: s.to_owned(),
            reason: e.to_string(),
        })?;
        // The raw string is what the FIC holds, so it is what is checked: a `?` always
        // starts a query (empty or not) and a `#` a fragment, and an `@` before the path
        // ends user information.
        if s.contains('?') {
            return Err(IssuerError::Query {
                issuer: s.to_owned(),
            });
        }
        if s.contains('#') {
            return Err(IssuerError::Fragment {
                issuer: s.to_owned(),
            });
        }
        if authority.contains('@') {
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
        if written_port(authority).is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b == b'0')) {
            return Err(IssuerError::PortZero {
                issuer: s.to_owned(),
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

impl crate::diagnostic::Diagnostic for IssuerError {
    fn hint(&self) -> Option<String> {
        Some(match self {
        IssuerError::NotHttps { .. } => "use an https:// URL (lowercase scheme); Entra fetches the issuer's metadata over https only".into(),
        IssuerError::Query { .. } | IssuerError::Fragment { .. } => {
            "remove the `?…` or `#…` part; an OIDC issuer is a plain https URL".into()
        }
        IssuerError::UserInfo { .. } => "remove the `user@` part; credentials never go in an issuer".into(),
        IssuerError::Whitespace { .. } => "remove the whitespace (a pasted newline or space?)".into(),
        IssuerError::TooLong { .. } => "use a shorter storage account, container or prefix".into(),
        IssuerError::Untypeable { .. } => "retype the issuer: a copied URL may hold a character that does not show, and the FIC must match it byte for byte".into(),
        IssuerError::NotUriCharacter { found: '\\', .. } => "write `/`, not `\\`: parsers turn one into the other, so the FIC and the URL fetched would differ".into(),
        IssuerError::NotUriCharacter { .. } | IssuerError::BadPercent { .. } => "percent-encode the character (like %20), or leave it out of the container or prefix name".into(),
        IssuerError::NonAscii { .. } => "percent-encode the path's non-ASCII characters, or use an ASCII prefix: the FIC's issuer is a URI and compares byte for byte".into(),
        IssuerError::NonAsciiHost { ascii, .. } => format!("use the host's ASCII form `{ascii}` in the issuer and the FIC"),
        IssuerError::EmptyAuthority { .. } => "write exactly two slashes after https:, then the host".into(),
        IssuerError::PortZero { .. } => "leave the port out (443), or give the port the issuer is served on".into(),
        IssuerError::DotSegment { .. } => "write the path without `.` and `..` segments, as it will be fetched".into(),
        IssuerError::Empty | IssuerError::Invalid { .. } => {
            "give the URL the FIC will carry, like https://<account>.blob.core.windows.net/<container>".into()
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

    #[test]
    fn trailing_slash_issuer_is_kept_exact() {
        for s in [
            "https://acct.blob.core.windows.net/oidc",
            "https://acct.blob.core.windows.net/oidc/",
            "https://acct.z13.web.core.windows.net/",
            "https://127.0.0.1:10000/devstoreaccount1/oidc",
            "https://Example.COM/Path",
            "https://h:443/c",
            "https://h/a%2Fb/.well/..x/c.d",
            "https://[::1]:8443/c",
            "https://h/~user/x-y_z;v=1",
        ] {
            let issuer = Issuer::parse(s).unwrap();
            assert_eq!(issuer.as_str(), s);
            assert_eq!(issuer.to_string(), s);
            assert_eq!(format!("{issuer:?}"), format!("Issuer({s:?})"));
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
            ("https://", |e| matches!(e, EmptyAuthority { .. })),
            ("https:///host/path", |e| matches!(e, EmptyAuthority { .. })),
            ("https://h:0/c", |e| matches!(e, PortZero { .. })),
            ("https://h:000/c", |e| matches!(e, PortZero { .. })),
            (
                "https://h/c\u{1}",
                |e| matches!(e, Untypeable { found } if found.position == 12 && found.found == '\u{1}'),
            ),
            (
                "https://h/\u{7f}c",
                |e| matches!(e, Untypeable { found } if found.position == 11),
            ),
            ("https://h/c\u{200B}", |e| matches!(e, Untypeable { .. })),
            ("https://h/\u{202E}c", |e| matches!(e, Untypeable { .. })),
            ("https://h/c\u{A0}", |e| matches!(e, Untypeable { .. })),
            ("https://h\\c", |e| {
                matches!(
                    e,
                    NotUriCharacter {
                        found: '\\',
                        position: 10
                    }
                )
            }),
            ("https://h/a\"b", |e| {
                matches!(e, NotUriCharacter { found: '"', .. })
            }),
            ("https://h/{x}", |e| {
                matches!(e, NotUriCharacter { found: '{', .. })
            }),
            (
                "https://h/x/../oidc",
                |e| matches!(e, DotSegment { segment, .. } if segment == ".."),
            ),
            ("https://h/./oidc", |e| matches!(e, DotSegment { .. })),
            ("https://h/oidc/..", |e| matches!(e, DotSegment { .. })),
            ("https://h/x/%2E%2e/oidc", |e| {
                matches!(e, DotSegment { .. })
            }),
            ("https://h/ö", |e| {
                matches!(
                    e,
                    NonAscii {
                        found: 'ö',
                        position: 11
                    }
                )
            }),
            (
                "https://bücher.example/c",
                |e| matches!(e, NonAsciiHost { ascii, .. } if ascii == "xn--bcher-kva.example"),
            ),
            ("https://h/a%2", |e| {
                matches!(e, BadPercent { position: 12, .. })
            }),
            ("https://h/a%zz", |e| matches!(e, BadPercent { .. })),
        ];
        for (input, check) in cases {
            let err = Issuer::parse(input).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn every_issuer_error_is_the_users_with_a_hint_of_its_own() {
        use crate::diagnostic::Diagnostic;
        let hint = |s: &str| {
            let e = Issuer::parse(s).unwrap_err();
            assert!(e.is_usage(), "{e}");
            e.hint().unwrap()
        };
        assert!(hint("http://h/c").contains("https://"));
        assert!(hint("https://h/c?x").contains("`?…`"));
        assert!(hint("https://h\\c").contains("write `/`, not `\\`"));
        assert!(hint("https://bücher.example/c").contains("xn--bcher-kva.example"));
        assert!(hint("https://h:0/c").contains("leave the port out"));
        assert!(hint("").contains("https://<account>.blob.core.windows.net/<container>"));
    }

    #[test]
    fn the_fic_note_names_the_exact_string_and_the_slash() {
        let with = Issuer::parse("https://h/c/").unwrap().fic_note();
        assert!(
            with.contains("`https://h/c/`") && with.contains("with the trailing slash"),
            "{with}"
        );
        let without = Issuer::parse("https://h/c").unwrap().fic_note();
        assert!(
            without.contains("`https://h/c`") && without.contains("no trailing slash"),
            "{without}"
        );
        assert!(without.contains("AADSTS700211"));
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
