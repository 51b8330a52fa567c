//! The article's third way, end to end at the emulator: the publisher's multi-tenant app
//! (registered over Microsoft Graph with the publisher's machine identity's own token),
//! its FIC from `idp fic --way entra-app`, the customer's admin consent, and then `idp`
//! presenting the machine identity's token as the app, for one customer, a mixed fleet,
//! `exec`, `env` and `doctor`; each AADSTS code of this way explained; and Microsoft's
//! Python clients, unchanged, doing the same without idp.

use crate::flow::{Flow, SCOPE, SUBJECT, client, idp};
use idp_testkit::{Python, Service};
use serde_json::{Value, json};

const EXCHANGE: &str = "api://AzureADTokenExchange";
const GRAPH: &str = "https://graph.microsoft.com";

/// The publisher's side beside a [`Flow`]: the emulator's publisher tenant and the machine
/// identity attached to "this machine", with its App Service- and IMDS-shaped endpoints.
struct Publisher {
    flow: Flow,
    tenant: String,
    mi_client: String,
    mi_principal: String,
    identity_endpoint: String,
    identity_header: String,
    imds_host: String,
}

/// A plain-HTTP client for the machine's identity endpoints (on loopback, no proxy).
fn local() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}

fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .unwrap(),
    )
    .unwrap()
}

impl Publisher {
    fn new() -> Self {
        Self::with(&[])
    }

    fn with(emulator_args: &[&str]) -> Self {
        let flow = Flow::served(emulator_args);
        let e = &flow.emulator;
        let value_after = |line: String, key: &str| {
            line.split(key)
                .nth(1)
                .unwrap()
                .split([',', ' '])
                .find(|s| !s.is_empty())
                .unwrap()
                .to_owned()
        };
        let tenant = value_after(e.expect_line("publisher tenant "), "publisher tenant");
        let mi = e.expect_line("machine identity ");
        let mi_client = value_after(mi.clone(), "client id");
        let mi_principal = value_after(mi, "principal id");
        let endpoint_line = e.expect_line("IDENTITY_ENDPOINT=");
        let identity_endpoint = value_after(endpoint_line.clone(), "IDENTITY_ENDPOINT=");
        let identity_header = value_after(endpoint_line, "IDENTITY_HEADER=");
        let imds_host = value_after(
            e.expect_line("AZURE_POD_IDENTITY_AUTHORITY_HOST="),
            "AZURE_POD_IDENTITY_AUTHORITY_HOST=",
        );
        Self {
            flow,
            tenant,
            mi_client,
            mi_principal,
            identity_endpoint,
            identity_header,
            imds_host,
        }
    }

    /// The machine identity's token for `resource`, as App Service hands it out.
    fn mi_token(&self, resource: &str) -> String {
        let mut url = reqwest::Url::parse(&self.identity_endpoint).unwrap();
        url.query_pairs_mut()
            .append_pair("resource", resource)
            .append_pair("api-version", "2019-08-01")
            .append_pair("client_id", &self.mi_client);
        let r: Value = local()
            .get(url)
            .header("X-IDENTITY-HEADER", &self.identity_header)
            .send()
            .unwrap()
            .json()
            .unwrap();
        r["access_token"].as_str().unwrap().to_owned()
    }

