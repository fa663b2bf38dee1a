package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paygate-cn/paygate"
)

var _ paygate.QRCodeStore = (*DB)(nil)

const qrCodeColumns = `id, merchant_id, code, terminal_id, store_name, amount, description, created_at, deactivated_at`

func scanQRCode(s scanner) (*paygate.QRCode, error) {
	var q paygate.QRCode
	var amount sql.NullInt64
	err := s.Scan(&q.ID, &q.MerchantID, &q.Code, &q.TerminalID, &q.StoreName, &amount, &q.Description,
		timeCol{&q.CreatedAt}, timePtrCol{&q.DeactivatedAt})
	if err != nil {
		return nil, err
	}
	if amount.Valid {
		q.Amount = &amount.Int64
	}
	q.Active = q.DeactivatedAt == nil
	return &q, nil
}

func errQRCodeNotFound(id string) error {
	return paygate.Errorf(paygate.ENOTFOUND, "no such qr_code: %s", id)
}

// CreateQRCode inserts q; it fills an empty ID and a zero CreatedAt.
// Returns ECONFLICT if its id or code already exists.
func (db *DB) CreateQRCode(ctx context.Context, q *paygate.QRCode) error {
	if q.CreatedAt.IsZero() {
		q.CreatedAt = db.nowTime()
	}
	q.CreatedAt = normTime(q.CreatedAt)
	if q.ID == "" {
		q.ID = paygate.NewID(paygate.PrefixQRCode, q.CreatedAt)
	}
	if q.DeactivatedAt != nil {
		t := normTime(*q.DeactivatedAt)
		q.DeactivatedAt = &t
	}
	q.Active = q.DeactivatedAt == nil
	var amount any
	if q.Amount != nil {
		amount = *q.Amount
	}
	stmt := "INSERT INTO qr_codes (" + qrCodeColumns + ") VALUES (" + placeholders(9) + ")"
	_, err := db.w.ExecContext(ctx, db.rebind(stmt), q.ID, q.MerchantID, q.Code, q.TerminalID, q.StoreName,
		amount, q.Description, db.ts(q.CreatedAt), db.tsp(q.DeactivatedAt))
	if isUniqueViolation(err) {
		return paygate.Errorf(paygate.ECONFLICT, "qr_code %s already exists", q.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert qr_code: %w", err)
	}
	return nil
}

// QRCode returns a merchant's code by id.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) QRCode(ctx context.Context, merchantID, id string) (*paygate.QRCode, error) {
	q, err := scanQRCode(db.queryRow(ctx, "SELECT "+qrCodeColumns+" FROM qr_codes WHERE id = ? AND merchant_id = ?", id, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errQRCodeNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read qr_code: %w", err)
	}
	return q, nil
}

// QRCodeByCode returns the code with the given URL token, of any merchant.
// Returns ENOTFOUND if there is none.
func (db *DB) QRCodeByCode(ctx context.Context, code string) (*paygate.QRCode, error) {
	q, err := scanQRCode(db.queryRow(ctx, "SELECT "+qrCodeColumns+" FROM qr_codes WHERE code = ?", code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such qr code")
	}
	if err != nil {
		return nil, fmt.Errorf("store: read qr_code: %w", err)
	}
	return q, nil
}

// QRCodes lists a merchant's codes newest first.
// Returns EPARAMINVALID for a bad cursor.
func (db *DB) QRCodes(ctx context.Context, f paygate.QRCodeFilter) ([]*paygate.QRCode, string, error) {
	if f.MerchantID == "" {
		return nil, "", errors.New("store: QRCodes needs a merchant")
	}
	stmt := "SELECT " + qrCodeColumns + " FROM qr_codes WHERE merchant_id = ?"
	args := []any{f.MerchantID}
	if f.Cursor != "" {
		id, err := decodeCursor(f.Cursor, paygate.PrefixQRCode)
		if err != nil {
			return nil, "", err
		}
		stmt += " AND id < ?"
		args = append(args, id)
	}
	limit := pageLimit(f.Limit)
	stmt += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit+1)
	rows, err := db.query(ctx, stmt, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list qr_codes: %w", err)
	}
	defer rows.Close()
	var list []*paygate.QRCode
	for rows.Next() {
		q, err := scanQRCode(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list qr_codes: %w", err)
		}
		list = append(list, q)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list qr_codes: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].ID)
	}
	return list, next, nil
}

// DeactivateQRCode deactivates a code; an inactive code stays as it is.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) DeactivateQRCode(ctx context.Context, merchantID, id string, at time.Time) (*paygate.QRCode, error) {
	stmt := "UPDATE qr_codes SET deactivated_at = ? WHERE id = ? AND merchant_id = ? AND deactivated_at IS NULL"
	if _, err := db.w.ExecContext(ctx, db.rebind(stmt), db.ts(at), id, merchantID); err != nil {
		return nil, fmt.Errorf("store: deactivate qr_code: %w", err)
	}
	return db.QRCode(ctx, merchantID, id)
}
