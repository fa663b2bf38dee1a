package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

var _ paygate.ReconciliationStore = (*DB)(nil)

const runColumns = `r.id, r.provider, r.date, r.status, r.failure, r.bill_sha1, r.started_at, r.finished_at,
	r.holder, r.lease_until`

// runCounts selects the counts of a run: the provider's, or with a
// merchant the merchant's share (zero when it had no line in the run).
func runCounts(merchant bool) (cols, join string) {
	if !merchant {
		return "r.paygate_count, r.paygate_amount, r.channel_count, r.channel_amount, r.outcomes", ""
	}
	return `COALESCE(m.paygate_count, 0), COALESCE(m.paygate_amount, 0), COALESCE(m.channel_count, 0),
		COALESCE(m.channel_amount, 0), COALESCE(m.outcomes, '{}')`,
		" LEFT JOIN reconciliation_run_merchants m ON m.run_id = r.id AND m.merchant_id = ?"
}

func scanRun(s scanner) (*paygate.Reconciliation, error) {
	var r paygate.Reconciliation
	var outcomes string
	err := s.Scan(&r.ID, &r.Provider, &r.Date, &r.Status, &r.Failure, &r.BillSHA1,
		timeCol{&r.StartedAt}, timePtrCol{&r.FinishedAt}, &r.Holder, timeCol{&r.LeaseUntil},
		&r.Paygate.Count, &r.Paygate.Amount, &r.Channel.Count, &r.Channel.Amount, &outcomes)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(outcomes), &r.Outcomes); err != nil {
		return nil, fmt.Errorf("store: run outcomes: %w", err)
	}
	return &r, nil
}

func outcomesArg(m map[paygate.ReconOutcome]int64) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// StartReconciliation records r as running for r.Holder until
// r.LeaseUntil, filling ID and StartedAt. In the same transaction, a
// running run of the provider and day whose lease has passed (its holder
// stopped renewing it: the process died) is failed as abandoned. A unique
// index keeps one run of a provider and day running: while another holds
// a valid lease, it returns EINVALIDSTATE.
func (db *DB) StartReconciliation(ctx context.Context, r *paygate.Reconciliation) error {
	now := db.nowTime()
	r.StartedAt = now
	if r.ID == "" {
		r.ID = paygate.NewID(paygate.PrefixRecon, r.StartedAt)
	}
	r.Status = paygate.RunRunning
	r.LeaseUntil = normTime(r.LeaseUntil)
	err := db.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, failAbandonedRuns+` AND provider = ? AND date = ?`,
			db.failAbandonedArgs(now, r.Provider, r.Date)...); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO reconciliation_runs
			(id, provider, date, status, started_at, holder, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Provider, r.Date, string(r.Status), db.ts(r.StartedAt), r.Holder, db.ts(r.LeaseUntil))
		return err
	})
	if isUniqueViolation(err) {
		return paygate.Errorf(paygate.EINVALIDSTATE, "a reconciliation of %s for %s is already running", r.Provider, r.Date)
	}
	if err != nil {
		return fmt.Errorf("store: start reconciliation: %w", err)
	}
	return nil
}

// failAbandonedRuns fails running runs whose lease has passed (their
// holder stopped renewing it: the process died); failAbandonedArgs gives
// its arguments, then those of any condition appended.
const failAbandonedRuns = `UPDATE reconciliation_runs SET status = ?,
	failure = 'abandoned: its holder ' || holder || ' stopped renewing its lease', finished_at = ?
	WHERE status = ? AND (lease_until IS NULL OR lease_until <= ?)`

func (db *DB) failAbandonedArgs(now time.Time, more ...any) []any {
	return append([]any{string(paygate.RunFailed), db.ts(now), string(paygate.RunRunning), db.ts(now)}, more...)
}

