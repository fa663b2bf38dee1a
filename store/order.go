package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

const orderColumns = `id, merchant_id, merchant_order_no, status, amount, currency, subject,
	method, channel, provider, channel_trade_no, fee, net_amount, route, qr_code, credential,
	card, card_fingerprint, terminal_id, location, capture, authorized_amount, refunded_amount,
	refund_reserved, failure, notify_url, payer_id, auth_code_masked, created_at, updated_at,
	paid_at, expires_at, metadata, channel_ref, source, qr_code_id, reversing_until`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanOrder(s scanner) (*paygate.Order, error) {
	var o paygate.Order
	var fingerprint string
	err := s.Scan(&o.ID, &o.MerchantID, &o.MerchantOrderNo, &o.Status, &o.Amount, &o.Currency,
		&o.Subject, &o.Method, &o.Channel, &o.Provider, &o.ChannelTradeNo, &o.Fee, &o.NetAmount,
		jsonCol{&o.Route}, nullString{&o.QRCode}, jsonCol{&o.Credential}, jsonCol{&o.Card},
		&fingerprint, &o.TerminalID, jsonCol{&o.Location}, &o.Capture, &o.AuthorizedAmount,
		&o.RefundedAmount, &o.RefundReserved, jsonCol{&o.Failure}, &o.NotifyURL, &o.PayerID,
		&o.AuthCodeMasked, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}, timePtrCol{&o.PaidAt},
		timeCol{&o.ExpiresAt}, jsonCol{&o.Metadata}, &o.ChannelRef, &o.Source, &o.QRCodeID,
		timePtrCol{&o.ReversingUntil})
	if err != nil {
		return nil, err
	}
	if o.Card != nil {
		o.Card.Fingerprint = fingerprint
	}
	return &o, nil
}

func errOrderNotFound(id string) error {
	return paygate.Errorf(paygate.ENOTFOUND, "no such order: %s", id)
}

// CreateOrder inserts a new order. It fills an empty ID, zero CreatedAt and
// UpdatedAt, and normalises the order's times to what the store keeps.
// Returns EDUPORDERNO if the merchant already used o.MerchantOrderNo.
func (db *DB) CreateOrder(ctx context.Context, o *paygate.Order) error {
	now := db.nowTime()
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	o.CreatedAt = normTime(o.CreatedAt)
	if o.UpdatedAt.IsZero() {
		o.UpdatedAt = o.CreatedAt
	}
	o.UpdatedAt = normTime(o.UpdatedAt)
	o.ExpiresAt = normTime(o.ExpiresAt)
	if o.PaidAt != nil {
		t := normTime(*o.PaidAt)
		o.PaidAt = &t
	}
	if o.ID == "" {
		o.ID = paygate.NewID(paygate.PrefixOrder, o.CreatedAt)
	}
	if o.Status == "" {
		o.Status = paygate.OrderPending
	}

	var jsonErr error
	j := func(v any) any {
		a, err := jsonArg(v)
		if err != nil && jsonErr == nil {
			jsonErr = err
		}
		return a
	}
	fingerprint := ""
	if o.Card != nil {
		fingerprint = o.Card.Fingerprint
	}
	args := []any{o.ID, o.MerchantID, o.MerchantOrderNo, string(o.Status), o.Amount, o.Currency,
		o.Subject, string(o.Method), o.Channel, o.Provider, o.ChannelTradeNo, o.Fee, o.NetAmount,
		j(o.Route), strPtrArg(o.QRCode), rawArg(o.Credential), j(o.Card), fingerprint,
		o.TerminalID, j(o.Location), o.Capture, o.AuthorizedAmount, o.RefundedAmount,
		o.RefundReserved, j(o.Failure), o.NotifyURL, o.PayerID, o.AuthCodeMasked,
		db.ts(o.CreatedAt), db.ts(o.UpdatedAt), db.tsp(o.PaidAt), db.ts(o.ExpiresAt), j(o.Metadata), o.ChannelRef, o.Source, o.QRCodeID,
		db.tsp(o.ReversingUntil)}
	if jsonErr != nil {
		return fmt.Errorf("store: encode order: %w", jsonErr)
	}
	q := "INSERT INTO orders (" + orderColumns + ") VALUES (" + placeholders(len(args)) + ")"
	_, err := db.execOne(ctx, "o:"+o.ID, q, args...)
	if isUniqueViolation(err) {
		// Which key collided is read from the data, not the message.
		if _, gerr := db.OrderByMerchantNo(ctx, o.MerchantID, o.MerchantOrderNo); gerr == nil {
			return paygate.ParamErrorf(paygate.EDUPORDERNO, "merchant_order_no",
				"merchant_order_no %q was already used", o.MerchantOrderNo)
		}
		return paygate.Errorf(paygate.ECONFLICT, "order %s already exists", o.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert order: %w", err)
	}
	return nil
}

// MerchantOrder returns one of merchantID's orders by id.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) MerchantOrder(ctx context.Context, merchantID, id string) (*paygate.Order, error) {
	return db.order(ctx, id, "SELECT "+orderColumns+" FROM orders WHERE id = ? AND merchant_id = ?", []any{id, merchantID})
}

