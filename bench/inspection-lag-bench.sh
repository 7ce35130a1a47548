#!/usr/bin/env bash
# Event-loop lag of the live proxy while it inspects 10 MB adversarial bodies (issue #3:
# scanning runs in bounded slices; target: worst lag under 50 ms).
#
#   bench/inspection-lag-bench.sh [MEGABYTES]     (default 10)
#
# Writes the adversarial bodies of scan-bench (digit runs, '@' floods, PEM headers, escape
# floods, attack phrases, base64, zero-width and tag characters, random bytes), starts a
# small Python upstream on 127.0.0.1 and the release proxy with a policy that scans every
# body (pii redact of every type, injection_defense block, invisible_text strip), then for
# each body: uploads it through the proxy (request inspection) and downloads it through the
# proxy as text/plain (response inspection; buffered, since block judges a document before
# its head). The proxy samples each event loop every 10 ms; on SIGTERM it prints the worst
# lateness, which is what this script reports, with the time each transfer took.
set -euo pipefail
size_mb="${1:-10}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${EGRESS_PROXY_BIN:-$root/.build/release/egress-proxy}"
scan="${SCAN_BENCH_BIN:-$root/.build/release/scan-bench}"
if [[ ! -x "$bin" || ! -x "$scan" ]]; then
    (cd "$root" && swift build -c release --product egress-proxy >&2 && swift build -c release --product scan-bench >&2)
fi
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/bodies"
"$scan" write-adversarial "$work/bodies" "$size_mb" > "$work/files.txt"

cat > "$work/upstream.py" <<'PY'
import http.server, os, sys
root = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path))
        data = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(); break
                self.rfile.read(size); self.rfile.readline()
        else:
            self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
up_port=18931
python3 "$work/upstream.py" "$up_port" "$work/bodies" & pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$up_port/digit-run.txt" && break; sleep 0.1; done

cat > "$work/policy.yaml" <<'YAML'
version: 1
sandbox: lagbench
mitm: true
network:
  allow_out: ["127.0.0.1/32"]
pii:
  enabled: true
  types: [ssn, credit_card, email, phone_number, ip_address, iban, api_key]
  action: redact
  hosts: ["*"]
injection_defense:
  enabled: true
  action: block
  sensitivity: medium
invisible_text: {enabled: true, action: strip}
audit:
  enabled: false
YAML
proxy_port=18932
"$bin" run --policy "$work/policy.yaml" --listen 127.0.0.1:$proxy_port --ca-dir "$work/ca" 2> "$work/proxy.log" & proxy_pid=$!
pids+=($proxy_pid)
for _ in $(seq 1 100); do grep -q "listening on" "$work/proxy.log" && break; sleep 0.1; done

printf '%-18s %16s %16s\n' body "upload: code s" "download: code s"
while read -r f; do
    name="$(basename "$f" .txt)"
    up=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 120 -x "http://127.0.0.1:$proxy_port" \
        -H 'Content-Type: text/plain' --data-binary @"$f" "http://127.0.0.1:$up_port/upload")
    down=$(curl -s -o "$work/down.out" -w '%{http_code} %{time_total}' --max-time 120 -x "http://127.0.0.1:$proxy_port" \
        "http://127.0.0.1:$up_port/$name.txt")
    note=""
    [[ "$down" == 403* ]] && note="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reason"])' "$work/down.out" 2>/dev/null || true)"
    printf '%-18s %16s %16s  %s\n' "$name" "$up" "$down" "$note"
done < "$work/files.txt"

kill -TERM "$proxy_pid"
for _ in $(seq 1 150); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
grep "event-loop lag" "$work/proxy.log" || { echo "no lag report; proxy log:"; cat "$work/proxy.log"; exit 1; }
