//! The managed-application definition package: `mainTemplate.json`,
//! `createUiDefinition.json`, and `app.zip` holding exactly those two at its root, as
//! `az managedapp definition create --package-file-uri` takes it.
//!
//! The template deploys into the managed resource group a user-assigned managed identity,
//! its federated credential (issuer and audience written as literals, never parameters), a
//! Key Vault with RBAC authorization and the identity as *Key Vault Secrets Officer* on
//! it, and optionally a storage account with *Storage Blob Data Contributor*.
//!
//! The credential's subject is the managed resource group's id (`resourceGroup().id`):
//! - immutable: a resource group cannot be renamed or moved, so the subject never changes
//!   under an existing credential;
//! - one per deployment: every managed application gets its own managed resource group,
//!   and the id includes the subscription, so no two live deployments share a subject and
//!   an assertion for one customer is refused by every other customer's credential;
//! - known to the publisher: the application's `managedResourceGroupId` names it, and
//!   `idp customers add --identity` reads it back from the credential byte for byte.
//!
//! Names a customer types (the application's name) are not used: they can repeat across
//! customers.
//!
//! [`render_entra_app`] renders the entra-app way's package: no identity and no credential
//! (the trust is on the publisher's app registration, in the publisher's tenant); the
//! template gives the app's service principal, made in the customer's tenant by admin
//! consent, the same roles on the same vault and optional storage account. A template
//! cannot find that service principal (template functions do not reach Microsoft Graph),
//! so the create form looks it up (`Microsoft.Solutions.GraphApiControl`, `GET
//! /v1.0/servicePrincipals?$filter=appId eq '{app id}'`) and passes its object id as the
//! parameter `servicePrincipalObjectId`, in a text box the customer can also fill in.

use crate::fic::pretty;
use crate::names::Guid;
use crate::quote;
use crate::{api, roles};
use idp_core::Issuer;
use idp_core::assertion::Audience;
use idp_core::diagnostic::Diagnostic;
use idp_core::fsutil::{self, Overwrite, WriteError};
use serde_json::{Value, json};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// File names inside the package; Azure looks for exactly these at the zip's root.
/// Source: Microsoft Learn, "Quickstart: Create and publish an Azure Managed Application
/// definition" ("the .zip file … must contain mainTemplate.json and createUiDefinition.json
/// at the root").
pub const MAIN_TEMPLATE: &str = "mainTemplate.json";
pub const CREATE_UI_DEFINITION: &str = "createUiDefinition.json";
pub const APP_ZIP: &str = "app.zip";

/// The deployment template schema. Source: Microsoft Learn, "Template structure and syntax".
pub const TEMPLATE_SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";
/// Source: Microsoft Learn, "CreateUiDefinition.json for Azure managed application's create
/// experience".
pub const CREATE_UI_SCHEMA: &str =
    "https://schema.management.azure.com/schemas/0.1.2-preview/CreateUIDefinition.MultiVm.json#";

/// The template's fixed names inside the managed resource group.
pub const IDENTITY_NAME: &str = "publisher-identity";
pub const FIC_NAME: &str = "idp";
/// The subject expression: the managed resource group's id (see the module docs).
pub const SUBJECT_EXPRESSION: &str = "[resourceGroup().id]";

/// The rendered package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub main_template: String,
    pub create_ui_definition: String,
}

/// Renders the package for this issuer and audience.
pub fn render(issuer: &Issuer, audience: &Audience) -> Package {
    Package {
        main_template: pretty(&main_template(issuer, audience)),
        create_ui_definition: pretty(&create_ui_definition()),
    }
}

fn identity_id() -> String {
    format!(
        "resourceId('{}', variables('identityName'))",
        api::IDENTITY_TYPE
    )
}

fn vault_id() -> String {
    format!("resourceId('{}', variables('vaultName'))", api::VAULT_TYPE)
}

fn storage_id() -> String {
    format!(
        "resourceId('{}', variables('storageName'))",
        api::STORAGE_TYPE
    )
}

/// Who the data plane's role assignments are for, as template expressions: the principal
/// id, the expression its assignments' names are made from, and the resource they wait
/// for besides the vault or storage account (the FIC, for the publisher's identity).
struct Grantee {
    principal: String,
    guid_seed: String,
    after: Option<String>,
}

