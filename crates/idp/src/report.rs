//! Turning errors into what the user reads: the message, its causes, and what to do.

use crate::settings::{ConfigError, Source, env};
use idp_core::assertion::AssertionError;
use idp_core::diagnostic::Diagnostic;
use idp_core::duration::DurationError;
use idp_core::inspect::DecodeError;
use idp_core::issuer::IssuerError;
use idp_core::keyring::KeyringError;
use idp_core::keys::KeyError;
use idp_core::metadata::MetadataError;
use idp_http::HttpError;
use idp_publish::publish::PublishError;
use idp_publish::sas::SasError;
use idp_publish::storage::StorageError;
use idp_publish::target::TargetError;
use std::process::ExitCode;

/// Exit code for a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for an operation that failed.
pub const EXIT_FAILED: u8 = 1;

/// An error found by a command itself, with what to do and its exit code: 2 for what is
/// the user's to fix (a file named on the command line that cannot be read, an address
/// that cannot be bound), 1 for an operation that failed. Used as an error or as context
/// (`.context(Hint::usage(..))`).
#[derive(Debug)]
pub struct Hint {
    pub message: String,
    pub hint: String,
    pub code: u8,
}

impl Hint {
    /// The user's to fix: exit 2.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
            code: EXIT_USAGE,
        }
    }

    /// An operation that failed: exit 1.
    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
            code: EXIT_FAILED,
        }
    }
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hint {}

/// An error that already told the user everything; only the exit code is left.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Reported {
    pub message: String,
    pub code: u8,
}

pub fn print_error(err: &anyhow::Error) -> ExitCode {
    let (code, hint) = classify(err);
    // Errors carry text that came from the network; whatever a layer below forgot to hide
    // is hidden here, the one place every error is printed.
    let redact = idp_core::secret::redact;
    eprintln!("error: {}", redact(&err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", redact(&cause.to_string()));
    }
    if let Some(hint) = hint {
        eprintln!("  hint: {}", redact(&hint));
    }
    ExitCode::from(code)
}

/// The error types that know their hint and exit code ([`Diagnostic`]), looked for in
/// every link of the chain.
fn diagnostic<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Diagnostic> {
    macro_rules! first_of {
        ($($t:ty),* $(,)?) => {
            $(if let Some(d) = e.downcast_ref::<$t>() {
                return Some(d);
            })*
        };
    }
    first_of!(
        ConfigError,
        IssuerError,
        KeyError,
        KeyringError,
        AssertionError,
        DurationError,
        MetadataError,
        DecodeError,
        TargetError,
        SasError,
        HttpError,
        PublishError,
        StorageError,
        idp_publish::credential::CredentialError,
        idp_exchange::request::RequestError,
        idp_exchange::client::ExchangeError,
        idp_server::listen::ListenError,
        idp_fleet::inventory::InventoryError,
        idp_fleet::arm::ArmError,
        idp_fleet::arm::FicMismatch,
        idp_template::names::NameError,
        idp_core::audit::AuditError,
        idp_core::audit::MintError,
        idp_core::signer::SignError,
        idp_core::signer::RemoteError,
        idp_core::vault_key::VaultKeyIdError,
        idp_broker::run::RunError,
        idp_broker::BrokerError,
        idp_broker::endpoint::TokenFileError,
        idp_template::managed_app::PackageError,
        Hint,
    );
    None
}

/// The exit code and the hint for the most specific error in the chain.
fn classify(err: &anyhow::Error) -> (u8, Option<String>) {
    let mut code = EXIT_FAILED;
    let mut hint = None;
    for cause in err.chain() {
        let (c, h) = if let Some(d) = diagnostic(cause) {
            let c = if d.is_usage() {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            };
            (c, d.hint())
        } else if let Some(e) = cause.downcast_ref::<Reported>() {
            (e.code, None)
        } else if let Some(e) = cause.downcast_ref::<idp_core::fsutil::WriteError>() {
            // A folder that does not exist was named by the user (--out, --keys-dir).
            let missing = e.source.kind() == std::io::ErrorKind::NotFound;
            (if missing { EXIT_USAGE } else { EXIT_FAILED }, None)
        } else {
            continue;
        };
        // The outermost classified error decides the code; the first hint found is kept.
        if code == EXIT_FAILED {
            code = c;
        }
        if hint.is_none() {
            hint = h;
        }
    }
    // A `Hint` given as context (`.context(Hint::usage(..))`) is not in the chain as a type
    // of its own; anyhow finds it at any depth.
    if let Some(h) = err.downcast_ref::<Hint>() {
        if code == EXIT_FAILED {
            code = h.code;
        }
        hint.get_or_insert_with(|| h.hint.clone());
    }
    (code, hint)
}

impl Diagnostic for Hint {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }

    fn is_usage(&self) -> bool {
        self.code == EXIT_USAGE
    }
}

impl Diagnostic for ConfigError {
    fn hint(&self) -> Option<String> {
        config_hint(self)
    }

    fn is_usage(&self) -> bool {
        true
    }
}

fn config_hint(e: &ConfigError) -> Option<String> {
    Some(match e {
        ConfigError::Missing { .. } => format!(
            "run `idp init --issuer <URL>` here first, or pass --config FILE / {}, or set {}",
            env::CONFIG,
            env::ISSUER
        ),
        ConfigError::ExplicitMissing { source_name, .. } => {
            format!(
                "check the path given by {source_name}, or create it with `idp init --issuer <URL>`"
            )
        }
        ConfigError::Parse { .. } => format!(
            "fix the file; known keys are {}",
            crate::settings::setting::IN_FILE
                .iter()
                .map(|s| format!("`{}`", s.key))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ConfigError::Invalid { source_name, .. } => match source_name {
            Source::Default => return None,
            s => format!("correct the value given by {s}"),
        },
        ConfigError::EnvNotUnicode { var } => format!("set {var} to UTF-8 text or unset it"),
        ConfigError::ConfigExists { .. } => {
            "pass --force to replace it, or --config to write another file".into()
        }
        ConfigError::Read { .. } => format!(
            "give --config / {} a readable UTF-8 TOML file, like the idp.toml `idp init` writes",
            env::CONFIG
        ),
    })
}
