//! `idp managed-app package`: the managed-application definition package.

use crate::cli::ManagedAppCommand;
use crate::settings::Settings;
use idp_template::managed_app;
use std::process::ExitCode;

pub fn run(settings: &Settings, cmd: ManagedAppCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ManagedAppCommand::Package {
            out,
            force,
            cloud,
            audience,
        } => {
            let cloud = settings.cloud(cloud)?;
            let audience = settings.audience_for(audience, cloud)?;
            let issuer = settings.issuer()?.value;
            let package = managed_app::render(&issuer, &audience);
            for path in package.write(&out, force)? {
                println!("wrote {}", path.display());
            }
            eprintln!(
                "the template's FIC trusts issuer {} with audience {}; its subject is each deployment's managed resource group id",
                issuer.as_str(),
                audience.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