// FailAbandonedReconciliations fails every running run whose lease has
// passed, whatever its provider and day, and returns how many it failed:
// the daily job's sweep, so that a run started by hand whose process died
// does not stay running until its day is run again.
func (db *DB) FailAbandonedReconciliations(ctx context.Context) (int, error) {
	res, err := db.w.ExecContext(ctx, db.rebind(failAbandonedRuns), db.failAbandonedArgs(db.nowTime())...)
	if err != nil {
		return 0, fmt.Errorf("store: fail abandoned reconciliations: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RenewReconciliation extends the lease of holder's running run.
// Returns ENOTFOUND for an unknown run, EINVALIDSTATE if it is no longer
// running or no longer holder's.
func (db *DB) RenewReconciliation(ctx context.Context, id, holder string, until time.Time) error {
	res, err := db.w.ExecContext(ctx, db.rebind(`UPDATE reconciliation_runs SET lease_until = ?
		WHERE id = ? AND holder = ? AND status = ?`), db.ts(until), id, holder, string(paygate.RunRunning))
	if err != nil {
		return fmt.Errorf("store: renew reconciliation: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	r, err := db.Reconciliation(ctx, "", id)
	if err != nil {
		return err
	}
	return paygate.Errorf(paygate.EINVALIDSTATE, "reconciliation %s is %s (held by %q)", id, r.Status, r.Holder)
}

// FinishReconciliation records a run's outcome, its merchants' shares, its
// discrepancies and its crossings in one transaction.
// Returns ENOTFOUND for an unknown run, EINVALIDSTATE if it is not running.
func (db *DB) FinishReconciliation(ctx context.Context, r *paygate.Reconciliation, merchants map[string]*paygate.ReconCounts, ds []*paygate.Discrepancy, crossed []string) error {
	now := db.nowTime()
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE reconciliation_runs SET status = ?, paygate_count = ?, paygate_amount = ?,
			channel_count = ?, channel_amount = ?, outcomes = ?, bill_sha1 = ?, finished_at = ?
			WHERE id = ? AND status = ?`,
			string(paygate.RunSucceeded), r.Paygate.Count, r.Paygate.Amount, r.Channel.Count, r.Channel.Amount,
			outcomesArg(r.Outcomes), r.BillSHA1, db.ts(now), r.ID, string(paygate.RunRunning))
		if err != nil {
			return fmt.Errorf("store: finish reconciliation: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return db.runNotRunning(ctx, tx, r.ID)
		}
		for id, c := range merchants {
			_, err := tx.exec(ctx, `INSERT INTO reconciliation_run_merchants (run_id, merchant_id, paygate_count,
				paygate_amount, channel_count, channel_amount, outcomes) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				r.ID, id, c.Paygate.Count, c.Paygate.Amount, c.Channel.Count, c.Channel.Amount, outcomesArg(c.Outcomes))
			if err != nil {
				return fmt.Errorf("store: reconciliation merchant: %w", err)
			}
		}
		for _, d := range ds {
			if err := db.insertDiscrepancy(ctx, tx, r, d, now); err != nil {
				return err
			}
		}
		for _, key := range crossed {
			_, err := tx.exec(ctx, "INSERT INTO reconciliation_crossings (run_id, provider, txn_key) VALUES (?, ?, ?)",
				r.ID, r.Provider, key)
			if err != nil {
				return fmt.Errorf("store: reconciliation crossing: %w", err)
			}
			// The neighbouring day, reconciled first, called it missing:
			// this bill shows it, so that discrepancy is settled.
			kind, id, _ := strings.Cut(key, ":")
			col := "order_id"
			if kind == "r" {
				col = "refund_id"
			}
			_, err = tx.exec(ctx, `UPDATE reconciliation_discrepancies SET resolution = ?, note = ?, resolved_at = ?
				WHERE `+col+` = ? AND provider = ? AND outcome = ? AND resolution = ? AND run_id <> ?`,
				string(paygate.ResolutionAccepted), "matched across midnight in the bill of "+r.Date, db.ts(now),
				id, r.Provider, string(paygate.ReconMissingAtChannel), string(paygate.ResolutionOpen), r.ID)
			if err != nil {
				return fmt.Errorf("store: settle crossing: %w", err)
			}
		}
		r.Status, r.FinishedAt = paygate.RunSucceeded, &now
		return nil
	})
}

func (db *DB) runNotRunning(ctx context.Context, tx *Tx, id string) error {
	var status string
	err := tx.queryRow(ctx, "SELECT status FROM reconciliation_runs WHERE id = ?", id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return paygate.Errorf(paygate.ENOTFOUND, "no such reconciliation: %s", id)
	}
	if err != nil {
		return fmt.Errorf("store: read reconciliation: %w", err)
	}
	return paygate.Errorf(paygate.EINVALIDSTATE, "reconciliation %s is %s", id, status)
}

func (db *DB) insertDiscrepancy(ctx context.Context, tx *Tx, r *paygate.Reconciliation, d *paygate.Discrepancy, now time.Time) error {
	d.CreatedAt = now
	if d.ID == "" {
		d.ID = paygate.NewID(paygate.PrefixDiscrepancy, now)
	}
	d.RunID, d.Provider, d.Date = r.ID, r.Provider, r.Date
	if d.Resolution == "" {
		d.Resolution = paygate.ResolutionOpen
	}
	pg, err := jsonArg(d.Paygate)
	if err != nil {
		return err
	}
	ch, err := jsonArg(d.Channel)
	if err != nil {
		return err
	}
	var resolved any
	if d.Resolution != paygate.ResolutionOpen {
		d.ResolvedAt = &now
		resolved = db.ts(now)
	}
	_, err = tx.exec(ctx, `INSERT INTO reconciliation_discrepancies (id, run_id, provider, date, merchant_id,
		outcome, order_id, refund_id, paygate, channel, resolution, note, created_at, resolved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.RunID, d.Provider, d.Date, d.MerchantID, string(d.Outcome), d.OrderID, d.RefundID,
		pg, ch, string(d.Resolution), d.Note, db.ts(now), resolved)
	if err != nil {
		return fmt.Errorf("store: insert discrepancy: %w", err)
	}
	return nil
}

// FailReconciliation marks a running run failed.
// Returns ENOTFOUND for an unknown run.
func (db *DB) FailReconciliation(ctx context.Context, id, failure string) error {
	res, err := db.w.ExecContext(ctx, db.rebind(`UPDATE reconciliation_runs SET status = ?, failure = ?, finished_at = ?
		WHERE id = ? AND status = ?`), string(paygate.RunFailed), failure, db.ts(db.nowTime()), id, string(paygate.RunRunning))
	if err != nil {
		return fmt.Errorf("store: fail reconciliation: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.Reconciliation(ctx, "", id); err != nil {
			return err
		}
	}
	return nil
}

// Reconciliation returns a run; with a merchantID its counts are that
// merchant's share. Returns ENOTFOUND if it does not exist.
func (db *DB) Reconciliation(ctx context.Context, merchantID, id string) (*paygate.Reconciliation, error) {
	cols, join := runCounts(merchantID != "")
	args := []any{}
	if merchantID != "" {
		args = append(args, merchantID)
	}
	args = append(args, id)
	r, err := scanRun(db.queryRow(ctx, "SELECT "+runColumns+", "+cols+" FROM reconciliation_runs r"+join+" WHERE r.id = ?", args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such reconciliation: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read reconciliation: %w", err)
	}
	return r, nil
}

// Reconciliations lists a day's runs newest first, optionally only of the
// given providers; with a merchantID the counts are its share.
func (db *DB) Reconciliations(ctx context.Context, merchantID, date string, providers []string) ([]*paygate.Reconciliation, error) {
	cols, join := runCounts(merchantID != "")
	var args []any
	if merchantID != "" {
		args = append(args, merchantID)
	}
	q := "SELECT " + runColumns + ", " + cols + " FROM reconciliation_runs r" + join + " WHERE r.date = ?"
	args = append(args, date)
	if providers != nil {
		if len(providers) == 0 {
			return nil, nil
		}
		q += " AND r.provider IN (" + placeholders(len(providers)) + ")"
		for _, p := range providers {
			args = append(args, p)
		}
	}
	return db.listRuns(ctx, q+" ORDER BY r.id DESC", args...)
}

func (db *DB) listRuns(ctx context.Context, q string, args ...any) ([]*paygate.Reconciliation, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list reconciliations: %w", err)
	}
	defer rows.Close()
	var list []*paygate.Reconciliation
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list reconciliations: %w", err)
		}
		list = append(list, r)
	}
	return list, rows.Err()
}

// LatestReconciliations returns the latest succeeded run of each provider
// for a day.
func (db *DB) LatestReconciliations(ctx context.Context, date string) (map[string]*paygate.Reconciliation, error) {
	cols, _ := runCounts(false)
	list, err := db.listRuns(ctx, "SELECT "+runColumns+", "+cols+
		" FROM reconciliation_runs r WHERE r.date = ? AND r.status = ? ORDER BY r.id DESC", date, string(paygate.RunSucceeded))
	if err != nil {
		return nil, err
	}
	latest := map[string]*paygate.Reconciliation{}
	for _, r := range list {
		if latest[r.Provider] == nil {
			latest[r.Provider] = r
		}
	}
	return latest, nil
}

const discrepancyColumns = `id, run_id, provider, date, merchant_id, outcome, order_id, refund_id, paygate,
	channel, resolution, note, created_at, resolved_at`

func scanDiscrepancy(s scanner) (*paygate.Discrepancy, error) {
	var d paygate.Discrepancy
	err := s.Scan(&d.ID, &d.RunID, &d.Provider, &d.Date, &d.MerchantID, &d.Outcome, &d.OrderID, &d.RefundID,
		jsonCol{&d.Paygate}, jsonCol{&d.Channel}, &d.Resolution, &d.Note, timeCol{&d.CreatedAt}, timePtrCol{&d.ResolvedAt})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Discrepancies lists a run's discrepancies in the order they were
// recorded. Returns EPARAMINVALID for a bad cursor.
func (db *DB) Discrepancies(ctx context.Context, f paygate.DiscrepancyFilter) ([]*paygate.Discrepancy, string, error) {
	where := []string{"run_id = ?"}
	args := []any{f.RunID}
	if f.MerchantID != "" {
		where = append(where, "merchant_id = ?")
		args = append(args, f.MerchantID)
	}
	if f.Cursor != "" {
		id, err := decodeCursor(f.Cursor, paygate.PrefixDiscrepancy)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "id > ?")
		args = append(args, id)
	}
	limit := pageLimit(f.Limit)
	q := "SELECT " + discrepancyColumns + " FROM reconciliation_discrepancies WHERE " +
		strings.Join(where, " AND ") + fmt.Sprintf(" ORDER BY id LIMIT %d", limit+1)
	return listPage(ctx, db, "discrepancies", q, args, limit, scanDiscrepancy,
		func(d *paygate.Discrepancy) string { return d.ID })
}

// Discrepancy returns one of merchantID's discrepancies.
// Returns ENOTFOUND if it does not exist or belongs to another merchant.
func (db *DB) Discrepancy(ctx context.Context, merchantID, id string) (*paygate.Discrepancy, error) {
	d, err := scanDiscrepancy(db.queryRow(ctx, "SELECT "+discrepancyColumns+
		" FROM reconciliation_discrepancies WHERE id = ? AND merchant_id = ?", id, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, paygate.Errorf(paygate.ENOTFOUND, "no such discrepancy: %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read discrepancy: %w", err)
	}
	return d, nil
}

// ResolveDiscrepancy accepts one of merchantID's open discrepancies with a
// note. Returns ENOTFOUND if it does not exist or belongs to another
// merchant, EINVALIDSTATE if it is not open.
func (db *DB) ResolveDiscrepancy(ctx context.Context, merchantID, id, note string) (*paygate.Discrepancy, error) {
	const q = "UPDATE reconciliation_discrepancies SET resolution = ?, note = ?, resolved_at = ? WHERE id = ? AND resolution = ? AND merchant_id = ?"
	res, err := db.w.ExecContext(ctx, db.rebind(q), string(paygate.ResolutionAccepted), note, db.ts(db.nowTime()), id,
		string(paygate.ResolutionOpen), merchantID)
	if err != nil {
		return nil, fmt.Errorf("store: resolve discrepancy: %w", err)
	}
	d, err := db.Discrepancy(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "discrepancy %s is already %s", id, d.Resolution)
	}
	return d, nil
}

// ReconTxns streams paygate's side of a provider between from and to.
// Rows come straight from the driver's cursor: nothing is held but the row
// being handed to fn.
func (db *DB) ReconTxns(ctx context.Context, provider string, from, to time.Time, fn func(*paygate.ReconTxn) error) error {
	var t paygate.ReconTxn
	err := db.stream(ctx, `SELECT merchant_id, id, channel_trade_no, channel_ref, status, amount, fee, paid_at
		FROM orders WHERE paid_at >= ? AND paid_at < ? AND provider = ?`,
		[]any{db.ts(from), db.ts(to), provider}, func(rows *sql.Rows) error {
			t = paygate.ReconTxn{}
			if err := rows.Scan(&t.MerchantID, &t.OrderID, &t.ChannelTradeNo, &t.ChannelRef, &t.Status,
				&t.Amount, &t.Fee, timeCol{&t.At}); err != nil {
				return err
			}
			return fn(&t)
		})
	if err != nil {
		return fmt.Errorf("store: reconcile payments: %w", err)
	}
	// A refund's returned fee is the order's fee in proportion to what
	// has been refunded, so it needs what the order's earlier succeeded
	// refunds returned (in the order they succeeded).
	var orderAmount, orderFee, before int64
	err = db.stream(ctx, `SELECT r.merchant_id, r.order_id, r.id, o.channel_trade_no, r.channel_refund_no,
		r.status, r.amount, r.succeeded_at, o.amount, o.fee, `+refundedBefore+`
		FROM refunds r JOIN orders o ON o.id = r.order_id
		WHERE r.succeeded_at >= ? AND r.succeeded_at < ? AND r.provider = ? AND r.status = ?`,
		[]any{db.ts(from), db.ts(to), provider, string(paygate.RefundSucceeded)}, func(rows *sql.Rows) error {
			t = paygate.ReconTxn{Refund: true}
			if err := rows.Scan(&t.MerchantID, &t.OrderID, &t.RefundID, &t.ChannelTradeNo, &t.ChannelRefundNo,
				&t.Status, &t.Amount, timeCol{&t.At}, &orderAmount, &orderFee, &before); err != nil {
				return err
			}
			t.Fee = paygate.ReturnedFee(orderFee, orderAmount, before, t.Amount)
			return fn(&t)
		})
	if err != nil {
		return fmt.Errorf("store: reconcile refunds: %w", err)
	}
	return nil
}

// refundedBefore is, for the refund r of a query, what its order's
// earlier succeeded refunds returned (in the order they succeeded): with
// the order's amount and fee, what paygate.ReturnedFee needs.
const refundedBefore = `(SELECT COALESCE(SUM(p.amount), 0) FROM refunds p WHERE p.order_id = r.order_id
	AND p.status = 'succeeded' AND (p.succeeded_at < r.succeeded_at OR p.succeeded_at = r.succeeded_at AND p.id < r.id))`

// stream runs a read query over a day of rows and hands each row to fn.
// On PostgreSQL it runs in a read-only transaction without JIT: the
// planner's cost of a day-long scan with a correlated subquery passes the
// JIT thresholds, and compiling the query then costs more than running it
// (seconds, docs/performance.md).
func (db *DB) stream(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	var rows *sql.Rows
	var err error
	if db.dialect == DialectPostgres {
		tx, terr := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if terr != nil {
			return terr
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SET LOCAL jit = off"); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, db.rebind(q), args...)
	} else {
		rows, err = db.query(ctx, q, args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Crossed reports whether a succeeded run of the provider matched key
// across midnight.
func (db *DB) Crossed(ctx context.Context, provider, key string) (bool, error) {
	var n int
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM reconciliation_crossings c JOIN reconciliation_runs r ON r.id = c.run_id
		WHERE c.provider = ? AND c.txn_key = ? AND r.status = ?`, provider, key, string(paygate.RunSucceeded)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: read crossings: %w", err)
	}
	return n > 0, nil
}

// StatementLines streams a merchant's payments and refunds that succeeded
// between from and to, oldest first, each with its outcome in the runs
// named. Route rule and the eligible candidates' fees are read from the
// route in SQL, so no route document crosses the wire.
func (db *DB) StatementLines(ctx context.Context, merchantID string, from, to time.Time, runs map[string]string, fn func(*paygate.StatementLine) error) error {
	var rule, maxFee string
	var payArgs, refArgs []any
	if db.dialect == DialectPostgres {
		rule = "COALESCE(o.route->>'rule', '')"
		// The eligible candidates' fees as a JSON array, its largest taken
		// by maxFeeCol: a path query costs the database half of what
		// unnesting the candidates in a subquery does (docs/performance.md).
		// The path is a parameter: its filter's question mark would be
		// taken for a placeholder.
		maxFee = "jsonb_path_query_array(o.route, ?::jsonpath)"
		payArgs = append(payArgs, "$.candidates[*] ? (@.eligible == true).fee")
	} else {
		rule = "COALESCE(json_extract(o.route, '$.rule'), '')"
		maxFee = `COALESCE((SELECT MAX(json_extract(c.value, '$.fee')) FROM json_each(o.route, '$.candidates') c
			WHERE json_extract(c.value, '$.eligible')), o.fee)`
	}
	ids := make([]any, 0, len(runs))
	for _, id := range runs {
		ids = append(ids, id)
	}
	outcome := "''"
	if len(ids) > 0 {
		outcome = `COALESCE((SELECT d.outcome FROM reconciliation_discrepancies d WHERE d.order_id = %s AND d.refund_id = %s
			AND d.run_id IN (` + placeholders(len(ids)) + `) LIMIT 1), CASE WHEN %s IN (` + placeholders(len(ids)) + `) THEN 'matched' ELSE '' END)`
	}
	// A line's run is the latest run of its provider: the CASE names the
	// provider through the run ids' providers.
	var provRuns []any
	for p := range runs {
		provRuns = append(provRuns, p)
	}
	pay, ref := "''", "''"
	if len(ids) > 0 {
		pay = fmt.Sprintf(outcome, "o.id", "''", "o.provider")
		ref = fmt.Sprintf(outcome, "r.order_id", "r.id", "r.provider")
		payArgs = append(append(payArgs, ids...), provRuns...)
		refArgs = append(append(refArgs, ids...), provRuns...)
	}
	// A refund line carries three more columns, what its returned fee
	// needs (scanStatementLine); payment lines carry them only where the
	// two are one query.
	payCols := `SELECT 0, o.id, '', o.merchant_order_no, o.channel_trade_no, o.channel, o.provider, o.method, ` + rule + `,
			o.terminal_id, o.paid_at, o.amount, o.fee, o.net_amount, ` + maxFee + `, ` + pay
	payFrom := `
		FROM orders o WHERE o.paid_at >= ? AND o.paid_at < ? AND o.merchant_id = ?
			AND o.status IN ('succeeded', 'partially_refunded', 'refunded')`
	refQ := `SELECT 1, o.id, r.id, o.merchant_order_no, o.channel_trade_no, o.channel, r.provider, o.method, ` + rule + `,
			o.terminal_id, r.succeeded_at, -r.amount, 0, -r.amount, NULL, ` + ref + `, o.amount, o.fee, ` + refundedBefore + `
		FROM refunds r JOIN orders o ON o.id = r.order_id
		WHERE r.succeeded_at >= ? AND r.succeeded_at < ? AND r.merchant_id = ? AND r.status = 'succeeded'`
	payArgs = append(payArgs, db.ts(from), db.ts(to), merchantID)
	refArgs = append(refArgs, db.ts(from), db.ts(to), merchantID)
	var err error
	if n := db.r.Stats().MaxOpenConnections; db.dialect == DialectPostgres && (n == 0 || n >= 2) {
		err = db.mergeStatement(ctx, payCols+payFrom+` ORDER BY o.paid_at, o.id COLLATE "C"`, payArgs,
			refQ+` ORDER BY r.succeeded_at, o.id COLLATE "C", r.id COLLATE "C"`, refArgs, fn)
	} else {
		var l paygate.StatementLine
		err = db.stream(ctx, payCols+", 0, 0, 0"+payFrom+" UNION ALL "+refQ+" ORDER BY 11, 2, 3", append(payArgs, refArgs...), func(rows *sql.Rows) error {
			if err := scanStatementLine(rows, &l, maxFeeCol{&l}, true); err != nil {
				return err
			}
			return fn(&l)
		})
	}
	if err != nil {
		return fmt.Errorf("store: statement: %w", err)
	}
	return nil
}

// A refund line's fee is the fee a channel that returns fees gives back
// with it (paygate.ReturnedFee over the order's earlier succeeded
// refunds, as the fee audit expects), negative, and its net amount the
// refund less that fee; reconcile.WriteStatement zeroes it for channels
// that keep their fees.
//
// refundCols says the row has the refund columns (the order's amount and
// fee, and what its earlier refunds returned).
func scanStatementLine(s scanner, l *paygate.StatementLine, maxFee any, refundCols bool) error {
	var refund int
	var orderAmount, orderFee, before int64
	*l = paygate.StatementLine{}
	dst := []any{&refund, &l.OrderID, &l.RefundID, &l.MerchantOrderNo, &l.ChannelTradeNo, &l.Channel,
		&l.Provider, &l.Method, &l.Rule, &l.TerminalID, timeCol{&l.Time}, &l.Amount, &l.Fee, &l.NetAmount,
		maxFee, &l.Outcome, &orderAmount, &orderFee, &before}
	if !refundCols {
		dst = dst[:len(dst)-3]
	}
	if err := s.Scan(dst...); err != nil {
		return err
	}
	l.Refund = refund == 1
	if l.Refund {
		returned := paygate.ReturnedFee(orderFee, orderAmount, before, -l.Amount)
		l.Fee, l.NetAmount = -returned, l.Amount+returned
	}
	return nil
}

// maxFeeCol scans the statement's fee column for the routing
// savings: a number (refunds), or the JSON array of the route's eligible
// candidates' fees, whose largest is taken; the line's own fee when the
// route names none.
type maxFeeCol struct{ l *paygate.StatementLine }

func (c maxFeeCol) Scan(v any) error {
	var list string
	switch x := v.(type) {
	case int64:
		c.l.MaxFee = x
		return nil
	case float64: // SQLite's MAX over JSON numbers
		c.l.MaxFee = int64(x)
		return nil
	case nil:
	case string:
		list = x
	case []byte:
		list = string(x)
	default:
		return fmt.Errorf("store: cannot scan %T into a fee", v)
	}
	c.l.MaxFee = -1
	for f := range strings.SplitSeq(strings.Trim(list, "[] "), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return fmt.Errorf("store: route candidate fee %q: %w", f, err)
		}
		c.l.MaxFee = max(c.l.MaxFee, n)
	}
	if c.l.MaxFee < 0 {
		c.l.MaxFee = c.l.Fee
	}
	return nil
}

