package reconcile_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
	"github.com/xuri/excelize/v2"
)

type statement struct {
	Object     string `json:"object"`
	MerchantID string `json:"merchant_id"`
	Date       string `json:"date"`
	Lines      []struct {
		Type           string  `json:"type"`
		OrderID        string  `json:"order_id"`
		RefundID       *string `json:"refund_id"`
		Channel        string  `json:"channel"`
		Rule           string  `json:"rule"`
		Amount         int64   `json:"amount"`
		Fee            int64   `json:"fee"`
		NetAmount      int64   `json:"net_amount"`
		Reconciliation *string `json:"reconciliation"`
	} `json:"lines"`
	Totals         reconcile.StatementTotals            `json:"totals"`
	ByChannel      map[string]reconcile.StatementTotals `json:"by_channel"`
	RoutingSavings int64                                `json:"routing_savings"`
}

func TestStatements(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestStatements/"):])
		f.mixedDay(t)
		bill := append([]reconcile.Line(nil), f.bill...)
		bill[0].Fee++ // A1: fee_mismatch
		f.run(t, &lines{l: bill})

		var js bytes.Buffer
		if err := reconcile.WriteStatement(ctx, f.db, &js, "m_1", day, "json"); err != nil {
			t.Fatal(err)
		}
		var st statement
		dec := json.NewDecoder(bytes.NewReader(js.Bytes()))
		if err := dec.Decode(&st); err != nil {
			t.Fatalf("%v\n%s", err, js.Bytes())
		}
		// m_1's day: A1, A3 paid; R2 refunded A3; A4 reversed (not a
		// settled payment); M1 is the next day's.
		if st.Object != "statement" || st.MerchantID != "m_1" || st.Date != day || len(st.Lines) != 3 {
			t.Fatalf("statement %+v", st)
		}
		var sum reconcile.StatementTotals
		var fees, nets int64
		for _, l := range st.Lines {
			sum.Count++
			sum.Amount += l.Amount
			sum.Fee += l.Fee
			sum.NetAmount += l.NetAmount
			if l.Type == "payment" {
				o, err := f.db.MerchantOrder(ctx, "m_1", l.OrderID)
				if err != nil {
					t.Fatal(err)
				}
				fees += o.Fee
				nets += o.NetAmount
				if l.RefundID != nil || l.Rule != "wechat.default" {
					t.Errorf("payment line %+v", l)
				}
			} else {
				// WeChat returns the fee in proportion; R2 is A3's only
				// refund.
				o, err := f.db.MerchantOrder(ctx, "m_1", l.OrderID)
				if err != nil {
					t.Fatal(err)
				}
				returned := paygate.ReturnedFee(o.Fee, o.Amount, 0, -l.Amount)
				fees -= returned
				nets -= -l.Amount - returned
				if l.Amount >= 0 || l.RefundID == nil || returned <= 0 || l.Fee != -returned || l.NetAmount != l.Amount+returned {
					t.Errorf("refund line %+v, want fee %d returned", l, returned)
				}
			}
		}
		if sum != st.Totals || st.ByChannel["wechat"] != st.Totals || sum.Fee != fees || sum.NetAmount != nets {
			t.Errorf("totals %+v by channel %+v, lines sum to %+v (fees %d, nets %d)", st.Totals, st.ByChannel, sum, fees, nets)
		}
		if st.RoutingSavings != 2*3 {
			t.Errorf("routing savings %d, want 6", st.RoutingSavings)
		}
		if o := st.Lines[0].Reconciliation; o == nil || *o != string(paygate.ReconFeeMismatch) {
			t.Errorf("A1's outcome %v", o)
		}
		if o := st.Lines[1].Reconciliation; o == nil || *o != string(paygate.ReconMatched) {
			t.Errorf("A3's outcome %v", o)
		}

		var c bytes.Buffer
		if err := reconcile.WriteStatement(ctx, f.db, &c, "m_1", day, "csv"); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(c.Bytes(), []byte("\xEF\xBB\xBF")) {
			t.Fatalf("CSV without a BOM: %q", c.Bytes()[:10])
		}
		recs, err := csv.NewReader(bytes.NewReader(c.Bytes()[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if recs[0][0] != "类型" || recs[1][0] != "支付" || recs[1][9] != "10.00" || recs[3][0] != "退款" || recs[3][9] != "-30.00" {
			t.Errorf("CSV lines %q", recs[:4])
		}
		last := recs[len(recs)-2]
		if last[0] != "总计" || last[9] != reconcile.Yuan(st.Totals.Amount) || last[11] != reconcile.Yuan(st.Totals.NetAmount) {
			t.Errorf("CSV total %q", last)
		}

		var x bytes.Buffer
		if err := reconcile.WriteStatement(ctx, f.db, &x, "m_1", day, "xlsx"); err != nil {
			t.Fatal(err)
		}
		book, err := excelize.OpenReader(&x)
		if err != nil {
			t.Fatal(err)
		}
		defer book.Close()
		// A number cell has no string type (excelize leaves its t unset).
		if typ, _ := book.GetCellType("明细", "J2"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
			t.Errorf("J2 is a %v cell, want a number", typ)
		}
		if v, _ := book.GetCellValue("明细", "J2", excelize.Options{RawCellValue: true}); v != "10" {
			t.Errorf("J2 = %q", v)
		}
		if v, _ := book.GetCellValue("明细", "J4", excelize.Options{RawCellValue: true}); v != "-30" {
			t.Errorf("refund amount %q", v)
		}
		if panes, err := book.GetPanes("明细"); err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("panes %+v %v", panes, err)
		}
		rows, _ := book.GetRows("汇总")
		if len(rows) < 3 || rows[2][0] != "总计" || strings.ReplaceAll(rows[2][4], ",", "") != reconcile.Yuan(st.Totals.NetAmount) {
			t.Errorf("totals sheet %q", rows)
		}

		if err := reconcile.WriteStatement(ctx, f.db, &x, "m_1", day, "pdf"); paygate.ErrorCode(err) != paygate.EPARAMINVALID {
			t.Errorf("pdf: %v", err)
		}
	})
}

