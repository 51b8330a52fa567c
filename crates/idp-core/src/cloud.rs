//! Azure's clouds, in one table: each cloud's Entra authority host, Resource Manager
//! endpoint and scope, token-exchange audience, Key Vault resource, storage suffix and
//! Terraform's name for it, and every name it is known by. Every command, `idp.toml` and
//! `customers.toml` accept a cloud through [`Cloud::parse`], so a name one accepts the
//! others accept too.
//!
//! Sources: Microsoft Learn "National clouds" (authority hosts), "Azure Government
//! developer guide" and "Azure China developer guide" (ARM, Key Vault and storage
//! endpoints), the workload identity federation configuration page (the token-exchange
//! audiences), `az cloud list` (the `AzureCloud`, `AzureUSGovernment` and `AzureChinaCloud`
//! names), and the azurerm provider's `environment` values (`public`, `usgovernment`,
//! `china`).
//!
//! ```
//! use idp_core::cloud::Cloud;
//! let cloud = Cloud::parse("AzureUSGovernment").unwrap();
//! assert_eq!(cloud, Cloud::parse("usgov").unwrap());
//! assert_eq!(cloud.arm_scope(), "https://management.usgovcloudapi.net/.default");
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use thiserror::Error;

/// An Azure cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cloud {
    /// The global Azure cloud.
    #[default]
    Public,
    /// Azure US Government.
    UsGov,
    /// Azure operated by 21Vianet.
    China,
}

/// A name no cloud is known by.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("unknown cloud `{0}`")]
pub struct UnknownCloud(pub String);

impl crate::diagnostic::Diagnostic for UnknownCloud {
    fn hint(&self) -> Option<String> {
        Some(format!("use one of {}", Cloud::all_names().join(", ")))
    }

    fn is_usage(&self) -> bool {
        true
    }
}

impl Cloud {
    /// Every cloud, the global one first.
    pub const ALL: [Cloud; 3] = [Cloud::Public, Cloud::UsGov, Cloud::China];

    /// A cloud by any of its names: idp's short one or Azure's (`az cloud list`), in any
    /// letter case.
    pub fn parse(name: &str) -> Result<Self, UnknownCloud> {
        Self::ALL
            .into_iter()
            .find(|c| c.names().iter().any(|n| n.eq_ignore_ascii_case(name)))
            .ok_or_else(|| UnknownCloud(name.to_owned()))
    }

