//! Turning an error into what the user reads: the message, its causes, what to do, and the
//! exit code (2 for the user's input, 1 for a failed operation). Each error says its own
//! hint and code ([`idp_core::diagnostic::Diagnostic`], kept through `?` by [`Report`]);
//! this module only renders, hiding what a layer below forgot to hide, and fits the hint to
//! the command at hand: a flag the command does not have is named by its environment
//! variable instead, or the part of the hint that needs it is left out.

use crate::settings::setting;
use idp_core::diagnostic::Report;
use std::collections::BTreeSet;
use std::process::ExitCode;

/// What `report` prints for the command at `path` (like `["customers", "add"]`), and the
/// exit code.
pub fn render(report: &Report, path: &[&str]) -> (u8, Vec<String>) {
    // Errors carry text that came from the network; whatever a layer below forgot to hide
    // is hidden here, the one place every error is printed.
    let redact = idp_core::secret::redact;
    let lines = report.lines();
    let mut out = vec![format!("error: {}", redact(&lines[0]))];
    out.extend(
        lines[1..]
            .iter()
            .map(|l| format!("  caused by: {}", redact(l))),
    );
    if let Some(hint) = report.hint().and_then(|h| fit_hint(&h, &flags_of(path))) {
        out.push(format!("  hint: {}", redact(&hint)));
    }
    (report.exit_code(), out)
}

pub fn print_error(report: &Report, path: &[&str]) -> ExitCode {
    let (code, lines) = render(report, path);
    for line in lines {
        eprintln!("{line}");
    }
    ExitCode::from(code)
}

/// The long flags of the command at `path`, its parents' global ones included.
pub fn flags_of(path: &[&str]) -> BTreeSet<String> {
    use clap::CommandFactory as _;
    let mut cmd = crate::cli::Cli::command();
    let mut flags = BTreeSet::new();
    let mut add = |c: &clap::Command| {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                flags.insert(format!("--{l}"));
            }
        }
    };
    add(&cmd);
    for name in path {
        let Some(sub) = cmd.find_subcommand(name).cloned() else {
            break;
        };
        add(&sub);
        cmd = sub;
    }
    flags
}

/// `hint` for a command with `flags`: each clause (`; `-separated) that names a flag the
/// command lacks names the setting's environment variable instead, or is left out when
/// the flag is no setting. Text in backticks (another command's line) is kept as it is.
pub fn fit_hint(hint: &str, flags: &BTreeSet<String>) -> Option<String> {
    let clauses: Vec<String> = hint
        .split("; ")
        .filter_map(|c| fit_clause(c, flags))
        .filter(|c| !c.trim().is_empty())
        .collect();
    (!clauses.is_empty()).then(|| clauses.join("; "))
}

fn fit_clause(clause: &str, flags: &BTreeSet<String>) -> Option<String> {
    let mut out = String::with_capacity(clause.len());
    let mut rest = clause;
    let mut in_code = false;
    // A flag starts a word: `./build--out` is a path, not a flag.
    let mut at_word_start = true;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            in_code = !in_code;
        }
        let flag = (!in_code && at_word_start).then(|| flag_at(rest)).flatten();
        let Some(flag) = flag else {
            at_word_start = c.is_whitespace() || "([{,\"'".contains(c);
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        at_word_start = false;
        rest = &rest[flag.len()..];
        if flags.contains(flag) {
            out.push_str(flag);
            continue;
        }
        let s = setting::by_flag(flag)?;
        match rest.strip_prefix(" / ") {
            // `--flag / IDP_FLAG`: the variable that follows says it.
            Some(after) => rest = after,
            None => out.push_str(s.env),
        }
    }
    Some(out)
}