// TestStatementsOnOneConnection reads the statement of TestStatements'
// day through a store limited to one connection: PostgreSQL then reads the
// day in one sorted query instead of two merged streams
// (store.StatementLines); the lines, their order and totals are the same.
func TestStatementsOnOneConnection(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		backend := t.Name()[len("TestStatementsOnOneConnection/"):]
		var got [2]string
		for i, conns := range []int{0, 1} {
			f := newFixtureWith(t, backend, store.Options{MaxConns: conns})
			f.mixedDay(t)
			bill := append([]reconcile.Line(nil), f.bill...)
			bill[0].Fee++
			f.run(t, &lines{l: bill})
			var js bytes.Buffer
			if err := reconcile.WriteStatement(ctx, f.db, &js, "m_1", day, "json"); err != nil {
				t.Fatal(err)
			}
			var st statement
			if err := json.Unmarshal(js.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			// Identifiers differ between the two fixtures; what is
			// compared is each line's kind, channel, rule, amounts
			// and outcome, in order, and the totals.
			var b strings.Builder
			for _, l := range st.Lines {
				fmt.Fprintf(&b, "%s %s %s %d %d %d %v|", l.Type, l.Channel, l.Rule, l.Amount, l.Fee, l.NetAmount, *l.Reconciliation)
			}
			fmt.Fprintf(&b, "%+v %d", st.Totals, st.RoutingSavings)
			got[i] = b.String()
		}
		if got[0] != got[1] {
			t.Errorf("two streams: %s\none query:   %s", got[0], got[1])
		}
	})
}

// writeSizes records the size of each write it receives.
type writeSizes struct {
	bytes.Buffer
	largest, writes int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.writes++
	w.largest = max(w.largest, len(p))
	return w.Buffer.Write(p)
}

