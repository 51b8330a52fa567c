#!/usr/bin/env bash
# Fuzzes every parser of untrusted input: the targets in fuzz/ (cargo-fuzz, libFuzzer, on
# the nightly toolchain), SECONDS each (default 60), then says how many inputs ran and how
# many crashed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]     all targets, or the ones named
#
# Each target starts from its seeds (fuzz/corpus/<target>/, small files from the tests'
# fixtures, kept in git) and the inputs earlier runs found interesting
# (fuzz/target/corpus/<target>/, not kept). A crash leaves its input in
# fuzz/artifacts/<target>/; replay it with `cargo +nightly fuzz run <target> <file>`, fix the
# crate, and make the input a #[test] of the crate that owns the parser.
#
# Built without a sanitizer by default (FUZZ_SANITIZER=address to add ASan): every idp
# crate forbids unsafe code, so what fuzzing finds here is panics, overflows (checked, as
# are debug assertions) and broken properties, and an uninstrumented build runs about twice
# as many inputs. Ends with exactly `fuzz: N targets, M executions, K crashes`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

seconds=${1:-60}
if (($# > 0)); then shift; fi
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "error: SECONDS must be a positive whole number, not \`$seconds\`" >&2; exit 2; }
sanitizer=${FUZZ_SANITIZER:-none}

command -v rustup >/dev/null || { echo "error: rustup is missing: https://rustup.rs" >&2; exit 2; }
rustup toolchain list | grep -q '^nightly' || {
  echo "error: cargo-fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
}
if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz (cargo install --locked)"
  cargo install --locked cargo-fuzz --quiet
fi

if (($# > 0)); then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
((${#targets[@]})) || { echo "error: no fuzz targets in fuzz/" >&2; exit 1; }

echo "fuzz: building ${#targets[@]} targets (sanitizer: $sanitizer)…"
(cd fuzz && cargo +nightly fuzz build -s "$sanitizer")

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
total=0
crashes=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/target/corpus/$t" "fuzz/corpus/$t"
  log="$logs/$t.log"
  # The first corpus folder receives what the run finds; the seeds are only read.
  if (cd fuzz && cargo +nightly fuzz run -s "$sanitizer" "$t" "target/corpus/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log" 2>&1); then
    status=0
  else
    status=$?
  fi
  runs=$(awk -F': *' '/^stat::number_of_executed_units/ {n = $2} END {print n + 0}' "$log")
  if ((runs == 0)); then
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    runs=${runs:-$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)}
    runs=${runs:-0}
  fi
  total=$((total + runs))
  if ((status == 0)); then
    echo "fuzz: $t: $runs executions"
  else
    crashes=$((crashes + 1))
    artifact=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
    echo "fuzz: $t: $runs executions, CRASHED (exit $status)${artifact:+; input: $artifact}" >&2
    grep -m1 -A12 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" >&2 || tail -20 "$log" >&2
  fi
done
echo "fuzz: ${#targets[@]} targets, $total executions, $crashes crashes"
exit $((crashes > 0))
