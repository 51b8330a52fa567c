//! `idp env`: an assertion file and the variables that name it, for CI steps that cannot
//! wrap a command.

use crate::cli::{EnvArgs, EnvFormat};
use crate::settings::{Sources, Warnings};
use idp_app::broker::{self, FILE_LIFETIME};
use idp_broker::env::{self, Format};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::{Context as _, Report};
use idp_core::fsutil::{self, Overwrite};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::ExitCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn run(sources: &Sources, args: EnvArgs) -> Result<ExitCode, Report> {
    let format = match args.format {
        EnvFormat::Sh => Format::Sh,
        EnvFormat::Github => Format::Github,
        EnvFormat::AzurePipelines => Format::AzurePipelines,
        EnvFormat::Json => Format::Json,
    };
    // Inputs first: nothing is signed or written until they are all valid.
    let github_env = match format {
        Format::Github => Some(std::env::var_os("GITHUB_ENV").ok_or_else(|| {
            Report::usage(
                "GITHUB_ENV is not set",
                "--format github runs inside a GitHub Actions step; elsewhere use --format sh or json",
            )
        })?),
        _ => None,
    };
    let mut warnings = Warnings::default();
    let (selection, _) = super::selection(&args.who, None)?;
    let default = Lifetime::new(FILE_LIFETIME)?;
    let lifetime = Sources::lifetime_flag(args.lifetime.as_deref(), default)?;
    let shape = sources.shape(&args.cloud, Some(&args.authority), lifetime, &mut warnings)?;
    let chosen = idp_app::select::resolve(&selection, None, &sources.customers()?)?;
    warnings.extend(broker::short_file_lifetime(lifetime));
    let ctx = super::context(sources, None)?;
    let run = broker::runs(&ctx, &shape, &chosen, "env")?
        .pop()
        .expect("one customer");
    warnings.say();
    let path = match args.out {
        // Named by its absolute path: the tools that read it may run elsewhere.
        Some(p) => std::path::absolute(&p)?,
        None => {
            let dir = tempfile::Builder::new()
                .prefix("idp-assertion-")
                .tempdir()
                .context("cannot make a private folder for the assertion")?
                .keep();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            dir.join(idp_broker::file::FILE_NAME)
        }
    };
    let vars = env::variables(&run.identity, &path);
    if format != Format::Sh
        && format != Format::Json
        && let Some((k, _)) = vars.iter().find(|(_, v)| !env::is_one_line(v))
    {
        return Err(Report::usage(
            format!("{k} would hold a line break, which the CI system would read as a new command"),
            "choose an --out path without line breaks",
        ));
    }
    let signed = ctx.block_on(run.signer.mint())?;
    // No trailing newline: SDKs send the file's bytes verbatim.
    fsutil::write_atomic(
        &path,
        signed.token.expose().as_bytes(),
        0o600,
        Overwrite::Replace,
    )?;
    let expires = OffsetDateTime::from_unix_timestamp(signed.exp)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let rendered = env::render(format, &vars, signed.token.expose(), signed.exp, &expires);
    if let (Some(file), Some(lines)) = (&github_env, &rendered.github_env) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(file)
            .with_context(|| {
                format!(
                    "could not append to GITHUB_ENV ({})",
                    std::path::Path::new(file).display()
                )
            })?;
        f.write_all(lines.as_bytes())?;
    }
    std::io::stdout()
        .lock()
        .write_all(rendered.stdout.as_bytes())?;
    let kid = signed
        .kid
        .as_deref()
        .map(|k| format!(" (kid {k})"))
        .unwrap_or_default();
    note!(
        "wrote the assertion to {}{kid}; it expires at {expires} and nothing refreshes it: run `idp env` again, or wrap long jobs in `idp exec`",
        path.display(),
    );
    Ok(ExitCode::SUCCESS)
}
