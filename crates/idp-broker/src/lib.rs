//! Fresh assertions for the tools a pipeline runs (Terraform, the az CLI, Azure SDKs, azd),
//! in the ways they already take one, with no change to the tool:
//! - [`file`]: an assertion file (`AZURE_FEDERATED_TOKEN_FILE`) in a private folder, kept
//!   fresh for as long as the tool runs;
//! - [`endpoint`]: a loopback endpoint speaking the GitHub Actions and Azure DevOps
//!   token-request protocols, for tools that ask for a new assertion at each refresh;
//! - [`child`]: the wrapped command, its exit code and the signals sent to idp.
//!
//! A [`Session`] is one customer's file and endpoint, and the variables that name them.

pub mod child;
pub mod endpoint;
pub mod env;
pub mod file;
pub mod run;
pub mod signer;

use endpoint::Endpoint;
use file::AssertionFile;
use idp_core::secret::SecretString;
use signer::Signer;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("could not create the private assertion folder: {0}")]
    Folder(#[source] std::io::Error),
    #[error(transparent)]
    Write(#[from] idp_core::fsutil::WriteError),
    #[error(transparent)]
    Assertion(idp_core::diagnostic::Boxed),
    #[error("could not open the assertion endpoint on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl idp_core::diagnostic::Diagnostic for BrokerError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Folder(_) => {
                Some("check that the temporary folder (TMPDIR) exists and is writable".into())
            }
            Self::Listen { .. } => Some("choose another port, or 0 for a free one".into()),
            Self::Assertion(e) => e.hint(),
            Self::Write(_) => None,
        }
    }
    fn is_usage(&self) -> bool {
        match self {
            Self::Assertion(e) => e.is_usage(),
            _ => false,
        }
    }
}

/// Variables idp sets for the command: a contract (scripts and users depend on the names).
pub mod var {
    pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
    pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
    pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
    pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
    pub const ARM_USE_OIDC: &str = "ARM_USE_OIDC";
    pub const ARM_CLIENT_ID: &str = "ARM_CLIENT_ID";
    pub const ARM_TENANT_ID: &str = "ARM_TENANT_ID";
    pub const ARM_OIDC_REQUEST_URL: &str = "ARM_OIDC_REQUEST_URL";
    pub const ARM_OIDC_REQUEST_TOKEN: &str = "ARM_OIDC_REQUEST_TOKEN";
    pub const ARM_ENVIRONMENT: &str = "ARM_ENVIRONMENT";
    pub const IDP_ASSERTION_REQUEST_URL: &str = "IDP_ASSERTION_REQUEST_URL";
    pub const IDP_ASSERTION_ADO_URL: &str = "IDP_ASSERTION_ADO_URL";
    pub const IDP_ASSERTION_REQUEST_TOKEN: &str = "IDP_ASSERTION_REQUEST_TOKEN";
    pub const IDP_CUSTOMER: &str = "IDP_CUSTOMER";
    pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
    pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
    pub const SYSTEM_OIDCREQUESTURI: &str = "SYSTEM_OIDCREQUESTURI";
    pub const SYSTEM_ACCESSTOKEN: &str = "SYSTEM_ACCESSTOKEN";
    pub const ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID: &str =
        "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID";
    pub const AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: &str =
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID";
    pub const AZURESUBSCRIPTION_CLIENT_ID: &str = "AZURESUBSCRIPTION_CLIENT_ID";
    pub const AZURESUBSCRIPTION_TENANT_ID: &str = "AZURESUBSCRIPTION_TENANT_ID";
    /// Static assertions that would hide the refreshing endpoint from Terraform (it prefers
    /// them, reads them once per run, and never falls back): removed from the command's
    /// environment. Source: hashicorp/go-azure-sdk `sdk/auth/auth.go` (order of OIDC
    /// authorizers); terraform-provider-azurerm docs "Authenticating using OpenID Connect".
    pub const HIDDEN: [&str; 2] = ["ARM_OIDC_TOKEN", "ARM_OIDC_TOKEN_FILE_PATH"];
}

/// Which CI system's own variables to set as well (the job's other steps need theirs, so
/// only when asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Impersonate {
    #[default]
    None,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN`.
    Github,
    /// `SYSTEM_OIDCREQUESTURI`, `SYSTEM_ACCESSTOKEN` and a service connection id.
    AzurePipelines,
}

/// Whom the tokens are for, as the command's tools need it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub tenant: String,
    pub client_id: String,
    /// Entra's authority host, like `https://login.microsoftonline.com`.
    pub authority_host: String,
    pub customer: Option<String>,
    /// Terraform's `ARM_ENVIRONMENT` for a sovereign cloud (`usgovernment`, `china`).
    pub arm_environment: Option<&'static str>,
}

