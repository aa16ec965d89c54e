#!/usr/bin/env bash
# Lead intake under load on the local runner (its figures are in docs/performance.md):
#   scripts/load-intake.sh [seconds=60] [connections=16]
# Builds nhip-local (release), starts it on a fresh data folder and a free loopback port with
# the demo seeds (as `cargo run --release --bin nhip-local` does) and the per-address rate
# limit at its highest, 1,000,000 a minute (every request comes from 127.0.0.1), then:
#   1. wrk against GET /v1/version for 10 s: what the framework alone answers;
#   2. wrk against POST /v1/intake/leads for the given time, each request a new lead
#      (scripts/load-intake.lua), while the queues' depth is sampled every 5 s from the
#      SQLite file;
#   3. waits (at most 120 s) for the queues to empty and reports how long that took.
# Installs wrk with apt when it is missing (root or password-less sudo). Loopback only;
# bounded in time; it asserts nothing: it reports. NHIP_LOCAL_BIN runs another build instead
# (an older one, to compare), NHIP_INTAKE_RATE_PER_MINUTE another limit, and
# RUST_LOG=warn,nhip_local::db=debug has the runner log the writer's WAL restarts, which the
# script then counts and times.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
connections=${2:-16}

if ! command -v wrk >/dev/null 2>&1; then
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

bin=${NHIP_LOCAL_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked --bin nhip-local
  bin=$(cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/nhip-local
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runner_pid=
cleanup() {
  if [ -n "$runner_pid" ]; then
    kill "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

NHIP_INTAKE_RATE_PER_MINUTE=${NHIP_INTAKE_RATE_PER_MINUTE:-1000000} RUST_LOG=${RUST_LOG:-warn} \
  "$bin" --addr "127.0.0.1:$port" --data-dir "$data" >"$data/runner.log" 2>&1 &
runner_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  if curl -sf "$base/v1/version" >/dev/null; then break; fi
  kill -0 "$runner_pid" 2>/dev/null || { cat "$data/runner.log"; exit 1; }
  sleep 0.25
done

# The queues' depth (a small table); `depth customers` also counts the customers, a scan of
# the whole file, so only once the load is over: during it, a long read would hold back the
# writer's WAL restart and take a core's share from the runner it measures.
depth() {
  python3 - "$data/nhip.db" "${1:-}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=5)
rows = dict(db.execute("SELECT queue, count(*) FROM queue_messages GROUP BY queue").fetchall())
queued = "queued: " + (", ".join(f"{q} {n}" for q, n in sorted(rows.items())) or "none")
if sys.argv[2] == "customers":
    customers = db.execute("SELECT count(*) FROM items WHERE sk = 'PROFILE'").fetchone()[0]
    queued = f"customers {customers}; {queued}"
print(queued)
PY
}

echo "== GET /v1/version, 10 s, $connections connections"
wrk -t2 -c"$connections" -d10s --latency "$base/v1/version" | grep -E "Requests/sec|99%|Latency"

echo "== POST /v1/intake/leads, ${duration} s, $connections connections"
wrk -t2 -c"$connections" -d"${duration}s" --latency -s scripts/load-intake.lua \
  "$base/v1/intake/leads" >"$data/wrk.log" 2>&1 &
wrk_pid=$!
started=$(date +%s)
while kill -0 "$wrk_pid" 2>/dev/null; do
  sleep 5
  kill -0 "$wrk_pid" 2>/dev/null || break
  echo "  t+$(( $(date +%s) - started )) s: $(depth)"
done
wait "$wrk_pid"
grep -E "Requests/sec|requests in|status|p50|Non-2xx|Socket errors" "$data/wrk.log"

echo "== after the load"
ended=$(date +%s)
for _ in $(seq 1 120); do
  now=$(depth)
  case "$now" in *"queued: none"*) break ;; esac
  sleep 1
done
echo "  $(( $(date +%s) - ended )) s after the load: $(depth customers)"

# With RUST_LOG=warn,nhip_local::db=debug the runner logs each restart of the WAL by the
# writer (every request waits while it runs): how many, and how long.
if grep -q "WAL restarted" "$data/runner.log"; then
  echo "== the writer's WAL restarts"
  sed 's/\x1b\[[0-9;]*m//g' "$data/runner.log" | grep -o "WAL restarted micros=[0-9]*" | cut -d= -f2 | python3 -c '
import statistics, sys
us = sorted(int(line) for line in sys.stdin)
q = lambda p: us[min(len(us) - 1, int(p * len(us)))] / 1000
print(f"  {len(us)} restarts: p50 {q(0.5):.1f} ms, p90 {q(0.9):.1f} ms, max {us[-1] / 1000:.1f} ms")'
fi
