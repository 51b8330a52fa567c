//! The keyring: which keys exist, which one signs, which ones the JWKS publishes.
//!
//! States move one way: `next` (published, not signing) → `active` (signs; exactly one) →
//! `retiring` (published so tokens it signed still verify) → `retired` (gone from the JWKS).
//! A retiring key may be made active again (a rollback); a retired key never returns.
//!
//! On disk: `keyring.json` (public halves, states, timestamps) and one `<kid>.pem` per
//! private key (mode 0600), all in one folder. Rendering metadata needs only
//! `keyring.json`, so a pipeline that publishes never needs the private keys.
//! Every change takes an exclusive lock on `.keyring.lock` and replaces `keyring.json`
//! atomically, so two `idp keys` commands at once cannot corrupt it.

use crate::fsutil::{self, Overwrite, WriteError};
use crate::keys::{self, KeyError, ParsedKey, RsaPublic, SigningKey};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;
use time::OffsetDateTime;

/// The keyring file's name inside the keys folder.
pub const KEYRING_FILE: &str = "keyring.json";
const LOCK_FILE: &str = ".keyring.lock";
/// Entra stores only the first 100 keys of a JWKS; idp never publishes more.
pub const MAX_PUBLISHED_KEYS: usize = 100;
const FORMAT_VERSION: u32 = 1;

/// A key's place in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retiring,
    Retired,
}

impl KeyState {
    /// Whether the JWKS carries keys in this state.
    pub fn is_published(self) -> bool {
        !matches!(self, KeyState::Retired)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }
}

/// One key of the keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    pub kid: String,
    pub state: KeyState,
    pub bits: u32,
    #[serde(flatten)]
    pub public: RsaPublic,
    /// The private key's file name, relative to the keys folder; empty for a key held in
    /// Key Vault.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    /// For a key held in Azure Key Vault: its key id, with version. No private material of
    /// such a key is ever on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub activated_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retiring_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retired_at: Option<OffsetDateTime>,
    /// When the key was first seen in the JWKS fetched anonymously from the issuer URL
    /// (by publish-metadata's readback, or `keys activate`), as Entra would fetch it.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub published_at: Option<OffsetDateTime>,
}

/// How long after it stopped signing a key must stay in the JWKS: the longest assertion
/// lifetime idp signs, plus a margin for clocks. Retiring a key earlier makes assertions
/// it signed fail (AADSTS7000272) while they are still within their lifetime.
pub const RETIRE_AFTER: std::time::Duration =
    std::time::Duration::from_secs(crate::assertion::MAX_LIFETIME.as_secs() + 5 * 60);

/// All keys, in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyring {
    pub version: u32,
    pub keys: Vec<KeyEntry>,
}

