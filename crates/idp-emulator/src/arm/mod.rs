//! The ARM side: a kernel every resource provider shares, and one module per provider, each
//! owning its store and its rules:
//!
//! - [`kernel`]: ARM's error, what a request path names, resource groups, and the checks
//!   on ids and names providers share;
//! - [`identities`]: user-assigned managed identities and their federated identity
//!   credentials (`Microsoft.ManagedIdentity`);
//! - [`vaults`]: Key Vault's vaults, secrets and keys, and the built-in roles that allow
//!   its data actions (`Microsoft.KeyVault`);
//! - [`authorization`]: role assignments (`Microsoft.Authorization`);
//! - [`solutions`]: managed applications and `listTokens` (`Microsoft.Solutions`);
//! - [`policy`]: Azure Policy assignments of the built-in FIC issuer policy
//!   (`Microsoft.Authorization/policyAssignments`).
//!
//! The `Registry` composes the stores into the emulator's whole persisted state (ARM's,
//! and beside it the tenants' Microsoft Graph directories and the machine's identities'
//! ids), and answers what takes more than one provider: whether a role assignment's scope
//! exists, whether a role allows an action in a vault, which identities an application
//! names, whether a policy denies a FIC.

pub mod authorization;
pub mod identities;
pub mod kernel;
pub mod policy;
pub mod solutions;
pub mod vaults;

pub use identities::{
    FIC_TYPE, FederatedCredential, FicSpec, IDENTITY_TYPE, Identity, MAX_FIC_FIELD_CHARS,
    MAX_FICS_PER_IDENTITY, identity_id, valid_fic_name, valid_identity_name,
};
pub use kernel::{ArmError, ResourceGroup, valid_resource_group_name};

use crate::graph::Directories;
use crate::machine::MachineIdentities;
use authorization::{RoleAssignment, RoleAssignments};
use identities::Identities;
use kernel::{ResourceGroups, covers};
use policy::PolicyAssignments;
use serde::{Deserialize, Serialize};
use solutions::{Application, Applications};
use vaults::{SecretAction, Vault, Vaults, vault_id};

/// All identities, vaults, role assignments, applications, resource groups and policy
/// assignments (the emulator's whole ARM state), the tenants' Graph directories and the
/// machine identities' ids.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Registry {
    pub(crate) identities: Identities,
    #[serde(default)]
    pub(crate) vaults: Vaults,
    #[serde(default)]
    pub(crate) role_assignments: RoleAssignments,
    #[serde(default)]
    pub(crate) applications: Applications,
    #[serde(default)]
    pub(crate) resource_groups: ResourceGroups,
    #[serde(default)]
    pub(crate) policy_assignments: PolicyAssignments,
    #[serde(default)]
    pub(crate) directories: Directories,
    #[serde(default)]
    pub(crate) machine_identities: MachineIdentities,
}

impl Registry {
    /// Creates a role assignment at `scope`, which must exist: the subscription, a resource
    /// group, an identity or a vault (the other rules are [`RoleAssignments::put`]'s).
    pub(crate) fn put_role_assignment(
        &mut self,
        subscription: &str,
        scope: &str,
        name: &str,
        role_definition_id: &str,
        principal_id: &str,
        principal_type: &str,
    ) -> Result<(RoleAssignment, bool), ArmError> {
        let scope_exists = self.scope_exists(subscription, scope);
        self.role_assignments.put(
            scope,
            name,
            role_definition_id,
            principal_id,
            principal_type,
            scope_exists,
        )
    }

    fn scope_exists(&self, subscription: &str, scope: &str) -> bool {
        let sub = format!("/subscriptions/{subscription}");
        if scope.eq_ignore_ascii_case(&sub) {
            return true;
        }
        let segments: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
        if !covers(&sub, scope)
            || segments.len() < 4
            || !segments[2].eq_ignore_ascii_case("resourceGroups")
        {
            return false;
        }
        let rg = segments[3];
        match segments.len() {
            4 => self.resource_groups.get(rg).is_some(),
            8 if segments[5].eq_ignore_ascii_case("Microsoft.KeyVault")
                && segments[6].eq_ignore_ascii_case("vaults") =>
            {
                self.vaults.get(rg, segments[7]).is_ok()
            }
            8 if segments[5].eq_ignore_ascii_case("Microsoft.ManagedIdentity")
                && segments[6].eq_ignore_ascii_case("userAssignedIdentities") =>
            {
                self.identities.get(rg, segments[7]).is_ok()
            }
            _ => false,
        }
    }

