package paygate

import (
	"context"
	"time"
)

// ChinaStandardTime is UTC+8, the zone in which channels count a bill's day
// (docs/reconciliation.md).
var ChinaStandardTime = time.FixedZone("CST", 8*3600)

// DayLayout is how a reconciliation or statement day is written: 2026-11-21.
const DayLayout = "2006-01-02"

// ParseDay returns the start of the China Standard Time calendar day s
// (YYYY-MM-DD). Returns EPARAMINVALID (param "date") for anything else.
func ParseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation(DayLayout, s, ChinaStandardTime)
	if err != nil || t.Format(DayLayout) != s {
		return time.Time{}, ParamErrorf(EPARAMINVALID, "date", "date %q is not a day YYYY-MM-DD", s)
	}
	return t, nil
}

// DayOf returns the China Standard Time day t falls in, as YYYY-MM-DD.
func DayOf(t time.Time) string { return t.In(ChinaStandardTime).Format(DayLayout) }

// ReturnedFee is the fee a channel that returns fees with refunds gives
// back with a refund of `refund` fen, when the payment of `amount` fen was
// charged `fee` and `before` fen of it had already been refunded: the fee
// in proportion to what has been refunded so far, rounded half-up to the
// fen, less what the earlier refunds returned. Each refund returns its
// share to within a fen, and a payment refunded in full gets its whole fee
// back whatever the number of refunds (docs/reconciliation.md, "Fee
// audit").
func ReturnedFee(fee, amount, before, refund int64) int64 {
	if fee <= 0 || amount <= 0 || refund <= 0 {
		return 0
	}
	upTo := func(refunded int64) int64 {
		refunded = min(max(refunded, 0), amount)
		return (2*fee*refunded + amount) / (2 * amount)
	}
	return upTo(before+refund) - upTo(before)
}

// ReconOutcome is what matching found for one transaction.
type ReconOutcome string

const (
	ReconMatched          ReconOutcome = "matched"
	ReconAmountMismatch   ReconOutcome = "amount_mismatch"
	ReconFeeMismatch      ReconOutcome = "fee_mismatch"
	ReconStatusMismatch   ReconOutcome = "status_mismatch"
	ReconMissingInPaygate ReconOutcome = "missing_in_paygate" // 长款: the channel moved money paygate does not know
	ReconMissingAtChannel ReconOutcome = "missing_at_channel" // 短款: paygate recorded money the channel does not show
)

// ReconOutcomes lists every outcome, in the order reports show them.
var ReconOutcomes = []ReconOutcome{ReconMatched, ReconAmountMismatch, ReconFeeMismatch,
	ReconStatusMismatch, ReconMissingInPaygate, ReconMissingAtChannel}

// RunStatus is the state of a reconciliation run.
type RunStatus string

const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Resolution is where a discrepancy stands.
type Resolution string

const (
	ResolutionOpen     Resolution = "open"     // waits for a person
	ResolutionRepaired Resolution = "repaired" // paygate applied the channel's result
	ResolutionAccepted Resolution = "accepted" // a person looked at it and wrote a note
)

// ReconTotals counts transactions and sums their amounts (fen; refunds
// count as positive amounts returned).
type ReconTotals struct {
	Count  int64 `json:"count"`
	Amount int64 `json:"amount"`
}

// Add counts one transaction of amount fen.
func (t *ReconTotals) Add(amount int64) {
	t.Count++
	t.Amount += amount
}

// ReconCounts are one side's totals and the outcomes of a run, for the
// whole provider or for one merchant's share of it.
type ReconCounts struct {
	Paygate  ReconTotals
	Channel  ReconTotals
	Outcomes map[ReconOutcome]int64
}

// Count records one outcome.
func (c *ReconCounts) Count(o ReconOutcome) {
	if c.Outcomes == nil {
		c.Outcomes = make(map[ReconOutcome]int64, len(ReconOutcomes))
	}
	c.Outcomes[o]++
}

