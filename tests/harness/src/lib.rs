//! Test-only services for idp's end-to-end suites, each started by the test itself on a
//! free 127.0.0.1 port and stopped when dropped:
//!
//! - [`Azurite`]: Microsoft's Azure Storage emulator (npm `azurite`, pinned by the
//!   repository's `package-lock.json`; `npm ci` installs it) over HTTPS, with a CA and
//!   server certificate made here by rcgen, accepting SAS tokens and (`--oauth basic`)
//!   bearer tokens.
//! - [`StorageFront`]: Azurite behind accounts it cannot be alone, answering as Azure
//!   does: one that forbids anonymous access, one failing its first requests, one where
//!   another publisher's write lands between read and write.
//! - [`Python`]: the pinned Python packages of `tests/requirements.txt` (in `.venv`), for
//!   what only the official SDKs should make: SAS tokens, and `azure-identity` as a client.
//!
//! A missing service is a failure that says how to install it, never a skipped test.

mod front;
pub use front::{RACER_BYTES, StorageFront};

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Azurite's well-known development account and key (published in Microsoft's docs).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// A port nobody listens on right now, on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A throw-away CA and a server certificate for 127.0.0.1 and localhost, as PEM files.
#[derive(Debug)]
pub struct TestCa {
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

/// The test CA's PEM texts, in memory: the CA certificate, and a server certificate for
/// 127.0.0.1 and localhost with its key.
#[derive(Debug, Clone)]
pub struct TestPems {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    /// Writes `ca.pem`, `server.pem` and `server.key` into `dir`.
    pub fn create(dir: &Path) -> Self {
        Self::create_for(dir, &[])
    }

    /// [`TestCa::create`] with a server certificate valid for `hosts` too.
    pub fn create_for(dir: &Path, hosts: &[&str]) -> Self {
        let pems = Self::pems_for(hosts);
        let out = Self {
            ca_pem: dir.join("ca.pem"),
            cert_pem: dir.join("server.pem"),
            key_pem: dir.join("server.key"),
        };
        std::fs::write(&out.ca_pem, pems.ca_pem).unwrap();
        std::fs::write(&out.cert_pem, pems.cert_pem).unwrap();
        std::fs::write(&out.key_pem, pems.key_pem).unwrap();
        out
    }

    /// A new CA and server certificate, valid from an hour ago for two days: the one test
    /// CA of every suite.
    pub fn pems() -> TestPems {
        Self::pems_for(&[])
    }

