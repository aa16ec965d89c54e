#!/usr/bin/env bash
# Lambda cold start: builds every function under functions/ as Lambda deploys it
# (`cargo lambda build --release --arm64`) and prints each bootstrap's size, then builds the
# same functions for x86_64 with the same profile, beside lambda_runtime's hello world
# (tests/coldstart-hello), and measures each binary's init (process start to its first
# Runtime API `next`) against a Runtime API stub on 127.0.0.1, all in one run.
#
# arm64 binaries do not run on an x86_64 machine (and emulated timings mean nothing), so the
# arm64 builds give the sizes and the x86_64 builds give the init times.
#
#   bash scripts/coldstart.sh
#
# Knobs (environment):
#   COLDSTART_RUNS=20        starts per binary (after one warm-up start each)
#   COLDSTART_NICE=19        niceness of the builds (a shared 2-core machine)
#   COLDSTART_BUILD_TIMEOUT  limit of each of the two builds (default 150m). A clean build is
#                            long: each function's release link (thin LTO over the AWS SDK)
#                            takes 5 to 9 CPU-minutes, eleven of them per architecture
#   COLDSTART_SKIP_ARM64=1   no arm64 build (and no arm64 sizes)
#   COLDSTART_MEASURE_DIR=D  no build at all: measure D/<function>/bootstrap and
#                            D/coldstart-hello/bootstrap as they are
#   CARGO_TARGET_DIR         where cargo builds (default: target/); the arm64 build has a
#                            directory of its own, $CARGO_TARGET_DIR/coldstart/arm64-target,
#                            so the two builds never wait on each other's lock; the bootstraps
#                            go to $CARGO_TARGET_DIR/coldstart/{arm64,x86_64}/<function>/bootstrap
#
# Needs Python 3 and rustup. Installs, the first time: cargo-lambda and zig (from PyPI, into
# .cache/coldstart-venv) and rustup's aarch64-unknown-linux-gnu target. Loopback only: no
# function reaches AWS; every start is killed at its first `next`.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${COLDSTART_RUNS:-20}
NICE=${COLDSTART_NICE:-19}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET_DIR/coldstart
VENV=$ROOT/.cache/coldstart-venv
CARGO_LAMBDA_VERSION=1.9.2
BUILD_TIMEOUT=${COLDSTART_BUILD_TIMEOUT:-150m}
MEASURE_TIMEOUT=20m

export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=$TARGET_DIR

say() { printf '\n== %s\n' "$*"; }

say "tools"
if ! "$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" ziglang pyyaml
fi
"$VENV/bin/python3" -c 'import yaml' 2>/dev/null ||
  "$VENV/bin/pip" install --quiet --disable-pip-version-check pyyaml
"$VENV/bin/cargo-lambda" lambda --version
if [[ -n ${COLDSTART_MEASURE_DIR:-} ]]; then
  COLDSTART_SKIP_ARM64=1
fi
if [[ ${COLDSTART_SKIP_ARM64:-} != 1 ]]; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
    rustup target add aarch64-unknown-linux-gnu
fi

