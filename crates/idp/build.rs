//! Links the `idp` executable without PIE on Linux, unless `IDP_PIE=1` at build time.
//!
//! Why: `idp sign` is often one process per assertion, and a position-independent `idp`
//! spends about 0.5 ms of its 2.3 ms at start-up relocating itself (37,000 relative
//! relocations; about 190 pages of pointer tables, most of them the statically linked
//! OpenSSL's, copied on write), measured by `scripts/bench-sign.sh`. The cost of the choice:
//! the executable's own code and data load at a fixed address (shared libraries, heap and
//! stack stay randomised), which weakens one defence against exploiting a memory-safety bug.
//! Build with `IDP_PIE=1 cargo build --release` to trade the start-up time back for that.

fn main() {
    println!("cargo:rerun-if-env-changed=IDP_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let pie = std::env::var("IDP_PIE").is_ok_and(|v| v == "1");
    if linux && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
