package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

var (
	errNotReady = errors.New("bill not ready")
	errNoTrades = errors.New("no trades")
)

func TestDailyJobOneRunPerProviderAndDay(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestDailyJobOneRunPerProviderAndDay/"):])
		f.mixedDay(t)
		var opened atomic.Int32
		var notReady atomic.Bool
		notReady.Store(true)
		svc := &reconcile.Service{Matcher: f.m, Now: f.clk.Now,
			Providers: func() []string { return []string{"wechat", "alipay"} },
			Open: func(ctx context.Context, provider, day string) (*reconcile.Bill, error) {
				if provider == "wechat" && notReady.Load() {
					return nil, errNotReady
				}
				opened.Add(1)
				if provider == "alipay" {
					return nil, errNoTrades
				}
				return &reconcile.Bill{Reader: &lines{l: append([]reconcile.Line(nil), f.bill...)}, SHA1: "abc"}, nil
			},
			NotReady: func(err error) bool { return errors.Is(err, errNotReady) },
			NoTrades: func(err error) bool { return errors.Is(err, errNoTrades) },
		}
		replicas := func() int {
			var wg sync.WaitGroup
			var n atomic.Int32
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					j := &reconcile.Job{Service: svc, Store: f.db, At: 10*time.Hour + 30*time.Minute, Holder: []string{"a", "b"}[i]}
					n.Add(int32(len(j.Tick(ctx))))
				}()
			}
			wg.Wait()
			return int(n.Load())
		}
		f.clk.Set(at(1, 10, 0, 0)) // before reconcile_at: nothing
		if n := replicas(); n != 0 {
			t.Fatalf("%d runs before the hour", n)
		}
		f.clk.Set(at(1, 10, 31, 0))
		replicas() // alipay: empty bill; wechat: not ready
		f.clk.Set(at(1, 10, 45, 0))
		replicas() // wechat waits 30 minutes
		notReady.Store(false)
		f.clk.Set(at(1, 11, 2, 0))
		replicas()
		f.clk.Set(at(1, 12, 0, 0))
		replicas()
		runs, err := f.db.Reconciliations(ctx, "", day, nil)
		if err != nil {
			t.Fatal(err)
		}
		byProvider := map[string][]*paygate.Reconciliation{}
		for _, r := range runs {
			byProvider[r.Provider] = append(byProvider[r.Provider], r)
		}
		if len(byProvider["wechat"]) != 1 || len(byProvider["alipay"]) != 1 || opened.Load() != 2 {
			t.Fatalf("runs %v (bills opened %d), want one per provider", byProvider, opened.Load())
		}
		if r := byProvider["wechat"][0]; r.Status != paygate.RunSucceeded || r.Outcomes[paygate.ReconMatched] != int64(len(f.bill)) || r.BillSHA1 != "abc" {
			t.Errorf("wechat run %+v", r)
		}
		if r := byProvider["alipay"][0]; r.Status != paygate.RunSucceeded || r.Channel.Count != 0 {
			t.Errorf("alipay run %+v", r)
		}
	})
}

func TestUnreadableBillFailsItsRun(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestUnreadableBillFailsItsRun/"):])
		f.mixedDay(t)
		f.clk.Set(at(1, 10, 30, 0))
		foreign := &reconcile.ParseError{File: "bill.csv", Line: 2, Column: 3, Msg: "foreign bill", Err: reconcile.ErrForeignBill}
		svc := &reconcile.Service{Matcher: f.m, Now: f.clk.Now, Providers: func() []string { return []string{"wechat"} },
			Open:     func(context.Context, string, string) (*reconcile.Bill, error) { return nil, foreign },
			NotReady: func(err error) bool { return errors.Is(err, errNotReady) }}
		run, err := svc.Reconcile(ctx, "wechat", day)
		if !errors.Is(err, reconcile.ErrForeignBill) || run == nil || run.Status != paygate.RunFailed {
			t.Fatalf("run %+v, err %v", run, err)
		}
		got, _ := f.db.Reconciliation(ctx, "", run.ID)
		if got.Status != paygate.RunFailed || len(got.Outcomes) != 0 || got.Failure == "" {
			t.Fatalf("stored run %+v", got)
		}
		svc.Open = func(context.Context, string, string) (*reconcile.Bill, error) { return nil, errNotReady }
		var nr *reconcile.NotReadyError
		if _, err := svc.Reconcile(ctx, "wechat", day); !errors.As(err, &nr) {
			t.Fatalf("not ready: %v", err)
		}
		if _, err := svc.Reconcile(ctx, "wechat", "2026-11-21"); paygate.ErrorCode(err) != paygate.EPARAMINVALID {
			t.Fatalf("today without a sandbox: %v", err)
		}
	})
}

