//! The storage side of a publish, through the official `azure_storage_blob` client: read a
//! blob with its ETag, write it on a condition, create the container with anonymous read
//! for blobs. Errors name what went wrong in storage terms, never a SAS signature.

use crate::MAX_DOCUMENT_BYTES;
use crate::plan::{Remote, Step};
use crate::sas::{self, SasToken};
use crate::target::Target;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{
    ClientOptions, Etag, ExponentialRetryOptions, RequestContent, RetryOptions, Transport, Url,
};
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::BlobContainerClientOptions;
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientUploadOptions, BlobContainerClientCreateOptions,
    PublicAccessType,
};
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// How storage calls authenticate.
#[derive(Clone)]
pub enum Credential {
    /// A SAS token appended to every request URL.
    Sas(SasToken),
    /// A Microsoft Entra credential (Azure CLI, managed identity, workload identity).
    Entra(Arc<dyn TokenCredential>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Sas(_) => f.write_str("Credential::Sas(redacted)"),
            Credential::Entra(_) => f.write_str("Credential::Entra"),
        }
    }
}

/// Retries of one storage call: transient failures (connection errors, 408, 429, 5xx) are
/// retried with exponential backoff, within these bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// Three retries over at most about 20 s: enough for a blip, short enough for a pipeline.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// `n` retries with the default delays.
    pub fn with_retries(n: u32) -> Self {
        Self {
            max_retries: n,
            ..Self::default()
        }
    }

    fn to_sdk(self) -> RetryOptions {
        if self.max_retries == 0 {
            return RetryOptions::none();
        }
        let d = |d: Duration| {
            azure_core::time::Duration::try_from(d).unwrap_or(azure_core::time::Duration::MAX)
        };
        RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: d(self.initial_delay),
            max_retries: self.max_retries,
            max_total_elapsed: d(self.max_total),
            max_delay: d(self.max_delay),
        })
    }
}

/// What a storage call can fail with. URLs are shown without their SAS.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("container {container_url} does not exist")]
    ContainerNotFound { container_url: String },
    #[error("storage refused access to {url} ({status} {code})")]
    AccessDenied {
        url: String,
        status: u16,
        code: String,
    },
    #[error(
        "the storage account does not allow public access, so {container_url} cannot be made readable anonymously"
    )]
    PublicAccessNotPermitted { container_url: String },
    #[error("{url} changed since it was read ({status} {code}): another publisher wrote it")]
    Conflict {
        url: String,
        status: u16,
        code: String,
    },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("cannot get a Microsoft Entra token for storage: {detail}")]
    Credential { detail: String },
    #[error("storage answered {status} {code} for {url}")]
    Service {
        url: String,
        status: u16,
        code: String,
    },
    #[error("storage call to {url} failed: {detail}")]
    Other { url: String, detail: String },
    #[error(
        "{url} is larger than {limit} bytes, too large to be an issuer document; it was not read"
    )]
    TooLarge { url: String, limit: usize },
}

/// Azure Storage's error code for anonymous access on an account that forbids it
/// (`allowBlobPublicAccess: false`), on reads and on requests to grant it alike.
pub(crate) const PUBLIC_ACCESS_NOT_PERMITTED: &str = "PublicAccessNotPermitted";

/// One operation, for error classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    CreateContainer,
}

/// Maps what storage said to a [`StorageError`]; pure, so each mapping is tested.
fn classify(
    op: Op,
    url: &str,
    container_url: &str,
    status: Option<u16>,
    code: Option<&str>,
    transport_detail: Option<String>,
) -> StorageError {
    let url = sas::redact(url);
    let container_url = sas::redact(container_url);
    let Some(status) = status else {
        return StorageError::Unreachable {
            url,
            detail: sas::redact(&transport_detail.unwrap_or_else(|| "no response".into())),
        };
    };
    // Storage's `x-ms-error-code` is network text like any other.
    let code = sas::redact(code.unwrap_or(""));
    match (status, code.as_str()) {
        (404, "ContainerNotFound") => StorageError::ContainerNotFound { container_url },
        (409, PUBLIC_ACCESS_NOT_PERMITTED) => {
            StorageError::PublicAccessNotPermitted { container_url }
        }
        (401 | 403, _) => StorageError::AccessDenied { url, status, code },
        (409, "BlobAlreadyExists") | (412, _) if op == Op::Write => {
            StorageError::Conflict { url, status, code }
        }
        _ => StorageError::Service { url, status, code },
    }
}

