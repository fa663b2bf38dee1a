"""The shared vectors (sdk-clients/testdata) keep the SDKs and the gateway in
step: a change of the signing rule breaks all of them."""

import json
import os
import unittest

import paygate

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "..", "testdata")


def load(name):
    with open(os.path.join(TESTDATA, name), encoding="utf-8") as f:
        return json.load(f)["vectors"]


class RequestVectors(unittest.TestCase):
    def test_signatures(self):
        for v in load("request_vectors.json"):
            with self.subTest(v["name"]):
                got = paygate.sign(v["key_id"], v["secret"], v["method"], v["path_and_query"], v["timestamp"],
                                   v["nonce"], v["body"].encode("utf-8"))
                self.assertEqual(got, v["authorization"])


class WebhookVectors(unittest.TestCase):
    def test_vectors(self):
        for v in load("webhook_vectors.json"):
            with self.subTest(v["name"]):
                body = v["body"].encode("utf-8")
                if not v["error"] and v["name"] not in ("unknown scheme ignored", "spaces after commas"):
                    self.assertEqual(paygate.Webhook.sign(body, v["timestamp"], v["secrets"]), v["header"])
                try:
                    paygate.Webhook.verify(body, v["header"], v["verify_secrets"], tolerance=v["tolerance_seconds"],
                                           now=v["now"])
                    got = ""
                except paygate.SignatureVerificationError as e:
                    got = e.code
                self.assertEqual(got, v["error"])


if __name__ == "__main__":
    unittest.main()
