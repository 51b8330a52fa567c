//! One resolver for every setting: flag > `IDP_*` environment variable > idp.toml > default.
//!
//! Each setting is declared once ([`setting`]): its idp.toml key, its environment variable
//! and its flag; the help text, the accepted file keys and the README's table are held to
//! those declarations by tests. A command resolves what it uses once, at its start, into
//! typed values (parsed there, never re-read from text), and resolving prints nothing:
//! warnings are collected in [`Warnings`] and said once. Relative paths from the file
//! resolve against the file's folder; relative paths from a flag or the environment
//! against the current directory.

use crate::cli::{ArmArgs, AuthorityArgs, CloudArgs, GlobalArgs, GraphArgs};
use idp_app::context::{ContextSettings, GraphSettings, RuntimeKind};
use idp_app::credentials::TokenFiles;
use idp_app::exchange::{CloudChoice, Shape};
use idp_core::Issuer;
use idp_core::assertion::{Audience, Lifetime};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::{Diagnostic, Problem};
use idp_core::duration;
use idp_core::keyring::KeyStore;
use idp_core::metadata::JwksPath;
use idp_inventory::InventoryFile;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub use idp_app::config_file::{Setting, setting};

/// Environment variable names, for hints and tests: the declarations' own.
pub mod env {
    use super::setting;
    pub const CONFIG: &str = "IDP_CONFIG";
    pub const ISSUER: &str = setting::ISSUER.env;
    pub const CA_CERT: &str = setting::CA_CERT.env;
}

/// The default configuration file name, in the current directory.
pub const DEFAULT_CONFIG: &str = "idp.toml";

/// Entra's metadata cache time is undocumented; idp plans with a day, as azwi does.
pub const DEFAULT_MIN_PUBLISHED_AGE: std::time::Duration =
    std::time::Duration::from_secs(24 * 3600);

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
        /// The value's own error, with its hint.
        #[source]
        cause: Problem,
    },
    #[error("environment variable {var} is not valid UTF-8")]
    EnvNotUnicode { var: &'static str },
    #[error("{} already exists", path.display())]
    ConfigExists { path: PathBuf },
}

