package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/xuri/excelize/v2"
)

// billOf is a bill holding the orders as the channel would list them.
type billOf struct{ l []reconcile.Line }

func (b *billOf) Next() (reconcile.Line, error) {
	if len(b.l) == 0 {
		return reconcile.Line{}, io.EOF
	}
	l := b.l[0]
	b.l = b.l[1:]
	return l, nil
}

// TestReconciliationAPI drives the reconciliation and statement endpoints
// end to end, every exchange checked against the OpenAPI document. The
// bill is built from the orders (one fee changed), standing in for the
// channel's.
func TestReconciliationAPI(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b, func(cfg *config.Config) { cfg.Jobs.Disabled = true })
			ctx := context.Background()
			var ids []string
			for _, amount := range []int64{1234, 5678} {
				r := c.createOrder(authCodeOrder("134567890123456789", amount), "")
				if r.Status != 201 {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				ids = append(ids, r.decode(t)["id"].(string))
			}
			var lines []reconcile.Line
			for i, id := range ids {
				o := c.waitStatus(id, "succeeded")
				fee := int64(o["fee"].(float64))
				if i == 1 {
					fee++ // the channel charged a fen more
				}
				lines = append(lines, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded,
					ChannelTradeNo: o["channel_trade_no"].(string), OrderID: id, Amount: int64(o["amount"].(float64)), Fee: fee, Time: time.Now()})
			}
			c.m.Recon.BeforeToday = func(context.Context, string) error { return nil }
			c.m.Recon.Open = func(ctx context.Context, provider, day string) (*reconcile.Bill, error) {
				if provider != "wechat" {
					return &reconcile.Bill{Reader: reconcile.EmptyBill()}, nil
				}
				return &reconcile.Bill{Reader: &billOf{l: append([]reconcile.Line(nil), lines...)}, SHA1: "0123abcd"}, nil
			}
			today := paygate.DayOf(time.Now())

			r := c.do("POST", "/v1/reconciliations", "/v1/reconciliations", map[string]any{"date": today, "provider": "wechat"}, "")
			if r.Status != 201 {
				t.Fatalf("run: %d %s", r.Status, r.Body)
			}
			runs := r.decode(t)["data"].([]any)
			run := runs[0].(map[string]any)
			outcomes := run["outcomes"].(map[string]any)
			if len(runs) != 1 || run["status"] != "succeeded" || outcomes["matched"] != 1.0 || outcomes["fee_mismatch"] != 1.0 {
				t.Fatalf("runs %v", runs)
			}
			id := run["id"].(string)
			if r := c.do("GET", "/v1/reconciliations?date="+today, "/v1/reconciliations", nil, ""); r.Status != 200 || len(r.decode(t)["data"].([]any)) != 1 {
				t.Fatalf("list: %d %s", r.Status, r.Body)
			}
			if r := c.do("GET", "/v1/reconciliations/"+id, "/v1/reconciliations/{id}", nil, ""); r.Status != 200 {
				t.Fatalf("get: %d %s", r.Status, r.Body)
			}
			r = c.do("GET", "/v1/reconciliations/"+id+"/discrepancies", "/v1/reconciliations/{id}/discrepancies", nil, "")
			ds := r.decode(t)["data"].([]any)
			if r.Status != 200 || len(ds) != 1 {
				t.Fatalf("discrepancies: %d %s", r.Status, r.Body)
			}
			d := ds[0].(map[string]any)
			if d["outcome"] != "fee_mismatch" || d["order_id"] != ids[1] || d["resolution"] != "open" {
				t.Fatalf("discrepancy %v", d)
			}
			path := "/v1/discrepancies/" + d["id"].(string) + "/resolve"
			if r := c.do("POST", path, "/v1/discrepancies/{id}/resolve", map[string]any{}, ""); r.Status != 400 || r.errorCode() != paygate.EPARAMMISSING {
				t.Fatalf("resolve without a note: %d %s", r.Status, r.Body)
			}
			r = c.do("POST", path, "/v1/discrepancies/{id}/resolve", map[string]any{"note": "合同费率已调整"}, "")
			if r.Status != 200 || r.decode(t)["resolution"] != "accepted" {
				t.Fatalf("resolve: %d %s", r.Status, r.Body)
			}
			if r := c.do("POST", path, "/v1/discrepancies/{id}/resolve", map[string]any{"note": "again"}, ""); r.Status != 409 {
				t.Fatalf("resolve twice: %d %s", r.Status, r.Body)
			}

			for _, bad := range []struct{ body map[string]any }{
				{map[string]any{"date": "2026-13-01"}},
				{map[string]any{"date": today, "provider": "nobody"}},
				{map[string]any{"date": today, "extra": 1}},
			} {
				if r := c.do("POST", "/v1/reconciliations", "/v1/reconciliations", bad.body, ""); r.Status != 400 {
					t.Errorf("%v: %d %s", bad.body, r.Status, r.Body)
				}
			}

			r = c.do("GET", "/v1/statements/"+today+"?format=json", "/v1/statements/{date}", nil, "")
			st := r.decode(t)
			if r.Status != 200 || len(st["lines"].([]any)) != 2 || st["totals"].(map[string]any)["amount"] != 1234.0+5678 {
				t.Fatalf("statement: %d %s", r.Status, r.Body)
			}
			line := st["lines"].([]any)[1].(map[string]any)
			if line["reconciliation"] != "fee_mismatch" {
				t.Errorf("line outcome %v", line["reconciliation"])
			}
			r = c.do("GET", "/v1/statements/"+today+"?format=csv", "", nil, "") // not JSON: the document check reads JSON only
			if r.Status != 200 || !bytes.HasPrefix(r.Body, []byte("\xEF\xBB\xBF类型,时间")) || !strings.Contains(string(r.Body), "69.12") {
				t.Fatalf("csv: %d %s", r.Status, r.Body)
			}
			r = c.do("GET", "/v1/statements/"+today+"?format=xlsx", "", nil, "")
			book, err := excelize.OpenReader(bytes.NewReader(r.Body))
			if r.Status != 200 || err != nil {
				t.Fatalf("xlsx: %d %v", r.Status, err)
			}
			if v, _ := book.GetCellValue("明细", "J2", excelize.Options{RawCellValue: true}); v != "12.34" {
				t.Errorf("xlsx J2 = %q", v)
			}
			book.Close()
			if r := c.do("GET", "/v1/statements/"+today+"?format=pdf", "/v1/statements/{date}", nil, ""); r.Status != 400 {
				t.Errorf("pdf: %d", r.Status)
			}
			if r := c.do("GET", "/v1/statements/yesterday", "/v1/statements/{date}", nil, ""); r.Status != 400 {
				t.Errorf("bad date: %d", r.Status)
			}
			_ = ctx
		})
	}
}

