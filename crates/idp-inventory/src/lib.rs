//! The customer inventory. A publisher has one managed-app deployment per customer, each
//! with its own tenant, user-assigned managed identity (UAMI) and federated credential
//! (FIC); `customers.toml` keeps them, so that `idp token --customer NAME` needs no ids
//! typed by hand.
//!
//! `customers.toml`: one table per customer name. A customer of the `issuer` way (the
//! default) has the tenant, the UAMI's client id and the FIC's subject, and optionally the
//! UAMI's ARM resource id; one of the `entra-app` way has the tenant, the publisher's app id
//! and optionally the client id of the publisher's managed identity. Both may have a cloud
//! and a default scope. Read whole, changed under a lock, written atomically; a file that
//! does not parse is an error naming the line, and is never rewritten.
//!
//! ```toml
//! [contoso]
//! tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
//! client_id = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"
//! subject = "contoso-prod"
//! identity = "/subscriptions/…/resourceGroups/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/…"
//! scope = "https://vault.azure.net/.default"
//!
//! [fabrikam]
//! way = "entra-app"
//! tenant = "0b1f6471-1bf0-4dda-aec3-111122223333"
//! app_id = "9a1c1b5e-2f4d-4c1e-8a4b-0d9c6a7e5f31"
//! managed_identity = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
//! ```
//!
//! ```
//! use idp_inventory::{Customer, Inventory};
//! let mut inv = Inventory::default();
//! inv.add("contoso", Customer::new(
//!     "72f988bf-86f1-41af-91ab-2d7cd011db47",
//!     "6ba7b810-9dad-41d1-80b4-00c04fd430c8",
//!     "contoso-prod",
//! )).unwrap();
//! assert_eq!(inv.get("contoso").unwrap().subject(), Some("contoso-prod"));
//! ```

use idp_core::assertion::Subject;
use idp_core::azure_id::{IdentityId, is_guid};
use idp_core::cloud::Cloud;
use idp_core::fsutil::{self, Overwrite};
use idp_exchange::request::{DEFAULT_AUTHORITY, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The scope used to check a customer's values when it has none of its own.
const CHECK_SCOPE: &str = "https://management.azure.com/.default";
/// Most characters in a customer name.
pub const MAX_NAME_CHARS: usize = 63;

/// How a customer's tenant trusts the publisher: the way its tokens are got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Way {
    /// idp's own issuer: a federated credential on the customer's user-assigned identity
    /// trusts the assertions idp signs.
    #[default]
    Issuer,
    /// A multi-tenant app registration in the publisher's tenant, consented to in the
    /// customer's tenant, whose federated credential trusts the publisher's own managed
    /// identity: the assertion is that identity's token.
    EntraApp,
}

impl Way {
    pub const ALL: [Way; 2] = [Way::Issuer, Way::EntraApp];

    /// `issuer` or `entra-app`.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| format!("unknown way `{name}`: use issuer or entra-app"))
    }

    pub fn name(self) -> &'static str {
        match self {
            Way::Issuer => "issuer",
            Way::EntraApp => "entra-app",
        }
    }
}

impl std::fmt::Display for Way {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the customer's side trusts, by way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// A FIC on the customer's UAMI trusting idp's issuer.
    Issuer {
        /// The FIC's subject, exactly.
        subject: String,
        /// The UAMI's ARM resource id, when known.
        identity: Option<String>,
    },
    /// The publisher's multi-tenant app, trusting the publisher's managed identity.
    EntraApp {
        /// The client id of the publisher's user-assigned managed identity whose token is
        /// the assertion; `None` for the machine's only (or system-assigned) identity.
        managed_identity: Option<String>,
    },
}

/// One customer: what an exchange for it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Row", into = "Row")]
pub struct Customer {
    /// The customer's tenant id.
    pub tenant: String,
    /// The client id the exchange sends: the UAMI's (`issuer`) or the publisher's app's
    /// (`entra-app`, recorded as `app_id`).
    pub client_id: String,
    pub trust: Trust,
    /// The customer's cloud (recorded by idp's name, read by any of its names); the
    /// configured cloud when absent.
    pub cloud: Option<Cloud>,
    /// Default scope for this customer, like `https://vault.azure.net/.default`.
    pub scope: Option<String>,
}

