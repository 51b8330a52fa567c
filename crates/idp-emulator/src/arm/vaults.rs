//! Key Vault: vaults as ARM resources (`Microsoft.KeyVault/vaults`), the data plane's
//! secrets and keys as Key Vault answers them, and the built-in roles whose data actions
//! decide who may do what in a vault (Azure RBAC; the role assignments themselves are in
//! the `authorization` module).
//!
//! | method | path | answer |
//! |---|---|---|
//! | PUT, GET | `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}` body `{"location", "properties": {"tenantId", "sku", "enableRbacAuthorization"}}` | 201 / 200 with `properties.vaultUri` |
//! | PUT | `{vaultUri}secrets/{name}?api-version=…` body `{"value", "contentType"?, "tags"?}` | 200, a new version |
//! | GET | `{vaultUri}secrets/{name}[/{version}]?api-version=…` | 200, the latest or that version |
//! | POST | `{vaultUri}keys/{name}/create` body `{"kty", "key_size"?, "key_ops"?, "attributes"?}` | 200, a new version (RSA or EC; -HSM in premium vaults; exportable only HSM keys with a release policy) |
//! | GET | `{vaultUri}keys/{name}[/{version}]` | 200, the public key (`kid` with its version) |
//! | POST | `{vaultUri}keys/{name}/{version}/sign` body `{"alg", "value": base64url(digest)}` | 200 `{"kid", "value"}` |
//!
//! A vault's URI is `{emulator}/keyvault/{name}/` (Azure's is `https://{name}.vault.azure.net/`;
//! a local emulator has no DNS for that): clients take it from `properties.vaultUri`.
//!
//! Data-plane rules, in order, each from Microsoft's documentation:
//! - no bearer token: 401 with the challenge `Bearer authorization="{authority}/{tenant}",
//!   resource="https://vault.azure.net"`, code `Unauthorized`, AKV10000 (Learn: "Azure Key
//!   Vault authentication", the challenge; azure-sdk-for-python keyvault
//!   `_shared/challenge_auth_policy.py` and its tests, for the header's form);
//! - a token this tenant's Entra did not sign, expired, or for another audience: 401
//!   (AKV10022 "Invalid audience" for the audience; Learn: Key Vault REST error codes);
//! - `api-version` missing: 400 `BadParameter`;
//! - the caller (`oid`) holds no role on the vault (or a scope above it) whose data
//!   actions allow the operation: 403 `Forbidden` with inner error `ForbiddenByRbac`
//!   (Learn: "Troubleshoot Azure Key Vault RBAC", the message's lines Caller, Action,
//!   Resource, Assignment); a vault using access policies instead of RBAC: 403
//!   `ForbiddenByPolicy`;
//! - a secret name outside `^[0-9a-zA-Z-]{1,127}$` or a value over 25 KiB: 400
//!   `BadParameter` (Learn: "Azure Key Vault service limits"; "About secrets");
//! - an unknown secret or version: 404 `SecretNotFound`.
//!
//! Built-in roles and their data actions on secrets (Learn: "Azure built-in roles",
//! Security): Key Vault Administrator (all), Key Vault Secrets Officer (all secret
//! operations), Key Vault Secrets User (read). Role assignments take effect at once here
//! (Azure documents a few minutes).

use super::kernel::{ArmError, check_location_given};
use crate::ids::new_guid;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const VAULT_TYPE: &str = "Microsoft.KeyVault/vaults";
/// The resource Key Vault tokens are for (and the challenge names).
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// The largest secret value Key Vault stores. Source: Learn, "Azure Key Vault service
/// limits" (25 KB).
pub const MAX_SECRET_BYTES: usize = 25 * 1024;

/// Key Vault Administrator.
pub const KEY_VAULT_ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
/// Key Vault Secrets Officer.
pub const KEY_VAULT_SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
/// Key Vault Secrets User.
pub const KEY_VAULT_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

/// Key Vault Crypto Officer: every key operation.
pub const KEY_VAULT_CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
/// Key Vault Crypto User: read keys and use them (sign, verify, wrap…).
pub const KEY_VAULT_CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";

