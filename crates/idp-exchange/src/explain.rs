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
        700222 | 700236 | 700229 => e(
            "Entra-issued tokens cannot be used as this assertion",
            format!(
                "the issuer `{}` must not be an Entra issuer; use idp's own issuer",
                c.issuer
            ),
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
}
