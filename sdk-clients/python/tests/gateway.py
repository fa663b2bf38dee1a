"""A real `paygate serve` in sandbox mode for the tests: built from this
repository, on a free loopback port, with its own data directory; started
once per test run and stopped at exit."""

import atexit
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

KEY_ID = "key_sdk_py_test"
SECRET = "sk_test_sdk_py_0123456789abcdef0123456789"
WEBHOOK_SECRET = "whsec_sdk_py_0123456789abcdef"

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_lock = threading.Lock()
_base_url = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_url():
    """Starts the gateway on first use; returns its URL."""
    global _base_url
    with _lock:
        if _base_url is None:
            _base_url = _start()
        return _base_url


def _start():
    work = tempfile.mkdtemp(prefix="paygate-sdk-py-")
    binary = os.path.join(work, "paygate")
    subprocess.run(["go", "build", "-o", binary, "./cmd/paygate"], cwd=_ROOT, check=True)
    addr = "127.0.0.1:%d" % free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    env.update({
        "PAYGATE_ADDR": addr,
        "PAYGATE_DATA_DIR": os.path.join(work, "data"),
        "PAYGATE_SANDBOX_KEY_ID": KEY_ID,
        "PAYGATE_SANDBOX_SECRET": SECRET,
        "PAYGATE_SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PAYGATE_PUBLIC_URL": "http://" + addr,
    })
    log = open(os.path.join(work, "serve.log"), "wb")
    proc = subprocess.Popen([binary, "serve"], cwd=work, env=env, stdout=log, stderr=log)

    def stop():
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)

    atexit.register(stop)
    url = "http://" + addr
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("paygate serve did not become healthy:\n" + open(log.name, errors="replace").read())


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
                                 method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


class Proxy:
    """Stands between the SDK and the gateway like an unstable network: reads
    each HTTP request and, following its script, forwards it ("forward"),
    forwards it and drops the connection before the answer gets back
    ("drop"), or answers "429" (Retry-After: 1), "502" or "503" itself.
    Requests past the script are forwarded."""

    def __init__(self, upstream, script=(), listen_port=0):
        host, port = upstream.split("//", 1)[1].split(":")
        self._upstream = (host, int(port))
        self._script = list(script)
        self._lock = threading.Lock()
        self.exchanges = []  # dicts: method, path, idempotency_key, step, status, body
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", listen_port))
        self._sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        self._sock.close()

    def requests(self):
        with self._lock:
            return len(self.exchanges)

    def _next(self):
        with self._lock:
            return self._script.pop(0) if self._script else "forward"

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    h = f.readline().decode("latin-1")
                    if h in ("\r\n", "\n", ""):
                        break
                    k, _, v = h.partition(":")
                    headers[k.strip()] = v.strip()
                n = int(headers.get("Content-Length", "0") or 0)
                body = f.read(n) if n else b""
                step = self._next()
                ex = {"method": method, "path": target, "idempotency_key": headers.get("Idempotency-Key"),
                      "step": step, "status": 0, "body": b""}
                if step in ("429", "502", "503"):
                    self._record(ex)
                    err = json.dumps({"error": {"code": "rate_limited" if step == "429" else "service_unavailable",
                                                "message": "try again", "request_id": "req_proxy"}}).encode()
                    reason = {"429": "Too Many Requests", "502": "Bad Gateway", "503": "Service Unavailable"}[step]
                    extra = "Retry-After: 1\r\n" if step == "429" else ""
                    conn.sendall(("HTTP/1.1 %s %s\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                  % (step, reason, extra, len(err))).encode() + err)
                    continue
                up = http.client.HTTPConnection(*self._upstream, timeout=60)
                fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection", "host")}
                up.request(method, target, body=body if method != "GET" else None, headers=fwd)
                resp = up.getresponse()
                answer = resp.read()
                resp_headers = [(k, v) for k, v in resp.getheaders()
                                if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                up.close()
                ex["status"], ex["body"] = resp.status, answer
                self._record(ex)
                if step == "drop":
                    return  # the gateway did the work; the answer never arrives
                head = "HTTP/1.1 %d %s\r\n" % (resp.status, resp.reason)
                head += "".join("%s: %s\r\n" % kv for kv in resp_headers)
                head += "Content-Length: %d\r\n\r\n" % len(answer)
                conn.sendall(head.encode("latin-1") + answer)
        except (OSError, ValueError):
            return
        finally:
            f.close()
            conn.close()

    def _record(self, ex):
        with self._lock:
            self.exchanges.append(ex)
