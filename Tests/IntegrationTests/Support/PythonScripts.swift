import Foundation

// MARK: - Scripts

/// Small Python 3 (stdlib only) clients for what curl cannot do: a WebSocket conversation and
/// byte-exact malformed requests. They are written to a temporary folder once per test run.
enum PythonScripts {
    /// CONNECT through the proxy (optional), TLS with the given CA (optional), HTTP Upgrade,
    /// one masked text frame per `--message`, read each echo, close. Prints one JSON object.
    static let webSocketClient = #"""
        import argparse, base64, hashlib, json, os, socket, ssl, struct

        GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

        class Reader:
            def __init__(self, sock):
                self.sock, self.buf = sock, b""
            def fill(self):
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed")
                self.buf += chunk
            def head(self):
                while b"\r\n\r\n" not in self.buf:
                    if len(self.buf) > 65536:
                        raise ValueError("response head too large")
                    self.fill()
                head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                return int(lines[0].split()[1]), headers
            def exact(self, n):
                while len(self.buf) < n:
                    self.fill()
                out, self.buf = self.buf[:n], self.buf[n:]
                return out

        def send_frame(sock, opcode, payload):
            n = len(payload)
            header = bytes([0x80 | opcode])
            if n < 126:
                header += bytes([0x80 | n])
            elif n < 65536:
                header += bytes([0x80 | 126]) + struct.pack("!H", n)
            else:
                header += bytes([0x80 | 127]) + struct.pack("!Q", n)
            mask = os.urandom(4)
            sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

