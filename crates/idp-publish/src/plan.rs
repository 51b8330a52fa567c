//! What a publish changes, decided before anything is written: for each blob, create it,
//! replace it (on the ETag read), or leave it; and which kids appear or disappear.

use idp_core::keyring::{KeyState, Keyring};
use idp_core::metadata::Documents;
use std::collections::BTreeSet;
use thiserror::Error;

/// A blob as it is now in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub bytes: Vec<u8>,
    pub etag: String,
}

/// What happens to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The published bytes are already these: no write.
    Unchanged,
    /// No blob yet: write only if there still is none (`If-None-Match: *`).
    Create,
    /// Different bytes: write only if the blob still has this ETag (`If-Match`).
    Replace { etag: String },
}

impl Step {
    pub fn writes(&self) -> bool {
        !matches!(self, Step::Unchanged)
    }

    fn for_blob(local: &[u8], remote: Option<&Remote>) -> Self {
        match remote {
            None => Step::Create,
            Some(r) if r.bytes == local => Step::Unchanged,
            Some(r) => Step::Replace {
                etag: r.etag.clone(),
            },
        }
    }
}

/// The whole publish, JWKS first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub jwks: Step,
    pub discovery: Step,
    pub kids_added: Vec<String>,
    pub kids_removed: Vec<String>,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        !self.jwks.writes() && !self.discovery.writes()
    }
}

/// Why a publish is refused before it starts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("the JWKS to publish lacks the active key `{kid}`")]
    MissingActive { kid: String },
    #[error("publishing would drop key `{kid}` from the JWKS while it is still {state}")]
    DropsLiveKey { kid: String, state: &'static str },
    #[error(
        "the published JWKS has key `{kid}`, which this keyring does not know: another keyring published it, and may still sign with it"
    )]
    DropsUnknownKey { kid: String },
    #[error(
        "the published JWKS cannot be read as a key set ({reason}), so idp cannot tell which keys publishing would drop"
    )]
    UnreadableRemote { reason: String },
}

/// Every key the published JWKS names, read leniently: whatever a key's other members
/// (no `use`/`alg`, another key type, extra members), its `kid` counts, so another
/// keyring's key is never dropped just because idp would not have written it that way.
/// A key with no string `kid` counts as `#<index>`: Entra may still pick it, and it is not
/// idp's to drop. Fails only when the bytes are not a JSON object with a `keys` array.
pub fn published_kids(bytes: &[u8]) -> Result<BTreeSet<String>, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| "no `keys` array".to_owned())?;
    Ok(keys
        .iter()
        .enumerate()
        .map(
            |(i, k)| match k.get("kid").and_then(serde_json::Value::as_str) {
                Some(kid) => kid.to_owned(),
                None => format!("#{i} (a key without a kid)"),
            },
        )
        .collect())
}

/// What a plan may do beyond the safe default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// Drop published keys this keyring has never known (another keyring's).
    pub drop_unknown_keys: bool,
}

