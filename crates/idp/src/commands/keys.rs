//! `idp keys list | add | activate | retire`.

use crate::cli::KeysCommand;
use crate::settings::Settings;
use idp_core::keyring::{self, KeyEntry, KeyState, Keyring, KeyringError};
use idp_core::keys;
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;

/// Entra's metadata cache time is undocumented; idp plans with a day, as azwi does.
const PUBLISH_AHEAD_SECS: i64 = 24 * 3600;
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
        KeysCommand::Add { key_size, import } => {
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
            println!("added key {kid} (next)");
            println!(
                "next: publish the metadata so Entra sees the key, wait 24h, then `idp keys activate {kid}`"
            );
        }
        KeysCommand::Activate { kid } => {
            let now = super::now();
            let (ring, kid) = store.update(|ring, store| {
                let kid = resolve_kid(ring, &kid)?;
                let entry = ring.get(&kid).expect("resolved kid exists");
                if entry.state == KeyState::Next
                    && (now - entry.created_at).whole_seconds() < PUBLISH_AHEAD_SECS
                {
                    super::warn(format!(
                        "key {kid} was added less than 24h ago; if Entra still caches a JWKS without it, exchanges fail with AADSTS7000272"
                    ));
                }
                // The key must be able to sign before it becomes the signing key.
                store.load_private(entry)?;
                ring.activate(&kid, now)?;
                Ok(kid)
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
        KeysCommand::Retire { kid } => {
            let now = super::now();
            let (_, kid) = store.update(|ring, _| {
                let kid = resolve_kid(ring, &kid)?;
                ring.retire(&kid, now)?;
                Ok(kid)
            })?;
            println!("retired {kid}: it leaves the JWKS at the next publish");
        }
    }
    Ok(ExitCode::SUCCESS)
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
        "{:<44}  {:<8}  {:>5}  {:<20}  SINCE",
        "KID", "STATE", "BITS", "CREATED"
    );
    for k in &ring.keys {
        println!(
            "{:<44}  {:<8}  {:>5}  {:<20}  {}",
            k.kid,
            k.state.as_str(),
            k.bits,
            fmt_time(Some(k.created_at)),
            fmt_time(since(k)),
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
