//! Fresh assertions for the tools of `idp exec`, `idp env` and `idp serve-assertions`: one
//! run per selected customer (its signer, whose subject and audience idp fixes, and the
//! identity its tools need), and `exec --all`'s runs through the one fan-out.

use crate::context::Context;
use crate::exchange::Shape;
use crate::fanout::{Outcome, fan_out};
use crate::managed_identity::ManagedIdentity;
use crate::select::Selected;
use idp_broker::run::{Note, Run, RunError, run_one};
use idp_broker::signer::{Minted, Signer, TokenSource};
use idp_broker::{Identity, Impersonate, child};
use idp_core::assertion::{AssertionSpec, Audience, Lifetime};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::Boxed;
use idp_core::diagnostic::Report;
use idp_inventory::Trust;
use std::sync::Arc;
use std::time::Duration;

/// The default lifetime of exec's and env's assertions: Azure SDKs re-read the file only
/// every 10 minutes, so each assertion they hold must outlive that by a margin.
pub const FILE_LIFETIME: Duration = Duration::from_secs(3600);
/// Below this, an SDK's cached copy of the file can expire before it re-reads it.
pub const SDK_REREAD_MARGIN: Duration = Duration::from_secs(20 * 60);

/// The warning for assertions written to a file that live less than the SDKs' re-read
/// margin.
pub fn short_file_lifetime(lifetime: Lifetime) -> Option<String> {
    (lifetime.get() < SDK_REREAD_MARGIN).then(|| {
        format!(
            "--lifetime {} is under 20m: Azure SDKs re-read the assertion file only every 10 minutes and may send an expired copy (AADSTS700024)",
            idp_core::duration::format(lifetime.get())
        )
    })
}

/// The identity `who`'s tools need, in `cloud`.
pub fn identity(shape: &Shape, who: &Selected, cloud: Cloud) -> Identity {
    Identity {
        tenant: who.customer.tenant.clone(),
        client_id: who.customer.client_id.clone(),
        authority_host: shape.authority(cloud),
        customer: who.name.clone(),
        arm_environment: (cloud != Cloud::Public).then(|| cloud.terraform_environment()),
    }
}

/// One run per customer, signing as `command` (an `entra-app` customer's run hands out
/// the publisher's managed identity's token instead). Every customer's values are checked
/// first; then the audit log is opened and the active key loaded, once for all runs and
/// only when one signs.
pub fn runs(
    ctx: &Context,
    shape: &Shape,
    chosen: &[Selected],
    command: &'static str,
) -> Result<Vec<Run>, Report> {
    enum Makes {
        Sign(AssertionSpec),
        Fetch(Option<String>, Audience),
    }
    let mut prepared = Vec::with_capacity(chosen.len());
    for who in chosen {
        let cloud = shape.cloud.for_customer(who.customer.cloud);
        let makes = match &who.customer.trust {
            Trust::Issuer { subject, .. } => Makes::Sign(shape.spec(subject, cloud)?),
            Trust::EntraApp { managed_identity } => {
                Makes::Fetch(managed_identity.clone(), shape.audience(cloud))
            }
        };
        prepared.push((who, makes, identity(shape, who, cloud)));
    }
    let signs = prepared.iter().any(|(_, m, _)| matches!(m, Makes::Sign(_)));
    let (key, audit) = if signs {
        let ring = ctx.keys().load()?;
        (Some(ctx.active_signer(&ring)?), ctx.audit()?)
    } else {
        (None, None)
    };
    let mi = if prepared
        .iter()
        .any(|(_, m, _)| matches!(m, Makes::Fetch(..)))
    {
        Some(ctx.managed_identity()?)
    } else {
        None
    };
    Ok(prepared
        .into_iter()
        .map(|(who, makes, identity)| {
            let signer = match makes {
                Makes::Sign(spec) => Signer::new(
                    Arc::clone(key.as_ref().expect("loaded when a run signs")),
                    audit.clone(),
                    command,
                    spec,
                    who.name.clone(),
                ),
                Makes::Fetch(client_id, audience) => Signer::fetching(
                    Arc::new(MiTokens {
                        mi: Arc::clone(mi.as_ref().expect("made when a run fetches")),
                        client_id,
                        audience,
                    }),
                    who.name.clone(),
                ),
            };
            Run {
                signer: Arc::new(signer),
                identity,
                name: who.name.clone(),
            }
        })
        .collect())
}

/// The publisher's managed identity's token, as a run hands it out.
#[derive(Debug)]
struct MiTokens {
    mi: Arc<ManagedIdentity>,
    client_id: Option<String>,
    audience: Audience,
}

#[async_trait::async_trait]
impl TokenSource for MiTokens {
    fn audience(&self) -> &str {
        self.audience.as_str()
    }

    fn describe(&self) -> String {
        match &self.client_id {
            Some(id) => format!("the publisher's managed identity's token (client id {id})"),
            None => "the publisher's managed identity's token".into(),
        }
    }

    async fn token(&self) -> Result<Minted, Boxed> {
        let t = self
            .mi
            .token(self.client_id.as_deref(), self.audience.as_str())
            .await
            .map_err(Boxed::new)?;
        Ok(Minted {
            iat: time::OffsetDateTime::now_utc().unix_timestamp(),
            exp: t.expires_on,
            token: t.token,
            kid: None,
        })
    }
}

/// The command once per run, `parallel` at a time, each with its own session; outcomes
/// in the runs' order.
pub async fn run_all(
    runs: Vec<Run>,
    spec: child::Spec,
    also: Impersonate,
    parallel: usize,
    note: Note,
) -> Vec<Outcome<Result<i32, RunError>>> {
    let items = runs
        .into_iter()
        .map(|r| (r.name.clone().unwrap_or_default(), r))
        .collect();
    fan_out(items, parallel, |run: Run| {
        let (spec, note) = (spec.clone(), Arc::clone(&note));
        async move { run_one(run, spec, also, false, note).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::CloudChoice;
    use idp_inventory::Customer;

    #[test]
    fn a_sovereign_customer_gets_terraforms_environment_and_its_authority() {
        let shape = Shape {
            issuer: Ok(idp_core::Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap()),
            cloud: CloudChoice::default(),
            authority_host: None,
            audience: None,
            lifetime: Lifetime::default(),
        };
        let who = Selected {
            name: Some("gov".into()),
            customer: Customer::new(
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "6ba7b810-9dad-41d1-80b4-00c04fd430c8",
                "s",
            ),
        };
        let public = identity(&shape, &who, Cloud::Public);
        assert_eq!(public.arm_environment, None);
        assert_eq!(public.authority_host, "https://login.microsoftonline.com");
        let gov = identity(&shape, &who, Cloud::UsGov);
        assert_eq!(gov.arm_environment, Some("usgovernment"));
        assert_eq!(gov.authority_host, "https://login.microsoftonline.us");
        assert_eq!(
            identity(&shape, &who, Cloud::China).arm_environment,
            Some("china")
        );
        assert_eq!(gov.customer.as_deref(), Some("gov"));
    }

    #[test]
    fn a_file_lifetime_under_twenty_minutes_is_warned_of() {
        let l = |m: u64| Lifetime::new(Duration::from_secs(m * 60)).unwrap();
        assert!(short_file_lifetime(l(19)).unwrap().contains("under 20m"));
        assert_eq!(short_file_lifetime(l(20)), None);
        assert_eq!(short_file_lifetime(l(60)), None);
    }
}
