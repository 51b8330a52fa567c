//! What one `idp` process holds for its commands, built once: the runtime, the HTTPS client
//! (system roots plus `--ca-cert`), the Azure credentials, the keystore and its active
//! signer, the audit log, and Resource Manager clients per cloud. Each part is made on
//! first use, so a command pays only for what it uses (`idp sign` with a key file never
//! reads a CA bundle).

use crate::credentials::{Credentials, TokenFiles};
use crate::managed_identity::ManagedIdentity;
use idp_arm::ArmClient;
use idp_core::audit::AuditLog;
use idp_core::cloud::Cloud;
use idp_core::diagnostic::{Context as _, Report};
use idp_core::keyring::{KeyEntry, KeyStore, Keyring, KeyringError};
use idp_core::signer::Signer;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// How the process runs its network work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// One thread: every command but a server.
    #[default]
    CurrentThread,
    /// Worker threads (`idp serve --workers`, the emulator).
    MultiThread(usize),
}

/// The settings a context is built from, resolved by the binary.
#[derive(Debug, Clone, Default)]
pub struct ContextSettings {
    /// Extra CA files trusted by every outgoing HTTPS call.
    pub ca_certs: Vec<PathBuf>,
    pub keys_dir: PathBuf,
    pub audit_log: Option<PathBuf>,
    pub token_files: TokenFiles,
    /// Resource Manager's endpoint when set (`arm.endpoint`); else each cloud's own.
    pub arm_endpoint: Option<String>,
    /// How Microsoft Graph is read, when it is (`idp doctor --graph`).
    pub graph: Option<GraphSettings>,
    pub runtime: RuntimeKind,
}

/// How Microsoft Graph is reached: its endpoint when set (`graph.endpoint`; else each
/// cloud's) and a token file (`graph.token_file`; else the credential chain).
#[derive(Debug, Clone, Default)]
pub struct GraphSettings {
    pub endpoint: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// The process's shared handles.
pub struct Context {
    settings: ContextSettings,
    runtime: tokio::runtime::Runtime,
    keys: KeyStore,
    http: OnceLock<reqwest::Client>,
    credentials: OnceLock<Credentials>,
    managed_identity: OnceLock<Arc<ManagedIdentity>>,
    audit: OnceLock<Option<Arc<AuditLog>>>,
    /// The active key's signer, by its kid.
    active: Mutex<Option<(String, Arc<Signer>)>>,
    arm: Mutex<HashMap<Cloud, ArmClient>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn new(settings: ContextSettings) -> Result<Self, Report> {
        let runtime = match settings.runtime {
            RuntimeKind::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            RuntimeKind::MultiThread(n) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n.max(1))
                .enable_all()
                .build()?,
        };
        Ok(Self {
            keys: KeyStore::new(&settings.keys_dir),
            settings,
            runtime,
            http: OnceLock::new(),
            credentials: OnceLock::new(),
            managed_identity: OnceLock::new(),
            audit: OnceLock::new(),
            active: Mutex::new(None),
            arm: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `future` to completion on the process's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The runtime, for work that outlives one call (servers).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// The HTTPS client every outgoing call uses: https only, no redirects, the system
    /// roots plus the configured CAs.
    pub fn http(&self) -> Result<&reqwest::Client, Report> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let roots = idp_http::ExtraRoots::from_files(&self.settings.ca_certs)?;
        let client = idp_http::client(&roots, idp_http::Timeouts::default())?;
        Ok(self.http.get_or_init(|| client))
    }

    /// Whether CAs beyond the system roots are trusted (Entra will not trust them).
    pub fn has_extra_cas(&self) -> bool {
        !self.settings.ca_certs.is_empty()
    }

    /// The Azure credential chain and the services' token files.
    pub fn credentials(&self) -> Result<&Credentials, Report> {
        if let Some(c) = self.credentials.get() {
            return Ok(c);
        }
        let http = self.http()?.clone();
        Ok(self
            .credentials
            .get_or_init(|| Credentials::new(http, self.settings.token_files.clone())))
    }

    /// The machine's managed identity, whose token is the `entra-app` way's assertion
    /// (its tokens kept for the process).
    pub fn managed_identity(&self) -> Result<Arc<ManagedIdentity>, Report> {
        if let Some(m) = self.managed_identity.get() {
            return Ok(Arc::clone(m));
        }
        let platform = idp_http::platform_client()?;
        Ok(Arc::clone(self.managed_identity.get_or_init(|| {
            Arc::new(ManagedIdentity::from_env(platform))
        })))
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The audit log, opened (created 0600) on first use, when one is configured.
    pub fn audit(&self) -> Result<Option<Arc<AuditLog>>, Report> {
        if let Some(a) = self.audit.get() {
            return Ok(a.clone());
        }
        let log = match &self.settings.audit_log {
            Some(path) => Some(Arc::new(AuditLog::open(path)?)),
            None => None,
        };
        Ok(self.audit.get_or_init(|| log).clone())
    }

    /// What signs for `entry`: its key file (checked: mode, and that it holds that key),
    /// or its key in Azure Key Vault through the Key Vault credential. Nothing is sent
    /// before the first signature.
    pub fn signer_for(&self, entry: &KeyEntry) -> Result<Signer, Report> {
        let Some(id) = &entry.key_vault else {
            return Ok(Signer::Local(self.keys.load_private(entry)?));
        };
        let id = idp_core::vault_key::VaultKeyId::parse(id)?;
        let client = self.vault_client(&id)?;
        Ok(Signer::remote(
            entry.public.clone(),
            Arc::new(idp_vault::VaultKey::new(client, id)),
        )?)
    }

    /// `ring`'s active key's signer, made once per key for the process.
    pub fn active_signer(&self, ring: &Keyring) -> Result<Arc<Signer>, Report> {
        let entry = ring.active().ok_or(KeyringError::NoActiveKey)?;
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kid, signer)) = active.as_ref()
            && *kid == entry.kid
        {
            return Ok(Arc::clone(signer));
        }
        let signer = Arc::new(self.signer_for(entry)?);
        *active = Some((entry.kid.clone(), Arc::clone(&signer)));
        Ok(signer)
    }