    /// idp's name for it, as `customers.toml` records it: `public`, `usgov`, `china`.
    pub fn name(self) -> &'static str {
        self.names()[0]
    }

    /// Every name it is known by: idp's, then Azure's.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Cloud::Public => &["public", "AzureCloud"],
            Cloud::UsGov => &["usgov", "AzureUSGovernment"],
            Cloud::China => &["china", "AzureChinaCloud"],
        }
    }

    /// Every name of every cloud, for hints.
    pub fn all_names() -> Vec<&'static str> {
        Self::ALL
            .iter()
            .flat_map(|c| c.names().iter().copied())
            .collect()
    }

    /// Entra's authority host (no trailing slash).
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::UsGov => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Azure Resource Manager's endpoint (no trailing slash).
    pub fn arm_endpoint(self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com",
            Cloud::UsGov => "https://management.usgovcloudapi.net",
            Cloud::China => "https://management.chinacloudapi.cn",
        }
    }

    /// The scope of an ARM token in this cloud.
    pub fn arm_scope(self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com/.default",
            Cloud::UsGov => "https://management.usgovcloudapi.net/.default",
            Cloud::China => "https://management.chinacloudapi.cn/.default",
        }
    }

    /// The audience a federated credential carries in this cloud.
    pub fn token_exchange_audience(self) -> &'static str {
        match self {
            Cloud::Public => crate::AUDIENCE_GLOBAL,
            Cloud::UsGov => crate::AUDIENCE_USGOV,
            Cloud::China => crate::AUDIENCE_CHINA,
        }
    }

    /// Key Vault's resource (the audience of its tokens).
    pub fn key_vault_resource(self) -> &'static str {
        match self {
            Cloud::Public => "https://vault.azure.net",
            Cloud::UsGov => "https://vault.usgovcloudapi.net",
            Cloud::China => "https://vault.azure.cn",
        }
    }

    /// Microsoft Graph's endpoint (Learn, "National cloud deployments": Microsoft Graph
    /// for US Government L4 and China operated by 21Vianet).
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            Cloud::Public => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The DNS suffix of storage endpoints (`<account>.blob.<suffix>`).
    pub fn storage_suffix(self) -> &'static str {
        match self {
            Cloud::Public => "core.windows.net",
            Cloud::UsGov => "core.usgovcloudapi.net",
            Cloud::China => "core.chinacloudapi.cn",
        }
    }

    /// Terraform's `ARM_ENVIRONMENT` (the azurerm provider's and backend's `environment`).
    pub fn terraform_environment(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::UsGov => "usgovernment",
            Cloud::China => "china",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Cloud {
    type Err = UnknownCloud;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Recorded by idp's name; read by any name.
impl Serialize for Cloud {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Cloud {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Cloud::parse(&name).map_err(|e| {
            serde::de::Error::custom(format!("{e}: use one of {}", Cloud::all_names().join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_a_cloud_finds_it_in_any_case() {
        for (names, cloud) in [
            (["public", "AzureCloud"], Cloud::Public),
            (["usgov", "AzureUSGovernment"], Cloud::UsGov),
            (["china", "AzureChinaCloud"], Cloud::China),
        ] {
            for name in names {
                assert_eq!(Cloud::parse(name), Ok(cloud), "{name}");
                assert_eq!(Cloud::parse(&name.to_uppercase()), Ok(cloud), "{name}");
            }
            assert_eq!(cloud.name(), names[0]);
            assert_eq!(cloud.to_string(), names[0]);
        }
        for bad in ["germany", "AzureGermanCloud", "", "public "] {
            assert_eq!(Cloud::parse(bad), Err(UnknownCloud(bad.into())), "{bad}");
        }
        assert_eq!(Cloud::default(), Cloud::Public);
    }

    #[test]
    fn each_cloud_has_its_own_endpoints() {
        let table = [
            (
                Cloud::Public,
                "https://login.microsoftonline.com",
                "https://management.azure.com",
                "api://AzureADTokenExchange",
                "https://vault.azure.net",
                "core.windows.net",
                "public",
            ),
            (
                Cloud::UsGov,
                "https://login.microsoftonline.us",
                "https://management.usgovcloudapi.net",
                "api://AzureADTokenExchangeUSGov",
                "https://vault.usgovcloudapi.net",
                "core.usgovcloudapi.net",
                "usgovernment",
            ),
            (
                Cloud::China,
                "https://login.chinacloudapi.cn",
                "https://management.chinacloudapi.cn",
                "api://AzureADTokenExchangeChina",
                "https://vault.azure.cn",
                "core.chinacloudapi.cn",
                "china",
            ),
        ];
        for (cloud, authority, arm, audience, vault, storage, terraform) in table {
            assert_eq!(cloud.authority_host(), authority);
            assert_eq!(cloud.arm_endpoint(), arm);
            assert_eq!(cloud.arm_scope(), format!("{arm}/.default"));
            assert_eq!(cloud.token_exchange_audience(), audience);
            assert_eq!(cloud.key_vault_resource(), vault);
            assert_eq!(cloud.storage_suffix(), storage);
            assert_eq!(cloud.terraform_environment(), terraform);
        }
    }

    #[test]
    fn recorded_by_short_name_read_by_any() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Row {
            cloud: Cloud,
        }
        let row: Row = serde_json::from_str(r#"{"cloud":"AzureChinaCloud"}"#).unwrap();
        assert_eq!(row.cloud, Cloud::China);
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"cloud":"china"}"#);
        let err = serde_json::from_str::<Row>(r#"{"cloud":"mars"}"#).unwrap_err();
        assert!(err.to_string().contains("AzureUSGovernment"), "{err}");
    }

    #[test]
    fn the_hint_lists_every_name() {
        use crate::diagnostic::Diagnostic;
        let e = UnknownCloud("mars".into());
        assert!(e.is_usage());
        let hint = e.hint().unwrap();
        for name in Cloud::all_names() {
            assert!(hint.contains(name), "{hint}");
        }
    }
}
