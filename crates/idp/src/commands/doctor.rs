//! `idp doctor`: every check Entra will make, before Entra makes it. The issuer as Entra
//! fetches it (anonymously, over HTTPS, no redirects), the keyring against it, and each
//! customer asked for, with a real exchange unless `--no-exchange`. Exit 1 on any ✗.

use crate::cli::{DoctorArgs, DoctorFormat};
use crate::report::EXIT_FAILED;
use crate::settings::Settings;
use idp_publish::doctor::{self, Finding, IssuerInputs, Status};
use serde_json::json;
use std::process::ExitCode;

pub fn run(settings: &Settings, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let (issuer, keyring, docs) = super::render_with_keyring(settings)?;
    let file = settings.customers()?;
    let names: Vec<String> = match (&args.customer, args.all) {
        (Some(name), _) => {
            file.customer(name)?;
            vec![name.clone()]
        }
        (None, true) => {
            let inv = file.load()?;
            if inv.is_empty() {
                return Err(idp_fleet::inventory::InventoryError::Empty {
                    path: file.path().to_owned(),
                }
                .into());
            }
            inv.names()
        }
        (None, false) => Vec::new(),
    };
    let min_age = settings.min_published_age(None)?;
    let extra_ca = !settings.ca_certs()?.is_empty();
    let client = super::https_client(settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let fetched = runtime.block_on(idp_publish::readback::fetch_published(&client, &issuer));
    let inputs = IssuerInputs {
        issuer: &issuer,
        keyring: &keyring,
        docs: &docs,
        now: super::now(),
        min_published_age: min_age,
        extra_ca,
    };
    let mut report: Vec<(String, Finding)> = doctor::issuer_findings(inputs, &fetched)
        .into_iter()
        .map(|f| ("issuer".to_owned(), f))
        .collect();

    if !names.is_empty() {
        let store = settings.key_store()?;
        let key = store.signing_key(&keyring)?;
        for name in &names {
            let finding = if args.no_exchange {
                Finding {
                    check: "values",
                    status: Status::Ok,
                    detail:
                        "tenant, client id, subject and scope are well-formed (no exchange sent)"
                            .into(),
                    fix: None,
                }
            } else {
                match super::token::customer_exchange(
                    settings,
                    name,
                    &key,
                    args.authority_host.clone(),
                    true,
                )? {
                    Ok(()) => Finding {
                        check: "exchange",
                        status: Status::Ok,
                        detail: "Entra exchanged an assertion for an access token".into(),
                        fix: None,
                    },
                    Err(e) => {
                        let (code, line) = super::token::describe(&e);
                        Finding {
                            check: "exchange",
                            status: Status::Fail,
                            detail: match code {
                                Some(c) => format!("AADSTS{c}: {line}"),
                                None => line,
                            },
                            fix: Some("see the check above; `idp token --customer NAME` prints Entra's full answer".into()),
                        }
                    }
                }
            };
            report.push((name.clone(), finding));
        }
    }

    let failed = report.iter().any(|(_, f)| f.status == Status::Fail);
    match args.format {
        DoctorFormat::Text => {
            for (subject, f) in &report {
                println!("{} {subject}: {}: {}", f.status.mark(), f.check, f.detail);
                if let Some(fix) = &f.fix {
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
                           "detail": f.detail, "fix": f.fix})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"ok": !failed, "checks": checks}))?
            );
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
