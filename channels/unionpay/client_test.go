package unionpay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	sbup "github.com/paygate-cn/paygate/channels/sandbox/unionpay"
	"github.com/paygate-cn/paygate/channels/unionpay"
)

// clock is a settable clock shared by the client and the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// receiver collects notify bodies.
type receiver struct {
	srv    *httptest.Server
	bodies chan []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{bodies: make(chan []byte, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.bodies <- b
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-r.bodies:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no notify arrived")
		return nil
	}
}

type env struct {
	sim    *sbup.Server
	http   *httptest.Server
	client *unionpay.Client
	clock  *clock
	notify *receiver
	spec   paygate.ProviderSpec
}

func setup(t *testing.T, timeout, hang time.Duration) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Now()}, notify: newReceiver(t)}
	n := sandbox.NewNotifier()
	n.Scale = 0.0001
	t.Cleanup(n.Close)
	sim, err := sbup.New(sbup.Options{NotifyURL: e.notify.srv.URL, Notifier: n, Now: e.clock.Now, HangFor: hang})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	e.sim = sim
	e.http = httptest.NewServer(sim.Handler())
	t.Cleanup(e.http.Close)
	e.spec = paygate.ProviderSpec{ID: "unionpay", Kind: "unionpay", BaseURL: e.http.URL, Credentials: sim.Credentials(), Timeout: timeout}
	if e.client, err = unionpay.New(e.spec); err != nil {
		t.Fatal(err)
	}
	e.client.SetClock(e.clock.Now)
	return e
}

func (e *env) order(amount int64, method paygate.Method) (*paygate.Order, *paygate.PaymentRequest) {
	now := e.clock.Now()
	id := paygate.NewID(paygate.PrefixOrder, now)
	o := &paygate.Order{ID: id, Amount: amount, Method: method, CreatedAt: now}
	return o, &paygate.PaymentRequest{OrderID: id, Amount: amount, Method: method, Subject: "Latte", TerminalID: "T0001"}
}

func code(ending string) string { return "621234567890123" + ending }

func TestPayAuthCodeScenarios(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	ctx := context.Background()

	tests := []struct {
		ending      string
		want        paygate.Outcome
		wantErrCode string // ChannelError code, when the first answer is unknown
		after       paygate.Outcome
	}{
		{"6789", paygate.OutcomeSuccess, "", paygate.OutcomeSuccess},
		{"1111", paygate.OutcomePending, "", paygate.OutcomeSuccess},
		{"2222", paygate.OutcomePending, "", paygate.OutcomePending},
		{"3333", paygate.OutcomeDeclined, "", paygate.OutcomeDeclined},
		{"5555", "", unionpay.RespUnknown, paygate.OutcomeSuccess},
		{"6666", paygate.OutcomeSuccess, "", paygate.OutcomeSuccess},
	}
	for _, tc := range tests {
		o, req := e.order(1234, paygate.MethodAuthCode)
		req.AuthCode = code(tc.ending)
		r, err := e.client.Pay(ctx, req)
		if tc.wantErrCode != "" {
			var ce *paygate.ChannelError
			if !errors.As(err, &ce) || ce.Code != tc.wantErrCode {
				t.Fatalf("%s: err = %v, want ChannelError %s", tc.ending, err, tc.wantErrCode)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", tc.ending, err)
		} else if r.Outcome != tc.want {
			t.Fatalf("%s: outcome %s, want %s", tc.ending, r.Outcome, tc.want)
		}
		if tc.ending == "3333" {
			if r.Failure == nil || r.Failure.ChannelCode != unionpay.RespInsufficient || r.Failure.Code != "insufficient_balance" || r.Failure.Message == "" {
				t.Fatalf("3333 failure = %+v", r.Failure)
			}
		}
		if tc.ending == "1111" {
			q, err := e.client.Query(ctx, o)
			if err != nil || q.Outcome != paygate.OutcomePending {
				t.Fatalf("1111 before delay: %+v %v", q, err)
			}
			e.clock.Add(sandbox.ConfirmDelay)
		}
		q, err := e.client.Query(ctx, o)
		if err != nil || q.Outcome != tc.after {
			t.Fatalf("%s: query = %+v, %v; want %s", tc.ending, q, err, tc.after)
		}
		if q.Outcome == paygate.OutcomeSuccess && (q.Amount != 1234 || q.ChannelTradeNo == "" || q.PaidAt == nil) {
			t.Fatalf("%s: success without amount, queryId or time: %+v", tc.ending, q)
		}
		if tc.ending == "2222" {
			rv, err := e.client.Reverse(ctx, o)
			if err != nil || rv.Outcome != paygate.OutcomeClosed {
				t.Fatalf("2222 reverse: %+v %v", rv, err)
			}
			if q, _ := e.client.Query(ctx, o); q.Outcome != paygate.OutcomeClosed {
				t.Fatalf("2222 after undo: %+v", q)
			}
		}
	}
}

func TestPayTimeoutThenSucceed(t *testing.T) {
	t.Parallel()
	e := setup(t, 300*time.Millisecond, 5*time.Second)
	o, req := e.order(500, paygate.MethodAuthCode)
	req.AuthCode = code("4444")
	_, err := e.client.Pay(context.Background(), req)
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) || !ce.Timeout {
		t.Fatalf("err = %v, want a timeout ChannelError", err)
	}
	q, err := e.client.Query(context.Background(), o)
	if err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query = %+v, %v", q, err)
	}
}

