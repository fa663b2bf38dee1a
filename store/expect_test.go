package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

// An update carrying the caller's fresh read (OrderUpdate.Expect) applies
// once under concurrency, writes one event whose data is the order as
// stored, and a stale read falls back to the general compare-and-set.
func TestUpdateOrderWithExpect(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := newOrder("m_1", "EXP-1", 1000)
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		snap, err := db.OrderByID(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		var applied atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				trade := "4200EXP"
				_, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded,
					ChannelTradeNo: &trade, Event: &paygate.Event{Type: paygate.EventOrderSucceeded}, Expect: snap})
				if err != nil {
					t.Error(err)
				}
				if ok {
					applied.Add(1)
				}
			})
		}
		wg.Wait()
		if applied.Load() != 1 {
			t.Fatalf("%d updates applied, want 1", applied.Load())
		}
		events, _, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", OrderID: o.ID})
		if err != nil || len(events) != 1 {
			t.Fatalf("events: %v %v", events, err)
		}
		stored, _ := db.OrderByID(ctx, o.ID)
		var data struct {
			Object *struct {
				Status         paygate.OrderStatus `json:"status"`
				ChannelTradeNo string              `json:"channel_trade_no"`
				UpdatedAt      time.Time           `json:"updated_at"`
			} `json:"object"`
		}
		if err := json.Unmarshal(events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Object.Status != paygate.OrderSucceeded || data.Object.ChannelTradeNo != "4200EXP" ||
			!data.Object.UpdatedAt.Equal(stored.UpdatedAt) {
			t.Errorf("event data %+v does not show the stored order %+v", data.Object, stored)
		}

		// A stale read (the order moved on since) neither applies twice
		// nor loses an update the general path would make.
		clk.Advance(time.Second)
		_, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderReversed,
			Event: &paygate.Event{Type: paygate.EventOrderReversed}, Expect: snap})
		if err != nil || !ok {
			t.Fatalf("reverse with a stale read: applied=%v err=%v", ok, err)
		}
		if cur, _ := db.OrderByID(ctx, o.ID); cur.Status != paygate.OrderReversed || cur.ChannelTradeNo != "4200EXP" {
			t.Errorf("after reverse: %s %s", cur.Status, cur.ChannelTradeNo)
		}
	})
}
