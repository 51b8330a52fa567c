//! Which Azure cloud the emulator stands in for, and ARM's cloud metadata
//! (`GET /metadata/endpoints?api-version=…`) as clients read it.
//!
//! A national cloud's Entra knows only its own services: a token request for another
//! cloud's resource (`https://management.azure.com` asked of US Government's Entra) is
//! refused with AADSTS500011, "The resource principal named … was not found in the tenant".
//! Sources: Learn, "Microsoft Entra authentication and authorization error codes"
//! (AADSTS500011 InvalidResourceServicePrincipalNotFound); Learn, "National clouds" and the
//! Azure Government and Azure China developer guides (each cloud's endpoints).

use crate::Emulator;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The cloud the emulator stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Public,
    UsGov,
    China,
}

impl Cloud {
    /// `public` (or `AzureCloud`), `usgov` (`AzureUSGovernment`), `china`
    /// (`AzureChinaCloud`), in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" => Some(Cloud::Public),
            "usgov" | "azureusgovernment" => Some(Cloud::UsGov),
            "china" | "azurechinacloud" => Some(Cloud::China),
            _ => None,
        }
    }

    /// The well-known resources of this cloud's services, without a trailing slash.
    fn resources(self) -> &'static [&'static str] {
        match self {
            Cloud::Public => &[
                "https://management.azure.com",
                "https://management.core.windows.net",
                "https://vault.azure.net",
                "https://graph.microsoft.com",
                "api://AzureADTokenExchange",
            ],
            Cloud::UsGov => &[
                "https://management.usgovcloudapi.net",
                "https://management.core.usgovcloudapi.net",
                "https://vault.usgovcloudapi.net",
                "https://graph.microsoft.us",
                "api://AzureADTokenExchangeUSGov",
            ],
            Cloud::China => &[
                "https://management.chinacloudapi.cn",
                "https://management.core.chinacloudapi.cn",
                "https://vault.azure.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "api://AzureADTokenExchangeChina",
            ],
        }
    }

    /// Whether `resource` is another cloud's service, so this cloud's Entra has no
    /// principal for it. Resources no cloud claims (an app's own id URI,
    /// `https://storage.azure.com`, which every cloud shares) are anyone's.
    pub fn is_foreign(self, resource: &str) -> bool {
        let r = resource.trim_end_matches('/').to_ascii_lowercase();
        let known = |c: Cloud| c.resources().iter().any(|x| x.eq_ignore_ascii_case(&r));
        !known(self)
            && [Cloud::Public, Cloud::UsGov, Cloud::China]
                .into_iter()
                .any(known)
    }

    /// The audience of this cloud's token exchange, the one a federated identity
    /// credential names: `api://AzureADTokenExchange`, `…USGov` or `…China`. Source:
    /// Learn, "Configure an application to trust a managed identity" (the audience per
    /// cloud); entra-facts §10.
    pub fn token_exchange_audience(self) -> &'static str {
        match self {
            Cloud::Public => "api://AzureADTokenExchange",
            Cloud::UsGov => "api://AzureADTokenExchangeUSGov",
            Cloud::China => "api://AzureADTokenExchangeChina",
        }
    }

    /// This cloud's Microsoft Graph resource, without a trailing slash.
    pub fn graph_resource(self) -> &'static str {
        match self {
            Cloud::Public => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Key Vault DNS suffix ARM's metadata names.
    fn key_vault_dns(self) -> &'static str {
        match self {
            Cloud::Public => "vault.azure.net",
            Cloud::UsGov => "vault.usgovcloudapi.net",
            Cloud::China => "vault.azure.cn",
        }
    }
}

/// The api-versions of `/metadata/endpoints`, and the shape of each answer. Sources: the
/// recorded answers in hashicorp/go-azure-sdk `sdk/internal/metadata/client_test.go`
/// (2015-01-01, 2018-01-01, 2019-05-01, 2022-09-01); azure-powershell-common PR #374 and
/// azure-cli issue #29283 (2022-09-01 answers one object, "changed from array to single
/// object"); msrestazure PR #165 (2019-05-01 and 2020-06-01 answer the list of clouds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `1.0`, `2015-01-01`: one object with `galleryEndpoint`, `graphEndpoint`,
    /// `portalEndpoint` and `authentication` (login endpoint with a trailing slash).
    Legacy,
    /// `2018-01-01`: the legacy object with `graphAudience` and the authentication's
    /// `tenant` and `identityProvider`.
    Legacy2018,
    /// `2019-05-01`, `2020-06-01`: an array, one object per cloud (here: this one).
    List,
    /// `2022-09-01`: this cloud's object, its `loginEndpoint` without a trailing slash.
    /// Terraform (go-azure-sdk `environments.FromEndpoint`) and the az CLI since 2.73
    /// (`az cloud register`'s `_populate_from_metadata_endpoint`) read this one.
    Current,
}

