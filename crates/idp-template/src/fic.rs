//! One federated identity credential, rendered for each tool that creates one: the ARM
//! REST body, an ARM template resource, Bicep, the az CLI and Terraform. Issuer, subject
//! and audience appear byte for byte, each quoted for its language.
//!
//! [`Fic`] is the issuer way's credential, on the customer's managed identity; [`AppFic`]
//! the entra-app way's, on the publisher's app registration (Microsoft Graph).

use crate::api;
use crate::names::{FicName, Guid, IdentityName, ResourceGroupName};
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

/// The entra-app way's credential: on the publisher's multi-tenant app registration, it
/// trusts the publisher's user-assigned managed identity, whose tokens the publisher's own
/// tenant issues. Source: Microsoft Learn, "Configure an application to trust a managed
/// identity" (issuer `{authority}/{tenant}/v2.0`, subject the identity's object (principal)
/// id, one audience, the cloud's token-exchange audience).
#[derive(Debug, Clone)]
pub struct AppFic {
    pub name: FicName,
    /// `{authority host}/{publisher tenant}/v2.0`, see [`AppFic::issuer_for`].
    pub issuer: Issuer,
    /// The managed identity's principal (object) id, as its tokens' `sub` carries it.
    pub subject: Guid,
    pub audience: Audience,
}

/// The forms of [`AppFic`]. No ARM template form: a template's `resources` array takes ARM
/// resources only; Microsoft Graph resources reach a JSON template only as Bicep's compiled
/// output (an experimental language version with an `imports` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppFormat {
    /// The body of `POST https://graph.microsoft.com/v1.0/applications/{object id}/federatedIdentityCredentials`
    /// (or `…/applications(appId='{app id}')/…`).
    Json,
    /// A Bicep file for the Microsoft Graph extension.
    Bicep,
    /// An `az ad app federated-credential create` command line.
    Az,
    /// A Terraform configuration for the azuread provider (3.x).
    Terraform,
}

/// The az form's placeholder for the app when `--app-id` was not given.
pub const APP_PLACEHOLDER: &str = "<app-id>";

/// What the credential says of itself, in Microsoft Graph (at most 600 characters).
pub const APP_FIC_DESCRIPTION: &str =
    "The publisher's user-assigned managed identity signs in as this app (idp, entra-app way)";

impl AppFic {
    /// The issuer of the managed identity's tokens: its tenant's v2.0 issuer at the
    /// cloud's authority host (or a test's), with no trailing slash.
    pub fn issuer_for(
        authority_host: &str,
        tenant: &Guid,
    ) -> Result<Issuer, idp_core::issuer::IssuerError> {
        Issuer::parse(&format!(
            "{}/{}/v2.0",
            authority_host.trim_end_matches('/'),
            tenant.as_str()
        ))
    }

    /// The body Microsoft Graph takes, in the order its documentation writes it.
    /// Source: Microsoft Learn, Graph v1.0 "Create federatedIdentityCredential".
    pub fn body(&self) -> serde_json::Value {
        json!({
            "name": self.name.as_str(),
            "issuer": self.issuer.as_str(),
            "subject": self.subject.as_str(),
            "description": APP_FIC_DESCRIPTION,
            "audiences": [self.audience.as_str()],
        })
    }

    /// The credential in `format` for the app `app` (its application (client) id), ending
    /// with a newline; without it, a parameter, a variable or a quoted placeholder.
    pub fn render(&self, app: Option<&Guid>, format: AppFormat) -> String {
        match format {
            AppFormat::Json => pretty(&self.body()),
            AppFormat::Bicep => self.bicep(app),
            AppFormat::Az => self.az(app),
            AppFormat::Terraform => self.terraform(app),
        }
    }

    /// `--parameters` takes "a JSON file path or in-line JSON string": the body, compact,
    /// as one sh word. `--id` takes the app id or its object id (az looks up either).
    /// Source: azure-cli, role module (`_params.py`: `validate_file_or_dict`; `custom.py`:
    /// `app_federated_credential_create`, `_resolve_application`).
    fn az(&self, app: Option<&Guid>) -> String {
        let body = serde_json::to_string(&self.body()).unwrap_or_default();
        format!(
            "az ad app federated-credential create --id {} --parameters {}\n",
            quote::sh(app.map_or(APP_PLACEHOLDER, Guid::as_str)),
            quote::sh(&body),
        )
    }

