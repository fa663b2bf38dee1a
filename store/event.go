package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
)

// Event delivery states of the outbox.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

const eventColumns = "id, merchant_id, type, order_id, refund_id, notify_url, data, created_at"

func scanEvent(s scanner) (*paygate.Event, error) {
	var e paygate.Event
	err := s.Scan(&e.ID, &e.MerchantID, &e.Type, &e.OrderID, &e.RefundID, &e.NotifyURL,
		jsonCol{&e.Data}, timeCol{&e.CreatedAt})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// fillEvent fills what the caller left empty: ID, CreatedAt (now),
// MerchantID, OrderID and NotifyURL from the order, RefundID from the
// refund, and Data as {"object": ...} — the refund for refund.* events, the
// order otherwise.
func fillEvent(e *paygate.Event, now time.Time, o *paygate.Order, r *paygate.Refund) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	e.CreatedAt = normTime(e.CreatedAt)
	if e.ID == "" {
		e.ID = paygate.NewID(paygate.PrefixEvent, e.CreatedAt)
	}
	if o != nil {
		if e.MerchantID == "" {
			e.MerchantID = o.MerchantID
		}
		if e.OrderID == "" {
			e.OrderID = o.ID
		}
		if e.NotifyURL == "" {
			e.NotifyURL = o.NotifyURL
		}
	}
	if r != nil {
		if e.RefundID == "" {
			e.RefundID = r.ID
		}
		if e.MerchantID == "" {
			e.MerchantID = r.MerchantID
		}
		if e.OrderID == "" {
			e.OrderID = r.OrderID
		}
	}
	if e.Data == nil {
		var data []byte
		var err error
		if r != nil && strings.HasPrefix(e.Type, "refund.") {
			data, err = json.Marshal(map[string]any{"object": apijson.Refund{Refund: r}})
		} else if o != nil {
			// The order's own encoder; this runs for every transition.
			data, err = apijson.AppendOrder(append(make([]byte, 0, 2048), `{"object":`...), o)
			data = append(data, '}')
		} else {
			data, err = json.Marshal(map[string]any{"object": nil})
		}
		if err != nil {
			return fmt.Errorf("store: encode event data: %w", err)
		}
		e.Data = data
	}
	return nil
}

// insertEvent writes e to the outbox, filling what the caller left empty:
// ID, CreatedAt, MerchantID, OrderID and NotifyURL from the order, RefundID
// from the refund, and Data as {"object": ...} — the refund for refund.*
// events, the order otherwise.
func (tx *Tx) insertEvent(ctx context.Context, e *paygate.Event, o *paygate.Order, r *paygate.Refund) error {
	db := tx.db
	if err := fillEvent(e, db.nowTime(), o, r); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `INSERT INTO events (id, merchant_id, type, order_id, refund_id, notify_url,
		data, created_at, delivery_status, attempts, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
		e.ID, e.MerchantID, e.Type, e.OrderID, e.RefundID, e.NotifyURL, string(e.Data),
		db.ts(e.CreatedAt), DeliveryPending, db.ts(e.CreatedAt))
	if isUniqueViolation(err) {
		return paygate.Errorf(paygate.ECONFLICT, "event %s already exists", e.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert event: %w", err)
	}
	return nil
}

// Event returns one of merchantID's events by id.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) Event(ctx context.Context, merchantID, id string) (*paygate.Event, error) {
	e, err := scanEvent(db.queryRow(ctx, "SELECT "+eventColumns+" FROM events WHERE id = ? AND merchant_id = ?", id, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such event: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read event: %w", err)
	}
	return e, nil
}

// Events lists a merchant's events newest first with the next page's
// cursor. Returns EPARAMINVALID for a bad cursor.
func (db *DB) Events(ctx context.Context, f paygate.EventFilter) ([]*paygate.Event, string, error) {
	if f.MerchantID == "" {
		return nil, "", errors.New("store: Events needs a merchant")
	}
	where := []string{"merchant_id = ?"}
	args := []any{f.MerchantID}
	if f.OrderID != "" {
		where = append(where, "order_id = ?")
		args = append(args, f.OrderID)
	}
	if f.Type != "" {
		where = append(where, "type = ?")
		args = append(args, f.Type)
	}
	if f.Cursor != "" {
		id, err := decodeCursor(f.Cursor, paygate.PrefixEvent)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "id < ?")
		args = append(args, id)
	}
	limit := pageLimit(f.Limit)
	q := "SELECT " + eventColumns + " FROM events WHERE " + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit+1)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list events: %w", err)
	}
	defer rows.Close()
	var list []*paygate.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list events: %w", err)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list events: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].ID)
	}
	return list, next, nil
}