        def read_frame(reader):
            b0, b1 = reader.exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", reader.exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", reader.exact(8))[0]
            mask = reader.exact(4) if b1 & 0x80 else None
            payload = reader.exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            return b0 & 0x0F, payload, bool(mask)

        def run(a, result):
            sock = socket.create_connection(("127.0.0.1", a.proxy_port or a.port), timeout=a.timeout)
            authority = f"{a.host}:{a.port}"
            if a.proxy_port:
                sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
                status, _ = Reader(sock).head()
                result["connect_status"] = status
                if status != 200:
                    return
            if a.tls:
                context = ssl.create_default_context(cafile=a.cafile)
                sock = context.wrap_socket(sock, server_hostname=a.host)
            reader = Reader(sock)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET {a.path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
            status, headers = reader.head()
            result["upgrade_status"] = status
            if status != 101:
                return
            expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            result["accept_ok"] = headers.get("sec-websocket-accept") == expected
            for message in a.message:
                send_frame(sock, 0x1, message.encode())
                opcode, payload, masked = read_frame(reader)
                result["echoes"].append({"opcode": opcode, "text": payload[:4096].decode("utf-8", "replace"),
                                         "length": len(payload), "masked": masked})
            send_frame(sock, 0x8, struct.pack("!H", 1000))
            opcode, payload, _ = read_frame(reader)
            if opcode == 0x8 and len(payload) >= 2:
                result["close_code"] = struct.unpack("!H", payload[:2])[0]
            sock.close()

        def main():
            p = argparse.ArgumentParser()
            p.add_argument("--proxy-port", type=int, default=0)
            p.add_argument("--host", required=True)
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--path", default="/ws")
            p.add_argument("--tls", action="store_true")
            p.add_argument("--cafile")
            p.add_argument("--message", action="append", default=[])
            p.add_argument("--timeout", type=float, default=20)
            a = p.parse_args()
            result = {"connect_status": None, "upgrade_status": None, "accept_ok": False,
                      "echoes": [], "close_code": None, "error": None}
            try:
                run(a, result)
            except Exception as error:
                result["error"] = f"{type(error).__name__}: {error}"
            print(json.dumps(result))

        main()
        """#

    /// Sends the bytes of `--data-file` as they are, reads one HTTP response (by its framing,
    /// or until close or the deadline) and prints it as JSON. `--head-only`: a 2xx ends with
    /// its head (the answer to CONNECT has no body).
    static let rawClient = #"""
        import argparse, base64, json, socket, time

        HEAD_ONLY = False

        def complete(buf):
            if b"\r\n\r\n" not in buf:
                return False
            head, body = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200 or status == 204 or status == 304:
                return True
            if HEAD_ONLY and 200 <= status < 300:
                return True
            if "content-length" in headers:
                return len(body) >= int(headers["content-length"])
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return body.endswith(b"0\r\n\r\n")
            return False

        def main():
            p = argparse.ArgumentParser()
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--data-file", required=True)
            p.add_argument("--timeout", type=float, default=10)
            p.add_argument("--head-only", action="store_true")
            a = p.parse_args()
            global HEAD_ONLY
            HEAD_ONLY = a.head_only
            data = open(a.data_file, "rb").read()
            out = {"status": None, "headers": [], "body_b64": "", "raw_b64": "", "closed": False,
                   "send_error": None, "recv_error": None, "timed_out": False}
            sock = socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout)
            try:
                sock.sendall(data)
            except OSError as error:
                out["send_error"] = f"{type(error).__name__}: {error}"
            buf = b""
            deadline = time.monotonic() + a.timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    out["timed_out"] = True
                    break
                sock.settimeout(remaining)
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    out["timed_out"] = True
                    break
                except OSError as error:
                    out["recv_error"] = f"{type(error).__name__}: {error}"
                    break
                if not chunk:
                    out["closed"] = True
                    break
                buf += chunk
                if complete(buf):
                    break
            sock.close()
            out["raw_b64"] = base64.b64encode(buf).decode()
            if b"\r\n\r\n" in buf:
                head, body = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split()
                out["status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                out["headers"] = [[n.strip(), v.strip()] for n, _, v in (l.partition(":") for l in lines[1:])]
                out["body_b64"] = base64.b64encode(body).decode()
            print(json.dumps(out))

        main()
        """#

    /// Like Go's `net/http` with keep-alives off: CONNECT, TLS, one request with
    /// `Connection: close`, read the response to EOF, then close the socket without a TLS
    /// close_notify. `--count` times in a row; prints `{"statuses": [...]}` (0: no response).
    static let tlsCloseClient = #"""
        import argparse, json, socket, ssl

        p = argparse.ArgumentParser()
        p.add_argument("--proxy-port", type=int, required=True)
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--cafile", required=True)
        p.add_argument("--count", type=int, default=1)
        a = p.parse_args()
        statuses = []
        for _ in range(a.count):
            status = 0
            raw = socket.create_connection(("127.0.0.1", a.proxy_port), timeout=10)
            try:
                raw.sendall(f"CONNECT {a.host}:{a.port} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n\r\n".encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = raw.recv(1)
                    if not chunk:
                        break
                    head += chunk
                if head.startswith(b"HTTP/1.1 200"):
                    ctx = ssl.create_default_context(cafile=a.cafile)
                    tls = ctx.wrap_socket(raw, server_hostname=a.host)
                    tls.sendall(f"GET /hello HTTP/1.1\r\nHost: {a.host}:{a.port}\r\nConnection: close\r\n\r\n".encode())
                    data = b""
                    while True:
                        try:
                            chunk = tls.recv(65536)
                        except (ssl.SSLError, OSError):
                            break
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"HTTP/1.1 "):
                        status = int(data.split(b" ")[1])
            except OSError:
                pass
            finally:
                raw.close()  # no unwrap(): no close_notify, just FIN
            statuses.append(status)
        print(json.dumps({"statuses": statuses}))
        """#

    /// Writes a HAR of `--entries` entries with `--body-kb` KiB response bodies to `--har`,
    /// runs `--bin dry-run --policy P HAR --format json` and prints `{"exit", "entries",
    /// "max_rss_kib", "har_bytes"}` (the child's peak RSS from RUSAGE_CHILDREN).
    static let bigHARDryRun = #"""
        import argparse, json, os, resource, subprocess

        p = argparse.ArgumentParser()
        for name in ("--bin", "--policy", "--har"):
            p.add_argument(name, required=True)
        p.add_argument("--entries", type=int, default=2000)
        p.add_argument("--body-kb", type=int, default=50)
        a = p.parse_args()
        body = ("x" * 1023 + "\n") * a.body_kb
        with open(a.har, "w") as f:
            f.write('{"log":{"version":"1.2","creator":{"name":"gen","version":"1"},"entries":[\n')
            for i in range(a.entries):
                e = {"startedDateTime": "2026-11-23T10:00:00.000Z", "time": 1,
                     "request": {"method": "GET", "url": f"https://h{i % 50}.example.org/p/{i}", "httpVersion": "HTTP/1.1",
                                 "headers": [{"name": "Host", "value": f"h{i % 50}.example.org"}], "queryString": [],
                                 "cookies": [], "headersSize": -1, "bodySize": 0},
                     "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                                  "content": {"size": len(body), "mimeType": "text/plain", "text": body},
                                  "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
                     "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}, "serverIPAddress": "93.184.216.34"}
                f.write(("," if i else "") + json.dumps(e) + "\n")
            f.write("]}}\n")
        out = subprocess.run([a.bin, "dry-run", "--policy", a.policy, a.har, "--format", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        report = json.loads(out.stdout or b"{}") if out.returncode == 0 else {}
        print(json.dumps({"exit": out.returncode, "entries": len(report.get("entries", [])),
                          "deny": report.get("summary", {}).get("deny"),
                          "max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                          "har_bytes": os.path.getsize(a.har), "stderr": out.stderr.decode()[-2000:]}))
        """#

    /// Plain-HTTP keep-alive probe: sends one request through the proxy, reads the response
    /// (by Content-Length), then waits for the proxy to close the idle connection. Prints
    /// `{"status", "closed_after_s"}` (null when still open at `--wait`).
    static let idleProbe = #"""
        import argparse, json, socket, time

        p = argparse.ArgumentParser()
        p.add_argument("--proxy-port", type=int, required=True)
        p.add_argument("--url", required=True)
        p.add_argument("--wait", type=float, default=10)
        a = p.parse_args()
        s = socket.create_connection(("127.0.0.1", a.proxy_port), timeout=a.wait)
        host = a.url.split("/")[2]
        s.sendall(f"GET {a.url} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        while len(body) < length:
            body += s.recv(4096)
        answered = time.monotonic()
        closed = None
        try:
            if s.recv(1) == b"":
                closed = time.monotonic() - answered
        except socket.timeout:
            pass
        except OSError:
            closed = time.monotonic() - answered
        print(json.dumps({"status": int(lines[0].split()[1]), "closed_after_s": closed}))
        """#

    /// The folder the scripts were written to (once per test run).
    static let directory: Result<TemporaryDirectory, Error> = Result {
        let directory = try TemporaryDirectory(prefix: "python")
        try directory.write("ws_client.py", webSocketClient)
        try directory.write("raw_client.py", rawClient)
        try directory.write("tls_close_client.py", tlsCloseClient)
        try directory.write("big_har_dry_run.py", bigHARDryRun)
        try directory.write("idle_probe.py", idleProbe)
        return directory
    }

    static func path(_ name: String) throws -> String {
        try directory.get().file(name)
    }
}
