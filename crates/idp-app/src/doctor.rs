//! `idp doctor`'s checks beyond the issuer's own (those are
//! [`idp_publish::doctor::issuer_findings`]): a signing key held in Key Vault signs a
//! probe, and each customer asked for gets its FIC read over Resource Manager (when its
//! identity is recorded) and a real exchange, explained. The judging is pure, over what
//! was fetched; the fetching runs every customer through the one fan-out, each against its
//! own cloud's Resource Manager and authority.

use crate::context::Context;
use crate::exchange::{self, Assertion, Exchanger, Job};
use crate::fanout::fan_out;
use crate::managed_identity::TokenFacts;
use crate::select::Selected;
use idp_arm::graph::GraphError;
use idp_arm::{ArmError, Fic, FicMismatch, choose_fic};
use idp_core::azure_id::IdentityId;
use idp_core::diagnostic::{Diagnostic, Report};
use idp_core::keyring::KeyEntry;
use idp_exchange::client::ExchangeError;
use idp_inventory::Trust;
use idp_publish::doctor::{Finding, Status};

/// The most FICs a managed identity may hold.
pub const FIC_SLOTS: usize = 20;

fn finding(check: &'static str, status: Status, detail: String, fix: Option<String>) -> Finding {
    Finding {
        check,
        status,
        detail,
        fix,
    }
}

/// What the FIC read over ARM says: the one idp's assertions will match (issuer byte for
/// byte, the customer's subject, the one audience), and how many of the 20 slots are used.
pub fn fic_findings(
    fics: Result<Vec<Fic>, ArmError>,
    issuer: &str,
    audience: &str,
    subject: &str,
) -> Vec<Finding> {
    let fics = match fics {
        Ok(f) => f,
        Err(e) => return vec![finding("fic", Status::Fail, e.to_string(), e.hint())],
    };
    let verdict = match choose_fic(&fics, issuer, audience, Some(subject)) {
        Ok(fic) => finding(
            "fic",
            Status::Ok,
            format!(
                "FIC `{}`: issuer, subject `{}` and audience `{audience}` as idp signs them",
                fic.name, fic.subject
            ),
            None,
        ),
        Err(m @ (FicMismatch::NoSuchSubject { .. } | FicMismatch::Several { .. })) => finding(
            "fic",
            Status::Fail,
            m.to_string(),
            Some(format!(
                "idp signs subject `{subject}` for this customer: give the FIC that subject, or record the FIC's (`idp customers remove NAME`, then `idp customers add NAME --identity …`)"
            )),
        ),
        Err(m) => finding("fic", Status::Fail, m.to_string(), m.hint()),
    };
    let used = fics.len();
    let full = used >= FIC_SLOTS;
    vec![
        verdict,
        finding(
            "fic slots",
            if full { Status::Warn } else { Status::Ok },
            format!("{used} of the {FIC_SLOTS} federated credentials a managed identity may hold"),
            full.then(|| "remove FICs no one uses before adding another".to_owned()),
        ),
    ]
}

/// An `entra-app` customer checked without Microsoft Graph: its app's FIC is not read.
pub fn no_graph() -> Finding {
    finding(
        "app fic",
        Status::Warn,
        "the app's federated credential was not read (no Microsoft Graph access given)".into(),
        Some("pass --graph (the Azure CLI login, workload or managed identity) or --graph-token-file to have it checked".into()),
    )
}

/// A customer whose identity is not recorded: its FIC cannot be read.
pub fn no_identity() -> Finding {
    finding(
        "fic",
        Status::Warn,
        "no identity resource id recorded, so its FIC cannot be read over ARM".into(),
        Some("add the customer with --identity to have its FIC checked".into()),
    )
}

/// What a real exchange said.
pub fn exchange_finding(result: &Result<(), ExchangeError>) -> Finding {
    match result {
        Ok(()) => finding(
            "exchange",
            Status::Ok,
            "Entra exchanged an assertion for an access token".into(),
            None,
        ),
        Err(e) => {
            let (code, line) = exchange::describe(e);
            finding(
                "exchange",
                Status::Fail,
                match code {
                    Some(c) => format!("AADSTS{c}: {line}"),
                    None => line,
                },
                Some(
                    "see the check above; `idp token --customer NAME` prints Entra's full answer"
                        .into(),
                ),
            )
        }
    }
}

