#!/usr/bin/env bash
# The main job on an embedded default, all on this machine, no Azure account:
#   1. an issuer: key, configuration, discovery document and JWKS;
#   2. the metadata served over HTTPS (`idp serve`, with a local CA);
#   3. a local Entra (`idp emulator`) that trusts that CA, with a user-assigned managed
#      identity and its federated credential (`idp fic`) created through its ARM API;
#   4. the customer added from its identity (`idp customers add --identity`), checked by
#      `idp doctor`;
#   5. `idp token`: an assertion signed and exchanged for the identity's access token, and
#      the access token's claims;
#   6. the data-plane call: a secret set in the customer's Key Vault (the emulator's) with
#      that token, through Microsoft's Python client azure-keyvault-secrets, unchanged:
#      refused (403 ForbiddenByRbac) until the identity holds Key Vault Secrets Officer on
#      the vault, then set and read back.
#
#
# `--way entra-app` tells the article's third way instead, with no issuer and no key: the
# publisher's multi-tenant app (registered over Microsoft Graph with the publisher's own
# managed identity's token) trusting that identity (`idp fic --way entra-app`), the
# customer's admin consenting once (`idp customers consent-url`), `idp doctor` reading the
# app's credential over Graph, `idp token` presenting the identity's token as the app, and
# the same data-plane call.
#
#   scripts/quickstart.sh [--way entra-app]      builds idp (release) and runs
#   IDP_BIN=/path/to/idp scripts/quickstart.sh   uses that binary
# Needs curl and python3 (with venv: the pinned Python packages go into .venv).
set -euo pipefail

way=issuer
case "${1:-}" in
  "") ;;
  --way) way=${2:-}; [[ $way == issuer || $way == entra-app ]] || { echo "error: --way is issuer or entra-app, not '${way}'" >&2; exit 2; } ;;
  *) echo "error: unknown argument '$1'; usage: scripts/quickstart.sh [--way issuer|entra-app]" >&2; exit 2 ;;
esac

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
idp_binary
need_tools "curl python3 python3-venv" curl python3
python_venv
make_workdir
cd "$work"
# Only this run's settings count.
unset "${!IDP_@}" "${!AZURE_@}" IDENTITY_ENDPOINT IDENTITY_HEADER

run() {
  printf '\n$ idp %s\n' "$*"
  "$idp" "$@"
}

# Microsoft's Key Vault client, unchanged, with the access token idp obtained (read from
# stdin, never printed). The emulator's vault is not under vault.azure.net, so the client's
# check of the challenge's domain is turned off, as Microsoft documents.
cat > secret.py <<'PY'
import sys
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient

class Given:
    def __init__(self, token): self.token = token
    def get_token(self, *scopes, **kwargs): return AccessToken(self.token, 2**31 - 1)

client = SecretClient(sys.argv[1], Given(sys.stdin.read().strip()), verify_challenge_resource=False)
try:
    client.set_secret("greeting", "hello from the publisher")
    print(f"set, then read back: greeting = {client.get_secret('greeting').value!r}")
except HttpResponseError as e:
    print(f"refused: {e.status_code} {e.response.json()['error'].get('innererror', {}).get('code')}")
    sys.exit(3)
PY

