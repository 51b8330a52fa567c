//! The machine's managed identities: user-assigned identities of the publisher's tenant
//! attached to "this machine" (an App Service, a VM), whose tokens the machine's identity
//! endpoints hand out (see [`crate::identity_routes`]).
//!
//! Their client and principal ids are random GUIDs made once per name and kept in the
//! state file, so they are stable across restarts when one is used. Their resource ids
//! name the publisher's subscription and a fixed resource group, `publisher-rg`: no ARM
//! API answers for them (the publisher's ARM is not emulated).

use crate::ids::new_guid;
use serde::{Deserialize, Serialize};

/// The resource group the machine identities' resource ids name.
pub const MACHINE_RESOURCE_GROUP: &str = "publisher-rg";

/// A managed identity attached to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MachineIdentity {
    /// The user-assigned identity's name.
    pub name: String,
    /// What a token request names as `client_id`; its tokens' `azp` and `appid`.
    pub client_id: String,
    /// The service principal's object id: its tokens' `oid` and `sub`, and what a
    /// federated identity credential trusting it names as the subject.
    pub principal_id: String,
    /// `/subscriptions/{publisher subscription}/resourcegroups/publisher-rg/providers/
    /// Microsoft.ManagedIdentity/userAssignedIdentities/{name}`: its tokens' `xms_mirid`.
    pub resource_id: String,
}

/// The ids made for one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MachineIds {
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) principal_id: String,
}

/// Every machine identity ever made, attached or not (a name configured again gets its old
/// ids back).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct MachineIdentities(Vec<MachineIds>);

impl MachineIdentities {
    /// Makes ids for each of `names` that has none; whether any was made.
    pub(crate) fn ensure(&mut self, names: &[String]) -> bool {
        let mut made = false;
        for name in names {
            if self.get(name).is_none() {
                self.0.push(MachineIds {
                    name: name.clone(),
                    client_id: new_guid(),
                    principal_id: new_guid(),
                });
                made = true;
            }
        }
        made
    }

    /// The ids of `name` (names compare case-insensitively, as ARM's).
    pub(crate) fn get(&self, name: &str) -> Option<&MachineIds> {
        self.0.iter().find(|m| m.name.eq_ignore_ascii_case(name))
    }
}

/// The resource id of the machine identity `name`.
pub(crate) fn resource_id(publisher_subscription: &str, name: &str) -> String {
    format!(
        "/subscriptions/{publisher_subscription}/resourcegroups/{MACHINE_RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_made_once_per_name() {
        let mut m = MachineIdentities::default();
        assert!(m.ensure(&["a-mi".into(), "b-mi".into()]));
        let a = m.get("a-mi").unwrap().clone();
        assert_ne!(a.client_id, a.principal_id);
        assert!(!m.ensure(&["A-MI".into()]), "the same name in another case");
        assert_eq!(m.get("a-mi").unwrap(), &a);
        assert!(m.ensure(&["c-mi".into()]));
        assert_eq!(m.0.len(), 3);
    }
}
