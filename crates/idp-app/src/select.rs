//! Whom a command acts for, resolved once with one set of errors, for every command that
//! takes customers (`token`, `exec`, `env`, `serve-assertions`, `doctor`, the rotation
//! canary): one customer of the inventory, several by name, all of them, or one given by
//! its ids; and a shard of many (`--shard I/N`), so a CI matrix splits a fleet across
//! runners. A customer's shard depends on its name alone, so adding or removing customers
//! never moves the others between runners.
//!
//! ```
//! use idp_app::select::Shard;
//! let shard = Shard::parse("2/3").unwrap();
//! let mine: Vec<&str> = ["a", "b", "c", "d"].into_iter().filter(|n| shard.holds(n)).collect();
//! assert!(mine.iter().all(|n| Shard::of(n, 3) == 2));
//! ```

use idp_core::assertion::Subject;
use idp_core::azure_id::{is_guid, is_tenant};
use idp_core::diagnostic::Diagnostic;
use idp_inventory::{Customer, Inventory, InventoryError, InventoryFile};
use thiserror::Error;

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `--customer NAME`.
    One(String),
    /// `--customers A,B,…`, each once, in the order given.
    Named(Vec<String>),
    /// `--all`.
    All,
    /// `--tenant T --client-id C --subject S`: no inventory involved.
    Given {
        tenant: String,
        client_id: String,
        subject: String,
    },
}

/// One customer to act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The inventory's name for it; `None` for ids given on the command line.
    pub name: Option<String>,
    pub customer: Customer,
}

impl Selected {
    /// Its name, or `-` for ids given on the command line.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("-")
    }
}

/// Part `index` of `count` (1-based), written `I/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a fleet is split into (GitHub Actions runs at most 256 jobs of a matrix).
pub const MAX_SHARDS: u32 = 256;

