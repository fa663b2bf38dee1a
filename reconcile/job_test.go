package reconcile_test

import (
	"context"
	"errors"
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
