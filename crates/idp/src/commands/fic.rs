//! `idp fic`: a federated identity credential, in the form its tool takes. The issuer way's
//! is on the customer's managed identity and trusts idp's issuer; the entra-app way's is on
//! the publisher's app registration and trusts the publisher's user-assigned managed
//! identity, whose tokens the publisher's own tenant issues.

use crate::cli::{AuthorityArgs, FicArgs, FicFormat, WayArg};
use crate::settings::{Sources, Warnings};
use idp_core::assertion::{Lifetime, Subject};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::Report;
use idp_template::fic::{AppFic, AppFormat, Fic, Format, Parent};
use idp_template::names::{FicName, Guid, IdentityName, ResourceGroupName};
use std::io::Write;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: FicArgs) -> Result<ExitCode, Report> {
    match args.way {
        WayArg::Issuer => issuer_way(sources, args),
        WayArg::EntraApp => entra_app_way(sources, args),
    }
}

fn issuer_way(sources: &Sources, args: FicArgs) -> Result<ExitCode, Report> {
    // clap requires it for this way; said again here, should that ever change.
    let Some(subject) = args.subject.as_deref() else {
        return Err(Report::usage(
            "the issuer way's credential needs --subject",
            "give --subject S (what `idp token --subject` signs), or --way entra-app for the publisher's app's credential",
        ));
    };
    let mut warnings = Warnings::default();
    let shape = sources.shape(&args.cloud, None, Lifetime::default(), &mut warnings)?;
    let cloud = shape.cloud.for_customer(None);
    let fic = Fic {
        name: FicName::parse(&args.name)?,
        subject: Subject::parse(subject)?,
        audience: shape.audience(cloud),
        issuer: shape.issuer()?.clone(),
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

fn entra_app_way(sources: &Sources, args: FicArgs) -> Result<ExitCode, Report> {
    let format = match args.format {
        FicFormat::Json => AppFormat::Json,
        FicFormat::Bicep => AppFormat::Bicep,
        FicFormat::Az => AppFormat::Az,
        FicFormat::Terraform => AppFormat::Terraform,
        FicFormat::Arm => {
            return Err(Report::usage(
                "--format arm has no entra-app form: the app's credential is a Microsoft Graph resource, which an ARM template's resources cannot hold",
                "use --format json (the Microsoft Graph body), az (az ad app federated-credential create), bicep (with the Microsoft Graph extension; `az bicep build` makes JSON of it) or terraform (azuread)",
            ));
        }
    };
    // clap requires both for this way; said again here, should that ever change.
    let required = |value: &Option<String>, flag: &str, what: &str| {
        value.clone().ok_or_else(|| {
            Report::usage(
                format!("--way entra-app needs {flag}"),
                format!("give {flag} with {what}"),
            )
        })
    };
    let tenant = Guid::parse_lowercase(
        "publisher tenant id",
        &required(
            &args.publisher_tenant,
            "--publisher-tenant",
            "the publisher's tenant id",
        )?,
    )?;
    let principal = Guid::parse_lowercase(
        "managed identity's principal id",
        &required(
            &args.principal_id,
            "--principal-id",
            "the principal (object) id of the publisher's user-assigned managed identity",
        )?,
    )?;
    let app = args
        .app_id
        .as_deref()
        .map(|a| Guid::parse("publisher's app id", a))
        .transpose()?;
    let name = FicName::parse(&args.name)?;
    let mut warnings = Warnings::default();
    let authority = AuthorityArgs {
        authority_host: args.authority_host.clone(),
    };
    let shape = sources.shape(
        &args.cloud,
        Some(&authority),
        Lifetime::default(),
        &mut warnings,
    )?;
    let cloud = shape.cloud.for_customer(None);
    let fic = AppFic {
        name,
        issuer: AppFic::issuer_for(&shape.authority(cloud), &tenant)?,
        subject: principal,
        audience: shape.audience(cloud),
    };
    if format == AppFormat::Bicep && cloud != Cloud::Public {
        // microsoftgraph/msgraph-bicep-types, quickstart-templates/msi-as-a-fic-secretless:
        // "Microsoft Graph Bicep file deployment is only supported in Public Cloud".
        warnings.push(format!(
            "the Microsoft Graph Bicep extension deploys in the global cloud only; for the {} cloud use --format json, az or terraform",
            cloud.name()
        ));
    }
    warnings.say();
    std::io::stdout()
        .lock()
        .write_all(fic.render(app.as_ref(), format).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
