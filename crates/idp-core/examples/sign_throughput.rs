//! In-process RS256 assertion signing throughput, for `scripts/bench-sign.sh`.
//!
//! `cargo run --release -p idp-core --example sign_throughput -- <bits> <seconds>`
//! prints `signs_per_sec <n>`: whole assertions (claims JSON, base64url, RS256) with one key
//! loaded once, as a pipeline minting tokens for many customers would.

use idp_core::Issuer;
use idp_core::assertion::{self, AssertionSpec, Audience, Lifetime, PrivateClaims, Subject};
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let bits: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2048);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let key = idp_core::keys::generate(bits)
        .and_then(|k| k.into_signing_key(Path::new("bench")))
        .expect("key");
    let spec = AssertionSpec {
        issuer: Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap(),
        subject: Subject::parse("customer-0001").unwrap(),
        audience: Audience::default(),
        lifetime: Lifetime::default(),
        claims: PrivateClaims::default(),
    };
    // Warm up, then count whole assertions for the given time.
    for _ in 0..20 {
        std::hint::black_box(assertion::sign(&spec, &key, 1_800_000_000, "warmup"));
    }
    let budget = Duration::from_secs(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        let jti = assertion::random_jti();
        std::hint::black_box(assertion::sign(&spec, &key, 1_800_000_000 + n as i64, &jti));
        n += 1;
    }
    println!(
        "signs_per_sec {:.1}",
        n as f64 / start.elapsed().as_secs_f64()
    );
}
