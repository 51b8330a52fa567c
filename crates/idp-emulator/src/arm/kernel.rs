//! The ARM kernel every resource provider builds on: ARM's error, what a request path
//! names, resource groups, and the checks on ids and names providers share.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An ARM failure: the status and `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ArmError {
    /// The HTTP status.
    pub status: StatusCode,
    /// ARM's error code, e.g. `ResourceNotFound`.
    pub code: &'static str,
    /// ARM's message.
    pub message: String,
}

impl ArmError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// The JSON body ARM sends.
    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

/// 1–90 characters of letters, digits, `-`, `_`, `.`, `(` and `)`, not ending in `.`.
pub fn valid_resource_group_name(name: &str) -> bool {
    (1..=90).contains(&name.len())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
}

pub(crate) fn check_resource_group(rg: &str) -> Result<(), ArmError> {
    if valid_resource_group_name(rg) {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceGroupName",
            format!("Resource group name '{rg}' is invalid."),
        ))
    }
}

/// A tracked resource's PUT without a location: ARM's 400 `LocationRequired`, the same for
/// every provider (resource groups, identities, vaults, managed applications).
pub(crate) fn check_location_given(location: &str) -> Result<(), ArmError> {
    if location.is_empty() {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "LocationRequired",
            "The location property is required for this definition.",
        ))
    } else {
        Ok(())
    }
}

/// Whether `scope` is `target` or a scope above it (ARM ids compare case-insensitively).
pub(crate) fn covers(scope: &str, target: &str) -> bool {
    let (s, t) = (
        scope.trim_end_matches('/').to_ascii_lowercase(),
        target.to_ascii_lowercase(),
    );
    t == s || t.starts_with(&format!("{s}/"))
}

/// A resource group: it must exist before anything is created in it, as in Azure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub name: String,
    pub location: String,
}

/// The subscription's resource groups.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct ResourceGroups(Vec<ResourceGroup>);

impl ResourceGroups {
    pub(crate) fn get(&self, rg: &str) -> Option<&ResourceGroup> {
        self.0.iter().find(|g| g.name.eq_ignore_ascii_case(rg))
    }

    /// Creates a resource group (or updates its tags, here nothing); `true` if created. Its
    /// location cannot change once set (ARM: `InvalidResourceGroupLocation`).
    pub(crate) fn put(
        &mut self,
        rg: &str,
        location: &str,
    ) -> Result<(ResourceGroup, bool), ArmError> {
        check_resource_group(rg)?;
        if let Some(g) = self.get(rg) {
            if g.location != location {
                return Err(ArmError::new(
                    StatusCode::CONFLICT,
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                        g.location
                    ),
                ));
            }
            return Ok((g.clone(), false));
        }
        let g = ResourceGroup {
            name: rg.to_owned(),
            location: location.to_owned(),
        };
        self.0.push(g.clone());
        Ok((g, true))
    }
}

/// What an ARM path names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    Identities {
        rg: &'a str,
    },
    Identity {
        rg: &'a str,
        name: &'a str,
    },
    Fics {
        rg: &'a str,
        name: &'a str,
    },
    Fic {
        rg: &'a str,
        name: &'a str,
        fic: &'a str,
    },
    /// `…/providers/Microsoft.KeyVault/vaults/{name}`.
    Vault {
        rg: &'a str,
        name: &'a str,
    },
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    RoleAssignment {
        scope: &'a str,
        name: &'a str,
    },
    /// `{scope}/providers/Microsoft.Authorization/policyAssignments/{name}`, the scope the
    /// subscription or a resource group.
    PolicyAssignment {
        scope: &'a str,
        name: &'a str,
    },
    /// `…/providers/Microsoft.Solutions/applications/{name}`.
    Application {
        rg: &'a str,
        name: &'a str,
    },
    /// `…/providers/Microsoft.Solutions/applications/{name}/listTokens`.
    ListTokens {
        rg: &'a str,
        name: &'a str,
    },
    /// `/subscriptions/{id}` itself (az login reads it).
    Subscription,
    /// `/subscriptions/{id}/resourcegroups/{rg}`.
    ResourceGroup {
        rg: &'a str,
    },
}

