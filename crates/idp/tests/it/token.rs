//! The whole flow on real parts: idp's issuer served over HTTPS (`idp serve`, or Azurite
//! after `idp publish-metadata`), the Entra emulator (`idp emulator`) fetching it over HTTPS
//! with a UAMI and its FIC made through the emulator's ARM API, and `idp token` (or the
//! official Python SDK) exchanging assertions there.

use crate::flow::{Flow, SCOPE, SUBJECT, client, idp};
use idp_testkit::{Azurite, Python, stdout_of};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[test]
fn idp_token_gets_an_access_token_that_verifies_against_the_emulators_keys() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (code, out, err, _) = f.token(&client_id, SUBJECT, &[]);
    assert_eq!(code, 0, "{err}");
    let token = out.trim();
    let claims = f.verify(token, "https://vault.azure.net");
    assert_eq!(claims["appid"], client_id.as_str());
    assert!(claims.get("azp").is_none(), "a v1.0 token: appid, no azp");
    assert_eq!(claims["tid"], f.tenant.as_str());
    assert_eq!(claims["idtyp"], "app");
    assert!(
        claims["xms_mirid"]
            .as_str()
            .unwrap()
            .ends_with("/userAssignedIdentities/uami")
    );
    assert!(!err.contains(token), "the token goes to stdout only");

    // The system roots count too: the emulator's CA as the system bundle, no --ca-cert.
    stdout_of(
        f.token_command(&f.tenant, &client_id, SUBJECT)
            .env("SSL_CERT_FILE", &f.emulator_ca)
            .output()
            .unwrap(),
    );
    // And without any root for it, the exchange fails on TLS, clearly, and at once: a
    // certificate refused is not worth retrying.
    let started = Instant::now();
    let out = f
        .token_command(&f.tenant, &client_id, SUBJECT)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach") && err.contains("--ca-cert"),
        "{err}"
    );
    // The emulator is up (it just answered): the refusal is the certificate's.
    assert!(err.contains("UnknownIssuer"), "{err}");
    // Not retried: no retry said, and well under the 4 retries' backoff (2+4+8+16 s): a
    // bound on behaviour, generous for a loaded machine, not a speed test.
    assert!(!err.contains("retry"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );

    let (code, out, _, _) = f.token(&client_id, SUBJECT, &["--format", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["token_type"], "Bearer");
    let expires_in = v["expires_in"].as_i64().unwrap();
    assert!(expires_in > 3000, "{v}");
    // expires_on is a Unix time: now + expires_in, not the duration again.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires_on = v["expires_on"].as_i64().unwrap();
    assert!(
        (expires_on - (now + expires_in)).abs() <= 60,
        "expires_on {expires_on}, now {now}, expires_in {expires_in}"
    );
    f.verify(
        v["access_token"].as_str().unwrap(),
        "https://vault.azure.net",
    );
}

#[test]
fn idp_token_explains_each_failure_and_retries_none_of_them() {
    let f = Flow::served(&[]);
    // FIC with a trailing slash added: the classic mistake.
    let slash = f.identity_with_fic("slash", &format!("{}/", f.issuer), SUBJECT);
    let (code, err, attempts) = token_attempts(&f, &slash, SUBJECT, &[]);
    assert_eq!(
        (code, attempts),
        (1, 1),
        "one attempt, never retried: {err}"
    );
    assert!(err.contains("AADSTS700211"), "{err}");
    assert!(
        err.contains(&format!(
            "the FIC's issuer must be exactly `{}` (idp's issuer); check the trailing slash",
            f.issuer
        )),
        "{err}"
    );
    assert!(!err.contains("retry"), "700211 is never retried: {err}");

    let uami = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (code, err, attempts) = token_attempts(&f, &uami, "customer-43", &[]);
    assert_eq!(
        (code, attempts),
        (1, 1),
        "one attempt, never retried: {err}"
    );
    assert!(
        err.contains("AADSTS700213") && err.contains("`customer-43`"),
        "{err}"
    );
    let (code, err, attempts) = token_attempts(&f, &uami, "CUSTOMER-42", &[]);
    assert_eq!(
        (code, attempts),
        (1, 1),
        "one attempt, never retried: {err}"
    );
    assert!(err.contains("AADSTS7002138"), "{err}");

    let (code, err, attempts) =
        token_attempts(&f, "99999999-9999-4999-8999-999999999999", SUBJECT, &[]);
    assert_eq!(
        (code, attempts),
        (1, 1),
        "one attempt, never retried: {err}"
    );
    assert!(
        err.contains("AADSTS700016") && err.contains("clientId, not principalId"),
        "{err}"
    );

    let (code, err, attempts) = token_attempts(
        &f,
        &uami,
        SUBJECT,
        &["--audience", "api://AzureADTokenExchangeUSGov"],
    );
    assert_eq!(
        (code, attempts),
        (1, 1),
        "one attempt, never retried: {err}"
    );
    assert!(err.contains("AADSTS700212"), "{err}");

    // A key activated before it was published: 7000272.
    idp(f.path())
        .args(["keys", "add", "--key-size", "2048"])
        .assert()
        .success();
    let next = f.kid_in_state("next");
    idp(f.path())
        .args(["keys", "activate", &next, "--force"])
        .assert()
        .success();
    let (code, err, attempts) = token_attempts(&f, &uami, SUBJECT, &[]);
    assert_eq!(
        (code, attempts),
        (1, 1),
        "one attempt, never retried: {err}"
    );
    assert!(
        err.contains("AADSTS7000272") && err.contains("idp publish-metadata"),
        "{err}"
    );

    // The wrong tenant.
    let out = f
        .token_command("99999999-9999-4999-8999-999999999999", &uami, SUBJECT)
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("AADSTS90002") && err.contains("99999999-9999-4999-8999-999999999999"),
        "{err}"
    );

    // An identity without any FIC: retried as propagation for --max-wait, then explained.
    let (status, bare) = f.arm(
        reqwest::Method::PUT,
        "bare",
        Some(json!({"location": "westeurope"})),
    );
    assert_eq!(status, 201);
    let bare_id = bare["properties"]["clientId"].as_str().unwrap();
    // The first retry waits 2 s, so a 3 s --max-wait retries once (a FIC that never
    // appears), then gives up.
    let (code, _, err, took) = f.token(bare_id, SUBJECT, &["--max-wait", "3s"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("AADSTS70025") && err.contains("has no federated credentials"),
        "{err}"
    );
    assert!(
        err.contains("retry 1 in") && !err.contains("retry 3 in"),
        "retried within --max-wait: {err}"
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");

    // Bad input is refused before anything is signed or sent.
    let (code, _, err, _) = f.token("not-a-guid", SUBJECT, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("client id"), "{err}");
}

/// The jtis of the assertions `idp token` signed (its audit log), in order.
fn signed_jtis(f: &Flow) -> Vec<String> {
    std::fs::read_to_string(f.path().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Runs `idp token` with an audit log; its exit code, stderr, and how many assertions it
/// signed (one per attempt).
fn token_attempts(
    f: &Flow,
    client_id: &str,
    subject: &str,
    extra: &[&str],
) -> (i32, String, usize) {
    let before = signed_jtis(f).len();
    let mut args = vec!["--audit-log", "audit.log"];
    args.extend_from_slice(extra);
    let (code, _, err, _) = f.token(client_id, subject, &args);
    (code, err, signed_jtis(f).len() - before)
}

#[test]
fn idp_token_waits_out_fic_propagation_and_throttling() {
    // Long enough that the first attempt always meets the propagation window, however
    // slowly this machine starts `idp` (a shorter one raced the process start-up).
    let f = Flow::served(&["--propagation-delay", "8s"]);
    let uami = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (code, out, err, took) = f.token(
        &uami,
        SUBJECT,
        &["--max-wait", "60s", "--audit-log", "audit.log"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("retry 1") && err.contains("AADSTS70021"),
        "said on stderr: {err}"
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    f.verify(out.trim(), "https://vault.azure.net");
    // Each attempt sent an assertion of its own.
    let jtis = signed_jtis(&f);
    assert!(jtis.len() >= 2, "{jtis:?}");
    let distinct: std::collections::BTreeSet<&String> = jtis.iter().collect();
    assert_eq!(
        distinct.len(),
        jtis.len(),
        "an assertion was sent twice: {jtis:?}"
    );

    // A --max-wait shorter than the first retry delay (2 s) gives up at once, explained.
    let fresh = f.identity_with_fic("fresh", &f.issuer, SUBJECT);
    let (code, _, err, _) = f.token(&fresh, SUBJECT, &["--max-wait", "1s"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("AADSTS70021") && err.contains("propagating"),
        "{err}"
    );
    assert!(!err.contains("retry 1 in"), "no retry fits in 1 s: {err}");

    // 429 with Retry-After: honoured, then success.
    let r = client(&f.emulator_ca)
        .post(format!("{}/_emulator/faults", f.authority()))
        .json(&json!({"status": 429, "count": 2, "retry_after": 1}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let (code, _, err, took) = f.token(&uami, SUBJECT, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("429").count(), 2, "{err}");
    assert!(
        took >= Duration::from_secs(2),
        "Retry-After honoured: {took:?}"
    );

    // Retries are bounded.
    client(&f.emulator_ca)
        .post(format!("{}/_emulator/faults", f.authority()))
        .json(&json!({"status": 503, "count": 10, "retry_after": 0}))
        .send()
        .unwrap();
    let (code, err, attempts) = token_attempts(&f, &uami, SUBJECT, &["--retries", "2"]);
    assert_eq!((code, attempts), (1, 3), "{err}");
    assert_eq!(err.matches("retry ").count(), 2, "{err}");

    // A connection that fails (nothing listens) is retried like a 5xx, --retries times,
    // a fresh assertion each time; a refused certificate is not (idp_token_explains_…).
    // Port 9 (discard): nothing listens there on a test machine.
    let nowhere = "https://127.0.0.1:9".to_owned();
    let before = signed_jtis(&f).len();
    let out = idp(f.path())
        .args([
            "token",
            "--tenant",
            &f.tenant,
            "--client-id",
            &uami,
            "--subject",
            SUBJECT,
        ])
        .args([
            "--scope",
            SCOPE,
            "--authority-host",
            &nowhere,
            "--retries",
            "1",
        ])
        .args(["--audit-log", "audit.log"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let attempts = signed_jtis(&f).len() - before;
    assert_eq!((out.status.code(), attempts), (Some(1), 2), "{err}");
    assert!(
        err.contains("retry 1 in") && err.contains("Entra could not be reached"),
        "{err}"
    );
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn end_to_end_on_azurite_published_metadata() {
    let azurite = Azurite::start();
    let dir = tempfile::tempdir().unwrap();
    let issuer = azurite.container_url("oidc");
    idp(dir.path())
        .args(["init", "--issuer", &issuer, "--key-size", "2048"])
        .assert()
        .success();
    let sas = Python::find().account_sas("rwdlac", 3600);
    idp(dir.path())
        .args(["publish-metadata", "--create-container", "--sas", &sas])
        .env("IDP_CA_CERT", &azurite.ca.ca_pem)
        .assert()
        .success();
    let f = Flow::with_emulator(dir, issuer, None, &azurite.ca.ca_pem, &[]);
    let uami = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (code, out, err, _) = f.token(&uami, SUBJECT, &[]);
    assert_eq!(code, 0, "{err}");
    f.verify(out.trim(), "https://vault.azure.net");
}

#[test]
fn the_official_python_sdk_gets_a_token_from_the_emulator() {
    let f = Flow::served(&[]);
    let uami = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let file = f.path().join("assertion.jwt");
    idp(f.path())
        .args(["sign", "--subject", SUBJECT, "--lifetime", "20m", "--out"])
        .arg(&file)
        .assert()
        .success();
    let out = Python::find()
        .command()
        .arg("-c")
        .arg(
            r#"
from azure.identity import WorkloadIdentityCredential
print(WorkloadIdentityCredential().get_token("https://storage.azure.com/.default").token)
"#,
        )
        .env("AZURE_CLIENT_ID", &uami)
        .env("AZURE_TENANT_ID", &f.tenant)
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .env("AZURE_AUTHORITY_HOST", f.authority())
        .env("REQUESTS_CA_BUNDLE", &f.emulator_ca)
        .output()
        .unwrap();
    let token = String::from_utf8(stdout_of(out)).unwrap();
    let claims = f.verify(token.trim(), "https://storage.azure.com");
    assert_eq!(claims["appid"], uami.as_str());
}

#[test]
fn idp_token_explains_metadata_entra_cannot_fetch() {
    let mut f = Flow::served(&[]);
    let uami = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    drop(f.issuer_host.take()); // the issuer's host goes away before Entra ever fetched it
    let (code, _, err, _) = f.token(&uami, SUBJECT, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS90061"), "{err}");
    assert!(
        err.contains(&format!("{}/.well-known/openid-configuration", f.issuer))
            && err.contains("idp publish-metadata --check"),
        "{err}"
    );
    assert!(!err.contains("retry"), "{err}");
}

/// An authority that answers every token request with an Entra error whose description
/// echoes the request body (assertion included) on its first line, and the assertion again
/// in `x-ms-error-code` and in an `error_uri` query: text from the network that idp must
/// never print as it came.
const ECHOING_AUTHORITY: &str = r#"
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
        assertion = [p.split("=", 1)[1] for p in body.split("&") if p.startswith("client_assertion=")][0]
        out = json.dumps({
            "error": "invalid_request",
            "error_description": "AADSTS50027: JWT token is invalid or malformed. Request: " + body + "\r\nTrace ID: t",
            "error_codes": [50027],
            "error_uri": "https://login.example/error?code=50027&client_assertion=" + assertion,
        }).encode()
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("x-ms-error-code", assertion)
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
"#;

#[test]
fn an_authority_echoing_the_assertion_never_gets_it_printed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = idp_testkit::TestCa::create(dir.path());
    let authority = Python::find().https_server(ECHOING_AUTHORITY, &ca, &[]);
    idp(dir.path())
        .args([
            "init",
            "--issuer",
            "https://127.0.0.1:9/oidc",
            "--key-size",
            "2048",
        ])
        .assert()
        .success();
    let out = idp(dir.path())
        .args(["token", "--tenant", "00000000-0000-0000-0000-000000000001"])
        .args(["--client-id", "00000000-0000-0000-0000-000000000002"])
        .args(["--subject", SUBJECT, "--scope", SCOPE])
        .args([
            "--authority-host",
            &format!("https://{}", authority.address()),
        ])
        .arg("--ca-cert")
        .arg(&ca.ca_pem)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AADSTS50027"),
        "the failure is still explained: {stderr}"
    );
    assert!(stderr.contains("REDACTED"), "{stderr}");
    // An RS256 JWT header always starts `eyJ`; no part of the assertion may show.
    assert!(
        !stderr.contains("eyJ") && !stdout.contains("eyJ"),
        "{stderr}"
    );
}

#[test]
fn the_cloud_picks_the_assertion_audience_and_an_explicit_one_wins() {
    let f = Flow::served(&[]);
    let usgov =
        f.identity_with_fic_for("gov", &f.issuer, SUBJECT, "api://AzureADTokenExchangeUSGov");
    let global = f.identity_with_fic("global", &f.issuer, SUBJECT);
    // --authority-host points at the emulator; the cloud still sets the audience.
    let (code, out, err, _) = f.token(&usgov, SUBJECT, &["--cloud", "usgov"]);
    assert_eq!(code, 0, "{err}");
    f.verify(out.trim(), "https://vault.azure.net");
    let (code, _, err, _) = f.token(&global, SUBJECT, &["--cloud", "china"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("AADSTS700212") && err.contains("api://AzureADTokenExchangeChina"),
        "{err}"
    );
    // The same from the environment, and an explicit --audience over the cloud's.
    let (code, _, err, _) = f.token(
        &global,
        SUBJECT,
        &[
            "--cloud",
            "usgov",
            "--audience",
            "api://AzureADTokenExchange",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let out = f
        .token_command(&f.tenant, &usgov, SUBJECT)
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .env("IDP_EXCHANGE_CLOUD", "AzureUSGovernment")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn idp_token_for_a_customer_of_the_inventory() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami-contoso", &f.issuer, SUBJECT);
    idp(f.path())
        .args(["customers", "add", "contoso", "--tenant", &f.tenant])
        .args([
            "--client-id",
            &client_id,
            "--subject",
            SUBJECT,
            "--scope",
            SCOPE,
        ])
        .assert()
        .success();
    let out = idp(f.path())
        .args(["token", "--customer", "contoso", "--format", "claims"])
        .args(["--authority-host", &f.authority()])
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let claims: Value = serde_json::from_str(&stdout).unwrap();
    let claims = claims.get("claims").unwrap_or(&claims);
    assert_eq!(claims["appid"], client_id.as_str(), "{stdout}");
    assert_eq!(claims["aud"], "https://vault.azure.net", "{stdout}");
    // --scope overrides the customer's default.
    let out = idp(f.path())
        .args(["token", "--customer", "contoso", "--format", "claims"])
        .args(["--scope", "https://storage.azure.com/.default"])
        .args(["--authority-host", &f.authority()])
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"https://storage.azure.com\""), "{stdout}");
}

impl Flow {
    fn fleet(&self, extra: &[&str]) -> (i32, String, String) {
        let out = idp(self.path())
            .args(["token", "--authority-host", &self.authority()])
            .arg("--ca-cert")
            .arg(&self.emulator_ca)
            .args(extra)
            .output()
            .unwrap();
        let (o, e) = (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        );
        println!("$ idp token … {extra:?}\n{o}{e}");
        (out.status.code().unwrap_or(-1), o, e)
    }
}

#[test]
fn token_all_mints_for_every_customer_and_one_broken_one_stops_nobody() {
    let f = Flow::served(&[]);
    f.customer("alpha", "alpha");
    f.customer("broken", "someone-else");
    f.customer("gamma", "gamma");
    let out_dir = f.path().join("tokens");
    std::fs::create_dir(&out_dir).unwrap();
    let (code, out, err) = f.fleet(&[
        "--all",
        "--parallel",
        "2",
        "--out-dir",
        "tokens",
        "--audit-log",
        "audit.log",
    ]);
    assert_eq!(code, 1, "{err}");
    // One audit line per assertion signed, each naming its customer and subject.
    let audit = std::fs::read_to_string(f.path().join("audit.log")).unwrap();
    assert!(
        !idp_testkit::without(&audit, idp_testkit::audit_ids(&audit)).contains("eyJ"),
        "{audit}"
    );
    let mut audited: Vec<(String, String)> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|v| assert_eq!(v["command"], "token"))
        .map(|v| {
            (
                v["customer"].as_str().unwrap().to_owned(),
                v["sub"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    audited.sort();
    assert_eq!(
        audited,
        [("alpha", "alpha"), ("broken", "broken"), ("gamma", "gamma")]
            .map(|(c, s)| (c.to_owned(), s.to_owned()))
    );
    assert!(line_of(&out, "alpha").contains(" ok "), "{out}");
    assert!(line_of(&out, "gamma").contains(" ok "), "{out}");
    assert!(line_of(&out, "broken").contains("AADSTS700213"), "{out}");
    assert!(out.contains("3 customers: 2 ok, 1 failed"), "{out}");
    // A file per success, private; none for the failure; no token on stdout or stderr.
    for name in ["alpha", "gamma"] {
        let path = out_dir.join(format!("{name}.json"));
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let token = v["access_token"].as_str().unwrap();
        assert_eq!(
            f.verify(token, "https://vault.azure.net")["tid"],
            f.tenant.as_str()
        );
        assert!(!out.contains(token) && !err.contains(token));
    }
    assert!(!out_dir.join("broken.json").exists());

    // The same as one JSON document; --customers picks some.
    let (code, out, _) = f.fleet(&["--customers", "alpha,broken", "--format", "json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (doc["ok"].as_u64(), doc["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(doc["customers"][1]["code"], 700213);
    let (code, _, _) = f.fleet(&["--customers", "alpha,gamma"]);
    assert_eq!(code, 0);

    // A token whose file cannot be written is that customer's failure, said, and the
    // others' files are written all the same.
    let blocked = f.path().join("blocked");
    std::fs::create_dir_all(blocked.join("alpha.json")).unwrap();
    let (code, out, err) = f.fleet(&["--customers", "alpha,gamma", "--out-dir", "blocked"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        line_of(&out, "alpha").contains("the token came, but its file could not be written"),
        "{out}"
    );
    assert!(line_of(&out, "gamma").contains(" ok "), "{out}");
    assert!(blocked.join("gamma.json").is_file());
    assert!(!out.contains("eyJ") && !err.contains("eyJ"), "{out}{err}");
}

fn line_of(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no line for {name} in {out}"))
        .to_owned()
}

#[test]
fn a_throttled_answer_slows_every_worker_of_a_fleet_run() {
    let f = Flow::served(&[]);
    for name in ["c1", "c2", "c3"] {
        f.customer(name, name);
    }
    // One 429 asking for 2 s. Two workers: one gets the 429; the other finishes at once,
    // and the third customer it takes up must wait out the same 2 s before sending.
    let r = client(&f.emulator_ca)
        .post(format!("{}/_emulator/faults", f.authority()))
        .json(&json!({"status": 429, "count": 1, "retry_after": 2}))
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let (code, out, err) = f.fleet(&["--all", "--parallel", "2", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("429").count(), 1, "one retry: {err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let slow = doc["customers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["seconds"].as_f64().unwrap() >= 1.5)
        .count();
    assert_eq!(
        slow, 2,
        "the throttled one and the one that waited with it: {out}"
    );
}

#[test]
fn fleet_runs_refuse_bad_input_before_sending_anything() {
    let f = Flow::served(&[]);
    // No inventory yet.
    let (code, _, err) = f.fleet(&["--all"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no customers"), "{err}");
    f.customer("alpha", "alpha");
    let (code, _, err) = f.fleet(&["--customers", "alpha,nobody"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no customer `nobody`") && err.contains("known customers: alpha"),
        "{err}"
    );
    let (code, _, err) = f.fleet(&["--all", "--parallel", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--parallel") && err.contains("0 is not in 1..=256"),
        "{err}"
    );
    std::fs::write(f.path().join("a-file"), "x").unwrap();
    let (code, _, err) = f.fleet(&["--all", "--out-dir", "a-file"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    let (code, _, err) = f.fleet(&["--all", "--format", "claims"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--format claims is for one customer"), "{err}");
}

#[test]
fn the_rotation_canary_blocks_a_key_entra_cannot_see_and_allows_it_once_it_can() {
    let f = Flow::served(&[]);
    f.customer("canary", "canary");
    // The emulator fetches and caches the issuer's JWKS (24 h), as Entra does.
    let (code, _, err) = f.fleet(&["--customer", "canary"]);
    assert_eq!(code, 0, "{err}");
    idp(f.path())
        .args(["keys", "add", "--key-size", "2048"])
        .assert()
        .success();
    let next = f.kid_in_state("next");
    let activate = || {
        idp(f.path())
            .args(["keys", "activate", &next, "--canary", "canary"])
            .args(["--audit-log", "canary-audit.log"])
            .env("IDP_EXCHANGE_AUTHORITY_HOST", f.authority())
            .arg("--ca-cert")
            .arg(&f.emulator_ca)
            .output()
            .unwrap()
    };
    let state_of_next = || f.state_of(&next);
    // Entra's cached JWKS lacks the key: the canary fails, and nothing switches.
    let out = activate();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("canary exchange") && err.contains("AADSTS7000272"),
        "{err}"
    );
    assert_eq!(state_of_next(), "next");
    // Published (idp serve reloads the keyring on SIGHUP) and the cache expired: allowed.
    f.republish();
    let out = activate();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("canary: Entra accepted"), "{err}");
    assert_eq!(state_of_next(), "active");
    // Each canary assertion has its audit line, signed by the key being proven.
    let log = std::fs::read_to_string(f.path().join("canary-audit.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    for l in &lines {
        assert_eq!(l["command"], "keys activate");
        assert_eq!(l["customer"], "canary");
        assert_eq!(l["kid"], next);
    }
}

/// A US Government customer with no default scope: doctor and the rotation canary ask for
/// its own cloud's Resource Manager scope, which US Government's Entra (the emulator as
/// `--cloud usgov`) issues, where the global cloud's is refused (AADSTS500011). Both used
/// to ask for `https://management.azure.com/.default` whatever the cloud.
#[test]
fn doctor_and_the_canary_ask_a_sovereign_customers_own_cloud() {
    let f = Flow::served(&["--cloud", "usgov"]);
    let client_id = f.identity_with_fic_for(
        "uami-gov",
        &f.issuer,
        "gov",
        "api://AzureADTokenExchangeUSGov",
    );
    idp(f.path())
        .args([
            "customers",
            "add",
            "gov",
            "--tenant",
            &f.tenant,
            "--client-id",
            &client_id,
        ])
        .args(["--subject", "gov", "--cloud", "AzureUSGovernment"])
        .assert()
        .success();
    let issuer_ca = f.path().join("issuer-tls/ca.pem");
    let run = |args: &[&str]| {
        let out = idp(f.path())
            .args(args)
            .env("IDP_EXCHANGE_AUTHORITY_HOST", f.authority())
            .arg("--ca-cert")
            .arg(&issuer_ca)
            .arg("--ca-cert")
            .arg(&f.emulator_ca)
            .output()
            .unwrap();
        let (o, e) = (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        );
        println!("$ idp {args:?}\n{o}{e}");
        (out.status.code().unwrap_or(-1), o, e)
    };
    // What the old default asked for: refused by a US Government Entra.
    let (code, _, err) = run(&[
        "token",
        "--customer",
        "gov",
        "--scope",
        "https://management.azure.com/.default",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS500011"), "{err}");
    let (code, out, _) = run(&["doctor", "--customer", "gov"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✓ gov: exchange:"), "{out}");
    idp(f.path())
        .args(["keys", "add", "--key-size", "2048"])
        .assert()
        .success();
    f.republish();
    let next = f.kid_in_state("next");
    let (code, _, err) = run(&["keys", "activate", &next, "--canary", "gov"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("canary: Entra accepted"), "{err}");
}

#[test]
fn doctor_passes_a_healthy_setup_and_names_each_thing_entra_would_refuse() {
    let f = Flow::served(&[]);
    f.customer("good", "good");
    f.customer("broken", "not-its-subject");
    let issuer_ca = f.path().join("issuer-tls/ca.pem");
    let doctor = |extra: &[&str]| {
        let out = idp(f.path())
            .arg("doctor")
            .args(["--authority-host", &f.authority()])
            .arg("--ca-cert")
            .arg(&issuer_ca)
            .arg("--ca-cert")
            .arg(&f.emulator_ca)
            .args(extra)
            .output()
            .unwrap();
        let (o, e) = (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        );
        println!("$ idp doctor {extra:?}\n{o}{e}");
        (out.status.code().unwrap_or(-1), o)
    };
    let (code, out) = doctor(&["--customer", "good"]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "✓ issuer: discovery:",
        "✓ issuer: issuer: `https://127.0.0.1:",
        "✓ issuer: keys: 1 RSA key(s) of 2048 bits or more, use sig",
        "✓ issuer: active key:",
        "✓ issuer: drift:",
        "✓ good: exchange:",
        "! issuer: trust:",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    // A customer whose FIC holds another subject: ✗ with the AADSTS explanation, exit 1.
    let (code, out) = doctor(&["--all"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ broken: exchange: AADSTS700213"), "{out}");
    assert!(out.contains("✓ good: exchange"), "{out}");
    // A key activated without publishing: the active key is not in the JWKS, and drift.
    idp(f.path())
        .args(["keys", "add", "--key-size", "2048"])
        .assert()
        .success();
    let (code, out) = doctor(&[]);
    assert_eq!(code, 1, "drift alone fails: {out}");
    assert!(
        out.contains("! issuer: next key:") && out.contains("is not published yet"),
        "{out}"
    );
    assert!(out.contains("✗ issuer: drift:"), "{out}");
    let next = f.kid_in_state("next");
    idp(f.path())
        .args(["keys", "activate", &next, "--force"])
        .assert()
        .success();
    let (code, out) = doctor(&["--format", "json", "--customer", "good", "--no-exchange"]);
    assert_eq!(code, 1, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["ok"], false);
    let status = |check: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == check)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("active key"), "fail");
    assert_eq!(status("drift"), "fail");
    assert_eq!(status("values"), "ok");
}

/// Doctor reads a recorded identity's FICs over ARM: ✓ with the slots used, ✗ when no FIC
/// has the customer's subject (with what to do, naming no flag doctor lacks), ! when all 20
/// slots are taken; and each of its exchanges has its audit line.
#[test]
fn doctor_reads_each_customers_fic_over_arm_and_counts_the_slots() {
    let f = Flow::served(&[]);
    let id = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-fic",
        f.subscription
    );
    f.identity_with_fic("uami-fic", &f.issuer, "fic-subject");
    let common = |c: &mut assert_cmd::Command| {
        c.arg("--ca-cert")
            .arg(&f.emulator_ca)
            .arg("--ca-cert")
            .arg(f.path().join("issuer-tls/ca.pem"))
            .args([
                "--arm-endpoint",
                &f.authority(),
                "--arm-token-file",
                "owner.token",
            ])
            .args(["--audit-log", "audit.log"])
            .env("IDP_EXCHANGE_AUTHORITY_HOST", f.authority());
    };
    let mut add = idp(f.path());
    add.args([
        "customers",
        "add",
        "fic",
        "--identity",
        &id,
        "--scope",
        SCOPE,
    ]);
    common(&mut add);
    add.assert().success();
    let doctor = || {
        let mut c = idp(f.path());
        c.args(["doctor", "--customer", "fic"]);
        common(&mut c);
        let out = c.output().unwrap();
        let o = String::from_utf8(out.stdout).unwrap();
        println!("{o}{}", String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap(), o)
    };
    let (code, out) = doctor();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✓ fic: fic: FIC `idp`: issuer, subject `fic-subject`"),
        "{out}"
    );
    assert!(out.contains("✓ fic: fic slots: 1 of the 20"), "{out}");
    let log = std::fs::read_to_string(f.path().join("audit.log")).unwrap();
    assert!(
        log.contains("\"command\":\"doctor\"") && log.contains("\"customer\":\"fic\""),
        "{log}"
    );
    // The FIC's subject changed under the customer's record: ✗, and what to do.
    let (status, _) = f.arm(
        reqwest::Method::PUT,
        "uami-fic/federatedIdentityCredentials/idp",
        Some(
            json!({"properties": {"issuer": f.issuer, "subject": "renamed",
            "audiences": ["api://AzureADTokenExchange"]}}),
        ),
    );
    assert_eq!(status, 200);
    let (code, out) = doctor();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "✗ fic: fic: no federated credential with idp's issuer has subject `fic-subject`"
        ),
        "{out}"
    );
    let fix = out
        .lines()
        .skip_while(|l| !l.contains("✗ fic: fic:"))
        .nth(1)
        .unwrap();
    assert!(
        fix.contains("fix:") && fix.contains("subject `fic-subject`"),
        "{fix}"
    );
    assert!(!fix.contains("--subject"), "doctor has no --subject: {fix}");
    // All 20 slots taken: a warning before the next FIC is refused.
    for i in 0..19 {
        let (status, body) = f.arm(
            reqwest::Method::PUT,
            &format!("uami-fic/federatedIdentityCredentials/other{i}"),
            Some(
                json!({"properties": {"issuer": "https://other.example", "subject": format!("s{i}"),
                "audiences": ["api://AzureADTokenExchange"]}}),
            ),
        );
        assert!(status == 200 || status == 201, "{body}");
    }
    let (_, out) = doctor();
    assert!(out.contains("! fic: fic slots: 20 of the 20"), "{out}");
    assert!(out.contains("remove FICs no one uses"), "{out}");
}

#[test]
fn customers_add_reads_the_identity_and_its_fic_over_arm_and_explains_a_mismatch() {
    let f = Flow::served(&[]);
    let id = |name: &str| {
        format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            f.subscription
        )
    };
    let add_with = |name: &str, identity: &str, token_file: &str| {
        let out = idp(f.path())
            .args(["customers", "add", name, "--identity", identity])
            .args([
                "--arm-endpoint",
                &f.authority(),
                "--arm-token-file",
                token_file,
            ])
            .arg("--ca-cert")
            .arg(&f.emulator_ca)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{text}");
        (out.status.code().unwrap_or(-1), text)
    };
    let add = |name: &str, identity: &str| add_with(name, identity, "owner.token");
    let client_id = f.identity_with_fic("good", &f.issuer, SUBJECT);
    // A token ARM does not accept: 401, explained, the token never printed.
    std::fs::write(f.path().join("stale.token"), "a-bearer-token\n").unwrap();
    let (code, out) = add_with("good", &id("good"), "stale.token");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ARM refused access") && out.contains("401"),
        "{out}"
    );
    assert!(out.contains("log in again"), "{out}");
    assert!(
        !out.contains("a-bearer-token"),
        "the token is never printed"
    );
    assert!(!f.path().join("customers.toml").exists(), "nothing written");
    let (code, out) = add("good", &id("good"));
    assert_eq!(code, 0, "{out}");
    let owner = std::fs::read_to_string(f.path().join("owner.token")).unwrap();
    assert!(!out.contains(owner.trim()), "the token is never printed");
    let shown: Value = serde_json::from_slice(
        &idp(f.path())
            .args(["customers", "show", "good"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(shown["client_id"], client_id.as_str());
    assert_eq!(shown["tenant"], f.tenant.as_str());
    assert_eq!(shown["subject"], SUBJECT);
    assert_eq!(shown["identity"], id("good").as_str());
    let inventory = std::fs::read(f.path().join("customers.toml")).unwrap();

    // A FIC whose issuer has a trailing slash: the difference is named; nothing written.
    f.identity_with_fic("slash", &format!("{}/", f.issuer), SUBJECT);
    let (code, out) = add("slash", &id("slash"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("trailing slash") && out.contains("no federated credential has idp's issuer"),
        "{out}"
    );
    // Another audience.
    f.identity_with_fic_for("aud", &f.issuer, SUBJECT, "api://AzureADTokenExchangeUSGov");
    let (code, out) = add("aud", &id("aud"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("its audience is") && out.contains("AADSTS700212"),
        "{out}"
    );
    // A UAMI with no FIC at all, and one ARM does not have.
    let (status, _) = f.arm(
        reqwest::Method::PUT,
        "bare",
        Some(json!({"location": "westeurope"})),
    );
    assert_eq!(status, 201);
    let (code, out) = add("bare", &id("bare"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("has no federated credentials"), "{out}");
    let (code, out) = add("ghost", &id("ghost"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ARM answered 404") && out.contains("hint:"),
        "{out}"
    );
    // A malformed resource id is the user's to fix.
    let (code, out) = add("bad", "/subscriptions/nope");
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        std::fs::read(f.path().join("customers.toml")).unwrap(),
        inventory
    );
}

#[test]
fn the_emulator_behind_a_proxy_names_its_public_url_in_its_discovery() {
    let f = Flow::served(&["--public-url", "https://login.example.test"]);
    let doc: Value = client(&f.emulator_ca)
        .get(format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            f.authority(),
            f.tenant
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("https://login.example.test/{}/oauth2/v2.0/token", f.tenant)
    );
    // A URL the emulator cannot use is refused before it starts.
    let dir = tempfile::tempdir().unwrap();
    idp(dir.path())
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--self-signed",
            "emu",
        ])
        .args(["--public-url", "not a url"])
        .assert()
        .code(2);
    assert!(!dir.path().join("emu").exists());
}

#[test]
fn list_tokens_gets_the_applications_identity_token_for_its_publisher_only() {
    let f = Flow::served(&[]);
    let (status, uami) = f.arm(
        reqwest::Method::PUT,
        "app-identity",
        Some(json!({"location": "westeurope"})),
    );
    assert_eq!(status, 201, "{uami}");
    let uami_id = uami["id"].as_str().unwrap().to_owned();
    let app = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Solutions/applications/contoso-app",
        f.subscription
    );
    let (status, a) = f.arm_at(
        reqwest::Method::PUT,
        &format!("{app}?api-version=2021-07-01"),
        Some(json!({"location": "westeurope", "kind": "ServiceCatalog",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {uami_id.clone(): {}}},
            "properties": {"managedResourceGroupId": format!("/subscriptions/{}/resourceGroups/rg", f.subscription)}})),
    );
    assert_eq!(status, 201, "{a}");
    let list = |app: &str, token_file: &str, extra: &[&str]| {
        let out = idp(f.path())
            .args(["token", "--via", "list-tokens", "--application", app])
            .args(["--scope", SCOPE, "--arm-endpoint", &f.authority()])
            .args(["--arm-token-file", token_file])
            .arg("--ca-cert")
            .arg(&f.emulator_ca)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // The publisher (the owner who created it) gets the identity's Key Vault token.
    let (code, out, err) = list(&app, "owner.token", &["--identity", &uami_id]);
    assert_eq!(code, 0, "{err}");
    let claims = f.verify(out.trim(), "https://vault.azure.net");
    assert_eq!(claims["xms_mirid"], uami_id.as_str());
    assert_eq!(claims["appid"], uami["properties"]["clientId"]);
    let (code, out, _) = list(
        &app,
        "owner.token",
        &["--identity", &uami_id, "--format", "json"],
    );
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["token_type"], "Bearer");
    assert!(doc["expires_in"].as_u64().unwrap() > 3000);

    // Another principal (a managed identity's own ARM token): 403, explained, nothing printed.
    let client_id = f.identity_with_fic("caller", &f.issuer, SUBJECT);
    let arm_token = idp(f.path())
        .args([
            "token",
            "--tenant",
            &f.tenant,
            "--client-id",
            &client_id,
            "--subject",
            SUBJECT,
        ])
        .args([
            "--scope",
            "https://management.azure.com/.default",
            "--authority-host",
            &f.authority(),
        ])
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    std::fs::write(f.path().join("other.token"), &arm_token.stdout).unwrap();
    let (code, out, err) = list(&app, "other.token", &["--identity", &uami_id]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("403") && err.contains("only the managed application's publisher"),
        "{err}"
    );
    // An unknown application: 404, explained.
    let (code, _, err) = list(
        &format!("{app}-gone"),
        "owner.token",
        &["--identity", &uami_id],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("404") && err.contains("managed application's resource id"),
        "{err}"
    );
    // Usage errors: exit 2 before anything is sent.
    for (args, says) in [
        (
            vec!["token", "--via", "list-tokens", "--scope", SCOPE],
            "--application <ID>",
        ),
        (
            vec!["token", "--application", &app, "--scope", SCOPE],
            "--via list-tokens",
        ),
        (
            vec![
                "token",
                "--via",
                "list-tokens",
                "--application",
                "/subscriptions/x/apps/y",
                "--scope",
                SCOPE,
            ],
            "not a managed application's resource id",
        ),
        (
            vec![
                "token",
                "--via",
                "list-tokens",
                "--application",
                &app,
                "--scope",
                "https://vault.azure.net",
            ],
            "/.default",
        ),
    ] {
        let out = idp(f.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {out:?}"
        );
    }
}

/// MSAL Python, unchanged: a confidential client whose assertion callback runs `idp sign`
/// (a fresh assertion whenever MSAL needs one); MSAL's instance discovery is turned off, as
/// for any authority of one's own, and it reads the emulator's tenant discovery itself.
const MSAL: &str = r#"
import subprocess, sys
import msal
idp, authority, tenant, client_id, subject = sys.argv[1:6]
sign = lambda: subprocess.check_output([idp, "sign", "--subject", subject]).decode().strip()
app = msal.ConfidentialClientApplication(
    client_id,
    authority=f"{authority}/{tenant}",
    client_credential={"client_assertion": sign},
    instance_discovery=False,
)
result = app.acquire_token_for_client(scopes=["https://vault.azure.net/.default"])
if "access_token" not in result:
    sys.exit(f"no token: {result.get('error')}: {result.get('error_description')}")
print(result["access_token"])
"#;

#[test]
fn msal_python_gets_a_token_with_idp_sign_as_its_assertion_callback() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let out = Python::find()
        .command()
        .current_dir(f.path())
        .args([
            "-c",
            MSAL,
            env!("CARGO_BIN_EXE_idp"),
            &f.authority(),
            &f.tenant,
            &client_id,
            SUBJECT,
        ])
        .env("REQUESTS_CA_BUNDLE", &f.emulator_ca)
        .output()
        .unwrap();
    let token = String::from_utf8(stdout_of(out)).unwrap();
    let claims = f.verify(token.trim(), "https://vault.azure.net");
    assert_eq!(claims["appid"], client_id.as_str());
}

/// Over HTTP/2 the client names the host in `:authority`, not `Host`: the discovery
/// document's URLs keep the emulator's port.
#[test]
fn the_emulators_discovery_over_http2_keeps_its_port() {
    let f = Flow::served(&[]);
    let url = format!(
        "{}/{}/v2.0/.well-known/openid-configuration",
        f.authority(),
        f.tenant
    );
    let out = idp_testkit::isolate(&mut std::process::Command::new("curl"))
        .args(["-sS", "--http2", "-w", "\n%{http_version}", "--cacert"])
        .arg(&f.emulator_ca)
        .arg(&url)
        .output()
        .expect("curl is installed (apt-get install -y curl)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, version) = text.rsplit_once('\n').unwrap();
    assert_eq!(version, "2", "spoken over HTTP/2");
    let doc: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/{}/oauth2/v2.0/token", f.authority(), f.tenant)
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/{}/discovery/v2.0/keys", f.authority(), f.tenant)
    );
}
