//! The shared setup of the flow tests: an issuer (keys, config) served by `idp serve`, and
//! the Entra emulator trusting it, with helpers for its ARM API and `idp token`.

use assert_cmd::Command;
use idp_testkit::{Service, free_port};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const SUBJECT: &str = "customer-42";
pub const SCOPE: &str = "https://vault.azure.net/.default";

pub fn idp(dir: &Path) -> Command {
    let mut c = Command::from_std(idp_process(dir));
    c.timeout(Duration::from_secs(120));
    c
}

pub fn idp_process(dir: &Path) -> std::process::Command {
    idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), dir)
}

pub use idp_testkit::https_client as client;

/// An issuer (keys, config) and the emulator trusting where its metadata is hosted.
pub struct Flow {
    pub dir: tempfile::TempDir,
    pub issuer: String,
    pub issuer_host: Option<Service>,
    pub emulator: Service,
    pub emulator_ca: PathBuf,
    pub tenant: String,
    pub subscription: String,
}

impl Flow {
    /// The issuer hosted by `idp serve --self-signed`; the emulator without a propagation
    /// delay unless `emulator_args` sets one.
    pub fn served(emulator_args: &[&str]) -> Self {
        Self::served_as(emulator_args, false)
    }

    /// [`Flow::served`] with the emulator's own defaults (its propagation delay included).
    pub fn served_with_emulator_defaults(emulator_args: &[&str]) -> Self {
        Self::served_as(emulator_args, true)
    }

