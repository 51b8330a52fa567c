//! `idp fic`: the customer's federated identity credential, in the form their tool takes.

use crate::cli::{FicArgs, FicFormat};
use crate::settings::Settings;
use idp_core::assertion::Subject;
use idp_template::fic::{Fic, Format, Parent};
use idp_template::names::{FicName, IdentityName, ResourceGroupName};
use std::io::Write;
use std::process::ExitCode;

pub fn run(settings: &Settings, args: FicArgs) -> anyhow::Result<ExitCode> {
    let cloud = settings.cloud(args.cloud)?;
    let fic = Fic {
        name: FicName::parse(&args.name)?,
        issuer: settings.issuer()?.value,
        subject: Subject::parse(&args.subject)?,
        audience: settings.audience_for(args.audience, cloud)?,
    };
    let parent = Parent {
        identity: args
            .identity_name
            .as_deref()
            .map(IdentityName::parse)
            .transpose()?,
        resource_group: args
            .resource_group
            .as_deref()
            .map(ResourceGroupName::parse)
            .transpose()?,
    };
    let format = match args.format {
        FicFormat::Json => Format::Json,
        FicFormat::Arm => Format::Arm,
        FicFormat::Bicep => Format::Bicep,
        FicFormat::Az => Format::Az,
        FicFormat::Terraform => Format::Terraform,
    };
    std::io::stdout()
        .lock()
        .write_all(fic.render(&parent, format).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