/// The data plane both ways' templates create: the Key Vault with the grantee as Key Vault
/// Secrets Officer on it, and (when `deployStorage`) the storage account with the grantee
/// as Storage Blob Data Contributor.
fn data_plane(grantee: &Grantee) -> [Value; 4] {
    let (vault, storage) = (vault_id(), storage_id());
    let Grantee {
        principal,
        guid_seed,
        after,
    } = grantee;
    let role_definition = |var: &str| {
        format!(
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('{var}'))]"
        )
    };
    let depends_on = |resource: &str| {
        std::iter::once(resource)
            .chain(after.as_deref())
            .map(|r| format!("[{r}]"))
            .collect::<Vec<_>>()
    };
    [
        json!({
            "type": api::VAULT_TYPE,
            "apiVersion": api::KEY_VAULT,
            "name": "[variables('vaultName')]",
            "location": "[parameters('location')]",
            "properties": {
                "tenantId": "[subscription().tenantId]",
                "sku": { "family": "A", "name": "standard" },
                "enableRbacAuthorization": true,
                "enableSoftDelete": true,
                "softDeleteRetentionInDays": 90
            }
        }),
        json!({
            "type": api::ROLE_ASSIGNMENT_TYPE,
            "apiVersion": api::ROLE_ASSIGNMENTS,
            "scope": format!("[format('{}/{{0}}', variables('vaultName'))]", api::VAULT_TYPE),
            "name": format!("[guid({vault}, {guid_seed}, variables('keyVaultSecretsOfficer'))]"),
            "dependsOn": depends_on(&vault),
            "properties": {
                "roleDefinitionId": role_definition("keyVaultSecretsOfficer"),
                "principalId": principal,
                // Said, so ARM does not look the principal up in a directory that may
                // not show it yet (an identity or a consent made moments ago).
                "principalType": "ServicePrincipal"
            }
        }),
        json!({
            "condition": "[parameters('deployStorage')]",
            "type": api::STORAGE_TYPE,
            "apiVersion": api::STORAGE,
            "name": "[variables('storageName')]",
            "location": "[parameters('location')]",
            "kind": "StorageV2",
            "sku": { "name": "Standard_LRS" },
            "properties": {
                "allowBlobPublicAccess": false,
                "allowSharedKeyAccess": false,
                "minimumTlsVersion": "TLS1_2",
                "supportsHttpsTrafficOnly": true
            }
        }),
        json!({
            "condition": "[parameters('deployStorage')]",
            "type": api::ROLE_ASSIGNMENT_TYPE,
            "apiVersion": api::ROLE_ASSIGNMENTS,
            "scope": format!("[format('{}/{{0}}', variables('storageName'))]", api::STORAGE_TYPE),
            "name": format!("[guid({storage}, {guid_seed}, variables('storageBlobDataContributor'))]"),
            "dependsOn": depends_on(&storage),
            "properties": {
                "roleDefinitionId": role_definition("storageBlobDataContributor"),
                "principalId": principal,
                "principalType": "ServicePrincipal"
            }
        }),
    ]
}

