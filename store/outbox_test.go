package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

// paidWithEvent creates an order and pays it, writing one order.succeeded
// event, and returns the event id.
func paidWithEvent(t *testing.T, db *store.DB, merchant, no string) string {
	t.Helper()
	ctx := context.Background()
	o := newOrder(merchant, no, 100)
	if err := db.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	u := paygateSucceeded(o.ID)
	if _, applied, err := db.UpdateOrder(ctx, u); err != nil || !applied {
		t.Fatalf("pay: %v %v", applied, err)
	}
	return u.Event.ID
}

func TestOutboxClaimRecordRedeliver(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		id := paidWithEvent(t, db, "m_1", "A1")

		claims, err := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{})
		if err != nil || len(claims) != 1 || claims[0].Event.ID != id || claims[0].Attempts != 0 {
			t.Fatalf("claim = %v, %v", claims, err)
		}
		if string(claims[0].Event.Data) == "" || claims[0].Event.MerchantID != "m_1" {
			t.Fatalf("claimed event lacks data: %+v", claims[0].Event)
		}
		// Leased: nobody else gets it, even when due by its old time.
		if again, _ := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{}); len(again) != 0 {
			t.Fatalf("claimed twice: %v", again)
		}
		// A failed attempt schedules the next one.
		at := clk.Now()
		ok, err := db.RecordDelivery(ctx, claims[0], paygate.DeliveryOutcome{
			Attempt: &paygate.DeliveryAttempt{At: at, StatusCode: 500, LatencyMS: 12, ResponseExcerpt: "oops\x00\xff" + strings.Repeat("x", 2000)},
			Next:    at.Add(15 * time.Second),
		})
		if err != nil || !ok {
			t.Fatalf("record = %v, %v", ok, err)
		}
		if c, _ := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{}); len(c) != 0 {
			t.Fatalf("claimed before due: %v", c)
		}
		clk.Advance(15 * time.Second)
		claims, _ = db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{})
		if len(claims) != 1 || claims[0].Attempts != 1 {
			t.Fatalf("claim after delay = %v", claims)
		}
		// The lease ends (the holder died): another dispatcher claims it and
		// the first holder's late record is refused.
		stale := claims[0]
		clk.Advance(time.Minute)
		claims, _ = db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{})
		if len(claims) != 1 {
			t.Fatalf("lease did not come back: %v", claims)
		}
		if ok, err := db.RecordDelivery(ctx, stale, paygate.DeliveryOutcome{Delivered: true,
			Attempt: &paygate.DeliveryAttempt{At: clk.Now(), StatusCode: 200}}); ok || err != nil {
			t.Fatalf("stale record = %v, %v", ok, err)
		}
		if ok, err := db.RecordDelivery(ctx, claims[0], paygate.DeliveryOutcome{Delivered: true,
			Attempt: &paygate.DeliveryAttempt{At: clk.Now(), StatusCode: 204}}); !ok || err != nil {
			t.Fatalf("record = %v, %v", ok, err)
		}
		d, err := db.EventDelivery(ctx, "m_1", id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != paygate.DeliveryDelivered || d.Attempts != 2 || len(d.Log) != 2 || d.DeliveredAt == nil {
			t.Fatalf("delivery = %+v", d)
		}
		if a := d.Log[0]; a.Attempt != 1 || a.StatusCode != 500 || len(a.ResponseExcerpt) > 1024 || strings.Contains(a.ResponseExcerpt, "\x00") {
			t.Errorf("first attempt = %+v", a)
		}
		if _, err := db.EventDelivery(ctx, "m_2", id); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Errorf("other merchant's delivery: %v", err)
		}

		// Redelivery makes it due now.
		if _, err := db.Redeliver(ctx, "m_2", id); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Errorf("other merchant's redeliver: %v", err)
		}
		if e, err := db.Redeliver(ctx, "m_1", id); err != nil || e.ID != id {
			t.Fatalf("redeliver = %v, %v", e, err)
		}
		claims, _ = db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{})
		if len(claims) != 1 || claims[0].Attempts != 2 {
			t.Fatalf("claim after redeliver = %v", claims)
		}
		// Out of schedule: failed, and no longer claimed.
		if ok, _ := db.RecordDelivery(ctx, claims[0], paygate.DeliveryOutcome{
			Attempt: &paygate.DeliveryAttempt{At: clk.Now(), Error: "connection refused"}}); !ok {
			t.Fatal("record failed")
		}
		clk.Advance(48 * time.Hour)
		if c, _ := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{}); len(c) != 0 {
			t.Fatalf("failed event claimed: %v", c)
		}
		if d, _ := db.EventDelivery(ctx, "m_1", id); d.Status != paygate.DeliveryFailed || d.Attempts != 3 {
			t.Fatalf("after failure: %+v", d)
		}
		// Postponing without an attempt counts nothing.
		db.Redeliver(ctx, "m_1", id)
		claims, _ = db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{})
		db.RecordDelivery(ctx, claims[0], paygate.DeliveryOutcome{Next: clk.Now().Add(time.Hour)})
		if d, _ := db.EventDelivery(ctx, "m_1", id); d.Status != paygate.DeliveryPending || d.Attempts != 3 || len(d.Log) != 3 {
			t.Fatalf("after postpone: %+v", d)
		}
	})
}

