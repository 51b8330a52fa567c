//! Command-line types. Parsing only: every command's work is in `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `idp --version`: the crate's version and the commit it was built from (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IDP_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "idp",
    version = VERSION,
    about = "A self-hosted OIDC issuer for Microsoft Entra workload identity federation",
    long_about = "idp signs short-lived assertions that Microsoft Entra exchanges for a managed \
identity's access token in another tenant, and renders the two static documents \
(discovery and JWKS) that make the issuer verifiable.\n\n\
Settings come from flags, then IDP_* environment variables, then idp.toml, then defaults."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command understands. Each has an `IDP_*` variable and an idp.toml key.
#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Configuration file [env: IDP_CONFIG] [default: ./idp.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Issuer URL, exactly as the FIC carries it [env: IDP_ISSUER] [toml: issuer]
    #[arg(long, global = true, value_name = "URL")]
    pub issuer: Option<String>,
    /// Folder holding keyring.json and the private keys [env: IDP_KEYS_DIR] [toml: keys.dir] [default: keys beside idp.toml]
    #[arg(long, global = true, value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    /// Path of the JWKS relative to the issuer [env: IDP_METADATA_JWKS_PATH] [toml: metadata.jwks_path] [default: .well-known/jwks.json]
    #[arg(long, global = true, value_name = "PATH")]
    pub jwks_path: Option<String>,
    /// Extra CA certificate(s) (PEM) trusted by every outgoing HTTPS call, besides the system roots; repeatable [env: IDP_CA_CERT, `:`-separated] [toml: ca_cert]
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_cert: Vec<PathBuf>,
    /// The customer inventory [env: IDP_CUSTOMERS_FILE] [toml: customers.file] [default: customers.toml beside idp.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub customers_file: Option<PathBuf>,
    /// Append a JSON line for every assertion idp signs (time, command, customer, jti, iss, sub, aud, kid, iat, exp; never the assertion) [env: IDP_AUDIT_LOG] [toml: audit.log]
    #[arg(long, global = true, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// A file holding a bearer token for Key Vault, for keys held there; else the Azure CLI login, workload or managed identity [env: IDP_KEY_VAULT_TOKEN_FILE] [toml: key_vault.token_file]
    #[arg(long, global = true, value_name = "FILE")]
    pub key_vault_token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create idp.toml and the first (active) signing key
    Init(InitArgs),
    /// Manage signing keys and their rotation
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Render the discovery document and the JWKS exactly as they will be published
    Metadata(MetadataArgs),
    /// Sign a client assertion (RS256 JWT) for Entra's token exchange
    Sign(SignArgs),
    /// Decode an assertion, verify it against the local keyring, and say what fails
    Inspect(InspectArgs),
    /// Serve the discovery document and the JWKS at the issuer's paths
    Serve(ServeArgs),
    /// Upload the discovery document and the JWKS to Azure Blob Storage, then read them back as Entra would
    PublishMetadata(PublishArgs),
    /// Run a local Entra: token endpoint, identities and federated credentials (ARM API), over HTTPS
    Emulator(EmulatorArgs),
    /// Sign a fresh assertion and exchange it at Entra for a managed identity's access token
    Token(TokenArgs),
    /// The customer inventory: each customer's tenant, managed identity and FIC subject
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Check what Entra will check, before Entra does: the published issuer, and customers
    Doctor(DoctorArgs),
    /// Run a command with fresh assertions for a customer: an assertion file kept fresh, and a loopback endpoint speaking the GitHub Actions and Azure DevOps token protocols
    Exec(ExecArgs),
    /// Write an assertion file and print the variables that name it, for CI steps that cannot wrap a command (nothing refreshes the file)
    Env(EnvArgs),
    /// Serve the GitHub Actions and Azure DevOps token protocols for one customer, for tools started outside idp
    ServeAssertions(ServeAssertionsArgs),
    /// Print the federated identity credential a customer's managed identity needs, with idp's issuer and audience exactly
    Fic(FicArgs),
    /// The managed-application package that creates the customer's half of the trust
    #[command(subcommand)]
    ManagedApp(ManagedAppCommand),
}

