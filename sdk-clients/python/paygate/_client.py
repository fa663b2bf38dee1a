"""The HTTP client: signing, idempotency, retries."""

import hashlib
import hmac
import http.client
import json
import random
import secrets as _secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from email.utils import parsedate_to_datetime

from ._errors import APIConnectionError, PaygateError
from ._object import convert
from . import _resources

VERSION = "0.1.0"

DEFAULT_BASE_URL = "http://localhost:8080"
DEFAULT_MAX_RETRIES = 2
# Bounds one attempt; above the longest wait an order may ask for
# (wait_seconds <= 120).
DEFAULT_TIMEOUT = 130.0
DEFAULT_INITIAL_BACKOFF = 0.5
DEFAULT_MAX_BACKOFF = 5.0
# The longest Retry-After the client honours before a retry.
MAX_RETRY_AFTER = 60.0
# Bounds an answer read into memory.
MAX_ANSWER = 32 << 20

_RETRY_STATUSES = (429, 502, 503, 504)


def sign(key_id, secret, method, path_and_query, timestamp, nonce, body=b""):
    """Returns the Authorization header of a request:
    hex(HMAC-SHA256(secret, METHOD\\nPATH_AND_QUERY\\ntimestamp\\nnonce\\nhex(SHA256(body))))."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    digest = hashlib.sha256(body or b"").hexdigest()
    message = "\n".join([method, path_and_query, str(timestamp), nonce, digest])
    signature = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return "PAYGATE-HMAC-SHA256 key_id=%s,timestamp=%d,nonce=%s,signature=%s" % (
        key_id, int(timestamp), nonce, signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The API never redirects; a redirect is an answer like any other."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Client:
    """A client of the paygate API, safe to share between threads.

    ``Client(key_id=..., secret=..., base_url=...)``; optional ``max_retries``
    (default 2), ``timeout`` (seconds per attempt, default 130),
    ``initial_backoff`` and ``max_backoff`` (0.5 s doubling, capped at 5 s),
    ``user_agent`` (appended to the SDK's own).
    """

    def __init__(self, key_id="", secret="", base_url=DEFAULT_BASE_URL, max_retries=DEFAULT_MAX_RETRIES,
                 timeout=DEFAULT_TIMEOUT, initial_backoff=DEFAULT_INITIAL_BACKOFF,
                 max_backoff=DEFAULT_MAX_BACKOFF, user_agent=None):
        self._key_id = key_id
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, int(max_retries))
        self.timeout = float(timeout)
        self.initial_backoff = float(initial_backoff)
        self.max_backoff = float(max_backoff)
        self.user_agent = "paygate-python/%s" % VERSION + (" " + user_agent if user_agent else "")
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._sleep = time.sleep
        self.orders = _resources.Orders(self)
        self.refunds = _resources.Refunds(self)
        self.routes = _resources.Routes(self)
        self.quotes = self.routes
        self.events = _resources.Events(self)
        self.terminals = _resources.Terminals(self)
        self.qr_codes = _resources.QRCodes(self)
        self.reconciliations = _resources.Reconciliations(self)
        self.discrepancies = _resources.Discrepancies(self)
        self.statements = _resources.Statements(self)

    def __repr__(self):
        # Never the secret.
        return "paygate.Client(key_id=%r, base_url=%r)" % (self._key_id, self.base_url)

    # -- requests ---------------------------------------------------------

    def request(self, method, path, params=None, body=None, idempotency_key=None, raw=False):
        """Sends one API call with retries; returns the decoded answer (a
        PaygateObject), or the raw bytes when raw is set."""
        if params:
            query = urllib.parse.urlencode([(k, v) for k, v in params.items() if v is not None and v != ""])
            if query:
                path += "?" + query
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if method == "POST" and not idempotency_key:
            idempotency_key = "pgsdk_" + _secrets.token_hex(16)
        attempt = 0
        while True:
            try:
                status, headers, answer = self._attempt(method, path, data, idempotency_key)
            except APIConnectionError:
                if attempt >= self.max_retries:
                    raise
                self._sleep(self._backoff(attempt, None))
                attempt += 1
                continue
            if status < 300:
                if raw:
                    return answer
                return convert(json.loads(answer.decode("utf-8"))) if answer else None
            err = _api_error(status, headers, answer)
            if attempt >= self.max_retries or not _retryable(err):
                raise err
            self._sleep(self._backoff(attempt, headers.get("Retry-After")))
            attempt += 1

    def _attempt(self, method, path, data, idempotency_key):
        url = self.base_url + path
        target = urllib.parse.urlsplit(url)
        path_and_query = target.path + ("?" + target.query if target.query else "")
        headers = {
            "Authorization": sign(self._key_id, self._secret, method, path_and_query, int(time.time()),
                                  _secrets.token_hex(16), data or b""),
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        req = urllib.request.Request(url, data=data if data is not None else (b"" if method == "POST" else None),
                                     headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return resp.status, resp.headers, resp.read(MAX_ANSWER)
        except urllib.error.HTTPError as e:
            try:
                answer = e.read(MAX_ANSWER)
            except (OSError, http.client.HTTPException):
                answer = b""
            return e.code, e.headers, answer
        except (urllib.error.URLError, OSError, http.client.HTTPException, socket.timeout) as e:
            reason = getattr(e, "reason", e)
            raise APIConnectionError("%s %s: %s" % (method, path, reason), e) from e

    def _backoff(self, attempt, retry_after):
        wait = _parse_retry_after(retry_after)
        if wait is not None:
            return min(wait, MAX_RETRY_AFTER)
        d = min(self.initial_backoff * (2 ** attempt), self.max_backoff)
        return d / 2 + random.uniform(0, d / 2)


def _retryable(err):
    if err.status in _RETRY_STATUSES:
        return True
    return err.status == 409 and err.code == "idempotency_key_in_use"


def _parse_retry_after(value):
    if not value:
        return None
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _api_error(status, headers, answer):
    request_id = headers.get("Request-Id") if headers else None
    try:
        e = json.loads(answer.decode("utf-8"))["error"]
        return PaygateError(status, e.get("code") or "http_%d" % status, e.get("message", ""), e.get("param"),
                            e.get("request_id") or request_id, headers)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return PaygateError(status, "http_%d" % status, "unexpected answer", None, request_id, headers)
