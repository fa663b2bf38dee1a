package reconcile

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
)

// Leases (docs/reconciliation.md, "Runs"): a running run, and the daily
// job's claim of a provider and day, are held under a lease that their
// process renews while it works. A process that dies stops renewing; once
// the lease has passed, another run of the day fails the abandoned one
// and takes its place.
const (
	// DefaultRunLease is how long a run is vouched for between renewals.
	DefaultRunLease = 2 * time.Minute
	// DefaultJobLease is how long the daily job's claim of a provider and
	// day holds between renewals.
	DefaultJobLease = 5 * time.Minute
)

// ErrLeaseLost ends a run whose lease was taken from it (it was failed as
// abandoned, or its claim was taken over): another run now speaks for the
// day, so this one records nothing more.
var ErrLeaseLost = errors.New("reconcile: lease lost to another run")

// keepLease renews a lease every third of its length until stop is called,
// on a context that is cancelled with ErrLeaseLost when renew reports the
// lease lost. A renewal that fails otherwise (the database briefly away)
// is tried again at the next tick: the lease still holds until it passes.
func keepLease(ctx context.Context, lease time.Duration, renew func(context.Context) (bool, error)) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(lease/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, max(lease/3, time.Second))
			held, err := renew(rctx)
			rcancel()
			if err == nil && !held {
				cancel(ErrLeaseLost)
				return
			}
		}
	})
	return ctx, func() {
		close(done)
		wg.Wait()
		cancel(nil)
	}
}

// runLeaseLost reports whether a run's renewal says the run is no longer
// its holder's.
func runLeaseLost(err error) bool {
	c := paygate.ErrorCode(err)
	return c == paygate.EINVALIDSTATE || c == paygate.ENOTFOUND
}
