package ecny_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

func TestNewCredentials(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	good := f.bank.Credentials()
	for _, tc := range []struct {
		name, field, value, param string
	}{
		{"no merchant", "merchant_no", "", "credentials.merchant_no"},
		{"no key", "private_key", "", "credentials.private_key"},
		{"bad key", "private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "credentials.private_key"},
		{"public key as private", "private_key", good["bank_public_key"], "credentials.private_key"},
		{"no bank key", "bank_public_key", "", "credentials.bank_public_key"},
		{"bad bank key", "bank_public_key", "not pem", "credentials.bank_public_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := f.bank.Credentials()
			creds[tc.field] = tc.value
			_, err := ecny.New(paygate.ProviderSpec{ID: "e", BaseURL: f.url, Credentials: creds})
			var pe *paygate.Error
			if !errors.As(err, &pe) || pe.Param != tc.param {
				t.Fatalf("err = %v, want a *paygate.Error naming %s", err, tc.param)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
	c, err := ecny.New(paygate.ProviderSpec{ID: "e", BaseURL: f.url, Credentials: good})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != "e" || c.Kind() != paygate.KindECNY {
		t.Fatalf("ID, Kind = %q, %q", c.ID(), c.Kind())
	}
}

func TestPayScenarios(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct {
		name        string
		code        string
		want        paygate.Outcome
		failure     string
		channelCode string // for a *ChannelError
		after       paygate.Outcome
	}{
		{"success", code("9876"), paygate.OutcomeSuccess, "", "", paygate.OutcomeSuccess},
		{"hard wallet tap", "0191234567890129876", paygate.OutcomeSuccess, "", "", paygate.OutcomeSuccess},
		{"1111 paying", code("1111"), paygate.OutcomePending, "", "", paygate.OutcomePending},
		{"2222 paying", code("2222"), paygate.OutcomePending, "", "", paygate.OutcomePending},
		{"3333 insufficient", code("3333"), paygate.OutcomeDeclined, "insufficient_balance", "", paygate.OutcomeDeclined},
		{"invalid code", "0112345678901234X67", paygate.OutcomeDeclined, "invalid_auth_code", "", paygate.OutcomeNotFound},
		{"5555 system error", code("5555"), "", "", ecny.CodeSystemError, paygate.OutcomeSuccess},
		{"6666 success", code("6666"), paygate.OutcomeSuccess, "", "", paygate.OutcomeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newOrderID()
			r, err := pay(t, f.client, id, tc.code, 1234)
			if tc.channelCode != "" {
				if ce := channelError(t, err); ce.Code != tc.channelCode || ce.Timeout {
					t.Fatalf("channel error %+v, want code %s", ce, tc.channelCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if r.Outcome != tc.want {
					t.Fatalf("outcome %s, want %s", r.Outcome, tc.want)
				}
				if tc.failure != "" && (r.Failure == nil || r.Failure.Code != tc.failure || r.Failure.ChannelCode == "") {
					t.Fatalf("failure %+v, want %s", r.Failure, tc.failure)
				}
				if r.Outcome == paygate.OutcomeSuccess {
					checkPaid(t, r, 1234)
				}
			}
			q := query(t, f.client, id)
			if q.Outcome != tc.after {
				t.Fatalf("query outcome %s, want %s", q.Outcome, tc.after)
			}
			if q.Outcome == paygate.OutcomeSuccess {
				checkPaid(t, q, 1234)
			}
		})
	}
}

func checkPaid(t *testing.T, r *paygate.Result, amount int64) {
	t.Helper()
	if r.ChannelTradeNo == "" || r.Amount != amount || r.PaidAt == nil || r.PaidAt.IsZero() {
		t.Fatalf("paid result %+v", r)
	}
	if len(r.PayerID) != 16 || !strings.Contains(r.PayerID, "****") {
		t.Fatalf("payer id %q is not a masked wallet id", r.PayerID)
	}
}

// TestConfirmLater: a 1111 payer confirms after sandbox.ConfirmDelay; the
// bank's clock is moved on instead of sleeping.
func TestConfirmLater(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	id := newOrderID()
	r, err := pay(t, f.client, id, code("1111"), 500)
	if err != nil || r.Outcome != paygate.OutcomePending {
		t.Fatalf("pay = %+v, %v; want pending", r, err)
	}
	f.offset.Store(int64(sandbox.ConfirmDelay + time.Second))
	if q := query(t, f.client, id); q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query after confirmation = %s", q.Outcome)
	}
	n := f.nextNote(t)
	got, err := f.client.ParseCallback(context.Background(), n.header, n.body)
	if err != nil || got.OrderID != id || got.Result.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("notification = %+v, %v", got, err)
	}
}

func TestTimeoutThenSucceed(t *testing.T) {
	f := newFixture(t, fixtureOptions{timeout: 200 * time.Millisecond, hangFor: time.Minute})
	id := newOrderID()
	_, err := pay(t, f.client, id, code("4444"), 800)
	if ce := channelError(t, err); !ce.Timeout {
		t.Fatalf("channel error %+v, want a timeout", ce)
	}
	q := query(t, f.client, id)
	if q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query after timeout = %s, want success", q.Outcome)
	}
	checkPaid(t, q, 800)
}

func TestNeverConfirmIsCancelled(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	id := newOrderID()
	if r, err := pay(t, f.client, id, code("2222"), 100); err != nil || r.Outcome != paygate.OutcomePending {
		t.Fatalf("pay = %+v, %v", r, err)
	}
	r, err := f.client.Reverse(context.Background(), &paygate.Order{ID: id})
	if err != nil || r.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse = %+v, %v; want closed", r, err)
	}
	if q := query(t, f.client, id); q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("query = %s, want closed", q.Outcome)
	}
	if r, err := f.client.Reverse(context.Background(), &paygate.Order{ID: newOrderID()}); err != nil || r.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("reverse of unknown = %+v, %v", r, err)
	}
}

