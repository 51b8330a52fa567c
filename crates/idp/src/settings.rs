//! One resolver for every setting: flag > `IDP_*` environment variable > idp.toml > default.
//!
//! Environment variable names follow the file's keys: `keys.dir` is `IDP_KEYS_DIR`,
//! `assertion.lifetime` is `IDP_ASSERTION_LIFETIME`. Relative paths from the file resolve
//! against the file's folder; relative paths from a flag or the environment against the
//! current directory.

use crate::cli::GlobalArgs;
use idp_core::assertion::{Audience, Lifetime};
use idp_core::keyring::KeyStore;
use idp_core::metadata::JwksPath;
use idp_core::{Issuer, duration};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Environment variable names, declared once.
/// One setting, declared once: its idp.toml key, its environment variable and its flag.
/// Every resolver, hint, `--help` line and the README table take the names from here (tests
/// hold the help text, the file's accepted keys and the README to this list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The dotted idp.toml key; empty for a secret never read from the file.
    pub key: &'static str,
    pub env: &'static str,
    pub flag: &'static str,
}

/// Every setting.
pub mod setting {
    use super::Setting;

    const fn s(key: &'static str, env: &'static str, flag: &'static str) -> Setting {
        Setting { key, env, flag }
    }

    pub const ISSUER: Setting = s("issuer", "IDP_ISSUER", "--issuer");
    pub const CA_CERT: Setting = s("ca_cert", "IDP_CA_CERT", "--ca-cert");
    pub const KEYS_DIR: Setting = s("keys.dir", "IDP_KEYS_DIR", "--keys-dir");
    pub const JWKS_PATH: Setting = s(
        "metadata.jwks_path",
        "IDP_METADATA_JWKS_PATH",
        "--jwks-path",
    );
    pub const AUDIENCE: Setting = s("assertion.audience", "IDP_ASSERTION_AUDIENCE", "--audience");
    pub const LIFETIME: Setting = s("assertion.lifetime", "IDP_ASSERTION_LIFETIME", "--lifetime");
    pub const STORAGE_ENDPOINT: Setting =
        s("storage.endpoint", "IDP_STORAGE_ENDPOINT", "--endpoint");
    pub const STORAGE_CACHE_CONTROL: Setting = s(
        "storage.cache_control",
        "IDP_STORAGE_CACHE_CONTROL",
        "--cache-control",
    );
    pub const STORAGE_AUTH: Setting = s("storage.auth", "IDP_STORAGE_AUTH", "--auth");
    pub const STORAGE_RETRIES: Setting = s("storage.retries", "IDP_STORAGE_RETRIES", "--retries");
    pub const EXCHANGE_CLOUD: Setting = s("exchange.cloud", "IDP_EXCHANGE_CLOUD", "--cloud");
    pub const EXCHANGE_AUTHORITY_HOST: Setting = s(
        "exchange.authority_host",
        "IDP_EXCHANGE_AUTHORITY_HOST",
        "--authority-host",
    );
    pub const ROTATION_MIN_PUBLISHED_AGE: Setting = s(
        "rotation.min_published_age",
        "IDP_ROTATION_MIN_PUBLISHED_AGE",
        "--min-published-age",
    );
    pub const CUSTOMERS_FILE: Setting =
        s("customers.file", "IDP_CUSTOMERS_FILE", "--customers-file");
    pub const ARM_ENDPOINT: Setting = s("arm.endpoint", "IDP_ARM_ENDPOINT", "--arm-endpoint");
    pub const ARM_TOKEN_FILE: Setting =
        s("arm.token_file", "IDP_ARM_TOKEN_FILE", "--arm-token-file");
    pub const AUDIT_LOG: Setting = s("audit.log", "IDP_AUDIT_LOG", "--audit-log");
    pub const KEY_VAULT_TOKEN_FILE: Setting = s(
        "key_vault.token_file",
        "IDP_KEY_VAULT_TOKEN_FILE",
        "--key-vault-token-file",
    );
    /// Secret: from the flag or the environment only, never from idp.toml.
    pub const STORAGE_SAS: Setting = s("", "IDP_STORAGE_SAS", "--sas");

