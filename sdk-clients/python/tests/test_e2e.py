"""Every resource, end to end against a real `paygate serve` (sandbox)."""

import http.server
import json
import queue
import secrets
import threading
import unittest
import urllib.request

import paygate

from . import gateway
from .helpers import client, cst_today, emv, luhn, order_no, wechat_code


class Orders(unittest.TestCase):
    def test_lifecycle(self):
        c = client()
        no = order_no()
        o = c.orders.create(merchant_order_no=no, amount=1234, currency="CNY", subject="Latte", method="auth_code",
                            auth_code=wechat_code(), terminal_id="T0001")
        self.assertEqual((o.status, o.channel, o.fee, o.net_amount), ("succeeded", "wechat", 7, 1227))
        self.assertEqual(o["route"]["provider"], o.route.provider)
        self.assertEqual(c.orders.retrieve(o.id).merchant_order_no, no)
        self.assertEqual([x.id for x in c.orders.list(merchant_order_no=no)], [o.id])

        r = c.refunds.create(o.id, merchant_refund_no=no + "-R1", amount=234, reason="顾客退货")
        self.assertEqual((r.order_id, r.amount), (o.id, 234))
        self.assertEqual(c.refunds.retrieve(r.id).id, r.id)
        with self.assertRaises(paygate.PaygateError) as cm:
            c.refunds.create(o.id, merchant_refund_no=no + "-R2", amount=5000)
        e = cm.exception
        self.assertEqual((e.status, e.code), (422, "refund_exceeds_amount"))
        self.assertTrue(e.request_id and e.message)

        qr = c.orders.create(merchant_order_no=order_no(), amount=500, subject="Cake", method="qr", channel="alipay")
        self.assertEqual(qr.status, "pending")
        self.assertEqual(c.orders.close(qr.id).status, "closed")
        paid = c.orders.create(merchant_order_no=order_no(), amount=800, subject="Tea", method="auth_code",
                               auth_code=wechat_code(), terminal_id="T0001")
        self.assertEqual(c.orders.cancel(paid.id).status, "reversed")

        q = c.routes.quote(merchant_order_no=order_no(), amount=10000, subject="Quote", method="qr", channel="wechat")
        self.assertEqual((q.object, q.fee), ("quote", 60))
        self.assertTrue(q.route.candidates)

    def test_card_capture(self):
        c = client()
        pan = luhn("622848000000" + "%06d" % secrets.randbelow(10 ** 6))
        o = c.orders.create(merchant_order_no=order_no(), amount=20000, subject="Hotel", method="card",
                            capture="manual", terminal_id="T0001", location={"region_code": "310000"},
                            card={"entry_mode": "chip", "type": "credit", "emv": emv(pan)})
        self.assertEqual(o.status, "authorized")
        self.assertEqual(o.card.last4, pan[-4:])
        cap = c.orders.capture(o.id, amount=18000)
        self.assertEqual((cap.status, cap.amount), ("succeeded", 18000))

    def test_auto_pagination(self):
        c = client()
        tag = secrets.token_hex(4)
        ids = set()
        for i in range(5):
            ids.add(c.orders.create(merchant_order_no="%s-%s-%d" % (order_no(), tag, i), amount=100 + i,
                                    subject="Page", method="qr", channel="wechat").id)
        first = c.orders.list_page(limit=2, status="pending")
        self.assertEqual(len(first.data), 2)
        self.assertTrue(first.next_cursor)
        seen = {o.id for o in c.orders.list(limit=2, status="pending") if o.id in ids}
        self.assertEqual(seen, ids)