// mergeStatement streams the day's payments and refunds on PostgreSQL as
// two queries on two connections, each in time order (the paid_at and
// succeeded_at indexes give that order without sorting the day), and
// merges them here by time, order id and refund id: the order of the
// statement (docs/reconciliation.md, "Statements"). Both streams flow at
// once, so the database produces lines while they are written; only the
// current line of each is held (docs/performance.md).
func (db *DB) mergeStatement(ctx context.Context, payQ string, payArgs []any, refQ string, refArgs []any, fn func(*paygate.StatementLine) error) error {
	pay, err := db.openLines(ctx, "", payQ, payArgs)
	if err != nil {
		return err
	}
	defer pay.close()
	ref, err := db.openLines(ctx, pay.snapshot, refQ, refArgs)
	if err != nil {
		return err
	}
	defer ref.close()
	ref.refundCols = true
	if err := pay.next(); err != nil {
		return err
	}
	if err := ref.next(); err != nil {
		return err
	}
	for pay.ok || ref.ok {
		next := pay
		if !pay.ok || ref.ok && statementBefore(&ref.l, &pay.l) {
			next = ref
		}
		if err := fn(&next.l); err != nil {
			return err
		}
		if err := next.next(); err != nil {
			return err
		}
	}
	return nil
}

// statementBefore orders statement lines by time, then order id, then
// refund id (a payment's is empty, so it comes before its refunds).
func statementBefore(a, b *paygate.StatementLine) bool {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c < 0
	}
	if a.OrderID != b.OrderID {
		return a.OrderID < b.OrderID
	}
	return a.RefundID < b.RefundID
}