// TestDailyJobTakesOverAnAbandonedRun: a replica claimed the day, started
// its run and died (the run row stays running, its lease unrenewed). Once
// the leases have passed, the job on the other replicas fails the
// abandoned run and completes the day: one completed run, however many
// replicas tick, and the dead holder can neither renew nor finish it.
func TestDailyJobTakesOverAnAbandonedRun(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestDailyJobTakesOverAnAbandonedRun/"):])
		f.mixedDay(t)
		var opened atomic.Int32
		service := func(holder string) *reconcile.Service {
			m := *f.m
			m.Holder = holder
			return &reconcile.Service{Matcher: &m, Now: f.clk.Now,
				Providers: func() []string { return []string{"wechat"} },
				Open: func(context.Context, string, string) (*reconcile.Bill, error) {
					opened.Add(1)
					return &reconcile.Bill{Reader: &lines{l: append([]reconcile.Line(nil), f.bill...)}, SHA1: "abc"}, nil
				}}
		}
		replicas := func() int {
			var wg sync.WaitGroup
			var n atomic.Int32
			for _, h := range []string{"b", "c"} {
				wg.Go(func() {
					j := &reconcile.Job{Service: service(h), Store: f.db, At: 10*time.Hour + 30*time.Minute, Holder: h}
					n.Add(int32(len(j.Tick(ctx))))
				})
			}
			wg.Wait()
			return int(n.Load())
		}

		// The dead replica: its claim and its running run, never renewed.
		t0 := at(1, 10, 31, 0)
		f.clk.Set(t0)
		if ok, err := f.db.ClaimReconcileJob(ctx, "wechat", day, "dead", t0.Add(reconcile.DefaultJobLease)); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
		dead := &paygate.Reconciliation{Provider: "wechat", Date: day, Holder: "dead", LeaseUntil: t0.Add(reconcile.DefaultRunLease)}
		if err := f.db.StartReconciliation(ctx, dead); err != nil {
			t.Fatal(err)
		}

		// Within the leases nobody else runs the day.
		f.clk.Set(t0.Add(time.Minute))
		if n := replicas(); n != 0 {
			t.Fatalf("%d runs while the dead replica's claim held", n)
		}
		if _, err := service("api").Reconcile(ctx, "wechat", day); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
			t.Fatalf("a second run while one holds its lease: %v", err)
		}
		if n := opened.Load(); n != 0 {
			t.Fatalf("a run refused while another holds its lease fetched its bill %d times", n)
		}

		// Past them the day is taken over and completed, once.
		f.clk.Set(t0.Add(reconcile.DefaultJobLease + time.Second))
		if n := replicas(); n != 1 {
			t.Fatalf("%d runs after the leases passed, want 1", n)
		}
		wantAbandoned(t, f.db, dead.ID, "dead")

		// The dead replica wakes up: its run is no longer its own.
		if err := f.db.RenewReconciliation(ctx, dead.ID, "dead", f.clk.Now().Add(time.Minute)); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
			t.Errorf("renewing the abandoned run: %v", err)
		}
		if err := f.db.FinishReconciliation(ctx, dead, nil, nil, nil); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
			t.Errorf("finishing the abandoned run: %v", err)
		}
		if ok, err := f.db.RenewReconcileJob(ctx, "wechat", day, "dead", f.clk.Now().Add(time.Minute)); ok || err != nil {
			t.Errorf("renewing the lost claim: %v %v", ok, err)
		}
		if err := f.db.ReleaseReconcileJob(ctx, "wechat", day, "dead", false, f.clk.Now()); err != nil {
			t.Fatal(err)
		}
		f.clk.Set(t0.Add(time.Hour))
		if n := replicas(); n != 0 {
			t.Fatalf("%d runs of a done day", n)
		}

		runs, err := f.db.Reconciliations(ctx, "", day, nil)
		if err != nil {
			t.Fatal(err)
		}
		var completed []*paygate.Reconciliation
		for _, r := range runs {
			if r.Status == paygate.RunSucceeded {
				completed = append(completed, r)
			}
		}
		if len(runs) != 2 || len(completed) != 1 || opened.Load() != 1 {
			t.Fatalf("%d runs, %d completed, %d bills opened; want 2, 1, 1", len(runs), len(completed), opened.Load())
		}
		if r := completed[0]; r.Outcomes[paygate.ReconMatched] != int64(len(f.bill)) || len(r.Outcomes) != 1 || (r.Holder != "b" && r.Holder != "c") {
			t.Errorf("the completed run: %+v", r)
		}
		latest, err := f.db.LatestReconciliations(ctx, day)
		if err != nil || latest["wechat"] == nil || latest["wechat"].ID != completed[0].ID {
			t.Errorf("the day's current run: %v %v", latest, err)
		}
	})
}

// slowBill yields n unknown payment lines, one every `every`, after
// signalling its first read on started.
type slowBill struct {
	n       int
	every   time.Duration
	started chan struct{}
}

func (b *slowBill) Next() (reconcile.Line, error) {
	if b.started != nil {
		close(b.started)
		b.started = nil
	}
	if b.n == 0 {
		return reconcile.Line{}, io.EOF
	}
	b.n--
	time.Sleep(b.every)
	return reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded, ChannelTradeNo: fmt.Sprint("slow", b.n), Amount: 1}, nil
}

