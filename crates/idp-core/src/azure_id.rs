//! Azure's ids, checked before anything is sent: GUIDs, tenants (an id or a verified
//! domain), and the ARM resource ids of a user-assigned managed identity and of a managed
//! application. ARM compares resource ids' fixed segments without case, so they may be
//! written in any case.
//!
//! ```
//! use idp_core::azure_id::{is_guid, is_tenant};
//! assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
//! assert!(is_tenant("contoso.onmicrosoft.com"));
//! assert!(!is_tenant("contoso/tenant"));
//! ```

/// Whether `s` is a GUID in its 8-4-4-4-12 hex form (tenant, client and subscription ids).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `s` names a tenant as Entra's token endpoint takes it: its id (a GUID) or one
/// of its verified domains (`contoso.onmicrosoft.com`), which sits in the endpoint's path:
/// a DNS name of at most 253 characters, each label 1 to 63 letters, digits and `-`, not
/// starting or ending with `-` (so never `.` or `..`).
pub fn is_tenant(s: &str) -> bool {
    is_guid(s)
        || (s.len() <= 253
            && s.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }))
}

/// A user-assigned managed identity's ARM resource id, its parts checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityId {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

impl IdentityId {
    /// `/subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`;
    /// ARM compares the fixed segments without case, so they may be in any case.
    pub fn parse(id: &str) -> Result<Self, String> {
        const SHAPE: &str = "/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>";
        let bad = |why: &str| {
            format!("`{id}` is not a managed identity's resource id ({why}); expected {SHAPE}")
        };
        let parts: Vec<&str> = id.split('/').collect();
        let [empty, subs, sub, rgs, rg, providers, ns, kind, name] = parts.as_slice() else {
            return Err(bad(&format!(
                "{} segments, not 8",
                parts.len().saturating_sub(1)
            )));
        };
        let fixed = [
            (*subs, "subscriptions"),
            (*rgs, "resourceGroups"),
            (*providers, "providers"),
            (*ns, "Microsoft.ManagedIdentity"),
            (*kind, "userAssignedIdentities"),
        ];
        if !empty.is_empty() {
            return Err(bad("it must start with `/`"));
        }
        if let Some((got, want)) = fixed
            .iter()
            .find(|(got, want)| !got.eq_ignore_ascii_case(want))
        {
            return Err(bad(&format!("`{got}` where `{want}` belongs")));
        }
        if !is_guid(sub) {
            return Err(bad("the subscription is not a GUID"));
        }
        // ARM: resource group names are 1-90 characters of letters, digits, `_`, `-`, `.`,
        // `(`, `)`, not ending in `.`; identity names 3-128 of letters, digits, `-`, `_`.
        let rg_ok = (1..=90).contains(&rg.chars().count())
            && rg
                .chars()
                .all(|c| c.is_alphanumeric() || "_-.()".contains(c))
            && !rg.ends_with('.');
        if !rg_ok {
            return Err(bad("the resource group name is not one ARM accepts"));
        }
        let name_ok = (3..=128).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(bad("the identity name is not one ARM accepts"));
        }
        Ok(Self {
            subscription: (*sub).into(),
            resource_group: (*rg).into(),
            name: (*name).into(),
        })
    }
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Solutions/applications/{name}`,
/// fixed segments in any case.
pub fn check_application_id(id: &str) -> Result<(), String> {
    let segments: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    let lit = |i: usize, want: &str| {
        segments
            .get(i)
            .is_some_and(|s| s.eq_ignore_ascii_case(want))
    };
    let ok = id.starts_with('/')
        && segments.len() == 8
        && lit(0, "subscriptions")
        && lit(2, "resourceGroups")
        && lit(4, "providers")
        && lit(5, "Microsoft.Solutions")
        && lit(6, "applications")
        && segments
            .iter()
            .all(|s| !s.is_empty() && !s.contains(['?', '#', ' ']));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a managed application's resource id: /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Solutions/applications/<name>"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UAMI: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/mrg-app-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-app";

    #[test]
    fn guids_and_tenants() {
        assert!(is_guid("0B1F6471-1bf0-4dda-aec3-111122223333"));
        for bad in [
            "",
            "0b1f6471-1bf0-4dda-aec3-11112222333",
            "0b1f6471-1bf0-4dda-aec3-11112222333g",
            "0b1f64711bf04ddaaec3111122223333",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
        assert!(is_tenant("0b1f6471-1bf0-4dda-aec3-111122223333"));
        assert!(is_tenant("contoso.onmicrosoft.com"));
        assert!(is_tenant(
            &[
                "a".repeat(63),
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(61)
            ]
            .join(".")
        ));
        assert!(is_tenant("xn--bcher-kva.example"));
        for bad in [
            "",
            "a b",
            "a/b",
            "a?b",
            "ä.com",
            &"a".repeat(254),
            ".",
            "..",
            "-",
            "a..b",
            "-a.com",
            "a-.com",
            &"a".repeat(64),
        ] {
            assert!(!is_tenant(bad), "{bad}");
        }
    }

    #[test]
    fn resource_ids_are_checked_segment_by_segment() {
        let id = IdentityId::parse(UAMI).unwrap();
        assert_eq!(
            (
                id.subscription.as_str(),
                id.resource_group.as_str(),
                id.name.as_str()
            ),
            (
                "0b1f6471-1bf0-4dda-aec3-111122223333",
                "mrg-app-1",
                "uami-app"
            )
        );
        // ARM's fixed segments in any case.
        assert!(IdentityId::parse(&UAMI.replace("resourceGroups", "resourcegroups")).is_ok());
        for (bad, why) in [
            (
                "subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami",
                "segments",
            ),
            (
                &UAMI.replace("Microsoft.ManagedIdentity", "Microsoft.Storage"),
                "`Microsoft.Storage` where",
            ),
            (
                &UAMI.replace("0b1f6471-1bf0-4dda-aec3-111122223333", "sub"),
                "not a GUID",
            ),
            (&UAMI.replace("uami-app", "u!"), "identity name"),
            (&UAMI.replace("mrg-app-1", "rg."), "resource group"),
            (
                &format!("{UAMI}/federatedIdentityCredentials/x"),
                "segments",
            ),
            ("", "segments"),
        ] {
            let e = IdentityId::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn application_ids_are_checked() {
        let app = "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.Solutions/applications/app";
        assert!(check_application_id(app).is_ok());
        assert!(check_application_id(&app.replace("resourceGroups", "RESOURCEGROUPS")).is_ok());
        for bad in [
            &app[1..],
            &app.replace("Microsoft.Solutions", "Microsoft.Web"),
            &format!("{app}/x"),
            &app.replace("/app", "/a p"),
        ] {
            assert!(check_application_id(bad).is_err(), "{bad}");
        }
    }
}
