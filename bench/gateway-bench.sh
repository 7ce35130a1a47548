#!/usr/bin/env bash
# The gateway with many sandboxes (issue #4): requests/s and memory with N policies loaded.
#
#   bench/gateway-bench.sh [SANDBOXES]      (default 200)
#
# Writes SANDBOXES policies (MITM, one secret each, each sandbox its own token), starts a
# private nginx TLS origin on 127.0.0.1 and the release gateway, then measures:
#   1. RSS with every policy loaded and no traffic;
#   2. first contact: one HTTPS request per sandbox, each on a new connection (each makes the
#      sandbox's CA, runtime and leaf) - requests/s and RSS afterwards;
#   3. throughput: 8 load generators at once, each on its own sandbox, 4 keep-alive
#      connections each, 10 s - aggregate requests/s and the gateway's peak RSS (VmHWM).
# Needs nginx (Debian package) and the Go load generator of ../shared/bench (built by its
# `run.sh setup`; set EGRESSLOAD to use another path).
set -euo pipefail
n="${1:-200}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${EGRESS_PROXY_BIN:-$root/.build/release/egress-proxy}"
load="${EGRESSLOAD:-${TMPDIR:-/tmp}/egress-bench/bin/egressload}"
[[ -x "$bin" ]] || (cd "$root" && swift build -c release --product egress-proxy >&2)
[[ -x "$load" ]] || { echo "no load generator at $load: run ../shared/bench/run.sh setup" >&2; exit 2; }
command -v nginx >/dev/null || { echo "needs nginx (apt-get install -y nginx)" >&2; exit 2; }

work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -f "$work/nginx.pid" ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "failed; gateway log:" >&2; tail -20 "$work/gateway.log" >&2 2>/dev/null || true' ERR

# Origin: nginx with a certificate for localhost from a private CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" \
    -days 2 -subj "/CN=gateway bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/origin.key" -out "$work/origin.csr" \
    -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' > "$work/san.ext"
openssl x509 -req -in "$work/origin.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/origin.pem" -days 2 -extfile "$work/san.ext" 2>/dev/null
mkdir -p "$work/www" "$work/tmp"
chmod 755 "$work" "$work/www"   # nginx workers run as another user
head -c 100 /dev/zero | tr '\0' 'x' > "$work/www/small"
origin_port=18461
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_body_temp_path $work/tmp;
    proxy_temp_path $work/tmp;
    fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp;
    scgi_temp_path $work/tmp;
    server {
        listen 127.0.0.1:$origin_port ssl;
        ssl_certificate $work/origin.pem;
        ssl_certificate_key $work/origin.key;
        root $work/www;
    }
}
NGINX
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log"

# N sandboxes: token tok-i, secret KEY_i bound to localhost.
mkdir -p "$work/policies"
for i in $(seq 1 "$n"); do
    id=$(printf 'sb-%03d' "$i")
    hash=$(printf 'tok-%s' "$i" | sha256sum | cut -d' ' -f1)
    cat > "$work/policies/$id.yaml" <<YAML
version: 1
mitm: true
network:
  allow_out: ["127.0.0.1/32"]
rules:
  - {match: {host: localhost, path: "/admin/**"}, action: deny}
secrets:
  entries:
    KEY:
      value: env:BENCH_KEY
      placeholder: PH_BENCH_KEY
      allowed_hosts: [localhost]
gateway:
  token_sha256: "$hash"
audit:
  enabled: true
YAML
done

port=18462
BENCH_KEY=bench-secret-value "$bin" gateway --policies "$work/policies" --listen 127.0.0.1:$port \
    --ca-dir "$work/ca" --upstream-ca "$work/ca.pem" --audit-log "$work/audit.jsonl" 2> "$work/gateway.log" &
gw=$!
pids+=($gw)
for _ in $(seq 1 300); do grep -q "^listening on" "$work/gateway.log" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$gw/status"; }
hwm() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$gw/status"; }
echo "sandboxes: $n"
echo "idle, all policies loaded: RSS $(rss) MiB"

# 2. First contact, sequentially: CA + runtime + leaf per sandbox.
start=$(date +%s.%N)
for i in $(seq 1 "$n"); do
    id=$(printf 'sb-%03d' "$i")
    "$bin" ca export --sandbox "$id" --ca-dir "$work/ca" > "$work/ca-$id.pem" 2>/dev/null || true
    if [[ ! -s "$work/ca-$id.pem" ]]; then
        # The CA is made on first use: the first request (plain CONNECT) makes it.
        curl -s -o /dev/null --max-time 10 -x "http://$id:tok-$i@127.0.0.1:$port" -k "https://localhost:$origin_port/small" || true
        "$bin" ca export --sandbox "$id" --ca-dir "$work/ca" > "$work/ca-$id.pem"
    fi
    curl -s -o /dev/null -w '' --max-time 10 --cacert "$work/ca-$id.pem" -x "http://$id:tok-$i@127.0.0.1:$port" \
        "https://localhost:$origin_port/small"
done
end=$(date +%s.%N)
echo "first contact, $n sandboxes one after the other: $(python3 -c "print(f'{$n/($end-$start):.1f}')") sandboxes/s (incl. curl and ca export per sandbox); RSS $(rss) MiB"

# 3. Throughput: 8 sandboxes at once, 4 keep-alive connections each.
outs=()
for i in $(seq 1 8); do
    id=$(printf 'sb-%03d' "$i")
    "$load" -url "https://localhost:$origin_port/small" -proxy "$id:tok-$i@127.0.0.1:$port" -cacert "$work/ca-$id.pem" \
        -c 4 -d 10s -warmup 2s -expect 100 > "$work/load-$i.json" 2> "$work/load-$i.err" &
    outs+=($!)
done
for p in "${outs[@]}"; do wait "$p" || true; done
python3 - "$work" <<'PY'
import json, sys, glob
total, errors = 0.0, 0
for f in sorted(glob.glob(sys.argv[1] + "/load-*.json")):
    text = open(f).read().strip().splitlines()
    d = json.loads(text[0]) if text else {}
    total += d.get("rps", 0.0)
    errors += d.get("errors", 0)
print(f"throughput, 8 sandboxes x 4 keep-alive connections, GET /small over MITM: {total:.0f} requests/s, {errors} errors")
PY
echo "gateway peak RSS (VmHWM): $(hwm) MiB; now $(rss) MiB"
kill -TERM "$gw"
for _ in $(seq 1 100); do kill -0 "$gw" 2>/dev/null || break; sleep 0.1; done
grep "event-loop lag" "$work/gateway.log" || true
