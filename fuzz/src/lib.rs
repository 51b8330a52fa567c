//! What the fuzz targets share: keys made once per process, the properties about secrets
//! every target checks, and the small framing that splits an input into its parts (so that
//! seeds in `corpus/<target>/` stay readable files).

use idp_core::keyring::{KeyState, Keyring, entry_for};
use idp_core::keys::{self, SigningKey};
use std::sync::OnceLock;
use time::macros::datetime;

/// The issuer every target uses where one is needed.
pub const ISSUER: &str = "https://acct.blob.core.windows.net/oidc";
/// "Now" for the targets (2027-01-15), so runs do not depend on the clock.
pub const NOW: i64 = 1_800_000_000;

/// Three RSA keys, made once per process: the keyrings and signatures targets need.
pub struct Keys {
    pub signing: Vec<SigningKey>,
    /// The same keys as keyring entries (state `next`, created at 2026-01-01).
    pub entries: Vec<idp_core::keyring::KeyEntry>,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut signing = Vec::new();
        let mut entries = Vec::new();
        for i in 0..3 {
            let parsed = keys::generate(2048).expect("a key");
            entries.push(entry_for(
                &parsed,
                KeyState::Next,
                datetime!(2026-01-01 00:00 UTC),
            ));
            signing.push(
                parsed
                    .into_signing_key(std::path::Path::new(&format!("k{i}.pem")))
                    .expect("a signing key"),
            );
        }
        Keys { signing, entries }
    })
}

/// A keyring of the fixed keys in `states` (at most three; extra states are ignored).
pub fn keyring(states: &[KeyState]) -> Keyring {
    Keyring {
        version: 1,
        keys: keys()
            .entries
            .iter()
            .zip(states)
            .map(|(e, s)| {
                let mut e = e.clone();
                e.state = *s;
                e
            })
            .collect(),
    }
}

/// A key state from two bits.
pub fn state(bits: u8) -> KeyState {
    match bits & 3 {
        0 => KeyState::Next,
        1 => KeyState::Active,
        2 => KeyState::Retiring,
        _ => KeyState::Retired,
    }
}

fn is_b64url(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The first base64url segment (a maximal run of `[A-Za-z0-9_-]`) of `text` that starts
/// with `eyJ`, the base64url of `{"`: the header or the claims of a JWT.
pub fn jwt_segment(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(found) = text[i..].find("eyJ") {
        let at = i + found;
        let starts_segment = at == 0 || !is_b64url(bytes[at - 1] as char);
        if starts_segment {
            let end = text[at..]
                .find(|c: char| !is_b64url(c))
                .map_or(text.len(), |e| at + e);
            return Some(&text[at..end]);
        }
        i = at + 1;
    }
    None
}

/// The characters of a URL or form value, as `redact` reads them.
fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "%+/=_.-~".contains(c)
}

/// A secret parameter (`sig=`, `client_assertion=`, `access_token=`, `client_secret=`, or a
/// `Bearer ` credential) whose value is left in `text`, other than `REDACTED`. A bearer
/// credential counts from `min_bearer` characters: in a message idp composes, network text
/// ending in `bearer` may be followed by idp's own words (`… bearer for application …`).
pub fn secret_value(text: &str, min_bearer: usize) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for marker in [
        "sig=",
        "client_assertion=",
        "access_token=",
        "client_secret=",
        "bearer ",
    ] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(marker) {
            let value_start = from + found + marker.len();
            let value: String = text[value_start..]
                .chars()
                .take_while(|c| is_value_char(*c))
                .collect();
            let least = if marker == "bearer " { min_bearer } else { 1 };
            if value.len() >= least && value != idp_core::secret::REDACTED {
                return Some(format!("{marker}{value}"));
            }
            from = from + found + 1;
        }
    }
    None
}

/// Panics when `text` (a message idp composes around network text) holds what looks like
/// a token or a secret parameter's value.
pub fn assert_no_secret(what: &str, text: &str) {
    check_secrets(what, text, 16);
}

/// The same for `redact`'s own output, where any value after `Bearer ` counts.
pub fn assert_redacted(what: &str, text: &str) {
    check_secrets(what, text, 1);
}

fn check_secrets(what: &str, text: &str, min_bearer: usize) {
    if let Some(seg) = jwt_segment(text) {
        panic!("{what} holds a JWT-looking segment `{seg}`: {text:?}");
    }
    if let Some(v) = secret_value(text, min_bearer) {
        panic!("{what} holds the secret value `{v}`: {text:?}");
    }
}

/// Splits `data` at the first `sep`: before and after (empty when there is none).
pub fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Two bytes as a status code (any u16), and the rest.
pub fn status(data: &[u8]) -> (u16, &[u8]) {
    match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => (200, data),
    }
}

