//! Signing keys held in Azure Key Vault, through Microsoft's Rust Key Vault keys SDK
//! (`azure_security_keyvault_keys`).
//!
//! - [`create`] makes a non-exportable RSA key (RSA-HSM where the vault holds HSM keys, else
//!   RSA), [`adopt`] checks an existing one; both answer the key id with its version and the
//!   public half, all the keyring records.
//! - [`VaultKey`] signs: idp hashes the JWS signing input, the vault signs the digest (RS256),
//!   and idp-core verifies the signature with the recorded public key.
//!
//! Everything on the network is hostile: responses are read into a bounded buffer
//! ([`MAX_RESPONSE_BYTES`]); retries are few (429, 5xx and transport errors, at most
//! [`MAX_RETRIES`], `Retry-After` honoured up to [`MAX_RETRY_AFTER`]); a vault found
//! unreachable is not asked again for [`UNREACHABLE_PAUSE`], so a fleet run fails fast
//! instead of storming it; and the credential hands out tokens only for Key Vault's own
//! resources, whatever a challenge asks for.

mod credential;
mod errors;
mod transport;

pub use credential::{ScopedCredential, VAULT_SCOPES};
pub use errors::explain;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RequestContent, RetryOptions};
use azure_security_keyvault_keys::models::{
    CreateKeyParameters, JsonWebKey, Key, KeyAttributes, KeyClientGetKeyOptions,
    KeyClientSignOptions, KeyType, SignParameters, SignatureAlgorithm,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use idp_core::keys::{MIN_RSA_BITS, RsaPublic};
use idp_core::signer::{RemoteError, RemoteKey, SignFuture};
use idp_core::vault_key::VaultKeyId;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest response idp reads from a vault. Key Vault's answers for a key or a
/// signature are a few kilobytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Retries of one request (429, 408, 5xx, transport errors).
pub const MAX_RETRIES: u32 = 3;
/// The longest `Retry-After` idp waits for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long a vault that could not be reached is not asked again.
pub const UNREACHABLE_PAUSE: Duration = Duration::from_secs(30);

/// Host suffixes of Key Vault and Managed HSM in Azure's clouds (Learn, "Azure Key Vault
/// DNS suffixes"). For these hosts the SDK's own check that a challenge names the vault's
/// domain stays on.
const VAULT_DNS_SUFFIXES: [&str; 6] = [
    ".vault.azure.net",
    ".vault.azure.cn",
    ".vault.usgovcloudapi.net",
    ".managedhsm.azure.net",
    ".managedhsm.azure.cn",
    ".managedhsm.usgovcloudapi.net",
];

/// A Key Vault keys client for the vault of `id`, sending through `http` (idp's HTTPS
/// client: system roots plus `--ca-cert`), authenticated by `credential` (limited to Key
/// Vault's resources).
pub fn client(
    http: reqwest::Client,
    id: &VaultKeyId,
    credential: Arc<dyn TokenCredential>,
) -> Result<KeyClient, RemoteError> {
    let host = id.host().to_ascii_lowercase();
    // The SDK checks that a challenge's resource matches the vault's DNS domain; a vault
    // elsewhere (a local emulator, a private name) cannot pass that check, and relies on
    // the scope limit of `ScopedCredential` instead: a token for Key Vault, never another.
    let verify = VAULT_DNS_SUFFIXES.iter().any(|s| host.ends_with(s));
    let options = KeyClientOptions {
        verify_challenge_resource: Some(verify),
        client_options: ClientOptions {
            transport: Some(azure_core::http::Transport::new(Arc::new(
                transport::Bounded::new(http, MAX_RESPONSE_BYTES),
            ))),
            retry: RetryOptions::custom(Arc::new(transport::Retry::default())),
            ..Default::default()
        },
        ..Default::default()
    };
    KeyClient::new(
        id.vault(),
        Arc::new(ScopedCredential::new(credential)),
        Some(options),
    )
    .map_err(|e| RemoteError {
        message: format!("cannot make a Key Vault client for {}: {e}", id.vault()),
        hint: Some("check the vault URL".into()),
        usage: true,
    })
}

/// What a new key is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Hsm,
    Software,
}

