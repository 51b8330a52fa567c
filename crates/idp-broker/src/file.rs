//! The assertion file: in a private folder (0700, the file 0600), replaced atomically (a
//! reader never sees half a token, and never a trailing newline) before the assertion in
//! it is a third of the way to expiry, for as long as it is kept.

use crate::signer::{Minted, Signer};
use idp_core::fsutil::{self, Overwrite};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The file's name in its folder.
pub const FILE_NAME: &str = "assertion.jwt";

/// The private folder and the file in it; dropping it removes both.
#[derive(Debug)]
pub struct AssertionFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl AssertionFile {
    /// A new private folder (under the system's temporary folder, or `parent`) holding a
    /// first assertion.
    pub async fn create(
        signer: &Signer,
        parent: Option<&Path>,
    ) -> Result<(Self, Minted), crate::BrokerError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("idp-assertion-");
        let dir = match parent {
            Some(p) => builder.tempdir_in(p),
            None => builder.tempdir(),
        }
        .map_err(crate::BrokerError::Folder)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(crate::BrokerError::Folder)?;
        let path = dir.path().join(FILE_NAME);
        let file = Self { dir, path };
        let first = signer.mint().await.map_err(crate::BrokerError::Assertion)?;
        file.write(&first)?;
        Ok((file, first))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, signed: &Minted) -> Result<(), crate::BrokerError> {
        fsutil::write_atomic(
            &self.path,
            signed.token.expose().as_bytes(),
            0o600,
            Overwrite::Replace,
        )?;
        Ok(())
    }

    /// Replaces the assertion whenever the current one is a third of its lifetime old (a
    /// fetched token: whenever its source hands out a new one, asked every minute), until
    /// the returned task is aborted. A failed refresh is reported through `note` and tried
    /// again within seconds (the file still holds a valid assertion meanwhile).
    pub fn keep_fresh(
        self: &Arc<Self>,
        signer: Arc<Signer>,
        first: &Minted,
        note: impl Fn(String) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let file = Arc::clone(self);
        // A fetched token's `iat` is its issuer's (IMDS hands out one token for hours): its
        // checks are a full interval apart, counted from each check.
        let fetched = signer.subject().is_none();
        let mut iat = if fetched { now() } else { first.iat };
        let mut current = first.token.clone();
        tokio::spawn(async move {
            let every = signer.refresh_every();
            loop {
                let age = now() - iat;
                let wait = every.saturating_sub(Duration::from_secs(age.max(0) as u64));
                tokio::time::sleep(wait.max(Duration::from_millis(200))).await;
                match signer
                    .mint()
                    .await
                    .map_err(crate::BrokerError::Assertion)
                    .and_then(|s| {
                        if s.token.expose() != current.expose() {
                            file.write(&s)?;
                        }
                        Ok(s)
                    }) {
                    Ok(s) => {
                        iat = if fetched { now() } else { s.iat };
                        current = s.token;
                    }
                    Err(e) => {
                        note(format!(
                            "could not refresh the assertion file: {e}; trying again"
                        ));
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        })
    }
}

/// A third of the lifetime (so the file always holds an assertion with at least two
/// thirds of its lifetime left), at least one second.
pub fn refresh_interval(lifetime: Duration) -> Duration {
    (lifetime / 3).max(Duration::from_secs(1))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jwt: &str) -> serde_json::Value {
        use base64::Engine as _;
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_file_is_private_refreshed_in_place_and_gone_with_its_folder() {
        let parent = tempfile::tempdir().unwrap();
        let signer = crate::endpoint::test_signer_for(Duration::from_secs(3));
        let (file, first) = AssertionFile::create(&signer, Some(parent.path()))
            .await
            .unwrap();
        let file = Arc::new(file);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file.folder()), 0o700);
        assert_eq!(mode(file.path()), 0o600);
        assert!(file.folder().starts_with(parent.path()));
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, first.token.expose(), "the token, no newline");
        let task = file.keep_fresh(Arc::clone(&signer), &first, |_| {});
        // A third of 3 s: a new assertion within about a second, newer than the first.
        let mut refreshed = None;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = std::fs::read_to_string(file.path()).unwrap();
            if now != text {
                refreshed = Some(now);
                break;
            }
        }
        let refreshed = refreshed.expect("refreshed within 4 s");
        assert_ne!(claims(&refreshed)["jti"], claims(&text)["jti"]);
        assert!(claims(&refreshed)["iat"].as_i64() >= claims(&text)["iat"].as_i64());
        assert!(
            refreshed.len() > 100 && !refreshed.ends_with('\n'),
            "whole, no newline"
        );
        // Not more often than every third: over the next 2 s, at most 2 more assertions
        // (a busy machine can only make this slower, never faster).
        let mut seen = std::collections::BTreeSet::from([refreshed.clone()]);
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen.insert(std::fs::read_to_string(file.path()).unwrap());
        }
        assert!(seen.len() <= 3, "{} assertions in 2 s", seen.len());
        task.abort();
        let _ = task.await;
        let folder = file.folder().to_owned();
        drop(file);
        assert!(!folder.exists());
    }

    #[test]
    fn now_is_the_clock() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now() - t).abs() <= 1);
    }

    #[test]
    fn a_third_of_the_lifetime_at_least_a_second() {
        assert_eq!(
            refresh_interval(Duration::from_secs(3600)),
            Duration::from_secs(1200)
        );
        assert_eq!(
            refresh_interval(Duration::from_secs(6)),
            Duration::from_secs(2)
        );
        assert_eq!(
            refresh_interval(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }
}
