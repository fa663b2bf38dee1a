-- Indexes every order and event write paid for without a query needing them:
-- order ids sort by creation time, so listing by merchant and time walks
-- orders_merchant_id; the dispatcher finds due events through the partial
-- index events_due.
DROP INDEX IF EXISTS orders_merchant_created;
DROP INDEX IF EXISTS events_delivery;