/// What the publisher's managed identity's token says, for an `entra-app` customer: the
/// publisher's app's FIC must name its tenant's v2.0 issuer and its principal id.
pub fn managed_identity_finding(
    token: &Result<TokenFacts, Report>,
    authority: &str,
    app_id: &str,
) -> Finding {
    match token {
        Ok(f) if f.token_type.as_deref().is_some_and(|t| t != "app") => finding(
            "managed identity",
            Status::Fail,
            format!(
                "the token is a `{}` token, not an app-only managed identity token",
                f.token_type.as_deref().unwrap_or_default()
            ),
            Some("run idp where the publisher's user-assigned identity is attached (App Service, Container Apps, Functions, a VM)".into()),
        ),
        Ok(f) => finding(
            "managed identity",
            Status::Ok,
            format!(
                "token of client id {} in tenant {}: the app {app_id}'s FIC must name issuer {}/{}/v2.0 and subject {} (its principal id)",
                f.client_id,
                f.tenant,
                authority.trim_end_matches('/'),
                f.tenant,
                f.principal_id
            ),
            None,
        ),
        Err(e) => finding(
            "managed identity",
            Status::Fail,
            idp_core::secret::redact(&format!("{e:#}")),
            e.hint(),
        ),
    }
}

/// What the publisher's app's FICs, read over Microsoft Graph, say for an `entra-app`
/// customer: one must name the managed identity's token's issuer (its tenant's v2.0
/// issuer, byte for byte), its `oid` as subject and the exchange's audience; and how many
/// of the app's 20 slots are used.
pub fn app_fic_findings(
    fics: Result<Vec<Fic>, GraphError>,
    token: &TokenFacts,
    audience: &str,
    app_id: &str,
) -> Vec<Finding> {
    let fics = match fics {
        Ok(f) => f,
        Err(e) => return vec![finding("app fic", Status::Fail, e.to_string(), e.hint())],
    };
    let make = format!(
        "`idp fic --way entra-app --publisher-tenant {} --principal-id {}` prints it in each tool's form",
        token.tenant, token.principal_id
    );
    let verdict = if fics.is_empty() {
        finding(
            "app fic",
            Status::Fail,
            format!("the app {app_id} has no federated credentials (AADSTS70025)"),
            Some(format!("add one trusting the managed identity: {make}")),
        )
    } else {
        match fics.iter().find(|f| f.subject == token.principal_id) {
            None => {
                let by_client = fics
                    .iter()
                    .find(|f| f.subject.eq_ignore_ascii_case(&token.client_id));
                match by_client {
                    Some(f) => finding(
                        "app fic",
                        Status::Fail,
                        format!(
                            "FIC `{}`'s subject is the managed identity's client id {}; it must be its principal (object) id {} (AADSTS700213)",
                            f.name, token.client_id, token.principal_id
                        ),
                        Some(format!(
                            "set the FIC's subject to {}: {make}",
                            token.principal_id
                        )),
                    ),
                    None => finding(
                        "app fic",
                        Status::Fail,
                        format!(
                            "no FIC of the app {app_id} has subject {} (the managed identity's principal id); they have {:?} (AADSTS700213)",
                            token.principal_id,
                            fics.iter().map(|f| f.subject.as_str()).collect::<Vec<_>>()
                        ),
                        Some(format!("add one trusting this identity: {make}")),
                    ),
                }
            }
            Some(f) if f.issuer != token.issuer => {
                let theirs_tenant = f
                    .issuer
                    .trim_end_matches('/')
                    .trim_end_matches("/v2.0")
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                let why = if !theirs_tenant.eq_ignore_ascii_case(&token.tenant) {
                    format!(
                        "it names tenant `{theirs_tenant}`, and the managed identity's token is from tenant {}",
                        token.tenant
                    )
                } else {
                    idp_arm::issuer_difference(&token.issuer, &f.issuer)
                };
                finding(
                    "app fic",
                    Status::Fail,
                    format!(
                        "FIC `{}`'s issuer is `{}`, the managed identity's token's is `{}`: {why} (AADSTS700211)",
                        f.name, f.issuer, token.issuer
                    ),
                    Some(format!(
                        "set the FIC's issuer to `{}`: {make}",
                        token.issuer
                    )),
                )
            }
            Some(f) if !f.audiences.iter().any(|a| a == audience) => finding(
                "app fic",
                Status::Fail,
                format!(
                    "FIC `{}`'s audience is {:?}, not `{audience}` (AADSTS700212)",
                    f.name, f.audiences
                ),
                Some(format!("set its one audience to `{audience}`: {make}")),
            ),
            Some(f) => finding(
                "app fic",
                Status::Ok,
                format!(
                    "FIC `{}` of the app {app_id}: issuer `{}` (the identity's tenant {}), subject {} (its principal id), audience `{audience}`",
                    f.name, f.issuer, token.tenant, f.subject
                ),
                None,
            ),
        }
    };
    let used = fics.len();
    let full = used >= idp_arm::graph::MAX_APP_FICS;
    vec![
        verdict,
        finding(
            "app fic slots",
            if full { Status::Warn } else { Status::Ok },
            format!(
                "{used} of the {} federated credentials an app registration may hold",
                idp_arm::graph::MAX_APP_FICS
            ),
            full.then(|| "remove FICs no one uses before adding another".to_owned()),
        ),
    ]
}