    /// The settings idp.toml may hold, in the README's order.
    pub const IN_FILE: [Setting; 18] = [
        ISSUER,
        KEYS_DIR,
        JWKS_PATH,
        AUDIENCE,
        LIFETIME,
        CA_CERT,
        STORAGE_ENDPOINT,
        STORAGE_AUTH,
        STORAGE_CACHE_CONTROL,
        STORAGE_RETRIES,
        EXCHANGE_CLOUD,
        EXCHANGE_AUTHORITY_HOST,
        ROTATION_MIN_PUBLISHED_AGE,
        CUSTOMERS_FILE,
        ARM_ENDPOINT,
        ARM_TOKEN_FILE,
        AUDIT_LOG,
        KEY_VAULT_TOKEN_FILE,
    ];
}

/// Environment variable names, for hints and tests: the declarations' own.
pub mod env {
    use super::setting;
    pub const CONFIG: &str = "IDP_CONFIG";
    pub const ISSUER: &str = setting::ISSUER.env;
    pub const CA_CERT: &str = setting::CA_CERT.env;
}

/// The default configuration file name, in the current directory.
pub const DEFAULT_CONFIG: &str = "idp.toml";

/// idp.toml as written on disk. Unknown keys are an error, so a typo cannot go unnoticed.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Extra CA certificates (PEM) trusted by every outgoing HTTPS call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "KeysSection::is_empty")]
    pub keys: KeysSection,
    #[serde(default, skip_serializing_if = "MetadataSection::is_empty")]
    pub metadata: MetadataSection,
    #[serde(default, skip_serializing_if = "AssertionSection::is_empty")]
    pub assertion: AssertionSection,
    #[serde(default, skip_serializing_if = "StorageSection::is_empty")]
    pub storage: StorageSection,
    #[serde(default, skip_serializing_if = "ExchangeSection::is_empty")]
    pub exchange: ExchangeSection,
    #[serde(default, skip_serializing_if = "RotationSection::is_empty")]
    pub rotation: RotationSection,
    #[serde(default, skip_serializing_if = "CustomersSection::is_empty")]
    pub customers: CustomersSection,
    #[serde(default, skip_serializing_if = "ArmSection::is_empty")]
    pub arm: ArmSection,
    #[serde(default, skip_serializing_if = "AuditSection::is_empty")]
    pub audit: AuditSection,
    #[serde(default, skip_serializing_if = "KeyVaultSection::is_empty")]
    pub key_vault: KeyVaultSection,
}

/// `[key_vault]`: how idp reaches signing keys held in Azure Key Vault.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVaultSection {
    /// A file holding a bearer token for Key Vault (the token itself never goes in idp.toml).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

impl KeyVaultSection {
    fn is_empty(&self) -> bool {
        self.token_file.is_none()
    }
}

/// `[audit]`: where idp records every assertion it mints (never the assertion itself).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl AuditSection {
    fn is_empty(&self) -> bool {
        self.log.is_none()
    }
}

/// `[arm]`: how idp reads customers' identities over Azure Resource Manager.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A file holding a bearer token for ARM (the token itself never goes in idp.toml).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

impl ArmSection {
    fn is_empty(&self) -> bool {
        self.endpoint.is_none() && self.token_file.is_none()
    }
}

/// `[customers]`: where the customer inventory is.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl CustomersSection {
    fn is_empty(&self) -> bool {
        self.file.is_none()
    }
}

/// `[rotation]`: how `idp keys activate` decides a published key is safe to sign with.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationSection {
    /// How long a key must have been in the published JWKS before it may sign (24h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_published_age: Option<String>,
}

impl RotationSection {
    fn is_empty(&self) -> bool {
        self.min_published_age.is_none()
    }
}

/// Entra's metadata cache time is undocumented; idp plans with a day, as azwi does.
pub const DEFAULT_MIN_PUBLISHED_AGE: std::time::Duration =
    std::time::Duration::from_secs(24 * 3600);

/// `[exchange]`: where `idp token` exchanges assertions.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_host: Option<String>,
}

impl ExchangeSection {
    fn is_empty(&self) -> bool {
        self.cloud.is_none() && self.authority_host.is_none()
    }
}

/// An Azure cloud: its Entra authority host and its token-exchange audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Public,
    UsGov,
    China,
}

