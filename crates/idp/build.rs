//! Names the commit the binary is built from, for `idp --version`: `IDP_BUILD_COMMIT` when
//! set (scripts/release.sh sets it, with `-dirty` for a tree with uncommitted changes),
//! else the checkout's `git rev-parse HEAD`, else `unknown` (a build from a source tarball).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=IDP_BUILD_COMMIT");
    let commit = match std::env::var("IDP_BUILD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_owned(),
        _ => from_git().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=IDP_COMMIT={commit}");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn from_git() -> Option<String> {
    // Rebuilt when HEAD moves: HEAD itself (a checkout), the branch it points at (a commit),
    // and packed-refs (where a ref goes after `git gc`).
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.clone());
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    println!(
        "cargo:rerun-if-changed={}",
        common.join("packed-refs").display()
    );
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", common.join(branch).display());
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    commit
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| commit[..12.min(commit.len())].to_owned())
}
