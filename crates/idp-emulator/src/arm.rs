//! The ARM side: user-assigned managed identities and their federated identity credentials,
//! with ARM's validation rules and error bodies.
//!
//! Routes (all under `/subscriptions/{subscription}/resourceGroups/{rg}/providers/
//! Microsoft.ManagedIdentity/userAssignedIdentities`, literal segments matched
//! case-insensitively like ARM):
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | `` (the collection) | `{"value":[identity…]}` |
//! | PUT | `/{name}` body `{"location", "tags"?}` | 201 created / 200 updated |
//! | GET, DELETE | `/{name}` | 200; DELETE of a missing identity 204 |
//! | GET | `/{name}/federatedIdentityCredentials` | `{"value":[fic…]}` |
//! | PUT | `/{name}/federatedIdentityCredentials/{fic}` body `{"properties":{"issuer","subject","audiences"}}` | 201 / 200 |
//! | GET, DELETE | `/{name}/federatedIdentityCredentials/{fic}` | 200; DELETE of a missing FIC 204 |
//!
//! Every request needs an `api-version` query parameter (any value), as ARM does.
//! Resource groups need not be created first.

use crate::ids::new_guid;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use url::Url;

/// ARM's limit on FICs per identity.
pub const MAX_FICS_PER_IDENTITY: usize = 20;
/// ARM's limit on the length of a FIC's issuer, subject and each audience.
pub const MAX_FIC_FIELD_CHARS: usize = 600;

/// The resource type of an identity.
pub const IDENTITY_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
/// The resource type of a FIC.
pub const FIC_TYPE: &str =
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials";

/// An ARM failure: the status and `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ArmError {
    /// The HTTP status.
    pub status: StatusCode,
    /// ARM's error code, e.g. `ResourceNotFound`.
    pub code: &'static str,
    /// ARM's message.
    pub message: String,
}

impl ArmError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// The JSON body ARM sends.
    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

/// A user-assigned managed identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// The resource group, as first written.
    pub resource_group: String,
    /// The identity's name, as first written.
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// What a token request sends as `client_id`.
    pub client_id: String,
    /// The service principal's object id: `oid` and `sub` of its access tokens.
    pub principal_id: String,
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// A federated identity credential on an identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    /// When issuer, subject or audiences last changed (seconds since the epoch); the
    /// propagation delay runs from here.
    pub changed_at: i64,
}

/// The writable properties of a FIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FicSpec {
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

impl FicSpec {
    /// A spec with one audience.
    pub fn new(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            subject: subject.into(),
            audiences: vec![audience.into()],
        }
    }

    /// ARM's checks on the properties alone.
    fn validate(&self) -> Result<(), ArmError> {
        let too_long = |what: &str, v: &str| {
            (v.chars().count() > MAX_FIC_FIELD_CHARS).then(|| {
                ArmError::bad_request(format!(
                    "The {what} must not be longer than {MAX_FIC_FIELD_CHARS} characters."
                ))
            })
        };
        if self.issuer.is_empty() {
            return Err(ArmError::bad_request("The issuer is required."));
        }
        if let Some(e) = too_long("issuer", &self.issuer) {
            return Err(e);
        }
        if Url::parse(&self.issuer).is_err() {
            return Err(ArmError::bad_request(format!(
                "The issuer '{}' is not a valid absolute URL.",
                self.issuer
            )));
        }
        if self.subject.is_empty() {
            return Err(ArmError::bad_request("The subject is required."));
        }
        if let Some(e) = too_long("subject", &self.subject) {
            return Err(e);
        }
        if self.audiences.len() != 1 {
            return Err(ArmError::bad_request(
                "Federated identity credentials must have exactly one audience.",
            ));
        }
        for audience in &self.audiences {
            if audience.is_empty() {
                return Err(ArmError::bad_request("The audience must not be empty."));
            }
            if let Some(e) = too_long("audience", audience) {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// 3–120 characters of letters, digits, `-` and `_`, the first a letter or digit.
pub fn valid_fic_name(name: &str) -> bool {
    (3..=120).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 3–128 characters of letters, digits, `-` and `_`, the first a letter or digit.
pub fn valid_identity_name(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// 1–90 characters of letters, digits, `-`, `_`, `.`, `(` and `)`, not ending in `.`.
pub fn valid_resource_group_name(name: &str) -> bool {
    (1..=90).contains(&name.len())
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
}

fn check_resource_group(rg: &str) -> Result<(), ArmError> {
    if valid_resource_group_name(rg) {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceGroupName",
            format!("Resource group name '{rg}' is invalid."),
        ))
    }
}

fn check_identity_name(name: &str) -> Result<(), ArmError> {
    if valid_identity_name(name) {
        Ok(())
    } else {
        Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!(
                "Resource name '{name}' is invalid. The name can contain only letters, numbers, underscores, and hyphens, must start with a letter or number, and must be between 3 and 128 characters long."
            ),
        ))
    }
}

fn identity_not_found(rg: &str, name: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("The Resource '{IDENTITY_TYPE}/{name}' under resource group '{rg}' was not found."),
    )
}

