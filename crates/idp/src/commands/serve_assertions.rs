//! `idp serve-assertions`: the GitHub Actions and Azure DevOps token-request protocols for
//! one customer, as a long-running local service for tools started outside idp (a
//! developer's shell, a self-hosted runner).

use super::broker::{self, Selection, Shaping};
use crate::cli::ServeAssertionsArgs;
use crate::report::Hint;
use crate::settings::Settings;
use idp_broker::endpoint::{self, AZURE_PIPELINES_PATH, GITHUB_PATH};
use idp_server::listen;
use std::process::ExitCode;

pub fn run(settings: &Settings, args: ServeAssertionsArgs) -> anyhow::Result<ExitCode> {
    if !args.allow_remote && !args.listen.ip().is_loopback() {
        return Err(Hint::usage(
            format!("--listen {} is not a loopback address", args.listen),
            "listen on 127.0.0.1 (or ::1); to serve other hosts, add --allow-remote with --tls-cert and --tls-key",
        )
        .into());
    }
    let selection = Selection::from(args.who);
    let shaping = Shaping {
        audience: args.audience,
        cloud: args.cloud,
        ..Shaping::default()
    };
    let lifetime = settings.lifetime(args.lifetime)?;
    let tls = super::serve::tls_material(
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
        None,
        None,
    )?;
    let run = broker::runs(settings, &selection, &shaping, lifetime, "serve-assertions")?
        .pop()
        .expect("one customer");
    let (token, created) = endpoint::request_token_from_file(&args.request_token_file)?;
    if created {
        note!(
            "wrote a new request token to {} (0600)",
            args.request_token_file.display()
        );
    }
    let subject = run.signer.subject().to_owned();
    let app = endpoint::router(run.signer, token, args.allow_remote);
    let runtime = super::runtime()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let token_file = args.request_token_file.display().to_string();
    runtime.block_on(async move {
        let announce = move |addr| {
            note!("serving assertions for subject `{subject}` on {scheme}://{addr}");
            note!("  GitHub form:       {scheme}://{addr}{GITHUB_PATH}?api-version=2.0");
            note!("  Azure DevOps form: {scheme}://{addr}{AZURE_PIPELINES_PATH}");
            note!("  request token:     in {token_file} (send it as `Authorization: Bearer …`)");
        };
        listen::serve_until_stopped(args.listen, tls, app, announce).await?;
        note!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
