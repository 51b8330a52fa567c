#!/usr/bin/env bash
# `idp serve` under load, as a ratio to nginx serving the same bytes in the same run:
# JWKS requests/s and p99 latency under wrk on loopback (both plain HTTP, the way a TLS
# terminator in front would reach them; HTTPS=1 puts TLS on both, with one test CA).
# The client and the servers run on separate CPUs (taskset): wrk on CPU 0, the server on
# the others, each with WORKERS workers (default: the server CPUs' count): idp serve
# --workers N, nginx worker_processes N. Sharing CPUs would measure the scheduler: wrk's
# threads would wait for the server's time slices, and the faster server would look slower.
# Needs: cargo, wrk, nginx, python3 (Debian: apt-get install -y wrk nginx-light).
# DURATION (default 10s), CONNECTIONS (default 64), RUNS (default 5, medians reported) tune it;
# IDP_BIN runs a prebuilt idp instead of building one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
ncpu=$(nproc)
if ((ncpu >= 2)); then
  client_cpus=0
  server_cpus="1-$((ncpu - 1))"
  workers=${WORKERS:-$((ncpu - 1))}
  wrk_threads=1
else
  client_cpus=0
  server_cpus=0
  workers=${WORKERS:-1}
  wrk_threads=1
fi
need_tools util-linux taskset
runs=${RUNS:-5}
need_tools "wrk nginx-light python3" wrk nginx python3 cargo
idp_binary
make_workdir
chmod 755 "$work" # nginx's workers run as nobody
unset "${!IDP_@}"

idp_port=$(free_port)
nginx_port=$(free_port)
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
  timeout 5 "$idp" serve --listen "127.0.0.1:$(free_port)" --self-signed "$work/tls" >/dev/null 2>&1 || true
  tls_args=(--tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key")
fi

taskset -c "$server_cpus" "$idp" serve --listen "127.0.0.1:$idp_port" --workers "$workers" --cache-control "public, max-age=300" "${tls_args[@]}" 2>"$work/idp.log" &
pids+=($!)

mkdir -p nginx/logs
listen="127.0.0.1:$nginx_port"
ssl=""
if [[ $scheme == https ]]; then
  listen="$listen ssl"
  ssl="ssl_certificate $work/tls/server.pem; ssl_certificate_key $work/tls/server.key;"
fi
cat > nginx/nginx.conf <<CONF
worker_processes $workers;
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
taskset -c "$server_cpus" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
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
  taskset -c "$client_cpus" wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency "$1" | python3 -c '
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
echo "== JWKS over $scheme, $workers worker(s) each on CPU $server_cpus, wrk -t$wrk_threads -c$connections -d$duration on CPU $client_cpus, median of $runs, alternating =="
idp_runs=(); nginx_runs=()
for _ in $(seq "$runs"); do
  idp_runs+=("$(measure "$scheme://127.0.0.1:$idp_port$path")")
  nginx_runs+=("$(measure "$scheme://127.0.0.1:$nginx_port$path")")
done
python3 - "${idp_runs[*]}" "${nginx_runs[*]}" <<'PY'
import statistics, sys
def runs(arg):
    v = list(map(float, arg.split()))
    return v[0::2], v[1::2]
(i_rps, i_p99), (n_rps, n_p99) = runs(sys.argv[1]), runs(sys.argv[2])
med = statistics.median
print("per run (requests/s, p99 ms):")
print("  idp serve", ", ".join(f"{r:.0f} {p:.2f}" for r, p in zip(i_rps, i_p99)))
print("  nginx    ", ", ".join(f"{r:.0f} {p:.2f}" for r, p in zip(n_rps, n_p99)))
print(f"{'median':<10} {'requests/s':>12} {'p99 ms':>8}")
print(f"{'idp serve':<10} {med(i_rps):12.0f} {med(i_p99):8.2f}")
print(f"{'nginx':<10} {med(n_rps):12.0f} {med(n_p99):8.2f}")
print(f"ratio idp/nginx: requests/s {med(i_rps)/med(n_rps):.2f}x (goal >= 1.00x), p99 {med(i_p99)/med(n_p99):.2f}x (goal <= 1.00x)")
PY