/// A data-plane operation, as RBAC names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretAction {
    Set,
    Get,
    CreateKey,
    GetKey,
    Sign,
}

impl SecretAction {
    /// The data action a role must allow.
    pub fn data_action(self) -> &'static str {
        match self {
            Self::Set => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Self::Get => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            Self::CreateKey => "Microsoft.KeyVault/vaults/keys/create/action",
            Self::GetKey => "Microsoft.KeyVault/vaults/keys/read",
            Self::Sign => "Microsoft.KeyVault/vaults/keys/sign/action",
        }
    }

    /// The built-in roles that allow it (Learn, "Azure built-in roles", Security).
    pub(crate) fn roles(self) -> &'static [&'static str] {
        match self {
            Self::Set => &[KEY_VAULT_ADMINISTRATOR, KEY_VAULT_SECRETS_OFFICER],
            Self::Get => &[
                KEY_VAULT_ADMINISTRATOR,
                KEY_VAULT_SECRETS_OFFICER,
                KEY_VAULT_SECRETS_USER,
            ],
            Self::CreateKey => &[KEY_VAULT_ADMINISTRATOR, KEY_VAULT_CRYPTO_OFFICER],
            Self::GetKey | Self::Sign => &[
                KEY_VAULT_ADMINISTRATOR,
                KEY_VAULT_CRYPTO_OFFICER,
                KEY_VAULT_CRYPTO_USER,
            ],
        }
    }
}

/// A vault and its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vault {
    pub resource_group: String,
    pub name: String,
    pub location: String,
    /// Azure RBAC decides data-plane access (`enableRbacAuthorization`); otherwise access
    /// policies would, and the emulator has none.
    pub rbac: bool,
    #[serde(default)]
    pub secrets: Vec<Secret>,
    #[serde(default)]
    pub keys: Vec<Key>,
    /// `standard` or `premium` (HSM-protected keys need premium).
    #[serde(default = "standard_sku")]
    pub sku: String,
}

fn standard_sku() -> String {
    "standard".into()
}

/// A key's versions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub name: String,
    pub versions: Vec<KeyVersion>,
}

/// One version of a key (RSA, or EC). The private half stays in the emulator (its state
/// file): nothing answers it, as Key Vault never answers a key's private half (an exportable
/// key is released only through `release`, which the emulator does not offer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersion {
    pub version: String,
    /// `RSA`, `RSA-HSM`, `EC` or `EC-HSM`.
    pub kty: String,
    pub key_ops: Vec<String>,
    /// RSA: modulus and exponent (base64url); empty for an EC key.
    pub n: String,
    pub e: String,
    /// EC: the curve and the point (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Created with `exportable: true` (and a release policy).
    #[serde(default)]
    pub exportable: bool,
    /// PKCS#8 PEM.
    pub private_pem: String,
    pub created: i64,
}

/// A secret's versions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub name: String,
    pub versions: Vec<SecretVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersion {
    pub version: String,
    pub value: String,
    #[serde(default)]
    pub content_type: Option<String>,
    pub created: i64,
}

/// 3–24 letters, digits and `-`, starting with a letter, not ending with `-`, no `--`.
/// Source: Learn, "Naming rules and restrictions for Azure resources", Microsoft.KeyVault
/// vaults; azure-rest-api-specs KeyVault `^[a-zA-Z0-9-]{3,24}$`.
pub fn valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `^[0-9a-zA-Z-]{1,127}$`. Source: Learn, "About Azure Key Vault secrets" (object names).
pub fn valid_secret_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The ARM id of a vault.
pub fn vault_id(subscription: &str, vault: &Vault) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/{VAULT_TYPE}/{}",
        vault.resource_group, vault.name
    )
}

/// The vault's ARM body (api-version 2026-02-01 shape, the properties a client reads).
pub fn vault_json(subscription: &str, tenant: &str, uri: &str, vault: &Vault) -> Value {
    json!({
        "id": vault_id(subscription, vault),
        "name": vault.name,
        "type": VAULT_TYPE,
        "location": vault.location,
        "tags": {},
        "properties": {
            "tenantId": tenant,
            "sku": {"family": "A", "name": vault.sku},
            "enableRbacAuthorization": vault.rbac,
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": 90,
            "vaultUri": uri,
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        }
    })
}

