//! A key in Azure Key Vault (or Managed HSM), named by its key id:
//! `https://{vault}.vault.azure.net/keys/{name}[/{version}]`.
//!
//! Rules (Learn, "About keys" and "Azure Key Vault keys, secrets and certificates
//! overview", object identifiers): the id is `{vault URL}/keys/{name}/{version}`; names are
//! 1–127 letters, digits and dashes; versions are 32 hexadecimal characters. The vault URL
//! is taken as everything before `keys/`, so a vault served under a path (a local emulator)
//! works as one at the root of its host.

use std::fmt;
use thiserror::Error;

/// Why a key id is not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{given}` is not a Key Vault key id: {reason}")]
pub struct VaultKeyIdError {
    pub given: String,
    pub reason: String,
}

impl crate::diagnostic::Diagnostic for VaultKeyIdError {
    fn hint(&self) -> Option<String> {
        Some("give the key's URL as Key Vault shows it: https://<vault>.vault.azure.net/keys/<name> (a version after it is optional)".into())
    }

    fn is_usage(&self) -> bool {
        true
    }
}

/// A parsed key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKeyId {
    /// The vault's URL, ending in `/` (`https://v.vault.azure.net/`).
    vault: String,
    name: String,
    version: Option<String>,
}

impl VaultKeyId {
    /// Parses `https://{vault host}[/{path}]/keys/{name}[/{version}]`.
    pub fn parse(given: &str) -> Result<Self, VaultKeyIdError> {
        let err = |reason: &str| VaultKeyIdError {
            given: given.to_owned(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(given).map_err(|e| err(&e.to_string()))?;
        if url.scheme() != "https" {
            return Err(err("Key Vault is reached over https only"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(err("it has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err("it carries credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err(
                "it has a query or a fragment; give the key's URL alone",
            ));
        }
        let path = url.path().trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').collect();
        let at = segments
            .iter()
            .rposition(|s| *s == "keys")
            .ok_or_else(|| err("its path has no `/keys/<name>`"))?;
        let rest = &segments[at + 1..];
        let (name, version) = match rest {
            [name] => (*name, None),
            [name, version] => (*name, Some(*version)),
            _ => {
                return Err(err(
                    "its path must end in /keys/<name> or /keys/<name>/<version>",
                ));
            }
        };
        if !valid_name(name) {
            return Err(err(
                "the key name must be 1 to 127 letters, digits and dashes",
            ));
        }
        if let Some(v) = version
            && !valid_version(v)
        {
            return Err(err("the key version must be 32 hexadecimal characters"));
        }
        let prefix = segments[..at].join("/");
        let origin = url.origin().ascii_serialization();
        Ok(Self {
            vault: format!("{origin}{prefix}/"),
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    }

    /// The vault's URL, ending in `/`.
    pub fn vault(&self) -> &str {
        &self.vault
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The same key at `version`.
    pub fn with_version(&self, version: &str) -> Result<Self, VaultKeyIdError> {
        Self::parse(&format!("{}keys/{}/{version}", self.vault, self.name))
    }

    /// The vault's host, for messages.
    pub fn host(&self) -> &str {
        let rest = self.vault.trim_start_matches("https://");
        rest.split(['/', ':']).next().unwrap_or(rest)
    }
}

impl fmt::Display for VaultKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}keys/{}", self.vault, self.name)?;
        if let Some(v) = &self.version {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_version(v: &str) -> bool {
    v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "0123456789abcdef0123456789ABCDEF";

    #[test]
    fn an_azure_key_id_parses_with_and_without_version() {
        let id = VaultKeyId::parse("https://kv1.vault.azure.net/keys/signing").unwrap();
        assert_eq!(id.vault(), "https://kv1.vault.azure.net/");
        assert_eq!(id.name(), "signing");
        assert_eq!(id.version(), None);
        assert_eq!(id.host(), "kv1.vault.azure.net");
        assert_eq!(id.to_string(), "https://kv1.vault.azure.net/keys/signing");
        let v = id.with_version(V).unwrap();
        assert_eq!(v.version(), Some(V));
        assert_eq!(
            v.to_string(),
            format!("https://kv1.vault.azure.net/keys/signing/{V}")
        );
        assert_eq!(VaultKeyId::parse(&v.to_string()).unwrap(), v);
        // A trailing slash is the same key.
        assert_eq!(
            VaultKeyId::parse("https://kv1.vault.azure.net/keys/signing/").unwrap(),
            id
        );
    }

    #[test]
    fn a_vault_under_a_path_or_a_port_keeps_it() {
        let id = VaultKeyId::parse(&format!("https://127.0.0.1:8443/keyvault/kv1/keys/k-1/{V}"))
            .unwrap();
        assert_eq!(id.vault(), "https://127.0.0.1:8443/keyvault/kv1/");
        assert_eq!(id.host(), "127.0.0.1");
        assert_eq!(id.name(), "k-1");
    }

    #[test]
    fn malformed_ids_are_refused_with_the_reason() {
        for (given, reason) in [
            ("http://kv.vault.azure.net/keys/k", "https only"),
            ("kv.vault.azure.net/keys/k", "relative URL"),
            ("https://kv.vault.azure.net/secrets/k", "/keys/<name>"),
            ("https://kv.vault.azure.net/keys/", "/keys/<name>"),
            ("https://kv.vault.azure.net/keys/k/v/x", "must end in"),
            (
                "https://kv.vault.azure.net/keys/k_1",
                "letters, digits and dashes",
            ),
            ("https://kv.vault.azure.net/keys/k/123", "32 hexadecimal"),
            ("https://kv.vault.azure.net/keys/k?api-version=7.4", "query"),
            ("https://u:p@kv.vault.azure.net/keys/k", "credentials"),
            ("https://u@kv.vault.azure.net/keys/k", "credentials"),
            ("https://:p@kv.vault.azure.net/keys/k", "credentials"),
            ("https://kv.vault.azure.net/keys/k#v", "fragment"),
        ] {
            let e = VaultKeyId::parse(given).unwrap_err();
            assert!(e.to_string().contains(reason), "{given}: {e}");
            assert!(e.to_string().contains(given), "{e}");
            // The user's input: exit 2, with the form a key id takes.
            use crate::diagnostic::Diagnostic as _;
            assert!(e.is_usage());
            assert!(e.hint().unwrap().contains("/keys/<name>"));
        }
        let long = "a".repeat(128);
        assert!(VaultKeyId::parse(&format!("https://kv.vault.azure.net/keys/{long}")).is_err());
        assert!(
            VaultKeyId::parse(&format!("https://kv.vault.azure.net/keys/{}", &long[..127])).is_ok()
        );
        assert!(
            VaultKeyId::parse(&format!("https://kv.vault.azure.net/keys/k/{}", &V[..31])).is_err()
        );
        assert!(
            VaultKeyId::parse(&format!("https://kv.vault.azure.net/keys/k/{}g", &V[..31])).is_err()
        );
    }
}
