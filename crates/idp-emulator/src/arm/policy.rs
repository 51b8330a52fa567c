//! Azure Policy assignments (`Microsoft.Authorization/policyAssignments`) of the one
//! built-in definition the emulator knows: "\[Preview\]: Managed Identity Federated
//! Credentials should be from allowed issuer types"
//! (`/providers/Microsoft.Authorization/policyDefinitions/2571b7c3-3056-4a61-b00a-9bc5232234f5`),
//! and its evaluation on a user-assigned identity's FIC PUT.
//!
//! | method | path | answer |
//! |---|---|---|
//! | PUT, GET, DELETE | `/subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.Authorization/policyAssignments/{name}` body `{"properties": {"policyDefinitionId", "parameters"?, "displayName"?, "enforcementMode"?, "notScopes"?}}` | 201 / 200; DELETE of a missing one 204 |
//!
//! The rule, as the definition writes it (Azure/azure-policy
//! `built-in-policies/policyDefinitions/Managed Identity/FIC_LimitToWellknownIssuers.json`):
//! for the type `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials`,
//! the effect applies when any of
//! - `allowFederatedCredentials` is false (its default: then every FIC is refused),
//! - the issuer's host (`split(issuer, '/')[2]`) is like `*.oic.prod-aks.azure.com` and
//!   `allowAKS` is false,
//! - the issuer equals `https://token.actions.githubusercontent.com` and `allowGitHub` is
//!   false; `https://cognito-identity.amazonaws.com` and `allowAWS`; `https://accounts.google.com`
//!   and `allowGCS`,
//! - the issuer is none of those and not in `allowedIssuerExceptions`.
//!
//! `equals`, `like` and `in` compare strings case-insensitively (Learn, "Azure Policy
//! definition structure: policy rule", conditions). The effect is the `effect` parameter
//! (`Audit` by default, `Deny`, `Disabled`; the allowed values are case-sensitive: ARM
//! refuses `deny` with `PolicyParameterValueNotAllowed`, Azure/Azure-Landing-Zones#442).
//! Only `Deny` with `enforcementMode` `Default` blocks the request: ARM answers 403
//! `RequestDisallowedByPolicy` with the target, the message naming the assignment and the
//! definition, and `additionalInfo` of type `PolicyViolation` (shape from Learn, "Resolve
//! errors for request disallowed by policy", and the `PolicyViolation` example in
//! azure-docs `automation/enforce-job-execution-hybrid-worker.md`). `Audit` and `Disabled`
//! let it through. Application (Graph) FICs are not ARM resources, so no policy sees them.
//! `notScopes` exclude scopes; `enforcementMode: DoNotEnforce` evaluates without denying
//! (Learn, "Azure Policy assignment structure").

use super::kernel::{ArmError, covers};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The resource type of an assignment.
pub const POLICY_ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/policyAssignments";
/// The built-in definition's name.
pub const FIC_POLICY_DEFINITION: &str = "2571b7c3-3056-4a61-b00a-9bc5232234f5";
/// The built-in definition's id.
pub const FIC_POLICY_DEFINITION_ID: &str =
    "/providers/Microsoft.Authorization/policyDefinitions/2571b7c3-3056-4a61-b00a-9bc5232234f5";
/// The definition's display name, as the definition file writes it (twice "\[Preview\]").
pub const FIC_POLICY_DISPLAY_NAME: &str = "[Preview]: [Preview]: Managed Identity Federated Credentials should be from allowed issuer types";
/// The definition's version.
pub const FIC_POLICY_VERSION: &str = "1.0.0-preview";
/// The resource type the definition evaluates.
const FIC_TYPE: &str =
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";
/// The alias of the FIC's issuer.
const ISSUER_ALIAS: &str =
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/issuer";

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const AWS: &str = "https://cognito-identity.amazonaws.com";
const GOOGLE: &str = "https://accounts.google.com";
const AKS_HOST: &str = ".oic.prod-aks.azure.com";

/// The definition's parameters, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FicPolicyParameters {
    pub allow_federated_credentials: bool,
    pub allow_aks: bool,
    pub allow_github: bool,
    pub allow_aws: bool,
    pub allow_gcs: bool,
    pub allowed_issuer_exceptions: Vec<String>,
    /// `Audit`, `Deny` or `Disabled`.
    pub effect: String,
}

