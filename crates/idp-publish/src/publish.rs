//! A publish, in the order that keeps Entra's view consistent: read both blobs, plan,
//! write the JWKS, then the discovery document. The discovery document is never written
//! before the JWKS it points at holds the signing key, so a publish cut short at any point
//! leaves the issuer usable; re-running it completes it.

use crate::plan::{self, Plan, PlanError, Remote, Step};
use crate::storage::{StorageError, Store};
use idp_core::keyring::Keyring;
use idp_core::metadata::Documents;
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
}

impl PublishError {
    /// The storage error underneath, if any.
    pub fn storage(&self) -> Option<&StorageError> {
        match self {
            PublishError::Read { source, .. }
            | PublishError::Write { source, .. }
            | PublishError::CreateContainer(source) => Some(source),
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