/// Creates a new version of the key `id` names (a new key if there is none): RSA of `bits`
/// bits, `sign`/`verify` only, not exportable. HSM-protected when the vault holds HSM keys
/// (premium tier, Managed HSM), else software-protected. Answers the versioned id, the
/// public half and the protection.
pub async fn create(
    client: &KeyClient,
    id: &VaultKeyId,
    bits: u32,
) -> Result<(VaultKeyId, RsaPublic, Protection), RemoteError> {
    let attempt = |kty: KeyType| {
        let params = CreateKeyParameters {
            kty: Some(kty),
            key_size: Some(bits as i32),
            key_ops: Some(vec![
                azure_security_keyvault_keys::models::KeyOperation::Sign,
                azure_security_keyvault_keys::models::KeyOperation::Verify,
            ]),
            key_attributes: Some(KeyAttributes {
                enabled: Some(true),
                exportable: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        async move {
            let body: RequestContent<CreateKeyParameters> = params
                .try_into()
                .map_err(|e: azure_core::Error| explain(e, "create", id))?;
            let response = client
                .create_key(id.name(), body, None)
                .await
                .map_err(|e| (errors::is_no_hsm(&e), explain(e, "create", id)));
            Ok::<_, RemoteError>(response)
        }
    };
    // A standard-tier vault refuses RSA-HSM (Learn, "About keys": HSM-protected keys need
    // the Premium tier); it then gets a software-protected key.
    let (response, protection) = match attempt(KeyType::RsaHsm).await? {
        Ok(r) => (r, Protection::Hsm),
        Err((true, _)) => match attempt(KeyType::Rsa).await? {
            Ok(r) => (r, Protection::Software),
            Err((_, e)) => return Err(e),
        },
        Err((false, e)) => return Err(e),
    };
    let key: Key = response
        .into_model()
        .map_err(|e| explain(e, "create", id))?;
    let (versioned, public) = check_key(id, &key)?;
    Ok((versioned, public, protection))
}

/// Reads the key `id` names (its latest version when `id` has none) and checks that idp
/// can sign with it: RSA of at least 2048 bits, enabled, not exportable, `sign` allowed.
pub async fn adopt(
    client: &KeyClient,
    id: &VaultKeyId,
) -> Result<(VaultKeyId, RsaPublic), RemoteError> {
    let options = KeyClientGetKeyOptions {
        key_version: id.version().map(str::to_owned),
        ..Default::default()
    };
    let key: Key = client
        .get_key(id.name(), Some(options))
        .await
        .and_then(|r| r.into_model())
        .map_err(|e| explain(e, "get", id))?;
    check_key(id, &key)
}

/// The versioned id and public half of `key`, if idp may sign with it.
fn check_key(id: &VaultKeyId, key: &Key) -> Result<(VaultKeyId, RsaPublic), RemoteError> {
    let refuse = |message: String, hint: &str| RemoteError {
        message,
        hint: Some(hint.into()),
        usage: true,
    };
    let jwk: &JsonWebKey = key.key.as_ref().ok_or_else(|| {
        refuse(
            format!("the vault answered no key material for {id}"),
            "check the key id",
        )
    })?;
    match &jwk.kty {
        Some(KeyType::Rsa | KeyType::RsaHsm) => {}
        other => {
            // The vault's words (a key type idp does not know is kept as the vault wrote
            // it): cleaned like every other text from the network.
            let kty = other
                .as_ref()
                .map(|k| errors::clean(k.as_ref()))
                .unwrap_or_else(|| "no key type".into());
            return Err(refuse(
                format!("{id} is not an RSA key ({kty}); Entra verifies RS256 only"),
                "create an RSA key: `idp keys add --key-vault <vault>/keys/<new name>` (without --existing)",
            ));
        }
    }
    let attributes = key.attributes.clone().unwrap_or_default();
    if attributes.exportable == Some(true) {
        return Err(refuse(
            format!(
                "{id} is exportable: its private key can be released from the vault, which is what a vault-held key is meant to rule out"
            ),
            "use a key created with exportable=false (idp creates one: `idp keys add --key-vault <vault>/keys/<new name>`)",
        ));
    }
    if attributes.enabled == Some(false) {
        return Err(refuse(
            format!("{id} is disabled in the vault"),
            "enable it (`az keyvault key set-attributes --enabled true`) or use another key",
        ));
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|o| o == "sign")
    {
        return Err(refuse(
            format!(
                "{id} does not allow the sign operation (key_ops: {})",
                errors::clean(&ops.join(", "))
            ),
            "allow `sign` on the key (`az keyvault key set-attributes --ops sign verify`) or use another key",
        ));
    }
    let (Some(n), Some(e)) = (&jwk.n, &jwk.e) else {
        return Err(refuse(
            format!("the vault answered no RSA modulus or exponent for {id}"),
            "check the key id",
        ));
    };
    let public = RsaPublic::from_be_bytes(n, e);
    if public.bits() < MIN_RSA_BITS {
        return Err(refuse(
            format!(
                "{id} is a {}-bit RSA key; idp needs at least {MIN_RSA_BITS} bits",
                public.bits()
            ),
            "create a 2048-bit or larger key",
        ));
    }
    let kid = jwk.kid.as_deref().unwrap_or_default();
    let answered = VaultKeyId::parse(kid).map_err(|e| RemoteError {
        message: errors::clean(&format!("the vault answered a key id that is not one: {e}")),
        hint: None,
        usage: false,
    })?;
    let shown = errors::clean(kid);
    let Some(version) = answered.version() else {
        return Err(refuse(
            format!("the vault answered the key id {shown} without a version"),
            "check the key id",
        ));
    };
    if !answered.name().eq_ignore_ascii_case(id.name()) {
        return Err(refuse(
            format!("asked for {id}, the vault answered key {shown}"),
            "check the key id",
        ));
    }
    // The vault URL the user gave (its host as configured), at the version answered.
    let versioned = id.with_version(version).map_err(|e| RemoteError {
        message: e.to_string(),
        hint: None,
        usage: false,
    })?;
    if id
        .version()
        .is_some_and(|v| !v.eq_ignore_ascii_case(version))
    {
        return Err(refuse(
            format!("asked for {id}, the vault answered version {version}"),
            "check the key id",
        ));
    }
    Ok((versioned, public))
}

/// Key Vault's answers read as [`create`], [`adopt`] and [`VaultKey`] read them, from
/// bytes instead of a vault: the models the SDK deserialises, then idp's own checks. For
/// the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub mod answers {
    use super::*;
    use azure_core::http::headers::Headers;
    use azure_core::http::{RawResponse, Response, StatusCode};
    use azure_security_keyvault_keys::models::KeyOperationResult;

    fn ok(body: &[u8]) -> RawResponse {
        RawResponse::from_bytes(StatusCode::Ok, Headers::new(), body.to_vec())
    }

    /// A key answer (`GET /keys/{name}`, `POST /keys/{name}/create`) for `id`.
    pub fn key(id: &VaultKeyId, body: &[u8]) -> Result<(VaultKeyId, RsaPublic), RemoteError> {
        let key: Key = Response::<Key>::from(ok(body))
            .into_model()
            .map_err(|e| explain(e, "get", id))?;
        check_key(id, &key)
    }

    /// A sign answer (`POST /keys/{name}/{version}/sign`): the signature.
    pub fn signature(id: &VaultKeyId, body: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let r: KeyOperationResult = Response::<KeyOperationResult>::from(ok(body))
            .into_model()
            .map_err(|e| explain(e, "sign", id))?;
        r.result.ok_or_else(|| RemoteError {
            message: format!("the vault answered no signature for {id}"),
            hint: None,
            usage: false,
        })
    }

    /// A refusal: `status` and its body, explained for `op` on `id`.
    pub fn refusal(status: u16, body: &[u8], op: &str, id: &VaultKeyId) -> RemoteError {
        let status = StatusCode::from(status);
        let e = azure_core::Error::new(
            azure_core::error::ErrorKind::HttpResponse {
                status,
                error_code: None,
                raw_response: Some(Box::new(RawResponse::from_bytes(
                    status,
                    Headers::new(),
                    body.to_vec(),
                ))),
            },
            "the vault answered an error",
        );
        explain(e, op, id)
    }
}

/// A key in Key Vault that signs RS256 over a digest (the vault's `sign` operation).
pub struct VaultKey {
    client: KeyClient,
    id: VaultKeyId,
    location: String,
    unreachable_until: Mutex<Option<Instant>>,
}

impl VaultKey {
    /// The key `id` (with its version) through `client`.
    pub fn new(client: KeyClient, id: VaultKeyId) -> Self {
        Self {
            location: id.to_string(),
            client,
            id,
            unreachable_until: Mutex::new(None),
        }
    }

    async fn sign(&self, digest: [u8; 32]) -> Result<Vec<u8>, RemoteError> {
        if let Some(until) = *self
            .unreachable_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            && Instant::now() < until
        {
            return Err(errors::unreachable(&self.id, None));
        }
        let params = SignParameters {
            algorithm: Some(SignatureAlgorithm::Rs256),
            value: Some(digest.to_vec()),
        };
        let body: RequestContent<SignParameters> = params
            .try_into()
            .map_err(|e: azure_core::Error| explain(e, "sign", &self.id))?;
        let options = KeyClientSignOptions {
            key_version: self.id.version().map(str::to_owned),
            ..Default::default()
        };
        let result = self
            .client
            .sign(self.id.name(), body, Some(options))
            .await
            .and_then(|r| r.into_model());
        match result {
            Ok(r) => r.result.ok_or_else(|| RemoteError {
                message: format!("the vault answered no signature for {}", self.id),
                hint: None,
                usage: false,
            }),
            Err(e) => {
                if errors::is_unreachable(&e) {
                    *self
                        .unreachable_until
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now() + UNREACHABLE_PAUSE);
                }
                Err(explain(e, "sign", &self.id))
            }
        }
    }
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultKey")
            .field("id", &self.location)
            .finish()
    }
}

