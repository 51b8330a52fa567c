//! The publish library against real Azurite over HTTPS: the races and the outage that a
//! command-line test cannot time precisely.

use idp_core::keyring::{KeyState, Keyring, entry_for};
use idp_core::metadata::{self, Documents, JwksPath};
use idp_core::{Issuer, keys};
use idp_http::{self as http, ExtraRoots, Timeouts};
use idp_publish::publish::{self, PublishError, Request};
use idp_publish::readback;
use idp_publish::sas::SasToken;
use idp_publish::storage::{Credential, RetryPolicy, StorageError, Store};
use idp_publish::target::Target;
use idp_testkit::{Azurite, Python};
use std::time::Duration;

fn keyring(keys: &[(&keys::ParsedKey, KeyState)]) -> Keyring {
    let t = time::OffsetDateTime::UNIX_EPOCH;
    Keyring {
        version: 1,
        keys: keys.iter().map(|(k, s)| entry_for(k, *s, t)).collect(),
    }
}

struct Fixture {
    azurite: Azurite,
    issuer: Issuer,
    client: reqwest::Client,
    sas: SasToken,
}

impl Fixture {
    fn new(persistent: bool) -> Self {
        let azurite = if persistent {
            Azurite::start_persistent()
        } else {
            Azurite::start()
        };
        let issuer = Issuer::parse(&azurite.container_url("oidc")).unwrap();
        let roots = ExtraRoots::from_files(std::slice::from_ref(&azurite.ca.ca_pem)).unwrap();
        let client = http::client(&roots, Timeouts::default()).unwrap();
        let sas = SasToken::parse(&Python::find().account_sas("rwdlac", 3600)).unwrap();
        Self {
            azurite,
            issuer,
            client,
            sas,
        }
    }

    fn store(&self, retries: u32) -> Store {
        let retry = RetryPolicy {
            max_retries: retries,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            max_total: Duration::from_secs(5),
        };
        Store::new(
            &Target::from_issuer(&self.issuer).unwrap(),
            &Credential::Sas(self.sas.clone()),
            self.client.clone(),
            retry,
        )
        .unwrap()
    }

    fn render(&self, ring: &Keyring, jwks_path: &str) -> Documents {
        metadata::render(&self.issuer, &JwksPath::parse(jwks_path).unwrap(), ring).unwrap()
    }
}

fn request<'a>(docs: &'a Documents, ring: &'a Keyring) -> Request<'a> {
    Request {
        docs,
        keyring: ring,
        cache_control: "no-cache",
        create_container: true,
        // The races below are between keyrings that do not know each other's keys.
        allow: idp_publish::plan::Allow {
            drop_unknown_keys: true,
        },
    }
}

