package wechat

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	sim "github.com/paygate-cn/paygate/channels/sandbox/wechat"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Now()} }

// delivery is one callback the test receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

type env struct {
	sim      *sim.Server
	client   *Client
	clock    *clock
	base     string // the simulator's base URL
	received chan delivery
	notify   string
}

// newEnv starts a simulator mounted under /sandbox/wechat on a real HTTP
// server, a callback receiver, and a client pointed at the simulator.
func newEnv(t testing.TB, timeout, hangFor time.Duration) *env {
	t.Helper()
	e := &env{clock: newClock(), received: make(chan delivery, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /callbacks/wechat", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.received <- delivery{r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	e.notify = ts.URL + "/callbacks/wechat"

	n := sandbox.NewNotifier()
	n.Scale = 0.001
	t.Cleanup(n.Close)
	s, err := sim.New(sim.Options{NotifyURL: e.notify, Notifier: n, Now: e.clock.Now, HangFor: hangFor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	mux.Handle("/sandbox/wechat/", http.StripPrefix("/sandbox/wechat", s.Handler()))
	e.sim = s
	e.base = ts.URL + "/sandbox/wechat"
	e.client = e.newClient(t, s.Credentials(), timeout)
	return e
}

func (e *env) newClient(t testing.TB, cred map[string]string, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(paygate.ProviderSpec{ID: "wechat", Kind: "wechat", BaseURL: e.base, Credentials: cred, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	c.now = e.clock.Now
	return c
}

// next waits for the next callback.
func (e *env) next(t testing.TB) delivery {
	t.Helper()
	select {
	case d := <-e.received:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no callback delivered")
	}
	return delivery{}
}

func orderID() string { return paygate.NewID(paygate.PrefixOrder, time.Now()) }

func authCodeReq(code string) *paygate.PaymentRequest {
	return &paygate.PaymentRequest{
		OrderID: orderID(), Amount: 1234, Subject: "Latte", Method: paygate.MethodAuthCode,
		AuthCode: code, TerminalID: "T0001", Merchant: &paygate.Merchant{ID: "m_demo"},
	}
}

func TestAuthCodeScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second, 100*time.Millisecond)
	ctx := context.Background()
	tests := []struct {
		code         string
		pay          paygate.Outcome // "" = a ChannelError
		payTimeout   bool
		failure      string
		query        paygate.Outcome
		advance      time.Duration
		afterAdvance paygate.Outcome
	}{
		{code: "134567890123456789", pay: paygate.OutcomeSuccess, query: paygate.OutcomeSuccess},
		{code: "134567890123451111", pay: paygate.OutcomePending, query: paygate.OutcomePending,
			advance: sandbox.ConfirmDelay + time.Second, afterAdvance: paygate.OutcomeSuccess},
		{code: "134567890123452222", pay: paygate.OutcomePending, query: paygate.OutcomePending,
			advance: 4 * time.Minute, afterAdvance: paygate.OutcomePending},
		{code: "134567890123453333", pay: paygate.OutcomeDeclined, failure: "insufficient_balance", query: paygate.OutcomeDeclined},
		{code: "134567890123454444", payTimeout: true, query: paygate.OutcomeSuccess},
		{code: "134567890123455555", query: paygate.OutcomeSuccess},
		{code: "134567890123456666", pay: paygate.OutcomeSuccess, query: paygate.OutcomeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.code[len(tt.code)-4:], func(t *testing.T) {
			req := authCodeReq(tt.code)
			res, err := e.client.Pay(ctx, req)
			if tt.pay == "" {
				var ce *paygate.ChannelError
				if !errors.As(err, &ce) {
					t.Fatalf("Pay = %+v, %v; want a ChannelError", res, err)
				}
				if ce.Timeout != tt.payTimeout {
					t.Errorf("Timeout = %v, want %v (%v)", ce.Timeout, tt.payTimeout, ce)
				}
				if !tt.payTimeout && ce.Code != "SYSTEM_ERROR" {
					t.Errorf("Code = %q, want SYSTEM_ERROR", ce.Code)
				}
			} else {
				if err != nil {
					t.Fatalf("Pay: %v", err)
				}
				if res.Outcome != tt.pay {
					t.Fatalf("Pay outcome = %s, want %s", res.Outcome, tt.pay)
				}
				if tt.failure != "" && (res.Failure == nil || res.Failure.Code != tt.failure || res.Failure.ChannelCode != "NOTENOUGH") {
					t.Errorf("Failure = %+v, want %s/NOTENOUGH", res.Failure, tt.failure)
				}
				if res.Outcome == paygate.OutcomeSuccess && (res.ChannelTradeNo == "" || res.Amount != 1234 || res.PaidAt == nil || res.PayerID == "") {
					t.Errorf("success result incomplete: %+v", res)
				}
			}
			o := &paygate.Order{ID: req.OrderID}
			q, err := e.client.Query(ctx, o)
			if err != nil || q.Outcome != tt.query {
				t.Fatalf("Query = %+v, %v; want %s", q, err, tt.query)
			}
			if tt.advance > 0 {
				e.clock.Add(tt.advance)
				q, err := e.client.Query(ctx, o)
				e.clock.Add(-tt.advance)
				if err != nil || q.Outcome != tt.afterAdvance {
					t.Fatalf("Query after %v = %+v, %v; want %s", tt.advance, q, err, tt.afterAdvance)
				}
			}
		})
	}
}

func TestReverseNeverConfirmed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	req := authCodeReq("134567890123452222")
	if res, err := e.client.Pay(ctx, req); err != nil || res.Outcome != paygate.OutcomePending {
		t.Fatalf("Pay = %+v, %v", res, err)
	}
	o := &paygate.Order{ID: req.OrderID}
	if res, err := e.client.Reverse(ctx, o); err != nil || res.Outcome != paygate.OutcomeClosed {
		t.Fatalf("Reverse = %+v, %v", res, err)
	}
	if q, err := e.client.Query(ctx, o); err != nil || q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("Query = %+v, %v; want closed (REVOKED)", q, err)
	}
	if res, err := e.client.Reverse(ctx, &paygate.Order{ID: "ord_unknown"}); err != nil || res.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("Reverse unknown = %+v, %v", res, err)
	}
}

func TestTripleCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	req := authCodeReq("134567890123456666")
	if res, err := e.client.Pay(context.Background(), req); err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("Pay = %+v, %v", res, err)
	}
	ids := map[string]int{}
	for range 3 {
		d := e.next(t)
		n, err := e.client.ParseCallback(context.Background(), d.header, d.body)
		if err != nil {
			t.Fatalf("ParseCallback: %v", err)
		}
		if n.OrderID != req.OrderID || n.Result.Outcome != paygate.OutcomeSuccess || n.Result.Amount != 1234 {
			t.Fatalf("notification = %+v / %+v", n, n.Result)
		}
		ids[n.ID]++
	}
	if len(ids) != 1 {
		t.Fatalf("ids = %v, want one id delivered 3 times", ids)
	}
}

