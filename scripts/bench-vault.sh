#!/usr/bin/env bash
# Assertions per second with the signing key in Key Vault (the emulator's, answering after
# LATENCY_MS like a vault in the same region) against a local key, in the same run, through
# `idp serve-assertions` (the endpoint `idp exec` gives tools): CLIENTS clients on kept-alive
# connections, REQUESTS assertions each, once with each key.
# Needs: curl, python3. LATENCY_MS (default 20), CLIENTS (8), REQUESTS (100) tune it.
# SMOKE=1 makes it 2 clients of 3 requests.
# Its last line: `vault: X.X assertions/s through Key Vault, Y.Y with a local key (Z.Zx)`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ((smoke)); then : "${CLIENTS:=2}" "${REQUESTS:=3}"; fi
need_tools "curl python3" curl python3
idp_binary
make_workdir
unset "${!IDP_@}" "${!AZURE_@}"
cd "$work"
latency_ms=${LATENCY_MS:-20}
clients=${CLIENTS:-8}
requests=${REQUESTS:-100}

issuer_and_emulator --latency "${latency_ms}ms"
resource_group rg
arm() { # METHOD PATH [BODY]: an ARM call as the subscription's owner; prints the answer
  curl -fsS --cacert entra-tls/ca.pem -X "$1" -H 'content-type: application/json' \
    -H "authorization: Bearer $(cat owner.token)" ${3:+-d "$3"} "$entra$2"
}
rg="/subscriptions/$sub/resourceGroups/rg/providers"
# The identity idp signs in as (a pipeline's workload identity) and the publisher's vault.
uami=$(arm PUT "$rg/Microsoft.ManagedIdentity/userAssignedIdentities/publisher?api-version=2023-01-31" '{"location":"westeurope"}')
arm PUT "$rg/Microsoft.ManagedIdentity/userAssignedIdentities/publisher/federatedIdentityCredentials/idp?api-version=2023-01-31" \
  "{\"properties\":{\"issuer\":\"$issuer\",\"subject\":\"publisher\",\"audiences\":[\"api://AzureADTokenExchange\"]}}" >/dev/null
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"; }
client_id=$(field properties.clientId <<<"$uami")
principal=$(field properties.principalId <<<"$uami")
vault=$(arm PUT "$rg/Microsoft.KeyVault/vaults/kv-bench?api-version=2026-02-01" \
  "{\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"$tenant\",\"sku\":{\"family\":\"A\",\"name\":\"premium\"}}}")
vault_uri=$(field properties.vaultUri <<<"$vault")
arm PUT "$rg/Microsoft.KeyVault/vaults/kv-bench/providers/Microsoft.Authorization/roleAssignments/0f000000-0000-4000-8000-00000000000f?api-version=2022-04-01" \
  "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/$sub/providers/Microsoft.Authorization/roleDefinitions/14b46e9e-c2b7-41b4-b07b-48a6ebf60603\",\"principalId\":\"$principal\"}}" >/dev/null
"$idp" token --tenant "$tenant" --client-id "$client_id" --subject publisher \
  --scope https://vault.azure.net/.default --authority-host "$entra" --ca-cert entra-tls/ca.pem >vault.token
chmod 600 vault.token

# serve-assertions with the active key; prints assertions/s for CLIENTS × REQUESTS.
measure() {
  "$idp" serve-assertions --tenant "$tenant" --client-id "$client_id" --subject bench \
    --request-token-file request.token --ca-cert entra-tls/ca.pem \
    --key-vault-token-file vault.token 2>assertions.log & local pid=$!
  local url
  url=$(ready assertions.log "GitHub form:" | awk '{print $3}')
  python3 - "$url" request.token "$clients" "$requests" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
url, token_file, clients, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
token = open(token_file).read().strip()
u = urllib.parse.urlsplit(url)
path = f"{u.path}?{u.query}&audience=api%3A%2F%2FAzureADTokenExchange"
headers = {"Authorization": f"Bearer {token}"}
def one(conn):
    conn.request("GET", path, headers=headers)
    r = conn.getresponse(); body = r.read()
    assert r.status == 200 and json.loads(body)["value"].startswith("eyJ"), body[:300]
def client(n):
    conn = http.client.HTTPConnection(u.hostname, u.port)
    for _ in range(n):
        one(conn)
for _ in range(3):  # warm: the vault's challenge, the token, the connection
    client(1)
threads = [threading.Thread(target=client, args=(requests,)) for _ in range(clients)]
t = time.perf_counter()
for th in threads: th.start()
for th in threads: th.join()
print(f"{clients * requests / (time.perf_counter() - t):.1f}")
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

local_rate=$(measure)
echo "local key: $local_rate assertions/s" >&2
"$idp" keys add --key-vault "${vault_uri}keys/bench" --key-size 2048 \
  --key-vault-token-file vault.token --ca-cert entra-tls/ca.pem >/dev/null 2>keys.log || { cat keys.log >&2; exit 1; }
kid=$("$idp" keys list --json | python3 -c 'import json,sys; print([k["kid"] for k in json.load(sys.stdin) if k["state"]=="next"][0])')
"$idp" keys activate "$kid" --force --key-vault-token-file vault.token --ca-cert entra-tls/ca.pem >/dev/null 2>&1
vault_rate=$(measure)
echo "Key Vault key: $vault_rate assertions/s" >&2

python3 - "$vault_rate" "$local_rate" "$latency_ms" "$clients" "$requests" <<'PY'
import sys
vault, local, lat, clients, requests = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"{clients} clients x {requests} assertions, vault latency {lat} ms")
print(f"ceiling through the vault (clients / latency)   {clients / lat * 1000:8.1f} /s")
print(f"vault: {vault:.1f} assertions/s through Key Vault, {local:.1f} with a local key ({local / vault:.1f}x)")
PY
