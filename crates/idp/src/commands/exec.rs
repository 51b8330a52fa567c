//! `idp exec`: runs a command with fresh assertions for a customer (or once per customer).

use crate::cli::{AsCi, ExecArgs};
use crate::settings::{Cloud, Settings};
use anyhow::Context as _;
use idp_broker::run::{self, Note, Run};
use idp_broker::signer::Signer;
use idp_broker::{Identity, Impersonate, child};
use idp_core::assertion::{AssertionSpec, Lifetime, PrivateClaims, Subject};
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// exec's default lifetime: SDKs re-read the file only every 10 minutes, so each assertion
/// they hold must outlive that by a margin.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Below this, an SDK's cached copy of the file can expire before it re-reads it.
const SDK_REREAD_MARGIN: Duration = Duration::from_secs(20 * 60);

pub fn run(settings: &Settings, args: ExecArgs) -> anyhow::Result<ExitCode> {
    let lifetime = match &args.lifetime {
        Some(raw) => Lifetime::new(idp_core::duration::parse(raw).context("invalid --lifetime")?)?,
        None => Lifetime::new(DEFAULT_LIFETIME)?,
    };
    if lifetime.get() < SDK_REREAD_MARGIN {
        super::warn(format_args!(
            "--lifetime {} is under 20m: Azure SDKs re-read the assertion file only every 10 minutes and may send an expired copy (AADSTS700024)",
            idp_core::duration::format(lifetime.get())
        ));
    }
    // Every input is checked before the key is read or anything runs.
    let whom = whom(settings, &args)?;
    let audit = settings.audit_log()?.map(Arc::new);
    let store = settings.key_store()?;
    let ring = store.load()?;
    let key = Arc::new(store.signing_key(&ring)?);
    let issuer = settings.issuer()?.value;
    let mut runs = Vec::with_capacity(whom.len());
    for w in whom {
        let cloud = settings.cloud(args.cloud.clone().or(w.cloud))?;
        let spec = AssertionSpec {
            issuer: issuer.clone(),
            subject: Subject::parse(&w.subject)?,
            audience: settings.audience_for(args.audience.clone(), cloud)?,
            lifetime,
            claims: PrivateClaims::parse(std::iter::empty())?,
        };
        runs.push(Run {
            signer: Arc::new(Signer::new(
                Arc::clone(&key),
                audit.clone(),
                "exec",
                spec,
                w.name.clone(),
            )),
            identity: Identity {
                tenant: w.tenant,
                client_id: w.client_id,
                authority_host: settings.authority_host(args.authority_host.clone(), cloud)?,
                customer: w.name.clone(),
                arm_environment: match cloud {
                    Cloud::Public => None,
                    Cloud::UsGov => Some("usgovernment"),
                    Cloud::China => Some("china"),
                },
            },
            name: w.name,
        });
    }
    let also = match args.as_ci {
        None => Impersonate::None,
        Some(AsCi::Github) => Impersonate::Github,
        Some(AsCi::AzurePipelines) => Impersonate::AzurePipelines,
    };
    let (program, rest) = args
        .command
        .split_first()
        .expect("clap requires the command");
    let spec = child::Spec {
        program: program.clone(),
        args: rest.to_vec(),
        set: Vec::new(),
        remove: idp_broker::var::HIDDEN.map(str::to_owned).to_vec(),
        forward_sigint: !std::io::stdin().is_terminal(),
    };
    for hidden in idp_broker::var::HIDDEN {
        if std::env::var_os(hidden).is_some() {
            super::warn(format_args!(
                "{hidden} is set: removed for the command, so that tools use idp's refreshing endpoint instead of a static assertion"
            ));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let note: Note = Arc::new(|line: String| note!("{line}"));
    if !args.all && args.customers.is_empty() {
        let run = runs.pop().expect("one customer");
        let code = runtime.block_on(run::run_one(run, spec, also, true, note))?;
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    let started = Instant::now();
    let outcomes = runtime.block_on(run::run_many(
        runs,
        spec,
        also,
        usize::from(args.parallel),
        note,
    ));
    let failed = outcomes
        .iter()
        .filter(|o| !matches!(o.result, Ok(0)))
        .count();
    for o in &outcomes {
        let outcome = match &o.result {
            Ok(code) => format!("exit {code}"),
            Err(e) => format!("not run: {}", idp_core::secret::redact(&e.to_string())),
        };
        note!("{}: {outcome} ({:.1}s)", o.name, o.took.as_secs_f64());
    }
    note!(
        "{} customers: {} ok, {failed} failed ({:.1}s)",
        outcomes.len(),
        outcomes.len() - failed,
        started.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::report::EXIT_FAILED)
    })
}

/// Whom the command runs for.
struct Whom {
    name: Option<String>,
    tenant: String,
    client_id: String,
    subject: String,
    cloud: Option<String>,
}

fn whom(settings: &Settings, args: &ExecArgs) -> anyhow::Result<Vec<Whom>> {
    let of = |name: &str, c: idp_fleet::inventory::Customer| Whom {
        name: Some(name.to_owned()),
        tenant: c.tenant,
        client_id: c.client_id,
        subject: c.subject,
        cloud: c.cloud,
    };
    if let Some(name) = &args.customer {
        return Ok(vec![of(name, settings.customers()?.customer(name)?)]);
    }
    if args.all || !args.customers.is_empty() {
        let file = settings.customers()?;
        let inventory = file.load()?;
        let names: Vec<String> = if args.all {
            inventory.names()
        } else {
            args.customers.clone()
        };
        if names.is_empty() {
            return Err(crate::report::Hint::usage(
                "the inventory has no customers",
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
    let (tenant, client_id) = (given(&args.tenant), given(&args.client_id));
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
        subject: given(&args.subject),
        cloud: None,
    }])
}