impl Default for FicPolicyParameters {
    fn default() -> Self {
        Self {
            allow_federated_credentials: false,
            allow_aks: false,
            allow_github: false,
            allow_aws: false,
            allow_gcs: false,
            allowed_issuer_exceptions: Vec::new(),
            effect: "Audit".into(),
        }
    }
}

/// A policy assignment of the FIC definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyAssignment {
    pub name: String,
    /// `/subscriptions/{s}` or `/subscriptions/{s}/resourceGroups/{rg}`, as written.
    pub scope: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// As given (the built-in definition's id, in any case).
    pub policy_definition_id: String,
    /// `Default` or `DoNotEnforce`.
    pub enforcement_mode: String,
    #[serde(default)]
    pub not_scopes: Vec<String>,
    /// The `parameters` object as given (`{"name": {"value": …}}`).
    pub raw_parameters: Value,
    pub parameters: FicPolicyParameters,
}

impl PolicyAssignment {
    /// Its ARM id.
    pub fn id(&self) -> String {
        format!(
            "{}/providers/{POLICY_ASSIGNMENT_TYPE}/{}",
            self.scope.trim_end_matches('/'),
            self.name
        )
    }

    /// Its ARM body (azure-rest-api-specs Authorization policy 2025-03-01,
    /// `createPolicyAssignment.json`).
    pub fn to_json(&self) -> Value {
        let mut properties = json!({
            "policyDefinitionId": self.policy_definition_id,
            "definitionVersion": "1.*.*-preview",
            "enforcementMode": self.enforcement_mode,
            "notScopes": self.not_scopes,
            "parameters": self.raw_parameters,
            "scope": self.scope,
        });
        if let Some(d) = &self.display_name {
            properties["displayName"] = json!(d);
        }
        if let Some(d) = &self.description {
            properties["description"] = json!(d);
        }
        json!({
            "id": self.id(),
            "name": self.name,
            "type": POLICY_ASSIGNMENT_TYPE,
            "properties": properties,
        })
    }

    fn applies_to(&self, target: &str) -> bool {
        covers(&self.scope, target) && !self.not_scopes.iter().any(|s| covers(s, target))
    }
}

/// Resource names of assignments: 1–64 characters, none of `<>*%&:\?.+/`, not ending in a
/// space (Learn, "Naming rules and restrictions for Azure resources",
/// Microsoft.Authorization/policyAssignments; the code and message are a guess).
fn check_name(name: &str) -> Result<(), ArmError> {
    let ok = (1..=64).contains(&name.chars().count())
        && !name.ends_with(' ')
        && !name
            .chars()
            .any(|c| "<>*%&:\\?.+/".contains(c) || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidPolicyAssignmentName",
            format!("The policy assignment name '{name}' is invalid."),
        ))
    }
}

fn invalid(message: impl Into<String>) -> ArmError {
    ArmError::new(StatusCode::BAD_REQUEST, "InvalidRequestContent", message)
}

/// Reads a PUT body: the definition must be the FIC definition (any other is answered as
/// ARM answers a definition it cannot find, 400 `PolicyDefinitionNotFound`, "The policy
/// assignment create request is invalid. The policy definition '…' could not be found.",
/// as in Azure/Enterprise-Scale#804: the emulator knows no other), the parameters its
/// own, of their types, the effect one of its allowed values.
pub(crate) fn parse_assignment(
    scope: &str,
    name: &str,
    body: &Map<String, Value>,
) -> Result<PolicyAssignment, ArmError> {
    check_name(name)?;
    let props = match body.get("properties") {
        Some(Value::Object(p)) => p,
        _ => return Err(invalid("The 'properties' object is required.")),
    };
    let text = |k: &str| -> Result<Option<String>, ArmError> {
        match props.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("'{k}' is not a string."))),
        }
    };
    let definition = text("policyDefinitionId")?.unwrap_or_default();
    if !definition.eq_ignore_ascii_case(FIC_POLICY_DEFINITION_ID) {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "PolicyDefinitionNotFound",
            format!(
                "The policy assignment create request is invalid. The policy definition '{definition}' could not be found."
            ),
        ));
    }
    let enforcement_mode = text("enforcementMode")?.unwrap_or_else(|| "Default".into());
    if !["Default", "DoNotEnforce"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(&enforcement_mode))
    {
        return Err(invalid(format!(
            "The enforcement mode '{enforcement_mode}' is not valid: Default or DoNotEnforce."
        )));
    }
    let not_scopes = match props.get("notScopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid("'notScopes' is not an array of strings."))?,
    };
    let raw_parameters = match props.get("parameters") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(invalid("'parameters' is not an object.")),
    };
    let parameters = parse_parameters(name, &raw_parameters)?;
    Ok(PolicyAssignment {
        name: name.to_owned(),
        scope: scope.to_owned(),
        display_name: text("displayName")?,
        description: text("description")?,
        policy_definition_id: definition,
        enforcement_mode,
        not_scopes,
        raw_parameters,
        parameters,
    })
}

