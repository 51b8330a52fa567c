//! One Azure credential chain for the three services idp reaches as the publisher: Blob
//! Storage (publish-metadata), Resource Manager (reading customers' identities,
//! `listTokens`) and Key Vault (signing keys held there). Each service may have a token
//! file of its own (a bearer token, read at each use, never printed); otherwise they share
//! the chain, built once per process: workload identity when `AZURE_FEDERATED_TOKEN_FILE`
//! is set, else managed identity when `IDENTITY_ENDPOINT` or `MSI_ENDPOINT` is, else the
//! Azure CLI login. Token requests go through idp's HTTPS client (system roots plus
//! `--ca-cert`).

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use thiserror::Error;
use time::OffsetDateTime;

/// A service idp reaches with an Azure credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Storage,
    Arm,
    KeyVault,
    Graph,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Storage => "Blob Storage",
            Service::Arm => "Azure Resource Manager",
            Service::KeyVault => "Key Vault",
            Service::Graph => "Microsoft Graph",
        }
    }

    /// How else the service can be reached, for hints.
    fn alternatives(self) -> &'static str {
        match self {
            Service::Storage => {
                "pick another method (--auth / IDP_STORAGE_AUTH: sas, azure-cli, managed-identity, workload-identity), or give a SAS (--sas / IDP_STORAGE_SAS)"
            }
            Service::Arm => {
                "give an ARM token in a file (--arm-token-file / IDP_ARM_TOKEN_FILE), or log in with `az login`"
            }
            Service::KeyVault => {
                "give a Key Vault token in a file (--key-vault-token-file / IDP_KEY_VAULT_TOKEN_FILE), or log in with `az login`"
            }
            Service::Graph => {
                "give a Microsoft Graph token in a file (--graph-token-file / IDP_GRAPH_TOKEN_FILE), or log in with `az login`"
            }
        }
    }
}

/// How the chain (or storage's `--auth`) authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    AzureCli,
    ManagedIdentity,
    WorkloadIdentity,
}

impl Method {
    /// The method the environment points at: workload identity, then managed identity,
    /// then the Azure CLI (`is_set` says whether a variable is set and not empty).
    pub fn detect(is_set: impl Fn(&str) -> bool) -> Self {
        if is_set("AZURE_FEDERATED_TOKEN_FILE") {
            Method::WorkloadIdentity
        } else if is_set("IDENTITY_ENDPOINT") || is_set("MSI_ENDPOINT") {
            Method::ManagedIdentity
        } else {
            Method::AzureCli
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::AzureCli => "the Azure CLI login",
            Method::ManagedIdentity => "managed identity",
            Method::WorkloadIdentity => "workload identity",
        }
    }
}

/// Why no credential could be made.
#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("cannot set up {} for {}: {detail}", method.name(), service.name())]
    Setup {
        method: Method,
        service: Service,
        detail: String,
    },
    #[error("cannot read the {} token file {}", service.name(), path.display())]
    TokenFile {
        service: Service,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl idp_core::diagnostic::Diagnostic for CredentialError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            CredentialError::Setup {
                method: Method::WorkloadIdentity,
                service,
                ..
            } => format!(
                "workload identity needs AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE; or {}",
                service.alternatives()
            ),
            CredentialError::Setup {
                method: Method::ManagedIdentity,
                service,
                ..
            } => format!(
                "check the managed identity's endpoint variables (IDENTITY_ENDPOINT, MSI_ENDPOINT); or {}",
                service.alternatives()
            ),
            CredentialError::Setup { service, .. } => service.alternatives().to_owned(),
            CredentialError::TokenFile {
                service: Service::KeyVault,
                ..
            } => "check the path given by --key-vault-token-file / IDP_KEY_VAULT_TOKEN_FILE / key_vault.token_file".into(),
            CredentialError::TokenFile {
                service: Service::Graph,
                ..
            } => "check the path given by --graph-token-file / IDP_GRAPH_TOKEN_FILE / graph.token_file".into(),
            CredentialError::TokenFile { .. } => {
                "check the path given by --arm-token-file / IDP_ARM_TOKEN_FILE / arm.token_file".into()
            }
        })
    }

    /// A token file that cannot be read is the configuration's to fix.
    fn is_usage(&self) -> bool {
        matches!(self, CredentialError::TokenFile { .. })
    }
}

