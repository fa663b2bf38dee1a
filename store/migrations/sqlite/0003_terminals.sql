-- POS terminals and their keys. A terminal is bound to one merchant and one
-- registered region. Only the SHA-256 of an activation code is kept; a key's
-- secret is stored sealed (AES-256-GCM under a key derived from the server
-- secret), because verifying request HMACs needs the secret itself.

CREATE TABLE terminals (
	id                   TEXT PRIMARY KEY,
	merchant_id          TEXT NOT NULL,
	terminal_id          TEXT NOT NULL,
	serial_no            TEXT NOT NULL DEFAULT '',
	model                TEXT NOT NULL DEFAULT '',
	region_code          TEXT NOT NULL,
	status               TEXT NOT NULL CHECK (status IN ('pending_activation', 'active', 'deactivated')),
	activation_code_hash TEXT,
	key_id               TEXT NOT NULL DEFAULT '',
	created_at           TEXT NOT NULL,
	activated_at         TEXT,
	deactivated_at       TEXT
);
CREATE UNIQUE INDEX terminals_merchant_terminal ON terminals (merchant_id, terminal_id);
CREATE UNIQUE INDEX terminals_activation_code ON terminals (activation_code_hash);

CREATE TABLE terminal_keys (
	id            TEXT PRIMARY KEY,
	terminal_pk   TEXT NOT NULL REFERENCES terminals (id),
	merchant_id   TEXT NOT NULL,
	terminal_id   TEXT NOT NULL,
	sealed_secret TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	revoked_at    TEXT
);
CREATE INDEX terminal_keys_terminal ON terminal_keys (terminal_pk);
