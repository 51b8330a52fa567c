//! The token exchange, for one customer or many: each customer's request planned from the
//! selection and the settings (its cloud picks the authority host, the audience and, for
//! checks, the ARM scope), a fresh assertion signed per attempt and recorded in the audit
//! log, and, for many, one bounded fan-out sharing one throttle: a 429 or 5xx from Entra
//! holds every worker for the same `Retry-After`.

use crate::context::Context;
use crate::fanout::{Outcome, fan_out};
use crate::managed_identity::{ManagedIdentity, TokenFacts};
use crate::select::Selected;
use idp_core::Issuer;
use idp_core::assertion::{AssertionSpec, Audience, Lifetime, PrivateClaims, Subject};
use idp_core::audit::{AuditLog, Minter};
use idp_core::cloud::Cloud;
use idp_core::diagnostic::{Problem, Report};
use idp_core::signer::Signer;
use idp_exchange::client::{self, ExchangeError, RetryNote, SharedBackoff, SignError};
use idp_exchange::explain;
use idp_exchange::request::Target;
use idp_exchange::response::AccessToken;
use idp_exchange::retry::{Policy, Transient};
use idp_inventory::Trust;
use std::sync::Arc;

/// Which cloud a customer is in: `--cloud` first, then the customer's recorded cloud, then
/// the configured one (`IDP_EXCHANGE_CLOUD`, `exchange.cloud`), then the global cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloudChoice {
    pub flag: Option<Cloud>,
    pub configured: Option<Cloud>,
}

impl CloudChoice {
    pub fn for_customer(&self, recorded: Option<Cloud>) -> Cloud {
        self.flag
            .or(recorded)
            .or(self.configured)
            .unwrap_or_default()
    }
}

/// How assertions are shaped and where they are sent, from the settings: what is set
/// explicitly wins over what each customer's cloud would give.
#[derive(Debug, Clone)]
pub struct Shape {
    /// idp's issuer; why there is none when none is configured (a publisher with only
    /// `entra-app` customers signs nothing, so that is said only when one is signed for).
    pub issuer: Result<Issuer, Problem>,
    pub cloud: CloudChoice,
    /// An explicit authority host; else the customer's cloud's.
    pub authority_host: Option<String>,
    /// An explicit audience; else the customer's cloud's.
    pub audience: Option<Audience>,
    pub lifetime: Lifetime,
}

impl Shape {
    pub fn authority(&self, cloud: Cloud) -> String {
        self.authority_host
            .clone()
            .unwrap_or_else(|| cloud.authority_host().to_owned())
    }

    pub fn audience(&self, cloud: Cloud) -> Audience {
        self.audience.clone().unwrap_or_else(|| {
            Audience::parse(cloud.token_exchange_audience()).expect("a cloud's audience parses")
        })
    }

    /// idp's issuer, which every assertion idp signs needs.
    pub fn issuer(&self) -> Result<&Issuer, Report> {
        self.issuer
            .as_ref()
            .map_err(|why| Report::from(why.clone()))
    }

    /// The assertion for `subject` in `cloud`.
    pub fn spec(&self, subject: &str, cloud: Cloud) -> Result<AssertionSpec, Report> {
        Ok(AssertionSpec {
            issuer: self.issuer()?.clone(),
            subject: Subject::parse(subject)?,
            audience: self.audience(cloud),
            lifetime: self.lifetime,
            claims: PrivateClaims::default(),
        })
    }
}

/// Where a request's scope comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `--scope`, for every customer.
    Given(String),
    /// The customer's default scope, which it must have (`idp token`).
    Recorded,
    /// The customer's default scope, else its cloud's Resource Manager scope: for checks
    /// whose only question is whether Entra issues a token (doctor, the rotation canary).
    RecordedOrArm,
}

/// What a customer's exchange presents as its client assertion, by way.
#[derive(Debug, Clone)]
pub enum Assertion {
    /// An assertion idp signs with its active key (the `issuer` way).
    Signed(AssertionSpec),
    /// The publisher's managed identity's token for the token-exchange audience (the
    /// `entra-app` way): identity `client_id` (`None`: the machine's only one).
    ManagedIdentity {
        client_id: Option<String>,
        resource: String,
    },
}