/// What the chain is given: each service's token file, when there is one.
#[derive(Debug, Clone, Default)]
pub struct TokenFiles {
    pub arm: Option<PathBuf>,
    pub key_vault: Option<PathBuf>,
}

/// The credentials of one process: the chain, built on first use, and the token files.
pub struct Credentials {
    http: reqwest::Client,
    files: TokenFiles,
    chain: OnceLock<Result<Arc<dyn TokenCredential>, (Method, String)>>,
    method: Method,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("files", &self.files)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The chain for this process's environment, token requests through `http`.
    pub fn new(http: reqwest::Client, files: TokenFiles) -> Self {
        let is_set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        Self {
            http,
            files,
            chain: OnceLock::new(),
            method: Method::detect(is_set),
        }
    }

    /// The method the chain uses.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The shared chain, for `service` (named in an error).
    fn chain(&self, service: Service) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        self.chain
            .get_or_init(|| {
                build(self.method, &self.http, service).map_err(|e| match e {
                    CredentialError::Setup { method, detail, .. } => (method, detail),
                    other => (self.method, other.to_string()),
                })
            })
            .clone()
            .map_err(|(method, detail)| CredentialError::Setup {
                method,
                service,
                detail,
            })
    }

    /// A service's token file, checked readable now: a wrong path is said before anything
    /// is sent, as the configuration's fault.
    fn token_file(
        service: Service,
        path: &std::path::Path,
        what: &'static str,
    ) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        std::fs::File::open(path).map_err(|source| CredentialError::TokenFile {
            service,
            path: path.to_owned(),
            source,
        })?;
        Ok(Arc::new(TokenFileCredential::new(path, what)))
    }

    /// Resource Manager's credential: its token file, else the chain.
    pub fn arm(&self) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        match &self.files.arm {
            Some(path) => Self::token_file(Service::Arm, path, "ARM token file"),
            None => self.chain(Service::Arm),
        }
    }

    /// Key Vault's credential: its token file, else the chain.
    pub fn key_vault(&self) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        match &self.files.key_vault {
            Some(path) => Self::token_file(Service::KeyVault, path, "Key Vault token file"),
            None => self.chain(Service::KeyVault),
        }
    }

    /// Microsoft Graph's credential: `token_file` when given, else the chain.
    pub fn graph(
        &self,
        token_file: Option<&std::path::Path>,
    ) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        match token_file {
            Some(path) => Self::token_file(Service::Graph, path, "Graph token file"),
            None => self.chain(Service::Graph),
        }
    }

    /// Blob Storage's credential for `method`: the chain when it is the detected method,
    /// else one built for that method (publish-metadata's `--auth`).
    pub fn storage(&self, method: Method) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        if method == self.method {
            self.chain(Service::Storage)
        } else {
            build(method, &self.http, Service::Storage)
        }
    }
}

/// Makes the credential for `method`, its token requests through `http`.
fn build(
    method: Method,
    http: &reqwest::Client,
    service: Service,
) -> Result<Arc<dyn TokenCredential>, CredentialError> {
    let setup = |detail: String| CredentialError::Setup {
        method,
        service,
        detail,
    };
    let transport = || azure_core::http::ClientOptions {
        transport: Some(azure_core::http::Transport::new(Arc::new(http.clone()))),
        ..Default::default()
    };
    Ok(match method {
        Method::AzureCli => {
            azure_identity::AzureCliCredential::new(None).map_err(|e| setup(e.to_string()))?
        }
        // The platform's endpoint is plain HTTP on the machine: its own client, and few
        // retries (the SDK's default is a minute of them, on an endpoint that answers at once
        // or not at all).
        // A user-assigned identity is named by AZURE_CLIENT_ID, as the Azure SDKs'
        // DefaultAzureCredential does (App Service uses the system-assigned identity when
        // none is named).
        Method::ManagedIdentity => {
            let platform = idp_http::platform_client().map_err(|e| setup(e.to_string()))?;
            let user_assigned = std::env::var("AZURE_CLIENT_ID")
                .ok()
                .filter(|v| !v.is_empty())
                .map(azure_identity::UserAssignedId::ClientId);
            azure_identity::ManagedIdentityCredential::new(Some(
                azure_identity::ManagedIdentityCredentialOptions {
                    user_assigned_id: user_assigned,
                    client_options: platform_options(platform),
                },
            ))
            .map_err(|e| setup(e.to_string()))?
        }
        Method::WorkloadIdentity => azure_identity::WorkloadIdentityCredential::new(Some(
            azure_identity::WorkloadIdentityCredentialOptions {
                credential_options: azure_identity::ClientAssertionCredentialOptions {
                    client_options: transport(),
                },
                ..Default::default()
            },
        ))
        .map_err(|e| setup(e.to_string()))?,
    })
}

