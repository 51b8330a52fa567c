//! `idp doctor`'s issuer checks: what Entra will check of the published documents, judged
//! before Entra judges it. Pure: it reads what [`crate::readback::fetch_published`] fetched
//! anonymously, the local keyring and the rendered documents.

use crate::readback::{FetchError, Published};
use idp_core::Issuer;
use idp_core::keyring::{KeyState, Keyring};
use idp_core::metadata::Documents;
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// ✓ Entra will accept it.
    Ok,
    /// ! Works now, but a step ahead may fail.
    Warn,
    /// ✗ Entra will refuse it.
    Fail,
}

impl Status {
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do, when it is not ✓.
    pub fix: Option<String>,
}

fn finding(check: &'static str, status: Status, detail: String, fix: Option<&str>) -> Finding {
    Finding {
        check,
        status,
        detail,
        fix: fix.map(str::to_owned),
    }
}

/// What the issuer checks need besides the fetch.
#[derive(Debug, Clone, Copy)]
pub struct IssuerInputs<'a> {
    pub issuer: &'a Issuer,
    pub keyring: &'a Keyring,
    pub docs: &'a Documents,
    pub now: OffsetDateTime,
    pub min_published_age: Duration,
    /// An extra CA was trusted for the fetch (`--ca-cert`): Entra trusts public roots only.
    pub extra_ca: bool,
}