    /// Whether `principal` may do `action` in `vault`: an assignment of a role allowing it
    /// at the vault or a scope above it.
    pub(crate) fn allows(
        &self,
        subscription: &str,
        vault: &Vault,
        principal: &str,
        action: SecretAction,
    ) -> bool {
        let target = vault_id(subscription, vault);
        self.role_assignments
            .grants(principal, &target, action.roles())
    }

    /// Creates or updates an application, whose identities must exist (see
    /// [`Applications::put`]).
    pub(crate) fn put_application(
        &mut self,
        subscription: &str,
        app: Application,
    ) -> Result<(Application, bool), ArmError> {
        self.applications.put(subscription, app, &self.identities)
    }

    /// The policy denial of a FIC PUT, if any: ARM evaluates the request against the
    /// assignments covering the FIC before the resource provider sees it (Learn, "Azure
    /// Policy: evaluation of Resource Manager requests"), so the denial comes before the
    /// provider's own checks. The error and ARM's whole body.
    pub(crate) fn fic_policy_denial(
        &self,
        subscription: &str,
        rg: &str,
        identity: &str,
        fic: &str,
        issuer: &str,
    ) -> Option<(ArmError, serde_json::Value)> {
        let id = format!(
            "/subscriptions/{subscription}/resourceGroups/{rg}/providers/{IDENTITY_TYPE}/{identity}/federatedIdentityCredentials/{fic}"
        );
        let denials = self.policy_assignments.denials(&id, issuer);
        (!denials.is_empty()).then(|| policy::disallowed(fic, &denials))
    }

