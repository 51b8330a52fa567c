//! `idp sign`: one RS256 client assertion.

use crate::cli::SignArgs;
use crate::settings::Settings;
use idp_core::assertion::{AssertionSpec, PrivateClaims, Subject};
use idp_core::audit::Minter;
use idp_core::fsutil::{self, Overwrite};
use std::io::Write;
use std::process::ExitCode;

pub fn run(settings: &Settings, args: SignArgs) -> anyhow::Result<ExitCode> {
    // Inputs first: nothing is read from the keys folder until they are all valid.
    let spec = AssertionSpec {
        subject: Subject::parse(&args.subject)?,
        audience: settings.audience(args.audience)?,
        lifetime: settings.lifetime(args.lifetime)?,
        claims: PrivateClaims::parse(args.claims.iter().map(String::as_str))?,
        issuer: settings.issuer()?.value,
    };
    let audit = settings.audit_log()?;
    let store = settings.key_store()?;
    let ring = store.load()?;
    let signer = super::active_signer(settings, &store, &ring)?;
    let minter = Minter::new(&signer, audit.as_ref(), "sign");
    // A local key signs without waiting; a key in Key Vault needs the network.
    let signed = super::runtime()?.block_on(minter.mint(&spec, None))?;
    match args.out {
        Some(path) => {
            // No trailing newline: azure-identity sends the file's bytes verbatim.
            fsutil::write_atomic(
                &path,
                signed.token.expose().as_bytes(),
                0o600,
                Overwrite::Replace,
            )?;
            eprintln!(
                "wrote assertion to {} (kid {}, valid for {})",
                path.display(),
                signed.kid,
                idp_core::duration::format(spec.lifetime.get())
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(signed.token.expose().as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
