package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600))}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// backends runs fn on every backend with a store driven by a test clock.
func backends(t *testing.T, fn func(t *testing.T, db *store.DB, clk *clock)) {
	for _, b := range storetest.Selected() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			db := storetest.OpenWith(t, b, store.Options{Now: clk.Now, MaxConns: 20})
			fn(t, db, clk)
		})
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := paygate.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func newOrder(merchant, no string, amount int64) *paygate.Order {
	return &paygate.Order{
		MerchantID:      merchant,
		MerchantOrderNo: no,
		Status:          paygate.OrderPending,
		Amount:          amount,
		Currency:        "CNY",
		Subject:         "Latte",
		Method:          paygate.MethodAuthCode,
		Channel:         "wechat",
		Provider:        "wechat",
	}
}

// paidOrder creates an order and moves it to succeeded.
func paidOrder(t *testing.T, db *store.DB, merchant, no string, amount int64) *paygate.Order {
	t.Helper()
	ctx := context.Background()
	o := newOrder(merchant, no, amount)
	if err := db.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	o, applied, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded})
	if err != nil || !applied {
		t.Fatalf("pay order: applied=%v err=%v", applied, err)
	}
	return o
}

func TestDialect(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		if got := db.Dialect(); got != t.Name()[len("TestDialect/"):] {
			t.Errorf("Dialect() = %q in %s", got, t.Name())
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// storetest already migrated once; again, and twice at once.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { errs[i] = db.Migrate(ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.CreateOrder(ctx, newOrder("m_1", "after-migrate", 100)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCreateAndGetOrder(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		qr := "weixin://wxpay/bizpayurl?pr=abc"
		paid := clk.Now().Add(3 * time.Second)
		capCap := int64(2000)
		o := newOrder("m_1", "A-0001", 1234)
		o.Route = &paygate.Route{Provider: "wechat", Channel: "wechat", FeeRate: decimal.RequireFromString("0.006"),
			FeeCap: &capCap, Fee: 7, Rule: "wechat.default",
			Candidates: []paygate.RouteCandidate{{Provider: "wechat", Channel: "wechat", Fee: 7, Eligible: true, Reason: "cheapest"}}}
		o.QRCode = &qr
		o.Credential = json.RawMessage(`{"appId":"wx1","package":"prepay_id=1"}`)
		o.Card = &paygate.CardInfo{EntryMode: paygate.EntryContactless, Type: paygate.CardCredit,
			Network: paygate.NetworkUnionPay, BIN: "622588", Last4: "1234", Fingerprint: "fp1"}
		o.TerminalID = "T0001"
		o.Location = &paygate.Location{RegionCode: "310000"}
		o.Capture = paygate.CaptureAutomatic
		o.Failure = &paygate.Failure{Code: "declined", Message: "no", ChannelCode: "05"}
		o.NotifyURL = "https://merchant.example/hook"
		o.PayerID = "openid-1"
		o.PaidAt = &paid
		o.ExpiresAt = clk.Now().Add(15 * time.Minute)
		o.Metadata = map[string]string{"table": "12"}
		o.AuthCodeMasked = "1345**********6789"
		o.ChannelRef = "004217/1121231500"
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		if len(o.ID) != 28 || o.ID[:4] != paygate.PrefixOrder {
			t.Fatalf("ID = %q", o.ID)
		}
		if !o.CreatedAt.Equal(clk.Now()) && o.CreatedAt.Sub(clk.Now()).Abs() > time.Microsecond {
			t.Fatalf("CreatedAt = %v, want %v", o.CreatedAt, clk.Now())
		}

		reads := []func() (*paygate.Order, error){
			func() (*paygate.Order, error) { return db.MerchantOrder(ctx, "m_1", o.ID) },
			func() (*paygate.Order, error) { return db.OrderByID(ctx, o.ID) },
		}
		for _, read := range reads {
			got, err := read()
			if err != nil {
				t.Fatal(err)
			}
			if !got.Route.FeeRate.Equal(o.Route.FeeRate) {
				t.Errorf("fee rate = %v", got.Route.FeeRate)
			}
			got.Route.FeeRate = o.Route.FeeRate
			for i := range got.Route.Candidates {
				if !got.Route.Candidates[i].FeeRate.Equal(o.Route.Candidates[i].FeeRate) {
					t.Errorf("candidate %d fee rate = %v", i, got.Route.Candidates[i].FeeRate)
				}
				got.Route.Candidates[i].FeeRate = o.Route.Candidates[i].FeeRate
			}
			if !reflect.DeepEqual(got, o) {
				gj, _ := json.Marshal(got)
				oj, _ := json.Marshal(o)
				t.Fatalf("read back differs:\n got %s\nwant %s", gj, oj)
			}
		}
		byNo, err := db.OrderByMerchantNo(ctx, "m_1", "A-0001")
		if err != nil || byNo.ID != o.ID {
			t.Fatalf("OrderByMerchantNo = %v, %v", byNo, err)
		}
		// A merchant-scoped read never means "any merchant": another
		// merchant and an empty merchant id both find nothing; OrderByID
		// is the read that does not look at the merchant.
		for _, m := range []string{"m_2", ""} {
			_, err := db.MerchantOrder(ctx, m, o.ID)
			wantCode(t, err, paygate.ENOTFOUND)
		}
		if read, err := db.OrderByID(ctx, o.ID); err != nil || read.ID != o.ID {
			t.Fatalf("OrderByID = %v, %v", read, err)
		}

		// A minimal order keeps its nils.
		m := newOrder("m_1", "A-0002", 1)
		if err := db.CreateOrder(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := db.MerchantOrder(ctx, "m_1", m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("minimal order read back as %+v, want %+v", got, m)
		}
	})
}