// Reconciliation is one run of one provider's bill for one day.
type Reconciliation struct {
	ID       string
	Provider string
	Date     string // YYYY-MM-DD, China Standard Time
	Status   RunStatus
	Failure  string
	// ReconCounts are the provider's totals; a merchant reading a run
	// sees its own share instead (ReconciliationStore.Reconciliation).
	ReconCounts
	BillSHA1   string
	StartedAt  time.Time
	FinishedAt *time.Time
	// Holder names the process that runs it, and LeaseUntil the time until
	// which that process vouches for it: while it works it renews the lease
	// (ReconciliationStore.RenewReconciliation); a running run whose lease
	// has passed was abandoned (docs/reconciliation.md, "Runs").
	Holder     string
	LeaseUntil time.Time
}

// ReconSnapshot is one side of a discrepancy as it stood during the run.
type ReconSnapshot struct {
	Type            string     `json:"type"` // payment or refund
	Status          string     `json:"status"`
	Amount          int64      `json:"amount"`
	Fee             int64      `json:"fee"`
	OrderID         string     `json:"order_id,omitempty"`
	RefundID        string     `json:"refund_id,omitempty"`
	ChannelTradeNo  string     `json:"channel_trade_no,omitempty"`
	ChannelRefundNo string     `json:"channel_refund_no,omitempty"`
	Time            *time.Time `json:"time,omitempty"`
}

// Discrepancy is a transaction whose two sides did not agree.
type Discrepancy struct {
	ID       string
	RunID    string
	Provider string
	Date     string
	// MerchantID is the merchant of the matched order; "" when no order
	// names one (then only operators see it).
	MerchantID string
	Outcome    ReconOutcome
	OrderID    string
	RefundID   string
	Paygate    *ReconSnapshot
	Channel    *ReconSnapshot
	Resolution Resolution
	Note       string
	CreatedAt  time.Time
	ResolvedAt *time.Time
}

// DiscrepancyFilter selects a run's discrepancies.
type DiscrepancyFilter struct {
	RunID      string
	MerchantID string // "" = every merchant's (operators)
	Cursor     string
	Limit      int // 1..100
}

// ReconTxn is one payment or refund of paygate's side of a day, in the
// compact form matching needs.
type ReconTxn struct {
	Refund          bool
	MerchantID      string
	OrderID         string
	RefundID        string
	ChannelTradeNo  string
	ChannelRefundNo string
	ChannelRef      string
	Status          string // the order's or refund's status
	Amount          int64
	// Fee is a payment's fee, or the fee returned with a refund by a
	// channel that returns fees (ReturnedFee over the order's earlier
	// succeeded refunds).
	Fee int64
	At  time.Time // paid_at, or the refund's succeeded_at
}

// StatementLine is one payment or refund of a merchant's day.
type StatementLine struct {
	Refund          bool
	OrderID         string
	RefundID        string
	MerchantOrderNo string
	ChannelTradeNo  string
	Channel         string
	Provider        string
	Method          string
	Rule            string
	TerminalID      string
	Time            time.Time
	Amount          int64 // negative for refunds
	Fee             int64 // negative for a fee returned with a refund
	NetAmount       int64
	// MaxFee is the fee of the most expensive eligible route candidate of
	// a payment (0 for refunds), for the day's routing savings.
	MaxFee int64
	// Outcome is the reconciliation outcome of the line in the latest run
	// of its provider and day; "" when that day was not reconciled.
	Outcome ReconOutcome
}

