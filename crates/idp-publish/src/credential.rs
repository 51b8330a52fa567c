//! How publish-metadata is asked to authenticate to storage (`--auth`): a SAS, or one of
//! Microsoft Entra's methods, made by the caller's credential chain.

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

/// Why no credential could be chosen.
#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("--auth sas needs a SAS token")]
    NoSas,
    #[error("unknown storage auth `{0}`")]
    UnknownAuth(String),
}

impl idp_core::diagnostic::Diagnostic for CredentialError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            CredentialError::NoSas => "pass --sas (the SAS URL or its query string) or set IDP_STORAGE_SAS; or pick another --auth".into(),
            CredentialError::UnknownAuth(_) => format!("use one of {}", Auth::NAMES.join(", ")),
        })
    }

    fn is_usage(&self) -> bool {
        true
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

#[cfg(test)]
mod tests {
    use super::*;

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