func TestOrderErrors(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := newOrder("m_a", "dup-1", 100)
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateOrder(ctx, newOrder("m_a", "dup-1", 200)), paygate.EDUPORDERNO)
		// Another merchant may use the same number.
		if err := db.CreateOrder(ctx, newOrder("m_b", "dup-1", 200)); err != nil {
			t.Fatal(err)
		}
		// The same id again is a conflict, not a duplicate number.
		again := newOrder("m_a", "dup-2", 100)
		again.ID = o.ID
		wantCode(t, db.CreateOrder(ctx, again), paygate.ECONFLICT)

		// Scoping: merchant B cannot read merchant A's order.
		_, err := db.MerchantOrder(ctx, "m_b", o.ID)
		wantCode(t, err, paygate.ENOTFOUND)
		_, err = db.MerchantOrder(ctx, "m_a", "ord_missing")
		wantCode(t, err, paygate.ENOTFOUND)
		_, err = db.OrderByMerchantNo(ctx, "m_c", "dup-1")
		wantCode(t, err, paygate.ENOTFOUND)
		_, _, err = db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: "ord_missing", To: paygate.OrderClosed})
		wantCode(t, err, paygate.ENOTFOUND)
	})
}

func TestListOrders(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		start := clk.Now()
		var ids []string // oldest first
		for i := range 25 {
			o := newOrder("m_1", fmt.Sprintf("L-%02d", i), int64(100+i))
			if i%5 == 0 {
				o.TerminalID = "T1"
			}
			if err := db.CreateOrder(ctx, o); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				if _, _, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderClosed}); err != nil {
					t.Fatal(err)
				}
			}
			ids = append(ids, o.ID)
			clk.Advance(time.Second)
		}
		if err := db.CreateOrder(ctx, newOrder("m_2", "L-00", 1)); err != nil {
			t.Fatal(err)
		}

		// Pages of 10, newest first, then the remaining 5.
		var got []string
		cursor := ""
		pages := 0
		for {
			list, next, err := db.Orders(ctx, paygate.OrderFilter{MerchantID: "m_1", Cursor: cursor, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range list {
				got = append(got, o.ID)
			}
			pages++
			if next == "" {
				break
			}
			cursor = next
		}
		if pages != 3 || len(got) != 25 {
			t.Fatalf("pages=%d orders=%d, want 3 and 25", pages, len(got))
		}
		for i, id := range got {
			if id != ids[24-i] {
				t.Fatalf("order %d = %s, want %s", i, id, ids[24-i])
			}
		}

		at := func(i int) *time.Time { t := start.Add(time.Duration(i) * time.Second); return &t }
		tests := []struct {
			name string
			f    paygate.OrderFilter
			want int
		}{
			{"default limit", paygate.OrderFilter{}, 20},
			{"limit capped", paygate.OrderFilter{Limit: 1000}, 25},
			{"terminal", paygate.OrderFilter{TerminalID: "T1"}, 5},
			{"merchant order no", paygate.OrderFilter{MerchantOrderNo: "L-07"}, 1},
			{"status", paygate.OrderFilter{Status: paygate.OrderClosed}, 13},
			{"created from inclusive", paygate.OrderFilter{CreatedFrom: at(20)}, 5},
			{"created to exclusive", paygate.OrderFilter{CreatedTo: at(3)}, 3},
			{"range", paygate.OrderFilter{CreatedFrom: at(3), CreatedTo: at(8), Status: paygate.OrderPending}, 3}, // 3, 5, 7
		}
		for _, tc := range tests {
			tc.f.MerchantID = "m_1"
			list, _, err := db.Orders(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if len(list) != tc.want {
				t.Errorf("%s: %d orders, want %d", tc.name, len(list), tc.want)
			}
			for _, o := range list {
				if o.MerchantID != "m_1" {
					t.Errorf("%s: order of %s listed", tc.name, o.MerchantID)
				}
			}
		}

		for _, bad := range []string{"!!!", "b3JkXw@", "ZXZ0X3h4eA"} { // not base64; bad base64; an event id
			_, _, err := db.Orders(ctx, paygate.OrderFilter{MerchantID: "m_1", Cursor: bad})
			wantCode(t, err, paygate.EPARAMINVALID)
			var pe *paygate.Error
			if errors.As(err, &pe) && pe.Param != "cursor" {
				t.Errorf("param = %q, want cursor", pe.Param)
			}
		}
	})
}

