//! `idp serve-assertions`: the GitHub Actions and Azure DevOps token-request protocols for
//! one customer, as a long-running local service for tools started outside idp (a
//! developer's shell, a self-hosted runner).

use crate::cli::ServeAssertionsArgs;
use crate::settings::{Sources, Warnings};
use idp_app::broker;
use idp_broker::endpoint::{self, AZURE_PIPELINES_PATH, GITHUB_PATH};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::Report;
use idp_server::listen;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: ServeAssertionsArgs) -> Result<ExitCode, Report> {
    if !args.allow_remote && !args.listen.ip().is_loopback() {
        return Err(Report::usage(
            format!("--listen {} is not a loopback address", args.listen),
            "listen on 127.0.0.1 (or ::1); to serve other hosts, add --allow-remote with --tls-cert and --tls-key",
        ));
    }
    let mut warnings = Warnings::default();
    let (selection, _) = super::selection(&args.who, None)?;
    let lifetime = sources.lifetime(args.lifetime.clone(), Lifetime::default())?;
    let shape = sources.shape(&args.cloud, None, lifetime, &mut warnings)?;
    let chosen = idp_app::select::resolve(&selection, None, &sources.customers()?)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(idp_server::tls::material(idp_server::tls::Source::Files { cert, key })?.pem)
        }
        _ => None,
    };
    let ctx = super::context(sources, None)?;
    let run = broker::runs(&ctx, &shape, &chosen, "serve-assertions")?
        .pop()
        .expect("one customer");
    warnings.say();
    let (token, created) = endpoint::request_token_from_file(&args.request_token_file)?;
    if created {
        note!(
            "wrote a new request token to {} (0600)",
            args.request_token_file.display()
        );
    }
    let what = run.signer.what();
    let app = endpoint::router(run.signer, token, args.allow_remote);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let token_file = args.request_token_file.display().to_string();
    ctx.block_on(async move {
        let announce = move |addr| {
            note!("serving {what} on {scheme}://{addr}");
            note!("  GitHub form:       {scheme}://{addr}{GITHUB_PATH}?api-version=2.0");
            note!("  Azure DevOps form: {scheme}://{addr}{AZURE_PIPELINES_PATH}");
            note!("  request token:     in {token_file} (send it as `Authorization: Bearer …`)");
        };
        listen::serve_until_stopped(args.listen, tls, app, announce).await
    })?;
    note!("stopped");
    Ok(ExitCode::SUCCESS)
}
