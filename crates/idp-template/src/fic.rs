//! One federated identity credential, rendered for each tool that creates one: the ARM
//! REST body, an ARM template resource, Bicep, the az CLI and Terraform. Issuer, subject
//! and audience appear byte for byte, each quoted for its language.

use crate::api;
use crate::names::{FicName, IdentityName, ResourceGroupName};
use crate::quote;
use idp_core::Issuer;
use idp_core::assertion::{Audience, Subject};
use serde_json::json;

/// The credential: what Entra compares with the assertion's `iss`, `sub` and `aud`.
#[derive(Debug, Clone)]
pub struct Fic {
    pub name: FicName,
    pub issuer: Issuer,
    pub subject: Subject,
    pub audience: Audience,
}

/// Where the credential goes, when known: the managed identity and its resource group.
/// Unknown parts become parameters (ARM, Bicep, Terraform) or quoted placeholders (az).
#[derive(Debug, Clone, Default)]
pub struct Parent {
    pub identity: Option<IdentityName>,
    pub resource_group: Option<ResourceGroupName>,
}

/// The forms `idp fic` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The body of `PUT …/userAssignedIdentities/{id}/federatedIdentityCredentials/{name}`.
    Json,
    /// A resource for an ARM template's `resources` array.
    Arm,
    /// A Bicep file.
    Bicep,
    /// An `az identity federated-credential create` command line.
    Az,
    /// A Terraform configuration for the azurerm provider.
    Terraform,
}

/// Placeholders the az form uses for what was not given (quoted, so the line stays valid
/// sh; az refuses them with a clear message if run unedited).
pub const IDENTITY_PLACEHOLDER: &str = "<identity-name>";
pub const RESOURCE_GROUP_PLACEHOLDER: &str = "<resource-group>";

impl Fic {
    /// The `properties` object ARM takes and returns (api-version 2023-01-31).
    /// Source: azure-rest-api-specs, Microsoft.ManagedIdentity stable/2023-01-31,
    /// FederatedIdentityCredentialProperties (issuer, subject, audiences).
    pub fn properties(&self) -> serde_json::Value {
        json!({
            "issuer": self.issuer.as_str(),
            "subject": self.subject.as_str(),
            "audiences": [self.audience.as_str()],
        })
    }

    /// The credential in `format`, ending with a newline.
    pub fn render(&self, parent: &Parent, format: Format) -> String {
        match format {
            Format::Json => pretty(&json!({ "properties": self.properties() })),
            Format::Arm => self.arm(parent),
            Format::Bicep => self.bicep(parent),
            Format::Az => self.az(parent),
            Format::Terraform => self.terraform(parent),
        }
    }

    fn arm(&self, parent: &Parent) -> String {
        let name = match &parent.identity {
            Some(id) => quote::arm(&format!("{}/{}", id.as_str(), self.name.as_str())),
            None => format!(
                "[format('{{0}}/{{1}}', parameters('identityName'), '{}')]",
                self.name.as_str()
            ),
        };
        let properties = json!({
            "issuer": quote::arm(self.issuer.as_str()),
            "subject": quote::arm(self.subject.as_str()),
            "audiences": [quote::arm(self.audience.as_str())],
        });
        pretty(&json!({
            "type": api::FIC_TYPE,
            "apiVersion": api::MANAGED_IDENTITY,
            "name": name,
            "properties": properties,
        }))
    }

    fn bicep(&self, parent: &Parent) -> String {
        let identity = match &parent.identity {
            Some(id) => quote::bicep(id.as_str()),
            None => "identityName".to_owned(),
        };
        let mut out = String::new();
        if parent.identity.is_none() {
            out.push_str("@description('The user-assigned managed identity that trusts the issuer')\nparam identityName string\n\n");
        }
        out.push_str(&format!(
            "resource identity '{id_type}@{v}' existing = {{\n  name: {identity}\n}}\n\n\
             resource federatedCredential '{fic_type}@{v}' = {{\n  parent: identity\n  name: {name}\n  properties: {{\n    issuer: {issuer}\n    subject: {subject}\n    audiences: [\n      {aud}\n    ]\n  }}\n}}\n",
            id_type = api::IDENTITY_TYPE,
            fic_type = api::FIC_TYPE,
            v = api::MANAGED_IDENTITY,
            name = quote::bicep(self.name.as_str()),
            issuer = quote::bicep(self.issuer.as_str()),
            subject = quote::bicep(self.subject.as_str()),
            aud = quote::bicep(self.audience.as_str()),
        ));
        out
    }

