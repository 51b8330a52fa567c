//! `idp publish-metadata` against real Azurite over HTTPS (started per test by the harness,
//! on a free loopback port, trusting a CA made for the test), as an operator runs it.

use assert_cmd::Command;
use idp_testkit::{Azurite, Python, StorageFront, stdout_of};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A working folder with `idp init` done for an issuer in Azurite's container.
struct Publisher {
    dir: tempfile::TempDir,
    issuer: String,
    ca: PathBuf,
}

impl Publisher {
    fn new(azurite: &Azurite, container: &str) -> Self {
        Self::at(azurite.container_url(container), &azurite.ca.ca_pem)
    }

    /// For an issuer URL of any storage front that the test CA vouches for.
    fn at(issuer: String, ca: &Path) -> Self {
        let p = Self {
            dir: tempfile::tempdir().unwrap(),
            issuer,
            ca: ca.to_owned(),
        };
        p.idp(&["init", "--issuer", &p.issuer, "--key-size", "2048"])
            .assert()
            .success();
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn idp(&self, args: &[&str]) -> Command {
        let mut std_cmd = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), self.path());
        std_cmd.args(args);
        let mut c = Command::from_std(std_cmd);
        c.env("IDP_CA_CERT", &self.ca);
        c.timeout(Duration::from_secs(120));
        c
    }

    /// Runs `idp publish-metadata` with `args`; returns (exit code, stdout, stderr).
    fn publish(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["publish-metadata"];
        all.extend_from_slice(args);
        let out = self.idp(&all).output().unwrap();
        // Shown when a test fails (and with --nocapture).
        println!(
            "$ idp {}\n{}{}",
            all.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn publish_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.publish(args);
        assert_eq!(code, 0, "publish failed:\n{out}\n{err}");
        out
    }

    fn rendered(&self, which: &str) -> Vec<u8> {
        stdout_of(self.idp(&["metadata", "--only", which]).output().unwrap())
    }

    fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer)
    }

    fn keys(&self, args: &[&str]) -> String {
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        String::from_utf8(stdout_of(self.idp(&all).output().unwrap())).unwrap()
    }

    fn kid_of_state(&self, state: &str) -> String {
        let list: Value = serde_json::from_str(&self.keys(&["list", "--json"])).unwrap();
        list.as_array()
            .or_else(|| list["keys"].as_array())
            .unwrap()
            .iter()
            .find(|k| k["state"] == state)
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {state} key in {list}"))
    }
}

use idp_testkit::https_client as anonymous;

fn get(ca: &Path, url: &str) -> (u16, Vec<u8>, Option<String>, Option<String>, Option<String>) {
    let r = anonymous(ca).get(url).send().unwrap();
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (ct, cc, etag) = (h("content-type"), h("cache-control"), h("etag"));
    (
        r.status().as_u16(),
        r.bytes().unwrap().to_vec(),
        ct,
        cc,
        etag,
    )
}

