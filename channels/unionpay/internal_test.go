package unionpay

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

func TestOrderIDMapping(t *testing.T) {
	at := time.Date(2026, 1, 15, 9, 30, 5, 0, shanghai)
	for _, prefix := range []string{paygate.PrefixOrder, paygate.PrefixRefund} {
		id := paygate.NewID(prefix, at)
		up := ToOrderID(id)
		if len(up) != 27 || !alnum(up) {
			t.Fatalf("%s → %q", id, up)
		}
		back, _, ok := FromOrderID(up)
		if !ok || back != id {
			t.Fatalf("%q maps back to %q, %v", up, back, ok)
		}
		if got := txnTimeOf(id, time.Time{}); got != "20260115093005" {
			t.Fatalf("txnTime %s", got)
		}
	}
	id := paygate.NewID(paygate.PrefixOrder, at)
	if back, kind, ok := FromOrderID(undoOrderID(id)); !ok || kind != upUndo || back != id {
		t.Fatalf("undo id maps to %q %q %v", back, kind, ok)
	}
	for _, bad := range []string{"", "ord", "xyz" + strings.Repeat("a", 24), "ord" + strings.Repeat("_", 24)} {
		if _, _, ok := FromOrderID(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"a=1&b=2", map[string]string{"a": "1", "b": "2"}, true},
		{"signature=ab+/cd==&x={k=v&j=w}", map[string]string{"signature": "ab+/cd==", "x": "{k=v&j=w}"}, true},
		{"a=", map[string]string{"a": ""}, true},
		{"a=1&a=2", nil, false},
		{"=1", nil, false},
		{"a=1&b", nil, false},
		{"a={1", nil, false},
		{"a=}", nil, false},
		{"", nil, false},
	}
	for _, tc := range tests {
		got, err := ParseMessage(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%q: %s=%q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func TestZMTestdata(t *testing.T) {
	data, err := os.ReadFile("testdata/INN26011588ZM_777290058110097")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ParseZM(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	c, r := rows[0], rows[1]
	if c.TxnType != TxnConsume || c.Amount != 1234 || c.Fee != 5 || c.Settle != 1229 || c.QueryID != "260115093005000000001" || c.OrderID != "ord01kf0n4r6g8h3m5q7s9t1v2w" {
		t.Fatalf("consume row %+v", c)
	}
	if r.TxnType != TxnRefund || r.Amount != 500 || r.Fee != -2 || r.Settle != -498 || r.OrigQueryID != c.QueryID {
		t.Fatalf("refund row %+v", r)
	}
	at, err := c.At(time.Date(2026, 1, 15, 0, 0, 0, 0, shanghai))
	if err != nil || !at.Equal(time.Date(2026, 1, 15, 9, 30, 5, 0, shanghai)) {
		t.Fatalf("At = %v %v", at, err)
	}
	if out := AppendZM(nil, rows); string(out) != string(data) {
		t.Fatalf("round trip differs:\n%q\n%q", out, data)
	}
	if _, err := ParseZM([]byte("S22 short line\r\n")); err == nil {
		t.Fatal("short line accepted")
	}
}

// writeZMTestdata regenerates testdata (go test -run TestWriteZMTestdata -write).
func TestWriteZMTestdata(t *testing.T) {
	if os.Getenv("UNIONPAY_WRITE_TESTDATA") == "" {
		t.Skip("set UNIONPAY_WRITE_TESTDATA=1 to regenerate")
	}
	rows := []ZMRow{
		{TxnCode: ZMCodeConsume, AcqInsCode: "48020000", TraceNo: "000001", TransTime: "0115093005", CardNo: "6212********0001",
			Amount: 1234, QueryID: "260115093005000000001", OrderID: "ord01kf0n4r6g8h3m5q7s9t1v2w", Fee: 5, Settle: 1229, Net: 1229,
			TxnType: TxnConsume, TxnSubType: SubQRConsume, BizType: BizGeneral, MerID: "777290058110097", TermID: "T0001"},
		{TxnCode: ZMCodeRefund, AcqInsCode: "48020000", TraceNo: "000002", TransTime: "0115101500", CardNo: "6212********0001",
			Amount: 500, QueryID: "260115101500000000002", OrderID: "ref01kf0p2a3b4c5d6e7f8g9h0j", Fee: -2, Settle: -498, Net: -498,
			TxnType: TxnRefund, TxnSubType: SubNone, BizType: BizGeneral, MerID: "777290058110097", TermID: "T0001",
			OrigQueryID: "260115093005000000001", OrigOrderID: "ord01kf0n4r6g8h3m5q7s9t1v2w", OrigTraceNo: "000001", OrigTime: "0115093005"},
		{TxnCode: ZMCodeConsume, AcqInsCode: "48020000", TraceNo: "000003", TransTime: "0115235959", CardNo: "621483******5678",
			Amount: 150000, QueryID: "260115235959000000003", OrderID: "ord01kf1aaaaaaaaaaaaaaaaaaa", Fee: 900, Settle: 149100, Net: 149100,
			TxnType: TxnConsume, TxnSubType: SubCard, BizType: BizGeneral, MerID: "777290058110097"},
	}
	if err := os.WriteFile("testdata/INN26011588ZM_777290058110097", AppendZM(nil, rows), 0o644); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseZM(f *testing.F) {
	if data, err := os.ReadFile("testdata/INN26011588ZM_777290058110097"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("S22 \r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseZM(data)
		if err != nil {
			return
		}
		again, err := ParseZM(AppendZM(nil, rows))
		if err != nil || len(again) != len(rows) {
			t.Fatalf("rows written by AppendZM do not parse back: %v", err)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Add("respCode=00&signature=abc==&reqReserved={a=b&c=d}")
	f.Add("a={{}}&b=")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMessage(s)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" {
				t.Fatal("empty key")
			}
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	c := &Client{id: "unionpay", merID: "777290058110097", upKey: &key.PublicKey, upCertID: "69629715588", now: time.Now}
	fields := map[string]string{
		"version": Version, "encoding": Encoding, "signMethod": SignMethod, "certId": "69629715588",
		"merId": "777290058110097", "orderId": "ord01kf0n4r6g8h3m5q7s9t1v2w", "txnType": "01", "txnSubType": "06",
		"txnTime": "20260115093005", "txnAmt": "1234", "queryId": "260115093005000000001", "respCode": "00",
		"traceTime": "0115093005",
	}
	if err := Sign(fields, key); err != nil {
		f.Fatal(err)
	}
	good := EncodeForm(fields)
	if _, err := c.ParseCallback(context.Background(), nil, []byte(good)); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(good))
	f.Add([]byte("merId=1&signature=%%"))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := c.ParseCallback(context.Background(), nil, body)
		if err != nil {
			if code := paygate.ErrorCode(err); code != paygate.EINVALID && code != paygate.EINVALIDSIG {
				t.Fatalf("error code %s", code)
			}
			return
		}
		if n.ID == "" || (n.Result == nil && n.Refund == nil) {
			t.Fatalf("accepted notify without identity or outcome: %+v", n)
		}
	})
}

var benchKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func BenchmarkSignRSA2048(b *testing.B) {
	key, err := benchKey()
	if err != nil {
		b.Fatal(err)
	}
	base := map[string]string{
		"version": Version, "encoding": Encoding, "signMethod": SignMethod, "certId": "69629715588",
		"merId": "777290058110097", "orderId": "ord01kf0n4r6g8h3m5q7s9t1v2w", "txnType": "01", "txnSubType": "06",
		"bizType": "000000", "txnTime": "20260115093005", "txnAmt": "1234", "currencyCode": "156",
		"qrNo": "6212345678901234567", "backUrl": "https://paygate.example/callbacks/unionpay",
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		f := make(map[string]string, len(base)+1)
		for k, v := range base {
			f[k] = v
		}
		for pb.Next() {
			if err := Sign(f, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