    fn az(&self, parent: &Parent) -> String {
        let identity = parent
            .identity
            .as_ref()
            .map_or(IDENTITY_PLACEHOLDER, IdentityName::as_str);
        let group = parent
            .resource_group
            .as_ref()
            .map_or(RESOURCE_GROUP_PLACEHOLDER, ResourceGroupName::as_str);
        format!(
            "az identity federated-credential create --name {} --identity-name {} --resource-group {} --issuer {} --subject {} --audiences {}\n",
            quote::sh(self.name.as_str()),
            quote::sh(identity),
            quote::sh(group),
            quote::sh(self.issuer.as_str()),
            quote::sh(self.subject.as_str()),
            quote::sh(self.audience.as_str()),
        )
    }

    /// azurerm 4.x (from 4.66) and 5.x name the parent `user_assigned_identity_id`; the
    /// older `parent_id` and `resource_group_name` are deprecated.
    /// Source: hashicorp/terraform-provider-azurerm PRs #31921 and #30860.
    fn terraform(&self, parent: &Parent) -> String {
        let mut out = String::new();
        let identity = match &parent.identity {
            Some(id) => quote::hcl(id.as_str()),
            None => {
                out.push_str("variable \"identity_name\" {\n  description = \"The user-assigned managed identity that trusts the issuer\"\n  type        = string\n}\n\n");
                "var.identity_name".to_owned()
            }
        };
        let group = match &parent.resource_group {
            Some(rg) => quote::hcl(rg.as_str()),
            None => {
                out.push_str("variable \"resource_group_name\" {\n  description = \"The managed identity's resource group\"\n  type        = string\n}\n\n");
                "var.resource_group_name".to_owned()
            }
        };
        out.push_str(&format!(
            "data \"azurerm_user_assigned_identity\" \"customer\" {{\n  name                = {identity}\n  resource_group_name = {group}\n}}\n\n\
             # azurerm >= 4.66; on older 4.x write parent_id instead of user_assigned_identity_id.\n\
             resource \"azurerm_federated_identity_credential\" \"idp\" {{\n  name                      = {name}\n  user_assigned_identity_id = data.azurerm_user_assigned_identity.customer.id\n  issuer                    = {issuer}\n  subject                   = {subject}\n  audience                  = [{aud}]\n}}\n",
            name = quote::hcl(self.name.as_str()),
            issuer = quote::hcl(self.issuer.as_str()),
            subject = quote::hcl(self.subject.as_str()),
            aud = quote::hcl(self.audience.as_str()),
        ));
        out
    }
}

