//! `idp exec`: runs a command with fresh assertions for a customer (or once per customer).

use crate::cli::{AsCi, ExecArgs};
use crate::settings::{Sources, Warnings};
use idp_app::broker::{self, FILE_LIFETIME};
use idp_broker::run::{self, Note};
use idp_broker::{Impersonate, child};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::{EXIT_FAILED, Report};
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub fn run(sources: &Sources, args: ExecArgs) -> Result<ExitCode, Report> {
    let mut warnings = Warnings::default();
    let (selection, shard) = super::selection(&args.who, Some(&args.many))?;
    let default = Lifetime::new(FILE_LIFETIME)?;
    let lifetime = Sources::lifetime_flag(args.lifetime.as_deref(), default)?;
    let shape = sources.shape(&args.cloud, Some(&args.authority), lifetime, &mut warnings)?;
    let chosen = idp_app::select::resolve(&selection, shard, &sources.customers()?)?;
    warnings.extend(broker::short_file_lifetime(lifetime));
    for hidden in idp_broker::var::HIDDEN {
        if std::env::var_os(hidden).is_some() {
            warnings.push(format!(
                "{hidden} is set: removed for the command, so that tools use idp's refreshing endpoint instead of a static assertion"
            ));
        }
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
    let ctx = super::context(sources, None)?;
    let mut runs = broker::runs(&ctx, &shape, &chosen, "exec")?;
    warnings.say();
    let note: Note = Arc::new(|line: String| note!("{line}"));
    if !super::is_many(&args.many) {
        let run = runs.pop().expect("one customer");
        let code = ctx.block_on(run::run_one(run, spec, also, true, note))?;
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }
    if let (Some(shard), true) = (shard, runs.is_empty()) {
        note!("shard {shard} holds none of the customers asked for: nothing to run");
    }
    let started = Instant::now();
    let outcomes = ctx.block_on(broker::run_all(
        runs,
        spec,
        also,
        usize::from(args.many.parallel),
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
        ExitCode::from(EXIT_FAILED)
    })
}