/// A customer as `customers.toml` holds it: the keys of both ways, checked against the
/// way when read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    way: Option<String>,
    tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    managed_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cloud: Option<Cloud>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

impl TryFrom<Row> for Customer {
    type Error = String;

    fn try_from(row: Row) -> Result<Self, String> {
        let way = row.way.as_deref().map_or(Ok(Way::Issuer), Way::parse)?;
        let refuse = |key: &str, instead: &str| {
            Err(format!(
                "`{key}` belongs to another way; a customer of way `{way}` {instead}"
            ))
        };
        let (client_id, trust) = match way {
            Way::Issuer => {
                if row.app_id.is_some() {
                    return refuse("app_id", "records client_id (or add `way = \"entra-app\"`)");
                }
                if row.managed_identity.is_some() {
                    return refuse(
                        "managed_identity",
                        "has no managed identity of the publisher's",
                    );
                }
                let client_id = row.client_id.ok_or("missing field `client_id`")?;
                let subject = row.subject.ok_or("missing field `subject`")?;
                (
                    client_id,
                    Trust::Issuer {
                        subject,
                        identity: row.identity,
                    },
                )
            }
            Way::EntraApp => {
                if row.client_id.is_some() {
                    return refuse("client_id", "records the publisher's app as app_id");
                }
                if row.subject.is_some() || row.identity.is_some() {
                    let key = if row.subject.is_some() {
                        "subject"
                    } else {
                        "identity"
                    };
                    return refuse(key, "has no federated credential of its own");
                }
                let app_id = row.app_id.ok_or("missing field `app_id`")?;
                (
                    app_id,
                    Trust::EntraApp {
                        managed_identity: row.managed_identity,
                    },
                )
            }
        };
        Ok(Customer {
            tenant: row.tenant,
            client_id,
            trust,
            cloud: row.cloud,
            scope: row.scope,
        })
    }
}

impl From<Customer> for Row {
    fn from(c: Customer) -> Self {
        let mut row = Row {
            tenant: c.tenant,
            cloud: c.cloud,
            scope: c.scope,
            ..Row::default()
        };
        match c.trust {
            Trust::Issuer { subject, identity } => {
                row.client_id = Some(c.client_id);
                row.subject = Some(subject);
                row.identity = identity;
            }
            Trust::EntraApp { managed_identity } => {
                row.way = Some(Way::EntraApp.name().to_owned());
                row.app_id = Some(c.client_id);
                row.managed_identity = managed_identity;
            }
        }
        row
    }
}

impl Customer {
    /// An `issuer` customer: the customer's UAMI (its client id) and the FIC's subject.
    pub fn new(tenant: &str, client_id: &str, subject: &str) -> Self {
        Self {
            tenant: tenant.into(),
            client_id: client_id.into(),
            trust: Trust::Issuer {
                subject: subject.into(),
                identity: None,
            },
            cloud: None,
            scope: None,
        }
    }

    /// An `entra-app` customer: the publisher's app (its application id), consented to in
    /// `tenant`, and which of the publisher's managed identities its FIC trusts.
    pub fn entra_app(tenant: &str, app_id: &str, managed_identity: Option<&str>) -> Self {
        Self {
            tenant: tenant.into(),
            client_id: app_id.into(),
            trust: Trust::EntraApp {
                managed_identity: managed_identity.map(Into::into),
            },
            cloud: None,
            scope: None,
        }
    }

    pub fn way(&self) -> Way {
        match self.trust {
            Trust::Issuer { .. } => Way::Issuer,
            Trust::EntraApp { .. } => Way::EntraApp,
        }
    }

    /// The FIC's subject (`issuer` customers).
    pub fn subject(&self) -> Option<&str> {
        match &self.trust {
            Trust::Issuer { subject, .. } => Some(subject),
            Trust::EntraApp { .. } => None,
        }
    }

    /// The UAMI's ARM resource id (`issuer` customers, when known).
    pub fn identity(&self) -> Option<&str> {
        match &self.trust {
            Trust::Issuer { identity, .. } => identity.as_deref(),
            Trust::EntraApp { .. } => None,
        }
    }

    /// The publisher's managed identity (`entra-app` customers, when named).
    pub fn managed_identity(&self) -> Option<&str> {
        match &self.trust {
            Trust::EntraApp { managed_identity } => managed_identity.as_deref(),
            Trust::Issuer { .. } => None,
        }
    }

