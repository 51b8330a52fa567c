//! The README's first command, run as written (with the test build of idp), so it cannot drift.

use std::path::Path;

#[test]
fn readme_quickstart_runs_the_main_job() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains("\nscripts/quickstart.sh\n"),
        "README must show the quickstart command"
    );
    let mut quickstart = std::process::Command::new(root.join("scripts/quickstart.sh"));
    idp_testkit::isolate(&mut quickstart);
    let out = quickstart
        .env("IDP_BIN", env!("CARGO_BIN_EXE_idp"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart failed:\n{stdout}\n{stderr}"
    );
    for expected in [
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
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The claims are printed, never the access token itself.
    assert!(!stdout.contains("\"access_token\""));
    assert!(!stdout.contains("FAIL"));
}

#[test]
fn readme_quickstart_tells_the_entra_app_way_too() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains("scripts/quickstart.sh --way entra-app"),
        "README must show the entra-app quickstart"
    );
    let mut quickstart = std::process::Command::new(root.join("scripts/quickstart.sh"));
    idp_testkit::isolate(&mut quickstart);
    let out = quickstart
        .args(["--way", "entra-app"])
        .env("IDP_BIN", env!("CARGO_BIN_EXE_idp"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "quickstart --way entra-app failed:\n{stdout}\n{stderr}"
    );
    for expected in [
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
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Neither the access token nor the managed identity's tokens are shown.
    assert!(!stdout.contains("\"access_token\""));
    assert!(!stdout.contains("eyJ0eXAi") && !stdout.contains("eyJhbGci"));
}
