//! The az CLI, unchanged (pinned in tests/requirements-az.txt, in `.venv-az`), against the
//! emulator with nothing but `core.instance_discovery=false`: `az cloud register` reads
//! the emulator's `/metadata/endpoints` (no `--skip-endpoint-discovery`), `az login
//! --service-principal --federated-token` with an assertion from `idp exec`, and `az account
//! get-access-token`.

use crate::flow::{Flow, idp_process};
use base64::Engine as _;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The az of `.venv-az`, or `$AZ`.
fn az() -> PathBuf {
    let path = std::env::var_os("AZ")
        .map(PathBuf::from)
        .unwrap_or_else(|| idp_testkit::repo_root().join(".venv-az/bin/az"));
    assert!(
        path.exists(),
        "the az CLI is missing: {} does not exist. Install it with `python3 -m venv .venv-az && \
         .venv-az/bin/pip install -r tests/requirements-az.txt` at the repository root, or run \
         scripts/test.sh (which does that), or point AZ at an az binary",
        path.display()
    );
    path
}

/// `az ARGS` with its own configuration folder, trusting the emulator's CA.
fn run_az(config: &Path, ca: &Path, args: &[&str]) -> (i32, String, String) {
    let mut c = std::process::Command::new(az());
    idp_testkit::isolate(&mut c);
    let out = c
        .args(args)
        .env("AZURE_CONFIG_DIR", config)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("AZURE_CORE_COLLECT_TELEMETRY", "false")
        .env("AZURE_CORE_NO_COLOR", "true")
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    println!("$ az {args:?}\n{o}{e}");
    (out.status.code().unwrap_or(-1), o, e)
}

#[test]
fn the_az_cli_registers_the_emulator_as_a_cloud_and_logs_in_with_idps_assertion() {
    let f = Flow::served(&[]);
    f.customer("azc", "azc");
    let config = f.path().join("az-config");
    std::fs::create_dir(&config).unwrap();
    let ca = &f.emulator_ca;
    let arm = format!("{}/", f.authority());
    // Endpoint discovery: az reads `https://127.0.0.1:PORT//metadata/endpoints?api-version=2022-09-01`.
    let (code, _, err) = run_az(
        &config,
        ca,
        &[
            "cloud",
            "register",
            "-n",
            "IdpEmulator",
            "--endpoint-resource-manager",
            &arm,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_az(
        &config,
        ca,
        &["cloud", "show", "-n", "IdpEmulator", "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let cloud: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cloud["endpoints"]["activeDirectory"], f.authority());
    assert_eq!(cloud["endpoints"]["resourceManager"], arm);
    for args in [
        &["cloud", "set", "-n", "IdpEmulator"][..],
        &["config", "set", "core.instance_discovery=false"][..],
    ] {
        let (code, _, err) = run_az(&config, ca, args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    // az keeps the assertion it logs in with: one that outlives the job, from idp exec.
    let script = r#"
set -e
"$AZ_BIN" login --service-principal -u "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID" \
  --federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --allow-no-subscriptions -o none
"$AZ_BIN" account get-access-token -o json
"#;
    let mut c = idp_process(f.path());
    c.args([
        "exec",
        "--customer",
        "azc",
        "--lifetime",
        "2h",
        "--",
        "sh",
        "-c",
        script,
    ])
    .env("AZ_BIN", az())
    .env("AZURE_CONFIG_DIR", &config)
    .env("REQUESTS_CA_BUNDLE", ca)
    .env("AZURE_CORE_COLLECT_TELEMETRY", "false");
    let out = c.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    let got: Value = serde_json::from_str(&o).unwrap_or_else(|_| panic!("{o}{e}"));
    assert_eq!(got["tenant"], f.tenant);
    // The token is the emulator's, for the management resource az registered.
    let token = got["accessToken"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "https://management.core.windows.net/");
    assert_eq!(claims["tid"], f.tenant);
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{}/", f.tenant)
    );
}
