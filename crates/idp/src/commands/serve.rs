//! `idp serve`: the two documents over HTTPS (or HTTP behind a TLS terminator), reloaded on
//! SIGHUP, stopped cleanly on SIGTERM or Ctrl-C.

use crate::cli::ServeArgs;
use crate::settings::Sources;
use idp_app::context::RuntimeKind;
use idp_core::diagnostic::Report;
use idp_server::listen;
use idp_server::{CacheControl, Site, SiteHandle};
use std::process::ExitCode;

pub fn run(sources: &Sources, args: ServeArgs) -> Result<ExitCode, Report> {
    let cache_control = CacheControl::parse(&args.cache_control)?;
    let site = render(sources)?;
    let ctx = idp_app::Context::new(sources.context(
        None,
        match args.workers {
            1 => RuntimeKind::CurrentThread,
            n => RuntimeKind::MultiThread(usize::from(n)),
        },
    )?)?;
    let paths: Vec<String> = site.paths().map(str::to_owned).collect();
    let tls = match (&args.tls_cert, &args.tls_key, &args.self_signed) {
        (Some(cert), Some(key), _) => {
            Some(idp_server::tls::material(idp_server::tls::Source::Files {
                cert,
                key,
            })?)
        }
        (_, _, Some(dir)) => {
            let issuer = sources.issuer()?;
            let host = url::Url::parse(issuer.as_str())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
            let made = idp_server::tls::material(idp_server::tls::Source::SelfSigned {
                dir,
                host: host.as_deref(),
            })?;
            if let Some((ca, hosts)) = &made.made {
                note!(
                    "made a local CA for {}; clients trust {}",
                    hosts.join(", "),
                    ca.display()
                );
            }
            Some(made)
        }
        _ => None,
    }
    .map(|m| m.pem);
    let handle = SiteHandle::new(site);
    let app = idp_server::router(handle.clone(), &cache_control);
    let reload = sources.clone();
    ctx.block_on(async move {
        tokio::spawn(reload_on_sighup(reload, handle));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let announce = move |addr| {
            note!("serving on {scheme}://{addr}");
            for p in &paths {
                note!("  {p}");
            }
            if scheme == "http" {
                note!("  plain HTTP: put a TLS terminator in front; Entra fetches over https only");
            }
        };
        listen::serve_until_stopped(args.listen, tls, app, announce).await
    })?;
    note!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The issuer's documents as `idp metadata` renders them, from the sources' settings and
/// keyring.
fn render(sources: &Sources) -> Result<Site, Report> {
    let (issuer, _, docs) = super::documents(sources)?;
    Ok(Site::new(&issuer, &docs))
}

async fn reload_on_sighup(sources: Sources, handle: SiteHandle) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        // The configuration file and the keyring are read again from the same sources.
        match sources
            .reload()
            .map_err(Report::from)
            .and_then(|s| render(&s))
        {
            Ok(site) => {
                handle.replace(site);
                note!("reloaded the keyring");
            }
            Err(e) => note!("reload failed, still serving the previous documents: {e:#}"),
        }
    }
}
