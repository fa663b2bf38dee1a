package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paygate-cn/paygate"
)

const idempotencyColumns = "merchant_id, key, request_hash, done, status_code, body, created_at, locked_until"

func scanIdempotency(s scanner) (*paygate.IdempotencyRecord, error) {
	var rec paygate.IdempotencyRecord
	err := s.Scan(&rec.MerchantID, &rec.Key, &rec.RequestHash, &rec.Done, &rec.StatusCode, &rec.Body,
		timeCol{&rec.CreatedAt}, timeCol{&rec.LockedUntil})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// BeginIdempotent claims (merchantID, key): it inserts a running record, or
// reads the one already there. It returns (nil, nil) when the caller owns
// the key, and the existing record otherwise. A running record with the
// same hash whose lock has expired is taken over with a compare-and-set on
// locked_until, so of two callers racing for it exactly one wins. A record
// with another hash is never taken over: its key was used for other
// parameters, which the caller answers with EIDEMPOTENCYREUSED.
func (db *DB) BeginIdempotent(ctx context.Context, merchantID, key, hash string, lockUntil time.Time) (*paygate.IdempotencyRecord, error) {
	now := db.nowTime()
	n, err := db.execOne(ctx, idempotencyKey(merchantID, key), `INSERT INTO idempotency_keys
		(merchant_id, key, request_hash, done, status_code, body, created_at, locked_until)
		VALUES (?, ?, ?, ?, 0, NULL, ?, ?) ON CONFLICT (merchant_id, key) DO NOTHING`,
		merchantID, key, hash, false, db.ts(now), db.ts(lockUntil))
	if err != nil {
		return nil, fmt.Errorf("store: begin idempotent: %w", err)
	}
	if n == 1 {
		return nil, nil
	}

	rec, err := db.idempotencyRecord(ctx, merchantID, key)
	if errors.Is(err, sql.ErrNoRows) {
		// Abandoned between our insert and read: the key is free again.
		return db.BeginIdempotent(ctx, merchantID, key, hash, lockUntil)
	}
	if err != nil {
		return nil, err
	}
	if rec.Done || rec.RequestHash != hash || !rec.LockedUntil.Before(now) {
		return rec, nil
	}
	n, err = db.execOne(ctx, idempotencyKey(merchantID, key), `UPDATE idempotency_keys SET locked_until = ?
		WHERE merchant_id = ? AND key = ? AND done = ? AND locked_until = ?`,
		db.ts(lockUntil), merchantID, key, false, db.ts(rec.LockedUntil))
	if err != nil {
		return nil, fmt.Errorf("store: take over idempotency key: %w", err)
	}
	if n == 1 {
		return nil, nil
	}
	// Someone else took it over or finished it first.
	rec, err = db.idempotencyRecord(ctx, merchantID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return db.BeginIdempotent(ctx, merchantID, key, hash, lockUntil)
	}
	return rec, err
}

// idempotencyRecord reads a record through the write pool, where the
// claim that preceded it ran. It returns sql.ErrNoRows if there is none.
func (db *DB) idempotencyRecord(ctx context.Context, merchantID, key string) (*paygate.IdempotencyRecord, error) {
	q := "SELECT " + idempotencyColumns + " FROM idempotency_keys WHERE merchant_id = ? AND key = ?"
	var rec *paygate.IdempotencyRecord
	var err error
	if db.pipe != nil {
		err = db.queryOne(ctx, idempotencyKey(merchantID, key), q, []any{merchantID, key}, func(s scanner) (err error) {
			rec, err = scanIdempotency(s)
			return err
		})
	} else {
		rec, err = scanIdempotency(db.w.QueryRowContext(ctx, db.rebind(q), merchantID, key))
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: read idempotency key: %w", err)
	}
	return rec, err
}

// FinishIdempotent stores the response of the request that owns the key.
// Returns ENOTFOUND if there is no record for the key.
func (db *DB) FinishIdempotent(ctx context.Context, merchantID, key string, status int, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	n, err := db.execOne(ctx, idempotencyKey(merchantID, key), `UPDATE idempotency_keys SET done = ?, status_code = ?, body = ?
		WHERE merchant_id = ? AND key = ?`, true, status, body, merchantID, key)
	if err != nil {
		return fmt.Errorf("store: finish idempotent: %w", err)
	}
	if n == 0 {
		return paygate.Errorf(paygate.ENOTFOUND, "no idempotency record for key %q", key)
	}
	return nil
}

// AbandonIdempotent deletes a running record so that a retry runs anew. A
// finished record is kept: its response has been given.
func (db *DB) AbandonIdempotent(ctx context.Context, merchantID, key string) error {
	_, err := db.w.ExecContext(ctx, db.rebind("DELETE FROM idempotency_keys WHERE merchant_id = ? AND key = ? AND done = ?"),
		merchantID, key, false)
	if err != nil {
		return fmt.Errorf("store: abandon idempotent: %w", err)
	}
	return nil
}

// PurgeIdempotent deletes records created before `before` and returns how
// many it deleted.
func (db *DB) PurgeIdempotent(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.rebind("DELETE FROM idempotency_keys WHERE created_at < ?"), db.ts(before))
	if err != nil {
		return 0, fmt.Errorf("store: purge idempotent: %w", err)
	}
	return res.RowsAffected()
}

// idempotencyKey is the pipeline's ordering key of an idempotency record.
func idempotencyKey(merchantID, key string) string { return "i:" + merchantID + "\x00" + key }
