#!/usr/bin/env bash
# The whole test suite. Run from anywhere; `.ci/run` calls exactly this.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# OpenSSL is compiled from source into idp (static), which needs a C compiler, perl and make.
for tool in cargo cc perl make; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; on Debian: apt-get install -y gcc perl make (cargo: https://rustup.rs)" >&2; exit 2; }
done

cargo test --workspace --locked "$@"