/// What went wrong with the keyring.
#[derive(Debug, Error)]
pub enum KeyringError {
    #[error("no keyring in {} (missing {KEYRING_FILE})", dir.display())]
    Missing { dir: PathBuf },
    #[error("a keyring already exists in {}", dir.display())]
    AlreadyExists { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid keyring: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("no key with kid `{kid}` in the keyring")]
    UnknownKid { kid: String },
    #[error("key `{kid}` is the active key; activate another key first")]
    RetireActive { kid: String },
    #[error("key `{kid}` is already {state}")]
    AlreadyInState { kid: String, state: &'static str },
    #[error("key `{kid}` is retired; a retired key is out of the JWKS and cannot sign again")]
    ActivateRetired { kid: String },
    #[error("key `{kid}` is already in the keyring (state {state})")]
    DuplicateKey { kid: String, state: &'static str },
    #[error("the JWKS would carry {count} keys; Entra reads at most {MAX_PUBLISHED_KEYS}")]
    TooManyKeys { count: usize },
    #[error("the keyring has no active key")]
    NoActiveKey,
    #[error(
        "key `{kid}` is not in the JWKS published at {jwks_url}, so Entra cannot verify what it would sign"
    )]
    NotPublished { kid: String, jwks_url: String },
    #[error(
        "key `{kid}` was first seen in the published JWKS at {first_seen}, less than {min_age} ago: Entra may still cache a JWKS without it"
    )]
    PublishedTooRecently {
        kid: String,
        first_seen: String,
        min_age: String,
    },
    #[error(
        "key `{kid}` signed assertions until {stopped}; they can be valid until {until}, and retiring it before then makes them fail"
    )]
    AssertionsStillValid {
        kid: String,
        stopped: String,
        until: String,
    },
    #[error("the key file {} does not hold key `{kid}` (it holds `{found}`)", path.display())]
    KeyMismatch {
        path: PathBuf,
        kid: String,
        found: String,
    },
    #[error(
        "{} is already there, not in the keyring, and holds {found}: left by an interrupted command or put there by hand", path.display()
    )]
    StrayKeyFile { path: PathBuf, found: String },
    #[error("key `{kid}` is held in Key Vault ({key_id}); it has no key file")]
    InKeyVault { kid: String, key_id: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Keyring {
    /// The active key, if there is one.
    pub fn active(&self) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.state == KeyState::Active)
    }

    /// Looks a key up by `kid`.
    pub fn get(&self, kid: &str) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The keys the JWKS carries: the active key first, then next and retiring keys in the
    /// order they were added. Never retired keys.
    pub fn published(&self) -> Vec<&KeyEntry> {
        let mut keys: Vec<&KeyEntry> = self
            .keys
            .iter()
            .filter(|k| k.state.is_published())
            .collect();
        keys.sort_by_key(|k| k.state != KeyState::Active);
        keys
    }

    /// Adds a new key in state `next`.
    pub fn add(&mut self, entry: KeyEntry) -> Result<(), KeyringError> {
        if let Some(existing) = self.get(&entry.kid) {
            return Err(KeyringError::DuplicateKey {
                kid: entry.kid,
                state: existing.state.as_str(),
            });
        }
        self.check_room()?;
        self.keys.push(entry);
        Ok(())
    }

    /// Refuses when the JWKS could not carry one more key: said before a key is made
    /// somewhere (a vault) that the keyring would then refuse.
    pub fn check_room(&self) -> Result<(), KeyringError> {
        let count = self.published().len() + 1;
        if count > MAX_PUBLISHED_KEYS {
            return Err(KeyringError::TooManyKeys { count });
        }
        Ok(())
    }

    /// Makes `kid` the active key; the key that was active becomes retiring.
    pub fn activate(&mut self, kid: &str, now: OffsetDateTime) -> Result<(), KeyringError> {
        let target = self.index(kid)?;
        match self.keys[target].state {
            KeyState::Active => {
                return Err(KeyringError::AlreadyInState {
                    kid: kid.into(),
                    state: "active",
                });
            }
            KeyState::Retired => return Err(KeyringError::ActivateRetired { kid: kid.into() }),
            KeyState::Next | KeyState::Retiring => {}
        }
        for k in &mut self.keys {
            if k.state == KeyState::Active {
                k.state = KeyState::Retiring;
                k.retiring_at = Some(now);
            }
        }
        let k = &mut self.keys[target];
        k.state = KeyState::Active;
        k.activated_at = Some(now);
        k.retiring_at = None;
        Ok(())
    }

    /// Retires `kid`: it leaves the JWKS. The active key cannot be retired.
    pub fn retire(&mut self, kid: &str, now: OffsetDateTime) -> Result<(), KeyringError> {
        let i = self.index(kid)?;
        let k = &mut self.keys[i];
        match k.state {
            KeyState::Active => Err(KeyringError::RetireActive { kid: kid.into() }),
            KeyState::Retired => Err(KeyringError::AlreadyInState {
                kid: kid.into(),
                state: "retired",
            }),
            KeyState::Next | KeyState::Retiring => {
                k.state = KeyState::Retired;
                k.retired_at = Some(now);
                Ok(())
            }
        }
    }

    /// Records `now` as the first-published time of every key in `published` (kids seen
    /// in the JWKS fetched from the issuer URL) that has none yet. Returns whether anything
    /// changed.
    pub fn record_published(
        &mut self,
        published: &std::collections::BTreeSet<String>,
        now: OffsetDateTime,
    ) -> bool {
        let mut changed = false;
        for k in &mut self.keys {
            if k.published_at.is_none() && k.state.is_published() && published.contains(&k.kid) {
                k.published_at = Some(now);
                changed = true;
            }
        }
        changed
    }

    /// Refuses to make `kid` the signing key unless Entra can verify it: it is in the JWKS
    /// published at `jwks_url` (`published` holds that JWKS's kids), and it was first seen
    /// there at least `min_age` ago.
    pub fn check_activation(
        &self,
        kid: &str,
        published: &std::collections::BTreeSet<String>,
        jwks_url: &str,
        min_age: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<(), KeyringError> {
        let entry = &self.keys[self.index(kid)?];
        if !published.contains(kid) {
            return Err(KeyringError::NotPublished {
                kid: kid.into(),
                jwks_url: jwks_url.into(),
            });
        }
        let first_seen = entry.published_at.unwrap_or(now);
        if now - first_seen < min_age {
            return Err(KeyringError::PublishedTooRecently {
                kid: kid.into(),
                first_seen: rfc3339(first_seen),
                min_age: crate::duration::format(min_age),
            });
        }
        Ok(())
    }

    /// Refuses to retire `kid` while an assertion it signed may still be valid: until
    /// [`RETIRE_AFTER`] after it stopped signing. A key that never signed (`next`) may go.
    pub fn check_retirement(&self, kid: &str, now: OffsetDateTime) -> Result<(), KeyringError> {
        let entry = &self.keys[self.index(kid)?];
        let Some(stopped) = entry
            .retiring_at
            .filter(|_| entry.state == KeyState::Retiring)
        else {
            return Ok(());
        };
        let until = stopped + RETIRE_AFTER;
        if now < until {
            return Err(KeyringError::AssertionsStillValid {
                kid: kid.into(),
                stopped: rfc3339(stopped),
                until: rfc3339(until),
            });
        }
        Ok(())
    }

    fn index(&self, kid: &str) -> Result<usize, KeyringError> {
        self.keys
            .iter()
            .position(|k| k.kid == kid)
            .ok_or_else(|| KeyringError::UnknownKid { kid: kid.into() })
    }

    /// Reads `keyring.json`'s bytes and checks them (one active key at most, kids unique
    /// and the thumbprints of their keys, each key in a file or a vault); `path` names the
    /// file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Keyring, KeyringError> {
        let ring: Keyring = serde_json::from_slice(bytes).map_err(|e| KeyringError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        ring.validate(path)?;
        Ok(ring)
    }

    fn validate(&self, path: &Path) -> Result<(), KeyringError> {
        let corrupt = |reason: String| KeyringError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        if self.version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {} (this idp reads version {FORMAT_VERSION})",
                self.version
            )));
        }
        let active = self
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Active)
            .count();
        if active > 1 {
            return Err(corrupt(format!(
                "{active} keys are active; exactly one may be"
            )));
        }
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].iter().any(|o| o.kid == k.kid) {
                return Err(corrupt(format!("kid `{}` appears twice", k.kid)));
            }
            if k.public.thumbprint() != k.kid {
                return Err(corrupt(format!(
                    "kid `{}` is not the thumbprint of its public key",
                    k.kid
                )));
            }
            match (&k.key_vault, k.file.is_empty()) {
                (Some(_), false) => {
                    return Err(corrupt(format!(
                        "key `{}` has both a key file and a Key Vault key id",
                        k.kid
                    )));
                }
                (Some(id), true) => {
                    let parsed = crate::vault_key::VaultKeyId::parse(id)
                        .map_err(|e| corrupt(format!("key `{}`: {e}", k.kid)))?;
                    if parsed.version().is_none() {
                        return Err(corrupt(format!(
                            "key `{}`: the Key Vault key id {id} has no version",
                            k.kid
                        )));
                    }
                }
                (None, true) => {
                    return Err(corrupt(format!(
                        "key `{}` has neither a key file nor a Key Vault key id",
                        k.kid
                    )));
                }
                (None, false) => {
                    if k.file.contains('/') || k.file.contains('\\') || k.file.starts_with('.') {
                        return Err(corrupt(format!(
                            "key file name `{}` is not a plain file name",
                            k.file
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Builds the keyring entry for a freshly generated or imported key.
pub fn entry_for(key: &ParsedKey, state: KeyState, now: OffsetDateTime) -> KeyEntry {
    let kid = key.public.thumbprint();
    KeyEntry {
        file: format!("{kid}.pem"),
        bits: key.public.bits(),
        public: key.public.clone(),
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retiring_at: None,
        retired_at: None,
        published_at: None,
        key_vault: None,
        kid,
    }
}

/// Builds the keyring entry for a key held in Key Vault: `key_id` (with its version) and
/// the public half the vault answered. Nothing private is recorded.
pub fn entry_for_vault(
    public: &RsaPublic,
    key_id: &crate::vault_key::VaultKeyId,
    state: KeyState,
    now: OffsetDateTime,
) -> KeyEntry {
    KeyEntry {
        kid: public.thumbprint(),
        state,
        bits: public.bits(),
        public: public.clone(),
        file: String::new(),
        key_vault: Some(key_id.to_string()),
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retiring_at: None,
        retired_at: None,
        published_at: None,
    }
}

/// The keys folder: `keyring.json`, the private key files and the lock.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn keyring_path(&self) -> PathBuf {
        self.dir.join(KEYRING_FILE)
    }

    pub fn exists(&self) -> bool {
        self.keyring_path().is_file()
    }

    /// Reads the keyring. Readers need no lock: writers replace the file atomically.
    pub fn load(&self) -> Result<Keyring, KeyringError> {
        let path = self.keyring_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyringError::Missing {
                    dir: self.dir.clone(),
                });
            }
            Err(source) => return Err(KeyringError::Read { path, source }),
        };
        Keyring::parse(&bytes, &path)
    }

    /// Creates the folder and a keyring whose only key is `key`, active. Without `force`,
    /// refuses when a keyring or the key file already exists.
    pub fn create(
        &self,
        key: &ParsedKey,
        now: OffsetDateTime,
        force: bool,
    ) -> Result<Keyring, KeyringError> {
        create_private_dir(&self.dir).map_err(|source| KeyringError::Lock {
            path: self.dir.clone(),
            source,
        })?;
        let _lock = self.lock()?;
        if !force && self.exists() {
            return Err(KeyringError::AlreadyExists {
                dir: self.dir.clone(),
            });
        }
        let entry = entry_for(key, KeyState::Active, now);
        let ring = Keyring {
            version: FORMAT_VERSION,
            keys: vec![entry],
        };
        self.write_key_file(&ring.keys[0], key, force)?;
        if let Err(e) = self.save(&ring) {
            // No keyring without its key file, no key file without its keyring: a re-run
            // must find the folder as it was.
            if !force {
                let _ = fs::remove_file(self.dir.join(&ring.keys[0].file));
            }
            return Err(e);
        }
        Ok(ring)
    }

    /// Undoes a [`KeyStore::create`] that was not forced, when what it was part of failed:
    /// removes the keyring, its key files, the lock file, and (with `folder`, when the
    /// create made it) the folder if that leaves it empty. Best effort; returns the paths it
    /// could not remove.
    pub fn remove_created(&self, ring: &Keyring, folder: bool) -> Vec<PathBuf> {
        let mut left = Vec::new();
        let files = ring
            .keys
            .iter()
            .filter(|k| !k.file.is_empty())
            .map(|k| self.dir.join(&k.file))
            .chain([self.keyring_path(), self.dir.join(LOCK_FILE)]);
        for path in files {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => left.push(path),
            }
        }
        if folder {
            let _ = fs::remove_dir(&self.dir);
        }
        left
    }

    /// Applies `change` under the lock and saves the result atomically. When `change`
    /// fails, nothing is written.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Keyring, &Self) -> Result<T, KeyringError>,
    ) -> Result<(Keyring, T), KeyringError> {
        let _lock = self.lock()?;
        let mut ring = self.load()?;
        let out = change(&mut ring, self)?;
        ring.validate(&self.keyring_path())?;
        self.save(&ring)?;
        Ok((ring, out))
    }

    /// Writes a private key file (mode 0600) for `entry`. Without `overwrite`, a file
    /// already there that holds this very key (left by a command interrupted between
    /// writing the key and the keyring) is adopted; one holding anything else is refused.
    pub fn write_key_file(
        &self,
        entry: &KeyEntry,
        key: &ParsedKey,
        overwrite: bool,
    ) -> Result<(), KeyringError> {
        let path = self.dir.join(&entry.file);
        let mode = if overwrite {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        };
        match fsutil::write_atomic(&path, key.to_pem().expose(), 0o600, mode) {
            Ok(()) => Ok(()),
            Err(e) if !overwrite && e.source.kind() == std::io::ErrorKind::AlreadyExists => {
                let found = keys::check_private_mode(&path)
                    .and_then(|()| {
                        let pem =
                            crate::secret::SecretBytes::new(fs::read(&path).map_err(|source| {
                                KeyError::Read {
                                    path: path.clone(),
                                    source,
                                }
                            })?);
                        keys::parse_pem(pem.expose(), &path)
                    })
                    .map(|k| k.public.thumbprint());
                match found {
                    Ok(kid) if kid == entry.kid => Ok(()),
                    Ok(kid) => Err(KeyringError::StrayKeyFile {
                        path,
                        found: format!("key `{kid}`"),
                    }),
                    Err(e) => Err(KeyringError::StrayKeyFile {
                        path,
                        found: format!("no usable key ({e})"),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Loads the private key of `entry` (a key with a file; a Key Vault key has none).
    pub fn load_private(&self, entry: &KeyEntry) -> Result<SigningKey, KeyringError> {
        if let Some(id) = &entry.key_vault {
            return Err(KeyringError::InKeyVault {
                kid: entry.kid.clone(),
                key_id: id.clone(),
            });
        }
        let path = self.dir.join(&entry.file);
        let key = keys::load_file(&path)?;
        if key.kid() != entry.kid {
            return Err(KeyringError::KeyMismatch {
                path,
                kid: entry.kid.clone(),
                found: key.kid().to_owned(),
            });
        }
        Ok(key)
    }

    fn save(&self, ring: &Keyring) -> Result<(), KeyringError> {
        let mut json = serde_json::to_vec_pretty(ring).expect("keyring serialises");
        json.push(b'\n');
        fsutil::write_atomic(&self.keyring_path(), &json, 0o600, Overwrite::Replace)?;
        Ok(())
    }

    fn lock(&self) -> Result<fs::File, KeyringError> {
        let path = self.dir.join(LOCK_FILE);
        fsutil::lock_exclusive(&path).map_err(|source| KeyringError::Lock { path, source })
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

impl crate::diagnostic::Diagnostic for KeyringError {
    fn hint(&self) -> Option<String> {
        Some(match self {
        KeyringError::Missing { .. } => "run `idp init --issuer <URL>`, or point --keys-dir / IDP_KEYS_DIR at the keys folder".into(),
        KeyringError::AlreadyExists { .. } => "pass --force to start a new keyring (the old keys stop being published)".into(),
        KeyringError::UnknownKid { .. } => "see the kids with `idp keys list`".into(),
        KeyringError::RetireActive { .. } => "activate the next key first (`idp keys add`, publish, `idp keys activate <kid>`), then retire this one".into(),
        KeyringError::ActivateRetired { .. } => "add a new key with `idp keys add`".into(),
        KeyringError::AlreadyInState { .. } => "nothing to do; see `idp keys list`".into(),
        KeyringError::DuplicateKey { .. } => "that key is already known; see `idp keys list`".into(),
        KeyringError::TooManyKeys { .. } => "retire keys that no longer sign with `idp keys retire <kid>`".into(),
        KeyringError::NoActiveKey => "activate a key with `idp keys activate <kid>`".into(),
        KeyringError::KeyMismatch { .. } => "the key file was replaced; restore the right file from backup, or add and activate a new key".into(),
        KeyringError::Corrupt { .. } => "restore keyring.json from backup; do not edit it by hand".into(),
        KeyringError::NotPublished { .. } => "publish the metadata first (`idp publish-metadata`), wait --min-published-age (24h), then activate; `--force` skips the check".into(),
        KeyringError::PublishedTooRecently { .. } => "wait until Entra has surely refreshed the issuer's JWKS (--min-published-age, `rotation.min_published_age`), then activate again; `--force` activates now and risks AADSTS7000272".into(),
        KeyringError::AssertionsStillValid { .. } => "retire it after that time, or pass --force if nothing still uses assertions it signed".into(),
        KeyringError::StrayKeyFile { path, .. } => format!(
            "move {} out of the keys folder (keep it if it may be a key someone uses), then re-run",
            path.display()
        ),
        KeyringError::InKeyVault { .. } => "it signs through the vault's `sign` operation; nothing to load or export".into(),
        KeyringError::Key(k) => return k.hint(),
        KeyringError::Read { .. } | KeyringError::Write(_) | KeyringError::Lock { .. } => {
            "check that the keys folder exists and is writable".into()
        }
        })
    }

    fn is_usage(&self) -> bool {
        match self {
            KeyringError::Key(k) => k.is_usage(),
            KeyringError::Read { .. } | KeyringError::Write(_) | KeyringError::Lock { .. } => false,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    const T1: OffsetDateTime = datetime!(2026-01-02 00:00 UTC);

    fn fake_entry(n: u8, state: KeyState) -> KeyEntry {
        let public = RsaPublic::from_be_bytes(&[n; 256], &[1, 0, 1]);
        KeyEntry {
            kid: public.thumbprint(),
            state,
            bits: 2048,
            file: format!("{}.pem", public.thumbprint()),
            public,
            created_at: T0,
            activated_at: None,
            retiring_at: None,
            retired_at: None,
            published_at: None,
            key_vault: None,
        }
    }

    const VAULT_KEY: &str =
        "https://kv1.vault.azure.net/keys/signing/0123456789abcdef0123456789abcdef";

    #[test]
    fn a_key_vault_key_is_recorded_by_id_and_public_half_only_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path().join("keys"));
        let local = keys::generate(2048).unwrap();
        store.create(&local, T0, false).unwrap();
        let public = keys::generate(2048).unwrap().public;
        let id = crate::vault_key::VaultKeyId::parse(VAULT_KEY).unwrap();
        let entry = entry_for_vault(&public, &id, KeyState::Next, T1);
        assert_eq!(entry.activated_at, None);
        assert_eq!(
            entry_for_vault(&public, &id, KeyState::Active, T1).activated_at,
            Some(T1)
        );
        assert_eq!(entry.kid, public.thumbprint());
        assert_eq!(entry.bits, 2048);
        assert_eq!(entry.file, "");
        store.update(|ring, _| ring.add(entry.clone())).unwrap();
        let text = std::fs::read_to_string(store.keyring_path()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let recorded = &json["keys"][1];
        assert_eq!(recorded["key_vault"], VAULT_KEY);
        assert!(recorded.get("file").is_none(), "{recorded}");
        let ring = store.load().unwrap();
        assert_eq!(ring.keys[1], entry);
        // Its files: the keyring and the local key's only.
        let mut files: Vec<String> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files.len(), 3, "{files:?}");
        // It has no file to load, and says so.
        let e = store.load_private(&ring.keys[1]).unwrap_err();
        assert!(matches!(e, KeyringError::InKeyVault { .. }), "{e}");
        assert!(e.to_string().contains(VAULT_KEY), "{e}");
        // It moves through the states like any key.
        let mut r = ring.clone();
        r.activate(&entry.kid, T1).unwrap();
        assert_eq!(r.active().unwrap().key_vault.as_deref(), Some(VAULT_KEY));
    }

    #[test]
    fn a_key_vault_entry_without_version_or_with_a_file_too_is_corrupt() {
        let public = RsaPublic::from_be_bytes(&[7; 256], &[1, 0, 1]);
        let id = crate::vault_key::VaultKeyId::parse(VAULT_KEY).unwrap();
        let good = entry_for_vault(&public, &id, KeyState::Active, T0);
        let check = |e: KeyEntry| {
            Keyring {
                version: FORMAT_VERSION,
                keys: vec![e],
            }
            .validate(Path::new("keyring.json"))
        };
        check(good.clone()).unwrap();
        let mut both = good.clone();
        both.file = "x.pem".into();
        assert!(
            check(both)
                .unwrap_err()
                .to_string()
                .contains("both a key file")
        );
        let mut unversioned = good.clone();
        unversioned.key_vault = Some("https://kv1.vault.azure.net/keys/signing".into());
        assert!(
            check(unversioned)
                .unwrap_err()
                .to_string()
                .contains("no version")
        );
        let mut bad = good.clone();
        bad.key_vault = Some("http://kv1.vault.azure.net/keys/signing".into());
        assert!(check(bad).unwrap_err().to_string().contains("https only"));
        let mut neither = good;
        neither.key_vault = None;
        assert!(
            check(neither)
                .unwrap_err()
                .to_string()
                .contains("neither a key file")
        );
    }

    #[test]
    fn the_first_time_a_key_is_seen_published_is_kept() {
        let mut r = ring(&[KeyState::Active, KeyState::Next, KeyState::Retired]);
        let all: std::collections::BTreeSet<String> =
            r.keys.iter().map(|k| k.kid.clone()).collect();
        assert!(r.record_published(&all, T0));
        assert_eq!(r.keys[0].published_at, Some(T0));
        assert_eq!(r.keys[1].published_at, Some(T0));
        assert_eq!(
            r.keys[2].published_at, None,
            "a retired key is not published"
        );
        // Seen again later: the first time stays, and nothing changed.
        assert!(!r.record_published(&all, T1));
        assert_eq!(r.keys[1].published_at, Some(T0));
        // A kid not in the set is not marked.
        let mut r = ring(&[KeyState::Active, KeyState::Next]);
        let only_active = [r.keys[0].kid.clone()].into_iter().collect();
        assert!(r.record_published(&only_active, T0));
        assert_eq!(r.keys[1].published_at, None);
    }

    #[test]
    fn activation_needs_the_key_published_for_the_minimum_age() {
        use std::time::Duration;
        let mut r = ring(&[KeyState::Active, KeyState::Next]);
        let next = r.keys[1].kid.clone();
        let day = Duration::from_secs(24 * 3600);
        let none = std::collections::BTreeSet::new();
        assert!(matches!(
            r.check_activation(&next, &none, "u", day, T1),
            Err(KeyringError::NotPublished { .. })
        ));
        let published: std::collections::BTreeSet<String> = [next.clone()].into();
        // Published, but never seen before: seen now, too recent.
        assert!(matches!(
            r.check_activation(&next, &published, "u", day, T1),
            Err(KeyringError::PublishedTooRecently { .. })
        ));
        r.keys[1].published_at = Some(T0);
        // Exactly the minimum age is enough; a second less is not.
        assert!(r.check_activation(&next, &published, "u", day, T1).is_ok());
        assert!(matches!(
            r.check_activation(&next, &published, "u", day, T1 - Duration::from_secs(1)),
            Err(KeyringError::PublishedTooRecently { .. })
        ));
        // A zero minimum age only asks that the key be published.
        r.keys[1].published_at = None;
        assert!(
            r.check_activation(&next, &published, "u", Duration::ZERO, T0)
                .is_ok()
        );
        assert!(matches!(
            r.check_activation("nope", &published, "u", day, T1),
            Err(KeyringError::UnknownKid { .. })
        ));
    }

    #[test]
    fn retirement_waits_for_the_last_assertion_to_expire() {
        let mut r = ring(&[KeyState::Active, KeyState::Retiring, KeyState::Next]);
        r.keys[1].retiring_at = Some(T0);
        let retiring = r.keys[1].kid.clone();
        // 24 h lifetime + 5 min: 86,700 s after it stopped signing.
        let until = T0 + std::time::Duration::from_secs(86_700);
        assert_eq!(RETIRE_AFTER.as_secs(), 86_700);
        assert!(matches!(
            r.check_retirement(&retiring, until - std::time::Duration::from_secs(1)),
            Err(KeyringError::AssertionsStillValid { .. })
        ));
        assert!(r.check_retirement(&retiring, until).is_ok());
        // A key that never signed may go at once.
        let next = r.keys[2].kid.clone();
        assert!(r.check_retirement(&next, T0).is_ok());
    }

    fn ring(states: &[KeyState]) -> Keyring {
        Keyring {
            version: FORMAT_VERSION,
            keys: states
                .iter()
                .enumerate()
                .map(|(i, s)| fake_entry(i as u8 + 1, *s))
                .collect(),
        }
    }

    #[test]
    fn rotation_moves_next_to_active_and_active_to_retiring() {
        use KeyState::*;
        let mut r = ring(&[Active, Next]);
        let (a, b) = (r.keys[0].kid.clone(), r.keys[1].kid.clone());
        r.activate(&b, T1).unwrap();
        assert_eq!(r.get(&a).unwrap().state, Retiring);
        assert_eq!(r.get(&a).unwrap().retiring_at, Some(T1));
        assert_eq!(r.get(&b).unwrap().state, Active);
        assert_eq!(r.active().unwrap().kid, b);
        // Both stay published, the active one first.
        let published: Vec<_> = r.published().iter().map(|k| k.kid.clone()).collect();
        assert_eq!(published, vec![b.clone(), a.clone()]);
        r.retire(&a, T1).unwrap();
        assert_eq!(r.get(&a).unwrap().state, Retired);
        assert_eq!(r.published().len(), 1);
        // A retired key never signs again.
        assert!(matches!(
            r.activate(&a, T1),
            Err(KeyringError::ActivateRetired { .. })
        ));
        assert!(matches!(
            r.retire(&a, T1),
            Err(KeyringError::AlreadyInState { .. })
        ));
    }

    #[test]
    fn a_retiring_key_can_be_activated_again() {
        use KeyState::*;
        let mut r = ring(&[Retiring, Active]);
        let a = r.keys[0].kid.clone();
        r.activate(&a, T1).unwrap();
        assert_eq!(r.keys[0].state, Active);
        assert_eq!(r.keys[0].retiring_at, None);
        assert_eq!(r.keys[1].state, Retiring);
    }

    #[test]
    fn the_active_key_cannot_be_retired() {
        let mut r = ring(&[KeyState::Active]);
        let a = r.keys[0].kid.clone();
        assert!(matches!(
            r.retire(&a, T1),
            Err(KeyringError::RetireActive { .. })
        ));
        assert!(matches!(
            r.activate(&a, T1),
            Err(KeyringError::AlreadyInState { .. })
        ));
    }

    #[test]
    fn unknown_kids_are_refused() {
        let mut r = ring(&[KeyState::Active]);
        assert!(matches!(
            r.activate("nope", T1),
            Err(KeyringError::UnknownKid { .. })
        ));
        assert!(matches!(
            r.retire("nope", T1),
            Err(KeyringError::UnknownKid { .. })
        ));
    }

    #[test]
    fn jwks_never_carries_more_than_100_keys() {
        let mut r = ring(&[KeyState::Active]);
        for i in 2..=100u8 {
            r.add(fake_entry(i, KeyState::Next)).unwrap();
        }
        assert_eq!(r.published().len(), 100);
        assert!(matches!(
            r.check_room(),
            Err(KeyringError::TooManyKeys { count: 101 })
        ));
        assert!(matches!(
            r.add(fake_entry(101, KeyState::Next)),
            Err(KeyringError::TooManyKeys { count: 101 })
        ));
        // Retiring one makes room.
        let kid = r.keys[1].kid.clone();
        r.retire(&kid, T1).unwrap();
        r.check_room().unwrap();
        r.add(fake_entry(101, KeyState::Next)).unwrap();
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let mut r = ring(&[KeyState::Active]);
        assert!(matches!(
            r.add(fake_entry(1, KeyState::Next)),
            Err(KeyringError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn store_round_trips_and_failed_changes_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path().join("keys"));
        let key = keys::generate(2048).unwrap();
        let ring = store.create(&key, T0, false).unwrap();
        assert_eq!(store.load().unwrap(), ring);
        assert!(matches!(
            store.create(&key, T0, false),
            Err(KeyringError::AlreadyExists { .. })
        ));
        let before = fs::read(store.keyring_path()).unwrap();
        let kid = ring.keys[0].kid.clone();
        assert!(store.update(|r, _| r.retire(&kid, T1)).is_err());
        assert_eq!(fs::read(store.keyring_path()).unwrap(), before);
        let signer = store.load_private(ring.active().unwrap()).unwrap();
        assert_eq!(signer.kid(), kid);
    }

    #[test]
    fn a_keyring_file_that_breaks_a_rule_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        let good = ring(&[KeyState::Active, KeyState::Next]);
        let write = |r: &serde_json::Value| {
            fs::write(store.keyring_path(), serde_json::to_vec(r).unwrap()).unwrap()
        };
        let as_json = |r: &Keyring| serde_json::to_value(r).unwrap();
        write(&as_json(&good));
        assert_eq!(store.load().unwrap(), good);

        let reason = |store: &KeyStore| match store.load() {
            Err(KeyringError::Corrupt { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        fs::write(store.keyring_path(), b"{\"version\": 1, \"keys\": [").unwrap();
        assert!(!reason(&store).is_empty());

        let mut two_active = as_json(&good);
        two_active["keys"][1]["state"] = "active".into();
        write(&two_active);
        assert_eq!(reason(&store), "2 keys are active; exactly one may be");

        let mut wrong_kid = as_json(&good);
        wrong_kid["keys"][1]["kid"] = "not-the-thumbprint".into();
        write(&wrong_kid);
        assert_eq!(
            reason(&store),
            "kid `not-the-thumbprint` is not the thumbprint of its public key"
        );

        let mut twice = as_json(&good);
        twice["keys"][1] = twice["keys"][0].clone();
        twice["keys"][1]["state"] = "next".into();
        write(&twice);
        assert!(
            reason(&store).ends_with("appears twice"),
            "{}",
            reason(&store)
        );

        for escape in [
            "../outside.pem",
            "/etc/passwd",
            "sub/k.pem",
            "..\\k.pem",
            ".hidden.pem",
        ] {
            let mut r = as_json(&good);
            r["keys"][0]["file"] = escape.into();
            write(&r);
            assert_eq!(
                reason(&store),
                format!("key file name `{escape}` is not a plain file name")
            );
        }

        let mut version = as_json(&good);
        version["version"] = 2.into();
        write(&version);
        assert!(
            reason(&store).starts_with("format version 2"),
            "{}",
            reason(&store)
        );

        let mut unknown = as_json(&good);
        unknown["keys"][0]["secret"] = "x".into();
        write(&unknown);
        assert!(
            reason(&store).contains("unknown field"),
            "{}",
            reason(&store)
        );
    }

    #[test]
    fn keyring_errors_say_whose_fault_and_what_to_do() {
        use crate::diagnostic::Diagnostic;
        let usage = KeyringError::UnknownKid { kid: "k".into() };
        assert!(usage.is_usage());
        assert!(usage.hint().unwrap().contains("idp keys list"));
        let io = KeyringError::Lock {
            path: "p".into(),
            source: std::io::Error::other("x"),
        };
        assert!(!io.is_usage());
        assert!(io.hint().unwrap().contains("writable"));
        let key = KeyringError::Key(KeyError::UnsupportedSize { bits: 1 });
        assert!(key.is_usage());
        assert!(
            key.hint()
                .unwrap()
                .contains("--key-size 2048, 3072 or 4096")
        );
        let generate = KeyringError::Key(KeyError::Generate("x".into()));
        assert!(!generate.is_usage());
        assert_eq!(generate.hint(), None);
    }

    #[test]
    fn states_and_entries_say_what_they_are() {
        let names: Vec<&str> = [
            KeyState::Next,
            KeyState::Active,
            KeyState::Retiring,
            KeyState::Retired,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(names, ["next", "active", "retiring", "retired"]);
        let key = keys::generate(2048).unwrap();
        let active = entry_for(&key, KeyState::Active, T0);
        assert_eq!(active.activated_at, Some(T0));
        assert_eq!(active.file, format!("{}.pem", key.public.thumbprint()));
        assert_eq!(entry_for(&key, KeyState::Next, T0).activated_at, None);
        // Times in refusals are RFC 3339.
        let mut r = ring(&[KeyState::Active, KeyState::Retiring]);
        r.keys[1].retiring_at = Some(T0);
        let kid = r.keys[1].kid.clone();
        let e = r.check_retirement(&kid, T0).unwrap_err().to_string();
        assert!(
            e.contains("until 2026-01-01T00:00:00Z") && e.contains("until 2026-01-02T00:05:00Z"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_keyring_is_missing_and_an_unreadable_one_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        assert!(matches!(store.load(), Err(KeyringError::Missing { .. })));
        fs::create_dir(store.keyring_path()).unwrap();
        assert!(matches!(store.load(), Err(KeyringError::Read { .. })));
    }

    #[test]
    fn a_create_whose_keyring_cannot_be_saved_leaves_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        // A folder where keyring.json should go: the key file is written, the keyring not.
        fs::create_dir(store.keyring_path()).unwrap();
        assert!(!store.exists());
        let key = keys::generate(2048).unwrap();
        assert!(store.create(&key, T0, false).is_err());
        let file = dir.path().join(format!("{}.pem", key.public.thumbprint()));
        assert!(!file.exists(), "the key file was removed again");
    }

    #[test]
    fn remove_created_undoes_a_create_and_the_folder_only_if_asked() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let store = KeyStore::new(&keys_dir);
        let ring = store
            .create(&keys::generate(2048).unwrap(), T0, false)
            .unwrap();
        assert!(store.remove_created(&ring, false).is_empty());
        assert!(keys_dir.is_dir(), "kept: not asked to remove it");
        assert_eq!(fs::read_dir(&keys_dir).unwrap().count(), 0);
        let ring = store
            .create(&keys::generate(2048).unwrap(), T0, false)
            .unwrap();
        assert!(store.remove_created(&ring, true).is_empty());
        assert!(!keys_dir.exists());
        // A file already gone is not "left behind".
        let ring = store
            .create(&keys::generate(2048).unwrap(), T0, false)
            .unwrap();
        fs::remove_file(keys_dir.join(&ring.keys[0].file)).unwrap();
        assert!(store.remove_created(&ring, true).is_empty());
        // What cannot be removed is named.
        let ring = store
            .create(&keys::generate(2048).unwrap(), T0, false)
            .unwrap();
        fs::remove_file(store.keyring_path()).unwrap();
        fs::create_dir_all(store.keyring_path().join("x")).unwrap();
        assert_eq!(
            store.remove_created(&ring, true),
            vec![store.keyring_path()]
        );
    }

    #[test]
    fn a_key_file_left_by_an_interrupted_add_is_adopted_and_another_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        let key = keys::generate(2048).unwrap();
        let entry = entry_for(&key, KeyState::Next, T0);
        store.write_key_file(&entry, &key, false).unwrap();
        // The same key again (the keyring was never saved): adopted.
        store.write_key_file(&entry, &key, false).unwrap();
        // Another key's PEM under that name: refused, and the file is left as it was.
        let other = keys::generate(2048).unwrap();
        let path = dir.path().join(&entry.file);
        fs::write(&path, other.to_pem().expose()).unwrap();
        let before = fs::read(&path).unwrap();
        assert!(matches!(
            store.write_key_file(&entry, &key, false),
            Err(KeyringError::StrayKeyFile { found, .. }) if found.contains(&other.public.thumbprint())
        ));
        assert_eq!(fs::read(&path).unwrap(), before);
        // Overwriting was asked for: replaced by the entry's key.
        store.write_key_file(&entry, &key, true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), key.to_pem().expose());
        // Any other failure to write is a write error, not a question of adoption.
        let gone = KeyStore::new(dir.path().join("no-such-folder"));
        assert!(matches!(
            gone.write_key_file(&entry, &key, false),
            Err(KeyringError::Write(_))
        ));
        // A file that is no key at all is refused too.
        fs::write(&path, b"junk").unwrap();
        assert!(matches!(
            store.write_key_file(&entry, &key, false),
            Err(KeyringError::StrayKeyFile { found, .. }) if found.starts_with("no usable key")
        ));
    }

    #[test]
    fn concurrent_updates_do_not_lose_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path());
        store
            .create(&keys::generate(2048).unwrap(), T0, false)
            .unwrap();
        std::thread::scope(|s| {
            for i in 0..8u8 {
                let store = store.clone();
                s.spawn(move || {
                    store
                        .update(|r, _| r.add(fake_entry(i + 10, KeyState::Next)))
                        .unwrap();
                });
            }
        });
        assert_eq!(store.load().unwrap().keys.len(), 9);
    }
}
