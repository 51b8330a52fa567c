//! The customer's half of the trust: `idp fic` in every form, and the managed-application
//! package, each replayed into the emulator's ARM API and proven by a real exchange.

use crate::flow::{Flow, SCOPE, idp};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;

const AUDIENCE: &str = "api://AzureADTokenExchange";
/// A subject with everything a shell, a template or HCL could misread.
const AWKWARD: &str = "it's a \"subject\" [with] ${shell} $(words) `and` %{hcl}";

fn fic(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = idp(dir).arg("fic").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn init(issuer: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    idp(dir.path())
        .args(["init", "--issuer", issuer, "--key-size", "2048"])
        .assert()
        .success();
    dir
}

/// Runs the az line under `sh -c` with `az` a function that prints its arguments: the
/// arguments az would receive, after the shell's quoting and word splitting.
fn az_arguments(line: &str) -> Vec<String> {
    let script = format!("az() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{line}");
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_fic_form_carries_the_issuer_audience_and_subject_byte_for_byte() {
    let issuer = "https://acct.blob.core.windows.net/issuer";
    let dir = init(issuer);
    // The shell form: after sh's word splitting, az gets each value whole.
    let (code, line, err) = fic(dir.path(), &["--subject", AWKWARD, "--format", "az"]);
    assert_eq!(code, 0, "{err}");
    let expected: Vec<String> = [
        "identity",
        "federated-credential",
        "create",
        "--name",
        "idp",
        "--identity-name",
        "<identity-name>",
        "--resource-group",
        "<resource-group>",
        "--issuer",
        issuer,
        "--subject",
        AWKWARD,
        "--audiences",
        AUDIENCE,
    ]
    .map(str::to_owned)
    .to_vec();
    assert_eq!(az_arguments(&line), expected);
    let (_, named, _) = fic(
        dir.path(),
        &[
            "--subject",
            "s-1",
            "--format",
            "az",
            "--identity-name",
            "uami-1",
            "--resource-group",
            "rg(1).x",
            "--name",
            "publisher_2",
        ],
    );
    let args = az_arguments(&named);
    assert_eq!(args[4], "publisher_2");
    assert_eq!(args[6], "uami-1");
    assert_eq!(args[8], "rg(1).x");

    // The REST body and the template resource parse, with the values exact.
    let (_, body, _) = fic(dir.path(), &["--subject", AWKWARD]);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"properties": {"issuer": issuer, "subject": AWKWARD, "audiences": [AUDIENCE]}})
    );
    let (_, arm, _) = fic(dir.path(), &["--subject", "[x]", "--format", "arm"]);
    let arm: Value = serde_json::from_str(&arm).unwrap();
    assert_eq!(arm["properties"]["issuer"], issuer);
    assert_eq!(
        arm["properties"]["subject"], "[[x]",
        "escaped, so ARM stores `[x]` rather than evaluating it"
    );
    assert_eq!(arm["properties"]["audiences"], json!([AUDIENCE]));

    // Bicep and Terraform: the literals as each language writes them.
    let (_, bicep, _) = fic(dir.path(), &["--subject", "s'1", "--format", "bicep"]);
    assert!(bicep.contains(&format!("issuer: '{issuer}'")), "{bicep}");
    assert!(bicep.contains(r"subject: 's\'1'"), "{bicep}");
    assert!(bicep.contains(&format!("'{AUDIENCE}'")), "{bicep}");
    let (_, tf, _) = fic(dir.path(), &["--subject", "${s}", "--format", "terraform"]);
    assert!(
        tf.contains(&format!("issuer                    = \"{issuer}\"")),
        "{tf}"
    );
    assert!(tf.contains("subject                   = \"$${s}\""), "{tf}");
    assert!(
        tf.contains(&format!("audience                  = [\"{AUDIENCE}\"]")),
        "{tf}"
    );

    // The cloud picks the audience, as for `idp token`.
    let (_, gov, _) = fic(dir.path(), &["--subject", "s", "--cloud", "usgov"]);
    let gov: Value = serde_json::from_str(&gov).unwrap();
    assert_eq!(
        gov["properties"]["audiences"],
        json!(["api://AzureADTokenExchangeUSGov"])
    );
}