func TestUpdateOrderCAS(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := newOrder("m_1", "CAS-1", 1000)
		o.NotifyURL = "https://merchant.example/order-hook"
		if err := db.CreateOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		paidAt := clk.Now()

		const n = 20
		var applied atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				tradeNo := fmt.Sprintf("4200%d", i)
				fee, net := int64(6), int64(994)
				_, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{
					OrderID: o.ID, From: []paygate.OrderStatus{paygate.OrderPending}, To: paygate.OrderSucceeded,
					ChannelTradeNo: &tradeNo, PaidAt: &paidAt, Fee: &fee, NetAmount: &net,
					Event: &paygate.Event{Type: paygate.EventOrderSucceeded},
				})
				if err != nil {
					errs <- err
				}
				if ok {
					applied.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if applied.Load() != 1 {
			t.Fatalf("%d updates applied, want 1", applied.Load())
		}
		events, _, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", OrderID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 {
			t.Fatalf("%d events, want 1", len(events))
		}
		e := events[0]
		got, _ := db.MerchantOrder(ctx, "m_1", o.ID)
		if got.Status != paygate.OrderSucceeded || got.Fee != 6 || got.NetAmount != 994 ||
			got.PaidAt == nil || !got.PaidAt.Equal(paidAt.Truncate(time.Microsecond)) || !got.UpdatedAt.After(got.CreatedAt) {
			t.Fatalf("order after CAS: %+v", got)
		}
		if e.Type != paygate.EventOrderSucceeded || e.OrderID != o.ID || e.NotifyURL != o.NotifyURL || e.ID[:4] != paygate.PrefixEvent {
			t.Fatalf("event = %+v", e)
		}
		var data struct {
			Object *struct {
				Status         paygate.OrderStatus `json:"status"`
				ChannelTradeNo string              `json:"channel_trade_no"`
			} `json:"object"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Object == nil || data.Object.Status != paygate.OrderSucceeded || data.Object.ChannelTradeNo != got.ChannelTradeNo {
			t.Fatalf("event data = %s", e.Data)
		}
		byID, err := db.Event(ctx, "m_1", e.ID)
		if err != nil || !reflect.DeepEqual(byID, e) {
			t.Fatalf("Event = %+v, %v; want %+v", byID, err, e)
		}
		_, err = db.Event(ctx, "m_2", e.ID)
		wantCode(t, err, paygate.ENOTFOUND)
		_, err = db.Event(ctx, "", e.ID)
		wantCode(t, err, paygate.ENOTFOUND)

		// Not applied: current order, applied=false, no event.
		cur, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderClosed,
			Event: &paygate.Event{Type: paygate.EventOrderClosed}})
		if err != nil || ok || cur.Status != paygate.OrderSucceeded {
			t.Fatalf("close of paid order: %v %v %v", cur, ok, err)
		}
		// A late success moves a closed order to succeeded (From empty = SourcesOf).
		late := newOrder("m_1", "CAS-2", 500)
		if err := db.CreateOrder(ctx, late); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: late.ID, To: paygate.OrderClosed}); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if after, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: late.ID, To: paygate.OrderSucceeded}); !ok || err != nil || after.Status != paygate.OrderSucceeded {
			t.Fatal(ok, err)
		}
		// Nothing moves to pending.
		if _, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: late.ID, To: paygate.OrderPending}); ok || err != nil {
			t.Fatal(ok, err)
		}
	})
}

func TestEventsList(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		for i := range 5 {
			o := newOrder("m_1", fmt.Sprintf("E-%d", i), 100)
			if err := db.CreateOrder(ctx, o); err != nil {
				t.Fatal(err)
			}
			to := paygate.OrderSucceeded
			if i%2 == 1 {
				to = paygate.OrderFailed
			}
			clk.Advance(time.Millisecond)
			if _, _, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: to,
				Event: &paygate.Event{Type: paygate.OrderEventType(to)}}); err != nil {
				t.Fatal(err)
			}
		}
		list, next, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", Limit: 2})
		if err != nil || len(list) != 2 || next == "" {
			t.Fatalf("page 1: %d events, next %q, %v", len(list), next, err)
		}
		rest, next2, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", Cursor: next})
		if err != nil || len(rest) != 3 || next2 != "" || rest[0].ID >= list[1].ID {
			t.Fatalf("page 2: %d events, next %q, %v", len(rest), next2, err)
		}
		failed, _, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", Type: paygate.EventOrderFailed})
		if err != nil || len(failed) != 2 {
			t.Fatalf("failed events: %d, %v", len(failed), err)
		}
		none, _, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_2"})
		if err != nil || len(none) != 0 {
			t.Fatalf("other merchant sees %d events, %v", len(none), err)
		}
		_, _, err = db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", Cursor: "%%%"})
		wantCode(t, err, paygate.EPARAMINVALID)
	})
}

func TestPendingOrders(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		var want []string
		for i := range 4 {
			o := newOrder("m_1", fmt.Sprintf("P-%d", i), 100)
			if err := db.CreateOrder(ctx, o); err != nil {
				t.Fatal(err)
			}
			switch i {
			case 1:
				db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded})
			case 2:
				db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderAuthorized})
				want = append(want, o.ID)
			default:
				want = append(want, o.ID)
			}
			clk.Advance(time.Minute)
		}
		got, err := db.PendingOrders(ctx, clk.Now().Add(-time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != want[0] || got[1].ID != want[1] {
			t.Fatalf("pending = %v, want the first two of %v", ids(got), want)
		}
		if got, _ := db.PendingOrders(ctx, clk.Now(), 1); len(got) != 1 || got[0].ID != want[0] {
			t.Fatalf("limit 1 = %v", ids(got))
		}
	})
}

func ids(os []*paygate.Order) []string {
	var s []string
	for _, o := range os {
		s = append(s, o.ID)
	}
	return s
}

func paygateSucceeded(id string) paygate.OrderUpdate {
	return paygate.OrderUpdate{OrderID: id, To: paygate.OrderSucceeded, Event: &paygate.Event{Type: paygate.EventOrderSucceeded}}
}

// A fallback re-routes a pending order before anything was sent: the
// provider, fee, route and channel reference all follow.
func TestUpdateOrderReroute(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		for _, expect := range []bool{false, true} {
			o := newOrder("m_1", fmt.Sprintf("RR-%v", expect), 1000)
			o.ChannelRef = "000001/1121231500"
			if err := db.CreateOrder(ctx, o); err != nil {
				t.Fatal(err)
			}
			route := &paygate.Route{Provider: "acq2", Channel: "acquirer", FeeRate: decimal.RequireFromString("0.005"), Fee: 5, Rule: "card.debit"}
			ref := "000002/1121231501"
			u := paygate.OrderUpdate{OrderID: o.ID, From: []paygate.OrderStatus{paygate.OrderPending}, To: paygate.OrderPending,
				Route: route, ChannelRef: &ref}
			if expect {
				u.Expect = o
			}
			after, ok, err := db.UpdateOrder(ctx, u)
			if err != nil || !ok {
				t.Fatalf("reroute (expect %v): %v, %v", expect, ok, err)
			}
			got, err := db.MerchantOrder(ctx, "m_1", o.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []*paygate.Order{after, got} {
				if x.Provider != "acq2" || x.Fee != 5 || x.NetAmount != 995 || x.ChannelRef != ref || x.Route.Provider != "acq2" {
					t.Fatalf("rerouted order (expect %v): provider %s fee %d net %d ref %q", expect, x.Provider, x.Fee, x.NetAmount, x.ChannelRef)
				}
			}
		}
	})
}