    /// [`TestCa::pems`] with a server certificate valid for `hosts` too.
    pub fn pems_for(hosts: &[&str]) -> TestPems {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let now = time::OffsetDateTime::now_utc();
        let (from, to) = (
            now - time::Duration::hours(1),
            now + time::Duration::days(2),
        );
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name
            .push(DnType::CommonName, "idp test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        (ca.not_before, ca.not_after) = (from, to);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        names.extend(hosts.iter().map(|h| h.to_string()));
        let mut server = CertificateParams::new(names).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        (server.not_before, server.not_after) = (from, to);
        let cert = server.signed_by(&key, &issuer).unwrap();
        TestPems {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// The Azurite blob service over HTTPS on 127.0.0.1. Killed on drop.
#[derive(Debug)]
pub struct Azurite {
    child: Option<Child>,
    pub port: u16,
    pub ca: TestCa,
    /// Where data is kept when [`Azurite::start_persistent`] was used; `None` is in-memory.
    location: Option<PathBuf>,
    /// Azurite's debug log (`--debug`), which says how each request authenticated.
    debug_log: PathBuf,
    /// Holds the certificates and data; removed on drop.
    _dir: tempfile::TempDir,
}

const READY: &str = "Azurite Blob service successfully listens on";

fn azurite_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("IDP_AZURITE_BIN") {
        return PathBuf::from(p);
    }
    let bin = repo_root().join("node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "Azurite is not installed: {} is missing. Install it with `npm ci` at the repository root \
         (needs Node.js 20+ and npm; Debian: `apt-get install nodejs npm`), or run scripts/test.sh, \
         which does that",
        bin.display()
    );
    bin
}

impl Azurite {
    /// Starts Azurite with in-memory storage.
    pub fn start() -> Self {
        Self::launch(false, &[])
    }

    /// Starts Azurite keeping its data in a folder, so [`Azurite::restart`] keeps the blobs.
    pub fn start_persistent() -> Self {
        Self::launch(true, &[])
    }

    /// Starts Azurite with a certificate valid for `hosts` too, for production-style URLs
    /// (`https://devstoreaccount1.blob.<suffix>:<port>`: Azurite takes the account from the
    /// host's first label when the host is a name with a dot in it).
    pub fn start_for_hosts(hosts: &[&str]) -> Self {
        Self::launch(false, hosts)
    }

    /// What Azurite's debug log says so far.
    pub fn debug_log(&self) -> String {
        std::fs::read_to_string(&self.debug_log).unwrap_or_default()
    }

    fn launch(persistent: bool, hosts: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::create_for(dir.path(), hosts);
        let location = persistent.then(|| {
            let l = dir.path().join("data");
            std::fs::create_dir_all(&l).unwrap();
            l
        });
        let mut me = Self {
            child: None,
            port: 0,
            ca,
            location,
            debug_log: dir.path().join("debug.log"),
            _dir: dir,
        };
        me.spawn_on_free_port();
        me
    }

    fn spawn_on_free_port(&mut self) {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match self.spawn(port) {
                Ok(()) => return,
                Err(e) => last = e,
            }
        }
        panic!("Azurite did not start: {last}");
    }

    /// Starts the process on `port` and waits for its ready line.
    fn spawn(&mut self, port: u16) -> Result<(), String> {
        let mut cmd = Command::new(azurite_bin());
        cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--oauth",
                "basic",
            ])
            .arg("--cert")
            .arg(&self.ca.cert_pem)
            .arg("--key")
            .arg(&self.ca.key_pem)
            .arg("--debug")
            .arg(&self.debug_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match &self.location {
            Some(l) => cmd.arg("--location").arg(l),
            None => cmd.arg("--inMemoryPersistence"),
        };
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {:?}: {e}", azurite_bin()))?;
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel::<Result<(), String>>();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains(READY) {
                    let _ = tx.send(Ok(()));
                    // Keep draining so Azurite never blocks on a full pipe.
                    continue;
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            let _ = tx.send(Err(format!("Azurite exited; stdout:\n{seen}")));
        });
        std::thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                seen.push_str(&line);
                seen.push('\n');
            }
            if !seen.is_empty() {
                let _ = tx2.send(Err(format!("Azurite stderr:\n{seen}")));
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => {
                self.port = port;
                self.child = Some(child);
                Ok(())
            }
            Ok(Err(e)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("no ready line within 60 s".into())
            }
        }
    }

