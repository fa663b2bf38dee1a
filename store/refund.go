package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

const refundColumns = `id, merchant_id, order_id, merchant_refund_no, status, amount, currency,
	reason, provider, channel_refund_no, failure, created_at, updated_at, succeeded_at`

func scanRefund(s scanner) (*paygate.Refund, error) {
	var r paygate.Refund
	err := s.Scan(&r.ID, &r.MerchantID, &r.OrderID, &r.MerchantRefundNo, &r.Status, &r.Amount,
		&r.Currency, &r.Reason, &r.Provider, &r.ChannelRefundNo, jsonCol{&r.Failure},
		timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, timePtrCol{&r.SucceededAt})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func errDupRefundNo(no string) error {
	return paygate.ParamErrorf(paygate.EDUPREFUNDNO, "merchant_refund_no",
		"merchant_refund_no %q was already used", no)
}

// CreateRefund inserts a pending refund and reserves its amount on the
// order in one transaction that holds the order's row lock (PostgreSQL
// SELECT ... FOR UPDATE; SQLite's immediate write transaction), so
// concurrent refunds can never reserve more than the order's amount. It
// fills an empty ID, Currency and Provider (from the order), the status and
// the times.
// Returns ENOTFOUND if the order does not exist for r.MerchantID,
// EINVALIDSTATE if the order is not paid, EREFUNDEXCEEDS if the amount
// would exceed what remains, EDUPREFUNDNO if r.MerchantRefundNo was used.
func (db *DB) CreateRefund(ctx context.Context, r *paygate.Refund) error {
	if r.Amount <= 0 {
		return paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive number of fen")
	}
	err := db.inTx(ctx, func(tx *Tx) error {
		o, err := tx.order(ctx, r.OrderID, true)
		if err != nil {
			return err
		}
		if o.MerchantID != r.MerchantID {
			return errOrderNotFound(r.OrderID)
		}
		var n int
		err = tx.queryRow(ctx, "SELECT COUNT(*) FROM refunds WHERE merchant_id = ? AND merchant_refund_no = ?",
			r.MerchantID, r.MerchantRefundNo).Scan(&n)
		if err != nil {
			return fmt.Errorf("store: check refund number: %w", err)
		}
		if n > 0 {
			return errDupRefundNo(r.MerchantRefundNo)
		}
		if o.Status != paygate.OrderSucceeded && o.Status != paygate.OrderPartiallyRefunded {
			return paygate.Errorf(paygate.EINVALIDSTATE, "order %s is %s and cannot be refunded", o.ID, o.Status)
		}
		if o.ReversingUntil != nil {
			return errReversing(o.ID)
		}
		if o.RefundReserved+r.Amount > o.Amount {
			return paygate.ParamErrorf(paygate.EREFUNDEXCEEDS, "amount",
				"refund of %d exceeds the %d that remains refundable", r.Amount, o.Amount-o.RefundReserved)
		}
		return tx.insertRefund(ctx, r, o)
	})
	if isUniqueViolation(err) {
		// A racing refund took the number between the check and the insert.
		return errDupRefundNo(r.MerchantRefundNo)
	}
	return err
}

func (tx *Tx) insertRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) error {
	db := tx.db
	now := db.nowTime()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt = normTime(r.CreatedAt)
	r.UpdatedAt = r.CreatedAt
	if r.ID == "" {
		r.ID = paygate.NewID(paygate.PrefixRefund, r.CreatedAt)
	}
	if r.Currency == "" {
		r.Currency = o.Currency
	}
	if r.Provider == "" {
		r.Provider = o.Provider
	}
	r.Status = paygate.RefundPending
	r.SucceededAt = nil
	failure, err := jsonArg(r.Failure)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO refunds ("+refundColumns+") VALUES ("+placeholders(14)+")",
		r.ID, r.MerchantID, r.OrderID, r.MerchantRefundNo, string(r.Status), r.Amount, r.Currency,
		r.Reason, r.Provider, r.ChannelRefundNo, failure, db.ts(r.CreatedAt), db.ts(r.UpdatedAt), nil)
	if err != nil {
		// Unique violations are mapped by the caller after rollback.
		return err
	}
	// The reservation is itself a compare-and-set: the order must still be
	// refundable and no reversal may be in flight (README, "Refunds and
	// reversals"); BeginReversal requires the converse.
	res, err := tx.exec(ctx, `UPDATE orders SET refund_reserved = refund_reserved + ?
		WHERE id = ? AND status IN ('succeeded', 'partially_refunded') AND reversing_until IS NULL
		AND refund_reserved + ? <= amount`, r.Amount, o.ID, r.Amount)
	if err != nil {
		return fmt.Errorf("store: reserve refund: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errReversing(o.ID)
	}
	return nil
}

func errReversing(orderID string) error {
	return paygate.Errorf(paygate.EINVALIDSTATE,
		"order %s is being reversed and cannot be refunded; its reversal decides", orderID)
}

// MerchantRefund returns one of merchantID's refunds by id.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) MerchantRefund(ctx context.Context, merchantID, id string) (*paygate.Refund, error) {
	return db.refund(ctx, id, "SELECT "+refundColumns+" FROM refunds WHERE id = ? AND merchant_id = ?", id, merchantID)
}

// RefundByID returns a refund by id, whichever merchant's it is.
// Returns ENOTFOUND if it does not exist.
func (db *DB) RefundByID(ctx context.Context, id string) (*paygate.Refund, error) {
	return db.refund(ctx, id, "SELECT "+refundColumns+" FROM refunds WHERE id = ?", id)
}