    /// The application is found by its client id; the data source's `id` is the
    /// `/applications/{object id}` that `application_id` takes in azuread 3.x (2.x took the
    /// bare object id as `application_object_id`).
    /// Source: hashicorp/terraform-provider-azuread, docs/resources/application_federated_identity_credential.md,
    /// docs/data-sources/application.md, docs/guides/3.0-upgrade-guide.md.
    fn terraform(&self, app: Option<&Guid>) -> String {
        let mut out = String::new();
        let client_id = match app {
            Some(id) => quote::hcl(id.as_str()),
            None => {
                out.push_str("variable \"application_client_id\" {\n  description = \"The publisher's multi-tenant app's application (client) id\"\n  type        = string\n}\n\n");
                "var.application_client_id".to_owned()
            }
        };
        out.push_str(&format!(
            "data \"azuread_application\" \"publisher\" {{\n  client_id = {client_id}\n}}\n\n\
             # azuread >= 3.0: application_id is the application's resource id, /applications/{{object id}}.\n\
             resource \"azuread_application_federated_identity_credential\" \"idp\" {{\n  application_id = data.azuread_application.publisher.id\n  display_name   = {name}\n  description    = {description}\n  audiences      = [{aud}]\n  issuer         = {issuer}\n  subject        = {subject}\n}}\n",
            name = quote::hcl(self.name.as_str()),
            description = quote::hcl(APP_FIC_DESCRIPTION),
            aud = quote::hcl(self.audience.as_str()),
            issuer = quote::hcl(self.issuer.as_str()),
            subject = quote::hcl(self.subject.as_str()),
        ));
        out
    }

