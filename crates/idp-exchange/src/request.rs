//! The token request, as Entra documents it for a federated credential.

use crate::Secret;
use thiserror::Error;

/// The global cloud's authority host.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Everything a token request carries except the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://login.microsoftonline.com` (no trailing slash).
    pub authority: String,
    /// The customer's tenant id (or a verified domain).
    pub tenant: String,
    /// The managed identity's client id (not its principal id).
    pub client_id: String,
    /// `<resource>/.default`.
    pub scope: String,
}

/// Why a request cannot be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("authority `{0}` is not an https URL")]
    AuthorityNotHttps(String),
    #[error("authority `{0}` must be a bare host URL like https://login.microsoftonline.com")]
    AuthorityHasPath(String),
    #[error("tenant `{0}` is not a tenant id or domain")]
    BadTenant(String),
    #[error(
        "client id `{0}` is not a GUID: give the managed identity's client id (its clientId, not its principalId)"
    )]
    BadClientId(String),
    #[error(
        "scope `{0}` must be one resource followed by /.default, like https://vault.azure.net/.default"
    )]
    BadScope(String),
}

pub use idp_core::azure_id::{is_guid, is_tenant};

impl Target {
    /// Checks each value before anything is signed or sent.
    pub fn new(
        authority: &str,
        tenant: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<Self, RequestError> {
        let authority = authority.trim_end_matches('/');
        let url = url::Url::parse(authority)
            .map_err(|_| RequestError::AuthorityNotHttps(authority.into()))?;
        if url.scheme() != "https" {
            return Err(RequestError::AuthorityNotHttps(authority.into()));
        }
        if url.path() != "/" || url.query().is_some() {
            return Err(RequestError::AuthorityHasPath(authority.into()));
        }
        if !is_tenant(tenant) {
            return Err(RequestError::BadTenant(tenant.into()));
        }
        if !is_guid(client_id) {
            return Err(RequestError::BadClientId(client_id.into()));
        }
        let resource = scope.strip_suffix("/.default").unwrap_or("");
        if resource.is_empty() || scope.contains(char::is_whitespace) {
            return Err(RequestError::BadScope(scope.into()));
        }
        Ok(Self {
            authority: authority.into(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            scope: scope.into(),
        })
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }
}

/// The form fields, in the order azure-identity sends them.
pub fn form<'a>(target: &'a Target, assertion: &'a Secret) -> [(&'static str, &'a str); 5] {
    [
        ("client_assertion", assertion.expose()),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_id", &target.client_id),
        ("grant_type", "client_credentials"),
        ("scope", &target.scope),
    ]
}

impl idp_core::diagnostic::Diagnostic for RequestError {
    fn hint(&self) -> Option<String> {
        Some("--tenant is the customer's tenant id, --client-id the managed identity's client id, --scope one resource's `<resource>/.default`".into())
    }

    fn is_usage(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const C: &str = "00000000-1111-2222-3333-444444444444";

    #[test]
    fn builds_the_documented_request() {
        let t = Target::new(
            "https://login.microsoftonline.com/",
            T,
            C,
            "https://vault.azure.net/.default",
        )
        .unwrap();
        assert_eq!(
            t.token_url(),
            format!("https://login.microsoftonline.com/{T}/oauth2/v2.0/token")
        );
        let a = Secret::new("h.c.s");
        let f = form(&t, &a);
        assert!(f.contains(&("grant_type", "client_credentials")));
        assert!(f.contains(&("client_assertion_type", ASSERTION_TYPE)));
        assert!(f.contains(&("client_id", C)));
        assert!(f.contains(&("scope", "https://vault.azure.net/.default")));
        assert!(f.contains(&("client_assertion", "h.c.s")));
    }

    #[test]
    fn refuses_bad_values_before_sending() {
        let s = "https://vault.azure.net/.default";
        assert!(matches!(
            Target::new("http://login.microsoftonline.com", T, C, s),
            Err(RequestError::AuthorityNotHttps(_))
        ));
        assert!(matches!(
            Target::new("https://login.microsoftonline.com/x", T, C, s),
            Err(RequestError::AuthorityHasPath(_))
        ));
        assert!(matches!(
            Target::new(DEFAULT_AUTHORITY, "a b", C, s),
            Err(RequestError::BadTenant(_))
        ));
        assert!(matches!(
            Target::new(DEFAULT_AUTHORITY, T, "not-a-guid", s),
            Err(RequestError::BadClientId(_))
        ));
        assert!(matches!(
            Target::new(DEFAULT_AUTHORITY, T, C, "https://vault.azure.net"),
            Err(RequestError::BadScope(_))
        ));
        assert!(matches!(
            Target::new(DEFAULT_AUTHORITY, T, C, "/.default"),
            Err(RequestError::BadScope(_))
        ));
        assert!(Target::new(DEFAULT_AUTHORITY, "contoso.onmicrosoft.com", C, s).is_ok());
    }

    #[test]
    fn the_assertion_never_shows_in_debug() {
        assert!(!format!("{:?}", Secret::new("SECRET")).contains("SECRET"));
    }
}
