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

pub mod plan;
pub mod target;

// Notes for the storage client (azure_storage_blob 1.1, verified against Azurite):
// - default features pull reqwest's aws-lc-rs TLS; use default-features = false with
//   azure_core features ["reqwest", "tokio"] and pass our own reqwest 0.13 client (ring,
//   extra CAs via tls_certs_merge) as ClientOptions.transport, or the SDK builds its own
//   and panics without a process-wide rustls provider;
// - RetryOptions::none() in tests, RetryOptions::exponential(..) bounded in production;
// - BlobClientUploadOptions { blob_content_type, blob_cache_control, if_match,
//   if_none_match } in one Put Blob; errors carry ErrorKind::HttpResponse { status,
//   error_code } (x-ms-error-code); PublicAccessNotPermitted arrives as an unknown code;
// - a service URL must not end in `/` (it gives `//container`).
