//! ARM's request checks that come before any resource's own rules, as strict as Azure:
//! the api-versions each resource provider publishes, the locations that exist, and
//! resource groups that must be created first.
//!
//! Sources: the `stable/` and `preview/` folders of Azure/azure-rest-api-specs for each
//! provider (checked 2026-12-01); Microsoft Learn, "Resolve errors for resource provider
//! registration" (NoRegisteredProviderFound), "Resolve errors for SKU not available /
//! location" (LocationNotAvailableForResourceType), "Resolve resource group not found
//! errors" (ResourceGroupNotFound).

use crate::arm::kernel::{ArmError, Target};
use axum::http::StatusCode;

/// The api-versions each resource type's provider publishes.
pub(crate) fn api_versions(target: &Target<'_>) -> (&'static str, &'static [&'static str]) {
    match target {
        Target::Identities { .. }
        | Target::Identity { .. }
        | Target::Fics { .. }
        | Target::Fic { .. } => (
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            &[
                "2015-08-31-preview",
                "2018-11-30",
                "2021-09-30-preview",
                "2022-01-31-preview",
                "2023-01-31",
                "2023-07-31-preview",
                "2024-11-30",
                "2025-01-31-preview",
                "2025-05-31-preview",
                "2026-04-30",
                "2026-05-31",
            ],
        ),
        Target::Vault { .. } => (
            "Microsoft.KeyVault/vaults",
            &[
                "2019-09-01",
                "2021-10-01",
                "2022-07-01",
                "2023-02-01",
                "2023-07-01",
                "2024-11-01",
                "2025-05-01",
                "2026-02-01",
            ],
        ),
        Target::RoleAssignment { .. } => (
            "Microsoft.Authorization/roleAssignments",
            &[
                "2015-07-01",
                "2018-09-01-preview",
                "2020-04-01-preview",
                "2020-10-01-preview",
                "2022-04-01",
            ],
        ),
        // azure-rest-api-specs `Microsoft.Authorization/policy`: the `stable/` folders
        // and the TypeSpec `Versions` enum (2025-03-01, 2025-11-01, 2025-12-01-preview,
        // 2026-01-01-preview), checked 2026-12-03.
        Target::PolicyAssignment { .. } => (
            "Microsoft.Authorization/policyAssignments",
            &[
                "2016-04-01",
                "2016-12-01",
                "2018-03-01",
                "2018-05-01",
                "2019-01-01",
                "2019-06-01",
                "2019-09-01",
                "2020-09-01",
                "2021-06-01",
                "2022-06-01",
                "2023-04-01",
                "2024-04-01",
                "2025-01-01",
                "2025-03-01",
                "2025-11-01",
                "2025-12-01-preview",
                "2026-01-01-preview",
            ],
        ),
        Target::Application { .. } | Target::ListTokens { .. } => (
            "Microsoft.Solutions/applications",
            &[
                "2017-09-01",
                "2018-06-01",
                "2019-07-01",
                "2021-07-01",
                "2023-12-01-preview",
            ],
        ),
        Target::ResourceGroup { .. } => (
            "Microsoft.Resources/resourceGroups",
            &[
                "2019-10-01",
                "2020-06-01",
                "2021-04-01",
                "2022-09-01",
                "2023-07-01",
                "2024-03-01",
                "2024-07-01",
                "2024-11-01",
                "2025-04-01",
            ],
        ),
        Target::Subscription => (
            "Microsoft.Resources/subscriptions",
            &[
                "2016-06-01",
                "2019-11-01",
                "2020-01-01",
                "2021-01-01",
                "2022-12-01",
            ],
        ),
    }
}

/// 400 `NoRegisteredProviderFound` unless `version` is one the provider publishes.
pub(crate) fn check_api_version(target: &Target<'_>, version: &str) -> Result<(), ArmError> {
    let (ty, versions) = api_versions(target);
    if versions.contains(&version) {
        return Ok(());
    }
    Err(ArmError {
        status: StatusCode::BAD_REQUEST,
        code: "NoRegisteredProviderFound",
        message: format!(
            "No registered resource provider found for location 'global' and API version '{version}' for type '{}'. The supported api-versions are '{}'.",
            ty.split_once('/').map_or(ty, |(_, t)| t),
            versions.join(", ")
        ),
    })
}

/// Azure's public regions, as ARM names them (lowercase, no spaces).
/// Source: `az account list-locations` (Learn, "Azure regions list"), checked 2026-12-01.
pub const LOCATIONS: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "chilecentral",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
];

