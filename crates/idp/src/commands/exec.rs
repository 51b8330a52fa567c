//! `idp exec`: runs a command with fresh assertions for a customer (or once per customer).

use super::broker::{self, Selection, Shaping};
use crate::cli::{AsCi, ExecArgs};
use crate::settings::Settings;
use idp_broker::run::{self, Note};
use idp_broker::{Impersonate, child};
use idp_core::assertion::Lifetime;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub fn run(settings: &Settings, args: ExecArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection {
        customer: args.customer.clone(),
        all: args.all,
        customers: args.customers.clone(),
        tenant: args.tenant.clone(),
        client_id: args.client_id.clone(),
        subject: args.subject.clone(),
    };
    let shaping = Shaping {
        lifetime: args.lifetime.clone(),
        authority_host: args.authority_host.clone(),
        cloud: args.cloud.clone(),
        audience: args.audience.clone(),
    };
    let default = Lifetime::new(broker::FILE_LIFETIME)?;
    let mut runs = broker::runs(settings, &selection, &shaping, default, "exec")?;
    broker::warn_short_file_lifetime(&runs);
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
    let runtime = super::runtime()?;
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
