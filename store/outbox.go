package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paygate-cn/paygate"
)

var (
	_ paygate.Outbox         = (*DB)(nil)
	_ paygate.PendingClaimer = (*DB)(nil)
)

// skipLocked is the suffix of a claiming sub-select: PostgreSQL skips rows
// another replica is claiming; SQLite's write transaction already holds the
// whole database, so the single writer is the claim.
func (db *DB) skipLocked() string {
	if db.dialect == DialectPostgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// ClaimEvents leases up to limit pending events whose next attempt is due.
// The claim moves next_attempt_at to the end of the lease, so a claim whose
// holder dies is due again when the lease ends, and sets lease_until, which
// RecordDelivery checks to know the claim is still the holder's.
func (db *DB) ClaimEvents(ctx context.Context, limit int, lease time.Duration, f paygate.EventClaimFilter) ([]*paygate.ClaimedEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	now := db.nowTime()
	until := normTime(now.Add(lease))
	args := []any{db.ts(until), db.ts(until), db.ts(now)}
	only := ""
	if f.Deliverable != nil {
		only = " AND (notify_url <> ''"
		if len(f.Deliverable) > 0 {
			only += " OR merchant_id IN (" + placeholders(len(f.Deliverable)) + ")"
			for _, m := range f.Deliverable {
				args = append(args, m)
			}
		}
		only += ")"
	}
	if len(f.SkipMerchants) > 0 {
		only += " AND NOT (notify_url = '' AND merchant_id IN (" + placeholders(len(f.SkipMerchants)) + "))"
		for _, m := range f.SkipMerchants {
			args = append(args, m)
		}
	}
	if len(f.SkipURLs) > 0 {
		only += " AND notify_url NOT IN (" + placeholders(len(f.SkipURLs)) + ")"
		for _, u := range f.SkipURLs {
			args = append(args, u)
		}
	}
	q := `UPDATE events SET lease_until = ?, next_attempt_at = ?
		WHERE id IN (SELECT id FROM events WHERE delivery_status = 'pending' AND next_attempt_at <= ?` + only + `
			ORDER BY next_attempt_at LIMIT ` + fmt.Sprint(limit) + db.skipLocked() + `)
		RETURNING ` + eventColumns + `, attempts`
	var out []*paygate.ClaimedEvent
	err := db.inTx(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e paygate.Event
			c := &paygate.ClaimedEvent{Event: &e, LeaseUntil: until}
			err := rows.Scan(&e.ID, &e.MerchantID, &e.Type, &e.OrderID, &e.RefundID, &e.NotifyURL,
				jsonCol{&e.Data}, timeCol{&e.CreatedAt}, &c.Attempts)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim events: %w", err)
	}
	return out, nil
}

// RecordDelivery logs the attempt and moves the event to delivered, failed
// or its next attempt — only while c is still the event's claim (its
// lease_until unchanged). A claim that lost its lease records nothing and
// reports false: the event went to another dispatcher.
func (db *DB) RecordDelivery(ctx context.Context, c *paygate.ClaimedEvent, o paygate.DeliveryOutcome) (bool, error) {
	status, next := DeliveryPending, o.Next
	var delivered any
	switch {
	case o.Delivered:
		status, next = DeliveryDelivered, db.nowTime()
		if o.Attempt != nil {
			next = o.Attempt.At
		}
		delivered = db.ts(next)
	case next.IsZero():
		status, next = DeliveryFailed, db.nowTime()
	}
	inc := 0
	if o.Attempt != nil {
		inc = 1
	}
	ok := false
	err := db.inTx(ctx, func(tx *Tx) error {
		var attempts int
		err := tx.queryRow(ctx, `UPDATE events SET delivery_status = ?, next_attempt_at = ?, lease_until = NULL,
			attempts = attempts + ?, delivered_at = COALESCE(?, delivered_at)
			WHERE id = ? AND lease_until = ? RETURNING attempts`,
			status, db.ts(next), inc, delivered, c.Event.ID, db.ts(c.LeaseUntil)).Scan(&attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		if a := o.Attempt; a != nil {
			_, err = tx.exec(ctx, `INSERT INTO event_attempts (event_id, attempt, at, status_code, latency_ms, error, response_excerpt)
				VALUES (?, ?, ?, ?, ?, ?, ?)`,
				c.Event.ID, attempts, db.ts(a.At), a.StatusCode, a.LatencyMS, cleanText(a.Error, 1024), cleanText(a.ResponseExcerpt, 1024))
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: record delivery: %w", err)
	}
	return ok, nil
}

// RenewClaim extends c's lease to until (and the event's next attempt with
// it, so that a holder dying mid-attempt still brings the event back) while
// c is the event's current claim. A dispatcher renews a claim before each
// attempt that could outlast it, so an attempt never runs on an expired
// claim another replica may have taken (docs/webhooks.md).
func (db *DB) RenewClaim(ctx context.Context, c *paygate.ClaimedEvent, until time.Time) (bool, error) {
	until = normTime(until)
	var n int64
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE events SET lease_until = ?, next_attempt_at = ?
			WHERE id = ? AND lease_until = ? AND delivery_status = 'pending'`,
			db.ts(until), db.ts(until), c.Event.ID, db.ts(c.LeaseUntil))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: renew claim: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	c.LeaseUntil = until
	return true, nil
}

// Backlog counts the work waiting in the outbox and the pending orders
// (for /metrics; docs/metrics.md).
func (db *DB) Backlog(ctx context.Context) (*paygate.Backlog, error) {
	var b paygate.Backlog
	now := db.nowTime()
	var oldest time.Time
	err := db.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= ? THEN 1 ELSE 0 END), 0), MIN(created_at)
		FROM events WHERE delivery_status = 'pending'`, db.ts(now)).Scan(&b.PendingEvents, &b.DueEvents, timeCol{&oldest})
	if err != nil {
		return nil, fmt.Errorf("store: outbox backlog: %w", err)
	}
	b.OldestPendingEvent = oldest
	if err := db.queryRow(ctx, `SELECT COUNT(*) FROM orders WHERE status = 'pending'`).Scan(&b.PendingOrders); err != nil {
		return nil, fmt.Errorf("store: pending orders: %w", err)
	}
	return &b, nil
}

// cleanText makes s storable as TEXT in both databases: valid UTF-8, no NUL,
// at most max bytes (cut on a rune boundary).
func cleanText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// EventDelivery returns the delivery state and attempts of one of
// merchantID's events. Returns ENOTFOUND if the event does not exist or
// belongs to another merchant.
func (db *DB) EventDelivery(ctx context.Context, merchantID, id string) (*paygate.EventDelivery, error) {
	var d paygate.EventDelivery
	err := db.queryRow(ctx, "SELECT delivery_status, attempts, next_attempt_at, delivered_at FROM events WHERE id = ? AND merchant_id = ?",
		id, merchantID).Scan(&d.Status, &d.Attempts, timeCol{&d.NextAttemptAt}, timePtrCol{&d.DeliveredAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such event: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read event delivery: %w", err)
	}
	rows, err := db.query(ctx, `SELECT attempt, at, status_code, latency_ms, error, response_excerpt
		FROM event_attempts WHERE event_id = ? ORDER BY attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("store: read event attempts: %w", err)
	}
	defer rows.Close()
	d.Log = []paygate.DeliveryAttempt{}
	for rows.Next() {
		var a paygate.DeliveryAttempt
		if err := rows.Scan(&a.Attempt, timeCol{&a.At}, &a.StatusCode, &a.LatencyMS, &a.Error, &a.ResponseExcerpt); err != nil {
			return nil, fmt.Errorf("store: read event attempts: %w", err)
		}
		d.Log = append(d.Log, a)
	}
	return &d, rows.Err()
}

// Redeliver makes the event pending and due now, dropping any claim on it;
// the attempt count goes on from where it was.
// Returns ENOTFOUND if the event does not exist or belongs to another
// merchant.
func (db *DB) Redeliver(ctx context.Context, merchantID, id string) (*paygate.Event, error) {
	const q = "UPDATE events SET delivery_status = 'pending', next_attempt_at = ?, lease_until = NULL WHERE id = ? AND merchant_id = ?"
	args := []any{db.ts(db.nowTime()), id, merchantID}
	var e *paygate.Event
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		e, err = scanEvent(tx.queryRow(ctx, q+" RETURNING "+eventColumns, args...))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such event: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: redeliver event: %w", err)
	}
	return e, nil
}

// ClaimPendingOrders leases up to limit pending orders created before
// `before` whose previous lease (if any) has ended, oldest first. The lease
// is also the pause before the order is queried again.
func (db *DB) ClaimPendingOrders(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]*paygate.Order, error) {
	return claimPending(ctx, db, "orders", orderColumns, scanOrder, before, lease, limit)
}

// ClaimPendingRefunds leases pending refunds as ClaimPendingOrders does
// orders.
func (db *DB) ClaimPendingRefunds(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]*paygate.Refund, error) {
	return claimPending(ctx, db, "refunds", refundColumns, scanRefund, before, lease, limit)
}

// claimPending leases the pending rows of table (orders or refunds): the
// one claim both resolvers share.
func claimPending[T any](ctx context.Context, db *DB, table, columns string, scan func(scanner) (T, error),
	before time.Time, lease time.Duration, limit int) ([]T, error) {
	if limit <= 0 {
		limit = 100
	}
	now := db.nowTime()
	q := `UPDATE ` + table + ` SET resolve_lease_until = ?
		WHERE id IN (SELECT id FROM ` + table + ` WHERE status = 'pending' AND created_at < ?
			AND (resolve_lease_until IS NULL OR resolve_lease_until <= ?)
			ORDER BY created_at, id LIMIT ` + fmt.Sprint(limit) + db.skipLocked() + `)
		RETURNING ` + columns
	var list []T
	err := db.inTx(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, q, db.ts(now.Add(lease)), db.ts(before), db.ts(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			list = append(list, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim pending %s: %w", table, err)
	}
	return list, nil
}