// OrderByID returns an order by id, whichever merchant's it is.
// Returns ENOTFOUND if it does not exist.
func (db *DB) OrderByID(ctx context.Context, id string) (*paygate.Order, error) {
	return db.order(ctx, id, "SELECT "+orderColumns+" FROM orders WHERE id = ?", []any{id})
}

func (db *DB) order(ctx context.Context, id, q string, args []any) (*paygate.Order, error) {
	var o *paygate.Order
	err := db.queryOne(ctx, "o:"+id, q, args, func(s scanner) (err error) {
		o, err = scanOrder(s)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errOrderNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read order: %w", err)
	}
	return o, nil
}

// OrderByMerchantNo returns the order with the merchant's own number.
// Returns ENOTFOUND if there is none.
func (db *DB) OrderByMerchantNo(ctx context.Context, merchantID, merchantOrderNo string) (*paygate.Order, error) {
	q := "SELECT " + orderColumns + " FROM orders WHERE merchant_id = ? AND merchant_order_no = ?"
	o, err := scanOrder(db.queryRow(ctx, q, merchantID, merchantOrderNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no order with merchant_order_no %q", merchantOrderNo)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read order: %w", err)
	}
	return o, nil
}

// Orders lists a merchant's orders newest first and returns the cursor of
// the next page ("" when there is none). IDs sort by creation time, so
// pages are keyed on the id. Returns EPARAMINVALID for a bad cursor.
func (db *DB) Orders(ctx context.Context, f paygate.OrderFilter) ([]*paygate.Order, string, error) {
	if f.MerchantID == "" {
		return nil, "", errors.New("store: Orders needs a merchant")
	}
	where := []string{"merchant_id = ?"}
	args := []any{f.MerchantID}
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.TerminalID != "" {
		add("terminal_id = ?", f.TerminalID)
	}
	if f.MerchantOrderNo != "" {
		add("merchant_order_no = ?", f.MerchantOrderNo)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.CreatedFrom != nil {
		add("created_at >= ?", db.ts(*f.CreatedFrom))
	}
	if f.CreatedTo != nil {
		add("created_at < ?", db.ts(*f.CreatedTo))
	}
	if f.Cursor != "" {
		id, err := decodeCursor(f.Cursor, paygate.PrefixOrder)
		if err != nil {
			return nil, "", err
		}
		add("id < ?", id)
	}
	limit := pageLimit(f.Limit)
	q := "SELECT " + orderColumns + " FROM orders WHERE " + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit+1)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list orders: %w", err)
	}
	defer rows.Close()
	var list []*paygate.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list orders: %w", err)
		}
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list orders: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].ID)
	}
	return list, next, nil
}

