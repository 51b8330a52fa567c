//! `idp serve` as a process: the rendered bytes over HTTP, SIGHUP reload, SIGTERM shutdown.

use assert_cmd::cargo::cargo_bin;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const ISSUER: &str = "https://127.0.0.1:8443/oidc";

fn idp(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(cargo_bin("idp"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Kills the server if a test fails before it stops it.
struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn serves_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    idp(
        dir.path(),
        &["init", "--issuer", ISSUER, "--key-size", "2048"],
    );
    let mut child = Command::new(cargo_bin("idp"))
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut server = Server(child);
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
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
    let mut reloaded = String::new();
    while !reloaded.contains("reloaded the keyring") {
        reloaded.clear();
        assert!(
            stderr.read_line(&mut reloaded).unwrap() > 0,
            "server exited"
        );
    }
    let jwks2 = get(".well-known/jwks.json");
    assert_ne!(jwks1, jwks2);
    assert_eq!(jwks2, idp(dir.path(), &["metadata", "--only", "jwks"]));

    signal(&server.0, "-TERM");
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}
