//! `idp serve` as a process: the rendered bytes over HTTP and HTTPS, SIGHUP reload, SIGTERM
//! shutdown.

use idp_testkit::{Service, stdout_of};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ISSUER: &str = "https://127.0.0.1:8443/oidc";

fn idp(dir: &Path, args: &[&str]) -> Vec<u8> {
    stdout_of(
        idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), dir)
            .args(args)
            .output()
            .unwrap(),
    )
}

/// Sends a signal with the shell's own `kill`, so the test needs no procps.
fn signal(server: &Service, sig: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("kill {sig} {}", server.pid())])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Starts `idp serve` with `args` on a free loopback port (it binds port 0 itself and
/// says where); returns the server (killed on drop) and that address.
fn start(dir: &Path, args: &[&str]) -> (Service, String) {
    let mut cmd = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), dir);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    let server = Service::spawn(cmd, "serving on");
    let addr = server.address();
    (server, addr)
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
        .no_proxy()
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
    let (server, addr) = start(dir.path(), &["--self-signed", "certs"]);
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
    let (_server, addr) = start(
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
    let (mut server, addr) = start(dir.path(), &[]);
    idp_server::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
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
    signal(&server, "-HUP");
    server.expect_line("reloaded the keyring");
    let jwks2 = get(".well-known/jwks.json");
    assert_ne!(jwks1, jwks2);
    assert_eq!(jwks2, idp(dir.path(), &["metadata", "--only", "jwks"]));

    signal(&server, "-TERM");
    let status = server.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{status:?}");
    let rest = server.rest();
    assert!(rest.contains("stopped"), "{rest}");

    // Ctrl-C (SIGINT) stops it as cleanly.
    let (mut server, _) = start(dir.path(), &[]);
    signal(&server, "-INT");
    let status = server.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{status:?}");
    assert!(server.rest().contains("stopped"));
}

#[test]
fn services_stop_on_sigterm_even_when_their_stderr_reader_is_gone() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    idp(
        dir.path(),
        &["init", "--issuer", ISSUER, "--key-size", "2048"],
    );
    for args in [
        &["serve", "--listen", "127.0.0.1:0"][..],
        &[
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--self-signed",
            "emu",
        ][..],
    ] {
        let mut child = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("://127.0.0.1:") {
            line.clear();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "{args:?} exited early"
            );
        }
        // Whoever read its stderr is gone: every later line it writes meets a closed pipe.
        drop(reader);
        std::thread::sleep(Duration::from_millis(200));
        Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", child.id())])
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("{args:?} did not stop on SIGTERM with its stderr closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{args:?}: {status:?}");
    }
}
