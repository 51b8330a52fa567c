//! What idp asks Azure Resource Manager as the publisher: a customer's identity and the
//! FIC that trusts idp's issuer (for `idp customers add --identity`), and a managed
//! application's `listTokens` (the article's first way, `idp token --via list-tokens`).

use crate::context::Context;
use idp_arm::{ListedToken, choose_fic};
use idp_core::azure_id::{IdentityId, check_application_id};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::Report;

/// What ARM says of a customer's identity: its tenant and client id, and the subject of
/// the FIC that trusts idp's `issuer` with `audience` (`subject` picks among several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tenant: String,
    pub client_id: String,
    pub subject: String,
}

/// Reads the identity at resource id `id` in `cloud`.
pub fn identity(
    ctx: &Context,
    cloud: Cloud,
    id: &str,
    issuer: &str,
    audience: &str,
    subject: Option<&str>,
) -> Result<Identity, Report> {
    let parsed = IdentityId::parse(id).map_err(|reason| {
        Report::usage(
            reason,
            "copy the identity's `id` from `az identity show` or the portal's JSON view",
        )
    })?;
    let arm = ctx.arm(cloud)?;
    let (uami, fics) = ctx.block_on(async {
        let uami = arm.identity(&parsed).await?;
        let fics = arm.federated_credentials(&parsed).await?;
        Ok::<_, idp_arm::ArmError>((uami, fics))
    })?;
    let fic = choose_fic(&fics, issuer, audience, subject)?;
    Ok(Identity {
        tenant: uami.tenant_id,
        client_id: uami.client_id,
        subject: fic.subject.clone(),
    })
}

/// The managed application's token for one of its identities, as its publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListTokens {
    /// The application's resource id.
    pub application: String,
    /// Its user-assigned identity's resource id; `None` for its system-assigned one.
    pub identity: Option<String>,
    /// `<resource>/.default`.
    pub scope: String,
    pub cloud: Cloud,
}

impl ListTokens {
    /// Checks every value before anything is sent; answers the token's audience.
    pub fn check(&self) -> Result<String, Report> {
        check_application_id(&self.application).map_err(|m| {
            Report::usage(
                m,
                "copy the application's id from `az managedapp show … --query id`",
            )
        })?;
        if let Some(id) = &self.identity {
            IdentityId::parse(id)
                .map_err(|m| Report::usage(m, "give the user-assigned identity's resource id"))?;
        }
        Ok(self
            .scope
            .strip_suffix("/.default")
            .filter(|a| a.starts_with("https://") || a.starts_with("api://"))
            .ok_or_else(|| {
                Report::usage(
                    format!(
                        "--scope `{}` is not a resource's `/.default` scope",
                        self.scope
                    ),
                    "give one resource's scope, like https://vault.azure.net/.default",
                )
            })?
            .to_owned())
    }
}

/// Calls `listTokens` and picks the token of the identity asked for.
pub fn list_tokens(ctx: &Context, request: &ListTokens) -> Result<ListedToken, Report> {
    let audience = request.check()?;
    let identities: Vec<String> = request.identity.iter().cloned().collect();
    let arm = ctx.arm(request.cloud)?;
    let tokens = ctx.block_on(arm.list_tokens(&request.application, &audience, &identities))?;
    match &request.identity {
        Some(id) => tokens
            .into_iter()
            .find(|t| t.resource_id.eq_ignore_ascii_case(id) || t.resource_id.is_empty()),
        None => tokens.into_iter().next(),
    }
    .ok_or_else(|| {
        Report::failed(
            "listTokens answered no token for that identity",
            "check that the identity is attached to the application (`identity.userAssignedIdentities`)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_tokens_checks_its_inputs_before_sending() {
        let ok = ListTokens {
            application: "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg/providers/Microsoft.Solutions/applications/app".into(),
            identity: None,
            scope: "https://vault.azure.net/.default".into(),
            cloud: Cloud::Public,
        };
        assert_eq!(ok.check().unwrap(), "https://vault.azure.net");
        let api = ListTokens {
            scope: "api://x/.default".into(),
            ..ok.clone()
        };
        assert_eq!(api.check().unwrap(), "api://x");
        for bad in [
            ListTokens {
                application: "/subscriptions/x".into(),
                ..ok.clone()
            },
            ListTokens {
                identity: Some("/nope".into()),
                ..ok.clone()
            },
            ListTokens {
                scope: "https://vault.azure.net".into(),
                ..ok.clone()
            },
            ListTokens {
                scope: "vault/.default".into(),
                ..ok.clone()
            },
        ] {
            let e = bad.check().unwrap_err();
            assert!(e.is_usage() && e.hint().is_some(), "{bad:?}: {e:?}");
        }
    }
}