/// `--no-exchange`: the values were checked, nothing sent.
pub fn values_only() -> Finding {
    finding(
        "values",
        Status::Ok,
        "the customer's values and scope are well-formed (no exchange sent)".into(),
        None,
    )
}

/// The active key held in Key Vault: the vault signs a probe, and the signature verifies
/// with the public key the keyring (and the JWKS) carries.
pub fn vault_key(ctx: &Context, ring: &idp_core::keyring::Keyring, active: &KeyEntry) -> Finding {
    let id = active.key_vault.as_deref().unwrap_or_default();
    let signed = ctx.active_signer(ring).and_then(|signer| {
        ctx.block_on(signer.sign_rs256(b"idp doctor: can the active key sign?"))
            .map_err(Report::from)
    });
    match signed {
        Ok(_) => finding(
            "signing key",
            Status::Ok,
            format!(
                "held in Key Vault ({id}): the vault signed a probe, and it verifies with the recorded public key"
            ),
            None,
        ),
        Err(e) => finding(
            "signing key",
            Status::Fail,
            idp_core::secret::redact(&format!("{e:#}")),
            e.hint().or_else(|| {
                Some("check idp's access to the vault (--key-vault-token-file, az login)".into())
            }),
        ),
    }
}

/// Checks every customer, at most `parallel` at once: its FIC over its cloud's Resource
/// Manager, then (with an exchanger) a real exchange. Findings per customer, in order.
pub async fn customers(
    ctx: &Context,
    chosen: Vec<(Selected, Job)>,
    exchanger: Option<&Exchanger>,
    parallel: usize,
) -> Vec<(String, Vec<Finding>)> {
    let items = chosen
        .into_iter()
        .map(|(who, job)| (who.label().to_owned(), (who, job)))
        .collect();
    // One throttle for every customer's exchange, as for `token --all`.
    let backoff = idp_exchange::client::SharedBackoff::new();
    let backoff = &backoff;
    let outcomes = fan_out(items, parallel, |(who, job): (Selected, Job)| async move {
        let mut found = match (&who.customer.trust, &job.assertion) {
            (
                Trust::EntraApp { .. },
                Assertion::ManagedIdentity {
                    client_id,
                    resource,
                },
            ) => {
                let token = match ctx.managed_identity() {
                    Ok(mi) => mi
                        .token(client_id.as_deref(), resource)
                        .await
                        .map_err(Report::from),
                    Err(e) => Err(e),
                };
                let facts = token.map(|t| t.facts);
                let mut found = vec![managed_identity_finding(
                    &facts,
                    &job.context.authority,
                    &job.context.client_id,
                )];
                let Ok(facts) = facts else {
                    // Without the token there is nothing to present: the exchange is moot.
                    return found;
                };
                match ctx.graph(job.cloud) {
                    Ok(None) => found.push(no_graph()),
                    Ok(Some(graph)) => found.extend(app_fic_findings(
                        graph.app_fics(&job.context.client_id).await,
                        &facts,
                        job.audience(),
                        &job.context.client_id,
                    )),
                    Err(e) => {
                        found.push(finding("app fic", Status::Fail, format!("{e:#}"), e.hint()))
                    }
                }
                found
            }
            (Trust::Issuer { identity: None, .. }, _) => vec![no_identity()],
            (
                Trust::Issuer {
                    identity: Some(id),
                    subject,
                },
                _,
            ) => {
                let fics = read_fics(ctx, id, job.cloud).await;
                fic_findings(fics, &job.context.issuer, job.audience(), subject)
            }
            (Trust::EntraApp { .. }, Assertion::Signed(_)) => {
                unreachable!("an entra-app customer's job presents the managed identity's token")
            }
        };
        found.push(match exchanger {
            None => values_only(),
            Some(x) => exchange_finding(&x.one(&job, Some(backoff), |_| {}).await.map(|_| ())),
        });
        found
    })
    .await;
    outcomes.into_iter().map(|o| (o.name, o.result)).collect()
}