func TestNativeScan(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	req := &paygate.PaymentRequest{OrderID: orderID(), Amount: 500, Subject: "Tea", Method: paygate.MethodQR,
		NotifyURL: e.notify, ExpiresAt: time.Now().Add(15 * time.Minute)}
	res, err := e.client.Pay(ctx, req)
	if err != nil || res.Outcome != paygate.OutcomePending || !strings.HasPrefix(res.QRCode, "weixin://wxpay/bizpayurl") {
		t.Fatalf("Pay = %+v, %v", res, err)
	}
	o := &paygate.Order{ID: req.OrderID}
	if q, err := e.client.Query(ctx, o); err != nil || q.Outcome != paygate.OutcomePending {
		t.Fatalf("Query before scan = %+v, %v", q, err)
	}
	if st := scan(t, e, res.QRCode, "134567890123453333"); st != http.StatusPaymentRequired {
		t.Fatalf("declined scan status = %d", st)
	}
	if st := scan(t, e, res.QRCode, ""); st != http.StatusOK {
		t.Fatalf("scan status = %d", st)
	}
	d := e.next(t)
	n, err := e.client.ParseCallback(ctx, d.header, d.body)
	if err != nil || n.OrderID != req.OrderID || n.Result.Outcome != paygate.OutcomeSuccess || n.Result.Amount != 500 {
		t.Fatalf("callback = %+v, %v", n, err)
	}
	if q, err := e.client.Query(ctx, o); err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("Query after scan = %+v, %v", q, err)
	}
	if err := e.client.CloseOrder(ctx, o); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Fatalf("CloseOrder of a paid order = %v, want %s", err, paygate.EINVALIDSTATE)
	}
}