    /// A Key Vault keys client for the vault of `id`.
    pub fn vault_client(
        &self,
        id: &idp_core::vault_key::VaultKeyId,
    ) -> Result<azure_security_keyvault_keys::KeyClient, Report> {
        let credential = self.credentials()?.key_vault()?;
        Ok(idp_vault::client(self.http()?.clone(), id, credential)?)
    }

    /// A Resource Manager client for `cloud`: the configured endpoint, else the cloud's,
    /// with a token for that endpoint; one per cloud for the process.
    pub fn arm(&self, cloud: Cloud) -> Result<ArmClient, Report> {
        let mut clients = self.arm.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&cloud) {
            return Ok(c.clone());
        }
        let (endpoint, scope) = arm_endpoint(self.settings.arm_endpoint.as_deref(), cloud);
        let credential = self
            .credentials()?
            .arm()
            .context("cannot reach Azure Resource Manager")?;
        let client = ArmClient::new(self.http()?.clone(), &endpoint, &scope, credential);
        clients.insert(cloud, client.clone());
        Ok(client)
    }
}

impl Context {
    /// A Microsoft Graph client for `cloud`, when the command was given one (`None`
    /// otherwise): the configured endpoint, else the cloud's.
    pub fn graph(&self, cloud: Cloud) -> Result<Option<idp_arm::graph::GraphClient>, Report> {
        let Some(g) = &self.settings.graph else {
            return Ok(None);
        };
        let endpoint = g
            .endpoint
            .clone()
            .unwrap_or_else(|| cloud.graph_endpoint().to_owned());
        let credential = self.credentials()?.graph(g.token_file.as_deref())?;
        Ok(Some(idp_arm::graph::GraphClient::new(
            self.http()?.clone(),
            &endpoint,
            cloud.graph_endpoint(),
            credential,
        )))
    }
}

/// Resource Manager's endpoint and token scope for `cloud`: the configured endpoint (its
/// own `/.default` scope) when there is one, else the cloud's.
pub fn arm_endpoint(configured: Option<&str>, cloud: Cloud) -> (String, String) {
    match configured {
        Some(e) => {
            let e = e.trim_end_matches('/');
            (e.to_owned(), format!("{e}/.default"))
        }
        None => (
            cloud.arm_endpoint().to_owned(),
            cloud.arm_scope().to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_gets_its_own_arm_endpoint_unless_one_is_configured() {
        for cloud in Cloud::ALL {
            let (endpoint, scope) = arm_endpoint(None, cloud);
            assert_eq!(endpoint, cloud.arm_endpoint());
            assert_eq!(scope, cloud.arm_scope());
        }
        assert_eq!(
            arm_endpoint(Some("https://127.0.0.1:8444/"), Cloud::UsGov),
            (
                "https://127.0.0.1:8444".to_owned(),
                "https://127.0.0.1:8444/.default".to_owned()
            )
        );
    }

    #[test]
    fn one_arm_client_per_cloud_each_at_its_clouds_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("arm");
        std::fs::write(&token, "t").unwrap();
        let ctx = Context::new(ContextSettings {
            keys_dir: dir.path().join("keys"),
            token_files: TokenFiles {
                arm: Some(token),
                key_vault: None,
            },
            ..ContextSettings::default()
        })
        .unwrap();
        let public = ctx.arm(Cloud::Public).unwrap();
        let gov = ctx.arm(Cloud::UsGov).unwrap();
        assert_eq!(public.endpoint(), "https://management.azure.com");
        assert_eq!(gov.endpoint(), "https://management.usgovcloudapi.net");
        assert_eq!(ctx.arm.lock().unwrap().len(), 2);
        let again = ctx.arm(Cloud::UsGov).unwrap();
        assert_eq!(again.endpoint(), gov.endpoint());
        assert_eq!(ctx.arm.lock().unwrap().len(), 2);
    }
}