/// One customer: of the inventory, or given by its ids.
#[derive(Debug, Args, Clone, Default)]
pub struct OneCustomer {
    /// A customer of the inventory (`idp customers`): its tenant, client id, subject, cloud and scope
    #[arg(long, value_name = "NAME", conflicts_with_all = ["tenant", "client_id", "subject"])]
    pub customer: Option<String>,
    /// The customer's tenant: its id, or one of its verified domains (where the managed identity lives)
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// The managed identity's client id (clientId, not principalId)
    #[arg(long, value_name = "C")]
    pub client_id: Option<String>,
    /// The assertions' `sub`: the FIC's subject, exactly
    #[arg(long, value_name = "S")]
    pub subject: Option<String>,
}

/// Many customers of the inventory, each on its own.
#[derive(Debug, Args, Clone, Default)]
pub struct ManyCustomers {
    /// Every customer of the inventory, each on its own
    #[arg(long, conflicts_with_all = ["tenant", "client_id", "subject", "customers", "customer"])]
    pub all: bool,
    /// These customers of the inventory, comma-separated, each on its own
    #[arg(long, value_name = "A,B,…", value_delimiter = ',', conflicts_with_all = ["tenant", "client_id", "subject", "customer"])]
    pub customers: Vec<String>,
    /// With --all/--customers: only the customers of shard I of N, by a hash of each name (a CI matrix of N runners, each customer on one; `idp customers list --format github-matrix --shards N` prints it)
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// With --all/--customers: customers served at once (at least 1)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
}

/// The cloud and the audience of the assertions.
#[derive(Debug, Args, Clone, Default)]
pub struct CloudArgs {
    /// The customers' Azure cloud: public, usgov or china (or AzureCloud, AzureUSGovernment, AzureChinaCloud); sets the default authority host and audience [env: IDP_EXCHANGE_CLOUD] [toml: exchange.cloud] [default: the customer's, else public]
    #[arg(long, value_name = "CLOUD")]
    pub cloud: Option<String>,
    /// The assertions' `aud`, the one audience the FIC carries [env: IDP_ASSERTION_AUDIENCE] [toml: assertion.audience] [default: the cloud's, api://AzureADTokenExchange]
    #[arg(long, value_name = "A")]
    pub audience: Option<String>,
}

/// Where Entra is.
#[derive(Debug, Args, Clone, Default)]
pub struct AuthorityArgs {
    /// Entra's authority host, given to tools as AZURE_AUTHORITY_HOST [env: IDP_EXCHANGE_AUTHORITY_HOST] [toml: exchange.authority_host] [default: the cloud's, https://login.microsoftonline.com]
    #[arg(long, value_name = "URL")]
    pub authority_host: Option<String>,
}

/// How idp reaches Azure Resource Manager as the publisher.
#[derive(Debug, Args, Clone, Default)]
pub struct ArmArgs {
    /// Azure Resource Manager's endpoint [env: IDP_ARM_ENDPOINT] [toml: arm.endpoint] [default: the cloud's, https://management.azure.com]
    #[arg(long, value_name = "URL")]
    pub arm_endpoint: Option<String>,
    /// A file holding a bearer token for ARM; else the Azure CLI login, workload or managed identity [env: IDP_ARM_TOKEN_FILE] [toml: arm.token_file]
    #[arg(long, value_name = "FILE")]
    pub arm_token_file: Option<PathBuf>,
}

