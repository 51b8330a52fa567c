//! `idp token`: sign a fresh assertion and exchange it at Entra for the managed identity's
//! access token, for one customer or many; explain an AADSTS failure with the values at
//! stake. `--via list-tokens` asks ARM for the managed application's token instead.

use crate::cli::{TokenArgs, TokenFormat, Via};
use crate::settings::{Sources, Warnings};
use idp_app::exchange::{self, Exchanger, Job, Scope};
use idp_core::assertion::Lifetime;
use idp_core::diagnostic::{Context as _, EXIT_FAILED, Report};
use idp_exchange::response::AccessToken;
use idp_exchange::retry::Policy;
use std::io::Write;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: TokenArgs) -> Result<ExitCode, Report> {
    if args.via == Via::ListTokens {
        return list_tokens(sources, args);
    }
    if args.application.is_some() {
        return Err(Report::usage(
            "--application is for --via list-tokens",
            "add --via list-tokens to get the token from the managed application over ARM",
        ));
    }
    let many = super::is_many(&args.many);
    if many && matches!(args.format, TokenFormat::Claims) {
        return Err(Report::usage(
            "--format claims is for one customer",
            "use --format json with --all/--customers, or --customer NAME --format claims",
        ));
    }
    // Every input is checked before the key is touched or anything is sent.
    let mut warnings = Warnings::default();
    let (selection, shard) = super::selection(&args.who, Some(&args.many))?;
    let lifetime = sources.lifetime(args.lifetime.clone(), Lifetime::default())?;
    let shape = sources.shape(&args.cloud, Some(&args.authority), lifetime, &mut warnings)?;
    let max_wait = idp_core::duration::parse(&args.max_wait).context("invalid --max-wait")?;
    let chosen = idp_app::select::resolve(&selection, shard, &sources.customers()?)?;
    let scope = match &args.scope {
        Some(s) => Scope::Given(s.clone()),
        None => Scope::Recorded,
    };
    let jobs = chosen
        .iter()
        .map(|who| exchange::plan(&shape, who, &scope))
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(dir), true) = (&args.out_dir, many) {
        refuse_non_folder(dir)?;
    }
    warnings.say();
    let ctx = super::context(sources, None)?;
    let exchanger = Exchanger::for_jobs(
        &ctx,
        &jobs,
        "token",
        Policy {
            propagation_wait: max_wait,
            max_server_retries: args.retries,
            ..Policy::default()
        },
    )?;
    if !many {
        let job = &jobs[0];
        let token = ctx
            .block_on(exchanger.one(job, None, |n| note!("{}", exchange::retry_line(n))))
            .map_err(exchange::explain)?;
        print_token(
            args.format,
            &token.token,
            &token.token_type,
            token.expires_in,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(shard), true) = (shard, jobs.is_empty()) {
        note!("shard {shard} holds none of the customers asked for: nothing to do");
    }
    // Every input is good and the key loaded: now the folder may be made.
    let out_dir = args.out_dir.as_deref().map(make_out_dir).transpose()?;
    fleet(&ctx, &exchanger, jobs, &args, out_dir)
}

/// `--out-dir` names something that is not a folder: refused before anything is done.
fn refuse_non_folder(dir: &std::path::Path) -> Result<(), Report> {
    if dir.exists() && !dir.is_dir() {
        return Err(Report::usage(
            format!("--out-dir {} is not a folder", dir.display()),
            "give a folder (its files hold access tokens: keep it private), or a path where idp may make one",
        ));
    }
    Ok(())
}

/// `--out-dir`, made private (0700) when missing.
fn make_out_dir(dir: &std::path::Path) -> Result<std::path::PathBuf, Report> {
    use std::os::unix::fs::DirBuilderExt as _;
    refuse_non_folder(dir)?;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Report::from(e).context_with(idp_core::diagnostic::Problem::usage(
                    format!("cannot make --out-dir {}", dir.display()),
                    "give a folder idp may create and write",
                ))
            })?;
    }
    Ok(dir.to_owned())
}

