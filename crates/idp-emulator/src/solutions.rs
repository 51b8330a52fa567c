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

use crate::arm::{ArmError, Registry};
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

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> ArmError {
    ArmError {
        status,
        code,
        message: message.into(),
    }
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

impl Registry {
    fn application_position(&self, rg: &str, name: &str) -> Option<usize> {
        self.applications.iter().position(|a| {
            a.resource_group.eq_ignore_ascii_case(rg) && a.name.eq_ignore_ascii_case(name)
        })
    }

    pub(crate) fn application(&self, rg: &str, name: &str) -> Result<&Application, ArmError> {
        self.application_position(rg, name)
            .map(|i| &self.applications[i])
            .ok_or_else(|| {
                err(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!("The Resource '{APPLICATION_TYPE}/{name}' under resource group '{rg}' was not found."),
                )
            })
    }

    /// Creates or updates an application; `true` if created. Every identity must exist
    /// (ARM resolves them when it attaches them). The publisher is kept on update.
    pub(crate) fn put_application(
        &mut self,
        subscription: &str,
        mut app: Application,
    ) -> Result<(Application, bool), ArmError> {
        if app.location.is_empty() {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
        if app.managed_resource_group_id.is_empty() {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                "The 'properties.managedResourceGroupId' is required.",
            ));
        }
        for id in &app.identities {
            if self.identity_by_id(subscription, id).is_none() {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "InvalidIdentity",
                    format!("The user-assigned identity '{id}' was not found."),
                ));
            }
        }
        if let Some(i) = self.application_position(&app.resource_group, &app.name) {
            app.publisher = self.applications[i].publisher.clone();
            self.applications[i] = app.clone();
            return Ok((app, false));
        }
        self.applications.push(app.clone());
        Ok((app, true))
    }

    /// The identity an ARM id names, if it exists in this subscription.
    pub(crate) fn identity_by_id(
        &self,
        subscription: &str,
        id: &str,
    ) -> Option<&crate::arm::Identity> {
        let segments: Vec<&str> = id.trim_start_matches('/').split('/').collect();
        let lit = |i: usize, want: &str| {
            segments
                .get(i)
                .is_some_and(|s| s.eq_ignore_ascii_case(want))
        };
        if segments.len() != 8
            || !lit(0, "subscriptions")
            || !segments[1].eq_ignore_ascii_case(subscription)
            || !lit(2, "resourceGroups")
            || !lit(4, "providers")
            || !lit(5, "Microsoft.ManagedIdentity")
            || !lit(6, "userAssignedIdentities")
        {
            return None;
        }
        self.identity(segments[3], segments[7]).ok()
    }

    /// What `listTokens` may hand `caller`: the identities asked for, each checked.
    pub(crate) fn list_tokens_for(
        &self,
        subscription: &str,
        rg: &str,
        name: &str,
        caller: &str,
        asked: Option<&[String]>,
    ) -> Result<Vec<(String, crate::arm::Identity)>, ArmError> {
        let app = self.application(rg, name)?;
        let allowed = app.publisher.eq_ignore_ascii_case(caller)
            || app
                .authorizations
                .iter()
                .any(|p| p.eq_ignore_ascii_case(caller));
        if !allowed {
            return Err(err(
                StatusCode::FORBIDDEN,
                "AuthorizationFailed",
                format!(
                    "The client with object id '{caller}' does not have authorization to perform action 'Microsoft.Solutions/applications/listTokens/action' over scope '{}' or the scope is invalid. Only the application's publisher may list its tokens.",
                    application_id(subscription, app)
                ),
            ));
        }
        let Some(asked) = asked.filter(|a| !a.is_empty()) else {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The application has no system-assigned identity: name its user-assigned identities in 'userAssignedIdentities'.",
            ));
        };
        asked
            .iter()
            .map(|id| {
                let attached = app.identities.iter().any(|a| a.eq_ignore_ascii_case(id));
                match (attached, self.identity_by_id(subscription, id)) {
                    (true, Some(identity)) => Ok((id.clone(), identity.clone())),
                    _ => Err(err(
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

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "20000000-0000-4000-8000-000000000002";

    #[test]
    fn an_identity_id_must_have_the_exact_shape_in_this_subscription() {
        let mut r = Registry::default();
        r.put_resource_group("mrg", "westeurope").unwrap();
        r.put_identity("mrg", "uami", "westeurope", Default::default())
            .unwrap();
        let good = format!(
            "/subscriptions/{SUB}/resourceGroups/mrg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami"
        );
        assert!(r.identity_by_id(SUB, &good).is_some());
        let shouted = good
            .replace("resourceGroups", "RESOURCEGROUPS")
            .replace("Microsoft.ManagedIdentity", "MICROSOFT.MANAGEDIDENTITY");
        assert!(
            r.identity_by_id(SUB, &shouted).is_some(),
            "fixed segments in any case"
        );
        for bad in [
            good.replace(SUB, "30000000-0000-4000-8000-000000000003"),
            good.replace("subscriptions", "subscription"),
            good.replace("resourceGroups", "groups"),
            good.replace("/providers/", "/provider/"),
            good.replace("Microsoft.ManagedIdentity", "Microsoft.Other"),
            good.replace("userAssignedIdentities", "identities"),
            format!("{good}/extra"),
            good.replace("/uami", ""),
            "uami".to_owned(),
        ] {
            assert!(r.identity_by_id(SUB, &bad).is_none(), "{bad}");
        }
    }
}
