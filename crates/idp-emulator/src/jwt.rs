//! Taking a client assertion apart without trusting it: the compact form, the header's
//! `alg` and `kid`, and the claims Entra needs. Pure, no I/O; signatures are checked in
//! `token.rs` with an algorithm chosen there, never by the header.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// An assertion split into its parts; nothing in it has been verified.
#[derive(Debug)]
pub(crate) struct Assertion<'a> {
    /// The header's `alg`, as written.
    pub alg: String,
    /// The header's `kid`, if a string.
    pub kid: Option<String>,
    pub iss: String,
    pub sub: String,
    /// `aud` as a list: a string claim becomes a one-element list.
    pub aud: Vec<String>,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The third part, base64url.
    pub signature: &'a str,
    /// Every claim, for the checks on Entra-issued assertions (`idtyp`, `xms_mirid`, …).
    pub claims: Map<String, Value>,
}

/// Why an assertion is not a JWT Entra can read (AADSTS50027).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum MalformedJwt {
    #[error("the assertion is not three base64url parts separated by dots")]
    NotThreeParts,
    #[error("the {0} is not valid base64url")]
    Base64(&'static str),
    #[error("the {0} is not a JSON object")]
    NotJsonObject(&'static str),
    #[error("the header has no 'alg'")]
    NoAlg,
    #[error("the '{0}' claim is missing")]
    Missing(&'static str),
    #[error("the '{0}' claim has the wrong type")]
    WrongType(&'static str),
}

fn part(b64: &str, what: &'static str) -> Result<Map<String, Value>, MalformedJwt> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| MalformedJwt::Base64(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(MalformedJwt::NotJsonObject(what)),
    }
}

fn string(claims: &Map<String, Value>, name: &'static str) -> Result<String, MalformedJwt> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(MalformedJwt::Missing(name)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(MalformedJwt::WrongType(name)),
    }
}

/// A NumericDate: a JSON number, fractions truncated.
fn time(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, MalformedJwt> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(MalformedJwt::WrongType(name)),
        Some(_) => Err(MalformedJwt::WrongType(name)),
    }
}

/// A compact JWS split into its decoded header and payload (JSON objects), the bytes the
/// signature covers and the signature (base64url); nothing verified.
pub(crate) struct Parts<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signing_input: &'a str,
    pub signature: &'a str,
}

/// Splits `jwt` into its three parts and decodes the first two; requires no claim.
pub(crate) fn split(jwt: &str) -> Result<Parts<'_>, MalformedJwt> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MalformedJwt::NotThreeParts);
    };
    if h.is_empty() || p.is_empty() {
        return Err(MalformedJwt::NotThreeParts);
    }
    let header = part(h, "header")?;
    let claims = part(p, "payload")?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| MalformedJwt::Base64("signature"))?;
    Ok(Parts {
        header,
        claims,
        signing_input: &jwt[..h.len() + 1 + p.len()],
        signature: s,
    })
}

/// Splits and decodes `jwt`. Requires `iss`, `sub`, `aud` and `exp`; `aud` may be a
/// string or an array of strings.
pub(crate) fn parse(jwt: &str) -> Result<Assertion<'_>, MalformedJwt> {
    let Parts {
        header,
        claims,
        signing_input,
        signature,
    } = split(jwt)?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err(MalformedJwt::NoAlg),
    };
    let kid = match header.get("kid") {
        Some(Value::String(k)) => Some(k.clone()),
        _ => None,
    };
    let iss = string(&claims, "iss")?;
    let sub = string(&claims, "sub")?;
    let aud = match claims.get("aud") {
        None | Some(Value::Null) => return Err(MalformedJwt::Missing("aud")),
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(MalformedJwt::WrongType("aud"))?,
        Some(_) => return Err(MalformedJwt::WrongType("aud")),
    };
    let exp = time(&claims, "exp")?.ok_or(MalformedJwt::Missing("exp"))?;
    Ok(Assertion {
        alg,
        kid,
        iss,
        sub,
        aud,
        exp,
        nbf: time(&claims, "nbf")?,
        iat: time(&claims, "iat")?,
        signing_input,
        signature,
        claims,
    })
}

