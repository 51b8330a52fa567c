//! Microsoft Graph's directory, the subset the "entra-app" way needs, one directory per
//! tenant: applications (app registrations) with their federated identity credentials,
//! and service principals (an application's instance in a tenant). The rules and their
//! sources are here; the HTTP side is `graph_routes`.
//!
//! - An application lives in its home tenant (the tenant of the token that created it);
//!   `appId` is unique across tenants, `id` (the object id) is the application's id in
//!   its home directory. `signInAudience` is `AzureADMyOrg` unless given (Graph v1.0
//!   `application` resource: "AzureADMyOrg (default)"). Creating an application does not
//!   create its service principal: the Entra admin center does, Graph does not (Graph
//!   v1.0 "Create application": the response is the application only; "Create
//!   servicePrincipal" is a separate call).
//! - Federated identity credentials (Graph v1.0 `federatedIdentityCredential` resource
//!   and "Overview of federated identity credentials"; entra-facts §1.1 and §10): at most
//!   20 per application; `name` 3–120 letters, digits, `-`, `_`, starting with a letter or
//!   digit, unique on the application and immutable; `issuer`, `subject` and each audience
//!   up to 600 characters; exactly one audience; the `(issuer, subject)` pair unique on
//!   the application; wrong values are accepted at create (they fail at exchange).
//! - A service principal is made in a tenant for an application of that tenant, or of
//!   another tenant when the application is multi-tenant (`AzureADMultipleOrgs`,
//!   `AzureADandPersonalMicrosoftAccount`); otherwise Graph answers 400
//!   `NoBackingApplicationObject` (the application is not visible there). One per
//!   application and tenant: a second is 409.

use crate::arm::identities::valid_fic_name;
use crate::ids::new_guid;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Graph's limit on federated identity credentials per application.
pub const MAX_FICS_PER_APPLICATION: usize = 20;
/// Graph's limit on the length of a FIC's issuer, subject, description and audience.
pub const MAX_FIC_FIELD_CHARS: usize = 600;
/// The `signInAudience` values (Graph v1.0 `application` resource).
pub const SIGN_IN_AUDIENCES: [&str; 4] = [
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
];

/// A Graph failure: the status, Graph's error code and message, and `details` when Graph
/// sends them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<Value>,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 400 `Request_BadRequest`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// Graph's words for a property it refuses: "Invalid value specified for property
    /// '{property}' of resource '{resource}'." (seen in Graph's answers to
    /// `POST /applications` and `/servicePrincipals`; the exact text for each rule below is
    /// a guess in that form where no answer was found).
    pub(crate) fn invalid_property(property: &str, resource: &str) -> Self {
        Self::bad_request(format!(
            "Invalid value specified for property '{property}' of resource '{resource}'."
        ))
    }

    /// 404 `Request_ResourceNotFound`, Graph's text for any object it cannot find.
    pub(crate) fn not_found(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 409 `Request_MultipleObjectsWithSameKeyValue`.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Request_MultipleObjectsWithSameKeyValue",
            message,
        )
    }
}

/// An application registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Application {
    /// The object id in its home directory.
    pub id: String,
    /// The application (client) id, unique across tenants.
    pub app_id: String,
    /// The home tenant.
    pub tenant: String,
    pub display_name: String,
    pub sign_in_audience: String,
    #[serde(default)]
    pub unique_name: Option<String>,
    /// Seconds since the epoch.
    pub created: i64,
    #[serde(default)]
    pub federated_credentials: Vec<GraphFic>,
}

impl Application {
    /// Whether other tenants may have a service principal for it.
    pub fn is_multi_tenant(&self) -> bool {
        matches!(
            self.sign_in_audience.as_str(),
            "AzureADMultipleOrgs" | "AzureADandPersonalMicrosoftAccount"
        )
    }
}

