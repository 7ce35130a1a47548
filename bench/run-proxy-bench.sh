#!/usr/bin/env bash
# Runs ../shared/bench (the side-by-side harness) against egress-proxy and the direct ceiling,
# in one results directory so the ratios are comparable.
#
#   bench/run-proxy-bench.sh                      # all scenarios, MITM policy
#   bench/run-proxy-bench.sh small-c32 get10m     # some scenarios
#   MODE=tunnel bench/run-proxy-bench.sh          # tunnel-only policy
#   REPS=1 DURATION=5 bench/run-proxy-bench.sh    # quicker, noisier
#
# Needs root (the harness installs nginx/go and edits /etc/hosts for *.bench.test).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${HARNESS:-"$ROOT/../shared/bench"}
BIN=${EGRESS_PROXY_BIN:-"$ROOT/.build/release/egress-proxy"}
[ -x "$BIN" ] || (cd "$ROOT" && swift build -c release)
STATE=${BENCH_STATE:-"$(dirname "$(mktemp -u)")/egress-bench"}
export BENCH_STATE=$STATE
DIR="$STATE/egress-proxy"
mkdir -p "$DIR"
"$BIN" ca init --sandbox bench --ca-dir "$DIR"
POLICY="$ROOT/bench/bench-policy.yaml"
[ "${MODE:-mitm}" = tunnel ] && POLICY="$ROOT/bench/bench-policy-tunnel.yaml"
export PROXY=127.0.0.1:19090
if [ "${MODE:-mitm}" = tunnel ]; then export PROXY_CA=""; else export PROXY_CA="$DIR/bench/ca.pem"; fi
export PROXY_NAME="egress-proxy ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo dev), ${MODE:-mitm})"
export PROXY_CMD="$BIN run --policy $POLICY --listen 127.0.0.1:19090 --ca-dir $DIR --upstream-ca \"\$UPSTREAM_CA\" --audit-log $DIR/audit.jsonl"
export PEERS=${PEERS:-"direct custom"}
if [ $# -eq 0 ]; then
  exec "$HARNESS/run.sh" all
fi
export SCENARIOS="$*"
exec "$HARNESS/run.sh" all