fn shape(api_version: &str) -> Option<Shape> {
    Some(match api_version {
        "1.0" | "2015-01-01" => Shape::Legacy,
        "2018-01-01" => Shape::Legacy2018,
        "2019-05-01" | "2020-06-01" => Shape::List,
        "2022-09-01" => Shape::Current,
        _ => return None,
    })
}

/// The api-versions the endpoint answers, for errors.
const API_VERSIONS: &str = "1.0, 2015-01-01, 2018-01-01, 2019-05-01, 2020-06-01, 2022-09-01";

/// One cloud's object in the 2019-05-01 and 2022-09-01 shapes: the emulator's own URL for
/// Entra (`loginEndpoint`) and Resource Manager, the audiences ARM accepts, and the
/// suffixes (`storage` from `--storage-suffix`, so a state backend can be sent to an
/// Azurite at `https://<account>.blob.<suffix>`).
fn cloud_object(emu: &Emulator, base: &str, login_slash: bool) -> Value {
    let config = emu.config();
    let login = if login_slash {
        format!("{base}/")
    } else {
        base.to_owned()
    };
    json!({
        "portal": base,
        "authentication": {
            "loginEndpoint": login,
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": "IdpEmulator",
        "suffixes": {
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "keyVaultDns": config.cloud.key_vault_dns(),
            "storage": config.storage_suffix,
            "mhsmDns": "managedhsm.azure.net"
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": format!("{base}/"),
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/"
    })
}

/// ARM's cloud metadata for the api-version asked, with the emulator's own URLs. An
/// api-version it does not publish is refused as ARM refuses one (400
/// `InvalidApiVersionParameter`), a missing one too (400 `MissingApiVersionParameter`).
pub(crate) fn metadata(emu: &Emulator, api_version: Option<&str>, headers: &HeaderMap) -> Response {
    let base = emu.base_url(headers);
    let refuse = |code: &str, message: String| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response()
    };
    let Some(version) = api_version else {
        return refuse(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.".into(),
        );
    };
    let Some(shape) = shape(version) else {
        return refuse(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{version}' is invalid. The supported versions are '{API_VERSIONS}'."
            ),
        );
    };
    let body = match shape {
        Shape::Current => cloud_object(emu, &base, false),
        Shape::List => json!([cloud_object(emu, &base, true)]),
        Shape::Legacy | Shape::Legacy2018 => {
            let mut v = json!({
                "galleryEndpoint": "https://gallery.azure.com/",
                "graphEndpoint": "https://graph.windows.net/",
                "portalEndpoint": format!("{base}/"),
                "authentication": {
                    "loginEndpoint": format!("{base}/"),
                    "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"]
                }
            });
            if shape == Shape::Legacy2018 {
                v["graphAudience"] = json!("https://graph.windows.net/");
                v["authentication"]["tenant"] = json!("common");
                v["authentication"]["identityProvider"] = json!("AAD");
            }
            v
        }
    };
    crate::http::cacheable_json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_are_known_by_both_names_in_any_case() {
        assert_eq!(Cloud::parse("AzureUSGovernment"), Some(Cloud::UsGov));
        assert_eq!(Cloud::parse("usgov"), Some(Cloud::UsGov));
        assert_eq!(Cloud::parse("AZURECHINACLOUD"), Some(Cloud::China));
        assert_eq!(Cloud::parse("public"), Some(Cloud::Public));
        assert_eq!(Cloud::parse("germany"), None);
    }

    #[test]
    fn another_clouds_services_are_foreign_and_shared_or_unknown_ones_are_not() {
        assert!(Cloud::UsGov.is_foreign("https://management.azure.com/"));
        assert!(Cloud::UsGov.is_foreign("https://vault.azure.net"));
        assert!(!Cloud::UsGov.is_foreign("https://management.usgovcloudapi.net/"));
        assert!(!Cloud::UsGov.is_foreign("https://storage.azure.com"));
        assert!(!Cloud::UsGov.is_foreign("api://my-app"));
        assert!(Cloud::Public.is_foreign("https://vault.azure.cn"));
        assert!(!Cloud::Public.is_foreign("https://MANAGEMENT.azure.com"));
        assert!(Cloud::China.is_foreign("https://graph.microsoft.com"));
        // Each cloud's token exchange is its own.
        assert!(!Cloud::Public.is_foreign("api://AzureADTokenExchange"));
        assert!(Cloud::Public.is_foreign("api://AzureADTokenExchangeUSGov"));
        assert!(!Cloud::UsGov.is_foreign(Cloud::UsGov.token_exchange_audience()));
    }

    #[test]
    fn each_api_version_has_its_shape() {
        assert_eq!(shape("2022-09-01"), Some(Shape::Current));
        assert_eq!(shape("2019-05-01"), Some(Shape::List));
        assert_eq!(shape("2020-06-01"), Some(Shape::List));
        assert_eq!(shape("2018-01-01"), Some(Shape::Legacy2018));
        assert_eq!(shape("2015-01-01"), Some(Shape::Legacy));
        assert_eq!(shape("1.0"), Some(Shape::Legacy));
        assert_eq!(shape("2023-01-01"), None);
        assert_eq!(shape(""), None);
    }
}
