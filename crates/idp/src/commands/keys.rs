//! `idp keys list | add | activate | retire`.

use crate::cli::KeysCommand;
use crate::settings::Settings;
use anyhow::Context as _;
use idp_core::keyring::{self, KeyEntry, KeyState, Keyring, KeyringError};
use idp_core::keys;
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;

/// The shortest kid prefix accepted in place of the whole kid.
const MIN_KID_PREFIX: usize = 6;

pub fn run(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let store = settings.key_store()?;
    match cmd {
        KeysCommand::List { json } => {
            let ring = store.load()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&ring.keys)?);
            } else {
                print_table(&ring);
            }
        }
        KeysCommand::Add {
            key_size,
            import: _,
            key_vault: Some(url),
            existing,
        } => add_in_vault(settings, &store, &url, key_size, existing)?,
        KeysCommand::Add {
            key_size, import, ..
        } => {
            let key = match &import {
                Some(path) => {
                    let pem = idp_core::secret::SecretBytes::new(std::fs::read(path).map_err(
                        |source| keys::KeyError::Read {
                            path: path.clone(),
                            source,
                        },
                    )?);
                    keys::parse_pem(pem.expose(), path)?
                }
                None => {
                    eprintln!("generating a {key_size}-bit RSA key…");
                    keys::generate(key_size)?
                }
            };
            let now = super::now();
            let (_, kid) = store.update(|ring, store| {
                let entry = keyring::entry_for(&key, KeyState::Next, now);
                ring.add(entry.clone())?;
                store.write_key_file(&entry, &key, false)?;
                Ok(entry.kid)
            })?;
            print_added(&kid);
        }
        KeysCommand::Activate {
            kid,
            min_published_age,
            force,
            canary,
        } => {
            let now = super::now();
            let ring = store.load()?;
            let kid = resolve_kid(&ring, &kid)?;
            let min_age = settings.min_published_age(min_published_age)?;
            // What the keyring alone refuses (a retired key, the active one) is said before
            // anything is fetched.
            ring.clone().activate(&kid, now)?;
            // The key must be able to sign before it becomes the signing key: its file
            // loads, or the vault signs with it (idp's role on the key is in place).
            let entry = ring.get(&kid).expect("resolved kid exists");
            let key = super::signer_for(settings, &store, entry)?;
            super::runtime()?
                .block_on(key.sign_rs256(b"idp keys activate: can this key sign?"))
                .with_context(|| {
                    format!(
                        "key {kid} cannot sign, so it stays {}",
                        entry.state.as_str()
                    )
                })?;
            if let Some(customer) = &canary {
                // Entra's own answer replaces the wait: an exchange signed with this key.
                super::token::canary(settings, customer, &key).with_context(|| {
                    format!(
                        "the canary exchange for customer {customer} with key {kid} failed, so the key stays {}: every pipeline would fail the same way",
                        entry.state.as_str()
                    )
                })?;
                eprintln!(
                    "canary: Entra accepted an assertion signed by {kid} for customer {customer}"
                );
            }
            // What Entra would fetch now: anything else is a guess about its cache.
            let published = if force || canary.is_some() {
                None
            } else {
                Some(published_kids(settings)?)
            };
            if let Some((_, kids)) = &published {
                // What was just seen is kept even if the activation is refused: the wait
                // for --min-published-age starts at the first sighting.
                store.update(|ring, _| Ok(ring.record_published(kids, now)))?;
            }
            let (ring, kid) = store.update(|ring, _| {
                if let Some((jwks_url, kids)) = &published {
                    ring.check_activation(&kid, kids, jwks_url, min_age, now)?;
                } else if force {
                    super::warn(format!(
                        "--force: not checking that Entra can see key {kid}; if it still caches a JWKS without it, every exchange fails with AADSTS7000272 until it refreshes (up to a day)"
                    ));
                }
                ring.activate(&kid, now)?;
                Ok(kid.clone())
            })?;
            println!("activated {kid}");
            if let Some(old) = ring
                .keys
                .iter()
                .find(|k| k.state == KeyState::Retiring && k.retiring_at == Some(now))
            {
                println!(
                    "{} is now retiring: it stays in the JWKS so assertions it signed still verify",
                    old.kid
                );
            }
            println!("next: publish the metadata");
        }
        KeysCommand::Retire { kid, force } => {
            let now = super::now();
            let (_, kid) = store.update(|ring, _| {
                let kid = resolve_kid(ring, &kid)?;
                if force {
                    if ring.check_retirement(&kid, now).is_err() {
                        super::warn(format!(
                            "--force: assertions key {kid} signed may still be valid; once the JWKS drops it, Entra refuses them with AADSTS7000272"
                        ));
                    }
                } else {
                    ring.check_retirement(&kid, now)?;
                }
                ring.retire(&kid, now)?;
                Ok(kid)
            })?;
            println!("retired {kid}: it leaves the JWKS at the next publish");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_added(kid: &str) {
    println!("added key {kid} (next)");
    println!(
        "next: publish the metadata so Entra sees the key, wait 24h, then `idp keys activate {kid}`"
    );
}

/// `idp keys add --key-vault URL [--existing]`: a key whose private half never leaves the
/// vault. The keyring is checked first (a keyring must exist), then the vault is asked,
/// then the entry is added under the lock: a refusal anywhere leaves keyring.json as it was.
fn add_in_vault(
    settings: &Settings,
    store: &keyring::KeyStore,
    url: &str,
    key_size: u32,
    existing: bool,
) -> anyhow::Result<()> {
    let id = idp_core::vault_key::VaultKeyId::parse(url)?;
    if !existing && id.version().is_some() {
        return Err(crate::report::Hint::usage(
            format!("{url} names a key version; a new key gets a new version of its own"),
            "leave the version out to create a key, or add --existing to adopt that version",
        )
        .into());
    }
    // What the keyring would refuse is said before a key is made in the vault.
    store.load()?.check_room()?;
    let client = super::vault_client(settings, &id)?;
    let runtime = super::runtime()?;
    let (versioned, public) = if existing {
        let (versioned, public) = runtime.block_on(idp_vault::adopt(&client, &id))?;
        eprintln!("adopted {versioned} ({}-bit RSA)", public.bits());
        (versioned, public)
    } else {
        eprintln!("creating a {key_size}-bit RSA key in {}…", id.vault());
        let (versioned, public, protection) =
            runtime.block_on(idp_vault::create(&client, &id, key_size))?;
        eprintln!(
            "created {versioned} ({}, not exportable)",
            match protection {
                idp_vault::Protection::Hsm => "RSA-HSM: HSM-protected",
                idp_vault::Protection::Software =>
                    "RSA: software-protected; this vault holds no HSM keys (premium tier or Managed HSM do)",
            }
        );
        (versioned, public)
    };
    let now = super::now();
    let (_, kid) = store.update(|ring, _| {
        let entry = keyring::entry_for_vault(&public, &versioned, KeyState::Next, now);
        ring.add(entry.clone())?;
        Ok(entry.kid)
    })?;
    print_added(&kid);
    Ok(())
}

/// The kids of the JWKS published at the issuer URL, fetched anonymously as Entra and
/// publish-metadata's readback fetch it, read leniently (every kid counts), with its URL.
fn published_kids(
    settings: &Settings,
) -> anyhow::Result<(String, std::collections::BTreeSet<String>)> {
    use anyhow::Context;
    let issuer = settings.issuer()?.value;
    let client = super::https_client(settings)?;
    let runtime = super::runtime()?;
    let published = runtime
        .block_on(idp_publish::readback::fetch_published(&client, &issuer))
        .context(crate::report::Hint::failed(
            "cannot read the published JWKS, so idp cannot tell whether Entra can verify the key",
            "publish first (`idp publish-metadata`); if the issuer is not reachable from here, pass --force and check `idp publish-metadata --check` from where it is",
        ))?;
    let kids = idp_publish::plan::published_kids(&published.jwks.bytes).map_err(|reason| {
        anyhow::anyhow!(
            "the JWKS at {} is not a key set: {reason}",
            published.jwks.url
        )
    })?;
    Ok((published.jwks.url, kids))
}

/// Accepts a full kid or a unique prefix of at least six characters.
fn resolve_kid(ring: &Keyring, given: &str) -> Result<String, KeyringError> {
    if ring.get(given).is_some() {
        return Ok(given.to_owned());
    }
    let unknown = || KeyringError::UnknownKid {
        kid: given.to_owned(),
    };
    if given.len() < MIN_KID_PREFIX {
        return Err(unknown());
    }
    let mut matches = ring.keys.iter().filter(|k| k.kid.starts_with(given));
    match (matches.next(), matches.next()) {
        (Some(k), None) => Ok(k.kid.clone()),
        _ => Err(unknown()),
    }
}

fn print_table(ring: &Keyring) {
    println!(
        "{:<44}  {:<8}  {:>5}  {:<20}  {:<20}  KEY",
        "KID", "STATE", "BITS", "CREATED", "SINCE"
    );
    for k in &ring.keys {
        println!(
            "{:<44}  {:<8}  {:>5}  {:<20}  {:<20}  {}",
            k.kid,
            k.state.as_str(),
            k.bits,
            fmt_time(Some(k.created_at)),
            fmt_time(since(k)),
            k.key_vault.as_deref().unwrap_or(&k.file),
        );
    }
}

fn since(k: &KeyEntry) -> Option<time::OffsetDateTime> {
    match k.state {
        KeyState::Next => Some(k.created_at),
        KeyState::Active => k.activated_at,
        KeyState::Retiring => k.retiring_at,
        KeyState::Retired => k.retired_at,
    }
}

fn fmt_time(t: Option<time::OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}