/// Why an RS256 signature does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum BadSignature {
    /// `n` or `e` is not base64url of a positive integer (Entra: AADSTS900612).
    #[error("the key's {0} is not base64url")]
    Key(&'static str),
    /// The signature does not verify, or is not base64url (AADSTS50027).
    #[error("the signature does not verify")]
    Mismatch,
}

/// Verifies an RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) signature over
/// `signing_input` with the RSA key whose JWK members are `n` and `e` (base64url, RFC 7518
/// §6.3.1). The algorithm is fixed here, whatever a header says. OpenSSL's verifier,
/// driven by the emulator's own code: idp's signer (idp-core) is not reached.
pub(crate) fn verify_rs256(
    n: &str,
    e: &str,
    signing_input: &[u8],
    signature: &str,
) -> Result<(), BadSignature> {
    use openssl::bn::BigNum;
    let int = |b64: &str, what: &'static str| {
        let bytes = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| BadSignature::Key(what))?;
        if bytes.is_empty() {
            return Err(BadSignature::Key(what));
        }
        BigNum::from_slice(&bytes).map_err(|_| BadSignature::Key(what))
    };
    let rsa = openssl::rsa::Rsa::from_public_components(int(n, "n")?, int(e, "e")?)
        .map_err(|_| BadSignature::Key("n"))?;
    let key = openssl::pkey::PKey::from_rsa(rsa).map_err(|_| BadSignature::Key("n"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| BadSignature::Mismatch)?;
    let mut verifier = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key)
        .map_err(|_| BadSignature::Mismatch)?;
    match verifier.verify_oneshot(&signature, signing_input) {
        Ok(true) => Ok(()),
        _ => Err(BadSignature::Mismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn jwt(header: &Value, claims: &Value) -> String {
        format!("{}.{}.c2ln", b64(header), b64(claims))
    }

    fn claims() -> Value {
        json!({"iss": "https://i", "sub": "s", "aud": "a", "exp": 10, "iat": 1})
    }

    #[test]
    fn parses_the_claims_entra_reads() {
        let t = jwt(&json!({"alg": "RS256", "kid": "k"}), &claims());
        let a = parse(&t).unwrap();
        assert_eq!((a.alg.as_str(), a.kid.as_deref()), ("RS256", Some("k")));
        assert_eq!((a.iss.as_str(), a.sub.as_str()), ("https://i", "s"));
        assert_eq!(a.aud, ["a"]);
        assert_eq!((a.exp, a.iat, a.nbf), (10, Some(1), None));
        assert_eq!(a.signature, "c2ln");
        assert_eq!(format!("{}.{}", a.signing_input, a.signature), t);
    }

    #[test]
    fn aud_may_be_an_array_and_times_fractional() {
        let mut c = claims();
        c["aud"] = json!(["a", "b"]);
        c["exp"] = json!(10.9);
        let t = jwt(&json!({"alg": "RS256"}), &c);
        let a = parse(&t).unwrap();
        assert_eq!(a.aud, ["a", "b"]);
        assert_eq!(a.exp, 10);
        assert_eq!(a.kid, None);
    }

    #[test]
    fn rejects_malformed_assertions() {
        let h = json!({"alg": "RS256"});
        assert_eq!(parse("a.b").unwrap_err(), MalformedJwt::NotThreeParts);
        assert_eq!(parse("a.b.c.d").unwrap_err(), MalformedJwt::NotThreeParts);
        assert_eq!(parse("..").unwrap_err(), MalformedJwt::NotThreeParts);
        // An empty header or payload alone is not three parts either (caught by cargo
        // mutants): not "the header is not a JSON object".
        assert_eq!(parse(".e30.c2ln").unwrap_err(), MalformedJwt::NotThreeParts);
        assert_eq!(parse("e30..c2ln").unwrap_err(), MalformedJwt::NotThreeParts);
        assert_eq!(
            parse("!!.e30.c2ln").unwrap_err(),
            MalformedJwt::Base64("header")
        );
        assert_eq!(
            parse(&format!("{}.bm90IGpzb24.c2ln", b64(&h))).unwrap_err(),
            MalformedJwt::NotJsonObject("payload")
        );
        assert_eq!(
            parse(&format!("{}.{}.c2l=", b64(&h), b64(&claims()))).unwrap_err(),
            MalformedJwt::Base64("signature")
        );
        assert_eq!(
            parse(&jwt(&json!({"typ": "JWT"}), &claims())).unwrap_err(),
            MalformedJwt::NoAlg
        );
        for name in ["iss", "sub", "aud", "exp"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(name);
            assert_eq!(
                parse(&jwt(&h, &c)).unwrap_err(),
                MalformedJwt::Missing(name)
            );
        }
        let mut c = claims();
        c["exp"] = json!("10");
        assert_eq!(
            parse(&jwt(&h, &c)).unwrap_err(),
            MalformedJwt::WrongType("exp")
        );
        let mut c = claims();
        c["aud"] = json!([1]);
        assert_eq!(
            parse(&jwt(&h, &c)).unwrap_err(),
            MalformedJwt::WrongType("aud")
        );
    }

    /// A key made here with OpenSSL, its JWK members, and an RS256 signature over `input`.
    fn signed(input: &[u8]) -> (String, String, String) {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let (n, e) = (rsa.n().to_vec(), rsa.e().to_vec());
        let key = openssl::pkey::PKey::from_rsa(rsa).unwrap();
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        let sig = signer.sign_oneshot_to_vec(input).unwrap();
        (
            URL_SAFE_NO_PAD.encode(n),
            URL_SAFE_NO_PAD.encode(e),
            URL_SAFE_NO_PAD.encode(sig),
        )
    }

    #[test]
    fn rs256_verifies_only_the_signed_bytes_with_the_signing_key() {
        let (n, e, sig) = signed(b"h.p");
        assert_eq!(verify_rs256(&n, &e, b"h.p", &sig), Ok(()));
        assert_eq!(
            verify_rs256(&n, &e, b"h.q", &sig),
            Err(BadSignature::Mismatch)
        );
        let (other_n, other_e, _) = signed(b"h.p");
        assert_eq!(
            verify_rs256(&other_n, &other_e, b"h.p", &sig),
            Err(BadSignature::Mismatch)
        );
        // A flipped bit, a padded or truncated signature: no.
        let mut raw = URL_SAFE_NO_PAD.decode(&sig).unwrap();
        raw[10] ^= 1;
        let flipped = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            verify_rs256(&n, &e, b"h.p", &flipped),
            Err(BadSignature::Mismatch)
        );
        assert_eq!(
            verify_rs256(&n, &e, b"h.p", &format!("{sig}=")),
            Err(BadSignature::Mismatch)
        );
        assert_eq!(
            verify_rs256(&n, &e, b"h.p", &sig[..sig.len() - 4]),
            Err(BadSignature::Mismatch)
        );
    }

    #[test]
    fn rs256_says_which_key_member_is_unreadable() {
        let (n, e, sig) = signed(b"h.p");
        assert_eq!(
            verify_rs256("", &e, b"h.p", &sig),
            Err(BadSignature::Key("n"))
        );
        assert_eq!(
            verify_rs256(&n, "!!", b"h.p", &sig),
            Err(BadSignature::Key("e"))
        );
        assert_eq!(
            verify_rs256(&format!("{n}=="), &e, b"h.p", &sig),
            Err(BadSignature::Key("n"))
        );
    }
}
