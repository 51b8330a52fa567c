#!/usr/bin/env bash
# Many customers: `idp token --all --parallel 32` against the emulator with Entra-like
# latency, every figure against baselines measured in the same run:
#   - the ideal wall time, ceil-free as the design states it: CUSTOMERS / 32 × latency;
#   - the loop a user would write instead: `xargs -P 32 -n 1 idp token --customer`.
# Also idp's peak memory for the run. Needs: cargo, curl, python3, xargs.
# CUSTOMERS (default 500), PARALLEL (32) and LATENCY (150ms) tune it; IDP_BIN runs a
# prebuilt idp. Its last line: `fleet: efficiency X.XX of ideal, X.XXx the xargs loop`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools "curl python3 findutils" curl python3 xargs
idp_binary
make_workdir
unset "${!IDP_@}" "${!AZURE_@}"
cd "$work"
customers=${CUSTOMERS:-500}
parallel=${PARALLEL:-32}
latency_ms=${LATENCY_MS:-150}

issuer_and_emulator --latency "${latency_ms}ms"

echo "creating $customers customers (a UAMI and its FIC each) in the emulator…" >&2
# One keep-alive HTTPS connection for the 2 × CUSTOMERS ARM calls; customers.toml written
# from the answers (the inventory's own format: one table per customer).
python3 - "$entra" "$sub" "$tenant" "$issuer" "$customers" <<'PY'
import http.client, json, ssl, sys, urllib.parse
entra, sub, tenant, issuer, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(entra)
conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile="entra-tls/ca.pem"))
owner = open("owner.token").read().strip()
def put(path, body, api="2023-01-31"):
    conn.request("PUT", path + "?api-version=" + api, json.dumps(body),
                 {"content-type": "application/json", "authorization": "Bearer " + owner})
    r = conn.getresponse(); data = r.read()
    if r.status not in (200, 201):
        sys.exit(f"ARM {r.status}: {data[:300]!r}")
    return json.loads(data)
with open("customers.toml", "w") as out:
    for i in range(n):
        name = f"c{i:04d}"
        put(f"/subscriptions/{sub}/resourcegroups/rg-{name}", {"location": "westeurope"}, "2021-04-01")
        base = f"/subscriptions/{sub}/resourceGroups/rg-{name}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-{name}"
        uami = put(base, {"location": "westeurope"})
        put(base + "/federatedIdentityCredentials/idp", {"properties": {
            "issuer": issuer, "subject": name, "audiences": ["api://AzureADTokenExchange"]}})
        out.write(f'[{name}]\ntenant = "{tenant}"\nclient_id = "{uami["properties"]["clientId"]}"\n'
                  f'subject = "{name}"\nscope = "https://vault.azure.net/.default"\n\n')
PY
common=(--authority-host "$entra" --ca-cert entra-tls/ca.pem)
# Warm the emulator's cache of the issuer's metadata; fails loudly if the flow is broken.
"$idp" token --customer c0000 "${common[@]}" >/dev/null

measure() { # prints "seconds peak_rss_kib" of the command, run as a child of python
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
took = time.monotonic() - t
if r.returncode != 0:
    sys.exit(f"failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
print(f"{took:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

mkdir -p tokens
read -r ours rss < <(measure "$idp" token --all --parallel "$parallel" --out-dir tokens "${common[@]}")
got=$(ls tokens | wc -l)
[[ $got == "$customers" ]] || { echo "error: $got token files for $customers customers" >&2; exit 1; }
python3 -c "import sys; n=int(sys.argv[1])
names=[f'c{i:04d}' for i in range(n)]
open('names','w').write(chr(10).join(names)+chr(10))" "$customers"
read -r loop _ < <(measure sh -c "xargs -P $parallel -n 1 '$idp' token ${common[*]} --customer < names")

python3 - "$customers" "$parallel" "$latency_ms" "$ours" "$loop" "$rss" <<'PY'
import sys
n, p, lat, ours, loop, rss = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
ideal = n / p * lat / 1000
print(f"customers {n}, parallel {p}, latency {lat} ms")
print(f"ideal (n / parallel x latency)   {ideal:7.2f} s")
print(f"idp token --all --parallel {p:<4}  {ours:7.2f} s   peak memory {rss / 1024:.1f} MiB")
print(f"xargs -P {p} -n 1 idp token      {loop:7.2f} s")
print(f"fleet: efficiency {ideal / ours:.2f} of ideal, {loop / ours:.2f}x the xargs loop")
PY
