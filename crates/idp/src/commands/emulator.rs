//! `idp emulator`: a local Entra over HTTPS (the token endpoint, the ARM identity API and
//! the emulator's own keys; the publisher's tenant with Microsoft Graph and admin consent)
//! and the machine's managed identity endpoints over plain HTTP on loopback, for testing a
//! setup and pipelines offline.

use crate::cli::EmulatorArgs;
use crate::settings::Sources;
use axum_server::Handle;
use idp_app::context::RuntimeKind;
use idp_core::diagnostic::{Context as _, Problem, Report};
use idp_core::duration;
use idp_emulator::{Config, Emulator};
use std::net::SocketAddr;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: EmulatorArgs) -> Result<ExitCode, Report> {
    // Every input is checked before `--self-signed` writes its folder.
    let ttl = duration::parse(&args.metadata_ttl).context("invalid --metadata-ttl")?;
    let delay = duration::parse(&args.propagation_delay).context("invalid --propagation-delay")?;
    let mut config = Config::new(args.tenant.clone(), args.subscription.clone());
    config.publisher_tenant = args.publisher_tenant.clone();
    config.machine_identities = args.machine_identities.clone();
    // The machine's identity endpoints are plain HTTP, as on an Azure machine: loopback only.
    if !args.identity_listen.ip().is_loopback() {
        return Err(Report::usage(
            format!(
                "--identity-listen {} is not a loopback address",
                args.identity_listen
            ),
            "the machine's identity endpoints answer in plain HTTP to any caller: give a 127.0.0.1 (or ::1) address",
        ));
    }
    config.metadata_ttl = ttl;
    config.propagation_delay = delay;
    config.latency = duration::parse(&args.latency).context("invalid --latency")?;
    config.public_base_url = args.public_url.clone();
    config.require_same_host_jwks = args.strict_jwks_host;
    config.state_file = args.state.clone();
    config.cloud = idp_emulator::Cloud::parse(&args.cloud).ok_or_else(|| {
        Report::usage(
            format!("--cloud `{}` is not a cloud", args.cloud),
            "use public, usgov or china (or AzureCloud, AzureUSGovernment, AzureChinaCloud)",
        )
    })?;
    config.storage_suffix = storage_suffix(&args.storage_suffix)?;
    for path in sources.ca_certs()?.iter().chain(&args.trust_ca) {
        let pem = std::fs::read(path).problem(|| {
            Problem::usage(
                format!("cannot read the CA file {}", path.display()),
                "check the --trust-ca and --ca-cert / IDP_CA_CERT paths",
            )
        })?;
        config.extra_roots.push(pem);
    }
    // Each vault at its own origin, as in Azure: a loopback port with the emulator's TLS
    // (set below, once every input is checked and the TLS material exists).
    let vault_tls: std::sync::Arc<std::sync::OnceLock<idp_server::listen::Pem>> =
        std::sync::Arc::default();
    let tls_for_vaults = std::sync::Arc::clone(&vault_tls);
    config.vault_endpoints = Some(idp_emulator::VaultEndpoints {
        open: std::sync::Arc::new(move |app: axum::Router| {
            let tls = tls_for_vaults.get().cloned();
            Box::pin(async move {
                let tls = tls.ok_or_else(|| std::io::Error::other("no TLS material yet"))?;
                let handle = Handle::<SocketAddr>::new();
                let serving = handle.clone();
                let loopback = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
                tokio::spawn(async move {
                    let _ = idp_server::listen::serve(loopback, Some(tls), serving, app).await;
                });
                match handle.listening().await {
                    Some(addr) => Ok(format!("https://{addr}")),
                    None => Err(std::io::Error::other("the vault's listener did not start")),
                }
            })
        }),
    });
    let ctx = idp_app::Context::new(sources.context(None, RuntimeKind::MultiThread(2))?)?;
    let emulator = Emulator::new(config).map_err(|e| {
        Report::usage(
            format!("cannot start the emulator: {e}"),
            "correct the value named above; `idp emulator --help` lists each option's form",
        )
    })?;
    let material = match (&args.tls_cert, &args.tls_key, &args.self_signed) {
        (Some(cert), Some(key), _) => {
            idp_server::tls::material(idp_server::tls::Source::Files { cert, key })?
        }
        (_, _, Some(dir)) => {
            let made =
                idp_server::tls::material(idp_server::tls::Source::SelfSigned { dir, host: None })?;
            if let Some((ca, hosts)) = &made.made {
                note!(
                    "made a local CA for {}; clients trust {}",
                    hosts.join(", "),
                    ca.display()
                );
            }
            made
        }
        _ => {
            return Err(Report::usage(
                "the emulator serves HTTPS only, like Entra",
                "pass --self-signed DIR, or --tls-cert and --tls-key",
            ));
        }
    };
    let tls = material.pem;
    let _ = vault_tls.set(tls.clone());
    if let Some(path) = &args.owner_token_out {
        let token = emulator
            .owner_token(std::time::Duration::from_secs(24 * 3600))
            .map_err(|e| {
                Report::failed(
                    format!("cannot sign the owner token: {e}"),
                    "report it: the emulator's own key should sign",
                )
            })?;
        idp_core::fsutil::write_atomic(
            path,
            token.as_bytes(),
            0o600,
            idp_core::fsutil::Overwrite::Replace,
        )?;
    }
    // The machine's identity endpoints: bound now (a busy port fails here), served once the
    // main listener's address, the issuer base of their tokens, is known.
    let identity_listener = std::net::TcpListener::bind(args.identity_listen).problem(|| {
        Problem::usage(
            format!("cannot listen on --identity-listen {}", args.identity_listen),
            "choose another --identity-listen address (a free 127.0.0.1 port), or stop what listens there",
        )
    })?;
    let identity_addr = identity_listener.local_addr().problem(|| {
        Problem::failed(
            "cannot read the identity listener's address",
            "report it: a bound socket has an address",
        )
    })?;
    let app = emulator.router();
    ctx.block_on(async move {
        let (tenant, subscription) = (args.tenant.clone(), args.subscription.clone());
        let owner_token_out = args.owner_token_out.clone();
        let public_url = args.public_url.clone();
        let announce = move |addr: SocketAddr| {
            // The v2 issuer of the emulator's Entra is the main listener's URL, unless
            // --public-url names another.
            if public_url.is_none()
                && let Err(e) = emulator.set_issuer_base(&format!("https://{addr}"))
            {
                note!("warning: the machine's identity endpoints cannot mint token-exchange tokens: {e}");
            }
            let machine = emulator.identity_router();
            match axum_server::from_tcp(identity_listener) {
                Ok(server) => {
                    tokio::spawn(async move {
                        let _ = server.serve(machine.into_make_service()).await;
                    });
                }
                Err(e) => note!("warning: the machine's identity endpoints do not answer: {e}"),
            }
            note!("Entra emulator on https://{addr}");
            note!("  tenant        {tenant}");
            note!("  subscription  {subscription}");
            note!("  token         https://{addr}/{tenant}/oauth2/v2.0/token");
            note!(
                "  identities    https://{addr}/subscriptions/{subscription}/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>?api-version=2023-01-31"
            );
            note!(
                "  vaults        https://{addr}/subscriptions/{subscription}/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>?api-version=2026-02-01 (each vault answers at its own port: properties.vaultUri)"
            );
            match &owner_token_out {
                Some(path) => note!(
                    "  ARM bearer    the owner token in {} (Authorization: Bearer …)",
                    path.display()
                ),
                None => note!(
                    "  ARM bearer    required: pass --owner-token-out FILE for an owner token"
                ),
            }
            note!("  publisher tenant  {}", emulator.publisher_tenant());
            for m in emulator.machine_identities() {
                note!(
                    "  machine identity  {}: client id {}, principal id {}",
                    m.name,
                    m.client_id,
                    m.principal_id
                );
            }
            note!("  graph         https://{addr}/v1.0/");
            // What App Service gives the process in its environment (the header is a
            // secret made per start, as App Service rotates it), and where SDKs find IMDS.
            note!(
                "IDENTITY_ENDPOINT=http://{identity_addr}{} IDENTITY_HEADER={}",
                idp_emulator::APP_SERVICE_PATH,
                emulator.identity_header()
            );
            note!("AZURE_POD_IDENTITY_AUTHORITY_HOST=http://{identity_addr}");
            if !addr.ip().is_loopback() {
                note!(
                    "warning: listening beyond loopback; the emulator's ARM API has no authentication"
                );
            }
        };
        idp_server::listen::serve_until_stopped(args.listen, Some(tls), app, announce).await
    })?;
    note!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// A storage suffix: a DNS name, a port after it allowed (`idp.test:10443`), as clients
/// append it to `https://<account>.blob.`.
fn storage_suffix(s: &str) -> Result<String, Report> {
    let (host, port) = s.split_once(':').unwrap_or((s, ""));
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let port_ok = port.is_empty() || port.parse::<u16>().is_ok_and(|p| p > 0);
    if host_ok && port_ok {
        Ok(s.to_owned())
    } else {
        Err(Report::usage(
            format!("--storage-suffix `{s}` is not a DNS suffix"),
            "give a DNS name like core.windows.net or idp.test, a port after it if needed (idp.test:10443)",
        ))
    }
}
