-- Orders, refunds, the event outbox and idempotency keys.
-- Times are TIMESTAMPTZ (microseconds). Structured JSON is JSONB; credential and
-- event data are JSON, which keeps the text exactly as written.

CREATE TABLE orders (
	id                TEXT PRIMARY KEY,
	merchant_id       TEXT NOT NULL,
	merchant_order_no TEXT NOT NULL,
	status            TEXT NOT NULL,
	amount            BIGINT NOT NULL,
	currency          TEXT NOT NULL,
	subject           TEXT NOT NULL DEFAULT '',
	method            TEXT NOT NULL,
	channel           TEXT NOT NULL DEFAULT '',
	provider          TEXT NOT NULL DEFAULT '',
	channel_trade_no  TEXT NOT NULL DEFAULT '',
	fee               BIGINT NOT NULL DEFAULT 0,
	net_amount        BIGINT NOT NULL DEFAULT 0,
	route             JSONB,
	qr_code           TEXT,
	credential        JSON,
	card              JSONB,
	card_fingerprint  TEXT NOT NULL DEFAULT '',
	terminal_id       TEXT NOT NULL DEFAULT '',
	location          JSONB,
	capture           TEXT NOT NULL DEFAULT '',
	authorized_amount BIGINT NOT NULL DEFAULT 0,
	refunded_amount   BIGINT NOT NULL DEFAULT 0,
	refund_reserved   BIGINT NOT NULL DEFAULT 0,
	failure           JSONB,
	notify_url        TEXT NOT NULL DEFAULT '',
	payer_id          TEXT NOT NULL DEFAULT '',
	auth_code_masked  TEXT NOT NULL DEFAULT '',
	created_at        TIMESTAMPTZ NOT NULL,
	updated_at        TIMESTAMPTZ NOT NULL,
	paid_at           TIMESTAMPTZ,
	expires_at        TIMESTAMPTZ,
	metadata          JSONB,
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
	amount             BIGINT NOT NULL CHECK (amount > 0),
	currency           TEXT NOT NULL,
	reason             TEXT NOT NULL DEFAULT '',
	provider           TEXT NOT NULL DEFAULT '',
	channel_refund_no  TEXT NOT NULL DEFAULT '',
	failure            JSONB,
	created_at         TIMESTAMPTZ NOT NULL,
	updated_at         TIMESTAMPTZ NOT NULL,
	succeeded_at       TIMESTAMPTZ
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
	data            JSON NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	delivery_status TEXT NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'delivered', 'failed')),
	attempts        BIGINT NOT NULL DEFAULT 0,
	next_attempt_at TIMESTAMPTZ NOT NULL,
	lease_until     TIMESTAMPTZ,
	delivered_at    TIMESTAMPTZ
);
CREATE INDEX events_merchant ON events (merchant_id, id);
CREATE INDEX events_order ON events (order_id, id);
CREATE INDEX events_delivery ON events (delivery_status, next_attempt_at);

CREATE TABLE event_attempts (
	event_id         TEXT NOT NULL REFERENCES events (id),
	attempt          BIGINT NOT NULL,
	at               TIMESTAMPTZ NOT NULL,
	status_code      BIGINT NOT NULL DEFAULT 0,
	latency_ms       BIGINT NOT NULL DEFAULT 0,
	error            TEXT NOT NULL DEFAULT '',
	response_excerpt TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (event_id, attempt)
);

CREATE TABLE idempotency_keys (
	merchant_id  TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	done         BOOLEAN NOT NULL DEFAULT false,
	status_code  BIGINT NOT NULL DEFAULT 0,
	body         BYTEA,
	created_at   TIMESTAMPTZ NOT NULL,
	locked_until TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
