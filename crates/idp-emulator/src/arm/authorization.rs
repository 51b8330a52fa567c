//! Role assignments (`Microsoft.Authorization/roleAssignments`): who holds which role at
//! which scope (Azure RBAC). Which roles allow what is the resource provider's business
//! (Key Vault's built-in roles are in the `vaults` module).
//!
//! | method | path | answer |
//! |---|---|---|
//! | PUT, GET, DELETE | `{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}` body `{"properties": {"roleDefinitionId", "principalId", "principalType"?}}` | 201 / 200 |

use super::kernel::{ArmError, covers};
use crate::ids::is_guid;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const ROLE_ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// A role assignment: `principal_id` holds `role_definition_id` at `scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub name: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
}

/// A role assignment's ARM body.
pub fn role_assignment_json(a: &RoleAssignment) -> Value {
    json!({
        "id": format!("{}/providers/{ROLE_ASSIGNMENT_TYPE}/{}", a.scope, a.name),
        "name": a.name,
        "type": ROLE_ASSIGNMENT_TYPE,
        "properties": {
            "roleDefinitionId": a.role_definition_id,
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
        }
    })
}

/// The role definition's GUID from `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}`
/// (or `/providers/Microsoft.Authorization/roleDefinitions/{guid}`).
fn role_guid(role_definition_id: &str) -> Option<&str> {
    let lower = role_definition_id.to_ascii_lowercase();
    let marker = "/providers/microsoft.authorization/roledefinitions/";
    let at = lower.find(marker)?;
    let guid = &role_definition_id[at + marker.len()..];
    is_guid(guid).then_some(guid)
}

/// Every role assignment.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct RoleAssignments(Vec<RoleAssignment>);

impl RoleAssignments {
    /// Creates a role assignment at `scope` (which must exist: the subscription, a
    /// resource group, an identity or a vault; the registry, which knows them all, says so
    /// in `scope_exists`); `true` if created. ARM refuses to change
    /// an existing assignment's role or principal (409 RoleAssignmentUpdateNotPermitted)
    /// and a second assignment of the same role to the same principal at the same scope
    /// (409 RoleAssignmentExists).
    /// Source: azure-rest-api-specs Authorization stable/2022-04-01 RoleAssignments_Create;
    /// Learn, "Troubleshoot Azure RBAC" (RoleAssignmentExists, PrincipalNotFound).
    pub(crate) fn put(
        &mut self,
        scope: &str,
        name: &str,
        role_definition_id: &str,
        principal_id: &str,
        principal_type: &str,
        scope_exists: bool,
    ) -> Result<(RoleAssignment, bool), ArmError> {
        let bad = |m: String| ArmError::new(StatusCode::BAD_REQUEST, "InvalidRoleAssignmentId", m);
        if !is_guid(name) {
            return Err(bad(format!(
                "The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."
            )));
        }
        if role_guid(role_definition_id).is_none() {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRoleDefinitionId",
                format!("The role definition ID '{role_definition_id}' is not valid."),
            ));
        }
        if !is_guid(principal_id) {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPrincipalId",
                "A valid principal ID must be provided for role assignment.",
            ));
        }
        if !scope_exists {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!("The scope '{scope}' does not exist."),
            ));
        }
        if let Some(existing) = self.0.iter().find(|a| a.name.eq_ignore_ascii_case(name)) {
            if existing.principal_id.eq_ignore_ascii_case(principal_id)
                && existing
                    .role_definition_id
                    .eq_ignore_ascii_case(role_definition_id)
                && existing.scope.eq_ignore_ascii_case(scope)
            {
                return Ok((existing.clone(), false));
            }
            return Err(ArmError::new(
                StatusCode::CONFLICT,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            ));
        }
        if self.0.iter().any(|a| {
            a.principal_id.eq_ignore_ascii_case(principal_id)
                && role_guid(&a.role_definition_id).map(str::to_ascii_lowercase)
                    == role_guid(role_definition_id).map(str::to_ascii_lowercase)
                && a.scope.eq_ignore_ascii_case(scope)
        }) {
            return Err(ArmError::new(
                StatusCode::CONFLICT,
                "RoleAssignmentExists",
                "The role assignment already exists.",
            ));
        }
        let a = RoleAssignment {
            name: name.to_owned(),
            scope: scope.to_owned(),
            role_definition_id: role_definition_id.to_owned(),
            principal_id: principal_id.to_owned(),
            principal_type: if principal_type.is_empty() {
                "User".into()
            } else {
                principal_type.to_owned()
            },
        };
        self.0.push(a.clone());
        Ok((a, true))
    }

    pub(crate) fn get(&self, scope: &str, name: &str) -> Result<&RoleAssignment, ArmError> {
        self.0
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name) && a.scope.eq_ignore_ascii_case(scope))
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "RoleAssignmentNotFound",
                    format!("The role assignment '{name}' is not found."),
                )
            })
    }

    pub(crate) fn delete(&mut self, scope: &str, name: &str) -> Option<RoleAssignment> {
        let i = self.0.iter().position(|a| {
            a.name.eq_ignore_ascii_case(name) && a.scope.eq_ignore_ascii_case(scope)
        })?;
        Some(self.0.remove(i))
    }

    /// Whether `principal` holds one of `roles` (role definition GUIDs) at `target` or a
    /// scope above it.
    pub(crate) fn grants(&self, principal: &str, target: &str, roles: &[&str]) -> bool {
        self.0.iter().any(|a| {
            a.principal_id.eq_ignore_ascii_case(principal)
                && covers(&a.scope, target)
                && role_guid(&a.role_definition_id)
                    .is_some_and(|g| roles.iter().any(|r| r.eq_ignore_ascii_case(g)))
        })
    }
}
