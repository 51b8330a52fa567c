//! The README's first command, run as written (with the test build of idp), so it cannot drift.

use std::path::Path;

/// Runs `scripts/quickstart.sh ARGS` as the README shows it (`shown` is the README's line)
/// with the test build of idp; its stdout once it succeeded, checked to hold `expected`.
fn quickstart(shown: &str, args: &[&str], expected: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(shown), "README must show {shown:?}");
    let mut quickstart = std::process::Command::new(root.join("scripts/quickstart.sh"));
    idp_testkit::isolate(&mut quickstart);
    let out = quickstart
        .args(args)
        .env("IDP_BIN", env!("CARGO_BIN_EXE_idp"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart {args:?} failed:\n{stdout}\n{stderr}"
    );
    for expected in expected {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    stdout
}

#[test]
fn readme_quickstart_runs_the_main_job() {
    let stdout = quickstart(
        "\nscripts/quickstart.sh\n",
        &[],
        &[
            "$ idp init --issuer https://127.0.0.1:",
            "site/.well-known/openid-configuration",
            "site/.well-known/jwks.json",
            "Entra emulator on https://127.0.0.1:",
            "\"clientId\"",
            "$ idp fic --subject quickstart-customer --name isv",
            "\"issuer\": \"https://127.0.0.1:",
            "$ idp customers add customer-1 --identity /subscriptions/",
            "customer-1 ",
            "$ idp doctor --customer customer-1 ",
            "✓ issuer: issuer: `https://127.0.0.1:",
            "✓ customer-1: fic: FIC `isv`",
            "✓ customer-1: exchange:",
            "$ idp token --customer customer-1 ",
            "\"idtyp\": \"app\"",
            "\"aud\": \"https://vault.azure.net\"",
            "\"iss\": \"https://sts.windows.net/",
            "refused: 403 ForbiddenByRbac",
            "set, then read back: greeting = 'hello from the publisher'",
            "quickstart ok",
        ],
    );
    // The claims are printed, never the access token itself.
    assert!(!stdout.contains("\"access_token\""));
    assert!(!stdout.contains("FAIL"));
}

#[test]
fn readme_quickstart_tells_the_entra_app_way_too() {
    let stdout = quickstart(
        "scripts/quickstart.sh --way entra-app",
        &["--way", "entra-app"],
        &[
            "this machine's managed identity: client id ",
            "$ idp fic --way entra-app --publisher-tenant ",
            "\"audiences\": [",
            "$ idp customers add fabrikam --way entra-app ",
            "/adminconsent?client_id=",
            "the customer's admin consented: {\"admin_consent\":\"True\"",
            "✓ issuer: issuer: none configured, and none needed",
            "✓ fabrikam: managed identity: token of client id ",
            "✓ fabrikam: app fic: FIC `idp` of the app ",
            "✓ fabrikam: exchange:",
            "\"idtyp\": \"app\"",
            "\"aud\": \"https://vault.azure.net\"",
            "refused: 403 ForbiddenByRbac",
            "set, then read back: greeting = 'hello from the publisher'",
            "quickstart ok (entra-app)",
        ],
    );
    // Neither the access token nor the managed identity's tokens are shown.
    assert!(!stdout.contains("\"access_token\""));
    assert!(!stdout.contains("eyJ0eXAi") && !stdout.contains("eyJhbGci"));
}