impl Identity {
    /// The variables every tool reads for this identity, in a stable order: the Azure
    /// SDKs' (the assertion `file`), Terraform's, then `how` (how the tool gets its
    /// assertion), then the cloud and the customer's name.
    pub fn variables(
        &self,
        file: &Path,
        how: Vec<(&'static str, String)>,
    ) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (
                var::AZURE_FEDERATED_TOKEN_FILE,
                file.to_string_lossy().into_owned(),
            ),
            (var::AZURE_CLIENT_ID, self.client_id.clone()),
            (var::AZURE_TENANT_ID, self.tenant.clone()),
            (var::AZURE_AUTHORITY_HOST, self.authority_host.clone()),
            (var::ARM_USE_OIDC, "true".into()),
            (var::ARM_CLIENT_ID, self.client_id.clone()),
            (var::ARM_TENANT_ID, self.tenant.clone()),
        ];
        v.extend(how);
        if let Some(env) = self.arm_environment {
            v.push((var::ARM_ENVIRONMENT, env.into()));
        }
        if let Some(c) = &self.customer {
            v.push((var::IDP_CUSTOMER, c.clone()));
        }
        v
    }
}

/// The service connection id idp names under `--as azure-pipelines` (the endpoint accepts
/// any; the customer is fixed by idp).
pub const SERVICE_CONNECTION_ID: &str = "idp";

/// One customer's assertion file and endpoint.
#[derive(Debug)]
pub struct Session {
    file: Arc<AssertionFile>,
    refresher: tokio::task::JoinHandle<()>,
    endpoint: Endpoint,
    request_token: SecretString,
}

impl Session {
    /// Writes the first assertion, then starts the refresher and the endpoint on `listen`.
    pub async fn start(
        signer: Arc<Signer>,
        listen: SocketAddr,
        temp_parent: Option<&Path>,
        note: impl Fn(String) + Send + 'static,
    ) -> Result<Self, BrokerError> {
        let (file, first) = AssertionFile::create(&signer, temp_parent).await?;
        let file = Arc::new(file);
        let request_token = endpoint::random_request_token();
        let endpoint = Endpoint::start(
            listen,
            Arc::clone(&signer),
            SecretString::new(request_token.expose()),
        )
        .await
        .map_err(|source| BrokerError::Listen {
            addr: listen,
            source,
        })?;
        let refresher = file.keep_fresh(signer, &first, note);
        Ok(Self {
            file,
            refresher,
            endpoint,
            request_token,
        })
    }

    pub fn file(&self) -> &Path {
        self.file.path()
    }

    pub fn folder(&self) -> &Path {
        self.file.folder()
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The variables for the command, in a stable order.
    pub fn variables(&self, id: &Identity, also: Impersonate) -> Vec<(String, String)> {
        let token = self.request_token.expose().to_owned();
        let github = self.endpoint.github_url();
        let ado = self.endpoint.azure_pipelines_url();
        let mut v = id.variables(
            self.file.path(),
            vec![
                (var::ARM_OIDC_REQUEST_URL, github.clone()),
                (var::ARM_OIDC_REQUEST_TOKEN, token.clone()),
                (var::IDP_ASSERTION_REQUEST_URL, github.clone()),
                (var::IDP_ASSERTION_ADO_URL, ado.clone()),
                (var::IDP_ASSERTION_REQUEST_TOKEN, token.clone()),
            ],
        );
        match also {
            Impersonate::None => {}
            Impersonate::Github => {
                v.push((var::ACTIONS_ID_TOKEN_REQUEST_URL, github));
                v.push((var::ACTIONS_ID_TOKEN_REQUEST_TOKEN, token));
            }
            Impersonate::AzurePipelines => {
                v.push((var::SYSTEM_OIDCREQUESTURI, ado));
                v.push((var::SYSTEM_ACCESSTOKEN, token));
                v.push((
                    var::ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID,
                    SERVICE_CONNECTION_ID.into(),
                ));
                v.push((
                    var::AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
                    SERVICE_CONNECTION_ID.into(),
                ));
                v.push((var::AZURESUBSCRIPTION_CLIENT_ID, id.client_id.clone()));
                v.push((var::AZURESUBSCRIPTION_TENANT_ID, id.tenant.clone()));
            }
        }
        v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Stops the refresher and the endpoint, and removes the private folder.
    pub async fn stop(self) {
        self.refresher.abort();
        let _ = self.refresher.await;
        self.endpoint.stop().await;
        drop(self.file);
    }
}
