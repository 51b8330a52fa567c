//! Publishing an issuer (`idp publish-metadata`): where the documents go in Azure Blob
//! Storage ([`target`]), what a publish changes ([`plan`]), and (with the storage client)
//! the conditional uploads and the anonymous readback Entra's fetch depends on.
//!
//! ```
//! use idp_core::Issuer;
//! use idp_publish::target::Target;
//! let t = Target::from_issuer(&Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap()).unwrap();
//! assert_eq!(t.container, "oidc");
//! assert_eq!(t.blob_name(".well-known/openid-configuration"), ".well-known/openid-configuration");
//! ```

/// Largest document idp reads from storage or from the issuer URL (a 100-key 4096-bit JWKS
/// is about 75 KB): anything larger is refused, not read whole.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

pub mod credential;
pub mod doctor;
pub mod plan;
pub mod publish;
pub mod readback;
pub mod sas;
pub mod storage;
pub mod target;
