package alipay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

func TestNewRejectsBadCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	good := e.sim.Credentials()
	for _, tc := range []struct {
		name, field, value, wantParam string
	}{
		{"missing app_id", "app_id", "", "credentials.app_id"},
		{"missing private_key", "private_key", "", "credentials.private_key"},
		{"missing alipay_public_key", "alipay_public_key", "", "credentials.alipay_public_key"},
		{"malformed private_key", "private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "credentials.private_key"},
		{"malformed alipay_public_key", "alipay_public_key", "not a key", "credentials.alipay_public_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := map[string]string{}
			for k, v := range good {
				cred[k] = v
			}
			cred[tc.field] = tc.value
			_, err := alipay.New(paygate.ProviderSpec{ID: "a", Credentials: cred})
			var pe *paygate.Error
			if !errors.As(err, &pe) || pe.Param != tc.wantParam {
				t.Fatalf("err = %v, want a *paygate.Error naming %s", err, tc.wantParam)
			}
			if !strings.HasPrefix(pe.Message, tc.wantParam+":") {
				t.Errorf("message %q does not start with %s:", pe.Message, tc.wantParam)
			}
		})
	}
	if e.client.ID() != "alipay-test" || e.client.Kind() != "alipay" {
		t.Errorf("ID/Kind = %s/%s", e.client.ID(), e.client.Kind())
	}
}

func TestPayScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	for _, tc := range []struct {
		name    string
		code    string
		outcome paygate.Outcome
		failure string
		channel string
	}{
		{"immediate success", "286001234567890123", paygate.OutcomeSuccess, "", ""},
		{"1111 buyer confirming", "286001234567891111", paygate.OutcomePending, "", ""},
		{"2222 never confirms", "286001234567892222", paygate.OutcomePending, "", ""},
		{"3333 insufficient balance", "286001234567893333", paygate.OutcomeDeclined, "insufficient_balance", "ACQ.BUYER_BALANCE_NOT_ENOUGH"},
		{"invalid code", "28600123", paygate.OutcomeDeclined, "invalid_auth_code", "ACQ.PAYMENT_AUTH_CODE_INVALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.client.Pay(ctx(), payReq(newOrderID(), tc.code, 1234, ""))
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome = %s, want %s", res.Outcome, tc.outcome)
			}
			if tc.failure != "" {
				if res.Failure == nil || res.Failure.Code != tc.failure || res.Failure.ChannelCode != tc.channel || res.Failure.Message == "" {
					t.Fatalf("failure = %+v", res.Failure)
				}
				return
			}
			if res.ChannelTradeNo == "" {
				t.Error("no trade_no")
			}
			if tc.outcome == paygate.OutcomeSuccess {
				if res.Amount != 1234 || res.PaidAt == nil || !strings.HasPrefix(res.PayerID, "2088") {
					t.Errorf("result = %+v", res)
				}
			}
		})
	}
}

func TestConfirmLaterThenQuerySucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	res, err := e.client.Pay(ctx(), payReq(id, "286001234567891111", 500, ""))
	if err != nil || res.Outcome != paygate.OutcomePending {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	o := &paygate.Order{ID: id}
	if q, err := e.client.Query(ctx(), o); err != nil || q.Outcome != paygate.OutcomePending {
		t.Fatalf("query before confirming = %+v, %v", q, err)
	}
	e.offset.Store(int64(sandbox.ConfirmDelay + time.Second))
	q, err := e.client.Query(ctx(), o)
	if err != nil || q.Outcome != paygate.OutcomeSuccess || q.Amount != 500 || q.PaidAt == nil {
		t.Fatalf("query after confirming = %+v, %v", q, err)
	}
	// The confirmation is also notified.
	n, err := e.client.ParseCallback(ctx(), nil, []byte(e.sink.next(t)))
	if err != nil || n.OrderID != id || n.Result.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("notification = %+v, %v", n, err)
	}
}

