-- A reversal (cancel, void, 撤销/冲正) in flight: set by the compare-and-set
-- that starts it, until the time its claim lapses. Refunds and reversals
-- exclude each other (README, "Refunds and reversals"): a refund is reserved
-- only while this is NULL, and a reversal starts only while nothing is
-- reserved for refunds, so the two can never both reach the channel.
ALTER TABLE orders ADD COLUMN reversing_until TEXT
	CHECK (reversing_until IS NULL OR refund_reserved = 0);