/// One customer's exchange, every input checked.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: Option<String>,
    pub cloud: Cloud,
    pub target: Target,
    pub assertion: Assertion,
    /// The values an explanation names.
    pub context: explain::Context,
}

impl Job {
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("-")
    }

    /// The assertion idp signs, for an `issuer` customer.
    pub fn spec(&self) -> Option<&AssertionSpec> {
        match &self.assertion {
            Assertion::Signed(spec) => Some(spec),
            Assertion::ManagedIdentity { .. } => None,
        }
    }

    /// The audience the assertion carries (the FIC's audience).
    pub fn audience(&self) -> &str {
        &self.context.audience
    }
}

/// Plans the exchange for `who`.
pub fn plan(shape: &Shape, who: &Selected, scope: &Scope) -> Result<Job, Report> {
    let c = &who.customer;
    let cloud = shape.cloud.for_customer(c.cloud);
    let scope = match scope {
        Scope::Given(s) => s.clone(),
        Scope::Recorded => c.scope.clone().ok_or_else(|| match &who.name {
            Some(name) => Report::usage(
                format!("customer `{name}` has no default scope and --scope is not given"),
                "pass --scope, or record one: `idp customers remove NAME` then `idp customers add NAME … --scope <resource>/.default`",
            ),
            None => scope_needed(),
        })?,
        Scope::RecordedOrArm => c
            .scope
            .clone()
            .unwrap_or_else(|| cloud.arm_scope().to_owned()),
    };
    let authority = shape.authority(cloud);
    let target = Target::new(&authority, &c.tenant, &c.client_id, &scope)?;
    let audience = shape.audience(cloud);
    let (assertion, issuer, subject, entra_app) = match &c.trust {
        Trust::Issuer { subject, .. } => (
            Assertion::Signed(shape.spec(subject, cloud)?),
            shape.issuer()?.as_str().to_owned(),
            subject.clone(),
            None,
        ),
        // The issuer and subject are the identity's, known once its token came.
        Trust::EntraApp { managed_identity } => (
            Assertion::ManagedIdentity {
                client_id: managed_identity.clone(),
                resource: audience.as_str().to_owned(),
            },
            String::new(),
            String::new(),
            Some(explain::EntraApp::default()),
        ),
    };
    let lifetime_secs = match &assertion {
        Assertion::Signed(spec) => spec.lifetime.get().as_secs(),
        Assertion::ManagedIdentity { .. } => 0,
    };
    let context = explain::Context {
        issuer,
        subject,
        audience: audience.as_str().to_owned(),
        tenant: c.tenant.clone(),
        client_id: c.client_id.clone(),
        scope,
        authority,
        lifetime_secs,
        entra_app,
    };
    Ok(Job {
        name: who.name.clone(),
        cloud,
        target,
        assertion,
        context,
    })
}

/// No scope given where one is needed.
pub fn scope_needed() -> Report {
    Report::usage(
        "--scope is needed",
        "give the resource's scope, like --scope https://vault.azure.net/.default",
    )
}

/// Makes each assertion and sends it: idp's active key and the audit log for the `issuer`
/// way, the machine's managed identity for the `entra-app` way, the command's name for
/// the audit lines, the retry policy.
#[derive(Debug, Clone)]
pub struct Exchanger {
    pub http: reqwest::Client,
    /// The active key: there when a job signs.
    pub key: Option<Arc<Signer>>,
    /// The machine's managed identity: there when a job presents its token.
    pub managed_identity: Option<Arc<ManagedIdentity>>,
    pub audit: Option<Arc<AuditLog>>,
    pub command: &'static str,
    pub policy: Policy,
}