    /// Graph resources are named in Bicep by a client-provided key: an existing application
    /// by its `uniqueName`, which an app registered outside Bicep gets by one PATCH; the
    /// credential's name is `'{app uniqueName}/{credential name}'`.
    /// Source: Microsoft Learn, "Onboard existing Microsoft Graph resources for use in Bicep
    /// templates"; microsoftgraph/msgraph-bicep-types quickstart-templates/msi-as-a-fic-secretless.
    fn bicep(&self, app: Option<&Guid>) -> String {
        // The name goes inside an interpolated string: a FicName holds only letters,
        // digits, `-` and `_`, none of which ends or escapes a Bicep string.
        debug_assert!(
            self.name
                .as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        format!(
            "// The Microsoft Graph Bicep extension (Bicep 0.36.1 or later): bicepconfig.json beside this file holds\n\
             //   {{ \"extensions\": {{ \"{ext}\": \"{ext_ref}\" }} }}\n\
             // The app is found by its uniqueName; one registered outside Bicep has none until it is set once:\n\
             //   az rest --method patch --url \"https://graph.microsoft.com/v1.0/applications(appId='{app}')\" --body '{{\"uniqueName\": \"<unique-name>\"}}'\n\
             extension {ext}\n\n\
             @description('The uniqueName of the publisher\\'s multi-tenant app registration')\n\
             param appUniqueName string\n\n\
             resource app '{app_type}' existing = {{\n  uniqueName: appUniqueName\n}}\n\n\
             resource federatedCredential '{fic_type}' = {{\n  name: '${{app.uniqueName}}/{name}'\n  description: {description}\n  audiences: [\n    {aud}\n  ]\n  issuer: {issuer}\n  subject: {subject}\n}}\n",
            ext = api::GRAPH_BICEP_EXTENSION,
            ext_ref = api::GRAPH_BICEP_EXTENSION_REF,
            app = app.map_or(APP_PLACEHOLDER, Guid::as_str),
            app_type = api::GRAPH_APPLICATION_TYPE,
            fic_type = api::GRAPH_FIC_TYPE,
            name = self.name.as_str(),
            description = quote::bicep(APP_FIC_DESCRIPTION),
            aud = quote::bicep(self.audience.as_str()),
            issuer = quote::bicep(self.issuer.as_str()),
            subject = quote::bicep(self.subject.as_str()),
        )
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

    const PUBLISHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const PRINCIPAL: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
    const APP: &str = "11111111-2222-4333-8444-555555555555";
    /// An audience (`--audience` takes any) with everything JSON, sh, Bicep or HCL could
    /// misread.
    const HOSTILE: &str = "it's a \"aud\" [x] ${shell} $(words) `and` %{hcl} \\ end";

    fn app_fic(audience: &str) -> AppFic {
        AppFic {
            name: FicName::parse("idp").unwrap(),
            issuer: AppFic::issuer_for(
                "https://login.microsoftonline.com",
                &Guid::parse_lowercase("tenant", PUBLISHER_TENANT).unwrap(),
            )
            .unwrap(),
            subject: Guid::parse_lowercase("principal", PRINCIPAL).unwrap(),
            audience: Audience::parse(audience).unwrap(),
        }
    }

    fn app() -> Guid {
        Guid::parse("app", APP).unwrap()
    }

    #[test]
    fn the_apps_issuer_is_its_tenants_v2_issuer_at_the_authority_host() {
        let t = Guid::parse_lowercase("tenant", PUBLISHER_TENANT).unwrap();
        for (host, issuer) in [
            (
                "https://login.microsoftonline.com",
                format!("https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0"),
            ),
            (
                "https://login.microsoftonline.us/",
                format!("https://login.microsoftonline.us/{PUBLISHER_TENANT}/v2.0"),
            ),
            (
                "https://127.0.0.1:8444",
                format!("https://127.0.0.1:8444/{PUBLISHER_TENANT}/v2.0"),
            ),
        ] {
            assert_eq!(AppFic::issuer_for(host, &t).unwrap().as_str(), issuer);
        }
    }

    #[test]
    fn the_graph_body_is_exactly_what_graph_takes() {
        let f = app_fic(idp_core::AUDIENCE_GLOBAL);
        assert_eq!(
            f.render(Some(&app()), AppFormat::Json),
            format!(
                "{{\n  \"name\": \"idp\",\n  \"issuer\": \"https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0\",\n  \"subject\": \"{PRINCIPAL}\",\n  \"description\": \"{APP_FIC_DESCRIPTION}\",\n  \"audiences\": [\n    \"api://AzureADTokenExchange\"\n  ]\n}}\n"
            )
        );
        // The app is in the URL, not the body: the same body without it.
        assert_eq!(
            f.render(None, AppFormat::Json),
            f.render(Some(&app()), AppFormat::Json)
        );
        let hostile: serde_json::Value =
            serde_json::from_str(&app_fic(HOSTILE).render(None, AppFormat::Json)).unwrap();
        assert_eq!(hostile["audiences"], json!([HOSTILE]));
    }

    #[test]
    fn the_az_line_is_one_command_with_the_body_as_one_word() {
        let f = app_fic(idp_core::AUDIENCE_GLOBAL);
        assert_eq!(
            f.render(Some(&app()), AppFormat::Az),
            format!(
                "az ad app federated-credential create --id '{APP}' --parameters '{{\"name\":\"idp\",\"issuer\":\"https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0\",\"subject\":\"{PRINCIPAL}\",\"description\":\"The publisher'\\''s user-assigned managed identity signs in as this app (idp, entra-app way)\",\"audiences\":[\"api://AzureADTokenExchange\"]}}'\n"
            )
        );
        // Through sh, az gets exactly the body, whatever the audience holds.
        let hostile = app_fic(HOSTILE);
        for (app, id) in [(Some(app()), APP), (None, APP_PLACEHOLDER)] {
            let args = sh_arguments(&hostile.render(app.as_ref(), AppFormat::Az));
            assert_eq!(
                args[..7],
                [
                    "ad",
                    "app",
                    "federated-credential",
                    "create",
                    "--id",
                    id,
                    "--parameters"
                ]
            );
            assert_eq!(args.len(), 8, "{args:?}");
            let body: serde_json::Value = serde_json::from_str(&args[7]).unwrap();
            assert_eq!(body, hostile.body());
            assert_eq!(body["audiences"], json!([HOSTILE]));
        }
    }

    #[test]
    fn terraform_finds_the_app_by_client_id_and_writes_azuread_3() {
        let f = app_fic(idp_core::AUDIENCE_GLOBAL);
        let expected_resource = format!(
            "# azuread >= 3.0: application_id is the application's resource id, /applications/{{object id}}.\n\
             resource \"azuread_application_federated_identity_credential\" \"idp\" {{\n  application_id = data.azuread_application.publisher.id\n  display_name   = \"idp\"\n  description    = \"{APP_FIC_DESCRIPTION}\"\n  audiences      = [\"api://AzureADTokenExchange\"]\n  issuer         = \"https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0\"\n  subject        = \"{PRINCIPAL}\"\n}}\n"
        );
        assert_eq!(
            f.render(Some(&app()), AppFormat::Terraform),
            format!(
                "data \"azuread_application\" \"publisher\" {{\n  client_id = \"{APP}\"\n}}\n\n{expected_resource}"
            )
        );
        assert_eq!(
            f.render(None, AppFormat::Terraform),
            format!(
                "variable \"application_client_id\" {{\n  description = \"The publisher's multi-tenant app's application (client) id\"\n  type        = string\n}}\n\n\
                 data \"azuread_application\" \"publisher\" {{\n  client_id = var.application_client_id\n}}\n\n{expected_resource}"
            )
        );
        // A hostile audience stays one literal, which reads back as it was.
        let tf = app_fic(HOSTILE).render(None, AppFormat::Terraform);
        let line = tf
            .lines()
            .find_map(|l| l.strip_prefix("  audiences      = ["))
            .unwrap();
        let (value, rest) = hcl_unquote(line);
        assert_eq!((value.as_str(), rest), (HOSTILE, "]"));
    }

    #[test]
    fn bicep_uses_the_graph_extension_and_the_apps_unique_name() {
        let f = app_fic(idp_core::AUDIENCE_GLOBAL);
        assert_eq!(
            f.render(Some(&app()), AppFormat::Bicep),
            format!(
                "// The Microsoft Graph Bicep extension (Bicep 0.36.1 or later): bicepconfig.json beside this file holds\n\
                 //   {{ \"extensions\": {{ \"microsoftGraphV1\": \"br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0\" }} }}\n\
                 // The app is found by its uniqueName; one registered outside Bicep has none until it is set once:\n\
                 //   az rest --method patch --url \"https://graph.microsoft.com/v1.0/applications(appId='{APP}')\" --body '{{\"uniqueName\": \"<unique-name>\"}}'\n\
                 extension microsoftGraphV1\n\n\
                 @description('The uniqueName of the publisher\\'s multi-tenant app registration')\n\
                 param appUniqueName string\n\n\
                 resource app 'Microsoft.Graph/applications@v1.0' existing = {{\n  uniqueName: appUniqueName\n}}\n\n\
                 resource federatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {{\n  name: '${{app.uniqueName}}/idp'\n  description: 'The publisher\\'s user-assigned managed identity signs in as this app (idp, entra-app way)'\n  audiences: [\n    'api://AzureADTokenExchange'\n  ]\n  issuer: 'https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0'\n  subject: '{PRINCIPAL}'\n}}\n"
            )
        );
        assert!(
            f.render(None, AppFormat::Bicep)
                .contains("applications(appId='<app-id>')"),
        );
        let bicep = app_fic(HOSTILE).render(None, AppFormat::Bicep);
        let mut lines = bicep.lines().skip_while(|l| *l != "  audiences: [");
        lines.next();
        let (value, rest) = bicep_unquote(lines.next().unwrap().trim_start());
        assert_eq!((value.as_str(), rest), (HOSTILE, ""));
        assert_eq!(lines.next(), Some("  ]"));
    }

    /// Runs `line` under `sh -c` with its first word a function that prints its
    /// arguments: what the command would receive after sh's quoting and word splitting.
    fn sh_arguments(line: &str) -> Vec<String> {
        let command = line.split_whitespace().next().unwrap();
        let script =
            format!("{command}() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{line}");
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_owned)
            .collect()
    }

    /// Reads the HCL quoted string at the start of `s` as Terraform does: its value, and
    /// what follows it. A template sequence (`${`, `%{`) in it fails the test.
    fn hcl_unquote(s: &str) -> (String, &str) {
        let mut chars = s.char_indices().peekable();
        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{s}");
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            match c {
                '"' => return (value, &s[i + 1..]),
                '\\' => {
                    let (_, e) = chars.next().unwrap();
                    value.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '\\' | '"' => e,
                        other => panic!("unknown escape \\{other} in {s}"),
                    });
                }
                '$' | '%' if next == Some(c) => {
                    // `$${` and `%%{` are a literal `${` and `%{`.
                    chars.next();
                    value.push(c);
                }
                '$' | '%' if next == Some('{') => panic!("a template sequence in {s}"),
                c => value.push(c),
            }
        }
        panic!("unterminated string: {s}")
    }

    /// Reads the Bicep string literal at the start of `s`: its value, and what follows
    /// it. An interpolation (`${`) in it fails the test.
    fn bicep_unquote(s: &str) -> (String, &str) {
        let mut chars = s.char_indices().peekable();
        assert_eq!(chars.next().map(|(_, c)| c), Some('\''), "{s}");
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => return (value, &s[i + 1..]),
                '\\' => {
                    let (_, e) = chars.next().unwrap();
                    value.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '\\' | '\'' | '$' => e,
                        other => panic!("unknown escape \\{other} in {s}"),
                    });
                }
                '$' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    panic!("an interpolation in {s}")
                }
                c => value.push(c),
            }
        }
        panic!("unterminated string: {s}")
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