/// JSON with two-space indentation and a final newline.
pub(crate) fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://acct.blob.core.windows.net/issuer";

    fn fic(subject: &str, audience: &str) -> Fic {
        Fic {
            name: FicName::parse("idp").unwrap(),
            issuer: Issuer::parse(ISSUER).unwrap(),
            subject: Subject::parse(subject).unwrap(),
            audience: Audience::parse(audience).unwrap(),
        }
    }

    fn parent(id: Option<&str>, rg: Option<&str>) -> Parent {
        Parent {
            identity: id.map(|i| IdentityName::parse(i).unwrap()),
            resource_group: rg.map(|r| ResourceGroupName::parse(r).unwrap()),
        }
    }

    #[test]
    fn the_rest_body_and_the_template_resource_carry_the_values_exactly() {
        let f = fic("[sub]", "api://AzureADTokenExchangeUSGov");
        let body: serde_json::Value =
            serde_json::from_str(&f.render(&Parent::default(), Format::Json)).unwrap();
        assert_eq!(
            body,
            json!({"properties": {"issuer": ISSUER, "subject": "[sub]",
                "audiences": ["api://AzureADTokenExchangeUSGov"]}})
        );
        // In a template, a value shaped like an expression is escaped, so ARM stores it
        // as written.
        let arm: serde_json::Value =
            serde_json::from_str(&f.render(&parent(Some("uami"), None), Format::Arm)).unwrap();
        assert_eq!(arm["type"], api::FIC_TYPE);
        assert_eq!(arm["apiVersion"], api::MANAGED_IDENTITY);
        assert_eq!(arm["name"], "uami/idp");
        assert_eq!(arm["properties"]["subject"], "[[sub]");
        assert_eq!(arm["properties"]["issuer"], ISSUER);
        assert_eq!(
            arm["properties"]["audiences"],
            json!(["api://AzureADTokenExchangeUSGov"])
        );
        let unnamed: serde_json::Value =
            serde_json::from_str(&f.render(&Parent::default(), Format::Arm)).unwrap();
        assert_eq!(
            unnamed["name"],
            "[format('{0}/{1}', parameters('identityName'), 'idp')]"
        );
    }

    #[test]
    fn bicep_names_the_identity_or_takes_it_as_a_parameter() {
        let f = fic("repo:o/r's", idp_core::AUDIENCE_GLOBAL);
        let named = f.render(&parent(Some("uami-1"), None), Format::Bicep);
        assert!(
            named.contains("existing = {\n  name: 'uami-1'\n}"),
            "{named}"
        );
        assert!(!named.contains("param "), "{named}");
        assert!(
            named.contains(&format!("    issuer: '{ISSUER}'\n")),
            "{named}"
        );
        assert!(named.contains(r"    subject: 'repo:o/r\'s'"), "{named}");
        assert!(
            named.contains("      'api://AzureADTokenExchange'\n"),
            "{named}"
        );
        assert!(
            named.contains("  parent: identity\n  name: 'idp'\n"),
            "{named}"
        );
        let unnamed = f.render(&Parent::default(), Format::Bicep);
        assert!(unnamed.contains("param identityName string\n"), "{unnamed}");
        assert!(unnamed.contains("  name: identityName\n"), "{unnamed}");
    }

    #[test]
    fn az_quotes_every_value_and_placeholders() {
        let f = fic("a b", idp_core::AUDIENCE_GLOBAL);
        assert_eq!(
            f.render(&Parent::default(), Format::Az),
            format!(
                "az identity federated-credential create --name 'idp' --identity-name '<identity-name>' --resource-group '<resource-group>' --issuer '{ISSUER}' --subject 'a b' --audiences 'api://AzureADTokenExchange'\n"
            )
        );
        let named = f.render(&parent(Some("uami"), Some("rg.1")), Format::Az);
        assert!(
            named.contains("--identity-name 'uami' --resource-group 'rg.1' "),
            "{named}"
        );
    }

    #[test]
    fn terraform_reads_the_identity_and_declares_what_is_unknown() {
        let f = fic("x\"${y}", idp_core::AUDIENCE_GLOBAL);
        let named = f.render(&parent(Some("uami"), Some("rg")), Format::Terraform);
        assert!(!named.contains("variable "), "{named}");
        assert!(
            named.contains("  name                = \"uami\"\n  resource_group_name = \"rg\"\n"),
            "{named}"
        );
        assert!(
            named.contains(&format!("  issuer                    = \"{ISSUER}\"\n")),
            "{named}"
        );
        assert!(
            named.contains(r#"  subject                   = "x\"$${y}""#),
            "{named}"
        );
        assert!(
            named.contains("  audience                  = [\"api://AzureADTokenExchange\"]\n"),
            "{named}"
        );
        assert!(
            named.contains(
                "user_assigned_identity_id = data.azurerm_user_assigned_identity.customer.id"
            ),
            "{named}"
        );
        let unnamed = f.render(&parent(None, Some("rg")), Format::Terraform);
        assert!(unnamed.contains("variable \"identity_name\""), "{unnamed}");
        assert!(
            !unnamed.contains("variable \"resource_group_name\""),
            "{unnamed}"
        );
        assert!(
            unnamed.contains("name                = var.identity_name\n"),
            "{unnamed}"
        );
        let no_group = f.render(&parent(Some("uami"), None), Format::Terraform);
        assert!(
            no_group.contains("resource_group_name = var.resource_group_name\n"),
            "{no_group}"
        );
    }
}
