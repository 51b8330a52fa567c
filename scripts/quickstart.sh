#!/usr/bin/env bash
# The main job on an embedded default: a temporary issuer, its metadata, a signed
# assertion, and the checks Entra would make. No Azure account needed.
#
#   scripts/quickstart.sh            builds idp (release) and runs
#   IDP_BIN=/path/to/idp scripts/quickstart.sh   uses that binary
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${IDP_BIN:-}" ]]; then
  echo "building idp (release)…" >&2
  cargo build --release --quiet --locked --bin idp --manifest-path "$root/Cargo.toml"
  IDP_BIN="$root/target/release/idp"
fi

idp_bin=$IDP_BIN
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# Only this run's settings count.
unset "${!IDP_@}"

# The embedded default: an issuer on loopback, as `idp serve` would host it.
issuer="https://127.0.0.1:8443/quickstart"
subject="quickstart-customer"

run() {
  printf '\n$ idp %s\n' "$*"
  "$idp_bin" "$@"
}

run init --issuer "$issuer" --key-size 2048
run metadata --out site
printf '\n$ find site -type f\n'; find site -type f | sort
run sign --subject "$subject" --lifetime 10m --out assertion.jwt
run inspect - < assertion.jwt

printf '\nquickstart ok: issuer %s signed an assertion for subject %s that passes every check\n' "$issuer" "$subject"