if [[ $way == entra-app ]]; then
  # 1. A local Entra with two tenants: the customer's, and the publisher's, whose managed
  # identity is attached to "this machine" (App Service's IDENTITY_ENDPOINT on loopback).
  printf '\n$ idp emulator --listen 127.0.0.1:0 --self-signed entra-tls --owner-token-out owner.token --propagation-delay 0s &\n'
  "$idp" emulator --listen 127.0.0.1:0 --self-signed entra-tls --owner-token-out owner.token \
    --propagation-delay 0s 2>emulator.log &
  pids+=($!)
  entra=$(ready emulator.log "Entra emulator on https://" | sed 's/.* on //')
  tenant=$(ready emulator.log "  tenant " | awk '{print $2}')
  subscription=$(ready emulator.log "  subscription " | awk '{print $2}')
  publisher=$(ready emulator.log "  publisher tenant " | awk '{print $3}')
  mi_line=$(ready emulator.log "  machine identity ")
  mi_client=$(printf '%s' "$mi_line" | sed 's/.*client id \([^,]*\),.*/\1/')
  mi_principal=$(printf '%s' "$mi_line" | sed 's/.*principal id \([^ ]*\).*/\1/')
  endpoint_line=$(ready emulator.log "^IDENTITY_ENDPOINT=")
  export IDENTITY_ENDPOINT IDENTITY_HEADER
  IDENTITY_ENDPOINT=$(printf '%s' "$endpoint_line" | sed 's/^IDENTITY_ENDPOINT=\([^ ]*\) .*/\1/')
  IDENTITY_HEADER=$(printf '%s' "$endpoint_line" | sed 's/.*IDENTITY_HEADER=//')
  export IDP_CA_CERT=entra-tls/ca.pem
  echo "Entra emulator on $entra: customer tenant $tenant, publisher tenant $publisher"
  echo "this machine's managed identity: client id $mi_client, principal id $mi_principal ($IDENTITY_ENDPOINT)"

  # 2. The publisher's side, once: a multi-tenant app in the publisher's tenant, registered
  # over Microsoft Graph with the managed identity's own Graph token (not shown), and its FIC
  # trusting that identity, in Graph's form as idp prints it.
  graph_token=$(curl -fsS -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" \
    "$IDENTITY_ENDPOINT?resource=https://graph.microsoft.com&api-version=2019-08-01&client_id=$mi_client" \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  graph() { curl -fsS --cacert entra-tls/ca.pem -H "authorization: Bearer $graph_token" -H 'content-type: application/json' "$@"; }
  printf '\n$ curl -X POST %s/v1.0/applications   (signInAudience AzureADMultipleOrgs)\n' "$entra"
  app=$(graph -X POST -d '{"displayName":"isv-automation","signInAudience":"AzureADMultipleOrgs"}' "$entra/v1.0/applications")
  echo "$app"
  app_id=$(printf '%s' "$app" | sed -n 's/.*"appId":"\([^"]*\)".*/\1/p')
  app_object=$(printf '%s' "$app" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  printf '\n$ idp fic --way entra-app --publisher-tenant %s --principal-id %s --authority-host %s > app-fic.json\n' "$publisher" "$mi_principal" "$entra"
  "$idp" fic --way entra-app --publisher-tenant "$publisher" --principal-id "$mi_principal" \
    --authority-host "$entra" | tee app-fic.json
  printf '\n$ curl -X POST %s/v1.0/applications/%s/federatedIdentityCredentials -d @app-fic.json\n' "$entra" "$app_object"
  graph -X POST -d @app-fic.json "$entra/v1.0/applications/$app_object/federatedIdentityCredentials"
  echo

  # 3. The customer, recorded by way; its admin consents to the app once (the emulator
  # stands in for the admin's browser and answers with the new service principal).
  run customers add fabrikam --way entra-app --tenant "$tenant" --app-id "$app_id" \
    --managed-identity "$mi_client" --scope https://vault.azure.net/.default
  run customers list
  run customers consent-url fabrikam --authority-host "$entra"
  consent=$(curl -fsS --cacert entra-tls/ca.pem "$("$idp" customers consent-url fabrikam --authority-host "$entra")")
  echo "the customer's admin consented: $consent"
  sp=$(printf '%s' "$consent" | sed -n 's/.*"service_principal_id":"\([^"]*\)".*/\1/p')

  # 4. Checked before use: the identity's token, the app's FIC over Graph (the Azure SDKs'
  # AZURE_CLIENT_ID names the user-assigned identity), and a real exchange.
  printf '\n$ AZURE_CLIENT_ID=%s idp doctor --customer fabrikam --graph --graph-endpoint %s --authority-host %s\n' "$mi_client" "$entra" "$entra"
  AZURE_CLIENT_ID=$mi_client "$idp" doctor --customer fabrikam --graph --graph-endpoint "$entra" --authority-host "$entra"

  # 5. The exchange: the identity's token presented as the app at the customer's tenant.
  run token --customer fabrikam --authority-host "$entra" --format claims

  # 6. The data-plane call, refused until the app's service principal holds a role.
  bearer="authorization: Bearer $(cat owner.token)"
  arm() { curl -fsS --cacert entra-tls/ca.pem -H 'content-type: application/json' -H "$bearer" "$@"; }
  arm -X PUT -d '{"location":"westeurope"}' "$entra/subscriptions/$subscription/resourcegroups/customer-rg?api-version=2021-04-01" >/dev/null
  vault="/subscriptions/$subscription/resourceGroups/customer-rg/providers/Microsoft.KeyVault/vaults/fabrikam-kv"
  printf '\n$ curl -X PUT %s%s?api-version=2026-02-01\n' "$entra" "$vault"
  kv=$(arm -X PUT -d "{\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"$tenant\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":true}}" \
    "$entra$vault?api-version=2026-02-01")
  vault_url=$(printf '%s' "$kv" | sed -n 's/.*"vaultUri":"\([^"]*\)".*/\1/p')
  set_secret() {
    printf '\n$ idp token --customer fabrikam … | python secret.py %s\n' "$vault_url"
    "$idp" token --customer fabrikam --authority-host "$entra" \
      | REQUESTS_CA_BUNDLE=entra-tls/ca.pem "$python" secret.py "$vault_url"
  }
  if set_secret; then
    echo "error: the vault accepted a secret from an app without a role on it" >&2
    exit 1
  fi
  echo "explained: the app's service principal holds no data-plane role on the vault yet; the package's template (idp managed-app package --way entra-app) grants it"
  assignment="$vault/providers/Microsoft.Authorization/roleAssignments/$(cat /proc/sys/kernel/random/uuid)"
  printf '\n$ curl -X PUT %s%s?api-version=2022-04-01   (Key Vault Secrets Officer for the service principal %s)\n' "$entra" "$assignment" "$sp"
  arm -X PUT -d "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/$subscription/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7\",\"principalId\":\"$sp\",\"principalType\":\"ServicePrincipal\"}}" \
    "$entra$assignment?api-version=2022-04-01" >/dev/null
  set_secret
  printf '\nquickstart ok (entra-app): no issuer, no key; the publisher'"'"'s managed identity %s signed in as app %s in the customer'"'"'s tenant, and a secret was set in its vault\n' \
    "$mi_client" "$app_id"
  exit 0
fi

# A free loopback port for the issuer (its URL carries the port).
port=8443
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

issuer="https://127.0.0.1:$port/quickstart"
subject="quickstart-customer"

# 1. The issuer.
run init --issuer "$issuer" --key-size 2048
run metadata --out site
printf '\n$ find site -type f\n'; find site -type f | sort

# 2. Its metadata over HTTPS, as the blob container would serve it.
printf '\n$ idp serve --listen 127.0.0.1:%s --self-signed issuer-tls &\n' "$port"
"$idp" serve --listen "127.0.0.1:$port" --self-signed issuer-tls 2>serve.log &
pids+=($!)
ready serve.log "serving on https://"

# 3. A local Entra, trusting the issuer's CA, on a free port. A new FIC answers AADSTS70021
# for a while, in Azure for minutes and in the emulator for 5s by default (`idp token` waits
# it out; `idp doctor` reports it): off here, so every step runs at once.
printf '\n$ idp emulator --listen 127.0.0.1:0 --self-signed entra-tls --trust-ca issuer-tls/ca.pem --owner-token-out owner.token --propagation-delay 0s &\n'
"$idp" emulator --listen 127.0.0.1:0 --self-signed entra-tls --trust-ca issuer-tls/ca.pem \
  --owner-token-out owner.token --propagation-delay 0s 2>emulator.log &
pids+=($!)
entra=$(ready emulator.log "Entra emulator on https://" | sed 's/.* on //')
tenant=$(ready emulator.log "  tenant " | awk '{print $2}')
subscription=$(ready emulator.log "  subscription " | awk '{print $2}')
echo "Entra emulator on $entra (tenant $tenant, subscription $subscription)"

# The managed app's template, replayed: its (managed) resource group, a UAMI and its FIC
# trusting the issuer. ARM wants the subscription owner's bearer token, as Azure does (the
# token is not shown), and the resource group before anything in it.
bearer="authorization: Bearer $(cat owner.token)"
group="$entra/subscriptions/$subscription/resourcegroups/customer-rg?api-version=2021-04-01"
printf '\n$ curl -X PUT %s\n' "$group"
curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" \
  -d '{"location":"westeurope"}' "$group" >/dev/null
identity="/subscriptions/$subscription/resourceGroups/customer-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/isv-uami"
arm="$entra$identity"
api="api-version=2023-01-31"
printf '\n$ curl -X PUT %s?%s\n' "$arm" "$api"
uami=$(curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" \
  -d '{"location":"westeurope"}' "$arm?$api")
echo "$uami"
client_id=$(printf '%s' "$uami" | sed -n 's/.*"clientId":"\([^"]*\)".*/\1/p')
# The FIC's body, with the issuer and audience exactly as idp signs them.
printf '\n$ idp fic --subject %s --name isv > fic.json\n' "$subject"
"$idp" fic --subject "$subject" --name isv | tee fic.json
printf '\n$ curl -X PUT %s/federatedIdentityCredentials/isv?%s -d @fic.json\n' "$arm" "$api"
curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" \
  -d @fic.json "$arm/federatedIdentityCredentials/isv?$api"
echo

# 4. The customer, read from its identity over ARM: tenant, client id, and the subject of
# the FIC that trusts this issuer.
run customers add customer-1 --identity "$identity" --scope https://vault.azure.net/.default \
  --arm-endpoint "$entra" --arm-token-file owner.token --ca-cert entra-tls/ca.pem
run customers list

run doctor --customer customer-1 --authority-host "$entra" \
  --arm-endpoint "$entra" --arm-token-file owner.token \
  --ca-cert issuer-tls/ca.pem --ca-cert entra-tls/ca.pem

# 5. The exchange, then what the access token says.
run token --customer customer-1 --authority-host "$entra" \
  --ca-cert entra-tls/ca.pem --format claims

# 6. The data-plane call, in the customer's vault. The managed app's template creates the
# vault and grants the identity Key Vault Secrets Officer on it (deploy/managed-app); here
# the vault comes first, the role after the first attempt, to show the refusal.
vault="/subscriptions/$subscription/resourceGroups/customer-rg/providers/Microsoft.KeyVault/vaults/customer-kv"
printf '\n$ curl -X PUT %s%s?api-version=2026-02-01\n' "$entra" "$vault"
kv=$(curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" \
  -d "{\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"$tenant\",\"sku\":{\"family\":\"A\",\"name\":\"standard\"},\"enableRbacAuthorization\":true}}" \
  "$entra$vault?api-version=2026-02-01")
vault_url=$(printf '%s' "$kv" | sed -n 's/.*"vaultUri":"\([^"]*\)".*/\1/p')
echo "vault: $vault_url"
principal=$(printf '%s' "$uami" | sed -n 's/.*"principalId":"\([^"]*\)".*/\1/p')
set_secret() {
  printf '\n$ idp token --customer customer-1 … | python secret.py %s\n' "$vault_url"
  "$idp" token --customer customer-1 --authority-host "$entra" --ca-cert entra-tls/ca.pem \
    | REQUESTS_CA_BUNDLE=entra-tls/ca.pem "$python" secret.py "$vault_url"
}
if set_secret; then
  echo "error: the vault accepted a secret from an identity without a role on it" >&2
  exit 1
fi
echo "explained: Key Vault answers 403 ForbiddenByRbac while the identity holds no data-plane role on the vault; grant it Key Vault Secrets Officer (the managed app's template does)"
assignment="$vault/providers/Microsoft.Authorization/roleAssignments/$(cat /proc/sys/kernel/random/uuid)"
printf '\n$ curl -X PUT %s%s?api-version=2022-04-01   (Key Vault Secrets Officer for %s)\n' "$entra" "$assignment" "$principal"
curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' -H "$bearer" \
  -d "{\"properties\":{\"roleDefinitionId\":\"/subscriptions/$subscription/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7\",\"principalId\":\"$principal\",\"principalType\":\"ServicePrincipal\"}}" \
  "$entra$assignment?api-version=2022-04-01" >/dev/null
set_secret

printf '\nquickstart ok: issuer %s, assertion for %s exchanged at the emulator for the access token of %s, a secret set in the customer'"'"'s vault with it\n' \
  "$issuer" "$subject" "$client_id"
