//! How `idp publish-metadata` reaches storage: a SAS when one is given (or asked for with
//! `--auth sas`), else an Entra credential, the process's chain unless `--auth` names
//! another method.

use crate::context::Context;
use crate::credentials::Method;
use idp_core::diagnostic::Report;
use idp_publish::credential::{Auth, CredentialError};
use idp_publish::sas::SasToken;
use idp_publish::storage::Credential;

/// What a publish authenticates with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Sas,
    Entra(Method),
}

/// The choice for `auth`, given whether a SAS was given and the method the environment
/// points at: `auto` takes the SAS, else the environment's method; an explicit method wins
/// over both.
pub fn choose(auth: Auth, has_sas: bool, detected: Method) -> Result<Choice, CredentialError> {
    Ok(match (auth, has_sas) {
        (Auth::Sas, false) => return Err(CredentialError::NoSas),
        (Auth::Sas | Auth::Auto, true) => Choice::Sas,
        (Auth::Auto, false) => Choice::Entra(detected),
        (Auth::AzureCli, _) => Choice::Entra(Method::AzureCli),
        (Auth::ManagedIdentity, _) => Choice::Entra(Method::ManagedIdentity),
        (Auth::WorkloadIdentity, _) => Choice::Entra(Method::WorkloadIdentity),
    })
}

/// The storage credential for `auth` and `sas`.
pub fn storage_credential(
    ctx: &Context,
    auth: Auth,
    sas: Option<SasToken>,
) -> Result<Credential, Report> {
    let credentials = ctx.credentials()?;
    Ok(
        match (choose(auth, sas.is_some(), credentials.method())?, sas) {
            (Choice::Sas, Some(sas)) => Credential::Sas(sas),
            (Choice::Sas, None) => return Err(CredentialError::NoSas.into()),
            (Choice::Entra(method), _) => Credential::Entra(credentials.storage(method)?),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_sas_then_the_environments_method() {
        for detected in [
            Method::WorkloadIdentity,
            Method::ManagedIdentity,
            Method::AzureCli,
        ] {
            assert_eq!(choose(Auth::Auto, true, detected).unwrap(), Choice::Sas);
            assert_eq!(
                choose(Auth::Auto, false, detected).unwrap(),
                Choice::Entra(detected)
            );
        }
    }

    #[test]
    fn an_explicit_method_wins_over_the_environment_and_a_sas() {
        let d = Method::WorkloadIdentity;
        assert_eq!(
            choose(Auth::AzureCli, true, d).unwrap(),
            Choice::Entra(Method::AzureCli)
        );
        assert_eq!(
            choose(Auth::ManagedIdentity, true, d).unwrap(),
            Choice::Entra(Method::ManagedIdentity)
        );
        assert_eq!(
            choose(Auth::WorkloadIdentity, false, Method::AzureCli).unwrap(),
            Choice::Entra(Method::WorkloadIdentity)
        );
        assert_eq!(choose(Auth::Sas, true, d).unwrap(), Choice::Sas);
        assert!(matches!(
            choose(Auth::Sas, false, d),
            Err(CredentialError::NoSas)
        ));
    }
}
