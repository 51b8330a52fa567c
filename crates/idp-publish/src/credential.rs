//! How publish-metadata authenticates to storage: the choice among a SAS and Microsoft
//! Entra credentials (pure, so every rule is tested), and the credential it makes.

use crate::sas::SasToken;
use crate::storage::Credential;
use std::sync::Arc;
use thiserror::Error;

/// What the user asked for (`--auth`, `IDP_STORAGE_AUTH`, `storage.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A SAS if one is given; else workload identity if `AZURE_FEDERATED_TOKEN_FILE` is set;
    /// else managed identity if `IDENTITY_ENDPOINT` or `MSI_ENDPOINT` is set; else the
    /// developer's Azure CLI login.
    Auto,
    Sas,
    AzureCli,
    ManagedIdentity,
    WorkloadIdentity,
}

/// The method chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Sas,
    AzureCli,
    ManagedIdentity,
    WorkloadIdentity,
}

/// Why no credential could be chosen or made.
#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("--auth sas needs a SAS token")]
    NoSas,
    #[error("unknown storage auth `{0}`")]
    UnknownAuth(String),
    #[error("cannot set up {method:?} authentication: {detail}")]
    Setup { method: Method, detail: String },
}

impl idp_core::diagnostic::Diagnostic for CredentialError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            CredentialError::NoSas => "pass --sas (the SAS URL or its query string) or set IDP_STORAGE_SAS; or pick another --auth".into(),
            CredentialError::UnknownAuth(_) => format!("use one of {}", Auth::NAMES.join(", ")),
            CredentialError::Setup { method: Method::WorkloadIdentity, .. } => "workload identity needs AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE".into(),
            CredentialError::Setup { .. } => "choose another method with --auth (sas, azure-cli, managed-identity, workload-identity)".into(),
        })
    }

    fn is_usage(&self) -> bool {
        matches!(
            self,
            CredentialError::NoSas | CredentialError::UnknownAuth(_)
        )
    }
}

impl Auth {
    pub const NAMES: [&str; 5] = [
        "auto",
        "sas",
        "azure-cli",
        "managed-identity",
        "workload-identity",
    ];

    pub fn parse(s: &str) -> Result<Self, CredentialError> {
        Ok(match s {
            "auto" => Self::Auto,
            "sas" => Self::Sas,
            "azure-cli" => Self::AzureCli,
            "managed-identity" => Self::ManagedIdentity,
            "workload-identity" => Self::WorkloadIdentity,
            other => return Err(CredentialError::UnknownAuth(other.to_owned())),
        })
    }
}

/// The method for `auth`, given whether a SAS was given and which environment variables
/// are set (non-empty).
pub fn choose(
    auth: Auth,
    has_sas: bool,
    is_set: impl Fn(&str) -> bool,
) -> Result<Method, CredentialError> {
    Ok(match (auth, has_sas) {
        (Auth::Sas, false) => return Err(CredentialError::NoSas),
        (Auth::Sas | Auth::Auto, true) => Method::Sas,
        (Auth::Auto, false) if is_set("AZURE_FEDERATED_TOKEN_FILE") => Method::WorkloadIdentity,
        (Auth::Auto, false) if is_set("IDENTITY_ENDPOINT") || is_set("MSI_ENDPOINT") => {
            Method::ManagedIdentity
        }
        (Auth::Auto, false) => Method::AzureCli,
        (Auth::AzureCli, _) => Method::AzureCli,
        (Auth::ManagedIdentity, _) => Method::ManagedIdentity,
        (Auth::WorkloadIdentity, _) => Method::WorkloadIdentity,
    })
}

/// Makes the credential for `method`; Entra credentials send their token requests through
/// `client` (idp's HTTPS client: system roots plus `--ca-cert`).
pub fn build(
    method: Method,
    sas: Option<SasToken>,
    client: &reqwest::Client,
) -> Result<Credential, CredentialError> {
    let setup = |detail: String| CredentialError::Setup { method, detail };
    let transport = || azure_core::http::ClientOptions {
        transport: Some(azure_core::http::Transport::new(Arc::new(client.clone()))),
        ..Default::default()
    };
    let credential: Arc<dyn azure_core::credentials::TokenCredential> = match method {
        Method::Sas => return sas.map(Credential::Sas).ok_or(CredentialError::NoSas),
        Method::AzureCli => {
            azure_identity::AzureCliCredential::new(None).map_err(|e| setup(e.to_string()))?
        }
        Method::ManagedIdentity => azure_identity::ManagedIdentityCredential::new(Some(
            azure_identity::ManagedIdentityCredentialOptions {
                client_options: transport(),
                ..Default::default()
            },
        ))
        .map_err(|e| setup(e.to_string()))?,
        Method::WorkloadIdentity => azure_identity::WorkloadIdentityCredential::new(Some(
            azure_identity::WorkloadIdentityCredentialOptions {
                credential_options: azure_identity::ClientAssertionCredentialOptions {
                    client_options: transport(),
                },
                ..Default::default()
            },
        ))
        .map_err(|e| setup(e.to_string()))?,
    };
    Ok(Credential::Entra(credential))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |v| vars.contains(&v)
    }

    #[test]
    fn auto_picks_sas_then_workload_then_managed_then_the_cli() {
        let all = with(&[
            "AZURE_FEDERATED_TOKEN_FILE",
            "IDENTITY_ENDPOINT",
            "MSI_ENDPOINT",
        ]);
        assert_eq!(choose(Auth::Auto, true, &all).unwrap(), Method::Sas);
        assert_eq!(
            choose(Auth::Auto, false, &all).unwrap(),
            Method::WorkloadIdentity
        );
        assert_eq!(
            choose(Auth::Auto, false, with(&["IDENTITY_ENDPOINT"])).unwrap(),
            Method::ManagedIdentity
        );
        assert_eq!(
            choose(Auth::Auto, false, with(&["MSI_ENDPOINT"])).unwrap(),
            Method::ManagedIdentity
        );
        assert_eq!(
            choose(Auth::Auto, false, with(&[])).unwrap(),
            Method::AzureCli
        );
    }

    #[test]
    fn an_explicit_method_wins_over_the_environment_and_a_sas() {
        let all = with(&["AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT"]);
        assert_eq!(
            choose(Auth::AzureCli, true, &all).unwrap(),
            Method::AzureCli
        );
        assert_eq!(
            choose(Auth::ManagedIdentity, true, with(&[])).unwrap(),
            Method::ManagedIdentity
        );
        assert_eq!(
            choose(Auth::WorkloadIdentity, false, with(&[])).unwrap(),
            Method::WorkloadIdentity
        );
        assert_eq!(choose(Auth::Sas, true, &all).unwrap(), Method::Sas);
        assert!(matches!(
            choose(Auth::Sas, false, &all),
            Err(CredentialError::NoSas)
        ));
    }

    #[test]
    fn every_name_parses_and_others_are_refused() {
        for name in Auth::NAMES {
            assert!(Auth::parse(name).is_ok(), "{name}");
        }
        assert!(matches!(
            Auth::parse("Sas"),
            Err(CredentialError::UnknownAuth(_))
        ));
    }
}
