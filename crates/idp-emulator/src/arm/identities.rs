//! User-assigned managed identities (`Microsoft.ManagedIdentity`) and their federated
//! identity credentials, with ARM's validation rules and error bodies.
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
//! The resource group must exist first (ARM answers 404 `ResourceGroupNotFound`).

use super::kernel::{ArmError, check_location_given, check_resource_group};
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

/// Every identity (with its FICs), in the order created.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Identities(Vec<Identity>);

impl Identities {
    /// All identities.
    pub(crate) fn all(&self) -> &[Identity] {
        &self.0
    }

    fn position(&self, rg: &str, name: &str) -> Option<usize> {
        self.0.iter().position(|i| {
            i.resource_group.eq_ignore_ascii_case(rg) && i.name.eq_ignore_ascii_case(name)
        })
    }

    pub(crate) fn get(&self, rg: &str, name: &str) -> Result<&Identity, ArmError> {
        check_resource_group(rg)?;
        check_identity_name(name)?;
        self.position(rg, name)
            .map(|i| &self.0[i])
            .ok_or_else(|| identity_not_found(rg, name))
    }

    pub(crate) fn by_client_id(&self, client_id: &str) -> Option<&Identity> {
        self.0
            .iter()
            .find(|i| i.client_id.eq_ignore_ascii_case(client_id))
    }

    pub(crate) fn list(&self, rg: &str) -> Result<Vec<&Identity>, ArmError> {
        check_resource_group(rg)?;
        Ok(self
            .0
            .iter()
            .filter(|i| i.resource_group.eq_ignore_ascii_case(rg))
            .collect())
    }

    /// Creates or updates; `true` if created. Client and principal ids are kept on update.
    pub(crate) fn put(
        &mut self,
        rg: &str,
        name: &str,
        location: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(Identity, bool), ArmError> {
        check_resource_group(rg)?;
        check_identity_name(name)?;
        check_location_given(location)?;
        if let Some(i) = self.position(rg, name) {
            let identity = &mut self.0[i];
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
        self.0.push(identity.clone());
        Ok((identity, true))
    }

    /// `Some` with the deleted identity, `None` if there was none.
    pub(crate) fn delete(&mut self, rg: &str, name: &str) -> Result<Option<Identity>, ArmError> {
        check_resource_group(rg)?;
        check_identity_name(name)?;
        Ok(self.position(rg, name).map(|i| self.0.remove(i)))
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
        self.get(rg, name)?;
        if !valid_fic_name(fic_name) {
            return Err(ArmError::bad_request(format!(
                "Federated Identity Credential name '{fic_name}' is invalid."
            )));
        }
        spec.validate()?;
        let i = self
            .position(rg, name)
            .ok_or_else(|| identity_not_found(rg, name))?;
        let fics = &mut self.0[i].federated_credentials;
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
        self.get(rg, name)?
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
        self.get(rg, name)?;
        let i = self
            .position(rg, name)
            .ok_or_else(|| identity_not_found(rg, name))?;
        let fics = &mut self.0[i].federated_credentials;
        Ok(fics
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(fic_name))
            .map(|j| fics.remove(j)))
    }

    /// The identity an ARM id names, if it exists in this subscription.
    pub(crate) fn by_id(&self, subscription: &str, id: &str) -> Option<&Identity> {
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
        self.get(segments[3], segments[7]).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://issuer.example/oidc";
    const AUD: &str = "api://AzureADTokenExchange";
    const SUB: &str = "20000000-0000-4000-8000-000000000002";

    fn store_with_identity() -> Identities {
        let mut r = Identities::default();
        r.put("rg", "uami", "westeurope", BTreeMap::new()).unwrap();
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
    }

    #[test]
    fn re_put_keeps_the_ids_and_names_are_case_insensitive() {
        let mut r = store_with_identity();
        let first = r.get("rg", "uami").unwrap().clone();
        let (again, created) = r.put("RG", "UAMI", "northeurope", BTreeMap::new()).unwrap();
        assert!(!created);
        assert_eq!(again.client_id, first.client_id);
        assert_eq!(again.principal_id, first.principal_id);
        assert_eq!(again.name, "uami");
        assert_eq!(again.location, "northeurope");
        assert_ne!(first.client_id, first.principal_id);
    }

    #[test]
    fn fic_rules() {
        let mut r = store_with_identity();
        let put =
            |r: &mut Identities, name: &str, spec: FicSpec| r.put_fic("rg", "uami", name, spec, 0);
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
        assert_eq!(r.get("rg", "uami").unwrap().federated_credentials.len(), 20);
        let e = put(&mut r, "fic-20", FicSpec::new(ISS, "s20", AUD)).unwrap_err();
        assert!(e.message.contains("at most 20"), "{e}");
        // Updating one of the 20 still works.
        put(&mut r, "fic-3", FicSpec::new(ISS, "s3-changed", AUD)).unwrap();
    }

    #[test]
    fn update_restarts_the_propagation_clock_only_on_change() {
        let mut r = store_with_identity();
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

    #[test]
    fn an_identity_id_must_have_the_exact_shape_in_this_subscription() {
        let mut r = Identities::default();
        r.put("mrg", "uami", "westeurope", Default::default())
            .unwrap();
        let good = format!(
            "/subscriptions/{SUB}/resourceGroups/mrg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami"
        );
        assert!(r.by_id(SUB, &good).is_some());
        let shouted = good
            .replace("resourceGroups", "RESOURCEGROUPS")
            .replace("Microsoft.ManagedIdentity", "MICROSOFT.MANAGEDIDENTITY");
        assert!(
            r.by_id(SUB, &shouted).is_some(),
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
            assert!(r.by_id(SUB, &bad).is_none(), "{bad}");
        }
    }
}