    /// Checks every value as `idp token` would before anything is signed or sent.
    pub fn validate(&self, name: &str) -> Result<(), InventoryError> {
        let invalid = |field: &'static str, reason: String| InventoryError::Invalid {
            name: name.into(),
            field,
            reason,
        };
        let client_field = match self.way() {
            Way::Issuer => "client_id",
            Way::EntraApp => "app_id",
        };
        let scope = self.scope.as_deref().unwrap_or(CHECK_SCOPE);
        Target::new(DEFAULT_AUTHORITY, &self.tenant, &self.client_id, scope).map_err(|e| {
            let field = match e {
                idp_exchange::request::RequestError::BadTenant(_) => "tenant",
                idp_exchange::request::RequestError::BadClientId(_) => client_field,
                _ => "scope",
            };
            invalid(field, e.to_string())
        })?;
        match &self.trust {
            Trust::Issuer { subject, identity } => {
                Subject::parse(subject).map_err(|e| invalid("subject", e.to_string()))?;
                if let Some(id) = identity {
                    IdentityId::parse(id).map_err(|reason| invalid("identity", reason))?;
                }
            }
            Trust::EntraApp {
                managed_identity: Some(mi),
            } if !is_guid(mi) => {
                return Err(invalid(
                    "managed_identity",
                    format!("`{mi}` is not a client id (a GUID)"),
                ));
            }
            Trust::EntraApp { .. } => {}
        }
        Ok(())
    }
}

/// Why the inventory cannot be read, changed or used.
#[derive(Debug, Error)]
pub enum InventoryError {
    #[error("{} is not a valid customer inventory (line {line}): {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("customer `{name}`: {field} {reason}")]
    Invalid {
        name: String,
        field: &'static str,
        reason: String,
    },
    #[error("customer name `{name}` is not usable: {reason}")]
    BadName { name: String, reason: String },
    #[error("no customer `{name}` in {}", path.display())]
    Unknown {
        name: String,
        path: PathBuf,
        known: Vec<String>,
    },
    #[error("customer `{name}` is already in {}", path.display())]
    Duplicate { name: String, path: PathBuf },
    #[error("{} has no customers", path.display())]
    Empty { path: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] fsutil::WriteError),
}

impl idp_core::diagnostic::Diagnostic for InventoryError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            InventoryError::Corrupt { .. } => {
                "fix that line by hand (idp rewrites the file only when it parses), or restore it from version control".into()
            }
            InventoryError::Invalid { .. } => "correct the value; `idp customers show NAME` prints what is recorded".into(),
            InventoryError::BadName { .. } => format!(
                "name customers with letters, digits, `-`, `_` and `.` (at most {MAX_NAME_CHARS}, starting with a letter or digit)"
            ),
            InventoryError::Unknown { known, .. } if known.is_empty() => {
                "the inventory is empty: add one with `idp customers add NAME --tenant T --client-id C --subject S`".into()
            }
            InventoryError::Unknown { known, .. } => format!("known customers: {}", known.join(", ")),
            InventoryError::Duplicate { .. } => "pick another name, or `idp customers remove NAME` first".into(),
            InventoryError::Empty { .. } => "add customers with `idp customers add NAME --tenant T --client-id C --subject S` (or `--way entra-app --tenant T --app-id A`)".into(),
            InventoryError::Read { .. } | InventoryError::Lock { .. } | InventoryError::Write(_) => {
                "check the inventory's path (--customers-file / IDP_CUSTOMERS_FILE) and that its folder is writable".into()
            }
        })
    }

    fn is_usage(&self) -> bool {
        !matches!(
            self,
            InventoryError::Read { .. } | InventoryError::Lock { .. } | InventoryError::Write(_)
        )
    }
}

/// Checks a customer name: 1-63 characters of letters, digits, `-`, `_`, `.`, starting with
/// a letter or digit (so it is a safe file name and TOML key).
pub fn check_name(name: &str) -> Result<(), InventoryError> {
    let bad = |reason: &str| InventoryError::BadName {
        name: name.into(),
        reason: reason.into(),
    };
    if name.is_empty() || name.len() > MAX_NAME_CHARS {
        return Err(bad("it must be 1 to 63 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(bad("it must start with a letter or a digit"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(bad(&format!(
            "`{c}` is not a letter, digit, `-`, `_` or `.`"
        )));
    }
    Ok(())
}