fn main_template(issuer: &Issuer, audience: &Audience) -> Value {
    let identity = identity_id();
    let (vault, storage) = (vault_id(), storage_id());
    let fic = format!(
        "resourceId('{}', variables('identityName'), variables('ficName'))",
        api::FIC_TYPE
    );
    let principal = format!(
        "[reference({identity}, '{}').principalId]",
        api::MANAGED_IDENTITY
    );
    let [vault_resource, vault_role, storage_resource, storage_role] = data_plane(&Grantee {
        principal: principal.clone(),
        guid_seed: identity.clone(),
        after: Some(fic.clone()),
    });
    json!({
        "$schema": TEMPLATE_SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "description": "Creates the managed identity the publisher signs in as (through workload identity federation with the publisher's issuer), the Key Vault it may write secrets to, and optionally a storage account it may write blobs to. Rendered by idp managed-app package."
        },
        "parameters": {
            "location": {
                "type": "string",
                "defaultValue": "[resourceGroup().location]",
                "metadata": { "description": "Where the resources are created" }
            },
            "deployStorage": {
                "type": "bool",
                "defaultValue": false,
                "metadata": { "description": "Also create a storage account the publisher may write blobs to" }
            }
        },
        "variables": {
            "identityName": IDENTITY_NAME,
            "ficName": FIC_NAME,
            "vaultName": "[format('kv{0}', uniqueString(resourceGroup().id))]",
            "storageName": "[format('st{0}', uniqueString(resourceGroup().id))]",
            "keyVaultSecretsOfficer": roles::KEY_VAULT_SECRETS_OFFICER,
            "storageBlobDataContributor": roles::STORAGE_BLOB_DATA_CONTRIBUTOR
        },
        "resources": [
            {
                "type": api::IDENTITY_TYPE,
                "apiVersion": api::MANAGED_IDENTITY,
                "name": "[variables('identityName')]",
                "location": "[parameters('location')]"
            },
            {
                "type": api::FIC_TYPE,
                "apiVersion": api::MANAGED_IDENTITY,
                "name": "[format('{0}/{1}', variables('identityName'), variables('ficName'))]",
                "dependsOn": [format!("[{identity}]")],
                "properties": {
                    // Literals: a customer parameter here is how AADSTS700211 is born.
                    "issuer": quote::arm(issuer.as_str()),
                    "subject": SUBJECT_EXPRESSION,
                    "audiences": [quote::arm(audience.as_str())]
                }
            },
            vault_resource,
            vault_role,
            storage_resource,
            storage_role
        ],
        "outputs": {
            "tenantId": { "type": "string", "value": "[subscription().tenantId]" },
            "clientId": {
                "type": "string",
                "value": format!("[reference({identity}, '{}').clientId]", api::MANAGED_IDENTITY)
            },
            "principalId": { "type": "string", "value": principal },
            "identityResourceId": { "type": "string", "value": format!("[{identity}]") },
            "federatedCredentialSubject": { "type": "string", "value": SUBJECT_EXPRESSION },
            "vaultUri": {
                "type": "string",
                "value": format!("[reference({vault}, '{}').vaultUri]", api::KEY_VAULT)
            },
            "blobEndpoint": {
                "condition": "[parameters('deployStorage')]",
                "type": "string",
                "value": format!("[reference({storage}, '{}').primaryEndpoints.blob]", api::STORAGE)
            }
        }
    })
}

fn create_ui_definition() -> Value {
    json!({
        "$schema": CREATE_UI_SCHEMA,
        "handler": "Microsoft.Azure.CreateUIDef",
        "version": "0.1.2-preview",
        "parameters": {
            "basics": [
                {
                    "name": "deployStorage",
                    "type": "Microsoft.Common.CheckBox",
                    "label": "Create a storage account for the publisher",
                    "toolTip": "The publisher's automation may then write blobs to it (Storage Blob Data Contributor), besides secrets in the Key Vault."
                }
            ],
            "steps": [],
            "outputs": {
                "location": "[location()]",
                "deployStorage": "[basics('deployStorage')]"
            }
        }
    })
}

/// The entra-app template's parameter: the object id of the publisher's app's service
/// principal in the customer's tenant.
pub const SERVICE_PRINCIPAL_PARAMETER: &str = "servicePrincipalObjectId";
/// The create form's step holding the lookup and the text box.
pub const PUBLISHER_ACCESS_STEP: &str = "publisherAccess";
/// A GUID, as the create form's text box checks it (with a length, as arm-ttk asks).
pub const GUID_REGEX: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Renders the entra-app way's package for the publisher's multi-tenant app `app_id` (its
/// application (client) id); `authority_host` is the customers' cloud's, for the admin
/// consent URL the form names.
pub fn render_entra_app(app_id: &Guid, authority_host: &str) -> Package {
    Package {
        main_template: pretty(&entra_app_template(app_id)),
        create_ui_definition: pretty(&entra_app_ui(app_id, authority_host)),
    }
}

fn entra_app_template(app_id: &Guid) -> Value {
    let (vault, storage) = (vault_id(), storage_id());
    let principal = format!("[parameters('{SERVICE_PRINCIPAL_PARAMETER}')]");
    json!({
        "$schema": TEMPLATE_SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "description": format!("Gives the publisher's multi-tenant app {}, consented to in this tenant, the Key Vault it may write secrets to, and optionally a storage account it may write blobs to. No identity and no federated credential: the app's credential is in the publisher's tenant. Rendered by idp managed-app package --way entra-app.", app_id.as_str())
        },
        "parameters": {
            "location": {
                "type": "string",
                "defaultValue": "[resourceGroup().location]",
                "metadata": { "description": "Where the resources are created" }
            },
            "deployStorage": {
                "type": "bool",
                "defaultValue": false,
                "metadata": { "description": "Also create a storage account the publisher may write blobs to" }
            },
            SERVICE_PRINCIPAL_PARAMETER: {
                "type": "string",
                "minLength": 36,
                "maxLength": 36,
                "metadata": { "description": format!("The object id of the publisher's app {} in this tenant (its service principal, an enterprise application); it exists once an administrator has consented to the app", app_id.as_str()) }
            }
        },
        "variables": {
            "publisherAppId": quote::arm(app_id.as_str()),
            "vaultName": "[format('kv{0}', uniqueString(resourceGroup().id))]",
            "storageName": "[format('st{0}', uniqueString(resourceGroup().id))]",
            "keyVaultSecretsOfficer": roles::KEY_VAULT_SECRETS_OFFICER,
            "storageBlobDataContributor": roles::STORAGE_BLOB_DATA_CONTRIBUTOR
        },
        "resources": data_plane(&Grantee {
            principal: principal.clone(),
            guid_seed: format!("parameters('{SERVICE_PRINCIPAL_PARAMETER}')"),
            after: None,
        }),
        "outputs": {
            "tenantId": { "type": "string", "value": "[subscription().tenantId]" },
            "publisherAppId": { "type": "string", "value": "[variables('publisherAppId')]" },
            "servicePrincipalObjectId": { "type": "string", "value": principal },
            "vaultUri": {
                "type": "string",
                "value": format!("[reference({vault}, '{}').vaultUri]", api::KEY_VAULT)
            },
            "blobEndpoint": {
                "condition": "[parameters('deployStorage')]",
                "type": "string",
                "value": format!("[reference({storage}, '{}').primaryEndpoints.blob]", api::STORAGE)
            }
        }
    })
}

