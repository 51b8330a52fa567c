//! `idp customers add | list | show | remove`: the customer inventory (customers.toml).

use crate::cli::CustomersCommand;
use crate::settings::Settings;
use idp_fleet::inventory::Customer;
use serde_json::json;
use std::process::ExitCode;

pub fn run(settings: &Settings, cmd: CustomersCommand) -> anyhow::Result<ExitCode> {
    let file = settings.customers()?;
    match cmd {
        CustomersCommand::Add {
            name,
            identity,
            tenant,
            client_id,
            subject,
            arm_endpoint,
            arm_token_file,
            cloud,
            scope,
        } => {
            idp_fleet::inventory::check_name(&name)?;
            let customer = match (tenant, client_id, subject) {
                (Some(tenant), Some(client_id), Some(subject)) => Customer {
                    identity,
                    cloud,
                    scope,
                    ..Customer::new(&tenant, &client_id, &subject)
                },
                (_, _, subject) => {
                    let id = identity.expect("clap requires --identity without the three ids");
                    let (tenant, client_id, subject) = from_arm(
                        settings,
                        &id,
                        subject.as_deref(),
                        cloud.as_deref(),
                        arm_endpoint,
                        arm_token_file,
                    )?;
                    Customer {
                        identity: Some(id),
                        cloud,
                        scope,
                        ..Customer::new(&tenant, &client_id, &subject)
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
                inv.require(&name, file.path())?;
                inv.remove(&name);
                Ok(())
            })?;
            println!("removed customer {name} (nothing changed in Azure)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the UAMI at `id` over ARM: its tenant and client id, and the subject of the FIC
/// that trusts idp's issuer with idp's audience (`subject` picks among several).
fn from_arm(
    settings: &Settings,
    id: &str,
    subject: Option<&str>,
    cloud: Option<&str>,
    endpoint: Option<String>,
    token_file: Option<std::path::PathBuf>,
) -> anyhow::Result<(String, String, String)> {
    let parsed = idp_fleet::inventory::IdentityId::parse(id).map_err(|reason| {
        crate::report::Hint::usage(
            reason,
            "copy the identity's `id` from `az identity show` or the portal's JSON view",
        )
    })?;
    let cloud = settings.cloud(cloud.map(str::to_owned))?;
    let issuer = settings.issuer()?.value;
    let audience = settings.audience_for(None, cloud)?;
    let runtime = super::runtime()?;
    let arm = arm_client(settings, &runtime, cloud, endpoint, token_file)?;
    let (uami, fics) = runtime.block_on(async {
        let uami = arm.identity(&parsed).await?;
        let fics = arm.federated_credentials(&parsed).await?;
        Ok::<_, idp_fleet::arm::ArmError>((uami, fics))
    })?;
    let fic = idp_fleet::arm::choose_fic(&fics, issuer.as_str(), audience.as_str(), subject)?;
    Ok((uami.tenant_id, uami.client_id, fic.subject.clone()))
}

/// An ARM client for `cloud`: `arm.endpoint` (else the cloud's), a bearer token from
/// `arm.token_file`, else from the Azure credential chain (CLI login, workload or managed
/// identity). The token is never printed.
pub(super) fn arm_client(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    cloud: crate::settings::Cloud,
    endpoint: Option<String>,
    token_file: Option<std::path::PathBuf>,
) -> anyhow::Result<idp_fleet::arm::ArmClient> {
    use anyhow::Context as _;
    let endpoint = settings.arm_endpoint(endpoint, cloud)?;
    let http = super::https_client(settings)?;
    let token = match settings.arm_token_file(token_file)? {
        Some(path) => {
            let text = std::fs::read_to_string(&path).with_context(|| {
                crate::report::Hint::usage(
                    format!("cannot read the ARM token file {}", path.display()),
                    "check --arm-token-file / IDP_ARM_TOKEN_FILE",
                )
            })?;
            idp_core::secret::SecretString::new(text.trim())
        }
        None => {
            let (method, credential) = super::azure_credential(&http)?;
            let scope = format!("{endpoint}/.default");
            let token = runtime
                .block_on(credential.get_token(&[&scope], None))
                .map_err(|e| {
                    crate::report::Hint::failed(
                        format!(
                            "cannot get an ARM token ({method:?}): {}",
                            idp_core::secret::redact(&e.to_string())
                        ),
                        "log in with `az login`, or give a token in --arm-token-file / IDP_ARM_TOKEN_FILE",
                    )
                })?;
            idp_core::secret::SecretString::new(token.token.secret())
        }
    };
    Ok(idp_fleet::arm::ArmClient::new(http, &endpoint, token))
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
