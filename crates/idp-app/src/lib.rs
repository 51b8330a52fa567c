//! What idp's commands do, as functions over typed inputs that return typed results: the
//! binary resolves its settings, calls one of these, and renders what comes back.
//!
//! - [`context`]: what one process holds, built once: runtime, HTTPS client, credentials,
//!   keystore and active signer, audit log, Resource Manager clients per cloud;
//! - [`credentials`]: one Azure credential chain for storage, Resource Manager and Key
//!   Vault, with each service's token file;
//! - [`managed_identity`]: the machine's managed identity's token, the `entra-app` way's
//!   assertion;
//! - [`select`]: whom a command acts for (one customer, several, all, a shard, or ids);
//! - [`fanout`]: the one bounded fan-out over many customers;
//! - [`exchange`]: the token exchange for one customer or many, sharing one throttle;
//! - [`broker`]: the runs of `exec`, `env` and `serve-assertions`;
//! - [`rotation`] and [`keys`]: key rotation and new keys;
//! - [`doctor`]: the checks of a Key Vault key and of customers;
//! - [`arm`]: reading a customer's identity, and `listTokens`;
//! - [`publish`]: how publish-metadata authenticates to storage.
//!
//! ```
//! use idp_app::select::{Selection, from_flags};
//! let s = from_flags(Some("contoso".into()), vec![], false, None, None, None).unwrap();
//! assert_eq!(s, Selection::One("contoso".into()));
//! ```

pub mod arm;
pub mod broker;
pub mod config_file;
pub mod context;
pub mod credentials;
pub mod doctor;
pub mod exchange;
pub mod fanout;
pub mod keys;
pub mod managed_identity;
pub mod publish;
pub mod rotation;
pub mod select;

pub use context::Context;