impl Shard {
    /// `I/N` with 1 ≤ I ≤ N ≤ 256.
    pub fn parse(s: &str) -> Result<Self, SelectError> {
        let bad = || SelectError::BadShard(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || count == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// The shard (1-based) customer `name` falls in, out of `count`: from a SHA-256 of the
    /// name, so it is the same on every runner and for every inventory holding the name.
    pub fn of(name: &str, count: u32) -> u32 {
        let digest = idp_core::keys::sha256(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }

    /// Whether customer `name` is in this shard.
    pub fn holds(&self, name: &str) -> bool {
        Self::of(name, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// GitHub Actions' matrix for `count` shards: `{"include":[{"shard":"1/N"},…]}`, for
/// `strategy.matrix: ${{ fromJSON(…) }}` with `idp … --all --shard ${{ matrix.shard }}`.
pub fn github_matrix(count: u32) -> Result<serde_json::Value, SelectError> {
    if count == 0 || count > MAX_SHARDS {
        return Err(SelectError::BadShardCount(count));
    }
    let include: Vec<serde_json::Value> = (1..=count)
        .map(|i| serde_json::json!({ "shard": format!("{i}/{count}") }))
        .collect();
    Ok(serde_json::json!({ "include": include }))
}

/// Why the selection names no customer to act for.
#[derive(Debug, Error)]
pub enum SelectError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("no customer given")]
    Nothing,
    #[error("--tenant, --client-id and --subject go together: {missing} is missing")]
    Incomplete { missing: &'static str },
    #[error("{flag} `{value}` {reason}")]
    Given {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("--shard `{0}` is not I/N with 1 ≤ I ≤ N ≤ 256")]
    BadShard(String),
    #[error("{0} shards: a fleet is split into 1 to 256")]
    BadShardCount(u32),
    #[error("--shard splits many customers (--all or --customers), not one")]
    ShardOfOne,
    #[error("--customers names `{0}` twice")]
    Twice(String),
}

impl Diagnostic for SelectError {
    fn hint(&self) -> Option<String> {
        match self {
            SelectError::Inventory(e) => e.hint(),
            SelectError::Nothing | SelectError::Incomplete { .. } => Some(
                "give --customer NAME (see `idp customers list`), or the customer's --tenant, --client-id and --subject".into(),
            ),
            SelectError::Given { flag: "--tenant", .. } => Some(
                "give the customer's tenant id (a GUID) or one of its verified domains, like contoso.onmicrosoft.com".into(),
            ),
            SelectError::Given { flag: "--client-id", .. } => Some(
                "give the managed identity's client id (clientId, not principalId), like 00000000-0000-0000-0000-000000000000".into(),
            ),
            SelectError::Given { .. } => Some(
                "give the FIC's subject exactly: 1 to 600 characters, no white space around it".into(),
            ),
            SelectError::BadShard(_) | SelectError::BadShardCount(_) => Some(
                "write the shard as I/N, like --shard 2/4 (`idp customers list --format github-matrix --shards 4` prints a CI matrix of them)".into(),
            ),
            SelectError::ShardOfOne => Some("use --all --shard I/N, or drop --shard".into()),
            SelectError::Twice(_) => Some("name each customer once".into()),
        }
    }

    fn is_usage(&self) -> bool {
        match self {
            SelectError::Inventory(e) => e.is_usage(),
            _ => true,
        }
    }
}

/// The customers `selection` names, checked, in order (the inventory's name order for
/// `--all`), narrowed to `shard`. The inventory is read once, and only when a customer
/// is named. `--all` on an empty inventory is an error; a shard holding none of the
/// customers is not (another runner holds them).
pub fn resolve(
    selection: &Selection,
    shard: Option<Shard>,
    file: &InventoryFile,
) -> Result<Vec<Selected>, SelectError> {
    if shard.is_some() && !matches!(selection, Selection::Named(_) | Selection::All) {
        return Err(SelectError::ShardOfOne);
    }
    let of = |inv: &Inventory, name: &str| -> Result<Selected, SelectError> {
        Ok(Selected {
            name: Some(name.to_owned()),
            customer: inv.require(name, file.path())?.clone(),
        })
    };
    let chosen = match selection {
        Selection::Given {
            tenant,
            client_id,
            subject,
        } => return Ok(vec![given(tenant, client_id, subject)?]),
        Selection::One(name) => return Ok(vec![of(&file.load()?, name)?]),
        Selection::Named(names) => {
            if names.is_empty() {
                return Err(SelectError::Nothing);
            }
            let mut seen = std::collections::BTreeSet::new();
            if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
                return Err(SelectError::Twice(twice.clone()));
            }
            let inv = file.load()?;
            names
                .iter()
                .map(|n| of(&inv, n))
                .collect::<Result<Vec<_>, _>>()?
        }
        Selection::All => {
            let inv = file.load()?;
            if inv.is_empty() {
                return Err(InventoryError::Empty {
                    path: file.path().to_owned(),
                }
                .into());
            }
            inv.iter()
                .map(|(name, c)| Selected {
                    name: Some(name.to_owned()),
                    customer: c.clone(),
                })
                .collect()
        }
    };
    Ok(match shard {
        Some(s) => chosen.into_iter().filter(|c| s.holds(c.label())).collect(),
        None => chosen,
    })
}

/// The selection the command line's flags make, or which flag is missing.
pub fn from_flags(
    customer: Option<String>,
    customers: Vec<String>,
    all: bool,
    tenant: Option<String>,
    client_id: Option<String>,
    subject: Option<String>,
) -> Result<Selection, SelectError> {
    if let Some(name) = customer {
        return Ok(Selection::One(name));
    }
    if all {
        return Ok(Selection::All);
    }
    // `--customers a,,b` or `--customers ,`: the empty names are no customers.
    let customers: Vec<String> = customers.into_iter().filter(|c| !c.is_empty()).collect();
    if !customers.is_empty() {
        return Ok(Selection::Named(customers));
    }
    match (tenant, client_id, subject) {
        (None, None, None) => Err(SelectError::Nothing),
        (Some(tenant), Some(client_id), Some(subject)) => Ok(Selection::Given {
            tenant,
            client_id,
            subject,
        }),
        (t, c, _) => Err(SelectError::Incomplete {
            missing: if t.is_none() {
                "--tenant"
            } else if c.is_none() {
                "--client-id"
            } else {
                "--subject"
            },
        }),
    }
}

/// A customer given by its ids, each checked as the exchange checks it.
fn given(tenant: &str, client_id: &str, subject: &str) -> Result<Selected, SelectError> {
    let refuse = |flag, value: &str, reason: &str| SelectError::Given {
        flag,
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    if !is_tenant(tenant) {
        return Err(refuse("--tenant", tenant, "is not a tenant id or domain"));
    }
    if !is_guid(client_id) {
        return Err(refuse("--client-id", client_id, "is not a GUID"));
    }
    Subject::parse(subject).map_err(|e| refuse("--subject", subject, &e.to_string()))?;
    Ok(Selected {
        name: None,
        customer: Customer::new(tenant, client_id, subject),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";

    fn inventory(names: &[&str]) -> (tempfile::TempDir, InventoryFile) {
        let dir = tempfile::tempdir().unwrap();
        let file = InventoryFile::new(dir.path().join("customers.toml"));
        for n in names {
            file.update(|inv| inv.add(n, Customer::new(TENANT, CLIENT, n)))
                .unwrap();
        }
        (dir, file)
    }

    fn names(v: &[Selected]) -> Vec<&str> {
        v.iter().map(Selected::label).collect()
    }

    /// The inventory's own errors keep their kind: a file that cannot be read is a failed
    /// operation (exit 1), one that does not parse is the user's to fix (exit 2); the
    /// refusals of the selection itself are the user's (caught by cargo mutants).
    #[test]
    fn the_inventorys_errors_keep_their_exit_code_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let unreadable = InventoryFile::new(dir.path().to_owned());
        let e = resolve(&Selection::One("a".into()), None, &unreadable).unwrap_err();
        assert!(matches!(e, SelectError::Inventory(_)), "{e:?}");
        assert!(!e.is_usage(), "{e}");
        assert!(e.hint().unwrap().contains("--customers-file"), "{e:?}");
        let broken = dir.path().join("customers.toml");
        std::fs::write(&broken, "[customers.a\n").unwrap();
        let e = resolve(&Selection::All, None, &InventoryFile::new(broken)).unwrap_err();
        assert!(matches!(e, SelectError::Inventory(_)), "{e:?}");
        assert!(e.is_usage(), "{e}");
        let (_d, file) = inventory(&["a"]);
        let e = resolve(&Selection::One("b".into()), None, &file).unwrap_err();
        assert!(e.is_usage());
    }

    #[test]
    fn one_named_or_all_come_from_the_inventory_in_order() {
        let (_d, file) = inventory(&["zeta", "alpha", "mid"]);
        let one = resolve(&Selection::One("mid".into()), None, &file).unwrap();
        assert_eq!(names(&one), ["mid"]);
        assert_eq!(one[0].customer.subject(), Some("mid"));
        let named = resolve(
            &Selection::Named(vec!["zeta".into(), "alpha".into()]),
            None,
            &file,
        )
        .unwrap();
        assert_eq!(names(&named), ["zeta", "alpha"]);
        let all = resolve(&Selection::All, None, &file).unwrap();
        assert_eq!(names(&all), ["alpha", "mid", "zeta"]);
    }

    #[test]
    fn unknown_empty_and_repeated_names_are_refused_as_the_users() {
        let (_d, file) = inventory(&["a"]);
        let unknown = resolve(&Selection::One("b".into()), None, &file).unwrap_err();
        assert!(matches!(
            unknown,
            SelectError::Inventory(InventoryError::Unknown { ref known, .. }) if known == &["a"]
        ));
        assert!(unknown.is_usage());
        assert!(unknown.hint().unwrap().contains("known customers: a"));
        let twice =
            resolve(&Selection::Named(vec!["a".into(), "a".into()]), None, &file).unwrap_err();
        assert!(matches!(twice, SelectError::Twice(ref n) if n == "a"));
        assert!(matches!(
            resolve(&Selection::Named(vec![]), None, &file),
            Err(SelectError::Nothing)
        ));
        let (_d, empty) = inventory(&[]);
        let e = resolve(&Selection::All, None, &empty).unwrap_err();
        assert!(matches!(
            e,
            SelectError::Inventory(InventoryError::Empty { .. })
        ));
        assert!(e.is_usage());
        assert!(e.hint().unwrap().contains("idp customers add"));
    }

    #[test]
    fn given_ids_are_checked_and_need_no_inventory() {
        let (_d, file) = inventory(&[]);
        let ok = |tenant: &str| {
            resolve(
                &Selection::Given {
                    tenant: tenant.into(),
                    client_id: CLIENT.into(),
                    subject: "s".into(),
                },
                None,
                &file,
            )
        };
        assert_eq!(ok(TENANT).unwrap()[0].customer.tenant, TENANT);
        assert_eq!(ok(TENANT).unwrap()[0].name, None);
        assert_eq!(
            ok("contoso.onmicrosoft.com").unwrap()[0].customer.tenant,
            "contoso.onmicrosoft.com"
        );
        let e = ok("contoso/x").unwrap_err();
        assert!(
            matches!(
                e,
                SelectError::Given {
                    flag: "--tenant",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.hint().unwrap().contains("verified domains"));
        let bad_client = resolve(
            &Selection::Given {
                tenant: TENANT.into(),
                client_id: "principal".into(),
                subject: "s".into(),
            },
            None,
            &file,
        )
        .unwrap_err();
        assert!(matches!(
            bad_client,
            SelectError::Given {
                flag: "--client-id",
                ..
            }
        ));
        assert!(bad_client.hint().unwrap().contains("clientId"));
        let bad_subject = resolve(
            &Selection::Given {
                tenant: TENANT.into(),
                client_id: CLIENT.into(),
                subject: " s".into(),
            },
            None,
            &file,
        )
        .unwrap_err();
        assert!(matches!(
            bad_subject,
            SelectError::Given {
                flag: "--subject",
                ..
            }
        ));
        assert!(bad_subject.hint().unwrap().contains("no white space"));
    }

    #[test]
    fn flags_make_one_selection_or_say_what_is_missing() {
        let f = |c: Option<&str>,
                 cs: &[&str],
                 all,
                 t: Option<&str>,
                 ci: Option<&str>,
                 s: Option<&str>| {
            from_flags(
                c.map(Into::into),
                cs.iter().map(|s| s.to_string()).collect(),
                all,
                t.map(Into::into),
                ci.map(Into::into),
                s.map(Into::into),
            )
        };
        assert_eq!(
            f(Some("a"), &[], false, None, None, None).unwrap(),
            Selection::One("a".into())
        );
        assert_eq!(
            f(None, &[], true, None, None, None).unwrap(),
            Selection::All
        );
        assert_eq!(
            f(None, &["a", "b"], false, None, None, None).unwrap(),
            Selection::Named(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            f(None, &["a", "", "b"], false, None, None, None).unwrap(),
            Selection::Named(vec!["a".into(), "b".into()])
        );
        assert!(matches!(
            f(None, &["", ""], false, None, None, None),
            Err(SelectError::Nothing)
        ));
        assert!(matches!(
            f(None, &[], false, Some("t"), Some("c"), Some("s")).unwrap(),
            Selection::Given { .. }
        ));
        assert!(matches!(
            f(None, &[], false, None, None, None),
            Err(SelectError::Nothing)
        ));
        for (t, c, s, missing) in [
            (None, Some("c"), Some("s"), "--tenant"),
            (Some("t"), None, Some("s"), "--client-id"),
            (Some("t"), Some("c"), None, "--subject"),
        ] {
            match f(None, &[], false, t, c, s) {
                Err(SelectError::Incomplete { missing: m }) => assert_eq!(m, missing),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn shards_split_a_fleet_by_name_alone_with_every_customer_in_exactly_one() {
        let names_: Vec<String> = (0..200).map(|i| format!("customer-{i}")).collect();
        let refs: Vec<&str> = names_.iter().map(String::as_str).collect();
        let (_d, file) = inventory(&refs);
        let mut seen = std::collections::BTreeMap::new();
        for index in 1..=4 {
            let shard = Shard { index, count: 4 };
            let part = resolve(&Selection::All, Some(shard), &file).unwrap();
            assert!(!part.is_empty(), "shard {shard} is empty");
            for c in &part {
                assert!(seen.insert(c.label().to_owned(), index).is_none());
                assert_eq!(Shard::of(c.label(), 4), index);
            }
        }
        assert_eq!(seen.len(), 200);
        // A customer's shard does not depend on who else is in the inventory.
        let (_d, small) = inventory(&["customer-7"]);
        let home = Shard::of("customer-7", 4);
        let there = resolve(
            &Selection::All,
            Some(Shard {
                index: home,
                count: 4,
            }),
            &small,
        )
        .unwrap();
        assert_eq!(names(&there), ["customer-7"]);
        let other = Shard {
            index: home % 4 + 1,
            count: 4,
        };
        assert!(
            resolve(&Selection::All, Some(other), &small)
                .unwrap()
                .is_empty()
        );
        // Known values, so a change to the hash is a change a test sees.
        assert_eq!(Shard::of("contoso", 1), 1);
        // (the first 8 bytes of SHA-256 of the name, big-endian, mod N, plus 1)
        assert_eq!(
            ["contoso", "fabrikam", "northwind", "tailspin"].map(|n| Shard::of(n, 4)),
            [4, 3, 4, 1]
        );
        // --customers is narrowed too; one customer cannot be.
        let named = resolve(
            &Selection::Named(vec!["customer-7".into(), "customer-8".into()]),
            Some(Shard {
                index: home,
                count: 4,
            }),
            &file,
        )
        .unwrap();
        assert!(names(&named).contains(&"customer-7"));
        assert!(matches!(
            resolve(
                &Selection::One("customer-7".into()),
                Some(Shard { index: 1, count: 2 }),
                &file
            ),
            Err(SelectError::ShardOfOne)
        ));
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(Shard::parse("1/1").unwrap(), Shard { index: 1, count: 1 });
        assert_eq!(Shard::parse("3/4").unwrap().to_string(), "3/4");
        assert_eq!(Shard::parse("256/256").unwrap().count, 256);
        for bad in [
            "0/4", "5/4", "1/0", "1/257", "1", "a/b", "1/2/3", "-1/2", "",
        ] {
            assert!(
                matches!(Shard::parse(bad), Err(SelectError::BadShard(_))),
                "{bad}"
            );
        }
        let e = Shard::parse("5/4").unwrap_err();
        assert!(e.is_usage() && e.hint().unwrap().contains("github-matrix"));
    }

    #[test]
    fn the_github_matrix_lists_every_shard() {
        assert_eq!(
            github_matrix(3).unwrap(),
            serde_json::json!({"include": [{"shard": "1/3"}, {"shard": "2/3"}, {"shard": "3/3"}]})
        );
        assert_eq!(
            github_matrix(1).unwrap()["include"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(github_matrix(0).is_err());
        assert!(github_matrix(257).is_err());
        assert_eq!(
            github_matrix(256).unwrap()["include"][255]["shard"],
            "256/256"
        );
    }
}
