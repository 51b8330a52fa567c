//! `idp managed-app package`: the managed-application definition package.

use crate::cli::ManagedAppCommand;
use crate::settings::{Sources, Warnings};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::Report;
use idp_template::managed_app;
use std::process::ExitCode;

pub fn run(sources: &Sources, cmd: ManagedAppCommand) -> Result<ExitCode, Report> {
    match cmd {
        ManagedAppCommand::Package { out, force, cloud } => {
            let mut warnings = Warnings::default();
            let shape = sources.shape(&cloud, None, Lifetime::default(), &mut warnings)?;
            let audience = shape.audience(shape.cloud.for_customer(None));
            let issuer = shape.issuer;
            warnings.say();
            let package = managed_app::render(&issuer, &audience);
            for path in package.write(&out, force)? {
                println!("wrote {}", path.display());
            }
            note!(
                "the template's FIC trusts issuer {} with audience {}; its subject is each deployment's managed resource group id",
                issuer.as_str(),
                audience.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
