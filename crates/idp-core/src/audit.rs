//! The audit log: one JSON line per assertion idp mints (time, command, customer, jti, iss,
//! sub, aud, kid, iat, exp), never the assertion itself. Every command that signs goes
//! through a [`Minter`], so none can mint without the line being written; a line that
//! cannot be written fails the mint rather than leave an assertion unrecorded.

use crate::assertion::{self, AssertionSpec, SignedAssertion};
use crate::signer::{SignError, Signer};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use thiserror::Error;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The log could not be opened or written.
#[derive(Debug, Error)]
#[error("could not write the audit log {}: {source}", path.display())]
pub struct AuditError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl crate::diagnostic::Diagnostic for AuditError {
    fn hint(&self) -> Option<String> {
        Some("check that the audit log's folder exists and is writable (--audit-log / IDP_AUDIT_LOG / audit.log); nothing was signed without its line".into())
    }
    /// A log path that cannot be a log (missing folder, a folder, not ours) is the
    /// configuration's fault; a write that fails (disk full) is not.
    fn is_usage(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::IsADirectory | io::ErrorKind::PermissionDenied
        )
    }
}

/// One line of the log.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Record<'a> {
    /// When it was signed, RFC 3339 UTC.
    pub time: String,
    /// The idp command that signed it (`sign`, `token`, `exec`, …).
    pub command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<&'a str>,
    pub jti: &'a str,
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub kid: &'a str,
    pub iat: i64,
    pub exp: i64,
}

/// An append-only log file, created 0600. Each line is written with one `write` on a file
/// opened for appending and under an exclusive lock, so lines from concurrent workers and
/// processes never interleave.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| AuditError {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the line for `signed`.
    pub fn record(
        &self,
        command: &str,
        customer: Option<&str>,
        spec: &AssertionSpec,
        signed: &SignedAssertion,
    ) -> Result<(), AuditError> {
        let time = OffsetDateTime::from_unix_timestamp(signed.iat)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        let record = Record {
            time,
            command,
            customer,
            jti: &signed.jti,
            iss: spec.issuer.as_str(),
            sub: spec.subject.as_str(),
            aud: spec.audience.as_str(),
            kid: &signed.kid,
            iat: signed.iat,
            exp: signed.exp,
        };
        let mut line = serde_json::to_vec(&record).expect("a record serialises");
        line.push(b'\n');
        self.append(&line)
    }

    /// Appends `line` whole: under this process's mutex and an exclusive lock on the file,
    /// so no other worker's or process's line lands inside it, whatever its size and
    /// whatever the file is (a FIFO to a log shipper splits writes over its atomic size).
    fn append(&self, line: &[u8]) -> Result<(), AuditError> {
        let err = |source| AuditError {
            path: self.path.clone(),
            source,
        };
        // A poisoned lock only means another thread panicked mid-write; the file is fine.
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.lock().map_err(err)?;
        let written = (&*file).write_all(line).and_then(|()| {
            // A FIFO or a terminal cannot be synced; a regular file is.
            match file.sync_data() {
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
                other => other,
            }
        });
        let _ = file.unlock();
        written.map_err(err)
    }
}

/// Why no assertion was minted.
#[derive(Debug, Error)]
pub enum MintError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl crate::diagnostic::Diagnostic for MintError {
    fn hint(&self) -> Option<String> {
        match self {
            MintError::Sign(e) => e.hint(),
            MintError::Audit(e) => e.hint(),
        }
    }

    fn is_usage(&self) -> bool {
        match self {
            MintError::Sign(e) => e.is_usage(),
            MintError::Audit(e) => e.is_usage(),
        }
    }
}

/// Signs assertions with one key for one command, recording each in the audit log when
/// there is one.
#[derive(Debug)]
pub struct Minter<'a> {
    signer: &'a Signer,
    audit: Option<&'a AuditLog>,
    command: &'static str,
}

impl<'a> Minter<'a> {
    pub fn new(signer: &'a Signer, audit: Option<&'a AuditLog>, command: &'static str) -> Self {
        Self {
            signer,
            audit,
            command,
        }
    }