/// A federated identity credential on an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GraphFic {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default)]
    pub description: Option<String>,
    pub audiences: Vec<String>,
    /// When issuer, subject or audiences last changed (seconds since the epoch); the
    /// propagation delay runs from here, as for ARM's FICs.
    pub changed_at: i64,
}

/// A service principal: an application's instance in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServicePrincipal {
    /// The object id in its tenant: `oid` and `sub` of the application's tokens there.
    pub id: String,
    pub app_id: String,
    /// The tenant it lives in.
    pub tenant: String,
    pub display_name: String,
    /// The application's home tenant.
    pub app_owner_organization_id: String,
    pub created: i64,
}

/// The writable properties of a FIC, as a request gives them (absent = `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FicFields {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub description: Option<Option<String>>,
    pub audiences: Option<Vec<String>>,
}

/// How a request names an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKey<'a> {
    /// `/applications/{id}`.
    Id(&'a str),
    /// `/applications(appId='{appId}')`.
    AppId(&'a str),
    /// `/applications(uniqueName='{uniqueName}')`.
    UniqueName(&'a str),
}

impl AppKey<'_> {
    fn matches(&self, a: &Application) -> bool {
        match *self {
            AppKey::Id(id) => a.id.eq_ignore_ascii_case(id),
            AppKey::AppId(id) => a.app_id.eq_ignore_ascii_case(id),
            AppKey::UniqueName(n) => a
                .unique_name
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(n)),
        }
    }

    fn text(&self) -> &str {
        match *self {
            AppKey::Id(s) | AppKey::AppId(s) | AppKey::UniqueName(s) => s,
        }
    }
}

/// How a request names a FIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FicKey<'a> {
    /// `/federatedIdentityCredentials/{id}`.
    Id(&'a str),
    /// `/federatedIdentityCredentials(name='{name}')`.
    Name(&'a str),
}

impl FicKey<'_> {
    fn matches(&self, f: &GraphFic) -> bool {
        match *self {
            FicKey::Id(id) => f.id.eq_ignore_ascii_case(id),
            FicKey::Name(n) => f.name.eq_ignore_ascii_case(n),
        }
    }

    fn text(&self) -> &str {
        match *self {
            FicKey::Id(s) | FicKey::Name(s) => s,
        }
    }
}

fn same_tenant(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Every tenant's applications and service principals.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Directories {
    #[serde(default)]
    applications: Vec<Application>,
    #[serde(default)]
    service_principals: Vec<ServicePrincipal>,
}

