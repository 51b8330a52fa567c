//! `idp env`: for CI steps that cannot wrap a command, an assertion file and the variables
//! that name it, in the syntax of the shell or the CI system. Nothing refreshes the file
//! afterwards: its lifetime must cover the steps that use it.

use crate::Identity;
use std::path::Path;

/// How the variables are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `export NAME='value'` lines, for `eval "$(idp env …)"`.
    Sh,
    /// `NAME=value` lines appended to `$GITHUB_ENV`, and the assertion masked
    /// (`::add-mask::`) so the runner hides it from every later log line.
    /// Source: GitHub Docs, "Workflow commands for GitHub Actions" (Setting an environment
    /// variable; Masking a value in a log).
    Github,
    /// `##vso[task.setvariable variable=NAME]value` lines; the assertion as a secret
    /// variable (`issecret=true`), which Azure Pipelines masks.
    /// Source: Microsoft Learn, "Logging commands" (SetVariable).
    AzurePipelines,
    /// One JSON document.
    Json,
}

/// The variable holding the assertion itself under the CI formats (masked or secret there).
pub const ASSERTION_VARIABLE: &str = "IDP_ASSERTION";

/// The variables for the tools: the file for the Azure SDKs and for Terraform (no endpoint
/// outlives `idp env`, so Terraform takes the file), the ids, the authority host.
pub fn variables(id: &Identity, file: &Path) -> Vec<(&'static str, String)> {
    let path = file.to_string_lossy().into_owned();
    id.variables(file, vec![("ARM_OIDC_TOKEN_FILE_PATH", path)])
}

/// What `idp env` prints, and what it appends to `$GITHUB_ENV` (github format only).
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    pub stdout: String,
    pub github_env: Option<String>,
}

/// Renders `vars` in `format`. `assertion` is given only to the CI formats, whose runners
/// mask it; `expires` (RFC 3339) goes in the JSON form.
pub fn render(
    format: Format,
    vars: &[(&'static str, String)],
    assertion: &str,
    exp: i64,
    expires: &str,
) -> Rendered {
    match format {
        Format::Sh => Rendered {
            stdout: vars
                .iter()
                .map(|(k, v)| format!("export {k}={}\n", idp_core::text::shell_word(v)))
                .collect(),
            github_env: None,
        },
        Format::Github => Rendered {
            stdout: format!("::add-mask::{assertion}\n"),
            github_env: Some(vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()),
        },
        Format::AzurePipelines => {
            let mut out: String = vars
                .iter()
                .map(|(k, v)| format!("##vso[task.setvariable variable={k}]{v}\n"))
                .collect();
            out.push_str(&format!(
                "##vso[task.setvariable variable={ASSERTION_VARIABLE};issecret=true]{assertion}\n"
            ));
            Rendered {
                stdout: out,
                github_env: None,
            }
        }
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(v.as_str())))
                .collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "variables": map,
                "exp": exp,
                "expires": expires,
            }))
            .expect("serialises");
            s.push('\n');
            Rendered {
                stdout: s,
                github_env: None,
            }
        }
    }
}

/// Whether a value can be written in a CI system's line-based syntax (no line breaks,
/// which would let a value start a new command or variable).
pub fn is_one_line(v: &str) -> bool {
    !v.contains(['\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            tenant: "t-1".into(),
            client_id: "c-1".into(),
            authority_host: "https://login.microsoftonline.com".into(),
            customer: Some("contoso".into()),
            arm_environment: None,
        }
    }

    #[test]
    fn each_format_names_the_file_and_the_ids() {
        let vars = variables(&id(), Path::new("/tmp/x y/assertion.jwt"));
        let sh = render(Format::Sh, &vars, "eyJ.a.b", 10, "t").stdout;
        assert!(
            sh.contains("export AZURE_FEDERATED_TOKEN_FILE='/tmp/x y/assertion.jwt'\n"),
            "{sh}"
        );
        assert!(
            sh.contains("export ARM_OIDC_TOKEN_FILE_PATH='/tmp/x y/assertion.jwt'\n"),
            "{sh}"
        );
        assert!(
            sh.contains("export AZURE_CLIENT_ID='c-1'\nexport AZURE_TENANT_ID='t-1'\n"),
            "{sh}"
        );
        assert!(sh.contains("export IDP_CUSTOMER='contoso'\n"), "{sh}");
        assert!(
            !sh.contains("eyJ"),
            "the shell form never holds the assertion: {sh}"
        );

        let gh = render(Format::Github, &vars, "eyJ.a.b", 10, "t");
        assert_eq!(gh.stdout, "::add-mask::eyJ.a.b\n");
        let env = gh.github_env.unwrap();
        assert!(
            env.contains("AZURE_FEDERATED_TOKEN_FILE=/tmp/x y/assertion.jwt\n"),
            "{env}"
        );
        assert!(!env.contains("eyJ"), "{env}");

        let ado = render(Format::AzurePipelines, &vars, "eyJ.a.b", 10, "t").stdout;
        assert!(
            ado.contains("##vso[task.setvariable variable=AZURE_CLIENT_ID]c-1\n"),
            "{ado}"
        );
        assert!(
            ado.ends_with("##vso[task.setvariable variable=IDP_ASSERTION;issecret=true]eyJ.a.b\n"),
            "{ado}"
        );

        let json: serde_json::Value = serde_json::from_str(
            &render(Format::Json, &vars, "eyJ.a.b", 10, "2026-12-01T00:00:00Z").stdout,
        )
        .unwrap();
        assert_eq!(json["variables"]["AZURE_TENANT_ID"], "t-1");
        assert_eq!(json["exp"], 10);
        assert_eq!(json["expires"], "2026-12-01T00:00:00Z");
        assert!(!json.to_string().contains("eyJ"));
    }

    #[test]
    fn line_breaks_are_caught() {
        assert!(is_one_line("/tmp/a b"));
        assert!(!is_one_line("/tmp/a\nb"));
        assert!(!is_one_line("a\rb"));
    }
}