impl Exchanger {
    /// The exchanger `jobs` need: the keyring's active key and the audit log only when one
    /// of them signs (a publisher with only `entra-app` customers needs no keys), the
    /// managed identity only when one presents its token.
    pub fn for_jobs(
        ctx: &Context,
        jobs: &[Job],
        command: &'static str,
        policy: Policy,
    ) -> Result<Self, Report> {
        let signs = jobs.iter().any(|j| j.spec().is_some());
        let (key, audit) = if signs {
            let ring = ctx.keys().load()?;
            (Some(ctx.active_signer(&ring)?), ctx.audit()?)
        } else {
            (None, None)
        };
        let managed_identity = if jobs.iter().any(|j| j.spec().is_none()) {
            Some(ctx.managed_identity()?)
        } else {
            None
        };
        Ok(Self {
            http: ctx.http()?.clone(),
            key,
            managed_identity,
            audit,
            command,
            policy,
        })
    }

    /// One exchange, a fresh assertion per attempt; `on_retry` hears of each retry.
    pub async fn one(
        &self,
        job: &Job,
        backoff: Option<&SharedBackoff>,
        on_retry: impl FnMut(&RetryNote),
    ) -> Result<AccessToken, ExchangeError> {
        match &job.assertion {
            Assertion::Signed(spec) => {
                let key = self
                    .key
                    .as_ref()
                    .expect("Exchanger::for_jobs loads the key for jobs that sign");
                let minter = Minter::new(key, self.audit.as_deref(), self.command);
                let sign = async || {
                    minter
                        .mint(spec, job.name.as_deref())
                        .await
                        .map(|s| s.token)
                        .map_err(SignError::new)
                };
                client::exchange_sharing(
                    &self.http,
                    &job.target,
                    &job.context,
                    &self.policy,
                    backoff,
                    sign,
                    on_retry,
                )
                .await
            }
            Assertion::ManagedIdentity {
                client_id,
                resource,
            } => {
                let mi = self
                    .managed_identity
                    .as_ref()
                    .expect("Exchanger::for_jobs sets the managed identity for jobs that need it");
                let get = async || {
                    mi.token(client_id.as_deref(), resource)
                        .await
                        .map_err(SignError::new)
                };
                // The token says whose it is: the explanations name its tenant and ids.
                let first = get().await.map_err(ExchangeError::Sign)?;
                let context = with_identity(&job.context, &first.facts);
                let sign = async || get().await.map(|t| t.token);
                client::exchange_sharing(
                    &self.http,
                    &job.target,
                    &context,
                    &self.policy,
                    backoff,
                    sign,
                    on_retry,
                )
                .await
            }
        }
    }

    /// Every job, at most `parallel` at once, sharing one throttle. `on_token` takes each
    /// token as it comes (so what is done with it overlaps the other exchanges) and keeps
    /// what the outcome needs of it: no token outlives its own handling, so memory does not
    /// grow with the fleet. `on_retry` hears of each retry with the customer's name.
    pub async fn many<T>(
        &self,
        jobs: Vec<Job>,
        parallel: usize,
        on_token: &(dyn Fn(&Job, AccessToken) -> T + Sync),
        on_retry: &(dyn Fn(&str, &RetryNote) + Sync),
    ) -> Vec<Outcome<Result<T, ExchangeError>>> {
        let backoff = SharedBackoff::new();
        let backoff = &backoff;
        let items = jobs
            .into_iter()
            .map(|j| (j.label().to_owned(), j))
            .collect();
        fan_out(items, parallel, |job: Job| async move {
            self.one(&job, Some(backoff), |n| on_retry(job.label(), n))
                .await
                .map(|token| on_token(&job, token))
        })
        .await
    }
}

/// `context` naming the managed identity its token showed.
fn with_identity(context: &explain::Context, facts: &TokenFacts) -> explain::Context {
    let mut c = context.clone();
    c.issuer = facts.issuer.clone();
    c.subject = facts.principal_id.clone();
    c.entra_app = Some(explain::EntraApp {
        publisher_tenant: facts.tenant.clone(),
        principal_id: facts.principal_id.clone(),
        managed_identity: facts.client_id.clone(),
    });
    c
}

/// The retry policy of a check (doctor, the rotation canary): no waiting out propagation,
/// two retries of throttling: a refusal is the answer sought.
pub fn check_policy() -> Policy {
    Policy {
        propagation_wait: std::time::Duration::ZERO,
        max_server_retries: 2,
        ..Policy::default()
    }
}

