"""Shared pieces of the hostile-input suite (e2e/hostile.py): the server under test, raw HTTP
requests, a loopback receiver, and the record of findings.

Nothing here sends traffic anywhere but the loopback interface: the servers run with the
dispatcher off (TEND_DISPATCH_ENABLED=false), and hostile.py runs inside a network namespace of
its own that has only `lo` (see hostile.enter_private_network).
"""
import http.client
import http.server
import json
import os
import re
import resource
import socket
import subprocess
import threading
import time
import urllib.parse
from collections import Counter

DEMO_PASSWORD = "tend-demo-2026"
# A memory bomb (a pathway that plans billions of touchpoints, an alias expansion) must end the
# server, not the machine: every server and CLI process of the suite runs under this limit.
PROCESS_MEMORY_LIMIT = 4 << 30


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (PROCESS_MEMORY_LIMIT, PROCESS_MEMORY_LIMIT))
    try:  # a server outlives no suite: SIGTERM when the process that started it ends
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def tend_env(extra=None):
    env = dict(os.environ)
    env.pop("TEND_MASTER_KEY", None)
    env["TEND_DISPATCH_ENABLED"] = "false"
    env.setdefault("TEND_LOG_LEVEL", "notice")
    # Crash reports name the source line without taking the 8 s a full symbolication takes.
    env.setdefault("SWIFT_BACKTRACE", "enable=yes,threads=crashed,limit=24,top=0,symbolicate=fast,color=no")
    env.update(extra or {})
    return env


def run_cli(binary, *args, env=None, timeout=180, stdin=None):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, env=tend_env(env),
                          input=stdin, preexec_fn=limit_memory)


def cli_ok(binary, *args, env=None):
    result = run_cli(binary, *args, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"tend {' '.join(args[:3])}… failed: {result.stdout}{result.stderr}")
    return result.stdout


