//! `idp doctor`: every check Entra will make, before Entra makes it. The issuer as Entra
//! fetches it (anonymously, over HTTPS, no redirects), the keyring against it, a key held
//! in Key Vault, and each customer asked for, checked in parallel, with a real exchange
//! unless `--no-exchange`. Exit 1 on any ✗.

use crate::cli::{DoctorArgs, DoctorFormat};
use crate::settings::{Sources, Warnings};
use idp_app::context::RuntimeKind;
use idp_app::exchange::{self, Exchanger, Scope};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::{EXIT_FAILED, Report};
use idp_publish::doctor::{self, Finding, IssuerInputs, Status};
use serde_json::json;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: DoctorArgs) -> Result<ExitCode, Report> {
    let mut warnings = Warnings::default();
    // A publisher whose customers are all of the entra-app way may have no issuer: its
    // checks are then skipped, said as such (and only then: a broken configuration is not).
    let documents = match super::documents(sources) {
        Ok(d) => Some(d),
        Err(e)
            if e.find::<crate::settings::ConfigError>()
                .is_some_and(|c| matches!(c, crate::settings::ConfigError::Missing { .. })) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    let min_age = sources.min_published_age(None)?;
    // The customers asked for, each checked and planned, before anything is fetched.
    let asked = args.who.customer.is_some()
        || args.who.tenant.is_some()
        || args.who.client_id.is_some()
        || args.who.subject.is_some()
        || args.many.shard.is_some()
        || super::is_many(&args.many);
    let mut planned = Vec::new();
    let mut shape = None;
    if asked {
        let (selection, shard) = super::selection(&args.who, Some(&args.many))?;
        let lifetime = sources.lifetime(None, Lifetime::default())?;
        let s = sources.shape(&args.cloud, Some(&args.authority), lifetime, &mut warnings)?;
        for who in idp_app::select::resolve(&selection, shard, &sources.customers()?)? {
            let job = exchange::plan(&s, &who, &Scope::RecordedOrArm)?;
            planned.push((who, job));
        }
        shape = Some(s);
    }
    warnings.say();
    let mut settings = sources.context(Some(&args.arm), RuntimeKind::CurrentThread)?;
    settings.graph = sources.graph(&args.graph)?;
    let ctx = idp_app::Context::new(settings)?;
    let mut report: Vec<(String, Finding)> = Vec::new();
    match &documents {
        Some((issuer, keyring, docs)) => {
            let fetched = ctx.block_on(idp_publish::readback::fetch_published(ctx.http()?, issuer));
            let inputs = IssuerInputs {
                issuer,
                keyring,
                docs,
                now: super::now(),
                min_published_age: min_age,
                extra_ca: ctx.has_extra_cas(),
            };
            report.extend(
                doctor::issuer_findings(inputs, &fetched)
                    .into_iter()
                    .map(|f| ("issuer".to_owned(), f)),
            );
            if let Some(active) = keyring.active().filter(|k| k.key_vault.is_some()) {
                report.push((
                    "issuer".to_owned(),
                    idp_app::doctor::vault_key(&ctx, keyring, active),
                ));
            }
        }
        None if !planned.is_empty() && planned.iter().all(|(_, job)| job.spec().is_none()) => {
            report.push((
                "issuer".to_owned(),
                Finding {
                    check: "issuer",
                    status: Status::Ok,
                    detail: "none configured, and none needed: every customer asked for is of the entra-app way".into(),
                    fix: None,
                },
            ));
        }
        None => {
            // Nothing to check without an issuer: say why, as every command does.
            super::documents(sources)?;
        }
    }
    if shape.is_some() {
        let exchanger = if args.no_exchange {
            None
        } else {
            let jobs: Vec<_> = planned.iter().map(|(_, job)| job.clone()).collect();
            Some(Exchanger::for_jobs(
                &ctx,
                &jobs,
                "doctor",
                exchange::check_policy(),
            )?)
        };
        let checked = ctx.block_on(idp_app::doctor::customers(
            &ctx,
            planned,
            exchanger.as_ref(),
            usize::from(args.many.parallel),
        ));
        for (name, findings) in checked {
            report.extend(findings.into_iter().map(|f| (name.clone(), f)));
        }
    }
    let failed = report.iter().any(|(_, f)| f.status == Status::Fail);
    print_report(&report, args.format)?;
    Ok(if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(report: &[(String, Finding)], format: DoctorFormat) -> Result<(), Report> {
    let failed = report.iter().any(|(_, f)| f.status == Status::Fail);
    // A fix names only flags `idp doctor` has.
    let flags = crate::report::flags_of(&["doctor"]);
    // Details may carry what a service answered: hidden as every error is.
    let redact = idp_core::secret::redact;
    let fix = |f: &Finding| {
        f.fix
            .as_deref()
            .and_then(|h| crate::report::fit_hint(h, &flags))
            .map(|h| redact(&h))
    };
    match format {
        DoctorFormat::Text => {
            for (subject, f) in report {
                println!(
                    "{} {subject}: {}: {}",
                    f.status.mark(),
                    f.check,
                    redact(&f.detail)
                );
                if let Some(fix) = fix(f) {
                    println!("    fix: {fix}");
                }
            }
            let count = |s: Status| report.iter().filter(|(_, f)| f.status == s).count();
            println!(
                "doctor: {} ok, {} warnings, {} failures",
                count(Status::Ok),
                count(Status::Warn),
                count(Status::Fail)
            );
        }
        DoctorFormat::Json => {
            let checks: Vec<_> = report
                .iter()
                .map(|(subject, f)| {
                    json!({"subject": subject, "check": f.check, "status": f.status.as_str(),
                           "detail": redact(&f.detail), "fix": fix(f)})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"ok": !failed, "checks": checks}))?
            );
        }
    }
    Ok(())
}