func TestTripleNotify(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	o, req := e.order(800, paygate.MethodAuthCode)
	req.AuthCode = code("6666")
	if r, err := e.client.Pay(context.Background(), req); err != nil || r.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay: %+v %v", r, err)
	}
	ids := map[string]int{}
	for range 3 {
		n, err := e.client.ParseCallback(context.Background(), nil, e.notify.next(t))
		if err != nil {
			t.Fatal(err)
		}
		if n.OrderID != o.ID || n.Result.Outcome != paygate.OutcomeSuccess || n.Result.Amount != 800 {
			t.Fatalf("notify = %+v %+v", n, n.Result)
		}
		ids[n.ID]++
	}
	if len(ids) != 1 {
		t.Fatalf("3 copies should share one id, got %v", ids)
	}
}

func TestPayQRAndScan(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	ctx := context.Background()
	o, req := e.order(2500, paygate.MethodQR)
	r, err := e.client.Pay(ctx, req)
	if err != nil || r.Outcome != paygate.OutcomePending || !strings.HasPrefix(r.QRCode, "https://qr.95516.com/") {
		t.Fatalf("pay qr: %+v %v", r, err)
	}
	if q, err := e.client.Query(ctx, o); err != nil || q.Outcome != paygate.OutcomePending {
		t.Fatalf("unscanned: %+v %v", q, err)
	}
	resp, err := http.Post(e.http.URL+"/scan", "application/json", strings.NewReader(`{"qr_code": "`+r.QRCode+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scan: %v %v", resp, err)
	}
	resp.Body.Close()
	n, err := e.client.ParseCallback(ctx, nil, e.notify.next(t))
	if err != nil || n.OrderID != o.ID || n.Result.Outcome != paygate.OutcomeSuccess || n.Result.Amount != 2500 {
		t.Fatalf("notify: %+v %v", n, err)
	}
	if q, err := e.client.Query(ctx, o); err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("scanned: %+v %v", q, err)
	}
}

func TestPayContactless(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	ctx := context.Background()
	pan := "6214830212345678"
	tests := []struct {
		pan  string
		want paygate.Outcome
	}{{pan, paygate.OutcomeSuccess}, {"6214830212343333", paygate.OutcomeDeclined}}
	for _, tc := range tests {
		o, req := e.order(9900, paygate.MethodCard)
		req.Card = &paygate.CardData{PAN: tc.pan, Expiry: "2912", EMV: []byte{0x5a, 0x08, 0x62, 0x14}}
		req.CardInfo = &paygate.CardInfo{EntryMode: paygate.EntryContactless, Network: paygate.NetworkUnionPay}
		r, err := e.client.Pay(ctx, req)
		if err != nil || r.Outcome != tc.want {
			t.Fatalf("%s: %+v %v", paygate.MaskPAN(tc.pan), r, err)
		}
		if tc.want == paygate.OutcomeSuccess {
			if q, _ := e.client.Query(ctx, o); q.Outcome != paygate.OutcomeSuccess {
				t.Fatalf("query: %+v", q)
			}
		}
	}
	// chip is not taken here; the error must not show the PAN
	_, req := e.order(100, paygate.MethodCard)
	req.Card = &paygate.CardData{PAN: pan}
	req.CardInfo = &paygate.CardInfo{EntryMode: paygate.EntryChip}
	if _, err := e.client.Pay(ctx, req); paygate.ErrorCode(err) != paygate.EUNSUPPORTED || strings.Contains(err.Error(), pan) {
		t.Fatalf("chip: %v", err)
	}
	// the ZM file shows the card masked
	zm, _ := e.sim.ZM(e.clock.Now())
	if bytes.Contains(zm, []byte(pan)) || !bytes.Contains(zm, []byte(paygate.MaskPAN(pan))) {
		t.Fatalf("ZM does not mask the card:\n%s", zm)
	}
}

