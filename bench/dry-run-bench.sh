#!/usr/bin/env bash
# Throughput and memory of `egress-proxy dry-run` on a large HAR (issue #5: a 100 MB HAR in
# bounded memory, 10,000 entries/s or better).
#
#   bench/dry-run-bench.sh [SIZE_MB]        (default 100)
#
# Generates a HAR of about SIZE_MB megabytes (browser-like entries: HTTP/2 pseudo-headers,
# JSON POST bodies, text and base64 response bodies, some LLM API calls with placeholders),
# runs the release binary under /usr/bin/time -v with --format json and with the table,
# and prints entries/s and the maximum resident set size.
#
# Environment: EGRESS_PROXY_BIN (default .build/release/egress-proxy, built if missing),
# BENCH_DIR (default a temporary folder, removed at the end).
set -euo pipefail

size_mb="${1:-100}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${EGRESS_PROXY_BIN:-$root/.build/release/egress-proxy}"
policy="$root/policies/openai-sidecar.yaml"

if [[ ! -x "$bin" ]]; then
    echo "building $bin (release)..." >&2
    (cd "$root" && swift build -c release --product egress-proxy >&2)
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "needs /usr/bin/time (Debian package 'time')" >&2
    exit 2
fi

work="${BENCH_DIR:-$(mktemp -d)}"
cleanup() { [[ -n "${BENCH_DIR:-}" ]] || rm -rf "$work"; }
trap cleanup EXIT
har="$work/bench.har"

python3 - "$har" "$size_mb" <<'EOF'
import base64, json, random, sys

path, size_mb = sys.argv[1], int(sys.argv[2])
target = size_mb * 1024 * 1024
random.seed(5)
hosts = [
    ("api.openai.com", "162.159.140.245"), ("pypi.org", "151.101.0.223"),
    ("files.pythonhosted.org", "151.101.64.223"), ("github.com", "140.82.121.4"),
    ("api.github.com", "140.82.121.6"), ("pastebin.com", "172.67.34.170"),
    ("cdn.jsdelivr.net", "[2606:4700::6810:84e5]"), ("metadata.internal", "169.254.169.254"),
    ("example.com", ""),
]
ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
blob = base64.b64encode(bytes(random.getrandbits(8) for _ in range(1536))).decode()
text = ("lorem ipsum dolor sit amet, consectetur adipiscing elit " * 40)[:2048]

def entry(i):
    host, ip = hosts[i % len(hosts)]
    post = i % 3 == 0
    path = f"/v1/chat/completions" if host == "api.openai.com" and post else f"/assets/{i}/item?page={i % 17}&q=x{i}"
    headers = [{"name": ":authority", "value": host}, {"name": ":method", "value": "POST" if post else "GET"},
               {"name": ":path", "value": path}, {"name": ":scheme", "value": "https"},
               {"name": "accept", "value": "application/json, text/plain, */*"},
               {"name": "accept-encoding", "value": "gzip, deflate, br, zstd"},
               {"name": "accept-language", "value": "en-US,en;q=0.9"}, {"name": "user-agent", "value": ua},
               {"name": "sec-fetch-mode", "value": "cors"}, {"name": "sec-fetch-site", "value": "cross-site"}]
    if host == "api.openai.com":
        headers.append({"name": "authorization", "value": "Bearer PH_OPENAI_API_KEY"})
    req = {"method": "POST" if post else "GET", "url": f"https://{host}{path}", "httpVersion": "http/2.0",
           "headers": headers, "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0}
    if post:
        body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": f"request {i}: " + text[:300]}]})
        req["postData"] = {"mimeType": "application/json", "text": body}
        req["bodySize"] = len(body)
    binary = i % 4 == 1
    content = {"size": 2048, "mimeType": "image/png" if binary else "application/json",
               "text": blob if binary else text}
    if binary:
        content["encoding"] = "base64"
    return {"_initiator": {"type": "other"}, "_priority": "High", "_resourceType": "fetch", "cache": {},
            "connection": "443", "pageref": "page_1", "request": req,
            "response": {"status": 200, "statusText": "", "httpVersion": "http/2.0",
                         "headers": [{"name": "content-type", "value": content["mimeType"]},
                                     {"name": "server", "value": "bench"}],
                         "cookies": [], "content": content, "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "serverIPAddress": ip, "startedDateTime": "2024-05-02T09:14:03.101Z", "time": 87.3,
            "timings": {"blocked": 1.9, "dns": -1, "ssl": -1, "connect": -1, "send": 0.2, "wait": 80.4, "receive": 4.8}}

with open(path, "w") as f:
    f.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "pages": [], "entries": [\n')
    written, n = 0, 0
    while written < target:
        line = ("," if n else "") + json.dumps(entry(n), indent=1) + "\n"
        f.write(line)
        written += len(line)
        n += 1
    f.write("]}}\n")
print(n, file=open(path + ".count", "w"))
EOF

entries="$(cat "$har.count")"
bytes="$(stat -c %s "$har")"
echo "HAR: $har, $bytes bytes, $entries entries"
echo "binary: $bin"

run() {
    local label="$1"; shift
    local log="$work/time-$label.txt"
    # Exit status 0 or 3 (something denied) are both fine here.
    /usr/bin/time -v "$bin" dry-run --policy "$policy" "$har" "$@" > "$work/out-$label" 2> "$log" || [[ $? == 3 ]]
    # Wall time depends on what else the machine runs; CPU time (user + sys) is the
    # process's own work. Both are reported.
    python3 - "$log" "$label" "$entries" "$bytes" <<'PY'
import sys
log, label, entries, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fields = dict(line.strip().rsplit(": ", 1) for line in open(log) if ": " in line)
wall = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
wall_s = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
cpu_s = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
rss_mib = int(fields["Maximum resident set size (kbytes)"]) / 1024
print(f"{label}: {entries} entries, {size / 1048576:.0f} MiB: wall {wall_s:.2f} s = {entries / wall_s:,.0f} entries/s "
      f"({size / wall_s / 1048576:.0f} MiB/s); cpu {cpu_s:.2f} s = {entries / max(cpu_s, 0.001):,.0f} entries/s; "
      f"max RSS {rss_mib:.1f} MiB")
PY
}

run json --format json
run table --format table
tail -n 4 "$work/out-table"
