#!/usr/bin/env bash
# Nhịp's one test command (README.md; .ci/run calls exactly this). On a fresh clone it
# installs what it needs into .venv (moto[server], cfn-lint, aws-sam-cli, schemathesis, pytest,
# Playwright and axe-core) and Debian's chromium (apt, when it is missing),
# starts moto on a free loopback port for the AWS adapter contract tests, and runs:
# cargo fmt --check, the crate-layer and handler-length checks, cargo clippy -D warnings,
# every cargo test, schemathesis against the local runner (nhip-local on a fresh data folder)
# and its own /v1/openapi.json, cfn-lint, the template's secrets check and sam validate --lint, README.md's walk-throughs
# run command by command on a fresh runner, and the staff console's browser suite
# (tests/browser: pytest + Playwright driving chromium against a fresh runner).
# moto and the runners are stopped however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
# One build from a fresh clone gains nothing from incremental compilation, whose caches took
# 2.2 of the 5.1 GB the debug build wrote (clippy and every test binary): without them the
# run fits the disk of a small CI machine.
export CARGO_INCREMENTAL=0

venv=.venv
mkdir -p .cache

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
# Reuse .venv only if it was made from these requirements and still imports them.
if ! cmp -s tools/requirements.txt "$venv/.installed-requirements" 2>/dev/null \
  || ! "$venv/bin/python" -c 'import moto, cfnlint, samcli, schemathesis, pytest, playwright, axe_playwright_python, yaml' 2>/dev/null; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/requirements.txt
  cp tools/requirements.txt "$venv/.installed-requirements"
fi
echo "moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)'), $("$venv/bin/cfn-lint" --version), $("$venv/bin/sam" --version), $("$venv/bin/schemathesis" --version)"

step "Browser for the console's suite (Debian's chromium)"
# Playwright drives the distribution's chromium; it never downloads a browser of its own.
if ! command -v chromium >/dev/null 2>&1; then
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
chromium --version

free_port() {
  "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Whatever this script starts, it stops, however the run ends.
moto_pid=
runner_pid=
runner_dir=
cleanup() {
  for pid in "$runner_pid" "$moto_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$runner_dir" ]; then rm -rf "$runner_dir"; fi
}
trap cleanup EXIT

step "AWS emulator (moto server)"
port=$(free_port)
"$venv/bin/python" tools/moto_serialised.py 127.0.0.1 "$port" >.cache/moto.log 2>&1 &
moto_pid=$!
endpoint="http://127.0.0.1:$port"
ready=no
for _ in $(seq 1 120); do
  # The moto we started must be the one answering: it is still alive and serves its API.
  kill -0 "$moto_pid" 2>/dev/null || { cat .cache/moto.log; echo "moto exited"; exit 1; }
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/data.json', timeout=1)" 2>/dev/null; then
    ready=yes
    break
  fi
  sleep 0.25
done
if [ "$ready" != yes ]; then
  cat .cache/moto.log
  echo "moto did not answer on $endpoint within 30 s"
  exit 1
fi
echo "moto (pid $moto_pid) answering on $endpoint"

step "cargo fmt --check"
cargo fmt --all -- --check

step "crate layers: every dependency points down"
cargo metadata --format-version 1 --no-deps --locked | "$venv/bin/python" tools/crate_layers.py