/// `{base}/keyvault/{name}/`: a vault under the emulator's own URL (see
/// [`crate::VaultEndpoints`] for a vault at its own origin).
pub fn vault_uri(base: &str, name: &str) -> String {
    format!("{}/keyvault/{name}/", base.trim_end_matches('/'))
}

/// Every vault, with its secrets and keys.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Vaults(Vec<Vault>);

impl Vaults {
    fn position(&self, rg: &str, name: &str) -> Option<usize> {
        self.0.iter().position(|v| {
            v.resource_group.eq_ignore_ascii_case(rg) && v.name.eq_ignore_ascii_case(name)
        })
    }

    pub(crate) fn get(&self, rg: &str, name: &str) -> Result<&Vault, ArmError> {
        self.position(rg, name).map(|i| &self.0[i]).ok_or_else(|| {
            ArmError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!(
                    "The Resource '{VAULT_TYPE}/{name}' under resource group '{rg}' was not found."
                ),
            )
        })
    }

    /// The vault a data-plane request names (vault names are unique across Azure).
    pub(crate) fn named(&self, name: &str) -> Option<&Vault> {
        self.0.iter().find(|v| v.name.eq_ignore_ascii_case(name))
    }

    /// Creates or updates a vault; `true` if created. Vault names are global: another
    /// resource group's vault of that name is a conflict.
    pub(crate) fn put(
        &mut self,
        rg: &str,
        name: &str,
        location: &str,
        rbac: bool,
        sku: &str,
    ) -> Result<(Vault, bool), ArmError> {
        if !matches!(sku, "standard" | "premium") {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("The SKU '{sku}' is not valid: standard or premium."),
            ));
        }
        if !valid_vault_name(name) {
            return Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                "VaultNameNotValid",
                format!(
                    "The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."
                ),
            ));
        }
        check_location_given(location)?;
        if let Some(i) = self.position(rg, name) {
            let v = &mut self.0[i];
            v.location = location.to_owned();
            v.rbac = rbac;
            v.sku = sku.to_owned();
            return Ok((v.clone(), false));
        }
        if self.named(name).is_some() {
            return Err(ArmError::new(
                StatusCode::CONFLICT,
                "VaultAlreadyExists",
                format!(
                    "The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken."
                ),
            ));
        }
        let v = Vault {
            resource_group: rg.to_owned(),
            name: name.to_owned(),
            location: location.to_owned(),
            rbac,
            secrets: Vec::new(),
            keys: Vec::new(),
            sku: sku.to_owned(),
        };
        self.0.push(v.clone());
        Ok((v, true))
    }

    /// Adds a version to a secret (creating it); the new version.
    pub(crate) fn set_secret(
        &mut self,
        vault: &str,
        name: &str,
        value: String,
        content_type: Option<String>,
        now: i64,
    ) -> Option<SecretVersion> {
        let v = self
            .0
            .iter_mut()
            .find(|v| v.name.eq_ignore_ascii_case(vault))?;
        let version = SecretVersion {
            version: new_guid().replace('-', ""),
            value,
            content_type,
            created: now,
        };
        match v
            .secrets
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(name))
        {
            Some(s) => s.versions.push(version.clone()),
            None => v.secrets.push(Secret {
                name: name.to_owned(),
                versions: vec![version.clone()],
            }),
        }
        Some(version)
    }

    /// Adds a version to a key (creating it); the new version.
    pub(crate) fn add_key_version(
        &mut self,
        vault: &str,
        name: &str,
        version: KeyVersion,
    ) -> Option<KeyVersion> {
        let v = self
            .0
            .iter_mut()
            .find(|v| v.name.eq_ignore_ascii_case(vault))?;
        match v
            .keys
            .iter_mut()
            .find(|k| k.name.eq_ignore_ascii_case(name))
        {
            Some(k) => k.versions.push(version.clone()),
            None => v.keys.push(Key {
                name: name.to_owned(),
                versions: vec![version.clone()],
            }),
        }
        Some(version)
    }
}

