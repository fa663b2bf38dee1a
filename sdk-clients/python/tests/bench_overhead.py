"""Measures what the SDK adds per request over a bare urllib client doing
the least a caller must (sign, send, read) for the same GET against the
same gateway. The two alternate so the machine's noise falls on both alike;
medians are compared. Run: python3 -m tests.bench_overhead [N]"""

import hashlib
import hmac
import secrets
import statistics
import sys
import time
import urllib.request

from . import gateway
from .helpers import client


def main(n):
    c = client()
    o = c.orders.create(merchant_order_no="BENCH-" + secrets.token_hex(6), amount=100, subject="Bench", method="qr",
                        channel="wechat")
    path = "/v1/orders/" + o.id
    base = gateway.base_url()

    def bare():
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        msg = "\n".join(["GET", path, ts, nonce, hashlib.sha256(b"").hexdigest()])
        sig = hmac.new(gateway.SECRET.encode(), msg.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(base + path, headers={
            "Authorization": "PAYGATE-HMAC-SHA256 key_id=%s,timestamp=%s,nonce=%s,signature=%s"
                             % (gateway.KEY_ID, ts, nonce, sig)})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    tb, ts_ = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        bare()
        t1 = time.perf_counter()
        c.orders.retrieve(o.id)
        t2 = time.perf_counter()
        tb.append(t1 - t0)
        ts_.append(t2 - t1)
    mb, ms = statistics.median(tb) * 1e6, statistics.median(ts_) * 1e6
    print("python: %d requests each; bare median %.0f µs, sdk median %.0f µs, overhead %.0f µs"
          % (n, mb, ms, ms - mb))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