/// Judges the issuer as Entra will see it.
pub fn issuer_findings(
    inputs: IssuerInputs<'_>,
    fetched: &Result<Published, FetchError>,
) -> Vec<Finding> {
    let IssuerInputs {
        issuer,
        keyring,
        docs,
        now,
        min_published_age,
        extra_ca,
    } = inputs;
    let mut out = Vec::new();
    if extra_ca {
        out.push(finding(
            "trust",
            Status::Warn,
            "the documents were fetched trusting --ca-cert; Entra trusts only public CAs".into(),
            Some("serve the issuer with a certificate from a public CA (Azure Storage's own certificate does)"),
        ));
    }
    let published = match fetched {
        Ok(p) => p,
        Err(e) => {
            out.push(finding(
                "discovery",
                Status::Fail,
                e.to_string(),
                Some("publish with `idp publish-metadata`; Entra fetches the documents anonymously over HTTPS, without following redirects"),
            ));
            return out;
        }
    };
    out.push(finding(
        "discovery",
        Status::Ok,
        format!("{} fetched anonymously over HTTPS", published.discovery.url),
        None,
    ));
    let discovery: Value =
        serde_json::from_slice(&published.discovery.bytes).unwrap_or(Value::Null);
    match discovery.get("issuer").and_then(Value::as_str) {
        Some(i) if i == issuer.as_str() => {
            out.push(finding("issuer", Status::Ok, format!("`{i}`, byte for byte"), None))
        }
        Some(i) => out.push(finding(
            "issuer",
            Status::Fail,
            format!("the published issuer is `{i}`, the configured one `{issuer}` (AADSTS700211 when the FIC holds one and the assertion the other)"),
            Some("publish again (`idp publish-metadata`), or set the issuer idp.toml holds to the published one"),
        )),
        None => out.push(finding(
            "issuer",
            Status::Fail,
            "the discovery document has no `issuer` string".into(),
            Some("publish again with `idp publish-metadata`"),
        )),
    }
    if published.jwks.url.starts_with("https://") {
        out.push(finding(
            "jwks_uri",
            Status::Ok,
            published.jwks.url.clone(),
            None,
        ));
    } else {
        out.push(finding(
            "jwks_uri",
            Status::Fail,
            format!("`{}` is not https", published.jwks.url),
            Some("publish again with `idp publish-metadata`"),
        ));
    }
    let jwks: Value = serde_json::from_slice(&published.jwks.bytes).unwrap_or(Value::Null);
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let weak: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            let kid = k.get("kid").and_then(Value::as_str).unwrap_or("(no kid)");
            let rsa = k.get("kty").and_then(Value::as_str) == Some("RSA");
            let bits = k
                .get("n")
                .and_then(Value::as_str)
                .map(|n| {
                    idp_core::keys::RsaPublic {
                        n: n.into(),
                        e: String::new(),
                    }
                    .bits()
                })
                .unwrap_or(0);
            let sig = k.get("use").and_then(Value::as_str) == Some("sig");
            (!rsa || bits < 2048 || !sig).then(|| {
                format!(
                    "`{kid}` ({}, {bits} bits, use {})",
                    k.get("kty").and_then(Value::as_str).unwrap_or("?"),
                    k.get("use").and_then(Value::as_str).unwrap_or("none")
                )
            })
        })
        .collect();
    if keys.is_empty() {
        out.push(finding(
            "keys",
            Status::Fail,
            "the published JWKS holds no keys (AADSTS900612 or 7000272)".into(),
            Some("publish with `idp publish-metadata`"),
        ));
    } else if weak.is_empty() {
        out.push(finding(
            "keys",
            Status::Ok,
            format!("{} RSA key(s) of 2048 bits or more, use sig", keys.len()),
            None,
        ));
    } else {
        out.push(finding(
            "keys",
            Status::Fail,
            format!("not RSA ≥ 2048 bits with use sig: {}", weak.join(", ")),
            Some("publish the keyring's own JWKS (`idp publish-metadata`; `--drop-unknown-keys` for keys no keyring signs with)"),
        ));
    }
    let published_kids: Vec<&str> = keys
        .iter()
        .filter_map(|k| k.get("kid").and_then(Value::as_str))
        .collect();
    match keyring.active() {
        Some(active) if published_kids.contains(&active.kid.as_str()) => out.push(finding(
            "active key",
            Status::Ok,
            format!("`{}` is published", active.kid),
            None,
        )),
        Some(active) => out.push(finding(
            "active key",
            Status::Fail,
            format!("`{}` signs, but is not in the published JWKS: every exchange fails with AADSTS7000272", active.kid),
            Some("publish now (`idp publish-metadata`), or activate the key that is published"),
        )),
        None => out.push(finding(
            "active key",
            Status::Fail,
            "the keyring has no active key".into(),
            Some("activate a key with `idp keys activate <kid>`"),
        )),
    }
    let mismatches = published.compare(docs);
    if mismatches.is_empty() {
        out.push(finding(
            "drift",
            Status::Ok,
            "the published documents are the local state, byte for byte".into(),
            None,
        ));
    } else {
        let local: Vec<String> = keyring.published().iter().map(|k| k.kid.clone()).collect();
        let missing: Vec<&String> = local
            .iter()
            .filter(|k| !published_kids.contains(&k.as_str()))
            .collect();
        let extra: Vec<&&str> = published_kids
            .iter()
            .filter(|k| !local.iter().any(|l| l == **k))
            .collect();
        let mut detail = mismatches
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if !missing.is_empty() {
            detail.push_str(&format!("; not published: {missing:?}"));
        }
        if !extra.is_empty() {
            detail.push_str(&format!("; published but not local: {extra:?}"));
        }
        out.push(finding(
            "drift",
            Status::Fail,
            detail,
            Some("run `idp publish-metadata` (`--dry-run` first shows what changes)"),
        ));
    }
    for next in keyring.keys.iter().filter(|k| k.state == KeyState::Next) {
        let (status, detail, fix) = match next.published_at {
            _ if !published_kids.contains(&next.kid.as_str()) => (
                Status::Warn,
                format!("next key `{}` is not published yet", next.kid),
                Some("publish it (`idp publish-metadata`) well before activating it"),
            ),
            Some(at) if now - at >= min_published_age => (
                Status::Ok,
                format!(
                    "next key `{}` published since {at}: ready to activate",
                    next.kid
                ),
                None,
            ),
            Some(at) => (
                Status::Warn,
                format!(
                    "next key `{}` first seen published at {at}; activating it before {} have passed risks AADSTS7000272",
                    next.kid,
                    idp_core::duration::format(min_published_age)
                ),
                Some("wait, or prove it with `idp keys activate <kid> --canary <customer>`"),
            ),
            None => (
                Status::Warn,
                format!(
                    "next key `{}` is published, but idp has not seen when it first was",
                    next.kid
                ),
                Some("run `idp publish-metadata` (its readback records it), then wait"),
            ),
        };
        out.push(finding("next key", status, detail, fix));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readback::Fetched;
    use idp_core::keyring::entry_for;
    use idp_core::keys;
    use idp_core::metadata::{self, JwksPath};

    const NOW: OffsetDateTime = time::macros::datetime!(2026-06-01 00:00 UTC);
    const DAY: Duration = Duration::from_secs(86_400);

    fn setup(states: &[KeyState]) -> (Issuer, Keyring, Documents) {
        let issuer = Issuer::parse("https://h/oidc").unwrap();
        let ring = Keyring {
            version: 1,
            keys: states
                .iter()
                .map(|s| entry_for(&keys::generate(2048).unwrap(), *s, NOW))
                .collect(),
        };
        let docs = metadata::render(&issuer, &JwksPath::default(), &ring).unwrap();
        (issuer, ring, docs)
    }

    fn published(discovery: &[u8], jwks: &[u8]) -> Result<Published, FetchError> {
        let fetched = |url: &str, bytes: &[u8]| Fetched {
            url: url.into(),
            bytes: bytes.to_vec(),
            content_type: Some("application/json".into()),
            cache_control: Some("public, max-age=300".into()),
        };
        Ok(Published {
            discovery: fetched("https://h/oidc/.well-known/openid-configuration", discovery),
            jwks: fetched("https://h/oidc/.well-known/jwks.json", jwks),
        })
    }

    fn statuses(findings: &[Finding]) -> Vec<(&'static str, Status)> {
        findings.iter().map(|f| (f.check, f.status)).collect()
    }

    fn inputs<'a>(i: &'a Issuer, r: &'a Keyring, d: &'a Documents) -> IssuerInputs<'a> {
        IssuerInputs {
            issuer: i,
            keyring: r,
            docs: d,
            now: NOW,
            min_published_age: DAY,
            extra_ca: false,
        }
    }

    #[test]
    fn the_local_state_published_passes_every_check() {
        let (i, r, d) = setup(&[KeyState::Active]);
        let f = issuer_findings(inputs(&i, &r, &d), &published(&d.discovery, &d.jwks));
        assert!(f.iter().all(|f| f.status == Status::Ok), "{f:?}");
        assert_eq!(
            statuses(&f).iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [
                "discovery",
                "issuer",
                "jwks_uri",
                "keys",
                "active key",
                "drift"
            ]
        );
    }

    #[test]
    fn each_problem_fails_its_own_check() {
        let (i, r, d) = setup(&[KeyState::Active]);
        let other =
            br#"{"issuer":"https://h/oidc/","jwks_uri":"https://h/oidc/.well-known/jwks.json"}"#;
        let f = issuer_findings(inputs(&i, &r, &d), &published(other, &d.jwks));
        assert!(statuses(&f).contains(&("issuer", Status::Fail)), "{f:?}");
        let weak = br#"{"keys":[{"kty":"EC","kid":"e","use":"sig"},{"kty":"RSA","kid":"s","n":"AQAB","e":"AQAB","use":"sig"},{"kty":"RSA","kid":"u","n":"AQAB","e":"AQAB"}]}"#;
        let f = issuer_findings(inputs(&i, &r, &d), &published(&d.discovery, weak));
        let keys = f.iter().find(|f| f.check == "keys").unwrap();
        assert_eq!(keys.status, Status::Fail);
        for kid in ["`e`", "`s`", "`u`"] {
            assert!(keys.detail.contains(kid), "{}", keys.detail);
        }
        assert!(statuses(&f).contains(&("active key", Status::Fail)));
        assert!(statuses(&f).contains(&("drift", Status::Fail)));
        let f = issuer_findings(
            inputs(&i, &r, &d),
            &published(&d.discovery, br#"{"keys":[]}"#),
        );
        assert!(statuses(&f).contains(&("keys", Status::Fail)));
        let gone: Result<Published, FetchError> = Err(FetchError::Unreachable {
            url: "https://h/oidc/.well-known/openid-configuration".into(),
            detail: "refused".into(),
        });
        let f = issuer_findings(inputs(&i, &r, &d), &gone);
        assert_eq!(statuses(&f), [("discovery", Status::Fail)]);
        let mut with_ca = inputs(&i, &r, &d);
        with_ca.extra_ca = true;
        let f = issuer_findings(with_ca, &published(&d.discovery, &d.jwks));
        assert_eq!(f[0].check, "trust");
        assert_eq!(f[0].status, Status::Warn);
    }

    #[test]
    fn the_next_key_is_ready_only_once_published_long_enough() {
        let (i, mut r, d) = setup(&[KeyState::Active, KeyState::Next]);
        let status = |r: &Keyring| {
            issuer_findings(inputs(&i, r, &d), &published(&d.discovery, &d.jwks))
                .into_iter()
                .find(|f| f.check == "next key")
                .unwrap()
                .status
        };
        assert_eq!(status(&r), Status::Warn, "never seen published");
        r.keys[1].published_at = Some(NOW - Duration::from_secs(3600));
        assert_eq!(status(&r), Status::Warn, "an hour ago");
        r.keys[1].published_at = Some(NOW - DAY);
        assert_eq!(status(&r), Status::Ok, "a day ago");
    }
}