// TestXLSXStatementStreams: the XLSX statement reaches its writer in
// small pieces as the archive is made (never assembled in memory first),
// and its spool directory is gone afterwards (docs/performance.md).
func TestXLSXStatementStreams(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	db := storetest.Open(t, store.DialectSQLite)
	f := &fixture{db: db, clk: &clock{t: at(1, 10, 0, 0)}, order: map[string]*paygate.Order{}, ref: map[string]*paygate.Refund{}, refunded: map[string]int64{}}
	for i := range 300 {
		f.pay(t, fmt.Sprintf("X%04d", i), "m_1", int64(100+i), 1, at(0, 9, 0, i), false)
	}
	var w writeSizes
	if err := reconcile.WriteStatement(context.Background(), db, &w, "m_1", day, "xlsx"); err != nil {
		t.Fatal(err)
	}
	if w.writes < 3 || w.largest > 64<<10 {
		t.Errorf("%d writes, the largest %d bytes: the archive was buffered before it was written", w.writes, w.largest)
	}
	book, err := excelize.OpenReader(&w.Buffer)
	if err != nil {
		t.Fatal(err)
	}
	defer book.Close()
	if rows, _ := book.GetRows("明细"); len(rows) != 301 {
		t.Errorf("%d rows", len(rows))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in the temporary directory: %v", left)
	}
}

// TestStatementRefundFees: a refund line shows the fee the channel gave
// back with it, in proportion over the order's refunds so that a payment
// refunded in full nets to zero; a card acquirer keeps its fee, so its
// refund line shows none.
func TestStatementRefundFees(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestStatementRefundFees/"):])
		f.pay(t, "W1", "m_3", 1000, 6, at(0, 9, 0, 0), false)
		f.refund(t, "W1a", "W1", 333, at(0, 10, 0, 0), false) // returns 2 of the 6 (2.00 rounded)
		f.refund(t, "W1b", "W1", 667, at(0, 11, 0, 0), false) // the rest: 4

		// A card sale at the acquirer, refunded in full.
		when := at(0, 12, 0, 0)
		f.clk.Set(when.Add(-time.Second))
		card := &paygate.Order{MerchantID: "m_3", MerchantOrderNo: "C1", Status: paygate.OrderPending, Amount: 2000,
			Currency: "CNY", Method: paygate.MethodCard, Channel: paygate.KindAcquirer, Provider: "acq", Fee: 12, NetAmount: 1988,
			TerminalID: "T0001", Route: &paygate.Route{Provider: "acq", Channel: paygate.KindAcquirer, Fee: 12, Rule: "acq.default"}}
		if err := f.db.CreateOrder(ctx, card); err != nil {
			t.Fatal(err)
		}
		trade := "325000000001"
		card, _, err := f.db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: card.ID, To: paygate.OrderSucceeded, PaidAt: &when, ChannelTradeNo: &trade})
		if err != nil {
			t.Fatal(err)
		}
		f.order["C1"] = card
		f.refund(t, "C1a", "C1", 2000, at(0, 13, 0, 0), false)

		var js bytes.Buffer
		if err := reconcile.WriteStatement(ctx, f.db, &js, "m_3", day, "json"); err != nil {
			t.Fatal(err)
		}
		var st statement
		if err := json.Unmarshal(js.Bytes(), &st); err != nil {
			t.Fatalf("%v\n%s", err, js.Bytes())
		}
		type line struct{ amount, fee, net int64 }
		want := []line{{1000, 6, 994}, {-333, -2, -331}, {-667, -4, -663}, {2000, 12, 1988}, {-2000, 0, -2000}}
		if len(st.Lines) != len(want) {
			t.Fatalf("%d lines: %s", len(st.Lines), js.Bytes())
		}
		for i, l := range st.Lines {
			if got := (line{l.Amount, l.Fee, l.NetAmount}); got != want[i] {
				t.Errorf("line %d (%s %s) = %+v, want %+v", i, l.Type, l.Channel, got, want[i])
			}
		}
		// The wallet payment refunded in full nets to zero; the card sale
		// costs the merchant its fee.
		if tot := st.Totals; tot.Amount != 0 || tot.Fee != 12 || tot.NetAmount != -12 {
			t.Errorf("totals %+v", tot)
		}
		if w, a := st.ByChannel["wechat"], st.ByChannel[paygate.KindAcquirer]; w.NetAmount != 0 || w.Fee != 0 || a.Fee != 12 || a.NetAmount != -12 {
			t.Errorf("by channel %+v", st.ByChannel)
		}
	})
}
