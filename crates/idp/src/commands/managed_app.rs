//! `idp managed-app package`: the managed-application definition package.

use crate::cli::{ManagedAppCommand, WayArg};
use crate::settings::{Sources, Warnings};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::Report;
use idp_template::managed_app;
use idp_template::names::Guid;
use std::process::ExitCode;

pub fn run(sources: &Sources, cmd: ManagedAppCommand) -> Result<ExitCode, Report> {
    match cmd {
        ManagedAppCommand::Package {
            out,
            force,
            way: WayArg::Issuer,
            app_id,
            cloud,
        } => {
            if app_id.is_some() {
                return Err(Report::usage(
                    "--app-id is for the entra-app way's package; the issuer way's template creates its own managed identity",
                    "add --way entra-app, or leave --app-id out",
                ));
            }
            let mut warnings = Warnings::default();
            let shape = sources.shape(&cloud, None, Lifetime::default(), &mut warnings)?;
            let audience = shape.audience(shape.cloud.for_customer(None));
            let issuer = shape.issuer()?.clone();
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
        ManagedAppCommand::Package {
            out,
            force,
            way: WayArg::EntraApp,
            app_id,
            cloud,
        } => {
            if cloud.audience.is_some() {
                return Err(Report::usage(
                    "--audience is for the issuer way's package: the entra-app way's template holds no federated credential",
                    "leave --audience out; the app's credential (`idp fic --way entra-app`) takes it",
                ));
            }
            // clap requires it for this way; said again here, should that ever change.
            let Some(app_id) = app_id else {
                return Err(Report::usage(
                    "--way entra-app needs --app-id",
                    "give --app-id with the publisher's multi-tenant app's application (client) id",
                ));
            };
            let app_id = Guid::parse("publisher's app id", &app_id)?;
            // Only the cloud is read: it names the consent URL's host in the create form.
            let cloud = sources.cloud(cloud.cloud)?.for_customer(None);
            let package = managed_app::render_entra_app(&app_id, cloud.authority_host());
            for path in package.write(&out, force)? {
                println!("wrote {}", path.display());
            }
            note!(
                "the template gives the service principal of app {} (its object id looked up by the create form in the customer's tenant) Key Vault Secrets Officer on its vault; the customer's admin consents first: `idp customers consent-url NAME` prints the URL",
                app_id.as_str()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
