//! `idp serve`: the two documents over HTTPS (or HTTP behind a TLS terminator), reloaded on
//! SIGHUP, stopped cleanly on SIGTERM or Ctrl-C.

use crate::cli::ServeArgs;
use crate::report::Hint;
use crate::settings::Settings;
use anyhow::Context;
use idp_core::Issuer;
use idp_core::fsutil::{self, Overwrite};
use idp_server::listen::{self, Pem};
use idp_server::{Site, SiteHandle};
use std::process::ExitCode;

pub fn run(settings: &Settings, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (issuer, docs) = super::render_documents(settings)?;
    let site = Site::new(&issuer, &docs);
    let paths: Vec<String> = site.paths().map(str::to_owned).collect();
    let tls = tls_for(&args, &issuer)?;
    let handle = SiteHandle::new(site);
    let app = idp_server::router(handle.clone(), &args.cache_control)?;
    let reload_settings = settings.reload()?;
    let runtime = match args.workers {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build()?,
    };
    runtime.block_on(async move {
        tokio::spawn(reload_on_sighup(reload_settings, handle));
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
        listen::serve_until_stopped(args.listen, tls, app, announce).await?;
        note!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the certificate and key, or makes them for `--self-signed`.
fn tls_for(args: &ServeArgs, issuer: &Issuer) -> anyhow::Result<Option<Pem>> {
    let host = url::Url::parse(issuer.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    tls_material(
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
        args.self_signed.as_deref(),
        host,
    )
}

/// The certificate chain and key to serve HTTPS with: read from `--tls-cert`/`--tls-key`,
/// or made for `--self-signed DIR` (a local CA written to `DIR/ca.pem`, valid for
/// localhost, 127.0.0.1, ::1 and `extra_host`); `None` when neither is given.
pub(super) fn tls_material(
    tls_cert: Option<&std::path::Path>,
    tls_key: Option<&std::path::Path>,
    self_signed: Option<&std::path::Path>,
    extra_host: Option<String>,
) -> anyhow::Result<Option<Pem>> {
    if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
        let read = |p: &std::path::Path| {
            std::fs::read(p).with_context(|| {
                Hint::usage(
                    format!("cannot read {}", p.display()),
                    "check the --tls-cert and --tls-key paths",
                )
            })
        };
        return Ok(Some(Pem {
            cert: read(cert)?,
            key: read(key)?,
        }));
    }
    let Some(dir) = self_signed else {
        return Ok(None);
    };
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = extra_host {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !hosts.contains(&host) {
            hosts.insert(0, host);
        }
    }
    let ca = idp_server::tls::local_ca(&hosts).context("cannot make the local certificates")?;
    std::fs::create_dir_all(dir).with_context(|| {
        Hint::usage(
            format!("cannot create {}", dir.display()),
            "give --self-signed a folder idp may create and write",
        )
    })?;
    fsutil::write_atomic(
        &dir.join("ca.pem"),
        ca.ca_pem.as_bytes(),
        0o644,
        Overwrite::Replace,
    )?;
    fsutil::write_atomic(
        &dir.join("server.pem"),
        ca.cert_pem.as_bytes(),
        0o644,
        Overwrite::Replace,
    )?;
    fsutil::write_atomic(
        &dir.join("server.key"),
        ca.key_pem.as_bytes(),
        0o600,
        Overwrite::Replace,
    )?;
    note!(
        "made a local CA for {}; clients trust {}",
        hosts.join(", "),
        dir.join("ca.pem").display()
    );
    Ok(Some(Pem {
        cert: ca.cert_pem.into_bytes(),
        key: ca.key_pem.into_bytes(),
    }))
}

fn render(settings: &Settings) -> anyhow::Result<Site> {
    let (issuer, docs) = super::render_documents(settings)?;
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
                note!("reloaded the keyring");
            }
            Err(e) => note!("reload failed, still serving the previous documents: {e:#}"),
        }
    }
}