impl Directories {
    /// The application `app_id`, whatever its home tenant (the token endpoint's client).
    pub(crate) fn by_app_id(&self, app_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(app_id))
    }

    fn position(&self, tenant: &str, key: AppKey<'_>) -> Result<usize, GraphError> {
        self.applications
            .iter()
            .position(|a| same_tenant(&a.tenant, tenant) && key.matches(a))
            .ok_or_else(|| GraphError::not_found(key.text()))
    }

    /// An application of `tenant`'s directory.
    pub(crate) fn application(
        &self,
        tenant: &str,
        key: AppKey<'_>,
    ) -> Result<&Application, GraphError> {
        self.position(tenant, key).map(|i| &self.applications[i])
    }

    /// `tenant`'s applications, those `keep` accepts.
    pub(crate) fn applications(
        &self,
        tenant: &str,
        keep: impl Fn(&Application) -> bool,
    ) -> Vec<&Application> {
        self.applications
            .iter()
            .filter(|a| same_tenant(&a.tenant, tenant) && keep(a))
            .collect()
    }

    /// Registers an application in `tenant`.
    pub(crate) fn create_application(
        &mut self,
        tenant: &str,
        display_name: &str,
        sign_in_audience: Option<&str>,
        unique_name: Option<&str>,
        now: i64,
    ) -> Result<Application, GraphError> {
        if display_name.trim().is_empty() {
            return Err(GraphError::invalid_property("displayName", "Application"));
        }
        let audience = sign_in_audience.unwrap_or("AzureADMyOrg");
        if !SIGN_IN_AUDIENCES.contains(&audience) {
            return Err(GraphError::invalid_property(
                "signInAudience",
                "Application",
            ));
        }
        if let Some(u) = unique_name {
            self.check_unique_name(tenant, u)?;
        }
        let app = Application {
            id: new_guid(),
            app_id: new_guid(),
            tenant: tenant.to_owned(),
            display_name: display_name.to_owned(),
            sign_in_audience: audience.to_owned(),
            unique_name: unique_name.map(str::to_owned),
            created: now,
            federated_credentials: Vec::new(),
        };
        self.applications.push(app.clone());
        Ok(app)
    }

    /// `uniqueName` is an alternate key: non-empty, unique in the tenant. The message is
    /// Graph's for a duplicate alternate key ("Another object with the same value for
    /// property … already exists.", seen for `identifierUris` in field reports).
    fn check_unique_name(&self, tenant: &str, u: &str) -> Result<(), GraphError> {
        if u.trim().is_empty() || u.len() > 120 {
            return Err(GraphError::invalid_property("uniqueName", "Application"));
        }
        if self
            .applications
            .iter()
            .any(|a| same_tenant(&a.tenant, tenant) && AppKey::UniqueName(u).matches(a))
        {
            return Err(GraphError::conflict(
                "Another object with the same value for property uniqueName already exists.",
            ));
        }
        Ok(())
    }

    /// Changes `displayName` and `signInAudience` (`uniqueName` cannot change once set).
    pub(crate) fn update_application(
        &mut self,
        tenant: &str,
        key: AppKey<'_>,
        display_name: Option<&str>,
        sign_in_audience: Option<&str>,
        unique_name: Option<&str>,
    ) -> Result<(), GraphError> {
        let i = self.position(tenant, key)?;
        if display_name.is_some_and(|d| d.trim().is_empty()) {
            return Err(GraphError::invalid_property("displayName", "Application"));
        }
        if sign_in_audience.is_some_and(|s| !SIGN_IN_AUDIENCES.contains(&s)) {
            return Err(GraphError::invalid_property(
                "signInAudience",
                "Application",
            ));
        }
        if let Some(u) = unique_name {
            match &self.applications[i].unique_name {
                Some(current) if current.eq_ignore_ascii_case(u) => {}
                // Immutable once set (Graph v1.0 `application`: "uniqueName … can't be
                // changed").
                Some(_) => {
                    return Err(GraphError::bad_request(
                        "Property 'uniqueName' is read-only and cannot be changed.",
                    ));
                }
                None => self.check_unique_name(tenant, u)?,
            }
        }
        let app = &mut self.applications[i];
        if let Some(d) = display_name {
            d.clone_into(&mut app.display_name);
        }
        if let Some(s) = sign_in_audience {
            s.clone_into(&mut app.sign_in_audience);
        }
        if let Some(u) = unique_name {
            app.unique_name = Some(u.to_owned());
        }
        Ok(())
    }

    /// Deletes an application and its FICs. Its service principals stay, as in Entra
    /// (they are the tenants' objects); without the application they issue nothing.
    pub(crate) fn delete_application(
        &mut self,
        tenant: &str,
        key: AppKey<'_>,
    ) -> Result<Application, GraphError> {
        let i = self.position(tenant, key)?;
        Ok(self.applications.remove(i))
    }

    /// The FIC `fic` of an application.
    pub(crate) fn fic(
        &self,
        tenant: &str,
        key: AppKey<'_>,
        fic: FicKey<'_>,
    ) -> Result<&GraphFic, GraphError> {
        self.application(tenant, key)?
            .federated_credentials
            .iter()
            .find(|f| fic.matches(f))
            .ok_or_else(|| GraphError::not_found(fic.text()))
    }

    /// Adds a FIC to an application, with Graph's rules.
    pub(crate) fn create_fic(
        &mut self,
        tenant: &str,
        key: AppKey<'_>,
        fields: FicFields,
        now: i64,
    ) -> Result<GraphFic, GraphError> {
        let i = self.position(tenant, key)?;
        let fics = &self.applications[i].federated_credentials;
        let name = fields.name.clone().unwrap_or_default();
        let fic = GraphFic {
            id: new_guid(),
            name,
            issuer: fields.issuer.clone().unwrap_or_default(),
            subject: fields.subject.clone().unwrap_or_default(),
            description: fields.description.clone().flatten(),
            audiences: fields.audiences.clone().unwrap_or_default(),
            changed_at: now,
        };
        check_fic(&fic)?;
        if fics.iter().any(|f| f.name.eq_ignore_ascii_case(&fic.name)) {
            return Err(duplicate_name(&fic.name));
        }
        if let Some(e) = duplicate_pair(fics, None, &fic) {
            return Err(e);
        }
        if fics.len() >= MAX_FICS_PER_APPLICATION {
            return Err(too_many());
        }
        self.applications[i].federated_credentials.push(fic.clone());
        Ok(fic)
    }

    /// Updates a FIC (`PATCH`): the fields given change, `name` cannot. With
    /// `create_if_missing` (`Prefer: create-if-missing` on `(name='…')`), a missing FIC is
    /// created instead; `Some` then holds it.
    pub(crate) fn update_fic(
        &mut self,
        tenant: &str,
        key: AppKey<'_>,
        fic_key: FicKey<'_>,
        mut fields: FicFields,
        create_if_missing: bool,
        now: i64,
    ) -> Result<Option<GraphFic>, GraphError> {
        let i = self.position(tenant, key)?;
        let fics = &self.applications[i].federated_credentials;
        let Some(j) = fics.iter().position(|f| fic_key.matches(f)) else {
            return match fic_key {
                FicKey::Name(name) if create_if_missing => {
                    if fields
                        .name
                        .as_deref()
                        .is_some_and(|n| !n.eq_ignore_ascii_case(name))
                    {
                        return Err(name_is_immutable());
                    }
                    fields.name = Some(name.to_owned());
                    self.create_fic(tenant, key, fields, now).map(Some)
                }
                _ => Err(GraphError::not_found(fic_key.text())),
            };
        };
        let old = &fics[j];
        // The name is immutable once created (Graph v1.0 `federatedIdentityCredential`:
        // "name … Immutable once created").
        if fields
            .name
            .as_deref()
            .is_some_and(|n| !n.eq_ignore_ascii_case(&old.name))
        {
            return Err(name_is_immutable());
        }
        let mut next = old.clone();
        if let Some(v) = fields.issuer {
            next.issuer = v;
        }
        if let Some(v) = fields.subject {
            next.subject = v;
        }
        if let Some(v) = fields.description {
            next.description = v;
        }
        if let Some(v) = fields.audiences {
            next.audiences = v;
        }
        check_fic(&next)?;
        if let Some(e) = duplicate_pair(fics, Some(j), &next) {
            return Err(e);
        }
        if (&next.issuer, &next.subject, &next.audiences)
            != (&old.issuer, &old.subject, &old.audiences)
        {
            next.changed_at = now;
        }
        self.applications[i].federated_credentials[j] = next;
        Ok(None)
    }

    /// Deletes a FIC.
    pub(crate) fn delete_fic(
        &mut self,
        tenant: &str,
        key: AppKey<'_>,
        fic_key: FicKey<'_>,
    ) -> Result<GraphFic, GraphError> {
        let i = self.position(tenant, key)?;
        let fics = &mut self.applications[i].federated_credentials;
        let j = fics
            .iter()
            .position(|f| fic_key.matches(f))
            .ok_or_else(|| GraphError::not_found(fic_key.text()))?;
        Ok(fics.remove(j))
    }

    /// The service principal of `app_id` in `tenant`.
    pub(crate) fn service_principal(
        &self,
        tenant: &str,
        app_id: &str,
    ) -> Option<&ServicePrincipal> {
        self.service_principals
            .iter()
            .find(|s| same_tenant(&s.tenant, tenant) && s.app_id.eq_ignore_ascii_case(app_id))
    }

    /// Creates the service principal of `app_id` in `tenant`. Sources: Graph v1.0 "Create
    /// servicePrincipal"; the refusals as Graph answers them in the field: 400
    /// `Request_BadRequest` "The appId '…' of the service principal does not reference a
    /// valid application object." with detail `NoBackingApplicationObject` (an application
    /// that does not exist or is not visible in the tenant: manicminer/hamilton
    /// `msgraph/errors.go`, azure-cli `role` tests), 409
    /// `Request_MultipleObjectsWithSameKeyValue` "The service principal cannot be created,
    /// updated, or restored because the service principal name {appId} is already in use."
    /// (hashicorp/terraform-provider-azuread and Azure/reliable-web-app-pattern-java#185).
    pub(crate) fn create_service_principal(
        &mut self,
        tenant: &str,
        app_id: &str,
        now: i64,
    ) -> Result<ServicePrincipal, GraphError> {
        if app_id.trim().is_empty() {
            return Err(GraphError::invalid_property("appId", "ServicePrincipal"));
        }
        let app = self
            .by_app_id(app_id)
            .filter(|a| same_tenant(&a.tenant, tenant) || a.is_multi_tenant())
            .ok_or_else(|| {
                let message = format!(
                    "The appId '{app_id}' of the service principal does not reference a valid application object."
                );
                let mut e = GraphError::bad_request(message.clone());
                e.details = vec![json!({
                    "code": "NoBackingApplicationObject",
                    "message": message,
                    "target": "appId",
                })];
                e
            })?
            .clone();
        if self.service_principal(tenant, &app.app_id).is_some() {
            return Err(GraphError::conflict(format!(
                "The service principal cannot be created, updated, or restored because the service principal name {} is already in use.",
                app.app_id
            )));
        }
        let sp = ServicePrincipal {
            id: new_guid(),
            app_id: app.app_id.clone(),
            tenant: tenant.to_owned(),
            display_name: app.display_name.clone(),
            app_owner_organization_id: app.tenant.clone(),
            created: now,
        };
        self.service_principals.push(sp.clone());
        Ok(sp)
    }

    /// `tenant`'s service principals, those `keep` accepts.
    pub(crate) fn service_principals(
        &self,
        tenant: &str,
        keep: impl Fn(&ServicePrincipal) -> bool,
    ) -> Vec<&ServicePrincipal> {
        self.service_principals
            .iter()
            .filter(|s| same_tenant(&s.tenant, tenant) && keep(s))
            .collect()
    }

    /// Deletes the service principal `id` of `tenant`.
    pub(crate) fn delete_service_principal(
        &mut self,
        tenant: &str,
        id: &str,
    ) -> Result<ServicePrincipal, GraphError> {
        let i = self
            .service_principals
            .iter()
            .position(|s| same_tenant(&s.tenant, tenant) && s.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| GraphError::not_found(id))?;
        Ok(self.service_principals.remove(i))
    }
}

