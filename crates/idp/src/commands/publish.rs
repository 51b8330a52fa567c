//! `idp publish-metadata`: upload what `idp metadata` renders to Azure Blob Storage (JWKS
//! first, on the ETags read), then fetch both documents anonymously over HTTPS as Entra
//! does and check they are the bytes rendered. `--dry-run` plans; `--check` compares.

use crate::cli::PublishArgs;
use crate::report::{EXIT_FAILED, Reported};
use crate::settings::Settings;
use anyhow::Context;
use idp_core::Issuer;
use idp_core::metadata::Documents;
use idp_publish::credential;
use idp_publish::plan;
use idp_publish::publish::{self, Prepared, Request};
use idp_publish::readback::{self, FetchError};
use idp_publish::sas::SasToken;
use idp_publish::storage::{Credential, RetryPolicy, StorageError, Store};
use idp_publish::target::Target;
use std::process::ExitCode;

pub fn run(settings: &Settings, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let (issuer, keyring, docs) = super::render_with_keyring(settings)?;
    let client = super::https_client(settings)?;
    let runtime = super::runtime()?;

    if args.check {
        return runtime.block_on(check(settings, &client, &issuer, &docs, &keyring));
    }

    let target = match settings.storage_endpoint(args.endpoint.clone())? {
        Some(endpoint) => Target::from_url(&endpoint.value)
            .with_context(|| format!("invalid storage endpoint from {}", endpoint.source))?,
        None => Target::from_issuer(&issuer)?,
    };
    let cache_control = settings
        .storage_cache_control(args.cache_control.clone())?
        .value;
    let retry = RetryPolicy::with_retries(settings.storage_retries(args.retries)?);
    let credential = credential(settings, &args, &client)?;
    let store = Store::new(&target, &credential, client.clone(), retry)?;
    let request = Request {
        docs: &docs,
        keyring: &keyring,
        cache_control: &cache_control,
        create_container: args.create_container,
        allow: plan::Allow {
            drop_unknown_keys: args.drop_unknown_keys,
        },
    };

    runtime.block_on(async {
        let prepared = publish::prepare(&store, request).await?;
        if !args.no_readback {
            refuse_if_account_forbids_public_access(&client, &issuer, &store).await?;
        }
        print_plan(&store, &prepared);
        if args.dry_run {
            println!("dry run: nothing written");
            return Ok(ExitCode::SUCCESS);
        }
        if prepared.plan.is_noop() && !prepared.create_container {
            println!("nothing to write: the published documents are already these bytes");
        }
        let applied = publish::apply(&store, request, &prepared, |blob| {
            eprintln!("wrote {}", store.blob_url(blob));
        })
        .await?;
        if applied.created_container {
            println!(
                "created container {} (anonymous read access: blob)",
                store.container_url()
            );
        }
        for blob in &applied.already_written {
            eprintln!(
                "note: another publisher wrote the same bytes to {} meanwhile",
                store.blob_url(blob)
            );
        }
        if args.no_readback {
            println!("published (readback skipped)");
            return Ok(ExitCode::SUCCESS);
        }
        let published = readback(&client, &issuer, &docs).await?;
        println!(
            "published: {} and its JWKS read back anonymously, byte for byte",
            issuer.discovery_url()
        );
        record_published(settings, &keyring, &published)?;
        Ok(ExitCode::SUCCESS)
    })
}

fn print_plan(store: &Store, prepared: &Prepared) {
    let plan = &prepared.plan;
    if prepared.create_container {
        println!(
            "container {}: create (anonymous read access: blob)",
            store.container_url()
        );
    }
    for (blob, step) in [
        (&prepared.jwks_blob, &plan.jwks),
        (&prepared.discovery_blob, &plan.discovery),
    ] {
        println!("{}: {}", store.blob_url(blob), publish::describe(step));
    }
    for kid in &plan.kids_added {
        println!("  kid {kid}: appears");
    }
    for kid in &plan.kids_removed {
        println!("  kid {kid}: disappears");
    }
}

/// Picks the credential: a SAS if given (or required), else an Entra credential.
fn credential(
    settings: &Settings,
    args: &PublishArgs,
    client: &reqwest::Client,
) -> anyhow::Result<Credential> {
    let auth = settings.storage_auth(args.auth.clone())?;
    let sas = settings.storage_sas(args.sas.clone())?;
    let sas = match sas {
        Some(raw) => Some(
            SasToken::parse(&raw.value)
                .with_context(|| format!("invalid SAS token from {}", raw.source))?,
        ),
        None => None,
    };
    let is_set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    let method = credential::choose(auth, sas.is_some(), is_set)?;
    Ok(credential::build(method, sas, client)?)
}

