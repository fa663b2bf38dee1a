// Package store persists paygate's orders, refunds, webhook events and
// idempotency keys in SQL. One implementation serves two dialects:
//
//   - SQLite (modernc.org/sqlite, pure Go), the embedded default. The file
//     runs in WAL mode with a busy timeout and foreign keys on. Every write
//     goes through a pool of exactly one connection whose transactions
//     begin IMMEDIATE, so in-process writers queue in the pool rather than
//     fail with SQLITE_BUSY; plain reads use a separate read-only pool.
//   - PostgreSQL (pgx v5 through database/sql), for production and
//     scale-out. Options.Schema sets the search_path (created if missing).
//
// Queries are written once with ? placeholders and rebound to $n for
// PostgreSQL; the few differences (row locks, column types) live in
// Tx.forUpdate and in the per-dialect migrations under migrations/.
//
// Decisions:
//
//   - A read for a merchant always names it: MerchantOrder, MerchantRefund,
//     Event, EventDelivery, Redeliver, Discrepancy and ResolveDiscrepancy
//     add merchant_id to the WHERE clause, so an empty merchant id finds
//     nothing rather than everything. Reads made for paygate itself
//     (callbacks, background jobs, reconciliation) say so by name:
//     OrderByID, RefundByID. (A reconciliation run belongs to no merchant:
//     Reconciliation and Reconciliations with a merchant id give that
//     merchant's share of the counts, without one the whole run's.)
//   - Every order status change is a compare-and-set: UPDATE ... WHERE id = ?
//     AND status IN (expected) RETURNING. The event the change produces is
//     inserted in the same transaction, only if the update applied, so the
//     events table is an exact outbox (docs/webhooks.md): delivery_status,
//     attempts, next_attempt_at (= created_at), lease_until and delivered_at
//     are there for the dispatcher, and event_attempts logs each attempt.
//   - Refunds reserve their amount on the order (orders.refund_reserved)
//     while the order row is locked (SELECT ... FOR UPDATE on PostgreSQL; the
//     IMMEDIATE write transaction on SQLite), so concurrent refunds can never
//     sum past the amount. A failed refund releases its reservation; a
//     successful one adds to refunded_amount and moves the order to
//     partially_refunded or refunded. CHECK constraints back both sums.
//   - Unique violations are recognised by driver code (PostgreSQL 23505,
//     SQLite 2067/1555). Which key collided is then read from the data, not
//     from the error text: a taken merchant_order_no or merchant_refund_no
//     is EDUPORDERNO or EDUPREFUNDNO, anything else ECONFLICT.
//   - Times are kept in UTC at microsecond precision: TIMESTAMPTZ on
//     PostgreSQL, fixed-width RFC 3339 text on SQLite (so text order is time
//     order). Methods that insert normalise the caller's struct in place so
//     it equals what a later read returns.
//   - JSON columns are TEXT on SQLite. On PostgreSQL route, card, location,
//     failure and metadata are JSONB; credential and event data are JSON,
//     which keeps the text byte for byte (a webhook body reads as written).
//     The card fingerprint, which the order's JSON omits, has its own column.
//   - List cursors are base64url of the last id of a page; ids sort by
//     creation time, so pages are "id < cursor ORDER BY id DESC". A cursor
//     that does not decode to an id of the right kind is EPARAMINVALID.
//   - Idempotency keys: INSERT ... ON CONFLICT DO NOTHING claims a key; a
//     running record whose lock expired is taken over with a compare-and-set
//     on locked_until, and only by a request with the same hash (another hash
//     is answered "reused" whatever the lock).
//   - On PostgreSQL, statements that stand alone (an order insert, an
//     order transition with its event, the read of one order, idempotency
//     claims) go through a pipeline (pipeline.go): statements that arrive
//     while the flushers are busy are sent as one pgx batch, one round trip
//     and one implicit transaction, so concurrent requests share a commit.
//     Reads and writes queue apart (a read never waits for a WAL flush). A
//     batch the server rejects is rolled back whole and rerun statement by
//     statement, so each caller gets a lone statement's answer; a batch
//     whose connection fails is reported failed to all its callers, as a
//     lone statement would be. Within a batch, statements are ordered by
//     the row they touch, so two batches cannot deadlock each other.
//   - Migrate applies embedded migrations recorded in schema_migrations,
//     each in its own transaction; on PostgreSQL under an advisory lock keyed
//     by the schema, so replicas starting together migrate once.
package store
