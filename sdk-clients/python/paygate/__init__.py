"""Client of the paygate payment gateway API.

Standard library only. ``paygate.Client`` signs every request, gives every
POST an Idempotency-Key that it reuses across retries, retries connection
errors, timeouts, 409 idempotency_key_in_use, 429 and 502/503/504 with
exponential backoff and jitter, and raises ``paygate.PaygateError`` for
API errors. ``paygate.Webhook.construct_event`` verifies webhooks.
"""

from ._client import Client, sign, VERSION
from ._errors import (
    PaygateError,
    APIConnectionError,
    SignatureVerificationError,
    MissingSignatureError,
    MalformedSignatureError,
    StaleTimestampError,
    InvalidSignatureError,
)
from ._object import PaygateObject
from ._webhook import Webhook

__version__ = VERSION

__all__ = [
    "Client",
    "sign",
    "PaygateError",
    "APIConnectionError",
    "SignatureVerificationError",
    "MissingSignatureError",
    "MalformedSignatureError",
    "StaleTimestampError",
    "InvalidSignatureError",
    "PaygateObject",
    "Webhook",
    "VERSION",
]
