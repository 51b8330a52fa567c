//! The client assertion: an RS256 JWT that Entra exchanges for the managed identity's token.
//!
//! Header `{"alg":"RS256","typ":"JWT","kid":…}`; claims `iss` (the exact issuer), `sub`,
//! `aud`, `iat`, `nbf` (iat − 60 s, for clock skew), `exp`, `jti`, then any private claims.
//! The clock and the `jti` come from the caller, so a token can be reproduced in tests.

use crate::keys::SigningKey;
use crate::secret::SecretString;
use crate::signer::{SignError, Signer};
use crate::{FIC_VALUE_MAX_CHARS, Issuer, KNOWN_AUDIENCES};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

/// Default assertion lifetime.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Longest lifetime idp signs. Entra refuses more than 25 h (AADSTS70023); idp keeps an
/// hour's margin.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How far `nbf` lies before `iat`, to absorb clock skew between here and Entra.
pub const NBF_SKEW: Duration = Duration::from_secs(60);
/// Claim names RFC 7519 registers and idp sets itself.
pub const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Why an assertion cannot be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AssertionError {
    #[error("subject is empty")]
    EmptySubject,
    #[error("subject is {len} characters long; Entra accepts at most {FIC_VALUE_MAX_CHARS}")]
    SubjectTooLong { len: usize },
    #[error(
        "subject has leading or trailing whitespace; Entra compares it byte for byte with the FIC"
    )]
    SubjectWhitespace,
    #[error("subject has {found}, which cannot be typed reliably into a FIC")]
    SubjectUntypeable { found: crate::text::Untypeable },
    #[error("audience is empty")]
    EmptyAudience,
    #[error("audience is {len} characters long; a FIC's audience is at most {FIC_VALUE_MAX_CHARS}")]
    AudienceTooLong { len: usize },
    #[error(
        "audience has leading or trailing whitespace; Entra compares it byte for byte with the FIC"
    )]
    AudienceWhitespace,
    #[error("audience has {found}, which cannot be typed reliably into a FIC")]
    AudienceUntypeable { found: crate::text::Untypeable },
    #[error("lifetime must be more than zero")]
    ZeroLifetime,
    #[error("lifetime {given} is over the 24h limit (Entra refuses assertions over 25h)")]
    LifetimeTooLong { given: String },
    #[error("claim `{claim}` is not of the form key=value")]
    ClaimSyntax { claim: String },
    #[error("claim `{name}` is registered and set by idp; it cannot be overridden")]
    RegisteredClaim { name: String },
    #[error("claim `{name}` is given twice")]
    DuplicateClaim { name: String },
}

