//! idp.toml: the settings it may hold ([`setting`], each declared once with its
//! environment variable and flag), its text checked against them ([`parse`]) and written
//! ([`render_file`]). The resolver (flag > environment > file > default) is the `idp`
//! binary's; what reads the file's text is here, so it can be tested and fuzzed alone.

use idp_core::Issuer;
use idp_core::diagnostic::Problem;

/// One setting, declared once: its idp.toml key, its environment variable and its flag.
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
    pub const GRAPH_ENDPOINT: Setting =
        s("graph.endpoint", "IDP_GRAPH_ENDPOINT", "--graph-endpoint");
    pub const GRAPH_TOKEN_FILE: Setting = s(
        "graph.token_file",
        "IDP_GRAPH_TOKEN_FILE",
        "--graph-token-file",
    );
    pub const AUDIT_LOG: Setting = s("audit.log", "IDP_AUDIT_LOG", "--audit-log");
    pub const KEY_VAULT_TOKEN_FILE: Setting = s(
        "key_vault.token_file",
        "IDP_KEY_VAULT_TOKEN_FILE",
        "--key-vault-token-file",
    );
    /// Secret: from the flag or the environment only, never from idp.toml.
    pub const STORAGE_SAS: Setting = s("", "IDP_STORAGE_SAS", "--sas");

    /// The settings idp.toml may hold, in the README's order: the file's only keys.
    pub const IN_FILE: [Setting; 20] = [
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
        GRAPH_ENDPOINT,
        GRAPH_TOKEN_FILE,
        AUDIT_LOG,
        KEY_VAULT_TOKEN_FILE,
    ];

    /// The setting whose flag is `flag`, for hints that name a flag a command lacks.
    pub fn by_flag(flag: &str) -> Option<&'static Setting> {
        IN_FILE
            .iter()
            .chain([&STORAGE_SAS])
            .find(|s| s.flag == flag)
    }
}

/// An https URL with no path, query or fragment, as an authority host or ARM endpoint is,
/// as the URL parser reads it (`https://host[:port]`), without its trailing slash: what
/// idp sends requests to, even when the text was written loosely (`https:/host`, spaces
/// around it, a capital scheme).
pub fn https_url(s: &str) -> Result<String, Problem> {
    let refuse = |why: &str| {
        Problem::usage(
            format!("`{s}` {why}"),
            "give a bare https URL, like https://login.microsoftonline.com or https://127.0.0.1:8444",
        )
    };
    let url = url::Url::parse(s).map_err(|_| refuse("is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: what is before the `@` may be a secret.
        return Err(Problem::usage(
            "the URL has a user name or password in it",
            "give a bare https URL, like https://login.microsoftonline.com or https://127.0.0.1:8444; credentials go elsewhere",
        ));
    }
    if url.scheme() != "https" {
        return Err(refuse("is not an https URL"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("has a path, query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// idp.toml's text as a table holding only the declared keys: a table per dotted prefix,
/// top-level values for the others.
pub fn parse(text: &str) -> Result<toml::Table, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_owned())?;
    let known = |key: &str| setting::IN_FILE.iter().any(|s| s.key == key);
    let sections = |name: &str| {
        setting::IN_FILE
            .iter()
            .any(|s| s.key.split_once('.').is_some_and(|(p, _)| p == name))
    };
    // Every value is text but the number of retries.
    let typed = |key: &str, v: &toml::Value| {
        let retries = key == setting::STORAGE_RETRIES.key;
        if (retries && v.is_integer()) || (!retries && v.is_str()) {
            return Ok(());
        }
        Err(format!(
            "`{key}` must be {}, not {}",
            if retries { "a number" } else { "a string" },
            v.type_str()
        ))
    };
    for (name, value) in &table {
        match value {
            toml::Value::Table(inner) if sections(name) => {
                for (key, v) in inner {
                    let dotted = format!("{name}.{key}");
                    if !known(&dotted) {
                        return Err(format!("unknown key `{dotted}`"));
                    }
                    typed(&dotted, v)?;
                }
            }
            _ if sections(name) => {
                return Err(format!(
                    "`{name}` must be a section (`[{name}]`), not a {}",
                    value.type_str()
                ));
            }
            toml::Value::Table(_) => {
                return Err(format!("unknown section `[{name}]`"));
            }
            _ if known(name) => typed(name, value)?,
            _ => return Err(format!("unknown key `{name}`")),
        }
    }
    Ok(table)
}

/// idp.toml's text for an issuer and a keys folder, as `idp init` writes it.
pub fn render_file(issuer: &Issuer, keys_dir: &str) -> String {
    let mut keys = toml::Table::new();
    keys.insert("dir".into(), keys_dir.into());
    let mut table = toml::Table::new();
    table.insert(setting::ISSUER.key.into(), issuer.as_str().into());
    table.insert("keys".into(), toml::Value::Table(keys));
    format!(
        "# idp configuration, written by `idp init`.\n\
         # Every setting can be overridden by an IDP_* environment variable and by a flag\n\
         # (flag > environment > this file > default). Relative paths are relative to this file.\n\
         # `issuer` is kept byte for byte: the FIC's issuer must be exactly this string.\n\n{}",
        toml::to_string_pretty(&table).expect("a table serialises")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/fuzz_targets/idp_toml.rs): `https:/host` parses as a URL
    /// (the parser forgives the missing slash), and the text itself, not an https URL, was
    /// kept as the endpoint requests are built on.
    #[test]
    fn a_loosely_written_url_is_kept_as_the_parser_read_it() {
        assert_eq!(
            https_url("https:/.graph.microsoft.com").unwrap(),
            "https://.graph.microsoft.com"
        );
        assert_eq!(
            https_url(" HTTPS://Management.Azure.com/").unwrap(),
            "https://management.azure.com"
        );
        assert_eq!(
            https_url("https://127.0.0.1:8444").unwrap(),
            "https://127.0.0.1:8444"
        );
    }

    #[test]
    fn only_declared_keys_of_their_type_are_read() {
        let t = parse("issuer = \"https://h/c\"\n[storage]\nretries = 3\n").unwrap();
        assert_eq!(t["issuer"].as_str(), Some("https://h/c"));
        for (bad, says) in [
            ("[storage]\nretries = \"3\"\n", "must be a number"),
            ("issuer = 1\n", "must be a string"),
            ("[nope]\n", "unknown section"),
            ("keys = \"k\"\n", "must be a section"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
