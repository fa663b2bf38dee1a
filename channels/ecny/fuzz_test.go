package ecny_test

import (
	"context"
	"os"
	"testing"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
)

func FuzzParseBill(f *testing.F) {
	data, err := os.ReadFile("testdata/bill_20261121.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("ECNYBILL|1.0|898310000000001|20261121\n" + ecny.BillColumns + "\nTOTAL|0|0|0|0|0\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ecny.ParseBill(data)
		if err != nil {
			if paygate.ErrorCode(err) != paygate.EINVALID {
				t.Fatalf("error code %s", paygate.ErrorCode(err))
			}
			return
		}
		for _, r := range rows {
			if r.Amount < 0 || r.Fee < 0 {
				t.Fatalf("negative amount in %+v", r)
			}
		}
	})
}

// FuzzParseCallback signs each input with the (test's) bank key, so the
// fuzzer reaches the parsing behind the signature check, and also feeds it
// unsigned.
func FuzzParseCallback(f *testing.F) {
	c, key := selfBank(f, "898310000000001")
	f.Add([]byte(`{"head":{"version":"1.0","merchant_no":"898310000000001","notify_id":"N1","notify_type":"TRADE_SUCCESS","timestamp":"2026-11-21T15:30:00+08:00","sign_type":"SM2"},"body":{"out_trade_no":"o","trade_no":"E1","trade_status":"SUCCESS","amount":5,"paid_at":"2026-11-21T15:30:00+08:00","wallet_id":"0021123456789012"}}`))
	f.Add([]byte(`{"head":{"version":"1.0","merchant_no":"898310000000001","notify_id":"N2","notify_type":"REFUND_SUCCESS","timestamp":"2026-11-21T15:30:00+08:00","sign_type":"SM2"},"body":{"out_trade_no":"o","out_refund_no":"r","refund_no":"R1","refund_amount":5,"refund_status":"SUCCESS"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		if _, err := c.ParseCallback(ctx, nil, body); paygate.ErrorCode(err) == "" {
			t.Fatal("unsigned notification accepted")
		}
		if len(body) > ecny.MaxNotifySize {
			return
		}
		n, err := c.ParseCallback(ctx, signedHeader(t, key, body), body)
		if err != nil {
			if code := paygate.ErrorCode(err); code != paygate.EINVALID {
				t.Fatalf("signed input: code %s", code)
			}
			return
		}
		if n.ID == "" || (n.OrderID == "") == (n.RefundID == "") || (n.OrderID != "" && n.Result == nil) || (n.RefundID != "" && n.Refund == nil) {
			t.Fatalf("inconsistent notification %+v", n)
		}
	})
}
