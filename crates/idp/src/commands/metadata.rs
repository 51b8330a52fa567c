//! `idp metadata`: the documents exactly as they will be published.

use crate::cli::{Document, MetadataArgs};
use crate::settings::Sources;
use idp_core::diagnostic::Report;
use idp_core::fsutil::{self, Overwrite};
use std::io::Write;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: MetadataArgs) -> Result<ExitCode, Report> {
    let (issuer, _, docs) = super::documents(sources)?;
    let files = [
        (&docs.discovery_path, &docs.discovery),
        (&docs.jwks_path, &docs.jwks),
    ];
    match (args.out, args.only) {
        (Some(dir), _) => {
            for (rel, bytes) in files {
                let path = dir.join(rel);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                fsutil::write_atomic(&path, bytes, 0o644, Overwrite::Replace)?;
                println!("wrote {}", path.display());
            }
            println!(
                "publish them at {} and {}",
                issuer.discovery_url(),
                issuer.join(&docs.jwks_path)
            );
        }
        (None, Some(only)) => {
            let bytes = match only {
                Document::Discovery => &docs.discovery,
                Document::Jwks => &docs.jwks,
            };
            std::io::stdout().write_all(bytes)?;
        }
        (None, None) => {
            let mut out = std::io::stdout().lock();
            for (i, (rel, bytes)) in files.into_iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "==> {rel} <==")?;
                out.write_all(bytes)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
