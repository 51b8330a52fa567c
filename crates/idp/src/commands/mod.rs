//! One module per command. Each validates all of its input before it writes anything.

mod init;
mod inspect;
mod keys;
mod metadata;
mod serve;
mod sign;

use crate::cli::{Cli, Command};
use crate::settings::Settings;
use std::process::ExitCode;
use time::OffsetDateTime;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let creating = matches!(cli.command, Command::Init(_));
    let settings = Settings::load(cli.global.clone(), creating)?;
    match cli.command {
        Command::Init(args) => init::run(&cli.global, &settings, args),
        Command::Keys(cmd) => keys::run(&settings, cmd),
        Command::Metadata(args) => metadata::run(&settings, args),
        Command::Sign(args) => sign::run(&settings, args),
        Command::Inspect(args) => inspect::run(&settings, args),
        Command::Serve(args) => serve::run(&settings, args),
    }
}

/// The current time, truncated to whole seconds (the precision tokens and the keyring keep).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn warn(message: impl std::fmt::Display) {
    eprintln!("warning: {message}");
}
