//! `idp init`: write idp.toml and the first signing key.

use crate::cli::InitArgs;
use crate::settings::{ConfigError, Sources};
use idp_core::diagnostic::{Context as _, Report};
use idp_core::fsutil::{self, Overwrite};
use idp_core::keyring::KeyStore;
use idp_core::{Issuer, keys};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(sources: &Sources, args: InitArgs) -> Result<ExitCode, Report> {
    // Everything is checked before anything is written.
    let issuer = Issuer::parse(&args.issuer)?;
    let config_path = sources.config_path().to_owned();
    if sources.config_exists() && !args.force {
        return Err(ConfigError::ConfigExists { path: config_path }.into());
    }
    let keys_dir = sources.keys_dir()?;
    let store = KeyStore::new(&keys_dir);
    if store.exists() && !args.force {
        return Err(idp_core::keyring::KeyringError::AlreadyExists { dir: keys_dir }.into());
    }
    let from_flag = sources.flags().keys_dir.is_some();
    let text = crate::settings::render_file(
        &issuer,
        &keys_dir_for_file(&config_path, &keys_dir, from_flag),
    );

    note!("generating a {}-bit RSA key…", args.key_size);
    let key = keys::generate(args.key_size)?;
    // All or nothing: the configuration's bytes are written first (beside it, not yet in
    // place), so a full disk or a missing folder stops init before any key exists; it is
    // put in place last, and if that fails the keyring just made is removed again.
    let staged = fsutil::stage(&config_path, text.as_bytes(), 0o644)
        .context("the configuration file cannot be written, so nothing was written")?;
    let folder_existed = keys_dir.is_dir();
    let ring = store.create(&key, super::now(), args.force)?;
    let overwrite = if args.force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    };
    if let Err(e) = staged.commit(overwrite) {
        if args.force {
            return Err(Report::from(e).context(format!(
                "the new key was written to {}, but the configuration was not",
                keys_dir.display()
            )));
        }
        let left = store.remove_created(&ring, !folder_existed);
        let undone = if left.is_empty() {
            "nothing was left behind".to_owned()
        } else {
            format!("remove these by hand before re-running: {left:?}")
        };
        return Err(Report::from(e).context(format!(
            "the configuration cannot be written, so the key just made was removed ({undone})"
        )));
    }

    let kid = &ring.keys[0].kid;
    println!("wrote {}", config_path.display());
    println!(
        "wrote {} (active key {kid})",
        store.keyring_path().display()
    );
    println!();
    println!("issuer: {issuer}");
    println!("note: {}", issuer.fic_note());
    println!(
        "next: `idp metadata --out <dir>` renders the documents to publish at {}",
        issuer.discovery_url()
    );
    Ok(ExitCode::SUCCESS)
}

/// The keys folder as idp.toml should name it: relative to the file when it lies beside
/// or below it, absolute otherwise.
fn keys_dir_for_file(config_path: &Path, keys_dir: &Path, from_flag: bool) -> String {
    let config_dir = absolute(config_path.parent().unwrap_or(Path::new(".")));
    let keys_abs = absolute(keys_dir);
    match keys_abs.strip_prefix(&config_dir) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
        _ if !from_flag => "keys".into(),
        _ => keys_abs.to_string_lossy().into_owned(),
    }
}

fn absolute(p: &Path) -> PathBuf {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}
