-- The channel's own reference for a payment, allocated before the request is
-- sent (card acquirers: STAN and transmission time, which field 90 of a
-- reversal names), so that any process, not only the sender, can reverse it.
ALTER TABLE orders ADD COLUMN channel_ref TEXT NOT NULL DEFAULT '';
