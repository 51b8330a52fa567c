//! Managed applications (`Microsoft.Solutions/applications`) and `listTokens`, the source
//! article's first option: the publisher gets the application's managed identities'
//! tokens from ARM, with no issuer at all.
//!
//! | method | path (under `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Solutions/applications/{app}`) | answer |
//! |---|---|---|
//! | PUT | `` body `{"location", "kind", "identity": {"type": "UserAssigned", "userAssignedIdentities": {"<uami id>": {}}}, "properties": {"managedResourceGroupId", "authorizations"?: [{"principalId", "roleDefinitionId"}]}}` | 201 / 200 |
//! | GET | `` | 200 |
//! | POST | `/listTokens` body `{"authorizationAudience"?, "userAssignedIdentities"?: [ids]}` | 200 `{"value": [token…]}` |
//!
//! Rules (sources: azure-rest-api-specs Solutions stable/2021-07-01, `Applications_ListTokens`
//! and its example `listToken.json`; Microsoft Learn, "Azure Managed Application with managed
//! identity", "Retrieve tokens from the publisher tenant"):
//! - the caller must be the application's publisher: the principal whose ARM token created
//!   it, or one in `properties.authorizations[].principalId` (the publisher's access); any
//!   other caller gets 403 `AuthorizationFailed`;
//! - an unknown application is 404 `ResourceNotFound`;
//! - `userAssignedIdentities` must name identities attached to the application (400
//!   otherwise); without it, the system-assigned identity's token, which the emulator's
//!   applications do not have (400);
//! - `authorizationAudience` defaults to ARM (`https://management.azure.com/`);
//! - each token is the identity's access token for that audience (its `xms_mirid` names the
//!   identity), listed as `accessToken`, `expiresIn`, `expiresOn`, `notBefore` (strings, as
//!   the spec's example writes them), `authorizationAudience`, `resourceId`, `tokenType`.

use super::identities::{Identities, Identity};
use super::kernel::{ArmError, check_location_given};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const APPLICATION_TYPE: &str = "Microsoft.Solutions/applications";
/// listTokens' default audience.
pub const DEFAULT_AUDIENCE: &str = "https://management.azure.com/";

/// A managed application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub kind: String,
    pub managed_resource_group_id: String,
    /// The user-assigned identities attached (ARM ids, as given).
    pub identities: Vec<String>,
    /// The principal whose ARM token created it.
    pub publisher: String,
    /// Principals of `properties.authorizations`.
    pub authorizations: Vec<String>,
}

/// The application's ARM id.
pub fn application_id(subscription: &str, a: &Application) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/{APPLICATION_TYPE}/{}",
        a.resource_group, a.name
    )
}

/// The application's ARM body.
pub fn application_json(subscription: &str, a: &Application) -> Value {
    let identities: serde_json::Map<String, Value> = a
        .identities
        .iter()
        .map(|id| (id.clone(), json!({})))
        .collect();
    json!({
        "id": application_id(subscription, a),
        "name": a.name,
        "type": APPLICATION_TYPE,
        "location": a.location,
        "kind": a.kind,
        "identity": {"type": "UserAssigned", "userAssignedIdentities": identities},
        "properties": {
            "managedResourceGroupId": a.managed_resource_group_id,
            "publisherTenantId": null,
            "authorizations": a.authorizations.iter().map(|p| json!({"principalId": p})).collect::<Vec<_>>(),
            "provisioningState": "Succeeded",
        }
    })
}

/// Every managed application.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Applications(Vec<Application>);

impl Applications {
    fn position(&self, rg: &str, name: &str) -> Option<usize> {
        self.0.iter().position(|a| {
            a.resource_group.eq_ignore_ascii_case(rg) && a.name.eq_ignore_ascii_case(name)
        })
    }

    pub(crate) fn get(&self, rg: &str, name: &str) -> Result<&Application, ArmError> {
        self.position(rg, name)
            .map(|i| &self.0[i])
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!("The Resource '{APPLICATION_TYPE}/{name}' under resource group '{rg}' was not found."),
                )
            })
    }

    /// Creates or updates an application; `true` if created. Every identity must exist in
    /// `identities` (ARM resolves them when it attaches them). The publisher is kept on
    /// update.
    pub(crate) fn put(
        &mut self,
        subscription: &str,
        mut app: Application,
        identities: &Identities,
    ) -> Result<(Application, bool), ArmError> {
        check_location_given(&app.location)?;
        if app.managed_resource_group_id.is_empty() {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                "The 'properties.managedResourceGroupId' is required.",
            ));
        }
        for id in &app.identities {
            if identities.by_id(subscription, id).is_none() {
                return Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidIdentity",
                    format!("The user-assigned identity '{id}' was not found."),
                ));
            }
        }
        if let Some(i) = self.position(&app.resource_group, &app.name) {
            app.publisher = self.0[i].publisher.clone();
            self.0[i] = app.clone();
            return Ok((app, false));
        }
        self.0.push(app.clone());
        Ok((app, true))
    }

    /// What `listTokens` may hand `caller`: the identities asked for, each checked.
    pub(crate) fn list_tokens_for(
        &self,
        subscription: &str,
        rg: &str,
        name: &str,
        caller: &str,
        asked: Option<&[String]>,
        identities: &Identities,
    ) -> Result<Vec<(String, Identity)>, ArmError> {
        let app = self.get(rg, name)?;
        let allowed = app.publisher.eq_ignore_ascii_case(caller)
            || app
                .authorizations
                .iter()
                .any(|p| p.eq_ignore_ascii_case(caller));
        if !allowed {
            return Err(ArmError::new(
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                format!(
                    "The client with object id '{caller}' does not have authorization to perform action 'Microsoft.Solutions/applications/listTokens/action' over scope '{}' or the scope is invalid. Only the application's publisher may list its tokens.",
                    application_id(subscription, app)
                ),
            ));
        }
        let Some(asked) = asked.filter(|a| !a.is_empty()) else {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The application has no system-assigned identity: name its user-assigned identities in 'userAssignedIdentities'.",
            ));
        };
        asked
            .iter()
            .map(|id| {
                let attached = app.identities.iter().any(|a| a.eq_ignore_ascii_case(id));
                match (attached, identities.by_id(subscription, id)) {
                    (true, Some(identity)) => Ok((id.clone(), identity.clone())),
                    _ => Err(ArmError::new(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!(
                            "The user-assigned identity '{id}' is not attached to the application."
                        ),
                    )),
                }
            })
            .collect()
    }
}