async fn publish_all(store: &Store, docs: &Documents, ring: &Keyring) {
    let req = request(docs, ring);
    let prepared = publish::prepare(store, req).await.unwrap();
    publish::apply(store, req, &prepared, |_| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishers_planning_at_once_cannot_overwrite_each_other() {
    let f = Fixture::new(false);
    let (a_key, b_key) = (keys::generate(2048).unwrap(), keys::generate(2048).unwrap());
    let ring_a = keyring(&[(&a_key, KeyState::Active)]);
    let ring_b = keyring(&[(&b_key, KeyState::Active)]);
    let (docs_a, docs_b) = (
        f.render(&ring_a, ".well-known/jwks.json"),
        f.render(&ring_b, ".well-known/jwks.json"),
    );
    let (store_a, store_b) = (f.store(0), f.store(0));

    // Both read the same (empty) state and plan to create.
    let plan_a = publish::prepare(&store_a, request(&docs_a, &ring_a))
        .await
        .unwrap();
    let plan_b = publish::prepare(&store_b, request(&docs_b, &ring_b))
        .await
        .unwrap();
    publish::apply(&store_a, request(&docs_a, &ring_a), &plan_a, |_| {})
        .await
        .unwrap();
    let err = publish::apply(&store_b, request(&docs_b, &ring_b), &plan_b, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            PublishError::Write {
                jwks_written: false,
                source: StorageError::Conflict { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing was changed"), "{err}");

    // A's state is intact and consistent.
    let published = readback::fetch_published(&f.client, &f.issuer)
        .await
        .unwrap();
    assert_eq!(published.jwks.bytes, docs_a.jwks);
    assert_eq!(published.discovery.bytes, docs_a.discovery);

    // Same race, second round, on replace (If-Match): B re-plans on A's state, A moves on.
    let ring_a2 = keyring(&[
        (&a_key, KeyState::Active),
        (&keys::generate(2048).unwrap(), KeyState::Next),
    ]);
    let docs_a2 = f.render(&ring_a2, ".well-known/jwks.json");
    let plan_b = publish::prepare(&store_b, request(&docs_b, &ring_b))
        .await
        .unwrap();
    publish_all(&store_a, &docs_a2, &ring_a2).await;
    let err = publish::apply(&store_b, request(&docs_b, &ring_b), &plan_b, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.storage(),
            Some(StorageError::Conflict { status: 412, .. })
        ),
        "{err:?}"
    );
    let published = readback::fetch_published(&f.client, &f.issuer)
        .await
        .unwrap();
    assert_eq!(published.jwks.bytes, docs_a2.jwks);

    // Two publishers with the same state: the second notices the bytes are already there.
    let plan_1 = publish::prepare(&store_a, request(&docs_a, &ring_a))
        .await
        .unwrap();
    let plan_2 = publish::prepare(&store_b, request(&docs_a, &ring_a))
        .await
        .unwrap();
    publish::apply(&store_a, request(&docs_a, &ring_a), &plan_1, |_| {})
        .await
        .unwrap();
    let applied = publish::apply(&store_b, request(&docs_a, &ring_a), &plan_2, |_| {})
        .await
        .unwrap();
    assert_eq!(
        applied.already_written,
        vec![".well-known/jwks.json".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_mid_publish_never_points_discovery_at_a_jwks_without_the_signing_key() {
    let mut f = Fixture::new(true);
    let k1 = keys::generate(2048).unwrap();
    let k2 = keys::generate(2048).unwrap();
    let ring1 = keyring(&[(&k1, KeyState::Active)]);
    let docs1 = f.render(&ring1, ".well-known/jwks.json");
    publish_all(&f.store(0), &docs1, &ring1).await;

    // Rotate and move the JWKS: the discovery document must change too, so the order of
    // the two writes matters.
    let ring2 = keyring(&[(&k1, KeyState::Retiring), (&k2, KeyState::Active)]);
    let docs2 = f.render(&ring2, "keys/v2.json");
    let store = f.store(1);
    let req = request(&docs2, &ring2);
    let prepared = publish::prepare(&store, req).await.unwrap();
    let mut writes = Vec::new();
    let azurite = &mut f.azurite;
    let err = publish::apply(&store, req, &prepared, |blob| {
        writes.push(blob.to_owned());
        azurite.stop(); // storage goes away right after the first write
    })
    .await
    .unwrap_err();
    assert_eq!(
        writes,
        vec!["keys/v2.json".to_owned()],
        "the JWKS goes first"
    );
    assert!(
        matches!(
            &err,
            PublishError::Write {
                jwks_written: true,
                source: StorageError::Unreachable { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("re-run to finish"), "{err}");

    // Storage is back: the issuer Entra sees is the old, consistent one.
    f.azurite.restart();
    let signing = |r: &Keyring| r.active().unwrap().kid.clone();
    let seen = readback::fetch_published(&f.client, &f.issuer)
        .await
        .unwrap();
    assert_eq!(seen.discovery.bytes, docs1.discovery);
    assert!(String::from_utf8_lossy(&seen.jwks.bytes).contains(&signing(&ring1)));

    // The re-run completes; the discovery document now points at the new JWKS, which has
    // both the new signing key and the retiring one.
    let store = f.store(1);
    let prepared = publish::prepare(&store, req).await.unwrap();
    assert!(
        !prepared.plan.jwks.writes(),
        "the new JWKS was already written"
    );
    assert!(prepared.plan.discovery.writes());
    publish::apply(&store, req, &prepared, |_| {})
        .await
        .unwrap();
    let seen = readback::fetch_published(&f.client, &f.issuer)
        .await
        .unwrap();
    assert_eq!(seen.discovery.bytes, docs2.discovery);
    assert_eq!(seen.jwks.bytes, docs2.jwks);
    let jwks = String::from_utf8_lossy(&seen.jwks.bytes).into_owned();
    assert!(jwks.contains(&signing(&ring2)) && jwks.contains(&signing(&ring1)));
}
