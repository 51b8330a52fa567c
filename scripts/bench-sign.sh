#!/usr/bin/env bash
# Signing benchmarks, every figure a ratio to a baseline measured in the same run:
#   1. in-process RS256 assertion signing (2048, 3072 bits) vs `openssl speed rsaN` sign/s
#   2. `idp sign` as a whole process vs the same assertion signed by bash + `openssl dgst
#      -sign` (scripts/bench/openssl-sign.sh, as the source article's demo signs), and vs
#      `idp --version` (the process start-up alone)
# Goals: in-process >= 0.9x openssl speed; idp sign <= 0.5x the openssl script and
# <= 4x idp --version.
# Needs: cargo, openssl, hyperfine, python3.  SECONDS_PER_RUN (default 5) sets run length;
# SMOKE=1 makes it one second and a few runs (the example built in the dev profile).
# Its last line: `sign: in-process X.XXx openssl speed (2048); idp sign Y.YYx the openssl
# script, Z.ZZx idp --version`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ((smoke)); then : "${SECONDS_PER_RUN:=1}" "${RUNS:=3}"; fi
secs=${SECONDS_PER_RUN:-5}
need_tools "openssl hyperfine python3 file" openssl hyperfine python3 cargo file

# The example alone: built together with the binary, its dev-dependencies' features would
# also change the `idp` measured here from the one users build. A smoke run takes the dev
# profile (no minutes of release linking for a check that it still runs).
profile=release
((smoke)) && profile=dev
echo "building ($profile)…" >&2
cargo build --profile "$profile" --quiet --locked --manifest-path "$root/Cargo.toml" --example sign_throughput -p idp-core
idp_binary
throughput="$root/target/$([[ $profile == dev ]] && echo debug || echo release)/examples/sign_throughput"

make_workdir
unset "${!IDP_@}"
# idp runs from a copy, as an install makes it: how the linker wrote a file shapes its
# page cache, and that alone moved start-up by 0.2 ms here.
cp "$idp" "$work/idp"
idp=$work/idp
echo "idp: $(file -b "$idp" | cut -d, -f1-2)"

echo
echo "== in-process RS256 signing (${secs}s each, 1 thread) =="
printf '%-6s %14s %14s %8s\n' bits "idp sign/s" "openssl sign/s" ratio
for bits in 2048 3072; do
  ours=$("$throughput" "$bits" "$secs" | awk '/signs_per_sec/ {print $2}')
  theirs=$(openssl speed -seconds "$secs" "rsa$bits" 2>/dev/null | awk -v b="$bits" '$1=="rsa" && $2==b {print $(NF-1)}')
  python3 -c "import sys; o,t=float('$ours'),float('$theirs'); print(f'{$bits:<6} {o:14.0f} {t:14.0f} {o/t:7.2f}x')"
  [[ $bits == 2048 ]] && in_process=$(python3 -c "print(f'{float(\"$ours\")/float(\"$theirs\"):.2f}')")
done

echo
echo "== idp sign, whole process (2048-bit key) =="
(cd "$work" && "$idp" init --issuer https://acct.blob.core.windows.net/oidc --key-size 2048 >/dev/null 2>&1)
keyfile=$(ls "$work"/keys/*.pem)
kid=$(basename "$keyfile" .pem)
script="$root/scripts/bench/openssl-sign.sh $keyfile $kid https://acct.blob.core.windows.net/oidc bench"
# The script's output is a valid assertion: checked once, so the baseline does real work.
"$idp" --config "$work/idp.toml" inspect "$($root/scripts/bench/openssl-sign.sh "$keyfile" "$kid" https://acct.blob.core.windows.net/oidc bench)" >/dev/null \
  || { echo "error: the openssl script's assertion does not pass idp inspect" >&2; exit 1; }
hyperfine -N --warmup "$((smoke ? 1 : 30))" --runs "${RUNS:-300}" --export-json "$work/h.json" \
  --command-name "bash + openssl dgst" "bash $script" \
  --command-name "idp --version" "$idp --version" \
  --command-name "idp sign" "$idp --config $work/idp.toml sign --subject bench" >/dev/null
python3 - "$work/h.json" "$in_process" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
in_process = sys.argv[2]
script = r["bash + openssl dgst"]["mean"]
ver = r["idp --version"]["mean"]
print(f"{'command':<22} {'mean ms':>8} {'stddev':>8} {'vs script':>10} {'vs --version':>13}")
for name, x in r.items():
    print(f"{name:<22} {x['mean']*1e3:8.2f} {x['stddev']*1e3:8.2f} {x['mean']/script:9.2f}x {x['mean']/ver:12.2f}x")
sign = r["idp sign"]["mean"]
print(f"start-up: idp sign is {sign/script:.2f}x the openssl script (goal <= 0.50), "
      f"{sign/ver:.2f}x idp --version (goal <= 4.00)")
print(f"sign: in-process {in_process}x openssl speed (2048); idp sign {sign/script:.2f}x the openssl script, {sign/ver:.2f}x idp --version")
PY
