//! New signing keys, in state `next` (published, not yet signing): generated or imported
//! into the keys folder, or held in Azure Key Vault (created there or adopted), where only
//! the key's id and public half are recorded. A refusal anywhere leaves keyring.json as it
//! was.

use crate::context::Context;
use idp_core::diagnostic::Report;
use idp_core::keyring::{self, KeyState, KeyStore};
use idp_core::keys;
use std::path::PathBuf;
use time::OffsetDateTime;

/// Where a new key file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A new RSA key of this many bits.
    Generate(u32),
    /// This PEM file (PKCS#8 or PKCS#1 RSA, at least 2048 bits).
    Import(PathBuf),
}

/// Adds a key file; `note` hears of a slow step before it starts. Answers the new kid.
pub fn add_file(
    store: &KeyStore,
    source: &Source,
    now: OffsetDateTime,
    note: &dyn Fn(String),
) -> Result<String, Report> {
    let key = match source {
        Source::Import(path) => {
            let pem =
                idp_core::secret::SecretBytes::new(std::fs::read(path).map_err(|source| {
                    keys::KeyError::Read {
                        path: path.clone(),
                        source,
                    }
                })?);
            keys::parse_pem(pem.expose(), path)?
        }
        Source::Generate(bits) => {
            note(format!("generating a {bits}-bit RSA key…"));
            keys::generate(*bits)?
        }
    };
    let (_, kid) = store.update(|ring, store| {
        let entry = keyring::entry_for(&key, KeyState::Next, now);
        ring.add(entry.clone())?;
        store.write_key_file(&entry, &key, false)?;
        Ok(entry.kid)
    })?;
    Ok(kid)
}

/// A key in Key Vault to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKey {
    /// `https://<vault>.vault.azure.net/keys/<name>[/<version>]`.
    pub url: String,
    /// Bits of a created key.
    pub bits: u32,
    /// Adopt the key that is there instead of creating a new version.
    pub existing: bool,
}

/// Creates or adopts the key in Key Vault and adds it. The keyring is checked first (it
/// must exist and have room), then the vault is asked, then the entry is added under the
/// lock. Answers the new kid.
pub fn add_vault(
    ctx: &Context,
    key: &VaultKey,
    now: OffsetDateTime,
    note: &dyn Fn(String),
) -> Result<String, Report> {
    let id = idp_core::vault_key::VaultKeyId::parse(&key.url)?;
    if !key.existing && id.version().is_some() {
        return Err(Report::usage(
            format!(
                "{} names a key version; a new key gets a new version of its own",
                key.url
            ),
            "leave the version out to create a key, or add --existing to adopt that version",
        ));
    }
    // What the keyring would refuse is said before a key is made in the vault.
    ctx.keys().load()?.check_room()?;
    let client = ctx.vault_client(&id)?;
    let (versioned, public) = if key.existing {
        let (versioned, public) = ctx.block_on(idp_vault::adopt(&client, &id))?;
        note(format!("adopted {versioned} ({}-bit RSA)", public.bits()));
        (versioned, public)
    } else {
        note(format!(
            "creating a {}-bit RSA key in {}…",
            key.bits,
            id.vault()
        ));
        let (versioned, public, protection) =
            ctx.block_on(idp_vault::create(&client, &id, key.bits))?;
        note(format!(
            "created {versioned} ({}, not exportable)",
            match protection {
                idp_vault::Protection::Hsm => "RSA-HSM: HSM-protected",
                idp_vault::Protection::Software =>
                    "RSA: software-protected; this vault holds no HSM keys (premium tier or Managed HSM do)",
            }
        ));
        (versioned, public)
    };
    let (_, kid) = ctx.keys().update(|ring, _| {
        let entry = keyring::entry_for_vault(&public, &versioned, KeyState::Next, now);
        ring.add(entry.clone())?;
        Ok(entry.kid)
    })?;
    Ok(kid)
}