    fn served_as(emulator_args: &[&str], defaults: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The key is made first; the port is chosen only when `idp serve` is about to bind
        // it (the issuer, which names the port, is set then), and a port taken meanwhile
        // by another test is simply chosen again.
        idp(dir.path())
            .args([
                "init",
                "--issuer",
                "https://127.0.0.1:1/oidc",
                "--key-size",
                "2048",
            ])
            .assert()
            .success();
        let config = dir.path().join("idp.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let mut tries = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let issuer = format!("https://127.0.0.1:{port}/oidc");
            std::fs::write(&config, text.replace("https://127.0.0.1:1/oidc", &issuer)).unwrap();
            let mut serve = idp_process(dir.path());
            serve.args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--self-signed",
                "issuer-tls",
            ]);
            match Service::try_spawn(serve, "serving on https://") {
                Ok(host) => {
                    let ca = dir.path().join("issuer-tls/ca.pem");
                    return Self::with_emulator_as(
                        dir,
                        issuer,
                        Some(host),
                        &ca,
                        emulator_args,
                        defaults,
                    );
                }
                Err(e) => tries.push(e),
            }
        }
        panic!("idp serve did not start in 3 tries: {tries:#?}");
    }

    pub fn with_emulator(
        dir: tempfile::TempDir,
        issuer: String,
        host: Option<Service>,
        issuer_ca: &Path,
        emulator_args: &[&str],
    ) -> Self {
        Self::with_emulator_as(dir, issuer, host, issuer_ca, emulator_args, false)
    }

    fn with_emulator_as(
        dir: tempfile::TempDir,
        issuer: String,
        host: Option<Service>,
        issuer_ca: &Path,
        emulator_args: &[&str],
        defaults: bool,
    ) -> Self {
        let mut emu = idp_process(dir.path());
        emu.args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--self-signed",
            "emulator-tls",
            "--owner-token-out",
            "owner.token",
            "--trust-ca",
        ])
        .arg(issuer_ca);
        // No propagation delay unless a test asks for one: the flows exchange at once.
        if !defaults && !emulator_args.contains(&"--propagation-delay") {
            emu.args(["--propagation-delay", "0s"]);
        }
        emu.args(emulator_args);
        let emulator = Service::spawn(emu, "Entra emulator on https://");
        // The lines after the ready line, in the order the emulator prints them.
        let value = |line: String| line.split_whitespace().nth(1).unwrap().to_owned();
        let tenant = value(emulator.expect_line("tenant "));
        let subscription = value(emulator.expect_line("subscription "));
        let emulator_ca = dir.path().join("emulator-tls/ca.pem");
        let flow = Self {
            dir,
            issuer,
            issuer_host: host,
            emulator,
            emulator_ca,
            tenant,
            subscription,
        };
        // The resource group the flows create their identities in, as ARM requires.
        let (status, body) = flow.arm_at(
            reqwest::Method::PUT,
            &format!(
                "/subscriptions/{}/resourcegroups/rg?api-version=2021-04-01",
                flow.subscription
            ),
            Some(json!({"location": "westeurope"})),
        );
        assert!(status == 200 || status == 201, "{body}");
        flow
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn authority(&self) -> String {
        format!("https://{}", self.emulator.address())
    }

    /// An ARM request as the subscription's owner: `path` from `/subscriptions/…`, with its
    /// `?api-version=`.
    pub fn arm_at(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let owner = std::fs::read_to_string(self.path().join("owner.token")).unwrap();
        let mut req = client(&self.emulator_ca)
            .request(method, format!("{}{path_and_query}", self.authority()))
            .bearer_auth(owner);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    /// An ARM request on the flows' identities in resource group `rg` (`path` after
    /// `userAssignedIdentities/`), as the subscription's owner.
    pub fn arm(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.arm_at(
            method,
            &format!(
                "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{path}?api-version=2023-01-31",
                self.subscription
            ),
            body,
        )
    }

    /// Creates a UAMI and a FIC (issuer, subject); returns the UAMI's client id.
    pub fn identity_with_fic(&self, name: &str, fic_issuer: &str, fic_subject: &str) -> String {
        self.identity_with_fic_for(name, fic_issuer, fic_subject, "api://AzureADTokenExchange")
    }

    /// The same with the FIC's one audience given.
    pub fn identity_with_fic_for(
        &self,
        name: &str,
        fic_issuer: &str,
        fic_subject: &str,
        audience: &str,
    ) -> String {
        let (status, uami) = self.arm(
            reqwest::Method::PUT,
            name,
            Some(json!({"location": "westeurope"})),
        );
        assert!(status == 200 || status == 201, "{uami}");
        let (status, fic) = self.arm(
            reqwest::Method::PUT,
            &format!("{name}/federatedIdentityCredentials/idp"),
            Some(json!({"properties": {
                "issuer": fic_issuer, "subject": fic_subject,
                "audiences": [audience]}})),
        );
        assert!(status == 200 || status == 201, "{fic}");
        uami["properties"]["clientId"].as_str().unwrap().to_owned()
    }

    /// `idp token` for `client_id`; returns (exit code, stdout, stderr, elapsed).
    /// `idp token` at the emulator, for `tenant`, trusting nothing extra yet.
    pub fn token_command(&self, tenant: &str, client_id: &str, subject: &str) -> Command {
        let mut c = idp(self.path());
        c.args(["token", "--tenant", tenant, "--client-id", client_id])
            .args(["--subject", subject, "--scope", SCOPE])
            .args(["--authority-host", &self.authority()]);
        c
    }

    pub fn token(
        &self,
        client_id: &str,
        subject: &str,
        extra: &[&str],
    ) -> (i32, String, String, Duration) {
        let started = Instant::now();
        let out = self
            .token_command(&self.tenant, client_id, subject)
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
        (out.status.code().unwrap_or(-1), o, e, started.elapsed())
    }

    /// Verifies an access token against the emulator's published keys; returns its claims.
    pub fn verify(&self, token: &str, audience: &str) -> Value {
        let jwks: jsonwebtoken::jwk::JwkSet = client(&self.emulator_ca)
            .get(format!(
                "{}/{}/discovery/v2.0/keys",
                self.authority(),
                self.tenant
            ))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid in the emulator JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[audience]);
        v.set_issuer(&[format!("https://sts.windows.net/{}/", self.tenant)]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .unwrap()
            .claims
    }

    /// Adds customer `name` with a UAMI whose FIC has `fic_subject` (the customer's
    /// recorded subject is `name`), default scope SCOPE.
    pub fn customer(&self, name: &str, fic_subject: &str) {
        let client_id = self.identity_with_fic(&format!("uami-{name}"), &self.issuer, fic_subject);
        idp(self.path())
            .args(["customers", "add", name, "--tenant", &self.tenant])
            .args([
                "--client-id",
                &client_id,
                "--subject",
                name,
                "--scope",
                SCOPE,
            ])
            .assert()
            .success();
    }

    /// The keyring's keys as `idp keys list --json` prints them.
    pub fn keys(&self) -> Vec<Value> {
        let out = idp(self.path())
            .args(["keys", "list", "--json"])
            .output()
            .unwrap();
        let list: Value = serde_json::from_slice(&idp_testkit::stdout_of(out)).unwrap();
        list.as_array().unwrap().clone()
    }

    /// The kid of the (first) key in `state`.
    pub fn kid_in_state(&self, state: &str) -> String {
        let keys = self.keys();
        let key = keys.iter().find(|k| k["state"] == state);
        key.unwrap_or_else(|| panic!("no {state} key"))["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The state of key `kid`.
    pub fn state_of(&self, kid: &str) -> String {
        let keys = self.keys();
        keys.iter().find(|k| k["kid"] == kid).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Publishes the keyring as it is now (`idp serve` reloads it on SIGHUP) and makes the
    /// emulator forget the JWKS it cached, as Entra does once its cache expires.
    pub fn republish(&self) {
        let host = self.issuer_host.as_ref().unwrap();
        host.drain();
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &host.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        // Served once `idp serve` says so, not after a guessed pause.
        host.expect_line("reloaded the keyring");
        client(&self.emulator_ca)
            .delete(format!("{}/_emulator/metadata-cache", self.authority()))
            .send()
            .unwrap();
    }

    /// Creates the Key Vault `name` (`sku` standard or premium, Azure RBAC) in resource
    /// group `rg`; returns its ARM id and its `vaultUri`.
    pub fn vault(&self, name: &str, sku: &str) -> (String, String) {
        let id = format!(
            "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{name}",
            self.subscription
        );
        let (status, v) = self.arm_at(
            reqwest::Method::PUT,
            &format!("{id}?api-version=2026-02-01"),
            Some(json!({"location": "westeurope", "properties": {
                "tenantId": self.tenant, "sku": {"family": "A", "name": sku},
                "enableRbacAuthorization": true}})),
        );
        assert_eq!(status, 201, "{v}");
        let uri = v["properties"]["vaultUri"].as_str().unwrap().to_owned();
        (id, uri)
    }
}