func (db *DB) refund(ctx context.Context, id, q string, args ...any) (*paygate.Refund, error) {
	r, err := scanRefund(db.queryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such refund: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read refund: %w", err)
	}
	return r, nil
}

// RefundsOfOrder returns an order's refunds, oldest first.
func (db *DB) RefundsOfOrder(ctx context.Context, orderID string) ([]*paygate.Refund, error) {
	return db.refunds(ctx, "SELECT "+refundColumns+" FROM refunds WHERE order_id = ? ORDER BY created_at, id", orderID)
}

// PendingRefunds returns up to limit pending refunds created before
// `before`, oldest first.
func (db *DB) PendingRefunds(ctx context.Context, before time.Time, limit int) ([]*paygate.Refund, error) {
	if limit <= 0 {
		limit = 100
	}
	return db.refunds(ctx, "SELECT "+refundColumns+" FROM refunds WHERE status = 'pending' AND created_at < ?"+
		fmt.Sprintf(" ORDER BY created_at, id LIMIT %d", limit), db.ts(before))
}

func (db *DB) refunds(ctx context.Context, q string, args ...any) ([]*paygate.Refund, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list refunds: %w", err)
	}
	defer rows.Close()
	var list []*paygate.Refund
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list refunds: %w", err)
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// UpdateRefund moves a pending refund to succeeded or failed as a
// compare-and-set. Success adds the amount to the order's refunded amount
// and moves the order to refunded or partially_refunded; failure releases
// the reservation. Both, and u.Events, happen in one transaction and only
// if the refund was still pending.
// Returns ENOTFOUND if the refund does not exist.
func (db *DB) UpdateRefund(ctx context.Context, u paygate.RefundUpdate) (*paygate.Refund, bool, error) {
	if u.To != paygate.RefundSucceeded && u.To != paygate.RefundFailed {
		return nil, false, fmt.Errorf("store: refund cannot move to %q", u.To)
	}
	var r *paygate.Refund
	var applied bool
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		r, err = tx.casRefund(ctx, u)
		if err != nil {
			return err
		}
		if r == nil {
			r, err = scanRefund(tx.queryRow(ctx, "SELECT "+refundColumns+" FROM refunds WHERE id = ?", u.RefundID))
			if errors.Is(err, sql.ErrNoRows) {
				return paygate.Errorf(paygate.ENOTFOUND, "no such refund: %s", u.RefundID)
			}
			return err
		}
		applied = true
		o, err := tx.settleRefund(ctx, r)
		if err != nil {
			return err
		}
		for _, e := range u.Events {
			// The order event reports the order's status after this very
			// update: concurrent refunds each see the sum they made.
			if strings.HasPrefix(e.Type, "order.") {
				e.Type = paygate.OrderEventType(o.Status)
			}
			if err := tx.insertEvent(ctx, e, o, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return r, applied, nil
}

// casRefund updates the refund if it is pending and returns it afterwards,
// or nil if it was not pending.
func (tx *Tx) casRefund(ctx context.Context, u paygate.RefundUpdate) (*paygate.Refund, error) {
	db := tx.db
	now := db.nowTime()
	at := u.At
	if at.IsZero() {
		at = now
	}
	set := "status = ?, updated_at = ?"
	args := []any{string(u.To), db.ts(now)}
	if u.To == paygate.RefundSucceeded {
		set += ", succeeded_at = ?"
		args = append(args, db.ts(at))
	}
	if u.ChannelRefundNo != nil {
		set += ", channel_refund_no = ?"
		args = append(args, *u.ChannelRefundNo)
	}
	if u.Failure != nil {
		f, err := jsonArg(u.Failure)
		if err != nil {
			return nil, err
		}
		set += ", failure = ?"
		args = append(args, f)
	}
	args = append(args, u.RefundID, string(paygate.RefundPending))
	r, err := scanRefund(tx.queryRow(ctx, "UPDATE refunds SET "+set+" WHERE id = ? AND status = ? RETURNING "+refundColumns, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: update refund: %w", err)
	}
	return r, nil
}

// settleRefund applies a refund's final status to its order and returns
// the order afterwards. SET expressions read the row as it was before the
// update, in both dialects.
func (tx *Tx) settleRefund(ctx context.Context, r *paygate.Refund) (*paygate.Order, error) {
	db := tx.db
	var q string
	var args []any
	if r.Status == paygate.RefundSucceeded {
		// A compare-and-set like every status change: only a paid order
		// holds reserved refunds (a reversal never starts while one is
		// reserved), so any other status is an inconsistency to stop at,
		// not to overwrite.
		q = `UPDATE orders SET refunded_amount = refunded_amount + ?,
			status = CASE WHEN refunded_amount + ? >= amount THEN ? ELSE ? END,
			updated_at = ? WHERE id = ? AND status IN ('succeeded', 'partially_refunded') RETURNING ` + orderColumns
		args = []any{r.Amount, r.Amount, string(paygate.OrderRefunded),
			string(paygate.OrderPartiallyRefunded), db.ts(db.nowTime()), r.OrderID}
	} else {
		q = "UPDATE orders SET refund_reserved = refund_reserved - ?, updated_at = ? WHERE id = ? RETURNING " + orderColumns
		args = []any{r.Amount, db.ts(db.nowTime()), r.OrderID}
	}
	o, err := scanOrder(tx.queryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ECONFLICT, "refund %s succeeded but its order %s is no longer refundable", r.ID, r.OrderID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: settle refund on order: %w", err)
	}
	return o, nil
}
