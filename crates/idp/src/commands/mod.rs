//! One module per command. Each validates all of its input before it writes anything.

/// `eprintln!` that never panics: a long-running service (serve, emulator) whose stderr
/// reader went away must keep serving, and still stop cleanly on a signal.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod broker;
mod customers;
mod doctor;
mod emulator;
mod env;
mod exec;
mod fic;
mod init;
mod inspect;
mod keys;
mod managed_app;
mod metadata;
mod publish;
mod serve;
mod serve_assertions;
mod sign;
mod token;

use crate::cli::{Cli, Command};
use crate::settings::Settings;
use std::process::ExitCode;
use time::OffsetDateTime;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let creating = matches!(cli.command, Command::Init(_));
    let settings = Settings::load(cli.global.clone(), creating)?;
    match cli.command {
        Command::Init(args) => init::run(&cli.global, &settings, args),
        Command::Keys(cmd) => keys::run(&settings, cmd),
        Command::Metadata(args) => metadata::run(&settings, args),
        Command::Sign(args) => sign::run(&settings, args),
        Command::Inspect(args) => inspect::run(&settings, args),
        Command::Serve(args) => serve::run(&settings, args),
        Command::PublishMetadata(args) => publish::run(&settings, args),
        Command::Emulator(args) => emulator::run(&settings, args),
        Command::Token(args) => token::run(&settings, args),
        Command::Customers(cmd) => customers::run(&settings, cmd),
        Command::Doctor(args) => doctor::run(&settings, args),
        Command::Exec(args) => exec::run(&settings, args),
        Command::Env(args) => env::run(&settings, args),
        Command::ServeAssertions(args) => serve_assertions::run(&settings, args),
        Command::Fic(args) => fic::run(&settings, args),
        Command::ManagedApp(cmd) => managed_app::run(&settings, cmd),
    }
}

/// The current time, truncated to whole seconds (the precision tokens and the keyring keep).
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// The issuer and its documents as `idp metadata` renders them, from the current settings
/// and keyring. `idp serve` serves exactly these.
pub fn render_documents(
    settings: &Settings,
) -> anyhow::Result<(idp_core::Issuer, idp_core::metadata::Documents)> {
    let (issuer, _, docs) = render_with_keyring(settings)?;
    Ok((issuer, docs))
}

/// [`render_documents`], also returning the keyring they were rendered from (publishing
/// plans against it), so it is read once.
pub fn render_with_keyring(
    settings: &Settings,
) -> anyhow::Result<(
    idp_core::Issuer,
    idp_core::keyring::Keyring,
    idp_core::metadata::Documents,
)> {
    let issuer = settings.issuer()?.value;
    let ring = settings.key_store()?.load()?;
    let docs = idp_core::metadata::render(&issuer, &settings.jwks_path()?, &ring)?;
    Ok((issuer, ring, docs))
}

/// The HTTPS client for outgoing calls, trusting the system roots and `--ca-cert`.
pub fn https_client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    let roots = idp_http::ExtraRoots::from_files(&settings.ca_certs()?)?;
    Ok(idp_http::client(&roots, idp_http::Timeouts::default())?)
}

/// The active key's signer (see [`signer_for`]).
pub fn active_signer(
    settings: &Settings,
    store: &idp_core::keyring::KeyStore,
    ring: &idp_core::keyring::Keyring,
) -> anyhow::Result<idp_core::signer::Signer> {
    let entry = ring
        .active()
        .ok_or(idp_core::keyring::KeyringError::NoActiveKey)?;
    signer_for(settings, store, entry)
}

/// What signs for `entry`: its key file (checked: mode, and that it holds that key), or
/// its key in Azure Key Vault, reached with the Key Vault token file when one is set, else
/// the Azure credential chain (CLI login, workload or managed identity). Nothing is sent
/// before the first signature.
pub fn signer_for(
    settings: &Settings,
    store: &idp_core::keyring::KeyStore,
    entry: &idp_core::keyring::KeyEntry,
) -> anyhow::Result<idp_core::signer::Signer> {
    let Some(id) = &entry.key_vault else {
        return Ok(idp_core::signer::Signer::Local(store.load_private(entry)?));
    };
    let id = idp_core::vault_key::VaultKeyId::parse(id)?;
    let client = vault_client(settings, &id)?;
    Ok(idp_core::signer::Signer::remote(
        entry.public.clone(),
        std::sync::Arc::new(idp_vault::VaultKey::new(client, id)),
    )?)
}

/// A Key Vault keys client for the vault of `id`.
pub fn vault_client(
    settings: &Settings,
    id: &idp_core::vault_key::VaultKeyId,
) -> anyhow::Result<azure_security_keyvault_keys::KeyClient> {
    use azure_core::credentials::TokenCredential;
    let http = https_client(settings)?;
    let credential: std::sync::Arc<dyn TokenCredential> = match settings.key_vault_token_file()? {
        Some(path) => std::sync::Arc::new(idp_vault::TokenFileCredential::new(path)),
        None => azure_credential(&http)?.1,
    };
    Ok(idp_vault::client(http, id, credential)?)
}

/// The Azure credential chain as publish-metadata uses it: workload identity when
/// `AZURE_FEDERATED_TOKEN_FILE` is set, else managed identity when its endpoint is, else
/// the Azure CLI login; token requests go through `http`.
pub fn azure_credential(
    http: &reqwest::Client,
) -> anyhow::Result<(
    idp_publish::credential::Method,
    std::sync::Arc<dyn azure_core::credentials::TokenCredential>,
)> {
    let is_set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    let method =
        idp_publish::credential::choose(idp_publish::credential::Auth::Auto, false, is_set)?;
    match idp_publish::credential::build(method, None, http)? {
        idp_publish::storage::Credential::Entra(credential) => Ok((method, credential)),
        _ => anyhow::bail!("no Entra credential for {method:?}"),
    }
}

/// A runtime for one command's network work, on this thread.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

pub fn warn(message: impl std::fmt::Display) {
    eprintln!("warning: {message}");
}