FUNCTIONS=()
for dir in functions/*/; do
  FUNCTIONS+=("$(basename "$dir")")
done
PACKAGES=()
for f in "${FUNCTIONS[@]}" coldstart-hello; do
  PACKAGES+=(-p "$f")
done

build() { # build ARCH_FLAG LAMBDA_DIR CARGO_TARGET_DIR
  local started=$SECONDS
  CARGO_TARGET_DIR=$3 timeout "$BUILD_TIMEOUT" nice -n "$NICE" \
    cargo lambda build --release "$1" --lambda-dir "$2" "${PACKAGES[@]}"
  echo "built in $((SECONDS - started)) s"
}

size_mb() { python3 -c 'import os,sys; print(f"{os.path.getsize(sys.argv[1]) / 1e6:.1f}")' "$1"; }
# The deployment package as Lambda takes it: the bootstrap alone, deflated.
zip_mb() {
  python3 - "$1" <<'EOF'
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(f"{len(buf.getvalue()) / 1e6:.1f}")
EOF
}

if [[ ${COLDSTART_SKIP_ARM64:-} != 1 ]]; then
  say "arm64 build (cargo lambda build --release --arm64)"
  build --arm64 "$OUT/arm64" "$OUT/arm64-target"
  say "arm64 bootstrap sizes"
  printf '%-20s %12s %10s\n' function "bootstrap MB" "zip MB"
  for f in "${FUNCTIONS[@]}" coldstart-hello; do
    printf '%-20s %12s %10s\n' "$f" "$(size_mb "$OUT/arm64/$f/bootstrap")" "$(zip_mb "$OUT/arm64/$f/bootstrap")"
  done
fi

X86=${COLDSTART_MEASURE_DIR:-$OUT/x86_64}
if [[ -z ${COLDSTART_MEASURE_DIR:-} ]]; then
  say "x86_64 build (cargo lambda build --release --x86-64), for the init measurements"
  build --x86-64 "$X86" "$TARGET_DIR"
fi
say "x86_64 bootstrap sizes"
printf '%-20s %12s\n' binary "bootstrap MB"
MEASURED=()
for f in "${FUNCTIONS[@]}" coldstart-hello; do
  if [[ -n ${COLDSTART_MEASURE_DIR:-} && ! -f $X86/$f/bootstrap ]]; then
    printf '%-20s %12s\n' "$f" "(not built: not measured)"
    continue
  fi
  printf '%-20s %12s\n' "$f" "$(size_mb "$X86/$f/bootstrap")"
  [[ $f == coldstart-hello ]] || MEASURED+=("$f")
done

say "init: process start to first Runtime API next, x86_64, $RUNS starts each, $(date -u +%Y-%m-%dT%H:%MZ)"
# Every function's environment as template.yaml gives it (coldstart_init.py --template: the
# globals and the function's own variables, parameters at their defaults), with the dummy
# resources below for what only a stack resolves, and static dummy credentials (as Lambda
# hands a function its role's credentials); nothing else from this shell, and an empty HOME
# (no ~/.aws profile files).
mkdir -p "$OUT"
EMPTY_HOME=$(mktemp -d)
trap 'rm -rf "$EMPTY_HOME"' EXIT
QUEUE=https://sqs.ap-southeast-1.amazonaws.com/123456789012
SECRET=arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:nhip-coldstart
BINARIES=(hello="$X86/coldstart-hello/bootstrap")
for f in "${MEASURED[@]}"; do
  BINARIES+=("$f=$X86/$f/bootstrap")
done
timeout "$MEASURE_TIMEOUT" env -i \
  PATH=/usr/bin:/bin HOME="$EMPTY_HOME" LANG=C.UTF-8 \
  AWS_REGION=ap-southeast-1 AWS_DEFAULT_REGION=ap-southeast-1 \
  AWS_ACCESS_KEY_ID=AKIDCOLDSTARTDUMMY AWS_SECRET_ACCESS_KEY=coldstart-dummy-secret \
  AWS_SESSION_TOKEN=coldstart-dummy-token \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
  AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/coldstart AWS_LAMBDA_LOG_STREAM_NAME=coldstart \
  AWS_LAMBDA_INITIALIZATION_TYPE=on-demand \
  NHIP_TABLE=nhip-coldstart \
  NHIP_EVENTS_QUEUE_URL=$QUEUE/nhip-events NHIP_SENDS_QUEUE_URL=$QUEUE/nhip-sends \
  NHIP_STEPS_QUEUE_URL=$QUEUE/nhip-steps NHIP_TICKETS_QUEUE_URL=$QUEUE/nhip-tickets \
  NHIP_IMPORTS_QUEUE_URL=$QUEUE/nhip-imports \
  NHIP_EVENT_BUS_NAME=nhip-coldstart-events NHIP_BLOB_BUCKET=nhip-coldstart-blobs \
  NHIP_AUTH=gateway NHIP_EMAIL_FROM='Nhịp <no-reply@example-bank.vn>' \
  NHIP_PUBLIC_URL=https://crm.example-bank.vn \
  NHIP_LINK_SECRET_ARN=$SECRET-link-secret NHIP_TELEPHONY_SECRET_ARN=$SECRET-telephony-secret \
  NHIP_CREDENTIALS_KEY_ARN=$SECRET-credentials-key NHIP_WEBHOOK_SECRET_ARN=$SECRET-webhook-secret \
  NHIP_ZALO_APP_SECRET_ARN=$SECRET-zalo-app-secret NHIP_ZALO_SECRET_ARN=$SECRET-zalo-oa-secret \
  NHIP_SMS_INBOUND_SECRET_ARN=$SECRET-sms-inbound-secret \
  NHIP_SES_EVENTS_TOPIC_ARN=arn:aws:sns:ap-southeast-1:123456789012:nhip-ses-events \
  NHIP_COGNITO_DOMAIN=https://nhip-coldstart.auth.ap-southeast-1.amazoncognito.com \
  NHIP_COGNITO_CLIENT_ID=coldstart \
  NHIP_COGNITO_ISSUER=https://cognito-idp.ap-southeast-1.amazonaws.com/ap-southeast-1_coldstart \
  NHIP_ORG_NAME='Ngân hàng Ví dụ' NHIP_SES_CONFIGURATION_SET=nhip-coldstart-engagement \
  "$VENV/bin/python3" "$ROOT/scripts/coldstart_init.py" --runs "$RUNS" --baseline hello --check-network \
  --template "$ROOT/template.yaml" \
  --json "$OUT/init.json" "${BINARIES[@]}"
echo "figures also in $OUT/init.json"
