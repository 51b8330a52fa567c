//! The README's Terraform rehearsal, offline: Terraform's built-in `azurerm` state backend
//! (`use_oidc`, `use_azuread_auth`; no provider download) under `idp exec`, with the
//! emulator as Azure (its `/metadata/endpoints` through `ARM_METADATA_HOSTNAME`, its token
//! endpoint) and Azurite as the storage account, reached at its production-style name
//! `devstoreaccount1.blob.idp.test` (one `/etc/hosts` line, put back as it was found).

use crate::flow::{Flow, idp_process};
use idp_testkit::{Azurite, HostsEntry, Python};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The storage suffix the emulator names, and the host Terraform then asks for.
const SUFFIX_HOST: &str = "idp.test";
const ACCOUNT_HOST: &str = "devstoreaccount1.blob.idp.test";

fn terraform() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("terraform"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "terraform is not installed: this test runs Terraform's azurerm state backend. \
             Install Terraform 1.11 or newer (https://developer.hashicorp.com/terraform/install, \
             or `apt-get install terraform` from HashiCorp's apt repository); the backend \
             needs no provider download"
        )
    })
}

const MAIN_TF: &str = r#"
terraform {
  backend "azurerm" {
    use_oidc             = true
    use_azuread_auth     = true
    storage_account_name = "devstoreaccount1"
    container_name       = "tfstate"
    key                  = "rehearsal.tfstate"
  }
}

resource "terraform_data" "rehearsal" {
  input = "offline"
}

output "rehearsal" {
  value = terraform_data.rehearsal.output
}
"#;

/// `idp exec --customer tf -- terraform …` in `dir`, trusting the emulator's and Azurite's
/// CAs (Go reads `SSL_CERT_FILE`), with the emulator as ARM's metadata host.
fn terraform_under_idp(f: &Flow, tf_dir: &Path, bundle: &Path, args: &[&str]) -> (i32, String) {
    let mut c = idp_process(f.path());
    c.args([
        "exec",
        "--customer",
        "tf",
        "--",
        terraform().to_str().unwrap(),
    ])
    .arg(format!("-chdir={}", tf_dir.display()))
    .args(args)
    .env("SSL_CERT_FILE", bundle)
    .env("ARM_METADATA_HOSTNAME", f.emulator.address())
    .env("TF_IN_AUTOMATION", "1")
    .env("CHECKPOINT_DISABLE", "1")
    .env("TF_CLI_CONFIG_FILE", tf_dir.join("terraformrc"))
    .env("TF_INPUT", "0");
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("$ idp exec -- terraform {args:?}\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn terraforms_azurerm_backend_keeps_its_state_in_azurite_under_idp_exec() {
    let azurite = Azurite::start_for_hosts(&[ACCOUNT_HOST]);
    let _hosts = HostsEntry::add(ACCOUNT_HOST);
    let suffix = format!("{SUFFIX_HOST}:{}", azurite.port);
    let f = Flow::served(&["--storage-suffix", &suffix]);
    f.customer("tf", "tf");
    // The container, made with the account key's SAS (the pipeline's own setup step).
    let sas = Python::find().account_sas("rwdlac", 3600);
    let http = idp_testkit::https_client(&azurite.ca.ca_pem);
    let made = http
        .put(format!(
            "{}?restype=container&{sas}",
            azurite.container_url("tfstate")
        ))
        .send()
        .unwrap();
    assert_eq!(made.status().as_u16(), 201, "{:?}", made.text());
    // Go's TLS trusts the bundle's CAs only: the emulator's and Azurite's.
    let tf_dir = f.path().join("tf");
    std::fs::create_dir(&tf_dir).unwrap();
    std::fs::write(tf_dir.join("main.tf"), MAIN_TF).unwrap();
    std::fs::write(tf_dir.join("terraformrc"), "").unwrap();
    let bundle = f.path().join("ca-bundle.pem");
    std::fs::write(
        &bundle,
        [
            std::fs::read_to_string(&f.emulator_ca).unwrap(),
            std::fs::read_to_string(&azurite.ca.ca_pem).unwrap(),
        ]
        .concat(),
    )
    .unwrap();

    let (code, out) = terraform_under_idp(&f, &tf_dir, &bundle, &["init", "-input=false"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Successfully configured the backend \"azurerm\""),
        "{out}"
    );
    let (code, out) = terraform_under_idp(
        &f,
        &tf_dir,
        &bundle,
        &["apply", "-auto-approve", "-input=false"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Apply complete! Resources: 1 added"), "{out}");
    // The plan reads the state back: nothing to change (-detailed-exitcode: 0).
    let (code, out) = terraform_under_idp(
        &f,
        &tf_dir,
        &bundle,
        &["plan", "-detailed-exitcode", "-input=false"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");

    // The state is the blob in Azurite, holding the resource.
    let state = http
        .get(format!(
            "{}/rehearsal.tfstate?{sas}",
            azurite.container_url("tfstate")
        ))
        .send()
        .unwrap();
    assert_eq!(state.status().as_u16(), 200);
    let state: Value = state.json().unwrap();
    assert_eq!(state["resources"][0]["type"], "terraform_data");
    assert_eq!(state["outputs"]["rehearsal"]["value"], "offline");
    // Azurite saw bearer tokens (the emulator's, for storage), never the account key.
    let log = azurite.debug_log();
    assert!(
        log.contains("BlobTokenAuthenticator:authenticateBasic() Validation against token authentication successfully"),
        "Azurite's log shows no bearer token accepted"
    );
    for key in ["Signature 1 matched", "Signature 2 matched"] {
        assert!(!log.contains(key), "an account key was used");
    }
    // No local state: the backend holds it.
    assert!(!tf_dir.join("terraform.tfstate").exists());
}
