//! Running the command for one customer, with its own session (file and endpoint), and its
//! exit code. Runs for many go through the application layer's fan-out, one each.

use crate::signer::Signer;
use crate::{BrokerError, Identity, Impersonate, Session, child};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;

/// Where notes for the user go (idp's stderr); never given a secret.
pub type Note = Arc<dyn Fn(String) + Send + Sync>;

/// One customer's run: its signer and what the command's tools need.
#[derive(Debug)]
pub struct Run {
    pub name: Option<String>,
    pub signer: Arc<Signer>,
    pub identity: Identity,
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl idp_core::diagnostic::Diagnostic for RunError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::Broker(e) => e.hint(),
            Self::Spawn { .. } => Some("check the command's name and that it is on PATH".into()),
        }
    }
    fn is_usage(&self) -> bool {
        match self {
            Self::Broker(e) => e.is_usage(),
            Self::Spawn { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        }
    }
}

/// One customer's session around one run of the command; the command's exit code. The
/// session is stopped (folder removed, endpoint closed) however the command ends.
pub async fn run_one(
    run: Run,
    mut spec: child::Spec,
    also: Impersonate,
    announce: bool,
    note: Note,
) -> Result<i32, RunError> {
    let tag = run
        .name
        .as_deref()
        .map(|n| format!("{n}: "))
        .unwrap_or_default();
    let refresh_note = Arc::clone(&note);
    let refresh_tag = tag.clone();
    let session = Session::start(
        Arc::clone(&run.signer),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        None,
        move |msg| refresh_note(format!("{refresh_tag}idp exec: {msg}")),
    )
    .await?;
    spec.set = session.variables(&run.identity, also);
    if announce {
        note(format!(
            "idp exec: {} in {}, refreshed every {}; endpoint {}",
            run.signer.describe(),
            session.file().display(),
            idp_core::duration::format(run.signer.refresh_every()),
            session.endpoint().github_url(),
        ));
    }
    let status = child::run(&spec).await;
    session.stop().await;
    let status = status.map_err(|source| RunError::Spawn {
        program: format!("{tag}{}", spec.program.to_string_lossy()),
        source,
    })?;
    Ok(child::exit_code(status))
}
