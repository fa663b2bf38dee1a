"""Errors raised by the client."""


class PaygateError(Exception):
    """An API answer other than 2xx.

    ``status`` is the HTTP status, ``code`` the stable error code,
    ``message`` the explanation, ``param`` the request parameter at fault
    (or None) and ``request_id`` the gateway's id of the request.
    """

    def __init__(self, status, code, message, param=None, request_id=None, headers=None):
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.request_id = request_id
        self.headers = headers or {}
        text = "%d %s: %s" % (status, code, message)
        if param:
            text += " (param %s)" % param
        if request_id:
            text += " [%s]" % request_id
        super().__init__(text)


class APIConnectionError(Exception):
    """No HTTP answer came (refused, reset, timed out). The request may have
    reached the gateway; retrying with the same idempotency key is safe."""

    def __init__(self, message, cause=None):
        super().__init__(message)
        self.__cause__ = cause


class SignatureVerificationError(Exception):
    """A webhook failed verification. ``code`` is the gateway's error code
    (``invalid_signature`` or ``stale_timestamp``); the subclass tells the
    cases apart."""

    code = "invalid_signature"


class MissingSignatureError(SignatureVerificationError):
    """No Paygate-Signature header."""


class MalformedSignatureError(SignatureVerificationError):
    """The header is not t=...,v1=..."""


class StaleTimestampError(SignatureVerificationError):
    """The timestamp is further from now than the tolerance."""

    code = "stale_timestamp"


class InvalidSignatureError(SignatureVerificationError):
    """No signature matches the secrets and the body: a wrong secret or a
    modified body (the two cannot be told apart)."""
