//! A signing key that never leaves Key Vault, through its whole life against the emulator's
//! vault, with Microsoft's Rust Key Vault keys SDK as idp's client: refused without a role
//! (and said which), created (RSA-HSM in a premium vault, not exportable), published,
//! activated through the canary, signing `idp sign` and `idp token` assertions that `idp
//! inspect` and Entra verify, retired; keyring.json holds its id and public key only.
//! Then what idp refuses to adopt (EC, exportable), a token for another audience, a vault
//! that throttles (429, retried) and one that cannot be reached (no retry storm).

use crate::flow::{Flow, client, idp};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const CRYPTO_OFFICER: &str = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603";
const CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";

/// The publisher's vault and the identity idp signs in as (a UAMI whose FIC trusts idp's
/// own issuer: a pipeline's workload identity), with a Key Vault token for it in a file.
struct Publisher {
    vault_id: String,
    vault_url: String,
    principal: String,
    token_file: PathBuf,
}

impl Publisher {
    fn new(f: &Flow, sku: &str) -> Self {
        let client_id = f.identity_with_fic("publisher", &f.issuer, "publisher-pipeline");
        let (_, uami) = f.arm(reqwest::Method::GET, "publisher", None);
        let principal = uami["properties"]["principalId"]
            .as_str()
            .unwrap()
            .to_owned();
        let (vault_id, vault_url) = f.vault(&format!("kv-idp-{sku}"), sku);
        // flow::SCOPE is Key Vault's.
        let (code, token, err, _) = f.token(&client_id, "publisher-pipeline", &[]);
        assert_eq!(code, 0, "{err}");
        let token_file = f.path().join(format!("vault-{sku}.token"));
        std::fs::write(&token_file, token.trim()).unwrap();
        Self {
            vault_id,
            vault_url,
            principal,
            token_file,
        }
    }

    /// Assigns `role` on the vault to the publisher; returns the assignment's path.
    fn grant(&self, f: &Flow, role: &str, guid: &str) -> String {
        let path = format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{guid}",
            self.vault_id
        );
        let (status, a) = f.arm_at(
            reqwest::Method::PUT,
            &format!("{path}?api-version=2022-04-01"),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", f.subscription),
                "principalId": self.principal, "principalType": "ServicePrincipal"}})),
        );
        assert_eq!(status, 201, "{a}");
        path
    }

    fn revoke(&self, f: &Flow, path: &str) {
        let (status, a) = f.arm_at(
            reqwest::Method::DELETE,
            &format!("{path}?api-version=2022-04-01"),
            None,
        );
        assert_eq!(status, 200, "{a}");
    }

    /// A data-plane request to the vault with the publisher's token.
    fn call(&self, f: &Flow, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let token = std::fs::read_to_string(&self.token_file).unwrap();
        let mut r = client(&f.emulator_ca)
            .request(method, format!("{}{path}?api-version=7.5", self.vault_url))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().unwrap();
        assert!(r.status().is_success(), "{r:?}");
        r.json().unwrap()
    }
}

/// `idp` with the vault's token file and both CAs; returns (exit code, stdout, stderr).
fn run(f: &Flow, p: &Publisher, args: &[&str]) -> (i32, String, String) {
    let out = idp(f.path())
        .args(args)
        .arg("--key-vault-token-file")
        .arg(&p.token_file)
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .env("IDP_EXCHANGE_AUTHORITY_HOST", f.authority())
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    println!("$ idp {args:?}\n{o}{e}");
    (out.status.code().unwrap_or(-1), o, e)
}

