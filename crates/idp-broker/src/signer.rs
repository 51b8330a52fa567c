//! What the broker signs: one customer's assertion, its subject and audience fixed by idp
//! (the customer's profile), never by whoever asks.

use idp_core::assertion::{AssertionSpec, SignedAssertion};
use idp_core::audit::{AuditLog, MintError, Minter};
use idp_core::signer::Signer as Key;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub struct Signer {
    key: Arc<Key>,
    audit: Option<Arc<AuditLog>>,
    command: &'static str,
    spec: AssertionSpec,
    customer: Option<String>,
}

impl Signer {
    pub fn new(
        key: Arc<Key>,
        audit: Option<Arc<AuditLog>>,
        command: &'static str,
        spec: AssertionSpec,
        customer: Option<String>,
    ) -> Self {
        Self {
            key,
            audit,
            command,
            spec,
            customer,
        }
    }

    /// The one audience this signer signs for.
    pub fn audience(&self) -> &str {
        self.spec.audience.as_str()
    }

    pub fn subject(&self) -> &str {
        self.spec.subject.as_str()
    }

    pub fn lifetime(&self) -> Duration {
        self.spec.lifetime.get()
    }

    pub fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    /// A fresh assertion, recorded in the audit log (when there is one) before it is returned.
    pub async fn mint(&self) -> Result<SignedAssertion, MintError> {
        Minter::new(&self.key, self.audit.as_deref(), self.command)
            .mint(&self.spec, self.customer.as_deref())
            .await
    }
}
