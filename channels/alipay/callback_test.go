package alipay_test

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ali "github.com/go-pay/gopay/alipay"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/alipay"
)

// genuineNotify pays an order and returns the notification the simulator sent.
func genuineNotify(t *testing.T, e *env) (string, string) {
	t.Helper()
	id := newOrderID()
	if _, err := e.client.Pay(ctx(), payReq(id, "286001234567890005", 1234, "")); err != nil {
		t.Fatal(err)
	}
	return id, e.sink.next(t)
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id, body := genuineNotify(t, e)

	n, err := e.client.ParseCallback(ctx(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if n.ID == "" || n.Provider != "alipay-test" || n.OrderID != id || n.Result.Outcome != paygate.OutcomeSuccess ||
		n.Result.Amount != 1234 || n.Result.PaidAt == nil || n.Result.ChannelTradeNo == "" {
		t.Fatalf("notification = %+v %+v", n, n.Result)
	}

	form, _ := url.ParseQuery(body)
	with := func(k, v string) string {
		f := url.Values{}
		for kk, vv := range form {
			f[kk] = vv
		}
		f.Set(k, v)
		return f.Encode()
	}
	other := newEnv(t, 0, 0)
	spec := e.spec
	spec.Credentials = map[string]string{}
	for k, v := range e.sim.Credentials() {
		spec.Credentials[k] = v
	}
	spec.Credentials["app_id"] = "2021000000009999"
	otherApp, _ := alipay.New(spec)

	oneByte := []byte(body)
	i := strings.Index(body, "trade_no=") + len("trade_no=")
	oneByte[i] ^= 1

	for _, tc := range []struct {
		name   string
		client *alipay.Client
		body   string
		code   string
	}{
		{"one byte changed", e.client, string(oneByte), paygate.EINVALIDSIG},
		{"wrong key", other.client, body, paygate.EINVALIDSIG},
		{"different amount", e.client, with("total_amount", "12.35"), paygate.EINVALIDSIG},
		{"different app_id", otherApp, body, paygate.EINVALIDSIG},
		{"sign removed", e.client, with("sign", ""), paygate.EINVALIDSIG},
		{"sign_type RSA", e.client, with("sign_type", "RSA"), paygate.EINVALIDSIG},
		{"not a form", e.client, "%zz", paygate.EINVALID},
		{"oversized", e.client, body + "&pad=" + strings.Repeat("x", alipay.MaxCallbackBytes), paygate.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.client.ParseCallback(ctx(), nil, []byte(tc.body))
			if got := paygate.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q (%v, %+v), want %s", got, err, n, tc.code)
			}
		})
	}

	st, ct, b := e.client.CallbackReply(nil)
	if st != 200 || ct != "text/plain" || string(b) != "success" {
		t.Errorf("reply(nil) = %d %s %q", st, ct, b)
	}
	if st, _, b := e.client.CallbackReply(errors.New("rejected")); st != 200 || string(b) != "fail" {
		t.Errorf("reply(err) = %d %q", st, b)
	}
}

// The simulator's notifications verify with gopay's own notify
// verification (public-key mode), which shares no code with ours.
func TestNotifyVerifiesWithGopay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	_, body := genuineNotify(t, e)
	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := ali.ParseNotifyByURLValues(form)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(e.sim.Credentials()["alipay_public_key"]))
	// gopay takes the key as the bare base64 Alipay's console shows.
	bare := base64.StdEncoding.EncodeToString(block.Bytes)
	if ok, err := ali.VerifySign(bare, bm); !ok || err != nil {
		t.Fatalf("gopay VerifySign = %v, %v", ok, err)
	}
	form.Set("total_amount", "0.01")
	bm, _ = ali.ParseNotifyByURLValues(form)
	if ok, _ := ali.VerifySign(bare, bm); ok {
		t.Fatal("gopay accepted a changed amount")
	}
}

var update = flag.Bool("update", false, "rewrite testdata from the simulator")

func TestBillRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	paid := newOrderID()
	res, err := e.client.Pay(ctx(), payReq(paid, "286001234567890006", 10000, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Refund(ctx(), &paygate.RefundRequest{RefundID: "rf_bill", OrderID: paid, Amount: 2500}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Pay(ctx(), &paygate.PaymentRequest{OrderID: newOrderID(), Amount: 1, Subject: "逗号,和表情😀", Method: paygate.MethodAuthCode, AuthCode: "286001234567890007"}); err != nil {
		t.Fatal(err)
	}
	zipBytes, err := e.client.DownloadBill(ctx(), time.Now().In(time.FixedZone("CST", 8*3600)))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := alipay.ParseBill(zipBytes)
	if err != nil {
		t.Fatal(err)
	}
	var pay, refund *alipay.BillRow
	for i := range rows {
		if rows[i].OutTradeNo == paid && rows[i].Type == alipay.BillPayment {
			pay = &rows[i]
		}
		if rows[i].OutTradeNo == paid && rows[i].Type == alipay.BillRefund {
			refund = &rows[i]
		}
	}
	if len(rows) != 3 || pay == nil || refund == nil {
		t.Fatalf("rows = %+v", rows)
	}
	if pay.TradeNo != res.ChannelTradeNo || pay.Amount != 10000 || pay.Fee != 60 || pay.FinishedAt.IsZero() {
		t.Errorf("payment row = %+v", pay)
	}
	if refund.Amount != -2500 || refund.Fee != -15 || refund.OutRequestNo != "rf_bill" {
		t.Errorf("refund row = %+v", refund)
	}
	path := filepath.Join("testdata", "trade_bill.csv.zip")
	if *update {
		if err := os.WriteFile(path, zipBytes, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseBillTestdata(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "trade_bill.csv.zip"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := alipay.ParseBill(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Type != alipay.BillPayment || rows[0].Amount != 10000 || rows[0].Fee != 60 {
		t.Fatalf("rows = %+v", rows)
	}
	for _, bad := range [][]byte{nil, []byte("PK\x03\x04garbage"), []byte("not a zip")} {
		if _, err := alipay.ParseBill(bad); paygate.ErrorCode(err) != paygate.EINVALID {
			t.Errorf("ParseBill(%q) = %v", bad, err)
		}
	}
}

func FuzzParseCallback(f *testing.F) {
	e := newEnv(f, 0, 0)
	f.Add([]byte("notify_id=1&app_id=2021000000000042&sign_type=RSA2&sign=AAAA&out_trade_no=x&trade_status=TRADE_SUCCESS&total_amount=1.00"))
	f.Add([]byte("%zz"))
	f.Add([]byte("refund_fee=1e9&out_biz_no=r"))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := e.client.ParseCallback(ctx(), nil, body)
		if err == nil && n == nil {
			t.Fatal("nil notification without error")
		}
		if err != nil {
			if c := paygate.ErrorCode(err); c != paygate.EINVALID && c != paygate.EINVALIDSIG {
				t.Fatalf("code %s", c)
			}
		}
	})
}

func FuzzParseBill(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "trade_bill.csv.zip")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, err := alipay.ParseBill(b)
		if err != nil && paygate.ErrorCode(err) != paygate.EINVALID {
			t.Fatalf("code %s", paygate.ErrorCode(err))
		}
		for _, r := range rows {
			if r.TradeNo == "" {
				t.Fatal("row without trade number")
			}
		}
	})
}