impl Cloud {
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "https://login.microsoftonline.com",
            Cloud::UsGov => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Azure Resource Manager's endpoint in this cloud.
    pub fn arm_endpoint(self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com",
            Cloud::UsGov => "https://management.usgovcloudapi.net",
            Cloud::China => "https://management.chinacloudapi.cn",
        }
    }

    pub fn audience(self) -> &'static str {
        match self {
            Cloud::Public => idp_core::AUDIENCE_GLOBAL,
            Cloud::UsGov => idp_core::AUDIENCE_USGOV,
            Cloud::China => idp_core::AUDIENCE_CHINA,
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "public" | "AzureCloud" => Cloud::Public,
            "usgov" | "AzureUSGovernment" => Cloud::UsGov,
            "china" | "AzureChinaCloud" => Cloud::China,
            other => anyhow::bail!("unknown cloud `{other}`: use public, usgov or china"),
        })
    }
}

/// `[storage]`: where and how `idp publish-metadata` writes. No secrets here: a SAS comes
/// from `--sas` or `IDP_STORAGE_SAS` only.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
}

impl StorageSection {
    fn is_empty(&self) -> bool {
        self.endpoint.is_none()
            && self.cache_control.is_none()
            && self.auth.is_none()
            && self.retries.is_none()
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_path: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<String>,
}

impl KeysSection {
    fn is_empty(&self) -> bool {
        self.dir.is_none()
    }
}
impl MetadataSection {
    fn is_empty(&self) -> bool {
        self.jwks_path.is_none()
    }
}
impl AssertionSection {
    fn is_empty(&self) -> bool {
        self.audience.is_none() && self.lifetime.is_none()
    }
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File { path: PathBuf, key: &'static str },
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::File { path, key } => write!(f, "`{key}` in {}", path.display()),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// A configuration problem: exit code 2.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("no configuration file at {} and no issuer given", path.display())]
    Missing { path: PathBuf },
    #[error("configuration file {} does not exist", path.display())]
    ExplicitMissing { path: PathBuf, source_name: Source },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid idp configuration: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("invalid {setting} from {source_name}")]
    Invalid {
        setting: &'static str,
        source_name: Source,
        #[source]
        source: anyhow::Error,
    },
    #[error("environment variable {var} is not valid UTF-8")]
    EnvNotUnicode { var: &'static str },
    #[error("{} already exists", path.display())]
    ConfigExists { path: PathBuf },
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// Flags, environment and file, ready to resolve settings on demand: a command resolves
/// only the settings it uses, so `idp keys list` does not need an issuer.
#[derive(Debug)]
pub struct Settings {
    flags: GlobalArgs,
    config_path: Sourced<PathBuf>,
    file: Option<FileConfig>,
}

impl Settings {
    /// Finds and reads the configuration file. A missing default file is not an error yet:
    /// every setting may come from flags and the environment. A missing file named by
    /// `--config` or `IDP_CONFIG` is, unless `creating` (for `idp init`).
    pub fn load(flags: GlobalArgs, creating: bool) -> Result<Self, ConfigError> {
        let config_path = match (&flags.config, env_var(env::CONFIG)?) {
            (Some(p), _) => Sourced {
                value: p.clone(),
                source: Source::Flag("--config"),
            },
            (None, Some(p)) => Sourced {
                value: PathBuf::from(p),
                source: Source::Env(env::CONFIG),
            },
            (None, None) => Sourced {
                value: PathBuf::from(DEFAULT_CONFIG),
                source: Source::Default,
            },
        };
        let file = match std::fs::read_to_string(&config_path.value) {
            Ok(text) => {
                Some(
                    toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                        path: config_path.value.clone(),
                        message: e.message().to_owned(),
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if config_path.source != Source::Default && !creating {
                    return Err(ConfigError::ExplicitMissing {
                        path: config_path.value.clone(),
                        source_name: config_path.source.clone(),
                    });
                }
                None
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: config_path.value.clone(),
                    source,
                });
            }
        };
        Ok(Self {
            flags,
            config_path,
            file,
        })
    }

    /// The same sources read again (the file may have changed), for a reload.
    pub fn reload(&self) -> Result<Settings, ConfigError> {
        Settings::load(self.flags.clone(), false)
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path.value
    }

    pub fn config_exists(&self) -> bool {
        self.file.is_some()
    }

    /// The folder relative paths in the file resolve against.
    fn config_dir(&self) -> PathBuf {
        match self.config_path.value.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    fn file_source(&self, key: &'static str) -> Source {
        Source::File {
            path: self.config_path.value.clone(),
            key,
        }
    }

    /// The value idp.toml gives `key` (dotted), as text.
    fn file_value(&self, key: &str) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        let file = toml::Value::try_from(self.file.as_ref()?).ok()?;
        let value = key.split('.').try_fold(&file, |v, part| v.get(part))?;
        Some(match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// `setting` as raw text, flag > environment > file, with where it came from.
    fn pick(
        &self,
        setting: &Setting,
        flag: Option<String>,
    ) -> Result<Option<Sourced<String>>, ConfigError> {
        if let Some(value) = flag {
            return Ok(Some(Sourced {
                value,
                source: Source::Flag(setting.flag),
            }));
        }
        if let Some(value) = env_var(setting.env)? {
            return Ok(Some(Sourced {
                value,
                source: Source::Env(setting.env),
            }));
        }
        Ok(self.file_value(setting.key).map(|value| Sourced {
            value,
            source: self.file_source(setting.key),
        }))
    }

    pub fn issuer(&self) -> Result<Sourced<Issuer>, ConfigError> {
        let raw = self
            .pick(&setting::ISSUER, self.flags.issuer.clone())?
            .ok_or_else(|| ConfigError::Missing {
                path: self.config_path.value.clone(),
            })?;
        parse("issuer", raw, |s| Issuer::parse(s).map_err(Into::into))
    }

    pub fn keys_dir(&self) -> Result<Sourced<PathBuf>, ConfigError> {
        let flag = self
            .flags
            .keys_dir
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        Ok(match self.pick(&setting::KEYS_DIR, flag)? {
            Some(Sourced { value, source }) => {
                let path = match &source {
                    Source::File { .. } => self.config_dir().join(&value),
                    _ => PathBuf::from(value),
                };
                Sourced {
                    value: path,
                    source,
                }
            }
            None => Sourced {
                value: self.config_dir().join("keys"),
                source: Source::Default,
            },
        })
    }

    /// A path setting: flag > environment > file, a path from the file relative to it.
    fn pick_path(
        &self,
        setting: &Setting,
        flag: Option<&PathBuf>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let flag = flag.map(|p| p.to_string_lossy().into_owned());
        Ok(match self.pick(setting, flag)? {
            Some(Sourced {
                value,
                source: Source::File { .. },
            }) => Some(self.config_dir().join(value)),
            Some(Sourced { value, .. }) => Some(PathBuf::from(value)),
            None => None,
        })
    }

    /// The customer inventory: `customers.file` (relative to idp.toml), else
    /// `customers.toml` beside idp.toml.
    pub fn customers(&self) -> Result<idp_fleet::inventory::InventoryFile, ConfigError> {
        let path = self
            .pick_path(&setting::CUSTOMERS_FILE, self.flags.customers_file.as_ref())?
            .unwrap_or_else(|| self.config_dir().join("customers.toml"));
        Ok(idp_fleet::inventory::InventoryFile::new(path))
    }

    /// The audit log, opened for appending, when one is configured (`audit.log` relative
    /// to idp.toml).
    pub fn audit_log(&self) -> Result<Option<idp_core::audit::AuditLog>, anyhow::Error> {
        match self.pick_path(&setting::AUDIT_LOG, self.flags.audit_log.as_ref())? {
            Some(path) => Ok(Some(idp_core::audit::AuditLog::open(&path)?)),
            None => Ok(None),
        }
    }

    /// A file holding a Key Vault bearer token, if one is configured (relative to idp.toml
    /// when it comes from the file).
    pub fn key_vault_token_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        self.pick_path(
            &setting::KEY_VAULT_TOKEN_FILE,
            self.flags.key_vault_token_file.as_ref(),
        )
    }

    /// ARM's endpoint: `arm.endpoint`, else the cloud's.
    pub fn arm_endpoint(&self, flag: Option<String>, cloud: Cloud) -> Result<String, ConfigError> {
        Ok(self
            .pick(&setting::ARM_ENDPOINT, flag)?
            .map(|s| s.value)
            .unwrap_or_else(|| cloud.arm_endpoint().to_owned()))
    }

    /// A file holding an ARM bearer token, if one is configured (relative to idp.toml when
    /// it comes from the file).
    pub fn arm_token_file(&self, flag: Option<PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
        self.pick_path(&setting::ARM_TOKEN_FILE, flag.as_ref())
    }

    pub fn key_store(&self) -> Result<KeyStore, ConfigError> {
        Ok(KeyStore::new(self.keys_dir()?.value))
    }

    pub fn jwks_path(&self) -> Result<JwksPath, ConfigError> {
        match self.pick(&setting::JWKS_PATH, self.flags.jwks_path.clone())? {
            Some(raw) => {
                Ok(parse("JWKS path", raw, |s| JwksPath::parse(s).map_err(Into::into))?.value)
            }
            None => Ok(JwksPath::default()),
        }
    }

    /// The assertion audience for the global cloud (`idp sign`): explicit setting, else
    /// `api://AzureADTokenExchange`.
    pub fn audience(&self, flag: Option<String>) -> Result<Audience, ConfigError> {
        self.audience_for(flag, Cloud::Public)
    }

    /// How long a key must have been published before `keys activate` lets it sign.
    pub fn min_published_age(
        &self,
        flag: Option<String>,
    ) -> Result<std::time::Duration, ConfigError> {
        match self.pick(&setting::ROTATION_MIN_PUBLISHED_AGE, flag)? {
            Some(raw) => Ok(parse("min_published_age", raw, |s| Ok(duration::parse(s)?))?.value),
            None => Ok(DEFAULT_MIN_PUBLISHED_AGE),
        }
    }

    pub fn lifetime(&self, flag: Option<String>) -> Result<Lifetime, ConfigError> {
        match self.pick(&setting::LIFETIME, flag)? {
            Some(raw) => {
                Ok(parse("lifetime", raw, |s| Ok(Lifetime::new(duration::parse(s)?)?))?.value)
            }
            None => Ok(Lifetime::default()),
        }
    }
}

impl Settings {
    /// Extra CA files: every `--ca-cert`, else `IDP_CA_CERT` (several joined by `:`), else
    /// `ca_cert` in the file.
    pub fn ca_certs(&self) -> Result<Vec<PathBuf>, ConfigError> {
        if !self.flags.ca_cert.is_empty() {
            return Ok(self.flags.ca_cert.clone());
        }
        if let Some(v) = env_var(env::CA_CERT)? {
            return Ok(v
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect());
        }
        Ok(self
            .file_value(setting::CA_CERT.key)
            .map(|p| vec![self.config_dir().join(p)])
            .unwrap_or_default())
    }

    /// `storage.endpoint`: the container URL when the issuer URL is not one (a custom domain).
    pub fn storage_endpoint(
        &self,
        flag: Option<String>,
    ) -> Result<Option<Sourced<String>>, ConfigError> {
        self.pick(&setting::STORAGE_ENDPOINT, flag)
    }

    pub fn storage_cache_control(
        &self,
        flag: Option<String>,
    ) -> Result<Sourced<String>, ConfigError> {
        match self.pick(&setting::STORAGE_CACHE_CONTROL, flag)? {
            // Sent as an HTTP header value: visible ASCII and spaces only, so a pasted
            // newline is a usage error here, not a failed request later.
            Some(raw) => parse("cache_control", raw, |s| {
                match s.chars().position(|c| !(c == ' ' || c.is_ascii_graphic())) {
                    Some(i) => anyhow::bail!(
                        "character {} is {:?}; a Cache-Control value is visible ASCII and spaces",
                        i + 1,
                        s.chars().nth(i).unwrap_or_default()
                    ),
                    None if s.trim().is_empty() => anyhow::bail!("the value is empty"),
                    None => Ok(s.to_owned()),
                }
            }),
            None => Ok(Sourced {
                value: idp_server::DEFAULT_CACHE_CONTROL.into(),
                source: Source::Default,
            }),
        }
    }

    pub fn storage_auth(
        &self,
        flag: Option<String>,
    ) -> Result<idp_publish::credential::Auth, ConfigError> {
        match self.pick(&setting::STORAGE_AUTH, flag)? {
            Some(raw) => Ok(parse("storage auth", raw, |s| {
                Ok(idp_publish::credential::Auth::parse(s)?)
            })?
            .value),
            None => Ok(idp_publish::credential::Auth::Auto),
        }
    }

    pub fn storage_retries(&self, flag: Option<u32>) -> Result<u32, ConfigError> {
        match self.pick(&setting::STORAGE_RETRIES, flag.map(|r| r.to_string()))? {
            Some(raw) => Ok(parse("storage retries", raw, |s| {
                let n: u32 = s.parse()?;
                anyhow::ensure!(n <= 10, "at most 10 retries");
                Ok(n)
            })?
            .value),
            None => Ok(3),
        }
    }

    pub fn cloud(&self, flag: Option<String>) -> Result<Cloud, ConfigError> {
        match self.pick(&setting::EXCHANGE_CLOUD, flag)? {
            Some(raw) => Ok(parse("cloud", raw, Cloud::parse)?.value),
            None => Ok(Cloud::Public),
        }
    }

    /// The Entra authority host: explicit setting, else the cloud's.
    pub fn authority_host(
        &self,
        flag: Option<String>,
        cloud: Cloud,
    ) -> Result<String, ConfigError> {
        Ok(self
            .pick(&setting::EXCHANGE_AUTHORITY_HOST, flag)?
            .map(|s| s.value)
            .unwrap_or_else(|| cloud.authority_host().to_owned()))
    }

    /// The audience configured for assertions, if one was (flag, environment or file): the
    /// one `idp inspect` expects. Without it, any cloud's token-exchange audience passes.
    pub fn configured_audience(
        &self,
        flag: Option<String>,
    ) -> Result<Option<Audience>, ConfigError> {
        self.pick(&setting::AUDIENCE, flag)?
            .map(|raw| {
                Ok(parse("audience", raw, |s| Audience::parse(s).map_err(Into::into))?.value)
            })
            .transpose()
    }

    /// The assertion audience: explicit setting, else the cloud's.
    pub fn audience_for(
        &self,
        flag: Option<String>,
        cloud: Cloud,
    ) -> Result<Audience, ConfigError> {
        match self.pick(&setting::AUDIENCE, flag)? {
            Some(raw) => {
                let audience =
                    parse("audience", raw, |s| Audience::parse(s).map_err(Into::into))?.value;
                if !audience.is_known() {
                    crate::commands::warn(format_args!(
                        "audience `{}` is not a cloud's token-exchange audience ({}); the FIC must carry exactly this value",
                        audience.as_str(),
                        idp_core::KNOWN_AUDIENCES.join(", ")
                    ));
                }
                Ok(audience)
            }
            None => Ok(Audience::parse(cloud.audience()).expect("known audience")),
        }
    }

    /// The SAS, from `--sas` or `IDP_STORAGE_SAS` (never from the file).
    pub fn storage_sas(
        &self,
        flag: Option<String>,
    ) -> Result<Option<Sourced<String>>, ConfigError> {
        self.pick(&setting::STORAGE_SAS, flag)
    }
}

fn parse<T>(
    setting: &'static str,
    raw: Sourced<String>,
    f: impl FnOnce(&str) -> anyhow::Result<T>,
) -> Result<Sourced<T>, ConfigError> {
    match f(&raw.value) {
        Ok(value) => Ok(Sourced {
            value,
            source: raw.source,
        }),
        Err(source) => Err(ConfigError::Invalid {
            setting,
            source_name: raw.source,
            source,
        }),
    }
}

fn env_var(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::EnvNotUnicode { var: name }),
    }
}

#[cfg(test)]
mod declared_once {
    use super::*;
    use clap::CommandFactory;

