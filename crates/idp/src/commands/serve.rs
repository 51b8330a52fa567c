//! `idp serve`: the two documents over HTTP, reloaded on SIGHUP, stopped cleanly on
//! SIGTERM or Ctrl-C.

use crate::cli::ServeArgs;
use crate::settings::Settings;
use idp_core::metadata;
use idp_server::{Site, SiteHandle};
use std::process::ExitCode;

pub fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let site = render(settings)?;
    let paths: Vec<String> = site.paths().map(str::to_owned).collect();
    let handle = SiteHandle::new(site);
    let app = idp_server::router(handle.clone(), &args.cache_control)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("serving on http://{addr} (plain HTTP: put a TLS terminator in front; Entra fetches over https only)");
        for p in &paths {
            eprintln!("  {p}");
        }
        tokio::spawn(reload_on_sighup(settings.reload()?, handle));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        eprintln!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn render(settings: &Settings) -> anyhow::Result<Site> {
    let issuer = settings.issuer()?.value;
    let ring = settings.key_store()?.load()?;
    let docs = metadata::render(&issuer, &settings.jwks_path()?, &ring)?;
    Ok(Site::new(&issuer, &docs))
}

async fn reload_on_sighup(settings: Settings, handle: SiteHandle) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        // The configuration file and the keyring are read again from the same sources.
        match settings
            .reload()
            .map_err(anyhow::Error::from)
            .and_then(|s| render(&s))
        {
            Ok(site) => {
                handle.replace(site);
                eprintln!("reloaded the keyring");
            }
            Err(e) => eprintln!("reload failed, still serving the previous documents: {e:#}"),
        }
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    eprintln!("shutting down");
}
