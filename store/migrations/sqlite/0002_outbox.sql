-- Leases for background work: pending orders and refunds whose outcome is
-- unknown are claimed for a channel query (see the PostgreSQL migration).
ALTER TABLE orders ADD COLUMN resolve_lease_until TEXT;
ALTER TABLE refunds ADD COLUMN resolve_lease_until TEXT;
CREATE INDEX events_due ON events (next_attempt_at) WHERE delivery_status = 'pending';
