#!/usr/bin/env bash
# `idp serve` under load, as a ratio to nginx serving the same bytes in the same run:
# JWKS requests/s and p99 latency under wrk on loopback (both plain HTTP, the way a TLS
# terminator in front would reach them; HTTPS=1 puts TLS on both, with one test CA).
# Both servers get 2 workers (idp serve runs 2 tokio worker threads; nginx 2 processes).
# Needs: cargo, wrk, nginx, python3 (Debian: apt-get install -y wrk nginx-light).
# DURATION (default 10s), CONNECTIONS (default 64), RUNS (default 3, best kept) tune it;
# IDP_BIN runs a prebuilt idp instead of building one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
runs=${RUNS:-3}
for tool in wrk nginx python3 cargo; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (Debian: apt-get install -y wrk nginx-light python3)" >&2; exit 2; }
done

idp=${IDP_BIN:-}
if [[ -z $idp ]]; then
  echo "building (release)…" >&2
  cargo build --release --quiet --locked --manifest-path "$root/Cargo.toml" --bin idp -p idp
  idp="$root/target/release/idp"
fi

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
unset "${!IDP_@}"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
idp_port=$(port)
nginx_port=$(port)
scheme=http
[[ "${HTTPS:-0}" == 1 ]] && scheme=https

# One issuer, a 3-key JWKS (active, next, retiring), rendered once for both servers.
cd "$work"
"$idp" init --issuer "https://127.0.0.1/oidc" --key-size 2048 >/dev/null 2>&1
"$idp" keys add --key-size 2048 >/dev/null
"$idp" keys add --key-size 2048 >/dev/null
next=$("$idp" keys list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); ks=d if isinstance(d,list) else d["keys"]; print([k["kid"] for k in ks if k["state"]=="next"][0])')
"$idp" keys activate "$next" >/dev/null 2>&1
"$idp" metadata --out site >/dev/null
chmod -R a+rX site

tls_args=()
if [[ $scheme == https ]]; then
  # idp makes the test CA and server certificate; nginx serves the same pair.
  timeout 5 "$idp" serve --listen "127.0.0.1:$(port)" --self-signed "$work/tls" >/dev/null 2>&1 || true
  tls_args=(--tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key")
fi

"$idp" serve --listen "127.0.0.1:$idp_port" --cache-control "public, max-age=300" "${tls_args[@]}" 2>"$work/idp.log" &
pids+=($!)

mkdir -p nginx/logs
listen="127.0.0.1:$nginx_port"
ssl=""
if [[ $scheme == https ]]; then
  listen="$listen ssl"
  ssl="ssl_certificate $work/tls/server.pem; ssl_certificate_key $work/tls/server.key;"
fi
cat > nginx/nginx.conf <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {
    listen $listen;
    $ssl
    location /oidc/ {
      alias $work/site/;
      default_type application/json;
      add_header Cache-Control "public, max-age=300";
    }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)

path=/oidc/.well-known/jwks.json
for p in "$idp_port" "$nginx_port"; do
  for _ in $(seq 50); do
    curl -fsk -o /dev/null "$scheme://127.0.0.1:$p$path" && break
    sleep 0.1
  done
done
cmp <(curl -fsk "$scheme://127.0.0.1:$idp_port$path") <(curl -fsk "$scheme://127.0.0.1:$nginx_port$path") \
  || { echo "error: idp and nginx serve different bytes" >&2; exit 1; }

# wrk's --latency output: "Requests/sec: N" and "99% X(us|ms|s)".
measure() {
  wrk -t2 -c"$connections" -d"$duration" --latency "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
v, u = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t).groups()
p99 = float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: sys.exit("error: non-2xx responses: " + errs.group(1))
print(rps, p99)'
}

echo
echo "== JWKS over $scheme, wrk -t2 -c$connections -d$duration, best of $runs, alternating =="
best_idp="0 1e9"; best_nginx="0 1e9"
higher() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { exit !(a > b) }'; }
for _ in $(seq "$runs"); do
  r=$(measure "$scheme://127.0.0.1:$idp_port$path"); if higher "$r" "$best_idp"; then best_idp=$r; fi
  r=$(measure "$scheme://127.0.0.1:$nginx_port$path"); if higher "$r" "$best_nginx"; then best_nginx=$r; fi
done
python3 - "$best_idp" "$best_nginx" <<'PY'
import sys
i_rps, i_p99 = map(float, sys.argv[1].split())
n_rps, n_p99 = map(float, sys.argv[2].split())
print(f"{'server':<10} {'requests/s':>12} {'p99 ms':>8}")
print(f"{'idp serve':<10} {i_rps:12.0f} {i_p99:8.2f}")
print(f"{'nginx':<10} {n_rps:12.0f} {n_p99:8.2f}")
print(f"ratio idp/nginx: requests/s {i_rps/n_rps:.2f}x (goal >= 1.00x), p99 {i_p99/n_p99:.2f}x (goal <= 1.00x)")
PY