/// The customers, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    customers: BTreeMap<String, Customer>,
}

impl Inventory {
    /// Adds a new customer, checked; refuses a name already there.
    pub fn add(&mut self, name: &str, customer: Customer) -> Result<(), InventoryError> {
        check_name(name)?;
        customer.validate(name)?;
        if self.customers.contains_key(name) {
            return Err(InventoryError::Duplicate {
                name: name.into(),
                path: PathBuf::new(),
            });
        }
        self.customers.insert(name.into(), customer);
        Ok(())
    }

    /// Removes a customer, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Customer> {
        self.customers.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&Customer> {
        self.customers.get(name)
    }

    /// The named customer, or an error naming the inventory at `path` and the known ones.
    pub fn require(&self, name: &str, path: &Path) -> Result<&Customer, InventoryError> {
        self.get(name).ok_or_else(|| InventoryError::Unknown {
            name: name.into(),
            path: path.to_owned(),
            known: self.names(),
        })
    }

    /// Customers in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Customer)> {
        self.customers.iter().map(|(n, c)| (n.as_str(), c))
    }

    pub fn names(&self) -> Vec<String> {
        self.customers.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Parses `customers.toml` text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, InventoryError> {
        let customers: BTreeMap<String, Customer> =
            toml::from_str(text).map_err(|e| InventoryError::Corrupt {
                path: path.to_owned(),
                line: e.span().map_or(1, |s| {
                    text[..s.start.min(text.len())].lines().count().max(1)
                }),
                message: e.message().to_owned(),
            })?;
        for (name, customer) in &customers {
            check_name(name)?;
            customer.validate(name)?;
        }
        Ok(Self { customers })
    }

    /// The file's text: a comment, then one table per customer in name order.
    pub fn render(&self) -> String {
        let body = toml::to_string_pretty(&self.customers).expect("the inventory serialises");
        format!(
            "# Customers of this issuer, one table each, written by `idp customers`.\n\
             # tenant, client_id and subject are what the exchange sends; edit with care.\n\n{body}"
        )
    }
}

/// `customers.toml` on disk, with its lock beside it.
#[derive(Debug, Clone)]
pub struct InventoryFile {
    path: PathBuf,
}

