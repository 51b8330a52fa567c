//! Key rotation that cannot cause an outage by accident. `activate` makes a key the signing
//! key only when Entra can verify it: the key signs a probe first (its file loads, or the
//! vault signs with it), then either a canary exchange for one customer proves Entra
//! accepts it now, or the JWKS published at the issuer URL (fetched anonymously, as Entra
//! does) has held it for `min_published_age`; `--force` skips both with a warning. `retire`
//! waits until assertions the key signed can no longer be valid. What the keyring alone
//! refuses is said before anything is fetched, and a refusal leaves keyring.json as it was
//! (but for the first sighting of a published key, which starts the wait).

use async_trait::async_trait;
use idp_core::diagnostic::{Context as _, Report};
use idp_core::keyring::{KeyEntry, KeyState, KeyStore, Keyring, KeyringError};
use idp_core::signer::Signer;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The shortest kid prefix accepted in place of the whole kid.
pub const MIN_KID_PREFIX: usize = 6;

/// Accepts a full kid or a unique prefix of at least six characters.
pub fn resolve_kid(ring: &Keyring, given: &str) -> Result<String, KeyringError> {
    if ring.get(given).is_some() {
        return Ok(given.to_owned());
    }
    let unknown = || KeyringError::UnknownKid {
        kid: given.to_owned(),
    };
    if given.len() < MIN_KID_PREFIX {
        return Err(unknown());
    }
    let mut matches = ring.keys.iter().filter(|k| k.kid.starts_with(given));
    match (matches.next(), matches.next()) {
        (Some(k), None) => Ok(k.kid.clone()),
        _ => Err(unknown()),
    }
}

/// What activation asks of the world outside the keyring.
#[async_trait(?Send)]
pub trait World: Sync {
    /// What signs for `entry` (its key file, or its key in a vault).
    fn signer_for(&self, entry: &KeyEntry) -> Result<Signer, Report>;
    /// The kids of the JWKS published at the issuer URL, fetched anonymously as Entra
    /// fetches it, with the JWKS's URL.
    async fn published_kids(&self) -> Result<(String, BTreeSet<String>), Report>;
    /// One exchange for `customer` signed by `key`: Entra's answer.
    async fn canary(&self, customer: &str, key: &Arc<Signer>) -> Result<(), Report>;
}

/// The world as it is: the key's file or vault, the issuer's published JWKS, and Entra's
/// token endpoint for a customer of the inventory.
pub struct Live<'a> {
    pub ctx: &'a crate::context::Context,
    /// How the canary's assertion is shaped and sent (its issuer is the published one).
    pub shape: &'a crate::exchange::Shape,
    pub inventory: &'a idp_inventory::InventoryFile,
    /// Hears of the canary's retries (throttling), for the user.
    pub note: &'a (dyn Fn(String) + Sync),
}

impl std::fmt::Debug for Live<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("shape", &self.shape)
            .field("inventory", &self.inventory)
            .finish_non_exhaustive()
    }
}