/// All identities, vaults and role assignments; the emulator's whole ARM state.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Registry {
    pub identities: Vec<Identity>,
    #[serde(default)]
    pub vaults: Vec<crate::vault::Vault>,
    #[serde(default)]
    pub role_assignments: Vec<crate::vault::RoleAssignment>,
    #[serde(default)]
    pub applications: Vec<crate::solutions::Application>,
    #[serde(default)]
    pub resource_groups: Vec<ResourceGroup>,
}

/// A resource group: it must exist before anything is created in it, as in Azure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub name: String,
    pub location: String,
}

impl Registry {
    pub(crate) fn resource_group(&self, rg: &str) -> Option<&ResourceGroup> {
        self.resource_groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(rg))
    }

    /// Creates a resource group (or updates its tags, here nothing); `true` if created. Its
    /// location cannot change once set (ARM: `InvalidResourceGroupLocation`).
    pub(crate) fn put_resource_group(
        &mut self,
        rg: &str,
        location: &str,
    ) -> Result<(ResourceGroup, bool), ArmError> {
        check_resource_group(rg)?;
        if let Some(g) = self.resource_group(rg) {
            if g.location != location {
                return Err(ArmError::new(
                    StatusCode::CONFLICT,
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                        g.location
                    ),
                ));
            }
            return Ok((g.clone(), false));
        }
        let g = ResourceGroup {
            name: rg.to_owned(),
            location: location.to_owned(),
        };
        self.resource_groups.push(g.clone());
        Ok((g, true))
    }
}

impl Registry {
    fn position(&self, rg: &str, name: &str) -> Option<usize> {
        self.identities.iter().position(|i| {
            i.resource_group.eq_ignore_ascii_case(rg) && i.name.eq_ignore_ascii_case(name)
        })
    }

    pub(crate) fn identity(&self, rg: &str, name: &str) -> Result<&Identity, ArmError> {
        check_resource_group(rg)?;
        check_identity_name(name)?;
        self.position(rg, name)
            .map(|i| &self.identities[i])
            .ok_or_else(|| identity_not_found(rg, name))
    }

    pub(crate) fn by_client_id(&self, client_id: &str) -> Option<&Identity> {
        self.identities
            .iter()
            .find(|i| i.client_id.eq_ignore_ascii_case(client_id))
    }

    pub(crate) fn list(&self, rg: &str) -> Result<Vec<&Identity>, ArmError> {
        check_resource_group(rg)?;
        Ok(self
            .identities
            .iter()
            .filter(|i| i.resource_group.eq_ignore_ascii_case(rg))
            .collect())
    }