/// The definition's parameters from `{"name": {"value": …}}`. A name the definition does
/// not declare is refused (400 `UndefinedPolicyParameter`, code and text a guess), so is a
/// value of the wrong type (400 `InvalidPolicyParameters`, a guess) and an effect not among
/// the allowed values, compared case-sensitively (400 `PolicyParameterValueNotAllowed`,
/// ARM's text from Azure/Azure-Landing-Zones#442).
fn parse_parameters(assignment: &str, raw: &Value) -> Result<FicPolicyParameters, ArmError> {
    let mut p = FicPolicyParameters::default();
    let Value::Object(map) = raw else {
        return Ok(p);
    };
    for (key, wrapped) in map {
        let value = wrapped
            .get("value")
            .ok_or_else(|| invalid(format!("The parameter '{key}' has no 'value'.")))?;
        let wrong_type = |ty: &str| {
            ArmError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyParameters",
                format!(
                    "A function or parameter in policy assignment '{assignment}' could not be validated: the parameter '{key}' expects a value of type '{ty}'."
                ),
            )
        };
        let flag = || value.as_bool().ok_or_else(|| wrong_type("Boolean"));
        match key.to_ascii_lowercase().as_str() {
            "allowfederatedcredentials" => p.allow_federated_credentials = flag()?,
            "allowaks" => p.allow_aks = flag()?,
            "allowgithub" => p.allow_github = flag()?,
            "allowaws" => p.allow_aws = flag()?,
            "allowgcs" => p.allow_gcs = flag()?,
            "allowedissuerexceptions" => {
                p.allowed_issuer_exceptions =
                    serde_json::from_value(value.clone()).map_err(|_| wrong_type("Array"))?;
            }
            "effect" => {
                let effect = value.as_str().ok_or_else(|| wrong_type("String"))?;
                if !["Audit", "Disabled", "Deny"].contains(&effect) {
                    return Err(ArmError::new(
                        StatusCode::BAD_REQUEST,
                        "PolicyParameterValueNotAllowed",
                        format!(
                            "The value '{effect}' is not allowed for policy parameter 'effect' in policy definition '{FIC_POLICY_DEFINITION} version {FIC_POLICY_VERSION}'. The allowed values are 'Audit, Disabled, Deny'."
                        ),
                    ));
                }
                effect.clone_into(&mut p.effect);
            }
            _ => {
                return Err(ArmError::new(
                    StatusCode::BAD_REQUEST,
                    "UndefinedPolicyParameter",
                    format!(
                        "The policy assignment '{assignment}' has the parameter '{key}' which is not defined in the policy definition '{FIC_POLICY_DEFINITION}'."
                    ),
                ));
            }
        }
    }
    Ok(p)
}

/// `split(issuer, '/')[2]` when there are at least three parts, else `''`: the
/// definition's own expression for the issuer's host.
fn host_part(issuer: &str) -> &str {
    let parts: Vec<&str> = issuer.split('/').collect();
    if parts.len() >= 3 { parts[2] } else { "" }
}

/// Azure Policy's `like` with a leading `*`: a case-insensitive suffix match.
fn like_aks(host: &str) -> bool {
    host.to_ascii_lowercase().ends_with(AKS_HOST)
}

fn is(issuer: &str, well_known: &str) -> bool {
    issuer.eq_ignore_ascii_case(well_known)
}