// lineStream is one ordered stream of statement lines in its own
// read-only transaction without JIT (see stream). The two streams of a
// statement share one snapshot: the first exports it, the second takes it,
// so the statement shows the day as of one instant.
type lineStream struct {
	tx         *sql.Tx
	rows       *sql.Rows
	l          paygate.StatementLine
	ok         bool
	snapshot   string
	refundCols bool // the rows carry the refund columns (scanStatementLine)
}

func (db *DB) openLines(ctx context.Context, snapshot, q string, args []any) (*lineStream, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	s := &lineStream{tx: tx, snapshot: snapshot}
	if snapshot != "" {
		_, err = tx.ExecContext(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(snapshot))
	} else {
		err = tx.QueryRowContext(ctx, "SELECT pg_export_snapshot()").Scan(&s.snapshot)
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, "SET LOCAL jit = off")
	}
	if err == nil {
		s.rows, err = tx.QueryContext(ctx, db.rebind(q), args...)
	}
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	return s, nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (s *lineStream) next() error {
	s.ok = s.rows.Next()
	if !s.ok {
		return s.rows.Err()
	}
	return scanStatementLine(s.rows, &s.l, maxFeeCol{&s.l}, s.refundCols)
}

func (s *lineStream) close() {
	s.rows.Close()
	s.tx.Rollback()
}