impl RemoteKey for VaultKey {
    fn sign_sha256(&self, digest: [u8; 32]) -> SignFuture<'_> {
        Box::pin(self.sign(digest))
    }

    fn location(&self) -> &str {
        &self.location
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    const VERSION: &str = "0123456789abcdef0123456789abcdef";

    fn id() -> VaultKeyId {
        VaultKeyId::parse("https://kv.vault.azure.net/keys/signing").unwrap()
    }

    /// A key as the vault answers it, with `n` of `bits` bits.
    fn key(bits: usize, edit: impl FnOnce(&mut serde_json::Value)) -> Key {
        let mut n = vec![0xc5u8; bits / 8];
        n[0] = 0xc5;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let mut v = json!({
            "key": {
                "kid": format!("https://kv.vault.azure.net/keys/signing/{VERSION}"),
                "kty": "RSA-HSM",
                "key_ops": ["sign", "verify"],
                "n": b64(&n),
                "e": b64(&[1, 0, 1]),
            },
            "attributes": {"enabled": true, "exportable": false},
        });
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    fn refused(k: &Key) -> RemoteError {
        check_key(&id(), k).unwrap_err()
    }

    #[test]
    fn a_non_exportable_rsa_key_is_taken_at_the_version_answered() {
        let (versioned, public) = check_key(&id(), &key(2048, |_| {})).unwrap();
        assert_eq!(versioned.version(), Some(VERSION));
        assert_eq!(versioned.vault(), "https://kv.vault.azure.net/");
        assert_eq!(public.bits(), 2048);
        // A software key too, and a key whose operations are not listed.
        check_key(&id(), &key(3072, |v| v["key"]["kty"] = json!("RSA"))).unwrap();
        check_key(&id(), &key(2048, |v| v["key"]["key_ops"] = json!(null))).unwrap();
        check_key(&id(), &key(2048, |v| v["attributes"] = json!(null))).unwrap();
        // The version asked for, answered.
        let pinned = id().with_version(VERSION).unwrap();
        assert_eq!(check_key(&pinned, &key(2048, |_| {})).unwrap().0, pinned);
    }

    #[test]
    fn what_idp_must_not_sign_with_is_refused_as_the_users_to_fix() {
        for (k, says) in [
            (
                key(2048, |v| v["key"]["kty"] = json!("EC-HSM")),
                "not an RSA key (EC-HSM)",
            ),
            (
                key(2048, |v| v["key"]["kty"] = json!(null)),
                "not an RSA key (no key type)",
            ),
            (
                key(2048, |v| v["attributes"]["exportable"] = json!(true)),
                "is exportable",
            ),
            (
                key(2048, |v| v["attributes"]["enabled"] = json!(false)),
                "is disabled",
            ),
            (
                key(2048, |v| v["key"]["key_ops"] = json!(["verify", "encrypt"])),
                "does not allow the sign operation (key_ops: verify, encrypt)",
            ),
            (key(1024, |_| {}), "1024-bit RSA key"),
            (key(2048, |v| v["key"]["n"] = json!(null)), "no RSA modulus"),
            (key(2048, |v| v["key"] = json!(null)), "no key material"),
        ] {
            let e = refused(&k);
            assert!(e.message.contains(says), "{says}: {}", e.message);
            assert!(e.usage, "{says}");
            assert!(e.hint.is_some(), "{says}");
        }
    }

    #[test]
    fn a_vault_key_names_itself_by_its_versioned_id() {
        #[derive(Debug)]
        struct Never;
        #[async_trait::async_trait]
        impl TokenCredential for Never {
            async fn get_token(
                &self,
                _: &[&str],
                _: Option<azure_core::credentials::TokenRequestOptions<'_>>,
            ) -> azure_core::Result<azure_core::credentials::AccessToken> {
                unreachable!("no request is sent")
            }
        }
        let versioned = id().with_version(VERSION).unwrap();
        let http = idp_http::client(&Default::default(), Default::default()).unwrap();
        let c = client(http, &versioned, Arc::new(Never)).unwrap();
        let key = VaultKey::new(c, versioned.clone());
        assert_eq!(key.location(), versioned.to_string());
        assert!(format!("{key:?}").contains(&versioned.to_string()));
    }

    /// Found by fuzzing (fuzz/fuzz_targets/vault_answers.rs): the vault's own words in a
    /// refusal (its key_ops, a key type idp does not know, the key id it answered) were
    /// repeated as they came, a `sig=` value or a token and line breaks included.
    #[test]
    fn the_vaults_words_are_cleaned_before_they_are_repeated() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
        for k in [
            key(2048, |v| {
                v["key"]["key_ops"] = json!(["SLH-DSA-SHA1-128sig=sign", "verify\nforged line"])
            }),
            key(2048, |v| {
                v["key"]["kty"] = json!(format!("{jwt}\r\nforged line"))
            }),
            key(2048, |v| {
                v["key"]["kid"] = json!(format!("https://kv.vault.azure.net/keys/other/{jwt}\n"))
            }),
            key(2048, |v| {
                v["key"]["kid"] = json!(format!("https://kv.vault.azure.net/keys/other?sig=abc\n"))
            }),
        ] {
            let e = refused(&k);
            assert!(!e.message.contains("eyJ"), "{}", e.message);
            assert!(!e.message.contains("sig=sign"), "{}", e.message);
            assert!(!e.message.contains("sig=abc"), "{}", e.message);
            assert!(!e.message.contains(['\n', '\r']), "{:?}", e.message);
        }
    }

    #[test]
    fn an_answer_for_another_key_or_version_is_refused() {
        let other = key(2048, |v| {
            v["key"]["kid"] = json!(format!("https://kv.vault.azure.net/keys/other/{VERSION}"))
        });
        assert!(refused(&other).message.contains("answered key"));
        let unversioned = key(2048, |v| {
            v["key"]["kid"] = json!("https://kv.vault.azure.net/keys/signing")
        });
        assert!(refused(&unversioned).message.contains("without a version"));
        let pinned = id().with_version(&"f".repeat(32)).unwrap();
        let e = check_key(&pinned, &key(2048, |_| {})).unwrap_err();
        assert!(e.message.contains("answered version"), "{}", e.message);
        let garbage = key(2048, |v| v["key"]["kid"] = json!("not a url"));
        assert!(!refused(&garbage).usage);
    }
}