// ReconciliationStore persists reconciliation runs and discrepancies, and
// streams what runs and statements read.
type ReconciliationStore interface {
	// StartReconciliation records r as running for r.Holder until
	// r.LeaseUntil, filling ID and StartedAt. A running run of the same
	// provider and day whose lease has passed is marked failed
	// (abandoned) in the same transaction. Returns EINVALIDSTATE while
	// another run of the provider and day is running under a valid lease:
	// at most one runs at a time.
	StartReconciliation(ctx context.Context, r *Reconciliation) error

	// RenewReconciliation extends the lease of holder's running run until
	// `until`. Returns ENOTFOUND for an unknown run and EINVALIDSTATE if it
	// is no longer running (it failed, or another run took it over).
	RenewReconciliation(ctx context.Context, id, holder string, until time.Time) error

	// FinishReconciliation records a run's outcome atomically: the run's
	// counts, every merchant's share, its discrepancies and the keys of
	// the transactions it matched across midnight (crossed) become visible
	// together, or nothing does. Returns ENOTFOUND for an unknown run and
	// EINVALIDSTATE if the run is not running.
	FinishReconciliation(ctx context.Context, r *Reconciliation, merchants map[string]*ReconCounts, ds []*Discrepancy, crossed []string) error

	// FailReconciliation marks a running run failed, recording nothing
	// else. Returns ENOTFOUND for an unknown run.
	FailReconciliation(ctx context.Context, id, failure string) error

	// Reconciliation returns a run. With a merchantID the counts are that
	// merchant's share. Returns ENOTFOUND if it does not exist.
	Reconciliation(ctx context.Context, merchantID, id string) (*Reconciliation, error)

	// Reconciliations lists the runs of a day, newest first, optionally
	// only of the given providers; with a merchantID the counts are that
	// merchant's share.
	Reconciliations(ctx context.Context, merchantID, date string, providers []string) ([]*Reconciliation, error)

	// LatestReconciliations returns the latest succeeded run of each
	// provider for a day, keyed by provider.
	LatestReconciliations(ctx context.Context, date string) (map[string]*Reconciliation, error)

	// Discrepancies lists a run's discrepancies in the order they were
	// recorded. Returns EPARAMINVALID for a bad cursor.
	Discrepancies(ctx context.Context, f DiscrepancyFilter) ([]*Discrepancy, string, error)

	// Discrepancy returns one of merchantID's discrepancies.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	Discrepancy(ctx context.Context, merchantID, id string) (*Discrepancy, error)

	// ResolveDiscrepancy accepts one of merchantID's open discrepancies
	// with a note. Returns ENOTFOUND if it does not exist or belongs to
	// another merchant, EINVALIDSTATE if it is not open.
	ResolveDiscrepancy(ctx context.Context, merchantID, id, note string) (*Discrepancy, error)

	// ReconTxns streams paygate's side of a provider between from and to:
	// payments by the time they succeeded (reversed ones included when
	// they had succeeded) and succeeded refunds by the time they
	// succeeded. fn's argument is reused between calls.
	ReconTxns(ctx context.Context, provider string, from, to time.Time, fn func(*ReconTxn) error) error

	// Crossed reports whether a succeeded run of the provider matched the
	// transaction key ("o:<order id>", "r:<refund id>") across midnight.
	Crossed(ctx context.Context, provider, key string) (bool, error)

	// StatementLines streams a merchant's payments and refunds that
	// succeeded between from and to, oldest first, each with its outcome
	// in the runs named (provider → run id). A refund's fee is the fee
	// returned with it had the channel returned fees (ReturnedFee),
	// negative. fn's argument is reused.
	StatementLines(ctx context.Context, merchantID string, from, to time.Time, runs map[string]string, fn func(*StatementLine) error) error

	// FailAbandonedReconciliations fails every running run whose lease
	// has passed, of any provider and day, and returns how many.
	FailAbandonedReconciliations(ctx context.Context) (int, error)

	// ClaimReconcileJob claims the daily run of a provider and day for
	// holder until `until`: false when another holder's claim is still
	// valid or the day is done.
	ClaimReconcileJob(ctx context.Context, provider, date, holder string, until time.Time) (bool, error)

	// RenewReconcileJob extends holder's claim of a provider and day until
	// `until`: false when the claim is no longer holder's (it expired and
	// another holder took it) or the day is done.
	RenewReconcileJob(ctx context.Context, provider, date, holder string, until time.Time) (bool, error)

	// ReleaseReconcileJob ends holder's claim: done days are never claimed
	// again; otherwise the day may be claimed from retryAt.
	ReleaseReconcileJob(ctx context.Context, provider, date, holder string, done bool, retryAt time.Time) error
}