/// The create form: the storage checkbox as today, and a step that names the consent,
/// looks the app's service principal up in Microsoft Graph and shows its object id in a
/// text box (filled in by the lookup; typed in where the lookup finds nothing or the
/// user may not read service principals).
/// Sources: Azure/portaldocs, portal-sdk/generated/dx-control-Microsoft.Solutions.GraphApiControl.md
/// and dx-function-transforms.md (GET only, a path relative to Microsoft Graph, JMESPath
/// `transforms` read as `.transformed.<name>`); Azure/arm-ttk, which lists
/// `Microsoft.Solutions.GraphApiControl` among createUiDefinition's controls (commit
/// d77d856, 2024-03-01) and wants every text box to have a regex with a length;
/// Microsoft Learn, "Microsoft.Common.InfoBox", "Microsoft.Common.TextBox",
/// "CreateUiDefinition functions" (`coalesce`).
fn entra_app_ui(app_id: &Guid, authority_host: &str) -> Value {
    let app = app_id.as_str();
    let consent = format!(
        "{}/<this tenant's id>/adminconsent?client_id={app}",
        authority_host.trim_end_matches('/')
    );
    json!({
        "$schema": CREATE_UI_SCHEMA,
        "handler": "Microsoft.Azure.CreateUIDef",
        "version": "0.1.2-preview",
        "parameters": {
            "basics": [
                {
                    "name": "deployStorage",
                    "type": "Microsoft.Common.CheckBox",
                    "label": "Create a storage account for the publisher",
                    "toolTip": "The publisher's automation may then write blobs to it (Storage Blob Data Contributor), besides secrets in the Key Vault."
                }
            ],
            "steps": [
                {
                    "name": PUBLISHER_ACCESS_STEP,
                    "label": "Publisher access",
                    "elements": [
                        {
                            "name": "consent",
                            "type": "Microsoft.Common.InfoBox",
                            "visible": true,
                            "options": {
                                "icon": "Info",
                                "text": format!("The publisher signs in as its app {app}. Before this deployment, an administrator of this tenant consents to that app once, at {consent} (the publisher sends the link). The consent makes the app's service principal here; this deployment gives it Key Vault Secrets Officer on the vault it creates, and nothing else.")
                            }
                        },
                        {
                            "name": "servicePrincipalLookup",
                            "type": "Microsoft.Solutions.GraphApiControl",
                            "request": {
                                "method": "GET",
                                "path": format!("/v1.0/servicePrincipals?$filter=appId eq '{app}'&$select=id,appId,displayName"),
                                "transforms": {
                                    "id": "value[0].id"
                                }
                            }
                        },
                        {
                            "name": SERVICE_PRINCIPAL_PARAMETER,
                            "type": "Microsoft.Common.TextBox",
                            "label": "Object id of the publisher's app in this tenant",
                            "defaultValue": format!("[coalesce(steps('{PUBLISHER_ACCESS_STEP}').servicePrincipalLookup.transformed.id, '')]"),
                            "toolTip": format!("Filled in from Microsoft Graph once the app is consented to in this tenant. Else find it yourself: Microsoft Entra admin center, Enterprise applications, application id {app}, Object ID; or `az ad sp show --id {app} --query id -o tsv`."),
                            "constraints": {
                                "required": true,
                                "regex": GUID_REGEX,
                                "validationMessage": "The service principal's object id, a GUID like 00000000-0000-0000-0000-000000000000. Empty: the app is not consented to in this tenant yet."
                            },
                            "visible": true
                        }
                    ]
                }
            ],
            "outputs": {
                "location": "[location()]",
                "deployStorage": "[basics('deployStorage')]",
                SERVICE_PRINCIPAL_PARAMETER: format!("[steps('{PUBLISHER_ACCESS_STEP}').{SERVICE_PRINCIPAL_PARAMETER}]")
            }
        }
    })
}