/// The line said on stderr before a retry.
pub fn retry_line(note: &RetryNote) -> String {
    let why = match (note.reason, note.code, note.status) {
        (Transient::Propagation, Some(code), _) => {
            format!("AADSTS{code}: the federated credential may still be propagating")
        }
        (Transient::Throttled, _, _) => "429: Entra is throttling".to_owned(),
        (_, _, Some(status)) => format!("{status} from Entra"),
        _ => "Entra could not be reached".to_owned(),
    };
    format!(
        "retry {} in {:.1}s ({why})",
        note.retry,
        note.delay.as_secs_f64()
    )
}

/// The AADSTS code and a one-line explanation of a failed exchange (secrets redacted).
pub fn describe(e: &ExchangeError) -> (Option<u64>, String) {
    let line = match e {
        ExchangeError::Entra {
            error, explanation, ..
        } => match explanation {
            Some(x) => format!("{}; {}", x.meaning, x.check),
            None => error.summary().to_owned(),
        },
        // The maker's own explanation (a vault's refusal, the audit log, the managed
        // identity's endpoint) is the news.
        ExchangeError::Sign(cause) => format!("{e}: {cause}"),
        other => other.to_string(),
    };
    (e.code(), idp_core::secret::redact(&line))
}

/// What Entra said, what it means and what to check, as the error the user reads.
pub fn explain(e: ExchangeError) -> Report {
    let ExchangeError::Entra {
        status,
        error,
        explanation,
    } = &e
    else {
        return Report::from(e).context("the token exchange failed");
    };
    let code = error
        .code()
        .map_or_else(|| "?".to_owned(), |c| c.to_string());
    let mut message = match explanation {
        Some(x) => format!("AADSTS{code}: {}", x.meaning),
        None => format!("AADSTS{code} from Entra"),
    };
    message.push_str(&format!(
        "\n  Entra said ({status} {}): {}",
        error.error,
        error.summary()
    ));
    if let Some(x) = explanation {
        message.push_str(&format!("\n  check: {}", x.check));
    }
    message.push_str(&format!(
        "\n  trace id {}, correlation id {}, at {}",
        error.trace_id, error.correlation_id, error.timestamp
    ));
    Problem::reported(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use idp_inventory::Customer;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";

    fn shape() -> Shape {
        Shape {
            issuer: Ok(Issuer::parse("https://acct.blob.core.windows.net/oidc").unwrap()),
            cloud: CloudChoice::default(),
            authority_host: None,
            audience: None,
            lifetime: Lifetime::default(),
        }
    }

    fn who(cloud: Option<Cloud>, scope: Option<&str>) -> Selected {
        Selected {
            name: Some("c".into()),
            customer: Customer {
                cloud,
                scope: scope.map(Into::into),
                ..Customer::new(TENANT, CLIENT, "sub")
            },
        }
    }

    #[test]
    fn the_flag_beats_the_customer_which_beats_the_configured_cloud() {
        let pick =
            |flag, configured, recorded| CloudChoice { flag, configured }.for_customer(recorded);
        use Cloud::*;
        assert_eq!(pick(None, None, None), Public);
        assert_eq!(pick(None, Some(China), None), China);
        assert_eq!(pick(None, Some(China), Some(UsGov)), UsGov);
        assert_eq!(pick(Some(Public), Some(China), Some(UsGov)), Public);
    }

    #[test]
    fn a_customers_cloud_gives_its_authority_audience_and_check_scope() {
        for cloud in Cloud::ALL {
            let job = plan(&shape(), &who(Some(cloud), None), &Scope::RecordedOrArm).unwrap();
            assert_eq!(job.cloud, cloud);
            assert_eq!(job.target.authority, cloud.authority_host());
            assert_eq!(job.target.scope, cloud.arm_scope(), "{cloud}");
            assert_eq!(
                job.spec().unwrap().audience.as_str(),
                cloud.token_exchange_audience()
            );
            assert_eq!(job.context.scope, job.target.scope);
            assert_eq!(job.context.audience, cloud.token_exchange_audience());
        }
    }

    #[test]
    fn what_is_set_explicitly_wins_over_the_cloud() {
        let mut s = shape();
        s.authority_host = Some("https://127.0.0.1:8444".into());
        s.audience = Some(Audience::parse("api://custom").unwrap());
        let job = plan(
            &s,
            &who(Some(Cloud::China), Some("https://vault.azure.cn/.default")),
            &Scope::Recorded,
        )
        .unwrap();
        assert_eq!(job.target.authority, "https://127.0.0.1:8444");
        assert_eq!(job.spec().unwrap().audience.as_str(), "api://custom");
        assert_eq!(job.target.scope, "https://vault.azure.cn/.default");
        let job = plan(
            &s,
            &who(None, Some("https://x/.default")),
            &Scope::Given("https://vault.azure.net/.default".into()),
        )
        .unwrap();
        assert_eq!(job.target.scope, "https://vault.azure.net/.default");
    }

    #[test]
    fn without_a_scope_idp_token_is_refused_naming_the_customer_or_the_flag() {
        let e = plan(&shape(), &who(None, None), &Scope::Recorded).unwrap_err();
        assert!(e.is_usage());
        assert!(
            e.lines()[0].contains("customer `c` has no default scope"),
            "{e:?}"
        );
        let given = Selected {
            name: None,
            ..who(None, None)
        };
        let e = plan(&shape(), &given, &Scope::Recorded).unwrap_err();
        assert_eq!(e.lines()[0], "--scope is needed");
        assert!(
            e.hint()
                .unwrap()
                .contains("--scope https://vault.azure.net/.default")
        );
    }

    #[test]
    fn an_entra_app_customer_presents_the_managed_identitys_token_and_needs_no_issuer() {
        let mut s = shape();
        s.issuer = Err(Problem::usage(
            "no configuration file at idp.toml",
            "run `idp init --issuer <URL>` here first",
        ));
        let who = Selected {
            name: Some("f".into()),
            customer: Customer {
                cloud: Some(Cloud::UsGov),
                ..Customer::entra_app(TENANT, CLIENT, Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301"))
            },
        };
        let job = plan(&s, &who, &Scope::RecordedOrArm).unwrap();
        match &job.assertion {
            Assertion::ManagedIdentity {
                client_id,
                resource,
            } => {
                assert_eq!(
                    client_id.as_deref(),
                    Some("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
                );
                assert_eq!(resource, Cloud::UsGov.token_exchange_audience());
            }
            other => panic!("{other:?}"),
        }
        assert!(job.spec().is_none());
        assert_eq!(job.target.client_id, CLIENT);
        assert_eq!(job.target.authority, Cloud::UsGov.authority_host());
        assert!(job.context.entra_app.is_some());
        // Its facts come from the token, once it came.
        let facts = TokenFacts {
            issuer: "https://login.microsoftonline.us/p/v2.0".into(),
            tenant: "p".into(),
            principal_id: "oid".into(),
            client_id: "mi".into(),
            ..TokenFacts::default()
        };
        let c = with_identity(&job.context, &facts);
        assert_eq!(
            (c.issuer.as_str(), c.subject.as_str()),
            (facts.issuer.as_str(), "oid")
        );
        assert_eq!(c.entra_app.unwrap().publisher_tenant, "p");
        // An issuer-way customer without an issuer configured is refused, naming the fix.
        let e = plan(&s, &who_issuer(), &Scope::RecordedOrArm).unwrap_err();
        assert!(e.is_usage());
        assert_eq!(e.lines()[0], "no configuration file at idp.toml");
    }

    fn who_issuer() -> Selected {
        who(None, None)
    }

    #[test]
    fn retry_lines_say_why() {
        let note = |reason, code, status| RetryNote {
            retry: 2,
            reason,
            code,
            status,
            delay: std::time::Duration::from_millis(1500),
        };
        assert_eq!(
            retry_line(&note(Transient::Propagation, Some(70021), Some(400))),
            "retry 2 in 1.5s (AADSTS70021: the federated credential may still be propagating)"
        );
        assert!(
            retry_line(&note(Transient::Throttled, None, Some(429)))
                .contains("429: Entra is throttling")
        );
        assert!(retry_line(&note(Transient::Server, None, Some(503))).contains("503 from Entra"));
        assert!(retry_line(&note(Transient::Server, None, None)).contains("could not be reached"));
    }
}
