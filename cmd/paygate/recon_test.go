package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
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