// TestRunRenewsItsLease: on the real clock, a run that works longer than
// its lease renews it, so another run of the day is refused throughout;
// a run whose lease is taken from it stops and records nothing more.
func TestRunRenewsItsLease(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 1500 * time.Millisecond
		m := &reconcile.Matcher{Store: db, Orders: db, Refunds: db, Holder: "a", Lease: lease}
		started := make(chan struct{})
		type result struct {
			run *paygate.Reconciliation
			err error
		}
		done := make(chan result, 1)
		go func() {
			run, err := m.Run(ctx, "wechat", day, &slowBill{n: 60, every: 50 * time.Millisecond, started: started}, "")
			done <- result{run, err}
		}()
		<-started
		time.Sleep(lease + 500*time.Millisecond)
		other := &paygate.Reconciliation{Provider: "wechat", Date: day, Holder: "b", LeaseUntil: time.Now().Add(time.Minute)}
		if err := db.StartReconciliation(ctx, other); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
			t.Fatalf("another run past the first lease: %v", err)
		}
		r := <-done
		if r.err != nil || r.run.Status != paygate.RunSucceeded || r.run.Outcomes[paygate.ReconMissingInPaygate] != 60 {
			t.Fatalf("the renewed run: %+v %v", r.run, r.err)
		}

		// Taken from it: an operator fails the run while it works.
		started = make(chan struct{})
		go func() {
			run, err := m.Run(ctx, "wechat", day, &slowBill{n: 100, every: 50 * time.Millisecond, started: started}, "")
			done <- result{run, err}
		}()
		<-started
		runs, err := db.Reconciliations(ctx, "", day, nil)
		if err != nil || len(runs) < 2 || runs[0].Status != paygate.RunRunning {
			t.Fatalf("runs %v %v", runs, err)
		}
		if err := db.FailReconciliation(ctx, runs[0].ID, "stopped by an operator"); err != nil {
			t.Fatal(err)
		}
		r = <-done
		if !errors.Is(r.err, reconcile.ErrLeaseLost) || r.run == nil || r.run.Status != paygate.RunFailed {
			t.Fatalf("the run that lost its lease: %+v %v", r.run, r.err)
		}
		got, err := db.Reconciliation(ctx, "", runs[0].ID)
		if err != nil || got.Status != paygate.RunFailed || got.Failure != "stopped by an operator" || len(got.Outcomes) != 0 {
			t.Fatalf("stored run %+v %v", got, err)
		}
	})
}

// TestDailyJobFailsAbandonedManualRuns: a run started by hand whose
// process died, on a day the job does not run, is failed by the job's
// next tick, even before the job's time of day; a run that holds its
// lease is left alone.
func TestDailyJobFailsAbandonedManualRuns(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestDailyJobFailsAbandonedManualRuns/"):])
		t0 := at(3, 9, 0, 0) // before 10:30: nothing is due
		f.clk.Set(t0)
		// By hand, for an older day: the process dies at once.
		dead := &paygate.Reconciliation{Provider: "wechat", Date: "2026-11-18", Holder: "cli", LeaseUntil: t0.Add(reconcile.DefaultRunLease)}
		if err := f.db.StartReconciliation(ctx, dead); err != nil {
			t.Fatal(err)
		}
		f.clk.Set(t0.Add(reconcile.DefaultRunLease + time.Second))
		// Another, still renewing its lease.
		alive := &paygate.Reconciliation{Provider: "alipay", Date: "2026-11-19", Holder: "api", LeaseUntil: f.clk.Now().Add(reconcile.DefaultRunLease)}
		if err := f.db.StartReconciliation(ctx, alive); err != nil {
			t.Fatal(err)
		}
		j := &reconcile.Job{Service: &reconcile.Service{Matcher: f.m, Now: f.clk.Now,
			Providers: func() []string { return []string{"wechat", "alipay"} },
			Open: func(context.Context, string, string) (*reconcile.Bill, error) {
				t.Error("a run started before the job's time of day")
				return nil, errors.New("not due")
			}}, Store: f.db, At: 10*time.Hour + 30*time.Minute, Holder: "job"}
		if runs := j.Tick(ctx); len(runs) != 0 {
			t.Fatalf("runs before the time of day: %v", runs)
		}
		wantAbandoned(t, f.db, dead.ID, "cli")
		if got, err := f.db.Reconciliation(ctx, "", alive.ID); err != nil || got.Status != paygate.RunRunning {
			t.Fatalf("the run holding its lease: %+v %v", got, err)
		}
		// Its holder, back, can neither renew nor finish it.
		if err := f.db.RenewReconciliation(ctx, dead.ID, "cli", f.clk.Now().Add(time.Minute)); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
			t.Errorf("renewing the abandoned run: %v", err)
		}
		if n, err := f.db.FailAbandonedReconciliations(ctx); n != 0 || err != nil {
			t.Errorf("a second sweep failed %d runs: %v", n, err)
		}
	})
}

// wantAbandoned checks that run id was failed as abandoned by holder.
func wantAbandoned(t *testing.T, db *store.DB, id, holder string) {
	t.Helper()
	got, err := db.Reconciliation(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != paygate.RunFailed || !strings.Contains(got.Failure, "abandoned") || !strings.Contains(got.Failure, holder) || got.FinishedAt == nil {
		t.Fatalf("the abandoned run: %+v", got)
	}
}
