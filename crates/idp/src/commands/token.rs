//! `idp token`: sign a fresh assertion and exchange it at Entra for the managed identity's
//! access token; explain an AADSTS failure with the values at stake.

use crate::cli::{TokenArgs, TokenFormat, Via};
use crate::report::{EXIT_FAILED, Reported};
use crate::settings::Settings;
use anyhow::Context as _;
use idp_core::assertion::{AssertionSpec, PrivateClaims, Subject};
use idp_core::audit::Minter;
use idp_exchange::client::{self, ExchangeError, RetryNote};
use idp_exchange::explain::Context;
use idp_exchange::request::Target;
use idp_exchange::retry::{Policy, Transient};
use std::io::Write;
use std::process::ExitCode;

pub fn run(settings: &Settings, args: TokenArgs) -> anyhow::Result<ExitCode> {
    if args.via == Via::ListTokens {
        return list_tokens(settings, args);
    }
    if args.application.is_some() {
        return Err(crate::report::Hint::usage(
            "--application is for --via list-tokens",
            "add --via list-tokens to get the token from the managed application over ARM",
        )
        .into());
    }
    if args.all || !args.customers.is_empty() {
        return fleet(settings, args);
    }
    // Every input is checked before the key is touched or anything is sent.
    let who = Who::resolve(settings, &args)?;
    let Prepared {
        target,
        spec,
        context,
    } = prepare(settings, &who, &Overrides::of(&args))?;
    let max_wait = idp_core::duration::parse(&args.max_wait).context("invalid --max-wait")?;
    let audit = settings.audit_log()?;
    let store = settings.key_store()?;
    let ring = store.load()?;
    let signer = super::active_signer(settings, &store, &ring)?;
    let client = super::https_client(settings)?;
    let policy = Policy {
        propagation_wait: max_wait,
        max_server_retries: args.retries,
        ..Policy::default()
    };
    let minter = Minter::new(&signer, audit.as_ref(), "token");
    let sign = async || Ok(minter.mint(&spec, args.customer.as_deref()).await?.token);
    let runtime = super::runtime()?;
    let result = runtime.block_on(client::exchange(
        &client, &target, &context, &policy, sign, say_retry,
    ));
    let token = match result {
        Ok(t) => t,
        Err(e) => return Err(explain(e)),
    };
    print_token(
        args.format,
        &token.token,
        &token.token_type,
        token.expires_in,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Prints an access token in `format`: the token, a JSON document, or its decoded claims.
fn print_token(
    format: TokenFormat,
    token: &idp_exchange::Secret,
    token_type: &str,
    expires_in: u64,
) -> anyhow::Result<()> {
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
fn list_tokens(settings: &Settings, args: TokenArgs) -> anyhow::Result<ExitCode> {
    let application = args.application.clone().unwrap_or_default();
    idp_fleet::arm::check_application_id(&application).map_err(|m| {
        crate::report::Hint::usage(
            m,
            "copy the application's id from `az managedapp show … --query id`",
        )
    })?;
    let identities = match &args.identity {
        Some(id) => {
            idp_fleet::inventory::IdentityId::parse(id).map_err(|m| {
                crate::report::Hint::usage(m, "give the user-assigned identity's resource id")
            })?;
            vec![id.clone()]
        }
        None => Vec::new(),
    };
    let scope = args.scope.clone().ok_or_else(|| {
        crate::report::Hint::usage(
            "--scope is needed",
            "give the resource's scope, like --scope https://vault.azure.net/.default",
        )
    })?;
    let audience = scope
        .strip_suffix("/.default")
        .filter(|a| a.starts_with("https://") || a.starts_with("api://"))
        .ok_or_else(|| {
            crate::report::Hint::usage(
                format!("--scope `{scope}` is not a resource's `/.default` scope"),
                "give one resource's scope, like https://vault.azure.net/.default",
            )
        })?
        .to_owned();
    let cloud = settings.cloud(args.cloud.clone())?;
    let runtime = super::runtime()?;
    let arm = super::customers::arm_client(
        settings,
        &runtime,
        cloud,
        args.arm_endpoint.clone(),
        args.arm_token_file.clone(),
    )?;
    let tokens = runtime.block_on(arm.list_tokens(&application, &audience, &identities))?;
    let token = match &args.identity {
        Some(id) => tokens
            .into_iter()
            .find(|t| t.resource_id.eq_ignore_ascii_case(id) || t.resource_id.is_empty()),
        None => tokens.into_iter().next(),
    }
    .ok_or_else(|| {
        crate::report::Hint::failed(
            "listTokens answered no token for that identity",
            "check that the identity is attached to the application (`identity.userAssignedIdentities`)",
        )
    })?;
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

/// `--all` / `--customers`: one exchange per customer, `--parallel` at a time, a line each
/// and a summary (or one JSON document); exit 1 unless every customer succeeded.
fn fleet(settings: &Settings, args: TokenArgs) -> anyhow::Result<ExitCode> {
    use idp_fleet::mint::{self, Job};
    if matches!(args.format, TokenFormat::Claims) {
        return Err(crate::report::Hint::usage(
            "--format claims is for one customer",
            "use --format json with --all/--customers, or --customer NAME --format claims",
        )
        .into());
    }
    // Every customer is checked, and the key loaded once, before anything is sent.
    let file = settings.customers()?;
    let inventory = file.load()?;
    let names: Vec<String> = if args.all {
        if inventory.is_empty() {
            return Err(idp_fleet::inventory::InventoryError::Empty {
                path: file.path().to_owned(),
            }
            .into());
        }
        inventory.names()
    } else {
        args.customers.clone()
    };
    let max_wait = idp_core::duration::parse(&args.max_wait).context("invalid --max-wait")?;
    let overrides = Overrides::of(&args);
    let mut jobs = Vec::new();
    let mut specs = std::collections::HashMap::new();
    for name in &names {
        let customer = inventory.require(name, file.path())?.clone();
        let who = Who::of_customer(name, customer, args.scope.clone())?;
        let Prepared {
            target,
            spec,
            context,
        } = prepare(settings, &who, &overrides)?;
        specs.insert(name.clone(), spec);
        jobs.push(Job {
            name: name.clone(),
            target,
            context,
        });
    }
    if let Some(dir) = &args.out_dir
        && !dir.is_dir()
    {
        return Err(crate::report::Hint::usage(
            format!("--out-dir {} is not a folder", dir.display()),
            "create it first (its files hold access tokens: keep it private)",
        )
        .into());
    }
    let audit = settings.audit_log()?;
    let store = settings.key_store()?;
    let ring = store.load()?;
    let signer = super::active_signer(settings, &store, &ring)?;
    let minter = Minter::new(&signer, audit.as_ref(), "token");
    let http = super::https_client(settings)?;
    let policy = Policy {
        propagation_wait: max_wait,
        max_server_retries: args.retries,
        ..Policy::default()
    };
    let on_retry = |name: &str, note: &RetryNote| {
        eprint!("{name}: ");
        say_retry(note);
    };
    // Each token's file is written as the token comes, on a blocking thread (each write
    // ends in an fsync), while the other exchanges go on.
    let written: Written = std::sync::Mutex::new(std::collections::HashMap::new());
    let on_token = |job: &Job, token: &idp_exchange::response::AccessToken| {
        let expires_on = super::now().unix_timestamp() + token.expires_in as i64;
        let write = args.out_dir.as_ref().map(|dir| {
            let path = dir.join(format!("{}.json", job.name));
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
        written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(job.name.clone(), (expires_on, write));
    };
    let runtime = super::runtime()?;
    let started = std::time::Instant::now();
    let (outcomes, mut written) = runtime.block_on(async {
        let outcomes = mint::mint_all(
            &http,
            &jobs,
            usize::from(args.parallel),
            &policy,
            // Each customer's own assertion: its subject, and its cloud's audience.
            &|job| {
                let spec = specs.get(&job.name);
                let name = job.name.clone();
                let minter = &minter;
                Box::pin(async move {
                    let spec = spec.ok_or("no assertion spec for that customer")?;
                    Ok(minter.mint(spec, Some(&name)).await?.token)
                })
            },
            &on_token,
            &on_retry,
        )
        .await;
        let pending = std::mem::take(
            &mut *written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut done = std::collections::HashMap::new();
        for (name, (expires_on, write)) in pending {
            let result = match write {
                Some(handle) => Some(
                    handle
                        .await
                        .unwrap_or_else(|e| Err(format!("the write did not finish: {e}"))),
                ),
                None => None,
            };
            done.insert(name, (expires_on, result));
        }
        (outcomes, done)
    });
    let mut rows = Vec::new();
    let mut failed = 0usize;
    for o in &outcomes {
        let seconds = (o.took.as_secs_f64() * 100.0).round() / 100.0;
        let delivered = written.remove(&o.name);
        match (&o.result, delivered) {
            (Ok(_), Some((_, Some(Err(e))))) => {
                failed += 1;
                rows.push(serde_json::json!({
                    "name": o.name, "ok": false, "seconds": seconds, "code": null,
                    "error": format!("the token came, but its file could not be written: {e}"),
                }));
            }
            (Ok(token), delivered) => {
                let expires_on = delivered.map_or_else(
                    || super::now().unix_timestamp() + token.expires_in as i64,
                    |(at, _)| at,
                );
                rows.push(serde_json::json!({
                    "name": o.name, "ok": true, "seconds": seconds, "expires_on": expires_on,
                }));
            }
            (Err(e), _) => {
                failed += 1;
                let (code, meaning) = describe(e);
                rows.push(serde_json::json!({
                    "name": o.name, "ok": false, "seconds": seconds,
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
            "ok": outcomes.len() - failed,
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
            outcomes.len(),
            outcomes.len() - failed
        )?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// One exchange for customer `name` of the inventory, signed with `key` whatever the
/// keyring's active key is: the rotation canary (`idp keys activate KID --canary NAME`)
/// proves Entra accepts a key before it signs for everyone. No retries: a refusal is the
/// answer sought.
pub(super) fn canary(
    settings: &Settings,
    name: &str,
    key: &idp_core::signer::Signer,
) -> anyhow::Result<()> {
    let customer = settings.customers()?.customer(name)?;
    customer_exchange(settings, name, customer, key, None, false, "keys activate")?.map_err(explain)
}

/// One exchange for `customer` (named `name`) signed with `key`: the outer error is a setting or an
/// input at fault, the inner one Entra's (or the network's) answer. No propagation retries;
/// `quiet` keeps retry notes off stderr.
pub(super) fn customer_exchange(
    settings: &Settings,
    name: &str,
    customer: idp_fleet::inventory::Customer,
    key: &idp_core::signer::Signer,
    authority_host: Option<String>,
    quiet: bool,
    command: &'static str,
) -> anyhow::Result<Result<(), ExchangeError>> {
    let scope = customer
        .scope
        .clone()
        .unwrap_or_else(|| "https://management.azure.com/.default".into());
    let who = Who::of_customer(name, customer, Some(scope))?;
    let overrides = Overrides {
        authority_host,
        ..Overrides::default()
    };
    let Prepared {
        target,
        spec,
        context,
    } = prepare(settings, &who, &overrides)?;
    let policy = Policy {
        propagation_wait: std::time::Duration::ZERO,
        max_server_retries: 2,
        ..Policy::default()
    };
    let audit = settings.audit_log()?;
    let minter = Minter::new(key, audit.as_ref(), command);
    let sign = async || Ok(minter.mint(&spec, Some(name)).await?.token);
    let client = super::https_client(settings)?;
    let runtime = super::runtime()?;
    let note = |n: &RetryNote| {
        if !quiet {
            say_retry(n);
        }
    };
    Ok(runtime
        .block_on(client::exchange(
            &client, &target, &context, &policy, sign, note,
        ))
        .map(|_| ()))
}

/// The AADSTS code and a one-line explanation of a failed exchange (secrets redacted).
pub(super) fn describe(e: &ExchangeError) -> (Option<u64>, String) {
    let line = match e {
        ExchangeError::Entra {
            error, explanation, ..
        } => match explanation {
            Some(x) => format!("{}; {}", x.meaning, x.check),
            None => error.summary().to_owned(),
        },
        // The signer's own explanation (a vault's refusal, the audit log) is the news.
        ExchangeError::Sign(cause) => format!("{e}: {cause}"),
        other => other.to_string(),
    };
    (e.code(), idp_core::secret::redact(&line))
}

/// Each customer's token file being written: its `expires_on` and the write.
type Written = std::sync::Mutex<
    std::collections::HashMap<String, (i64, Option<tokio::task::JoinHandle<Result<(), String>>>)>,
>;

/// Whom the token is for: the flags, or a customer of the inventory (`--customer`), whose
/// cloud and scope apply unless the flags say otherwise.
struct Who {
    tenant: String,
    client_id: String,
    subject: String,
    scope: String,
    cloud: Option<String>,
}

/// What the flags set over the settings and the customer's record.
#[derive(Debug, Default)]
struct Overrides {
    cloud: Option<String>,
    authority_host: Option<String>,
    audience: Option<String>,
    lifetime: Option<String>,
}

impl Overrides {
    fn of(args: &TokenArgs) -> Self {
        Self {
            cloud: args.cloud.clone(),
            authority_host: args.authority_host.clone(),
            audience: args.audience.clone(),
            lifetime: args.lifetime.clone(),
        }
    }
}

/// One exchange, every input checked: the request target, the assertion to sign, and the
/// values an explanation names.
struct Prepared {
    target: Target,
    spec: AssertionSpec,
    context: Context,
}

fn prepare(settings: &Settings, who: &Who, o: &Overrides) -> anyhow::Result<Prepared> {
    let cloud = settings.cloud(o.cloud.clone().or(who.cloud.clone()))?;
    let authority = settings.authority_host(o.authority_host.clone(), cloud)?;
    let target = Target::new(&authority, &who.tenant, &who.client_id, &who.scope)?;
    let spec = AssertionSpec {
        subject: Subject::parse(&who.subject)?,
        audience: settings.audience_for(o.audience.clone(), cloud)?,
        lifetime: settings.lifetime(o.lifetime.clone())?,
        claims: PrivateClaims::parse(std::iter::empty())?,
        issuer: settings.issuer()?.value,
    };
    let context = Context {
        issuer: spec.issuer.as_str().to_owned(),
        subject: who.subject.clone(),
        audience: spec.audience.as_str().to_owned(),
        tenant: who.tenant.clone(),
        client_id: who.client_id.clone(),
        scope: who.scope.clone(),
        authority,
        lifetime_secs: spec.lifetime.get().as_secs(),
    };
    Ok(Prepared {
        target,
        spec,
        context,
    })
}

impl Who {
    /// Customer `name` of the inventory, its scope unless `scope` says otherwise.
    fn of_customer(
        name: &str,
        customer: idp_fleet::inventory::Customer,
        scope: Option<String>,
    ) -> anyhow::Result<Self> {
        let scope = scope.or(customer.scope).ok_or_else(|| {
            crate::report::Hint::usage(
                format!("customer `{name}` has no default scope and --scope is not given"),
                "pass --scope, or record one: `idp customers remove NAME` then `idp customers add NAME … --scope <resource>/.default`",
            )
        })?;
        Ok(Self {
            tenant: customer.tenant,
            client_id: customer.client_id,
            subject: customer.subject,
            scope,
            cloud: customer.cloud,
        })
    }

    fn resolve(settings: &Settings, args: &TokenArgs) -> anyhow::Result<Self> {
        let Some(name) = &args.customer else {
            // clap requires these three without --customer.
            let given = |v: &Option<String>| v.clone().unwrap_or_default();
            return Ok(Self {
                tenant: given(&args.tenant),
                client_id: given(&args.client_id),
                subject: given(&args.subject),
                scope: args.scope.clone().ok_or_else(|| {
                    crate::report::Hint::usage(
                        "--scope is needed",
                        "give the resource's scope, like --scope https://vault.azure.net/.default",
                    )
                })?,
                cloud: None,
            });
        };
        let customer = settings.customers()?.customer(name)?;
        Self::of_customer(name, customer, args.scope.clone())
    }
}

fn say_retry(note: &RetryNote) {
    let why = match (note.reason, note.code, note.status) {
        (Transient::Propagation, Some(code), _) => {
            format!("AADSTS{code}: the federated credential may still be propagating")
        }
        (Transient::Throttled, _, _) => "429: Entra is throttling".to_owned(),
        (_, _, Some(status)) => format!("{status} from Entra"),
        _ => "Entra could not be reached".to_owned(),
    };
    eprintln!(
        "retry {} in {:.1}s ({why})",
        note.retry,
        note.delay.as_secs_f64()
    );
}

/// Prints what Entra said, what it means and what to check; the error keeps the exit code.
fn explain(e: ExchangeError) -> anyhow::Error {
    let ExchangeError::Entra {
        status,
        error,
        explanation,
    } = &e
    else {
        return anyhow::Error::new(e).context("the token exchange failed");
    };
    let code = error
        .code()
        .map_or_else(|| "?".to_owned(), |c| c.to_string());
    let mut message = match explanation {
        Some(x) => format!("AADSTS{code}: {}", x.meaning),
        None => format!("AADSTS{code} from Entra"),
    };
    message.push_str(&format!(
        "\n  Entra said ({status} {}): {}",
        error.error,
        error.summary()
    ));
    if let Some(x) = explanation {
        message.push_str(&format!("\n  check: {}", x.check));
    }
    message.push_str(&format!(
        "\n  trace id {}, correlation id {}, at {}",
        error.trace_id, error.correlation_id, error.timestamp
    ));
    Reported {
        message,
        code: EXIT_FAILED,
    }
    .into()
}