    /// Every `--help` line of a setting's flag names its environment variable and its
    /// idp.toml key as declared, so the help cannot drift from what is resolved.
    #[test]
    fn every_flag_of_a_setting_says_its_variable_and_key() {
        let mut seen = std::collections::BTreeSet::new();
        let mut check = |cmd: &clap::Command, path: String| {
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let flag = format!("--{long}");
                // Command inputs that share a setting's flag name without being that
                // setting: the issuer init writes, the header serve sends, the exchange
                // retries of idp token (storage.retries is publish-metadata's), the cloud
                // recorded for one customer.
                if [
                    ("idp init", "--issuer"),
                    ("idp serve", "--cache-control"),
                    ("idp token", "--retries"),
                    ("idp customers add", "--cloud"),
                    ("idp exec", "--lifetime"),
                    ("idp env", "--lifetime"),
                ]
                .contains(&(path.as_str(), flag.as_str()))
                {
                    continue;
                }
                let Some(s) = setting::IN_FILE
                    .iter()
                    .chain([&setting::STORAGE_SAS])
                    .find(|s| s.flag == flag)
                else {
                    continue;
                };
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                assert!(
                    help.contains(&format!("[env: {}]", s.env))
                        || help.contains(&format!("[env: {},", s.env)),
                    "{path} {flag}: {help}"
                );
                if !s.key.is_empty() {
                    assert!(
                        help.contains(&format!("[toml: {}]", s.key)),
                        "{path} {flag}: {help}"
                    );
                }
                seen.insert(s.key);
            }
        };
        let root = crate::cli::Cli::command();
        check(&root, "idp".into());
        for sub in root.get_subcommands() {
            check(sub, format!("idp {}", sub.get_name()));
            for subsub in sub.get_subcommands() {
                check(
                    subsub,
                    format!("idp {} {}", sub.get_name(), subsub.get_name()),
                );
            }
        }
        for s in setting::IN_FILE {
            assert!(seen.contains(s.key), "no flag declares {}", s.key);
        }
    }

