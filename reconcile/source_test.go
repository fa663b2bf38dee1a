package reconcile

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
	acquirersb "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
	alipaysb "github.com/paygate-cn/paygate/channels/sandbox/alipay"
	ecnysb "github.com/paygate-cn/paygate/channels/sandbox/ecny"
	unionpaysb "github.com/paygate-cn/paygate/channels/sandbox/unionpay"
	wechatsb "github.com/paygate-cn/paygate/channels/sandbox/wechat"
	"github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/paygate-cn/paygate/channels/wechat"
)

// clock is the simulators' injected clock, set by the test.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	real bool // follows the real time; Set does nothing visible
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.t
}

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// simChannel is a channel client talking to its simulator over HTTP/TCP.
type simChannel struct {
	ch      paygate.Channel
	adjust  func(sandbox.BillAdjustment) error
	adjURL  string // the simulator's POST bill_adjustments endpoint ("" for none over HTTP)
	payment func(id string, amount int64) *paygate.PaymentRequest
}

func mount(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func quietNotifier(t *testing.T) *sandbox.Notifier {
	n := sandbox.NewNotifier()
	n.Scale = 0.0001
	t.Cleanup(n.Close)
	return n
}

func newSim(t *testing.T, kind string, clk *clock) simChannel {
	t.Helper()
	spec := func(base string, cred map[string]string) paygate.ProviderSpec {
		return paygate.ProviderSpec{ID: kind + "-rt", Kind: kind, BaseURL: base, Credentials: cred, Timeout: 5 * time.Second}
	}
	wallet := func(code string) func(string, int64) *paygate.PaymentRequest {
		return func(id string, amount int64) *paygate.PaymentRequest {
			return &paygate.PaymentRequest{OrderID: id, Amount: amount, Subject: "Latte", Method: paygate.MethodAuthCode,
				AuthCode: code, TerminalID: "T0001", Merchant: &paygate.Merchant{ID: "m_demo", MCC: "5812", MerchantNo: "898310058125812"}}
		}
	}
	var sc simChannel
	var err error
	switch kind {
	case paygate.KindWeChat:
		s, e := wechatsb.New(wechatsb.Options{MchID: "1900000109", AppID: "wxd678efh567hg6787", Notifier: quietNotifier(t), Now: clk.Now})
		if e != nil {
			t.Fatal(e)
		}
		t.Cleanup(s.Close)
		srv := mount(t, s.Handler())
		sc.ch, err = wechat.New(spec(srv.URL, s.Credentials()))
		sc.adjust, sc.adjURL, sc.payment = s.AdjustBill, srv.URL+"/bill_adjustments", wallet("134567890123456789")
	case paygate.KindAlipay:
		s, e := alipaysb.New(alipaysb.Options{AppID: "2021000000000001", Notifier: quietNotifier(t), Now: clk.Now})
		if e != nil {
			t.Fatal(e)
		}
		t.Cleanup(s.Close)
		srv := mount(t, s.Handler())
		sc.ch, err = alipay.New(spec(srv.URL+"/gateway.do", s.Credentials()))
		sc.adjust, sc.adjURL, sc.payment = s.AdjustBill, srv.URL+"/bill_adjustments", wallet("286001234567890007")
	case paygate.KindUnionPay:
		s, e := unionpaysb.New(unionpaysb.Options{MerID: "777290058110048", Notifier: quietNotifier(t), Now: clk.Now})
		if e != nil {
			t.Fatal(e)
		}
		t.Cleanup(s.Close)
		srv := mount(t, s.Handler())
		sc.ch, err = unionpay.New(spec(srv.URL, s.Credentials()))
		sc.adjust, sc.adjURL, sc.payment = s.AdjustBill, srv.URL+"/bill_adjustments", wallet("6212345678901236789")
	case paygate.KindECNY:
		s, e := ecnysb.New(ecnysb.Options{MerchantNo: "ECNY310000005812", Notifier: quietNotifier(t), Now: clk.Now})
		if e != nil {
			t.Fatal(e)
		}
		t.Cleanup(s.Close)
		srv := mount(t, s.Handler())
		sc.ch, err = ecny.New(spec(srv.URL, s.Credentials()))
		sc.adjust, sc.adjURL, sc.payment = s.AdjustBill, srv.URL+"/bill_adjustments", wallet("0112345678901236789")
	case paygate.KindAcquirer:
		key := make([]byte, 16)
		rand.Read(key)
		h, e := acquirersb.New(acquirersb.Options{MACKey: key, Now: clk.Now})
		if e != nil {
			t.Fatal(e)
		}
		if _, e := h.Listen("127.0.0.1:0"); e != nil {
			t.Fatal(e)
		}
		t.Cleanup(func() { h.Close() })
		srv := mount(t, h.Handler())
		cred := h.Credentials()
		cred["settlement_url"] = srv.URL + "/settlement"
		c, e := acquirer.New(spec("", cred), acquirer.WithClock(clk.Now))
		if e != nil {
			t.Fatal(e)
		}
		t.Cleanup(func() { c.Close() })
		sc.ch = c
		sc.adjust, sc.adjURL = h.AdjustBill, srv.URL+"/bill_adjustments"
		n := 0
		sc.payment = func(id string, amount int64) *paygate.PaymentRequest {
			n++
			return &paygate.PaymentRequest{OrderID: id, Amount: amount, Method: paygate.MethodCard,
				Card:     &paygate.CardData{PAN: luhnPAN(t, fmt.Sprintf("62220200001%d", n)), Expiry: "3012"},
				CardInfo: &paygate.CardInfo{EntryMode: paygate.EntryChip, Network: paygate.NetworkUnionPay, Type: paygate.CardDebit},
				Capture:  paygate.CaptureAutomatic, TerminalID: "T0001",
				Merchant: &paygate.Merchant{ID: "m_demo", MCC: "5812", MerchantNo: "898310058125812"}}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func luhnPAN(t *testing.T, prefix string) string {
	for d := 0; d < 10; d++ {
		p := prefix + "0000" + string(rune('0'+d))
		for len(p) < 16 {
			p = "6" + p
		}
		sum := 0
		for i := range p {
			c := int(p[len(p)-1-i] - '0')
			if i%2 == 1 {
				c *= 2
				if c > 9 {
					c -= 9
				}
			}
			sum += c
		}
		if sum%10 == 0 {
			return p
		}
	}
	t.Fatal("no Luhn-valid PAN")
	return ""
}

func newID(prefix string, at time.Time) string {
	b := make([]byte, 6)
	rand.Read(b)
	return paygate.NewID(prefix, at.Add(time.Duration(b[0])))
}

// fetchLines fetches and reads a day's bill.
func fetchLines(t *testing.T, ch paygate.Channel, day time.Time) (*BillFile, map[string]Line) {
	t.Helper()
	bf, err := Fetch(context.Background(), ch, day, t.TempDir())
	if err != nil {
		t.Fatalf("fetch %s: %v", day.Format(time.DateOnly), err)
	}
	r, err := bf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lines, err := readAll(t, r)
	if err != nil {
		t.Fatalf("read %s: %v", bf.Path, err)
	}
	out := map[string]Line{}
	for _, ln := range lines {
		key := "P:" + ln.OrderID
		if ln.OrderID == "" {
			key = "P:" + ln.ChannelTradeNo
		}
		if ln.Kind == LineRefund {
			key = "R:" + ln.RefundID
			if ln.RefundID == "" {
				key = "R:" + ln.ChannelRefundNo
			}
		}
		if ln.Status == StatusReversed {
			key = "V:" + strings.TrimPrefix(key, "P:")
		}
		out[key] = ln
	}
	return bf, out
}

// TestSimulatorBillsRoundTrip: each simulator's bill, fetched by its client
// and read by its reader, holds what it processed, on the CST day it
// happened (a payment at 23:59:59 in its day, not the next), refunds and
// reversals included; adjustments change the next bill of their day only.
func TestSimulatorBillsRoundTrip(t *testing.T) {
	for _, kind := range []string{paygate.KindWeChat, paygate.KindAlipay, paygate.KindUnionPay, paygate.KindECNY, paygate.KindAcquirer} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// WeChat and e-CNY sign with the real time and their simulators
			// refuse a request 5 minutes off their clock: their day is today,
			// without the midnight crossing the others show.
			cross := kind != paygate.KindWeChat && kind != paygate.KindECNY
			// The last day of a year: day 2 is in the next year (UnionPay's
			// MMDD times, the acquirer's MMDD settlement date).
			d1 := time.Date(2026, 12, 31, 0, 0, 0, 0, cst)
			d2 := d1.AddDate(0, 0, 1)
			clk := &clock{t: d1.Add(10 * time.Hour)}
			if !cross {
				d1 = dayOf(time.Now())
				d2 = d1
				clk.real = true
			}
			sc := newSim(t, kind, clk)
			ctx := context.Background()
			pay := func(amount int64) (*paygate.PaymentRequest, *paygate.Result) {
				t.Helper()
				req := sc.payment(newID(paygate.PrefixOrder, clk.Now()), amount)
				res, err := sc.ch.Pay(ctx, req)
				if err != nil || res.Outcome != paygate.OutcomeSuccess {
					t.Fatalf("pay: %+v %v", res, err)
				}
				return req, res
			}
			order := func(req *paygate.PaymentRequest, res *paygate.Result) *paygate.Order {
				return &paygate.Order{ID: req.OrderID, Amount: req.Amount, Method: req.Method, ChannelTradeNo: res.ChannelTradeNo,
					TerminalID: req.TerminalID, Status: paygate.OrderSucceeded, CreatedAt: clk.Now()}
			}

			// Day 1: a payment just before midnight.
			clk.Set(d1.Add(24*time.Hour - time.Second))
			req1, res1 := pay(1234)
			if !cross && dayOf(clk.Now()) != d1 {
				t.Skip("the day changed during the test")
			}
			// Day 2: a payment, a partial refund of the first, a payment
			// reversed, and one more the adjustments will act on.
			clk.Set(d1.Add(24*time.Hour + time.Second))
			req2, res2 := pay(500)
			refundID := newID(paygate.PrefixRefund, clk.Now())
			rr, err := sc.ch.Refund(ctx, &paygate.RefundRequest{RefundID: refundID, OrderID: req1.OrderID,
				ChannelTradeNo: res1.ChannelTradeNo, Amount: 234, OrderAmount: 1234, Merchant: req1.Merchant})
			if err != nil || (rr.Outcome != paygate.OutcomeSuccess && rr.Outcome != paygate.OutcomePending) {
				t.Fatalf("refund: %+v %v", rr, err)
			}
			if rr.Outcome == paygate.OutcomePending {
				time.Sleep(50 * time.Millisecond)
				o1 := order(req1, res1)
				if rr, err = sc.ch.QueryRefund(ctx, &paygate.Refund{ID: refundID, OrderID: req1.OrderID, Amount: 234}, o1); err != nil || rr.Outcome != paygate.OutcomeSuccess {
					t.Fatalf("refund query: %+v %v", rr, err)
				}
			}
			req3, res3 := pay(300)
			rev, ok := sc.ch.(paygate.Reverser)
			if !ok {
				t.Fatal("no Reverser")
			}
			if _, err := rev.Reverse(ctx, order(req3, res3)); err != nil {
				t.Fatalf("reverse: %v", err)
			}
			req4, res4 := pay(800)

			key := func(req *paygate.PaymentRequest, res *paygate.Result) string {
				if kind == paygate.KindAcquirer {
					return res.ChannelTradeNo
				}
				return req.OrderID
			}
			refundKey := refundID
			if kind == paygate.KindAcquirer {
				refundKey = rr.ChannelRefundNo
			}

			bf, day1 := fetchLines(t, sc.ch, d1)
			if l, ok := day1["P:"+key(req1, res1)]; !ok || l.Amount != 1234 || !dayOf(l.Time).Equal(d1) || (cross && len(day1) != 1) {
				t.Fatalf("day 1 (%s) = %+v", bf.Path, day1)
			}
			if bf.Account == "" || day1["P:"+key(req1, res1)].Account == "" {
				t.Errorf("no account: %+v", bf)
			}
			_, day2 := fetchLines(t, sc.ch, d2)
			if l := day2["P:"+key(req2, res2)]; l.Amount != 500 || l.Status != StatusSucceeded {
				t.Errorf("payment 2: %+v", day2)
			}
			if l := day2["R:"+refundKey]; l.Amount != 234 || l.Kind != LineRefund {
				t.Errorf("refund: %+v", day2)
			}
			if kind == paygate.KindAcquirer {
				// A reversed sale is not settled at all.
				if _, ok := day2["P:"+key(req3, res3)]; ok {
					t.Errorf("reversed sale settled: %+v", day2)
				}
			} else if l := day2["V:"+key(req3, res3)]; l.Amount != 300 {
				t.Errorf("reversal: %+v", day2)
			}
			if l := day2["P:"+key(req4, res4)]; l.Amount != 800 {
				t.Errorf("payment 4: %+v", day2)
			}

			// Adjust day 2: a trade paygate does not know (over HTTP), payment
			// 2 dropped, payment 4's amount changed, the refund's fee changed.
			date := d2.Format(time.DateOnly)
			body := `{"date":"` + date + `","action":"add","out_trade_no":"ord_unknown01kf0n4r6g8h3m5q7s","value":"4321"}`
			resp, err := http.Post(sc.adjURL, "application/json", strings.NewReader(body))
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST bill_adjustments: %v %v", resp, err)
			}
			resp.Body.Close()
			if resp, _ := http.Post(sc.adjURL, "application/json", strings.NewReader(`{"date":"x","action":"add"}`)); resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("a bad adjustment was accepted")
			}
			for _, adj := range []sandbox.BillAdjustment{
				{Date: date, Action: "drop", OutTradeNo: key(req2, res2)},
				{Date: date, Action: "amount", OutTradeNo: key(req4, res4), Value: "801"},
			} {
				if err := sc.adjust(adj); err != nil {
					t.Fatal(err)
				}
			}
			_, adj := fetchLines(t, sc.ch, d2)
			if _, ok := adj["P:"+key(req2, res2)]; ok {
				t.Errorf("dropped payment still billed")
			}
			if adj["P:"+key(req4, res4)].Amount != 801 {
				t.Errorf("amount not adjusted: %+v", adj["P:"+key(req4, res4)])
			}
			if l, ok := adj["P:ord_unknown01kf0n4r6g8h3m5q7s"]; !ok || l.Amount != 4321 {
				t.Errorf("added trade missing: %+v", adj)
			}
			if len(adj) != len(day2) {
				t.Errorf("adjusted bill has %d lines, want %d: %+v", len(adj), len(day2), adj)
			}
			// The adjustments were for the next bill only.
			if _, again := fetchLines(t, sc.ch, d2); len(again) != len(day2) || again["P:"+key(req4, res4)].Amount != 800 {
				t.Errorf("adjustments applied twice: %+v", again)
			}
		})
	}
}

