package ecny_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
)

func TestParseBillTestdata(t *testing.T) {
	data, err := os.ReadFile("testdata/bill_20261121.txt")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ecny.ParseBill(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	r := rows[1]
	want := time.Date(2026, 11, 21, 8, 2, 11, 0, time.UTC)
	if r.Type != ecny.BillRefund || r.OutTradeNo != "ord_01" || r.OutRefundNo != "ref_01" || r.Amount != 200 ||
		!r.Time.Equal(want) || r.WalletID != "0021****5678" || r.Status != "SUCCESS" {
		t.Fatalf("row %+v", r)
	}
	if rows[3].Type != ecny.BillRevoke || rows[3].WalletType != ecny.WalletHard {
		t.Fatalf("row %+v", rows[3])
	}
}

func TestParseBillRejects(t *testing.T) {
	good, err := os.ReadFile("testdata/bill_20261121.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"totals off", "TOTAL|2|1734|2|700|0", "TOTAL|2|1735|2|700|0"},
		{"no total", "TOTAL|2|1734|2|700|0\n", ""},
		{"wrong magic", "ECNYBILL|1.0", "ECNYBILX|1.0"},
		{"bad date", "|20261121\n", "|20261321\n"},
		{"columns", "trade_time|trade_type", "time|trade_type"},
		{"bad amount", "|1234|0|SUCCESS", "|12.34|0|SUCCESS"},
		{"negative amount", "|1234|0|SUCCESS", "|-1234|0|SUCCESS"},
		{"extra field", "|500|0|SUCCESS\n2026-11-21 16:40:00", "|500|0|SUCCESS|x\n2026-11-21 16:40:00"},
		{"bad time", "2026-11-21 15:30:00", "2026-11-21T15:30:00"},
		{"unknown type", "|REVOKE|", "|REVERSE|"},
		{"no final newline", "TOTAL|2|1734|2|700|0\n", "TOTAL|2|1734|2|700|0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(string(good), tc.old, tc.new, 1)
			if data == string(good) {
				t.Fatal("test case did not change the file")
			}
			if _, err := ecny.ParseBill([]byte(data)); paygate.ErrorCode(err) != paygate.EINVALID {
				t.Fatalf("err = %v, want invalid_request", err)
			}
		})
	}
}

// TestBillRoundTrip: what the bank processed comes back, row for row,
// through the signed download and ParseBill.
func TestBillRoundTrip(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	paid, revoked, hard := newOrderID(), newOrderID(), newOrderID()
	for _, p := range []struct {
		id, code string
		amount   int64
	}{
		{paid, code("0007"), 1500},
		{revoked, code("0008"), 600},
		{hard, "0191234567890120009", 900},
		{newOrderID(), code("3333"), 50}, // declined: not in the bill
		{newOrderID(), code("2222"), 70}, // never paid: not in the bill
	} {
		if _, err := pay(t, f.client, p.id, p.code, p.amount); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.client.Refund(ctx, &paygate.RefundRequest{RefundID: "ref_rt", OrderID: paid, Amount: 400}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Reverse(ctx, &paygate.Order{ID: revoked}); err != nil {
		t.Fatal(err)
	}

	data, err := f.client.DownloadBill(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	direct, err := f.bank.Bill(time.Now())
	if err != nil || string(direct) != string(data) {
		t.Fatalf("downloaded bill differs from the bank's: %v", err)
	}
	rows, err := ecny.ParseBill(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	type key struct{ typ, order string }
	got := map[key]ecny.BillRow{}
	for _, r := range rows {
		got[key{r.Type, r.OutTradeNo}] = r
	}
	want := map[key]int64{
		{ecny.BillPay, paid}: 1500, {ecny.BillPay, revoked}: 600, {ecny.BillPay, hard}: 900,
		{ecny.BillRefund, paid}: 400, {ecny.BillRevoke, revoked}: 600,
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), data)
	}
	for k, amount := range want {
		r, ok := got[k]
		if !ok || r.Amount != amount || r.Fee != 0 || r.TradeNo == "" {
			t.Fatalf("row %v = %+v, want amount %d", k, r, amount)
		}
	}
	if got[key{ecny.BillPay, hard}].WalletType != ecny.WalletHard || got[key{ecny.BillRefund, paid}].OutRefundNo != "ref_rt" {
		t.Fatalf("rows %+v", rows)
	}

	// A day without movements still has a valid file.
	empty, err := f.client.DownloadBill(ctx, time.Now().AddDate(0, 0, -3))
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := ecny.ParseBill(empty); err != nil || len(rows) != 0 {
		t.Fatalf("empty day: %d rows, %v", len(rows), err)
	}
}
