//! Every `scripts/bench-*.sh` in its smoke mode (`SMOKE=1`: a few requests, one run) with
//! the binary under test, so a benchmark cannot rot unseen: it must exit 0 and end with its
//! own summary line (`<name>: …`). The figures themselves are not judged here (speed is
//! measured by running the scripts in full, never asserted in tests).

use std::path::PathBuf;
use std::time::Instant;

fn scripts() -> Vec<PathBuf> {
    let dir = idp_testkit::repo_root().join("scripts");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bench-") && n.ends_with(".sh"))
        })
        .collect();
    found.sort();
    found
}

/// Runs `scripts/bench-<name>.sh` in smoke mode; its last stdout line must be `<name>: …`.
fn smoke(name: &str) {
    let script = idp_testkit::repo_root().join(format!("scripts/bench-{name}.sh"));
    let mut c = std::process::Command::new(&script);
    idp_testkit::isolate(&mut c);
    let started = Instant::now();
    let out = c
        .env("SMOKE", "1")
        .env("IDP_BIN", env!("CARGO_BIN_EXE_idp"))
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!(
        "bench-{name}.sh in {:.1}s\n{o}{e}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(out.status.code(), Some(0), "bench-{name}.sh failed:\n{e}");
    let last = o
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        last.starts_with(&format!("{name}: ")),
        "bench-{name}.sh lost its last line; it ends with {last:?}"
    );
}

/// Each script has its smoke test below, so a new one cannot be left out.
#[test]
fn every_benchmark_has_a_smoke_test() {
    let names: Vec<String> = scripts()
        .iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap();
            stem.trim_start_matches("bench-").to_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["assertions", "fleet", "serve", "sign", "token", "vault"]
    );
}

#[test]
fn bench_assertions_runs() {
    smoke("assertions");
}

#[test]
fn bench_fleet_runs() {
    smoke("fleet");
}

#[test]
fn bench_serve_runs() {
    smoke("serve");
}

#[test]
fn bench_sign_runs() {
    smoke("sign");
}

#[test]
fn bench_token_runs() {
    smoke("token");
}

#[test]
fn bench_vault_runs() {
    smoke("vault");
}
