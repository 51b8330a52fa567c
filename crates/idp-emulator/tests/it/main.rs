//! The emulator checked code by code, in one test binary: `token` the token endpoint's
//! checks in Entra's order, `arm` the identity API's rules, `vault` Key Vault's control and
//! data planes, `applications` managed applications and listTokens, `discovery` its own
//! metadata, `entra_app` the publisher's tenant (machine identities, Graph, admin consent,
//! Entra-issued assertions, Azure Policy). `common` is the shared support.

mod applications;
mod arm;
mod common;
mod discovery;
mod entra_app;
mod token;
mod vault;