/// The expressions that made the rule true for `issuer`, in `evaluatedExpressions`' shape;
/// `None` if the rule is false (the FIC is allowed).
pub(crate) fn violation(p: &FicPolicyParameters, issuer: &str) -> Option<Vec<Value>> {
    let ty = json!({
        "result": "True", "expressionKind": "Field", "expression": "type", "path": "type",
        "expressionValue": FIC_TYPE, "targetValue": FIC_TYPE, "operator": "Equals",
    });
    let param = |name: &str, value: bool| {
        json!({
            "result": "True", "expressionKind": "Value",
            "expression": format!("[parameters('{name}')]"),
            "expressionValue": value, "targetValue": false, "operator": "Equals",
        })
    };
    let field_equals = |target: &str| {
        json!({
            "result": "True", "expressionKind": "Field", "expression": ISSUER_ALIAS,
            "path": "properties.issuer", "expressionValue": issuer, "targetValue": target,
            "operator": "Equals",
        })
    };
    let host = host_part(issuer);
    if !p.allow_federated_credentials {
        return Some(vec![ty, param("allowFederatedCredentials", false)]);
    }
    if like_aks(host) && !p.allow_aks {
        let like = json!({
            "result": "True", "expressionKind": "Value", "expressionValue": host,
            "targetValue": "*.oic.prod-aks.azure.com", "operator": "Like",
        });
        return Some(vec![ty, like, param("allowAKS", false)]);
    }
    for (well_known, allowed, name) in [
        (GITHUB, p.allow_github, "allowGitHub"),
        (AWS, p.allow_aws, "allowAWS"),
        (GOOGLE, p.allow_gcs, "allowGCS"),
    ] {
        if is(issuer, well_known) && !allowed {
            return Some(vec![ty, field_equals(well_known), param(name, false)]);
        }
    }
    let well_known = like_aks(host) || [GITHUB, AWS, GOOGLE].iter().any(|w| is(issuer, w));
    let excepted = p
        .allowed_issuer_exceptions
        .iter()
        .any(|e| e.eq_ignore_ascii_case(issuer));
    if !well_known && !excepted {
        let not_in = json!({
            "result": "True", "expressionKind": "Field", "expression": ISSUER_ALIAS,
            "path": "properties.issuer", "expressionValue": issuer,
            "targetValue": p.allowed_issuer_exceptions, "operator": "NotIn",
        });
        return Some(vec![ty, not_in]);
    }
    None
}

/// Every assignment.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct PolicyAssignments(Vec<PolicyAssignment>);

impl PolicyAssignments {
    fn position(&self, scope: &str, name: &str) -> Option<usize> {
        self.0.iter().position(|a| {
            a.name.eq_ignore_ascii_case(name)
                && a.scope
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(scope.trim_end_matches('/'))
        })
    }

    pub(crate) fn get(&self, scope: &str, name: &str) -> Result<&PolicyAssignment, ArmError> {
        self.position(scope, name)
            .map(|i| &self.0[i])
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "PolicyAssignmentNotFound",
                    format!("The policy assignment '{name}' is not found."),
                )
            })
    }

    /// Creates or replaces; `true` if created.
    pub(crate) fn put(&mut self, a: PolicyAssignment) -> (PolicyAssignment, bool) {
        match self.position(&a.scope, &a.name) {
            Some(i) => {
                let mut a = a;
                // The name and scope keep their first spelling.
                a.name.clone_from(&self.0[i].name);
                a.scope.clone_from(&self.0[i].scope);
                self.0[i] = a.clone();
                (a, false)
            }
            None => {
                self.0.push(a.clone());
                (a, true)
            }
        }
    }

    pub(crate) fn delete(&mut self, scope: &str, name: &str) -> Option<PolicyAssignment> {
        let i = self.position(scope, name)?;
        Some(self.0.remove(i))
    }

    /// The assignments that deny a FIC at `fic_id` with `issuer`, with the expressions that
    /// made each rule true.
    pub(crate) fn denials(
        &self,
        fic_id: &str,
        issuer: &str,
    ) -> Vec<(&PolicyAssignment, Vec<Value>)> {
        self.0
            .iter()
            .filter(|a| {
                a.parameters.effect == "Deny"
                    && a.enforcement_mode.eq_ignore_ascii_case("Default")
                    && a.applies_to(fic_id)
            })
            .filter_map(|a| violation(&a.parameters, issuer).map(|e| (a, e)))
            .collect()
    }
}