fn map_err(op: Op, url: &str, container_url: &str, e: azure_core::Error) -> StorageError {
    match e.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => classify(
            op,
            url,
            container_url,
            Some(u16::from(*status)),
            error_code.as_deref(),
            None,
        ),
        ErrorKind::Connection | ErrorKind::Io => {
            let detail = idp_http::chain(&e);
            classify(op, url, container_url, None, None, Some(detail))
        }
        ErrorKind::Credential => StorageError::Credential {
            detail: sas::redact(&e.to_string()),
        },
        _ => StorageError::Other {
            url: sas::redact(url),
            detail: sas::redact(&e.to_string()),
        },
    }
}

/// A container, reachable with one credential.
pub struct Store {
    client: BlobContainerClient,
    target: Target,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A client for `target`'s container. `http` is the client every call goes through (its
    /// TLS roots decide what idp trusts).
    pub fn new(
        target: &Target,
        credential: &Credential,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Result<Self, StorageError> {
        let mut url = target.container_url();
        let token = match credential {
            Credential::Sas(sas) => {
                url.push('?');
                url.push_str(sas.expose());
                None
            }
            Credential::Entra(c) => Some(c.clone()),
        };
        let bad = |detail: String| StorageError::Other {
            url: target.container_url(),
            detail,
        };
        let parsed = Url::parse(&url).map_err(|e| bad(e.to_string()))?;
        let options = BlobContainerClientOptions {
            client_options: ClientOptions {
                retry: retry.to_sdk(),
                transport: Some(Transport::new(Arc::new(http))),
                ..ClientOptions::default()
            },
            ..BlobContainerClientOptions::default()
        };
        let client = BlobContainerClient::new(parsed, token, Some(options))
            .map_err(|e| bad(sas::redact(&e.to_string())))?;
        Ok(Self {
            client,
            target: target.clone(),
        })
    }

    /// The blob name of a document at `relative` (prefix applied).
    pub fn blob_name(&self, relative: &str) -> String {
        self.target.blob_name(relative)
    }

    /// The public URL of a blob (no SAS).
    pub fn blob_url(&self, blob: &str) -> String {
        format!("{}/{blob}", self.target.container_url())
    }

    pub fn container_url(&self) -> String {
        self.target.container_url()
    }

    /// Reads a blob and its ETag; `None` when there is no such blob.
    pub async fn read(&self, blob: &str) -> Result<Option<Remote>, StorageError> {
        let url = self.blob_url(blob);
        let client = self.client.blob_client(blob);
        let options = BlobClientDownloadOptions {
            parallel: std::num::NonZero::new(1),
            ..Default::default()
        };
        let result = match client.download(Some(options)).await {
            Ok(r) => r,
            Err(e) => {
                let err = map_err(Op::Read, &url, &self.container_url(), e);
                return match err {
                    StorageError::Service {
                        status: 404,
                        ref code,
                        ..
                    } if code == "BlobNotFound" => Ok(None),
                    other => Err(other),
                };
            }
        };
        let etag = result
            .properties
            .etag
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let too_large = || StorageError::TooLarge {
            url: url.clone(),
            limit: MAX_DOCUMENT_BYTES,
        };
        if result
            .properties
            .content_length
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        // The length announced is a claim, not a bound: count the bytes as they arrive.
        let mut bytes = Vec::new();
        let mut body = result.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| map_err(Op::Read, &url, &self.container_url(), e))?;
            if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(Remote { bytes, etag }))
    }

    /// Writes a blob as `step` says: create only if absent, replace only on the ETag read.
    pub async fn write(
        &self,
        blob: &str,
        bytes: &[u8],
        step: &Step,
        cache_control: &str,
    ) -> Result<(), StorageError> {
        let (if_match, if_none_match) = match step {
            Step::Unchanged => return Ok(()),
            Step::Create => (None, Some(Etag::from("*"))),
            Step::Replace { etag } => (Some(Etag::from(etag.clone())), None),
        };
        let options = BlobClientUploadOptions {
            blob_content_type: Some("application/json".into()),
            blob_cache_control: Some(cache_control.into()),
            if_match,
            if_none_match,
            ..Default::default()
        };
        let url = self.blob_url(blob);
        self.client
            .blob_client(blob)
            .upload(RequestContent::from(bytes.to_vec()), Some(options))
            .await
            .map_err(|e| map_err(Op::Write, &url, &self.container_url(), e))?;
        Ok(())
    }

    /// Creates the container with anonymous read for blobs (not listing). `Ok(false)` when
    /// it already exists.
    pub async fn create_container(&self) -> Result<bool, StorageError> {
        let options = BlobContainerClientCreateOptions {
            access: Some(PublicAccessType::Blob),
            ..Default::default()
        };
        let url = self.container_url();
        match self.client.create(Some(options)).await {
            Ok(_) => Ok(true),
            Err(e) => match map_err(Op::CreateContainer, &url, &url, e) {
                StorageError::Service {
                    status: 409, code, ..
                } if code == "ContainerAlreadyExists" => Ok(false),
                other => Err(other),
            },
        }
    }
}

