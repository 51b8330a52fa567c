//! Azure resource names as ARM validates them, checked before anything is rendered: a name
//! ARM would refuse makes a template that fails at deployment, in the customer's tenant.

use idp_core::diagnostic::{Diagnostic, Problem};
use thiserror::Error;

/// A name ARM would refuse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{what} `{value}` is invalid: {rule}")]
pub struct NameError {
    pub what: &'static str,
    pub value: String,
    pub rule: &'static str,
}

impl Diagnostic for NameError {
    fn hint(&self) -> Option<String> {
        Some(format!("give a {} that {}", self.what, self.rule))
    }
    fn is_usage(&self) -> bool {
        true
    }
}

/// `[A-Za-z0-9][A-Za-z0-9_-]{min-1,max-1}`: the rule ARM applies to FIC and UAMI names.
fn url_friendly(
    what: &'static str,
    value: &str,
    max: usize,
    rule: &'static str,
) -> Result<String, NameError> {
    let err = || NameError {
        what,
        value: value.to_owned(),
        rule,
    };
    let len = value.chars().count();
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !(3..=max).contains(&len) || !first_ok || !rest_ok {
        return Err(err());
    }
    Ok(value.to_owned())
}

/// A federated identity credential's name: 3 to 120 characters, letters, digits, `-` and
/// `_`, starting with a letter or digit; immutable once created.
/// Source: Microsoft Learn, "Important considerations and restrictions for federated
/// identity credentials" (name: "3-120 characters … alphanumeric, dash, or underscore
/// characters … first character must be alphanumeric").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FicName(String);

impl FicName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        url_friendly(
            "federated credential name",
            s,
            120,
            "is 3 to 120 letters, digits, `-` or `_`, starting with a letter or digit",
        )
        .map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user-assigned managed identity's name: 3 to 128 characters, letters, digits, `-` and
/// `_`, starting with a letter or digit.
/// Source: Microsoft Learn, "Naming rules and restrictions for Azure resources",
/// Microsoft.ManagedIdentity/userAssignedIdentities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityName(String);

impl IdentityName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        url_friendly(
            "managed identity name",
            s,
            128,
            "is 3 to 128 letters, digits, `-` or `_`, starting with a letter or digit",
        )
        .map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A resource group's name: 1 to 90 letters, digits, `_`, `-`, `.`, `(` or `)`, not
/// ending with `.`.
/// Source: Microsoft Learn, "Naming rules and restrictions for Azure resources",
/// Microsoft.Resources/resourcegroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroupName(String);

impl ResourceGroupName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let len = s.chars().count();
        let chars_ok = s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'));
        if !(1..=90).contains(&len) || !chars_ok || s.ends_with('.') {
            return Err(NameError {
                what: "resource group name",
                value: s.to_owned(),
                rule: "is 1 to 90 letters, digits, `_`, `-`, `.`, `(` or `)`, not ending with `.`",
            });
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An Entra id: a tenant's, an object's (a managed identity's principal id, a service
/// principal's) or an application's, as a GUID in its 8-4-4-4-12 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guid(String);

impl Guid {
    /// Any GUID, kept as written: an application id, which Entra, Microsoft Graph and the
    /// az CLI look up in any letter case.
    pub fn parse(what: &'static str, s: &str) -> Result<Self, Problem> {
        if idp_core::azure_id::is_guid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Problem::usage(
                format!("{what} `{s}` is not a GUID"),
                format!("give the {what} as a GUID, like 00000000-0000-0000-0000-000000000000"),
            ))
        }
    }

    /// A GUID in lowercase, as Entra writes ids in its tokens (`tid`, `oid`, `sub`): a
    /// federated credential's issuer and subject are compared with the token's byte for
    /// byte, so one holding `ABCD…` never matches the token's `abcd…`.
    pub fn parse_lowercase(what: &'static str, s: &str) -> Result<Self, Problem> {
        let guid = Self::parse(what, s)?;
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(Problem::usage(
                format!(
                    "{what} `{s}` has capital letters: Entra writes ids in lowercase in its tokens, and compares a federated credential's issuer and subject with them byte for byte"
                ),
                format!("write it as Entra does: {}", s.to_ascii_lowercase()),
            ));
        }
        Ok(guid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_and_entras_lowercase_form() {
        let g = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(Guid::parse_lowercase("tenant id", g).unwrap().as_str(), g);
        assert_eq!(
            Guid::parse("app id", &g.to_uppercase()).unwrap().as_str(),
            g.to_uppercase()
        );
        let e = Guid::parse_lowercase("principal id", &g.to_uppercase()).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("capital letters"), "{e}");
        assert_eq!(e.hint().unwrap(), format!("write it as Entra does: {g}"));
        let e = Guid::parse("app id", "x").unwrap_err();
        assert_eq!(e.to_string(), "app id `x` is not a GUID");
        assert!(e.is_usage());
        for bad in [
            "",
            "72f988bf86f141af91ab2d7cd011db47",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "72f988bf-86f1-41af-91ab-2d7cd011db4g",
            "' or 1 eq 1",
        ] {
            assert!(Guid::parse("app id", bad).is_err(), "{bad}");
            assert!(Guid::parse_lowercase("app id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fic_names_follow_arms_rule() {
        for ok in ["idp", "a-b", "A_1", "9zz", &"x".repeat(120)] {
            assert_eq!(FicName::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
        for bad in [
            "",
            "ab",
            "-ab",
            "_ab",
            "a b",
            "a.b",
            "a/b",
            "ün1",
            &"x".repeat(121),
        ] {
            let e = FicName::parse(bad).unwrap_err();
            assert_eq!(e.value, bad);
            assert!(e.to_string().contains("3 to 120"), "{e}");
        }
    }

    #[test]
    fn a_refused_name_is_the_users_to_fix_and_says_the_rule() {
        let e = FicName::parse("a").unwrap_err();
        assert!(e.is_usage());
        assert_eq!(
            e.hint().unwrap(),
            "give a federated credential name that is 3 to 120 letters, digits, `-` or `_`, starting with a letter or digit"
        );
    }

    #[test]
    fn identity_names_allow_128() {
        assert!(IdentityName::parse(&"u".repeat(128)).is_ok());
        assert!(IdentityName::parse(&"u".repeat(129)).is_err());
        assert!(IdentityName::parse("id").is_err());
        assert!(IdentityName::parse("my-id_1").is_ok());
        assert!(IdentityName::parse("_id").is_err());
    }

    #[test]
    fn resource_group_names() {
        for ok in ["r", "rg-1.(x)_y", "grüne", &"r".repeat(90)] {
            assert!(ResourceGroupName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "rg.", "a b", "a/b", "a'b", &"r".repeat(91)] {
            assert!(ResourceGroupName::parse(bad).is_err(), "{bad}");
        }
    }
}
