//! `idp.toml` as idp reads it: the file checked against the declared keys
//! (`idp_app::config_file::parse`), then each value through the parser its setting uses.
//!
//! Properties: a file that parses holds only declared keys, each of its type; an issuer it
//! holds that validates renders back byte for byte, and survives `idp init`'s file
//! (`render_file`) and a second parse unchanged; every value parser answers without
//! panicking.
#![no_main]

use idp_app::config_file::{Setting, https_url, parse, render_file, setting};
use idp_core::Issuer;
use libfuzzer_sys::fuzz_target;

fn value<'t>(table: &'t toml::Table, s: &Setting) -> Option<&'t toml::Value> {
    let mut parts = s.key.split('.');
    let first = table.get(parts.next()?)?;
    parts.try_fold(first, |v, part| v.get(part))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(table) = parse(text) else {
        return;
    };
    for s in setting::IN_FILE {
        let Some(v) = value(&table, &s) else { continue };
        if s == setting::STORAGE_RETRIES {
            assert!(v.is_integer());
            continue;
        }
        let raw = v.as_str().expect("every other value is text");
        match s {
            setting::ISSUER => {
                if let Ok(issuer) = Issuer::parse(raw) {
                    assert_eq!(issuer.as_str(), raw);
                    assert_eq!(issuer.to_string(), raw);
                    let again = parse(&render_file(&issuer, "keys")).expect("init's file parses");
                    assert_eq!(again["issuer"].as_str(), Some(raw));
                }
            }
            setting::JWKS_PATH => drop(idp_core::metadata::JwksPath::parse(raw)),
            setting::AUDIENCE => {
                if let Ok(a) = idp_core::assertion::Audience::parse(raw) {
                    assert_eq!(a.as_str(), raw);
                }
            }
            setting::LIFETIME | setting::ROTATION_MIN_PUBLISHED_AGE => {
                if let Ok(d) = idp_core::duration::parse(raw) {
                    let _ = idp_core::assertion::Lifetime::new(d);
                }
            }
            setting::STORAGE_ENDPOINT => drop(idp_publish::target::Target::from_url(raw)),
            setting::STORAGE_CACHE_CONTROL => drop(idp_server::CacheControl::parse(raw)),
            setting::STORAGE_AUTH => drop(idp_publish::credential::Auth::parse(raw)),
            setting::EXCHANGE_CLOUD => drop(idp_core::cloud::Cloud::parse(raw)),
            setting::EXCHANGE_AUTHORITY_HOST | setting::ARM_ENDPOINT | setting::GRAPH_ENDPOINT => {
                if let Ok(url) = https_url(raw) {
                    assert!(url.starts_with("https://") && !url.ends_with('/'), "{url}");
                    assert_eq!(https_url(&url).ok().as_deref(), Some(url.as_str()), "{raw:?}");
                }
            }
            // Paths: any text is a path.
            _ => {}
        }
    }
});
