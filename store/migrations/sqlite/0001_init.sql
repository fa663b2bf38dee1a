-- Orders, refunds, the event outbox and idempotency keys.
-- Times are UTC text, fixed width with microseconds, so text order is time order.

CREATE TABLE orders (
	id                TEXT PRIMARY KEY,
	merchant_id       TEXT NOT NULL,
	merchant_order_no TEXT NOT NULL,
	status            TEXT NOT NULL,
	amount            INTEGER NOT NULL,
	currency          TEXT NOT NULL,
	subject           TEXT NOT NULL DEFAULT '',
	method            TEXT NOT NULL,
	channel           TEXT NOT NULL DEFAULT '',
	provider          TEXT NOT NULL DEFAULT '',
	channel_trade_no  TEXT NOT NULL DEFAULT '',
	fee               INTEGER NOT NULL DEFAULT 0,
	net_amount        INTEGER NOT NULL DEFAULT 0,
	route             TEXT,
	qr_code           TEXT,
	credential        TEXT,
	card              TEXT,
	card_fingerprint  TEXT NOT NULL DEFAULT '',
	terminal_id       TEXT NOT NULL DEFAULT '',
	location          TEXT,
	capture           TEXT NOT NULL DEFAULT '',
	authorized_amount INTEGER NOT NULL DEFAULT 0,
	refunded_amount   INTEGER NOT NULL DEFAULT 0,
	refund_reserved   INTEGER NOT NULL DEFAULT 0,
	failure           TEXT,
	notify_url        TEXT NOT NULL DEFAULT '',
	payer_id          TEXT NOT NULL DEFAULT '',
	auth_code_masked  TEXT NOT NULL DEFAULT '',
	created_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL,
	paid_at           TEXT,
	expires_at        TEXT,
	metadata          TEXT,
	CHECK (refund_reserved >= 0 AND refund_reserved <= amount),
	CHECK (refunded_amount >= 0 AND refunded_amount <= refund_reserved)
);
CREATE UNIQUE INDEX orders_merchant_order_no ON orders (merchant_id, merchant_order_no);
CREATE INDEX orders_merchant_id ON orders (merchant_id, id);
CREATE INDEX orders_merchant_created ON orders (merchant_id, created_at);
CREATE INDEX orders_pending ON orders (status, created_at) WHERE status IN ('pending', 'authorized');

CREATE TABLE refunds (
	id                 TEXT PRIMARY KEY,
	merchant_id        TEXT NOT NULL,
	order_id           TEXT NOT NULL REFERENCES orders (id),
	merchant_refund_no TEXT NOT NULL,
	status             TEXT NOT NULL,
	amount             INTEGER NOT NULL CHECK (amount > 0),
	currency           TEXT NOT NULL,
	reason             TEXT NOT NULL DEFAULT '',
	provider           TEXT NOT NULL DEFAULT '',
	channel_refund_no  TEXT NOT NULL DEFAULT '',
	failure            TEXT,
	created_at         TEXT NOT NULL,
	updated_at         TEXT NOT NULL,
	succeeded_at       TEXT
);
CREATE UNIQUE INDEX refunds_merchant_refund_no ON refunds (merchant_id, merchant_refund_no);
CREATE INDEX refunds_order ON refunds (order_id, created_at);
CREATE INDEX refunds_pending ON refunds (status, created_at) WHERE status = 'pending';

-- events is the webhook outbox: written in the transaction of the state
-- change it reports, then claimed and delivered by the dispatcher.
CREATE TABLE events (
	id              TEXT PRIMARY KEY,
	merchant_id     TEXT NOT NULL,
	type            TEXT NOT NULL,
	order_id        TEXT NOT NULL DEFAULT '',
	refund_id       TEXT NOT NULL DEFAULT '',
	notify_url      TEXT NOT NULL DEFAULT '',
	data            TEXT NOT NULL,
	created_at      TEXT NOT NULL,
	delivery_status TEXT NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT NOT NULL,
	lease_until     TEXT,
	delivered_at    TEXT
);
CREATE INDEX events_merchant ON events (merchant_id, id);
CREATE INDEX events_order ON events (order_id, id);
CREATE INDEX events_delivery ON events (delivery_status, next_attempt_at);

CREATE TABLE event_attempts (
	event_id         TEXT NOT NULL REFERENCES events (id),
	attempt          INTEGER NOT NULL,
	at               TEXT NOT NULL,
	status_code      INTEGER NOT NULL DEFAULT 0,
	latency_ms       INTEGER NOT NULL DEFAULT 0,
	error            TEXT NOT NULL DEFAULT '',
	response_excerpt TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (event_id, attempt)
);

CREATE TABLE idempotency_keys (
	merchant_id  TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	done         INTEGER NOT NULL DEFAULT 0,
	status_code  INTEGER NOT NULL DEFAULT 0,
	body         BLOB,
	created_at   TEXT NOT NULL,
	locked_until TEXT NOT NULL,
	PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
