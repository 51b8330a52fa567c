#!/usr/bin/env bash
# `idp serve` under load, as a ratio to nginx serving the same bytes in the same run:
# JWKS requests/s and p99 latency under wrk on loopback (both plain HTTP, the way a TLS
# terminator in front would reach them; HTTPS=1 puts TLS on both, with one test CA).
# Two measurements: saturated (no pause between requests: the requests/s ratio, and the
# p99 there), and paced at the same request rate for both servers (the p99 ratio: at
# saturation, whichever server outruns wrk has its p99 set by wrk's own queueing).
# The client and the servers run on separate CPUs (taskset): wrk on CPU 0, the server on
# the others, each with WORKERS workers (default: the server CPUs' count): idp serve
# --workers N, nginx worker_processes N. Sharing CPUs would measure the scheduler: wrk's
# threads would wait for the server's time slices, and the faster server would look slower.
# Needs: cargo, wrk, nginx, python3 (Debian: apt-get install -y wrk nginx-light).
# DURATION (default 10s), CONNECTIONS (default 64), RUNS (default 5, medians reported) and
# THINK_MS (default 2, the paced runs' think time) tune it;
# IDP_BIN runs a prebuilt idp instead of building one; SMOKE=1 makes it one short run.
# Its last line: `serve: requests/s X.XXx nginx's saturated, p99 Y.YYx nginx's at the same rate`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ((smoke)); then : "${DURATION:=1s}" "${CONNECTIONS:=4}" "${RUNS:=1}"; fi
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

# idp binds a port the OS picks and says which; nginx cannot, so it gets one probed free.
nginx_port=$(free_port)
scheme=http
[[ "${HTTPS:-0}" == 1 ]] && scheme=https

# One issuer, a 3-key JWKS (active, next, retiring), rendered once for both servers.
cd "$work"
"$idp" init --issuer "https://127.0.0.1/oidc" --key-size 2048 >/dev/null 2>&1
"$idp" keys add --key-size 2048 >/dev/null
"$idp" keys add --key-size 2048 >/dev/null
next=$("$idp" keys list --json | python3 -c 'import json,sys; d=json.load(sys.stdin); ks=d if isinstance(d,list) else d["keys"]; print([k["kid"] for k in ks if k["state"]=="next"][0])')
# Published nowhere: nothing trusts this issuer, so its rotation cannot break anything.
"$idp" keys activate "$next" --force >/dev/null 2>&1
"$idp" metadata --out site >/dev/null
chmod -R a+rX site

tls_args=()
if [[ $scheme == https ]]; then
  # idp makes the test CA and server certificate; nginx serves the same pair.
  timeout 5 "$idp" serve --listen "127.0.0.1:0" --self-signed "$work/tls" >/dev/null 2>&1 || true
  tls_args=(--tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key")
fi

taskset -c "$server_cpus" "$idp" serve --listen "127.0.0.1:0" --workers "$workers" --cache-control "public, max-age=300" "${tls_args[@]}" 2>"$work/idp.log" &
pids+=($!)
idp_port=$(ready "$work/idp.log" "serving on " 20 | sed 's/.*:\([0-9]*\)$/\1/')

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

# One wrk run: prints "requests/s p99_ms wrk_cpu_%". THINK_MS (exported) paces it.
measure() {
  local out
  out=$( { LC_ALL=C; TIMEFORMAT=%P; time taskset -c "$client_cpus" wrk -t"$wrk_threads" -c"$connections" \
    -d"$duration" --latency "${@:2}" "$1"; } 2>&1 ) || { echo "error: wrk failed on $1: $out" >&2; return 1; }
  python3 -c '
import re, sys
t = sys.stdin.read()
if not re.search(r"Requests/sec:", t): sys.exit("error: no result from wrk:\n" + t)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
v, u = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t).groups()
p99 = float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: sys.exit("error: non-2xx responses: " + errs.group(1))
cpu = float(t.strip().splitlines()[-1])
print(rps, p99, cpu)' <<<"$out"
}

# Paced runs: each connection waits THINK_MS after a response before its next request.
# wrk's delay() takes whole milliseconds, so a fractional think time alternates between
# the two whole values around it.
cat > "$work/pace.lua" <<'LUA'
local think = tonumber(os.getenv("THINK_MS") or "2")
local low = math.floor(think)
local frac = think - low
function delay()
  if math.random() < frac then return low + 1 end
  return low
