"""Webhook verification."""

import hashlib
import hmac
import json
import time

from ._errors import (
    InvalidSignatureError,
    MalformedSignatureError,
    MissingSignatureError,
    StaleTimestampError,
)
from ._object import convert

SIGNATURE_HEADER = "Paygate-Signature"
DEFAULT_TOLERANCE = 300


def _mac(secret, timestamp, payload):
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + payload, hashlib.sha256).hexdigest()


class Webhook:
    """Verifies the webhooks paygate sends."""

    SIGNATURE_HEADER = SIGNATURE_HEADER
    DEFAULT_TOLERANCE = DEFAULT_TOLERANCE

    @staticmethod
    def construct_event(payload, header, secret, tolerance=DEFAULT_TOLERANCE):
        """Verifies the Paygate-Signature header against the raw body and the
        secret (or a list of secrets during a rotation), within tolerance
        seconds of now, and returns the event as a PaygateObject. Pass the
        body exactly as received."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        Webhook.verify(payload, header, secret, tolerance=tolerance)
        return convert(json.loads(payload.decode("utf-8")))

    @staticmethod
    def verify(payload, header, secret, tolerance=DEFAULT_TOLERANCE, now=None):
        """Checks the signature alone; raises a SignatureVerificationError."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        secrets = [secret] if isinstance(secret, str) else list(secret)
        if not tolerance or tolerance <= 0:
            tolerance = DEFAULT_TOLERANCE
        if header is None or not header.strip():
            raise MissingSignatureError("no %s header" % SIGNATURE_HEADER)
        timestamp, signatures = None, []
        for part in header.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep:
                raise MalformedSignatureError("malformed %s header" % SIGNATURE_HEADER)
            if key == "t":
                timestamp = value
            elif key == "v1":
                signatures.append(value)
        if timestamp is None or not signatures or not timestamp.lstrip("-").isdigit():
            raise MalformedSignatureError("%s header lacks t or v1" % SIGNATURE_HEADER)
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > tolerance:
            raise StaleTimestampError("webhook timestamp is outside the tolerance of %d s" % tolerance)
        for s in secrets:
            want = _mac(s, timestamp, payload)
            for got in signatures:
                if hmac.compare_digest(want, got):
                    return
        raise InvalidSignatureError("no signature matches the secrets and body")

    @staticmethod
    def sign(payload, timestamp, secrets):
        """The header a webhook of payload carries at timestamp (for tests)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if isinstance(secrets, str):
            secrets = [secrets]
        ts = str(int(timestamp))
        return "t=" + ts + "".join(",v1=" + _mac(s, ts, payload) for s in secrets)