func TestRefundAndUndo(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	ctx := context.Background()
	o, req := e.order(10000, paygate.MethodAuthCode)
	req.AuthCode = code("0001")
	r, err := e.client.Pay(ctx, req)
	if err != nil || r.Outcome != paygate.OutcomeSuccess {
		t.Fatal(r, err)
	}
	e.notify.next(t) // the payment's notify
	o.ChannelTradeNo = r.ChannelTradeNo

	rf := &paygate.Refund{ID: paygate.NewID(paygate.PrefixRefund, e.clock.Now()), CreatedAt: e.clock.Now(), Amount: 4000}
	rr, err := e.client.Refund(ctx, &paygate.RefundRequest{RefundID: rf.ID, OrderID: o.ID, ChannelTradeNo: o.ChannelTradeNo, Amount: 4000, OrderAmount: 10000})
	if err != nil || rr.Outcome != paygate.OutcomeSuccess || rr.Amount != 4000 {
		t.Fatalf("refund: %+v %v", rr, err)
	}
	n, err := e.client.ParseCallback(ctx, nil, e.notify.next(t))
	if err != nil || n.RefundID != rf.ID || n.Refund.Outcome != paygate.OutcomeSuccess || n.Refund.Amount != 4000 {
		t.Fatalf("refund notify: %+v %v", n, err)
	}
	if q, err := e.client.QueryRefund(ctx, rf, o); err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query refund: %+v %v", q, err)
	}
	// refunding past the paid amount is refused
	rr, err = e.client.Refund(ctx, &paygate.RefundRequest{RefundID: paygate.NewID(paygate.PrefixRefund, e.clock.Now()), ChannelTradeNo: o.ChannelTradeNo, Amount: 6001})
	if err != nil || rr.Outcome != paygate.OutcomeDeclined {
		t.Fatalf("over-refund: %+v %v", rr, err)
	}
	if q, _ := e.client.QueryRefund(ctx, &paygate.Refund{ID: paygate.NewID(paygate.PrefixRefund, e.clock.Now())}, o); q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("unknown refund: %+v", q)
	}

	// undo of another paid order, found by query when the queryId is unknown
	o2, req2 := e.order(3000, paygate.MethodAuthCode)
	req2.AuthCode = code("0002")
	if _, err := e.client.Pay(ctx, req2); err != nil {
		t.Fatal(err)
	}
	e.notify.next(t)
	rv, err := e.client.Reverse(ctx, o2)
	if err != nil || rv.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse: %+v %v", rv, err)
	}
	n, err = e.client.ParseCallback(ctx, nil, e.notify.next(t))
	// Regression: the undo notify raced Reverse's answer and recorded a
	// reversal as closed; it is acknowledged and carries no result.
	if err != nil || n.OrderID != o2.ID || n.Result != nil {
		t.Fatalf("undo notify: %+v %v", n, err)
	}
	if q, _ := e.client.Query(ctx, o2); q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("after undo: %+v", q)
	}
	// an order the platform never saw
	o3, _ := e.order(100, paygate.MethodAuthCode)
	if q, err := e.client.Query(ctx, o3); err != nil || q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("unknown order: %+v %v", q, err)
	}

	// the day's ZM file lists the consume, the refund and the undo
	data, err := e.client.DownloadBill(ctx, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := unionpay.ParseZM(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{unionpay.TxnConsume: 13000, unionpay.TxnRefund: 4000, unionpay.TxnUndo: 3000}
	got := map[string]int64{}
	for _, row := range rows {
		got[row.TxnType] += row.Amount
		if _, _, ok := unionpay.FromOrderID(row.OrderID); !ok {
			t.Errorf("row orderId %q does not map back", row.OrderID)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ZM txnType %s sums %d, want %d", k, got[k], v)
		}
	}
	if _, err := e.client.DownloadBill(ctx, e.clock.Now().AddDate(0, 0, -3)); paygate.ErrorCode(err) != paygate.ENOTFOUND {
		t.Fatalf("empty day: %v", err)
	}
}

func pemKey(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func pubOf(t *testing.T, privPEM string) string {
	k, err := unionpay.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func withCred(spec paygate.ProviderSpec, k, v string) paygate.ProviderSpec {
	c := map[string]string{}
	for a, b := range spec.Credentials {
		c[a] = b
	}
	c[k] = v
	spec.Credentials = c
	return spec
}

func TestSimulatorRejectsBadMerchantSignature(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	c, err := unionpay.New(withCred(e.spec, "private_key", pemKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, req := e.order(100, paygate.MethodAuthCode)
	req.AuthCode = code("0003")
	r, err := c.Pay(context.Background(), req)
	if err != nil || r.Outcome != paygate.OutcomeDeclined || r.Failure.ChannelCode != unionpay.RespBadSignature {
		t.Fatalf("pay with a wrong key: %+v %v", r, err)
	}
}

func TestClientRejectsTamperedAnswer(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	// a proxy that changes one byte of the answer's respMsg... or its amount
	tamper := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, err := http.Post(e.http.URL+r.URL.Path, r.Header.Get("Content-Type"), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		ans, _ := io.ReadAll(resp.Body)
		io.WriteString(w, strings.Replace(string(ans), "txnAmt=100", "txnAmt=900", 1))
	}))
	t.Cleanup(tamper.Close)
	spec := e.spec
	spec.BaseURL = tamper.URL
	c, _ := unionpay.New(spec)
	_, req := e.order(100, paygate.MethodAuthCode)
	req.AuthCode = code("0004")
	var ce *paygate.ChannelError
	if _, err := c.Pay(context.Background(), req); !errors.As(err, &ce) {
		t.Fatalf("tampered answer: err = %v, want ChannelError", err)
	}
	// a client pinning another platform key rejects genuine answers too
	c2, _ := unionpay.New(withCred(e.spec, "unionpay_public_key", pubOf(t, pemKey(t))))
	_, req = e.order(100, paygate.MethodAuthCode)
	req.AuthCode = code("0005")
	if _, err := c2.Pay(context.Background(), req); !errors.As(err, &ce) {
		t.Fatalf("wrong platform key: err = %v, want ChannelError", err)
	}
	// a 5xx is unknown, not a decline
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(down.Close)
	spec.BaseURL = down.URL
	c3, _ := unionpay.New(spec)
	if _, err := c3.Pay(context.Background(), req); !errors.As(err, &ce) {
		t.Fatalf("503: err = %v", err)
	}
}

func TestParseCallback(t *testing.T) {
	t.Parallel()
	e := setup(t, 2*time.Second, 0)
	ctx := context.Background()
	o, req := e.order(4321, paygate.MethodAuthCode)
	req.AuthCode = code("0006")
	if _, err := e.client.Pay(ctx, req); err != nil {
		t.Fatal(err)
	}
	genuine := e.notify.next(t)
	n, err := e.client.ParseCallback(ctx, nil, genuine)
	if err != nil || n.OrderID != o.ID || n.Result.Amount != 4321 || n.ID == "" {
		t.Fatalf("genuine: %+v %v", n, err)
	}
	if st, _, body := e.client.CallbackReply(nil); st != 200 || string(body) != "ok" {
		t.Fatalf("reply: %d %s", st, body)
	}
	if st, _, _ := e.client.CallbackReply(err); st != 200 {
		t.Fatalf("reply nil err: %d", st)
	}
	form, _ := url.ParseQuery(string(genuine))
	edit := func(k, v string) []byte {
		f := url.Values{}
		for a, b := range form {
			f[a] = append([]string(nil), b...)
		}
		f.Set(k, v)
		return []byte(f.Encode())
	}
	oneByte := []byte(string(genuine))
	i := bytes.Index(oneByte, []byte("queryId=")) + len("queryId=")
	oneByte[i] ^= 1
	otherKey, _ := unionpay.New(withCred(e.spec, "unionpay_public_key", pubOf(t, pemKey(t))))

	tests := []struct {
		name   string
		client *unionpay.Client
		body   []byte
		code   string
	}{
		{"one byte changed", e.client, oneByte, paygate.EINVALIDSIG},
		{"wrong key", otherKey, genuine, paygate.EINVALIDSIG},
		{"different amount", e.client, edit("txnAmt", "1"), paygate.EINVALIDSIG},
		{"different merId", e.client, edit("merId", "777290058999999"), paygate.EINVALIDSIG},
		{"other certId", e.client, edit("certId", "1"), paygate.EINVALIDSIG},
		{"no signature", e.client, edit("signature", ""), paygate.EINVALIDSIG},
		{"not a form", e.client, []byte("%zz"), paygate.EINVALID},
		{"oversized", e.client, bytes.Repeat([]byte("a"), unionpay.MaxMessage+1), paygate.EINVALID},
	}
	for _, tc := range tests {
		_, err := tc.client.ParseCallback(ctx, nil, tc.body)
		if paygate.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
		if st, _, _ := e.client.CallbackReply(err); st != http.StatusBadRequest {
			t.Errorf("%s: reply %d", tc.name, st)
		}
	}
}

func TestNewCredentials(t *testing.T) {
	t.Parallel()
	sim, err := sbup.New(sbup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	spec := paygate.ProviderSpec{ID: "up", BaseURL: "https://gateway.95516.com", Credentials: sim.Credentials()}
	if _, err := unionpay.New(spec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mer_id", "cert_id", "private_key", "unionpay_public_key", "unionpay_cert_id"} {
		_, err := unionpay.New(withCred(spec, k, ""))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("missing %s: %v", k, err)
		}
	}
	for _, k := range []string{"private_key", "unionpay_public_key"} {
		_, err := unionpay.New(withCred(spec, k, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("malformed %s: %v", k, err)
		}
	}
}