    /// Creates or updates; `true` if created. Client and principal ids are kept on update.
    pub(crate) fn put_identity(
        &mut self,
        rg: &str,
        name: &str,
        location: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(Identity, bool), ArmError> {
        check_resource_group(rg)?;
        check_identity_name(name)?;
        if location.is_empty() {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
        if let Some(i) = self.position(rg, name) {
            let identity = &mut self.identities[i];
            identity.location = location.to_owned();
            identity.tags = tags;
            return Ok((identity.clone(), false));
        }
        let identity = Identity {
            resource_group: rg.to_owned(),
            name: name.to_owned(),
            location: location.to_owned(),
            tags,
            client_id: new_guid(),
            principal_id: new_guid(),
            federated_credentials: Vec::new(),
        };
        self.identities.push(identity.clone());
        Ok((identity, true))
    }

    /// `Some` with the deleted identity, `None` if there was none.
    pub(crate) fn delete_identity(
        &mut self,
        rg: &str,
        name: &str,
    ) -> Result<Option<Identity>, ArmError> {
        check_resource_group(rg)?;
        check_identity_name(name)?;
        Ok(self.position(rg, name).map(|i| self.identities.remove(i)))
    }

    /// Creates or updates a FIC; `true` if created.
    pub(crate) fn put_fic(
        &mut self,
        rg: &str,
        name: &str,
        fic_name: &str,
        spec: FicSpec,
        now: i64,
    ) -> Result<(FederatedCredential, bool), ArmError> {
        self.identity(rg, name)?;
        if !valid_fic_name(fic_name) {
            return Err(ArmError::bad_request(format!(
                "Federated Identity Credential name '{fic_name}' is invalid."
            )));
        }
        spec.validate()?;
        let i = self
            .position(rg, name)
            .ok_or_else(|| identity_not_found(rg, name))?;
        let fics = &mut self.identities[i].federated_credentials;
        let existing = fics
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(fic_name));
        if fics.iter().enumerate().any(|(j, f)| {
            Some(j) != existing && f.issuer == spec.issuer && f.subject == spec.subject
        }) {
            return Err(ArmError::bad_request(
                "Issuer and subject combination already exists for this Managed Identity.",
            ));
        }
        match existing {
            Some(j) => {
                let fic = &mut fics[j];
                if (&fic.issuer, &fic.subject, &fic.audiences)
                    != (&spec.issuer, &spec.subject, &spec.audiences)
                {
                    fic.issuer = spec.issuer;
                    fic.subject = spec.subject;
                    fic.audiences = spec.audiences;
                    fic.changed_at = now;
                }
                Ok((fic.clone(), false))
            }
            None => {
                if fics.len() >= MAX_FICS_PER_IDENTITY {
                    return Err(ArmError::bad_request(format!(
                        "Too many Federated Identity Credentials. A Managed Identity can have at most {MAX_FICS_PER_IDENTITY}."
                    )));
                }
                let fic = FederatedCredential {
                    name: fic_name.to_owned(),
                    issuer: spec.issuer,
                    subject: spec.subject,
                    audiences: spec.audiences,
                    changed_at: now,
                };
                fics.push(fic.clone());
                Ok((fic, true))
            }
        }
    }

    pub(crate) fn fic(
        &self,
        rg: &str,
        name: &str,
        fic_name: &str,
    ) -> Result<&FederatedCredential, ArmError> {
        self.identity(rg, name)?
            .federated_credentials
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(fic_name))
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!(
                        "The Resource '{IDENTITY_TYPE}/{name}/federatedIdentityCredentials/{fic_name}' under resource group '{rg}' was not found."
                    ),
                )
            })
    }

    pub(crate) fn delete_fic(
        &mut self,
        rg: &str,
        name: &str,
        fic_name: &str,
    ) -> Result<Option<FederatedCredential>, ArmError> {
        self.identity(rg, name)?;
        let i = self
            .position(rg, name)
            .ok_or_else(|| identity_not_found(rg, name))?;
        let fics = &mut self.identities[i].federated_credentials;
        Ok(fics
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(fic_name))
            .map(|j| fics.remove(j)))
    }
}

/// The ARM id of an identity.
pub fn identity_id(subscription: &str, identity: &Identity) -> String {
    format!(
        "/subscriptions/{subscription}/resourcegroups/{}/providers/{IDENTITY_TYPE}/{}",
        identity.resource_group, identity.name
    )
}

/// An identity as ARM answers it; from api-version 2024-11-30 with `isolationScope`
/// (azure-rest-api-specs ManagedIdentity stable/2024-11-30, `IdentityGet.json`).
pub(crate) fn identity_json(
    subscription: &str,
    tenant: &str,
    identity: &Identity,
    api_version: &str,
) -> Value {
    let mut body = json!({
        "id": identity_id(subscription, identity),
        "name": identity.name,
        "type": IDENTITY_TYPE,
        "location": identity.location,
        "tags": identity.tags,
        "properties": {
            "tenantId": tenant,
            "principalId": identity.principal_id,
            "clientId": identity.client_id,
        },
    });
    if api_version >= "2024-11-30" {
        body["properties"]["isolationScope"] = json!("None");
    }
    body
}

pub(crate) fn fic_json(
    subscription: &str,
    identity: &Identity,
    fic: &FederatedCredential,
) -> Value {
    json!({
        "id": format!("{}/federatedIdentityCredentials/{}", identity_id(subscription, identity), fic.name),
        "name": fic.name,
        "type": FIC_TYPE,
        "properties": {
            "issuer": fic.issuer,
            "subject": fic.subject,
            "audiences": fic.audiences,
        },
    })
}