func TestCancelPaid(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	id := newOrderID()
	if r, err := pay(t, f.client, id, code("0001"), 700); err != nil || r.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay = %+v, %v", r, err)
	}
	r, err := f.client.Reverse(context.Background(), &paygate.Order{ID: id})
	if err != nil || r.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse = %+v, %v; want closed", r, err)
	}
	if q := query(t, f.client, id); q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("query = %s, want closed", q.Outcome)
	}
	// A refunded trade cannot be cancelled any more.
	id2 := newOrderID()
	if _, err := pay(t, f.client, id2, code("0002"), 700); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Refund(context.Background(), &paygate.RefundRequest{RefundID: "ref_" + id2, OrderID: id2, Amount: 1}); err != nil {
		t.Fatal(err)
	}
	r, err = f.client.Reverse(context.Background(), &paygate.Order{ID: id2})
	if err != nil || r.Outcome != paygate.OutcomeDeclined || r.Failure.ChannelCode != ecny.CodeInvalidState {
		t.Fatalf("reverse of refunded = %+v, %v; want declined", r, err)
	}
}

func TestQR(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	id := newOrderID()
	r, err := f.client.Pay(ctx, &paygate.PaymentRequest{OrderID: id, Amount: 2500, Subject: "Dinner",
		Method: paygate.MethodQR, ExpiresAt: time.Now().Add(15 * time.Minute)})
	if err != nil || r.Outcome != paygate.OutcomePending || r.QRCode == "" {
		t.Fatalf("precreate = %+v, %v", r, err)
	}
	if q := query(t, f.client, id); q.Outcome != paygate.OutcomePending {
		t.Fatalf("query before scan = %s", q.Outcome)
	}
	scan(t, f.url, r.QRCode, code("6666"), http.StatusOK)
	// 6666: three concurrent copies of one notification.
	ids := map[string]int{}
	for range 3 {
		n := f.nextNote(t)
		got, err := f.client.ParseCallback(ctx, n.header, n.body)
		if err != nil {
			t.Fatal(err)
		}
		if got.OrderID != id || got.Result.Outcome != paygate.OutcomeSuccess || got.Result.Amount != 2500 {
			t.Fatalf("notification %+v", got)
		}
		ids[got.ID]++
	}
	if len(ids) != 1 {
		t.Fatalf("notify ids %v, want one id delivered 3 times", ids)
	}
	if q := query(t, f.client, id); q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query after scan = %s", q.Outcome)
	}
	if err := f.client.CloseOrder(ctx, &paygate.Order{ID: id}); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Fatalf("close of paid = %v, want invalid_state", err)
	}

	// An unpaid QR is closed; a declined scan leaves it payable.
	id2 := newOrderID()
	r2, err := f.client.Pay(ctx, &paygate.PaymentRequest{OrderID: id2, Amount: 300, Method: paygate.MethodQR})
	if err != nil {
		t.Fatal(err)
	}
	scan(t, f.url, r2.QRCode, code("3333"), http.StatusPaymentRequired)
	if err := f.client.CloseOrder(ctx, &paygate.Order{ID: id2}); err != nil {
		t.Fatal(err)
	}
	if q := query(t, f.client, id2); q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("query after close = %s", q.Outcome)
	}
	scan(t, f.url, r2.QRCode, "", http.StatusConflict)
	if q := query(t, f.client, newOrderID()); q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("query of unknown = %s", q.Outcome)
	}
}

func scan(t *testing.T, base, qr, payer string, want int) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"qr_code": qr, "payer_code": payer})
	resp, err := http.Post(base+"/scan", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scan: HTTP %d %s, want %d", resp.StatusCode, body, want)
	}
}

