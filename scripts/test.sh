#!/usr/bin/env bash
# The whole test suite. Run from anywhere; `.ci/run` calls exactly this.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

for tool in cargo pkg-config; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; on Debian: apt-get install -y pkg-config libssl-dev (cargo: https://rustup.rs)" >&2; exit 2; }
done
pkg-config --exists openssl || { echo "error: OpenSSL headers are missing; on Debian: apt-get install -y libssl-dev" >&2; exit 2; }

cargo test --workspace --locked "$@"
