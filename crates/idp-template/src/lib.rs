//! The customer's half of the trust. The publisher's issuer is one half; the other lives in
//! each customer's tenant: a user-assigned managed identity, its federated identity
//! credential naming the issuer, and a role on the resource the publisher must reach. idp
//! knows the exact issuer and audience strings, so it writes that half too:
//! [`fic`] renders one credential for each deployment tool, [`managed_app`] renders the
//! managed-application package whose template creates all of it.
//!
//! The `entra-app` way moves the trust to the publisher's side: the publisher's
//! multi-tenant app registration carries the credential ([`fic::AppFic`], trusting the
//! publisher's own user-assigned managed identity), and each customer's tenant holds only
//! the app's service principal (made by admin consent) and its role, which the
//! managed-application package can grant ([`managed_app::render_entra_app`]).

pub mod fic;
pub mod managed_app;
pub mod names;
pub mod quote;

/// Resource types and the api-versions idp writes. Only GA versions the resource providers
/// publish; README "API versions" says when they were checked.
pub mod api {
    /// GA; the provider also publishes 2024-11-30, 2026-04-30 and 2026-05-31, whose
    /// identity bodies add `isolationScope` (not needed here). 2023-01-31 is the version
    /// idp's ARM client reads and every tool's examples use.
    /// Source: azure-rest-api-specs, specification/msi/resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31.
    pub const MANAGED_IDENTITY: &str = "2023-01-31";
    /// The newest GA: versions before it retire on 2027-02-27, and it makes RBAC
    /// authorization the default (set explicitly anyway).
    /// Source: azure-rest-api-specs, specification/keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/2026-02-01;
    /// Microsoft Learn, "Azure RBAC as the default access control model for Key Vault".
    pub const KEY_VAULT: &str = "2026-02-01";
    /// The newest GA. Source: azure-rest-api-specs,
    /// specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01.
    pub const ROLE_ASSIGNMENTS: &str = "2022-04-01";
    /// GA. Source: azure-rest-api-specs, specification/storage/resource-manager/Microsoft.Storage/stable/2025-01-01.
    pub const STORAGE: &str = "2025-01-01";

    pub const IDENTITY_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
    pub const FIC_TYPE: &str =
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";
    pub const VAULT_TYPE: &str = "Microsoft.KeyVault/vaults";
    pub const ROLE_ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";
    pub const STORAGE_TYPE: &str = "Microsoft.Storage/storageAccounts";

    /// Microsoft Graph's resources in Bicep, through the Microsoft Graph extension (GA,
    /// Bicep 0.36.1 or later): the extension's alias in `bicepconfig.json`, its registry
    /// reference, and the types the entra-app way's credential uses.
    /// Source: microsoftgraph/msgraph-bicep-types, quickstart-templates/msi-as-a-fic-secretless
    /// (main.bicep, bicepconfig.json) and generated/microsoftgraph/microsoft.graph/v1.0/1.0.0/types.md.
    pub const GRAPH_BICEP_EXTENSION: &str = "microsoftGraphV1";
    pub const GRAPH_BICEP_EXTENSION_REF: &str =
        "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0";
    pub const GRAPH_APPLICATION_TYPE: &str = "Microsoft.Graph/applications@v1.0";
    pub const GRAPH_FIC_TYPE: &str =
        "Microsoft.Graph/applications/federatedIdentityCredentials@v1.0";

    /// Every (type, apiVersion) the managed-app template uses.
    pub const TEMPLATE_RESOURCES: [(&str, &str); 5] = [
        (IDENTITY_TYPE, MANAGED_IDENTITY),
        (FIC_TYPE, MANAGED_IDENTITY),
        (VAULT_TYPE, KEY_VAULT),
        (ROLE_ASSIGNMENT_TYPE, ROLE_ASSIGNMENTS),
        (STORAGE_TYPE, STORAGE),
    ];
}

/// Built-in role definition ids. Source: Microsoft Learn, "Azure built-in roles".
pub mod roles {
    /// Key Vault Secrets Officer: read, set and delete secrets (data plane).
    pub const KEY_VAULT_SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
    /// Storage Blob Data Contributor: read, write and delete blobs (data plane).
    pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
}