#[async_trait(?Send)]
impl World for Live<'_> {
    fn signer_for(&self, entry: &KeyEntry) -> Result<Signer, Report> {
        self.ctx.signer_for(entry)
    }

    async fn published_kids(&self) -> Result<(String, BTreeSet<String>), Report> {
        use idp_core::diagnostic::Problem;
        let published = idp_publish::readback::fetch_published(self.ctx.http()?, self.shape.issuer()?)
            .await
            .problem(|| Problem::failed(
                "cannot read the published JWKS, so idp cannot tell whether Entra can verify the key",
                "publish first (`idp publish-metadata`); if the issuer is not reachable from here, pass --force and check `idp publish-metadata --check` from where it is",
            ))?;
        let kids = idp_publish::plan::published_kids(&published.jwks.bytes).map_err(|reason| {
            Report::failed(
                format!(
                    "the JWKS at {} is not a key set: {reason}",
                    published.jwks.url
                ),
                "publish the JWKS idp renders (`idp publish-metadata`)",
            )
        })?;
        Ok((published.jwks.url, kids))
    }

    /// No retries of propagation: a refusal is the answer sought.
    async fn canary(&self, customer: &str, key: &Arc<Signer>) -> Result<(), Report> {
        use crate::exchange::{Exchanger, Scope, check_policy, explain, plan};
        use crate::select::{Selection, resolve};
        let chosen = resolve(&Selection::One(customer.to_owned()), None, self.inventory)?;
        if chosen[0].customer.way() != idp_inventory::Way::Issuer {
            return Err(Report::usage(
                format!(
                    "customer {customer} is of the {} way: its exchanges present the publisher's managed identity's token, not an assertion idp signs, so it cannot prove a key",
                    chosen[0].customer.way()
                ),
                "name a customer of the issuer way for --canary",
            ));
        }
        let job = plan(self.shape, &chosen[0], &Scope::RecordedOrArm)?;
        let exchanger = Exchanger {
            http: self.ctx.http()?.clone(),
            key: Some(Arc::clone(key)),
            managed_identity: None,
            audit: self.ctx.audit()?,
            command: "keys activate",
            policy: check_policy(),
        };
        exchanger
            .one(&job, None, |n| (self.note)(crate::exchange::retry_line(n)))
            .await
            .map(|_| ())
            .map_err(explain)
    }
}

/// How to decide that Entra can verify the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The published JWKS has held the key this long.
    Published { min_age: Duration },
    /// Entra accepts an exchange for this customer signed by the key.
    Canary(String),
    /// No proof: the user takes the risk.
    Force,
}

/// What an activation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activated {
    pub kid: String,
    /// The key that signed until now, now `retiring`.
    pub retiring: Option<String>,
    /// What the user should hear besides (what `--force` skipped).
    pub warnings: Vec<String>,
}

/// Makes the key `given` (a kid or a unique prefix) the signing key, once `proof` holds.
pub async fn activate(
    store: &KeyStore,
    world: &dyn World,
    given: &str,
    proof: &Proof,
    now: OffsetDateTime,
) -> Result<Activated, Report> {
    let ring = store.load()?;
    let kid = resolve_kid(&ring, given)?;
    // What the keyring alone refuses (a retired key, the active one) is said first.
    ring.clone().activate(&kid, now)?;
    let entry = ring.get(&kid).expect("resolved kid exists");
    let state = entry.state.as_str();
    // The key must be able to sign before it becomes the signing key.
    let key = Arc::new(world.signer_for(entry)?);
    key.sign_rs256(b"idp keys activate: can this key sign?")
        .await
        .with_context(|| format!("key {kid} cannot sign, so it stays {state}"))?;
    let mut warnings = Vec::new();
    let published = match proof {
        Proof::Canary(customer) => {
            world.canary(customer, &key).await.with_context(|| {
                format!(
                    "the canary exchange for customer {customer} with key {kid} failed, so the key stays {state}: every pipeline would fail the same way"
                )
            })?;
            None
        }
        Proof::Force => {
            warnings.push(format!(
                "--force: not checking that Entra can see key {kid}; if it still caches a JWKS without it, every exchange fails with AADSTS7000272 until it refreshes (up to a day)"
            ));
            None
        }
        Proof::Published { min_age } => {
            let (url, kids) = world.published_kids().await?;
            // What was just seen is kept even if the activation is refused: the wait for
            // the minimum age starts at the first sighting.
            store.update(|ring, _| Ok(ring.record_published(&kids, now)))?;
            Some((url, kids, *min_age))
        }
    };
    let (ring, ()) = store.update(|ring, _| {
        if let Some((url, kids, min_age)) = &published {
            ring.check_activation(&kid, kids, url, *min_age, now)?;
        }
        ring.activate(&kid, now)
    })?;
    let retiring = ring
        .keys
        .iter()
        .find(|k| k.state == KeyState::Retiring && k.retiring_at == Some(now))
        .map(|k| k.kid.clone());
    Ok(Activated {
        kid,
        retiring,
        warnings,
    })
}

/// What a retirement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    pub kid: String,
    pub warnings: Vec<String>,
}