end
LUA
paced() { THINK_MS=$2 measure "$1" -s "$work/pace.lua"; }

idp_url="$scheme://127.0.0.1:$idp_port$path"
nginx_url="$scheme://127.0.0.1:$nginx_port$path"
echo
echo "== JWKS over $scheme, $workers worker(s) each on CPU $server_cpus, wrk -t$wrk_threads -c$connections -d$duration on CPU $client_cpus, median of $runs, alternating =="
echo "saturated: no pause between a response and the next request"
idp_runs=(); nginx_runs=()
for _ in $(seq "$runs"); do
  idp_runs+=("$(measure "$idp_url")")
  nginx_runs+=("$(measure "$nginx_url")")
done

# Latency is compared at the same request rate: at saturation the faster server is driven
# until wrk itself runs out of CPU, and its p99 is then wrk's own queueing. Both servers get
# THINK_MS (default 2) of think time per connection; the one that then answers more requests
# gets a longer think time, calibrated so that both see the same rate.
think=${THINK_MS:-2}
# (Each result is captured first: `read <<<"$(cmd)"` would not stop on cmd's failure.)
out=$(paced "$idp_url" "$think"); read -r i_rps _ <<<"$out"
out=$(paced "$nginx_url" "$think"); read -r n_rps _ <<<"$out"
out=$(python3 -c "
c, t, i, n = $connections, $think, $i_rps, $n_rps
# A connection's cycle is c / rate; lengthen the faster one's think time by the difference.
d = abs(c / i - c / n) * 1e3
print(f'{t + d:.3f} {t:.3f}' if i > n else f'{t:.3f} {t + d:.3f}')")
read -r think_idp think_nginx <<<"$out"
echo "paced: think time idp ${think_idp} ms, nginx ${think_nginx} ms (calibrated to the same rate)"
idp_paced=(); nginx_paced=()
for _ in $(seq "$runs"); do
  idp_paced+=("$(paced "$idp_url" "$think_idp")")
  nginx_paced+=("$(paced "$nginx_url" "$think_nginx")")
done

python3 - "${idp_runs[*]}" "${nginx_runs[*]}" "${idp_paced[*]}" "${nginx_paced[*]}" <<'PY'
import statistics, sys
med = statistics.median
def runs(arg):
    v = list(map(float, arg.split()))
    return v[0::3], v[1::3], v[2::3]
for title, a, b, goal_rps in (
    ("saturated", sys.argv[1], sys.argv[2], True),
    ("paced, same request rate", sys.argv[3], sys.argv[4], False),
):
    (i_rps, i_p99, i_cpu), (n_rps, n_p99, n_cpu) = runs(a), runs(b)
    print(f"-- {title}; per run (requests/s, p99 ms, wrk CPU %):")
    print("  idp serve", ", ".join(f"{r:.0f} {p:.2f} {c:.0f}%" for r, p, c in zip(i_rps, i_p99, i_cpu)))
    print("  nginx    ", ", ".join(f"{r:.0f} {p:.2f} {c:.0f}%" for r, p, c in zip(n_rps, n_p99, n_cpu)))
    print(f"  {'median':<10} {'requests/s':>12} {'p99 ms':>8} {'wrk CPU':>8}")
    print(f"  {'idp serve':<10} {med(i_rps):12.0f} {med(i_p99):8.2f} {med(i_cpu):7.0f}%")
    print(f"  {'nginx':<10} {med(n_rps):12.0f} {med(n_p99):8.2f} {med(n_cpu):7.0f}%")
    rps_ratio, p99_ratio = med(i_rps) / med(n_rps), med(i_p99) / med(n_p99)
    if goal_rps:
        print(f"  ratio idp/nginx: requests/s {rps_ratio:.2f}x (goal >= 1.00x), p99 {p99_ratio:.2f}x")
    else:
        print(f"  ratio idp/nginx: requests/s {rps_ratio:.2f}x (same load when near 1.00x), p99 {p99_ratio:.2f}x (goal <= 1.00x)")
        if max(med(i_cpu), med(n_cpu)) > 80:
            print("  warning: wrk used over 80% of its CPU in the paced runs, so they are close to saturation; raise THINK_MS")
    if goal_rps:
        saturated = rps_ratio
    else:
        paced_p99 = p99_ratio
print(f"serve: requests/s {saturated:.2f}x nginx's saturated, p99 {paced_p99:.2f}x nginx's at the same rate")
PY