impl InventoryFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the inventory; a missing file is an empty inventory.
    pub fn load(&self) -> Result<Inventory, InventoryError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => Inventory::parse(&text, &self.path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Inventory::default()),
            Err(source) => Err(InventoryError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// The named customer, or an error listing the known ones.
    pub fn customer(&self, name: &str) -> Result<Customer, InventoryError> {
        self.load()?.require(name, &self.path).cloned()
    }

    /// Applies `change` under the lock and writes the result atomically; when `change`
    /// fails, nothing is written.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Inventory) -> Result<T, InventoryError>,
    ) -> Result<T, InventoryError> {
        let _lock = self.lock()?;
        let mut inv = self.load()?;
        let out = change(&mut inv).map_err(|e| match e {
            InventoryError::Duplicate { name, .. } => InventoryError::Duplicate {
                name,
                path: self.path.clone(),
            },
            other => other,
        })?;
        fsutil::write_atomic(
            &self.path,
            inv.render().as_bytes(),
            0o644,
            Overwrite::Replace,
        )?;
        Ok(out)
    }

    fn lock(&self) -> Result<fs::File, InventoryError> {
        let name = self.path.file_name().map_or_else(
            || "customers.toml".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let path = self.path.with_file_name(format!(".{name}.lock"));
        fsutil::lock_exclusive(&path).map_err(|source| InventoryError::Lock { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
    const UAMI: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/mrg-app-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-app";

    #[test]
    fn adds_round_trip_through_the_file_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = InventoryFile::new(dir.path().join("customers.toml"));
        assert!(file.load().unwrap().is_empty());
        file.update(|inv| inv.add("zeta", Customer::new(TENANT, CLIENT, "z")))
            .unwrap();
        let mut with_all = Customer::new(TENANT, CLIENT, "a b/c");
        with_all.trust = Trust::Issuer {
            subject: "a b/c".into(),
            identity: Some(UAMI.into()),
        };
        with_all.cloud = Some(Cloud::UsGov);
        with_all.scope = Some("https://vault.azure.net/.default".into());
        file.update(|inv| inv.add("alpha", with_all.clone()))
            .unwrap();
        let inv = file.load().unwrap();
        assert_eq!(inv.names(), ["alpha", "zeta"]);
        assert_eq!(inv.get("alpha"), Some(&with_all));
        let text = fs::read_to_string(file.path()).unwrap();
        assert!(
            text.find("[alpha]").unwrap() < text.find("[zeta]").unwrap(),
            "{text}"
        );
        assert_eq!(file.customer("zeta").unwrap().subject(), Some("z"));
    }

    #[test]
    fn a_duplicate_or_an_unknown_name_is_an_error_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = InventoryFile::new(dir.path().join("customers.toml"));
        file.update(|inv| inv.add("c1", Customer::new(TENANT, CLIENT, "s")))
            .unwrap();
        let before = fs::read(file.path()).unwrap();
        assert!(matches!(
            file.update(|inv| inv.add("c1", Customer::new(TENANT, CLIENT, "t"))),
            Err(InventoryError::Duplicate { path, .. }) if path == file.path()
        ));
        assert_eq!(fs::read(file.path()).unwrap(), before);
        assert!(matches!(
            file.customer("c2"),
            Err(InventoryError::Unknown { known, .. }) if known == ["c1"]
        ));
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let field_of = |c: Customer| match Inventory::default().add("x", c) {
            Err(InventoryError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field_of(Customer::new("not a tenant", CLIENT, "s")),
            "tenant"
        );
        assert_eq!(field_of(Customer::new(TENANT, "nope", "s")), "client_id");
        assert_eq!(field_of(Customer::new(TENANT, CLIENT, " s")), "subject");
        assert_eq!(field_of(Customer::new(TENANT, CLIENT, "")), "subject");
        let mut c = Customer::new(TENANT, CLIENT, "s");
        c.scope = Some("https://vault.azure.net".into());
        assert_eq!(field_of(c), "scope");
        let mut c = Customer::new(TENANT, CLIENT, "s");
        c.trust = Trust::Issuer {
            subject: "s".into(),
            identity: Some("/subscriptions/x".into()),
        };
        assert_eq!(field_of(c), "identity");
        assert_eq!(
            field_of(Customer::entra_app(TENANT, "nope", None)),
            "app_id"
        );
        assert_eq!(
            field_of(Customer::entra_app(TENANT, CLIENT, Some("uami-name"))),
            "managed_identity"
        );
        assert_eq!(
            field_of(Customer::entra_app("contoso.com/x", CLIENT, None)),
            "tenant"
        );
    }

    #[test]
    fn a_cloud_is_read_by_any_of_its_names_and_recorded_by_idps() {
        let dir = tempfile::tempdir().unwrap();
        let file = InventoryFile::new(dir.path().join("customers.toml"));
        let row = |cloud: &str| {
            format!(
                "[c]\ntenant = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nsubject = \"s\"\ncloud = \"{cloud}\"\n"
            )
        };
        fs::write(file.path(), row("AzureUSGovernment")).unwrap();
        assert_eq!(file.customer("c").unwrap().cloud, Some(Cloud::UsGov));
        file.update(|_| Ok(())).unwrap();
        assert!(
            fs::read_to_string(file.path())
                .unwrap()
                .contains("cloud = \"usgov\""),
        );
        fs::write(file.path(), row("germany")).unwrap();
        match file.load() {
            Err(InventoryError::Corrupt { line, message, .. }) => {
                assert_eq!(line, 5);
                assert!(message.contains("unknown cloud `germany`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_ways_share_one_file_and_each_takes_only_its_own_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = InventoryFile::new(dir.path().join("customers.toml"));
        let mi = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        let mut app = Customer::entra_app(TENANT, CLIENT, Some(mi));
        app.scope = Some("https://vault.azure.net/.default".into());
        file.update(|inv| {
            inv.add("fabrikam", app.clone())?;
            inv.add("contoso", Customer::new(TENANT, CLIENT, "s"))
        })
        .unwrap();
        let text = fs::read_to_string(file.path()).unwrap();
        let fabrikam = &text[text.find("[fabrikam]").unwrap()..];
        assert!(
            fabrikam.contains("way = \"entra-app\"")
                && fabrikam.contains(&format!("app_id = \"{CLIENT}\""))
                && fabrikam.contains(&format!("managed_identity = \"{mi}\""))
                && !fabrikam.contains("client_id")
                && !fabrikam.contains("subject"),
            "{text}"
        );
        // An issuer customer is written as before: no `way` key, so older files stay valid.
        let contoso = &text[text.find("[contoso]").unwrap()..text.find("[fabrikam]").unwrap()];
        assert!(!contoso.contains("way"), "{text}");
        let inv = file.load().unwrap();
        assert_eq!(inv.get("fabrikam"), Some(&app));
        assert_eq!(inv.get("fabrikam").unwrap().way(), Way::EntraApp);
        assert_eq!(inv.get("fabrikam").unwrap().managed_identity(), Some(mi));
        assert_eq!(inv.get("fabrikam").unwrap().subject(), None);
        assert_eq!(inv.get("contoso").unwrap().way(), Way::Issuer);
        assert_eq!(inv.get("contoso").unwrap().managed_identity(), None);

        // A key of the other way is refused by name, on its table's line.
        let refused = |body: &str, needle: &str| {
            fs::write(file.path(), format!("[x]\ntenant = \"{TENANT}\"\n{body}")).unwrap();
            match file.load() {
                Err(InventoryError::Corrupt { message, line, .. }) => {
                    assert!(message.contains(needle), "{body}: {message}");
                    assert!(line >= 1);
                }
                other => panic!("{body}: {other:?}"),
            }
        };
        refused(
            &format!("way = \"entra-app\"\napp_id = \"{CLIENT}\"\nsubject = \"s\"\n"),
            "`subject` belongs to another way",
        );
        refused(
            &format!("way = \"entra-app\"\nclient_id = \"{CLIENT}\"\n"),
            "`client_id` belongs to another way",
        );
        refused(
            &format!("way = \"entra-app\"\napp_id = \"{CLIENT}\"\nidentity = \"{UAMI}\"\n"),
            "`identity` belongs to another way",
        );
        refused(
            &format!("client_id = \"{CLIENT}\"\nsubject = \"s\"\napp_id = \"{CLIENT}\"\n"),
            "`app_id` belongs to another way",
        );
        refused(
            &format!("client_id = \"{CLIENT}\"\nsubject = \"s\"\nmanaged_identity = \"{mi}\"\n"),
            "`managed_identity` belongs to another way",
        );
        refused("way = \"entra-app\"\n", "missing field `app_id`");
        refused(
            &format!("client_id = \"{CLIENT}\"\n"),
            "missing field `subject`",
        );
        refused("subject = \"s\"\n", "missing field `client_id`");
        refused(
            &format!("way = \"federation\"\napp_id = \"{CLIENT}\"\n"),
            "unknown way `federation`",
        );
        refused(
            &format!("way = \"entra-app\"\napp_id = \"{CLIENT}\"\napp = 1\n"),
            "unknown field `app`",
        );
    }

    #[test]
    fn names_are_file_and_key_safe() {
        for ok in ["contoso", "c-1", "a.b_c", "9lives"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "ä", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_corrupt_file_names_its_line_and_is_never_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = InventoryFile::new(dir.path().join("customers.toml"));
        let text = format!(
            "[ok]\ntenant = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nsubject = \"s\"\n\n[broken]\ntenant = \n"
        );
        fs::write(file.path(), &text).unwrap();
        match file.load() {
            Err(InventoryError::Corrupt { line, .. }) => assert_eq!(line, 7),
            other => panic!("{other:?}"),
        }
        assert!(
            file.update(|inv| inv.add("new", Customer::new(TENANT, CLIENT, "n")))
                .is_err()
        );
        assert_eq!(fs::read_to_string(file.path()).unwrap(), text);
        // An unknown field is refused too, by name.
        fs::write(file.path(), "[x]\ntenant = \"t\"\nclientid = \"c\"\n").unwrap();
        assert!(
            matches!(file.load(), Err(InventoryError::Corrupt { message, .. }) if message.contains("clientid"))
        );
    }
}
