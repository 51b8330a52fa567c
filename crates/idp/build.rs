//! Links the `idp` executable without PIE on Linux (glibc, dynamically linked), unless
//! `IDP_PIE=1` at build time.
//!
//! Why: `idp sign` is often one process per assertion, and a position-independent `idp`
//! spends about 0.4 ms of its 2.2 ms at start-up relocating itself (37,000 relative
//! relocations; about 190 pages of pointer tables, most of them the statically linked
//! OpenSSL's, copied on write), measured by `scripts/bench-sign.sh`. The cost of the choice:
//! the executable's own code and data load at a fixed address (shared libraries, heap and
//! stack stay randomised), which weakens one defence against exploiting a memory-safety bug.
//! Build with `IDP_PIE=1 cargo build --release -p idp` to trade the start-up time back.
//! Static (`+crt-static`) and musl builds are left as rustc makes them (static PIE).

fn main() {
    println!("cargo:rerun-if-env-changed=IDP_PIE");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let glibc = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let pie = var("IDP_PIE") == "1";
    if glibc && !static_crt && !pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
