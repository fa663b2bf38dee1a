import json
import time
import unittest

import paygate

BODY = json.dumps({"id": "evt_1", "object": "event", "type": "order.succeeded",
                   "created_at": "2026-12-01T00:00:00Z", "data": {"object": {"id": "ord_1", "status": "succeeded"}}})
SECRET = "whsec_test_a"


class WebhookErrors(unittest.TestCase):
    """Each way a webhook fails has its own error."""

    def test_valid_with_rotation(self):
        header = paygate.Webhook.sign(BODY, int(time.time()), SECRET)
        event = paygate.Webhook.construct_event(BODY, header, ["whsec_other", SECRET])
        self.assertEqual(event.id, "evt_1")
        self.assertEqual(event["data"]["object"].status, "succeeded")

    def test_failures(self):
        now = int(time.time())
        good = paygate.Webhook.sign(BODY, now, SECRET)
        cases = [
            ("wrong secret", BODY, good, "whsec_wrong", paygate.InvalidSignatureError),
            ("modified body", BODY.replace("succeeded", "failed"), good, SECRET, paygate.InvalidSignatureError),
            ("outside the tolerance", BODY, paygate.Webhook.sign(BODY, now - 301, SECRET), SECRET,
             paygate.StaleTimestampError),
            ("missing header", BODY, None, SECRET, paygate.MissingSignatureError),
            ("malformed header", BODY, "garbage", SECRET, paygate.MalformedSignatureError),
        ]
        kinds = {paygate.InvalidSignatureError, paygate.StaleTimestampError, paygate.MissingSignatureError,
                 paygate.MalformedSignatureError}
        for name, body, header, secret, want in cases:
            with self.subTest(name):
                with self.assertRaises(want) as cm:
                    paygate.Webhook.construct_event(body, header, secret)
                for other in kinds - {want}:
                    self.assertNotIsInstance(cm.exception, other)

    def test_custom_tolerance(self):
        header = paygate.Webhook.sign(BODY, int(time.time()) - 600, SECRET)
        self.assertEqual(paygate.Webhook.construct_event(BODY, header, SECRET, tolerance=900).id, "evt_1")


if __name__ == "__main__":
    unittest.main()
