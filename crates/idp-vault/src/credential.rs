//! Credentials for the vault: a bearer token from a file (`IDP_KEY_VAULT_TOKEN_FILE`), and
//! a limit on any credential so it hands out tokens for Key Vault's resources only.

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

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

/// The largest token file idp reads.
const MAX_TOKEN_FILE_BYTES: u64 = 16 * 1024;

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

/// A bearer token read from a file at each use (so whoever refreshes the file is heard),
/// never printed. Its expiry is the JWT's `exp` when the token is one, else ten minutes.
#[derive(Debug)]
pub struct TokenFileCredential {
    path: PathBuf,
}

impl TokenFileCredential {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

#[async_trait]
impl TokenCredential for TokenFileCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        use std::io::Read as _;
        let err = |what: String| {
            Error::with_message(
                ErrorKind::Credential,
                format!("the Key Vault token file {}: {what}", self.path.display()),
            )
        };
        let mut text = String::new();
        std::fs::File::open(&self.path)
            .and_then(|f| f.take(MAX_TOKEN_FILE_BYTES + 1).read_to_string(&mut text))
            .map_err(|e| err(format!("cannot be read ({e})")))?;
        if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
            return Err(err(format!(
                "is over {MAX_TOKEN_FILE_BYTES} bytes; it should hold one bearer token"
            )));
        }
        let token = text.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err("does not hold one bearer token".into()));
        }
        let expires_on = jwt_exp(token)
            .unwrap_or_else(|| OffsetDateTime::now_utc() + time::Duration::minutes(10));
        Ok(AccessToken::new(token.to_owned(), expires_on))
    }
}

/// The `exp` of a JWT, unverified (only to know when to read the file again).
fn jwt_exp(token: &str) -> Option<OffsetDateTime> {
    use base64::Engine as _;
    let claims = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    OffsetDateTime::from_unix_timestamp(value.get("exp")?.as_i64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn the_token_file_is_read_at_each_use_and_its_exp_kept() {
        use base64::Engine as _;
        let dir = std::env::temp_dir().join(format!("idp-vault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let claims =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":2000000000}"#);
        std::fs::write(&path, format!("eyJhbGciOiJub25lIn0.{claims}.sig\n")).unwrap();
        let c = TokenFileCredential::new(&path);
        let t = c.get_token(&["s"], None).await.unwrap();
        assert_eq!(t.expires_on.unix_timestamp(), 2_000_000_000);
        assert!(t.token.secret().ends_with(".sig"));
        std::fs::write(&path, "opaque-token").unwrap();
        let t = c.get_token(&["s"], None).await.unwrap();
        assert_eq!(t.token.secret(), "opaque-token");
        assert!(t.expires_on > OffsetDateTime::now_utc());
        // A real token is a few kilobytes; up to the limit is read.
        let big = "t".repeat(16 * 1024);
        std::fs::write(&path, &big).unwrap();
        assert_eq!(c.get_token(&["s"], None).await.unwrap().token.secret(), big);
        std::fs::write(&path, "two words").unwrap();
        let e = c.get_token(&["s"], None).await.unwrap_err();
        assert!(!e.to_string().contains("two words"), "{e}");
        std::fs::write(&path, "x".repeat(20_000)).unwrap();
        assert!(c.get_token(&["s"], None).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(c.get_token(&["s"], None).await.is_err());
    }
}