/// Compares what is rendered with what is published.
pub fn plan(
    local: &Documents,
    keyring: &Keyring,
    remote_jwks: Option<&Remote>,
    remote_discovery: Option<&Remote>,
    allow: Allow,
) -> Result<Plan, PlanError> {
    let local_kids: BTreeSet<String> = local.kids.iter().cloned().collect();
    if let Some(active) = keyring.active()
        && !local_kids.contains(&active.kid)
    {
        return Err(PlanError::MissingActive {
            kid: active.kid.clone(),
        });
    }
    let remote_kids = match remote_jwks {
        None => BTreeSet::new(),
        Some(r) => match published_kids(&r.bytes) {
            Ok(kids) => kids,
            Err(_) if allow.drop_unknown_keys => BTreeSet::new(),
            Err(reason) => return Err(PlanError::UnreadableRemote { reason }),
        },
    };
    let kids_removed: Vec<String> = remote_kids.difference(&local_kids).cloned().collect();
    for kid in &kids_removed {
        match keyring.get(kid) {
            Some(entry)
                if matches!(
                    entry.state,
                    KeyState::Active | KeyState::Retiring | KeyState::Next
                ) =>
            {
                return Err(PlanError::DropsLiveKey {
                    kid: kid.clone(),
                    state: entry.state.as_str(),
                });
            }
            None if !allow.drop_unknown_keys => {
                return Err(PlanError::DropsUnknownKey { kid: kid.clone() });
            }
            _ => {}
        }
    }
    Ok(Plan {
        jwks: Step::for_blob(&local.jwks, remote_jwks),
        discovery: Step::for_blob(&local.discovery, remote_discovery),
        kids_added: local_kids.difference(&remote_kids).cloned().collect(),
        kids_removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::keyring::{KeyEntry, entry_for};
    use idp_core::metadata::{self, JwksPath};
    use idp_core::{Issuer, keys};

    fn ring(states: &[KeyState]) -> Keyring {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        Keyring {
            version: 1,
            keys: states
                .iter()
                .map(|s| entry_for(&keys::generate(2048).unwrap(), *s, t))
                .collect::<Vec<KeyEntry>>(),
        }
    }

    fn render(r: &Keyring) -> Documents {
        metadata::render(
            &Issuer::parse("https://h/c").unwrap(),
            &JwksPath::default(),
            r,
        )
        .unwrap()
    }

    fn remote(bytes: &[u8], etag: &str) -> Remote {
        Remote {
            bytes: bytes.to_vec(),
            etag: etag.into(),
        }
    }

    #[test]
    fn nothing_published_creates_both() {
        let r = ring(&[KeyState::Active]);
        let p = plan(&render(&r), &r, None, None, Allow::default()).unwrap();
        assert_eq!(
            (p.jwks.clone(), p.discovery.clone()),
            (Step::Create, Step::Create)
        );
        assert_eq!(p.kids_added, vec![r.keys[0].kid.clone()]);
    }

    #[test]
    fn same_bytes_are_not_written_again() {
        let r = ring(&[KeyState::Active]);
        let d = render(&r);
        let p = plan(
            &d,
            &r,
            Some(&remote(&d.jwks, "\"1\"")),
            Some(&remote(&d.discovery, "\"2\"")),
            Allow::default(),
        )
        .unwrap();
        assert!(p.is_noop());
    }

    #[test]
    fn changed_bytes_replace_on_the_etag_read() {
        let mut r = ring(&[KeyState::Active]);
        let old = render(&r);
        r.add(entry_for(
            &keys::generate(2048).unwrap(),
            KeyState::Next,
            time::OffsetDateTime::UNIX_EPOCH,
        ))
        .unwrap();
        let new = render(&r);
        let p = plan(
            &new,
            &r,
            Some(&remote(&old.jwks, "\"e1\"")),
            Some(&remote(&old.discovery, "\"e2\"")),
            Allow::default(),
        )
        .unwrap();
        assert_eq!(
            p.jwks,
            Step::Replace {
                etag: "\"e1\"".into()
            }
        );
        assert_eq!(p.discovery, Step::Unchanged);
        assert_eq!(p.kids_added, vec![r.keys[1].kid.clone()]);
        assert!(p.kids_removed.is_empty());
    }

    #[test]
    fn dropping_a_retiring_key_is_refused() {
        let r = ring(&[KeyState::Active, KeyState::Retiring]);
        let published = render(&r);
        // A keyring elsewhere that no longer publishes the retiring key.
        let mut stale = r.clone();
        stale.keys[1].state = KeyState::Retired;
        let local = render(&stale);
        let err = plan(
            &local,
            &r,
            Some(&remote(&published.jwks, "\"e\"")),
            None,
            Allow::default(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            PlanError::DropsLiveKey {
                state: "retiring",
                ..
            }
        ));
        // Once the keyring itself retires it, dropping it is the point.
        let ok = plan(
            &local,
            &stale,
            Some(&remote(&published.jwks, "\"e\"")),
            None,
            Allow::default(),
        )
        .unwrap();
        assert_eq!(ok.kids_removed, vec![r.keys[1].kid.clone()]);
    }

    #[test]
    fn a_jwks_without_the_active_key_is_refused() {
        let r = ring(&[KeyState::Active, KeyState::Next]);
        let mut docs = render(&r);
        docs.kids.retain(|k| *k != r.keys[0].kid);
        assert!(matches!(
            plan(&docs, &r, None, None, Allow::default()),
            Err(PlanError::MissingActive { .. })
        ));
    }

    #[test]
    fn a_foreign_key_without_use_or_alg_or_of_another_type_still_counts() {
        let ours = ring(&[KeyState::Active]);
        let local = render(&ours);
        // Another keyring's RSA key without the optional members, and an EC key.
        let published = br#"{"keys":[
            {"kty":"RSA","kid":"theirs-rsa","n":"AQAB","e":"AQAB"},
            {"kty":"EC","kid":"theirs-ec","crv":"P-256","x":"AA","y":"AA"}
        ]}"#;
        let err = plan(
            &local,
            &ours,
            Some(&remote(published, "\"e\"")),
            None,
            Allow::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PlanError::DropsUnknownKey {
                kid: "theirs-ec".into()
            }
        );
        let p = plan(
            &local,
            &ours,
            Some(&remote(published, "\"e\"")),
            None,
            Allow {
                drop_unknown_keys: true,
            },
        )
        .unwrap();
        assert_eq!(p.kids_removed, vec!["theirs-ec", "theirs-rsa"]);
    }

    #[test]
    fn a_published_key_without_a_kid_is_not_dropped_silently() {
        let ours = ring(&[KeyState::Active]);
        let published = br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#;
        let err = plan(
            &render(&ours),
            &ours,
            Some(&remote(published, "\"e\"")),
            None,
            Allow::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, PlanError::DropsUnknownKey { kid } if kid.starts_with("#0")),
            "{err:?}"
        );
    }

    #[test]
    fn an_unreadable_published_jwks_is_refused_unless_allowed() {
        let ours = ring(&[KeyState::Active]);
        let local = render(&ours);
        for bytes in [&b"<html>"[..], b"{}", br#"{"keys":{}}"#] {
            let r = remote(bytes, "\"e\"");
            assert!(
                matches!(
                    plan(&local, &ours, Some(&r), None, Allow::default()),
                    Err(PlanError::UnreadableRemote { .. })
                ),
                "{}",
                String::from_utf8_lossy(bytes)
            );
            let allow = Allow {
                drop_unknown_keys: true,
            };
            let p = plan(&local, &ours, Some(&r), None, allow).unwrap();
            assert!(p.kids_removed.is_empty());
            assert_eq!(
                p.jwks,
                Step::Replace {
                    etag: "\"e\"".into()
                }
            );
        }
    }

    #[test]
    fn dropping_another_keyrings_key_is_refused_unless_allowed() {
        let theirs = ring(&[KeyState::Active]);
        let ours = ring(&[KeyState::Active]);
        let published = render(&theirs);
        let local = render(&ours);
        let remote_jwks = remote(&published.jwks, "\"e\"");
        let err = plan(&local, &ours, Some(&remote_jwks), None, Allow::default()).unwrap_err();
        assert_eq!(
            err,
            PlanError::DropsUnknownKey {
                kid: theirs.keys[0].kid.clone()
            }
        );
        let allow = Allow {
            drop_unknown_keys: true,
        };
        let p = plan(&local, &ours, Some(&remote_jwks), None, allow).unwrap();
        assert_eq!(p.kids_removed, vec![theirs.keys[0].kid.clone()]);
    }
}
