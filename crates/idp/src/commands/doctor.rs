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
    // The inventory is read once; every customer named is checked to be in it first.
    let inventory = if args.customer.is_some() || args.all {
        file.load()?
    } else {
        idp_fleet::inventory::Inventory::default()
    };
    let names: Vec<String> = match (&args.customer, args.all) {
        (Some(name), _) => {
            inventory.require(name, file.path())?;
            vec![name.clone()]
        }
        (None, true) => {
            if inventory.is_empty() {
                return Err(idp_fleet::inventory::InventoryError::Empty {
                    path: file.path().to_owned(),
                }
                .into());
            }
            inventory.names()
        }
        (None, false) => Vec::new(),
    };
    let min_age = settings.min_published_age(None)?;
    let extra_ca = !settings.ca_certs()?.is_empty();
    let client = super::https_client(settings)?;
    let runtime = super::runtime()?;
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

    if let Some(active) = keyring.active().filter(|k| k.key_vault.is_some()) {
        let store = settings.key_store()?;
        let finding = vault_finding(settings, &store, active, &runtime);
        report.push(("issuer".to_owned(), finding));
    }

    if !names.is_empty() {
        let store = settings.key_store()?;
        let key = super::active_signer(settings, &store, &keyring)?;
        let mut arm = None;
        for name in &names {
            let customer = inventory.get(name).cloned().expect("checked above");
            for f in fic_findings(settings, &runtime, &mut arm, &args, &customer)? {
                report.push((name.clone(), f));
            }
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
                    customer.clone(),
                    &key,
                    args.authority_host.clone(),
                    true,
                    "doctor",
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
    print_report(&report, args.format)?;
    Ok(if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The active key held in Key Vault: the vault signs a probe, and the signature verifies
/// with the public key the keyring (and the JWKS) carries.
fn vault_finding(
    settings: &Settings,
    store: &idp_core::keyring::KeyStore,
    active: &idp_core::keyring::KeyEntry,
    runtime: &tokio::runtime::Runtime,
) -> Finding {
    use idp_core::diagnostic::Diagnostic as _;
    let id = active.key_vault.as_deref().unwrap_or_default();
    let signed = super::signer_for(settings, store, active).and_then(|signer| {
        runtime
            .block_on(signer.sign_rs256(b"idp doctor: can the active key sign?"))
            .map_err(anyhow::Error::from)
    });
    match signed {
        Ok(_) => Finding {
            check: "signing key",
            status: Status::Ok,
            detail: format!(
                "held in Key Vault ({id}): the vault signed a probe, and it verifies with the recorded public key"
            ),
            fix: None,
        },
        Err(e) => Finding {
            check: "signing key",
            status: Status::Fail,
            detail: idp_core::secret::redact(&format!("{e:#}")),
            fix: e
                .chain()
                .find_map(|c| {
                    c.downcast_ref::<idp_core::signer::SignError>()
                        .and_then(|s| s.hint())
                })
                .or_else(|| {
                    Some(
                        "check idp's access to the vault (--key-vault-token-file, az login)".into(),
                    )
                }),
        },
    }
}

/// The customer's FIC over ARM, when its identity is recorded: issuer byte for byte,
/// subject and the one audience, and how many of the 20 FIC slots the UAMI uses.
fn fic_findings(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    arm: &mut Option<idp_fleet::arm::ArmClient>,
    args: &DoctorArgs,
    customer: &idp_fleet::inventory::Customer,
) -> anyhow::Result<Vec<Finding>> {
    let Some(id) = &customer.identity else {
        return Ok(vec![Finding {
            check: "fic",
            status: Status::Warn,
            detail: "no identity resource id recorded, so its FIC cannot be read over ARM".into(),
            fix: Some("add the customer with --identity to have its FIC checked".into()),
        }]);
    };
    let id = idp_fleet::inventory::IdentityId::parse(id)
        .map_err(|reason| crate::report::Hint::usage(reason, "fix the customer's identity"))?;
    let cloud = settings.cloud(customer.cloud.clone())?;
    if arm.is_none() {
        *arm = Some(super::customers::arm_client(
            settings,
            runtime,
            cloud,
            args.arm_endpoint.clone(),
            args.arm_token_file.clone(),
        )?);
    }
    let client = arm.as_ref().expect("just set");
    let fics = match runtime.block_on(client.federated_credentials(&id)) {
        Ok(f) => f,
        Err(e) => {
            use idp_core::diagnostic::Diagnostic;
            return Ok(vec![Finding {
                check: "fic",
                status: Status::Fail,
                detail: e.to_string(),
                fix: e.hint(),
            }]);
        }
    };
    let issuer = settings.issuer()?.value;
    let audience = settings.audience_for(None, cloud)?;
    let mut out = Vec::new();
    out.push(
        match idp_fleet::arm::choose_fic(
            &fics,
            issuer.as_str(),
            audience.as_str(),
            Some(&customer.subject),
        ) {
            Ok(fic) => Finding {
                check: "fic",
                status: Status::Ok,
                detail: format!(
                    "FIC `{}`: issuer, subject `{}` and audience `{}` as idp signs them",
                    fic.name,
                    fic.subject,
                    audience.as_str()
                ),
                fix: None,
            },
            Err(mismatch) => {
                use idp_core::diagnostic::Diagnostic;
                Finding {
                    check: "fic",
                    status: Status::Fail,
                    detail: mismatch.to_string(),
                    fix: mismatch.hint(),
                }
            }
        },
    );
    let used = fics.len();
    out.push(Finding {
        check: "fic slots",
        status: if used >= 20 { Status::Warn } else { Status::Ok },
        detail: format!("{used} of the 20 federated credentials a managed identity may hold"),
        fix: (used >= 20).then(|| "remove FICs no one uses before adding another".to_owned()),
    });
    Ok(out)
}

fn print_report(report: &[(String, Finding)], format: DoctorFormat) -> anyhow::Result<()> {
    let failed = report.iter().any(|(_, f)| f.status == Status::Fail);
    match format {
        DoctorFormat::Text => {
            for (subject, f) in report {
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
    Ok(())
}
