//! Turning errors into what the user reads: the message, its causes, and what to do.

use crate::settings::{ConfigError, Source, env};
use idp_core::assertion::AssertionError;
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

/// The exit code and the hint for the most specific error in the chain.
fn classify(err: &anyhow::Error) -> (u8, Option<String>) {
    let mut code = EXIT_FAILED;
    let mut hint = None;
    for cause in err.chain() {
        let (c, h) = if let Some(e) = cause.downcast_ref::<ConfigError>() {
            (EXIT_USAGE, config_hint(e))
        } else if let Some(e) = cause.downcast_ref::<IssuerError>() {
            (EXIT_USAGE, Some(issuer_hint(e)))
        } else if let Some(e) = cause.downcast_ref::<KeyError>() {
            key_hint(e)
        } else if let Some(e) = cause.downcast_ref::<KeyringError>() {
            keyring_hint(e)
        } else if let Some(e) = cause.downcast_ref::<AssertionError>() {
            (EXIT_USAGE, Some(assertion_hint(e)))
        } else if cause.downcast_ref::<DurationError>().is_some() {
            (
                EXIT_USAGE,
                Some("write durations like 90s, 10m or 1h30m".into()),
            )
        } else if let Some(e) = cause.downcast_ref::<MetadataError>() {
            (EXIT_USAGE, Some(metadata_hint(e)))
        } else if cause.downcast_ref::<DecodeError>().is_some() {
            (
                EXIT_USAGE,
                Some("pass the whole token (header.claims.signature), or `-` to read it from standard input".into()),
            )
        } else if let Some(e) = cause.downcast_ref::<TargetError>() {
            (EXIT_USAGE, Some(target_hint(e)))
        } else if cause.downcast_ref::<SasError>().is_some() {
            (
                EXIT_USAGE,
                Some("pass the SAS token's query string (sv=…&sig=…) or the whole SAS URL; make one with `az storage container generate-sas --as-user --auth-mode login --permissions rcw …`".into()),
            )
        } else if cause.downcast_ref::<HttpError>().is_some() {
            (
                EXIT_USAGE,
                Some(
                    "give --ca-cert / IDP_CA_CERT a PEM file with one or more certificates".into(),
                ),
            )
        } else if let Some(e) = cause.downcast_ref::<PublishError>() {
            (EXIT_FAILED, publish_hint(e))
        } else if let Some(e) = cause.downcast_ref::<StorageError>() {
            (EXIT_FAILED, Some(storage_hint(e)))
        } else if cause
            .downcast_ref::<idp_exchange::request::RequestError>()
            .is_some()
        {
            (
                EXIT_USAGE,
                Some("--tenant is the customer's tenant id, --client-id the managed identity's client id, --scope one resource's `<resource>/.default`".into()),
            )
        } else if let Some(e) = cause.downcast_ref::<idp_exchange::client::ExchangeError>() {
            (EXIT_FAILED, exchange_hint(e))
        } else if let Some(e) = cause.downcast_ref::<idp_server::listen::ListenError>() {
            (EXIT_USAGE, Some(e.hint().to_owned()))
        } else if let Some(e) = cause.downcast_ref::<idp_publish::credential::CredentialError>() {
            let code = if e.is_usage() {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            };
            (code, Some(e.hint()))
        } else if let Some(e) = cause.downcast_ref::<Reported>() {
            (e.code, None)
        } else if let Some(h) = cause.downcast_ref::<Hint>() {
            (h.code, Some(h.hint.clone()))
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
        ConfigError::Read { .. } => return None,
    })
}

fn issuer_hint(e: &IssuerError) -> String {
    match e {
        IssuerError::NotHttps { .. } => "use an https:// URL (lowercase scheme); Entra fetches the issuer's metadata over https only".into(),
        IssuerError::Query { .. } | IssuerError::Fragment { .. } => {
            "remove the `?…` or `#…` part; an OIDC issuer is a plain https URL".into()
        }
        IssuerError::UserInfo { .. } => "remove the `user@` part; credentials never go in an issuer".into(),
        IssuerError::Whitespace { .. } => "remove the whitespace (a pasted newline or space?)".into(),
        IssuerError::TooLong { .. } => "use a shorter storage account, container or prefix".into(),
        IssuerError::Untypeable { .. } => "retype the issuer: a copied URL may hold a character that does not show, and the FIC must match it byte for byte".into(),
        IssuerError::NotUriCharacter { found: '\\', .. } => "write `/`, not `\\`: parsers turn one into the other, so the FIC and the URL fetched would differ".into(),
        IssuerError::NotUriCharacter { .. } | IssuerError::BadPercent { .. } => "percent-encode the character (like %20), or leave it out of the container or prefix name".into(),
        IssuerError::NonAscii { .. } => "percent-encode the path's non-ASCII characters, or use an ASCII prefix: the FIC's issuer is a URI and compares byte for byte".into(),
        IssuerError::NonAsciiHost { ascii, .. } => format!("use the host's ASCII form `{ascii}` in the issuer and the FIC"),
        IssuerError::EmptyAuthority { .. } => "write exactly two slashes after https:, then the host".into(),
        IssuerError::PortZero { .. } => "leave the port out (443), or give the port the issuer is served on".into(),
        IssuerError::DotSegment { .. } => "write the path without `.` and `..` segments, as it will be fetched".into(),
        IssuerError::Empty | IssuerError::Invalid { .. } => {
            "give the URL the FIC will carry, like https://<account>.blob.core.windows.net/<container>".into()
        }
    }
}

