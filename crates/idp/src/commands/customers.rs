//! `idp customers add | list | show | remove`: the customer inventory (customers.toml).

use crate::cli::CustomersCommand;
use crate::settings::Settings;
use idp_fleet::inventory::{Customer, InventoryError};
use serde_json::json;
use std::process::ExitCode;

pub fn run(settings: &Settings, cmd: CustomersCommand) -> anyhow::Result<ExitCode> {
    let file = settings.customers()?;
    match cmd {
        CustomersCommand::Add {
            name,
            tenant,
            client_id,
            subject,
            identity,
            cloud,
            scope,
        } => {
            let customer = Customer {
                identity,
                cloud,
                scope,
                ..Customer::new(&tenant, &client_id, &subject)
            };
            file.update(|inv| inv.add(&name, customer))?;
            println!("added customer {name} to {}", file.path().display());
            println!("next: `idp token --customer {name}`");
        }
        CustomersCommand::List { json } => {
            let inv = file.load()?;
            if json {
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
                let known = inv.names();
                inv.remove(&name)
                    .map(|_| ())
                    .ok_or(InventoryError::Unknown {
                        name: name.clone(),
                        path: file.path().to_owned(),
                        known,
                    })
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