    /// Stops the process: SIGTERM, so a persistent Azurite saves its data (it keeps it in
    /// memory between saves), then SIGKILL if it is still running after 10 s. From the
    /// client's side this is an outage: connections are refused from then on.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", c.id())])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Starts it again on the same port (with the same data when persistent).
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        let mut last = String::new();
        for _ in 0..20 {
            match self.spawn(port) {
                Ok(()) => return,
                Err(e) => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        panic!("Azurite did not restart on port {port}: {last}");
    }

    /// `https://127.0.0.1:<port>/devstoreaccount1`
    pub fn account_url(&self) -> String {
        format!("https://127.0.0.1:{}/{DEV_ACCOUNT}", self.port)
    }

    /// `https://127.0.0.1:<port>/devstoreaccount1/<container>`
    pub fn container_url(&self, container: &str) -> String {
        format!("{}/{container}", self.account_url())
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A line of `/etc/hosts` naming 127.0.0.1 for a test's host name, removed on drop; a
/// line left by a test process that no longer runs is removed first. Tools that resolve
/// names themselves (Terraform is a static Go binary: its resolver reads `/etc/hosts`)
/// find a production-style storage host this way, with no DNS.
#[derive(Debug)]
pub struct HostsEntry {
    /// The bytes appended, removed again on drop; `None` when a line was there already.
    added: Option<String>,
}

const HOSTS: &str = "/etc/hosts";
const HOSTS_MARK: &str = "# idp test, process";

impl HostsEntry {
    /// Adds `127.0.0.1 host`, unless a line already names it. Fails the test, saying what
    /// to do, when `/etc/hosts` cannot be written (the suite then runs as root, or the
    /// line is added by hand).
    pub fn add(host: &str) -> Self {
        let text = std::fs::read_to_string(HOSTS).unwrap_or_default();
        // Lines a killed test process left behind go first.
        let stale = |l: &str| {
            l.split(HOSTS_MARK)
                .nth(1)
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        };
        let text = if text.lines().any(stale) {
            let kept: String = text.split_inclusive('\n').filter(|l| !stale(l)).collect();
            write_hosts(&kept);
            kept
        } else {
            text
        };
        let names_it = |l: &str| {
            let mut words = l.split('#').next().unwrap_or_default().split_whitespace();
            words.next() == Some("127.0.0.1") && words.any(|w| w == host)
        };
        if text.lines().any(names_it) {
            return Self { added: None };
        }
        let newline = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let added = format!(
            "{newline}127.0.0.1 {host} {HOSTS_MARK} {}\n",
            std::process::id()
        );
        write_hosts(&format!("{text}{added}"));
        Self { added: Some(added) }
    }
}

/// Writes `/etc/hosts` in place (it is often a bind mount, which a rename cannot replace).
fn write_hosts(text: &str) {
    std::fs::write(HOSTS, text).unwrap_or_else(|e| {
        panic!(
            "cannot write {HOSTS} ({e}): run the suite as root, or add the line `127.0.0.1 <host>` the test names yourself"
        )
    });
}

impl Drop for HostsEntry {
    /// Takes out exactly what was added, so the file is as it was found.
    fn drop(&mut self) {
        if let Some(added) = &self.added {
            let text = std::fs::read_to_string(HOSTS).unwrap_or_default();
            write_hosts(&text.replacen(added.as_str(), "", 1));
        }
    }
}

/// The Python of `.venv` with the pinned test packages.
#[derive(Debug, Clone)]
pub struct Python(PathBuf);

impl Python {
    pub fn find() -> Self {
        let path = std::env::var_os("IDP_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
        assert!(
            path.exists(),
            "the test Python is missing: {} does not exist. Create it with \
             `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt` at the \
             repository root (Debian: `apt-get install python3-venv`), or run scripts/test.sh",
            path.display()
        );
        Self(path)
    }

    /// The interpreter, with the environment isolated as `idp` is (no proxies, no Azure
    /// variables, no CA bundles of the machine's): a test sets what its client needs.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.0);
        isolate(&mut c);
        c
    }

    /// The interpreter's path, for a command another program runs (`idp exec -- python …`).
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Runs a script with arguments; panics with its stderr when it fails; returns stdout.
    pub fn run(&self, script: &str, args: &[&str]) -> String {
        let out = self
            .command()
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A small HTTPS server on a free 127.0.0.1 port, for answers no real service gives:
    /// `handler` is Python source defining `class Handler(http.server.BaseHTTPRequestHandler)`
    /// (`http.server`, `json` and `sys` are imported; its own arguments are `sys.argv[3:]`),
    /// served with the certificate and key of `ca`. Killed on drop.
    pub fn https_server(&self, handler: &str, ca: &TestCa, args: &[&str]) -> Service {
        let script = format!(
            "import http.server, json, ssl, sys\n{handler}\n\
             srv = http.server.HTTPServer((\"127.0.0.1\", 0), Handler)\n\
             ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
             ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n\
             srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n\
             print(\"test server on https://127.0.0.1:%d\" % srv.server_address[1], file=sys.stderr, flush=True)\n\
             srv.serve_forever()\n"
        );
        let mut cmd = self.command();
        cmd.arg("-c")
            .arg(script)
            .arg(&ca.cert_pem)
            .arg(&ca.key_pem)
            .args(args);
        Service::spawn(cmd, "test server on https://")
    }

    /// An account SAS for the dev account from azure-storage-blob's `generate_account_sas`.
    /// `permission` like "rwdlac"; `expiry_secs` may be negative for an expired token.
    pub fn account_sas(&self, permission: &str, expiry_secs: i64) -> String {
        self.run(
            r#"
import sys, datetime
from azure.storage.blob import generate_account_sas, ResourceTypes, AccountSasPermissions
now = datetime.datetime.now(datetime.timezone.utc)
print(generate_account_sas(
    account_name=sys.argv[1], account_key=sys.argv[2],
    resource_types=ResourceTypes(service=True, container=True, object=True),
    permission=AccountSasPermissions.from_string(sys.argv[3]),
    expiry=now + datetime.timedelta(seconds=int(sys.argv[4])),
    start=now - datetime.timedelta(minutes=5)))
"#,
            &[DEV_ACCOUNT, DEV_KEY, permission, &expiry_secs.to_string()],
        )
    }

    /// A container SAS from `generate_container_sas`.
    pub fn container_sas(&self, container: &str, permission: &str, expiry_secs: i64) -> String {
        self.run(
            r#"
import sys, datetime
from azure.storage.blob import generate_container_sas, ContainerSasPermissions
now = datetime.datetime.now(datetime.timezone.utc)
print(generate_container_sas(
    account_name=sys.argv[1], container_name=sys.argv[3], account_key=sys.argv[2],
    permission=ContainerSasPermissions.from_string(sys.argv[4]),
    expiry=now + datetime.timedelta(seconds=int(sys.argv[5])),
    start=now - datetime.timedelta(minutes=5)))
"#,
            &[
                DEV_ACCOUNT,
                DEV_KEY,
                container,
                permission,
                &expiry_secs.to_string(),
            ],
        )
    }
}

/// A long-running child process (an `idp serve` or `idp emulator` under test), killed on
/// drop.
#[derive(Debug)]
pub struct Service {
    child: Child,
    /// The stderr line that said it was ready.
    pub ready_line: String,
    lines: mpsc::Receiver<String>,
}

impl Service {
    /// Spawns `cmd` and waits (up to 60 s, a debug build on a loaded 2-core machine) for a
    /// stderr line containing `ready`; panics with what it printed otherwise.
    pub fn spawn(cmd: Command, ready: &str) -> Self {
        Self::try_spawn(cmd, ready).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Service::spawn`], but says why it did not start instead of panicking (so a
    /// caller may retry, say on another port).
    pub fn try_spawn(mut cmd: Command, ready: &str) -> Result<Self, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {cmd:?}: {e}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut service = Self {
            child,
            ready_line: String::new(),
            lines: rx,
        };
        match service.wait_line(ready, Duration::from_secs(60)) {
            Ok(line) => {
                service.ready_line = line;
                Ok(service)
            }
            Err(seen) => {
                let _ = service.child.kill();
                Err(format!(
                    "service {cmd:?} never said {ready:?}; stderr:\n{seen}"
                ))
            }
        }
    }

    /// Waits up to `timeout` for a stderr line containing `needle` and returns it; the
    /// lines before it are consumed. On a timeout or an exit, the error holds what was seen.
    pub fn wait_line(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = std::time::Instant::now() + timeout;
        let mut seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("(no {needle:?} within {timeout:?})\n{seen}"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("(exited before saying {needle:?})\n{seen}"));
                }
            }
        }
    }

    /// [`Service::wait_line`] that must succeed.
    #[track_caller]
    pub fn expect_line(&self, needle: &str) -> String {
        self.wait_line(needle, Duration::from_secs(60))
            .unwrap_or_else(|seen| panic!("{seen}"))
    }

    /// The process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; panics if it does not.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the service did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The rest of its stderr once it has exited.
    pub fn rest(&self) -> String {
        self.lines.iter().collect::<Vec<_>>().join("\n")
    }

    /// The `host:port` in the ready line after `scheme://`.
    pub fn address(&self) -> String {
        let after = self
            .ready_line
            .split("://")
            .nth(1)
            .unwrap_or_else(|| panic!("no URL in {:?}", self.ready_line));
        after.split(['/', ' ']).next().unwrap().to_owned()
    }

    /// Stderr lines printed since start (or the last call).
    pub fn drain(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTPS client that trusts only the CA in `ca_pem` (as Entra trusts public
/// roots), follows no redirects and sends no credentials.
pub fn https_client(ca_pem: &Path) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = reqwest::Certificate::from_pem(&std::fs::read(ca_pem).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .tls_certs_only([cert])
        .redirect(reqwest::redirect::Policy::none())
        // Loopback only: a proxy in the environment must not carry the tests' requests.
        .no_proxy()
        .build()
        .unwrap()
}

/// The standard output of a finished command that had to succeed; if it failed, the test
/// stops there with its exit status and standard error.
#[track_caller]
pub fn stdout_of(out: std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "command failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Prefixes of variables that change what idp or an Azure client does: idp's own settings,
/// Azure SDK credentials and clouds, Terraform's, CI token-request protocols.
const ISOLATED_PREFIXES: [&str; 7] = [
    "IDP_",
    "AZURE_",
    "ARM_",
    "MSAL_",
    "ACTIONS_ID_TOKEN_REQUEST_",
    "SYSTEM_OIDC",
    "SSL_CERT_",
];

/// Single variables with the same power: managed identity endpoints (an Azure-hosted
/// runner has them, and the `auto` credential would pick managed identity), CA bundles,
/// proxies (either case), Azure DevOps' job token.
const ISOLATED_VARS: [&str; 12] = [
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "SYSTEM_ACCESSTOKEN",
    "GITHUB_ENV",
    "GITHUB_ACTIONS",
];

const PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"];

/// Whether a variable of this name must not reach a process under test.
pub fn is_isolated(name: &str) -> bool {
    ISOLATED_PREFIXES.iter().any(|p| name.starts_with(p))
        || ISOLATED_VARS.contains(&name)
        || PROXY_VARS.iter().any(|p| name.eq_ignore_ascii_case(p))
}

/// Removes from `cmd`'s environment every variable that would let the machine's setup
/// decide a test's outcome ([`is_isolated`]): only the settings a test gives count (a
/// developer's own `IDP_ISSUER`, an Azure login, a runner's managed identity, a proxy).
pub fn isolate(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if is_isolated(&k.to_string_lossy()) {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// The one launcher of `idp` for every suite: the binary under test (pass
/// `env!("CARGO_BIN_EXE_idp")`), run in `dir`, with an isolated environment.
pub fn idp_command(bin: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    isolate(cmd.current_dir(dir));
    cmd
}

/// `text` with `ids` taken out. Kids and jtis are random base64url, so one can hold `eyJ`
/// (how every JWT header begins) by chance; a check that no token part leaks looks at
/// everything else.
pub fn without<'a>(text: &str, ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter()
        .filter(|id| !id.is_empty())
        .fold(text.to_owned(), |t, id| t.replace(id, ""))
}

/// The `kid` and `jti` values of an audit log (one JSON object per line), for [`without`].
pub fn audit_ids(log: &str) -> Vec<&str> {
    let mut ids = Vec::new();
    for field in ["\"kid\":\"", "\"jti\":\""] {
        for (at, _) in log.match_indices(field) {
            let rest = &log[at + field.len()..];
            if let Some(end) = rest.find('"') {
                ids.push(&rest[..end]);
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_logs_ids_are_found_and_taken_out() {
        let log = "{\"jti\":\"xeyJa\",\"kid\":\"k-eyJ\",\"sub\":\"s\"}\n{\"jti\":\"j2\",\"kid\":\"k-eyJ\"}\n";
        let ids = audit_ids(log);
        assert_eq!(ids, ["k-eyJ", "k-eyJ", "xeyJa", "j2"]);
        let rest = without(log, ids);
        assert!(
            !rest.contains("eyJ") && rest.contains("\"sub\":\"s\""),
            "{rest}"
        );
        assert_eq!(without("a eyJ b", [""]), "a eyJ b");
    }

    #[test]
    fn what_isolation_removes() {
        for name in [
            "IDP_ISSUER",
            "AZURE_CLIENT_ID",
            "ARM_USE_OIDC",
            "IDENTITY_ENDPOINT",
            "MSI_ENDPOINT",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "https_proxy",
            "HTTPS_PROXY",
            "no_proxy",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "SYSTEM_OIDCREQUESTURI",
            "REQUESTS_CA_BUNDLE",
        ] {
            assert!(is_isolated(name), "{name}");
        }
        for name in ["PATH", "HOME", "RUST_BACKTRACE", "TMPDIR", "LANG"] {
            assert!(!is_isolated(name), "{name}");
        }
    }
}
