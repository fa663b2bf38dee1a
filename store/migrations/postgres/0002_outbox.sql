-- Leases for background work shared by every replica: the outbox dispatcher
-- claims due events through events.lease_until (0001); pending orders and
-- refunds whose outcome is unknown are claimed for a channel query here, so
-- that two replicas never query one order at once.
ALTER TABLE orders ADD COLUMN resolve_lease_until TIMESTAMPTZ;
ALTER TABLE refunds ADD COLUMN resolve_lease_until TIMESTAMPTZ;
CREATE INDEX events_due ON events (next_attempt_at) WHERE delivery_status = 'pending';
