//! The `idp` binary as a user runs it: every command, every refusal, exit codes, and files.

use crate::sandbox::{ISSUER, Sandbox};
use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use idp_testkit::stdout_of;
use predicates::str::contains;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64URL.decode(part).unwrap()).unwrap()
}

#[test]
fn init_writes_config_and_a_private_key_readable_only_by_its_owner() {
    let s = Sandbox::init(ISSUER);
    let config = std::fs::read_to_string(s.path().join("idp.toml")).unwrap();
    assert!(config.contains(&format!("issuer = \"{ISSUER}\"")));
    let key = s.active_key_file();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    // The kid is the file name and the RFC 7638 thumbprint of the published key,
    // recomputed here from `n` and `e` (RFC 7638 §3.2: members e, kty, n; no whitespace).
    let jwks = s.jwks();
    let jwk = &jwks["keys"][0];
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        jwk["e"].as_str().unwrap(),
        jwk["n"].as_str().unwrap()
    );
    let digest = <sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes());
    let thumbprint = B64URL.encode(digest);
    assert_eq!(jwk["kid"], thumbprint.as_str());
    assert!(key.ends_with(format!("{thumbprint}.pem")));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let s = Sandbox::init(ISSUER);
    s.refuses(
        &["init", "--issuer", ISSUER, "--key-size", "2048"],
        "already exists",
    );
    let old = s.kids();
    s.idp(&[
        "init",
        "--issuer",
        "https://other.example/x",
        "--key-size",
        "2048",
        "--force",
    ])
    .assert()
    .success();
    assert_ne!(s.kids(), old);
}

#[test]
fn init_prints_the_trailing_slash_rule() {
    let s = Sandbox::new();
    s.idp(&[
        "init",
        "--issuer",
        "https://h.example/c/",
        "--key-size",
        "2048",
    ])
    .assert()
    .success()
    .stdout(contains(
        "exactly `https://h.example/c/`, with the trailing slash",
    ));
}

#[test]
fn iss_discovery_issuer_and_config_are_byte_identical() {
    for issuer in [ISSUER, "https://acct.blob.core.windows.net/oidc/"] {
        let s = Sandbox::init(issuer);
        let config: toml::Value =
            toml::from_str(&std::fs::read_to_string(s.path().join("idp.toml")).unwrap()).unwrap();
        let discovery: Value =
            serde_json::from_str(&s.stdout(&["metadata", "--only", "discovery"])).unwrap();
        let token = s.stdout(&["sign", "--subject", "s"]);
        let iss = claims_of(token.trim())["iss"].as_str().unwrap().to_owned();
        assert_eq!(
            config["issuer"].as_str().unwrap().as_bytes(),
            issuer.as_bytes()
        );
        assert_eq!(
            discovery["issuer"].as_str().unwrap().as_bytes(),
            issuer.as_bytes()
        );
        assert_eq!(iss.as_bytes(), issuer.as_bytes());
        assert_eq!(
            discovery["jwks_uri"],
            "https://acct.blob.core.windows.net/oidc/.well-known/jwks.json"
        );
    }
}

/// The token verifies with an independent JWT implementation (jsonwebtoken, RustCrypto RSA)
/// against the JWKS that `idp metadata` renders.
#[test]
fn signed_token_verifies_with_jsonwebtoken_against_the_rendered_jwks() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let s = Sandbox::init(ISSUER);
    let token = s.stdout(&["sign", "--subject", "customer-42", "--claim", "tier=gold"]);
    let token = token.trim_end();
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(s.jwks()).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&["api://AzureADTokenExchange"]);
    v.sub = Some("customer-42".into());
    v.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
    v.validate_nbf = true;
    let data = decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap();
    let c = data.claims;
    assert_eq!(c["tier"], "gold");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 600);
    assert_eq!(c["iat"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(), 60);
    assert!(c["jti"].as_str().unwrap().len() >= 16);

    // A second token has a different jti.
    let other = s.stdout(&["sign", "--subject", "customer-42"]);
    assert_ne!(claims_of(other.trim())["jti"], c["jti"]);
}

#[test]
fn sovereign_audiences_and_lifetimes_are_accepted() {
    let s = Sandbox::init(ISSUER);
    for aud in [
        "api://AzureADTokenExchangeUSGov",
        "api://AzureADTokenExchangeChina",
    ] {
        let t = s.stdout(&[
            "sign",
            "--subject",
            "s",
            "--audience",
            aud,
            "--lifetime",
            "1h30m",
        ]);
        let c = claims_of(t.trim());
        assert_eq!(c["aud"], aud);
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            5400
        );
    }
    let t = s.stdout(&["sign", "--subject", "s", "--lifetime", "24h"]);
    let c = claims_of(t.trim());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        86_400
    );
}

#[test]
fn sign_out_writes_a_0600_file_without_trailing_newline() {
    let s = Sandbox::init(ISSUER);
    s.idp(&["sign", "--subject", "s", "--out", "token.jwt"])
        .assert()
        .success()
        .stdout("");
    let p = s.path().join("token.jwt");
    let t = std::fs::read_to_string(&p).unwrap();
    assert!(!t.ends_with('\n'));
    assert_eq!(t.split('.').count(), 3);
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    s.idp(&["inspect", t.as_str()]).assert().success();
}