// ClaimReconcileJob claims the daily run of a provider and day for holder
// until `until`. The claim is one row per provider and day: the first
// replica inserts it, others can take it over only once it expired, and
// nobody once the day is done.
func (db *DB) ClaimReconcileJob(ctx context.Context, provider, date, holder string, until time.Time) (bool, error) {
	now := db.nowTime()
	var claimed bool
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `INSERT INTO reconciliation_jobs (provider, date, holder, lease_until, done)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, date) DO NOTHING`, provider, date, holder, db.ts(until), false)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			return nil
		}
		res, err = tx.exec(ctx, `UPDATE reconciliation_jobs SET holder = ?, lease_until = ?
			WHERE provider = ? AND date = ? AND done = ? AND lease_until <= ?`,
			holder, db.ts(until), provider, date, false, db.ts(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		claimed = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: claim reconcile job: %w", err)
	}
	return claimed, nil
}

// RenewReconcileJob extends holder's claim of a provider and day while
// its run works: false when the claim is no longer holder's or the day is
// done.
func (db *DB) RenewReconcileJob(ctx context.Context, provider, date, holder string, until time.Time) (bool, error) {
	res, err := db.w.ExecContext(ctx, db.rebind(`UPDATE reconciliation_jobs SET lease_until = ?
		WHERE provider = ? AND date = ? AND holder = ? AND done = ?`), db.ts(until), provider, date, holder, false)
	if err != nil {
		return false, fmt.Errorf("store: renew reconcile job: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseReconcileJob ends holder's claim: a done day is never claimed
// again; otherwise it may be claimed from retryAt.
func (db *DB) ReleaseReconcileJob(ctx context.Context, provider, date, holder string, done bool, retryAt time.Time) error {
	if retryAt.IsZero() {
		retryAt = db.nowTime()
	}
	_, err := db.w.ExecContext(ctx, db.rebind(`UPDATE reconciliation_jobs SET done = ?, lease_until = ?
		WHERE provider = ? AND date = ? AND holder = ?`), done, db.ts(retryAt), provider, date, holder)
	if err != nil {
		return fmt.Errorf("store: release reconcile job: %w", err)
	}
	return nil
}
