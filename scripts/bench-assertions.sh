#!/usr/bin/env bash
# What one fresh assertion costs a tool, two ways, in the same run:
#   1. `idp sign` as a whole process (hyperfine), what a tool pays when it shells out;
#   2. one request to `idp serve-assertions` (the endpoint `idp exec` gives tools), from one
#      client process: a new connection per request (as a tool refreshing now and then
#      does) and on one kept-alive connection.
# Prints each mean and the ratio sign-process / endpoint (goal: the endpoint far cheaper,
# >= 5x). Needs: hyperfine, python3.  RUNS (default 300) sets the number of assertions;
# SMOKE=1 makes it a few. Its last line: `assertions: the endpoint is X.Xx cheaper …`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ((smoke)); then : "${RUNS:=5}"; fi
runs=${RUNS:-300}
need_tools "hyperfine python3" hyperfine python3
idp_binary
make_workdir
unset "${!IDP_@}"
cd "$work"
"$idp" init --issuer https://acct.blob.core.windows.net/oidc --key-size 2048 >/dev/null 2>&1

"$idp" serve-assertions --tenant 10000000-0000-4000-8000-000000000001 \
  --client-id 20000000-0000-4000-8000-000000000002 --subject bench \
  --request-token-file request.token 2>serve.log &
pids+=($!)
url=$(ready serve.log "GitHub form:" | awk '{print $3}')

hyperfine -N --warmup "$((smoke ? 1 : 20))" --runs "$runs" --export-json h.json \
  --command-name "idp sign" "$idp --config $work/idp.toml sign --subject bench" >/dev/null 2>hyperfine.err \
  || { cat hyperfine.err >&2; exit 1; }

python3 - "$url" request.token "$runs" h.json <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
url, token_file, runs, hfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
token = open(token_file).read().strip()
u = urllib.parse.urlsplit(url)
path = f"{u.path}?{u.query}&audience=api%3A%2F%2FAzureADTokenExchange"
headers = {"Authorization": f"Bearer {token}"}

def one(conn):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200 and json.loads(body)["value"].startswith("eyJ"), body[:200]

def measure(keep_alive):
    times = []
    conn = http.client.HTTPConnection(u.hostname, u.port) if keep_alive else None
    for i in range(runs + 20):
        c = conn or http.client.HTTPConnection(u.hostname, u.port)
        t = time.perf_counter()
        one(c)
        dt = time.perf_counter() - t
        if not keep_alive:
            c.close()
        if i >= 20:
            times.append(dt)
    return times

fresh, kept = measure(False), measure(True)
sign = json.load(open(hfile))["results"][0]
print(f"{'way':<34} {'mean ms':>8} {'median ms':>10}")
print(f"{'idp sign (process)':<34} {sign['mean']*1e3:8.2f} {sign['median']*1e3:10.2f}")
for name, t in [("endpoint, new connection each", fresh), ("endpoint, kept-alive connection", kept)]:
    print(f"{name:<34} {statistics.mean(t)*1e3:8.2f} {statistics.median(t)*1e3:10.2f}")
r_fresh = sign["mean"] / statistics.mean(fresh)
r_kept = sign["mean"] / statistics.mean(kept)
print(f"assertions: the endpoint is {r_fresh:.1f}x cheaper than idp sign per assertion "
      f"(new connection; {r_kept:.1f}x kept-alive; goal >= 5x)")
PY
