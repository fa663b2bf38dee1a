package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// A batch in which the server rejects one statement is rolled back whole
// and rerun statement by statement: every statement gets the answer it
// would have got alone, and the good ones are committed once.
func TestPipelineBatchWithARejectedStatement(t *testing.T) {
	db := storetest.Open(t, store.DialectPostgres)
	ctx := context.Background()
	a, b := newOrder("m_1", "PIPE-A", 100), newOrder("m_1", "PIPE-B", 200)
	for _, o := range []*paygate.Order{a, b} {
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	rows, errs := store.PipelineBatch(db, []store.PipeStmt{
		{Key: "o:" + a.ID, SQL: "UPDATE orders SET subject = ? WHERE id = ?", Args: []any{"first", a.ID}},
		{Key: "o:" + b.ID, SQL: "INSERT INTO orders (id, merchant_id, merchant_order_no, status, amount, currency, subject, method, channel, provider) SELECT id, merchant_id, merchant_order_no, status, amount, currency, subject, method, channel, provider FROM orders WHERE id = ?", Args: []any{b.ID}},
		{Key: "o:none", SQL: "UPDATE orders SET subject = ? WHERE id = ?", Args: []any{"nobody", "ord_none"}},
		{Key: "o:" + b.ID + "x", SQL: "UPDATE orders SET subject = ? WHERE id = ?", Args: []any{"second", b.ID}},
	})
	if errs[0] != nil || rows[0] != 1 {
		t.Errorf("update a: %d rows, %v", rows[0], errs[0])
	}
	if errs[1] == nil {
		t.Errorf("duplicate insert: no error")
	}
	if errs[2] != nil || rows[2] != 0 {
		t.Errorf("update of no order: %d rows, %v", rows[2], errs[2])
	}
	if errs[3] != nil || rows[3] != 1 {
		t.Errorf("update b: %d rows, %v", rows[3], errs[3])
	}
	for id, want := range map[string]string{a.ID: "first", b.ID: "second"} {
		o, err := db.OrderByID(ctx, id)
		if err != nil || o.Subject != want {
			t.Errorf("order %s: subject %q (%v), want %q", id, o.Subject, err, want)
		}
	}
}

// Many concurrent callers, some reusing a merchant order number, get
// exactly the answers lone statements would give, whichever batches the
// pipeline made of them: one order per number, EDUPORDERNO for the rest,
// and each order's transition applied once with one event.
func TestPipelineConcurrentCallers(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n, numbers = 96, 32
		created := make([]*paygate.Order, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				o := newOrder("m_1", fmt.Sprintf("PIPE-%d", i%numbers), 100)
				err := db.CreateOrder(ctx, o)
				if err == nil {
					created[i] = o
					return
				}
				if paygate.ErrorCode(err) != paygate.EDUPORDERNO {
					t.Errorf("create %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		var orders []*paygate.Order
		for _, o := range created {
			if o != nil {
				orders = append(orders, o)
			}
		}
		if len(orders) != numbers {
			t.Fatalf("%d orders created, want %d", len(orders), numbers)
		}
		applied := make([]int, len(orders))
		var mu sync.Mutex
		for i, o := range orders {
			for range 3 {
				wg.Go(func() {
					cur, err := db.OrderByID(ctx, o.ID)
					if err != nil {
						t.Error(err)
						return
					}
					_, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded,
						Event: &paygate.Event{Type: paygate.EventOrderSucceeded}, Expect: cur})
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						applied[i]++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		for i, o := range orders {
			events, _, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", OrderID: o.ID})
			if applied[i] != 1 || err != nil || len(events) != 1 {
				t.Errorf("order %s: applied %d times, %d events (%v)", o.ID, applied[i], len(events), err)
			}
		}
	})
}

// A statement whose caller gave up before the pipeline sent it is not
// sent: nothing is written and the caller gets its context's error.
func TestPipelineCancelledCaller(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		o := newOrder("m_1", "PIPE-CANCEL", 100)
		if err := db.CreateOrder(ctx, o); err == nil {
			t.Fatal("create with a cancelled context: no error")
		}
		if _, err := db.OrderByID(context.Background(), o.ID); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Errorf("order after a cancelled create: %v", err)
		}
	})
}

// Closing the store while callers are writing leaves none of them waiting:
// each gets its statement's answer or the closed error.
func TestPipelineCloseWhileWriting(t *testing.T) {
	db := storetest.Open(t, store.DialectPostgres)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			_ = db.CreateOrder(context.Background(), newOrder("m_1", fmt.Sprintf("CLOSE-%d", i), 100))
		})
	}
	db.Close()
	wg.Wait()
}