func TestRefund(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	id := newOrderID()
	if _, err := pay(t, f.client, id, code("0003"), 1000); err != nil {
		t.Fatal(err)
	}
	f.nextNote(t) // the payment's notification
	for _, tc := range []struct {
		refundID string
		amount   int64
		want     paygate.Outcome
		failure  string
	}{
		{"ref_a_" + id, 300, paygate.OutcomeSuccess, ""},
		{"ref_b_" + id, 700, paygate.OutcomeSuccess, ""},
		{"ref_c_" + id, 1, paygate.OutcomeDeclined, "refund_exceeds_amount"},
	} {
		r, err := f.client.Refund(ctx, &paygate.RefundRequest{RefundID: tc.refundID, OrderID: id, Amount: tc.amount, OrderAmount: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != tc.want || (tc.failure != "" && r.Failure.Code != tc.failure) {
			t.Fatalf("refund %s = %+v", tc.refundID, r)
		}
		if r.Outcome == paygate.OutcomeSuccess && (r.ChannelRefundNo == "" || r.Amount != tc.amount || r.At == nil) {
			t.Fatalf("refund result %+v", r)
		}
	}
	q, err := f.client.QueryRefund(ctx, &paygate.Refund{ID: "ref_a_" + id}, &paygate.Order{ID: id})
	if err != nil || q.Outcome != paygate.OutcomeSuccess || q.Amount != 300 {
		t.Fatalf("query refund = %+v, %v", q, err)
	}
	q, err = f.client.QueryRefund(ctx, &paygate.Refund{ID: "ref_none"}, &paygate.Order{ID: id})
	if err != nil || q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("query unknown refund = %+v, %v", q, err)
	}
	// The refunds' notifications.
	for range 2 {
		n := f.nextNote(t)
		got, err := f.client.ParseCallback(ctx, n.header, n.body)
		if err != nil {
			t.Fatal(err)
		}
		if got.RefundID == "" || got.Refund == nil || got.Refund.Outcome != paygate.OutcomeSuccess || got.OrderID != "" {
			t.Fatalf("refund notification %+v", got)
		}
	}
	// Refund of an unpaid trade.
	id2 := newOrderID()
	pay(t, f.client, id2, code("2222"), 100)
	r, err := f.client.Refund(ctx, &paygate.RefundRequest{RefundID: "ref_" + id2, OrderID: id2, Amount: 100})
	if err != nil || r.Outcome != paygate.OutcomeDeclined || r.Failure.Code != "invalid_state" {
		t.Fatalf("refund of unpaid = %+v, %v", r, err)
	}
}

// TestBankRejectsBadSignature: a request signed with a key the bank does not
// know is answered 1001, which the client reports as a channel error.
func TestBankRejectsBadSignature(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	other, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := ecny.MarshalPrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	creds := f.bank.Credentials()
	creds["private_key"] = pemKey
	c := f.newClient(t, creds, 0)
	id := newOrderID()
	_, err = pay(t, c, id, code("0004"), 100)
	if ce := channelError(t, err); ce.Code != ecny.CodeBadSignature {
		t.Fatalf("channel error %+v, want code %s", ce, ecny.CodeBadSignature)
	}
	if q := query(t, f.client, id); q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("a rejected request created a trade: %s", q.Outcome)
	}
}

// TestClientRejectsTamperedResponse puts a proxy between client and bank
// that alters the answers.
func TestClientRejectsTamperedResponse(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, tc := range []struct {
		name   string
		tamper func(h http.Header, body []byte) []byte
	}{
		{"changed amount", func(h http.Header, b []byte) []byte {
			return bytes.Replace(b, []byte(`"amount":100`), []byte(`"amount":900`), 1)
		}},
		{"changed status", func(h http.Header, b []byte) []byte {
			return bytes.Replace(b, []byte(`"SUCCESS"`), []byte(`"CLOSED"`), 1)
		}},
		{"no signature", func(h http.Header, b []byte) []byte { h.Del(ecny.SignatureHeader); return b }},
		{"signature of another answer", func(h http.Header, b []byte) []byte {
			h.Set(ecny.SignatureHeader, "MEUCIQDp1p8l5m9oZ1bK3m0q4tW0v0S6b2q3k3s1zq8x8Yh6pQIgJ3v1w0n7p0a3m5k6q2r9y1f8t0u4c7b6a5d3e2f1g0h=")
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequest(r.Method, f.url+r.URL.Path, r.Body)
				req.Header = r.Header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				h := resp.Header.Clone()
				body = tc.tamper(h, body)
				for k, v := range h {
					if k != "Content-Length" {
						w.Header()[k] = v
					}
				}
				w.WriteHeader(resp.StatusCode)
				w.Write(body)
			}))
			defer proxy.Close()
			c, err := ecny.New(paygate.ProviderSpec{ID: "e", BaseURL: proxy.URL, Credentials: f.bank.Credentials()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = pay(t, c, newOrderID(), code("0005"), 100)
			channelError(t, err)
		})
	}
}
