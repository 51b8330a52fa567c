#!/usr/bin/env bash
# The whole test suite. Run from anywhere; `.ci/run` calls exactly this.
# It installs the test-only services first, pinned: Azurite from package-lock.json
# (`npm ci`, into node_modules/) and the Python SDK packages from tests/requirements.txt
# (into .venv/). Each is reinstalled only when its pin file changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

missing() {
  echo "error: $1 is missing; on Debian: apt-get install -y $2" >&2
  exit 2
}
# OpenSSL is compiled from source into idp (static): a C compiler, perl and make.
command -v cargo >/dev/null || { echo "error: cargo is missing: https://rustup.rs" >&2; exit 2; }
for tool in cc perl make; do command -v "$tool" >/dev/null || missing "$tool" "gcc perl make"; done
# Azurite runs on Node.js 20+; the tests fetch with curl; SAS tokens and the SDK client are Python.
command -v node >/dev/null || missing node "nodejs npm"
command -v npm >/dev/null || missing npm "npm"
command -v curl >/dev/null || missing curl "curl"
command -v python3 >/dev/null || missing python3 "python3 python3-venv"
# Each benchmark runs once, in smoke mode: wrk, nginx, hyperfine and openssl.
for tool in wrk nginx hyperfine openssl; do command -v "$tool" >/dev/null || missing "$tool" "wrk nginx-light hyperfine openssl"; done
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || { echo "error: Azurite 3.35 needs Node.js 20 or newer; found $(node --version)" >&2; exit 2; }

stamp() { sha256sum "$1" | cut -d' ' -f1; }
if [[ ! -x node_modules/.bin/azurite-blob || "$(cat node_modules/.idp-stamp 2>/dev/null)" != "$(stamp package-lock.json)" ]]; then
  echo "installing Azurite (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  stamp package-lock.json > node_modules/.idp-stamp
fi
python_venv
az_venv
command -v terraform >/dev/null || { echo "error: terraform is missing: the suite runs Terraform's azurerm state backend against the emulator; install Terraform 1.11+ (https://developer.hashicorp.com/terraform/install)" >&2; exit 2; }

# The suite's own closing line sums cargo's per-binary results, so the last line says how
# many tests ran in all (the last binary cargo runs is a doc-test run with none).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(awk '/^test result:/ {n += $4} END {print n + 0}' "$log")
failed=$(awk '/^test result:/ {n += $6} END {print n + 0}' "$log")
echo "tests: $passed passed, $failed failed"
exit "$status"
