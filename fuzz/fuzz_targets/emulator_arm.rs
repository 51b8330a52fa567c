//! The Entra emulator's ARM, Graph and Key Vault request handling (idp-emulator's
//! `arm_routes`, `graph_routes`, `vault_routes`): a sequence of requests to a fresh
//! emulator, through its router in process.
//!
//! Input: requests separated by a line `===`, each `METHOD target`, header lines, a blank
//! line, the body. Placeholders `$SUB`, `$TENANT`, `$PTENANT`, `$CLIENT`, `$ARM`,
//! `$GRAPH`, `$PGRAPH` stand for the subscription, the tenants, the identity's client id
//! and bearer tokens the emulator accepts (see `idp_fuzz::emulator::fill`).
//!
//! Properties: no panic, and no 5xx but the 429/503 the emulator documents for injected
//! faults (`POST /_emulator/faults`), after such an injection; a refused change leaves the
//! registry as it was (the emulator asserts it in builds with debug assertions, as here).
#![no_main]

use idp_fuzz::emulator::{fill, fresh, send};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let emu = fresh();
    let mut faults = false;
    for request in text.split("\n===\n").take(16) {
        let request = fill(&emu, request);
        let Some((status, _body)) = send(&emu, &request) else {
            continue;
        };
        if request.starts_with("POST /_emulator/faults") && status.is_success() {
            faults = true;
        }
        let documented = faults && matches!(status.as_u16(), 429 | 503);
        assert!(
            !status.is_server_error() || documented,
            "{status} for {request:?}"
        );
    }
});
