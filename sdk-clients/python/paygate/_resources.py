"""The API's resources."""

import urllib.parse


def _q(value):
    return urllib.parse.quote(str(value), safe="")


def _body(params):
    """Request body from keyword arguments, leaving out those not given."""
    return {k: v for k, v in params.items() if v is not None}


class _Resource:
    def __init__(self, client):
        self._client = client

    def _list(self, path, filters):
        """Iterates over every item of a list across pages."""
        params = {k: v for k, v in filters.items() if v is not None}
        while True:
            page = self._client.request("GET", path, params=params)
            for item in page.data:
                yield item
            cursor = page.get("next_cursor")
            if not cursor or not page.data:
                return
            params["cursor"] = cursor


class Orders(_Resource):
    """/v1/orders"""

    def create(self, idempotency_key=None, **params):
        """Creates an order and drives its payment (see the API's order fields)."""
        return self._client.request("POST", "/v1/orders", body=_body(params), idempotency_key=idempotency_key)

    def retrieve(self, order_id):
        return self._client.request("GET", "/v1/orders/" + _q(order_id))

    def list(self, **filters):
        """Iterates over the orders matching the filters (merchant_order_no,
        status, created_from, created_to, limit) across pages."""
        return self._list("/v1/orders", filters)

    def list_page(self, **filters):
        """One page: a PaygateObject with data and next_cursor."""
        return self._client.request("GET", "/v1/orders", params=filters)

    def close(self, order_id, idempotency_key=None):
        return self._client.request("POST", "/v1/orders/%s/close" % _q(order_id), body={},
                                    idempotency_key=idempotency_key)

    def cancel(self, order_id, idempotency_key=None):
        return self._client.request("POST", "/v1/orders/%s/cancel" % _q(order_id), body={},
                                    idempotency_key=idempotency_key)

    def capture(self, order_id, amount=None, idempotency_key=None):
        return self._client.request("POST", "/v1/orders/%s/capture" % _q(order_id), body=_body({"amount": amount}),
                                    idempotency_key=idempotency_key)


class Refunds(_Resource):
    """/v1/refunds"""

    def create(self, order_id, idempotency_key=None, **params):
        return self._client.request("POST", "/v1/orders/%s/refunds" % _q(order_id), body=_body(params),
                                    idempotency_key=idempotency_key)

    def retrieve(self, refund_id):
        return self._client.request("GET", "/v1/refunds/" + _q(refund_id))


class Routes(_Resource):
    """/v1/routes"""

    def quote(self, idempotency_key=None, **params):
        """Which provider would take the payment, at what fee, and why."""
        return self._client.request("POST", "/v1/routes/quote", body=_body(params), idempotency_key=idempotency_key)

    create = quote


class Events(_Resource):
    """/v1/events"""

    def list(self, **filters):
        """Iterates over events (order_id, type, limit) across pages."""
        return self._list("/v1/events", filters)

    def retrieve(self, event_id):
        return self._client.request("GET", "/v1/events/" + _q(event_id))

    def redeliver(self, event_id, idempotency_key=None):
        return self._client.request("POST", "/v1/events/%s/redeliver" % _q(event_id), body={},
                                    idempotency_key=idempotency_key)


class Terminals(_Resource):
    """/v1/terminals"""

    def create(self, idempotency_key=None, **params):
        return self._client.request("POST", "/v1/terminals", body=_body(params), idempotency_key=idempotency_key)

    def retrieve(self, terminal_id):
        return self._client.request("GET", "/v1/terminals/" + _q(terminal_id))

    def deactivate(self, terminal_id, idempotency_key=None):
        return self._client.request("POST", "/v1/terminals/%s/deactivate" % _q(terminal_id), body={},
                                    idempotency_key=idempotency_key)

    def new_activation_code(self, terminal_id, activation_expires_in=None, idempotency_key=None):
        return self._client.request("POST", "/v1/terminals/%s/activation_code" % _q(terminal_id),
                                    body=_body({"activation_expires_in": activation_expires_in}),
                                    idempotency_key=idempotency_key)

    def activate(self, activation_code, idempotency_key=None):
        """Exchanges an activation code for the terminal's own key
        (key_id, key_secret); needs no API key."""
        return self._client.request("POST", "/v1/terminals/activate", body={"activation_code": activation_code},
                                    idempotency_key=idempotency_key)


class QRCodes(_Resource):
    """/v1/qr_codes"""

    def create(self, idempotency_key=None, **params):
        return self._client.request("POST", "/v1/qr_codes", body=_body(params), idempotency_key=idempotency_key)

    def retrieve(self, code_id):
        return self._client.request("GET", "/v1/qr_codes/" + _q(code_id))

    def list(self, **filters):
        return self._list("/v1/qr_codes", filters)

    def deactivate(self, code_id, idempotency_key=None):
        return self._client.request("POST", "/v1/qr_codes/%s/deactivate" % _q(code_id), body={},
                                    idempotency_key=idempotency_key)


class Reconciliations(_Resource):
    """/v1/reconciliations"""

    def create(self, date, provider=None, idempotency_key=None):
        """Runs the reconciliation of a day (YYYY-MM-DD, China Standard Time)
        now; returns the run, or a list of runs when several providers ran."""
        return self._client.request("POST", "/v1/reconciliations", body=_body({"date": date, "provider": provider}),
                                    idempotency_key=idempotency_key)

    def retrieve(self, run_id):
        return self._client.request("GET", "/v1/reconciliations/" + _q(run_id))

    def list(self, **filters):
        return self._list("/v1/reconciliations", filters)

    def discrepancies(self, run_id, **filters):
        return self._list("/v1/reconciliations/%s/discrepancies" % _q(run_id), filters)


class Discrepancies(_Resource):
    """/v1/discrepancies"""

    def resolve(self, discrepancy_id, note, idempotency_key=None):
        return self._client.request("POST", "/v1/discrepancies/%s/resolve" % _q(discrepancy_id), body={"note": note},
                                    idempotency_key=idempotency_key)


class Statements(_Resource):
    """/v1/statements"""

    def retrieve(self, date):
        """The day's statement as an object (amounts in fen)."""
        return self._client.request("GET", "/v1/statements/" + _q(date), params={"format": "json"})

    def download(self, date, format="csv"):
        """The day's statement file as bytes: format csv or xlsx."""
        if format not in ("csv", "xlsx", "json"):
            raise ValueError("format must be csv, xlsx or json")
        return self._client.request("GET", "/v1/statements/" + _q(date), params={"format": format}, raw=True)