/// The flag (`--name`) `text` starts with, if any.
fn flag_at(text: &str) -> Option<&str> {
    let body = text.strip_prefix("--")?;
    let len = body
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        .map_or(body.len(), |(i, _)| i);
    let name = body[..len].trim_end_matches('-');
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase()))
        .then(|| &text[..2 + name.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(flags: &[&str]) -> BTreeSet<String> {
        flags.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn a_flag_the_command_has_stays_and_a_settings_flag_becomes_its_variable() {
        let h =
            "check --arm-endpoint / IDP_ARM_ENDPOINT and the network; for a private CA, --ca-cert";
        assert_eq!(
            fit_hint(h, &set(&["--arm-endpoint", "--ca-cert"])).unwrap(),
            h
        );
        assert_eq!(
            fit_hint(h, &set(&["--ca-cert"])).unwrap(),
            "check IDP_ARM_ENDPOINT and the network; for a private CA, --ca-cert"
        );
        assert_eq!(
            fit_hint(h, &set(&[])).unwrap(),
            "check IDP_ARM_ENDPOINT and the network; for a private CA, IDP_CA_CERT"
        );
    }

    #[test]
    fn a_clause_needing_a_flag_that_is_no_setting_is_left_out() {
        let h = "pass --subject with the FIC's subject; or fix the FIC";
        assert_eq!(fit_hint(h, &set(&[])).unwrap(), "or fix the FIC");
        assert_eq!(fit_hint("pass --subject", &set(&[])), None);
        assert_eq!(
            fit_hint("pass --subject", &set(&["--subject"])).unwrap(),
            "pass --subject"
        );
    }

    #[test]
    fn another_commands_line_in_backticks_is_kept() {
        let h = "run `idp init --issuer <URL>` first, or point --keys-dir / IDP_KEYS_DIR at it";
        assert_eq!(
            fit_hint(h, &set(&[])).unwrap(),
            "run `idp init --issuer <URL>` first, or point IDP_KEYS_DIR at it"
        );
    }

    #[test]
    fn a_flag_starts_a_word_and_empty_clauses_go() {
        assert_eq!(
            fit_hint("cannot write ./build--out/x; try --out-dir", &set(&[])).unwrap(),
            "cannot write ./build--out/x"
        );
        assert_eq!(
            fit_hint("(--audience / IDP_ASSERTION_AUDIENCE)", &set(&[])).unwrap(),
            "(IDP_ASSERTION_AUDIENCE)"
        );
        assert_eq!(fit_hint("do this; ", &set(&[])).unwrap(), "do this");
    }

    #[test]
    fn flags_are_read_whole() {
        assert_eq!(flag_at("--arm-token-file / X"), Some("--arm-token-file"));
        assert_eq!(flag_at("--as github"), Some("--as"));
        assert_eq!(flag_at("--x,"), Some("--x"));
        assert_eq!(flag_at("-- x"), None);
        assert_eq!(flag_at("---"), None);
        assert_eq!(flag_at("--9"), None);
        assert_eq!(flag_at("x --y"), None);
    }

    #[test]
    fn a_commands_flags_include_the_global_ones() {
        let token = flags_of(&["token"]);
        assert!(
            token.contains("--scope") && token.contains("--ca-cert"),
            "{token:?}"
        );
        let add = flags_of(&["customers", "add"]);
        assert!(
            add.contains("--arm-token-file") && !add.contains("--auth"),
            "{add:?}"
        );
        assert!(flags_of(&["publish-metadata"]).contains("--auth"));
    }
}

/// Every error type idp's crates export reaches the user through `?` with its own exit
/// code and hint, and no hint names a flag the command at hand does not have.
#[cfg(test)]
mod every_error {
    use super::*;
    use idp_core::diagnostic::Diagnostic;
    use std::path::PathBuf;

    /// One sample of an error type: its name, its own verdict, and what the user sees
    /// once it has gone through `?` into a report.
    struct Sample {
        /// The type's path, like `idp_arm::ArmError`.
        name: &'static str,
        usage: bool,
        hint: Option<String>,
        report: Report,
    }

    fn sample<E: Diagnostic>(e: E) -> Sample {
        let name = std::any::type_name::<E>();
        let (usage, hint) = (e.is_usage(), e.hint());
        fn through_question_mark<E: Diagnostic>(e: E) -> Result<(), Report> {
            Err(e)?
        }
        Sample {
            name,
            usage,
            hint,
            report: through_question_mark(e).unwrap_err(),
        }
    }

    fn io() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
    }

    fn samples() -> Vec<Sample> {
        use idp_core::*;
        let path = || PathBuf::from("x");
        vec![
            sample(crate::settings::ConfigError::Missing { path: path() }),
            sample(Issuer::parse("http://x").unwrap_err()),
            sample(metadata::JwksPath::parse("../x").unwrap_err()),
            sample(duration::parse("ten").unwrap_err()),
            sample(assertion::Subject::parse("").unwrap_err()),
            sample(keyring::KeyringError::NoActiveKey),
            sample(inspect::decode("x").unwrap_err()),
            sample(audit::AuditError {
                path: path(),
                source: io(),
            }),
            sample(audit::MintError::Audit(audit::AuditError {
                path: path(),
                source: io(),
            })),
            sample(keys::parse_pem(b"x", &path()).unwrap_err()),
            sample(cloud::Cloud::parse("mars").unwrap_err()),
            sample(vault_key::VaultKeyId::parse("x").unwrap_err()),
            sample(signer::RemoteError::failed(
                "vault said no",
                "give idp the role",
            )),
            sample(signer::SignError::Mismatch {
                location: "v".into(),
                kid: "k".into(),
            }),
            sample(fsutil::WriteError {
                path: path(),
                source: io(),
            }),
            sample(diagnostic::Problem::usage("bad", "fix it")),
            sample(io()),
            sample(serde_json::from_str::<u8>("x").unwrap_err()),
            sample(idp_server::CacheControl::parse("a\nb").unwrap_err()),
            sample(idp_server::listen::ListenError::Tls(io())),
            sample(idp_server::tls::TlsError::Read {
                path: path(),
                source: io(),
            }),
            sample(idp_template::names::FicName::parse("!").unwrap_err()),
            sample(idp_template::managed_app::PackageError::NotEmpty { dir: path() }),
            sample(idp_exchange::client::ExchangeError::Unreachable {
                url: "u".into(),
                detail: "d".into(),
            }),
            sample(idp_exchange::request::RequestError::BadScope("s".into())),
            sample(idp_http::HttpError::NoCertificate { path: path() }),
            sample(idp_inventory::InventoryError::Empty { path: path() }),
            sample(idp_arm::ArmError::NotFound {
                id: "/x".into(),
                code: "c".into(),
            }),
            sample(idp_arm::FicMismatch::None),
            sample(idp_publish::storage::StorageError::ContainerNotFound {
                container_url: "u".into(),
            }),
            sample(idp_publish::publish::PublishError::NoContainer {
                container_url: "u".into(),
            }),
            sample(idp_publish::publish::ReadbackError::Differ(vec![])),
            sample(idp_publish::readback::FetchError::TooLarge { url: "u".into() }),
            sample(idp_publish::sas::SasToken::parse("x").unwrap_err()),
            sample(idp_publish::credential::CredentialError::NoSas),
            sample(idp_publish::target::Target::from_url("x").unwrap_err()),
            sample(idp_broker::BrokerError::Folder(io())),
            sample(idp_broker::endpoint::TokenFileError::Read {
                path: path(),
                source: io(),
            }),
            sample(idp_broker::run::RunError::Spawn {
                program: "p".into(),
                source: io(),
            }),
            sample(idp_app::credentials::CredentialError::Setup {
                method: idp_app::credentials::Method::AzureCli,
                service: idp_app::credentials::Service::Arm,
                detail: "d".into(),
            }),
            sample(idp_app::select::SelectError::Nothing),
            sample(
                idp_app::managed_identity::ManagedIdentityError::Unsupported {
                    name: "Cloud Shell",
                    why: "w",
                },
            ),
            sample(diagnostic::Boxed::new(keyring::KeyringError::NoActiveKey)),
            sample(idp_arm::graph::GraphError::NotFound {
                app_id: "a".into(),
                code: "Request_ResourceNotFound".into(),
            }),
        ]
    }

    /// The commands, by their names on the command line.
    fn commands() -> Vec<Vec<String>> {
        use clap::CommandFactory as _;
        let root = crate::cli::Cli::command();
        let mut out = Vec::new();
        for sub in root.get_subcommands() {
            if sub.has_subcommands() {
                for leaf in sub.get_subcommands() {
                    out.push(vec![sub.get_name().to_owned(), leaf.get_name().to_owned()]);
                }
            } else {
                out.push(vec![sub.get_name().to_owned()]);
            }
        }
        out
    }

    #[test]
    fn each_errors_code_and_hint_reach_the_user() {
        for s in samples() {
            // Rendered for a command with every flag a hint may name.
            let (code, lines) = render(&s.report, &["publish-metadata"]);
            assert_eq!(code, if s.usage { 2 } else { 1 }, "{}", s.name);
            let printed = lines.iter().find_map(|l| l.strip_prefix("  hint: "));
            let fitted = s
                .hint
                .as_deref()
                .and_then(|h| fit_hint(h, &flags_of(&["publish-metadata"])));
            assert_eq!(printed, fitted.as_deref(), "{}", s.name);
            if s.hint.is_some() && !s.hint.as_deref().unwrap().contains("--") {
                assert_eq!(printed, s.hint.as_deref(), "{}", s.name);
            }
            assert!(lines[0].starts_with("error: "), "{}: {lines:?}", s.name);
        }
    }

    #[test]
    fn no_hint_names_a_flag_the_command_does_not_have() {
        for path in commands() {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let flags = flags_of(&path);
            for s in samples() {
                let (_, lines) = render(&s.report, &path);
                let Some(hint) = lines.iter().find_map(|l| l.strip_prefix("  hint: ")) else {
                    continue;
                };
                let mut in_code = false;
                for (i, c) in hint.char_indices() {
                    if c == '`' {
                        in_code = !in_code;
                    }
                    if in_code {
                        continue;
                    }
                    if let Some(flag) = flag_at(&hint[i..]) {
                        assert!(
                            flags.contains(flag),
                            "idp {}: {}'s hint names {flag}: {hint}",
                            path.join(" "),
                            s.name
                        );
                    }
                }
            }
        }
    }

    /// Every type that implements `Diagnostic` in idp's sources has a sample above, so a
    /// new error type cannot go untested.
    #[test]
    fn every_diagnostic_type_has_a_sample() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut declared = std::collections::BTreeSet::new();
        let mut dirs = vec![PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    if !p.ends_with("tests") && !p.ends_with("target") {
                        dirs.push(p);
                    }
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    // Test modules' own error types are not idp's.
                    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                    for line in code.lines() {
                        let Some(rest) = line.trim().strip_prefix("impl ") else {
                            continue;
                        };
                        let Some((_, ty)) = rest.split_once("Diagnostic for ") else {
                            continue;
                        };
                        let ty = ty.split([' ', '{']).next().unwrap_or_default();
                        // Foreign types by their path; idp's by their crate and name.
                        let name = match ty {
                            "std::io::Error" | "serde_json::Error" => ty.to_owned(),
                            t => format!("{}::{}", crate_of(&p), t.rsplit("::").next().unwrap()),
                        };
                        declared.insert(name);
                    }
                }
            }
        }
        let sampled: std::collections::BTreeSet<String> = samples()
            .iter()
            .map(|s| match s.name {
                "std::io::error::Error" => "std::io::Error".into(),
                "serde_json::error::Error" => "serde_json::Error".into(),
                n => format!(
                    "{}::{}",
                    n.split("::").next().unwrap(),
                    n.rsplit("::").next().unwrap()
                ),
            })
            .collect();
        let missing: Vec<_> = declared.difference(&sampled).collect();
        assert!(
            missing.is_empty(),
            "no sample for {missing:?}; sampled {sampled:?}"
        );
        assert!(declared.len() >= 40, "the scan found too few: {declared:?}");
    }

    /// `crates/idp-arm/src/lib.rs` → `idp_arm`.
    fn crate_of(path: &std::path::Path) -> String {
        let parts: Vec<_> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        let i = parts.iter().rposition(|c| c == "src").unwrap();
        parts[i - 1].replace('-', "_")
    }
}