/// What an ARM path names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    Identities {
        rg: &'a str,
    },
    Identity {
        rg: &'a str,
        name: &'a str,
    },
    Fics {
        rg: &'a str,
        name: &'a str,
    },
    Fic {
        rg: &'a str,
        name: &'a str,
        fic: &'a str,
    },
    /// `…/providers/Microsoft.KeyVault/vaults/{name}`, see [`crate::vault`].
    Vault {
        rg: &'a str,
        name: &'a str,
    },
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    RoleAssignment {
        scope: &'a str,
        name: &'a str,
    },
    /// `…/providers/Microsoft.Solutions/applications/{name}`, see [`crate::solutions`].
    Application {
        rg: &'a str,
        name: &'a str,
    },
    /// `…/providers/Microsoft.Solutions/applications/{name}/listTokens`.
    ListTokens {
        rg: &'a str,
        name: &'a str,
    },
    /// `/subscriptions/{id}` itself (az login reads it).
    Subscription,
    /// `/subscriptions/{id}/resourcegroups/{rg}`.
    ResourceGroup {
        rg: &'a str,
    },
}

/// Splits `/subscriptions/{sub}/…` into the subscription and what it names.
pub(crate) fn parse_path(path: &str) -> Option<(&str, Target<'_>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let lit = |i: usize, want: &str| {
        segments
            .get(i)
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    if !lit(0, "subscriptions") || segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    let n = segments.len();
    if n == 2 {
        return Some((segments[1], Target::Subscription));
    }
    if n == 4 && lit(2, "resourceGroups") {
        return Some((segments[1], Target::ResourceGroup { rg: segments[3] }));
    }
    // A role assignment at any scope: the scope is everything before its provider.
    if n >= 6
        && lit(n - 4, "providers")
        && lit(n - 3, "Microsoft.Authorization")
        && lit(n - 2, "roleAssignments")
    {
        let marker = "/providers/microsoft.authorization/roleassignments/";
        let at = path.to_ascii_lowercase().rfind(marker)?;
        let scope = path[..at].trim_end_matches('/');
        return Some((
            segments[1],
            Target::RoleAssignment {
                scope,
                name: segments[n - 1],
            },
        ));
    }
    if n == 8
        && lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.KeyVault")
        && lit(6, "vaults")
    {
        return Some((
            segments[1],
            Target::Vault {
                rg: segments[3],
                name: segments[7],
            },
        ));
    }
    if (n == 8 || n == 9)
        && lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.Solutions")
        && lit(6, "applications")
    {
        let (rg, name) = (segments[3], segments[7]);
        return match n {
            8 => Some((segments[1], Target::Application { rg, name })),
            _ if lit(8, "listTokens") => Some((segments[1], Target::ListTokens { rg, name })),
            _ => None,
        };
    }
    if !(lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.ManagedIdentity")
        && lit(6, "userAssignedIdentities"))
    {
        return None;
    }
    let (sub, rg) = (segments[1], segments[3]);
    let target = match segments.len() {
        7 => Target::Identities { rg },
        8 => Target::Identity {
            rg,
            name: segments[7],
        },
        9 if lit(8, "federatedIdentityCredentials") => Target::Fics {
            rg,
            name: segments[7],
        },
        10 if lit(8, "federatedIdentityCredentials") => Target::Fic {
            rg,
            name: segments[7],
            fic: segments[9],
        },
        _ => return None,
    };
    Some((sub, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://issuer.example/oidc";
    const AUD: &str = "api://AzureADTokenExchange";

    fn registry_with_identity() -> Registry {
        let mut r = Registry::default();
        r.put_identity("rg", "uami", "westeurope", BTreeMap::new())
            .unwrap();
        r
    }

    #[test]
    fn names_follow_arm_rules() {
        for ok in ["abc", "a-b_c", "0ab", &"a".repeat(120)] {
            assert!(valid_fic_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "-ab",
            "_ab",
            "a.b",
            "a b",
            "ab/",
            "äbc",
            &"a".repeat(121),
        ] {
            assert!(!valid_fic_name(bad), "{bad}");
        }
        assert!(valid_identity_name(&"a".repeat(128)));
        assert!(!valid_identity_name(&"a".repeat(129)));
        assert!(!valid_identity_name("x"));
        assert!(valid_resource_group_name("my.rg(1)"));
        assert!(!valid_resource_group_name("rg."));
        assert!(!valid_resource_group_name(""));
    }

    #[test]
    fn parse_path_matches_literals_case_insensitively() {
        let (sub, t) = parse_path(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.managedidentity/userassignedidentities/u/federatedidentitycredentials/f",
        )
        .unwrap();
        assert_eq!(sub, "s");
        assert_eq!(
            t,
            Target::Fic {
                rg: "rg",
                name: "u",
                fic: "f"
            }
        );
        assert_eq!(
            parse_path("/subscriptions/s/resourceGroups/rg").unwrap().1,
            Target::ResourceGroup { rg: "rg" }
        );
        assert_eq!(
            parse_path("/subscriptions/s").unwrap().1,
            Target::Subscription
        );
        assert!(parse_path("/subscriptions/s/resourceGroups").is_none());
        assert!(
            parse_path("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u/other")
                .is_none()
        );
        assert!(
            parse_path("/subscriptions/s/resourceGroups//providers/Microsoft.ManagedIdentity/userAssignedIdentities")
                .is_none()
        );
    }

    #[test]
    fn re_put_keeps_the_ids_and_names_are_case_insensitive() {
        let mut r = registry_with_identity();
        let first = r.identity("rg", "uami").unwrap().clone();
        let (again, created) = r
            .put_identity("RG", "UAMI", "northeurope", BTreeMap::new())
            .unwrap();
        assert!(!created);
        assert_eq!(again.client_id, first.client_id);
        assert_eq!(again.principal_id, first.principal_id);
        assert_eq!(again.name, "uami");
        assert_eq!(again.location, "northeurope");
        assert_ne!(first.client_id, first.principal_id);
    }

    #[test]
    fn fic_rules() {
        let mut r = registry_with_identity();
        let put =
            |r: &mut Registry, name: &str, spec: FicSpec| r.put_fic("rg", "uami", name, spec, 0);
        let msg = |e: ArmError| e.message;

        assert_eq!(
            msg(put(&mut r, "a", FicSpec::new(ISS, "s", AUD)).unwrap_err()),
            "Federated Identity Credential name 'a' is invalid."
        );
        let mut two = FicSpec::new(ISS, "s", AUD);
        two.audiences.push("other".into());
        assert_eq!(
            msg(put(&mut r, "fic", two).unwrap_err()),
            "Federated identity credentials must have exactly one audience."
        );
        let mut none = FicSpec::new(ISS, "s", AUD);
        none.audiences.clear();
        assert!(put(&mut r, "fic", none).is_err());
        assert!(put(&mut r, "fic", FicSpec::new("not a url", "s", AUD)).is_err());
        assert!(put(&mut r, "fic", FicSpec::new("/relative", "s", AUD)).is_err());
        let long = format!("{ISS}/{}", "x".repeat(600));
        assert!(put(&mut r, "fic", FicSpec::new(long, "s", AUD)).is_err());
        assert!(put(&mut r, "fic", FicSpec::new(ISS, "s".repeat(601), AUD)).is_err());
        assert!(put(&mut r, "fic", FicSpec::new(ISS, "s".repeat(600), AUD)).is_ok());
        assert!(put(&mut r, "fic", FicSpec::new(ISS, "s", "a".repeat(601))).is_err());
        assert!(put(&mut r, "fic", FicSpec::new(ISS, "", AUD)).is_err());

        // Created, then updated in place under the same name.
        let (_, created) = put(&mut r, "fic", FicSpec::new(ISS, "s", AUD)).unwrap();
        assert!(!created);
        let (_, created) = put(&mut r, "fic2", FicSpec::new(ISS, "t", AUD)).unwrap();
        assert!(created);
        assert_eq!(
            msg(put(&mut r, "fic3", FicSpec::new(ISS, "s", AUD)).unwrap_err()),
            "Issuer and subject combination already exists for this Managed Identity."
        );
        // Same subject, other issuer: fine.
        put(&mut r, "fic3", FicSpec::new(format!("{ISS}/"), "s", AUD)).unwrap();
        for i in 3..20 {
            put(
                &mut r,
                &format!("fic-{i}"),
                FicSpec::new(ISS, format!("s{i}"), AUD),
            )
            .unwrap();
        }
        assert_eq!(
            r.identity("rg", "uami")
                .unwrap()
                .federated_credentials
                .len(),
            20
        );
        let e = put(&mut r, "fic-20", FicSpec::new(ISS, "s20", AUD)).unwrap_err();
        assert!(e.message.contains("at most 20"), "{e}");
        // Updating one of the 20 still works.
        put(&mut r, "fic-3", FicSpec::new(ISS, "s3-changed", AUD)).unwrap();
    }

    #[test]
    fn update_restarts_the_propagation_clock_only_on_change() {
        let mut r = registry_with_identity();
        r.put_fic("rg", "uami", "fic", FicSpec::new(ISS, "s", AUD), 10)
            .unwrap();
        let (f, _) = r
            .put_fic("rg", "uami", "fic", FicSpec::new(ISS, "s", AUD), 20)
            .unwrap();
        assert_eq!(f.changed_at, 10);
        let (f, _) = r
            .put_fic("rg", "uami", "fic", FicSpec::new(ISS, "t", AUD), 30)
            .unwrap();
        assert_eq!(f.changed_at, 30);
    }
}