    /// A Microsoft Graph request with `token` (its `tid` picks the directory).
    fn graph(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = client(&self.flow.emulator_ca)
            .request(method, format!("{}/v1.0/{path}", self.flow.authority()))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// A multi-tenant app registered in the directory of `graph_token`'s tenant; its
    /// (app id, object id).
    fn app(&self, graph_token: &str, name: &str) -> (String, String) {
        let (status, app) = self.graph(
            graph_token,
            reqwest::Method::POST,
            "applications",
            Some(json!({"displayName": name, "signInAudience": "AzureADMultipleOrgs"})),
        );
        assert_eq!(status, 201, "{app}");
        (
            app["appId"].as_str().unwrap().to_owned(),
            app["id"].as_str().unwrap().to_owned(),
        )
    }

    /// The app's FIC trusting the machine identity, as `idp fic --way entra-app` prints it,
    /// with `edit` applied (to plant a mistake).
    fn trust(&self, object_id: &str, edit: impl FnOnce(&mut Value)) {
        let out = idp(self.flow.path())
            .args([
                "fic",
                "--way",
                "entra-app",
                "--publisher-tenant",
                &self.tenant,
            ])
            .args([
                "--principal-id",
                &self.mi_principal,
                "--name",
                "publisher-mi",
            ])
            .args([
                "--authority-host",
                &self.flow.authority(),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            body["issuer"],
            format!("{}/{}/v2.0", self.flow.authority(), self.tenant)
        );
        assert_eq!(body["subject"], self.mi_principal.as_str());
        assert_eq!(body["audiences"], json!([EXCHANGE]));
        edit(&mut body);
        let graph = self.mi_token(GRAPH);
        let (status, fic) = self.graph(
            &graph,
            reqwest::Method::POST,
            &format!("applications/{object_id}/federatedIdentityCredentials"),
            Some(body),
        );
        assert_eq!(status, 201, "{fic}");
    }

    /// The customer's admin consents to the app (the emulator stands in for the browser);
    /// the service principal's id in the customer's tenant.
    fn consent(&self, app_id: &str) -> String {
        let url = idp(self.flow.path())
            .args(["customers", "consent-url"])
            .arg(self.customer_named_for(app_id))
            .args(["--authority-host", &self.flow.authority()])
            .output()
            .unwrap();
        assert!(url.status.success(), "{url:?}");
        let url = String::from_utf8(url.stdout).unwrap().trim().to_owned();
        assert_eq!(
            url,
            format!(
                "{}/{}/adminconsent?client_id={app_id}",
                self.flow.authority(),
                self.flow.tenant
            )
        );
        let r: Value = client(&self.flow.emulator_ca)
            .get(&url)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(r["admin_consent"], "True", "{r}");
        r["service_principal_id"].as_str().unwrap().to_owned()
    }

    /// The inventory's name of the customer recorded for `app_id` (consent-url is asked by
    /// name, as users ask it).
    fn customer_named_for(&self, app_id: &str) -> String {
        let out = idp(self.flow.path())
            .args(["customers", "list", "--json"])
            .output()
            .unwrap();
        let all: Value = serde_json::from_slice(&out.stdout).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|c| c["app_id"] == app_id)
            .unwrap_or_else(|| panic!("no customer with app {app_id}: {all}"))["name"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `idp customers add NAME --way entra-app` for `app_id` in `tenant`.
    fn add(&self, name: &str, tenant: &str, app_id: &str) {
        let out = idp(self.flow.path())
            .args(["customers", "add", name, "--way", "entra-app"])
            .args(["--tenant", tenant, "--app-id", app_id])
            .args(["--managed-identity", &self.mi_client, "--scope", SCOPE])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("idp customers consent-url"), "{said}");
    }

    /// `idp` where the machine identity is attached (App Service's variables), trusting
    /// the emulator's and the issuer's CAs.
    fn idp(&self) -> assert_cmd::Command {
        let mut c = idp(self.flow.path());
        let cas = format!(
            "{}:{}",
            self.flow.emulator_ca.display(),
            self.flow.path().join("issuer-tls/ca.pem").display()
        );
        c.env("IDENTITY_ENDPOINT", &self.identity_endpoint)
            .env("IDENTITY_HEADER", &self.identity_header)
            .env("IDP_CA_CERT", cas);
        c
    }

    /// A vault in the customer's subscription, its role for `principal`; its URI.
    fn vault_for(&self, name: &str, principal: &str) -> String {
        let (id, uri) = self.flow.vault(name, "standard");
        let assignment = format!(
            "{id}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid_like(name)
        );
        let (status, body) = self.flow.arm_at(
            reqwest::Method::PUT,
            &format!("{assignment}?api-version=2022-04-01"),
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7", self.flow.subscription),
                "principalId": principal, "principalType": "ServicePrincipal"}})),
        );
        assert_eq!(status, 201, "{body}");
        uri
    }

    /// The publisher's app, trusting the machine identity, consented in the customer's
    /// tenant and added as customer `name`: (app id, service principal id).
    fn consented(&self, name: &str) -> (String, String) {
        let graph = self.mi_token(GRAPH);
        let (app_id, object_id) = self.app(&graph, name);
        self.trust(&object_id, |_| {});
        self.add(name, &self.flow.tenant, &app_id);
        let sp = self.consent(&app_id);
        (app_id, sp)
    }
}

