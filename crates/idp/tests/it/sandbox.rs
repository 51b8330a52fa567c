//! A temporary working folder and an `idp` run in it with a clean environment, for the
//! tests that need no service.

use assert_cmd::Command;
use predicates::str::contains;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// An issuer in the blob form `idp init` takes.
pub const ISSUER: &str = "https://acct.blob.core.windows.net/oidc";

/// A temporary working folder and an `idp` that runs in it with a clean environment.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A sandbox with `idp init` done (2048-bit key, to keep tests quick).
    pub fn init(issuer: &str) -> Self {
        let s = Self::new();
        s.idp(&["init", "--issuer", issuer, "--key-size", "2048"])
            .assert()
            .success();
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn idp(&self, args: &[&str]) -> Command {
        let mut c = idp_testkit::idp_command(env!("CARGO_BIN_EXE_idp"), self.path());
        c.args(args);
        Command::from_std(c)
    }

    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.idp(args).output().unwrap();
        assert!(
            out.status.success(),
            "idp {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn keyring(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path().join("keys/keyring.json")).unwrap())
            .unwrap()
    }

    pub fn active_key_file(&self) -> PathBuf {
        let ring = self.keyring();
        let k = ring["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == "active")
            .unwrap()
            .clone();
        self.path().join("keys").join(k["file"].as_str().unwrap())
    }

    pub fn jwks(&self) -> Value {
        serde_json::from_str(&self.stdout(&["metadata", "--only", "jwks"])).unwrap()
    }

    pub fn kids(&self) -> Vec<String> {
        self.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Every file below the sandbox with its bytes and mode.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
        pub fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (Vec<u8>, u32)>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let meta = std::fs::metadata(&p).unwrap();
                if meta.is_dir() {
                    walk(&p, out);
                } else {
                    out.insert(
                        p.clone(),
                        (std::fs::read(&p).unwrap(), meta.permissions().mode()),
                    );
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.path(), &mut out);
        out
    }

    /// Runs `args`, expects exit 2 with `message` on stderr, and no file changed.
    pub fn refuses(&self, args: &[&str], message: &str) {
        let before = self.snapshot();
        self.idp(args)
            .assert()
            .code(2)
            .stderr(contains(message))
            .stderr(contains("hint:"));
        assert_eq!(before, self.snapshot(), "idp {args:?} changed files");
    }
}
