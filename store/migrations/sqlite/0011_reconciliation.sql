-- Reconciliation (docs/reconciliation.md): runs of a provider's bill for a
-- China Standard Time day, each merchant's share of a run, the
-- discrepancies a run found, transactions a run matched across midnight,
-- and the daily job's claim per provider and day.

CREATE TABLE reconciliation_runs (
	id              TEXT PRIMARY KEY,
	provider        TEXT NOT NULL,
	date            TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
	failure         TEXT NOT NULL DEFAULT '',
	paygate_count   INTEGER NOT NULL DEFAULT 0,
	paygate_amount  INTEGER NOT NULL DEFAULT 0,
	channel_count   INTEGER NOT NULL DEFAULT 0,
	channel_amount  INTEGER NOT NULL DEFAULT 0,
	outcomes        TEXT NOT NULL DEFAULT '{}',
	bill_sha1       TEXT NOT NULL DEFAULT '',
	started_at      TEXT NOT NULL,
	finished_at     TEXT
);
CREATE INDEX reconciliation_runs_day ON reconciliation_runs (date, provider, id);

CREATE TABLE reconciliation_run_merchants (
	run_id          TEXT NOT NULL REFERENCES reconciliation_runs (id),
	merchant_id     TEXT NOT NULL,
	paygate_count   INTEGER NOT NULL DEFAULT 0,
	paygate_amount  INTEGER NOT NULL DEFAULT 0,
	channel_count   INTEGER NOT NULL DEFAULT 0,
	channel_amount  INTEGER NOT NULL DEFAULT 0,
	outcomes        TEXT NOT NULL DEFAULT '{}',
	PRIMARY KEY (run_id, merchant_id)
);

CREATE TABLE reconciliation_discrepancies (
	id          TEXT PRIMARY KEY,
	run_id      TEXT NOT NULL REFERENCES reconciliation_runs (id),
	provider    TEXT NOT NULL,
	date        TEXT NOT NULL,
	merchant_id TEXT NOT NULL DEFAULT '',
	outcome     TEXT NOT NULL,
	order_id    TEXT NOT NULL DEFAULT '',
	refund_id   TEXT NOT NULL DEFAULT '',
	paygate     TEXT,
	channel     TEXT,
	resolution  TEXT NOT NULL CHECK (resolution IN ('open', 'repaired', 'accepted')),
	note        TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	resolved_at TEXT
);
CREATE INDEX reconciliation_discrepancies_run ON reconciliation_discrepancies (run_id, id);
CREATE INDEX reconciliation_discrepancies_order ON reconciliation_discrepancies (order_id, run_id);

CREATE TABLE reconciliation_crossings (
	run_id   TEXT NOT NULL REFERENCES reconciliation_runs (id),
	provider TEXT NOT NULL,
	txn_key  TEXT NOT NULL,
	PRIMARY KEY (provider, txn_key, run_id)
);

CREATE TABLE reconciliation_jobs (
	provider    TEXT NOT NULL,
	date        TEXT NOT NULL,
	holder      TEXT NOT NULL DEFAULT '',
	lease_until TEXT NOT NULL,
	done        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (provider, date)
);

-- A day's payments and refunds are read by the time they succeeded.
CREATE INDEX orders_paid ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX refunds_succeeded ON refunds (succeeded_at) WHERE succeeded_at IS NOT NULL;
