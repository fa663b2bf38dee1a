package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

func TestIdempotency(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		lock := func() time.Time { return clk.Now().Add(30 * time.Second) }

		rec, err := db.BeginIdempotent(ctx, "m_1", "k1", "h1", lock())
		if err != nil || rec != nil {
			t.Fatalf("first begin: %+v, %v", rec, err)
		}
		// Still running: the record comes back, not done.
		rec, err = db.BeginIdempotent(ctx, "m_1", "k1", "h1", lock())
		if err != nil || rec == nil || rec.Done || rec.RequestHash != "h1" {
			t.Fatalf("second begin: %+v, %v", rec, err)
		}
		// Another merchant's key of the same name is its own.
		if rec, err := db.BeginIdempotent(ctx, "m_2", "k1", "h9", lock()); err != nil || rec != nil {
			t.Fatalf("other merchant: %+v, %v", rec, err)
		}

		body := []byte(`{"id":"ord_1","object":"order"}`)
		if err := db.FinishIdempotent(ctx, "m_1", "k1", 201, body); err != nil {
			t.Fatal(err)
		}
		rec, err = db.BeginIdempotent(ctx, "m_1", "k1", "h1", lock())
		if err != nil || rec == nil || !rec.Done || rec.StatusCode != 201 || string(rec.Body) != string(body) ||
			rec.MerchantID != "m_1" || rec.Key != "k1" || !rec.CreatedAt.Equal(clk.Now().Truncate(time.Microsecond)) {
			t.Fatalf("replay: %+v, %v", rec, err)
		}
		// A different hash gets the record too; the caller answers "reused".
		if rec, err := db.BeginIdempotent(ctx, "m_1", "k1", "h2", lock()); err != nil || rec == nil || rec.RequestHash != "h1" {
			t.Fatalf("other hash: %+v, %v", rec, err)
		}
		// Abandon leaves a finished record alone.
		if err := db.AbandonIdempotent(ctx, "m_1", "k1"); err != nil {
			t.Fatal(err)
		}
		if rec, _ := db.BeginIdempotent(ctx, "m_1", "k1", "h1", lock()); rec == nil || !rec.Done {
			t.Fatalf("finished record was abandoned: %+v", rec)
		}
		wantCode(t, db.FinishIdempotent(ctx, "m_1", "missing", 200, nil), paygate.ENOTFOUND)

		// Abandon frees a running key.
		if rec, _ := db.BeginIdempotent(ctx, "m_1", "k2", "h1", lock()); rec != nil {
			t.Fatal("k2 should be new")
		}
		if err := db.AbandonIdempotent(ctx, "m_1", "k2"); err != nil {
			t.Fatal(err)
		}
		if rec, err := db.BeginIdempotent(ctx, "m_1", "k2", "h1", lock()); err != nil || rec != nil {
			t.Fatalf("after abandon: %+v, %v", rec, err)
		}

		// Takeover: once k2's lock expires, the next caller owns it, once.
		clk.Advance(time.Minute)
		if rec, err := db.BeginIdempotent(ctx, "m_1", "k2", "h2", lock()); err != nil || rec == nil {
			t.Fatalf("expired lock with another hash must not be taken over: %+v, %v", rec, err)
		}
		if rec, err := db.BeginIdempotent(ctx, "m_1", "k2", "h1", lock()); err != nil || rec != nil {
			t.Fatalf("takeover: %+v, %v", rec, err)
		}
		if rec, err := db.BeginIdempotent(ctx, "m_1", "k2", "h1", lock()); err != nil || rec == nil || rec.Done {
			t.Fatalf("after takeover: %+v, %v", rec, err)
		}

		// Purge removes what was created before the cutoff.
		n, err := db.PurgeIdempotent(ctx, clk.Now())
		if err != nil || n != 3 {
			t.Fatalf("purge: %d, %v", n, err)
		}
		if rec, err := db.BeginIdempotent(ctx, "m_1", "k1", "h1", lock()); err != nil || rec != nil {
			t.Fatalf("purged key: %+v, %v", rec, err)
		}
	})
}

func TestIdempotencyConcurrentBegin(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		race := func(key string) int32 {
			var owners atomic.Int32
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					rec, err := db.BeginIdempotent(ctx, "m_1", key, "h", clk.Now().Add(30*time.Second))
					if err != nil {
						t.Error(err)
					} else if rec == nil {
						owners.Add(1)
					}
				})
			}
			wg.Wait()
			return owners.Load()
		}
		if n := race("fresh"); n != 1 {
			t.Fatalf("%d owners of a fresh key, want 1", n)
		}
		clk.Advance(time.Minute) // the lock of "fresh" expires
		if n := race("fresh"); n != 1 {
			t.Fatalf("%d owners taking over an expired key, want 1", n)
		}
	})
}
