#!/usr/bin/env bash
# Many customers: `idp token --all --parallel 32` against the emulator with Entra-like
# latency, every figure against baselines measured in the same run:
#   - the ideal wall time, ceil-free as the design states it: CUSTOMERS / 32 × latency;
#   - the loop a user would write instead: `xargs -P 32 -n 1 idp token --customer`.
# Also idp's peak memory for the run (the largest resident size of the idp process itself),
# on the line just before the last: `fleet-memory: peak RSS N MiB for C customers`.
# Needs: cargo, curl, python3, xargs.
# CUSTOMERS (default 500), PARALLEL (32) and LATENCY_MS (150) tune it; XARGS=0 skips the
# loop (it takes minutes at 10,000 customers; its ratio is then n/a; the default runs it up
# to 2,000 customers); IDP_BIN runs a prebuilt idp; SMOKE=1 makes it 8 customers.
# Its last line: `fleet: efficiency X.XX of ideal, X.XXx the xargs loop`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ((smoke)); then : "${CUSTOMERS:=8}" "${PARALLEL:=4}" "${LATENCY_MS:=20}"; fi
need_tools "curl python3 findutils" curl python3 xargs
idp_binary
make_workdir
unset "${!IDP_@}" "${!AZURE_@}"
cd "$work"
customers=${CUSTOMERS:-500}
parallel=${PARALLEL:-32}
latency_ms=${LATENCY_MS:-150}
xargs_loop=${XARGS:-$((customers <= 2000 ? 1 : 0))}

issuer_and_emulator --latency "${latency_ms}ms"

echo "creating $customers customers (a UAMI and its FIC each) in the emulator…" >&2
# ARM takes one FIC write at a time per identity (the emulator holds each for 100 ms, as
# Azure answers 409 to a concurrent one), but identities are independent: 64 threads, each
# on its own keep-alive HTTPS connection, make them side by side. customers.toml is written
# from the answers, in name order (the inventory's own format: one table per customer).
python3 - "$entra" "$sub" "$tenant" "$issuer" "$customers" <<'PY'
import concurrent.futures, http.client, json, ssl, sys, threading, urllib.parse
entra, sub, tenant, issuer, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(entra)
tls = ssl.create_default_context(cafile="entra-tls/ca.pem")
owner = open("owner.token").read().strip()
local = threading.local()
def put(path, body, api="2023-01-31"):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPSConnection(u.hostname, u.port, context=tls)
    local.conn.request("PUT", path + "?api-version=" + api, json.dumps(body),
                       {"content-type": "application/json", "authorization": "Bearer " + owner})
    r = local.conn.getresponse(); data = r.read()
    if r.status not in (200, 201):
        raise SystemExit(f"ARM {r.status} for {path}: {data[:300]!r}")
    return json.loads(data)
def customer(i):
    name = f"c{i:05d}"
    put(f"/subscriptions/{sub}/resourcegroups/rg-{name}", {"location": "westeurope"}, "2021-04-01")
    base = f"/subscriptions/{sub}/resourceGroups/rg-{name}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-{name}"
    uami = put(base, {"location": "westeurope"})
    put(base + "/federatedIdentityCredentials/idp", {"properties": {
        "issuer": issuer, "subject": name, "audiences": ["api://AzureADTokenExchange"]}})
    return (f'[{name}]\ntenant = "{tenant}"\nclient_id = "{uami["properties"]["clientId"]}"\n'
            f'subject = "{name}"\nscope = "https://vault.azure.net/.default"\n\n')
with concurrent.futures.ThreadPoolExecutor(64) as pool:
    tables = list(pool.map(customer, range(n)))
open("customers.toml", "w").write("".join(tables))
PY
common=(--authority-host "$entra" --ca-cert entra-tls/ca.pem)
# Warm the emulator's cache of the issuer's metadata; fails loudly if the flow is broken.
"$idp" token --customer c00000 "${common[@]}" >/dev/null

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
loop=n/a
if ((xargs_loop)); then
  python3 -c "import sys; n=int(sys.argv[1])
names=[f'c{i:05d}' for i in range(n)]
open('names','w').write(chr(10).join(names)+chr(10))" "$customers"
  read -r loop _ < <(measure sh -c "xargs -P $parallel -n 1 '$idp' token ${common[*]} --customer < names")
fi

python3 - "$customers" "$parallel" "$latency_ms" "$ours" "$loop" "$rss" <<'PY'
import sys
n, p, lat, ours, loop, rss = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
ideal = n / p * lat / 1000
print(f"customers {n}, parallel {p}, latency {lat} ms")
print(f"ideal (n / parallel x latency)   {ideal:7.2f} s")
print(f"idp token --all --parallel {p:<4}  {ours:7.2f} s")
if loop == "n/a":
    print(f"xargs -P {p} -n 1 idp token      (not run: XARGS=0)")
    ratio = "n/a"
else:
    print(f"xargs -P {p} -n 1 idp token      {float(loop):7.2f} s")
    ratio = f"{float(loop) / ours:.2f}x"
print(f"fleet-memory: peak RSS {rss / 1024:.1f} MiB for {n} customers")
print(f"fleet: efficiency {ideal / ours:.2f} of ideal, {ratio} the xargs loop")
PY