fn key_hint(e: &KeyError) -> (u8, Option<String>) {
    let h = match e {
        KeyError::Permissions { path, .. } => format!("run `chmod 600 {}`", path.display()),
        KeyError::NotPem { .. } | KeyError::Malformed { .. } => {
            "the key file is damaged or not a PEM private key: restore it from your backup, or add a new key with `idp keys add`".into()
        }
        KeyError::NotPrivateKey { .. } => "give the private key (-----BEGIN PRIVATE KEY-----), not a certificate or public key".into(),
        KeyError::Encrypted { path } => format!(
            "decrypt it first: `openssl pkey -in {} -out key.pem` (it asks for the passphrase), then `chmod 600 key.pem`",
            path.display()
        ),
        KeyError::NotRsa { .. } | KeyError::TooSmall { .. } => {
            "use an RSA key of 2048 bits or more: `idp keys add --key-size 3072`, or import one made by `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`".into()
        }
        KeyError::UnsupportedSize { .. } => "choose --key-size 2048, 3072 or 4096".into(),
        KeyError::Read { .. } => return (EXIT_USAGE, Some("check the keys folder (--keys-dir / IDP_KEYS_DIR)".into())),
        KeyError::Generate(_) => return (EXIT_FAILED, None),
    };
    (EXIT_USAGE, Some(h))
}

fn keyring_hint(e: &KeyringError) -> (u8, Option<String>) {
    let h = match e {
        KeyringError::Missing { .. } => "run `idp init --issuer <URL>`, or point --keys-dir / IDP_KEYS_DIR at the keys folder".into(),
        KeyringError::AlreadyExists { .. } => "pass --force to start a new keyring (the old keys stop being published)".into(),
        KeyringError::UnknownKid { .. } => "see the kids with `idp keys list`".into(),
        KeyringError::RetireActive { .. } => "activate the next key first (`idp keys add`, publish, `idp keys activate <kid>`), then retire this one".into(),
        KeyringError::ActivateRetired { .. } => "add a new key with `idp keys add`".into(),
        KeyringError::AlreadyInState { .. } => "nothing to do; see `idp keys list`".into(),
        KeyringError::DuplicateKey { .. } => "that key is already known; see `idp keys list`".into(),
        KeyringError::TooManyKeys { .. } => "retire keys that no longer sign with `idp keys retire <kid>`".into(),
        KeyringError::NoActiveKey => "activate a key with `idp keys activate <kid>`".into(),
        KeyringError::KeyMismatch { .. } => "the key file was replaced; restore the right file from backup, or add and activate a new key".into(),
        KeyringError::Corrupt { .. } => "restore keyring.json from backup; do not edit it by hand".into(),
        KeyringError::NotPublished { .. } => "publish the metadata first (`idp publish-metadata`), wait --min-published-age (24h), then activate; `--force` skips the check".into(),
        KeyringError::PublishedTooRecently { .. } => "wait until Entra has surely refreshed the issuer's JWKS (--min-published-age, `rotation.min_published_age`), then activate again; `--force` activates now and risks AADSTS7000272".into(),
        KeyringError::AssertionsStillValid { .. } => "retire it after that time, or pass --force if nothing still uses assertions it signed".into(),
        KeyringError::StrayKeyFile { path, .. } => format!(
            "move {} out of the keys folder (keep it if it may be a key someone uses), then re-run",
            path.display()
        ),
        KeyringError::Key(k) => return key_hint(k),
        KeyringError::Read { .. } | KeyringError::Write(_) | KeyringError::Lock { .. } => {
            return (EXIT_FAILED, Some("check that the keys folder exists and is writable".into()));
        }
    };
    (EXIT_USAGE, Some(h))
}