/// The identity's FICs, over the Resource Manager of `cloud`.
async fn read_fics(
    ctx: &Context,
    id: &str,
    cloud: idp_core::cloud::Cloud,
) -> Result<Vec<Fic>, ArmError> {
    let id = IdentityId::parse(id).map_err(|detail| ArmError::Malformed {
        id: id.to_owned(),
        detail,
    })?;
    let arm = ctx.arm(cloud).map_err(|e| ArmError::Credential {
        scope: cloud.arm_scope().to_owned(),
        detail: format!("{e:#}"),
    })?;
    arm.federated_credentials(&id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://acct.blob.core.windows.net/oidc";
    const AUD: &str = "api://AzureADTokenExchange";

    fn fic(name: &str, issuer: &str, subject: &str) -> Fic {
        Fic {
            name: name.into(),
            issuer: issuer.into(),
            subject: subject.into(),
            audiences: vec![AUD.into()],
        }
    }

    #[test]
    fn the_matching_fic_passes_and_the_slots_are_counted() {
        let f = fic_findings(Ok(vec![fic("idp", ISS, "s")]), ISS, AUD, "s");
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].check, f[0].status), ("fic", Status::Ok));
        assert!(f[0].detail.contains("FIC `idp`"), "{}", f[0].detail);
        assert_eq!((f[1].check, f[1].status), ("fic slots", Status::Ok));
        assert_eq!(
            f[1].detail,
            "1 of the 20 federated credentials a managed identity may hold"
        );
        assert_eq!(f[1].fix, None);
    }

    #[test]
    fn a_full_identity_is_a_warning_and_each_mismatch_a_failure_with_its_fix() {
        let mut all: Vec<Fic> = (0..19)
            .map(|i| fic(&format!("f{i}"), "https://other", "x"))
            .collect();
        all.push(fic("idp", ISS, "s"));
        let f = fic_findings(Ok(all), ISS, AUD, "s");
        assert_eq!(f[0].status, Status::Ok);
        assert_eq!(f[1].status, Status::Warn);
        assert!(f[1].detail.starts_with("20 of the 20"));
        assert!(f[1].fix.as_deref().unwrap().contains("remove FICs"));

        let slash = fic_findings(Ok(vec![fic("idp", &format!("{ISS}/"), "s")]), ISS, AUD, "s");
        assert_eq!(slash[0].status, Status::Fail);
        assert!(
            slash[0].detail.contains("trailing slash"),
            "{}",
            slash[0].detail
        );
        assert!(slash[0].fix.as_deref().unwrap().contains("idp fic"));

        let other = fic_findings(Ok(vec![fic("idp", ISS, "t")]), ISS, AUD, "s");
        assert_eq!(other[0].status, Status::Fail);
        let fix = other[0].fix.as_deref().unwrap();
        assert!(
            fix.contains("subject `s`") && !fix.contains("--subject"),
            "{fix}"
        );
    }

    #[test]
    fn an_arm_refusal_is_the_fic_checks_failure_with_arms_hint() {
        let f = fic_findings(
            Err(ArmError::Forbidden {
                id: "/x".into(),
                status: 403,
                code: "AuthorizationFailed".into(),
            }),
            ISS,
            AUD,
            "s",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Fail);
        assert!(
            f[0].fix.as_deref().unwrap().contains("Reader"),
            "{:?}",
            f[0].fix
        );
    }

    fn mi() -> TokenFacts {
        TokenFacts {
            issuer: "https://login.microsoftonline.com/pt/v2.0".into(),
            tenant: "pt".into(),
            principal_id: "oid-1".into(),
            client_id: "client-1".into(),
            audience: crate::managed_identity::TOKEN_EXCHANGE_APP_ID.into(),
            token_type: Some("app".into()),
        }
    }

    #[test]
    fn the_apps_fic_must_name_the_identitys_tenant_issuer_and_principal_id() {
        let ok = app_fic_findings(
            Ok(vec![fic(
                "mi",
                "https://login.microsoftonline.com/pt/v2.0",
                "oid-1",
            )]),
            &mi(),
            AUD,
            "app",
        );
        assert_eq!((ok[0].check, ok[0].status), ("app fic", Status::Ok));
        assert_eq!((ok[1].check, ok[1].status), ("app fic slots", Status::Ok));
        assert!(ok[1].detail.starts_with("1 of the 20"), "{}", ok[1].detail);

        let fail = |fics: Vec<Fic>| {
            let f = app_fic_findings(Ok(fics), &mi(), AUD, "app");
            assert_eq!(f[0].status, Status::Fail, "{:?}", f[0]);
            (f[0].detail.clone(), f[0].fix.clone().unwrap_or_default())
        };
        let (detail, fix) = fail(vec![]);
        assert!(detail.contains("70025"), "{detail}");
        assert!(
            fix.contains("--publisher-tenant pt --principal-id oid-1"),
            "{fix}"
        );
        // The client id where the principal id belongs: said as such.
        let (detail, _) = fail(vec![fic(
            "mi",
            "https://login.microsoftonline.com/pt/v2.0",
            "client-1",
        )]);
        assert!(
            detail.contains("must be its principal (object) id oid-1"),
            "{detail}"
        );
        let (detail, _) = fail(vec![fic(
            "mi",
            "https://login.microsoftonline.com/pt/v2.0",
            "x",
        )]);
        assert!(
            detail.contains("no FIC of the app app has subject oid-1"),
            "{detail}"
        );
        // Another tenant's issuer: the customer's, say.
        let (detail, fix) = fail(vec![fic(
            "mi",
            "https://login.microsoftonline.com/ct/v2.0",
            "oid-1",
        )]);
        assert!(
            detail.contains("it names tenant `ct`") && detail.contains("700211"),
            "{detail}"
        );
        assert!(
            fix.contains("https://login.microsoftonline.com/pt/v2.0"),
            "{fix}"
        );
        let (detail, _) = fail(vec![fic(
            "mi",
            "https://login.microsoftonline.com/pt/v2.0/",
            "oid-1",
        )]);
        assert!(detail.contains("trailing slash"), "{detail}");
        let mut other_aud = fic("mi", "https://login.microsoftonline.com/pt/v2.0", "oid-1");
        other_aud.audiences = vec!["api://other".into()];
        let (detail, _) = fail(vec![other_aud]);
        assert!(detail.contains("700212"), "{detail}");

        // Graph's refusal is the check's failure, with Graph's hint.
        let f = app_fic_findings(
            Err(GraphError::Forbidden {
                app_id: "app".into(),
                status: 403,
                code: "Authorization_RequestDenied".into(),
            }),
            &mi(),
            AUD,
            "app",
        );
        assert_eq!(f.len(), 1);
        assert!(
            f[0].fix
                .as_deref()
                .unwrap()
                .contains("Application.Read.All")
        );
        // A full app is a warning.
        let all: Vec<Fic> = (0..20)
            .map(|i| {
                fic(
                    &format!("f{i}"),
                    "https://login.microsoftonline.com/pt/v2.0",
                    &format!("s{i}"),
                )
            })
            .collect();
        let f = app_fic_findings(Ok(all), &mi(), AUD, "app");
        assert_eq!(f[1].status, Status::Warn);
        assert_eq!(no_graph().status, Status::Warn);
    }

    #[test]
    fn the_managed_identity_finding_names_what_the_apps_fic_must_say() {
        let f = managed_identity_finding(&Ok(mi()), "https://login.microsoftonline.com/", "app");
        assert_eq!(f.status, Status::Ok);
        assert!(
            f.detail
                .contains("issuer https://login.microsoftonline.com/pt/v2.0 and subject oid-1"),
            "{}",
            f.detail
        );
        let mut user = mi();
        user.token_type = Some("user".into());
        assert_eq!(
            managed_identity_finding(&Ok(user), "https://x", "app").status,
            Status::Fail
        );
        let e = managed_identity_finding(
            &Err(Report::usage("no identity endpoint", "run it on Azure")),
            "https://x",
            "app",
        );
        assert_eq!(e.status, Status::Fail);
        assert_eq!(e.fix.as_deref(), Some("run it on Azure"));
    }

    #[test]
    fn an_exchange_is_ok_or_a_failure_naming_its_code() {
        assert_eq!(exchange_finding(&Ok(())).status, Status::Ok);
        let e = ExchangeError::Unreachable {
            url: "https://x/t/oauth2/v2.0/token".into(),
            detail: "refused".into(),
        };
        let f = exchange_finding(&Err(e));
        assert_eq!(f.status, Status::Fail);
        assert!(f.detail.contains("cannot reach"), "{}", f.detail);
        assert_eq!(values_only().status, Status::Ok);
        assert_eq!(no_identity().status, Status::Warn);
    }
}
