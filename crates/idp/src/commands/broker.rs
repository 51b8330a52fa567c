//! What `idp exec`, `idp env` and `idp serve-assertions` share: whom the assertions are
//! for (a customer of the inventory, several, or the flags), each resolved into a signer
//! and the identity the command's tools need, every input checked before the key is read.

use crate::settings::{Cloud, Settings};
use anyhow::Context as _;
use idp_broker::Identity;
use idp_broker::run::Run;
use idp_broker::signer::Signer;
use idp_core::assertion::{AssertionSpec, Lifetime, PrivateClaims, Subject};
use std::sync::Arc;
use std::time::Duration;

/// Whom: `--customer`, `--all`/`--customers`, or `--tenant --client-id --subject`.
#[derive(Debug, Default)]
pub struct Selection {
    pub customer: Option<String>,
    pub all: bool,
    pub customers: Vec<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub subject: Option<String>,
}

impl From<crate::cli::OneCustomer> for Selection {
    /// One customer: `--customer`, or `--tenant --client-id --subject`.
    fn from(who: crate::cli::OneCustomer) -> Self {
        Self {
            customer: who.customer,
            tenant: who.tenant,
            client_id: who.client_id,
            subject: who.subject,
            ..Self::default()
        }
    }
}

/// How: the flags over the settings and the customer's record.
#[derive(Debug, Default)]
pub struct Shaping {
    pub lifetime: Option<String>,
    pub authority_host: Option<String>,
    pub cloud: Option<String>,
    pub audience: Option<String>,
}

/// One run per selected customer (or one for the flags), signing as `command`.
pub fn runs(
    settings: &Settings,
    selection: &Selection,
    shaping: &Shaping,
    default_lifetime: Lifetime,
    command: &'static str,
) -> anyhow::Result<Vec<Run>> {
    let lifetime = match &shaping.lifetime {
        Some(raw) => Lifetime::new(idp_core::duration::parse(raw).context("invalid --lifetime")?)?,
        None => default_lifetime,
    };
    let whom = whom(settings, selection)?;
    let mut prepared = Vec::with_capacity(whom.len());
    let issuer = settings.issuer()?.value;
    for w in whom {
        let cloud = settings.cloud(shaping.cloud.clone().or(w.cloud))?;
        let spec = AssertionSpec {
            issuer: issuer.clone(),
            subject: Subject::parse(&w.subject)?,
            audience: settings.audience_for(shaping.audience.clone(), cloud)?,
            lifetime,
            claims: PrivateClaims::parse(std::iter::empty())?,
        };
        let identity = Identity {
            tenant: w.tenant,
            client_id: w.client_id,
            authority_host: settings.authority_host(shaping.authority_host.clone(), cloud)?,
            customer: w.name.clone(),
            arm_environment: match cloud {
                Cloud::Public => None,
                Cloud::UsGov => Some("usgovernment"),
                Cloud::China => Some("china"),
            },
        };
        prepared.push((w.name, spec, identity));
    }
    // Inputs are all valid: now the audit log and the key.
    let audit = settings.audit_log()?.map(Arc::new);
    let store = settings.key_store()?;
    let ring = store.load()?;
    let key = Arc::new(super::active_signer(settings, &store, &ring)?);
    Ok(prepared
        .into_iter()
        .map(|(name, spec, identity)| Run {
            signer: Arc::new(Signer::new(
                Arc::clone(&key),
                audit.clone(),
                command,
                spec,
                name.clone(),
            )),
            identity,
            name,
        })
        .collect())
}

/// The default lifetime of exec's and env's assertions: Azure SDKs re-read the file only
/// every 10 minutes, so each assertion they hold must outlive that by a margin.
pub const FILE_LIFETIME: Duration = Duration::from_secs(3600);
/// Below this, an SDK's cached copy of the file can expire before it re-reads it.
pub const SDK_REREAD_MARGIN: Duration = Duration::from_secs(20 * 60);

/// Warns when assertions written to a file live less than the SDKs' re-read margin.
pub fn warn_short_file_lifetime(runs: &[Run]) {
    if let Some(r) = runs.first()
        && r.signer.lifetime() < SDK_REREAD_MARGIN
    {
        super::warn(format_args!(
            "--lifetime {} is under 20m: Azure SDKs re-read the assertion file only every 10 minutes and may send an expired copy (AADSTS700024)",
            idp_core::duration::format(r.signer.lifetime())
        ));
    }
}

struct Whom {
    name: Option<String>,
    tenant: String,
    client_id: String,
    subject: String,
    cloud: Option<String>,
}

fn whom(settings: &Settings, s: &Selection) -> anyhow::Result<Vec<Whom>> {
    let of = |name: &str, c: idp_fleet::inventory::Customer| Whom {
        name: Some(name.to_owned()),
        tenant: c.tenant,
        client_id: c.client_id,
        subject: c.subject,
        cloud: c.cloud,
    };
    if let Some(name) = &s.customer {
        return Ok(vec![of(name, settings.customers()?.customer(name)?)]);
    }
    if s.all || !s.customers.is_empty() {
        let file = settings.customers()?;
        let inventory = file.load()?;
        let names = if s.all {
            inventory.names()
        } else {
            s.customers.clone()
        };
        if names.is_empty() {
            return Err(crate::report::Hint::usage(
                format!("the inventory {} has no customers", file.path().display()),
                "add one with `idp customers add NAME …`",
            )
            .into());
        }
        return names
            .iter()
            .map(|n| Ok(of(n, inventory.require(n, file.path())?.clone())))
            .collect();
    }
    let given = |v: &Option<String>| v.clone().unwrap_or_default();
    let (tenant, client_id) = (given(&s.tenant), given(&s.client_id));
    for (flag, value) in [("--tenant", &tenant), ("--client-id", &client_id)] {
        if !idp_exchange::request::is_guid(value) {
            return Err(crate::report::Hint::usage(
                format!("{flag} `{value}` is not a GUID"),
                "give the tenant id and the managed identity's client id (clientId, not principalId), like 00000000-0000-0000-0000-000000000000",
            )
            .into());
        }
    }
    Ok(vec![Whom {
        name: None,
        tenant,
        client_id,
        subject: given(&s.subject),
        cloud: None,
    }])
}
