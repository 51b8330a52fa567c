//! `idp exec` with unchanged clients: the Azure SDK for Python reading the assertion file
//! across a refresh, `AzurePipelinesCredential` and GitHub's toolkit asking the endpoint,
//! each exchanging at the emulator; and the endpoint's refusals and the folder's cleanup.

use crate::flow::{Flow, SUBJECT, client, idp, idp_process};
use idp_testkit::{Python, repo_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The claims of a JWT, unverified (the test reads what was signed).
fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// `idp exec` for the UAMI `client_id` at the emulator, around `command`.
fn exec(f: &Flow, client_id: &str, extra: &[&str], command: &[&str]) -> std::process::Command {
    let mut c = idp_process(f.path());
    c.args(["exec", "--tenant", &f.tenant, "--client-id", client_id])
        .args(["--subject", SUBJECT, "--authority-host", &f.authority()])
        .args(extra)
        .arg("--")
        .args(command)
        // The clients trust the emulator's CA (Python requests, Node.js).
        .env("REQUESTS_CA_BUNDLE", &f.emulator_ca)
        .env("NODE_EXTRA_CA_CERTS", &f.emulator_ca);
    c
}

fn output(mut c: std::process::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    println!("stdout:\n{o}\nstderr:\n{e}");
    (out.status.code().unwrap_or(-1), o, e)
}

/// A path in the repository's node_modules, which must be installed.
fn node_module(path: &str) -> PathBuf {
    let full = repo_root().join("node_modules").join(path);
    assert!(
        full.exists(),
        "{path} is missing: run `npm ci` at the repository root (scripts/test.sh does)"
    );
    full
}

fn python() -> String {
    Python::find().path().to_string_lossy().into_owned()
}

/// Every file under `dir` that holds `needle`, skipping `skip`.
fn files_holding(dir: &Path, needle: &str, skip: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.starts_with(skip) {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
            {
                found.push(p);
            }
        }
    }
    found
}

const WORKLOAD_IDENTITY: &str = r#"
import base64, json, os, sys, time
from unittest import mock
from azure.identity import WorkloadIdentityCredential