/// A key bundle as Key Vault answers it: the public JWK (`kid` with its version), never
/// the private half; `exportable: false`.
pub fn key_json(vault_uri: &str, name: &str, k: &KeyVersion) -> Value {
    let mut key = json!({
        "kid": format!("{vault_uri}keys/{name}/{}", k.version),
        "kty": k.kty,
        "key_ops": k.key_ops,
    });
    match (&k.crv, &k.x, &k.y) {
        (Some(crv), Some(x), Some(y)) => {
            key["crv"] = json!(crv);
            key["x"] = json!(x);
            key["y"] = json!(y);
        }
        _ => {
            key["n"] = json!(k.n);
            key["e"] = json!(k.e);
        }
    }
    json!({
        "key": key,
        "attributes": {
            "enabled": true,
            "created": k.created,
            "updated": k.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
            "exportable": k.exportable,
        },
        "tags": {},
    })
}

/// A secret bundle as Key Vault answers it (api-version 7.x).
pub fn secret_json(vault_uri: &str, name: &str, v: &SecretVersion) -> Value {
    let mut body = json!({
        "value": v.value,
        "id": format!("{vault_uri}secrets/{name}/{}", v.version),
        "attributes": {
            "enabled": true,
            "created": v.created,
            "updated": v.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
        "tags": {},
    });
    if let Some(ct) = &v.content_type {
        body["contentType"] = json!(ct);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_vault() -> Vaults {
        let mut r = Vaults::default();
        r.put("rg", "kv-one", "westeurope", true, "standard")
            .unwrap();
        r
    }

    #[test]
    fn vault_names_follow_key_vaults_rule() {
        for ok in ["kv1", "a-b-c", &"k".repeat(24)] {
            assert!(valid_vault_name(ok), "{ok}");
        }
        for bad in ["kv", "1kv", "kv-", "k--v", "k_v", &"k".repeat(25)] {
            assert!(!valid_vault_name(bad), "{bad}");
        }
        assert!(valid_secret_name("a-B-9"));
        assert!(
            !valid_secret_name("a_b")
                && !valid_secret_name("")
                && !valid_secret_name(&"s".repeat(128))
        );
    }

    #[test]
    fn vault_names_are_global_and_updates_keep_secrets() {
        let mut r = with_vault();
        let e = r
            .put("other", "KV-ONE", "westeurope", true, "standard")
            .unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::CONFLICT, "VaultAlreadyExists")
        );
        r.set_secret("kv-one", "s", "v".into(), None, 1).unwrap();
        let (v, created) = r
            .put("RG", "kv-one", "northeurope", true, "standard")
            .unwrap();
        assert!(!created);
        assert_eq!(v.secrets.len(), 1);
        assert_eq!(
            r.put("rg", "k_v", "x", true, "standard").unwrap_err().code,
            "VaultNameNotValid"
        );
        assert_eq!(
            r.put("rg", "kv-two", "", true, "standard")
                .unwrap_err()
                .code,
            "LocationRequired"
        );
    }

    #[test]
    fn secrets_keep_every_version() {
        let mut r = with_vault();
        let a = r.set_secret("kv-one", "s", "1".into(), None, 1).unwrap();
        let b = r
            .set_secret("KV-ONE", "s", "2".into(), Some("text/plain".into()), 2)
            .unwrap();
        assert_ne!(a.version, b.version);
        assert_eq!(a.version.len(), 32);
        let s = &r.get("rg", "kv-one").unwrap().secrets[0];
        assert_eq!(s.versions.len(), 2);
        assert!(r.set_secret("nope", "s", "1".into(), None, 1).is_none());
        let body = secret_json("https://h/keyvault/kv-one/", "s", &b);
        assert_eq!(
            body["id"],
            format!("https://h/keyvault/kv-one/secrets/s/{}", b.version)
        );
        assert_eq!(body["contentType"], "text/plain");
        assert_eq!(body["value"], "2");
    }
}
