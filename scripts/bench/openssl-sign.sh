#!/usr/bin/env bash
# The baseline for `idp sign`: the same assertion signed the way the source article's demo
# signs, with bash and `openssl dgst -sign`. Prints the JWT.
# Usage: openssl-sign.sh KEY.pem KID ISSUER SUBJECT
set -euo pipefail
key=$1 kid=$2 iss=$3 sub=$4
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$kid" | b64url)
claims=$(printf '{"iss":"%s","sub":"%s","aud":"api://AzureADTokenExchange","iat":%d,"nbf":%d,"exp":%d,"jti":"%s"}' \
  "$iss" "$sub" "$now" "$((now - 60))" "$((now + 600))" "$(openssl rand -hex 16)" | b64url)
signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$key" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$claims" "$signature"