#[test]
fn values_arm_would_refuse_are_refused_before_anything_is_printed() {
    let dir = init("https://acct.blob.core.windows.net/issuer");
    let long = "s".repeat(601);
    for (args, says) in [
        (vec!["--subject", ""], "subject is empty"),
        (vec!["--subject", &long], "601 characters"),
        (vec!["--subject", " s"], "whitespace"),
        (vec!["--subject", "s "], "whitespace"),
        (vec!["--subject", "s", "--name", "ab"], "3 to 120"),
        (vec!["--subject", "s", "--name=-abc"], "3 to 120"),
        (
            vec!["--subject", "s", "--identity-name", "a b"],
            "managed identity name",
        ),
        (
            vec!["--subject", "s", "--resource-group", "rg."],
            "resource group name",
        ),
    ] {
        let (code, out, err) = fic(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, _) = fic(dir.path(), &["--subject", &"s".repeat(600)]);
    assert_eq!(code, 0, "600 characters is the limit, not over it");
}

#[test]
fn the_rest_body_put_to_arm_makes_a_fic_that_idp_token_exchanges_with() {
    let f = Flow::served(&[]);
    let (status, uami) = f.arm(
        reqwest::Method::PUT,
        "from-fic",
        Some(json!({"location": "westeurope"})),
    );
    assert!(status == 200 || status == 201, "{uami}");
    let (code, body, err) = fic(f.path(), &["--subject", AWKWARD]);
    assert_eq!(code, 0, "{err}");
    let (status, created) = f.arm(
        reqwest::Method::PUT,
        "from-fic/federatedIdentityCredentials/idp",
        Some(serde_json::from_str(&body).unwrap()),
    );
    assert!(status == 200 || status == 201, "{created}");
    let client_id = uami["properties"]["clientId"].as_str().unwrap();
    let (code, out, err, _) = f.token(client_id, AWKWARD, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("eyJ"), "an access token: {out}");
}

/// Evaluates the template's expressions the replay needs, for a deployment into resource
/// group `rg` of `subscription`. Anything else is a template change this test must learn.
/// (`uniqueString` is ARM's own hash: the vault's name stands in as `kvreplay`.)
fn evaluate(expr: &str, subscription: &str, variables: &Value) -> String {
    match expr {
        "[resourceGroup().id]" => format!("/subscriptions/{subscription}/resourceGroups/rg"),
        "[format('kv{0}', uniqueString(resourceGroup().id))]" => "kvreplay".into(),
        e if e.starts_with(
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('",
        ) =>
        {
            let var = e
                .split("variables('")
                .nth(1)
                .unwrap()
                .split("')")
                .next()
                .unwrap();
            format!(
                "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
                variables[var].as_str().unwrap()
            )
        }
        e if e.starts_with("[variables('") && e.ends_with("')]") => {
            let name = &e["[variables('".len()..e.len() - "')]".len()];
            evaluate(variables[name].as_str().unwrap(), subscription, variables)
        }
        e if e.starts_with("[[") => e[1..].to_owned(),
        e if e.starts_with('[') && e.ends_with(']') => panic!("unevaluated expression {e}"),
        literal => literal.to_owned(),
    }
}

#[test]
fn the_managed_app_package_replayed_into_arm_gives_a_working_exchange() {
    let f = Flow::served(&[]);
    let out = idp(f.path())
        .args(["managed-app", "package", "--out", "pkg"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pkg = f.path().join("pkg");
    let template: Value =
        serde_json::from_slice(&std::fs::read(pkg.join("mainTemplate.json")).unwrap()).unwrap();
    assert_eq!(
        template["$schema"],
        "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
    );
    // app.zip: exactly the two files, at its root, as written beside it.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(pkg.join("app.zip")).unwrap()).unwrap();
    assert_eq!(zip.len(), 2);
    for name in ["mainTemplate.json", "createUiDefinition.json"] {
        let mut inside = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut inside).unwrap();
        assert_eq!(inside, std::fs::read(pkg.join(name)).unwrap(), "{name}");
    }

    // Replay the identity and its credential, their properties as the template gives them.
    let vars = &template["variables"];
    let resources = template["resources"].as_array().unwrap();
    let of_type = |t: &str| resources.iter().find(|r| r["type"] == t).unwrap();
    let identity = of_type("Microsoft.ManagedIdentity/userAssignedIdentities");
    let identity_name = evaluate(identity["name"].as_str().unwrap(), &f.subscription, vars);
    let (status, uami) = f.arm(
        reqwest::Method::PUT,
        &identity_name,
        Some(json!({"location": "westeurope"})),
    );
    assert!(status == 200 || status == 201, "{uami}");
    let credential =
        of_type("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials");
    let p = &credential["properties"];
    let properties = json!({
        "issuer": evaluate(p["issuer"].as_str().unwrap(), &f.subscription, vars),
        "subject": evaluate(p["subject"].as_str().unwrap(), &f.subscription, vars),
        "audiences": p["audiences"].as_array().unwrap().iter()
            .map(|a| evaluate(a.as_str().unwrap(), &f.subscription, vars)).collect::<Vec<_>>(),
    });
    assert_eq!(
        properties["issuer"],
        f.issuer.as_str(),
        "the issuer is a literal"
    );
    let fic_name = evaluate("[variables('ficName')]", &f.subscription, vars);
    let (status, created) = f.arm(
        reqwest::Method::PUT,
        &format!("{identity_name}/federatedIdentityCredentials/{fic_name}"),
        Some(json!({ "properties": properties })),
    );
    assert!(status == 200 || status == 201, "{created}");

    // The publisher then adds the deployment by its identity's id; the subject is read back.
    let identity_id = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity_name}",
        f.subscription
    );
    let out = idp(f.path())
        .args(["customers", "add", "contoso", "--identity", &identity_id])
        .args([
            "--arm-endpoint",
            &f.authority(),
            "--arm-token-file",
            "owner.token",
        ])
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = idp(f.path())
        .args(["token", "--customer", "contoso", "--scope", SCOPE])
        .args(["--authority-host", &f.authority()])
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown: Value = serde_json::from_slice(
        &idp(f.path())
            .args(["customers", "show", "contoso"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        shown["subject"],
        format!("/subscriptions/{}/resourceGroups/rg", f.subscription)
    );
    assert_eq!(shown["client_id"], uami["properties"]["clientId"]);

    // The vault and its role assignment, as the template gives them: the identity's token
    // sets a secret there once (and only once) the assignment is made.
    let vault = of_type("Microsoft.KeyVault/vaults");
    let vault_name = evaluate(vault["name"].as_str().unwrap(), &f.subscription, vars);
    let mut props = vault["properties"].clone();
    assert_eq!(props["tenantId"], "[subscription().tenantId]");
    props["tenantId"] = json!(f.tenant);
    assert_eq!(props["enableRbacAuthorization"], true);
    let vault_id = format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{vault_name}",
        f.subscription
    );
    let (status, made) = f.arm_at(
        reqwest::Method::PUT,
        &format!(
            "{vault_id}?api-version={}",
            vault["apiVersion"].as_str().unwrap()
        ),
        Some(json!({"location": "westeurope", "properties": props})),
    );
    assert!(status == 200 || status == 201, "{made}");
    let vault_uri = made["properties"]["vaultUri"].as_str().unwrap().to_owned();
    let token = idp(f.path())
        .args([
            "token",
            "--customer",
            "contoso",
            "--scope",
            "https://vault.azure.net/.default",
        ])
        .args(["--authority-host", &f.authority()])
        .arg("--ca-cert")
        .arg(&f.emulator_ca)
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let set_secret = || {
        crate::flow::client(&f.emulator_ca)
            .put(format!("{vault_uri}secrets/replayed?api-version=7.4"))
            .bearer_auth(&token)
            .json(&json!({"value": "from the publisher"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(set_secret(), 403, "no role yet");
    let assignment = resources
        .iter()
        .find(|r| {
            r["type"] == "Microsoft.Authorization/roleAssignments" && r.get("condition").is_none()
        })
        .unwrap();
    let scope = assignment["scope"].as_str().unwrap();
    assert_eq!(
        scope,
        "[format('Microsoft.KeyVault/vaults/{0}', variables('vaultName'))]"
    );
    let role = evaluate(
        assignment["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap(),
        &f.subscription,
        vars,
    );
    assert!(
        role.ends_with("/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"),
        "{role}"
    );
    assert_eq!(
        assignment["properties"]["principalId"],
        "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), '2023-01-31').principalId]"
    );
    let (status, body) = f.arm_at(
        reqwest::Method::PUT,
        &format!(
            "{vault_id}/providers/Microsoft.Authorization/roleAssignments/0c000000-0000-4000-8000-00000000000c?api-version={}",
            assignment["apiVersion"].as_str().unwrap()
        ),
        Some(json!({"properties": {
            "roleDefinitionId": role,
            "principalId": uami["properties"]["principalId"],
            "principalType": assignment["properties"]["principalType"],
        }})),
    );
    assert!(status == 200 || status == 201, "{body}");
    assert_eq!(
        set_secret(),
        200,
        "the template's role lets the identity set secrets"
    );
}

#[test]
fn the_package_refuses_a_folder_that_is_not_empty() {
    let dir = init("https://acct.blob.core.windows.net/issuer");
    let out_dir = dir.path().join("pkg");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("mainTemplate.json"), "mine").unwrap();
    let out = idp(dir.path())
        .args(["managed-app", "package", "--out", "pkg"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pkg is not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("mainTemplate.json")).unwrap(),
        "mine"
    );
    assert!(!out_dir.join("app.zip").exists());
    idp(dir.path())
        .args(["managed-app", "package", "--out", "pkg", "--force"])
        .assert()
        .success();
    assert!(out_dir.join("app.zip").exists());
}

/// deploy/managed-app/ is the package for its placeholder issuer, exactly as idp renders it.
#[test]
fn the_checked_in_example_is_what_idp_renders() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/managed-app");
    let issuer = "https://idpissuer.blob.core.windows.net/oidc";
    let dir = tempfile::tempdir().unwrap();
    idp(dir.path())
        .args(["--issuer", issuer, "managed-app", "package", "--out", "pkg"])
        .assert()
        .success();
    for name in ["mainTemplate.json", "createUiDefinition.json", "app.zip"] {
        assert!(
            std::fs::read(dir.path().join("pkg").join(name)).unwrap()
                == std::fs::read(example.join(name)).unwrap(),
            "deploy/managed-app/{name} is stale: run `idp --issuer {issuer} managed-app package --out deploy/managed-app --force`"
        );
    }
}