// adjuster is a simulator that can change its next bill.
type adjuster interface {
	AdjustBill(sandbox.BillAdjustment) error
}

func (c *client) adjusters() map[string]adjuster {
	sb := c.m.Sandbox
	return map[string]adjuster{paygate.KindWeChat: sb.WeChat, paygate.KindAlipay: sb.Alipay,
		paygate.KindUnionPay: sb.UnionPay, paygate.KindECNY: sb.ECNY, paygate.KindAcquirer: sb.Acquirer}
}

// reconcileToday runs POST /v1/reconciliations for today and returns the
// runs by provider.
func (c *client) reconcileToday(t *testing.T) map[string]map[string]any {
	t.Helper()
	r := c.do("POST", "/v1/reconciliations", "/v1/reconciliations", map[string]any{"date": paygate.DayOf(time.Now())}, "")
	if r.Status != 201 {
		t.Fatalf("reconcile: %d %s", r.Status, r.Body)
	}
	runs := map[string]map[string]any{}
	for _, v := range r.decode(t)["data"].([]any) {
		run := v.(map[string]any)
		runs[run["provider"].(string)] = run
	}
	return runs
}

func (c *client) discrepancies(t *testing.T, runID string) []map[string]any {
	t.Helper()
	r := c.do("GET", "/v1/reconciliations/"+runID+"/discrepancies?limit=100", "/v1/reconciliations/{id}/discrepancies", nil, "")
	if r.Status != 200 {
		t.Fatalf("discrepancies: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, v := range r.decode(t)["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// TestReconcileSandboxDay reconciles a day of mixed wallet and card traffic
// against the simulators' real-format bills: first as processed (no
// discrepancy), then with each channel's next bill adjusted to produce
// every outcome it can show.
func TestReconcileSandboxDay(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b)
			type day struct{ paid, partial, full, reversed, late string }
			days := map[string]*day{}
			post := func(path, template string, body map[string]any) map[string]any {
				var b any
				if body != nil {
					b = body
				}
				r := c.do("POST", path, template, b, "")
				if r.Status >= 300 {
					t.Fatalf("%s: %d %s", path, r.Status, r.Body)
				}
				return r.decode(t)
			}
			pay := func(w wallet, ending string, amount int64) string {
				r := c.createOrder(authCodeOrder(w.code(ending), amount), "")
				if r.Status != 201 {
					t.Fatalf("pay: %d %s", r.Status, r.Body)
				}
				return r.decode(t)["id"].(string)
			}
			for _, w := range wallets {
				d := &day{}
				days[w.channel] = d
				d.paid = pay(w, "6789", 1000)
				d.partial = pay(w, "6790", 2000)
				d.full = pay(w, "6791", 3000)
				d.reversed = pay(w, "6792", 1500)
				d.late = pay(w, "1111", 1200) // the customer confirms after a while
				pay(w, "3333", 900)           // declined
				for _, id := range []string{d.paid, d.partial, d.full, d.reversed} {
					c.waitStatus(id, "succeeded")
				}
				post("/v1/orders/"+d.partial+"/refunds", "/v1/orders/{id}/refunds", map[string]any{"merchant_refund_no": orderNo(), "amount": 500})
				post("/v1/orders/"+d.full+"/refunds", "/v1/orders/{id}/refunds", map[string]any{"merchant_refund_no": orderNo(), "amount": 3000})
				post("/v1/orders/"+d.reversed+"/cancel", "/v1/orders/{id}/cancel", nil)
			}
			for _, d := range days {
				c.waitStatus(d.late, "succeeded")
				c.waitStatus(d.full, "refunded")
				c.waitStatus(d.reversed, "reversed")
			}

			// Card traffic through the acquirer: sales, a partial refund,
			// a same-day void, and a sale whose answer is lost and which
			// is reversed (0400). The acquirer's file names each by its
			// RRN (the order's channel trade no.), never by paygate's id.
			cardSale := func(last4 string, amount int64) (id, rrn string) {
				o := mustStatus(t, c.createOrder(cardOrder(newCard(t, "622202", 16, last4), paygate.EntryChip, "", amount), ""), 201)
				if o["provider"] != paygate.KindAcquirer {
					t.Fatalf("card sale routed to %v", o["provider"])
				}
				rrn, _ = o["channel_trade_no"].(string)
				return o["id"].(string), rrn
			}
			cPaid, cPaidRRN := cardSale(nextLast4(), 2000)
			cFee, cFeeRRN := cardSale(nextLast4(), 3000)
			cPartial, cPartialRRN := cardSale(nextLast4(), 5000)
			cVoided, cVoidedRRN := cardSale(nextLast4(), 2500)
			cReversed, _ := cardSale("2222", 3000) // unanswered: reversed
			cRefund := post("/v1/orders/"+cPartial+"/refunds", "/v1/orders/{id}/refunds", map[string]any{"merchant_refund_no": orderNo(), "amount": 1000})
			if o := mustStatus(t, c.do("POST", "/v1/orders/"+cVoided+"/cancel", "/v1/orders/{id}/cancel", nil, ""), 200); o["status"] != "reversed" {
				t.Fatalf("void: %v", o)
			}
			c.waitStatus(cPaid, "succeeded")
			c.waitStatus(cPartial, "partially_refunded")
			c.waitStatus(cReversed, "reversed")
			if cRefund["status"] != "succeeded" {
				t.Fatalf("card refund: %v", cRefund)
			}
			cRefundRRN, _ := cRefund["channel_refund_no"].(string)

			providers := append(append([]wallet(nil), wallets...), wallet{channel: paygate.KindAcquirer})
			runs := c.reconcileToday(t)
			for _, w := range providers {
				run := runs[w.channel]
				if run == nil || run["status"] != "succeeded" {
					t.Fatalf("%s: run %v", w.channel, run)
				}
				// Three sales and the refund settled (5000 + 3000 + 2000 -
				// 1000); the void and the reversal are in neither side's
				// money.
				if w.channel == paygate.KindAcquirer {
					ch, pg := run["channel"].(map[string]any), run["paygate"].(map[string]any)
					if run["outcomes"].(map[string]any)["matched"] != 4.0 || ch["count"] != 4.0 || ch["amount"] != 9000.0 || pg["amount"] != 9000.0 {
						t.Errorf("acquirer run %v", run)
					}
				}
				for o, n := range run["outcomes"].(map[string]any) {
					if o != "matched" && n != 0.0 {
						t.Errorf("%s: %s %v: %v", w.channel, o, n, c.discrepancies(t, run["id"].(string)))
					}
				}
			}

			// A closed order the WeChat bill shows paid is repaired.
			closed := c.qrOrder("wechat", 800)["id"].(string)
			post("/v1/orders/"+closed+"/close", "/v1/orders/{id}/close", nil)
			today := paygate.DayOf(time.Now())
			adjust := func(kind string, adj sandbox.BillAdjustment) {
				adj.Date = today
				if err := c.adjusters()[kind].AdjustBill(adj); err != nil {
					t.Fatalf("%s %+v: %v", kind, adj, err)
				}
			}
			adjust("wechat", sandbox.BillAdjustment{Action: "add", OutTradeNo: closed, Value: "800"})
			for _, w := range wallets {
				d := days[w.channel]
				adjust(w.channel, sandbox.BillAdjustment{Action: "amount", OutTradeNo: d.paid, Value: "1001"})
				adjust(w.channel, sandbox.BillAdjustment{Action: "status", OutTradeNo: d.full, Value: "reversed"})
				adjust(w.channel, sandbox.BillAdjustment{Action: "add", Value: "4321"})
				adjust(w.channel, sandbox.BillAdjustment{Action: "drop", OutTradeNo: d.late})
				if w.channel != paygate.KindECNY { // e-CNY charges no fee; its bill's fee is 0
					adjust(w.channel, sandbox.BillAdjustment{Action: "fee", OutTradeNo: d.partial, Value: "99"})
				}
			}
			// The acquirer's file lists only what it settled: a line it
			// marks reversed or failed is left out (missing_at_channel, as
			// a dropped one); status_mismatch is a voided sale the file
			// settles after all.
			adjust(paygate.KindAcquirer, sandbox.BillAdjustment{Action: "amount", OutTradeNo: cPaidRRN, Value: "2001"})
			adjust(paygate.KindAcquirer, sandbox.BillAdjustment{Action: "fee", OutTradeNo: cFeeRRN, Value: "99"})
			adjust(paygate.KindAcquirer, sandbox.BillAdjustment{Action: "add", Value: "4321"})
			adjust(paygate.KindAcquirer, sandbox.BillAdjustment{Action: "drop", OutTradeNo: cPartialRRN, Refund: cRefundRRN})
			adjust(paygate.KindAcquirer, sandbox.BillAdjustment{Action: "add", OutTradeNo: cVoidedRRN, Value: "2500"})
			runs = c.reconcileToday(t)
			for _, w := range providers {
				run := runs[w.channel]
				if run == nil || run["status"] != "succeeded" {
					t.Fatalf("%s: run %v", w.channel, run)
				}
				var want map[string]map[string]bool // outcome → order ids
				if w.channel == paygate.KindAcquirer {
					want = map[string]map[string]bool{
						"amount_mismatch":    {cPaid: true},
						"fee_mismatch":       {cFee: true},
						"status_mismatch":    {cVoided: true},
						"missing_in_paygate": {"": true},
						"missing_at_channel": {cPartial: true},
					}
				} else {
					d := days[w.channel]
					want = map[string]map[string]bool{
						"amount_mismatch":    {d.paid: true},
						"status_mismatch":    {d.full: true},
						"missing_in_paygate": {"": true},
						"missing_at_channel": {d.late: true},
					}
					if w.channel != paygate.KindECNY {
						want["fee_mismatch"] = map[string]bool{d.partial: true}
					}
					if w.channel == paygate.KindWeChat {
						want["status_mismatch"][closed] = true
					}
				}
				got := map[string]map[string]bool{}
				// missing_in_paygate names no merchant: operators see it.
				all, _, err := c.m.DB.Discrepancies(context.Background(), paygate.DiscrepancyFilter{RunID: run["id"].(string), Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range all {
					if d.MerchantID == "" {
						got[string(d.Outcome)] = map[string]bool{"": true}
					}
				}
				for _, ds := range c.discrepancies(t, run["id"].(string)) {
					o := ds["outcome"].(string)
					if got[o] == nil {
						got[o] = map[string]bool{}
					}
					id, _ := ds["order_id"].(string)
					if o == "missing_in_paygate" {
						id = ""
					}
					got[o][id] = true
					if o == "status_mismatch" {
						wantRes := "open" // the bill lowers the merchant's money: a person decides
						if id == closed {
							wantRes = "repaired"
						}
						if ds["resolution"] != wantRes {
							t.Errorf("%s: %s of %s is %v", w.channel, o, id, ds["resolution"])
						}
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: discrepancies %v, want %v", w.channel, got, want)
				}
			}
			if o := c.order(closed); o["status"] != "succeeded" {
				t.Errorf("closed order is %v after the repair", o["status"])
			}
			if o := c.order(days["wechat"].full); o["status"] != "refunded" {
				t.Errorf("a bill showing a refunded order reversed changed it to %v", o["status"])
			}
			r := c.do("GET", "/v1/events?order_id="+closed+"&type=order.succeeded", "/v1/events", nil, "")
			if n := len(r.decode(t)["data"].([]any)); n != 1 {
				t.Errorf("%d order.succeeded events for the repaired order", n)
			}
		})
	}
}

// TestReconcileSandboxMidnight runs the gateway and the simulators on a
// clock set to a few seconds before past midnights (the simulators book by
// that clock; their signatures stay checked against real time). On each
// wallet a payment is created at 23:59:57 and confirmed by the customer
// after midnight: the channel bills it on the next day, the day it says it
// was paid, and so does paygate (docs/reconciliation.md, "Midnight"). A
// card sale is made at 23:59:57 by paygate's clock while the acquirer's
// runs five seconds ahead and settles it on the next day: paygate's day
// and the channel's differ, and the run of the next day matches it across
// midnight. Every day reconciles with no discrepancy. The clock only
// moves forward (each crossing is a midnight of its own), as clocks do.
func TestReconcileSandboxMidnight(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			clk := &shiftClock{}
			now := time.Now().In(paygate.ChinaStandardTime)
			first := time.Date(now.Year(), now.Month(), now.Day()-6, 0, 0, 0, 0, paygate.ChinaStandardTime)
			at := func(t time.Time) { clk.Shift(time.Until(t)) }
			at(first.Add(-time.Minute))
			c := testMainWith(t, b, func(m *Main) { m.Now = clk.Now })
			c.hc = &http.Client{Transport: clockSigner{clk.Now}}
			c.m.Sandbox.Acquirer.SetClock(func() time.Time { return clk.Now().Add(5 * time.Second) })

			days := func(id string) (created, paid string) {
				o := c.order(id)
				ct, _ := time.Parse(time.RFC3339Nano, o["created_at"].(string))
				pt, _ := time.Parse(time.RFC3339Nano, o["paid_at"].(string))
				return paygate.DayOf(ct), paygate.DayOf(pt)
			}
			// want counts the lines each day's run should match, by day
			// and provider.
			want := map[string]map[string]float64{}
			match := func(day, provider string) {
				if want[day] == nil {
					want[day] = map[string]float64{}
				}
				want[day][provider]++
			}
			midnight := first
			for _, w := range wallets {
				// Created at 23:59:57; the customer confirms 3 s later
				// (sandbox.ConfirmDelay), past midnight.
				at(midnight.Add(-3 * time.Second))
				r := c.createOrder(authCodeOrder(w.code("1111"), 1200), "")
				if r.Status != 201 {
					t.Fatalf("%s: %d %s", w.channel, r.Status, r.Body)
				}
				id := r.decode(t)["id"].(string)
				c.waitStatus(id, "succeeded")
				before, after := paygate.DayOf(midnight.Add(-time.Hour)), paygate.DayOf(midnight)
				if cd, pd := days(id); cd != before || pd != after {
					t.Fatalf("%s: created on %s, paid on %s; want %s and %s", w.channel, cd, pd, before, after)
				}
				match(after, w.channel)
				midnight = midnight.AddDate(0, 0, 1)
			}
			at(midnight.Add(-3 * time.Second))
			sale := mustStatus(t, c.createOrder(cardOrder(newCard(t, "622202", 16, nextLast4()), paygate.EntryChip, "", 2600), ""), 201)
			if sale["status"] != "succeeded" || sale["provider"] != paygate.KindAcquirer {
				t.Fatalf("card sale %v", sale)
			}
			before, last := paygate.DayOf(midnight.Add(-time.Hour)), paygate.DayOf(midnight)
			if cd, pd := days(sale["id"].(string)); cd != before || pd != before {
				t.Fatalf("card sale created on %s, paid on %s; want %s (paygate's clock)", cd, pd, before)
			}
			match(last, paygate.KindAcquirer) // the acquirer settled it then

			// The rest of the last day: a payment and a partial refund on
			// every wallet (the fee comes back in proportion).
			at(midnight.Add(time.Hour))
			for _, w := range wallets {
				r := c.createOrder(authCodeOrder(w.code("6789"), 2000), "")
				if r.Status != 201 {
					t.Fatalf("%s: %d %s", w.channel, r.Status, r.Body)
				}
				id := c.waitStatus(r.decode(t)["id"].(string), "succeeded")["id"].(string)
				mustStatus(t, c.do("POST", "/v1/orders/"+id+"/refunds", "/v1/orders/{id}/refunds",
					map[string]any{"merchant_refund_no": orderNo(), "amount": 701}, ""), 201)
				c.waitStatus(id, "partially_refunded")
				match(last, w.channel)
				match(last, w.channel)
			}

			// Latest day first: the card sale is matched across midnight
			// there, so the day before does not call it missing.
			at(midnight.Add(2 * time.Hour))
			for d := midnight; !d.Before(first.AddDate(0, 0, -1)); d = d.AddDate(0, 0, -1) {
				day := paygate.DayOf(d)
				r := c.do("POST", "/v1/reconciliations", "/v1/reconciliations", map[string]any{"date": day}, "")
				if r.Status != 201 {
					t.Fatalf("reconcile %s: %d %s", day, r.Status, r.Body)
				}
				runs := r.decode(t)["data"].([]any)
				if len(runs) != len(wallets)+1 {
					t.Fatalf("%s: %d runs", day, len(runs))
				}
				for _, v := range runs {
					run := v.(map[string]any)
					provider := run["provider"].(string)
					outcomes := run["outcomes"].(map[string]any)
					if run["status"] != "succeeded" {
						t.Fatalf("%s %s: run %v", day, provider, run)
					}
					for o, n := range outcomes {
						if o != "matched" && n != 0.0 {
							t.Errorf("%s %s: %s %v: %v", day, provider, o, n, c.discrepancies(t, run["id"].(string)))
						}
					}
					got, _ := outcomes["matched"].(float64)
					if got != want[day][provider] {
						t.Errorf("%s %s: %v matched, want %v", day, provider, got, want[day][provider])
					}
				}
			}
		})
	}
}

// clockSigner signs requests with the sandbox test key at the time of its
// clock (the gateway checks a request's timestamp against its own).
type clockSigner struct{ now func() time.Time }

func (s clockSigner) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.Header.Set("Authorization", gateway.AuthorizationHeader(testKeyID, testSecret, r.Method, r.URL.RequestURI(),
		s.now(), "n"+randSuffix()+randSuffix(), body))
	return http.DefaultTransport.RoundTrip(r)
}
