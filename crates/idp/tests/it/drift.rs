//! Rules that used to be written once per command and had drifted apart, each held to one
//! answer for every command: cloud names, the tenant's form, the empty inventory, a bad
//! Cache-Control, warnings said once, the token folder made when missing.

use crate::sandbox::{ISSUER, Sandbox};
use std::os::unix::fs::PermissionsExt;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
/// An authority nothing listens on: whatever is refused is refused before the network.
const NOWHERE: &str = "https://127.0.0.1:9";

fn run(s: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let out = s.idp(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn add(s: &Sandbox, name: &str, extra: &[&str]) {
    let mut args = vec![
        "customers",
        "add",
        name,
        "--tenant",
        TENANT,
        "--client-id",
        CLIENT,
        "--subject",
        name,
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run(s, &args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_cloud_is_known_by_the_same_names_everywhere() {
    let s = Sandbox::init(ISSUER);
    // `--cloud AzureUSGovernment` is a name `idp token` takes; the inventory takes it too,
    // and records idp's own name for it.
    for (name, cloud) in [
        ("gov", "AzureUSGovernment"),
        ("cn", "AzureChinaCloud"),
        ("pub", "AzureCloud"),
    ] {
        add(&s, name, &["--cloud", cloud]);
    }
    let shown: serde_json::Value =
        serde_json::from_str(&s.stdout(&["customers", "show", "gov"])).unwrap();
    assert_eq!(shown["cloud"], "usgov");
    let (code, _, err) = run(
        &s,
        &[
            "customers",
            "add",
            "x",
            "--tenant",
            TENANT,
            "--client-id",
            CLIENT,
            "--subject",
            "x",
            "--cloud",
            "AzureGermanCloud",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown cloud `AzureGermanCloud`"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("AzureUSGovernment"),
        "{err}"
    );
}

#[test]
fn every_command_takes_a_verified_domain_as_the_tenant() {
    let s = Sandbox::init(ISSUER);
    let domain = "contoso.onmicrosoft.com";
    let (code, out, err) = run(
        &s,
        &[
            "exec",
            "--tenant",
            domain,
            "--client-id",
            CLIENT,
            "--subject",
            "s",
            "--",
            "sh",
            "-c",
            "printf %s \"$AZURE_TENANT_ID\"",
        ],
    );
    assert_eq!((code, out.as_str()), (0, domain), "{err}");
    let (code, out, err) = run(
        &s,
        &[
            "env",
            "--tenant",
            domain,
            "--client-id",
            CLIENT,
            "--subject",
            "s",
            "--format",
            "json",
            "--out",
            "a.jwt",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(domain), "{out}");
    // idp token sends it (and fails only at the network here).
    let (code, _, err) = run(
        &s,
        &[
            "token",
            "--tenant",
            domain,
            "--client-id",
            CLIENT,
            "--subject",
            "s",
            "--scope",
            "https://vault.azure.net/.default",
            "--authority-host",
            NOWHERE,
        ],
    );
    assert_eq!(code, 1, "{err}");
    // What no command takes: a tenant with a path or spaces in it.
    for bad in ["contoso/x", "a tenant"] {
        for cmd in [&["exec"][..], &["env"][..]] {
            let mut args = cmd.to_vec();
            args.extend(["--tenant", bad, "--client-id", CLIENT, "--subject", "s"]);
            if cmd == ["exec"] {
                args.extend(["--", "true"]);
            }
            let (code, _, err) = run(&s, &args);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }
}

#[test]
fn an_empty_inventory_is_one_error_for_every_command() {
    let s = Sandbox::init(ISSUER);
    let mut seen = Vec::new();
    for args in [
        &["token", "--all"][..],
        &["exec", "--all", "--", "true"][..],
        &["doctor", "--all"][..],
    ] {
        let (code, _, err) = run(&s, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("has no customers"), "{args:?}: {err}");
        assert!(
            err.contains("hint: add customers with `idp customers add"),
            "{err}"
        );
        seen.push(err);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
}

#[test]
fn a_bad_cache_control_is_a_usage_error_for_serve_as_for_publish() {
    let s = Sandbox::init(ISSUER);
    for args in [
        &["serve", "--cache-control", "public,\nmax-age=1"][..],
        &["publish-metadata", "--cache-control", "public,\nmax-age=1"][..],
    ] {
        let (code, _, err) = run(&s, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("visible ASCII and spaces"), "{args:?}: {err}");
        assert!(err.contains("hint:"), "{args:?}: {err}");
    }
}

#[test]
fn a_custom_audience_is_warned_of_once_however_many_customers() {
    let s = Sandbox::init(ISSUER);
    for name in ["a", "b", "c"] {
        add(&s, name, &["--scope", "https://vault.azure.net/.default"]);
    }
    let (code, _, err) = run(
        &s,
        &[
            "token",
            "--all",
            "--audience",
            "api://custom",
            "--authority-host",
            NOWHERE,
            "--retries",
            "0",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.matches("warning: audience `api://custom`").count(),
        1,
        "{err}"
    );
}

#[test]
fn token_all_makes_its_out_dir_private_when_it_is_missing() {
    let s = Sandbox::init(ISSUER);
    add(&s, "a", &["--scope", "https://vault.azure.net/.default"]);
    let (code, out, err) = run(
        &s,
        &[
            "token",
            "--all",
            "--out-dir",
            "tokens/today",
            "--authority-host",
            NOWHERE,
            "--retries",
            "0",
        ],
    );
    // The exchange fails (nothing listens), but not for want of a folder.
    assert_eq!(code, 1, "{out}{err}");
    assert!(!err.contains("is not a folder"), "{err}");
    let dir = s.path().join("tokens/today");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // A file where the folder should be is still refused, and left alone.
    std::fs::write(s.path().join("file"), "x").unwrap();
    let (code, _, err) = run(
        &s,
        &[
            "token",
            "--all",
            "--out-dir",
            "file",
            "--authority-host",
            NOWHERE,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    assert_eq!(std::fs::read(s.path().join("file")).unwrap(), b"x");
}

#[test]
fn shards_split_the_fleet_each_customer_on_exactly_one_runner() {
    let s = Sandbox::init(ISSUER);
    let names: Vec<String> = (0..9).map(|i| format!("c{i}")).collect();
    for n in &names {
        add(&s, n, &[]);
    }
    let (code, out, err) = run(
        &s,
        &[
            "customers",
            "list",
            "--format",
            "github-matrix",
            "--shards",
            "3",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let matrix: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [{"shard": "1/3"}, {"shard": "2/3"}, {"shard": "3/3"}]})
    );
    let mut ran = Vec::new();
    for entry in matrix["include"].as_array().unwrap() {
        let shard = entry["shard"].as_str().unwrap();
        let (code, out, err) = run(
            &s,
            &[
                "exec",
                "--all",
                "--shard",
                shard,
                "--",
                "sh",
                "-c",
                "printf '%s\\n' \"$IDP_CUSTOMER\"",
            ],
        );
        assert_eq!(code, 0, "{shard}: {err}");
        ran.extend(out.lines().map(str::to_owned));
    }
    ran.sort();
    assert_eq!(ran, names, "every customer once, across the shards");
    // What a shard cannot be.
    for bad in [
        &["exec", "--all", "--shard", "4/3", "--", "true"][..],
        &["exec", "--customer", "c1", "--shard", "1/2", "--", "true"][..],
    ] {
        let (code, _, err) = run(&s, bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("--shard") && err.contains("hint:"), "{err}");
    }
    let (code, _, err) = run(&s, &["customers", "list", "--format", "github-matrix"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--shards"), "{err}");
}