/// The checks on a FIC's own fields.
fn check_fic(f: &GraphFic) -> Result<(), GraphError> {
    // The name's rule; the message is the one Learn's FIC considerations page lists for
    // an invalid name ("Federated Identity Credential name '{ficName}' is invalid.").
    if !valid_fic_name(&f.name) {
        return Err(GraphError::bad_request(format!(
            "Federated Identity Credential name '{}' is invalid.",
            f.name
        )));
    }
    let long = |v: &str| v.chars().count() > MAX_FIC_FIELD_CHARS;
    let invalid = |p: &str| GraphError::invalid_property(p, "FederatedIdentityCredential");
    if f.issuer.is_empty() || long(&f.issuer) {
        return Err(invalid("issuer"));
    }
    if f.subject.is_empty() || long(&f.subject) {
        return Err(invalid("subject"));
    }
    if f.description.as_deref().is_some_and(long) {
        return Err(invalid("description"));
    }
    // "This field can only accept a single value and has a limit of 600 characters."
    if f.audiences.len() != 1 || f.audiences.iter().any(|a| a.is_empty() || long(a)) {
        return Err(invalid("audiences"));
    }
    Ok(())
}

/// 409 for a second FIC of the same name. Graph's answer, from azure-dev#1482: "FederatedIdentityCredential with name main already exists."
fn duplicate_name(name: &str) -> GraphError {
    GraphError::conflict(format!(
        "FederatedIdentityCredential with name {name} already exists."
    ))
}

