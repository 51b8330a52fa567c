//! Where an issuer's documents go: the storage account's blob endpoint, the container and
//! the blob-name prefix, worked out from the issuer URL (or from `storage.endpoint`).

use idp_core::Issuer;
use std::fmt;
use thiserror::Error;

/// Blob endpoint suffixes of Azure's clouds: public, US Government, China.
pub const BLOB_SUFFIXES: [&str; 3] = [
    "blob.core.windows.net",
    "blob.core.usgovcloudapi.net",
    "blob.core.chinacloudapi.cn",
];
/// Static-website endpoint suffixes, in the same order.
const WEB_SUFFIXES: [&str; 3] = [
    "web.core.windows.net",
    "web.core.usgovcloudapi.net",
    "web.core.chinacloudapi.cn",
];
/// The container Azure serves a static website from.
pub const WEB_CONTAINER: &str = "$web";

/// Why a URL names no place in blob storage.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("`{url}` maps to no blob container: {reason}")]
    NoContainer { url: String, reason: String },
    #[error("`{url}` is not an https URL")]
    NotHttps { url: String },
    #[error("container name `{name}` is not valid: {reason}")]
    BadContainer { name: String, reason: &'static str },
}

/// A storage account endpoint, a container in it, and a prefix for blob names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://<acct>.blob.core.windows.net` or, path-style, `https://127.0.0.1:10000/devstoreaccount1`.
    pub service_url: String,
    pub container: String,
    /// Blob-name prefix without leading or trailing `/`; empty for the container root.
    pub prefix: String,
}

impl Target {
    /// The blob name of a document at `relative` (like `.well-known/jwks.json`).
    pub fn blob_name(&self, relative: &str) -> String {
        if self.prefix.is_empty() {
            relative.to_owned()
        } else {
            format!("{}/{relative}", self.prefix)
        }
    }

    /// The container's URL (no query).
    pub fn container_url(&self) -> String {
        format!("{}/{}", self.service_url, self.container)
    }

    /// Maps an issuer to its target: a blob-endpoint URL (`/<container>[/<prefix>]`), a
    /// static-website URL (`$web`, `[/<prefix>]`), or a path-style emulator URL
    /// (`https://<ip or localhost>:<port>/<account>/<container>[/<prefix>]`).
    pub fn from_issuer(issuer: &Issuer) -> Result<Self, TargetError> {
        Self::from_url(issuer.as_str())
    }

    /// Maps a `storage.endpoint` URL (a container URL, with an optional prefix) the same way.
    pub fn from_url(raw: &str) -> Result<Self, TargetError> {
        let url = url::Url::parse(raw).map_err(|e| TargetError::NoContainer {
            url: raw.into(),
            reason: e.to_string(),
        })?;
        if url.scheme() != "https" {
            return Err(TargetError::NotHttps { url: raw.into() });
        }
        let none = |reason: &str| TargetError::NoContainer {
            url: raw.into(),
            reason: reason.into(),
        };
        let host = url
            .host_str()
            .ok_or_else(|| none("no host"))?
            .to_ascii_lowercase();
        let origin = match url.port() {
            Some(p) => format!("https://{host}:{p}"),
            None => format!("https://{host}"),
        };
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let path_style = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
            || host == "localhost";

        if path_style {
            let [account, container, rest @ ..] = segments.as_slice() else {
                return Err(none(
                    "an emulator URL needs /<account>/<container> after the host",
                ));
            };
            return Self::checked(format!("{origin}/{account}"), container, rest);
        }
        for (blob, web) in BLOB_SUFFIXES.iter().zip(WEB_SUFFIXES) {
            if let Some(account) = host.strip_suffix(&format!(".{blob}")) {
                let [container, rest @ ..] = segments.as_slice() else {
                    return Err(none(
                        "a blob endpoint URL needs a container after the host (https://<account>.blob.core.windows.net/<container>)",
                    ));
                };
                if account.contains('.') {
                    return Err(none("the account name has a dot"));
                }
                return Self::checked(origin, container, rest);
            }
            if let Some(rest_host) = host.strip_suffix(&format!(".{web}")) {
                // <account>.z<NN>.web.core.windows.net
                let (account, zone) = rest_host.split_once('.').ok_or_else(|| {
                    none("a static-website URL looks like https://<account>.z<NN>.web.core.windows.net")
                })?;
                if !zone.starts_with('z') || account.contains('.') {
                    return Err(none(
                        "a static-website URL looks like https://<account>.z<NN>.web.core.windows.net",
                    ));
                }
                let service = format!("https://{account}.{blob}");
                return Self::checked(service, WEB_CONTAINER, &segments);
            }
        }
        Err(none(
            "the host is not an Azure blob or static-website endpoint; set storage.endpoint (IDP_STORAGE_ENDPOINT) to the container URL behind it",
        ))
    }