path = os.environ["AZURE_FEDERATED_TOKEN_FILE"]
def claims(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

first = open(path).read()
assert not first.endswith("\n"), "a trailing newline"
cred = WorkloadIdentityCredential()
t1 = cred.get_token("https://vault.azure.net/.default")
# Past the first assertion's expiry: the file holds a fresh one.
while time.time() <= claims(first)["exp"] + 1:
    time.sleep(0.25)
second = open(path).read()
assert second != first and claims(second)["exp"] > time.time(), "not refreshed"
# The SDK re-reads the file once its 10-minute copy is old: a long job's clock, simulated
# (the SDK's code is unchanged; only the time it reads moves on).
real = time.time
with mock.patch("time.time", lambda: real() + 601):
    t2 = cred.get_token("https://storage.azure.com/.default")
print(json.dumps({"first": claims(first)["jti"], "second": claims(second)["jti"],
                  "t1": t1.token, "t2": t2.token, "folder": os.path.dirname(path)}))
"#;

#[test]
fn the_python_sdk_under_idp_exec_gets_tokens_across_a_refresh() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (code, out, err) = output(exec(
        &f,
        &client_id,
        // Short, so a refresh comes within the test; long enough that an assertion read
        // while a loaded machine starts Python is still valid when it is exchanged.
        &["--lifetime", "9s", "--audit-log", "audit.log"],
        &[&python(), "-c", WORKLOAD_IDENTITY],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("under 20m"),
        "the short lifetime is warned about: {err}"
    );
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let t1 = f.verify(v["t1"].as_str().unwrap(), "https://vault.azure.net");
    let t2 = f.verify(v["t2"].as_str().unwrap(), "https://storage.azure.com");
    assert_eq!(t1["appid"], client_id.as_str());
    assert_eq!(t2["appid"], client_id.as_str());
    // Both assertions were recorded, never written out; the folder is gone.
    let audit = std::fs::read_to_string(f.path().join("audit.log")).unwrap();
    for jti in [&v["first"], &v["second"]] {
        assert!(
            audit.contains(&format!("\"jti\":{jti}")),
            "{jti} in {audit}"
        );
    }
    assert!(audit.lines().all(|l| l.contains("\"command\":\"exec\"")));
    let ids = idp_testkit::audit_ids(&audit);
    assert!(
        !idp_testkit::without(&audit, ids.iter().copied()).contains("eyJ")
            && !idp_testkit::without(&err, ids.iter().copied()).contains("eyJ"),
        "no assertion in the log or stderr"
    );
    assert!(!Path::new(v["folder"].as_str().unwrap()).exists());
}

const PIPELINES: &str = r#"
import os
from azure.identity import AzurePipelinesCredential
cred = AzurePipelinesCredential(
    tenant_id=os.environ["AZURESUBSCRIPTION_TENANT_ID"],
    client_id=os.environ["AZURESUBSCRIPTION_CLIENT_ID"],
    service_connection_id=os.environ["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
    system_access_token=os.environ["SYSTEM_ACCESSTOKEN"],
    authority=os.environ["AZURE_AUTHORITY_HOST"],
)
print(cred.get_token("https://vault.azure.net/.default").token)
"#;

#[test]
fn azure_pipelines_credential_asks_the_endpoint_for_its_assertion() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (code, out, err) = output(exec(
        &f,
        &client_id,
        &["--as", "azure-pipelines"],
        &[&python(), "-c", PIPELINES],
    ));
    assert_eq!(code, 0, "{err}");
    let claims = f.verify(out.trim(), "https://vault.azure.net");
    assert_eq!(claims["appid"], client_id.as_str());
}

#[test]
fn githubs_toolkit_gets_an_assertion_entra_exchanges() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let core = node_module("@actions/core/lib/core.js");
    let script = format!(
        "import * as core from {:?};\nconst t = await core.getIDToken('api://AzureADTokenExchange');\nconsole.log('assertion=' + t);",
        core.to_string_lossy()
    );
    let (code, out, err) = output(exec(
        &f,
        &client_id,
        &["--as", "github"],
        &["node", "--input-type=module", "-e", &script],
    ));
    assert_eq!(code, 0, "{err}");
    let assertion = out
        .lines()
        .find_map(|l| l.strip_prefix("assertion="))
        .unwrap()
        .to_owned();
    // The toolkit masks it for the runner, as it does on GitHub.
    assert!(out.contains(&format!("::add-mask::{assertion}")));
    // Entra (the emulator) exchanges it for the UAMI's token.
    let response: Value = client(&f.emulator_ca)
        .post(format!("{}/{}/oauth2/v2.0/token", f.authority(), f.tenant))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("scope", "https://vault.azure.net/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = response["access_token"].as_str().expect("an access token");
    assert_eq!(
        f.verify(token, "https://vault.azure.net")["appid"],
        client_id.as_str()
    );
}

/// Probes the endpoint from inside the command: (status, body) per request, as JSON lines.
const PROBE: &str = r#"
import json, os, urllib.request, urllib.error
gh, ado, tok = (os.environ[k] for k in
    ("IDP_ASSERTION_REQUEST_URL", "IDP_ASSERTION_ADO_URL", "IDP_ASSERTION_REQUEST_TOKEN"))
def call(url, method="GET", bearer=None):
    req = urllib.request.Request(url, method=method)
    if bearer is not None:
        req.add_header("Authorization", "Bearer " + bearer)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
aud = "api%3A%2F%2FAzureADTokenExchange"
for name, args in [
    ("ok", (gh + "&audience=" + aud, "GET", tok)),
    ("default audience", (gh, "GET", tok)),
    ("no bearer", (gh + "&audience=" + aud,)),
    ("wrong bearer", (gh + "&audience=" + aud, "GET", tok[:-1] + ("A" if tok[-1] != "A" else "B"))),
    ("other audience", (gh + "&audience=api%3A%2F%2Fother", "GET", tok)),
    ("two audiences", (gh + "&audience=" + aud + "&audience=" + aud, "GET", tok)),
    ("ado", (ado + "?api-version=7.1&serviceConnectionId=x", "POST", tok)),
    ("ado without connection", (ado + "?api-version=7.1", "POST", tok)),
    ("ado wrong bearer", (ado + "?api-version=7.1&serviceConnectionId=x", "POST", "x")),
]:
    status, body = call(*args)
    print(json.dumps({"case": name, "status": status, "body": body}))
print(json.dumps({"folder": os.path.dirname(os.environ["AZURE_FEDERATED_TOKEN_FILE"])}))
"#;

#[test]
fn the_endpoint_serves_only_its_bearer_and_its_audience() {
    let f = Flow::served(&[]);
    let (code, out, err) = output(exec(
        &f,
        "30000000-0000-4000-8000-000000000003",
        &["--audit-log", "audit.log"],
        &[&python(), "-c", PROBE],
    ));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let case = |name: &str| {
        lines
            .iter()
            .find(|l| l["case"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    for ok in ["ok", "default audience"] {
        let c = case(ok);
        assert_eq!(c["status"], 200, "{c}");
        assert_eq!(c["body"]["count"], 1);
        let jwt = c["body"]["value"].as_str().unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                jwt.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["sub"], SUBJECT);
        assert_eq!(claims["aud"], "api://AzureADTokenExchange");
        assert_eq!(claims["iss"], f.issuer.as_str());
    }
    assert!(
        case("ado")["body"]["oidcToken"]
            .as_str()
            .unwrap()
            .starts_with("eyJ")
    );
    for (name, status, says) in [
        ("no bearer", 401, "no bearer token"),
        ("wrong bearer", 401, "not this run's request token"),
        ("ado wrong bearer", 401, "not this run's request token"),
        (
            "other audience",
            400,
            "audience `api://other` is not allowed",
        ),
        ("two audiences", 400, "at most once"),
        ("ado without connection", 400, "serviceConnectionId"),
    ] {
        let c = case(name);
        assert_eq!(c["status"], status, "{c}");
        assert!(c["body"]["message"].as_str().unwrap().contains(says), "{c}");
        assert!(!c.to_string().contains("eyJ"), "{c}");
    }
    // Three assertions served (ok, default audience, ado): three audit lines.
    let audit = std::fs::read_to_string(f.path().join("audit.log")).unwrap();
    assert_eq!(
        audit.lines().count(),
        1 + 3,
        "the file's first assertion, then three: {audit}"
    );
    // Nothing outside the private folder holds an assertion; the folder is gone.
    let folder = PathBuf::from(lines.last().unwrap()["folder"].as_str().unwrap());
    assert!(!folder.exists());
    assert!(
        files_holding(
            f.path(),
            "eyJhbGciOiJSUzI1NiIs",
            &f.path().join("emulator-tls")
        )
        .is_empty()
    );
}

#[test]
fn the_commands_exit_code_is_idps_and_the_folder_goes_however_it_ends() {
    let f = Flow::served(&[]);
    let uami = "30000000-0000-4000-8000-000000000003";
    for (script, expected) in [
        ("exit 0", 0),
        ("exit 1", 1),
        ("exit 7", 7),
        ("kill -KILL $$", 128 + 9),
    ] {
        let (code, _, err) = output(exec(
            &f,
            uami,
            &[],
            &[
                "sh",
                "-c",
                &format!("echo \"$AZURE_FEDERATED_TOKEN_FILE\" > folder.txt; {script}"),
            ],
        ));
        assert_eq!(code, expected, "{script}: {err}");
        let file = std::fs::read_to_string(f.path().join("folder.txt")).unwrap();
        assert!(
            !Path::new(file.trim()).parent().unwrap().exists(),
            "{script}"
        );
    }
    // SIGTERM, SIGINT and SIGHUP to idp reach the command, which ends; idp cleans up and
    // keeps its exit code.
    for (signal, code) in [("TERM", 42), ("INT", 43), ("HUP", 44)] {
        let script = format!(
            "echo \"$AZURE_FEDERATED_TOKEN_FILE\" > folder.txt; trap 'echo got-{signal} >&2; exit {code}' {signal}; echo ready >&2; while :; do sleep 0.1; done"
        );
        let c = exec(&f, uami, &[], &["sh", "-c", &script]);
        let mut service = idp_testkit::Service::spawn(c, "ready");
        let folder = PathBuf::from(
            std::fs::read_to_string(f.path().join("folder.txt"))
                .unwrap()
                .trim(),
        )
        .parent()
        .unwrap()
        .to_owned();
        assert!(folder.exists());
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &service.pid().to_string()])
            .status()
            .unwrap();
        let status = service.wait_exit(Duration::from_secs(10));
        assert_eq!(status.code(), Some(code), "{signal}");
        assert!(
            service.rest().contains(&format!("got-{signal}")),
            "{signal}"
        );
        assert!(!folder.exists(), "{signal}");
    }
}

/// The variables of the README's contract: Terraform's (`ARM_USE_OIDC`, the ids, the
/// request endpoint), the static ARM_OIDC_TOKEN* removed (Terraform would read them once),
/// a CI system's own request variables left alone unless `--as` asks, `ARM_ENVIRONMENT`
/// for a sovereign cloud.
#[test]
fn exec_gives_tools_the_contracts_variables_and_leaves_the_ci_systems_alone() {
    let f = Flow::served(&[]);
    let uami = "30000000-0000-4000-8000-000000000003";
    let env_of = |extra: &[&str]| {
        let mut c = exec(&f, uami, extra, &["env"]);
        c.env("ARM_OIDC_TOKEN", "stale-assertion")
            .env("ARM_OIDC_TOKEN_FILE_PATH", "/stale/file")
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://runner.example/theirs",
            )
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "their-token")
            .env("SYSTEM_OIDCREQUESTURI", "https://dev.azure.example/theirs")
            .env("SYSTEM_ACCESSTOKEN", "their-ado-token");
        let (code, out, err) = output(c);
        assert_eq!(code, 0, "{err}");
        let vars: std::collections::BTreeMap<String, String> = out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (vars, err)
    };
    let (v, err) = env_of(&[]);
    assert_eq!(v["ARM_USE_OIDC"], "true");
    assert_eq!(v["ARM_CLIENT_ID"], uami);
    assert_eq!(v["ARM_TENANT_ID"], f.tenant);
    assert_eq!(v["ARM_OIDC_REQUEST_URL"], v["IDP_ASSERTION_REQUEST_URL"]);
    assert_eq!(
        v["ARM_OIDC_REQUEST_TOKEN"],
        v["IDP_ASSERTION_REQUEST_TOKEN"]
    );
    assert!(v["ARM_OIDC_REQUEST_URL"].starts_with("http://127.0.0.1:"));
    for gone in [
        "ARM_OIDC_TOKEN",
        "ARM_OIDC_TOKEN_FILE_PATH",
        "ARM_ENVIRONMENT",
    ] {
        assert!(!v.contains_key(gone), "{gone} is set");
    }
    assert!(err.contains("ARM_OIDC_TOKEN is set: removed"), "{err}");
    assert_eq!(
        v["ACTIONS_ID_TOKEN_REQUEST_URL"],
        "https://runner.example/theirs"
    );
    assert_eq!(v["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], "their-token");
    assert_eq!(
        v["SYSTEM_OIDCREQUESTURI"],
        "https://dev.azure.example/theirs"
    );
    assert_eq!(v["SYSTEM_ACCESSTOKEN"], "their-ado-token");
    // Asked: GitHub's, or Azure DevOps', then point at idp's endpoint.
    let (v, _) = env_of(&["--as", "github"]);
    assert_eq!(
        v["ACTIONS_ID_TOKEN_REQUEST_URL"],
        v["IDP_ASSERTION_REQUEST_URL"]
    );
    assert_eq!(
        v["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        v["IDP_ASSERTION_REQUEST_TOKEN"]
    );
    assert_eq!(v["SYSTEM_ACCESSTOKEN"], "their-ado-token");
    let (v, _) = env_of(&["--as", "azure-pipelines"]);
    assert_eq!(v["SYSTEM_OIDCREQUESTURI"], v["IDP_ASSERTION_ADO_URL"]);
    assert_eq!(v["SYSTEM_ACCESSTOKEN"], v["IDP_ASSERTION_REQUEST_TOKEN"]);
    assert_eq!(
        v["ACTIONS_ID_TOKEN_REQUEST_URL"],
        "https://runner.example/theirs"
    );
    // A sovereign cloud: Terraform's name for it.
    let (v, _) = env_of(&["--cloud", "usgov"]);
    assert_eq!(v["ARM_ENVIRONMENT"], "usgovernment");
}

#[test]
fn exec_refuses_bad_input_before_running_anything() {
    let f = Flow::served(&[]);
    for (args, says) in [
        (
            vec![
                "--tenant",
                "no/pe",
                "--client-id",
                "30000000-0000-4000-8000-000000000003",
                "--subject",
                "s",
            ],
            "--tenant `no/pe` is not a tenant id or domain",
        ),
        (
            vec![
                "--tenant",
                "10000000-0000-4000-8000-000000000001",
                "--client-id",
                "30000000-0000-4000-8000-000000000003",
                "--subject",
                " s",
            ],
            "whitespace",
        ),
        (vec!["--customer", "nobody"], "nobody"),
        (
            vec![
                "--tenant",
                "10000000-0000-4000-8000-000000000001",
                "--client-id",
                "30000000-0000-4000-8000-000000000003",
                "--subject",
                "s",
                "--lifetime",
                "25h",
            ],
            "24h",
        ),
    ] {
        let out = idp(f.path())
            .arg("exec")
            .args(&args)
            .args(["--", "sh", "-c", "touch ran"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!f.path().join("ran").exists(), "{args:?}");
    }
    // A command that does not exist: exit 2, named.
    let out = idp(f.path())
        .args(["exec", "--tenant", "10000000-0000-4000-8000-000000000001"])
        .args([
            "--client-id",
            "30000000-0000-4000-8000-000000000003",
            "--subject",
            "s",
        ])
        .args(["--", "no-such-command-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-command-here"));
}

#[test]
fn exec_all_runs_the_command_once_per_customer_each_with_its_own_assertions() {
    let f = Flow::served(&[]);
    let clients = [
        ("alpha", "40000000-0000-4000-8000-00000000000a"),
        ("beta", "40000000-0000-4000-8000-00000000000b"),
        ("gamma", "40000000-0000-4000-8000-00000000000c"),
    ];
    for (name, client) in clients {
        idp(f.path())
            .args(["customers", "add", name, "--tenant", &f.tenant])
            .args(["--client-id", client, "--subject", &format!("sub-{name}")])
            .assert()
            .success();
    }
    let script = r#"printf '%s %s %s %s\n' "$IDP_CUSTOMER" "$AZURE_CLIENT_ID" "$(dirname "$AZURE_FEDERATED_TOKEN_FILE")" "$(cut -d. -f2 "$AZURE_FEDERATED_TOKEN_FILE")" >> runs.txt; [ "$IDP_CUSTOMER" != beta ]"#;
    let out = idp(f.path())
        .args(["exec", "--all", "--parallel", "2", "--", "sh", "-c", script])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("alpha: exit 0"), "{err}");
    assert!(err.contains("beta: exit 1"), "{err}");
    assert!(err.contains("gamma: exit 0"), "{err}");
    assert!(err.contains("3 customers: 2 ok, 1 failed"), "{err}");
    let runs = std::fs::read_to_string(f.path().join("runs.txt")).unwrap();
    let mut folders = std::collections::BTreeSet::new();
    for line in runs.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let (name, client, folder, claims) = (parts[0], parts[1], parts[2], parts[3]);
        assert!(clients.contains(&(name, client)), "{line}");
        let claims: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["sub"], format!("sub-{name}"), "{line}");
        assert!(!Path::new(folder).exists(), "{line}");
        folders.insert(folder.to_owned());
    }
    assert_eq!(folders.len(), 3, "a folder each: {runs}");
    // --customers picks some; all succeed: exit 0.
    idp(f.path())
        .args(["exec", "--customers", "alpha,gamma", "--", "true"])
        .assert()
        .success();
}