/// `location` as ARM stores it (lowercase, spaces removed: "West Europe" is `westeurope`),
/// or 400 `LocationNotAvailableForResourceType` for a region that does not exist.
pub fn check_location(location: &str, resource_type: &str) -> Result<String, ArmError> {
    let normal: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if LOCATIONS.contains(&normal.as_str()) {
        return Ok(normal);
    }
    Err(ArmError {
        status: StatusCode::BAD_REQUEST,
        code: "LocationNotAvailableForResourceType",
        message: format!(
            "The provided location '{location}' is not available for resource type '{resource_type}'. List of available regions for the resource type is '{}'.",
            LOCATIONS.join(",")
        ),
    })
}

/// The resource group a target lives in, if any.
pub(crate) fn resource_group<'a>(target: &Target<'a>) -> Option<&'a str> {
    match *target {
        Target::Identities { rg }
        | Target::Identity { rg, .. }
        | Target::Fics { rg, .. }
        | Target::Fic { rg, .. }
        | Target::Vault { rg, .. }
        | Target::Application { rg, .. }
        | Target::ListTokens { rg, .. } => Some(rg),
        Target::RoleAssignment { scope, .. } | Target::PolicyAssignment { scope, .. } => {
            let segments: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
            (segments.len() >= 4 && segments[2].eq_ignore_ascii_case("resourceGroups"))
                .then(|| segments[3])
        }
        Target::ResourceGroup { .. } | Target::Subscription => None,
    }
}

/// 404 `ResourceGroupNotFound`.
pub fn resource_group_not_found(rg: &str) -> ArmError {
    ArmError {
        status: StatusCode::NOT_FOUND,
        code: "ResourceGroupNotFound",
        message: format!("Resource group '{rg}' could not be found."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_published_api_versions_pass() {
        let id = Target::Identity {
            rg: "rg",
            name: "u",
        };
        for ok in ["2023-01-31", "2024-11-30", "2018-11-30"] {
            assert!(check_api_version(&id, ok).is_ok(), "{ok}");
        }
        for bad in ["2023-01-30", "2099-01-01", "latest", ""] {
            let e = check_api_version(&id, bad).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "NoRegisteredProviderFound")
            );
            assert!(
                e.message.contains("2023-01-31") && e.message.contains(&format!("'{bad}'")),
                "{}",
                e.message
            );
        }
        assert!(check_api_version(&Target::Vault { rg: "r", name: "v" }, "2026-02-01").is_ok());
        assert!(check_api_version(&Target::Vault { rg: "r", name: "v" }, "2023-01-31").is_err());
        assert!(
            check_api_version(
                &Target::RoleAssignment {
                    scope: "/s",
                    name: "n"
                },
                "2022-04-01"
            )
            .is_ok()
        );
        assert!(
            check_api_version(&Target::ListTokens { rg: "r", name: "a" }, "2021-07-01").is_ok()
        );
        assert!(check_api_version(&Target::Subscription, "2022-12-01").is_ok());
        let policy = Target::PolicyAssignment {
            scope: "/subscriptions/s",
            name: "p",
        };
        assert!(check_api_version(&policy, "2023-04-01").is_ok());
        assert!(check_api_version(&policy, "2022-04-01").is_err());
        assert!(check_api_version(&Target::ResourceGroup { rg: "r" }, "2021-04-01").is_ok());
    }

    #[test]
    fn locations_are_normalised_or_refused() {
        assert_eq!(check_location("West Europe", "t").unwrap(), "westeurope");
        assert_eq!(check_location("eastus2", "t").unwrap(), "eastus2");
        for bad in ["moon", "west-europe", "", "westeurope2"] {
            let e = check_location(bad, "Microsoft.ManagedIdentity/userAssignedIdentities")
                .unwrap_err();
            assert_eq!(e.code, "LocationNotAvailableForResourceType", "{bad}");
            assert!(e.message.contains("userAssignedIdentities"));
        }
    }

    #[test]
    fn the_resource_group_of_each_target() {
        assert_eq!(
            resource_group(&Target::Fic {
                rg: "a",
                name: "u",
                fic: "f"
            }),
            Some("a")
        );
        assert_eq!(
            resource_group(&Target::RoleAssignment {
                scope: "/subscriptions/s/resourceGroups/b/providers/x/y/z",
                name: "n"
            }),
            Some("b")
        );
        assert_eq!(
            resource_group(&Target::RoleAssignment {
                scope: "/subscriptions/s",
                name: "n"
            }),
            None
        );
        assert_eq!(resource_group(&Target::ResourceGroup { rg: "c" }), None);
    }
}