/// Takes the key `given` out of the JWKS for good; refused while assertions it signed may
/// still be valid, unless `force`.
pub fn retire(
    store: &KeyStore,
    given: &str,
    force: bool,
    now: OffsetDateTime,
) -> Result<Retired, Report> {
    let mut warnings = Vec::new();
    let (_, kid) = store.update(|ring, _| {
        let kid = resolve_kid(ring, given)?;
        match ring.check_retirement(&kid, now) {
            Err(_) if force => warnings.push(format!(
                "--force: assertions key {kid} signed may still be valid; once the JWKS drops it, Entra refuses them with AADSTS7000272"
            )),
            other => other?,
        }
        ring.retire(&kid, now)?;
        Ok(kid)
    })?;
    Ok(Retired { kid, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::keyring::entry_for;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const HOUR: time::Duration = time::Duration::hours(1);

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    /// A keyring with an active key and a `next` one; the next key's kid.
    fn keyring() -> (tempfile::TempDir, KeyStore, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path().join("keys"));
        let first = idp_core::keys::generate(2048).unwrap();
        let ring = store.create(&first, t0(), false).unwrap();
        let active = ring.keys[0].kid.clone();
        let next = add_next(&store);
        (dir, store, active, next)
    }

    /// Adds a new key, `next`, with its key file; its kid.
    fn add_next(store: &KeyStore) -> String {
        let key = idp_core::keys::generate(2048).unwrap();
        let (_, kid) = store
            .update(|ring, store| {
                let e = entry_for(&key, KeyState::Next, t0());
                ring.add(e.clone())?;
                store.write_key_file(&e, &key, false)?;
                Ok(e.kid)
            })
            .unwrap();
        kid
    }

    /// The world as a test sets it: which kids are published, whether Entra accepts.
    struct Fake<'a> {
        store: &'a KeyStore,
        published: Mutex<Option<BTreeSet<String>>>,
        entra_accepts: bool,
        probe_fails: bool,
        fetches: AtomicUsize,
        canaries: Mutex<Vec<(String, String)>>,
    }

    impl<'a> Fake<'a> {
        fn new(store: &'a KeyStore) -> Self {
            Self {
                store,
                published: Mutex::new(None),
                entra_accepts: true,
                probe_fails: false,
                fetches: AtomicUsize::new(0),
                canaries: Mutex::new(Vec::new()),
            }
        }
        fn publish(&self, kids: &[&str]) {
            *self.published.lock().unwrap() = Some(kids.iter().map(|k| k.to_string()).collect());
        }
    }

    #[async_trait(?Send)]
    impl World for Fake<'_> {
        fn signer_for(&self, entry: &KeyEntry) -> Result<Signer, Report> {
            if self.probe_fails {
                return Err(Report::failed("the vault refused", "give idp the role"));
            }
            Ok(Signer::Local(self.store.load_private(entry)?))
        }
        async fn published_kids(&self) -> Result<(String, BTreeSet<String>), Report> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            match self.published.lock().unwrap().clone() {
                Some(kids) => Ok(("https://issuer/jwks.json".into(), kids)),
                None => Err(Report::failed("not published", "publish first")),
            }
        }
        async fn canary(&self, customer: &str, key: &Arc<Signer>) -> Result<(), Report> {
            self.canaries
                .lock()
                .unwrap()
                .push((customer.into(), key.kid().to_owned()));
            if self.entra_accepts {
                Ok(())
            } else {
                Err(Report::failed("AADSTS7000272", "publish and wait"))
            }
        }
    }

    fn state(store: &KeyStore, kid: &str) -> KeyState {
        store.load().unwrap().get(kid).unwrap().state
    }

    #[tokio::test]
    async fn a_key_published_long_enough_becomes_active_and_the_old_one_retiring() {
        let (_d, store, active, next) = keyring();
        let world = Fake::new(&store);
        world.publish(&[&active, &next]);
        let proof = Proof::Published {
            min_age: 24 * std::time::Duration::from_secs(3600),
        };
        // First sighting now: too recent; the sighting is kept.
        let e = activate(&store, &world, &next, &proof, t0())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.find::<KeyringError>(),
                Some(KeyringError::PublishedTooRecently { .. })
            ),
            "{e:?}"
        );
        assert_eq!(state(&store, &next), KeyState::Next);
        assert_eq!(
            store.load().unwrap().get(&next).unwrap().published_at,
            Some(t0())
        );
        // 23 hours later: still too recent; a day later: active.
        assert!(
            activate(&store, &world, &next, &proof, t0() + 23 * HOUR)
                .await
                .is_err()
        );
        let done = activate(&store, &world, &next[..8], &proof, t0() + 24 * HOUR)
            .await
            .unwrap();
        assert_eq!(done.kid, next);
        assert_eq!(done.retiring.as_deref(), Some(active.as_str()));
        assert!(done.warnings.is_empty());
        assert_eq!(state(&store, &next), KeyState::Active);
        assert_eq!(state(&store, &active), KeyState::Retiring);
        assert_eq!(world.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_key_missing_from_the_published_jwks_is_refused() {
        let (_d, store, active, next) = keyring();
        let world = Fake::new(&store);
        world.publish(&[&active]);
        let proof = Proof::Published {
            min_age: std::time::Duration::ZERO,
        };
        let e = activate(&store, &world, &next, &proof, t0())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.find::<KeyringError>(),
                Some(KeyringError::NotPublished { .. })
            ),
            "{e:?}"
        );
        assert_eq!(state(&store, &next), KeyState::Next);
        // Nothing published at all: the fetch's own error, and nothing changes.
        let nothing = Fake::new(&store);
        let before = std::fs::read(store.keyring_path()).unwrap();
        let e = activate(&store, &nothing, &next, &proof, t0())
            .await
            .unwrap_err();
        assert_eq!(e.hint().as_deref(), Some("publish first"));
        assert_eq!(std::fs::read(store.keyring_path()).unwrap(), before);
    }

    #[tokio::test]
    async fn the_canary_replaces_the_wait_and_blocks_a_key_entra_refuses() {
        let (_d, store, _active, next) = keyring();
        let mut world = Fake::new(&store);
        world.entra_accepts = false;
        let before = std::fs::read(store.keyring_path()).unwrap();
        let e = activate(
            &store,
            &world,
            &next,
            &Proof::Canary("contoso".into()),
            t0(),
        )
        .await
        .unwrap_err();
        assert!(
            e.lines()[0].contains("the canary exchange for customer contoso"),
            "{e:?}"
        );
        assert!(e.lines()[0].contains("stays next"), "{e:?}");
        assert_eq!(std::fs::read(store.keyring_path()).unwrap(), before);
        assert_eq!(
            *world.canaries.lock().unwrap(),
            [("contoso".to_owned(), next.clone())]
        );
        world.entra_accepts = true;
        let done = activate(
            &store,
            &world,
            &next,
            &Proof::Canary("contoso".into()),
            t0(),
        )
        .await
        .unwrap();
        assert_eq!(done.kid, next);
        // The canary needed no JWKS fetch.
        assert_eq!(world.fetches.load(Ordering::SeqCst), 0);
        assert_eq!(state(&store, &next), KeyState::Active);
    }

    #[tokio::test]
    async fn force_skips_the_proof_with_a_warning_and_a_key_that_cannot_sign_stays() {
        let (_d, store, _active, next) = keyring();
        let mut world = Fake::new(&store);
        world.probe_fails = true;
        let e = activate(&store, &world, &next, &Proof::Force, t0())
            .await
            .unwrap_err();
        assert_eq!(e.hint().as_deref(), Some("give idp the role"));
        assert_eq!(state(&store, &next), KeyState::Next);
        world.probe_fails = false;
        let done = activate(&store, &world, &next, &Proof::Force, t0())
            .await
            .unwrap();
        assert_eq!(done.warnings.len(), 1);
        assert!(done.warnings[0].contains("AADSTS7000272"));
        assert_eq!(world.fetches.load(Ordering::SeqCst), 0);
        assert!(world.canaries.lock().unwrap().is_empty());
    }

    /// A second rotation while the first one's key still retires names the key that just
    /// stopped signing, not the one retiring since the first (caught by cargo mutants).
    #[tokio::test]
    async fn a_second_rotation_names_the_key_it_just_retired() {
        let (_d, store, first, second) = keyring();
        let world = Fake::new(&store);
        let done = activate(&store, &world, &second, &Proof::Force, t0())
            .await
            .unwrap();
        assert_eq!(done.retiring.as_deref(), Some(first.as_str()));
        let third = add_next(&store);
        let done = activate(&store, &world, &third, &Proof::Force, t0() + HOUR)
            .await
            .unwrap();
        assert_eq!(done.retiring.as_deref(), Some(second.as_str()));
        assert_eq!(state(&store, &first), KeyState::Retiring);
        assert_eq!(state(&store, &second), KeyState::Retiring);
    }

    #[tokio::test]
    async fn what_the_keyring_refuses_is_said_before_anything_is_asked() {
        let (_d, store, active, _next) = keyring();
        let world = Fake::new(&store);
        let e = activate(&store, &world, &active, &Proof::Canary("c".into()), t0())
            .await
            .unwrap_err();
        assert!(e.find::<KeyringError>().is_some(), "{e:?}");
        assert!(world.canaries.lock().unwrap().is_empty());
        let e = activate(&store, &world, "nope", &Proof::Force, t0())
            .await
            .unwrap_err();
        assert!(matches!(
            e.find::<KeyringError>(),
            Some(KeyringError::UnknownKid { .. })
        ));
        assert_eq!(world.fetches.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_retiring_key_waits_out_its_assertions_unless_forced() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (_d, store, active, next) = keyring();
        let world = Fake::new(&store);
        rt.block_on(activate(&store, &world, &next, &Proof::Force, t0()))
            .unwrap();
        // The old key stopped signing at t0: its assertions live up to 24h05m.
        let e = retire(&store, &active, false, t0() + 24 * HOUR).unwrap_err();
        assert!(matches!(
            e.find::<KeyringError>(),
            Some(KeyringError::AssertionsStillValid { .. })
        ));
        assert_eq!(state(&store, &active), KeyState::Retiring);
        let forced = retire(&store, &active, true, t0() + HOUR).unwrap();
        assert_eq!(forced.kid, active);
        assert_eq!(forced.warnings.len(), 1);
        assert_eq!(state(&store, &active), KeyState::Retired);
    }

    #[test]
    fn a_retiring_key_goes_without_a_warning_once_its_assertions_expired() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (_d, store, active, next) = keyring();
        rt.block_on(activate(
            &store,
            &Fake::new(&store),
            &next,
            &Proof::Force,
            t0(),
        ))
        .unwrap();
        let done = retire(&store, &active[..6], false, t0() + 25 * HOUR).unwrap();
        assert_eq!(
            (done.kid.as_str(), done.warnings.len()),
            (active.as_str(), 0)
        );
        // The active key cannot be retired, forced or not.
        assert!(retire(&store, &next, true, t0() + 25 * HOUR).is_err());
    }

    #[test]
    fn kids_resolve_whole_or_by_a_unique_prefix_of_six() {
        let (_d, store, active, next) = keyring();
        let ring = store.load().unwrap();
        assert_eq!(resolve_kid(&ring, &active).unwrap(), active);
        assert_eq!(resolve_kid(&ring, &next[..6]).unwrap(), next);
        assert!(resolve_kid(&ring, &next[..5]).is_err());
        assert!(resolve_kid(&ring, "zzzzzzzz").is_err());
        // A prefix both share is ambiguous (the empty-after-six case: craft one).
        let mut ring2 = ring.clone();
        ring2.keys[1].kid = format!("{}XY", &active[..6]);
        ring2.keys[0].kid = format!("{}AB", &active[..6]);
        assert!(resolve_kid(&ring2, &active[..6]).is_err());
        assert_eq!(
            resolve_kid(&ring2, &format!("{}AB", &active[..6])).unwrap(),
            format!("{}AB", &active[..6])
        );
    }
}