impl Diagnostic for ConfigError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ConfigError::Missing { .. } => format!(
                "run `idp init --issuer <URL>` here first, or pass --config FILE / {}, or set {}",
                env::CONFIG,
                env::ISSUER
            ),
            ConfigError::ExplicitMissing { source_name, .. } => format!(
                "check the path given by {source_name}, or create it with `idp init --issuer <URL>`"
            ),
            ConfigError::Parse { .. } => format!(
                "fix the file; known keys are {}",
                setting::IN_FILE
                    .iter()
                    .map(|s| format!("`{}`", s.key))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ConfigError::Invalid {
                source_name, cause, ..
            } => match (source_name, &cause.hint) {
                (Source::Default, hint) => return hint.clone(),
                (s, Some(hint)) => format!("correct the value given by {s}: {hint}"),
                (s, None) => format!("correct the value given by {s}"),
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

    fn is_usage(&self) -> bool {
        true
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// What resolving said besides the values, printed once by the command.
#[derive(Debug, Default)]
pub struct Warnings(Vec<String>);

impl Warnings {
    pub fn push(&mut self, warning: impl Into<String>) {
        let w = warning.into();
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }

    pub fn extend(&mut self, warnings: impl IntoIterator<Item = String>) {
        for w in warnings {
            self.push(w);
        }
    }

    /// Says every warning on stderr, once each, and forgets them.
    pub fn say(&mut self) {
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        for w in self.0.drain(..) {
            let _ = writeln!(err, "warning: {w}");
        }
    }
}

/// Flags, environment and file: what settings are resolved from.
#[derive(Debug, Clone)]
pub struct Sources {
    flags: GlobalArgs,
    config_path: Sourced<PathBuf>,
    file: Option<toml::Table>,
}

impl Sources {
    /// Finds and reads the configuration file. A missing default file is not an error yet:
    /// every setting may come from flags and the environment. A missing file named by
    /// `--config` or `IDP_CONFIG` is, unless `creating` (for `idp init`). A key the file may
    /// not hold is an error naming it, so a typo cannot silently fall back to a default.
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
        let path = &config_path.value;
        let file = match std::fs::read_to_string(path) {
            Ok(text) => Some(parse_file(&text, path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if config_path.source != Source::Default && !creating {
                    return Err(ConfigError::ExplicitMissing {
                        path: path.clone(),
                        source_name: config_path.source.clone(),
                    });
                }
                None
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.clone(),
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
    pub fn reload(&self) -> Result<Sources, ConfigError> {
        Sources::load(self.flags.clone(), false)
    }

    pub fn flags(&self) -> &GlobalArgs {
        &self.flags
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

    /// The value idp.toml gives `key` (dotted), as text.
    fn file_value(&self, key: &str) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        let mut parts = key.split('.');
        let first = self.file.as_ref()?.get(parts.next()?)?;
        let value = parts.try_fold(first, |v, part| v.get(part))?;
        Some(match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// `setting` as raw text, flag > environment > file, with where it came from.
    fn raw(
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
            source: Source::File {
                path: self.config_path.value.clone(),
                key: setting.key,
            },
        }))
    }

    /// `setting` parsed by `parse`, when it is set anywhere; a value `parse` refuses is an
    /// error naming where it came from.
    pub fn get<T, E: Diagnostic>(
        &self,
        setting: &Setting,
        name: &'static str,
        flag: Option<String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<Sourced<T>>, ConfigError> {
        let Some(raw) = self.raw(setting, flag)? else {
            return Ok(None);
        };
        match parse(&raw.value) {
            Ok(value) => Ok(Some(Sourced {
                value,
                source: raw.source,
            })),
            Err(e) => Err(invalid(name, raw.source, &e)),
        }
    }

    /// A path setting: a path from the file is relative to it.
    fn path(
        &self,
        setting: &Setting,
        flag: Option<&PathBuf>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let flag = flag.map(|p| p.to_string_lossy().into_owned());
        Ok(match self.raw(setting, flag)? {
            Some(Sourced {
                value,
                source: Source::File { .. },
            }) => Some(self.config_dir().join(value)),
            Some(Sourced { value, .. }) => Some(PathBuf::from(value)),
            None => None,
        })
    }

    pub fn issuer(&self) -> Result<Issuer, ConfigError> {
        self.get(
            &setting::ISSUER,
            "issuer",
            self.flags.issuer.clone(),
            Issuer::parse,
        )?
        .map(|s| s.value)
        .ok_or_else(|| ConfigError::Missing {
            path: self.config_path.value.clone(),
        })
    }

    /// The keys folder: `keys.dir`, else `keys` beside idp.toml.
    pub fn keys_dir(&self) -> Result<PathBuf, ConfigError> {
        Ok(self
            .path(&setting::KEYS_DIR, self.flags.keys_dir.as_ref())?
            .unwrap_or_else(|| self.config_dir().join("keys")))
    }

    pub fn key_store(&self) -> Result<KeyStore, ConfigError> {
        Ok(KeyStore::new(self.keys_dir()?))
    }

    pub fn jwks_path(&self) -> Result<JwksPath, ConfigError> {
        Ok(self
            .get(
                &setting::JWKS_PATH,
                "JWKS path",
                self.flags.jwks_path.clone(),
                JwksPath::parse,
            )?
            .map_or_else(JwksPath::default, |s| s.value))
    }

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

    /// The customer inventory: `customers.file`, else `customers.toml` beside idp.toml.
    pub fn customers(&self) -> Result<InventoryFile, ConfigError> {
        let path = self
            .path(&setting::CUSTOMERS_FILE, self.flags.customers_file.as_ref())?
            .unwrap_or_else(|| self.config_dir().join("customers.toml"));
        Ok(InventoryFile::new(path))
    }

    /// What the process's context is built from; `arm` are the ARM flags of a command that
    /// reaches Resource Manager (only such a command reads the ARM settings).
    pub fn context(
        &self,
        arm: Option<&ArmArgs>,
        runtime: RuntimeKind,
    ) -> Result<ContextSettings, ConfigError> {
        let (arm_endpoint, arm_token_file) = match arm {
            Some(a) => (
                self.get(
                    &setting::ARM_ENDPOINT,
                    "ARM endpoint",
                    a.arm_endpoint.clone(),
                    https_url,
                )?
                .map(|s| s.value),
                self.path(&setting::ARM_TOKEN_FILE, a.arm_token_file.as_ref())?,
            ),
            None => (None, None),
        };
        Ok(ContextSettings {
            ca_certs: self.ca_certs()?,
            keys_dir: self.keys_dir()?,
            audit_log: self.path(&setting::AUDIT_LOG, self.flags.audit_log.as_ref())?,
            token_files: TokenFiles {
                arm: arm_token_file,
                key_vault: self.path(
                    &setting::KEY_VAULT_TOKEN_FILE,
                    self.flags.key_vault_token_file.as_ref(),
                )?,
            },
            arm_endpoint,
            graph: None,
            runtime,
        })
    }

    /// How `doctor` reads app registrations over Microsoft Graph: `None` unless `--graph`
    /// or a Graph token file is given; the endpoint when one is set (else each cloud's).
    pub fn graph(&self, flags: &GraphArgs) -> Result<Option<GraphSettings>, ConfigError> {
        let token_file = self.path(&setting::GRAPH_TOKEN_FILE, flags.graph_token_file.as_ref())?;
        if !flags.graph && token_file.is_none() {
            return Ok(None);
        }
        let endpoint = self
            .get(
                &setting::GRAPH_ENDPOINT,
                "Graph endpoint",
                flags.graph_endpoint.clone(),
                https_url,
            )?
            .map(|s| s.value);
        Ok(Some(GraphSettings {
            endpoint,
            token_file,
        }))
    }

    /// How long assertions live: `--lifetime`, the setting, else `default`.
    pub fn lifetime(
        &self,
        flag: Option<String>,
        default: Lifetime,
    ) -> Result<Lifetime, ConfigError> {
        Ok(self
            .get(&setting::LIFETIME, "lifetime", flag, parse_lifetime)?
            .map_or(default, |s| s.value))
    }

    /// A lifetime given by a command's own flag (`exec`, `env`), not the setting.
    pub fn lifetime_flag(flag: Option<&str>, default: Lifetime) -> Result<Lifetime, ConfigError> {
        match flag {
            None => Ok(default),
            Some(raw) => parse_lifetime(raw)
                .map_err(|e| invalid("lifetime", Source::Flag(setting::LIFETIME.flag), &e)),
        }
    }

    /// The cloud given by the flag, and the one configured (environment or file), apart:
    /// a customer's recorded cloud sits between them.
    pub fn cloud(&self, flag: Option<String>) -> Result<CloudChoice, ConfigError> {
        let given = flag.is_some();
        let chosen = self
            .get(&setting::EXCHANGE_CLOUD, "cloud", flag, Cloud::parse)?
            .map(|s| s.value);
        // The flag wins over everything: what the environment or the file says is then
        // not read at all.
        Ok(if given {
            CloudChoice {
                flag: chosen,
                configured: None,
            }
        } else {
            CloudChoice {
                flag: None,
                configured: chosen,
            }
        })
    }

    /// The audience set explicitly (flag, environment or file), if any; an audience no
    /// cloud uses is warned of, once.
    pub fn audience(
        &self,
        flag: Option<String>,
        warnings: &mut Warnings,
    ) -> Result<Option<Audience>, ConfigError> {
        let audience = self
            .get(&setting::AUDIENCE, "audience", flag, Audience::parse)?
            .map(|s| s.value);
        if let Some(a) = audience.as_ref().filter(|a| !a.is_known()) {
            warnings.push(format!(
                "audience `{}` is not a cloud's token-exchange audience ({}); the FIC must carry exactly this value",
                a.as_str(),
                idp_core::KNOWN_AUDIENCES.join(", ")
            ));
        }
        Ok(audience)
    }

    /// The authority host set explicitly, if any.
    pub fn authority_host(&self, flag: Option<String>) -> Result<Option<String>, ConfigError> {
        Ok(self
            .get(
                &setting::EXCHANGE_AUTHORITY_HOST,
                "authority host",
                flag,
                https_url,
            )?
            .map(|s| s.value))
    }

    /// How assertions are shaped and sent, from a command's cloud flags; the authority
    /// host is read only for a command that sends them to Entra (`sends`), from its flag
    /// when it has one.
    pub fn shape(
        &self,
        cloud: &CloudArgs,
        sends: Option<&AuthorityArgs>,
        lifetime: Lifetime,
        warnings: &mut Warnings,
    ) -> Result<Shape, ConfigError> {
        Ok(Shape {
            cloud: self.cloud(cloud.cloud.clone())?,
            audience: self.audience(cloud.audience.clone(), warnings)?,
            authority_host: match sends {
                Some(a) => self.authority_host(a.authority_host.clone())?,
                None => None,
            },
            lifetime,
            // Only issuer-way customers need one: its absence is said when one is signed for.
            issuer: match self.issuer() {
                Ok(issuer) => Ok(issuer),
                Err(e @ ConfigError::Missing { .. }) => Err(idp_core::diagnostic::Problem::usage(
                    e.to_string(),
                    idp_core::diagnostic::Diagnostic::hint(&e).unwrap_or_default(),
                )),
                Err(e) => return Err(e),
            },
        })
    }

    /// How long a key must have been published before `keys activate` lets it sign.
    pub fn min_published_age(
        &self,
        flag: Option<String>,
    ) -> Result<std::time::Duration, ConfigError> {
        Ok(self
            .get(
                &setting::ROTATION_MIN_PUBLISHED_AGE,
                "min_published_age",
                flag,
                duration::parse,
            )?
            .map_or(DEFAULT_MIN_PUBLISHED_AGE, |s| s.value))
    }

    /// `storage.endpoint`: the container URL when the issuer URL is not one.
    pub fn storage_endpoint(
        &self,
        flag: Option<String>,
    ) -> Result<Option<idp_publish::target::Target>, ConfigError> {
        Ok(self
            .get(
                &setting::STORAGE_ENDPOINT,
                "storage endpoint",
                flag,
                idp_publish::target::Target::from_url,
            )?
            .map(|s| s.value))
    }

    pub fn storage_cache_control(
        &self,
        flag: Option<String>,
    ) -> Result<idp_server::CacheControl, ConfigError> {
        Ok(self
            .get(
                &setting::STORAGE_CACHE_CONTROL,
                "cache_control",
                flag,
                idp_server::CacheControl::parse,
            )?
            .map(|s| s.value)
            .unwrap_or_default())
    }

    pub fn storage_auth(
        &self,
        flag: Option<String>,
    ) -> Result<idp_publish::credential::Auth, ConfigError> {
        Ok(self
            .get(
                &setting::STORAGE_AUTH,
                "storage auth",
                flag,
                idp_publish::credential::Auth::parse,
            )?
            .map_or(idp_publish::credential::Auth::Auto, |s| s.value))
    }

    pub fn storage_retries(&self, flag: Option<u32>) -> Result<u32, ConfigError> {
        Ok(self
            .get(
                &setting::STORAGE_RETRIES,
                "storage retries",
                flag.map(|r| r.to_string()),
                |s| match s.parse::<u32>() {
                    Ok(n) if n <= 10 => Ok(n),
                    _ => Err(Problem::usage(
                        format!("`{s}` is not a number of retries from 0 to 10"),
                        "at most 10 retries",
                    )),
                },
            )?
            .map_or(3, |s| s.value))
    }

    /// The SAS, from `--sas` or `IDP_STORAGE_SAS` (never from the file).
    pub fn storage_sas(
        &self,
        flag: Option<String>,
    ) -> Result<Option<idp_publish::sas::SasToken>, ConfigError> {
        Ok(self
            .get(
                &setting::STORAGE_SAS,
                "SAS token",
                flag,
                idp_publish::sas::SasToken::parse,
            )?
            .map(|s| s.value))
    }
}

/// A value `name` from `source` refused by its parser, with the parser's hint.
fn invalid(name: &'static str, source: Source, e: &dyn Diagnostic) -> ConfigError {
    ConfigError::Invalid {
        setting: name,
        source_name: source,
        cause: Problem {
            message: e.to_string(),
            hint: e.hint(),
            usage: true,
        },
    }
}

fn parse_lifetime(s: &str) -> Result<Lifetime, Problem> {
    let d = duration::parse(s).map_err(|e| Problem {
        message: e.to_string(),
        hint: e.hint(),
        usage: true,
    })?;
    Lifetime::new(d).map_err(|e| Problem {
        message: e.to_string(),
        hint: e.hint(),
        usage: true,
    })
}

/// idp.toml's text as a table holding only the declared keys (see
/// [`idp_app::config_file::parse`]).
fn parse_file(text: &str, path: &Path) -> Result<toml::Table, ConfigError> {
    idp_app::config_file::parse(text).map_err(|message| ConfigError::Parse {
        path: path.to_owned(),
        message,
    })
}

use idp_app::config_file::https_url;
pub use idp_app::config_file::render_file;

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
                // setting: the issuer init writes, the header serve sends (the published
                // blobs' is storage.cache_control), the exchange retries of idp token
                // (storage.retries is publish-metadata's), the cloud recorded for one
                // customer, the cloud the emulator stands in for, the lifetimes of exec's and env's assertion files.
                if [
                    ("idp init", "--issuer"),
                    ("idp serve", "--cache-control"),
                    ("idp token", "--retries"),
                    ("idp customers add", "--cloud"),
                    ("idp emulator", "--cloud"),
                    ("idp exec", "--lifetime"),
                    ("idp env", "--lifetime"),
                ]
                .contains(&(path.as_str(), flag.as_str()))
                {
                    continue;
                }
                let Some(s) = setting::by_flag(&flag) else {
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

    /// The file takes every declared key, and nothing else.
    #[test]
    fn the_file_holds_the_declared_keys_and_nothing_else() {
        let path = Path::new("idp.toml");
        let mut text = String::new();
        let mut sections: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for s in setting::IN_FILE {
            match s.key.split_once('.') {
                Some((section, key)) => sections.entry(section).or_default().push(key),
                None => text.push_str(&format!("{} = \"x\"\n", s.key)),
            }
        }
        for (section, keys) in &sections {
            text.push_str(&format!("[{section}]\n"));
            for k in keys {
                let value = if format!("{section}.{k}") == setting::STORAGE_RETRIES.key {
                    "3"
                } else {
                    "\"x\""
                };
                text.push_str(&format!("{k} = {value}\n"));
            }
        }
        let table = parse_file(&text, path).unwrap();
        let count: usize = table
            .values()
            .map(|v| v.as_table().map_or(1, |t| t.len()))
            .sum();
        assert_eq!(count, setting::IN_FILE.len());
        for (bad, named) in [
            ("isuer = \"x\"", "`isuer`"),
            ("ca_cert = [\"a\", \"b\"]", "`ca_cert` must be a string"),
            ("storage = 5", "`storage` must be a section"),
            (
                "[storage]\nretries = \"3\"",
                "`storage.retries` must be a number",
            ),
            ("issuer = 5", "`issuer` must be a string"),
            ("[keys]\ndirectory = \"k\"", "`keys.directory`"),
            ("[exchanges]\ncloud = \"public\"", "`[exchanges]`"),
        ] {
            match parse_file(bad, path) {
                Err(ConfigError::Parse { message, .. }) => {
                    assert!(message.contains(named), "{bad}: {message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // What init writes reads back.
        let issuer = Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap();
        let table = parse_file(&render_file(&issuer, "keys"), path).unwrap();
        assert_eq!(table["issuer"].as_str(), Some(issuer.as_str()));
        assert_eq!(table["keys"]["dir"].as_str(), Some("keys"));
    }

    #[test]
    fn authority_hosts_and_endpoints_are_bare_https_urls() {
        assert_eq!(
            https_url("https://127.0.0.1:8444/").unwrap(),
            "https://127.0.0.1:8444"
        );
        assert_eq!(
            https_url("https://login.microsoftonline.us").unwrap(),
            "https://login.microsoftonline.us"
        );
        for bad in ["http://x", "https://x/tenant", "https://x/?a=b", "x", ""] {
            let e = https_url(bad).unwrap_err();
            assert!(e.usage && e.hint.is_some(), "{bad}");
        }
        let e = https_url("https://me:s3cret@host").unwrap_err();
        assert!(!e.message.contains("s3cret"), "{e:?}");
    }

    #[test]
    fn a_warning_is_said_once_however_often_it_is_pushed() {
        let mut w = Warnings::default();
        w.push("a");
        w.push("a");
        w.extend(["b".to_owned(), "a".to_owned()]);
        assert_eq!(w.0, ["a", "b"]);
    }
}
