//! Microsoft Graph's list of an application's federated credentials, and its error bodies,
//! as `idp doctor` reads them (idp-arm `graph`).
//!
//! Input: the status (two bytes), the body.
//!
//! Properties: at most 20 credentials (Graph's limit) are kept whatever comes; no error
//! message holds a JWT-looking segment or a secret parameter's value; a FIC idp picks among
//! them trusts the issuer byte for byte with exactly the audience asked for.
#![no_main]

use idp_arm::choose_fic;
use idp_arm::graph::{MAX_APP_FICS, parse_fics, read_answer};
use idp_fuzz::assert_no_secret;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
const AUD: &str = "api://AzureADTokenExchange";

fuzz_target!(|data: &[u8]| {
    let (status, body) = idp_fuzz::status(data);
    match read_answer("9a1c1b5e-2f4d-4c1e-8a4b-0d9c6a7e5f31", status, body) {
        Ok(fics) => {
            assert_eq!(status, 200);
            assert!(fics.len() <= MAX_APP_FICS);
            assert_eq!(parse_fics(body).unwrap(), fics);
            if let Ok(f) = choose_fic(&fics, ISSUER, AUD, None) {
                assert_eq!(f.issuer, ISSUER);
                assert_eq!(f.audiences, [AUD]);
            }
        }
        Err(e) => assert_no_secret("Graph's error", &e.to_string()),
    }
});
