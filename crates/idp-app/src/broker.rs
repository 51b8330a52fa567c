//! Fresh assertions for the tools of `idp exec`, `idp env` and `idp serve-assertions`: one
//! run per selected customer (its signer, whose subject and audience idp fixes, and the
//! identity its tools need), and `exec --all`'s runs through the one fan-out.

use crate::context::Context;
use crate::exchange::Shape;
use crate::fanout::{Outcome, fan_out};
use crate::select::Selected;
use idp_broker::run::{Note, Run, RunError, run_one};
use idp_broker::signer::Signer;
use idp_broker::{Identity, Impersonate, child};
use idp_core::assertion::Lifetime;
use idp_core::cloud::Cloud;
use idp_core::diagnostic::Report;
use idp_core::keyring::Keyring;
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

/// One run per customer, signing as `command`. Every customer's values are checked first;
/// then the audit log is opened and the active key loaded, once for all runs.
pub fn runs(
    ctx: &Context,
    ring: &Keyring,
    shape: &Shape,
    chosen: &[Selected],
    command: &'static str,
) -> Result<Vec<Run>, Report> {
    let mut prepared = Vec::with_capacity(chosen.len());
    for who in chosen {
        let cloud = shape.cloud.for_customer(who.customer.cloud);
        let spec = shape.spec(&who.customer.subject, cloud)?;
        prepared.push((who, spec, identity(shape, who, cloud)));
    }
    let audit = ctx.audit()?;
    let key = ctx.active_signer(ring)?;
    Ok(prepared
        .into_iter()
        .map(|(who, spec, identity)| Run {
            signer: Arc::new(Signer::new(
                Arc::clone(&key),
                audit.clone(),
                command,
                spec,
                who.name.clone(),
            )),
            identity,
            name: who.name.clone(),
        })
        .collect())
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
            issuer: idp_core::Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap(),
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
