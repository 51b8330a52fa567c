//! The token exchange: a client assertion signed by idp, posted to
//! `{authority}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, for the
//! access token of the managed identity whose FIC trusts idp's issuer.
//!
//! The protocol core is pure and tested on its own: [`request::form`] builds the form,
//! [`response::parse`] reads Entra's answer (token or error), [`explain::explain`] turns an
//! AADSTS code into what it means and what to check, with the values at stake, and
//! [`retry::decide`] says what is worth retrying. [`client::exchange`] joins them over HTTP.
//!
//! ```
//! use idp_exchange::response::{parse, Parsed};
//! let body = br#"{"error":"invalid_client","error_description":"AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://x'.","error_codes":[700211]}"#;
//! let Parsed::Error(e) = parse(401, None, body) else { panic!() };
//! assert_eq!(e.code(), Some(700211));
//! ```

pub mod client;
pub mod explain;
pub mod request;
pub mod response;
pub mod retry;

/// Assertions and access tokens travel as idp's secret string: `Debug` shows nothing, and
/// the value is wiped on drop.
pub use idp_core::secret::SecretString as Secret;