/// Prints an access token in `format`: the token, a JSON document, or its decoded claims.
fn print_token(
    format: TokenFormat,
    token: &idp_exchange::Secret,
    token_type: &str,
    expires_in: u64,
) -> Result<(), Report> {
    let mut out = std::io::stdout().lock();
    match format {
        TokenFormat::Raw => {
            out.write_all(token.expose().as_bytes())?;
            out.write_all(b"\n")?;
        }
        TokenFormat::Json => {
            let expires_on = super::now().unix_timestamp() + expires_in as i64;
            let json = serde_json::json!({
                "access_token": token.expose(),
                "token_type": token_type,
                "expires_in": expires_in,
                "expires_on": expires_on,
            });
            writeln!(out, "{json}")?;
        }
        TokenFormat::Claims => {
            let decoded = idp_core::inspect::decode(token.expose())
                .context("the access token is not a JWT")?;
            let json = serde_json::json!({
                "header": decoded.header,
                "claims": decoded.claims,
                "expires_in": expires_in,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    Ok(())
}

/// `--via list-tokens`: the managed application's `listTokens` over ARM, as its publisher.
fn list_tokens(sources: &Sources, args: TokenArgs) -> Result<ExitCode, Report> {
    let request = idp_app::arm::ListTokens {
        application: args.application.clone().unwrap_or_default(),
        identity: args.identity.clone(),
        scope: args
            .scope
            .clone()
            .ok_or_else(idp_app::exchange::scope_needed)?,
        cloud: sources.cloud(args.cloud.cloud.clone())?.for_customer(None),
    };
    request.check()?;
    let ctx = super::context(sources, Some(&args.arm))?;
    let token = idp_app::arm::list_tokens(&ctx, &request)?;
    let expires_in = token
        .expires_in
        .or_else(|| {
            token
                .expires_on
                .map(|on| (on - super::now().unix_timestamp()).max(0) as u64)
        })
        .unwrap_or(0);
    print_token(args.format, &token.access_token, "Bearer", expires_in)?;
    Ok(ExitCode::SUCCESS)
}

/// What a fleet run keeps of each token: its `expires_on`, and its file being written.
type Kept = (i64, Option<tokio::task::JoinHandle<Result<(), String>>>);

/// Why a customer of a fleet run has no token file.
enum Failure {
    Exchange(idp_exchange::client::ExchangeError),
    Write(String),
}

/// `--all` / `--customers`: one exchange per customer, `--parallel` at a time, a line each
/// and a summary (or one JSON document); exit 1 unless every customer succeeded.
fn fleet(
    ctx: &idp_app::Context,
    exchanger: &Exchanger,
    jobs: Vec<Job>,
    args: &TokenArgs,
    out_dir: Option<std::path::PathBuf>,
) -> Result<ExitCode, Report> {
    let on_retry = |name: &str, note: &idp_exchange::client::RetryNote| {
        note!("{name}: {}", exchange::retry_line(note));
    };
    // Each token's file is written as the token comes, on a blocking thread (each write
    // ends in an fsync), while the other exchanges go on; the token itself is then dropped.
    let on_token = |job: &Job, token: AccessToken| -> Kept {
        let expires_on = super::now().unix_timestamp() + token.expires_in as i64;
        let write = out_dir.as_ref().map(|dir| {
            let path = dir.join(format!("{}.json", job.label()));
            let json = idp_core::secret::SecretString::new(
                serde_json::json!({
                    "access_token": token.token.expose(),
                    "token_type": token.token_type,
                    "expires_in": token.expires_in,
                    "expires_on": expires_on,
                })
                .to_string(),
            );
            tokio::task::spawn_blocking(move || {
                idp_core::fsutil::write_atomic(
                    &path,
                    json.expose().as_bytes(),
                    0o600,
                    idp_core::fsutil::Overwrite::Replace,
                )
                .map_err(|e| e.to_string())
            })
        });
        (expires_on, write)
    };
    let started = std::time::Instant::now();
    // Each customer's end: its token's expiry, else why not (the exchange, or its file).
    let ended: Vec<(String, f64, Result<i64, Failure>)> = ctx.block_on(async {
        let outcomes = exchanger
            .many(jobs, usize::from(args.many.parallel), &on_token, &on_retry)
            .await;
        let mut ended = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            let result = match o.result {
                Ok((expires_on, None)) => Ok(expires_on),
                // Every file is written before the summary is said.
                Ok((expires_on, Some(write))) => match write.await {
                    Ok(Ok(())) => Ok(expires_on),
                    Ok(Err(e)) => Err(Failure::Write(e)),
                    Err(e) => Err(Failure::Write(format!("the write did not finish: {e}"))),
                },
                Err(e) => Err(Failure::Exchange(e)),
            };
            ended.push((o.name, o.took.as_secs_f64(), result));
        }
        ended
    });
    let mut rows = Vec::new();
    let mut failed = 0usize;
    for (name, took, result) in &ended {
        let seconds = (took * 100.0).round() / 100.0;
        match result {
            Ok(expires_on) => rows.push(serde_json::json!({
                "name": name, "ok": true, "seconds": seconds, "expires_on": expires_on,
            })),
            Err(Failure::Write(e)) => {
                failed += 1;
                rows.push(serde_json::json!({
                    "name": name, "ok": false, "seconds": seconds, "code": null,
                    "error": format!("the token came, but its file could not be written: {e}"),
                }));
            }
            Err(Failure::Exchange(e)) => {
                failed += 1;
                let (code, meaning) = exchange::describe(e);
                rows.push(serde_json::json!({
                    "name": name, "ok": false, "seconds": seconds,
                    "code": code, "error": meaning,
                }));
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if matches!(args.format, TokenFormat::Json) {
        let doc = serde_json::json!({
            "customers": rows,
            "ok": ended.len() - failed,
            "failed": failed,
            "seconds": (total * 100.0).round() / 100.0,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for r in &rows {
            let status = if r["ok"] == true {
                "ok".to_owned()
            } else {
                match r["code"].as_u64() {
                    Some(code) => format!("AADSTS{code}: {}", r["error"].as_str().unwrap_or("")),
                    None => r["error"].as_str().unwrap_or("").to_owned(),
                }
            };
            writeln!(
                out,
                "{:<24}  {status}  ({:.2}s)",
                r["name"].as_str().unwrap_or(""),
                r["seconds"].as_f64().unwrap_or(0.0)
            )?;
        }
        writeln!(
            out,
            "{} customers: {} ok, {failed} failed, in {total:.2}s",
            ended.len(),
            ended.len() - failed
        )?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
