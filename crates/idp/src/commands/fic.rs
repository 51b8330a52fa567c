//! `idp fic`: the customer's federated identity credential, in the form their tool takes.

use crate::cli::{FicArgs, FicFormat};
use crate::settings::{Sources, Warnings};
use idp_core::assertion::{Lifetime, Subject};
use idp_core::diagnostic::Report;
use idp_template::fic::{Fic, Format, Parent};
use idp_template::names::{FicName, IdentityName, ResourceGroupName};
use std::io::Write;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: FicArgs) -> Result<ExitCode, Report> {
    let mut warnings = Warnings::default();
    let shape = sources.shape(&args.cloud, None, Lifetime::default(), &mut warnings)?;
    let cloud = shape.cloud.for_customer(None);
    let fic = Fic {
        name: FicName::parse(&args.name)?,
        subject: Subject::parse(&args.subject)?,
        audience: shape.audience(cloud),
        issuer: shape.issuer,
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
    warnings.say();
    std::io::stdout()
        .lock()
        .write_all(fic.render(&parent, format).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