/// A GUID made from `seed` (role assignment names must be GUIDs).
fn uuid_like(seed: &str) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(seed.as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// Sets a secret with a token given on stdin; prints the value read back.
const SET_SECRET: &str = r#"
import sys
from azure.core.credentials import AccessToken
from azure.keyvault.secrets import SecretClient

class Given:
    def __init__(self, token): self.token = token
    def get_token(self, *scopes, **kwargs): return AccessToken(self.token, 2**31 - 1)

client = SecretClient(sys.argv[1], Given(sys.stdin.read().strip()), verify_challenge_resource=False)
client.set_secret("from-the-publisher", "entra-app")
print(client.get_secret("from-the-publisher").value)
"#;

#[test]
fn an_entra_app_customers_token_is_the_apps_in_the_customers_tenant_and_writes_its_vault() {
    let p = Publisher::new();
    let (app_id, sp) = p.consented("fabrikam");
    let vault = p.vault_for("fabrikam-kv", &sp);
    let out = p
        .idp()
        .args(["token", "--customer", "fabrikam"])
        .args(["--authority-host", &p.flow.authority()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let c = p.flow.verify(&token, "https://vault.azure.net");
    assert_eq!(c["tid"], p.flow.tenant.as_str());
    assert_eq!(c["oid"], sp.as_str());
    assert_eq!(c["appid"], app_id.as_str());
    // The managed identity's token never shows.
    let mi = p.mi_token(EXCHANGE);
    assert!(!err.contains(&mi[..40]), "{err}");
    // The data-plane call, through Microsoft's client, unchanged.
    let mut py = Python::find().command();
    py.arg("-c")
        .arg(SET_SECRET)
        .arg(&vault)
        .env("REQUESTS_CA_BUNDLE", &p.flow.emulator_ca)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = py.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(String::from_utf8_lossy(&done.stdout).trim(), "entra-app");

    // The same through IMDS's protocol at another origin (AZURE_POD_IDENTITY_AUTHORITY_HOST),
    // which idp asks itself: the only identity attached needs no name there.
    let out = idp(p.flow.path())
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", &p.imds_host)
        .args(["token", "--customer", "fabrikam", "--format", "claims"])
        .args(["--authority-host", &p.flow.authority(), "--ca-cert"])
        .arg(&p.flow.emulator_ca)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["claims"]["oid"], sp.as_str());

    // `customers show` and `list` say the way; an issuer-way customer has no consent URL.
    let shown: Value = serde_json::from_slice(
        &idp(p.flow.path())
            .args(["customers", "show", "fabrikam"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(shown["way"], "entra-app");
    assert_eq!(shown["app_id"], app_id.as_str());
    assert_eq!(shown["client_id"], app_id.as_str());
    assert_eq!(shown["managed_identity"], p.mi_client.as_str());
    p.flow.customer("contoso", "contoso");
    let out = idp(p.flow.path())
        .args(["customers", "consent-url", "contoso"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("of the issuer way"));
}

#[test]
fn a_mixed_fleet_succeeds_for_both_ways_and_a_customer_without_consent_fails_alone() {
    let p = Publisher::new();
    p.flow.customer("contoso", "contoso");
    p.consented("fabrikam");
    // Another app of the publisher's, trusting the same identity, not consented to.
    let graph = p.mi_token(GRAPH);
    let (pending_app, pending_object) = p.app(&graph, "northwind");
    p.trust(&pending_object, |_| {});
    p.add("northwind", &p.flow.tenant, &pending_app);
    let out = p
        .idp()
        .args(["token", "--all", "--authority-host", &p.flow.authority()])
        .args(["--out-dir", "tokens"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"))
            .to_owned()
    };
    assert!(line("contoso").contains(" ok "), "{text}");
    assert!(line("fabrikam").contains(" ok "), "{text}");
    let pending = line("northwind");
    assert!(pending.contains("AADSTS700016"), "{pending}");
    assert!(
        pending.contains(&format!(
            "{}/{}/adminconsent?client_id={pending_app}",
            p.flow.authority(),
            p.flow.tenant
        )),
        "{pending}"
    );
    assert!(text.contains("3 customers: 2 ok, 1 failed"), "{text}");
    // Each success's token in its file, the failure's in none.
    for (name, tid) in [("contoso", &p.flow.tenant), ("fabrikam", &p.flow.tenant)] {
        let file: Value = serde_json::from_str(
            &std::fs::read_to_string(p.flow.path().join(format!("tokens/{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims(file["access_token"].as_str().unwrap())["tid"],
            tid.as_str()
        );
    }
    assert!(!p.flow.path().join("tokens/northwind.json").exists());
}

/// An IMDS-shaped endpoint on loopback that hands out the token in argv[1] (read at each
/// request), as IMDS answers: strings, `Metadata: true` required.
const IMDS_STUB: &str = r#"
import http.server, json, sys, time
path = sys.argv[1]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Metadata") != "true":
            body = json.dumps({"error": "bad_request_102", "error_description": "Required metadata header not specified"}).encode()
            self.send_response(400)
        else:
            body = json.dumps({"access_token": open(path).read().strip(), "expires_in": "3600",
                               "expires_on": str(int(time.time()) + 3600), "resource": "api://AzureADTokenExchange",
                               "token_type": "Bearer"}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print("imds on http://127.0.0.1:%d" % srv.server_address[1], file=sys.stderr, flush=True)
srv.serve_forever()
"#;

/// `idp token --customer NAME` with IMDS at `imds`; (exit code, stderr).
fn token_via(p: &Publisher, name: &str, imds: &str) -> (i32, String) {
    let out = idp(p.flow.path())
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds)
        .args([
            "token",
            "--customer",
            name,
            "--authority-host",
            &p.flow.authority(),
        ])
        .arg("--ca-cert")
        .arg(&p.flow.emulator_ca)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{name}: {err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn each_refusal_of_this_way_is_explained_with_the_values_at_stake() {
    let p = Publisher::with(&["--state", "emulator.json"]);
    let graph = p.mi_token(GRAPH);
    let imds = p.imds_host.clone();

    // 700213: the app's FIC names the identity's client id where its principal id belongs.
    let (app, object) = p.app(&graph, "by-client-id");
    let mi_client = p.mi_client.clone();
    p.trust(&object, |b| b["subject"] = json!(mi_client));
    p.add("by-client-id", &p.flow.tenant, &app);
    p.consent(&app);
    let (code, err) = token_via(&p, "by-client-id", &imds);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS700213"), "{err}");
    assert!(
        err.contains(&format!(
            "must be `{}`: the managed identity's principal (object) id, not its client id `{}`",
            p.mi_principal, p.mi_client
        )),
        "{err}"
    );

    // 700211: the FIC names another tenant's issuer (the customer's).
    let (app, object) = p.app(&graph, "other-issuer");
    let wrong = format!("{}/{}/v2.0", p.flow.authority(), p.flow.tenant);
    p.trust(&object, |b| b["issuer"] = json!(wrong));
    p.add("other-issuer", &p.flow.tenant, &app);
    p.consent(&app);
    let (code, err) = token_via(&p, "other-issuer", &imds);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS700211"), "{err}");
    assert!(
        err.contains(&format!("{}/{}/v2.0", p.flow.authority(), p.tenant)),
        "{err}"
    );

    // 700236, the obvious setup: the customer's own UAMI trusting the publisher's tenant,
    // recorded as if it were the app.
    let uami = p.flow.identity_with_fic(
        "trusts-publisher",
        &format!("{}/{}/v2.0", p.flow.authority(), p.tenant),
        &p.mi_principal,
    );
    p.add("wrong-side", &p.flow.tenant, &uami);
    let (code, err) = token_via(&p, "wrong-side", &imds);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS700236"), "{err}");
    assert!(err.contains("the trust is on the wrong side"), "{err}");
    assert!(
        err.contains(&format!(
            "idp fic --way entra-app --publisher-tenant {} --principal-id {}",
            p.tenant, p.mi_principal
        )),
        "{err}"
    );

    // Tokens that are not a managed identity's own, from an IMDS-shaped endpoint of the
    // test's: the customer's tenant holds an app of its own (registered with a Graph token
    // its UAMI got through idp's issuer), the recorded app of customer `local`.
    let own = p.flow.identity_with_fic("own", &p.flow.issuer, SUBJECT);
    let token_for = |scope: &str, client_id: &str| {
        let out = idp(p.flow.path())
            .args([
                "token",
                "--tenant",
                &p.flow.tenant,
                "--client-id",
                client_id,
            ])
            .args(["--subject", SUBJECT, "--scope", scope])
            .args(["--authority-host", &p.flow.authority(), "--ca-cert"])
            .arg(&p.flow.emulator_ca)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let customer_graph = token_for(&format!("{GRAPH}/.default"), &own);
    let (local_app, local_object) = p.app(&customer_graph, "local");
    p.add("local", &p.flow.tenant, &local_app);
    let stub_token = p.flow.path().join("stub.token");
    let stub = {
        std::fs::write(&stub_token, "x").unwrap();
        let mut c = Python::find().command();
        c.arg("-c").arg(IMDS_STUB).arg(&stub_token);
        Service::spawn(c, "imds on http://")
    };
    let stub_host = format!("http://{}", stub.address());

    // 700231: the UAMI's token for the exchange, got through its own federation.
    std::fs::write(
        &stub_token,
        token_for(&format!("{EXCHANGE}/.default"), &own),
    )
    .unwrap();
    let (code, err) = token_via(&p, "local", &stub_host);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS700231"), "{err}");
    assert!(
        err.contains("GitHub Actions, AKS workload identity"),
        "{err}"
    );

    // 700226: an app's own token (the local app trusting idp's issuer, consented at home).
    let (status, fic) = p.graph(
        &customer_graph,
        reqwest::Method::POST,
        &format!("applications/{local_object}/federatedIdentityCredentials"),
        Some(json!({"name": "idp", "issuer": p.flow.issuer, "subject": SUBJECT, "audiences": [EXCHANGE]})),
    );
    assert_eq!(status, 201, "{fic}");
    client(&p.flow.emulator_ca)
        .get(format!(
            "{}/{}/adminconsent?client_id={local_app}",
            p.flow.authority(),
            p.flow.tenant
        ))
        .send()
        .unwrap();
    std::fs::write(
        &stub_token,
        token_for(&format!("{EXCHANGE}/.default"), &local_app),
    )
    .unwrap();
    let (code, err) = token_via(&p, "local", &stub_host);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS700226"), "{err}");
    assert!(
        err.contains("an app's token, not a managed identity's"),
        "{err}"
    );

    // 700229: a user's token (a developer's login, Cloud Shell's): the emulator issues
    // none, so one is signed here with the emulator's own key, from its state file.
    std::fs::write(&stub_token, user_token(&p)).unwrap();
    let (code, err) = token_via(&p, "local", &stub_host);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AADSTS700229"), "{err}");
    assert!(err.contains("not an app-only token"), "{err}");

    // An endpoint that is not there: said with what to do, nothing printed of a token.
    let (code, err) = token_via(&p, "local", "http://127.0.0.1:9");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no managed identity token from IMDS at http://127.0.0.1:9"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

/// A user's token from the customer's tenant, signed with the emulator's key (read from
/// its state file) under the kid its JWKS publishes.
fn user_token(p: &Publisher) -> String {
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(p.flow.path().join("emulator.json")).unwrap(),
    )
    .unwrap();
    let jwks: Value = client(&p.flow.emulator_ca)
        .get(format!(
            "{}/{}/discovery/v2.0/keys",
            p.flow.authority(),
            p.flow.tenant
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(state["signing_key"].as_str().unwrap().as_bytes())
            .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let user = "44444444-4444-4444-8444-444444444444";
    jsonwebtoken::encode(
        &header,
        &json!({
            "iss": format!("{}/{}/v2.0", p.flow.authority(), p.flow.tenant),
            "aud": "fb60f99c-7a34-4190-8149-302f77469936",
            "sub": user, "oid": user, "tid": p.flow.tenant, "idtyp": "user",
            "scp": "user_impersonation", "iat": now, "nbf": now, "exp": now + 3600,
        }),
        &key,
    )
    .unwrap()
}

#[test]
fn a_new_app_fic_propagates_and_is_waited_out() {
    // Long enough to outlast the setup's own steps after the FIC is written.
    let p = Publisher::with(&["--propagation-delay", "10s"]);
    p.consented("fabrikam");
    let out = p
        .idp()
        .args([
            "token",
            "--customer",
            "fabrikam",
            "--authority-host",
            &p.flow.authority(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("AADSTS70021: the federated credential may still be propagating"),
        "{err}"
    );
}

/// Under `idp exec`, Python's DefaultAzureCredential (workload identity from the variables
/// idp sets) sets a secret in the customer's vault as the publisher's app.
const DEFAULT_CREDENTIAL: &str = r#"
import os, sys
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient
cred = DefaultAzureCredential()
client = SecretClient(sys.argv[1], cred, verify_challenge_resource=False)
client.set_secret("via-exec", "default-credential")
print(os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_TENANT_ID"], client.get_secret("via-exec").value)
"#;

#[test]
fn exec_and_env_hand_tools_the_app_the_customers_tenant_and_the_identitys_token() {
    let p = Publisher::new();
    let (app_id, sp) = p.consented("fabrikam");
    let vault = p.vault_for("exec-kv", &sp);
    let python = Python::find().path().to_owned();
    let out = p
        .idp()
        .args([
            "exec",
            "--customer",
            "fabrikam",
            "--authority-host",
            &p.flow.authority(),
        ])
        .arg("--")
        .arg(&python)
        .args(["-c", DEFAULT_CREDENTIAL, &vault])
        .env("REQUESTS_CA_BUNDLE", &p.flow.emulator_ca)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{app_id} {} default-credential", p.flow.tenant)
    );

    // `idp env`: the file holds the identity's token for the exchange audience.
    let out = p
        .idp()
        .args(["env", "--customer", "fabrikam", "--format", "json", "--out"])
        .arg(p.flow.path().join("mi.jwt"))
        .args(["--authority-host", &p.flow.authority()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let vars: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = vars.to_string();
    assert!(
        text.contains(&app_id) && text.contains(&p.flow.tenant),
        "{text}"
    );
    let file = std::fs::read_to_string(p.flow.path().join("mi.jwt")).unwrap();
    let c = claims(&file);
    assert_eq!(c["oid"], p.mi_principal.as_str());
    assert_eq!(c["tid"], p.tenant.as_str());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("kid "));
}

#[test]
fn doctor_checks_the_identitys_token_the_apps_fic_over_graph_and_an_exchange() {
    let p = Publisher::new();
    p.consented("fabrikam");
    let graph_token = p.flow.path().join("graph.token");
    std::fs::write(&graph_token, p.mi_token(GRAPH)).unwrap();
    let doctor_with = |extra: &[&str], env: &[(&str, &str)]| {
        let out = p
            .idp()
            .envs(env.iter().copied())
            .args([
                "doctor",
                "--customer",
                "fabrikam",
                "--authority-host",
                &p.flow.authority(),
            ])
            .args(["--graph-endpoint", &p.flow.authority()])
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{text}{}", String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let doctor = |extra: &[&str]| doctor_with(extra, &[]);
    // Graph through the credential chain: here, the machine identity (App Service's
    // variables; AZURE_CLIENT_ID names the user-assigned identity, as for the Azure SDKs).
    let (code, text) = doctor_with(&["--graph"], &[("AZURE_CLIENT_ID", p.mi_client.as_str())]);
    assert_eq!(code, Some(0), "{text}");
    for check in [
        "✓ fabrikam: managed identity:",
        "✓ fabrikam: app fic: FIC `publisher-mi`",
        "✓ fabrikam: app fic slots: 1 of the 20",
        "✓ fabrikam: exchange:",
    ] {
        assert!(text.contains(check), "{check}: {text}");
    }
    assert!(
        text.contains(&format!("subject {} (its principal id)", p.mi_principal)),
        "{text}"
    );
    // Without Graph, the FIC is a warning naming how to have it read.
    let (code, text) = doctor(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("! fabrikam: app fic: the app's federated credential was not read"),
        "{text}"
    );
    // A FIC with the client id as subject: ✗, before Entra says 700213.
    let graph = p.mi_token(GRAPH);
    let (app, object) = p.app(&graph, "wrong");
    let client = p.mi_client.clone();
    p.trust(&object, |b| b["subject"] = json!(client));
    p.add("wrong", &p.flow.tenant, &app);
    p.consent(&app);
    let out = p
        .idp()
        .args([
            "doctor",
            "--customer",
            "wrong",
            "--authority-host",
            &p.flow.authority(),
        ])
        .args([
            "--graph-endpoint",
            &p.flow.authority(),
            "--graph-token-file",
        ])
        .arg(&graph_token)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "✗ wrong: app fic: FIC `publisher-mi`'s subject is the managed identity's client id {}",
            p.mi_client
        )),
        "{text}"
    );
    assert!(text.contains("✗ wrong: exchange: AADSTS700213"), "{text}");
}

/// Microsoft's Python clients alone: ManagedIdentityCredential (App Service's variables)
/// feeding ClientAssertionCredential for the customer's tenant, then a secret set.
const PYTHON_ONLY: &str = r#"
import os, sys
from azure.identity import ManagedIdentityCredential, ClientAssertionCredential
from azure.keyvault.secrets import SecretClient
vault, tenant, app, mi_client, authority = sys.argv[1:6]
mi = ManagedIdentityCredential(client_id=mi_client)
cred = ClientAssertionCredential(tenant, app, lambda: mi.get_token("api://AzureADTokenExchange/.default").token,
                                 authority=authority)
client = SecretClient(vault, cred, verify_challenge_resource=False)
client.set_secret("python-only", "no idp")
print(client.get_secret("python-only").value)
"#;

#[test]
fn pythons_own_clients_take_the_same_way_without_idp() {
    let p = Publisher::new();
    let (app_id, sp) = p.consented("fabrikam");
    let vault = p.vault_for("python-kv", &sp);
    let authority = p.flow.authority().trim_start_matches("https://").to_owned();
    let out = Python::find()
        .command()
        .arg("-c")
        .arg(PYTHON_ONLY)
        .args([&vault, &p.flow.tenant, &app_id, &p.mi_client, &authority])
        .env("IDENTITY_ENDPOINT", &p.identity_endpoint)
        .env("IDENTITY_HEADER", &p.identity_header)
        .env("REQUESTS_CA_BUNDLE", &p.flow.emulator_ca)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no idp");
}

#[test]
fn a_policy_allowing_known_issuers_only_denies_idps_fic_until_the_admin_excepts_it() {
    let p = Publisher::new();
    let assignment = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/policyAssignments/fic-issuers?api-version=2023-04-01",
        p.flow.subscription
    );
    let assign = |exceptions: Value| {
        let (status, body) = p.flow.arm_at(
            reqwest::Method::PUT,
            &assignment,
            Some(json!({"properties": {
                "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/2571b7c3-3056-4a61-b00a-9bc5232234f5",
                "parameters": {"effect": {"value": "Deny"},
                               "allowFederatedCredentials": {"value": true},
                               "allowedIssuerExceptions": {"value": exceptions}}}})),
        );
        assert!(status == 200 || status == 201, "{body}");
    };
    assign(json!([]));
    let (status, uami) = p.flow.arm(
        reqwest::Method::PUT,
        "denied",
        Some(json!({"location": "westeurope"})),
    );
    assert!(status == 200 || status == 201, "{uami}");
    let fic = Some(
        json!({"properties": {"issuer": p.flow.issuer, "subject": SUBJECT, "audiences": [EXCHANGE]}}),
    );
    let (status, body) = p.flow.arm(
        reqwest::Method::PUT,
        "denied/federatedIdentityCredentials/idp",
        fic.clone(),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "RequestDisallowedByPolicy");
    // What idp says when ARM answers so: the exception to add, or the other way.
    let e = idp_arm::ArmError::Forbidden {
        id: "/x".into(),
        status,
        code: body["error"]["code"].as_str().unwrap().into(),
    };
    let hint = idp_core_hint(&e);
    assert!(
        hint.contains("allowedIssuerExceptions") && hint.contains("entra-app"),
        "{hint}"
    );
    // The admin adds idp's issuer to the exceptions: the FIC is written, and works.
    assign(json!([p.flow.issuer]));
    let (status, body) = p.flow.arm(
        reqwest::Method::PUT,
        "denied/federatedIdentityCredentials/idp",
        fic,
    );
    assert!(status == 200 || status == 201, "{body}");
    // An app's FIC (the entra-app way) is not the policy's concern.
    p.consented("fabrikam");
}

fn idp_core_hint(e: &idp_arm::ArmError) -> String {
    use idp_core::diagnostic::Diagnostic as _;
    e.hint().unwrap_or_default()
}

#[test]
fn serve_assertions_hands_out_the_identitys_token_for_an_entra_app_customer() {
    let p = Publisher::new();
    p.consented("fabrikam");
    let token_file = p.flow.path().join("request.token");
    let mut c = crate::flow::idp_process(p.flow.path());
    c.env("IDENTITY_ENDPOINT", &p.identity_endpoint)
        .env("IDENTITY_HEADER", &p.identity_header)
        .args([
            "serve-assertions",
            "--customer",
            "fabrikam",
            "--request-token-file",
        ])
        .arg(&token_file);
    // The line says what is served.
    let service = Service::spawn(
        c,
        &format!(
            "serving the publisher's managed identity's token (client id {}) on http://",
            p.mi_client
        ),
    );
    let request_token = std::fs::read_to_string(&token_file).unwrap();
    let url = format!(
        "http://{}/github/idtoken?api-version=2.0&audience={EXCHANGE}",
        service.address()
    );
    let ok: Value = local()
        .get(&url)
        .bearer_auth(request_token.trim())
        .send()
        .unwrap()
        .json()
        .unwrap();
    let c = claims(ok["value"].as_str().unwrap());
    assert_eq!(c["oid"], p.mi_principal.as_str());
    assert_eq!(c["tid"], p.tenant.as_str());
    // Another audience is refused: the endpoint hands out the exchange's token only.
    let other = local()
        .get(url.replace(EXCHANGE, "api://other"))
        .bearer_auth(request_token.trim())
        .send()
        .unwrap();
    assert_eq!(other.status().as_u16(), 400);
}