step "handlers: thin over their use cases (at most 60 lines each)"
"$venv/bin/python" tools/handler_lengths.py

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, contract on every adapter, functions, runner)"
export NHIP_TEST_AWS_ENDPOINT="$endpoint" NHIP_TEST_REQUIRE_EMULATOR=1
# The integration tests wait on I/O (emulator, SQLite), not CPU: run more at once than cores.
cargo test --workspace --locked -- --test-threads=8 2>&1 | tee .cache/cargo-test.log
summary=$(awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed", passed, failed }' .cache/cargo-test.log)

step "schemathesis: the local runner against its own /v1/openapi.json"
# The debug build shares everything with the tests just built; a release build would take
# minutes. A fresh data folder: the run starts empty and leaves nothing behind.
cargo build --bin nhip-local --locked
target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
  | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
nhip_local="$target_dir/debug/nhip-local"
runner_dir=$(mktemp -d)
runner_port=$(free_port)
runner="http://127.0.0.1:$runner_port"
# The webhooks are configured as in a deployment, and the hooks sign as their senders do
# (tools/schemathesis_hooks.py): shared secrets, and an SNS signing certificate provisioned in
# a folder (tools/sns_signing.py) since this machine has no route to SNS. One seed journey is
# left out, for the seed installation to succeed once.
export NHIP_TELEPHONY_SECRET=schemathesis-telephony-secret-of-32-bytes
export NHIP_SMS_INBOUND_SECRET=schemathesis-sms-inbound-secret-of-32-bytes
export NHIP_ZALO_APP_ID=4325126985412871245 NHIP_ZALO_SECRET=schemathesis-zalo-oa-secret
export NHIP_SES_EVENTS_TOPIC_ARN=arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events
export NHIP_SNS_CERTIFICATE_DIR="$runner_dir/sns-certificates"
"$venv/bin/python" tools/sns_signing.py "$NHIP_SNS_CERTIFICATE_DIR"
NHIP_SEEDS=the-moi-kich-hoat,nuoi-duong-lead "$nhip_local" --addr "127.0.0.1:$runner_port" --data-dir "$runner_dir" >.cache/nhip-local.log 2>&1 &
runner_pid=$!
ready=no
for _ in $(seq 1 120); do
  kill -0 "$runner_pid" 2>/dev/null || { cat .cache/nhip-local.log; echo "nhip-local exited"; exit 1; }
  if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$runner/health', timeout=1)" 2>/dev/null; then
    ready=yes
    break
  fi
  sleep 0.25
done
if [ "$ready" != yes ]; then
  cat .cache/nhip-local.log
  echo "nhip-local did not answer on $runner within 30 s"
  exit 1
fi
echo "nhip-local (pid $runner_pid) answering on $runner"
# Fails on any 5xx, and on a status code, content type, header or body the document does not
# describe. Bounded (100 cases per operation and phase) and seeded, with no example database
# carried between runs, so a run is repeatable and takes about two minutes on 2 cores. Run
# twice: as an admin, then as a consultant of a team (whose answers are 403 and 404 where an
# admin's are 2xx, and must be described as well). tools/schemathesis.toml names the seed
# journey and template the runner installs, and tools/schemathesis_seed.py creates through the
# API the records other operations address by id (a customer with a holding, a message and
# its links, a bounced address, an import, a campaign, an unverified form submission); the
# toml names them per operation. positive_data_acceptance fails a 400/422 to data the document
# calls valid (the toml lists the rules JSON Schema cannot state). The hooks record every
# answer, and tools/schemathesis_coverage.py fails unless every operation succeeded at least
# once in one of the two runs, but those tools/schemathesis-unreached.txt lists with why.
admin_token=$("$nhip_local" token --user schemathesis-admin --role admin --team hn --data-dir "$runner_dir")
consultant_token=$("$nhip_local" token --user schemathesis-consultant --role consultant --team hn --data-dir "$runner_dir")
# The directory the console's pickers offer: a team and a telesales member (tickets go to them,
# tasks are given to them).
"$nhip_local" team add --key hn --name "Phòng tư vấn Hà Nội" --data-dir "$runner_dir" >/dev/null
"$nhip_local" user add --username schemathesis-telesales --name "Telesales Hà Nội" --role telesales --team hn \
  --data-dir "$runner_dir" >/dev/null
export NHIP_ST_STAFF=schemathesis-telesales NHIP_ST_TEAM=hn
"$venv/bin/python" tools/schemathesis_seed.py "$runner" "$admin_token" "$consultant_token" >.cache/schemathesis-seeds.env
set -a
. .cache/schemathesis-seeds.env
set +a
st_summary=
records=()
for role in admin consultant; do
  token=$admin_token
  export NHIP_ST_NOTIFICATION=$NHIP_ST_NOTIFICATION_ADMIN
  if [ "$role" = consultant ]; then
    token=$consultant_token
    export NHIP_ST_NOTIFICATION=$NHIP_ST_NOTIFICATION_CONSULTANT
  fi
  record=".cache/schemathesis-$role.calls"
  rm -f "$record"
  records+=("$record")
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=tools NHIP_ST_RECORD="$record" NHIP_ST_RUNNER="$runner" NHIP_ST_TOKEN="$token" \
    "$venv/bin/schemathesis" --config-file tools/schemathesis.toml run "$runner/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,positive_data_acceptance \
    --max-examples 100 --seed 20261123 --generation-database none \
    --no-color 2>&1 | tee ".cache/schemathesis-$role.log"
  st_summary="$st_summary$role: $(awk '/^API Operations:/ { api = 1 } api && /Tested:/ { ops = $2 } /^Test cases:/ { getline; cases = $0; sub(/^ +/, "", cases) } END { printf "%s operations, %s", ops, cases }' ".cache/schemathesis-$role.log"); "
done
"$venv/bin/python" tools/schemathesis_coverage.py "$runner/v1/openapi.json" tools/schemathesis-unreached.txt "${records[@]}" | tee .cache/schemathesis-coverage.log
st_summary="$st_summary$(tail -1 .cache/schemathesis-coverage.log); "
kill "$runner_pid" 2>/dev/null || true
wait "$runner_pid" 2>/dev/null || true
runner_pid=
unset NHIP_TELEPHONY_SECRET NHIP_SMS_INBOUND_SECRET NHIP_ZALO_APP_ID NHIP_ZALO_SECRET \
  NHIP_SES_EVENTS_TOPIC_ARN NHIP_SNS_CERTIFICATE_DIR

step "README walk-through: every command, in order, on a fresh runner"
# The commands are read from README.md itself; each must print what the README shows under it.
"$venv/bin/python" tests/readme_walkthrough.py --bin "$nhip_local" 2>&1 | tee .cache/readme.log
readme_summary=$(tail -1 .cache/readme.log)

step "Staff console in a real browser (tests/browser)"
# A fresh runner of its own (the suite starts it), Debian's chromium, axe-core on every screen;
# the screenshots in docs/console/ are made here.
NHIP_LOCAL_BIN="$nhip_local" "$venv/bin/pytest" tests/browser -q -p no:cacheprovider 2>&1 | tee .cache/browser.log
browser_summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' .cache/browser.log | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')

step "cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

step "template secrets: in Secrets Manager, none in an environment variable"
"$venv/bin/python" tools/template_secrets.py --self-test
"$venv/bin/python" tools/template_secrets.py template.yaml

step "sam validate --lint"
SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint --region ap-southeast-1 --template template.yaml

step "all checks passed"
echo "schemathesis: ${st_summary%; }"
echo "$readme_summary"
echo "browser suite: $browser_summary"
# The closing line: totals over every cargo test binary.
echo "tests: $summary"