    /// The README's settings table has a row per setting with its key, variable and flag.
    #[test]
    fn the_readme_table_lists_every_setting_as_declared() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        for s in setting::IN_FILE.iter().chain([&setting::STORAGE_SAS]) {
            let key = if s.key.is_empty() {
                "(secret: not in the file)".to_owned()
            } else {
                format!("`{}`", s.key)
            };
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| {key} |")))
                .unwrap_or_else(|| panic!("no README row for {key}"));
            assert!(row.contains(&format!("`{}`", s.env)), "{row}");
            assert!(row.contains(s.flag), "{row}");
        }
    }
}

#[cfg(test)]
mod clouds {
    use super::*;

    #[test]
    fn each_cloud_has_its_authority_host_and_audience() {
        for (names, host, audience) in [
            (
                ["public", "AzureCloud"],
                "https://login.microsoftonline.com",
                "api://AzureADTokenExchange",
            ),
            (
                ["usgov", "AzureUSGovernment"],
                "https://login.microsoftonline.us",
                "api://AzureADTokenExchangeUSGov",
            ),
            (
                ["china", "AzureChinaCloud"],
                "https://login.chinacloudapi.cn",
                "api://AzureADTokenExchangeChina",
            ),
        ] {
            for name in names {
                let cloud = Cloud::parse(name).unwrap();
                assert_eq!(cloud.authority_host(), host, "{name}");
                assert_eq!(cloud.audience(), audience, "{name}");
            }
        }
        assert!(Cloud::parse("germany").is_err());
    }
}

