//! `idp serve` as a process: the rendered bytes over HTTP and HTTPS, SIGHUP reload, SIGTERM
//! shutdown.

use idp_testkit::stdout_of;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

const ISSUER: &str = "https://127.0.0.1:8443/oidc";

fn idp(dir: &Path, args: &[&str]) -> Vec<u8> {
    stdout_of(
        idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), dir)
            .args(args)
            .output()
            .unwrap(),
    )
}

/// Kills the server if a test fails before it stops it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends a signal with the shell's own `kill`, so the test needs no procps.
fn signal(child: &Child, sig: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("kill {sig} {}", child.id())])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Reads stderr lines until one contains `needle`; fails if the server exits first.
fn wait_for(stderr: &mut BufReader<ChildStderr>, needle: &str) -> String {
    let mut line = String::new();
    while !line.contains(needle) {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "idp serve exited before saying {needle:?}"
        );
    }
    line
}

/// Starts `idp serve` with `args` on a free loopback port; returns the server, its stderr
/// and the address it announced.
fn start(dir: &Path, args: &[&str]) -> (Server, BufReader<ChildStderr>, String) {
    let mut child = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let server = Server(child);
    let line = wait_for(&mut stderr, "serving on");
    let addr = line.split("://").nth(1).unwrap().trim().to_owned();
    (server, stderr, addr)
}

/// A client that trusts only the CA in `ca_pem`.
fn client_trusting(ca_pem: &[u8]) -> reqwest::blocking::Client {
    use rustls::pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

#[test]
fn serves_https_with_a_self_signed_ca_and_with_given_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    idp(
        dir.path(),
        &["init", "--issuer", ISSUER, "--key-size", "2048"],
    );
    let discovery = idp(dir.path(), &["metadata", "--only", "discovery"]);
    let (server, _stderr, addr) = start(dir.path(), &["--self-signed", "certs"]);
    let ca = std::fs::read(dir.path().join("certs/ca.pem")).unwrap();
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("certs/server.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600);
    let url = format!("https://{addr}/oidc/.well-known/openid-configuration");
    let r = client_trusting(&ca).get(&url).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.bytes().unwrap().to_vec(), discovery);
    // A client that does not trust this CA is refused, for the certificate: the server
    // is up (the request above just succeeded), and the failure names why.
    let other_ca = idp_server::tls::local_ca(&["localhost".into()])
        .unwrap()
        .ca_pem;
    let refused = client_trusting(other_ca.as_bytes())
        .get(&url)
        .send()
        .unwrap_err();
    let mut why = String::new();
    let mut cause: Option<&dyn std::error::Error> = Some(&refused);
    while let Some(c) = cause {
        why.push_str(&format!("{c}; "));
        cause = c.source();
    }
    assert!(why.contains("invalid peer certificate"), "{why}");
    drop(server);

    // The same certificate, given as files.
    let (_server, _stderr, addr) = start(
        dir.path(),
        &[
            "--tls-cert",
            "certs/server.pem",
            "--tls-key",
            "certs/server.key",
        ],
    );
    let r = client_trusting(&ca)
        .get(format!("https://{addr}/oidc/.well-known/jwks.json"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn serves_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    idp(
        dir.path(),
        &["init", "--issuer", ISSUER, "--key-size", "2048"],
    );
    let (mut server, mut stderr, addr) = start(dir.path(), &[]);
    idp_server::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| {
        let r = client
            .get(format!("http://{addr}/oidc/{path}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        r.bytes().unwrap().to_vec()
    };
    assert_eq!(
        get(".well-known/openid-configuration"),
        idp(dir.path(), &["metadata", "--only", "discovery"])
    );
    let jwks1 = get(".well-known/jwks.json");
    assert_eq!(jwks1, idp(dir.path(), &["metadata", "--only", "jwks"]));

    // A new key appears after SIGHUP.
    idp(dir.path(), &["keys", "add", "--key-size", "2048"]);
    signal(&server.0, "-HUP");
    wait_for(&mut stderr, "reloaded the keyring");
    let jwks2 = get(".well-known/jwks.json");
    assert_ne!(jwks1, jwks2);
    assert_eq!(jwks2, idp(dir.path(), &["metadata", "--only", "jwks"]));

    signal(&server.0, "-TERM");
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}