impl idp_core::diagnostic::Diagnostic for StorageError {
    fn hint(&self) -> Option<String> {
        Some(match self {
        StorageError::ContainerNotFound { .. } => "pass --create-container, or check the container name".into(),
        StorageError::AccessDenied { .. } => format!(
            "with a SAS (--sas / {}): check it is for this account, not expired, and allows read, write and create (an account SAS also needs resource types container and object to create the container); with an Entra login: give the identity the `Storage Blob Data Contributor` role on the container",
            "IDP_STORAGE_SAS"
        ),
        StorageError::PublicAccessNotPermitted { .. } => "allow it on the account (`allowBlobPublicAccess: true`, as deploy/issuer-storage.bicep sets it, or `az storage account update --name <account> --allow-blob-public-access true`), or host the issuer on the static website instead: enable it, and use https://<account>.z<NN>.web.core.windows.net/ as the issuer (the $web container needs no public access setting)".into(),
        StorageError::Conflict { .. } => "re-run: the publish starts again from what is published now (`--dry-run` shows what would change)".into(),
        StorageError::Unreachable { .. } => "check the storage endpoint, the network and, for a private CA, --ca-cert / IDP_CA_CERT; then re-run (--retries sets how often a call is retried)".into(),
        StorageError::Credential { .. } => "log in with `az login`, or choose another method with --auth (sas, azure-cli, managed-identity, workload-identity)".into(),
        StorageError::TooLarge { .. } => "look at that blob: an issuer's JWKS and discovery document are a few KB; delete it (`az storage blob delete`) if nothing uses it, then re-run".into(),
        StorageError::Service { .. } | StorageError::Other { .. } => "re-run; if it persists, check the storage account in the Azure portal".into(),
    })
    }

    fn is_usage(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(op: Op, status: Option<u16>, code: &str) -> StorageError {
        classify(
            op,
            "https://a/c/b?sv=1&sig=S3CRET",
            "https://a/c?sig=S3CRET",
            status,
            Some(code),
            Some("tcp connect error sig=S3CRET".into()),
        )
    }

    #[test]
    fn storage_answers_map_to_what_the_user_must_fix() {
        assert!(matches!(
            c(Op::Read, Some(404), "ContainerNotFound"),
            StorageError::ContainerNotFound { .. }
        ));
        assert!(matches!(
            c(Op::CreateContainer, Some(409), "PublicAccessNotPermitted"),
            StorageError::PublicAccessNotPermitted { .. }
        ));
        assert!(matches!(
            c(Op::Read, Some(403), "AuthenticationFailed"),
            StorageError::AccessDenied { .. }
        ));
        assert!(matches!(
            c(Op::Write, Some(403), "AuthorizationPermissionMismatch"),
            StorageError::AccessDenied { .. }
        ));
        assert!(matches!(
            c(Op::Write, Some(412), "ConditionNotMet"),
            StorageError::Conflict { .. }
        ));
        assert!(matches!(
            c(Op::Write, Some(409), "BlobAlreadyExists"),
            StorageError::Conflict { .. }
        ));
        assert!(matches!(
            c(Op::Read, Some(500), "InternalError"),
            StorageError::Service { .. }
        ));
        assert!(matches!(
            c(Op::Read, None, ""),
            StorageError::Unreachable { .. }
        ));
    }

    #[test]
    fn no_error_shows_the_sas_signature() {
        for e in [
            c(Op::Read, Some(404), "ContainerNotFound"),
            c(Op::Read, Some(403), "AuthenticationFailed"),
            c(Op::Write, Some(412), "ConditionNotMet"),
            c(Op::Read, None, ""),
            c(Op::Read, Some(500), "X"),
        ] {
            let text = format!("{e} {e:?}");
            assert!(!text.contains("S3CRET"), "{text}");
        }
    }

    #[test]
    fn retry_policy_zero_means_none() {
        // What the SDK is handed, not what was just set: zero retries is the SDK's `None`
        // mode (its default would retry for about 80 s), and n retries keep the bounds.
        assert_eq!(
            format!("{:?}", RetryPolicy::with_retries(0).to_sdk()),
            "RetryOptions { mode: None }"
        );
        let three = format!("{:?}", RetryPolicy::with_retries(3).to_sdk());
        assert!(
            three.starts_with("RetryOptions { mode: Exponential("),
            "{three}"
        );
        assert!(three.contains("max_retries: 3"), "{three}");
        assert!(
            three.contains("max_total_elapsed: SignedDuration { seconds: 20,"),
            "{three}"
        );
    }
}
