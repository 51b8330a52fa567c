//! `idp customers add | list | show | remove`: the customer inventory (customers.toml).

use crate::cli::{AddCustomer, CustomersCommand, ListFormat, WayArg};
use crate::settings::{Sources, Warnings};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::Report;
use idp_inventory::{Customer, Trust, Way};
use serde_json::json;
use std::process::ExitCode;

pub fn run(sources: &Sources, cmd: CustomersCommand) -> Result<ExitCode, Report> {
    let file = sources.customers()?;
    match cmd {
        CustomersCommand::Add(add) => {
            let AddCustomer {
                name,
                way,
                identity,
                tenant,
                client_id,
                subject,
                app_id,
                managed_identity,
                arm,
                cloud,
                scope,
            } = *add;
            idp_inventory::check_name(&name)?;
            let cloud = cloud.as_deref().map(Cloud::parse).transpose()?;
            let customer = match (way, tenant, client_id, subject, app_id) {
                (WayArg::EntraApp, Some(tenant), None, None, Some(app_id))
                    if identity.is_none() =>
                {
                    Customer {
                        cloud,
                        scope,
                        ..Customer::entra_app(&tenant, &app_id, managed_identity.as_deref())
                    }
                }
                (WayArg::EntraApp, ..) => {
                    return Err(Report::usage(
                        "--way entra-app takes --tenant and --app-id (and --managed-identity when several identities are attached)",
                        "give the customer's tenant and the publisher's app id: `idp customers add NAME --way entra-app --tenant T --app-id APP_ID`",
                    ));
                }
                (WayArg::Issuer, _, _, _, Some(_)) => {
                    return Err(Report::usage(
                        "--app-id is for --way entra-app",
                        "add --way entra-app, or give an issuer-way customer's --client-id and --subject",
                    ));
                }
                (WayArg::Issuer, Some(tenant), Some(client_id), Some(subject), None) => Customer {
                    trust: Trust::Issuer {
                        subject: subject.clone(),
                        identity,
                    },
                    cloud,
                    scope,
                    ..Customer::new(&tenant, &client_id, &subject)
                },
                (WayArg::Issuer, tenant, _, subject, None) => {
                    let Some(id) = identity else {
                        return Err(Report::usage(
                            "an issuer-way customer needs --identity, or --tenant, --client-id and --subject",
                            "read its UAMI over ARM with --identity /subscriptions/…/userAssignedIdentities/…, or give the three ids",
                        ));
                    };
                    if tenant.is_some() {
                        return Err(Report::usage(
                            "--tenant with --identity is read from ARM, not given",
                            "drop --tenant, or give --tenant, --client-id and --subject without --identity",
                        ));
                    }
                    // The FIC is looked for with the audience idp signs for that cloud.
                    let mut warnings = Warnings::default();
                    let audience = sources.audience(None, &mut warnings)?;
                    let issuer = sources.issuer()?;
                    let in_cloud = sources.cloud(None)?.for_customer(cloud);
                    let audience = audience.map_or_else(
                        || in_cloud.token_exchange_audience().to_owned(),
                        |a| a.as_str().to_owned(),
                    );
                    warnings.say();
                    let ctx = super::context(sources, Some(&arm))?;
                    let found = idp_app::arm::identity(
                        &ctx,
                        in_cloud,
                        &id,
                        issuer.as_str(),
                        &audience,
                        subject.as_deref(),
                    )?;
                    Customer {
                        trust: Trust::Issuer {
                            subject: found.subject.clone(),
                            identity: Some(id),
                        },
                        cloud,
                        scope,
                        ..Customer::new(&found.tenant, &found.client_id, &found.subject)
                    }
                }
            };
            file.update(|inv| inv.add(&name, customer.clone()))?;
            println!("added customer {name} to {}", file.path().display());
            match &customer.trust {
                Trust::Issuer { subject, .. } => {
                    println!(
                        "  tenant {}, client id {}, subject `{subject}`",
                        customer.tenant, customer.client_id
                    );
                    println!("next: `idp token --customer {name}`");
                }
                Trust::EntraApp { managed_identity } => {
                    println!(
                        "  way entra-app: tenant {}, the publisher's app {}, managed identity {}",
                        customer.tenant,
                        customer.client_id,
                        managed_identity
                            .as_deref()
                            .unwrap_or("(the only one attached)")
                    );
                    println!(
                        "next: the customer's admin consents once (`idp customers consent-url {name}`), then `idp token --customer {name}`"
                    );
                }
            }
        }
        CustomersCommand::ConsentUrl { name, authority } => {
            let c = file.customer(&name)?;
            if c.way() != Way::EntraApp {
                return Err(Report::usage(
                    format!(
                        "customer {name} is of the {} way: nothing to consent to",
                        c.way()
                    ),
                    "consent is for entra-app customers (`idp customers add NAME --way entra-app …`); an issuer-way customer's template creates its identity and FIC",
                ));
            }
            let cloud = sources.cloud(None)?.for_customer(c.cloud);
            let host = sources
                .authority_host(authority.authority_host)?
                .unwrap_or_else(|| cloud.authority_host().to_owned());
            println!(
                "{}",
                idp_exchange::explain::consent_url(&host, &c.tenant, &c.client_id)
            );
        }
        CustomersCommand::List {
            json,
            format,
            shards,
        } => {
            let format = if json { ListFormat::Json } else { format };
            if format == ListFormat::GithubMatrix {
                let matrix = idp_app::select::github_matrix(shards.unwrap_or(1))?;
                println!("{matrix}");
                return Ok(ExitCode::SUCCESS);
            }
            let inv = file.load()?;
            if format == ListFormat::Json {
                let all: Vec<_> = inv.iter().map(|(name, c)| customer_json(name, c)).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if inv.is_empty() {
                println!("no customers in {}", file.path().display());
            } else {
                println!(
                    "{:<24}  {:<36}  {:<36}  SUBJECT",
                    "NAME", "TENANT", "CLIENT ID"
                );
                for (name, c) in inv.iter() {
                    // An entra-app customer's client id is the publisher's app; its
                    // assertion's subject is the publisher's managed identity.
                    let subject = match &c.trust {
                        Trust::Issuer { subject, .. } => subject.clone(),
                        Trust::EntraApp { .. } => "(entra-app: the managed identity)".into(),
                    };
                    println!(
                        "{name:<24}  {:<36}  {:<36}  {subject}",
                        c.tenant, c.client_id
                    );
                }
            }
        }
        CustomersCommand::Show { name } => {
            let c = file.customer(&name)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&customer_json(&name, &c))?
            );
        }
        CustomersCommand::Remove { name } => {
            file.update(|inv| {
                inv.require(&name, file.path())?;
                inv.remove(&name);
                Ok(())
            })?;
            println!("removed customer {name} (nothing changed in Azure)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A customer as `list --json` and `show` print it: `client_id` is what the exchange sends
/// for either way (an entra-app customer's is its `app_id`).
fn customer_json(name: &str, c: &Customer) -> serde_json::Value {
    let mut j = json!({
        "name": name,
        "way": c.way().name(),
        "tenant": c.tenant,
        "client_id": c.client_id,
        "subject": c.subject(),
        "identity": c.identity(),
        "cloud": c.cloud,
        "scope": c.scope,
    });
    if let Trust::EntraApp { managed_identity } = &c.trust {
        j["app_id"] = json!(c.client_id);
        j["managed_identity"] = json!(managed_identity);
    }
    j
}
