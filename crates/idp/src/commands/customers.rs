//! `idp customers add | list | show | remove`: the customer inventory (customers.toml).

use crate::cli::{CustomersCommand, ListFormat};
use crate::settings::{Sources, Warnings};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::Report;
use idp_inventory::Customer;
use serde_json::json;
use std::process::ExitCode;

pub fn run(sources: &Sources, cmd: CustomersCommand) -> Result<ExitCode, Report> {
    let file = sources.customers()?;
    match cmd {
        CustomersCommand::Add {
            name,
            identity,
            tenant,
            client_id,
            subject,
            arm,
            cloud,
            scope,
        } => {
            idp_inventory::check_name(&name)?;
            let cloud = cloud.as_deref().map(Cloud::parse).transpose()?;
            let customer = match (tenant, client_id, subject) {
                (Some(tenant), Some(client_id), Some(subject)) => Customer {
                    identity,
                    cloud,
                    scope,
                    ..Customer::new(&tenant, &client_id, &subject)
                },
                (_, _, subject) => {
                    let id = identity.expect("clap requires --identity without the three ids");
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
                        identity: Some(id),
                        cloud,
                        scope,
                        ..Customer::new(&found.tenant, &found.client_id, &found.subject)
                    }
                }
            };
            file.update(|inv| inv.add(&name, customer.clone()))?;
            println!("added customer {name} to {}", file.path().display());
            println!(
                "  tenant {}, client id {}, subject `{}`",
                customer.tenant, customer.client_id, customer.subject
            );
            println!("next: `idp token --customer {name}`");
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
                    println!(
                        "{name:<24}  {:<36}  {:<36}  {}",
                        c.tenant, c.client_id, c.subject
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

fn customer_json(name: &str, c: &Customer) -> serde_json::Value {
    json!({
        "name": name,
        "tenant": c.tenant,
        "client_id": c.client_id,
        "subject": c.subject,
        "identity": c.identity,
        "cloud": c.cloud,
        "scope": c.scope,
    })
}