/// A single-threaded runtime for the targets that drive a router.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_jwt_segments_and_secret_values() {
        assert_eq!(jwt_segment("a eyJhb.c"), Some("eyJhb"));
        assert_eq!(jwt_segment("+eyJhb.c"), Some("eyJhb"));
        assert_eq!(jwt_segment("xeyJhb"), None);
        assert_eq!(secret_value("sig=REDACTED&x", 1), None);
        assert_eq!(secret_value("SIG=abc", 1), Some("sig=abc".into()));
        assert_eq!(secret_value("see `sig=…`", 1), None);
        assert_eq!(secret_value("xbearer for app", 16), None);
    }
}

/// The Entra emulator as the emulator targets drive it: a fresh one per input (its state
/// is what requests change), sharing one signing key and the tokens made with it.
pub mod emulator {
    use axum::body::Body;
    use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
    use idp_emulator::{Config, Emulator, FicSpec, ManualClock, SigningKey};
    use std::sync::OnceLock;
    use std::time::{Duration, SystemTime};
    use tower::ServiceExt as _;

    pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
    pub const BASE: &str = "https://login.emulator.test";
    /// The FIC issuer of the identity `rg/uami`: a loopback port nothing listens on, so a
    /// metadata fetch fails at once (AADSTS90061) and never leaves the machine.
    pub const FIC_ISSUER: &str = "https://127.0.0.1:9/oidc";

    fn key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate().expect("a key"))
    }

    /// A new emulator at [`crate::NOW`]: resource group `rg`, identity `uami` with FIC
    /// `idp` (issuer [`FIC_ISSUER`], subject `s`, the global exchange audience).
    pub fn fresh() -> Emulator {
        let mut config = Config::new(TENANT, SUBSCRIPTION);
        config.signing_key = Some(key().clone());
        config.fic_write_duration = Duration::ZERO;
        config.fetch_timeout = Duration::from_millis(200);
        config.public_base_url = Some(BASE.into());
        config.clock = std::sync::Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(crate::NOW as u64),
        ));
        let emu = Emulator::new(config).expect("an emulator");
        emu.put_resource_group("rg", "westeurope").unwrap();
        emu.put_identity("rg", "uami", "westeurope").unwrap();
        emu.put_federated_credential(
            "rg",
            "uami",
            "idp",
            FicSpec::new(FIC_ISSUER, "s", "api://AzureADTokenExchange"),
        )
        .unwrap();
        emu
    }

    /// Tokens a test client holds: `$ARM` the subscription owner's, `$GRAPH` and
    /// `$PGRAPH` the customer's and the publisher's tenant administrators' for Graph.
    pub struct Tokens {
        pub arm: String,
        pub graph: String,
        pub publisher_graph: String,
    }

    pub fn tokens() -> &'static Tokens {
        static TOKENS: OnceLock<Tokens> = OnceLock::new();
        TOKENS.get_or_init(|| {
            let emu = fresh();
            let life = Duration::from_secs(86_400 * 365);
            let publisher = emu.publisher_tenant().to_owned();
            Tokens {
                arm: emu.owner_token(life).unwrap(),
                graph: emu
                    .admin_token(TENANT, "https://graph.microsoft.com", life)
                    .unwrap(),
                publisher_graph: emu
                    .admin_token(&publisher, "https://graph.microsoft.com", life)
                    .unwrap(),
            }
        })
    }

    /// `text` with the placeholders of the seeds filled in: `$SUB`, `$TENANT`,
    /// `$PTENANT`, `$CLIENT` (the identity's client id), `$ARM`, `$GRAPH`, `$PGRAPH`.
    pub fn fill(emu: &Emulator, text: &str) -> String {
        if !text.contains('$') {
            return text.to_owned();
        }
        let t = tokens();
        let client = emu
            .identity("rg", "uami")
            .map(|i| i.client_id)
            .unwrap_or_default();
        text.replace("$SUB", SUBSCRIPTION)
            .replace("$PTENANT", emu.publisher_tenant())
            .replace("$TENANT", TENANT)
            .replace("$CLIENT", &client)
            .replace("$ARM", &format!("Bearer {}", t.arm))
            .replace("$PGRAPH", &format!("Bearer {}", t.publisher_graph))
            .replace("$GRAPH", &format!("Bearer {}", t.graph))
    }

    /// Sends one request (`METHOD target`, header lines, a blank line, the body) to the
    /// emulator's router: its status and body, or `None` when it is not a request.
    pub fn send(emu: &Emulator, request: &str) -> Option<(StatusCode, Vec<u8>)> {
        let (head, body) = request.split_once("\n\n").unwrap_or((request, ""));
        let mut lines = head.split('\n');
        let (method, target) = lines.next()?.split_once(' ')?;
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header("host", "login.emulator.test");
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value.trim_start()),
            ) else {
                continue;
            };
            builder = builder.header(name, value);
        }
        let request = builder.body(Body::from(body.to_owned())).ok()?;
        let app = emu.router();
        Some(crate::runtime().block_on(async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 16 << 20)
                .await
                .unwrap()
                .to_vec();
            (status, body)
        }))
    }
}