fn assertion_hint(e: &AssertionError) -> String {
    match e {
        AssertionError::EmptySubject
        | AssertionError::SubjectTooLong { .. }
        | AssertionError::SubjectWhitespace => {
            "the subject must equal the FIC's subject exactly: 1 to 600 characters, no surrounding whitespace".into()
        }
        AssertionError::SubjectUntypeable { .. } => {
            "the subject must equal the FIC's subject exactly: retype it (a copied value may hold a character that does not show), or use only visible characters in the FIC".into()
        }
        AssertionError::EmptyAudience
        | AssertionError::AudienceTooLong { .. }
        | AssertionError::AudienceWhitespace
        | AssertionError::AudienceUntypeable { .. } => format!(
            "the audience must equal the FIC's audience exactly, 1 to 600 visible characters; the clouds' own are {}",
            idp_core::KNOWN_AUDIENCES.join(", ")
        ),
        AssertionError::ZeroLifetime | AssertionError::LifetimeTooLong { .. } => {
            "give a lifetime between 1s and 24h, like --lifetime 10m".into()
        }
        AssertionError::ClaimSyntax { .. } | AssertionError::DuplicateClaim { .. } => {
            "write each private claim once, as --claim key=value".into()
        }
        AssertionError::RegisteredClaim { .. } => {
            "idp sets iss, sub, aud, exp, nbf, iat and jti itself; use --subject, --audience or --lifetime".into()
        }
    }
}

fn metadata_hint(e: &MetadataError) -> String {
    match e {
        MetadataError::BadJwksPath { .. } => {
            "use a relative path like `.well-known/jwks.json`".into()
        }
        MetadataError::NoActiveKey => "activate a key with `idp keys activate <kid>`".into(),
        MetadataError::TooManyKeys { .. } => {
            "retire keys that no longer sign with `idp keys retire <kid>`".into()
        }
    }
}

fn target_hint(e: &TargetError) -> String {
    match e {
        TargetError::NotHttps { .. } => "storage is reached over https only".into(),
        _ => format!(
            "publish-metadata needs an issuer like https://<account>.blob.core.windows.net/<container>, https://<account>.z<NN>.web.core.windows.net (static website) or https://127.0.0.1:<port>/<account>/<container> (emulator); behind a custom domain, set the container URL with --endpoint / {} / `storage.endpoint`",
            env::STORAGE_ENDPOINT
        ),
    }
}

fn publish_hint(e: &PublishError) -> Option<String> {
    match e {
        PublishError::NoContainer { .. } => Some(
            "pass --create-container to create it with anonymous read access for blobs, or check the container name in the issuer URL".into(),
        ),
        PublishError::Refused(idp_publish::plan::PlanError::DropsUnknownKey { .. }) => Some(
            "publish from the keyring that made that key; or, if that key no longer signs anywhere, pass --drop-unknown-keys".into(),
        ),
        PublishError::Refused(idp_publish::plan::PlanError::UnreadableRemote { .. }) => Some(
            "look at the published JWKS blob: if it is not a key set anyone signs with, pass --drop-unknown-keys to replace it".into(),
        ),
        PublishError::Refused(_) => Some(
            "the local keyring and the published JWKS disagree: check `idp keys list`; a key leaves the JWKS only once retired".into(),
        ),
        _ => e.storage().map(storage_hint),
    }
}

fn storage_hint(e: &StorageError) -> String {
    match e {
        StorageError::ContainerNotFound { .. } => "pass --create-container, or check the container name".into(),
        StorageError::AccessDenied { .. } => format!(
            "with a SAS (--sas / {}): check it is for this account, not expired, and allows read, write and create (an account SAS also needs resource types container and object to create the container); with an Entra login: give the identity the `Storage Blob Data Contributor` role on the container",
            env::STORAGE_SAS
        ),
        StorageError::PublicAccessNotPermitted { .. } => "allow it on the account (`allowBlobPublicAccess: true`, as deploy/issuer-storage.bicep sets it, or `az storage account update --name <account> --allow-blob-public-access true`), or host the issuer on the static website instead: enable it, and use https://<account>.z<NN>.web.core.windows.net/ as the issuer (the $web container needs no public access setting)".into(),
        StorageError::Conflict { .. } => "re-run: the publish starts again from what is published now (`--dry-run` shows what would change)".into(),
        StorageError::Unreachable { .. } => "check the storage endpoint, the network and, for a private CA, --ca-cert / IDP_CA_CERT; then re-run (--retries sets how often a call is retried)".into(),
        StorageError::Credential { .. } => "log in with `az login`, or choose another method with --auth (sas, azure-cli, managed-identity, workload-identity)".into(),
        StorageError::TooLarge { .. } => "look at that blob: an issuer's JWKS and discovery document are a few KB; delete it (`az storage blob delete`) if nothing uses it, then re-run".into(),
        StorageError::Service { .. } | StorageError::Other { .. } => "re-run; if it persists, check the storage account in the Azure portal".into(),
    }
}

fn exchange_hint(e: &idp_exchange::client::ExchangeError) -> Option<String> {
    use idp_exchange::client::ExchangeError;
    match e {
        ExchangeError::Unreachable { .. } => Some(
            "check the authority host (--authority-host / IDP_EXCHANGE_AUTHORITY_HOST, --cloud), the network, and for a private CA --ca-cert / IDP_CA_CERT".into(),
        ),
        ExchangeError::Unexpected { .. } => Some(
            "the authority host answered, but not as Entra: check --authority-host (a bare https host, no path)".into(),
        ),
        _ => None,
    }
}