func scan(t *testing.T, e *env, code, payer string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"qr_code": code, "payer_code": payer})
	resp, err := http.Post(e.base+"/scan", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCloseOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	req := &paygate.PaymentRequest{OrderID: orderID(), Amount: 100, Subject: "Tea", Method: paygate.MethodQR, NotifyURL: e.notify}
	if _, err := e.client.Pay(ctx, req); err != nil {
		t.Fatal(err)
	}
	o := &paygate.Order{ID: req.OrderID}
	if err := e.client.CloseOrder(ctx, o); err != nil {
		t.Fatalf("CloseOrder: %v", err)
	}
	if q, err := e.client.Query(ctx, o); err != nil || q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("Query = %+v, %v; want closed", q, err)
	}
	if err := e.client.CloseOrder(ctx, &paygate.Order{ID: "ord_none"}); paygate.ErrorCode(err) != paygate.ENOTFOUND {
		t.Fatalf("CloseOrder unknown = %v", err)
	}
	if q, err := e.client.Query(ctx, &paygate.Order{ID: "ord_none"}); err != nil || q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("Query unknown = %+v, %v", q, err)
	}
}

func TestInWalletCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	tests := []struct {
		method paygate.Method
		keys   []string
	}{
		{paygate.MethodJSAPI, []string{"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}},
		{paygate.MethodH5, []string{"h5_url"}},
		{paygate.MethodApp, []string{"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			req := &paygate.PaymentRequest{OrderID: orderID(), Amount: 880, Subject: "Cake", Method: tt.method,
				PayerID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", ClientIP: "203.0.113.7", NotifyURL: e.notify}
			res, err := e.client.Pay(ctx, req)
			if err != nil || res.Outcome != paygate.OutcomePending {
				t.Fatalf("Pay = %+v, %v", res, err)
			}
			var cred map[string]any
			if err := json.Unmarshal(res.Credential, &cred); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.keys {
				if cred[k] == nil || cred[k] == "" {
					t.Errorf("credential lacks %s: %s", k, res.Credential)
				}
			}
		})
	}
	_, err := e.client.Pay(ctx, &paygate.PaymentRequest{OrderID: orderID(), Amount: 1, Subject: "x", Method: paygate.MethodJSAPI})
	if paygate.ErrorCode(err) != paygate.EPARAMMISSING {
		t.Fatalf("jsapi without openid = %v", err)
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	req := authCodeReq("134567890123456789")
	paid, err := e.client.Pay(ctx, req)
	if err != nil || paid.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("Pay = %+v, %v", paid, err)
	}
	e.next(t) // the payment callback
	rr := &paygate.RefundRequest{RefundID: paygate.NewID(paygate.PrefixRefund, time.Now()), OrderID: req.OrderID,
		ChannelTradeNo: paid.ChannelTradeNo, Amount: 234, OrderAmount: 1234, Reason: "spilt", NotifyURL: e.notify}
	res, err := e.client.Refund(ctx, rr)
	if err != nil || res.Outcome != paygate.OutcomePending || res.ChannelRefundNo == "" || res.Amount != 234 {
		t.Fatalf("Refund = %+v, %v", res, err)
	}
	q, err := e.client.QueryRefund(ctx, &paygate.Refund{ID: rr.RefundID}, &paygate.Order{ID: req.OrderID})
	if err != nil || q.Outcome != paygate.OutcomeSuccess || q.At == nil {
		t.Fatalf("QueryRefund = %+v, %v", q, err)
	}
	d := e.next(t)
	n, err := e.client.ParseCallback(ctx, d.header, d.body)
	if err != nil || n.RefundID != rr.RefundID || n.Refund.Outcome != paygate.OutcomeSuccess || n.Refund.Amount != 234 {
		t.Fatalf("refund callback = %+v, %v", n, err)
	}
	if q, err := e.client.Query(ctx, &paygate.Order{ID: req.OrderID}); err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("Query of a refunded order = %+v, %v", q, err)
	}
	over := *rr
	over.RefundID = paygate.NewID(paygate.PrefixRefund, time.Now())
	over.Amount = 1001
	if res, err := e.client.Refund(ctx, &over); err != nil || res.Outcome != paygate.OutcomeDeclined {
		t.Fatalf("over-refund = %+v, %v", res, err)
	}
	if q, err := e.client.QueryRefund(ctx, &paygate.Refund{ID: "ref_none"}, nil); err != nil || q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("QueryRefund unknown = %+v, %v", q, err)
	}
}

func otherKeyPEM(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	pk, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}))
}

func TestSimulatorRejectsBadSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	cred := maps.Clone(e.sim.Credentials())
	cred["private_key"], _ = otherKeyPEM(t)
	c := e.newClient(t, cred, 5*time.Second)
	_, err := c.Query(context.Background(), &paygate.Order{ID: "ord_x"})
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) || ce.Code != "SIGN_ERROR" {
		t.Fatalf("Query with a wrong merchant key = %v, want ChannelError SIGN_ERROR", err)
	}

	r, _ := http.NewRequest(http.MethodGet, e.base+"/v3/pay/transactions/out-trade-no/ord_x?mchid=1900000109", nil)
	r.Header.Set("Authorization", `WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="abc",signature="AAAA",timestamp="1",serial_no="1"`)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusUnauthorized || body.Code != "SIGN_ERROR" {
		t.Fatalf("forged request = %d %q", resp.StatusCode, body.Code)
	}
}

func TestClientRejectsTamperedAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	req := authCodeReq("134567890123456789")
	if _, err := e.client.Pay(ctx, req); err != nil {
		t.Fatal(err)
	}
	// A man in the middle changes one byte of every answer.
	h := e.sim.Handler()
	mitm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		maps.Copy(w.Header(), rec.Header())
		body := bytes.Replace(rec.Body.Bytes(), []byte("1234"), []byte("9234"), 1)
		body = bytes.Replace(body, []byte("ORDER_NOT_EXIST"), []byte("ORDER_NOT_EXISU"), 1)
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	defer mitm.Close()
	c, err := New(paygate.ProviderSpec{ID: "wechat", BaseURL: mitm.URL, Credentials: e.sim.Credentials(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{req.OrderID, "ord_none"} {
		var ce *paygate.ChannelError
		if res, err := c.Query(ctx, &paygate.Order{ID: id}); !errors.As(err, &ce) {
			t.Fatalf("Query(%s) through a tampering proxy = %+v, %v; want ChannelError", id, res, err)
		}
	}
}

func TestDownloadBill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	ctx := context.Background()
	req := authCodeReq("134567890123456789")
	if _, err := e.client.Pay(ctx, req); err != nil {
		t.Fatal(err)
	}
	file, err := e.client.DownloadBill(ctx, e.clock.Now())
	if err != nil {
		t.Fatalf("DownloadBill: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(file)), "\r\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "交易时间,") || !strings.Contains(lines[1], "`"+req.OrderID) ||
		!strings.HasPrefix(lines[2], "总交易单数,") || !strings.HasPrefix(lines[3], "`1,`12.34,") {
		t.Fatalf("bill =\n%s", file)
	}
	_, err = e.client.DownloadBill(ctx, e.clock.Now().AddDate(0, 0, -3))
	if paygate.ErrorCode(err) != paygate.ENOTFOUND {
		t.Fatalf("bill of an empty day = %v", err)
	}
}

func TestNewCredentialErrors(t *testing.T) {
	t.Parallel()
	s, err := sim.New(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, otherPub := otherKeyPEM(t)
	tests := []struct {
		field, value, want string
	}{
		{"mchid", "", "credentials.mchid: missing"},
		{"private_key", "not a key", "credentials.private_key: not a PEM RSA private key"},
		{"private_key", otherPub, "credentials.private_key: not a PEM RSA private key"},
		{"api_v3_key", "short", "credentials.api_v3_key: must be 32 bytes"},
		{"platform_public_key", "x", "credentials.platform_public_key: not a PEM RSA public key"},
		{"platform_public_key_id", "123", "credentials.platform_public_key_id: must start with PUB_KEY_ID_"},
	}
	for _, tt := range tests {
		cred := maps.Clone(s.Credentials())
		cred[tt.field] = tt.value
		_, err := New(paygate.ProviderSpec{ID: "w", Credentials: cred})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: err = %v, want %q", tt.field, tt.value, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("error quotes key material: %v", err)
		}
	}
	if _, err := New(paygate.ProviderSpec{ID: "w", Credentials: s.Credentials()}); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
}

// gopay's own notify verification accepts the simulator's callbacks.
func TestCallbackVerifiesWithGopay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second, time.Second)
	req := authCodeReq("134567890123456789")
	if _, err := e.client.Pay(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	d := e.next(t)
	hr := httptest.NewRequest(http.MethodPost, "/callbacks/wechat", bytes.NewReader(d.body))
	hr.Header = d.header
	nr, err := v3.V3ParseNotify(hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := nr.VerifySignByPK(e.client.platform); err != nil {
		t.Fatalf("VerifySignByPK: %v", err)
	}
	res, err := nr.DecryptPayCipherText(e.sim.Credentials()["api_v3_key"])
	if err != nil {
		t.Fatalf("DecryptPayCipherText: %v", err)
	}
	if res.OutTradeNo != req.OrderID || res.TradeState != "SUCCESS" || res.Amount.Total != 1234 || nr.EventType != "TRANSACTION.SUCCESS" {
		t.Fatalf("decrypted = %+v", res)
	}
}
