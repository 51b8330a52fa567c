//! The pure core of `idp`: everything that decides what an OIDC issuer for Microsoft Entra
//! workload identity federation publishes and signs. No network: a key held in a vault
//! signs through [`signer::RemoteKey`], which the caller implements.
//!
//! - [`Issuer`] holds the exact issuer string. The `iss` claim, the discovery document's
//!   `issuer` and the value a federated identity credential (FIC) must carry are all this one
//!   string, byte for byte.
//! - [`keys`] loads and generates RSA signing keys; a key's `kid` is its RFC 7638 thumbprint.
//! - [`keyring`] keeps the keys' rotation states on disk (next → active → retiring → retired).
//! - [`metadata`] renders `.well-known/openid-configuration` and the JWKS, deterministically.
//! - [`assertion`] builds and signs the RS256 client assertion Entra exchanges for a token.
//! - [`inspect`] decodes an assertion and says which check fails and why.
//!
//! ```
//! use idp_core::Issuer;
//! let issuer = Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap();
//! assert_eq!(
//!     issuer.discovery_url(),
//!     "https://acct.blob.core.windows.net/oidc/.well-known/openid-configuration"
//! );
//! ```

pub mod assertion;
pub mod audit;
pub mod azure_id;
pub mod cloud;
pub mod diagnostic;
pub mod duration;
pub mod fsutil;
pub mod inspect;
pub mod issuer;
pub mod keyring;
pub mod keys;
pub mod metadata;
pub mod secret;
pub mod signer;
pub mod text;
pub mod vault_key;

pub use issuer::Issuer;

/// The audience Entra expects in the global cloud.
pub const AUDIENCE_GLOBAL: &str = "api://AzureADTokenExchange";
/// The audience Entra expects in Azure US Government.
pub const AUDIENCE_USGOV: &str = "api://AzureADTokenExchangeUSGov";
/// The audience Entra expects in Azure operated by 21Vianet (China).
pub const AUDIENCE_CHINA: &str = "api://AzureADTokenExchangeChina";
/// Every audience a federated identity credential on a managed identity may carry.
pub const KNOWN_AUDIENCES: [&str; 3] = [AUDIENCE_GLOBAL, AUDIENCE_USGOV, AUDIENCE_CHINA];

/// Entra's limit on issuer, subject and audience strings in a FIC.
pub const FIC_VALUE_MAX_CHARS: usize = 600;