/// ARM's 403 for a request denied by `denials`: `RequestDisallowedByPolicy` with the
/// resource's name as target, the message listing each assignment and definition, and one
/// `PolicyViolation` per assignment.
pub(crate) fn disallowed(
    target: &str,
    denials: &[(&PolicyAssignment, Vec<Value>)],
) -> (ArmError, Value) {
    let identifiers: Vec<Value> = denials
        .iter()
        .map(|(a, _)| {
            json!({
                "policyAssignment": {"name": a.display_name.as_deref().unwrap_or(&a.name), "id": a.id()},
                "policyDefinition": {"name": FIC_POLICY_DISPLAY_NAME, "id": FIC_POLICY_DEFINITION_ID},
            })
        })
        .collect();
    let message = format!(
        "Resource '{target}' was disallowed by policy. Policy identifiers: '{}'.",
        Value::Array(identifiers)
    );
    let additional: Vec<Value> = denials
        .iter()
        .map(|(a, expressions)| {
            json!({
                "type": "PolicyViolation",
                "info": {
                    "evaluationDetails": {"evaluatedExpressions": expressions},
                    "policyDefinitionId": FIC_POLICY_DEFINITION_ID,
                    "policyDefinitionName": FIC_POLICY_DEFINITION,
                    "policyDefinitionDisplayName": FIC_POLICY_DISPLAY_NAME,
                    "policyDefinitionVersion": FIC_POLICY_VERSION,
                    "policyDefinitionEffect": "Deny",
                    "policyAssignmentId": a.id(),
                    "policyAssignmentName": a.name,
                    "policyAssignmentDisplayName": a.display_name.as_deref().unwrap_or(&a.name),
                    "policyAssignmentScope": a.scope,
                    "policyAssignmentParameters": a.raw_parameters,
                    "policyExemptionIds": [],
                }
            })
        })
        .collect();
    let error = ArmError::new(
        StatusCode::FORBIDDEN,
        "RequestDisallowedByPolicy",
        message.clone(),
    );
    let body = json!({"error": {
        "code": "RequestDisallowedByPolicy",
        "target": target,
        "message": message,
        "additionalInfo": additional,
    }});
    (error, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(allow: bool) -> FicPolicyParameters {
        FicPolicyParameters {
            allow_federated_credentials: allow,
            effect: "Deny".into(),
            ..FicPolicyParameters::default()
        }
    }

    #[test]
    fn the_rule_as_the_definition_writes_it() {
        let idp = "https://issuer.example/oidc";
        // Without allowFederatedCredentials, everything.
        assert!(violation(&params(false), GITHUB).is_some());
        let mut p = params(true);
        assert!(violation(&p, idp).is_some());
        assert!(violation(&p, GITHUB).is_some());
        assert!(violation(&p, "https://westeurope.oic.prod-aks.azure.com/t/u/").is_some());
        p.allow_github = true;
        assert!(violation(&p, GITHUB).is_none());
        assert!(violation(&p, "HTTPS://TOKEN.ACTIONS.GITHUBUSERCONTENT.COM").is_none());
        assert!(
            violation(&p, &format!("{GITHUB}/")).is_some(),
            "not the well-known string"
        );
        p.allow_aks = true;
        assert!(violation(&p, "https://westeurope.oic.prod-aks.azure.com/t/u/").is_none());
        assert!(violation(&p, "https://oic.prod-aks.azure.com.evil/t/").is_some());
        p.allowed_issuer_exceptions = vec![idp.to_uppercase()];
        assert!(violation(&p, idp).is_none());
        assert!(violation(&p, AWS).is_some(), "AWS still needs allowAWS");
        assert_eq!(host_part("x"), "");
    }

    #[test]
    fn parameters_are_checked() {
        let body = |params: Value| {
            json!({"properties": {"policyDefinitionId": FIC_POLICY_DEFINITION_ID, "parameters": params}})
                .as_object()
                .unwrap()
                .clone()
        };
        let code = |params: Value| {
            parse_assignment("/subscriptions/s", "a", &body(params))
                .unwrap_err()
                .code
        };
        assert_eq!(
            code(json!({"effect": {"value": "deny"}})),
            "PolicyParameterValueNotAllowed"
        );
        assert_eq!(
            code(json!({"allowGitHub": {"value": "true"}})),
            "InvalidPolicyParameters"
        );
        assert_eq!(
            code(json!({"allowEverything": {"value": true}})),
            "UndefinedPolicyParameter"
        );
        let a = parse_assignment(
            "/subscriptions/s",
            "a",
            &body(json!({"effect": {"value": "Deny"}, "allowGitHub": {"value": true}})),
        )
        .unwrap();
        assert!(a.parameters.allow_github && !a.parameters.allow_federated_credentials);
        let mut other = body(json!({}));
        other["properties"]["policyDefinitionId"] = json!(
            "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c"
        );
        assert_eq!(
            parse_assignment("/subscriptions/s", "a", &other)
                .unwrap_err()
                .code,
            "PolicyDefinitionNotFound"
        );
        assert!(parse_assignment("/subscriptions/s", "a.b", &body(json!({}))).is_err());
    }
}
