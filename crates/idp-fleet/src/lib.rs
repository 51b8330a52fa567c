//! Many customers. A publisher has one managed-app deployment per customer, each with its
//! own tenant, user-assigned managed identity (UAMI) and federated credential (FIC);
//! [`inventory`] keeps them in `customers.toml`, so that `idp token --customer NAME` needs no
//! ids typed by hand.
//!
//! ```
//! use idp_fleet::inventory::{Customer, Inventory};
//! let mut inv = Inventory::default();
//! inv.add("contoso", Customer::new(
//!     "72f988bf-86f1-41af-91ab-2d7cd011db47",
//!     "6ba7b810-9dad-41d1-80b4-00c04fd430c8",
//!     "contoso-prod",
//! )).unwrap();
//! assert_eq!(inv.get("contoso").unwrap().subject, "contoso-prod");
//! ```

pub mod arm;
pub mod inventory;
pub mod mint;
