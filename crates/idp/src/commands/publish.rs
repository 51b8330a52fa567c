//! `idp publish-metadata`: upload what `idp metadata` renders to Azure Blob Storage (JWKS
//! first, on the ETags read), then fetch both documents anonymously over HTTPS as Entra
//! does and check they are the bytes rendered. `--dry-run` plans; `--check` compares.

use crate::cli::PublishArgs;
use crate::settings::Sources;
use idp_core::diagnostic::{EXIT_FAILED, Report};
use idp_core::keyring::Keyring;
use idp_publish::plan;
use idp_publish::publish::{self, Prepared, Request};
use idp_publish::readback::Published;
use idp_publish::storage::{RetryPolicy, Store};
use idp_publish::target::Target;
use std::process::ExitCode;

pub fn run(sources: &Sources, args: PublishArgs) -> Result<ExitCode, Report> {
    let (issuer, keyring, docs) = super::documents(sources)?;
    let checking = args.check;
    // Every setting is read, and checked, before anything is fetched or written.
    let (target, cache_control, retry, auth, sas) = if checking {
        (
            None,
            Default::default(),
            RetryPolicy::with_retries(0),
            None,
            None,
        )
    } else {
        let target = match sources.storage_endpoint(args.endpoint.clone())? {
            Some(target) => target,
            None => Target::from_issuer(&issuer)?,
        };
        (
            Some(target),
            sources.storage_cache_control(args.cache_control.clone())?,
            RetryPolicy::with_retries(sources.storage_retries(args.retries)?),
            Some(sources.storage_auth(args.auth.clone())?),
            sources.storage_sas(args.sas.clone())?,
        )
    };
    let ctx = super::context(sources, None)?;
    let client = ctx.http()?.clone();

    if checking {
        let check = ctx
            .block_on(publish::check(&client, &issuer, &docs, &keyring))
            .map_err(|e| Report::from(e).context("cannot check what is published"))?;
        if let Some(published) = &check.published {
            record_published(&ctx, &keyring, published)?;
        }
        if check.drift.is_empty() {
            println!(
                "up to date: {} and its JWKS are the local state, byte for byte",
                issuer.discovery_url()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for d in &check.drift {
            println!("drift: {d}");
        }
        return Ok(ExitCode::from(EXIT_FAILED));
    }

    let target = target.expect("a target outside --check");
    let credential =
        idp_app::publish::storage_credential(&ctx, auth.expect("an auth outside --check"), sas)?;
    let store = Store::new(&target, &credential, client.clone(), retry)?;
    let request = Request {
        docs: &docs,
        keyring: &keyring,
        cache_control: cache_control.as_str(),
        create_container: args.create_container,
        allow: plan::Allow {
            drop_unknown_keys: args.drop_unknown_keys,
        },
    };
    ctx.block_on(async {
        let prepared = publish::prepare(&store, request).await?;
        if !args.no_readback {
            publish::refuse_if_not_public(&client, &issuer, &store).await?;
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
            note!("wrote {}", store.blob_url(blob));
        })
        .await?;
        if applied.created_container {
            println!(
                "created container {} (anonymous read access: blob)",
                store.container_url()
            );
        }
        for blob in &applied.already_written {
            note!(
                "note: another publisher wrote the same bytes to {} meanwhile",
                store.blob_url(blob)
            );
        }
        if args.no_readback {
            println!("published (readback skipped)");
            return Ok(ExitCode::SUCCESS);
        }
        let published = publish::readback(&client, &issuer, &docs).await?;
        println!(
            "published: {} and its JWKS read back anonymously, byte for byte",
            issuer.discovery_url()
        );
        record_published(&ctx, &keyring, &published)?;
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

/// Notes in the keyring when each key was first seen in the JWKS read back, the clock
/// `idp keys activate` waits on (`rotation.min_published_age`). Writes only when a key is
/// seen for the first time.
fn record_published(
    ctx: &idp_app::Context,
    keyring: &Keyring,
    published: &Published,
) -> Result<(), Report> {
    if let Some(kids) = publish::first_sightings(keyring, published) {
        let now = super::now();
        ctx.keys()
            .update(|ring, _| Ok(ring.record_published(&kids, now)))?;
    }
    Ok(())
}