// TestFetchDigestMismatch: a WeChat bill whose SHA1 is not hash_value fails
// with a *ParseError wrapping ErrBillDigest, and leaves no file behind.
func TestFetchDigestMismatch(t *testing.T) {
	var file []byte
	mux := http.NewServeMux()
	sim, err := wechatsb.New(wechatsb.Options{MchID: "1900000109", AppID: "wxd678efh567hg6787", Notifier: quietNotifier(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	// The simulator's answer with its file altered on the way.
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v3/billdownload/") {
			sim.Handler().ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		sim.Handler().ServeHTTP(rec, r)
		file = rec.Body.Bytes()
		w.WriteHeader(rec.Code)
		w.Write(gzipped(t, bytes.Replace(gunzipped(t, file), []byte("`12.34"), []byte("`12.35"), 1)))
	}))
	srv := mount(t, mux)
	c, err := wechat.New(paygate.ProviderSpec{ID: "wx", Kind: paygate.KindWeChat, BaseURL: srv.URL, Credentials: sim.Credentials(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pay(context.Background(), &paygate.PaymentRequest{OrderID: newID(paygate.PrefixOrder, time.Now()), Amount: 1234,
		Subject: "Latte", Method: paygate.MethodAuthCode, AuthCode: "134567890123456789", Merchant: &paygate.Merchant{ID: "m"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Fetch(context.Background(), c, time.Now(), dir)
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrBillDigest) {
		t.Fatalf("err = %v, want a *ParseError wrapping ErrBillDigest", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
	// And the bill of a day without trades is empty, not an error.
	bf, err := Fetch(context.Background(), c, time.Now().AddDate(0, 0, -5), dir)
	if err != nil || !bf.Empty {
		t.Fatalf("empty day: %+v %v", bf, err)
	}
	r, _ := bf.Open()
	if _, err := r.Next(); err == nil {
		t.Error("empty bill yields a line")
	}
}

// TestFileBill: a bill given as a file keeps its path, SHA1 and the
// provider's account.
func TestFileBill(t *testing.T) {
	clk := &clock{t: time.Now()}
	sc := newSim(t, paygate.KindECNY, clk)
	path := filepath.Join("testdata", "ecny_20261121.txt")
	bf, err := FileBill(sc.ch, day(2026, 11, 21), path)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if bf.Path != path || len(bf.SHA1) != 40 || bf.Size != int64(len(raw)) || bf.Account != "ECNY310000005812" {
		t.Fatalf("%+v", bf)
	}
	// The fixture belongs to another merchant than this provider.
	r, err := bf.Open()
	if err == nil {
		_, err = readAll(t, r)
	}
	if !errors.Is(err, ErrForeignBill) {
		t.Fatalf("foreign file read: %v", err)
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func gunzipped(t *testing.T, b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFetchNotReady: a bill the channel has not made yet (WeChat
// STATEMENT_CREATING, the acquirer's file server without the file) is
// ErrBillNotReady, and the next attempt gets the bill.
func TestFetchNotReady(t *testing.T) {
	for _, kind := range []string{paygate.KindWeChat, paygate.KindAcquirer} {
		t.Run(kind, func(t *testing.T) {
			clk := &clock{real: true}
			sc := newSim(t, kind, clk)
			today := dayOf(time.Now())
			if err := sc.adjust(sandbox.BillAdjustment{Date: today.Format(time.DateOnly), Action: "not_ready"}); err != nil {
				t.Fatal(err)
			}
			_, err := Fetch(context.Background(), sc.ch, today, t.TempDir())
			if !errors.Is(err, ErrBillNotReady) {
				t.Fatalf("err = %v, want ErrBillNotReady", err)
			}
			bf, err := Fetch(context.Background(), sc.ch, today, t.TempDir())
			if err != nil {
				t.Fatalf("second attempt: %v", err)
			}
			if kind == paygate.KindWeChat && !bf.Empty {
				t.Errorf("a day without trades: %+v", bf)
			}
		})
	}
}