impl Package {
    /// `app.zip`: the two files at the root, deflated, with a fixed timestamp and mode so
    /// the same configuration always gives the same bytes.
    pub fn zip(&self) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (name, body) in self.files() {
            // Writing to memory cannot fail but for a bug; the Result types say otherwise.
            w.start_file(name, options)
                .and_then(|()| w.write_all(body.as_bytes()).map_err(Into::into))
                .expect("zip into memory");
        }
        w.finish().expect("zip into memory").into_inner()
    }

    /// The two documents by file name.
    pub fn files(&self) -> [(&'static str, &str); 2] {
        [
            (MAIN_TEMPLATE, &self.main_template),
            (CREATE_UI_DEFINITION, &self.create_ui_definition),
        ]
    }

    /// Writes the three files into `dir` (created if missing). A folder holding anything
    /// is refused unless `force`; with `force` only the package's three files are replaced.
    /// All three are staged before any is put in place.
    pub fn write(&self, dir: &Path, force: bool) -> Result<Vec<PathBuf>, PackageError> {
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if !force && entries.next().is_some() {
                    return Err(PackageError::NotEmpty {
                        dir: dir.to_owned(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(dir).map_err(|source| PackageError::CreateDir {
                    dir: dir.to_owned(),
                    source,
                })?;
            }
            Err(source) => {
                return Err(PackageError::CreateDir {
                    dir: dir.to_owned(),
                    source,
                });
            }
        }
        let zip = self.zip();
        let contents: [(&str, &[u8]); 3] = [
            (MAIN_TEMPLATE, self.main_template.as_bytes()),
            (CREATE_UI_DEFINITION, self.create_ui_definition.as_bytes()),
            (APP_ZIP, &zip),
        ];
        let mut staged = Vec::with_capacity(contents.len());
        for (name, bytes) in contents {
            staged.push((
                dir.join(name),
                fsutil::stage(&dir.join(name), bytes, 0o644)?,
            ));
        }
        let mut written = Vec::with_capacity(staged.len());
        for (path, file) in staged {
            file.commit(Overwrite::Replace)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Why the package could not be written.
#[derive(Debug, Error)]
pub enum PackageError {
    #[error("the package folder {} is not empty", dir.display())]
    NotEmpty { dir: PathBuf },
    #[error("could not create {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Diagnostic for PackageError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NotEmpty { .. } => Some(
                "give an empty or new folder, or --force to replace mainTemplate.json, createUiDefinition.json and app.zip in it".into(),
            ),
            Self::CreateDir { .. } => Some(
                "give a folder whose parent folder exists and is writable (not a file)".into(),
            ),
            Self::Write(_) => None,
        }
    }
    fn is_usage(&self) -> bool {
        match self {
            Self::NotEmpty { .. } => true,
            Self::CreateDir { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ),
            Self::Write(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const ISSUER: &str = "https://acct.blob.core.windows.net/issuer";

    fn package() -> Package {
        render(
            &Issuer::parse(ISSUER).unwrap(),
            &Audience::parse(idp_core::AUDIENCE_GLOBAL).unwrap(),
        )
    }

    fn template() -> Value {
        serde_json::from_str(&package().main_template).unwrap()
    }

    fn resource<'a>(t: &'a Value, ty: &str) -> Vec<&'a Value> {
        t["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == ty)
            .collect()
    }

    #[test]
    fn every_resource_uses_a_listed_type_and_version() {
        let t = template();
        assert_eq!(t["$schema"], TEMPLATE_SCHEMA);
        let resources = t["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 6);
        for r in resources {
            let pair = (
                r["type"].as_str().unwrap(),
                r["apiVersion"].as_str().unwrap(),
            );
            assert!(api::TEMPLATE_RESOURCES.contains(&pair), "{pair:?}");
        }
    }

    #[test]
    fn the_fic_carries_the_issuer_and_audience_as_literals_and_the_group_id_as_subject() {
        let t = template();
        let fic = resource(&t, api::FIC_TYPE)[0];
        assert_eq!(
            fic["properties"],
            json!({"issuer": ISSUER, "subject": "[resourceGroup().id]",
                "audiences": [idp_core::AUDIENCE_GLOBAL]})
        );
        assert_eq!(
            t["outputs"]["federatedCredentialSubject"]["value"],
            SUBJECT_EXPRESSION
        );
        // Nothing the customer enters reaches the credential.
        assert!(!fic.to_string().contains("parameters("), "{fic}");
    }

    /// The resource ids a resource's dependsOn names.
    fn depends_on(r: &Value) -> Vec<String> {
        r["dependsOn"]
            .as_array()
            .map(|d| d.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn deployment_order_is_identity_then_fic_then_role_assignments() {
        let t = template();
        let identity = resource(&t, api::IDENTITY_TYPE)[0];
        assert_eq!(identity["name"], "[variables('identityName')]");
        assert_eq!(t["variables"]["identityName"], IDENTITY_NAME);
        let fic = resource(&t, api::FIC_TYPE)[0];
        assert_eq!(
            depends_on(fic),
            [
                "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))]"
            ]
        );
        let fic_ref = format!(
            "[resourceId('{}', variables('identityName'), variables('ficName'))]",
            api::FIC_TYPE
        );
        let assignments = resource(&t, api::ROLE_ASSIGNMENT_TYPE);
        assert_eq!(assignments.len(), 2);
        for a in &assignments {
            assert!(depends_on(a).contains(&fic_ref), "{a}");
            assert_eq!(a["properties"]["principalType"], "ServicePrincipal");
        }
        // The vault's assignment: Key Vault Secrets Officer, scoped to the vault.
        let kv = assignments
            .iter()
            .find(|a| a["scope"].as_str().unwrap().contains(api::VAULT_TYPE))
            .unwrap();
        assert!(
            kv["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .contains("keyVaultSecretsOfficer")
        );
        // Azure's built-in role ids, as Learn's "Azure built-in roles" publishes them (not
        // the constant the template was rendered from: a typo there must fail here).
        assert_eq!(
            t["variables"]["keyVaultSecretsOfficer"],
            "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
        );
        assert_eq!(
            t["variables"]["storageBlobDataContributor"],
            "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
        );
        let vault = resource(&t, api::VAULT_TYPE)[0];
        assert_eq!(vault["properties"]["enableRbacAuthorization"], true);
        // Storage is optional, behind one parameter.
        let storage = resource(&t, api::STORAGE_TYPE)[0];
        assert_eq!(storage["condition"], "[parameters('deployStorage')]");
        let st = assignments
            .iter()
            .find(|a| a["scope"].as_str().unwrap().contains(api::STORAGE_TYPE))
            .unwrap();
        assert_eq!(st["condition"], "[parameters('deployStorage')]");
    }

    #[test]
    fn outputs_give_what_the_publisher_needs_and_the_ui_feeds_every_parameter() {
        let t = template();
        for o in [
            "tenantId",
            "clientId",
            "principalId",
            "identityResourceId",
            "federatedCredentialSubject",
            "vaultUri",
        ] {
            assert_eq!(t["outputs"][o]["type"], "string", "{o}");
        }
        let ui: Value = serde_json::from_str(&package().create_ui_definition).unwrap();
        assert_eq!(ui["$schema"], CREATE_UI_SCHEMA);
        let outputs = ui["parameters"]["outputs"].as_object().unwrap();
        let params = t["parameters"].as_object().unwrap();
        let mut a: Vec<_> = outputs.keys().collect();
        let mut b: Vec<_> = params.keys().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    const APP: &str = "11111111-2222-4333-8444-555555555555";

    fn entra_app_package() -> Package {
        render_entra_app(
            &Guid::parse("app id", APP).unwrap(),
            "https://login.microsoftonline.com",
        )
    }

    #[test]
    fn the_entra_app_template_creates_no_identity_and_no_credential() {
        let t: Value = serde_json::from_str(&entra_app_package().main_template).unwrap();
        assert_eq!(t["$schema"], TEMPLATE_SCHEMA);
        let resources = t["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 4);
        for r in resources {
            let pair = (
                r["type"].as_str().unwrap(),
                r["apiVersion"].as_str().unwrap(),
            );
            assert!(api::TEMPLATE_RESOURCES.contains(&pair), "{pair:?}");
            assert_ne!(pair.0, api::IDENTITY_TYPE);
            assert_ne!(pair.0, api::FIC_TYPE);
        }
        let text = entra_app_package().main_template;
        assert!(!text.contains("Microsoft.ManagedIdentity"), "{text}");
        assert!(!text.contains("federatedIdentityCredentials"), "{text}");
        // The app's id is recorded, and read back by the outputs.
        assert_eq!(t["variables"]["publisherAppId"], APP);
        assert_eq!(
            t["outputs"]["publisherAppId"]["value"],
            "[variables('publisherAppId')]"
        );
    }

    #[test]
    fn the_entra_app_template_gives_the_consented_service_principal_the_same_roles() {
        let t: Value = serde_json::from_str(&entra_app_package().main_template).unwrap();
        let parameter = &t["parameters"][SERVICE_PRINCIPAL_PARAMETER];
        assert_eq!(parameter["type"], "string");
        assert!(
            parameter.get("defaultValue").is_none(),
            "the form must give it"
        );
        let assignments = resource(&t, api::ROLE_ASSIGNMENT_TYPE);
        assert_eq!(assignments.len(), 2);
        for a in &assignments {
            assert_eq!(
                a["properties"]["principalId"],
                "[parameters('servicePrincipalObjectId')]"
            );
            assert_eq!(a["properties"]["principalType"], "ServicePrincipal");
            assert!(
                a["name"]
                    .as_str()
                    .unwrap()
                    .contains("parameters('servicePrincipalObjectId')"),
                "one assignment per principal: {a}"
            );
        }
        let kv = assignments
            .iter()
            .find(|a| a["scope"].as_str().unwrap().contains(api::VAULT_TYPE))
            .unwrap();
        assert_eq!(
            kv["properties"]["roleDefinitionId"],
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('keyVaultSecretsOfficer'))]"
        );
        assert!(kv.get("condition").is_none());
        assert_eq!(
            depends_on(kv),
            ["[resourceId('Microsoft.KeyVault/vaults', variables('vaultName'))]"]
        );
        // The same built-in roles as the issuer way's package.
        let issuer_way = template();
        for role in ["keyVaultSecretsOfficer", "storageBlobDataContributor"] {
            assert_eq!(
                t["variables"][role], issuer_way["variables"][role],
                "{role}"
            );
        }
        let st = assignments
            .iter()
            .find(|a| a["scope"].as_str().unwrap().contains(api::STORAGE_TYPE))
            .unwrap();
        assert_eq!(st["condition"], "[parameters('deployStorage')]");
        assert_eq!(
            resource(&t, api::VAULT_TYPE)[0]["properties"]["enableRbacAuthorization"],
            true
        );
    }

    #[test]
    fn the_entra_app_form_looks_the_service_principal_up_and_feeds_every_parameter() {
        let p = entra_app_package();
        let t: Value = serde_json::from_str(&p.main_template).unwrap();
        let ui: Value = serde_json::from_str(&p.create_ui_definition).unwrap();
        assert_eq!(ui["$schema"], CREATE_UI_SCHEMA);
        let outputs = ui["parameters"]["outputs"].as_object().unwrap();
        let mut a: Vec<_> = outputs.keys().collect();
        let mut b: Vec<_> = t["parameters"].as_object().unwrap().keys().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(
            outputs[SERVICE_PRINCIPAL_PARAMETER],
            "[steps('publisherAccess').servicePrincipalObjectId]"
        );
        let step = &ui["parameters"]["steps"][0];
        assert_eq!(step["name"], PUBLISHER_ACCESS_STEP);
        let element = |name: &str| {
            step["elements"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .unwrap()
                .clone()
        };
        // The lookup: the app id where Graph needs it.
        let lookup = element("servicePrincipalLookup");
        assert_eq!(lookup["type"], "Microsoft.Solutions.GraphApiControl");
        assert_eq!(lookup["request"]["method"], "GET");
        assert_eq!(
            lookup["request"]["path"],
            format!(
                "/v1.0/servicePrincipals?$filter=appId eq '{APP}'&$select=id,appId,displayName"
            )
        );
        assert_eq!(lookup["request"]["transforms"]["id"], "value[0].id");
        // The text box the lookup fills, which the customer may also type into.
        let text = element(SERVICE_PRINCIPAL_PARAMETER);
        assert_eq!(text["type"], "Microsoft.Common.TextBox");
        assert_eq!(
            text["defaultValue"],
            "[coalesce(steps('publisherAccess').servicePrincipalLookup.transformed.id, '')]"
        );
        assert_eq!(text["constraints"]["required"], true);
        assert_eq!(text["constraints"]["regex"], GUID_REGEX);
        assert!(text["toolTip"].as_str().unwrap().contains(APP));
        // What the administrator does first, with the app id and the cloud's host.
        let consent = element("consent");
        let says = consent["options"]["text"].as_str().unwrap();
        assert!(
            says.contains(&format!(
                "https://login.microsoftonline.com/<this tenant's id>/adminconsent?client_id={APP}"
            )),
            "{says}"
        );
        let gov = render_entra_app(
            &Guid::parse("app id", APP).unwrap(),
            "https://login.microsoftonline.us",
        );
        assert!(
            gov.create_ui_definition
                .contains("https://login.microsoftonline.us/<this tenant's id>/adminconsent")
        );
    }

    #[test]
    fn the_issuer_ways_package_is_unchanged_by_the_other_way() {
        assert_ne!(package(), entra_app_package());
        assert!(package().main_template.contains(api::FIC_TYPE));
        assert!(!package().create_ui_definition.contains("GraphApiControl"));
    }

    #[test]
    fn the_zip_holds_exactly_the_two_files_at_its_root_and_is_reproducible() {
        let p = package();
        let bytes = p.zip();
        assert_eq!(bytes, package().zip());
        let mut z = zip::ZipArchive::new(io::Cursor::new(bytes)).unwrap();
        let mut names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
        names.sort();
        assert_eq!(names, [CREATE_UI_DEFINITION, MAIN_TEMPLATE]);
        for (name, body) in p.files() {
            let mut text = String::new();
            z.by_name(name).unwrap().read_to_string(&mut text).unwrap();
            assert_eq!(text, body);
        }
    }

    #[test]
    fn write_refuses_a_folder_with_anything_in_it_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pkg");
        let written = package().write(&out, false).unwrap();
        assert_eq!(written.len(), 3);
        assert_eq!(
            std::fs::read_to_string(out.join(MAIN_TEMPLATE)).unwrap(),
            package().main_template
        );
        // Not empty: refused, and nothing changes.
        std::fs::write(out.join(MAIN_TEMPLATE), "old").unwrap();
        let e = package().write(&out, false).unwrap_err();
        assert!(matches!(e, PackageError::NotEmpty { .. }), "{e}");
        assert!(e.is_usage());
        assert_eq!(
            std::fs::read_to_string(out.join(MAIN_TEMPLATE)).unwrap(),
            "old"
        );
        // Forced: the three files are replaced; others stay.
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        package().write(&out, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(MAIN_TEMPLATE)).unwrap(),
            package().main_template
        );
        assert_eq!(
            std::fs::read_to_string(out.join("notes.txt")).unwrap(),
            "mine"
        );
        assert_eq!(
            e.hint().unwrap(),
            "give an empty or new folder, or --force to replace mainTemplate.json, createUiDefinition.json and app.zip in it"
        );
        // A missing parent, or a file where the folder should be: the user's to fix, and
        // said as it is (the file is not taken for a missing folder and created over).
        let e = package().write(&dir.path().join("a/b"), false).unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(e.hint().unwrap().contains("parent folder"), "{e:?}");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = package().write(&file, true).unwrap_err();
        assert!(e.is_usage(), "{e}");
        match &e {
            PackageError::CreateDir { source, .. } => {
                assert_eq!(source.kind(), io::ErrorKind::NotADirectory, "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
        // A write that fails is an operation that failed, not a usage error.
        let e = PackageError::Write(WriteError {
            path: out.join(APP_ZIP),
            source: io::Error::other("disk full"),
        });
        assert!(!e.is_usage());
        assert!(e.hint().is_none());
    }
}
