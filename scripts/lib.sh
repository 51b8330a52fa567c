# Shared by quickstart.sh and the bench-*.sh scripts (sourced, not run).
# A step that fails says which one and where (`error: bench-x.sh: line N failed (exit C): CMD`),
# not just the script's silent exit. SMOKE=1 asks a benchmark for its smallest run (a few
# requests, one run: the test suite runs each so, to see it still works); `smoke` is 1 then.
# Sets `root` to the repository and offers:
#   need_tools HINT TOOL...   fail (exit 2) unless every TOOL is on PATH; HINT is what to apt-get
#   idp_binary                sets `idp`: $IDP_BIN (made absolute) or a fresh release build
#   make_workdir              sets `work` (a temp folder) and `pids`; both cleaned up on exit
#   free_port                 prints a port nothing listens on, on 127.0.0.1 (needs python3)
#   ready LOG PATTERN [SECS]  waits (default 10 s) for a background service's line; prints it
#   resource_group NAME       creates resource group NAME in the emulator (after
#                             issuer_and_emulator; ARM wants it before anything in it)
#   python_venv               sets `python` to .venv's, with tests/requirements.txt installed
#                             (pinned; reinstalled only when that file changed)
#   az_venv                   installs the az CLI pinned in tests/requirements-az.txt into
#                             .venv-az (only when that file changed)
#   issuer_and_emulator [EMULATOR ARGS…]
#                             in $work: `idp init`, `idp serve` over HTTPS on a free port and
#                             `idp emulator` trusting it (owner token in owner.token, no FIC
#                             propagation delay); sets
#                             `issuer`, `entra`, `tenant` and `sub`
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
smoke=${SMOKE:-0}
set -E
trap 'echo "error: ${0##*/}: line $LINENO failed (exit $?): $BASH_COMMAND" >&2' ERR

need_tools() {
  local hint=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (Debian: apt-get install -y $hint)" >&2; exit 2; }
  done
}

idp_binary() {
  idp=${IDP_BIN:-}
  if [[ -z $idp ]]; then
    echo "building idp (release)…" >&2
    cargo build --release --quiet --locked --manifest-path "$root/Cargo.toml" --bin idp -p idp
    idp="$root/target/release/idp"
  fi
  case $idp in /*) ;; *) idp=$PWD/$idp ;; esac
}

make_workdir() {
  work=$(mktemp -d)
  pids=()
  trap cleanup_workdir EXIT
}

cleanup_workdir() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

python_venv() {
  local stamp
  stamp=$(sha256sum "$root/tests/requirements.txt" | cut -d' ' -f1)
  if [[ ! -x $root/.venv/bin/python || "$(cat "$root/.venv/.idp-stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "installing the Python packages (.venv, pinned in tests/requirements.txt)" >&2
    python3 -m venv "$root/.venv" || { echo "error: python3 cannot make a venv; on Debian: apt-get install -y python3-venv" >&2; exit 2; }
    "$root/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/requirements.txt"
    echo "$stamp" > "$root/.venv/.idp-stamp"
  fi
  python=$root/.venv/bin/python
}

az_venv() {
  local stamp
  stamp=$(sha256sum "$root/tests/requirements-az.txt" | cut -d' ' -f1)
  if [[ ! -x $root/.venv-az/bin/az || "$(cat "$root/.venv-az/.idp-stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "installing the az CLI (.venv-az, pinned in tests/requirements-az.txt; about 2 minutes the first time)" >&2
    python3 -m venv "$root/.venv-az" || { echo "error: python3 cannot make a venv; on Debian: apt-get install -y python3-venv" >&2; exit 2; }
    "$root/.venv-az/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/requirements-az.txt"
    echo "$stamp" > "$root/.venv-az/.idp-stamp"
  fi
}

resource_group() {
  curl -fsS --cacert entra-tls/ca.pem -X PUT -H 'content-type: application/json' \
    -H "authorization: Bearer $(cat owner.token)" -d '{"location":"westeurope"}' -o /dev/null \
    "$entra/subscriptions/$sub/resourcegroups/$1?api-version=2021-04-01"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ready() {
  local log=$1 pattern=$2 secs=${3:-10}
  for _ in $(seq $((secs * 20))); do
    if grep -q "$pattern" "$log" 2>/dev/null; then grep -m1 "$pattern" "$log"; return; fi
    sleep 0.05
  done
  echo "error: no '$pattern' in $log:" >&2
  cat "$log" >&2
  exit 1
}

issuer_and_emulator() {
  local port try serve_pid
  # The issuer's URL names its port before `idp serve` binds it: a port taken meanwhile
  # (probed free, then bound by another process) is tried again with another, 3 times.
  "$idp" init --issuer "https://127.0.0.1:1/oidc" --key-size 2048 >/dev/null 2>&1
  for try in 1 2 3; do
    port=$(free_port)
    issuer="https://127.0.0.1:$port/oidc"
    sed -i "s|^issuer = .*|issuer = \"$issuer\"|" idp.toml
    "$idp" serve --listen "127.0.0.1:$port" --self-signed issuer-tls 2>serve.log & serve_pid=$!
    for _ in $(seq 400); do
      grep -q "serving on https://" serve.log 2>/dev/null && break
      kill -0 "$serve_pid" 2>/dev/null || break
      sleep 0.05
    done
    if grep -q "serving on https://" serve.log; then pids+=("$serve_pid"); break; fi
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    ((try < 3)) || { echo "error: idp serve did not start in 3 tries:" >&2; cat serve.log >&2; exit 1; }
  done
  # No propagation delay: the benchmarks mint right after creating their FICs.
  "$idp" emulator --listen 127.0.0.1:0 --self-signed entra-tls --trust-ca issuer-tls/ca.pem \
    --owner-token-out owner.token --propagation-delay 0s "$@" 2>emulator.log & pids+=($!)
  entra=$(ready emulator.log "Entra emulator on https://" 20 | sed 's/.* on //')
  tenant=$(ready emulator.log "  tenant " 20 | awk '{print $2}')
  sub=$(ready emulator.log "  subscription " 20 | awk '{print $2}')
}
