#!/usr/bin/env bash
# Nhịp's one test command (README.md; .ci/run calls exactly this). On a fresh clone it
# installs what it needs into .venv (moto[server], cfn-lint, aws-sam-cli), starts moto on a
# free loopback port for the AWS adapter contract tests, and runs: cargo fmt --check,
# cargo clippy -D warnings, every cargo test, cfn-lint and sam validate --lint. moto is
# stopped however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
mkdir -p .cache

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
# Reuse .venv only if it was made from these requirements and still imports them.
if ! cmp -s tools/requirements.txt "$venv/.installed-requirements" 2>/dev/null \
  || ! "$venv/bin/python" -c 'import moto, cfnlint, samcli' 2>/dev/null; then
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/requirements.txt
  cp tools/requirements.txt "$venv/.installed-requirements"
fi
echo "moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)'), $("$venv/bin/cfn-lint" --version), $("$venv/bin/sam" --version)"

step "AWS emulator (moto server)"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >.cache/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
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

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, contract on every adapter, functions, runner)"
export NHIP_TEST_AWS_ENDPOINT="$endpoint"
# The integration tests wait on I/O (emulator, SQLite), not CPU: run more at once than cores.
cargo test --workspace --locked -- --test-threads=8 2>&1 | tee .cache/cargo-test.log
summary=$(awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed", passed, failed }' .cache/cargo-test.log)

step "cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml

step "sam validate --lint"
SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint --region ap-southeast-1 --template template.yaml

step "all checks passed"
# The closing line: totals over every cargo test binary.
echo "tests: $summary"