#[test]
fn javascripts_workload_identity_credential_under_idp_exec() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let identity = node_module("@azure/identity");
    // The credential reads AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE and
    // AZURE_AUTHORITY_HOST as idp sets them; MSAL's instance discovery (a call to
    // login.microsoftonline.com) is turned off, as for any authority of one's own.
    let script = format!(
        "const {{ WorkloadIdentityCredential }} = require({:?});\n\
         new WorkloadIdentityCredential({{ disableInstanceDiscovery: true }})\n\
           .getToken('https://vault.azure.net/.default')\n\
           .then(t => console.log(t.token), e => {{ console.error(e); process.exit(1); }});",
        identity.to_string_lossy()
    );
    let (code, out, err) = output(exec(&f, &client_id, &[], &["node", "-e", &script]));
    assert_eq!(code, 0, "{err}");
    let claims = f.verify(out.trim(), "https://vault.azure.net");
    assert_eq!(claims["appid"], client_id.as_str());
}

#[test]
fn idp_env_writes_the_file_and_prints_the_variables_in_each_form() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let base = |format: &str| {
        let mut c = idp_process(f.path());
        c.args(["env", "--tenant", &f.tenant, "--client-id", &client_id])
            .args(["--subject", SUBJECT, "--authority-host", &f.authority()])
            .args(["--format", format, "--audit-log", "audit.log"]);
        c
    };
    // sh: eval'd by a shell, the Python SDK exchanges the file's assertion.
    let out = base("sh").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // The kid stderr names is random base64url: it may hold `eyJ` by chance.
    let kid = err.split("(kid ").nth(1).and_then(|r| r.split(')').next());
    assert!(
        !script.contains("eyJ") && !idp_testkit::without(&err, kid).contains("eyJ"),
        "{script}{err}"
    );
    assert!(err.contains("nothing refreshes it"), "{err}");
    let token = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{script}\nexec \"$0\" -c 'from azure.identity import WorkloadIdentityCredential as W; print(W().get_token(\"https://vault.azure.net/.default\").token)'"
        ))
        .arg(python())
        .env("REQUESTS_CA_BUNDLE", &f.emulator_ca)
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let claims = f.verify(
        String::from_utf8(token.stdout).unwrap().trim(),
        "https://vault.azure.net",
    );
    assert_eq!(claims["appid"], client_id.as_str());
    let file = script
        .lines()
        .find_map(|l| l.strip_prefix("export AZURE_FEDERATED_TOKEN_FILE='"))
        .unwrap()
        .trim_end_matches('\'')
        .to_owned();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let folder = Path::new(&file).parent().unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(folder).unwrap().permissions())
            & 0o777,
        0o700
    );
    let jwt = std::fs::read_to_string(&file).unwrap();
    assert!(!jwt.ends_with('\n'));
    std::fs::remove_dir_all(folder).unwrap();

    // github: the variables appended to $GITHUB_ENV, the assertion masked.
    let github_env = f.path().join("github_env");
    std::fs::write(&github_env, "EARLIER=1\n").unwrap();
    let out = base("github")
        .args(["--out", "gh.jwt"])
        .env("GITHUB_ENV", &github_env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let jwt = std::fs::read_to_string(f.path().join("gh.jwt")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("::add-mask::{jwt}\n")
    );
    let appended = std::fs::read_to_string(&github_env).unwrap();
    assert!(appended.starts_with("EARLIER=1\n"), "{appended}");
    assert!(
        appended.contains(&format!("AZURE_CLIENT_ID={client_id}\n")),
        "{appended}"
    );
    assert!(
        appended.contains(&format!(
            "ARM_OIDC_TOKEN_FILE_PATH={}\n",
            f.path().join("gh.jwt").display()
        )) || appended.contains("ARM_OIDC_TOKEN_FILE_PATH=gh.jwt\n"),
        "{appended}"
    );
    assert!(!appended.contains("eyJ"), "{appended}");
    // Without GITHUB_ENV: refused before anything is signed.
    let out = base("github").args(["--out", "none.jwt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_ENV is not set"));
    assert!(!f.path().join("none.jwt").exists());

    // azure-pipelines: logging commands; the assertion only as a secret variable.
    let out = base("azure-pipelines")
        .args(["--out", "ado.jwt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let jwt = std::fs::read_to_string(f.path().join("ado.jwt")).unwrap();
    assert!(
        text.contains(&format!(
            "##vso[task.setvariable variable=AZURE_TENANT_ID]{}\n",
            f.tenant
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "##vso[task.setvariable variable=IDP_ASSERTION;issecret=true]{jwt}\n"
        )),
        "{text}"
    );
    assert_eq!(text.matches(&jwt).count(), 1, "{text}");
    // A relative --out is named by its absolute path (tools run elsewhere).
    assert!(
        text.contains(&format!(
            "variable=AZURE_FEDERATED_TOKEN_FILE]{}\n",
            f.path().join("ado.jwt").display()
        )),
        "{text}"
    );

    // json: the variables and the expiry, with --lifetime.
    let out = base("json")
        .args(["--out", "j.jwt", "--lifetime", "30m"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["variables"]["AZURE_TENANT_ID"], f.tenant.as_str());
    assert_eq!(
        doc["variables"]["AZURE_AUTHORITY_HOST"],
        f.authority().as_str()
    );
    let audit = std::fs::read_to_string(f.path().join("audit.log")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["command"], "env");
    assert_eq!(doc["exp"], last["exp"]);
    assert_eq!(
        last["exp"].as_i64().unwrap() - last["iat"].as_i64().unwrap(),
        1800
    );
    assert_eq!(
        audit.lines().count(),
        4,
        "sh, github, azure-pipelines, json: {audit}"
    );
}

#[test]
fn serve_assertions_serves_one_customer_with_the_token_from_its_file() {
    let f = Flow::served(&[]);
    let token_file = f.path().join("request.token");
    let mut c = idp_process(f.path());
    c.args(["serve-assertions", "--tenant", &f.tenant])
        .args([
            "--client-id",
            "30000000-0000-4000-8000-000000000003",
            "--subject",
            SUBJECT,
        ])
        .arg("--request-token-file")
        .arg(&token_file)
        .args(["--audit-log", "audit.log"]);
    let service = idp_testkit::Service::spawn(c, "serving assertions for subject");
    let addr = service.address();
    let token = std::fs::read_to_string(&token_file).unwrap();
    let mode = std::fs::metadata(&token_file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let http = client(&f.emulator_ca);
    let url =
        format!("http://{addr}/github/idtoken?api-version=2.0&audience=api://AzureADTokenExchange");
    let ok: Value = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let github = claims_of(ok["value"].as_str().unwrap());
    // Whoever asks, the assertion is the customer's: idp's issuer, its subject, its audience.
    assert_eq!(github["iss"], f.issuer);
    assert_eq!(github["sub"], SUBJECT);
    assert_eq!(github["aud"], "api://AzureADTokenExchange");
    assert_eq!(
        http.get(&url)
            .bearer_auth("wrong-token-xxxxxxxx")
            .send()
            .unwrap()
            .status(),
        401
    );
    assert_eq!(http.get(&url).send().unwrap().status(), 401);
    let ado = http
        .post(format!(
            "http://{addr}/azure-pipelines/oidctoken?api-version=7.1&serviceConnectionId=x"
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(ado.status(), 200);
    let ado: Value = ado.json().unwrap();
    let ado = claims_of(ado["oidcToken"].as_str().unwrap());
    assert_eq!(
        (&ado["sub"], &ado["iss"]),
        (&Value::from(SUBJECT), &Value::from(f.issuer.clone()))
    );
    drop(service);
    // Each assertion served has its audit line, naming the command, never the assertion.
    let log = std::fs::read_to_string(f.path().join("audit.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    for (line, claims) in lines.iter().zip([&github, &ado]) {
        assert_eq!(line["command"], "serve-assertions");
        assert_eq!(line["jti"], claims["jti"]);
        assert_eq!(line["sub"], SUBJECT);
    }
    let others = idp_testkit::without(&log, idp_testkit::audit_ids(&log));
    assert!(!others.contains("eyJ"), "{log}");

    // --allow-remote over TLS: the same answers over HTTPS.
    let ca = idp_testkit::TestCa::create(f.path());
    let mut c = idp_process(f.path());
    c.args(["serve-assertions", "--tenant", &f.tenant])
        .args([
            "--client-id",
            "30000000-0000-4000-8000-000000000003",
            "--subject",
            SUBJECT,
        ])
        .args(["--request-token-file", "request.token", "--allow-remote"])
        .arg("--tls-cert")
        .arg(&ca.cert_pem)
        .arg("--tls-key")
        .arg(&ca.key_pem);
    let service = idp_testkit::Service::spawn(c, "serving assertions for subject");
    let url = format!(
        "https://{}/github/idtoken?api-version=2.0",
        service.address()
    );
    let ok: Value = client(&ca.ca_pem)
        .get(&url)
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(ok["value"].as_str().unwrap().starts_with("eyJ"), "{ok}");
    drop(service);

    // A token file others can read, a non-loopback address without --allow-remote, and
    // --allow-remote without TLS are refused.
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    for (extra, says) in [
        (vec![], "readable by others"),
        (vec!["--listen", "0.0.0.0:0"], "not a loopback address"),
        (vec!["--allow-remote"], "--tls-cert"),
    ] {
        let out = idp(f.path())
            .args(["serve-assertions", "--tenant", &f.tenant])
            .args([
                "--client-id",
                "30000000-0000-4000-8000-000000000003",
                "--subject",
                SUBJECT,
            ])
            .args(["--request-token-file", "request.token"])
            .args(&extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{extra:?}: {out:?}"
        );
    }
}