#[cfg(test)]
mod file_keys {
    use super::*;

    /// The fields serde accepts in `section` (top level when empty), read from its
    /// unknown-field error: the same list the parser itself holds.
    fn accepted(section: &str) -> Vec<String> {
        let doc = if section.is_empty() {
            "zzz_unknown = 1".to_owned()
        } else {
            format!("[{section}]\nzzz_unknown = 1")
        };
        let err = toml::from_str::<FileConfig>(&doc).unwrap_err().to_string();
        let list = err
            .split("expected one of ")
            .nth(1)
            .or_else(|| err.split("expected ").nth(1))
            .unwrap_or_else(|| panic!("no list of fields in {err}"));
        list.replace(" or ", ",")
            .split(',')
            .map(|f| f.trim().trim_matches(['`', '\n', '.']).to_owned())
            .filter(|f| !f.is_empty())
            .collect()
    }

    #[test]
    fn the_hints_list_of_keys_is_every_key_the_file_accepts() {
        let mut expected: Vec<String> = Vec::new();
        for top in accepted("") {
            if [
                "keys",
                "metadata",
                "assertion",
                "storage",
                "exchange",
                "rotation",
                "customers",
                "arm",
                "audit",
                "key_vault",
            ]
            .contains(&top.as_str())
            {
                expected.extend(accepted(&top).into_iter().map(|k| format!("{top}.{k}")));
            } else {
                expected.push(top);
            }
        }
        let mut listed: Vec<String> = setting::IN_FILE.iter().map(|s| s.key.to_owned()).collect();
        expected.sort();
        listed.sort();
        assert_eq!(listed, expected);
    }
}
