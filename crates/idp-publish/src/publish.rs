//! A publish, in the order that keeps Entra's view consistent: read both blobs, plan,
//! write the JWKS, then the discovery document. The discovery document is never written
//! before the JWKS it points at holds the signing key, so a publish cut short at any point
//! leaves the issuer usable; re-running it completes it.

use crate::plan::{self, Plan, PlanError, Remote, Step};
use crate::readback::{self, FetchError, Mismatch, Published};
use crate::storage::{StorageError, Store};
use idp_core::Issuer;
use idp_core::keyring::Keyring;
use idp_core::metadata::Documents;
use std::collections::BTreeSet;
use thiserror::Error;

/// What a publish needs besides the storage client.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub docs: &'a Documents,
    pub keyring: &'a Keyring,
    pub cache_control: &'a str,
    /// Create the container (anonymous read for blobs) when it does not exist.
    pub create_container: bool,
    pub allow: plan::Allow,
}

/// Why a publish stopped. Storage errors say which blob was being read or written.
#[derive(Debug, Error)]
pub enum PublishError {
    #[error(transparent)]
    Refused(#[from] PlanError),
    #[error("container {container_url} does not exist")]
    NoContainer { container_url: String },
    #[error("cannot read {blob}")]
    Read {
        blob: String,
        #[source]
        source: StorageError,
    },
    #[error("cannot write {blob}{}", if *.jwks_written { " (the JWKS is already published, so the issuer stays consistent: re-run to finish)" } else { " (nothing was changed)" })]
    Write {
        blob: String,
        jwks_written: bool,
        #[source]
        source: StorageError,
    },
    #[error("cannot create the container")]
    CreateContainer(#[source] StorageError),
    #[error("nothing was written: {fetch}, so Entra could never read the issuer's documents")]
    NotPublic {
        fetch: String,
        #[source]
        source: StorageError,
    },
}

impl PublishError {
    /// The storage error underneath, if any.
    pub fn storage(&self) -> Option<&StorageError> {
        match self {
            PublishError::Read { source, .. }
            | PublishError::Write { source, .. }
            | PublishError::CreateContainer(source)
            | PublishError::NotPublic { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The state read and the plan made from it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub plan: Plan,
    /// The container is missing and will be created (only with `create_container`).
    pub create_container: bool,
    pub jwks_blob: String,
    pub discovery_blob: String,
}

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub created_container: bool,
    /// Blobs written, in order.
    pub written: Vec<String>,
    /// Blobs that another publisher had meanwhile set to the very same bytes.
    pub already_written: Vec<String>,
}

/// Reads what is published and plans the publish; writes nothing.
pub async fn prepare(store: &Store, req: Request<'_>) -> Result<Prepared, PublishError> {
    let jwks_blob = store.blob_name(&req.docs.jwks_path);
    let discovery_blob = store.blob_name(&req.docs.discovery_path);
    let read = |blob: String| async move {
        store
            .read(&blob)
            .await
            .map_err(|source| PublishError::Read { blob, source })
    };
    let (jwks, discovery, create_container) = match read(jwks_blob.clone()).await {
        Ok(jwks) => (jwks, read(discovery_blob.clone()).await?, false),
        Err(PublishError::Read {
            source: StorageError::ContainerNotFound { container_url },
            ..
        }) => {
            if !req.create_container {
                return Err(PublishError::NoContainer { container_url });
            }
            (None, None, true)
        }
        Err(e) => return Err(e),
    };
    let plan = plan::plan(
        req.docs,
        req.keyring,
        jwks.as_ref(),
        discovery.as_ref(),
        req.allow,
    )?;
    Ok(Prepared {
        plan,
        create_container,
        jwks_blob,
        discovery_blob,
    })
}

/// Carries out a plan: container, JWKS, discovery. `after_write` runs after each blob is
/// written (progress output; tests use it to cut a publish short).
pub async fn apply(
    store: &Store,
    req: Request<'_>,
    prepared: &Prepared,
    mut after_write: impl FnMut(&str),
) -> Result<Applied, PublishError> {
    let mut applied = Applied::default();
    if prepared.create_container {
        applied.created_container = store
            .create_container()
            .await
            .map_err(PublishError::CreateContainer)?;
    }
    let steps = [
        (&prepared.jwks_blob, &req.docs.jwks, &prepared.plan.jwks),
        (
            &prepared.discovery_blob,
            &req.docs.discovery,
            &prepared.plan.discovery,
        ),
    ];
    let mut jwks_written = false;
    for (i, (blob, bytes, step)) in steps.into_iter().enumerate() {
        if step.writes() {
            match store.write(blob, bytes, step, req.cache_control).await {
                Ok(()) => {
                    applied.written.push(blob.clone());
                    after_write(blob);
                }
                Err(StorageError::Conflict { .. }) if same_bytes_now(store, blob, bytes).await => {
                    applied.already_written.push(blob.clone());
                }
                Err(source) => {
                    return Err(PublishError::Write {
                        blob: blob.clone(),
                        jwks_written,
                        source,
                    });
                }
            }
        }
        if i == 0 {
            jwks_written = true;
        }
    }
    Ok(applied)
}

/// After a lost race: did the other publisher write exactly these bytes?
async fn same_bytes_now(store: &Store, blob: &str, bytes: &[u8]) -> bool {
    matches!(store.read(blob).await, Ok(Some(Remote { bytes: b, .. })) if b == bytes)
}

/// Before anything is written, asks for the discovery document anonymously, as Entra will.
/// An account that forbids anonymous access (`allowBlobPublicAccess: false`) would take
/// the writes and still never serve them, so it stops the publish here. Any other answer
/// (nothing published yet, a private container, the issuer host unreachable from here) is
/// left to the readback after the write, which names its cause.
pub async fn refuse_if_not_public(
    client: &reqwest::Client,
    issuer: &Issuer,
    store: &Store,
) -> Result<(), PublishError> {
    match readback::fetch(client, &issuer.discovery_url()).await {
        Err(e) if e.is_public_access_forbidden() => Err(PublishError::NotPublic {
            fetch: e.to_string(),
            source: StorageError::PublicAccessNotPermitted {
                container_url: store.container_url(),
            },
        }),
        _ => Ok(()),
    }
}

/// Why the documents written are not what Entra would fetch.
#[derive(Debug, Error)]
pub enum ReadbackError {
    #[error("readback failed: the documents cannot be fetched anonymously, as Entra fetches them")]
    Fetch(#[source] FetchError),
    #[error("the documents were written, but what Entra would fetch differs from them:{}", .0.iter().map(|m| format!("\n  readback: {m}")).collect::<String>())]
    Differ(Vec<Mismatch>),
}

impl idp_core::diagnostic::Diagnostic for ReadbackError {
    fn hint(&self) -> Option<String> {
        match self {
            ReadbackError::Fetch(e) => e.hint(),
            ReadbackError::Differ(_) => Some(
                "run `idp publish-metadata --check` once a cache's max-age has passed; if it still differs, publish again".into(),
            ),
        }
    }
}

/// Fetches both documents anonymously, as Entra does, and checks they are the rendered
/// bytes, served as JSON.
pub async fn readback(
    client: &reqwest::Client,
    issuer: &Issuer,
    docs: &Documents,
) -> Result<Published, ReadbackError> {
    let published = readback::fetch_published(client, issuer)
        .await
        .map_err(ReadbackError::Fetch)?;
    let mismatches = published.compare(docs);
    if mismatches.is_empty() {
        Ok(published)
    } else {
        Err(ReadbackError::Differ(mismatches))
    }
}

/// The kids of `published`'s JWKS that `keyring` should record as seen for the first
/// time (the clock `idp keys activate` waits on), if any are new.
pub fn first_sightings(keyring: &Keyring, published: &Published) -> Option<BTreeSet<String>> {
    let kids = plan::published_kids(&published.jwks.bytes).ok()?;
    keyring
        .keys
        .iter()
        .any(|k| k.published_at.is_none() && k.state.is_published() && kids.contains(&k.kid))
        .then_some(kids)
}

/// What `--check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What Entra would fetch, when anything is published.
    pub published: Option<Published>,
    /// How it differs from the local state; empty when up to date.
    pub drift: Vec<String>,
}

/// Compares what Entra would fetch with the local state. An issuer that cannot be reached,
/// or answers a document too large to read, is an error: nothing can be said of it.
pub async fn check(
    client: &reqwest::Client,
    issuer: &Issuer,
    docs: &Documents,
    keyring: &Keyring,
) -> Result<Check, FetchError> {
    let published = match readback::fetch_published(client, issuer).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => {
            return Ok(Check {
                published: None,
                drift: vec![format!("{} is not published ({e})", issuer.discovery_url())],
            });
        }
        Err(e @ (FetchError::Unreachable { .. } | FetchError::TooLarge { .. })) => return Err(e),
        Err(e) => {
            return Ok(Check {
                published: None,
                drift: vec![e.to_string()],
            });
        }
    };
    let mut drift = Vec::new();
    let jwks_url = issuer.join(&docs.jwks_path);
    if published.jwks.url != jwks_url {
        drift.push(format!(
            "the published discovery document points at {}, the local state at {jwks_url}",
            published.jwks.url
        ));
    }
    drift.extend(published.compare(docs).iter().map(ToString::to_string));
    let remote = Remote {
        bytes: published.jwks.bytes.clone(),
        etag: String::new(),
    };
    let allow = plan::Allow {
        drop_unknown_keys: true,
    };
    if let Ok(p) = plan::plan(docs, keyring, Some(&remote), None, allow) {
        for kid in &p.kids_added {
            drift.push(format!("kid {kid} is not published yet"));
        }
        for kid in &p.kids_removed {
            drift.push(format!(
                "kid {kid} is published but no longer in the local JWKS"
            ));
        }
    }
    Ok(Check {
        published: Some(published),
        drift,
    })
}

/// A one-line description of a step, for `--dry-run` and progress output.
pub fn describe(step: &Step) -> &'static str {
    match step {
        Step::Unchanged => "unchanged",
        Step::Create => "create",
        Step::Replace { .. } => "replace",
    }
}

impl idp_core::diagnostic::Diagnostic for PublishError {
    fn hint(&self) -> Option<String> {
        match self {
        PublishError::NoContainer { .. } => Some(
            "pass --create-container to create it with anonymous read access for blobs, or check the container name in the issuer URL".into(),
        ),
        PublishError::Refused(crate::plan::PlanError::DropsUnknownKey { .. }) => Some(
            "publish from the keyring that made that key; or, if that key no longer signs anywhere, pass --drop-unknown-keys".into(),
        ),
        PublishError::Refused(crate::plan::PlanError::UnreadableRemote { .. }) => Some(
            "look at the published JWKS blob: if it is not a key set anyone signs with, pass --drop-unknown-keys to replace it".into(),
        ),
        PublishError::Refused(_) => Some(
            "the local keyring and the published JWKS disagree: check `idp keys list`; a key leaves the JWKS only once retired".into(),
        ),
        _ => self.storage().and_then(|s| s.hint()),
    }
    }

    fn is_usage(&self) -> bool {
        false
    }
}