/// Before anything is written, asks for the discovery document anonymously, as Entra will.
/// An account that forbids anonymous access (`allowBlobPublicAccess: false`) would take
/// the writes and still never serve them, so it stops the publish here. Any other answer
/// (nothing published yet, a private container, the issuer host unreachable from here) is
/// left to the readback after the write, which names its cause.
async fn refuse_if_account_forbids_public_access(
    client: &reqwest::Client,
    issuer: &Issuer,
    store: &Store,
) -> anyhow::Result<()> {
    match readback::fetch(client, &issuer.discovery_url()).await {
        Err(e) if e.is_public_access_forbidden() => {
            Err(anyhow::Error::new(StorageError::PublicAccessNotPermitted {
                container_url: store.container_url(),
            })
            .context(format!(
                "nothing was written: {e}, so Entra could never read the issuer's documents"
            )))
        }
        _ => Ok(()),
    }
}

/// Notes in the keyring when each key was first seen in the JWKS read back, the clock
/// `idp keys activate` waits on (`rotation.min_published_age`). Writes only when a key is
/// seen for the first time.
fn record_published(
    settings: &Settings,
    keyring: &idp_core::keyring::Keyring,
    published: &readback::Published,
) -> anyhow::Result<()> {
    let Ok(kids) = plan::published_kids(&published.jwks.bytes) else {
        return Ok(());
    };
    let new = keyring
        .keys
        .iter()
        .any(|k| k.published_at.is_none() && k.state.is_published() && kids.contains(&k.kid));
    if new {
        let now = super::now();
        settings
            .key_store()?
            .update(|ring, _| Ok(ring.record_published(&kids, now)))?;
    }
    Ok(())
}

/// Fetches both documents anonymously and checks they are the rendered bytes.
async fn readback(
    client: &reqwest::Client,
    issuer: &Issuer,
    docs: &Documents,
) -> anyhow::Result<readback::Published> {
    let published = readback::fetch_published(client, issuer).await.context(
        "readback failed: the documents cannot be fetched anonymously, as Entra fetches them",
    )?;
    let mismatches = published.compare(docs);
    if mismatches.is_empty() {
        return Ok(published);
    }
    for m in &mismatches {
        eprintln!("readback: {m}");
    }
    Err(Reported {
        message: "the documents were written, but what Entra would fetch differs from them".into(),
        code: EXIT_FAILED,
    }
    .into())
}

/// `--check`: compares what Entra would fetch with the local state; exit 1 on drift.
async fn check(
    settings: &Settings,
    client: &reqwest::Client,
    issuer: &Issuer,
    docs: &Documents,
    keyring: &idp_core::keyring::Keyring,
) -> anyhow::Result<ExitCode> {
    let discovery_url = issuer.discovery_url();
    let published = match readback::fetch_published(client, issuer).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => {
            println!("drift: {discovery_url} is not published ({e})");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
        Err(e @ (FetchError::Unreachable { .. } | FetchError::TooLarge { .. })) => {
            return Err(anyhow::Error::new(e).context("cannot check what is published"));
        }
        Err(e) => {
            println!("drift: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    record_published(settings, keyring, &published)?;
    let mut drift = Vec::new();
    let jwks_url = issuer.join(&docs.jwks_path);
    if published.jwks.url != jwks_url {
        drift.push(format!(
            "the published discovery document points at {}, the local state at {jwks_url}",
            published.jwks.url
        ));
    }
    drift.extend(published.compare(docs).iter().map(ToString::to_string));
    let remote = |f: &readback::Fetched| plan::Remote {
        bytes: f.bytes.clone(),
        etag: String::new(),
    };
    let allow = plan::Allow {
        drop_unknown_keys: true,
    };
    if let Ok(p) = plan::plan(docs, keyring, Some(&remote(&published.jwks)), None, allow) {
        for kid in &p.kids_added {
            drift.push(format!("kid {kid} is not published yet"));
        }
        for kid in &p.kids_removed {
            drift.push(format!(
                "kid {kid} is published but no longer in the local JWKS"
            ));
        }
    }
    if drift.is_empty() {
        println!("up to date: {discovery_url} and its JWKS are the local state, byte for byte");
        Ok(ExitCode::SUCCESS)
    } else {
        for d in &drift {
            println!("drift: {d}");
        }
        Ok(ExitCode::from(EXIT_FAILED))
    }
}
