#!/usr/bin/env bash
# What the dependency graph holds, checked offline (`.ci/run` calls this):
#   - `cargo deny --offline check`: licenses, sources (crates.io only), banned and duplicate
#     crates, advisories (deny.toml says which and why);
#   - `cargo audit`: the same advisories by RustSec's own tool (.cargo/audit.toml).
# Both read the advisory snapshot in ../shared/advisory-db (ADVISORY_DB overrides), never
# the network. Installs cargo-deny and cargo-audit (pinned, `cargo install --locked`) when
# missing.
#
#   scripts/supply-chain.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

advisories=${ADVISORY_DB:-../shared/advisory-db}
[[ -d $advisories/crates ]] || {
  echo "error: no advisory database at $advisories (the shared/ folder beside the checkout, or ADVISORY_DB)" >&2
  exit 2
}
install() {
  local tool=$1 version=$2
  if ! command -v "$tool" >/dev/null || ! "$tool" --version 2>/dev/null | grep -q "$version"; then
    echo "installing $tool $version (cargo install --locked)"
    cargo install --locked --quiet "$tool@$version"
  fi
}
install cargo-deny 0.20.2
install cargo-audit 0.22.2

# cargo-deny reads a database as a git clone named after its URL (deny.toml's db-urls) in
# db-path, and dates it by its HEAD commit. The snapshot is not a clone: copy it there as
# one, committed at the snapshot's own date, so `maximum-db-staleness` judges the right day.
# The name is cargo-deny 0.20's hash of https://github.com/rustsec/advisory-db.
db=target/advisory-dbs/advisory-db-3157b0e258782691
stamp=$(cd "$advisories" && find . -type f | sort | xargs cat SNAPSHOT.md | sha256sum | cut -c1-16)
if [[ ! -d $db/.git || "$(cat "$db/.git/idp-stamp" 2>/dev/null)" != "$stamp" ]]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -R "$advisories"/. "$db"
  snapshot_date=$(sed -n 's/.*(\([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}\)).*/\1/p' "$advisories/SNAPSHOT.md" | head -1)
  snapshot_date=${snapshot_date:-$(date -u +%F)}
  (
    cd "$db"
    git init -q
    git add -A
    GIT_AUTHOR_DATE="${snapshot_date}T00:00:00Z" GIT_COMMITTER_DATE="${snapshot_date}T00:00:00Z" \
      git -c user.name=idp -c user.email=idp@localhost -c commit.gpgsign=false \
      commit -q -m "advisory-db snapshot of $snapshot_date"
  )
  echo "$stamp" >"$db/.git/idp-stamp"
fi

cargo deny --offline --locked check
cargo audit --db "$advisories" --no-fetch --stale
echo "supply chain: cargo deny and cargo audit passed"