/// The `sub` claim: 1 to 600 characters, no surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub fn parse(s: &str) -> Result<Self, AssertionError> {
        if s.is_empty() {
            return Err(AssertionError::EmptySubject);
        }
        let len = s.chars().count();
        if len > FIC_VALUE_MAX_CHARS {
            return Err(AssertionError::SubjectTooLong { len });
        }
        if s.trim() != s {
            return Err(AssertionError::SubjectWhitespace);
        }
        if let Some(found) = crate::text::first_untypeable(s) {
            return Err(AssertionError::SubjectUntypeable { found });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `aud` claim: the FIC's audience. A FIC's audience is free text of up to 600
/// characters; Microsoft recommends the cloud's token-exchange audience
/// (`api://AzureADTokenExchange` and its sovereign twins), and [`Audience::is_known`] says
/// whether this is one of those, so the caller can warn when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(String);

impl Audience {
    pub fn parse(s: &str) -> Result<Self, AssertionError> {
        if s.is_empty() {
            return Err(AssertionError::EmptyAudience);
        }
        let len = s.chars().count();
        if len > FIC_VALUE_MAX_CHARS {
            return Err(AssertionError::AudienceTooLong { len });
        }
        if s.trim() != s {
            return Err(AssertionError::AudienceWhitespace);
        }
        if let Some(found) = crate::text::first_untypeable(s) {
            return Err(AssertionError::AudienceUntypeable { found });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the clouds' token-exchange audiences.
    pub fn is_known(&self) -> bool {
        KNOWN_AUDIENCES.contains(&self.0.as_str())
    }
}

impl Default for Audience {
    fn default() -> Self {
        Self(crate::AUDIENCE_GLOBAL.to_owned())
    }
}

/// How long an assertion is valid: more than zero, at most 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(Duration);

impl Lifetime {
    pub fn new(d: Duration) -> Result<Self, AssertionError> {
        if d.is_zero() {
            return Err(AssertionError::ZeroLifetime);
        }
        if d > MAX_LIFETIME {
            return Err(AssertionError::LifetimeTooLong {
                given: crate::duration::format(d),
            });
        }
        Ok(Self(d))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl Default for Lifetime {
    fn default() -> Self {
        Self(DEFAULT_LIFETIME)
    }
}

/// Private claims from `--claim key=value`, checked against the registered names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateClaims(BTreeMap<String, String>);

impl PrivateClaims {
    /// Parses `key=value` pairs.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<Self, AssertionError> {
        let mut map = BTreeMap::new();
        for pair in pairs {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| AssertionError::ClaimSyntax {
                    claim: pair.to_owned(),
                })?;
            if k.is_empty() || k.trim() != k {
                return Err(AssertionError::ClaimSyntax {
                    claim: pair.to_owned(),
                });
            }
            if REGISTERED_CLAIMS.contains(&k) {
                return Err(AssertionError::RegisteredClaim { name: k.to_owned() });
            }
            if map.insert(k.to_owned(), v.to_owned()).is_some() {
                return Err(AssertionError::DuplicateClaim { name: k.to_owned() });
            }
        }
        Ok(Self(map))
    }
}

/// What to sign.
#[derive(Debug, Clone)]
pub struct AssertionSpec {
    pub issuer: Issuer,
    pub subject: Subject,
    pub audience: Audience,
    pub lifetime: Lifetime,
    pub claims: PrivateClaims,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: &'a str,
    #[serde(flatten)]
    extra: &'a BTreeMap<String, String>,
}

/// A signed assertion and the times it carries.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    pub token: SecretString,
    pub iat: i64,
    pub exp: i64,
    pub kid: String,
    pub jti: String,
}

/// A fresh random `jti`: 128 bits, base64url.
pub fn random_jti() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    B64URL.encode(b)
}

/// Signs `spec` with `key` at `now` (Unix seconds) as a compact JWS.
pub fn sign(spec: &AssertionSpec, key: &SigningKey, now: i64, jti: &str) -> SignedAssertion {
    let (input, exp) = signing_input(spec, key.kid(), now, jti);
    let signature = key.sign_rs256(input.as_bytes());
    finish(input, &signature, now, exp, key.kid(), jti)
}

/// Signs `spec` with `signer` (a local key, or a key in a vault) at `now` (Unix seconds).
pub async fn sign_with(
    spec: &AssertionSpec,
    signer: &Signer,
    now: i64,
    jti: &str,
) -> Result<SignedAssertion, SignError> {
    let (input, exp) = signing_input(spec, signer.kid(), now, jti);
    let signature = signer.sign_rs256(input.as_bytes()).await?;
    Ok(finish(input, &signature, now, exp, signer.kid(), jti))
}

/// The JWS signing input (`base64url(header).base64url(claims)`) and `exp`.
fn signing_input(spec: &AssertionSpec, kid: &str, now: i64, jti: &str) -> (String, i64) {
    let exp = now + spec.lifetime.get().as_secs() as i64;
    let header = Header {
        alg: "RS256",
        typ: "JWT",
        kid,
    };
    let claims = Claims {
        iss: spec.issuer.as_str(),
        sub: spec.subject.as_str(),
        aud: spec.audience.as_str(),
        iat: now,
        nbf: now - NBF_SKEW.as_secs() as i64,
        exp,
        jti,
        extra: &spec.claims.0,
    };
    let mut token = String::with_capacity(1024);
    B64URL.encode_string(
        serde_json::to_vec(&header).expect("header serialises"),
        &mut token,
    );
    token.push('.');
    B64URL.encode_string(
        serde_json::to_vec(&claims).expect("claims serialise"),
        &mut token,
    );
    (token, exp)
}

fn finish(
    mut token: String,
    signature: &[u8],
    iat: i64,
    exp: i64,
    kid: &str,
    jti: &str,
) -> SignedAssertion {
    token.push('.');
    B64URL.encode_string(signature, &mut token);
    SignedAssertion {
        token: SecretString::new(token),
        iat,
        exp,
        kid: kid.to_owned(),
        jti: jti.to_owned(),
    }
}

impl crate::diagnostic::Diagnostic for AssertionError {
    fn hint(&self) -> Option<String> {
        Some(match self {
        AssertionError::EmptySubject
        | AssertionError::SubjectTooLong { .. }
        | AssertionError::SubjectWhitespace => {
            "the subject must equal the FIC's subject exactly: 1 to 600 characters, no surrounding whitespace".into()
        }
        AssertionError::SubjectUntypeable { .. } => {
            "the subject must equal the FIC's subject exactly: retype it (a copied value may hold a character that does not show), or use only visible characters in the FIC".into()
        }
        AssertionError::EmptyAudience
        | AssertionError::AudienceTooLong { .. }
        | AssertionError::AudienceWhitespace
        | AssertionError::AudienceUntypeable { .. } => format!(
            "the audience must equal the FIC's audience exactly, 1 to 600 visible characters; the clouds' own are {}",
            crate::KNOWN_AUDIENCES.join(", ")
        ),
        AssertionError::ZeroLifetime | AssertionError::LifetimeTooLong { .. } => {
            "give a lifetime between 1s and 24h, like --lifetime 10m".into()
        }
        AssertionError::ClaimSyntax { .. } | AssertionError::DuplicateClaim { .. } => {
            "write each private claim once, as --claim key=value".into()
        }
        AssertionError::RegisteredClaim { .. } => {
            "idp sets iss, sub, aud, exp, nbf, iat and jti itself; use --subject, --audience or --lifetime".into()
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
    use crate::keys;
    use std::path::Path;

    /// Every refusal is the user's to fix (exit 2), and its hint says what the value must
    /// be: the subject's rule, the audiences, the lifetime's range, the claim's form.
    #[test]
    fn every_refusal_is_the_users_with_the_rule_it_broke() {
        use crate::diagnostic::Diagnostic;
        let cases: [(AssertionError, &str); 13] = [
            (AssertionError::EmptySubject, "1 to 600 characters"),
            (
                AssertionError::SubjectTooLong { len: 601 },
                "1 to 600 characters",
            ),
            (
                AssertionError::SubjectWhitespace,
                "no surrounding whitespace",
            ),
            (Subject::parse("a\u{200b}b").unwrap_err(), "retype it"),
            (
                AssertionError::EmptyAudience,
                "api://AzureADTokenExchangeUSGov",
            ),
            (
                AssertionError::AudienceTooLong { len: 601 },
                "1 to 600 visible characters",
            ),
            (
                AssertionError::AudienceWhitespace,
                "the FIC's audience exactly",
            ),
            (
                Audience::parse("a\u{200b}b").unwrap_err(),
                "api://AzureADTokenExchangeChina",
            ),
            (AssertionError::ZeroLifetime, "between 1s and 24h"),
            (
                AssertionError::LifetimeTooLong {
                    given: "25h".into(),
                },
                "--lifetime 10m",
            ),
            (
                AssertionError::ClaimSyntax { claim: "x".into() },
                "--claim key=value",
            ),
            (
                AssertionError::DuplicateClaim { name: "x".into() },
                "each private claim once",
            ),
            (
                AssertionError::RegisteredClaim { name: "iss".into() },
                "idp sets iss, sub, aud",
            ),
        ];
        for (e, says) in cases {
            assert!(e.is_usage(), "{e}");
            let hint = e.hint().unwrap_or_default();
            assert!(hint.contains(says), "{e}: {hint}");
        }
    }

    #[test]
    fn subject_rules() {
        assert_eq!(Subject::parse(""), Err(AssertionError::EmptySubject));
        assert_eq!(Subject::parse(" a"), Err(AssertionError::SubjectWhitespace));
        assert_eq!(
            Subject::parse("a\n"),
            Err(AssertionError::SubjectWhitespace)
        );
        assert!(matches!(
            Subject::parse("a\u{7}b"),
            Err(AssertionError::SubjectUntypeable { found }) if found.position == 2
        ));
        for invisible in [
            "a\u{1}",
            "a\u{7f}b",
            "x\u{200B}y",
            "\u{202E}ab",
            "a\u{A0}b",
            "a\tb",
        ] {
            assert!(
                matches!(
                    Subject::parse(invisible),
                    Err(AssertionError::SubjectUntypeable { .. })
                ),
                "{invisible:?}"
            );
        }
        assert!(Subject::parse(&"é".repeat(600)).is_ok());
        assert_eq!(
            Subject::parse(&"a".repeat(601)),
            Err(AssertionError::SubjectTooLong { len: 601 })
        );
        assert!(Subject::parse("customer 42 / deploy").is_ok());
    }

    #[test]
    fn lifetime_rules() {
        assert_eq!(
            Lifetime::new(Duration::ZERO),
            Err(AssertionError::ZeroLifetime)
        );
        assert!(Lifetime::new(MAX_LIFETIME).is_ok());
        // The cap is 24 h to the second, whatever the constant says.
        assert!(Lifetime::new(Duration::from_secs(86_400)).is_ok());
        assert!(Lifetime::new(Duration::from_secs(86_401)).is_err());
        assert!(matches!(
            Lifetime::new(MAX_LIFETIME + Duration::from_secs(1)),
            Err(AssertionError::LifetimeTooLong { .. })
        ));
    }

    #[test]
    fn any_typeable_audience_up_to_600_characters_and_the_clouds_are_known() {
        for a in KNOWN_AUDIENCES {
            assert!(Audience::parse(a).unwrap().is_known(), "{a}");
        }
        assert_eq!(Audience::default().as_str(), "api://AzureADTokenExchange");
        assert!(Audience::default().is_known());
        // A FIC's audience is free text: other values are allowed, and flagged as unusual.
        for a in [
            "api://azureadtokenexchange",
            "https://management.azure.com",
            "api://my-isv/exchange",
        ] {
            let parsed = Audience::parse(a).unwrap();
            assert_eq!(parsed.as_str(), a);
            assert!(!parsed.is_known(), "{a}");
        }
        assert!(Audience::parse(&"a".repeat(600)).is_ok());
        assert_eq!(
            Audience::parse(&"a".repeat(601)),
            Err(AssertionError::AudienceTooLong { len: 601 })
        );
        assert_eq!(Audience::parse(""), Err(AssertionError::EmptyAudience));
        assert_eq!(
            Audience::parse("api://x "),
            Err(AssertionError::AudienceWhitespace)
        );
        assert!(matches!(
            Audience::parse("api://\u{200B}x"),
            Err(AssertionError::AudienceUntypeable { found }) if found.position == 7
        ));
    }

    #[test]
    fn registered_claims_cannot_be_overridden() {
        for name in REGISTERED_CLAIMS {
            let pair = format!("{name}=evil");
            assert_eq!(
                PrivateClaims::parse([pair.as_str()]),
                Err(AssertionError::RegisteredClaim { name: name.into() })
            );
        }
        assert!(matches!(
            PrivateClaims::parse(["novalue"]),
            Err(AssertionError::ClaimSyntax { .. })
        ));
        assert!(matches!(
            PrivateClaims::parse(["=x"]),
            Err(AssertionError::ClaimSyntax { .. })
        ));
        assert!(matches!(
            PrivateClaims::parse(["a=1", "a=2"]),
            Err(AssertionError::DuplicateClaim { .. })
        ));
        assert!(PrivateClaims::parse(["customer=contoso", "url=a=b"]).is_ok());
    }

    /// RFC 7515 Appendix A.2: RS256 is deterministic, so signing the RFC's input with the
    /// RFC's key through idp's key loading must give the RFC's signature, byte for byte.
    /// RFC 7517 §3 / RFC 7518 §6.3.1: `n` and `e` come out as the RFC's unpadded base64url.
    #[test]
    fn rfc7515_a2_known_answer() {
        use openssl::bn::{BigNum, BigNumContext};
        const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
        const D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
        const P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
        const Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
        const INPUT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        const SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
        let big = |s: &str| BigNum::from_slice(&B64URL.decode(s).unwrap()).unwrap();
        // The RFC gives n, e, d, p, q; the CRT values follow from them.
        let mut ctx = BigNumContext::new().unwrap();
        let one = BigNum::from_u32(1).unwrap();
        let crt = |prime: &BigNum, ctx: &mut BigNumContext| {
            let mut minus_one = BigNum::new().unwrap();
            minus_one.checked_sub(prime, &one).unwrap();
            let mut r = BigNum::new().unwrap();
            r.nnmod(&big(D), &minus_one, ctx).unwrap();
            r
        };
        let (dp, dq) = (crt(&big(P), &mut ctx), crt(&big(Q), &mut ctx));
        let mut qi = BigNum::new().unwrap();
        qi.mod_inverse(&big(Q), &big(P), &mut ctx).unwrap();
        let rsa = openssl::rsa::Rsa::from_private_components(
            big(N),
            big("AQAB"),
            big(D),
            big(P),
            big(Q),
            dp,
            dq,
            qi,
        )
        .unwrap();
        let pkcs8 = openssl::pkey::PKey::from_rsa(rsa)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap();
        let parsed = keys::parse_pem(&pkcs8, Path::new("rfc7515-a2")).unwrap();
        assert_eq!(parsed.public.n, N);
        assert_eq!(parsed.public.e, "AQAB");
        let key = parsed.into_signing_key(Path::new("rfc7515-a2")).unwrap();
        assert_eq!(B64URL.encode(key.sign_rs256(INPUT.as_bytes())), SIG);
    }

    #[test]
    fn token_carries_exact_claims_and_header() {
        let key = keys::generate(2048)
            .unwrap()
            .into_signing_key(Path::new("k"))
            .unwrap();
        for iss in ["https://h/c", "https://h/c/"] {
            let spec = AssertionSpec {
                issuer: Issuer::parse(iss).unwrap(),
                subject: Subject::parse("customer-1").unwrap(),
                audience: Audience::default(),
                lifetime: Lifetime::default(),
                claims: PrivateClaims::parse(["tier=gold"]).unwrap(),
            };
            let signed = sign(&spec, &key, 1_800_000_000, "jti-1");
            let parts: Vec<&str> = signed.token.expose().split('.').collect();
            assert_eq!(parts.len(), 3);
            let header = B64URL.decode(parts[0]).unwrap();
            assert_eq!(
                String::from_utf8(header).unwrap(),
                format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, key.kid())
            );
            let claims: serde_json::Value =
                serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(claims["iss"].as_str().unwrap().as_bytes(), iss.as_bytes());
            assert_eq!(claims["sub"], "customer-1");
            assert_eq!(claims["aud"], "api://AzureADTokenExchange");
            assert_eq!(claims["iat"], 1_800_000_000);
            assert_eq!(claims["nbf"], 1_800_000_000 - 60);
            assert_eq!(claims["exp"], 1_800_000_600);
            assert_eq!(claims["jti"], "jti-1");
            assert_eq!(claims["tier"], "gold");
        }
    }

    #[test]
    fn jtis_are_unique() {
        let a: std::collections::HashSet<String> = (0..1000).map(|_| random_jti()).collect();
        assert_eq!(a.len(), 1000);
    }
}
