//! `idp inspect`: decode, verify against the local keyring, and say which check fails.

use crate::cli::InspectArgs;
use crate::settings::{Sources, Warnings};
use idp_core::diagnostic::{Problem, Report};
use idp_core::inspect;
use serde_json::{Value, json};
use std::io::Read;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: InspectArgs) -> Result<ExitCode, Report> {
    let token = if args.token == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        args.token
    };
    let decoded = inspect::decode(&token)?;
    let issuer = sources.issuer()?;
    // The audience the FIC carries, as given: whether a cloud uses it is not inspect's news.
    let audience = sources.audience(args.audience, &mut Warnings::default())?;
    let ring = sources.key_store()?.load()?;
    let now = super::now().unix_timestamp();
    let report = inspect::check(
        &decoded,
        &issuer,
        audience.as_ref().map(|a| a.as_str()),
        &ring,
        now,
    );

    if args.json {
        let checks: Vec<Value> = report
            .checks
            .iter()
            .map(|c| json!({"check": c.name, "ok": c.ok, "detail": c.detail}))
            .collect();
        let out = json!({
            "header": decoded.header,
            "claims": decoded.claims,
            "checks": checks,
            "expires_in": report.expires_in,
            "ok": report.ok(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("header: {}", serde_json::to_string_pretty(&decoded.header)?);
        println!("claims: {}", serde_json::to_string_pretty(&decoded.claims)?);
        println!();
        for c in &report.checks {
            println!(
                "  {} {:<9} {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
        }
        match report.expires_in {
            Some(s) if s > 0 => println!("\ntime left: {}", inspect::human(s)),
            Some(s) => println!("\nexpired {} ago", inspect::human(s)),
            None => {}
        }
    }
    if report.ok() {
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<&str> = report.failures().map(|c| c.name).collect();
        Err(Problem::reported(format!("the assertion fails: {}", failed.join(", "))).into())
    }
}