class _Receiver(http.server.BaseHTTPRequestHandler):
    events = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = paygate.Webhook.construct_event(body, self.headers.get("Paygate-Signature"),
                                                    gateway.WEBHOOK_SECRET)
        except paygate.SignatureVerificationError as e:
            self.events.put(e)
            self.send_response(400)
            self.end_headers()
            return
        self.events.put(event)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Webhooks(unittest.TestCase):
    def test_qr_paid_through_sandbox_webhook_verified(self):
        events = queue.Queue()
        handler = type("Receiver", (_Receiver,), {"events": events})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        c = client()
        o = c.orders.create(merchant_order_no=order_no(), amount=2500, subject="Cake", method="qr", channel="wechat",
                            notify_url="http://127.0.0.1:%d/paygate" % server.server_address[1])
        gateway.post_json(gateway.base_url() + "/sandbox/wechat/scan", {"qr_code": o.qr_code})
        event = events.get(timeout=30)
        self.assertIsInstance(event, paygate.PaygateObject, event)
        self.assertEqual(event.type, "order.succeeded")
        self.assertEqual((event.data.object.id, event.data.object.status), (o.id, "succeeded"))
        self.assertEqual(c.events.retrieve(event.id).id, event.id)
        self.assertEqual([e.id for e in c.events.list(order_id=o.id) if e.id == event.id], [event.id])
        c.events.redeliver(event.id)
        self.assertEqual(events.get(timeout=20).id, event.id)
        self.assertEqual(c.orders.retrieve(o.id).status, "succeeded")


class Terminals(unittest.TestCase):
    def test_register_activate_deactivate(self):
        c = client()
        tid = "TP%06d" % secrets.randbelow(10 ** 6)
        term = c.terminals.create(terminal_id=tid, serial_no="SN-" + tid, model="P2", region_code="310000")
        again = c.terminals.new_activation_code(term.id)
        self.assertNotEqual(again.activation_code, term.activation_code)
        anon = paygate.Client(base_url=gateway.base_url())
        act = anon.terminals.activate(again.activation_code)
        pos = paygate.Client(key_id=act.key_id, secret=act.key_secret, base_url=gateway.base_url())
        o = pos.orders.create(merchant_order_no=order_no(), amount=300, subject="Bun", method="auth_code",
                              auth_code=wechat_code(), terminal_id=tid)
        self.assertEqual((o.status, o.terminal_id), ("succeeded", tid))
        self.assertEqual(c.terminals.retrieve(term.id).status, "active")
        self.assertNotEqual(c.terminals.deactivate(term.id).status, "active")
        with self.assertRaises(paygate.PaygateError) as cm:
            pos.orders.retrieve(o.id)
        self.assertEqual(cm.exception.status, 401)


class QRCodes(unittest.TestCase):
    def test_codes(self):
        c = client()
        q = c.qr_codes.create(store_name="静安店", terminal_id="T0001")
        self.assertTrue(q.active and q.url and q.png_url)
        self.assertEqual(c.qr_codes.retrieve(q.id).id, q.id)
        self.assertIn(q.id, [x.id for x in c.qr_codes.list(limit=1)])
        self.assertFalse(c.qr_codes.deactivate(q.id).active)


class Reconciliation(unittest.TestCase):
    def test_runs_discrepancies_statements(self):
        c = client()
        o = c.orders.create(merchant_order_no=order_no(), amount=4321, subject="Recon", method="auth_code",
                            auth_code=wechat_code(), terminal_id="T0001")
        day = cst_today()
        # The channel's bill will charge another fee on this order: a
        # discrepancy the merchant sees and resolves.
        gateway.post_json(gateway.base_url() + "/sandbox/wechat/bill_adjustments",
                          {"date": day, "action": "fee", "out_trade_no": o.id, "value": "1"})
        run = c.reconciliations.create(day, provider="wechat")
        if run.object == "list":
            run = run.data[0]
        got = c.reconciliations.retrieve(run.id)
        self.assertEqual((got.provider, got.date), ("wechat", day))
        self.assertIn(run.id, [r.id for r in c.reconciliations.list(date=day)])
        open_ones = [d for d in c.reconciliations.discrepancies(run.id)
                     if d.order_id == o.id and d.outcome == "fee_mismatch" and d.resolution == "open"]
        self.assertEqual(len(open_ones), 1)
        got = c.discrepancies.resolve(open_ones[0].id, "checked by the SDK test")
        self.assertEqual((got.resolution, got.note), ("accepted", "checked by the SDK test"))
        st = c.statements.retrieve(day)
        self.assertEqual(st.object, "statement")
        self.assertEqual(sum(l.amount for l in st.lines), st.totals.amount)
        self.assertTrue(c.statements.download(day, "csv").startswith(b"\xef\xbb\xbf"))
        self.assertTrue(c.statements.download(day, "xlsx").startswith(b"PK"))


if __name__ == "__main__":
    unittest.main()
