"""Unstable networks: a proxy between the SDK and the gateway loses answers,
refuses connections and answers 429/502/503."""

import socket
import threading
import time
import unittest

import paygate

from . import gateway
from .helpers import body_of, client, order_no, wechat_code

FAST = {"initial_backoff": 0.02, "max_backoff": 0.1}


class Network(unittest.TestCase):
    def proxy(self, *script):
        p = gateway.Proxy(gateway.base_url(), script)
        self.addCleanup(p.close)
        return p

    def assert_same_answer(self, exs):
        self.assertEqual(len(exs), 2)
        self.assertTrue(exs[0]["idempotency_key"])
        self.assertEqual(exs[0]["idempotency_key"], exs[1]["idempotency_key"])
        self.assertEqual((exs[0]["status"], exs[1]["status"]), (201, 200))
        self.assertEqual(exs[0]["body"], exs[1]["body"])

    def test_dropped_answer_pays_once(self):
        p = self.proxy("drop")
        c = client(base_url=p.url, **FAST)
        no = order_no()
        o = c.orders.create(merchant_order_no=no, amount=1500, subject="Noodles", method="auth_code",
                            auth_code=wechat_code(), terminal_id="T0001")
        self.assert_same_answer(p.exchanges)
        self.assertEqual(body_of(p.exchanges[0])["id"], o.id)
        self.assertEqual(len(list(client().orders.list(merchant_order_no=no))), 1)

        rp = self.proxy("drop")
        r = client(base_url=rp.url, **FAST).refunds.create(o.id, merchant_refund_no=no + "-R", amount=500)
        self.assert_same_answer(rp.exchanges)
        self.assertEqual((r.amount, client().orders.retrieve(o.id).refunded_amount), (500, 500))

    def create(self, c):
        return c.orders.create(merchant_order_no=order_no(), amount=100, subject="Retry", method="qr",
                               channel="wechat")

    def test_429_honours_retry_after(self):
        p = self.proxy("429")
        start = time.time()
        self.create(client(base_url=p.url, **FAST))
        self.assertGreaterEqual(time.time() - start, 1.0)
        self.assertEqual(len(p.exchanges), 2)
        self.assertEqual(p.exchanges[0]["idempotency_key"], p.exchanges[1]["idempotency_key"])

    def test_502_503_retried(self):
        for step in ("502", "503"):
            with self.subTest(step):
                p = self.proxy(step)
                self.create(client(base_url=p.url, **FAST))
                self.assertEqual([e["status"] for e in p.exchanges], [0, 201])

    def test_connection_refused_retried(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        holder = []
        threading.Timer(0.1, lambda: holder.append(gateway.Proxy(gateway.base_url(), (), listen_port=port))).start()
        self.addCleanup(lambda: holder and holder[0].close())
        c = client(base_url="http://127.0.0.1:%d" % port, initial_backoff=0.3, max_backoff=1)
        self.assertEqual(self.create(c).status, "pending")

    def test_gives_up_after_retries(self):
        p = self.proxy("503", "503", "503", "503")
        with self.assertRaises(paygate.PaygateError) as cm:
            self.create(client(base_url=p.url, max_retries=2, **FAST))
        self.assertEqual((cm.exception.status, cm.exception.code), (503, "service_unavailable"))
        self.assertEqual(p.requests(), 3)

    def test_4xx_not_retried(self):
        p = self.proxy()
        c = client(base_url=p.url, **FAST)
        bad = paygate.Client(key_id=gateway.KEY_ID, secret=gateway.SECRET + "x", base_url=p.url, **FAST)
        cases = [
            (400, lambda: c.orders.create(merchant_order_no=order_no(), amount=-1, subject="x", method="qr",
                                          channel="wechat")),
            (401, lambda: bad.orders.retrieve("ord_nope")),
            (404, lambda: c.orders.retrieve("ord_doesnotexist")),
            (422, lambda: c.orders.create(merchant_order_no=order_no(), amount=100, subject="x", method="auth_code",
                                          auth_code="999999999999999999", terminal_id="T0001")),
        ]
        for status, call in cases:
            with self.subTest(status):
                before = p.requests()
                with self.assertRaises(paygate.PaygateError) as cm:
                    call()
                self.assertEqual(cm.exception.status, status)
                self.assertTrue(cm.exception.code and cm.exception.request_id)
                self.assertNotIn(gateway.SECRET, str(cm.exception))
                self.assertEqual(p.requests() - before, 1)


if __name__ == "__main__":
    unittest.main()
