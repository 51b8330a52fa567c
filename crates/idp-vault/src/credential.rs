//! A limit on any credential, so that it hands out tokens for Key Vault's resources only.

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use std::sync::Arc;

/// The scopes a Key Vault challenge may ask for: Key Vault and Managed HSM in Azure's
/// clouds (Learn, "Azure Key Vault authentication": the challenge's resource; the sovereign
/// clouds' Key Vault resource ids).
pub const VAULT_SCOPES: [&str; 6] = [
    "https://vault.azure.net/.default",
    "https://vault.azure.cn/.default",
    "https://vault.usgovcloudapi.net/.default",
    "https://managedhsm.azure.net/.default",
    "https://managedhsm.azure.cn/.default",
    "https://managedhsm.usgovcloudapi.net/.default",
];

/// Refuses to get a token for any scope but Key Vault's: a vault (or something posing as
/// one) cannot make idp fetch, say, an ARM token through its challenge.
#[derive(Debug)]
pub struct ScopedCredential(Arc<dyn TokenCredential>);

impl ScopedCredential {
    pub fn new(inner: Arc<dyn TokenCredential>) -> Self {
        Self(inner)
    }
}

#[async_trait]
impl TokenCredential for ScopedCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if let Some(bad) = scopes
            .iter()
            .find(|s| !VAULT_SCOPES.iter().any(|v| v.eq_ignore_ascii_case(s)))
        {
            return Err(Error::with_message(
                ErrorKind::Credential,
                format!(
                    "the vault's challenge asked for a token for `{bad}`, which is not Key Vault's; idp gets Key Vault tokens only"
                ),
            ));
        }
        self.0.get_token(scopes, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[derive(Debug)]
    struct Fixed;

    #[async_trait]
    impl TokenCredential for Fixed {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Ok(AccessToken::new("t", OffsetDateTime::now_utc()))
        }
    }

    #[tokio::test]
    async fn only_key_vault_scopes_get_a_token() {
        let c = ScopedCredential::new(Arc::new(Fixed));
        for s in VAULT_SCOPES {
            assert!(c.get_token(&[s], None).await.is_ok(), "{s}");
        }
        let e = c
            .get_token(&["https://management.azure.com/.default"], None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("management.azure.com"), "{e}");
        assert!(
            c.get_token(
                &[
                    "https://vault.azure.net/.default",
                    "https://storage.azure.com/.default"
                ],
                None
            )
            .await
            .is_err()
        );
    }
}
