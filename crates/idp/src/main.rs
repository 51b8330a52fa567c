//! `idp`: a thin command line over `idp-core`. Parse, run, render the error with a hint,
//! exit 0 (ok), 1 (the operation failed) or 2 (usage or configuration error).

mod cli;
mod commands;
mod report;
mod settings;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => report::print_error(&err),
    }
}
