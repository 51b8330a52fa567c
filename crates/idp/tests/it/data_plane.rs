//! The data-plane call the whole chain exists for: a secret set in the customer's Key Vault
//! (the emulator's) with the managed identity's access token from `idp token`, through
//! Microsoft's Python client `azure-keyvault-secrets`, unchanged; refused with 403
//! ForbiddenByRbac until the identity holds a role on the vault.

use crate::flow::{Flow, SUBJECT, idp};
use idp_testkit::Python;
use serde_json::{Value, json};

/// Sets then reads a secret with a token given on stdin; prints JSON lines.
const SECRETS: &str = r#"
import json, sys
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient

class Given:
    """The access token idp obtained: no other credential is involved."""
    def __init__(self, token): self.token = token
    def get_token(self, *scopes, **kwargs): return AccessToken(self.token, 2**31 - 1)

vault_url, token = sys.argv[1], sys.stdin.read().strip()
# The emulator's vault is not under vault.azure.net: the client's check that the challenge's
# resource matches the vault's domain is turned off, as Microsoft documents for such hosts.
client = SecretClient(vault_url, Given(token), verify_challenge_resource=False)
try:
    client.set_secret("greeting", "hello from the publisher")
    print(json.dumps({"read": client.get_secret("greeting").value}))
except HttpResponseError as e:
    body = e.response.text()
    inner = json.loads(body).get("error", {}).get("innererror") if body.startswith("{") else None
    print(json.dumps({"status": e.status_code, "inner": (inner or {}).get("code"),
                      "message": e.message, "body": body}))
"#;

#[test]
fn a_secret_set_in_the_customers_vault_with_the_identitys_token() {
    let f = Flow::served(&[]);
    let client_id = f.identity_with_fic("uami", &f.issuer, SUBJECT);
    let (_, uami) = f.arm(reqwest::Method::GET, "uami", None);
    let principal = uami["properties"]["principalId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (vault, vault_url) = f.vault("kv-customer", "standard");
    let token = |scope: &str| {
        let out = idp(f.path())
            .args(["token", "--tenant", &f.tenant, "--client-id", &client_id])
            .args(["--subject", SUBJECT, "--scope", scope])
            .args(["--authority-host", &f.authority()])
            .arg("--ca-cert")
            .arg(&f.emulator_ca)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let run = |token: &str| -> Value {
        let mut child = Python::find()
            .command()
            .args(["-c", SECRETS, &vault_url])
            .env("REQUESTS_CA_BUNDLE", &f.emulator_ca)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(token.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let vault_token = token("https://vault.azure.net/.default");
    // No role on the vault yet: Key Vault's 403, ForbiddenByRbac, naming the caller.
    let refused = run(&vault_token);
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(refused["inner"], "ForbiddenByRbac", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains(&principal),
        "{refused}"
    );
    // A token for another resource: 401, the audience named.
    let arm_token = run(&token("https://management.azure.com/.default"));
    assert_eq!(arm_token["status"], 401, "{arm_token}");
    assert!(
        arm_token["message"].as_str().unwrap().contains("AKV10022"),
        "{arm_token}"
    );
    // The role the managed app's template grants: Key Vault Secrets Officer on the vault.
    let (status, a) = f.arm_at(
        reqwest::Method::PUT,
        &format!("{vault}/providers/Microsoft.Authorization/roleAssignments/0c000000-0000-4000-8000-00000000000c?api-version=2022-04-01"),
        Some(json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7", f.subscription),
            "principalId": principal, "principalType": "ServicePrincipal"}})),
    );
    assert_eq!(status, 201, "{a}");
    let done = run(&vault_token);
    assert_eq!(done["read"], "hello from the publisher", "{done}");
}
