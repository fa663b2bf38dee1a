-- Static cashier codes (一码付, docs/cashier.md): one printed QR per store or
-- till. code is the unguessable token of the code's URL; a code is active
-- while deactivated_at is NULL.
CREATE TABLE qr_codes (
	id             TEXT PRIMARY KEY,
	merchant_id    TEXT NOT NULL,
	code           TEXT NOT NULL,
	terminal_id    TEXT NOT NULL DEFAULT '',
	store_name     TEXT NOT NULL,
	amount         BIGINT,
	description    TEXT NOT NULL DEFAULT '',
	created_at     TIMESTAMPTZ NOT NULL,
	deactivated_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX qr_codes_code ON qr_codes (code);
CREATE INDEX qr_codes_merchant ON qr_codes (merchant_id, id);

-- Orders paid through a static code say so (source 'static_qr') and name it.
ALTER TABLE orders ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN qr_code_id TEXT NOT NULL DEFAULT '';