// UpdateOrder applies u as a compare-and-set: the UPDATE matches only while
// the order is in one of u.From (SourcesOf(u.To) when empty). When it
// applies and u.Event is set, the event is written in the same transaction,
// with its Data defaulting to the order as it is afterwards.
// Returns ENOTFOUND if the order does not exist.
func (db *DB) UpdateOrder(ctx context.Context, u paygate.OrderUpdate) (*paygate.Order, bool, error) {
	from := u.From
	if len(from) == 0 {
		from = paygate.SourcesOf(u.To)
	}
	if u.Expect != nil && db.dialect == DialectPostgres && len(from) > 0 {
		o, ok, err := db.updateOrderAsExpected(ctx, u, from)
		if err != nil || ok {
			return o, ok, err
		}
		// The order moved on since the caller's read. Usually another
		// path (a callback racing the channel's answer) already made the
		// transition: one read says so without a transaction.
		cur, err := db.OrderByID(ctx, u.OrderID)
		if err != nil {
			return nil, false, err
		}
		if !slices.Contains(from, cur.Status) {
			return cur, false, nil
		}
	}
	var o *paygate.Order
	var applied bool
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		if len(from) > 0 {
			o, err = tx.casOrder(ctx, u, from)
			if err != nil {
				return err
			}
		}
		if o == nil {
			o, err = tx.order(ctx, u.OrderID, false)
			return err
		}
		applied = true
		if u.Event != nil {
			return tx.insertEvent(ctx, u.Event, o, nil)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return o, applied, nil
}

// updateOrderAsExpected applies u, and writes u.Event, in one statement
// (one round trip, atomic on its own) when the order is still exactly
// u.Expect: same status among from, same updated_at. The order afterwards
// is then known without reading it back. ok=false means the order had
// moved on; the caller takes the general path, which decides anew.
func (db *DB) updateOrderAsExpected(ctx context.Context, u paygate.OrderUpdate, from []paygate.OrderStatus) (*paygate.Order, bool, error) {
	cur := u.Expect
	if cur.ID != u.OrderID || !slices.Contains(from, cur.Status) {
		return nil, false, nil
	}
	now := db.nowTime()
	set, args, err := db.orderSet(u, now)
	if err != nil {
		return nil, false, err
	}
	args = append(args, u.OrderID, string(cur.Status), db.ts(cur.UpdatedAt))
	update := "UPDATE orders SET " + strings.Join(set, ", ") + " WHERE id = ? AND status = ? AND updated_at = ?" +
		noRefundsIf(u.To)

	after := afterUpdate(cur, u, now)
	if u.Event == nil {
		n, err := db.execOne(ctx, "o:"+u.OrderID, update, args...)
		return after, err == nil && n == 1, err
	}
	// Fill a copy: the caller's event is updated only if this applies.
	ev := *u.Event
	e := &ev
	if err := fillEvent(e, now, after, nil); err != nil {
		return nil, false, err
	}
	q := "WITH u AS (" + update + " RETURNING id) " +
		`INSERT INTO events (id, merchant_id, type, order_id, refund_id, notify_url,
		data, created_at, delivery_status, attempts, next_attempt_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ? FROM u`
	args = append(args, e.ID, e.MerchantID, e.Type, e.OrderID, e.RefundID, e.NotifyURL, string(e.Data),
		db.ts(e.CreatedAt), DeliveryPending, db.ts(e.CreatedAt))
	n, err := db.execOne(ctx, "o:"+u.OrderID, q, args...)
	if err != nil || n != 1 {
		return nil, false, err
	}
	*u.Event = ev
	return after, true, nil
}

// afterUpdate is what the order becomes when u applies to cur at now: the
// same columns orderSet writes.
func afterUpdate(cur *paygate.Order, u paygate.OrderUpdate, now time.Time) *paygate.Order {
	o := *cur
	o.Status, o.UpdatedAt = u.To, now
	if u.To == paygate.OrderReversed {
		o.ReversingUntil = nil
	}
	if u.ChannelTradeNo != nil {
		o.ChannelTradeNo = *u.ChannelTradeNo
	}
	if u.PaidAt != nil {
		t := normTime(*u.PaidAt)
		o.PaidAt = &t
	}
	if u.Failure != nil {
		o.Failure = u.Failure
	}
	if u.QRCode != nil {
		o.QRCode = u.QRCode
	}
	if len(u.Credential) > 0 {
		o.Credential = u.Credential
	}
	if u.PayerID != nil {
		o.PayerID = *u.PayerID
	}
	if u.Amount != nil {
		o.Amount = *u.Amount
	}
	if u.AuthorizedAmount != nil {
		o.AuthorizedAmount = *u.AuthorizedAmount
	}
	if u.Fee != nil {
		o.Fee = *u.Fee
	}
	if u.NetAmount != nil {
		o.NetAmount = *u.NetAmount
	}
	if u.Route != nil {
		o.Route, o.Provider, o.Channel = u.Route, u.Route.Provider, u.Route.Channel
		if u.Fee == nil {
			o.Fee = u.Route.Fee
		}
		if u.NetAmount == nil {
			o.NetAmount = o.Amount - u.Route.Fee
		}
	}
	if u.ChannelRef != nil {
		o.ChannelRef = *u.ChannelRef
	}
	return &o
}

// orderSet is the SET clause of an order update and its arguments.
func (db *DB) orderSet(u paygate.OrderUpdate, now time.Time) ([]string, []any, error) {
	set := []string{"status = ?", "updated_at = ?"}
	args := []any{string(u.To), db.ts(now)}
	add := func(col string, arg any) {
		set = append(set, col+" = ?")
		args = append(args, arg)
	}
	if u.ChannelTradeNo != nil {
		add("channel_trade_no", *u.ChannelTradeNo)
	}
	if u.PaidAt != nil {
		add("paid_at", db.ts(*u.PaidAt))
	}
	if u.Failure != nil {
		f, err := jsonArg(u.Failure)
		if err != nil {
			return nil, nil, err
		}
		add("failure", f)
	}
	if u.QRCode != nil {
		add("qr_code", *u.QRCode)
	}
	if len(u.Credential) > 0 {
		add("credential", rawArg(u.Credential))
	}
	if u.PayerID != nil {
		add("payer_id", *u.PayerID)
	}
	if u.Amount != nil {
		add("amount", *u.Amount)
	}
	if u.AuthorizedAmount != nil {
		add("authorized_amount", *u.AuthorizedAmount)
	}
	if u.Fee != nil {
		add("fee", *u.Fee)
	}
	if u.NetAmount != nil {
		add("net_amount", *u.NetAmount)
	}
	if u.Route != nil {
		r, err := jsonArg(u.Route)
		if err != nil {
			return nil, nil, err
		}
		add("route", r)
		add("provider", u.Route.Provider)
		add("channel", u.Route.Channel)
		// Fee and NetAmount given with the route (a capture, which also
		// sets the amount) are set above; "amount" on the right-hand side
		// would be the amount before this update.
		if u.Fee == nil {
			add("fee", u.Route.Fee)
		}
		if u.NetAmount == nil {
			set = append(set, "net_amount = amount - ?")
			args = append(args, u.Route.Fee)
		}
	}
	if u.ChannelRef != nil {
		add("channel_ref", *u.ChannelRef)
	}
	if u.To == paygate.OrderReversed {
		set = append(set, "reversing_until = NULL")
	}
	return set, args, nil
}

// noRefundsIf is the extra condition of a compare-and-set to `to`: a
// reversal applies only while nothing is reserved for refunds (README,
// "Refunds and reversals"), whichever path (request, callback, query,
// background job) records it.
func noRefundsIf(to paygate.OrderStatus) string {
	if to == paygate.OrderReversed {
		return " AND refund_reserved = 0"
	}
	return ""
}

// BeginReversal claims the order for a reversal until `until` (see
// paygate.OrderStore): one conditional UPDATE, so that it and a refund's
// reservation, which requires reversing_until IS NULL, exclude each other
// whatever their interleaving.
func (db *DB) BeginReversal(ctx context.Context, orderID string, until time.Time) (*paygate.Order, bool, error) {
	q := `UPDATE orders SET reversing_until = ? WHERE id = ?
		AND status IN ('pending', 'authorized', 'succeeded') AND refund_reserved = 0
		AND (reversing_until IS NULL OR reversing_until <= ?) RETURNING ` + orderColumns
	var o *paygate.Order
	claimed := false
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		o, err = scanOrder(tx.queryRow(ctx, q, db.ts(until), orderID, db.ts(db.nowTime())))
		if errors.Is(err, sql.ErrNoRows) {
			o, err = tx.order(ctx, orderID, false)
			return err
		}
		if err != nil {
			return fmt.Errorf("store: begin reversal: %w", err)
		}
		claimed = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return o, claimed, nil
}

// EndReversal releases the claim BeginReversal made with `until`.
func (db *DB) EndReversal(ctx context.Context, orderID string, until time.Time) error {
	_, err := db.execOne(ctx, "o:"+orderID, "UPDATE orders SET reversing_until = NULL WHERE id = ? AND reversing_until = ?",
		orderID, db.ts(until))
	if err != nil {
		return fmt.Errorf("store: end reversal: %w", err)
	}
	return nil
}

// casOrder runs the conditional UPDATE and returns the order afterwards,
// or nil if the order was not in one of from.
func (tx *Tx) casOrder(ctx context.Context, u paygate.OrderUpdate, from []paygate.OrderStatus) (*paygate.Order, error) {
	set, args, err := tx.db.orderSet(u, tx.db.nowTime())
	if err != nil {
		return nil, err
	}
	args = append(args, u.OrderID)
	for _, s := range from {
		args = append(args, string(s))
	}
	q := "UPDATE orders SET " + strings.Join(set, ", ") + " WHERE id = ? AND status IN (" +
		placeholders(len(from)) + ")" + noRefundsIf(u.To) + " RETURNING " + orderColumns
	o, err := scanOrder(tx.queryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: update order: %w", err)
	}
	return o, nil
}

// order reads an order inside a transaction, locking its row when lock is
// set (PostgreSQL; SQLite's write transaction already excludes writers).
func (tx *Tx) order(ctx context.Context, id string, lock bool) (*paygate.Order, error) {
	q := "SELECT " + orderColumns + " FROM orders WHERE id = ?"
	if lock {
		q += tx.forUpdate()
	}
	o, err := scanOrder(tx.queryRow(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errOrderNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read order: %w", err)
	}
	return o, nil
}

// PendingOrders returns up to limit orders in status pending or authorized
// created before `before`, oldest first.
func (db *DB) PendingOrders(ctx context.Context, before time.Time, limit int) ([]*paygate.Order, error) {
	if limit <= 0 {
		limit = 100
	}
	q := "SELECT " + orderColumns + " FROM orders WHERE status IN ('pending', 'authorized') AND created_at < ?" +
		fmt.Sprintf(" ORDER BY created_at, id LIMIT %d", limit)
	rows, err := db.query(ctx, q, db.ts(before))
	if err != nil {
		return nil, fmt.Errorf("store: pending orders: %w", err)
	}
	defer rows.Close()
	var list []*paygate.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("store: pending orders: %w", err)
		}
		list = append(list, o)
	}
	return list, rows.Err()
}