class Server:
    """`tend serve` on an SQLite file (or a PostgreSQL URL), dispatcher off, restarted after a crash."""

    def __init__(self, binary, database, key_file, label, env=None, log_dir=None):
        self.binary, self.database, self.key_file, self.label = binary, database, key_file, label
        self.env = env or {}
        self.log_dir = log_dir
        self.process = None
        self.lines = []
        self.host, self.port = "127.0.0.1", None
        self.url = None
        self.starts = 0
        self.crashes = []

    def start(self):
        self.starts += 1
        self.lines = []
        log = open(os.path.join(self.log_dir, f"{self.label}-{self.starts}.log"), "w") if self.log_dir else None
        self.process = subprocess.Popen(
            [self.binary, "serve", "--database", self.database, "--key-file", self.key_file, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=tend_env(self.env), preexec_fn=limit_memory)
        ready = threading.Event()
        process, lines = self.process, self.lines

        def read():
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if log:
                    log.write(line)
                    log.flush()
                match = re.search(r"running at (http://\S+)", line)
                if match:
                    self.url = match.group(1)
                    ready.set()
            if log:
                log.close()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(60)
        if not self.url or process.poll() is not None:
            raise RuntimeError(f"{self.label}: tend serve did not start:\n{''.join(lines)[-3000:]}")
        parsed = urllib.parse.urlparse(self.url)
        self.host, self.port = parsed.hostname, parsed.port
        return self

    def healthy(self, timeout=5.0):
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            connection.close()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False

    def check(self):
        """None while the server answers GET /healthz; otherwise what happened to it (and it is
        started again, so the suite goes on)."""
        if self.healthy():
            return None
        # A busy server may still answer: give it 20 s before calling it dead.
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            if self.healthy(timeout=2):
                return None
            time.sleep(0.5)
        if self.process.poll() is None:
            what = "stopped answering GET /healthz for 20 s (killed)"
            self.process.kill()
            self.process.wait(30)
        else:
            time.sleep(0.3)  # let the reader thread take the rest of the crash report
            what = f"exited with status {self.process.returncode}"
        summary = self.crash_summary()
        self.crashes.append((what, summary))
        self.start()
        return f"the server {what}" + (f": {summary}" if summary else "")

    def crash_summary(self):
        text = "".join(self.lines)
        fatal = re.findall(r"^.*(?:Fatal error|fatal error|Program crashed|Precondition failed|Assertion failed).*$", text, re.M)
        frames = re.findall(r"^\s*\d+ .*? in tend at (/\S*Sources/\S+)", text, re.M)
        functions = re.findall(r"^\s*\d+ (?:\[[^\]]*\] )*\s*0x[0-9a-f]+ (.*?) \+ \d+ in tend at \S*Sources/", text, re.M)
        parts = [line.strip() for line in fatal[:2]]
        if functions:
            parts.append("at " + "; ".join(f"{f.strip()} ({p.split('Sources/')[-1]})" for f, p in list(zip(functions, frames))[:3]))
        return " | ".join(parts)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


class Raw:
    """A JSON fragment sent as these exact bytes (invalid UTF-8, NaN, 1e400 …)."""

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return f"Raw({self.data[:40]!r})"


def encode_json(value):
    """JSON bytes for `value`; Raw fragments anywhere inside are spliced in as they are."""
    raws = []

    def walk(node):
        if isinstance(node, Raw):
            raws.append(node.data)
            return f"__hostile_raw_{len(raws) - 1}__"
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    prepared = walk(value)
    try:
        data = json.dumps(prepared, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(prepared).encode("ascii")
    for index, raw in enumerate(raws):
        data = data.replace(f'"__hostile_raw_{index}__"'.encode(), raw)
    return data


class Response:
    def __init__(self, status=None, headers=None, body=b"", elapsed=0.0, error=None):
        self.status, self.headers, self.body, self.elapsed, self.error = status, headers or {}, body, elapsed, error

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self, limit=300):
        return self.body[:limit].decode("utf-8", "replace")

    def describe(self):
        if self.status is None:
            return f"no answer ({self.error})"
        return f"{self.status} {self.text(240)!r}"


NOT_SET = object()


def request(server, method, path, body=NOT_SET, *, token=None, headers=None, cookies=None, timeout=30.0, content_type=None):
    """One request on a fresh connection. `body` may be bytes, str, or a JSON value (with Raw inside)."""
    send_headers = {}
    data = None
    if body is not NOT_SET:
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8", "surrogatepass")
        else:
            data = encode_json(body)
        send_headers["Content-Type"] = content_type or "application/json"
    elif content_type:
        send_headers["Content-Type"] = content_type
    if token:
        send_headers["Authorization"] = f"Bearer {token}"
    if cookies:
        send_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    send_headers.update(headers or {})
    started = time.time()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in send_headers.items():
            connection.putheader(name, value)
        if data is not None or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(data or b"")))
        connection.endheaders(data)
        response = connection.getresponse()
        payload = response.read()
        collected = {}
        for name, value in response.getheaders():
            collected.setdefault(name.lower(), []).append(value)
        return Response(response.status, collected, payload, time.time() - started)
    except (OSError, http.client.HTTPException) as error:
        return Response(None, {}, b"", time.time() - started, f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def raw_exchange(server, data, timeout=3.0, read=True):
    """Bytes written to a new connection as they are; the first bytes answered (or an error)."""
    try:
        with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
            sock.sendall(data)
            if not read:
                return b""
            chunks = []
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if sum(map(len, chunks)) > 1 << 16:
                        break
            except socket.timeout:
                pass
            return b"".join(chunks)
    except OSError as error:
        return f"error: {error}".encode()


class Receiver:
    """A webhook receiver on 127.0.0.1: records requests and answers with a fixed status and a
    body that must never reach staff (the issue: "never the body another server sent")."""

    SECRET = "RECEIVER-PRIVATE-BODY-7f3a"

    def __init__(self, status=500):
        receiver = self
        self.status = status
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                receiver.requests.append((self.path, dict(self.headers), body))
                answer = f"{Receiver.SECRET}: internal details, stack trace, credentials".encode()
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_PUT = do_POST
            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


# What a finding is, most severe first. The report groups by these.
KINDS = [
    ("crash", "Process exit (crash) or hang"),
    ("5xx", "5xx answer"),
    ("access", "Access across programs or roles"),
    ("ssrf", "Outbound target not refused (SSRF)"),
    ("leak", "Another server's answer shown to staff"),
    ("redirect", "Open redirect / header injection"),
    ("throttle", "Sign-in flood"),
    ("bounds", "Out-of-bounds value accepted"),
    ("error-shape", "4xx without the {error, message, field} body naming the field"),
    ("method", "Undeclared method not answered 405 with Allow"),
    ("headers", "Missing security header"),
    ("schemathesis", "schemathesis failure (document mismatch)"),
]
KIND_ORDER = {kind: index for index, (kind, _) in enumerate(KINDS)}


class Recorder:
    def __init__(self):
        self.findings = []
        self.checked = 0
        self.by_section = Counter()
        self.section = "setup"
        self.notes = []

    def ok(self):
        self.checked += 1

    def fail(self, kind, endpoint, given, seen, expected):
        self.checked += 1
        self.by_section[self.section] += 1
        finding = {"kind": kind, "section": self.section, "endpoint": endpoint, "input": given,
                   "seen": seen, "expected": expected}
        self.findings.append(finding)
        print(f"  FAIL [{kind}] {endpoint} — {given}: saw {seen[:300]}; expected {expected}", flush=True)

    def note(self, text):
        self.notes.append((self.section, text))
        print(f"  note: {text}", flush=True)


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]