func TestNeverConfirmThenReverse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	if res, err := e.client.Pay(ctx(), payReq(id, "286001234567892222", 800, "")); err != nil || res.Outcome != paygate.OutcomePending {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	o := &paygate.Order{ID: id}
	res, err := e.client.Reverse(ctx(), o)
	if err != nil || res.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse = %+v, %v", res, err)
	}
	if q, err := e.client.Query(ctx(), o); err != nil || q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("query = %+v, %v", q, err)
	}
}

func TestReversePaidAndUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	if res, err := e.client.Pay(ctx(), payReq(id, "286001234567890000", 800, "")); err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	if res, err := e.client.Reverse(ctx(), &paygate.Order{ID: id}); err != nil || res.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse = %+v, %v", res, err)
	}
	if q, _ := e.client.Query(ctx(), &paygate.Order{ID: id}); q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("query after reverse = %s", q.Outcome)
	}
	// Reversing a payment that never reached the channel makes a late
	// arrival fail.
	late := newOrderID()
	if res, err := e.client.Reverse(ctx(), &paygate.Order{ID: late}); err != nil || res.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse unknown = %+v, %v", res, err)
	}
	res, err := e.client.Pay(ctx(), payReq(late, "286001234567890000", 800, ""))
	if err != nil || res.Outcome != paygate.OutcomeDeclined || res.Failure.Code != "order_closed" {
		t.Fatalf("late pay = %+v, %v", res, err)
	}
}

func TestTimeoutThenSucceed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30*time.Second, 300*time.Millisecond)
	id := newOrderID()
	_, err := e.client.Pay(ctx(), payReq(id, "286001234567894444", 999, ""))
	if ce := chanErr(t, err); !ce.Timeout || ce.Op != "pay" {
		t.Fatalf("channel error = %+v, want a pay timeout", ce)
	}
	q, err := e.client.Query(ctx(), &paygate.Order{ID: id})
	if err != nil || q.Outcome != paygate.OutcomeSuccess || q.Amount != 999 {
		t.Fatalf("query = %+v, %v", q, err)
	}
}

func TestSystemErrorThenSucceed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	_, err := e.client.Pay(ctx(), payReq(id, "286001234567895555", 700, ""))
	if ce := chanErr(t, err); ce.Timeout || ce.Code != "ACQ.SYSTEM_ERROR" {
		t.Fatalf("channel error = %+v", ce)
	}
	q, err := e.client.Query(ctx(), &paygate.Order{ID: id})
	if err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query = %+v, %v", q, err)
	}
}

func TestTripleNotification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	res, err := e.client.Pay(ctx(), payReq(id, "286001234567896666", 1500, e.sink.srv.URL))
	if err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	ids := map[string]int{}
	for range 3 {
		n, err := e.client.ParseCallback(ctx(), nil, []byte(e.sink.next(t)))
		if err != nil {
			t.Fatal(err)
		}
		if n.OrderID != id || n.Result.Amount != 1500 || n.Result.Outcome != paygate.OutcomeSuccess || n.Result.ChannelTradeNo != res.ChannelTradeNo {
			t.Fatalf("notification = %+v %+v", n, n.Result)
		}
		ids[n.ID]++
	}
	if len(ids) != 1 {
		t.Fatalf("notify ids = %v, want one id delivered 3 times", ids)
	}
}

func TestNotificationRetriedUntilSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	e.sink.failNext.Store(2)
	id := newOrderID()
	if _, err := e.client.Pay(ctx(), payReq(id, "286001234567890001", 100, "")); err != nil {
		t.Fatal(err)
	}
	first := e.sink.next(t)
	for range 2 {
		if again := e.sink.next(t); again != first {
			t.Fatal("a retry differs from the first delivery")
		}
	}
}