/// Splits `/subscriptions/{sub}/…` into the subscription and what it names.
pub(crate) fn parse_path(path: &str) -> Option<(&str, Target<'_>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let lit = |i: usize, want: &str| {
        segments
            .get(i)
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    if !lit(0, "subscriptions") || segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    let n = segments.len();
    if n == 2 {
        return Some((segments[1], Target::Subscription));
    }
    if n == 4 && lit(2, "resourceGroups") {
        return Some((segments[1], Target::ResourceGroup { rg: segments[3] }));
    }
    // A role assignment at any scope: the scope is everything before its provider.
    if n >= 6
        && lit(n - 4, "providers")
        && lit(n - 3, "Microsoft.Authorization")
        && lit(n - 2, "roleAssignments")
    {
        let marker = "/providers/microsoft.authorization/roleassignments/";
        let at = path.to_ascii_lowercase().rfind(marker)?;
        let scope = path[..at].trim_end_matches('/');
        return Some((
            segments[1],
            Target::RoleAssignment {
                scope,
                name: segments[n - 1],
            },
        ));
    }
    // A policy assignment at the subscription or a resource group (the scopes the
    // emulator's policies take; management groups and resources are not emulated).
    if (n == 6 || (n == 8 && lit(2, "resourceGroups")))
        && lit(n - 4, "providers")
        && lit(n - 3, "Microsoft.Authorization")
        && lit(n - 2, "policyAssignments")
    {
        let marker = "/providers/microsoft.authorization/policyassignments/";
        let at = path.to_ascii_lowercase().rfind(marker)?;
        return Some((
            segments[1],
            Target::PolicyAssignment {
                scope: path[..at].trim_end_matches('/'),
                name: segments[n - 1],
            },
        ));
    }
    if n == 8
        && lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.KeyVault")
        && lit(6, "vaults")
    {
        return Some((
            segments[1],
            Target::Vault {
                rg: segments[3],
                name: segments[7],
            },
        ));
    }
    if (n == 8 || n == 9)
        && lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.Solutions")
        && lit(6, "applications")
    {
        let (rg, name) = (segments[3], segments[7]);
        return match n {
            8 => Some((segments[1], Target::Application { rg, name })),
            _ if lit(8, "listTokens") => Some((segments[1], Target::ListTokens { rg, name })),
            _ => None,
        };
    }
    if !(lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.ManagedIdentity")
        && lit(6, "userAssignedIdentities"))
    {
        return None;
    }
    let (sub, rg) = (segments[1], segments[3]);
    let target = match segments.len() {
        7 => Target::Identities { rg },
        8 => Target::Identity {
            rg,
            name: segments[7],
        },
        9 if lit(8, "federatedIdentityCredentials") => Target::Fics {
            rg,
            name: segments[7],
        },
        10 if lit(8, "federatedIdentityCredentials") => Target::Fic {
            rg,
            name: segments[7],
            fic: segments[9],
        },
        _ => return None,
    };
    Some((sub, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_names_follow_arm_rules() {
        assert!(valid_resource_group_name("my.rg(1)"));
        assert!(!valid_resource_group_name("rg."));
        assert!(!valid_resource_group_name(""));
    }

    #[test]
    fn parse_path_matches_literals_case_insensitively() {
        let (sub, t) = parse_path(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/u/federatedidentitycredentials/f",
        )
        .unwrap();
        assert_eq!(sub, "s");
        assert_eq!(
            t,
            Target::Fic {
                rg: "rg",
                name: "u",
                fic: "f"
            }
        );
        assert_eq!(
            parse_path("/subscriptions/s/resourceGroups/rg").unwrap().1,
            Target::ResourceGroup { rg: "rg" }
        );
        assert_eq!(
            parse_path("/subscriptions/s").unwrap().1,
            Target::Subscription
        );
        assert!(parse_path("/subscriptions/s/resourceGroups").is_none());
        assert_eq!(
            parse_path("/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/p")
                .unwrap()
                .1,
            Target::PolicyAssignment {
                scope: "/subscriptions/s",
                name: "p"
            }
        );
        assert_eq!(
            parse_path(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.authorization/policyassignments/p"
            )
            .unwrap()
            .1,
            Target::PolicyAssignment {
                scope: "/subscriptions/s/resourcegroups/rg",
                name: "p"
            }
        );
        assert!(
            parse_path("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u/other")
                .is_none()
        );
        assert!(
            parse_path("/subscriptions/s/resourceGroups//providers/Microsoft.ManagedIdentity/userAssignedIdentities")
                .is_none()
        );
    }
}
