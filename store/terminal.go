package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paygate-cn/paygate"
)

var _ paygate.TerminalStore = (*DB)(nil)

const terminalColumns = `id, merchant_id, terminal_id, serial_no, model, region_code, status, key_id,
	created_at, activated_at, deactivated_at, activation_expires_at`

func scanTerminal(s scanner) (*paygate.Terminal, error) {
	var t paygate.Terminal
	err := s.Scan(&t.ID, &t.MerchantID, &t.TerminalID, &t.SerialNo, &t.Model, &t.RegionCode, &t.Status,
		&t.KeyID, timeCol{&t.CreatedAt}, timePtrCol{&t.ActivatedAt}, timePtrCol{&t.DeactivatedAt},
		timePtrCol{&t.ActivationExpiresAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func errTerminalNotFound(id string) error {
	return paygate.Errorf(paygate.ENOTFOUND, "no such terminal: %s", id)
}

// CreateTerminal inserts t (status pending_activation unless set) with the
// hash of its activation code; it fills an empty ID and zero CreatedAt.
// Returns ECONFLICT if the merchant already has t.TerminalID.
func (db *DB) CreateTerminal(ctx context.Context, t *paygate.Terminal, codeHash string) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.nowTime()
	}
	t.CreatedAt = normTime(t.CreatedAt)
	if t.ID == "" {
		t.ID = paygate.NewID(paygate.PrefixTerminal, t.CreatedAt)
	}
	if t.Status == "" {
		t.Status = paygate.TerminalPendingActivation
	}
	q := "INSERT INTO terminals (id, merchant_id, terminal_id, serial_no, model, region_code, status, " +
		"activation_code_hash, key_id, created_at, activation_expires_at) VALUES (" + placeholders(11) + ")"
	if t.ActivationExpiresAt != nil {
		e := normTime(*t.ActivationExpiresAt)
		t.ActivationExpiresAt = &e
	}
	_, err := db.w.ExecContext(ctx, db.rebind(q), t.ID, t.MerchantID, t.TerminalID, t.SerialNo, t.Model,
		t.RegionCode, t.Status, codeHash, t.KeyID, db.ts(t.CreatedAt), db.tsp(t.ActivationExpiresAt))
	if isUniqueViolation(err) {
		if _, gerr := db.TerminalByNumber(ctx, t.MerchantID, t.TerminalID); gerr == nil {
			return paygate.ParamErrorf(paygate.ECONFLICT, "terminal_id", "terminal_id %q is already registered", t.TerminalID)
		}
		return paygate.Errorf(paygate.ECONFLICT, "terminal %s already exists", t.ID)
	}
	if err != nil {
		return fmt.Errorf("store: insert terminal: %w", err)
	}
	return nil
}

// Terminal returns a merchant's terminal by its id.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) Terminal(ctx context.Context, merchantID, id string) (*paygate.Terminal, error) {
	q := "SELECT " + terminalColumns + " FROM terminals WHERE id = ? AND merchant_id = ?"
	t, err := scanTerminal(db.queryRow(ctx, q, id, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errTerminalNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read terminal: %w", err)
	}
	return t, nil
}

// TerminalByNumber returns a merchant's terminal by its terminal id.
// Returns ENOTFOUND if there is none.
func (db *DB) TerminalByNumber(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error) {
	q := "SELECT " + terminalColumns + " FROM terminals WHERE merchant_id = ? AND terminal_id = ?"
	t, err := scanTerminal(db.queryRow(ctx, q, merchantID, terminalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no terminal %q", terminalID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read terminal: %w", err)
	}
	return t, nil
}

// ActivateTerminal consumes an activation code: the pending terminal with
// codeHash becomes active, its code hash is cleared (a code works once) and
// the key is inserted, in one transaction. Two concurrent activations with
// one code: the compare-and-set on the status lets exactly one through.
// A code without an expiry (issued before codes had one) does not work.
// Returns ENOTFOUND if no pending terminal has the code,
// EACTIVATIONEXPIRED if its expiry is at or before at.
func (db *DB) ActivateTerminal(ctx context.Context, codeHash, keyID, sealedSecret string, at time.Time) (*paygate.Terminal, error) {
	at = normTime(at)
	var t *paygate.Terminal
	err := db.inTx(ctx, func(tx *Tx) error {
		q := "UPDATE terminals SET status = ?, activation_code_hash = NULL, activation_expires_at = NULL, " +
			"key_id = ?, activated_at = ? " +
			"WHERE activation_code_hash = ? AND status = ? AND activation_expires_at > ? RETURNING " + terminalColumns
		var err error
		t, err = scanTerminal(tx.queryRow(ctx, q, paygate.TerminalActive, keyID, db.ts(at), codeHash,
			paygate.TerminalPendingActivation, db.ts(at)))
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			err = tx.queryRow(ctx, "SELECT COUNT(*) FROM terminals WHERE activation_code_hash = ? AND status = ?",
				codeHash, paygate.TerminalPendingActivation).Scan(&n)
			if err != nil {
				return fmt.Errorf("store: activate terminal: %w", err)
			}
			if n > 0 {
				return paygate.ParamErrorf(paygate.EACTIVATIONEXPIRED, "activation_code",
					"the activation code has expired; ask the merchant for a new one")
			}
			return paygate.ParamErrorf(paygate.ENOTFOUND, "activation_code", "unknown or already used activation code")
		}
		if err != nil {
			return fmt.Errorf("store: activate terminal: %w", err)
		}
		_, err = tx.exec(ctx, "INSERT INTO terminal_keys (id, terminal_pk, merchant_id, terminal_id, sealed_secret, created_at) "+
			"VALUES (?, ?, ?, ?, ?, ?)", keyID, t.ID, t.MerchantID, t.TerminalID, sealedSecret, db.ts(at))
		if err != nil {
			return fmt.Errorf("store: insert terminal key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ReissueActivationCode replaces a pending terminal's activation code hash
// and expiry; the old code stops working with the same statement.
// Returns ENOTFOUND if the terminal does not exist or belongs to another
// merchant, EINVALIDSTATE if it is not pending activation.
func (db *DB) ReissueActivationCode(ctx context.Context, merchantID, id, codeHash string, expiresAt time.Time) (*paygate.Terminal, error) {
	q := "UPDATE terminals SET activation_code_hash = ?, activation_expires_at = ? " +
		"WHERE id = ? AND merchant_id = ? AND status = ? RETURNING " + terminalColumns
	t, err := scanTerminal(db.w.QueryRowContext(ctx, db.rebind(q), codeHash, db.ts(expiresAt), id, merchantID,
		paygate.TerminalPendingActivation))
	if errors.Is(err, sql.ErrNoRows) {
		cur, gerr := db.Terminal(ctx, merchantID, id)
		if gerr != nil {
			return nil, gerr
		}
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "terminal %s is %s; only a terminal pending activation gets a new code",
			id, cur.Status)
	}
	if isUniqueViolation(err) {
		return nil, paygate.Errorf(paygate.ECONFLICT, "activation code collision; retry")
	}
	if err != nil {
		return nil, fmt.Errorf("store: reissue activation code: %w", err)
	}
	return t, nil
}

// DeactivateTerminal deactivates a terminal (pending or active) and revokes
// its keys in one transaction; deactivating twice changes nothing.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) DeactivateTerminal(ctx context.Context, merchantID, id string, at time.Time) (*paygate.Terminal, error) {
	at = normTime(at)
	var t *paygate.Terminal
	err := db.inTx(ctx, func(tx *Tx) error {
		q := "UPDATE terminals SET status = ?, activation_code_hash = NULL, activation_expires_at = NULL, deactivated_at = ? " +
			"WHERE id = ? AND merchant_id = ? AND status <> ? RETURNING " + terminalColumns
		var err error
		t, err = scanTerminal(tx.queryRow(ctx, q, paygate.TerminalDeactivated, db.ts(at), id, merchantID,
			paygate.TerminalDeactivated))
		if errors.Is(err, sql.ErrNoRows) {
			t, err = scanTerminal(tx.queryRow(ctx, "SELECT "+terminalColumns+" FROM terminals WHERE id = ? AND merchant_id = ?", id, merchantID))
			if errors.Is(err, sql.ErrNoRows) {
				return errTerminalNotFound(id)
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("store: deactivate terminal: %w", err)
		}
		_, err = tx.exec(ctx, "UPDATE terminal_keys SET revoked_at = ? WHERE terminal_pk = ? AND revoked_at IS NULL", db.ts(at), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// TerminalKey returns an active terminal key (its terminal active too) with
// its sealed secret. Returns EINVALIDKEY if unknown or revoked.
func (db *DB) TerminalKey(ctx context.Context, keyID string) (*paygate.APIKey, string, error) {
	q := "SELECT k.id, k.merchant_id, k.terminal_id, k.sealed_secret, k.created_at FROM terminal_keys k " +
		"JOIN terminals t ON t.id = k.terminal_pk WHERE k.id = ? AND k.revoked_at IS NULL AND t.status = ?"
	var k paygate.APIKey
	var sealed string
	err := db.queryRow(ctx, q, keyID, paygate.TerminalActive).Scan(&k.ID, &k.MerchantID, &k.TerminalID, &sealed, timeCol{&k.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", paygate.Errorf(paygate.EINVALIDKEY, "unknown API key")
	}
	if err != nil {
		return nil, "", fmt.Errorf("store: read terminal key: %w", err)
	}
	return &k, sealed, nil
}
