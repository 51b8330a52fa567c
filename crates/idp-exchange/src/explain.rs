//! What an AADSTS code means for a federated-credential exchange, and what to check, with
//! the values at stake. Codes and causes: Entra's error reference and field reports.

/// The values this exchange used, so an explanation can name them.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub tenant: String,
    pub client_id: String,
    pub scope: String,
    pub authority: String,
    /// The assertion's lifetime in seconds.
    pub lifetime_secs: u64,
    /// Set for the `entra-app` way: the assertion is the publisher's managed identity's
    /// token, `client_id` the publisher's app.
    pub entra_app: Option<EntraApp>,
}

/// What the `entra-app` way's explanations name: the publisher's managed identity as its
/// token shows it (empty until the token came).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntraApp {
    /// The token's `tid`: the publisher's tenant, where the app is registered.
    pub publisher_tenant: String,
    /// The token's `oid`: the identity's principal id, the app's FIC's subject.
    pub principal_id: String,
    /// The token's `azp`: the identity's client id.
    pub managed_identity: String,
}

/// The admin-consent URL that makes the publisher's app a service principal in `tenant`
/// (Microsoft identity platform, "Admin consent": `GET /{tenant}/adminconsent?client_id=`).
pub fn consent_url(authority: &str, tenant: &str, app_id: &str) -> String {
    format!(
        "{}/{tenant}/adminconsent?client_id={app_id}",
        authority.trim_end_matches('/')
    )
}

/// One explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Short name of the failure.
    pub meaning: String,
    /// What to check, with the values at stake.
    pub check: String,
}

fn e(meaning: &str, check: String) -> Explanation {
    Explanation {
        meaning: meaning.into(),
        check,
    }
}

/// The explanation for `code`, or `None` for codes idp has nothing specific to say about.
pub fn explain(code: u64, c: &Context) -> Option<Explanation> {
    if let Some(x) = c
        .entra_app
        .as_ref()
        .and_then(|app| explain_entra_app(code, c, app))
    {
        return Some(x);
    }
    Some(match code {
        70021 => e(
            "no federated credential matches the assertion (or a new one is still propagating)",
            format!(
                "the FIC must carry issuer `{}`, subject `{}` and audience `{}` exactly; a FIC created in the last few minutes may not be visible yet",
                c.issuer, c.subject, c.audience
            ),
        ),
        70025 => e(
            "the managed identity has no federated credentials",
            format!(
                "add a FIC to the identity with client id `{}` (issuer `{}`, subject `{}`), or wait a few minutes if it was just created",
                c.client_id, c.issuer, c.subject
            ),
        ),
        700211 => e(
            "no federated credential has this issuer",
            format!(
                "the FIC's issuer must be exactly `{}` (idp's issuer); check the trailing slash, the scheme and the case",
                c.issuer
            ),
        ),
        700212 => e(
            "no federated credential has this audience",
            format!(
                "the FIC's audience must be exactly `{}`; set the assertion audience (--audience / IDP_ASSERTION_AUDIENCE) to the FIC's, e.g. api://AzureADTokenExchangeUSGov in US Government",
                c.audience
            ),
        ),
        700213 => e(
            "no federated credential has this subject",
            format!(
                "the FIC's subject must be exactly `{}` (the --subject you signed with)",
                c.subject
            ),
        ),
        7002138 => e(
            "the subject matches a federated credential only when case is ignored",
            format!(
                "subjects compare case-sensitively: sign with the FIC's subject exactly, not `{}`",
                c.subject
            ),
        ),
        7000272 => e(
            "the signing key is not in the issuer's published JWKS",
            format!(
                "publish the JWKS with the active key (`idp publish-metadata`, then `--check`), and activate a new key only after Entra's cache (up to 24 h) has seen it; the JWKS is at the `jwks_uri` of {}/.well-known/openid-configuration",
                c.issuer.trim_end_matches('/')
            ),
        ),
        90061 | 50166 | 501661 => e(
            "Entra could not fetch the issuer's metadata",
            format!(
                "{}/.well-known/openid-configuration and its jwks_uri must be readable anonymously over https from the internet (`idp publish-metadata --check`); a storage firewall or a private container blocks it",
                c.issuer.trim_end_matches('/')
            ),
        ),
        900612 => e(
            "Entra could not parse the issuer's JWKS",
            "re-publish it with `idp publish-metadata`; check nothing else writes to the JWKS blob"
                .into(),
        ),
        700024 => e(
            "the assertion is expired or not yet valid",
            "check this machine's clock (NTP); sign a fresh assertion right before the exchange"
                .into(),
        ),
        70023 => e(
            "the assertion lives longer than Entra accepts (25 hours)",
            format!(
                "sign with a shorter --lifetime (this one: {} s)",
                c.lifetime_secs
            ),
        ),
        50027 => e(
            "Entra rejected the assertion as an invalid JWT (malformed, or its signature does not verify)",
            format!(
                "the published JWKS must hold the key that signed it: run `idp publish-metadata --check`; the issuer is `{}`",
                c.issuer
            ),
        ),
        5002738 => e(
            "the assertion's algorithm is not supported",
            "Entra accepts RS256; idp always signs RS256, so the token came from elsewhere".into(),
        ),
        700016 => e(
            "no application or managed identity with this client id in the tenant",
            format!(
                "`{}` must be the managed identity's client id (clientId, not principalId) in tenant `{}`",
                c.client_id, c.tenant
            ),
        ),
        500011 => e(
            "the resource is unknown to this tenant's Entra (another cloud's service, or an app not in the tenant)",
            format!(
                "the scope `{}` must name a resource of the customer's cloud, asked of that cloud's Entra (`{}` now): a US Government or China customer needs its cloud recorded (`idp customers add … --cloud usgov`) or --cloud, and that cloud's resources (https://management.usgovcloudapi.net, https://vault.usgovcloudapi.net, …)",
                c.scope, c.authority
            ),
        ),
        90002 => e(
            "the tenant does not exist",
            format!(
                "check the tenant id `{}` (the customer's tenant) and the authority `{}` (sovereign clouds have their own)",
                c.tenant, c.authority
            ),
        ),
        70011 | 700022 | 1002012 => e(
            "the scope is not valid",
            format!(
                "give one resource followed by /.default, like https://vault.azure.net/.default (got `{}`)",
                c.scope
            ),
        ),
        7000218 | 900144 => e(
            "the request lacks a required field",
            "this is a bug in idp or a proxy altering the request: please report it".into(),
        ),
        700222 | 700236 | 700229 | 700226 | 700231 => e(
            "Entra-issued tokens cannot be used as this assertion",
            format!(
                "the issuer `{}` must not be an Entra issuer for an issuer-way customer; to trust the publisher's managed identity, use the entra-app way (`idp customers add NAME --way entra-app`)",
                c.issuer
            ),
        ),
        _ => return None,
    })
}