fn jwks_kids(bytes: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn sas() -> String {
    Python::find().account_sas("rwdlac", 3600)
}

#[test]
fn sas_publish_creates_a_public_container_and_curl_reads_it_back() {
    let azurite = Azurite::start();
    let p = Publisher::new(&azurite, "oidc");
    let sas = sas();
    let out = p.publish_ok(&["--sas", &sas, "--create-container"]);
    assert!(
        out.contains("create (anonymous read access: blob)"),
        "{out}"
    );
    assert!(out.contains("read back anonymously"), "{out}");
    assert!(!out.contains(&sas), "the SAS must not be printed");

    // What the issue asks to show, with curl itself.
    let curl = idp_testkit::isolate(&mut std::process::Command::new("curl"))
        .args(["-sS", "-D", "-", "--cacert"])
        .arg(&azurite.ca.ca_pem)
        .arg(p.discovery_url())
        .output()
        .expect("curl is needed by this test (Debian: apt-get install curl)");
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    let text = String::from_utf8(curl.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(body.as_bytes(), p.rendered("discovery"));

    let (status, jwks, ct, cc, _) = get(&p.ca, &p.jwks_url());
    assert_eq!(status, 200);
    assert_eq!(jwks, p.rendered("jwks"));
    assert_eq!(ct.as_deref(), Some("application/json"));
    assert_eq!(cc.as_deref(), Some("public, max-age=300"));
}

#[test]
fn republishing_unchanged_state_writes_nothing() {
    let azurite = Azurite::start();
    let p = Publisher::new(&azurite, "oidc");
    let sas = sas();
    p.publish_ok(&[
        "--sas",
        &sas,
        "--create-container",
        "--cache-control",
        "public, max-age=60",
    ]);
    let before = get(&p.ca, &p.jwks_url()).4.unwrap();
    let before_d = get(&p.ca, &p.discovery_url()).4.unwrap();
    let out = p.publish_ok(&["--sas", &sas, "--create-container"]);
    assert!(out.contains("nothing to write"), "{out}");
    assert_eq!(out.matches(": unchanged").count(), 2, "{out}");
    assert_eq!(
        get(&p.ca, &p.jwks_url()).4.unwrap(),
        before,
        "JWKS was rewritten"
    );
    assert_eq!(get(&p.ca, &p.discovery_url()).4.unwrap(), before_d);
}

#[test]
fn rotation_publishes_the_next_key_and_keeps_the_retiring_one() {
    let azurite = Azurite::start();
    let p = Publisher::new(&azurite, "rotate");
    let sas = sas();
    p.publish_ok(&["--sas", &sas, "--create-container"]);
    let first = p.kid_of_state("active");

    p.keys(&["add", "--key-size", "2048"]);
    let next = p.kid_of_state("next");
    // Not published yet: activation is refused, and the keyring is unchanged.
    let refused = |args: &[&str], says: &str| {
        let ring_before = std::fs::read(p.path().join("keys/keyring.json")).unwrap();
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        let out = p.idp(&all).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says) && err.contains("hint:"), "{err}");
        let ring_after = std::fs::read(p.path().join("keys/keyring.json")).unwrap();
        let state = |b: &[u8]| {
            let v: Value = serde_json::from_slice(b).unwrap();
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| (k["kid"].clone(), k["state"].clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(state(&ring_before), state(&ring_after), "no state changed");
    };
    refused(&["activate", &next], "is not in the JWKS published at");
    let out = p.publish_ok(&["--sas", &sas]);
    assert!(out.contains(&format!("kid {next}: appears")), "{out}");
    assert!(out.contains("jwks.json: replace"), "{out}");
    assert!(out.contains("openid-configuration: unchanged"), "{out}");
    let kids = jwks_kids(&get(&p.ca, &p.jwks_url()).1);
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&first) && kids.contains(&next));

    // The readback recorded when Entra could first see it.
    let ring: Value =
        serde_json::from_slice(&std::fs::read(p.path().join("keys/keyring.json")).unwrap())
            .unwrap();
    let entry = |kid: &str| {
        ring["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone()
    };
    assert!(entry(&next)["published_at"].is_string(), "{ring}");
    // Published a moment ago: Entra may still cache the old JWKS for a day.
    refused(&["activate", &next], "less than 1d ago");
    // With the minimum age met (here: none), the published key activates.
    p.keys(&["activate", &next, "--min-published-age", "0s"]);
    p.publish_ok(&["--sas", &sas]);
    let kids = jwks_kids(&get(&p.ca, &p.jwks_url()).1);
    assert_eq!(kids[0], next, "the active key comes first");
    assert!(kids.contains(&first), "the retiring key stays published");

    // The first key signed until a moment ago: its assertions may still be valid.
    refused(
        &["retire", &first],
        "retiring it before then makes them fail",
    );
    p.keys(&["retire", &first, "--force"]);
    let out = p.publish_ok(&["--sas", &sas]);
    assert!(out.contains(&format!("kid {first}: disappears")), "{out}");
    assert_eq!(jwks_kids(&get(&p.ca, &p.jwks_url()).1), vec![next]);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let azurite = Azurite::start();
    let p = Publisher::new(&azurite, "dry");
    let sas = sas();
    let out = p.publish_ok(&["--sas", &sas, "--create-container", "--dry-run"]);
    let kid = p.kid_of_state("active");
    assert!(out.contains("container"), "{out}");
    assert!(out.contains("jwks.json: create"), "{out}");
    assert!(out.contains(&format!("kid {kid}: appears")), "{out}");
    assert!(out.contains("dry run: nothing written"), "{out}");
    // Still no container: a real publish without --create-container is refused.
    let (code, _, err) = p.publish(&["--sas", &sas]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn check_exits_1_on_drift_and_0_when_up_to_date() {
    let azurite = Azurite::start();
    let p = Publisher::new(&azurite, "drift");
    let sas = sas();
    // Nothing published yet: drift.
    let (code, out, err) = p.publish(&["--check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("drift"), "{out}");

    p.publish_ok(&["--sas", &sas, "--create-container"]);
    let (code, out, _) = p.publish(&["--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("up to date"), "{out}");

    p.keys(&["add", "--key-size", "2048"]);
    let next = p.kid_of_state("next");
    let (code, out, _) = p.publish(&["--check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("kid {next} is not published yet")),
        "{out}"
    );
    // --check changed nothing.
    assert!(!jwks_kids(&get(&p.ca, &p.jwks_url()).1).contains(&next));
}

#[test]
fn bearer_token_from_the_azure_cli_credential_is_accepted() {
    let azurite = Azurite::start();
    let p = Publisher::new(&azurite, "bearer");
    // Create the container with a SAS first: the point here is the Entra credential path.
    p.publish_ok(&["--sas", &sas(), "--create-container"]);
    p.keys(&["add", "--key-size", "2048"]);

    // A stand-in `az` on PATH: azure_identity's AzureCliCredential runs
    // `az account get-access-token -o json --scope <scope>` through /bin/sh and reads
    // accessToken/expires_on. The token has what Azurite's --oauth basic checks.
    let bin = p.path().join("fakebin");
    std::fs::create_dir(&bin).unwrap();
    let token = storage_token();
    let log = p.path().join("az.log");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {}\nprintf '%s' '{{\"accessToken\":\"{token}\",\"expires_on\":{},\"tokenType\":\"Bearer\"}}'\n",
        log.display(),
        now() + 3600
    );
    let az = bin.join("az");
    std::fs::write(&az, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());

    let out = p
        .idp(&["publish-metadata", "--auth", "azure-cli"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("jwks.json: replace"), "{stdout}");
    let asked = std::fs::read_to_string(&log).unwrap();
    assert!(
        asked.contains("get-access-token") && asked.contains("https://storage.azure.com/.default"),
        "{asked}"
    );
    assert!(!stdout.contains(&token));
    assert_eq!(get(&p.ca, &p.jwks_url()).1, p.rendered("jwks"));

    // The same credential path in auto mode (no SAS, no workload or managed identity).
    p.keys(&["add", "--key-size", "2048"]);
    stdout_of(
        p.idp(&["publish-metadata"])
            .env("PATH", &path)
            .output()
            .unwrap(),
    );
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An access token shaped like Entra's for storage (Azurite checks claims, not signatures).
fn storage_token() -> String {
    use base64::Engine;
    let b = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": "test"});
    let claims = serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": "https://sts.windows.net/11111111-2222-3333-4444-555555555555/",
        "iat": now() - 60, "nbf": now() - 60, "exp": now() + 3600,
        "oid": "0000", "tid": "11111111-2222-3333-4444-555555555555",
    });
    format!("{}.{}.c2lnbmF0dXJl", b(&header), b(&claims))
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let azurite = Azurite::start();
    let py = Python::find();
    let p = Publisher::new(&azurite, "bad");

    // An issuer that maps to no container.
    let (code, _, err) = p.publish(&[
        "--issuer",
        "https://issuer.example.com/oidc",
        "--sas",
        "sv=1&sig=x",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("maps to no blob container"), "{err}");
    assert!(err.contains("storage.endpoint"), "{err}");

    // Not a SAS at all.
    let (code, _, err) = p.publish(&["--sas", "sv=2024-01-01&se=2030"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no `sig=`"), "{err}");

    // Missing container without --create-container.
    let good = py.account_sas("rwdlac", 3600);
    let (code, _, err) = p.publish(&["--sas", &good]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("does not exist") && err.contains("--create-container"),
        "{err}"
    );

    // Wrong signature, and an expired token: refused, the SAS never echoed.
    let wrong = good.replace("sig=", "sig=AAAA");
    let expired = py.account_sas("rwdlac", -60);
    for sas in [&wrong, &expired] {
        let (code, out, err) = p.publish(&["--sas", sas, "--create-container"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("storage refused access"), "{err}");
        assert!(err.contains("SAS"), "the hint names the SAS: {err}");
        let sig = sas.split("sig=").nth(1).unwrap().split('&').next().unwrap();
        assert!(
            !err.contains(sig) && !out.contains(sig),
            "SAS signature leaked: {err}"
        );
    }
    let exists = py.run(
        r#"
import sys
from azure.storage.blob import ContainerClient
c = ContainerClient(sys.argv[1], "bad", credential=sys.argv[2], connection_verify=sys.argv[3])
print(c.exists())
"#,
        &[
            &azurite.account_url(),
            &good,
            azurite.ca.ca_pem.to_str().unwrap(),
        ],
    );
    assert_eq!(exists, "False", "nothing may be written");

    // A container that exists but is private: written, but the readback names the cause.
    py.run(
        r#"
import sys
from azure.storage.blob import BlobServiceClient
c = BlobServiceClient(sys.argv[1], credential=sys.argv[2], connection_verify=sys.argv[3])
c.create_container("private")
"#,
        &[
            &azurite.account_url(),
            &good,
            azurite.ca.ca_pem.to_str().unwrap(),
        ],
    );
    let q = Publisher::new(&azurite, "private");
    let (code, _, err) = q.publish(&["--sas", &good]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not allow anonymous read"), "{err}");
    assert!(err.contains("$web"), "{err}");
}

#[test]
fn a_keyring_that_does_not_know_the_published_keys_is_refused() {
    let azurite = Azurite::start();
    let sas = sas();
    let first = Publisher::new(&azurite, "shared");
    first.publish_ok(&["--sas", &sas, "--create-container"]);
    let theirs = first.kid_of_state("active");
    let before = get(&first.ca, &first.jwks_url()).1;

    // A second keyring (a stale copy, another operator) would drop the first's signing key.
    let other = Publisher::new(&azurite, "shared");
    let (code, _, err) = other.publish(&["--sas", &sas]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&theirs) && err.contains("does not know"),
        "{err}"
    );
    assert!(err.contains("--drop-unknown-keys"), "{err}");
    assert_eq!(
        get(&first.ca, &first.jwks_url()).1,
        before,
        "nothing written"
    );

    // --dry-run refuses the same way; with the flag, the plan says what disappears.
    let (code, _, _) = other.publish(&["--sas", &sas, "--dry-run"]);
    assert_eq!(code, 1);
    let out = other.publish_ok(&["--sas", &sas, "--drop-unknown-keys"]);
    assert!(out.contains(&format!("kid {theirs}: disappears")), "{out}");
}

#[test]
fn unreachable_storage_fails_after_bounded_retries_then_a_rerun_completes() {
    let mut azurite = Azurite::start_persistent();
    let p = Publisher::new(&azurite, "outage");
    let sas = sas();
    azurite.stop();
    let started = Instant::now();
    let (code, _, err) = p.publish(&["--sas", &sas, "--create-container", "--retries", "2"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    assert!(
        took < Duration::from_secs(60),
        "retries are bounded: took {took:?}"
    );
    azurite.restart();
    p.publish_ok(&["--sas", &sas, "--create-container"]);
    assert_eq!(get(&p.ca, &p.jwks_url()).1, p.rendered("jwks"));
}

#[test]
fn storage_answers_408_429_and_503_are_retried_within_the_bound() {
    let azurite = Azurite::start();
    let sas = sas();
    azurite_create_container(&azurite, "flaky");
    // Three failures in a row, then storage answers: the default 3 retries ride it out.
    let front = StorageFront::flaky(&azurite, &[503, 429, 408]);
    let p = Publisher::at(front.container_url("flaky"), &azurite.ca.ca_pem);
    let (code, _, err) = p.publish(&["--sas", &sas, "--no-readback"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(front.failed(), 3, "every failure was met by a retry");
    assert_eq!(
        blobs_in(&azurite, "flaky").unwrap(),
        vec![".well-known/jwks.json", ".well-known/openid-configuration"]
    );

    // More failures than --retries allows: the publish stops, said, after 1 + 1 calls.
    let front = StorageFront::flaky(&azurite, &[503; 10]);
    let q = Publisher::at(front.container_url("flaky"), &azurite.ca.ca_pem);
    let (code, _, err) = q.publish(&["--sas", &sas, "--no-readback", "--retries", "1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("503"), "{err}");
    assert_eq!(front.failed(), 2, "one call and one retry: {err}");
}

#[test]
fn a_write_that_lands_between_read_and_write_is_never_overwritten() {
    let azurite = Azurite::start();
    let sas = sas();
    azurite_create_container(&azurite, "race1");
    // The container is private: read with the SAS.
    let jwks_now = |p: &Publisher| get(&p.ca, &format!("{}?{sas}", p.jwks_url())).1;

    // Creating: another publisher creates the JWKS after idp saw none (If-None-Match: *).
    let front = StorageFront::racing(&azurite);
    let p = Publisher::at(front.container_url("race1"), &azurite.ca.ca_pem);
    let (code, _, err) = p.publish(&["--sas", &sas, "--no-readback"]);
    assert!(front.raced());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("another publisher"), "{err}");
    assert_eq!(
        jwks_now(&p),
        idp_testkit::RACER_BYTES,
        "the other write stands"
    );

    // Replacing: idp read the racer's JWKS (and was allowed to drop it); another write
    // lands before idp's (If-Match on the ETag read).
    let front = StorageFront::racing(&azurite);
    let q = Publisher::at(front.container_url("race1"), &azurite.ca.ca_pem);
    let (code, _, err) = q.publish(&["--sas", &sas, "--no-readback", "--drop-unknown-keys"]);
    assert!(front.raced());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("another publisher"), "{err}");
    assert_eq!(
        jwks_now(&q),
        idp_testkit::RACER_BYTES,
        "the other write stands"
    );
}

/// Four operators with their own keyrings and each its own JWKS path publish to one
/// container at once: whoever wins, the discovery document left is one publisher's whole,
/// and the JWKS it points at holds exactly that publisher's keys (a discovery document
/// written before its JWKS, or over another's without its ETag, would leave a discovery
/// naming a JWKS of another keyring, or none).
#[test]
fn concurrent_publishers_never_leave_an_inconsistent_issuer() {
    let azurite = Azurite::start();
    let sas = sas();
    let first = Publisher::new(&azurite, "race");
    first.publish_ok(&["--sas", &sas, "--create-container"]);
    let others: Vec<Publisher> = (0..4)
        .map(|i| {
            let p = Publisher::new(&azurite, "race");
            let toml = p.path().join("idp.toml");
            let text = std::fs::read_to_string(&toml).unwrap();
            std::fs::write(
                &toml,
                format!("{text}\n[metadata]\njwks_path = \"keys/p{i}.json\"\n"),
            )
            .unwrap();
            p
        })
        .collect();
    let discoveries: Vec<Vec<u8>> = others.iter().map(|p| p.rendered("discovery")).collect();
    assert!(
        discoveries.windows(2).all(|w| w[0] != w[1]),
        "each publisher's discovery document is its own"
    );
    let children: Vec<_> = others
        .iter()
        .map(|p| {
            let mut c = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), p.path());
            c.args(["publish-metadata", "--sas", &sas, "--drop-unknown-keys"])
                .env("IDP_CA_CERT", &p.ca)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let results: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut winners = Vec::new();
    for (p, r) in others.iter().zip(&results) {
        let err = String::from_utf8_lossy(&r.stderr);
        match r.status.code() {
            Some(0) => winners.push(p),
            Some(1) => assert!(
                err.contains("another publisher") || err.contains("differs"),
                "a loser must say why: {err}"
            ),
            other => panic!("unexpected exit {other:?}: {err}"),
        }
    }
    assert!(!winners.is_empty(), "someone must win");
    // The discovery document is one publisher's whole, and its JWKS that publisher's.
    let (_, discovery, ..) = get(&first.ca, &first.discovery_url());
    let owner = others
        .iter()
        .position(|p| p.rendered("discovery") == discovery)
        .expect("the discovery document is no publisher's");
    let jwks_uri = serde_json::from_slice::<Value>(&discovery).unwrap()["jwks_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, jwks, ..) = get(&first.ca, &jwks_uri);
    assert_eq!(status, 200, "{jwks_uri}");
    assert_eq!(
        jwks,
        others[owner].rendered("jwks"),
        "the JWKS is not its publisher's"
    );
}

/// Behind a custom domain (a front serving the container at `https://<host>/oidc`), the
/// issuer URL says nothing of the container: publish-metadata says to set
/// `storage.endpoint`, and with it writes to the container and reads back through the
/// issuer URL, as Entra will.
#[test]
fn storage_endpoint_publishes_behind_a_custom_domain() {
    let azurite = Azurite::start();
    let sas = sas();
    let container = azurite.container_url("custom");
    let front = Python::find().https_server(CUSTOM_DOMAIN, &azurite.ca, &[&container]);
    let issuer = format!("https://{}/oidc", front.address());
    let p = Publisher::at(issuer.clone(), &azurite.ca.ca_pem);
    let (code, _, err) = p.publish(&["--sas", &sas, "--create-container"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("storage.endpoint"), "{err}");
    let toml = p.path().join("idp.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{text}\n[storage]\nendpoint = \"{container}\"\n"),
    )
    .unwrap();
    let out = p.publish_ok(&["--sas", &sas, "--create-container"]);
    assert!(out.contains("read back anonymously"), "{out}");
    let (status, discovery, ..) = get(
        &azurite.ca.ca_pem,
        &format!("{issuer}/.well-known/openid-configuration"),
    );
    assert_eq!(status, 200);
    assert_eq!(discovery, p.rendered("discovery"));
    let (_, direct, ..) = get(
        &azurite.ca.ca_pem,
        &format!("{container}/.well-known/openid-configuration"),
    );
    assert_eq!(direct, discovery, "the front serves the container's blobs");
}

/// A custom domain in front of a container: `GET /oidc/<path>` answers the container's
/// blob `<path>` (argv[3] is the container's URL), with its status and content type.
const CUSTOM_DOMAIN: &str = r#"
import ssl, urllib.error, urllib.request
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith("/oidc/"):
            self.send_response(404); self.end_headers(); return
        ctx = ssl.create_default_context(cafile=sys.argv[1].replace("server.pem", "ca.pem"))
        try:
            r = urllib.request.urlopen(sys.argv[3] + "/" + self.path[len("/oidc/"):], context=ctx)
            status, body, ct = 200, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, body, ct = e.code, b"", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ct)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
"#;

/// What Azurite holds, asked directly (not through any front): the container's blob names,
/// or `None` when the container does not exist.
fn blobs_in(azurite: &Azurite, container: &str) -> Option<Vec<String>> {
    let out = Python::find().run(
        r#"
import sys
from azure.storage.blob import ContainerClient
c = ContainerClient(sys.argv[1], sys.argv[2], credential=sys.argv[3], connection_verify=sys.argv[4])
print(" ".join(b.name for b in c.list_blobs()) if c.exists() else "(none)")
"#,
        &[
            &azurite.account_url(),
            container,
            &sas(),
            azurite.ca.ca_pem.to_str().unwrap(),
        ],
    );
    (out != "(none)").then(|| out.split_whitespace().map(str::to_owned).collect())
}

#[test]
fn an_account_that_forbids_public_access_is_refused_and_nothing_is_written() {
    let azurite = Azurite::start();
    let account = StorageFront::no_public_access(&azurite);
    let sas = sas();
    let says_why = |err: &str| {
        assert!(err.contains("does not allow public access"), "{err}");
        assert!(err.contains("allowBlobPublicAccess"), "{err}");
        assert!(
            err.contains("$web") && err.contains(".web.core.windows.net"),
            "{err}"
        );
        assert!(!err.contains("sig="), "the SAS signature leaked: {err}");
    };

    // A new container: the anonymous probe before any write is refused; nothing is created.
    let p = Publisher::at(account.container_url("oidc"), &azurite.ca.ca_pem);
    let (code, out, err) = p.publish(&["--sas", &sas, "--create-container"]);
    assert_eq!(code, 1, "{out}{err}");
    says_why(&err);
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        blobs_in(&azurite, "oidc"),
        None,
        "no container may be created"
    );

    // Without the probe (--no-readback), Azure's refusal to create a public container stops it.
    let (code, out, err) = p.publish(&["--sas", &sas, "--create-container", "--no-readback"]);
    assert_eq!(code, 1, "{out}{err}");
    says_why(&err);
    assert_eq!(
        blobs_in(&azurite, "oidc"),
        None,
        "no container may be created"
    );

    // An existing container (made directly in Azurite): refused before either blob is written.
    azurite_create_container(&azurite, "existing");
    let q = Publisher::at(account.container_url("existing"), &azurite.ca.ca_pem);
    let (code, out, err) = q.publish(&["--sas", &sas]);
    assert_eq!(code, 1, "{out}{err}");
    says_why(&err);
    assert_eq!(
        blobs_in(&azurite, "existing"),
        Some(vec![]),
        "no blob may be written"
    );

    // --dry-run reports the same refusal rather than a plan that could never serve Entra.
    let (code, _, err) = q.publish(&["--sas", &sas, "--dry-run"]);
    assert_eq!(code, 1, "{err}");
    says_why(&err);
    assert!(
        account.refused() >= 4,
        "the front refused {}",
        account.refused()
    );
}

fn azurite_create_container(azurite: &Azurite, name: &str) {
    Python::find().run(
        r#"
import sys
from azure.storage.blob import BlobServiceClient
BlobServiceClient(sys.argv[1], credential=sys.argv[2], connection_verify=sys.argv[3]).create_container(sys.argv[4])
"#,
        &[
            &azurite.account_url(),
            &sas(),
            azurite.ca.ca_pem.to_str().unwrap(),
            name,
        ],
    );
}

fn azurite_put_blob(azurite: &Azurite, container: &str, blob: &str, bytes: &str) {
    Python::find().run(
        r#"
import sys
from azure.storage.blob import BlobServiceClient
s = BlobServiceClient(sys.argv[1], credential=sys.argv[2], connection_verify=sys.argv[3])
c = s.get_container_client(sys.argv[4])
if not c.exists():
    c.create_container(public_access="blob")
c.upload_blob(sys.argv[5], sys.argv[6].encode(), overwrite=True)
"#,
        &[
            &azurite.account_url(),
            &sas(),
            azurite.ca.ca_pem.to_str().unwrap(),
            container,
            blob,
            bytes,
        ],
    );
}

#[test]
fn a_published_foreign_key_of_another_shape_is_never_dropped_silently() {
    let azurite = Azurite::start();
    let sas = sas();
    // Another keyring's JWKS, as other tools write it: an RSA key without `use`/`alg`, and
    // an EC key. idp would not write either, but both kids are someone's signing keys.
    let foreign = r#"{"keys":[{"kty":"RSA","kid":"their-rsa","n":"AQAB","e":"AQAB"},{"kty":"EC","kid":"their-ec","crv":"P-256","x":"AA","y":"AA"}]}"#;
    azurite_put_blob(&azurite, "mixed", ".well-known/jwks.json", foreign);
    let p = Publisher::new(&azurite, "mixed");

    let (code, _, err) = p.publish(&["--sas", &sas]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("their-ec") && err.contains("does not know"),
        "{err}"
    );
    let (code, _, err) = p.publish(&["--sas", &sas, "--dry-run"]);
    assert_eq!(code, 1, "--dry-run refuses too: {err}");
    assert_eq!(
        get(&p.ca, &p.jwks_url()).1,
        foreign.as_bytes(),
        "nothing written"
    );

    // With the flag the plan names both disappearing kids.
    let out = p.publish_ok(&["--sas", &sas, "--dry-run", "--drop-unknown-keys"]);
    for kid in ["their-rsa", "their-ec"] {
        assert!(out.contains(&format!("kid {kid}: disappears")), "{out}");
    }
    assert_eq!(
        get(&p.ca, &p.jwks_url()).1,
        foreign.as_bytes(),
        "a dry run writes nothing"
    );
}

#[test]
fn a_huge_published_jwks_is_refused_without_being_read_whole() {
    let azurite = Azurite::start();
    // 50 MB where the JWKS should be.
    Python::find().run(
        r#"
import sys
from azure.storage.blob import BlobServiceClient
s = BlobServiceClient(sys.argv[1], credential=sys.argv[2], connection_verify=sys.argv[3])
c = s.create_container("huge", public_access="blob")
c.upload_blob(".well-known/jwks.json", b" " * (50 << 20))
"#,
        &[
            &azurite.account_url(),
            &sas(),
            azurite.ca.ca_pem.to_str().unwrap(),
        ],
    );
    let p = Publisher::new(&azurite, "huge");
    let sas = sas();
    for args in [&["--dry-run"][..], &[][..], &["--drop-unknown-keys"][..]] {
        let mut all = vec!["--sas", sas.as_str()];
        all.extend_from_slice(args);
        let (code, _, err) = p.publish(&all);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("larger than 1048576 bytes"), "{err}");
    }
    assert_eq!(
        blobs_in(&azurite, "huge").unwrap(),
        vec![".well-known/jwks.json"],
        "nothing else written"
    );
}

/// An HTTPS host that answers every GET with `302 Location: <argv[3]><path>`.
const REDIRECT: &str = r#"
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(302)
        self.send_header("location", sys.argv[3] + self.path)
        self.send_header("content-length", "0")
        self.end_headers()
"#;

#[test]
fn readback_never_follows_a_redirect() {
    // The documents are published (Azurite), but the issuer URL redirects to them, as a
    // CDN or a moved container might: Entra does not follow redirects, so neither does idp.
    let azurite = Azurite::start();
    let sas = sas();
    let target = Publisher::new(&azurite, "real");
    target.publish_ok(&["--sas", &sas, "--create-container"]);
    let host = Python::find().https_server(REDIRECT, &azurite.ca, &[&azurite.account_url()]);
    let p = Publisher::at(
        format!("https://{}/devstoreaccount1/real", host.address()),
        &azurite.ca.ca_pem,
    );
    let (code, out, err) = p.publish(&["--check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("redirects to") && out.contains("Entra does not follow redirects"),
        "{out}"
    );
    // The redirect's target is real and would have answered: nothing was fetched there.
    assert!(!out.contains("up to date"), "{out}");
}
