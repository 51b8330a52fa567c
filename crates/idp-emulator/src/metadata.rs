//! Fetching an issuer's discovery document and JWKS the way Entra does, and caching them.
//!
//! `GET {iss}/.well-known/openid-configuration`, then `GET {jwks_uri}`: HTTPS only, system
//! roots plus the configured extra CAs, no redirects, a timeout and a body-size cap. A
//! successful fetch is cached per issuer for the metadata TTL; failures are not cached.

use crate::aadsts::Aadsts;
use crate::{Config, Error};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use url::Url;

/// Entra stores only the first 100 keys of a JWKS.
pub const MAX_KEYS: usize = 100;
/// The largest discovery document or JWKS read.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The usable part of an issuer's JWKS.
#[derive(Debug)]
pub(crate) struct Keys {
    /// The first [`MAX_KEYS`] entries of `keys`.
    keys: Vec<Value>,
}

/// An RSA public key found by kid.
#[derive(Debug)]
pub(crate) struct RsaKey {
    pub n: String,
    pub e: String,
}

impl Keys {
    /// Parses a JWKS body: an object with a `keys` array of objects (AADSTS900612 if not).
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no 'keys' array")?;
        if let Some(i) = keys.iter().position(|k| !k.is_object()) {
            return Err(format!("key {i} is not an object"));
        }
        Ok(Self {
            keys: keys.iter().take(MAX_KEYS).cloned().collect(),
        })
    }

    /// The signing key with this `kid` among the first [`MAX_KEYS`]: `Ok(None)` if there is
    /// none, `Err` if it is there but not a usable RSA key.
    pub(crate) fn find(&self, kid: &str) -> Result<Option<RsaKey>, String> {
        let Some(jwk) = self.keys.iter().find(|k| {
            k.get("kid").and_then(Value::as_str) == Some(kid)
                && k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
        }) else {
            return Ok(None);
        };
        let field = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_owned);
        if field("kty").as_deref() != Some("RSA") {
            return Err(format!("key '{kid}' is not an RSA key"));
        }
        match (field("n"), field("e")) {
            (Some(n), Some(e)) => Ok(Some(RsaKey { n, e })),
            _ => Err(format!("key '{kid}' has no 'n' or 'e'")),
        }
    }
}

struct Cached {
    fetched: SystemTime,
    keys: Arc<Keys>,
}

/// Issuer metadata, fetched on demand and cached.
pub(crate) struct MetadataCache {
    /// Made at the first fetch: making it reads the system's CA certificates (some
    /// milliseconds), which an emulator that never fetches metadata need not pay for.
    client: std::sync::OnceLock<reqwest::Client>,
    /// The extra CAs trusted besides the system roots, checked when the cache is made.
    roots: Vec<reqwest::Certificate>,
    fetch_timeout: Duration,
    ttl: Duration,
    require_issuer_match: bool,
    require_same_host_jwks: bool,
    entries: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for MetadataCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn fetch_failed(detail: impl std::fmt::Display) -> Aadsts {
    Aadsts::request(
        90061,
        format!("Request to External OIDC endpoint failed. Details: {detail}"),
    )
}

/// `{issuer}/.well-known/openid-configuration`, without doubling a trailing slash.
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.strip_suffix('/').unwrap_or(issuer)
    )
}

/// `s` as an https URL, or why not.
fn https_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("'{s}' is not a valid URL: {e}"))?;
    if url.scheme() != "https" {
        return Err(format!("'{s}' is not an https URL"));
    }
    Ok(url)
}