/// How `idp doctor` reads the publisher's app registration over Microsoft Graph.
#[derive(Debug, Args, Clone, Default)]
pub struct GraphArgs {
    /// Read entra-app customers' app registrations over Microsoft Graph with the Azure CLI login, workload or managed identity (a Graph token file does the same)
    #[arg(long)]
    pub graph: bool,
    /// Microsoft Graph's endpoint [env: IDP_GRAPH_ENDPOINT] [toml: graph.endpoint] [default: the cloud's, https://graph.microsoft.com]
    #[arg(long, value_name = "URL")]
    pub graph_endpoint: Option<String>,
    /// A file holding a bearer token for Microsoft Graph in the publisher's tenant (Application.Read.All) [env: IDP_GRAPH_TOKEN_FILE] [toml: graph.token_file]
    #[arg(long, value_name = "FILE")]
    pub graph_token_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub who: OneCustomer,
    #[command(flatten)]
    pub many: ManyCustomers,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub authority: AuthorityArgs,
    /// How long each assertion is valid; the file is refreshed every third of it. SDKs re-read the file only every 10 minutes, so keep it over 20m; the az CLI keeps its first assertion, so make it outlive the job [default: 1h, at most 24h]
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
    /// Also set a CI system's own request variables (ACTIONS_ID_TOKEN_REQUEST_* or SYSTEM_OIDCREQUESTURI/SYSTEM_ACCESSTOKEN) to idp's endpoint
    #[arg(long = "as", value_enum, value_name = "CI")]
    pub as_ci: Option<AsCi>,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub who: OneCustomer,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub authority: AuthorityArgs,
    /// How the variables are printed
    #[arg(long, value_enum, default_value = "sh")]
    pub format: EnvFormat,
    /// Write the assertion here (0600, no trailing newline) [default: a new private folder under the temporary folder]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How long the assertion is valid: nothing refreshes the file, so cover the steps that use it [default: 1h, at most 24h]
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    /// `export NAME='value'` lines, for `eval "$(idp env …)"`
    Sh,
    /// Appends NAME=value lines to $GITHUB_ENV and masks the assertion (::add-mask::)
    Github,
    /// ##vso[task.setvariable …] lines; the assertion as a secret variable IDP_ASSERTION
    AzurePipelines,
    /// One JSON document: the variables and the expiry
    Json,
}

