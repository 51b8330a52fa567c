//! `idp`: a thin command line over idp's library crates. Parse, resolve the settings, call
//! the application crate, render; an error is printed with its hint, and the exit code is
//! 0 (ok), 1 (the operation failed) or 2 (usage or configuration error).

mod cli;
mod commands;
mod report;
mod settings;

use clap::{CommandFactory as _, FromArgMatches as _};
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The command's names (`customers add`), so a hint names only flags it has.
    let mut path = Vec::new();
    let mut m = &matches;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_owned());
        m = sub;
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(report) => {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            report::print_error(&report, &path)
        }
    }
}