impl MetadataCache {
    pub(crate) fn new(config: &Config) -> Result<Self, Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = Vec::new();
        for (index, pem) in config.extra_roots.iter().enumerate() {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::ExtraRoot {
                    index,
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(Error::ExtraRoot {
                    index,
                    reason: "no certificate in it".into(),
                });
            }
            roots.extend(certs);
        }
        Ok(Self {
            client: std::sync::OnceLock::new(),
            roots,
            fetch_timeout: config.fetch_timeout,
            ttl: config.metadata_ttl,
            require_issuer_match: config.require_discovery_issuer_match,
            require_same_host_jwks: config.require_same_host_jwks,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// The HTTPS client metadata is fetched with, made at the first fetch.
    fn client(&self) -> Result<&reqwest::Client, Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.fetch_timeout)
            .connect_timeout(self.fetch_timeout)
            .no_proxy()
            .https_only(true)
            .user_agent(concat!("idp-emulator/", env!("CARGO_PKG_VERSION")));
        if !self.roots.is_empty() {
            builder = builder.tls_certs_merge(self.roots.clone());
        }
        let client = builder.build().map_err(|e| Error::HttpClient {
            reason: e.to_string(),
        })?;
        Ok(self.client.get_or_init(|| client))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The issuer's keys: from the cache if fetched less than the TTL ago, else fetched now.
    pub(crate) async fn keys(&self, issuer: &str, now: SystemTime) -> Result<Arc<Keys>, Aadsts> {
        if let Some(c) = self.entries().get(issuer)
            && now
                .duration_since(c.fetched)
                .is_ok_and(|age| age < self.ttl)
        {
            return Ok(c.keys.clone());
        }
        let keys = Arc::new(self.fetch(issuer).await?);
        self.entries().insert(
            issuer.to_owned(),
            Cached {
                fetched: now,
                keys: keys.clone(),
            },
        );
        Ok(keys)
    }

    /// Forgets every cached issuer.
    pub(crate) fn clear(&self) {
        self.entries().clear();
    }

    async fn fetch(&self, issuer: &str) -> Result<Keys, Aadsts> {
        let issuer_url = https_url(issuer).map_err(fetch_failed)?;
        let discovery_url = discovery_url(issuer);
        let body = self.get(&discovery_url).await?;
        let discovery: Value = serde_json::from_slice(&body)
            .map_err(|e| fetch_failed(format!("{discovery_url}: not JSON: {e}")))?;
        if self.require_issuer_match {
            let served = discovery.get("issuer").and_then(Value::as_str);
            if served != Some(issuer) {
                return Err(fetch_failed(format!(
                    "{discovery_url}: 'issuer' is {served:?}, not the assertion's '{issuer}'"
                )));
            }
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| fetch_failed(format!("{discovery_url}: no 'jwks_uri'")))?;
        let jwks_url = https_url(jwks_uri).map_err(fetch_failed)?;
        if self.require_same_host_jwks
            && (jwks_url.host_str(), jwks_url.port_or_known_default())
                != (issuer_url.host_str(), issuer_url.port_or_known_default())
        {
            return Err(fetch_failed(format!(
                "jwks_uri '{jwks_uri}' is not on the issuer's host"
            )));
        }
        let body = self.get(jwks_uri).await?;
        Keys::parse(&body).map_err(|reason| {
            Aadsts::request(
                900612,
                format!("Failed to parse provider signing keys. Details: {jwks_uri}: {reason}"),
            )
        })
    }

    /// GETs `url` (already known to be https), requiring 200 and at most
    /// [`MAX_BODY_BYTES`].
    async fn get(&self, url: &str) -> Result<Vec<u8>, Aadsts> {
        https_url(url).map_err(fetch_failed)?;
        let fail = |what: String| fetch_failed(format!("GET {url}: {what}"));
        let mut response = self
            .client()
            .map_err(|e| fail(e.to_string()))?
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(fail(format!("status {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(error_chain(&e)))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(fail(format!("body larger than {MAX_BODY_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_never_doubles_the_slash() {
        assert_eq!(
            discovery_url("https://a.example/x"),
            "https://a.example/x/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://a.example/x/"),
            "https://a.example/x/.well-known/openid-configuration"
        );
    }

    #[test]
    fn only_https_urls_are_fetched() {
        assert!(https_url("https://a.example/").is_ok());
        assert!(
            https_url("http://a.example/")
                .unwrap_err()
                .contains("not an https URL")
        );
        assert!(https_url("a.example").is_err());
    }

    #[test]
    fn jwks_parsing_keeps_the_first_hundred_keys_and_finds_by_kid() {
        let keys: Vec<Value> = (0..101)
            .map(|i| serde_json::json!({"kty": "RSA", "kid": format!("k{i}"), "n": "AQ", "e": "AQAB"}))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap();
        let keys = Keys::parse(&body).unwrap();
        assert!(keys.find("k99").unwrap().is_some());
        assert!(keys.find("k100").unwrap().is_none());
    }

    #[test]
    fn jwks_parsing_rejects_what_is_not_a_key_set() {
        assert!(Keys::parse(b"nope").is_err());
        assert!(Keys::parse(b"{}").is_err());
        assert!(Keys::parse(br#"{"keys":{}}"#).is_err());
        assert!(Keys::parse(br#"{"keys":[1]}"#).is_err());
        assert!(Keys::parse(br#"{"keys":[]}"#).is_ok());
    }

    #[test]
    fn find_skips_encryption_keys_and_rejects_non_rsa_keys() {
        let keys = Keys::parse(
            br#"{"keys":[{"kid":"a","kty":"RSA","use":"enc","n":"AQ","e":"AQAB"},
                         {"kid":"b","kty":"EC","crv":"P-256","x":"AQ","y":"AQ"},
                         {"kid":"c","kty":"RSA"}]}"#,
        )
        .unwrap();
        assert!(keys.find("a").unwrap().is_none());
        assert!(keys.find("b").is_err());
        assert!(keys.find("c").is_err());
    }
}