    /// A fresh assertion for `spec` (now, a random jti), recorded before it is returned.
    pub async fn mint(
        &self,
        spec: &AssertionSpec,
        customer: Option<&str>,
    ) -> Result<SignedAssertion, MintError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let signed = assertion::sign_with(spec, self.signer, now, &assertion::random_jti()).await?;
        if let Some(log) = self.audit {
            log.record(self.command, customer, spec, &signed)?;
        }
        Ok(signed)
    }

    pub fn signer(&self) -> &Signer {
        self.signer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertion::{Audience, Lifetime, PrivateClaims, Subject};
    use std::os::unix::fs::PermissionsExt;

    fn spec() -> AssertionSpec {
        AssertionSpec {
            issuer: crate::Issuer::parse("https://h/c").unwrap(),
            subject: Subject::parse("sub-1").unwrap(),
            audience: Audience::default(),
            lifetime: Lifetime::default(),
            claims: PrivateClaims::parse(std::iter::empty()).unwrap(),
        }
    }

    #[test]
    fn each_mint_appends_one_line_without_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let key = crate::keys::generate(2048)
            .unwrap()
            .into_signing_key(Path::new("k"))
            .unwrap();
        let log = AuditLog::open(&path).unwrap();
        let signer = Signer::from(key);
        let key = &signer;
        let minter = Minter::new(&signer, Some(&log), "sign");
        let a = crate::signer::ready(minter.mint(&spec(), None)).unwrap();
        let b = crate::signer::ready(minter.mint(&spec(), Some("contoso"))).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            // Kids and jtis are random base64url: they may hold `eyJ` by chance.
            !text.contains(a.token.expose())
                && ![key.kid(), a.jti.as_str(), b.jti.as_str()]
                    .iter()
                    .fold(text.clone(), |t, id| t.replace(id, ""))
                    .contains("eyJ"),
            "{text}"
        );
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["jti"], a.jti.as_str());
        assert_eq!(lines[1]["jti"], b.jti.as_str());
        assert_ne!(a.jti, b.jti);
        assert_eq!(lines[0]["command"], "sign");
        assert!(lines[0].get("customer").is_none());
        assert_eq!(lines[1]["customer"], "contoso");
        assert_eq!(lines[0]["sub"], "sub-1");
        assert_eq!(lines[0]["iss"], "https://h/c");
        assert_eq!(lines[0]["aud"], crate::AUDIENCE_GLOBAL);
        assert_eq!(lines[0]["kid"], key.kid());
        assert_eq!(lines[0]["exp"], a.exp);
        assert_eq!(lines[0]["iat"], a.iat);
        let time = OffsetDateTime::parse(lines[0]["time"].as_str().unwrap(), &Rfc3339).unwrap();
        assert_eq!(time.unix_timestamp(), a.iat);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Reopened, it appends.
        let again = AuditLog::open(&path).unwrap();
        crate::signer::ready(Minter::new(&signer, Some(&again), "token").mint(&spec(), None))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn concurrent_mints_write_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let key = crate::keys::generate(2048)
            .unwrap()
            .into_signing_key(Path::new("k"))
            .unwrap();
        let key = Signer::from(key);
        let logs: Vec<AuditLog> = (0..2).map(|_| AuditLog::open(&path).unwrap()).collect();
        std::thread::scope(|s| {
            for log in &logs {
                for _ in 0..4 {
                    s.spawn(|| {
                        let m = Minter::new(&key, Some(log), "exec");
                        for _ in 0..10 {
                            crate::signer::ready(m.mint(&spec(), Some("c"))).unwrap();
                        }
                    });
                }
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 80);
        for l in text.lines() {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }

    /// The child half of the next test: appends lines of its own letter to the log named by
    /// `IDP_AUDIT_CHILD_LOG`, then exits. A no-op when run as a test on its own.
    #[test]
    fn audit_child_appends_its_lines() {
        let (Some(path), Some(letter)) = (
            std::env::var_os("IDP_AUDIT_CHILD_LOG"),
            std::env::var("IDP_AUDIT_CHILD_LETTER").ok(),
        ) else {
            return;
        };
        let log = AuditLog::open(Path::new(&path)).unwrap();
        let mut line = letter.repeat(CHILD_LINE);
        line.push('\n');
        for _ in 0..CHILD_LINES {
            log.append(line.as_bytes()).unwrap();
        }
    }

    const CHILD_LINE: usize = 200_000;
    const CHILD_LINES: usize = 5;

    /// Lines far over a pipe's atomic size (4 KiB), from four processes at once into a FIFO
    /// (a log shipper's pipe): each arrives whole, never with another's bytes inside.
    /// Without the file lock, the kernel splits such writes and they interleave.
    #[test]
    fn lines_from_processes_never_interleave_even_in_a_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("audit.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo (coreutils) runs");
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                use std::io::Read as _;
                let mut all = String::new();
                std::fs::File::open(&fifo)
                    .unwrap()
                    .read_to_string(&mut all)
                    .unwrap();
                all
            })
        };
        // Held open so the reader sees the end only when every child is done.
        let keep = OpenOptions::new().append(true).open(&fifo).unwrap();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = ["a", "b", "c", "d"]
            .iter()
            .map(|letter| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "audit::tests::audit_child_appends_its_lines",
                        "--nocapture",
                    ])
                    .env("IDP_AUDIT_CHILD_LOG", &fifo)
                    .env("IDP_AUDIT_CHILD_LETTER", letter)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        drop(keep);
        let all = reader.join().unwrap();
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 4 * CHILD_LINES);
        for l in lines {
            assert_eq!(l.len(), CHILD_LINE);
            let first = l.as_bytes()[0];
            assert!(
                l.bytes().all(|b| b == first),
                "a line holds another's bytes"
            );
        }
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_an_error_naming_it() {
        let e = AuditLog::open(Path::new("/nonexistent-folder/audit.log")).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent-folder/audit.log"),
            "{e}"
        );
        assert!(crate::diagnostic::Diagnostic::is_usage(&e));
    }
}
