#!/usr/bin/env bash
# The token exchange, every figure a ratio to a baseline measured in the same run:
#   1. `idp token` against `idp emulator` on loopback, whole process (sign + HTTPS exchange
#      + the emulator's validation), vs `idp sign` alone: the cost of the exchange;
#   2. the emulator's sustained exchanges/s under wrk (full validation and an access token
#      signed per request; issuer metadata cached, as in Entra), vs requests/s of its own
#      JWKS endpoint on the same server (no crypto).
# Needs: cargo, hyperfine, wrk, curl, python3 (Debian: apt-get install -y hyperfine wrk curl).
# IDP_BIN runs a prebuilt idp; RUNS (default 200) and DURATION (default 10s) tune it;
# SMOKE=1 makes them tiny. Its last line: `token: idp token X.XXx idp sign; the emulator
# Y exchanges/s, Z.ZZx its JWKS GET/s`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ((smoke)); then : "${RUNS:=3}" "${DURATION:=1s}"; fi
need_tools "hyperfine wrk curl python3" hyperfine wrk curl python3
idp_binary
make_workdir
unset "${!IDP_@}" "${!AZURE_@}"
cd "$work"

issuer_and_emulator
resource_group rg
arm="$entra/subscriptions/$sub/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami"
bearer="authorization: Bearer $(cat owner.token)"
client_id=$(curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" \
  -d '{"location":"westeurope"}' "$arm?api-version=2023-01-31" | python3 -c 'import json,sys; print(json.load(sys.stdin)["properties"]["clientId"])')
curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" -o /dev/null \
  -d "{\"properties\":{\"issuer\":\"$issuer\",\"subject\":\"bench\",\"audiences\":[\"api://AzureADTokenExchange\"]}}" \
  "$arm/federatedIdentityCredentials/bench?api-version=2023-01-31"

token=("$idp" token --tenant "$tenant" --client-id "$client_id" --subject bench
  --scope https://vault.azure.net/.default --authority-host "$entra" --ca-cert entra-tls/ca.pem)
"${token[@]}" >/dev/null   # warms the emulator's metadata cache; fails loudly if the flow is broken

echo
echo "== idp token vs idp sign, whole process (2048-bit key) =="
hyperfine -N --warmup "$((smoke ? 1 : 10))" --runs "${RUNS:-200}" --export-json h.json \
  --command-name "idp sign" "$idp sign --subject bench" \
  --command-name "idp token" "${token[*]}" >/dev/null
python3 - h.json <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
s, t = r["idp sign"], r["idp token"]
print(f"{'command':<10} {'mean ms':>8} {'stddev':>8}")
for name, x in (("idp sign", s), ("idp token", t)):
    print(f"{name:<10} {x['mean']*1e3:8.2f} {x['stddev']*1e3:8.2f}")
print(f"ratio idp token / idp sign: {t['mean']/s['mean']:.2f}x")
open("ratio", "w").write(f"{t['mean']/s['mean']:.2f}")
PY

echo
echo "== emulator throughput, wrk -t2 -c16 -d${DURATION:-10s} =="
"$idp" sign --subject bench --lifetime 1h --out assertion.jwt 2>/dev/null
cat > post.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=$client_id&scope=https%3A%2F%2Fvault.azure.net%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$(cat assertion.jwt)"
LUA
rps() {
  wrk -t2 -c16 -d"${DURATION:-10s}" "$@" | python3 -c '
import re, sys
t = sys.stdin.read()
if "Non-2xx" in t: sys.exit("error: non-2xx responses:\n" + t)
print(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))'
}
exchanges=$(rps -s post.lua "$entra/$tenant/oauth2/v2.0/token")
keys=$(rps "$entra/$tenant/discovery/v2.0/keys")
python3 -c "e,k=$exchanges,$keys; print(f'exchanges/s {e:.0f}; its JWKS GET/s {k:.0f}; ratio {e/k:.2f}x')"
python3 -c "e,k=$exchanges,$keys; print(f'token: idp token {open(\"ratio\").read()}x idp sign; the emulator {e:.0f} exchanges/s, {e/k:.2f}x its JWKS GET/s')"