    /// What `listTokens` may hand `caller` (see [`Applications::list_tokens_for`]).
    pub(crate) fn list_tokens_for(
        &self,
        subscription: &str,
        rg: &str,
        name: &str,
        caller: &str,
        asked: Option<&[String]>,
    ) -> Result<Vec<(String, Identity)>, ArmError> {
        self.applications
            .list_tokens_for(subscription, rg, name, caller, asked, &self.identities)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::new_guid;
    use axum::http::StatusCode;
    use vaults::{KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_SECRETS_USER};

    const SUB: &str = "20000000-0000-4000-8000-000000000002";
    const P: &str = "50000000-0000-4000-8000-000000000005";

    fn role(guid: &str) -> String {
        format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    }

    fn with_vault() -> Registry {
        let mut r = Registry::default();
        r.resource_groups.put("rg", "westeurope").unwrap();
        r.vaults
            .put("rg", "kv-one", "westeurope", true, "standard")
            .unwrap();
        r
    }

    #[test]
    fn only_a_role_with_the_data_action_at_or_above_the_vault_allows() {
        let mut r = with_vault();
        r.identities
            .put("rg", "uami", "westeurope", Default::default())
            .unwrap();
        let vault = r.vaults.get("rg", "kv-one").unwrap().clone();
        let id = vault_id(SUB, &vault);
        assert!(!r.allows(SUB, &vault, P, SecretAction::Get));
        // Secrets User at the vault: get, not set.
        r.put_role_assignment(
            SUB,
            &id,
            &new_guid(),
            &role(KEY_VAULT_SECRETS_USER),
            P,
            "ServicePrincipal",
        )
        .unwrap();
        assert!(r.allows(SUB, &vault, P, SecretAction::Get));
        assert!(!r.allows(SUB, &vault, P, SecretAction::Set));
        assert!(!r.allows(
            SUB,
            &vault,
            "60000000-0000-4000-8000-000000000006",
            SecretAction::Get
        ));
        // Secrets Officer at the resource group covers the vault; Reader allows nothing.
        let reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
        let q = "70000000-0000-4000-8000-000000000007";
        r.put_role_assignment(
            SUB,
            &format!("/subscriptions/{SUB}/resourceGroups/rg"),
            &new_guid(),
            &role(reader),
            q,
            "",
        )
        .unwrap();
        assert!(!r.allows(SUB, &vault, q, SecretAction::Get));
        r.put_role_assignment(
            SUB,
            &format!("/subscriptions/{SUB}/resourceGroups/RG"),
            &new_guid(),
            &role(KEY_VAULT_SECRETS_OFFICER),
            q,
            "",
        )
        .unwrap();
        assert!(r.allows(SUB, &vault, q, SecretAction::Set));
        // A sibling vault whose name starts like this one is not covered.
        r.vaults
            .put("rg", "kv-one2", "westeurope", true, "standard")
            .unwrap();
        let sibling = r.vaults.get("rg", "kv-one2").unwrap().clone();
        assert!(!r.allows(SUB, &sibling, P, SecretAction::Get));
    }

    #[test]
    fn a_role_assignments_scope_must_exist() {
        let mut r = with_vault();
        r.identities
            .put("rg", "uami", "westeurope", Default::default())
            .unwrap();
        r.resource_groups.put("empty", "westeurope").unwrap();
        let sub = format!("/subscriptions/{SUB}");
        for (scope, exists) in [
            (sub.clone(), true),
            (format!("{sub}/resourceGroups/rg"), true),
            (format!("{sub}/RESOURCEGROUPS/empty"), true),
            (format!("{sub}/resourceGroups/nope"), false),
            (
                format!("{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-one"),
                true,
            ),
            (
                format!("{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-two"),
                false,
            ),
            (
                format!(
                    "{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami"
                ),
                true,
            ),
            (
                format!(
                    "{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other"
                ),
                false,
            ),
            (
                format!(
                    "{sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/kv-one"
                ),
                false,
            ),
            (
                format!("{sub}/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/kv-one"),
                false,
            ),
            (
                format!(
                    "{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/identities/uami"
                ),
                false,
            ),
            (format!("{sub}/groups/rg"), false),
            (format!("{sub}/resourceGroups"), false),
            (
                "/subscriptions/30000000-0000-4000-8000-000000000003".to_owned(),
                false,
            ),
            (
                "/subscriptions/30000000-0000-4000-8000-000000000003/resourceGroups/rg".to_owned(),
                false,
            ),
        ] {
            assert_eq!(r.scope_exists(SUB, &scope), exists, "{scope}");
        }
    }

    #[test]
    fn role_assignments_are_checked_as_arm_checks_them() {
        let mut r = with_vault();
        let vault = r.vaults.get("rg", "kv-one").unwrap().clone();
        let id = vault_id(SUB, &vault);
        let name = new_guid();
        let good = role(KEY_VAULT_SECRETS_OFFICER);
        assert_eq!(
            r.put_role_assignment(SUB, &id, "not-a-guid", &good, P, "")
                .unwrap_err()
                .code,
            "InvalidRoleAssignmentId"
        );
        assert_eq!(
            r.put_role_assignment(SUB, &id, &name, "reader", P, "")
                .unwrap_err()
                .code,
            "InvalidRoleDefinitionId"
        );
        assert_eq!(
            r.put_role_assignment(SUB, &id, &name, &good, "x", "")
                .unwrap_err()
                .code,
            "InvalidPrincipalId"
        );
        let missing = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/nope"
        );
        assert_eq!(
            r.put_role_assignment(SUB, &missing, &name, &good, P, "")
                .unwrap_err()
                .status,
            StatusCode::NOT_FOUND
        );
        let (a, created) = r
            .put_role_assignment(SUB, &id, &name, &good, P, "ServicePrincipal")
            .unwrap();
        assert!(created);
        assert_eq!(a.principal_type, "ServicePrincipal");
        // The same PUT again: 200, unchanged. Another principal under that name: 409.
        assert!(
            !r.put_role_assignment(SUB, &id, &name, &good, P, "ServicePrincipal")
                .unwrap()
                .1
        );
        let other = "60000000-0000-4000-8000-000000000006";
        assert_eq!(
            r.put_role_assignment(SUB, &id, &name, &good, other, "")
                .unwrap_err()
                .code,
            "RoleAssignmentUpdateNotPermitted"
        );
        // The same role for the same principal at the same scope, another name: 409.
        assert_eq!(
            r.put_role_assignment(SUB, &id, &new_guid(), &good, P, "")
                .unwrap_err()
                .code,
            "RoleAssignmentExists"
        );
        assert_eq!(r.role_assignments.get(&id, &name).unwrap().principal_id, P);
        // The same name at another scope is another (missing) assignment.
        let other_scope = format!("/subscriptions/{SUB}/resourceGroups/rg");
        assert!(r.role_assignments.get(&other_scope, &name).is_err());
        assert!(r.role_assignments.delete(&other_scope, &name).is_none());
        assert!(r.role_assignments.get(&id, &new_guid()).is_err());
        assert!(r.role_assignments.delete(&id, &name).is_some());
        assert!(r.role_assignments.get(&id, &name).is_err());
    }
}