fn keyring(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("keys/keyring.json")).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_key_vault_key_through_its_whole_life() {
    let f = Flow::served(&[]);
    f.customer("contoso", "contoso");
    let p = Publisher::new(&f, "premium");
    let key_url = format!("{}keys/idp-signing", p.vault_url);
    let files_before = files_in(&f.path().join("keys"));

    // No role on the vault: refused, the missing role named, nothing written.
    let ring_before = keyring(f.path());
    let (code, _, err) = run(&f, &p, &["keys", "add", "--key-vault", &key_url]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Key Vault Crypto Officer is missing") && err.contains("ForbiddenByRbac"),
        "{err}"
    );
    assert!(err.contains("hint: assign it"), "{err}");
    assert_eq!(keyring(f.path()), ring_before);

    // With Key Vault Crypto Officer: created in the vault, recorded by id and public key.
    let officer = p.grant(&f, CRYPTO_OFFICER, "0a000000-0000-4000-8000-00000000000a");
    // The default size, as for keys on disk: 3072 bits.
    let (code, out, err) = run(&f, &p, &["keys", "add", "--key-vault", &key_url]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("RSA-HSM: HSM-protected"), "{err}");
    assert!(out.contains("(next)"), "{out}");
    let kid = f.kid_in_state("next");
    let entry = f
        .keys()
        .into_iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let key_id = entry["key_vault"].as_str().unwrap().to_owned();
    assert!(key_id.starts_with(&format!("{key_url}/")), "{entry}");
    assert_eq!(entry["bits"], 3072);
    assert!(entry.get("file").is_none(), "{entry}");
    // The vault answers the same public key; kid is its RFC 7638 thumbprint.
    let version = key_id.rsplit('/').next().unwrap();
    let in_vault = p.call(
        &f,
        reqwest::Method::GET,
        &format!("keys/idp-signing/{version}"),
        None,
    );
    assert_eq!(in_vault["key"]["n"], entry["n"]);
    assert_eq!(in_vault["attributes"]["exportable"], false);
    assert_eq!(in_vault["key"]["kty"], "RSA-HSM");
    assert_eq!(in_vault["key"]["key_ops"], json!(["sign", "verify"]));
    let thumbprint = {
        use base64::Engine as _;
        use sha2::Digest as _;
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            entry["e"].as_str().unwrap(),
            entry["n"].as_str().unwrap()
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(canonical.as_bytes()))
    };
    assert_eq!(kid, thumbprint);
    // No private material anywhere on disk: the keys folder gained nothing but the entry.
    assert_eq!(files_in(&f.path().join("keys")), files_before);
    let text = keyring(f.path());
    for private in ["\"d\"", "\"p\"", "\"q\"", "PRIVATE KEY"] {
        assert!(!text.contains(private), "{private} in {text}");
    }

    // Published, then activated through the canary. The officer role is withdrawn first:
    // signing needs Key Vault Crypto User, and its absence is explained.
    p.revoke(&f, &officer);
    f.republish();
    let (code, _, err) = run(&f, &p, &["keys", "activate", &kid, "--canary", "contoso"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Key Vault Crypto User is missing") && err.contains("sign with the key"),
        "{err}"
    );
    assert_eq!(f.state_of(&kid), "next");
    p.grant(&f, CRYPTO_USER, "0b000000-0000-4000-8000-00000000000b");
    let (code, _, err) = run(&f, &p, &["keys", "activate", &kid, "--canary", "contoso"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("canary: Entra accepted"), "{err}");
    assert_eq!(f.state_of(&kid), "active");
    let old = f.kid_in_state("retiring");
    // A newer version made in the vault meanwhile changes nothing: idp signs with the
    // version it recorded (the one the JWKS publishes).
    p.grant(&f, CRYPTO_OFFICER, "0e000000-0000-4000-8000-00000000000e");
    p.call(
        &f,
        reqwest::Method::POST,
        "keys/idp-signing/create",
        Some(json!({"kty": "RSA-HSM"})),
    );

    // `idp sign` signs through the vault; `idp inspect` verifies it with the keyring.
    let (code, assertion, err) = run(&f, &p, &["sign", "--subject", "contoso"]);
    assert_eq!(code, 0, "{err}");
    let header: Value = {
        use base64::Engine as _;
        let h = assertion.trim().split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(header["alg"], "RS256");
    let out = idp(f.path())
        .args(["inspect", assertion.trim()])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains(&kid), "{said}");

    // And Entra accepts what it signs: a token for the customer.
    let (code, token, err) = run(&f, &p, &["token", "--customer", "contoso"]);
    assert_eq!(code, 0, "{err}");
    let claims = f.verify(token.trim(), "https://vault.azure.net");
    assert!(
        claims["xms_mirid"]
            .as_str()
            .unwrap()
            .contains("uami-contoso")
    );
    // `idp exec` hands a tool an assertion file the vault signed.
    let out = idp(f.path())
        .arg("--key-vault-token-file")
        .arg(&p.token_file)
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .args(["exec", "--customer", "contoso", "--", "sh", "-c"])
        .arg("cat \"$AZURE_FEDERATED_TOKEN_FILE\"")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = String::from_utf8(out.stdout).unwrap();
    let out = idp(f.path()).args(["inspect", &file]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&kid));

    // Published again (the active key leads the JWKS), `idp doctor` checks that the vault
    // signs with the published key.
    f.republish();
    let issuer_ca = f.path().join("issuer-tls/ca.pem");
    let (code, out, err) = run(
        &f,
        &p,
        &["doctor", "--ca-cert", issuer_ca.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("✓ issuer: signing key: held in Key Vault"),
        "{out}"
    );

    // Retired after another key took over: out of the JWKS, never signing again.
    idp(f.path())
        .args(["keys", "activate", &old, "--force"])
        .assert()
        .success();
    let (code, _, err) = run(&f, &p, &["keys", "retire", &kid, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f.state_of(&kid), "retired");
    let jwks = idp(f.path())
        .args(["metadata", "--only", "jwks"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&jwks.stdout).contains(&kid));
}

#[test]
fn keys_idp_must_not_adopt_and_tokens_it_cannot_use_are_explained() {
    let f = Flow::served(&[]);
    let p = Publisher::new(&f, "premium");
    p.grant(&f, CRYPTO_OFFICER, "0c000000-0000-4000-8000-00000000000c");
    let ring_before = keyring(f.path());
    let adopt = |name: &str| {
        run(
            &f,
            &p,
            &[
                "keys",
                "add",
                "--key-vault",
                &format!("{}keys/{name}", p.vault_url),
                "--existing",
            ],
        )
    };
    // An EC key: not RSA.
    p.call(
        &f,
        reqwest::Method::POST,
        "keys/ec/create",
        Some(json!({"kty": "EC-HSM", "crv": "P-256"})),
    );
    let (code, _, err) = adopt("ec");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not an RSA key (EC-HSM)"), "{err}");
    // An exportable key: its private half can leave the vault.
    p.call(
        &f,
        reqwest::Method::POST,
        "keys/exportable/create",
        Some(json!({"kty": "RSA-HSM", "attributes": {"exportable": true},
                    "release_policy": {"data": "e30"}})),
    );
    let (code, _, err) = adopt("exportable");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is exportable"), "{err}");
    // A key that is not there.
    let (code, _, err) = adopt("missing");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("KeyNotFound") && err.contains("leave out --existing"),
        "{err}"
    );
    // A good one is adopted at its latest version.
    let made = p.call(
        &f,
        reqwest::Method::POST,
        "keys/made-elsewhere/create",
        Some(json!({"kty": "RSA", "key_size": 3072})),
    );
    let (code, _, err) = adopt("made-elsewhere");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3072-bit RSA"), "{err}");
    let added = f.kid_in_state("next");
    let entry = f
        .keys()
        .into_iter()
        .find(|k| k["kid"] == added.as_str())
        .unwrap();
    assert_eq!(entry["key_vault"], made["key"]["kid"]);
    // A version named in the URL is the one adopted, even with a newer one there.
    let first = p.call(
        &f,
        reqwest::Method::POST,
        "keys/pinned/create",
        Some(json!({"kty": "RSA"})),
    );
    p.call(
        &f,
        reqwest::Method::POST,
        "keys/pinned/create",
        Some(json!({"kty": "RSA"})),
    );
    let first_id = first["key"]["kid"].as_str().unwrap();
    let version = first_id.rsplit('/').next().unwrap();
    let (code, _, err) = adopt(&format!("pinned/{version}"));
    assert_eq!(code, 0, "{err}");
    assert!(f.keys().iter().any(|k| k["key_vault"] == first_id), "{err}");
    let ring_after_adopt = keyring(f.path());
    assert_ne!(ring_after_adopt, ring_before);

    // A token for another audience (ARM's): Key Vault's 401, explained; nothing written.
    let arm_token = f.path().join("owner.token");
    let out = idp(f.path())
        .args([
            "keys",
            "add",
            "--key-vault",
            &format!("{}keys/another", p.vault_url),
        ])
        .arg("--key-vault-token-file")
        .arg(&arm_token)
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refused idp's token") && err.contains("AKV10022"),
        "{err}"
    );
    let owner = std::fs::read_to_string(&arm_token).unwrap();
    assert!(!err.contains(owner.trim()), "the token leaked: {err}");
    assert_eq!(keyring(f.path()), ring_after_adopt);

    // Bad input refused before anything is sent: exit 2.
    for (args, says) in [
        (
            vec!["--key-vault", "http://kv.vault.azure.net/keys/k"],
            "https only",
        ),
        (
            vec!["--key-vault", "https://kv.vault.azure.net/secrets/k"],
            "/keys/<name>",
        ),
        (
            vec![
                "--key-vault",
                "https://kv.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef",
            ],
            "names a key version",
        ),
        (vec!["--existing"], "--key-vault"),
    ] {
        let out = idp(f.path())
            .args(["keys", "add"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(keyring(f.path()), ring_after_adopt);
}

#[test]
fn a_throttling_vault_is_retried_and_an_unreachable_one_is_not_stormed() {
    let f = Flow::served(&[]);
    for name in ["c1", "c2", "c3", "c4", "c5", "c6"] {
        f.customer(name, name);
    }
    let p = Publisher::new(&f, "standard");
    p.grant(&f, CRYPTO_OFFICER, "0d000000-0000-4000-8000-00000000000d");
    // A standard vault holds no HSM keys: a software-protected key, said so.
    let (code, _, err) = run(
        &f,
        &p,
        &[
            "keys",
            "add",
            "--key-vault",
            &format!("{}keys/k", p.vault_url),
            "--key-size",
            "2048",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("software-protected"), "{err}");
    let kid = f.kid_in_state("next");
    f.republish();
    let (code, _, err) = run(&f, &p, &["keys", "activate", &kid, "--canary", "c1"]);
    assert_eq!(code, 0, "{err}");

    // Two 429s from the vault, then it answers: the signature is made (retried, honouring
    // Retry-After), and the token obtained.
    let faults = |body: Value| {
        let r = client(&f.emulator_ca)
            .post(format!("{}/_emulator/faults", f.authority()))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    };
    faults(json!({"status": 429, "count": 2, "retry_after": 1, "service": "vault"}));
    let (code, _, err) = run(&f, &p, &["token", "--customer", "c1"]);
    assert_eq!(code, 0, "{err}");
    // Throttled beyond the retries: explained, exit 1.
    faults(json!({"status": 429, "count": 4, "retry_after": 1, "service": "vault"}));
    let (code, _, err) = run(&f, &p, &["sign", "--subject", "c1"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("throttled") && err.contains("Throttled"),
        "{err}"
    );

    // The vault moves out of reach: a listener that takes connections and drops them.
    // Six customers, two at a time: each signature would try 4 times; once the vault is
    // found unreachable, idp stops asking it, so at most the two first attempts' retries
    // reach it instead of 6 × 4.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let count = count.clone();
        std::thread::spawn(move || {
            for c in listener.incoming() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(c);
            }
        });
    }
    let ring = keyring(f.path());
    let origin = p.vault_url.trim_end_matches('/');
    std::fs::write(
        f.path().join("keys/keyring.json"),
        ring.replace(origin, &format!("https://127.0.0.1:{port}")),
    )
    .unwrap();
    let (code, out, err) = run(&f, &p, &["token", "--all", "--parallel", "2"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("cannot reach the vault"), "{out}");
    let attempts = count.load(std::sync::atomic::Ordering::SeqCst);
    println!("connections to the unreachable vault: {attempts}");
    let issuer_ca = f.path().join("issuer-tls/ca.pem");
    let (code, out, _) = run(
        &f,
        &p,
        &["doctor", "--ca-cert", issuer_ca.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ issuer: signing key:") && out.contains("cannot reach the vault"),
        "{out}"
    );
    assert!(
        (1..=8).contains(&attempts),
        "{attempts} connections to an unreachable vault for 6 customers"
    );
}

/// With no token file, idp reaches the vault through the credential chain: workload
/// identity when AZURE_FEDERATED_TOKEN_FILE is set (here the publisher's UAMI, its
/// assertion from `idp sign`, exchanged at the emulator), else managed identity when
/// IDENTITY_ENDPOINT is (here an App Service-shaped endpoint on loopback, answering with a
/// token for Key Vault only to its IDENTITY_HEADER).
#[test]
fn the_credential_chain_reaches_the_vault_by_workload_and_by_managed_identity() {
    let f = Flow::served(&[]);
    let p = Publisher::new(&f, "standard");
    p.grant(&f, CRYPTO_OFFICER, "0a000000-0000-4000-8000-00000000000a");
    let (_, uami) = f.arm(reqwest::Method::GET, "publisher", None);
    let client_id = uami["properties"]["clientId"].as_str().unwrap().to_owned();
    let add = |name: &str, env: &[(&str, String)]| {
        let mut c = idp(f.path());
        c.args([
            "keys",
            "add",
            "--key-vault",
            &format!("{}keys/{name}", p.vault_url),
        ])
        .args(["--key-size", "2048"])
        .arg("--ca-cert")
        .arg(&f.emulator_ca);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("$ idp keys add {name}\n{err}");
        (out.status.code().unwrap_or(-1), err)
    };

    // Workload identity.
    let signed = idp(f.path())
        .args([
            "sign",
            "--subject",
            "publisher-pipeline",
            "--lifetime",
            "1h",
            "--out",
            "wi.jwt",
        ])
        .output()
        .unwrap();
    assert!(signed.status.success(), "{signed:?}");
    let (code, err) = add(
        "by-workload",
        &[
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                f.path().join("wi.jwt").display().to_string(),
            ),
            ("AZURE_CLIENT_ID", client_id.clone()),
            ("AZURE_TENANT_ID", f.tenant.clone()),
            ("AZURE_AUTHORITY_HOST", f.authority()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("created ") && err.contains("keys/by-workload/"),
        "{err}"
    );

    // Managed identity, App Service's protocol: GET IDENTITY_ENDPOINT?resource=…, with
    // the X-IDENTITY-HEADER secret.
    let token = std::fs::read_to_string(&p.token_file).unwrap();
    std::fs::write(f.path().join("mi.token"), token.trim()).unwrap();
    let endpoint = idp_testkit::Service::spawn(
        {
            let mut c = idp_testkit::Python::find().command();
            c.arg("-c")
                .arg(APP_SERVICE_MI)
                .arg(f.path().join("mi.token"))
                .arg(f.path().join("mi.log"));
            c
        },
        "identity endpoint on http://",
    );
    let url = format!("http://{}/msi/token", endpoint.address());
    let (code, err) = add(
        "by-managed",
        &[
            ("IDENTITY_ENDPOINT", url),
            ("IDENTITY_HEADER", "header-secret".into()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("keys/by-managed/"), "{err}");
    let log = std::fs::read_to_string(f.path().join("mi.log")).unwrap();
    assert!(
        log.contains("resource=https%3A%2F%2Fvault.azure.net")
            || log.contains("resource=https://vault.azure.net"),
        "{log}"
    );
    assert!(log.contains("header ok"), "{log}");
    let kids: Vec<Value> = serde_json::from_str::<Value>(&keyring(f.path())).unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["key_vault"].is_string())
        .cloned()
        .collect();
    assert_eq!(kids.len(), 2, "{kids:?}");
}

/// An App Service managed identity endpoint: the token in argv[1] for whoever sends the
/// header `X-IDENTITY-HEADER: header-secret`, each request logged to argv[2]. Answers as
/// App Service does: `access_token`, `expires_on` (epoch seconds, a string), `resource`,
/// `token_type` (Learn, "Managed identities for App Service": REST endpoint reference).
const APP_SERVICE_MI: &str = r#"
import http.server, json, sys, time, urllib.parse
token, log = open(sys.argv[1]).read().strip(), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("X-IDENTITY-HEADER") == "header-secret"
        with open(log, "a") as f:
            f.write(self.path + (" header ok" if ok else " header missing") + "\n")
        if not ok:
            self.send_response(401); self.end_headers(); return
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        body = json.dumps({"access_token": token, "expires_on": str(int(time.time()) + 3600),
                           "resource": q.get("resource", [""])[0], "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print("identity endpoint on http://127.0.0.1:%d" % srv.server_address[1], file=sys.stderr, flush=True)
srv.serve_forever()
"#;