#[derive(Debug, Args)]
pub struct ServeAssertionsArgs {
    /// Whom the endpoint signs for (it signs for no one else)
    #[command(flatten)]
    pub who: OneCustomer,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// Address to listen on: loopback only unless --allow-remote
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// The request token, read from this file (0600; created with a fresh random token when missing)
    #[arg(long, value_name = "FILE")]
    pub request_token_file: PathBuf,
    /// Serve other hosts too; needs --tls-cert and --tls-key (the bearer and the assertions must not cross a network in clear)
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    pub allow_remote: bool,
    /// PEM certificate chain for HTTPS
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How long each assertion is valid [env: IDP_ASSERTION_LIFETIME] [toml: assertion.lifetime] [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AsCi {
    /// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN
    Github,
    /// SYSTEM_OIDCREQUESTURI, SYSTEM_ACCESSTOKEN and a service connection id
    AzurePipelines,
}

#[derive(Debug, Args)]
pub struct FicArgs {
    /// Whose credential: `issuer` (on the customer's managed identity, trusting idp's issuer) or `entra-app` (on the publisher's multi-tenant app registration, trusting the publisher's user-assigned managed identity: --publisher-tenant, --principal-id)
    #[arg(long, value_enum, default_value = "issuer")]
    pub way: WayArg,
    /// The FIC's subject: what `idp token --subject` will sign (1 to 600 characters)
    #[arg(
        long,
        value_name = "S",
        required_unless_present = "way",
        required_if_eq("way", "issuer")
    )]
    pub subject: Option<String>,
    /// The credential's name: 3 to 120 letters, digits, `-` or `_`, starting with a letter or digit
    #[arg(long, value_name = "N", default_value = "idp")]
    pub name: String,
    /// Output form
    #[arg(long, value_enum, default_value = "json")]
    pub format: FicFormat,
    /// The managed identity's name (arm, bicep, az, terraform); without it, a parameter or a quoted placeholder
    #[arg(long, value_name = "NAME")]
    pub identity_name: Option<String>,
    /// The managed identity's resource group (az, terraform); without it, a variable or a quoted placeholder
    #[arg(long, value_name = "RG")]
    pub resource_group: Option<String>,
    /// With --way entra-app: the publisher's tenant id (a GUID, in lowercase), where the app and the managed identity are; the issuer is https://<authority host>/<T>/v2.0
    #[arg(long, value_name = "T", required_if_eq("way", "entra-app"), requires = "way", conflicts_with_all = ["subject", "identity_name", "resource_group"])]
    pub publisher_tenant: Option<String>,
    /// With --way entra-app: the principal (object) id of the publisher's user-assigned managed identity (a GUID, in lowercase: its tokens' `sub`), the FIC's subject
    #[arg(long, value_name = "P", required_if_eq("way", "entra-app"), requires = "way", conflicts_with_all = ["subject", "identity_name", "resource_group"])]
    pub principal_id: Option<String>,
    /// With --way entra-app: the app's application (client) id (az, bicep, terraform); without it, a variable or a quoted placeholder
    #[arg(long, value_name = "APP_ID", requires = "way", conflicts_with_all = ["subject", "identity_name", "resource_group"])]
    pub app_id: Option<String>,
    /// With --way entra-app: Entra's authority host in the issuer, like https://127.0.0.1:8444 for the emulator [env: IDP_EXCHANGE_AUTHORITY_HOST] [toml: exchange.authority_host] [default: the cloud's, https://login.microsoftonline.com]
    #[arg(long, value_name = "URL", requires = "way", conflicts_with_all = ["subject", "identity_name", "resource_group"])]
    pub authority_host: Option<String>,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FicFormat {
    /// The ARM REST body (PUT …/federatedIdentityCredentials/NAME?api-version=2023-01-31); entra-app: the Microsoft Graph body (POST https://graph.microsoft.com/v1.0/applications(appId='APP_ID')/federatedIdentityCredentials, or …/applications/OBJECT_ID/…)
    Json,
    /// A resource for an ARM template (issuer way only: an ARM template cannot hold the app's Microsoft Graph credential)
    Arm,
    /// A Bicep file; entra-app: with the Microsoft Graph extension (microsoftGraphV1)
    Bicep,
    /// An `az identity federated-credential create` command line; entra-app: `az ad app federated-credential create`
    Az,
    /// A Terraform azurerm_federated_identity_credential configuration; entra-app: azuread_application_federated_identity_credential (azuread 3.x)
    Terraform,
}

#[derive(Debug, Subcommand)]
pub enum ManagedAppCommand {
    /// Render mainTemplate.json, createUiDefinition.json and app.zip for `az managedapp definition create`
    Package {
        /// The folder to write the package to (created if missing; must be empty unless --force)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace the package's three files in a folder that is not empty
        #[arg(long)]
        force: bool,
        /// How the customer's tenant trusts the publisher: `issuer` (the template creates a managed identity and its FIC trusting idp's issuer) or `entra-app` (no identity: the template gives the publisher's app, consented to in the customer's tenant, its roles; --app-id)
        #[arg(long, value_enum, default_value = "issuer")]
        way: WayArg,
        /// With --way entra-app: the publisher's multi-tenant app's application (client) id; the create form looks up its service principal in the customer's tenant
        #[arg(
            long,
            value_name = "APP_ID",
            required_if_eq("way", "entra-app"),
            requires = "way"
        )]
        app_id: Option<String>,
        #[command(flatten)]
        cloud: CloudArgs,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check these customers: a real exchange each unless --no-exchange, the FIC over ARM when the identity is recorded, and for entra-app customers the managed identity's token and (with --graph or a Graph token file) the app's FIC over Microsoft Graph
    #[command(flatten)]
    pub who: OneCustomer,
    #[command(flatten)]
    pub many: ManyCustomers,
    /// Check customers' recorded values only; send no token request
    #[arg(long)]
    pub no_exchange: bool,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub authority: AuthorityArgs,
    #[command(flatten)]
    pub arm: ArmArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: DoctorFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DoctorFormat {
    /// A line per check: ✓, ! or ✗, then what to do
    Text,
    /// One JSON document, for pipelines
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Add a customer: read its UAMI over ARM (--identity), or give its tenant, the UAMI's client id and the FIC's subject; or, of the entra-app way, its tenant and the publisher's app id
    Add(Box<AddCustomer>),
    /// Print the URL at which an entra-app customer's admin consents to the publisher's app (once per tenant)
    ConsentUrl {
        name: String,
        #[command(flatten)]
        authority: AuthorityArgs,
    },
    /// List the customers
    List {
        /// Print JSON instead of a table (as --format json)
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// What to print: a table, JSON, or GitHub Actions' matrix of --shards shards (`{"include":[{"shard":"1/N"},…]}`) for `idp … --all --shard ${{ matrix.shard }}`
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// With --format github-matrix: how many shards (1 to 256)
        #[arg(long, value_name = "N", required_if_eq("format", "github-matrix"), value_parser = clap::value_parser!(u32).range(1..=256))]
        shards: Option<u32>,
    },
    /// Print one customer as JSON
    Show { name: String },
    /// Remove a customer from the inventory (nothing changes in Azure)
    Remove { name: String },
}

/// `idp customers add`'s arguments.
#[derive(Debug, Args)]
pub struct AddCustomer {
    /// The customer's name: letters, digits, `-`, `_`, `.`
    pub name: String,
    /// How the customer's tenant trusts the publisher: `issuer` (a FIC on the customer's UAMI trusts idp's issuer) or `entra-app` (the publisher's multi-tenant app, consented to in the customer's tenant, trusts the publisher's managed identity)
    #[arg(long, value_enum, default_value = "issuer")]
    pub way: WayArg,
    /// The UAMI's ARM resource id (/subscriptions/…/userAssignedIdentities/…): its tenant and client id are read over ARM, and the subject from the FIC that trusts idp's issuer
    #[arg(long, value_name = "ID", required_unless_present_any = ["client_id", "app_id"], conflicts_with_all = ["app_id", "managed_identity"])]
    pub identity: Option<String>,
    /// The customer's tenant id (without --identity, or to record it as given)
    #[arg(long, value_name = "T")]
    pub tenant: Option<String>,
    /// The UAMI's client id
    #[arg(long, value_name = "C", requires_all = ["tenant", "subject"], conflicts_with_all = ["app_id", "managed_identity"])]
    pub client_id: Option<String>,
    /// The FIC's subject, exactly (with --identity: picks among several FICs with idp's issuer)
    #[arg(long, value_name = "S", conflicts_with_all = ["app_id", "managed_identity"])]
    pub subject: Option<String>,
    /// With --way entra-app: the publisher's multi-tenant app's application (client) id
    #[arg(long, value_name = "APP_ID", requires = "tenant")]
    pub app_id: Option<String>,
    /// With --way entra-app: the client id of the publisher's user-assigned managed identity whose token the app's FIC trusts [default: the only identity attached where idp runs]
    #[arg(long, value_name = "CLIENT_ID")]
    pub managed_identity: Option<String>,
    #[command(flatten)]
    pub arm: ArmArgs,
    /// This customer's cloud: public, usgov or china (or AzureCloud, AzureUSGovernment, AzureChinaCloud)
    #[arg(long, value_name = "CLOUD")]
    pub cloud: Option<String>,
    /// This customer's default scope, like https://vault.azure.net/.default
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WayArg {
    /// A FIC on the customer's managed identity trusts idp's issuer
    Issuer,
    /// The publisher's multi-tenant app trusts the publisher's managed identity
    EntraApp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A line per customer
    Table,
    /// One JSON array
    Json,
    /// GitHub Actions' matrix of shards
    GithubMatrix,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenFormat {
    /// The access token alone
    Raw,
    /// {"access_token", "token_type", "expires_in", "expires_on"}
    Json,
    /// The access token's header and claims, decoded (not the token itself)
    Claims,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub who: OneCustomer,
    #[command(flatten)]
    pub many: ManyCustomers,
    /// With --all/--customers: write DIR/<name>.json (0600: access token, expiry) for each success; DIR is made (0700) when missing
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// One resource's scope, like https://vault.azure.net/.default [default: the customer's]
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub authority: AuthorityArgs,
    /// The assertion's lifetime [env: IDP_ASSERTION_LIFETIME] [toml: assertion.lifetime] [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "raw")]
    pub format: TokenFormat,
    /// How long to keep retrying while a new FIC propagates (AADSTS70021/70025)
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub max_wait: String,
    /// Retries of throttling (429) and server errors (5xx), honouring Retry-After
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
    /// How to get the token: `exchange` (an assertion signed by idp, exchanged at Entra) or `list-tokens` (the managed application's listTokens over ARM, as its publisher; no issuer involved)
    #[arg(long, value_enum, default_value = "exchange")]
    pub via: Via,
    /// With --via list-tokens: the managed application's resource id (/subscriptions/…/providers/Microsoft.Solutions/applications/…)
    #[arg(long, value_name = "ID", required_if_eq("via", "list-tokens"), conflicts_with_all = ["tenant", "client_id", "subject", "customer", "all", "customers"])]
    pub application: Option<String>,
    /// With --via list-tokens: the application's user-assigned identity (its resource id) whose token to get [default: the system-assigned identity]
    #[arg(long, value_name = "ID", requires = "application")]
    pub identity: Option<String>,
    #[command(flatten)]
    pub arm: ArmArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// Sign an assertion and exchange it at Entra (workload identity federation)
    Exchange,
    /// Call listTokens on the managed application over ARM, as its publisher
    ListTokens,
}

/// The emulator's tenant when none is given.
pub const EMULATOR_TENANT: &str = "10000000-0000-4000-8000-000000000001";
/// The emulator's subscription when none is given.
pub const EMULATOR_SUBSCRIPTION: &str = "20000000-0000-4000-8000-000000000002";

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8444", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM)
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "self_signed",
        required_unless_present = "self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Make a local CA and server certificate; writes the CA to DIR/ca.pem for clients to trust
    #[arg(long, value_name = "DIR")]
    pub self_signed: Option<PathBuf>,
    /// Trust this CA (PEM) when fetching issuers' metadata, besides the system roots and --ca-cert; repeatable
    #[arg(long, value_name = "PEM")]
    pub trust_ca: Vec<PathBuf>,
    /// Keep identities, credentials and the emulator's signing key in FILE (0600), and load them at start
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The tenant id the emulator answers for
    #[arg(long, default_value = EMULATOR_TENANT, value_name = "GUID")]
    pub tenant: String,
    /// The subscription id of its ARM API
    #[arg(long, default_value = EMULATOR_SUBSCRIPTION, value_name = "GUID")]
    pub subscription: String,
    /// How long an issuer's discovery document and JWKS stay cached, like Entra's cache
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub metadata_ttl: String,
    /// How long a new or changed FIC answers AADSTS70021, as Entra does while it propagates (minutes in Azure); 0s turns it off
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub propagation_delay: String,
    /// Each token response leaves this long after its request arrived (the emulator's work included), standing in for Entra's round trip (benchmarks)
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub latency: String,
    /// Write an ARM token of the subscription's owner (valid 24h) to FILE (0600): its ARM API wants `Authorization: Bearer`, as Azure's does
    #[arg(long, value_name = "FILE")]
    pub owner_token_out: Option<PathBuf>,
    /// The emulator's URL as clients reach it (behind a proxy), for the URLs in its own discovery document [default: https:// and the request's Host]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Refuse (90061) a jwks_uri on another host than the issuer. Entra accepts one (Google's issuer works so); this stricter rule is for checking your own setup
    #[arg(long)]
    pub strict_jwks_host: bool,
    /// The cloud it stands in for: public, usgov or china (or AzureCloud, AzureUSGovernment, AzureChinaCloud); its Entra refuses another cloud's resources (AADSTS500011), as a national cloud's does
    #[arg(long, value_name = "CLOUD", default_value = "public")]
    pub cloud: String,
    /// The storage suffix ARM's cloud metadata names (`suffixes.storage`): clients reach blobs at https://<account>.blob.<SUFFIX> (a port may follow, like idp.test:10443)
    #[arg(long, value_name = "SUFFIX", default_value = "core.windows.net")]
    pub storage_suffix: String,
    /// The publisher's tenant, beside the customer's (--tenant): the tenant of the machine's managed identities and of the applications the publisher registers in Graph
    #[arg(long, default_value = idp_emulator::DEFAULT_PUBLISHER_TENANT, value_name = "GUID")]
    pub publisher_tenant: String,
    /// A user-assigned identity of the publisher's tenant attached to this machine, its tokens handed out by the machine's identity endpoints (--identity-listen); repeatable
    #[arg(long = "machine-identity", value_name = "NAME", default_value = idp_emulator::DEFAULT_MACHINE_IDENTITY)]
    pub machine_identities: Vec<String>,
    /// Address of the machine's managed identity endpoints (App Service's IDENTITY_ENDPOINT and IMDS's), plain HTTP as on an Azure machine; loopback only
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub identity_listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Container URL when the issuer URL is not a blob or static-website URL (a custom domain) [env: IDP_STORAGE_ENDPOINT] [toml: storage.endpoint]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Authenticate with this SAS token (query string or SAS URL) [env: IDP_STORAGE_SAS]
    #[arg(long, value_name = "TOKEN")]
    pub sas: Option<String>,
    /// How to authenticate: auto, sas, azure-cli, managed-identity, workload-identity [env: IDP_STORAGE_AUTH] [toml: storage.auth] [default: auto]
    #[arg(long, value_name = "METHOD")]
    pub auth: Option<String>,
    /// Cache-Control of both blobs [env: IDP_STORAGE_CACHE_CONTROL] [toml: storage.cache_control] [default: public, max-age=300]
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,
    /// Retries of a failed storage call, with exponential backoff (0-10) [env: IDP_STORAGE_RETRIES] [toml: storage.retries] [default: 3]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Create the container, with anonymous read access for blobs, if it does not exist
    #[arg(long)]
    pub create_container: bool,
    /// Print what would change (blobs, kids) and write nothing
    #[arg(long, conflicts_with = "check")]
    pub dry_run: bool,
    /// Change nothing; fetch the published documents anonymously, as Entra does, and exit 1 if they differ from the local state
    #[arg(long)]
    pub check: bool,
    /// Allow dropping published keys this keyring does not know (published from another keyring, which may still sign with them)
    #[arg(long)]
    pub drop_unknown_keys: bool,
    /// Skip the anonymous readback after writing (for an issuer URL that is not live yet)
    #[arg(long, conflicts_with_all = ["check", "dry_run"])]
    pub no_readback: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Cache-Control header for both documents
    #[arg(long, default_value = idp_server::DEFAULT_CACHE_CONTROL, value_name = "VALUE")]
    pub cache_control: String,
    /// Serve HTTPS with this certificate chain (PEM)
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a new local CA and server certificate; writes the CA to DIR/ca.pem for clients to trust
    #[arg(long, value_name = "DIR")]
    pub self_signed: Option<PathBuf>,
    /// Worker threads; one serves over 100k JWKS requests/s on one core here
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub workers: u16,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Issuer URL (https, no query or fragment, at most 600 characters); kept byte for byte
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// RSA key size in bits
    #[arg(long, default_value_t = 3072, value_parser = key_size)]
    pub key_size: u32,
    /// Replace an existing idp.toml and keyring
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys with their states and timestamps
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Add a key in state `next`: published in the JWKS, not yet signing
    Add {
        /// RSA key size in bits for a generated key (on disk or in Key Vault)
        #[arg(long, default_value_t = 3072, value_parser = key_size, conflicts_with_all = ["import", "existing"])]
        key_size: u32,
        /// Import this PEM private key (PKCS#8 or PKCS#1 RSA, at least 2048 bits) instead of generating one
        #[arg(long, value_name = "PEM", conflicts_with = "key_vault")]
        import: Option<PathBuf>,
        /// Keep the private key in Azure Key Vault instead of on disk: create a new version of this key there (RSA-HSM where the vault holds HSM keys, else RSA; never exportable); idp records its id and public key only, and signs through the vault
        #[arg(long, value_name = "https://<vault>.vault.azure.net/keys/<name>")]
        key_vault: Option<String>,
        /// With --key-vault: adopt the key that is there (its latest version, or the one the URL names) instead of creating one; it must be RSA, 2048 bits or more, not exportable
        #[arg(long, requires = "key_vault")]
        existing: bool,
    },
    /// Make a key the signing key; the current active key becomes `retiring`. Refused
    /// unless the JWKS published at the issuer URL (fetched anonymously, as Entra does)
    /// holds the key, first seen there at least --min-published-age ago
    Activate {
        /// The key's kid (a unique prefix of at least 6 characters is enough)
        // A kid is base64url, so it may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// How long the key must have been published [env: IDP_ROTATION_MIN_PUBLISHED_AGE] [toml: rotation.min_published_age] [default: 24h]
        #[arg(long, value_name = "DURATION")]
        min_published_age: Option<String>,
        /// Activate without those checks: exchanges fail with AADSTS7000272 while Entra still caches a JWKS without the key
        #[arg(long, conflicts_with = "canary")]
        force: bool,
        /// Prove it instead of waiting: sign one assertion with this key and exchange it for this customer of the inventory; activate only if Entra accepts it
        #[arg(long, value_name = "CUSTOMER")]
        canary: Option<String>,
    },
    /// Take a key out of the JWKS for good (not the active key). Refused while assertions
    /// it signed can still be valid (24h and 5m after it stopped signing)
    Retire {
        /// The key's kid (a unique prefix of at least 6 characters is enough)
        // A kid is base64url, so it may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Retire now: assertions it signed that are still within their lifetime fail with AADSTS7000272 once the JWKS drops it
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Write the documents under DIR at their paths relative to the issuer
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print only this document, byte for byte (without --out)
    #[arg(long, value_enum, conflicts_with = "out")]
    pub only: Option<Document>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Document {
    Discovery,
    Jwks,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The `sub` claim: must equal the FIC's subject exactly (1 to 600 characters)
    #[arg(long, value_name = "S")]
    pub subject: String,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// How long the assertion is valid, like 90s, 10m, 1h30m; at most 24h [env: IDP_ASSERTION_LIFETIME] [toml: assertion.lifetime] [default: 10m]
    #[arg(long, value_name = "DURATION")]
    pub lifetime: Option<String>,
    /// A private claim key=value (repeatable); registered claims cannot be overridden
    #[arg(long = "claim", value_name = "K=V")]
    pub claims: Vec<String>,
    /// Write the assertion to FILE (mode 0600, no trailing newline) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The assertion, or `-` to read it from standard input
    pub token: String,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// The audience the FIC carries [env: IDP_ASSERTION_AUDIENCE] [toml: assertion.audience] [default: any cloud's token-exchange audience]
    #[arg(long)]
    pub audience: Option<String>,
}

fn key_size(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(bits @ (2048 | 3072 | 4096)) => Ok(bits),
        _ => Err(format!(
            "`{s}` is not a supported RSA key size; choose 2048, 3072 or 4096"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_starting_with_a_dash_is_a_kid_not_a_flag() {
        for verb in ["activate", "retire"] {
            let cli = Cli::try_parse_from(["idp", "keys", verb, "-_Ab3xyz"]).unwrap();
            match cli.command {
                Command::Keys(
                    KeysCommand::Activate { kid, .. } | KeysCommand::Retire { kid, .. },
                ) => {
                    assert_eq!(kid, "-_Ab3xyz")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// clap's own consistency checks on every command (an argument named in a rule that
    /// does not exist, conflicting defaults), which otherwise fire only when that
    /// command is run in a debug build.
    #[test]
    fn every_command_line_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    /// Words of a shell command line: white space splits, quotes group (no expansions).
    fn words(line: &str) -> Vec<String> {
        let (mut out, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
        for c in line.chars() {
            match (quote, c) {
                (None, '\'' | '"') => {
                    quote = Some(c);
                    any = true;
                }
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => {
                    if any {
                        out.push(std::mem::take(&mut cur));
                        any = false;
                    }
                }
                (_, c) => {
                    cur.push(c);
                    any = true;
                }
            }
        }
        if any {
            out.push(cur);
        }
        out
    }

    /// Every `idp …` line of the README's shell examples is a command line idp accepts,
    /// so a renamed flag or a removed command cannot linger in the documentation. Lines
    /// with elisions (`…`) or alternatives are not complete commands and are skipped.
    #[test]
    fn the_readmes_command_lines_parse() {
        let readme = include_str!("../../../README.md");
        let mut checked = 0;
        let mut in_block = false;
        let mut pending = String::new();
        for raw in readme.lines() {
            if raw.starts_with("```") {
                in_block = raw == "```sh";
                pending.clear();
                continue;
            }
            if !in_block {
                continue;
            }
            // A comment after the command is not part of it.
            let line = match raw.find("  #") {
                Some(at) => &raw[..at],
                None => raw,
            };
            let joined = format!("{pending}{}", line.trim_end());
            if let Some(head) = joined.strip_suffix('\\') {
                pending = format!("{head} ");
                continue;
            }
            pending.clear();
            let command = joined.trim();
            // Redirections, pipes and what follows are the shell's, not idp's.
            let command = [" | ", " < ", " > ", " >> ", " 2>", " && ", " ; "]
                .iter()
                .filter_map(|sep| command.find(sep))
                .min()
                .map_or(command, |at| &command[..at])
                .trim_end_matches('&')
                .trim();
            if !command.starts_with("idp ") || command.contains('…') {
                continue;
            }
            // A placeholder (`<CA of your issuer's HTTPS>`) is one value.
            let mut plain = String::new();
            let mut rest = command;
            while let Some(open) = rest.find('<') {
                plain.push_str(&rest[..open]);
                match rest[open..].find('>') {
                    Some(close) => {
                        plain.push_str("PLACEHOLDER");
                        rest = &rest[open + close + 1..];
                    }
                    None => {
                        rest = &rest[open..];
                        break;
                    }
                }
            }
            plain.push_str(rest);
            let args = words(&plain);
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("README: `{command}` does not parse: {e}");
            }
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} README command lines found");
    }
}