func TestQRScanAndNotify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	res, err := e.client.Pay(ctx(), &paygate.PaymentRequest{OrderID: id, Amount: 2500, Subject: "Cake", Method: paygate.MethodQR})
	if err != nil || res.Outcome != paygate.OutcomePending || !strings.HasPrefix(res.QRCode, "https://qr.alipay.com/") {
		t.Fatalf("precreate = %+v, %v", res, err)
	}
	o := &paygate.Order{ID: id}
	if q, err := e.client.Query(ctx(), o); err != nil || q.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("query before scan = %+v, %v", q, err)
	}
	if code := scan(t, e, map[string]string{"qr_code": res.QRCode}); code != http.StatusOK {
		t.Fatalf("scan = %d", code)
	}
	n, err := e.client.ParseCallback(ctx(), nil, []byte(e.sink.next(t)))
	if err != nil || n.OrderID != id || n.Result.Outcome != paygate.OutcomeSuccess || n.Result.Amount != 2500 {
		t.Fatalf("notification = %+v, %v", n, err)
	}
	if q, err := e.client.Query(ctx(), o); err != nil || q.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("query after scan = %+v, %v", q, err)
	}
	if err := e.client.CloseOrder(ctx(), o); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Fatalf("close paid = %v, want invalid_state", err)
	}
}

func TestCloseUnscannedQR(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	res, err := e.client.Pay(ctx(), &paygate.PaymentRequest{OrderID: id, Amount: 100, Subject: "x", Method: paygate.MethodQR})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.CloseOrder(ctx(), &paygate.Order{ID: id}); err != nil {
		t.Fatal(err)
	}
	if code := scan(t, e, map[string]string{"qr_code": res.QRCode}); code != http.StatusConflict {
		t.Fatalf("scan of a closed QR = %d", code)
	}
}

func TestJSAPICreateAndClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	req := &paygate.PaymentRequest{OrderID: id, Amount: 300, Subject: "x", Method: paygate.MethodJSAPI, PayerID: "2088000011112222"}
	res, err := e.client.Pay(ctx(), req)
	if err != nil || res.Outcome != paygate.OutcomePending {
		t.Fatalf("create = %+v, %v", res, err)
	}
	var cred map[string]string
	if err := json.Unmarshal(res.Credential, &cred); err != nil || cred["trade_no"] == "" || cred["trade_no"] != res.ChannelTradeNo {
		t.Fatalf("credential = %s", res.Credential)
	}
	o := &paygate.Order{ID: id}
	if q, _ := e.client.Query(ctx(), o); q.Outcome != paygate.OutcomePending {
		t.Fatalf("query = %s", q.Outcome)
	}
	if err := e.client.CloseOrder(ctx(), o); err != nil {
		t.Fatal(err)
	}
	if q, _ := e.client.Query(ctx(), o); q.Outcome != paygate.OutcomeClosed {
		t.Fatalf("query after close = %s", q.Outcome)
	}
	req.PayerID = ""
	if _, err := e.client.Pay(ctx(), req); paygate.ErrorCode(err) != paygate.EPARAMMISSING {
		t.Fatalf("jsapi without payer = %v", err)
	}
}

func TestPagePayCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	for _, m := range []paygate.Method{paygate.MethodH5, paygate.MethodWeb} {
		id := newOrderID()
		res, err := e.client.Pay(ctx(), &paygate.PaymentRequest{OrderID: id, Amount: 4200, Subject: "Book", Method: m})
		if err != nil || res.Outcome != paygate.OutcomePending {
			t.Fatalf("%s = %+v, %v", m, res, err)
		}
		var cred map[string]string
		_ = json.Unmarshal(res.Credential, &cred)
		if !strings.HasPrefix(cred["pay_url"], e.spec.BaseURL+"?") {
			t.Fatalf("%s pay_url = %q", m, cred["pay_url"])
		}
		resp, err := http.Get(cred["pay_url"])
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("id=confirm")) {
			t.Fatalf("%s cashier = %d %s", m, resp.StatusCode, page)
		}
		if q, _ := e.client.Query(ctx(), &paygate.Order{ID: id}); q.Outcome != paygate.OutcomePending {
			t.Fatalf("%s query = %s", m, q.Outcome)
		}
		// the cashier's confirm button posts the trade_no to confirm
		confirm := strings.TrimSuffix(e.spec.BaseURL, "gateway.do") + "confirm"
		resp, err = http.PostForm(confirm, url.Values{"ref": {q(t, e, id).ChannelTradeNo}, "action": {"confirm"}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte(`data-status="paid"`)) {
			t.Fatalf("confirm = %d %s", resp.StatusCode, page)
		}
		if got := q(t, e, id); got.Outcome != paygate.OutcomeSuccess || got.Amount != 4200 {
			t.Fatalf("%s after confirm = %+v", m, got)
		}
	}
	res, err := e.client.Pay(ctx(), &paygate.PaymentRequest{OrderID: newOrderID(), Amount: 1, Subject: "x", Method: paygate.MethodApp})
	if err != nil || !bytes.Contains(res.Credential, []byte("order_string")) {
		t.Fatalf("app = %+v, %v", res, err)
	}
	if _, err := e.client.Pay(ctx(), &paygate.PaymentRequest{OrderID: newOrderID(), Amount: 1, Method: paygate.MethodCard}); paygate.ErrorCode(err) != paygate.EUNSUPPORTED {
		t.Fatalf("card = %v", err)
	}
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	id := newOrderID()
	res, err := e.client.Pay(ctx(), payReq(id, "286001234567890002", 1000, ""))
	if err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	e.sink.next(t) // the payment notification
	o := &paygate.Order{ID: id, Amount: 1000}
	refund := func(rid string, amount int64) *paygate.RefundResult {
		t.Helper()
		r, err := e.client.Refund(ctx(), &paygate.RefundRequest{RefundID: rid, OrderID: id, ChannelTradeNo: res.ChannelTradeNo, Amount: amount, OrderAmount: 1000, Reason: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := refund("rf_1", 300); r.Outcome != paygate.OutcomeSuccess || r.Amount != 300 || r.ChannelRefundNo != res.ChannelTradeNo {
		t.Fatalf("refund = %+v", r)
	}
	n, err := e.client.ParseCallback(ctx(), nil, []byte(e.sink.next(t)))
	if err != nil || n.RefundID != "rf_1" || n.Refund == nil || n.Refund.Outcome != paygate.OutcomeSuccess || n.Result != nil ||
		n.Refund.Amount != 0 || n.Refund.RefundedTotal != 300 {
		t.Fatalf("refund notification = %+v, %v", n, err)
	}
	if r := refund("rf_1", 300); r.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("repeated refund = %+v", r)
	}
	if r := refund("rf_2", 800); r.Outcome != paygate.OutcomeDeclined || r.Failure.ChannelCode != "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" {
		t.Fatalf("excess refund = %+v", r)
	}
	qr, err := e.client.QueryRefund(ctx(), &paygate.Refund{ID: "rf_1"}, o)
	if err != nil || qr.Outcome != paygate.OutcomeSuccess || qr.Amount != 300 || qr.At == nil {
		t.Fatalf("query refund = %+v, %v", qr, err)
	}
	if qr, err := e.client.QueryRefund(ctx(), &paygate.Refund{ID: "rf_none"}, o); err != nil || qr.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("query unknown refund = %+v, %v", qr, err)
	}
	if r, err := e.client.Refund(ctx(), &paygate.RefundRequest{RefundID: "rf_x", OrderID: newOrderID(), Amount: 1}); err != nil || r.Outcome != paygate.OutcomeNotFound {
		t.Fatalf("refund of unknown order = %+v, %v", r, err)
	}
}

func TestSimulatorRejectsBadRequestSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	other := newEnv(t, 0, 0)
	cred := e.sim.Credentials()
	cred["private_key"] = other.sim.Credentials()["private_key"]
	spec := e.spec
	spec.Credentials = cred
	c, err := alipay.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pay(ctx(), payReq(newOrderID(), "286001234567890003", 100, ""))
	if ce := chanErr(t, err); ce.Code != "isv.invalid-signature" {
		t.Fatalf("channel error = %+v", ce)
	}
}

func TestClientRejectsTamperedResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	// A proxy that changes the amount in every answer.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest(r.Method, e.srv.URL+"/sandbox/alipay/gateway.do?"+r.URL.RawQuery, bytes.NewReader(body))
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		w.Write(bytes.Replace(b, []byte(`"total_amount":"1.00"`), []byte(`"total_amount":"9.00"`), 1))
	}))
	defer proxy.Close()
	spec := e.spec
	spec.BaseURL = proxy.URL + "/gateway.do"
	c, err := alipay.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Pay(ctx(), payReq(newOrderID(), "286001234567890004", 100, ""))
	if ce := chanErr(t, err); ce.Timeout {
		t.Fatalf("channel error = %+v", ce)
	}
}

func TestUnreachableGatewayIsUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusBadGateway)
	}))
	defer dead.Close()
	spec := e.spec
	spec.BaseURL = dead.URL + "/gateway.do"
	c, _ := alipay.New(spec)
	if _, err := c.Query(ctx(), &paygate.Order{ID: "x"}); err == nil {
		t.Fatal("a 502 answer was accepted")
	} else {
		chanErr(t, err)
	}
}

func scan(t *testing.T, e *env, body map[string]string) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.srv.URL+"/sandbox/alipay/scan", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func q(t *testing.T, e *env, id string) *paygate.Result {
	t.Helper()
	r, err := e.client.Query(ctx(), &paygate.Order{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Alipay refuses to cancel a refunded trade (ACQ.REASON_TRADE_REFUND_FEE_ERR)
// and to refund a cancelled one (ACQ.TRADE_STATUS_ERROR): the simulator
// must too, or a cancel racing a refund returns the money twice.
func TestCancelRefundedAndRefundCancelledAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0, 0)
	refunded := newOrderID()
	res, err := e.client.Pay(ctx(), payReq(refunded, "286001234567890003", 1000, ""))
	if err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	r, err := e.client.Refund(ctx(), &paygate.RefundRequest{RefundID: "rf_c1", OrderID: refunded, ChannelTradeNo: res.ChannelTradeNo, Amount: 300, OrderAmount: 1000})
	if err != nil || r.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("refund = %+v, %v", r, err)
	}
	rv, err := e.client.Reverse(ctx(), &paygate.Order{ID: refunded, Amount: 1000})
	if err != nil || rv.Outcome != paygate.OutcomeDeclined || rv.Failure.ChannelCode != "ACQ.REASON_TRADE_REFUND_FEE_ERR" {
		t.Fatalf("cancel of a partly refunded trade = %+v, %v", rv, err)
	}

	cancelled := newOrderID()
	res, err = e.client.Pay(ctx(), payReq(cancelled, "286001234567890004", 1000, ""))
	if err != nil || res.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("pay = %+v, %v", res, err)
	}
	if rv, err := e.client.Reverse(ctx(), &paygate.Order{ID: cancelled, Amount: 1000}); err != nil || rv.Outcome != paygate.OutcomeClosed {
		t.Fatalf("cancel = %+v, %v", rv, err)
	}
	if rv, err := e.client.Reverse(ctx(), &paygate.Order{ID: cancelled, Amount: 1000}); err != nil || rv.Outcome != paygate.OutcomeClosed {
		t.Fatalf("repeated cancel = %+v, %v", rv, err)
	}
	r, err = e.client.Refund(ctx(), &paygate.RefundRequest{RefundID: "rf_c2", OrderID: cancelled, ChannelTradeNo: res.ChannelTradeNo, Amount: 300, OrderAmount: 1000})
	if err != nil || r.Outcome != paygate.OutcomeDeclined || r.Failure.ChannelCode != "ACQ.TRADE_STATUS_ERROR" {
		t.Fatalf("refund of a cancelled trade = %+v, %v", r, err)
	}
}