/// 400 for a second FIC with the same issuer and subject. Graph's answer, from
/// Azure/azure-workload-identity#434 (code `InvalidFederatedIdentityCredentialValue`).
fn duplicate_pair(fics: &[GraphFic], except: Option<usize>, f: &GraphFic) -> Option<GraphError> {
    let clash = fics.iter().enumerate().any(|(j, other)| {
        Some(j) != except && other.issuer == f.issuer && other.subject == f.subject
    });
    clash.then(|| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "InvalidFederatedIdentityCredentialValue",
            format!(
                "The combination of issuer and subject must be unique for the application. Issuer {} and Subject: {} already exist.",
                f.issuer, f.subject
            ),
        )
    })
}

/// 400 past the 20th FIC. The limit is Graph's ("Maximum of 20 objects can be added to an
/// application"); the message is a guess.
fn too_many() -> GraphError {
    GraphError::bad_request(format!(
        "The application already has the maximum number of federated identity credentials ({MAX_FICS_PER_APPLICATION})."
    ))
}

/// 400 for a PATCH that renames a FIC; the message is a guess.
fn name_is_immutable() -> GraphError {
    GraphError::bad_request("Property 'name' is read-only and cannot be changed.")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "5e3f7a2c-9b1d-4e6f-8a0b-7c2d1e9f4a63";
    const OTHER: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn fields(name: &str, issuer: &str, subject: &str) -> FicFields {
        FicFields {
            name: Some(name.into()),
            issuer: Some(issuer.into()),
            subject: Some(subject.into()),
            description: None,
            audiences: Some(vec!["api://AzureADTokenExchange".into()]),
        }
    }

    #[test]
    fn applications_live_in_their_home_directory() {
        let mut d = Directories::default();
        let app = d
            .create_application(HOME, "app", None, Some("uniq"), 0)
            .unwrap();
        assert_eq!(app.sign_in_audience, "AzureADMyOrg");
        assert!(d.application(HOME, AppKey::AppId(&app.app_id)).is_ok());
        assert!(d.application(HOME, AppKey::UniqueName("UNIQ")).is_ok());
        assert_eq!(
            d.application(OTHER, AppKey::Id(&app.id)).unwrap_err().code,
            "Request_ResourceNotFound"
        );
        assert_eq!(
            d.create_application(HOME, "b", None, Some("uniq"), 0)
                .unwrap_err()
                .status,
            StatusCode::CONFLICT
        );
        assert!(
            d.create_application(OTHER, "b", None, Some("uniq"), 0)
                .is_ok()
        );
        assert!(d.create_application(HOME, " ", None, None, 0).is_err());
        assert!(
            d.create_application(HOME, "c", Some("Everyone"), None, 0)
                .is_err()
        );
    }

    #[test]
    fn service_principals_need_a_visible_application() {
        let mut d = Directories::default();
        let single = d.create_application(HOME, "s", None, None, 0).unwrap();
        let multi = d
            .create_application(HOME, "m", Some("AzureADMultipleOrgs"), None, 0)
            .unwrap();
        let e = d
            .create_service_principal(OTHER, &single.app_id, 0)
            .unwrap_err();
        assert_eq!(e.details[0]["code"], "NoBackingApplicationObject");
        assert!(d.create_service_principal(HOME, &single.app_id, 0).is_ok());
        let sp = d.create_service_principal(OTHER, &multi.app_id, 0).unwrap();
        assert_eq!(sp.app_owner_organization_id, HOME);
        assert_eq!(
            d.create_service_principal(OTHER, &multi.app_id, 0)
                .unwrap_err()
                .status,
            StatusCode::CONFLICT
        );
        assert!(d.create_service_principal(OTHER, &new_guid(), 0).is_err());
    }

    #[test]
    fn fic_rules() {
        let mut d = Directories::default();
        let app = d.create_application(HOME, "app", None, None, 0).unwrap();
        let key = AppKey::Id(&app.id);
        let iss = "https://issuer.example";
        assert!(d.create_fic(HOME, key, fields("a", iss, "s"), 0).is_err());
        assert!(d.create_fic(HOME, key, fields("-ab", iss, "s"), 0).is_err());
        let mut two = fields("two", iss, "s");
        two.audiences = Some(vec!["a".into(), "b".into()]);
        assert!(d.create_fic(HOME, key, two, 0).is_err());
        assert!(
            d.create_fic(HOME, key, fields("long", &"i".repeat(601), "s"), 0)
                .is_err()
        );
        let first = d
            .create_fic(HOME, key, fields("fic-0", iss, "s0"), 5)
            .unwrap();
        assert_eq!(first.changed_at, 5);
        assert_eq!(
            d.create_fic(HOME, key, fields("FIC-0", iss, "other"), 0)
                .unwrap_err()
                .status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            d.create_fic(HOME, key, fields("fic-x", iss, "s0"), 0)
                .unwrap_err()
                .code,
            "InvalidFederatedIdentityCredentialValue"
        );
        for i in 1..20 {
            d.create_fic(
                HOME,
                key,
                fields(&format!("fic-{i}"), iss, &format!("s{i}")),
                0,
            )
            .unwrap();
        }
        assert!(
            d.create_fic(HOME, key, fields("fic-20", iss, "s20"), 0)
                .is_err()
        );
        // Rename refused; a change of subject restarts the clock; an unchanged one not.
        let rename = FicFields {
            name: Some("renamed".into()),
            ..FicFields::default()
        };
        assert!(
            d.update_fic(HOME, key, FicKey::Name("fic-0"), rename, false, 9)
                .is_err()
        );
        let subject = FicFields {
            subject: Some("changed".into()),
            ..FicFields::default()
        };
        d.update_fic(HOME, key, FicKey::Id(&first.id), subject, false, 9)
            .unwrap();
        assert_eq!(
            d.fic(HOME, key, FicKey::Name("fic-0")).unwrap().changed_at,
            9
        );
        let description = FicFields {
            description: Some(Some("d".into())),
            ..FicFields::default()
        };
        d.update_fic(HOME, key, FicKey::Name("fic-0"), description, false, 11)
            .unwrap();
        assert_eq!(
            d.fic(HOME, key, FicKey::Name("fic-0")).unwrap().changed_at,
            9
        );
        // Upsert of a missing name creates it, when there is room.
        d.delete_fic(HOME, key, FicKey::Name("fic-19")).unwrap();
        let created = d
            .update_fic(
                HOME,
                key,
                FicKey::Name("new-one"),
                fields("new-one", iss, "n"),
                true,
                0,
            )
            .unwrap();
        assert!(created.is_some());
        assert!(
            d.update_fic(
                HOME,
                key,
                FicKey::Name("nope"),
                FicFields::default(),
                false,
                0
            )
            .is_err()
        );
    }
}