// Concurrent claimers never share an event.
func TestOutboxConcurrentClaims(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		const n = 60
		for i := range n {
			paidWithEvent(t, db, "m_1", fmt.Sprint("C", i))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					c, err := db.ClaimEvents(ctx, 7, time.Minute, paygate.EventClaimFilter{})
					if err != nil {
						t.Error(err)
						return
					}
					if len(c) == 0 {
						return
					}
					mu.Lock()
					for _, e := range c {
						seen[e.Event.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d events, want %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("event %s claimed %d times", id, k)
			}
		}
	})
}

func TestClaimPending(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := newOrder("m_1", "P1", 100)
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		paid := paidOrder(t, db, "m_1", "P2", 100)
		r := newRefund(paid, "R1", 50)
		if err := db.CreateRefund(ctx, r); err != nil {
			t.Fatal(err)
		}
		if l, _ := db.ClaimPendingOrders(ctx, clk.Now().Add(-time.Minute), time.Minute, 10); len(l) != 0 {
			t.Fatalf("claimed a young order: %v", ids(l))
		}
		clk.Advance(2 * time.Minute)
		before := clk.Now().Add(-time.Minute)
		l, err := db.ClaimPendingOrders(ctx, before, time.Minute, 10)
		if err != nil || len(l) != 1 || l[0].ID != o.ID {
			t.Fatalf("claim orders = %v, %v", l, err)
		}
		if again, _ := db.ClaimPendingOrders(ctx, before, time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed twice within the lease")
		}
		rs, err := db.ClaimPendingRefunds(ctx, before, time.Minute, 10)
		if err != nil || len(rs) != 1 || rs[0].ID != r.ID {
			t.Fatalf("claim refunds = %v, %v", rs, err)
		}
		if again, _ := db.ClaimPendingRefunds(ctx, before, time.Minute, 10); len(again) != 0 {
			t.Fatalf("refund claimed twice within the lease")
		}
		clk.Advance(time.Minute)
		if l, _ := db.ClaimPendingOrders(ctx, clk.Now(), time.Minute, 10); len(l) != 1 {
			t.Fatalf("lease did not end: %v", l)
		}
	})
}

// Events nobody can receive yet (no notify_url, merchant without a webhook)
// are not claimed under a Deliverable filter; the others are.
func TestOutboxClaimOnlyDeliverable(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		hooked := paidWithEvent(t, db, "m_hook", "H1")
		silent := paidWithEvent(t, db, "m_none", "N1")
		o := newOrder("m_none", "N2", 100)
		o.NotifyURL = "https://merchant.example/order"
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		u := paygateSucceeded(o.ID)
		if _, ok, err := db.UpdateOrder(ctx, u); err != nil || !ok {
			t.Fatal(ok, err)
		}
		claims, err := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{Deliverable: []string{"m_hook"}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range claims {
			got[c.Event.ID] = true
		}
		if len(got) != 2 || !got[hooked] || !got[u.Event.ID] || got[silent] {
			t.Fatalf("claimed %v; want %s and %s, not %s", got, hooked, u.Event.ID, silent)
		}
		// With no webhook merchant at all, only notify_url events qualify;
		// without a filter, the silent one is claimable as before.
		if c, _ := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{Deliverable: []string{}}); len(c) != 0 {
			t.Fatalf("claimed %d leased or undeliverable events", len(c))
		}
		if c, _ := db.ClaimEvents(ctx, 10, time.Minute, paygate.EventClaimFilter{}); len(c) != 1 || c[0].Event.ID != silent {
			t.Fatalf("unfiltered claim = %v", c)
		}
	})
}
