package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/paygate-cn/paygate"
)

// Bill is an opened bill: its reader, the SHA-1 of its raw bytes, and
// what releases it.
type Bill struct {
	Reader BillReader
	SHA1   string
	Close  func() error
}

// Service runs reconciliations: on demand (API, CLI) and daily (Job).
type Service struct {
	Matcher *Matcher
	// Providers lists the ids of the providers whose bills are reconciled.
	Providers func() []string
	// Open fetches and opens a provider's bill for a day.
	Open func(ctx context.Context, provider, day string) (*Bill, error)
	// NotReady reports an Open error meaning "the channel has not made the
	// bill yet": the daily job retries it later.
	NotReady func(error) bool
	// NoTrades reports an Open error meaning "the channel had no trades
	// that day": an empty bill, reconciled as such.
	NoTrades func(error) bool
	// BeforeToday, when set, is called before a run for the current day
	// (the sandbox closes its simulators' day first).
	BeforeToday func(ctx context.Context, provider string) error
	Now         paygate.Clock
	Logger      *slog.Logger
}

// Reconcile fetches provider's bill for day and reconciles it.
func (s *Service) Reconcile(ctx context.Context, provider, day string) (*paygate.Reconciliation, error) {
	start, err := paygate.ParseDay(day)
	if err != nil {
		return nil, err
	}
	if s.now().Before(start.AddDate(0, 0, 1)) {
		if s.BeforeToday == nil || s.now().Before(start) {
			return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "date", "%s has not ended yet", day)
		}
		if err := s.BeforeToday(ctx, provider); err != nil {
			return nil, err
		}
	}
	// A run of the day holding its lease refuses this one as it starts
	// (StartReconciliation); asking first spares fetching the bill for a
	// run that would be refused.
	if err := s.Matcher.refuseWhileRunning(ctx, provider, day); err != nil {
		return nil, err
	}
	bill, err := s.Open(ctx, provider, day)
	var perr *ParseError
	switch {
	case err == nil:
	case s.NoTrades != nil && s.NoTrades(err):
		bill = &Bill{Reader: EmptyBill()}
	case errors.As(err, &perr):
		// A file that cannot even be opened as a bill fails its run like
		// one that breaks off: recorded as failed, nothing else.
		bill = &Bill{Reader: failingBill{err}}
	case s.NotReady != nil && s.NotReady(err):
		return nil, &NotReadyError{Provider: provider, Day: day, Err: err}
	default:
		return nil, err
	}
	if bill.Close != nil {
		defer bill.Close()
	}
	return s.Matcher.Run(ctx, provider, day, bill.Reader, bill.SHA1)
}

// ReconcileAll reconciles day for every provider allow accepts (nil: all),
// and returns the runs made in provider order. A provider whose bill
// cannot be had does not stop the others: the errors are returned joined.
func (s *Service) ReconcileAll(ctx context.Context, day string, allow func(provider string) bool) ([]*paygate.Reconciliation, error) {
	var runs []*paygate.Reconciliation
	var errs []error
	for _, p := range s.Providers() {
		if allow != nil && !allow(p) {
			continue
		}
		run, err := s.Reconcile(ctx, p, day)
		if run != nil {
			runs = append(runs, run)
		}
		if err != nil {
			if paygate.ErrorCode(err) == paygate.EPARAMINVALID {
				return runs, err
			}
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return runs, errors.Join(errs...)
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// RetryNotReady is how long the daily job waits before asking again for a
// bill the channel has not made yet (WeChat STATEMENT_CREATING: every 30
// minutes).
const RetryNotReady = 30 * time.Minute

// Job is the daily reconciliation: at a time of day (China Standard Time)
// every replica may try the previous day's runs; a claim per provider and
// day (ReconciliationStore.ClaimReconcileJob) makes it one run each. The
// claim is a lease its replica renews while the run works: a replica that
// dies stops renewing, and once the lease has passed another replica
// claims the day and runs it, failing the abandoned run as it starts
// (docs/reconciliation.md, "Runs").
type Job struct {
	Service *Service
	Store   paygate.ReconciliationStore
	// At is the time of day, minutes after midnight CST.
	At time.Duration
	// Holder names this replica in claims.
	Holder string
	// Lease bounds one claim between renewals (DefaultJobLease when 0).
	Lease time.Duration
}

// Tick runs what is due now: after At, the previous day of every provider
// not yet done. It returns the runs it made. Every tick first fails the
// runs of any provider and day whose lease has passed, so that a run
// started by hand (API or CLI) whose process died does not stay running
// until its day is run again.
func (j *Job) Tick(ctx context.Context) []*paygate.Reconciliation {
	s := j.Service
	if n, err := j.Store.FailAbandonedReconciliations(ctx); err != nil {
		s.log().Warn("reconcile: failing abandoned runs", "err", err)
	} else if n > 0 {
		s.log().Warn("reconcile: failed abandoned runs", "runs", n)
	}
	now := s.now().In(paygate.ChinaStandardTime)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, paygate.ChinaStandardTime)
	if now.Sub(today) < j.At {
		return nil
	}
	day := today.AddDate(0, 0, -1).Format(paygate.DayLayout)
	lease := j.Lease
	if lease <= 0 {
		lease = DefaultJobLease
	}
	var runs []*paygate.Reconciliation
	for _, p := range s.Providers() {
		ok, err := j.Store.ClaimReconcileJob(ctx, p, day, j.Holder, now.Add(lease))
		if err != nil {
			s.log().Warn("reconcile: claim", "provider", p, "date", day, "err", err)
			continue
		}
		if !ok {
			continue
		}
		rctx, stop := keepLease(ctx, lease, func(ctx context.Context) (bool, error) {
			return j.Store.RenewReconcileJob(ctx, p, day, j.Holder, s.now().Add(lease))
		})
		run, err := s.Reconcile(rctx, p, day)
		stop()
		if run != nil {
			runs = append(runs, run)
		}
		if errors.Is(err, ErrLeaseLost) || errors.Is(context.Cause(rctx), ErrLeaseLost) {
			// Another replica holds the day now; its release decides.
			s.log().Warn("reconcile: lost the claim while running", "provider", p, "date", day, "err", err)
			continue
		}
		done := err == nil
		retry := s.now().Add(RetryNotReady)
		switch {
		case err == nil:
		case s.NotReady != nil && s.NotReady(err):
			s.log().Info("reconcile: bill not ready, retrying later", "provider", p, "date", day, "retry_at", retry)
		default:
			s.log().Warn("reconcile: run failed, retrying later", "provider", p, "date", day, "err", err, "retry_at", retry)
		}
		if err := j.Store.ReleaseReconcileJob(context.WithoutCancel(ctx), p, day, j.Holder, done, retry); err != nil {
			s.log().Warn("reconcile: release", "provider", p, "date", day, "err", err)
		}
	}
	return runs
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// failingBill is a bill whose first read fails with err.
type failingBill struct{ err error }

func (b failingBill) Next() (Line, error) { return Line{}, b.err }

// NotReadyError is a bill the channel has not made yet; try again later.
type NotReadyError struct {
	Provider, Day string
	Err           error
}

func (e *NotReadyError) Error() string {
	return "the " + e.Provider + " bill of " + e.Day + " is not ready yet: " + e.Err.Error()
}

func (e *NotReadyError) Unwrap() error { return e.Err }