/// `sign --out` somewhere it cannot write is the user's to fix: exit 2, what is wrong once,
/// what to do, and nothing signed or written.
#[test]
fn sign_out_into_a_missing_folder_or_onto_a_folder_says_what_to_do() {
    let s = Sandbox::init(ISSUER);
    std::fs::create_dir(s.path().join("d")).unwrap();
    for (out, said, hint) in [
        (
            "nope/t.jwt",
            "error: could not write nope/t.jwt: folder nope does not exist\n",
            "hint: create the folder nope first",
        ),
        (
            "d",
            "error: could not write d: d is a folder\n",
            "hint: d is a folder: name a file path (a file in it, like d/assertion.jwt)",
        ),
    ] {
        let out = s
            .idp(&["sign", "--subject", "s", "--out", out])
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.starts_with(said), "{stderr}");
        assert!(
            !stderr.contains("caused by"),
            "the cause is said once: {stderr}"
        );
        assert!(stderr.contains(hint), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert!(!s.path().join("nope").exists());
    assert_eq!(std::fs::read_dir(s.path().join("d")).unwrap().count(), 0);
}

#[test]
fn rotation_publishes_next_keeps_retiring_and_drops_retired() {
    let s = Sandbox::init(ISSUER);
    let first = s.kids().remove(0);
    s.idp(&["keys", "add", "--key-size", "2048"])
        .assert()
        .success();
    let kids = s.kids();
    assert_eq!(kids.len(), 2);
    let second = kids.iter().find(|k| **k != first).unwrap().clone();
    // Still signing with the first key.
    let t = s.stdout(&["sign", "--subject", "s"]);
    assert!(
        s.stdout(&["inspect", t.trim()])
            .contains(&format!("`{first}` (active)"))
    );

    // The issuer here is not reachable, so only --force activates, and says what it risks.
    s.idp(&["keys", "activate", &second])
        .assert()
        .code(1)
        .stderr(contains("cannot read the published JWKS"))
        .stderr(contains("--force"));
    s.idp(&["keys", "activate", &second, "--force"])
        .assert()
        .success()
        .stderr(contains("--force: not checking that Entra can see key"));
    let ring = s.keyring();
    let state = |kid: &str| {
        ring["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&first), "retiring");
    assert_eq!(state(&second), "active");
    assert_eq!(
        s.kids(),
        vec![second.clone(), first.clone()],
        "active first, retiring kept"
    );
    let t = s.stdout(&["sign", "--subject", "s"]);
    let header: Value =
        serde_json::from_slice(&B64URL.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], second.as_str());

    s.refuses(&["keys", "retire", &second], "is the active key");
    // Assertions the first key signed a moment ago are still valid: retiring it now is
    // refused, and forced with a warning. A unique prefix is enough.
    s.refuses(
        &["keys", "retire", &first[..8]],
        "retiring it before then makes them fail",
    );
    s.idp(&["keys", "retire", &first[..8], "--force"])
        .assert()
        .success()
        .stderr(contains("may still be valid"));
    assert_eq!(s.kids(), vec![second.clone()]);
    s.refuses(&["keys", "activate", &first], "is retired");
    let list = s.stdout(&["keys", "list"]);
    assert!(list.contains("retired") && list.contains("active"));
}

#[test]
fn concurrent_key_commands_do_not_corrupt_the_keyring() {
    let s = Sandbox::init(ISSUER);
    let children: Vec<_> = (0..4)
        .map(|_| {
            idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), s.path())
                .args(["keys", "add", "--key-size", "2048"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(s.keyring()["keys"].as_array().unwrap().len(), 5);
    assert_eq!(s.kids().len(), 5);
}

#[test]
fn metadata_out_writes_the_published_paths_deterministically() {
    let s = Sandbox::init(ISSUER);
    s.idp(&["metadata", "--out", "site"]).assert().success();
    let d1 = std::fs::read(s.path().join("site/.well-known/openid-configuration")).unwrap();
    let j1 = std::fs::read(s.path().join("site/.well-known/jwks.json")).unwrap();
    s.idp(&["metadata", "--out", "site"]).assert().success();
    assert_eq!(
        d1,
        std::fs::read(s.path().join("site/.well-known/openid-configuration")).unwrap()
    );
    assert_eq!(
        j1,
        std::fs::read(s.path().join("site/.well-known/jwks.json")).unwrap()
    );
    assert_eq!(
        s.stdout(&["metadata", "--only", "jwks"]).as_bytes(),
        j1.as_slice()
    );
    let both = s.stdout(&["metadata"]);
    assert!(
        both.contains("==> .well-known/openid-configuration <==")
            && both.contains("==> .well-known/jwks.json <==")
    );
    // A custom JWKS path moves both the file and jwks_uri.
    s.idp(&[
        "metadata",
        "--out",
        "site2",
        "--jwks-path",
        "openid/v1/jwks",
    ])
    .assert()
    .success();
    let d: Value = serde_json::from_slice(
        &std::fs::read(s.path().join("site2/.well-known/openid-configuration")).unwrap(),
    )
    .unwrap();
    assert_eq!(d["jwks_uri"], format!("{ISSUER}/openid/v1/jwks"));
    assert!(s.path().join("site2/openid/v1/jwks").exists());
}

#[test]
fn every_layer_counts_for_every_setting_file_then_environment_then_flag() {
    let s = Sandbox::init(ISSUER);
    let config = s.path().join("idp.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[assertion]\nlifetime = \"3m\"\naudience = \"api://AzureADTokenExchangeUSGov\"\n\n[metadata]\njwks_path = \"file/jwks\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let claims = |env: &[(&str, &str)], flags: &[&str]| {
        let mut args = vec!["sign", "--subject", "s"];
        args.extend_from_slice(flags);
        let mut c = s.idp(&args);
        c.envs(env.iter().copied());
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c = claims_of(String::from_utf8(out.stdout).unwrap().trim());
        (
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            c["aud"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        claims(&[], &[]),
        (180, "api://AzureADTokenExchangeUSGov".into())
    );
    let env = [
        ("IDP_ASSERTION_LIFETIME", "2m"),
        ("IDP_ASSERTION_AUDIENCE", "api://AzureADTokenExchangeChina"),
    ];
    assert_eq!(
        claims(&env, &[]),
        (120, "api://AzureADTokenExchangeChina".into())
    );
    assert_eq!(
        claims(
            &env,
            &[
                "--lifetime",
                "1m",
                "--audience",
                "api://AzureADTokenExchange"
            ]
        ),
        (60, "api://AzureADTokenExchange".into())
    );
    let jwks_uri = |env: &[(&str, &str)], flags: &[&str]| {
        let mut args = vec!["metadata", "--only", "discovery"];
        args.extend_from_slice(flags);
        let mut c = s.idp(&args);
        c.envs(env.iter().copied());
        let v: Value = serde_json::from_slice(&stdout_of(c.output().unwrap())).unwrap();
        v["jwks_uri"].as_str().unwrap().to_owned()
    };
    assert_eq!(jwks_uri(&[], &[]), format!("{ISSUER}/file/jwks"));
    let env = [("IDP_METADATA_JWKS_PATH", "env/jwks")];
    assert_eq!(jwks_uri(&env, &[]), format!("{ISSUER}/env/jwks"));
    assert_eq!(
        jwks_uri(&env, &["--jwks-path", "flag/jwks"]),
        format!("{ISSUER}/flag/jwks")
    );
}

#[test]
fn flag_beats_environment_beats_file() {
    let s = Sandbox::init(ISSUER);
    let issuer_of = |c: &mut Command| -> String {
        let v: Value = serde_json::from_slice(&stdout_of(c.output().unwrap())).unwrap();
        v["issuer"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        issuer_of(&mut s.idp(&["metadata", "--only", "discovery"])),
        ISSUER
    );
    assert_eq!(
        issuer_of(
            s.idp(&["metadata", "--only", "discovery"])
                .env("IDP_ISSUER", "https://env.example/x")
        ),
        "https://env.example/x"
    );
    assert_eq!(
        issuer_of(
            s.idp(&[
                "metadata",
                "--only",
                "discovery",
                "--issuer",
                "https://flag.example/y"
            ])
            .env("IDP_ISSUER", "https://env.example/x")
        ),
        "https://flag.example/y"
    );
    // The lifetime setting from the environment, overridden by the flag.
    let t = s
        .idp(&["sign", "--subject", "s"])
        .env("IDP_ASSERTION_LIFETIME", "2m")
        .output()
        .unwrap();
    let c = claims_of(String::from_utf8(t.stdout).unwrap().trim());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
    // A bad value names where it came from.
    s.idp(&["sign", "--subject", "s"])
        .env("IDP_ASSERTION_LIFETIME", "25h")
        .assert()
        .code(2)
        .stderr(contains("environment variable IDP_ASSERTION_LIFETIME"));
}

#[test]
fn relative_paths_in_the_file_resolve_against_its_folder() {
    let s = Sandbox::new();
    std::fs::create_dir(s.path().join("conf")).unwrap();
    s.idp(&[
        "--config",
        "conf/idp.toml",
        "init",
        "--issuer",
        ISSUER,
        "--key-size",
        "2048",
    ])
    .assert()
    .success();
    assert!(s.path().join("conf/keys/keyring.json").exists());
    // From another folder, through IDP_CONFIG.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut c = s.idp(&["sign", "--subject", "s"]);
    c.current_dir(elsewhere.path())
        .env("IDP_CONFIG", s.path().join("conf/idp.toml"));
    c.assert().success();
}

#[test]
fn inspect_names_the_failing_check() {
    let s = Sandbox::init(ISSUER);
    let t = s.stdout(&["sign", "--subject", "s"]);
    let t = t.trim();
    s.idp(&["inspect", "-"])
        .write_stdin(t)
        .assert()
        .success()
        .stdout(contains("time left: "));
    // Payload changed after signing.
    let parts: Vec<&str> = t.split('.').collect();
    let mut c = claims_of(t);
    c["sub"] = "admin".into();
    let forged = format!("{}.{}.{}", parts[0], B64URL.encode(c.to_string()), parts[2]);
    s.idp(&["inspect", &forged])
        .assert()
        .code(1)
        .stdout(contains("FAIL signature"))
        .stderr(contains("the assertion fails: signature"));
    // Signed for another issuer (trailing slash added).
    let other = s.stdout(&["sign", "--subject", "s", "--issuer", &format!("{ISSUER}/")]);
    s.idp(&["inspect", other.trim()])
        .assert()
        .code(1)
        .stdout(contains("only by a trailing slash"));
    // Expired.
    let short = s.stdout(&["sign", "--subject", "s", "--lifetime", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    s.idp(&["inspect", short.trim()])
        .assert()
        .code(1)
        .stdout(contains("FAIL time"));
    // Not a token at all: exit 2, and the input is not echoed.
    s.idp(&["inspect", "not-a-token-SECRETMARKER"])
        .assert()
        .code(2)
        .stderr(contains("3"))
        .stderr(predicates::str::contains("SECRETMARKER").not());
}

use predicates::prelude::PredicateBooleanExt;

// ---- Bad inputs: each a clear message, exit 2, and no file changed. ----

#[test]
fn init_that_cannot_write_its_configuration_leaves_nothing_and_a_rerun_works() {
    let s = Sandbox::new();
    let before = s.snapshot();
    let out = s
        .idp(&[
            "--config",
            "no-such-folder/idp.toml",
            "--keys-dir",
            "keys",
            "init",
            "--issuer",
            ISSUER,
            "--key-size",
            "2048",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        err.contains("folder no-such-folder does not exist"),
        "{err}"
    );
    assert_eq!(before, s.snapshot(), "no key, no keyring, no config");
    assert!(!s.path().join("keys").exists());
    // The same init with a configuration it can write then succeeds: nothing to adopt.
    s.idp(&[
        "--keys-dir",
        "keys",
        "init",
        "--issuer",
        ISSUER,
        "--key-size",
        "2048",
    ])
    .assert()
    .success();
    assert_eq!(s.keyring()["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_issuers_are_refused() {
    let s = Sandbox::new();
    let long = format!("https://h.example/{}", "a".repeat(600));
    for (issuer, message) in [
        (
            "http://acct.blob.core.windows.net/oidc",
            "does not use https",
        ),
        ("https://h.example/c?sv=1", "has a query string"),
        ("https://h.example/c#top", "has a fragment"),
        ("https://h.example/c d", "contains whitespace"),
        ("https://h.example/c\n", "contains whitespace"),
        (long.as_str(), "Entra accepts at most 600"),
    ] {
        s.refuses(&["init", "--issuer", issuer], message);
    }
    assert!(s.snapshot().is_empty());
}

#[test]
fn bad_subjects_are_refused() {
    let s = Sandbox::init(ISSUER);
    let long = "a".repeat(601);
    s.refuses(&["sign", "--subject", ""], "subject is empty");
    s.refuses(&["sign", "--subject", &long], "601 characters");
    s.refuses(&["sign", "--subject", " padded"], "whitespace");
    s.refuses(&["sign", "--subject", "padded "], "whitespace");
}

#[test]
fn bad_lifetimes_are_refused() {
    let s = Sandbox::init(ISSUER);
    s.refuses(
        &["sign", "--subject", "s", "--lifetime", "0s"],
        "more than zero",
    );
    s.refuses(
        &["sign", "--subject", "s", "--lifetime", "24h1s"],
        "over the 24h limit",
    );
    s.refuses(
        &[
            "sign",
            "--subject",
            "s",
            "--lifetime",
            "25h",
            "--out",
            "t.jwt",
        ],
        "over the 24h limit",
    );
    s.refuses(
        &["sign", "--subject", "s", "--lifetime", "10"],
        "without a unit",
    );
}

#[test]
fn registered_claims_and_unusable_audiences_are_refused() {
    let s = Sandbox::init(ISSUER);
    s.refuses(
        &["sign", "--subject", "s", "--claim", "iss=evil"],
        "claim `iss` is registered",
    );
    s.refuses(
        &["sign", "--subject", "s", "--claim", "exp=1"],
        "claim `exp` is registered",
    );
    s.refuses(
        &["sign", "--subject", "s", "--audience", ""],
        "audience is empty",
    );
    let long = "a".repeat(601);
    s.refuses(
        &["sign", "--subject", "s", "--audience", &long],
        "audience is 601 characters long",
    );
    s.refuses(
        &["sign", "--subject", "s", "--audience", "api://x\u{200B}"],
        "U+200B",
    );
}

#[test]
fn a_custom_audience_is_signed_with_a_warning_and_inspect_expects_it() {
    let s = Sandbox::init(ISSUER);
    let out = s
        .idp(&["sign", "--subject", "s", "--audience", "api://my-isv"])
        .output()
        .unwrap();
    let (token, err) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: audience `api://my-isv` is not a cloud's token-exchange audience"),
        "{err}"
    );
    assert_eq!(claims_of(token.trim())["aud"], "api://my-isv");
    // The clouds' own audiences sign without a warning.
    let out = s
        .idp(&[
            "sign",
            "--subject",
            "s",
            "--audience",
            "api://AzureADTokenExchangeUSGov",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // inspect expects the configured audience when there is one, any cloud's otherwise.
    s.idp(&["inspect", token.trim(), "--audience", "api://my-isv"])
        .assert()
        .success();
    s.idp(&["inspect", token.trim()])
        .assert()
        .code(1)
        .stdout(contains("not a token-exchange audience"));
}

#[test]
fn unknown_kids_and_retiring_the_active_key_are_refused() {
    let s = Sandbox::init(ISSUER);
    let kid = s.kids().remove(0);
    s.refuses(
        &["keys", "activate", "no-such-kid"],
        "no key with kid `no-such-kid`",
    );
    s.refuses(
        &["keys", "retire", "no-such-kid"],
        "no key with kid `no-such-kid`",
    );
    s.refuses(&["keys", "retire", &kid], "is the active key");
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let s = Sandbox::init(ISSUER);
    let key = s.active_key_file();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.refuses(
        &["sign", "--subject", "s"],
        "can be read by group or others (mode 0644)",
    );
    s.idp(&["sign", "--subject", "s"])
        .assert()
        .stderr(contains("chmod 600"));
}

#[test]
fn truncated_or_garbage_key_files_are_refused_without_echoing_them() {
    let s = Sandbox::init(ISSUER);
    let key = s.active_key_file();
    let pem = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, &pem[..pem.len() / 2]).unwrap();
    s.refuses(&["sign", "--subject", "s"], "is not a PEM private key");
    let body_line = pem.lines().nth(3).unwrap().to_owned();
    let out = s.idp(&["sign", "--subject", "s"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&body_line));
    std::fs::write(&key, "garbage SECRETMARKER\n").unwrap();
    s.refuses(&["sign", "--subject", "s"], "is not a PEM private key");
    let out = s.idp(&["sign", "--subject", "s"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("SECRETMARKER"));
}

fn write_private(s: &Sandbox, name: &str, pem: &[u8]) -> String {
    let p = s.path().join(name);
    std::fs::write(&p, pem).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    name.to_owned()
}

#[test]
fn ec_and_small_rsa_keys_are_refused() {
    use josekit::jwk::KeyPair;
    let s = Sandbox::init(ISSUER);
    let ec =
        josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    let ec_file = write_private(&s, "ec.pem", &ec.to_pem_private_key());
    s.refuses(
        &["keys", "add", "--import", &ec_file],
        "holds an EC key; Entra needs RSA",
    );
    let small = josekit::jwk::alg::rsa::RsaKeyPair::generate(1024).unwrap();
    let small_file = write_private(&s, "small.pem", &small.to_pem_private_key());
    s.refuses(
        &["keys", "add", "--import", &small_file],
        "1024-bit RSA key; idp needs at least 2048",
    );
    // The same refusals when such a key sits in the keyring's place.
    let key = s.active_key_file();
    std::fs::copy(s.path().join("ec.pem"), &key).unwrap();
    s.refuses(&["sign", "--subject", "s"], "holds an EC key");
    std::fs::copy(s.path().join("small.pem"), &key).unwrap();
    s.refuses(&["sign", "--subject", "s"], "1024-bit RSA key");
}

#[test]
fn an_imported_rsa_key_joins_as_next() {
    let s = Sandbox::init(ISSUER);
    let k = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    // PKCS#1 ("RSA PRIVATE KEY") is accepted and stored as PKCS#8.
    let f = write_private(&s, "imported.pem", &k.to_traditional_pem_private_key());
    s.idp(&["keys", "add", "--import", &f])
        .assert()
        .success()
        .stdout(contains("(next)"));
    assert_eq!(s.kids().len(), 2);
    s.refuses(&["keys", "add", "--import", &f], "already in the keyring");
}

#[test]
fn an_import_interrupted_before_the_keyring_was_saved_can_be_rerun() {
    let s = Sandbox::init(ISSUER);
    let ring_path = s.path().join("keys/keyring.json");
    let before = std::fs::read(&ring_path).unwrap();
    let k = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    let f = write_private(&s, "imported.pem", &k.to_pem_private_key());
    s.idp(&["keys", "add", "--import", &f]).assert().success();
    // As if the process died after writing the key file and before saving the keyring.
    std::fs::write(&ring_path, &before).unwrap();
    s.idp(&["keys", "add", "--import", &f])
        .assert()
        .success()
        .stdout(contains("(next)"));
    assert_eq!(s.kids().len(), 2);

    // A file of that name holding another key is refused, named, and left alone.
    std::fs::write(&ring_path, &before).unwrap();
    let next = s.keyring()["keys"][0]["file"].as_str().unwrap().to_owned();
    let stray = s
        .path()
        .join("keys")
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pem") && !p.ends_with(&next))
        .unwrap();
    std::fs::copy(s.active_key_file(), &stray).unwrap();
    s.refuses(
        &["keys", "add", "--import", &f],
        "is already there, not in the keyring",
    );
}

#[test]
fn a_legacy_encrypted_key_is_called_encrypted() {
    let s = Sandbox::init(ISSUER);
    let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let f = write_private(&s, "legacy.pem", legacy);
    s.refuses(&["keys", "add", "--import", &f], "encrypted");
}

#[test]
fn usage_errors_found_by_commands_exit_2_and_write_nothing() {
    let s = Sandbox::init(ISSUER);
    s.refuses(
        &["publish-metadata", "--auth", "sas", "--dry-run"],
        "--auth sas needs a SAS token",
    );
    s.refuses(
        &[
            "publish-metadata",
            "--sas",
            "sv=1&sig=x",
            "--cache-control",
            "max-age=60\r\nX-Injected: 1",
            "--dry-run",
        ],
        "character 11 is '\\r'",
    );
    // A missing folder for --out is named as such, not as a temporary file's path.
    let before = s.snapshot();
    let out = s
        .idp(&["sign", "--subject", "s", "--out", "no-such-folder/a.jwt"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("folder no-such-folder does not exist"),
        "{err}"
    );
    assert!(!err.contains(".idp-tmp"), "{err}");
    assert!(
        err.contains("create the folder no-such-folder first"),
        "{err}"
    );
    assert_eq!(before, s.snapshot());
    // A folder for --out is refused before anything is signed or recorded, saying what to
    // name instead.
    std::fs::create_dir(s.path().join("out-folder")).unwrap();
    let before = s.snapshot();
    let out = s
        .idp(&["sign", "--subject", "s", "--out", "out-folder"])
        .env("IDP_AUDIT_LOG", s.path().join("audit.log"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("out-folder is a folder: name a file path"),
        "{err}"
    );
    assert_eq!(before, s.snapshot(), "nothing signed, no audit line");
    // TLS files that cannot be read, and an address already taken.
    let out = s
        .idp(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "no.pem",
            "--tls-key",
            "no.key",
        ])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = s
        .idp(&["serve", "--listen", &addr])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("cannot serve on {addr}")), "{err}");
}

#[test]
fn a_config_that_is_a_folder_or_not_utf8_is_a_usage_error() {
    let s = Sandbox::init(ISSUER);
    std::fs::create_dir(s.path().join("folder.toml")).unwrap();
    s.refuses(
        &["--config", "folder.toml", "metadata"],
        "cannot read folder.toml",
    );
    std::fs::write(
        s.path().join("latin1.toml"),
        b"issuer = \"https://h/\xe9\"\n",
    )
    .unwrap();
    s.refuses(
        &["--config", "latin1.toml", "metadata"],
        "cannot read latin1.toml",
    );
}

#[test]
fn the_emulator_checks_its_inputs_before_writing_its_tls_folder() {
    let s = Sandbox::new();
    for args in [
        &["emulator", "--self-signed", "emu", "--tenant", "not-a-guid"][..],
        &["emulator", "--self-signed", "emu", "--metadata-ttl", "soon"][..],
        &[
            "emulator",
            "--self-signed",
            "emu",
            "--trust-ca",
            "no-such-ca.pem",
        ][..],
    ] {
        let out = s
            .idp(args)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !s.path().join("emu").exists(),
            "{args:?} wrote the TLS folder"
        );
    }
}

#[test]
fn missing_config_is_refused() {
    let s = Sandbox::new();
    s.refuses(
        &["sign", "--subject", "s"],
        "no configuration file at idp.toml",
    );
    s.refuses(
        &["--config", "nope.toml", "metadata"],
        "nope.toml does not exist",
    );
    s.refuses(&["keys", "list"], "no keyring");
}

#[test]
fn config_with_an_unknown_field_is_refused() {
    let s = Sandbox::init(ISSUER);
    let p = s.path().join("idp.toml");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("\n[assertion]\nlifetme = \"5m\"\n");
    std::fs::write(&p, text).unwrap();
    s.refuses(
        &["sign", "--subject", "s"],
        "unknown key `assertion.lifetme`",
    );
}

/// `idp` holds private keys and parses network input: it stays a position-independent
/// executable (ELF type DYN), so its own code and data are randomised too (ASLR). An
/// earlier build linked it without PIE for start-up time; this keeps that from coming back.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_is_position_independent() {
    let elf = std::fs::read(env!("CARGO_BIN_EXE_idp")).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    let e_type = u16::from_le_bytes([elf[16], elf[17]]);
    assert_eq!(
        e_type, 3,
        "idp should be a position-independent executable (ET_DYN)"
    );
}

const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";

#[test]
fn the_customer_inventory_adds_lists_shows_and_removes() {
    let s = Sandbox::init(ISSUER);
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "customers",
            "add",
            name,
            "--tenant",
            TENANT_ID,
            "--client-id",
            CLIENT_ID,
            "--subject",
        ];
        args.push(name);
        args.extend_from_slice(extra);
        s.idp(&args).assert().success();
    };
    assert!(s.stdout(&["customers", "list"]).contains("no customers"));
    add("fabrikam", &[]);
    add(
        "contoso",
        &[
            "--scope",
            "https://vault.azure.net/.default",
            "--identity",
            "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/mrg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami",
        ],
    );
    let list: Value = serde_json::from_str(&s.stdout(&["customers", "list", "--json"])).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["contoso", "fabrikam"]);
    let shown: Value = serde_json::from_str(&s.stdout(&["customers", "show", "contoso"])).unwrap();
    assert_eq!(shown["scope"], "https://vault.azure.net/.default");
    assert_eq!(shown["subject"], "contoso");
    let text = s.stdout(&["customers", "list"]);
    assert!(
        text.contains("fabrikam") && text.contains(CLIENT_ID),
        "{text}"
    );
    s.idp(&["customers", "remove", "fabrikam"])
        .assert()
        .success();
    assert!(!s.stdout(&["customers", "list"]).contains("fabrikam"));
    // The file sits beside idp.toml.
    assert!(s.path().join("customers.toml").exists());
}

/// Eight `idp customers add` at once, each a process: the inventory is changed under its
/// lock, so none is lost (without it, read-change-write races drop customers).
#[test]
fn concurrent_customers_add_lose_no_customer() {
    let s = Sandbox::init(ISSUER);
    let children: Vec<_> = (0..8)
        .map(|i| {
            let name = format!("c{i}");
            let mut c = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), s.path());
            c.args([
                "customers",
                "add",
                &name,
                "--tenant",
                TENANT_ID,
                "--client-id",
                CLIENT_ID,
            ])
            .args(["--subject", &name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list: Value = serde_json::from_str(&s.stdout(&["customers", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 8, "{list}");
}

#[test]
fn bad_customer_input_is_refused_and_nothing_changes() {
    let s = Sandbox::init(ISSUER);
    s.idp(&[
        "customers",
        "add",
        "contoso",
        "--tenant",
        TENANT_ID,
        "--client-id",
        CLIENT_ID,
        "--subject",
        "s",
    ])
    .assert()
    .success();
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "customers",
            "add",
            name,
            "--tenant",
            TENANT_ID,
            "--client-id",
            CLIENT_ID,
            "--subject",
            "s",
        ];
        args.extend_from_slice(extra);
        args.iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<String>>()
    };
    let refuses = |args: Vec<String>, message: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.refuses(&args, message);
    };
    refuses(add("contoso", &[]), "customer `contoso` is already in");
    refuses(add("a b", &[]), "customer name `a b` is not usable");
    refuses(
        add("x", &["--identity", "/subscriptions/nope/resourceGroups/g"]),
        "is not a managed identity's resource id",
    );
    refuses(add("x", &["--cloud", "germany"]), "unknown cloud `germany`");
    s.refuses(
        &[
            "customers",
            "add",
            "y",
            "--tenant",
            TENANT_ID,
            "--client-id",
            "not-a-guid",
            "--subject",
            "s",
        ],
        "customer `y`: client_id",
    );
    s.refuses(&["customers", "show", "nobody"], "no customer `nobody`");
    s.refuses(
        &["customers", "remove", "nobody"],
        "known customers: contoso",
    );
    s.refuses(&["token", "--customer", "nobody"], "no customer `nobody`");
    // --customer with the ids it replaces is a usage error from the parser.
    s.idp(&["token", "--customer", "contoso", "--tenant", TENANT_ID])
        .assert()
        .code(2)
        .stderr(contains(
            "'--customer <NAME>' cannot be used with '--tenant <T>'",
        ));
    // A customer without a scope needs --scope.
    s.refuses(&["token", "--customer", "contoso"], "has no default scope");

    // A corrupt inventory: named with its line, and never rewritten.
    let path = s.path().join("customers.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[broken\n");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().count();
    s.refuses(&["customers", "list"], &format!("(line {line})"));
    s.refuses(
        &add("z", &[]).iter().map(String::as_str).collect::<Vec<_>>(),
        "is not a valid customer inventory",
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn every_signed_assertion_gets_one_audit_line_and_the_line_never_holds_it() {
    let s = Sandbox::init("https://acct.blob.core.windows.net/oidc");
    // From the flag, then from idp.toml (relative to its folder), then the environment.
    let first = s.stdout(&["sign", "--subject", "s-1", "--audit-log", "flag.log"]);
    let config = s.path().join("idp.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[audit]\nlog = \"logs/audit.log\"\n"),
    )
    .unwrap();
    std::fs::create_dir(s.path().join("logs")).unwrap();
    let second = s.stdout(&["sign", "--subject", "s-2", "--lifetime", "90s"]);
    let third = s.stdout(&["sign", "--subject", "s-2"]);
    let read = |name: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(s.path().join(name)).unwrap();
        assert!(
            !idp_testkit::without(&text, idp_testkit::audit_ids(&text)).contains("eyJ"),
            "no token or token part in {name}: {text}"
        );
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let flag = read("flag.log");
    let file = read("logs/audit.log");
    assert_eq!(flag.len(), 1);
    assert_eq!(file.len(), 2);
    for (line, token) in [(&flag[0], &first), (&file[0], &second), (&file[1], &third)] {
        let claims = claims_of(token.trim());
        for k in ["jti", "iss", "sub", "aud", "iat", "exp"] {
            assert_eq!(line[k], claims[k], "{k}: {line}");
        }
        assert_eq!(line["command"], "sign");
        let header: Value =
            serde_json::from_slice(&B64URL.decode(token.split('.').next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(line["kid"], header["kid"]);
    }
    assert_eq!(
        file[0]["exp"].as_i64().unwrap() - file[0]["iat"].as_i64().unwrap(),
        90
    );
    let mode = std::fs::metadata(s.path().join("flag.log"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // A log that cannot be written: nothing is signed (no assertion on stdout), exit 2.
    let out = s
        .idp(&["sign", "--subject", "s"])
        .env("IDP_AUDIT_LOG", s.path().join("missing/audit.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing/audit.log"), "{err}");
}

/// Without --propagation-delay, a new FIC is invisible for 5 s, as Entra's are for
/// minutes: an exchange right after it is made gets 70021 (no retry allowed here), and one
/// that may wait gets through once it has propagated. The time is the emulator's own
/// clock from the FIC's creation, so a slow start of idp cannot hide it: the first
/// exchange is asked some 100 ms after (a hundredth of the window), and the retried one
/// must retry at least once.
#[test]
fn the_emulators_fics_propagate_for_5s_unless_told_otherwise() {
    let f = crate::flow::Flow::served_with_emulator_defaults(&[]);
    let uami = f.identity_with_fic("fresh", &f.issuer, "s");
    let (code, _, err, _) = f.token(&uami, "s", &["--max-wait", "0s"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS70021"), "{err}");
    let (code, _, err, _) = f.token(&uami, "s", &["--max-wait", "60s"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("AADSTS70021"),
        "waited out the propagation: {err}"
    );
}

const PUBLISHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const PUBLISHER_PRINCIPAL: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
const PUBLISHER_APP: &str = "11111111-2222-4333-8444-555555555555";

fn run_idp(s: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let out = s.idp(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `idp fic --way entra-app`: the credential on the publisher's app that trusts the
/// publisher's managed identity. It needs no issuer of idp's, so no idp.toml here.
#[test]
fn fic_entra_app_prints_the_apps_credential_for_the_publishers_managed_identity() {
    let s = Sandbox::new();
    let app_fic = |extra: &[&str]| -> Value {
        let mut args = vec![
            "fic",
            "--way",
            "entra-app",
            "--publisher-tenant",
            PUBLISHER_TENANT,
            "--principal-id",
            PUBLISHER_PRINCIPAL,
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&s.stdout(&args)).unwrap()
    };
    let body = app_fic(&[]);
    assert_eq!(
        body["issuer"],
        format!("https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0")
    );
    assert_eq!(body["subject"], PUBLISHER_PRINCIPAL);
    assert_eq!(
        body["audiences"],
        serde_json::json!(["api://AzureADTokenExchange"])
    );
    assert_eq!(body["name"], "idp");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["name", "issuer", "subject", "description", "audiences"]
    );
    // The cloud picks the authority host and the audience; the flags override them, and
    // the setting's variable counts as for `idp token`.
    for (extra, issuer_host, audience) in [
        (
            &["--cloud", "usgov"][..],
            "https://login.microsoftonline.us",
            "api://AzureADTokenExchangeUSGov",
        ),
        (
            &["--cloud", "AzureChinaCloud"][..],
            "https://login.chinacloudapi.cn",
            "api://AzureADTokenExchangeChina",
        ),
        (
            &["--authority-host", "https://127.0.0.1:8444"][..],
            "https://127.0.0.1:8444",
            "api://AzureADTokenExchange",
        ),
    ] {
        let body = app_fic(extra);
        assert_eq!(
            body["issuer"],
            format!("{issuer_host}/{PUBLISHER_TENANT}/v2.0"),
            "{extra:?}"
        );
        assert_eq!(body["audiences"][0], audience, "{extra:?}");
    }
    let out = s
        .idp(&[
            "fic",
            "--way",
            "entra-app",
            "--publisher-tenant",
            PUBLISHER_TENANT,
            "--principal-id",
            PUBLISHER_PRINCIPAL,
        ])
        .env("IDP_EXCHANGE_AUTHORITY_HOST", "https://127.0.0.1:9443/")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        body["issuer"],
        format!("https://127.0.0.1:9443/{PUBLISHER_TENANT}/v2.0")
    );

    // The az line is one sh command whose --parameters is the same body, whatever the
    // audience holds.
    let awkward = "it's \"odd\" ${x} $(y) `z` %{w}";
    let (code, line, err) = run_idp(
        &s,
        &[
            "fic",
            "--way",
            "entra-app",
            "--publisher-tenant",
            PUBLISHER_TENANT,
            "--principal-id",
            PUBLISHER_PRINCIPAL,
            "--app-id",
            PUBLISHER_APP,
            "--audience",
            awkward,
            "--format",
            "az",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: audience"), "{err}");
    let script = format!("az() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{line}");
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let args: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        args[..7],
        [
            "ad",
            "app",
            "federated-credential",
            "create",
            "--id",
            PUBLISHER_APP,
            "--parameters"
        ]
    );
    let parameters: Value = serde_json::from_str(&args[7]).unwrap();
    assert_eq!(parameters["audiences"], serde_json::json!([awkward]));
    assert_eq!(parameters["subject"], PUBLISHER_PRINCIPAL);

    // Terraform and Bicep carry the same values.
    let tf = s.stdout(&[
        "fic",
        "--way",
        "entra-app",
        "--publisher-tenant",
        PUBLISHER_TENANT,
        "--principal-id",
        PUBLISHER_PRINCIPAL,
        "--app-id",
        PUBLISHER_APP,
        "--format",
        "terraform",
    ]);
    assert!(
        tf.contains("resource \"azuread_application_federated_identity_credential\" \"idp\""),
        "{tf}"
    );
    assert!(
        tf.contains(&format!("client_id = \"{PUBLISHER_APP}\"")),
        "{tf}"
    );
    assert!(
        tf.contains(&format!("subject        = \"{PUBLISHER_PRINCIPAL}\"")),
        "{tf}"
    );
    let bicep = s.stdout(&[
        "fic",
        "--way",
        "entra-app",
        "--publisher-tenant",
        PUBLISHER_TENANT,
        "--principal-id",
        PUBLISHER_PRINCIPAL,
        "--format",
        "bicep",
    ]);
    assert!(bicep.contains("extension microsoftGraphV1\n"), "{bicep}");
    assert!(
        bicep.contains(
            "resource federatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0'"
        ),
        "{bicep}"
    );
    assert!(
        bicep.contains(&format!(
            "  issuer: 'https://login.microsoftonline.com/{PUBLISHER_TENANT}/v2.0'\n"
        )),
        "{bicep}"
    );
}

#[test]
fn fic_entra_app_refuses_what_it_cannot_write() {
    let s = Sandbox::new();
    let entra = [
        "fic",
        "--way",
        "entra-app",
        "--publisher-tenant",
        PUBLISHER_TENANT,
    ];
    for (extra, says) in [
        // A flag the way needs, missing: named.
        (&[][..], "--principal-id"),
        (
            &["--principal-id", &PUBLISHER_PRINCIPAL.to_uppercase()][..],
            "capital letters",
        ),
        (&["--principal-id", "not-a-guid"][..], "is not a GUID"),
        (
            &["--principal-id", PUBLISHER_PRINCIPAL, "--app-id", "app"][..],
            "is not a GUID",
        ),
        (
            &["--principal-id", PUBLISHER_PRINCIPAL, "--subject", "s"][..],
            "cannot be used with",
        ),
        (
            &[
                "--principal-id",
                PUBLISHER_PRINCIPAL,
                "--identity-name",
                "uami",
            ][..],
            "cannot be used with",
        ),
        (
            &["--principal-id", PUBLISHER_PRINCIPAL, "--name", "ab"][..],
            "3 to 120",
        ),
    ] {
        let mut args = entra.to_vec();
        args.extend_from_slice(extra);
        let (code, out, err) = run_idp(&s, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = run_idp(
        &s,
        &[
            "fic",
            "--way",
            "entra-app",
            "--principal-id",
            PUBLISHER_PRINCIPAL,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--publisher-tenant"), "{err}");
    let (_, _, err) = run_idp(
        &s,
        &[
            "fic",
            "--way",
            "entra-app",
            "--publisher-tenant",
            PUBLISHER_TENANT,
            "--principal-id",
            &PUBLISHER_PRINCIPAL.to_uppercase(),
        ],
    );
    assert!(
        err.contains(&format!(
            "hint: write it as Entra does: {PUBLISHER_PRINCIPAL}"
        )),
        "{err}"
    );
    // No ARM template form: said, with the forms there are.
    s.refuses(
        &[
            "fic",
            "--way",
            "entra-app",
            "--publisher-tenant",
            PUBLISHER_TENANT,
            "--principal-id",
            PUBLISHER_PRINCIPAL,
            "--format",
            "arm",
        ],
        "--format arm has no entra-app form",
    );
    let (_, _, err) = run_idp(
        &s,
        &[
            "fic",
            "--way",
            "entra-app",
            "--publisher-tenant",
            PUBLISHER_TENANT,
            "--principal-id",
            PUBLISHER_PRINCIPAL,
            "--format",
            "arm",
        ],
    );
    for form in ["--format json", "az", "bicep", "terraform"] {
        assert!(err.contains(form), "{form}: {err}");
    }
    // The entra-app flags are not the issuer way's.
    for args in [
        &["fic", "--principal-id", PUBLISHER_PRINCIPAL][..],
        &["fic", "--subject", "s", "--app-id", PUBLISHER_APP][..],
        &[
            "fic",
            "--subject",
            "s",
            "--authority-host",
            "https://127.0.0.1:8444",
        ][..],
        &[
            "fic",
            "--way",
            "issuer",
            "--subject",
            "s",
            "--publisher-tenant",
            PUBLISHER_TENANT,
        ][..],
    ] {
        let (code, out, err) = run_idp(&s, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}

/// `idp managed-app package --way entra-app`: no identity and no credential in the
/// customer's tenant; the consented app's service principal gets the vault's role.
#[test]
fn managed_app_package_entra_app_grants_the_consented_apps_service_principal() {
    let s = Sandbox::new();
    s.idp(&[
        "managed-app",
        "package",
        "--way",
        "entra-app",
        "--app-id",
        PUBLISHER_APP,
        "--out",
        "pkg",
    ])
    .assert()
    .success()
    .stderr(contains("idp customers consent-url"));
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(s.path().join("pkg").join(name)).unwrap()).unwrap()
    };
    let template = read("mainTemplate.json");
    let types: Vec<&str> = template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(
        !types
            .iter()
            .any(|t| t.starts_with("Microsoft.ManagedIdentity")),
        "{types:?}"
    );
    let vault_role = template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["type"] == "Microsoft.Authorization/roleAssignments" && r.get("condition").is_none()
        })
        .unwrap();
    assert_eq!(
        vault_role["properties"]["principalId"],
        "[parameters('servicePrincipalObjectId')]"
    );
    assert_eq!(
        vault_role["properties"]["principalType"],
        "ServicePrincipal"
    );
    assert_eq!(
        template["variables"]["keyVaultSecretsOfficer"],
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    );
    let ui = read("createUiDefinition.json");
    let text = ui.to_string();
    assert!(
        text.contains("Microsoft.Solutions.GraphApiControl"),
        "{text}"
    );
    assert!(
        text.contains(&format!("appId eq '{PUBLISHER_APP}'")),
        "{text}"
    );
    assert_eq!(
        ui["parameters"]["outputs"]["servicePrincipalObjectId"],
        "[steps('publisherAccess').servicePrincipalObjectId]"
    );
    assert!(s.path().join("pkg/app.zip").exists());
    // The way needs the app; the issuer way takes none.
    s.idp(&[
        "managed-app",
        "package",
        "--way",
        "entra-app",
        "--out",
        "p2",
    ])
    .assert()
    .code(2)
    .stderr(contains("--app-id"));
    s.refuses(
        &[
            "managed-app",
            "package",
            "--way",
            "entra-app",
            "--app-id",
            "not-a-guid",
            "--out",
            "p3",
        ],
        "is not a GUID",
    );
    s.refuses(
        &[
            "--issuer",
            ISSUER,
            "managed-app",
            "package",
            "--way",
            "issuer",
            "--app-id",
            PUBLISHER_APP,
            "--out",
            "p4",
        ],
        "--app-id is for the entra-app way",
    );
}

/// `idp --version` names the commit the binary was built from, so a user can trace a
/// download to its source (scripts/release.sh; the suite runs in a git checkout).
#[test]
fn version_names_the_commit_it_was_built_from() {
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs (the suite runs in a git checkout)");
    assert!(
        head.status.success(),
        "not a git checkout: idp --version names no commit"
    );
    let head = String::from_utf8(head.stdout).unwrap();
    let out = Command::cargo_bin("idp")
        .unwrap()
        .arg("--version")
        .output()
        .unwrap();
    let line = String::from_utf8(stdout_of(out)).unwrap();
    assert_eq!(
        line.trim(),
        format!(
            "idp {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            &head.trim()[..12]
        )
    );
}