/// The SDK's options for a platform's managed-identity endpoint: plain HTTP on the machine,
/// through `platform` ([`idp_http::platform_client`]), and few retries (the SDK's default
/// is a minute of them, on an endpoint that answers at once or not at all).
pub(crate) fn platform_options(platform: reqwest::Client) -> azure_core::http::ClientOptions {
    azure_core::http::ClientOptions {
        transport: Some(azure_core::http::Transport::new(Arc::new(platform))),
        retry: azure_core::http::RetryOptions::exponential(
            azure_core::http::ExponentialRetryOptions {
                max_retries: 3,
                initial_delay: azure_core::time::Duration::milliseconds(500),
                max_total_elapsed: azure_core::time::Duration::seconds(10),
                ..Default::default()
            },
        ),
        ..Default::default()
    }
}

/// The largest token file idp reads (a real token is a few kilobytes).
const MAX_TOKEN_FILE_BYTES: u64 = 16 * 1024;

/// A bearer token read from a file at each use (so whoever refreshes the file is heard),
/// never printed. Its expiry is the JWT's `exp` when the token is one, else ten minutes.
#[derive(Debug)]
pub struct TokenFileCredential {
    path: PathBuf,
    what: &'static str,
}

impl TokenFileCredential {
    /// `what` names the file in errors ("the ARM token file …").
    pub fn new(path: impl Into<PathBuf>, what: &'static str) -> Self {
        Self {
            path: path.into(),
            what,
        }
    }
}

#[async_trait]
impl TokenCredential for TokenFileCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        use std::io::Read as _;
        let err = |what: String| {
            Error::with_message(
                ErrorKind::Credential,
                format!("the {} {}: {what}", self.what, self.path.display()),
            )
        };
        let mut text = String::new();
        std::fs::File::open(&self.path)
            .and_then(|f| f.take(MAX_TOKEN_FILE_BYTES + 1).read_to_string(&mut text))
            .map_err(|e| err(format!("cannot be read ({e})")))?;
        if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
            return Err(err(format!(
                "is over {MAX_TOKEN_FILE_BYTES} bytes; it should hold one bearer token"
            )));
        }
        let token = text.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err("does not hold one bearer token".into()));
        }
        let expires_on = jwt_exp(token)
            .unwrap_or_else(|| OffsetDateTime::now_utc() + time::Duration::minutes(10));
        Ok(AccessToken::new(token.to_owned(), expires_on))
    }
}

