//! `idp keys list | add | activate | retire`.

use crate::cli::KeysCommand;
use crate::settings::{Sources, Warnings};
use idp_app::keys::{Source, VaultKey};
use idp_app::rotation::{self, Live, Proof};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::Report;
use idp_core::keyring::{KeyEntry, KeyState, Keyring};
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;

pub fn run(sources: &Sources, cmd: KeysCommand) -> Result<ExitCode, Report> {
    let say = |line: String| note!("{line}");
    match cmd {
        KeysCommand::List { json } => {
            let ring = sources.key_store()?.load()?;
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
        } => {
            let ctx = super::context(sources, None)?;
            let key = VaultKey {
                url,
                bits: key_size,
                existing,
            };
            let kid = idp_app::keys::add_vault(&ctx, &key, super::now(), &say)?;
            print_added(&kid);
        }
        KeysCommand::Add {
            key_size, import, ..
        } => {
            let source = match import {
                Some(path) => Source::Import(path),
                None => Source::Generate(key_size),
            };
            let kid = idp_app::keys::add_file(&sources.key_store()?, &source, super::now(), &say)?;
            print_added(&kid);
        }
        KeysCommand::Activate {
            kid,
            min_published_age,
            force,
            canary,
        } => {
            let mut warnings = Warnings::default();
            let proof = match (canary, force) {
                (Some(customer), _) => Proof::Canary(customer),
                (None, true) => Proof::Force,
                (None, false) => Proof::Published {
                    min_age: sources.min_published_age(min_published_age)?,
                },
            };
            // The canary signs as the exchange settings say (cloud, audience, authority,
            // lifetime), from the environment and the file.
            let lifetime = sources.lifetime(None, Lifetime::default())?;
            let shape = sources.shape(
                &Default::default(),
                Some(&Default::default()),
                lifetime,
                &mut warnings,
            )?;
            let inventory = sources.customers()?;
            warnings.say();
            let ctx = super::context(sources, None)?;
            let world = Live {
                ctx: &ctx,
                shape: &shape,
                inventory: &inventory,
                note: &say,
            };
            let done = ctx.block_on(rotation::activate(
                ctx.keys(),
                &world,
                &kid,
                &proof,
                super::now(),
            ))?;
            for w in &done.warnings {
                super::warn(w);
            }
            if let Proof::Canary(customer) = &proof {
                note!(
                    "canary: Entra accepted an assertion signed by {} for customer {customer}",
                    done.kid
                );
            }
            println!("activated {}", done.kid);
            if let Some(old) = &done.retiring {
                println!(
                    "{old} is now retiring: it stays in the JWKS so assertions it signed still verify"
                );
            }
            println!("next: publish the metadata");
        }
        KeysCommand::Retire { kid, force } => {
            let done = rotation::retire(&sources.key_store()?, &kid, force, super::now())?;
            for w in &done.warnings {
                super::warn(w);
            }
            println!(
                "retired {}: it leaves the JWKS at the next publish",
                done.kid
            );
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
