//! The `idp` binary as users run it, in one test binary (its helpers compile once):
//! `cli` every command's refusals, exit codes and files; `publish` publish-metadata on
//! Azurite; `serve` the issuer's documents; `token` the exchange at the emulator;
//! `exec` the broker with unchanged SDKs and CI toolkits; `data_plane` and `key_vault`
//! Key Vault; `customer_side` the FIC forms and the managed-app package replayed into the
//! emulator; `entra_app` the article's third way (the publisher's app trusting its managed
//! identity); `quickstart` the README's first command. `flow` is the shared setup.

mod az;
mod benchmarks;
mod cli;
mod customer_side;
mod data_plane;
mod drift;
mod entra_app;
mod exec;
mod flow;
mod key_vault;
mod publish;
mod quickstart;
mod sandbox;
mod serve;
mod terraform;
mod token;
