//! One module per command, each in three steps: resolve the settings it uses (once, into
//! typed values), call the application crate, render what comes back. Each checks all of
//! its input before it writes or sends anything. No command module calls another.

/// `eprintln!` that never panics: a long-running service (serve, emulator) whose stderr
/// reader went away must keep serving, and still stop cleanly on a signal.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod customers;
mod doctor;
mod emulator;
mod env;
mod exec;
mod fic;
mod init;
mod inspect;
mod keys;
mod managed_app;
mod metadata;
mod publish;
mod serve;
mod serve_assertions;
mod sign;
mod token;

use crate::cli::{ArmArgs, Cli, Command, ManyCustomers, OneCustomer};
use crate::settings::Sources;
use idp_app::context::{Context, RuntimeKind};
use idp_app::select::{Selection, Shard};
use idp_core::diagnostic::Report;
use std::process::ExitCode;
use time::OffsetDateTime;

pub fn run(cli: Cli) -> Result<ExitCode, Report> {
    let creating = matches!(cli.command, Command::Init(_));
    let sources = Sources::load(cli.global.clone(), creating)?;
    match cli.command {
        Command::Init(args) => init::run(&sources, args),
        Command::Keys(cmd) => keys::run(&sources, cmd),
        Command::Metadata(args) => metadata::run(&sources, args),
        Command::Sign(args) => sign::run(&sources, args),
        Command::Inspect(args) => inspect::run(&sources, args),
        Command::Serve(args) => serve::run(&sources, args),
        Command::PublishMetadata(args) => publish::run(&sources, args),
        Command::Emulator(args) => emulator::run(&sources, args),
        Command::Token(args) => token::run(&sources, args),
        Command::Customers(cmd) => customers::run(&sources, cmd),
        Command::Doctor(args) => doctor::run(&sources, args),
        Command::Exec(args) => exec::run(&sources, args),
        Command::Env(args) => env::run(&sources, args),
        Command::ServeAssertions(args) => serve_assertions::run(&sources, args),
        Command::Fic(args) => fic::run(&sources, args),
        Command::ManagedApp(cmd) => managed_app::run(&sources, cmd),
    }
}

/// The current time, truncated to whole seconds (the precision tokens and the keyring keep).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn warn(message: impl std::fmt::Display) {
    note!("warning: {message}");
}

/// The process's context for a command on one thread; `arm` are its ARM flags.
fn context(sources: &Sources, arm: Option<&ArmArgs>) -> Result<Context, Report> {
    Context::new(sources.context(arm, RuntimeKind::CurrentThread)?)
}

/// Whom the command line names: the selection and, for many, the shard.
fn selection(
    who: &OneCustomer,
    many: Option<&ManyCustomers>,
) -> Result<(Selection, Option<Shard>), Report> {
    let (all, customers, shard) = match many {
        Some(m) => (m.all, m.customers.clone(), m.shard.as_deref()),
        None => (false, Vec::new(), None),
    };
    let selection = idp_app::select::from_flags(
        who.customer.clone(),
        customers,
        all,
        who.tenant.clone(),
        who.client_id.clone(),
        who.subject.clone(),
    )?;
    let shard = shard.map(Shard::parse).transpose()?;
    Ok((selection, shard))
}

/// The issuer, its keyring, and the documents `idp metadata` renders from them.
fn documents(
    sources: &Sources,
) -> Result<
    (
        idp_core::Issuer,
        idp_core::keyring::Keyring,
        idp_core::metadata::Documents,
    ),
    Report,
> {
    let issuer = sources.issuer()?;
    let jwks_path = sources.jwks_path()?;
    let ring = sources.key_store()?.load()?;
    let docs = idp_core::metadata::render(&issuer, &jwks_path, &ring)?;
    Ok((issuer, ring, docs))
}

/// Whether the selection is of many customers (a line each and a summary).
fn is_many(many: &ManyCustomers) -> bool {
    many.all || !many.customers.is_empty()
}
