//! What the broker hands out: one customer's assertion, its subject and audience fixed by
//! idp (the customer's profile), never by whoever asks. Either idp signs it with its key
//! (the `issuer` way), or it is a token someone else issues that idp fetches (the
//! publisher's managed identity's, for the `entra-app` way).

use async_trait::async_trait;
use idp_core::assertion::AssertionSpec;
use idp_core::audit::{AuditLog, Minter};
use idp_core::diagnostic::Boxed;
use idp_core::secret::SecretString;
use idp_core::signer::Signer as Key;
use std::sync::Arc;
use std::time::Duration;

/// One assertion handed out.
#[derive(Debug)]
pub struct Minted {
    pub token: SecretString,
    /// Unix seconds.
    pub iat: i64,
    pub exp: i64,
    /// The key that signed it (`None` for a fetched token).
    pub kid: Option<String>,
}

/// A token idp does not sign but fetches (and its source keeps until shortly before it
/// expires): asked again at each refresh.
#[async_trait]
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    /// The audience the token carries (the federated credential's).
    fn audience(&self) -> &str;
    /// What it is, for the run's line: "the publisher's managed identity's token".
    fn describe(&self) -> String;
    async fn token(&self) -> Result<Minted, Boxed>;
}

#[derive(Debug)]
enum Source {
    Key {
        key: Arc<Key>,
        audit: Option<Arc<AuditLog>>,
        command: &'static str,
        spec: AssertionSpec,
    },
    Token(Arc<dyn TokenSource>),
}

/// How often a fetched token is asked for again: its source answers from its cache until
/// shortly before expiry, and the file is rewritten only when the token changed.
pub const TOKEN_RECHECK: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Signer {
    source: Source,
    customer: Option<String>,
}

impl Signer {
    /// Signs with `key`, recording each assertion in `audit` as `command`'s.
    pub fn new(
        key: Arc<Key>,
        audit: Option<Arc<AuditLog>>,
        command: &'static str,
        spec: AssertionSpec,
        customer: Option<String>,
    ) -> Self {
        Self {
            source: Source::Key {
                key,
                audit,
                command,
                spec,
            },
            customer,
        }
    }

    /// Hands out what `source` fetches.
    pub fn fetching(source: Arc<dyn TokenSource>, customer: Option<String>) -> Self {
        Self {
            source: Source::Token(source),
            customer,
        }
    }

    /// The one audience this signer hands out assertions for.
    pub fn audience(&self) -> &str {
        match &self.source {
            Source::Key { spec, .. } => spec.audience.as_str(),
            Source::Token(t) => t.audience(),
        }
    }

    /// The subject idp signs (`None` for a fetched token: its subject is its issuer's).
    pub fn subject(&self) -> Option<&str> {
        match &self.source {
            Source::Key { spec, .. } => Some(spec.subject.as_str()),
            Source::Token(_) => None,
        }
    }

    /// How often the file is refreshed: a third of a signed assertion's lifetime (so it
    /// always has two thirds left), or [`TOKEN_RECHECK`] for a fetched token.
    pub fn refresh_every(&self) -> Duration {
        match &self.source {
            Source::Key { spec, .. } => crate::file::refresh_interval(spec.lifetime.get()),
            Source::Token(_) => TOKEN_RECHECK,
        }
    }

    /// What is handed out: "assertions for subject `S`", or the fetched token's name.
    pub fn what(&self) -> String {
        match &self.source {
            Source::Key { spec, .. } => {
                format!("assertions for subject `{}`", spec.subject.as_str())
            }
            Source::Token(t) => t.describe(),
        }
    }

    /// What the run's announcement says the assertions are, with their audience.
    pub fn describe(&self) -> String {
        format!("{} (audience {})", self.what(), self.audience())
    }

    pub fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    /// A fresh assertion (recorded in the audit log, when there is one, before it is
    /// returned), or the source's current token.
    pub async fn mint(&self) -> Result<Minted, Boxed> {
        match &self.source {
            Source::Key {
                key,
                audit,
                command,
                spec,
            } => {
                let s = Minter::new(key, audit.as_deref(), command)
                    .mint(spec, self.customer.as_deref())
                    .await
                    .map_err(Boxed::new)?;
                Ok(Minted {
                    token: s.token,
                    iat: s.iat,
                    exp: s.exp,
                    kid: Some(s.kid),
                })
            }
            Source::Token(t) => t.token().await,
        }
    }
}