/// The `entra-app` way's own explanations: the trust is the publisher's app's, in the
/// publisher's tenant, and the assertion a managed identity's token (Microsoft Learn,
/// "Configure an application to trust a managed identity"; the codes and their texts in
/// entra-facts §10).
fn explain_entra_app(code: u64, c: &Context, app: &EntraApp) -> Option<Explanation> {
    let pt = if app.publisher_tenant.is_empty() {
        "<publisher tenant>"
    } else {
        &app.publisher_tenant
    };
    let principal = if app.principal_id.is_empty() {
        "<the identity's principal id>"
    } else {
        &app.principal_id
    };
    let issuer = format!("{}/{pt}/v2.0", c.authority.trim_end_matches('/'));
    let fic = format!(
        "issuer `{issuer}`, subject `{principal}` (the managed identity's principal id) and audience `{}`",
        c.audience
    );
    Some(match code {
        700016 => e(
            "the publisher's app has no service principal in the customer's tenant: its admin has not consented to it",
            format!(
                "the customer's admin opens {} once and accepts (`idp customers consent-url NAME` prints it); the app `{}` must be multi-tenant (signInAudience AzureADMultipleOrgs)",
                consent_url(&c.authority, &c.tenant, &c.client_id),
                c.client_id
            ),
        ),
        700236 => e(
            "the trust is on the wrong side: Entra-issued tokens are trusted only by apps and identities registered in the token's own tenant",
            format!(
                "put the federated credential on the publisher's app `{}` in the publisher's tenant `{pt}` ({fic}): `idp fic --way entra-app --publisher-tenant {pt} --principal-id {principal}`; a FIC on the customer's managed identity, or on an app registered in another tenant, trusting the publisher's tenant is refused",
                c.client_id
            ),
        ),
        700226 => e(
            "the assertion is an app's token, not a managed identity's",
            "Entra takes only a managed identity's own token as this assertion: run idp where the publisher's user-assigned identity is attached (App Service, Container Apps, Functions, a VM), not with an app's secret or certificate".into(),
        ),
        700229 => e(
            "the assertion is not an app-only token (a user's, or a delegated one)",
            "Entra takes only a managed identity's own app-only token: run idp where the publisher's user-assigned identity is attached; Cloud Shell's and a developer's logins are users".into(),
        ),
        700231 => e(
            "the managed identity's token was itself got through a federated credential (GitHub Actions, AKS workload identity): Entra refuses chains",
            "where idp runs, the identity is federated rather than attached, so this way cannot work there: run idp on Azure compute with the identity attached (App Service, Container Apps, Functions, a VM), or use the issuer way (idp's own issuer) from outside Azure".into(),
        ),
        700211 => e(
            "no federated credential of the publisher's app has this issuer",
            format!(
                "the app `{}`'s FIC must name issuer `{issuer}` exactly (the publisher tenant's v2.0 issuer, the managed identity token's `iss`)",
                c.client_id
            ),
        ),
        700213 | 7002138 => e(
            "no federated credential of the publisher's app has this subject",
            format!(
                "the app `{}`'s FIC subject must be `{principal}`: the managed identity's principal (object) id, not its client id `{}`",
                c.client_id, app.managed_identity
            ),
        ),
        700212 => e(
            "no federated credential of the publisher's app has this audience",
            format!(
                "the app `{}`'s FIC audience must be `{}`",
                c.client_id, c.audience
            ),
        ),
        70021 => e(
            "no federated credential of the publisher's app matches (or a new one is still propagating)",
            format!(
                "the app `{}` needs a FIC with {fic}; one created in the last few minutes may not be visible yet",
                c.client_id
            ),
        ),
        70025 => e(
            "the publisher's app has no federated credentials",
            format!(
                "add one to the app `{}` ({fic}): `idp fic --way entra-app --publisher-tenant {pt} --principal-id {principal}`",
                c.client_id
            ),
        ),
        700024 => e(
            "the managed identity's token is expired or not yet valid",
            "check this machine's clock (NTP); idp fetches a new token shortly before the old one expires".into(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_mismatch_names_idps_issuer_and_the_trailing_slash() {
        let c = Context {
            issuer: "https://acct.blob.core.windows.net/oidc".into(),
            ..Default::default()
        };
        let x = explain(700211, &c).unwrap();
        assert_eq!(
            x.check,
            "the FIC's issuer must be exactly `https://acct.blob.core.windows.net/oidc` (idp's issuer); check the trailing slash, the scheme and the case"
        );
    }

    #[test]
    fn every_code_the_emulator_answers_is_explained() {
        let c = Context::default();
        for code in [
            70021, 70025, 700211, 700212, 700213, 7002138, 7000272, 90061, 900612, 700024, 70023,
            50027, 5002738, 700016, 90002, 70011, 700022, 1002012, 7000218, 900144, 500011,
        ] {
            assert!(explain(code, &c).is_some(), "{code}");
        }
        assert!(explain(12345, &c).is_none());
    }

    #[test]
    fn another_clouds_resource_names_the_scope_and_the_authority_asked() {
        let c = Context {
            scope: "https://management.azure.com/.default".into(),
            authority: "https://login.microsoftonline.us".into(),
            ..Default::default()
        };
        let x = explain(500011, &c).unwrap();
        assert!(
            x.check.contains("`https://management.azure.com/.default`"),
            "{}",
            x.check
        );
        assert!(
            x.check.contains("`https://login.microsoftonline.us`"),
            "{}",
            x.check
        );
        assert!(x.check.contains("--cloud"), "{}", x.check);
    }

    fn entra_app() -> Context {
        Context {
            tenant: "c-tenant".into(),
            client_id: "app-id".into(),
            authority: "https://login.microsoftonline.com".into(),
            audience: "api://AzureADTokenExchange".into(),
            entra_app: Some(EntraApp {
                publisher_tenant: "p-tenant".into(),
                principal_id: "principal".into(),
                managed_identity: "mi-client".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_entra_app_way_explains_each_code_with_its_own_values() {
        let c = entra_app();
        let check = |code| explain(code, &c).unwrap().check;
        assert!(
            check(700016).contains(
                "https://login.microsoftonline.com/c-tenant/adminconsent?client_id=app-id"
            ),
            "{}",
            check(700016)
        );
        let wrong_side = check(700236);
        assert!(
            wrong_side.contains("publisher's tenant `p-tenant`")
                && wrong_side.contains("--principal-id principal")
                && wrong_side.contains("customer's managed identity"),
            "{wrong_side}"
        );
        assert!(check(700211).contains("https://login.microsoftonline.com/p-tenant/v2.0"));
        let subject = check(700213);
        assert!(
            subject.contains("`principal`") && subject.contains("not its client id `mi-client`"),
            "{subject}"
        );
        assert!(
            check(700231).contains("GitHub")
                || explain(700231, &c).unwrap().meaning.contains("GitHub")
        );
        assert!(check(700231).contains("issuer way"));
        assert!(
            explain(700226, &c)
                .unwrap()
                .meaning
                .contains("an app's token")
        );
        assert!(explain(700229, &c).unwrap().meaning.contains("app-only"));
        assert!(
            check(70021).contains("propagating")
                || explain(70021, &c).unwrap().meaning.contains("propagating")
        );
        assert!(check(70025).contains("idp fic --way entra-app"));
        // What is not the way's own is explained as for any customer.
        assert!(check(500011).contains("scope"));
        // An issuer-way customer meeting an Entra issuer is pointed at the entra-app way.
        let plain = Context::default();
        for code in [700236, 700226, 700229, 700231] {
            assert!(
                explain(code, &plain)
                    .unwrap()
                    .check
                    .contains("--way entra-app"),
                "{code}"
            );
        }
    }
}
