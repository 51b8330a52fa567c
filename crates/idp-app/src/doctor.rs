//! `idp doctor`'s checks beyond the issuer's own (those are
//! [`idp_publish::doctor::issuer_findings`]): a signing key held in Key Vault signs a
//! probe, and each customer asked for gets its FIC read over Resource Manager (when its
//! identity is recorded) and a real exchange, explained. The judging is pure, over what
//! was fetched; the fetching runs every customer through the one fan-out, each against its
//! own cloud's Resource Manager and authority.

use crate::context::Context;
use crate::exchange::{self, Exchanger, Job, Shape};
use crate::fanout::fan_out;
use crate::select::Selected;
use idp_arm::{ArmError, Fic, FicMismatch, choose_fic};
use idp_core::azure_id::IdentityId;
use idp_core::diagnostic::{Diagnostic, Report};
use idp_core::keyring::KeyEntry;
use idp_exchange::client::ExchangeError;
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

/// `--no-exchange`: the values were checked, nothing sent.
pub fn values_only() -> Finding {
    finding(
        "values",
        Status::Ok,
        "tenant, client id, subject and scope are well-formed (no exchange sent)".into(),
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
    shape: &Shape,
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
        let mut found = match &who.customer.identity {
            None => vec![no_identity()],
            Some(id) => {
                let fics = read_fics(ctx, id, job.cloud).await;
                fic_findings(
                    fics,
                    shape.issuer.as_str(),
                    job.spec.audience.as_str(),
                    &who.customer.subject,
                )
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