/// The `exp` of a JWT, unverified (only to know when to read the file again).
fn jwt_exp(token: &str) -> Option<OffsetDateTime> {
    use base64::Engine as _;
    let claims = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    OffsetDateTime::from_unix_timestamp(value.get("exp")?.as_i64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_core::diagnostic::Diagnostic;

    fn with(vars: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |v| vars.contains(&v)
    }

    #[test]
    fn the_environment_picks_workload_then_managed_identity_then_the_cli() {
        let all = with(&[
            "AZURE_FEDERATED_TOKEN_FILE",
            "IDENTITY_ENDPOINT",
            "MSI_ENDPOINT",
        ]);
        assert_eq!(Method::detect(all), Method::WorkloadIdentity);
        assert_eq!(
            Method::detect(with(&["IDENTITY_ENDPOINT"])),
            Method::ManagedIdentity
        );
        assert_eq!(
            Method::detect(with(&["MSI_ENDPOINT"])),
            Method::ManagedIdentity
        );
        assert_eq!(Method::detect(with(&[])), Method::AzureCli);
    }

    #[test]
    fn a_setup_failure_names_the_service_and_its_own_alternatives() {
        let e = |method, service| CredentialError::Setup {
            method,
            service,
            detail: "x".into(),
        };
        let arm = e(Method::ManagedIdentity, Service::Arm);
        assert!(arm.to_string().contains("Azure Resource Manager"), "{arm}");
        let hint = arm.hint().unwrap();
        assert!(
            hint.contains("--arm-token-file") && !hint.contains("--auth"),
            "{hint}"
        );
        let vault = e(Method::AzureCli, Service::KeyVault).hint().unwrap();
        assert!(vault.contains("--key-vault-token-file"), "{vault}");
        let storage = e(Method::WorkloadIdentity, Service::Storage)
            .hint()
            .unwrap();
        assert!(
            storage.contains("AZURE_CLIENT_ID") && storage.contains("--auth"),
            "{storage}"
        );
        assert!(!arm.is_usage());
    }

    #[tokio::test]
    async fn the_token_file_is_read_at_each_use_and_its_exp_kept() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let claims =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":2000000000}"#);
        std::fs::write(&path, format!("eyJhbGciOiJub25lIn0.{claims}.sig\n")).unwrap();
        let c = TokenFileCredential::new(&path, "ARM token file");
        let t = c.get_token(&["s"], None).await.unwrap();
        assert_eq!(t.expires_on.unix_timestamp(), 2_000_000_000);
        assert!(t.token.secret().ends_with(".sig"));
        std::fs::write(&path, "opaque-token").unwrap();
        let t = c.get_token(&["s"], None).await.unwrap();
        assert_eq!(t.token.secret(), "opaque-token");
        assert!(t.expires_on > OffsetDateTime::now_utc());
        // A real token is a few kilobytes; up to the limit is read.
        let big = "t".repeat(16 * 1024);
        std::fs::write(&path, &big).unwrap();
        assert_eq!(c.get_token(&["s"], None).await.unwrap().token.secret(), big);
        std::fs::write(&path, "two words").unwrap();
        let e = c.get_token(&["s"], None).await.unwrap_err();
        assert!(!e.to_string().contains("two words"), "{e}");
        assert!(e.to_string().contains("the ARM token file"), "{e}");
        std::fs::write(&path, "x".repeat(20_000)).unwrap();
        assert!(c.get_token(&["s"], None).await.is_err());
        drop(dir);
        assert!(c.get_token(&["s"], None).await.is_err());
    }

    #[test]
    fn each_service_takes_its_own_token_file() {
        let dir = tempfile::tempdir().unwrap();
        let http = idp_http::client(
            &idp_http::ExtraRoots::from_files(&[]).unwrap(),
            idp_http::Timeouts::default(),
        )
        .unwrap();
        let creds = Credentials::new(
            http,
            TokenFiles {
                arm: Some(dir.path().join("arm")),
                key_vault: Some(dir.path().join("kv")),
            },
        );
        std::fs::write(dir.path().join("arm"), "arm-token").unwrap();
        std::fs::write(dir.path().join("kv"), "kv-token").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let arm = rt
            .block_on(creds.arm().unwrap().get_token(&["x"], None))
            .unwrap();
        let kv = rt
            .block_on(creds.key_vault().unwrap().get_token(&["x"], None))
            .unwrap();
        assert_eq!(
            (arm.token.secret(), kv.token.secret()),
            ("arm-token", "kv-token")
        );
        // A token file that is not there is the configuration's fault, said at once.
        std::fs::remove_file(dir.path().join("arm")).unwrap();
        let e = creds.arm().unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(e.hint().unwrap().contains("--arm-token-file"), "{e}");
        std::fs::remove_file(dir.path().join("kv")).unwrap();
        let e = creds.key_vault().unwrap_err();
        assert!(e.hint().unwrap().contains("--key-vault-token-file"), "{e}");
    }
}
