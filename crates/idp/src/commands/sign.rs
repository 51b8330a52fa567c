//! `idp sign`: one RS256 client assertion.

use crate::cli::SignArgs;
use crate::settings::{Sources, Warnings};
use idp_core::assertion::{Lifetime, PrivateClaims};
use idp_core::audit::Minter;
use idp_core::diagnostic::Report;
use idp_core::fsutil::{self, Overwrite};
use std::io::Write;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: SignArgs) -> Result<ExitCode, Report> {
    // Inputs first: nothing is read from the keys folder until they are all valid.
    let mut warnings = Warnings::default();
    let lifetime = sources.lifetime(args.lifetime.clone(), Lifetime::default())?;
    let shape = sources.shape(&args.cloud, None, lifetime, &mut warnings)?;
    let cloud = shape.cloud.for_customer(None);
    let mut spec = shape.spec(&args.subject, cloud)?;
    spec.claims = PrivateClaims::parse(args.claims.iter().map(String::as_str))?;
    // A path that cannot take the file is refused before anything is signed or recorded.
    if let Some(path) = &args.out {
        fsutil::check_file_path(path)?;
    }
    warnings.say();
    let ctx = super::context(sources, None)?;
    let ring = ctx.keys().load()?;
    let signer = ctx.active_signer(&ring)?;
    let audit = ctx.audit()?;
    let minter = Minter::new(&signer, audit.as_deref(), "sign");
    // A local key signs without waiting; a key in Key Vault needs the network.
    let signed = ctx.block_on(minter.mint(&spec, None))?;
    match args.out {
        Some(path) => {
            // No trailing newline: azure-identity sends the file's bytes verbatim.
            fsutil::write_atomic(
                &path,
                signed.token.expose().as_bytes(),
                0o600,
                Overwrite::Replace,
            )?;
            note!(
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
