//! Microsoft Graph as idp reads it: the federated credentials of the publisher's own app
//! registration (the `entra-app` way's trust), for `idp doctor`.
//!
//! `GET {endpoint}/v1.0/applications(appId='{appId}')/federatedIdentityCredentials`
//! (Microsoft Graph v1.0, "List federatedIdentityCredentials"; the alternate key
//! `appId` is documented on "Get application"), with a token for the cloud's Graph resource
//! that may read applications (`Application.Read.All`, or `Application.ReadWrite.OwnedBy`
//! for an owner). Answers are read up to 1 MiB; at most 20 credentials are kept (Graph's
//! limit per application); what Graph says in an error is redacted before it is kept.

use crate::{Bearer, Fic, MAX_BODY};
use azure_core::credentials::TokenCredential;
use std::sync::Arc;
use thiserror::Error;

/// The most federated credentials an application may hold (Microsoft Graph,
/// "federatedIdentityCredential resource type": "A maximum of 20 objects").
pub const MAX_APP_FICS: usize = 20;

/// Why Graph did not answer what was asked.
#[derive(Debug, Error)]
pub enum GraphError {
    #[error(
        "Microsoft Graph knows no application with app id {app_id} in the publisher's tenant ({code})"
    )]
    NotFound { app_id: String, code: String },
    #[error("Microsoft Graph refused to read application {app_id} ({status} {code})")]
    Forbidden {
        app_id: String,
        status: u16,
        code: String,
    },
    #[error("Microsoft Graph answered {status} {code} for application {app_id}: {message}")]
    Other {
        app_id: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach Microsoft Graph at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("cannot get a Microsoft Graph token for {scope}: {detail}")]
    Credential { scope: String, detail: String },
    #[error(
        "Microsoft Graph's answer for application {app_id} is not what the API documents: {detail}"
    )]
    Malformed { app_id: String, detail: String },
}

impl idp_core::diagnostic::Diagnostic for GraphError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            GraphError::NotFound { .. } => "check the customer's app id (`idp customers show NAME`): it is the publisher's app registration's application (client) id, registered in the publisher's tenant, which the Graph token must be for".into(),
            GraphError::Forbidden { status: 401, .. } => "the Graph token is missing, expired or for another audience: give a fresh one in --graph-token-file / IDP_GRAPH_TOKEN_FILE".into(),
            GraphError::Forbidden { .. } => "the identity reading Graph needs Application.Read.All (or to own the app, with Application.ReadWrite.OwnedBy)".into(),
            GraphError::Unreachable { .. } => "check --graph-endpoint / IDP_GRAPH_ENDPOINT and the network; for a private CA, --ca-cert / IDP_CA_CERT".into(),
            GraphError::Credential { .. } => "give a Graph token in --graph-token-file / IDP_GRAPH_TOKEN_FILE, or log in with `az login`".into(),
            GraphError::Other { .. } | GraphError::Malformed { .. } => "retry later; if it persists, check the app registration in the Entra admin center".into(),
        })
    }
}

/// A client for Microsoft Graph at `endpoint` (https://graph.microsoft.com in the global
/// cloud), authenticating with a bearer token for `resource`'s `/.default` scope (Graph's
/// resource of the cloud, whatever host the requests go to: a proxy or an emulator).
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    endpoint: String,
    bearer: Bearer,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        resource: &str,
        credential: Arc<dyn TokenCredential>,
    ) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let scope = format!("{}/.default", resource.trim_end_matches('/'));
        Self {
            http,
            bearer: Bearer::new(scope, credential),
            endpoint,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The federated credentials of the application whose app id is `app_id`.
    pub async fn app_fics(&self, app_id: &str) -> Result<Vec<Fic>, GraphError> {
        // An app id is a GUID: nothing in it needs escaping in the OData key, and anything
        // else is refused before it is sent.
        if !idp_core::azure_id::is_guid(app_id) {
            return Err(GraphError::Malformed {
                app_id: app_id.to_owned(),
                detail: "an app id is a GUID".into(),
            });
        }
        let url = format!(
            "{}/v1.0/applications(appId='{app_id}')/federatedIdentityCredentials",
            self.endpoint
        );
        let token = self
            .bearer
            .token()
            .await
            .map_err(|(scope, detail)| GraphError::Credential { scope, detail })?;
        let request = self.http.get(&url).bearer_auth(token.expose());
        let (status, body) = idp_http::send_and_read(request, MAX_BODY)
            .await
            .map_err(|detail| GraphError::Unreachable { url, detail })?;
        read_answer(app_id, status, &body)
    }
}

/// What Graph answered with `status` for application `app_id`'s federated credentials:
/// the credentials of a 200, else the error its body names (redacted).
pub fn read_answer(app_id: &str, status: u16, body: &[u8]) -> Result<Vec<Fic>, GraphError> {
    if status != 200 {
        let err: crate::ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let code = idp_core::secret::redact(&err.error.code);
        let message = idp_core::secret::redact(&err.error.message);
        let app_id = app_id.to_owned();
        return Err(match status {
            404 => GraphError::NotFound { app_id, code },
            401 | 403 => GraphError::Forbidden {
                app_id,
                status,
                code,
            },
            _ => GraphError::Other {
                app_id,
                status,
                code,
                message,
            },
        });
    }
    parse_fics(body).map_err(|detail| GraphError::Malformed {
        app_id: app_id.to_owned(),
        detail,
    })
}

/// Graph's `{"value":[{"name","issuer","subject","audiences":[…]}…]}`; at most
/// [`MAX_APP_FICS`] are kept.
pub fn parse_fics(body: &[u8]) -> Result<Vec<Fic>, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let value = v["value"].as_array().ok_or("no `value` array")?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Ok(value
        .iter()
        .take(MAX_APP_FICS)
        .map(|f| Fic {
            name: s(&f["name"]),
            issuer: s(&f["issuer"]),
            subject: s(&f["subject"]),
            audiences: f["audiences"]
                .as_array()
                .map(|a| a.iter().map(s).collect())
                .unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphs_list_is_read_as_graph_writes_it() {
        let body = br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#applications('x')/federatedIdentityCredentials","value":[
            {"id":"1","name":"publisher-mi","issuer":"https://login.microsoftonline.com/t/v2.0","subject":"oid","description":null,"audiences":["api://AzureADTokenExchange"]}]}"#;
        let fics = parse_fics(body).unwrap();
        assert_eq!(fics.len(), 1);
        assert_eq!(fics[0].name, "publisher-mi");
        assert_eq!(fics[0].issuer, "https://login.microsoftonline.com/t/v2.0");
        assert_eq!(fics[0].subject, "oid");
        assert_eq!(fics[0].audiences, ["api://AzureADTokenExchange"]);
        assert!(parse_fics(b"{}").is_err());
        assert!(parse_fics(b"not json").is_err());
        // No more than Graph's limit is kept, whatever comes.
        let many: Vec<_> = (0..50)
            .map(|i| serde_json::json!({"name": format!("f{i}")}))
            .collect();
        let body = serde_json::json!({ "value": many }).to_string();
        assert_eq!(parse_fics(body.as_bytes()).unwrap().len(), MAX_APP_FICS);
    }
}