    fn checked(service_url: String, container: &str, rest: &[&str]) -> Result<Self, TargetError> {
        check_container(container)?;
        Ok(Self {
            service_url,
            container: container.to_owned(),
            prefix: rest.join("/"),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "container `{}` at {}", self.container, self.service_url)?;
        if !self.prefix.is_empty() {
            write!(f, " (prefix `{}/`)", self.prefix)?;
        }
        Ok(())
    }
}

/// Azure's container-name rules: 3 to 63 characters, lowercase letters, digits and single
/// hyphens, starting and ending with a letter or digit; `$web` and `$root` are special.
fn check_container(name: &str) -> Result<(), TargetError> {
    let bad = |reason| {
        Err(TargetError::BadContainer {
            name: name.into(),
            reason,
        })
    };
    if name == WEB_CONTAINER || name == "$root" {
        return Ok(());
    }
    if !(3..=63).contains(&name.len()) {
        return bad("it must be 3 to 63 characters long");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("it may contain only lowercase letters, digits and hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return bad("hyphens may not start or end it, or come in pairs");
    }
    Ok(())
}

impl idp_core::diagnostic::Diagnostic for TargetError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            TargetError::NotHttps { .. } => "storage is reached over https only".into(),
            _ => format!(
                "publish-metadata needs an issuer like https://<account>.blob.core.windows.net/<container>, https://<account>.z<NN>.web.core.windows.net (static website) or https://127.0.0.1:<port>/<account>/<container> (emulator); behind a custom domain, set the container URL with --endpoint / {} / `storage.endpoint`",
                "IDP_STORAGE_ENDPOINT"
            ),
        })
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<Target, TargetError> {
        Target::from_issuer(&Issuer::parse(s).unwrap())
    }

    fn target(service: &str, container: &str, prefix: &str) -> Target {
        Target {
            service_url: service.into(),
            container: container.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn blob_endpoints_of_every_cloud() {
        assert_eq!(
            t("https://acct.blob.core.windows.net/oidc").unwrap(),
            target("https://acct.blob.core.windows.net", "oidc", "")
        );
        assert_eq!(
            t("https://acct.blob.core.windows.net/oidc/").unwrap(),
            target("https://acct.blob.core.windows.net", "oidc", "")
        );
        assert_eq!(
            t("https://acct.blob.core.windows.net/oidc/tenant-a/v1").unwrap(),
            target("https://acct.blob.core.windows.net", "oidc", "tenant-a/v1")
        );
        assert_eq!(
            t("https://gov.blob.core.usgovcloudapi.net/c01")
                .unwrap()
                .service_url,
            "https://gov.blob.core.usgovcloudapi.net"
        );
        assert_eq!(
            t("https://cn.blob.core.chinacloudapi.cn/c01")
                .unwrap()
                .container,
            "c01"
        );
    }

    #[test]
    fn static_websites_go_to_the_web_container() {
        assert_eq!(
            t("https://acct.z13.web.core.windows.net/").unwrap(),
            target("https://acct.blob.core.windows.net", "$web", "")
        );
        assert_eq!(
            t("https://acct.z6.web.core.windows.net/p").unwrap(),
            target("https://acct.blob.core.windows.net", "$web", "p")
        );
    }

    #[test]
    fn path_style_emulator_urls() {
        assert_eq!(
            t("https://127.0.0.1:10000/devstoreaccount1/oidc").unwrap(),
            target("https://127.0.0.1:10000/devstoreaccount1", "oidc", "")
        );
        assert_eq!(
            t("https://localhost:4443/devstoreaccount1/oidc/x/").unwrap(),
            target("https://localhost:4443/devstoreaccount1", "oidc", "x")
        );
    }

    #[test]
    fn blob_names_join_prefix_and_path() {
        let a = target("https://h", "c", "");
        let b = target("https://h", "c", "p/q");
        assert_eq!(
            a.blob_name(".well-known/jwks.json"),
            ".well-known/jwks.json"
        );
        assert_eq!(
            b.blob_name(".well-known/jwks.json"),
            "p/q/.well-known/jwks.json"
        );
        assert_eq!(b.container_url(), "https://h/c");
    }

    #[test]
    fn issuers_that_map_to_no_container_are_refused() {
        for s in [
            "https://acct.blob.core.windows.net",
            "https://acct.blob.core.windows.net/",
            "https://example.com/oidc",
            "https://127.0.0.1:10000/devstoreaccount1",
            "https://acct.web.core.windows.net/",
        ] {
            assert!(matches!(t(s), Err(TargetError::NoContainer { .. })), "{s}");
        }
        assert!(matches!(
            t("https://acct.blob.core.windows.net/Bad_Name"),
            Err(TargetError::BadContainer { .. })
        ));
        assert!(matches!(
            t("https://acct.blob.core.windows.net/ab"),
            Err(TargetError::BadContainer { .. })
        ));
        assert!(matches!(
            Target::from_url("http://acct.blob.core.windows.net/c01"),
            Err(TargetError::NotHttps { .. })
        ));
    }
}
