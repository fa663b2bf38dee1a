package paygate_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paygate "github.com/paygate-cn/paygate/sdk-clients/go"
)

func TestOrderLifecycle(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	no := orderNo()
	o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: no, Amount: 1234, Currency: "CNY",
		Subject: "Latte", Method: "auth_code", AuthCode: wechatCode(), TerminalID: "T0001"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != "succeeded" || o.Channel != "wechat" || o.Fee != 7 || o.NetAmount != 1227 || o.Route == nil {
		t.Fatalf("order: %+v", o)
	}
	got, err := c.Orders.Get(cx, o.ID)
	if err != nil || got.ID != o.ID || got.MerchantOrderNo != no {
		t.Fatalf("get: %+v %v", got, err)
	}
	byNo, err := c.Orders.GetByMerchantOrderNo(cx, no)
	if err != nil || byNo.ID != o.ID {
		t.Fatalf("by merchant order no: %+v %v", byNo, err)
	}

	r, err := c.Refunds.Create(cx, o.ID, &paygate.RefundParams{MerchantRefundNo: no + "-R1", Amount: 234, Reason: "顾客退货"})
	if err != nil {
		t.Fatal(err)
	}
	if r.OrderID != o.ID || r.Amount != 234 {
		t.Fatalf("refund: %+v", r)
	}
	r2, err := c.Refunds.Get(cx, r.ID)
	if err != nil || r2.ID != r.ID {
		t.Fatalf("refund get: %+v %v", r2, err)
	}
	// A refund past what remains is a typed 422, not retried.
	_, err = c.Refunds.Create(cx, o.ID, &paygate.RefundParams{MerchantRefundNo: no + "-R2", Amount: 5000})
	var pe *paygate.Error
	if !errors.As(err, &pe) || pe.Status != 422 || pe.Code != "refund_exceeds_amount" || pe.RequestID == "" {
		t.Fatalf("over-refund: %v", err)
	}

	// An unpaid QR order is closed; a paid same-day order is cancelled.
	qr, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 500, Subject: "Cake",
		Method: "qr", Channel: "alipay"})
	if err != nil || qr.Status != "pending" || qr.QRCode == nil {
		t.Fatalf("qr: %+v %v", qr, err)
	}
	closed, err := c.Orders.Close(cx, qr.ID)
	if err != nil || closed.Status != "closed" {
		t.Fatalf("close: %+v %v", closed, err)
	}
	paid, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 800, Subject: "Tea",
		Method: "auth_code", AuthCode: wechatCode(), TerminalID: "T0001"})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := c.Orders.Cancel(cx, paid.ID)
	if err != nil || rev.Status != "reversed" {
		t.Fatalf("cancel: %+v %v", rev, err)
	}

	q, err := c.Routes.Quote(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 10000, Subject: "Quote",
		Method: "qr", Channel: "wechat"})
	if err != nil || q.Object != "quote" || q.Fee != 60 || q.Route == nil || len(q.Route.Candidates) == 0 {
		t.Fatalf("quote: %+v %v", q, err)
	}
}

func TestCardCapture(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	pan := luhn("622848000000" + fmt.Sprintf("%06d", time.Now().UnixNano()%1e6))
	o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 20000, Subject: "Hotel",
		Method: "card", Capture: "manual", TerminalID: "T0001", Location: &paygate.Location{RegionCode: "310000"},
		Card: &paygate.CardParams{EntryMode: "chip", Type: "credit", EMV: testEMV(pan)}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != "authorized" || o.Card == nil || o.Card.Last4 != pan[len(pan)-4:] {
		t.Fatalf("pre-auth: %+v", o)
	}
	cap, err := c.Orders.Capture(cx, o.ID, &paygate.CaptureParams{Amount: 18000})
	if err != nil || cap.Status != "succeeded" || cap.Amount != 18000 {
		t.Fatalf("capture: %+v %v", cap, err)
	}
}

// luhn appends the Luhn check digit to a card number's digits.
func luhn(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 0 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + string(rune('0'+(10-sum%10)%10))
}

// testEMV is the TLV of a chip read: PAN (5A) and expiry (5F24).
func testEMV(pan string) string {
	if len(pan)%2 == 1 {
		pan += "F"
	}
	tlv := func(tag, hexValue string) string {
		return tag + fmt.Sprintf("%02X", len(hexValue)/2) + hexValue
	}
	b, _ := hex.DecodeString(pan)
	return tlv("5A", strings.ToUpper(hex.EncodeToString(b))) + tlv("5F24", "301231")
}

func TestListAutoPagination(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	from := time.Now().Add(-time.Second)
	want := map[string]bool{}
	for i := 0; i < 5; i++ {
		o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: int64(100 + i),
			Subject: "Page", Method: "qr", Channel: "wechat"})
		if err != nil {
			t.Fatal(err)
		}
		want[o.ID] = true
	}
	seen := 0
	for o, err := range c.Orders.List(cx, &paygate.OrderListParams{CreatedFrom: from, Status: "pending", Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if want[o.ID] {
			seen++
		}
	}
	if seen != 5 {
		t.Fatalf("listed %d of 5 orders across pages of 2", seen)
	}
	page, err := c.Orders.ListPage(cx, &paygate.OrderListParams{CreatedFrom: from, Limit: 2}, "")
	if err != nil || len(page.Data) != 2 || page.NextCursor == nil {
		t.Fatalf("first page: %+v %v", page, err)
	}
}

// TestQRPaidThroughSandboxWebhookVerified: a QR order paid by a simulated
// customer, its order.succeeded webhook verified by the SDK.
func TestQRPaidThroughSandboxWebhookVerified(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	events := make(chan *paygate.Event, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e, err := paygate.ConstructEvent(body, r.Header.Get(paygate.SignatureHeader), testWebhookSecret)
		if err != nil {
			t.Errorf("webhook: %v", err)
			w.WriteHeader(400)
			return
		}
		events <- e
	}))
	defer recv.Close()

	o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 2500, Subject: "Cake",
		Method: "qr", Channel: "wechat", NotifyURL: recv.URL + "/paygate"})
	if err != nil || o.QRCode == nil {
		t.Fatalf("qr order: %+v %v", o, err)
	}
	scan, _ := json.Marshal(map[string]string{"qr_code": *o.QRCode})
	resp, err := http.Post(gatewayURL+"/sandbox/wechat/scan", "application/json", bytes.NewReader(scan))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("scan: %d", resp.StatusCode)
	}
	select {
	case e := <-events:
		if e.Type != "order.succeeded" {
			t.Fatalf("event type %s", e.Type)
		}
		eo, err := e.Order()
		if err != nil || eo.ID != o.ID || eo.Status != "succeeded" {
			t.Fatalf("event order: %+v %v", eo, err)
		}
		// The event API shows it with its delivery.
		got, err := c.Events.Get(cx, e.ID)
		if err != nil || got.ID != e.ID {
			t.Fatalf("event get: %+v %v", got, err)
		}
		n := 0
		for ev, err := range c.Events.List(cx, &paygate.EventListParams{OrderID: o.ID}) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID == e.ID {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("event listed %d times", n)
		}
		if _, err := c.Events.Redeliver(cx, e.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case again := <-events:
			if again.ID != e.ID {
				t.Fatalf("redelivered %s, want %s", again.ID, e.ID)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no redelivery")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook")
	}
	got, err := c.Orders.Get(cx, o.ID)
	if err != nil || got.Status != "succeeded" {
		t.Fatalf("after scan: %+v %v", got, err)
	}
}

func TestTerminals(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	tid := fmt.Sprintf("TG%06d", time.Now().UnixNano()%1e6)
	term, err := c.Terminals.Create(cx, &paygate.TerminalParams{TerminalID: tid, SerialNo: "SN-" + tid, Model: "P2",
		RegionCode: "310000"})
	if err != nil || term.ActivationCode == "" {
		t.Fatalf("create terminal: %+v %v", term, err)
	}
	again, err := c.Terminals.NewActivationCode(cx, term.ID, nil)
	if err != nil || again.ActivationCode == "" || again.ActivationCode == term.ActivationCode {
		t.Fatalf("new activation code: %+v %v", again, err)
	}
	anon := paygate.NewClient("", "", paygate.WithBaseURL(gatewayURL))
	act, err := anon.Terminals.Activate(cx, again.ActivationCode)
	if err != nil || act.KeyID == "" || act.KeySecret == "" {
		t.Fatalf("activate: %+v %v", act, err)
	}
	pos := paygate.NewClient(act.KeyID, act.KeySecret, paygate.WithBaseURL(gatewayURL))
	o, err := pos.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 300, Subject: "Bun",
		Method: "auth_code", AuthCode: wechatCode(), TerminalID: tid})
	if err != nil || o.Status != "succeeded" || o.TerminalID != tid {
		t.Fatalf("terminal order: %+v %v", o, err)
	}
	got, err := c.Terminals.Get(cx, term.ID)
	if err != nil || got.Status != "active" {
		t.Fatalf("terminal get: %+v %v", got, err)
	}
	off, err := c.Terminals.Deactivate(cx, term.ID)
	if err != nil || off.Status == "active" {
		t.Fatalf("deactivate: %+v %v", off, err)
	}
	_, err = pos.Orders.Get(cx, o.ID)
	var pe *paygate.Error
	if !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("deactivated terminal key: %v", err)
	}
}

func TestQRCodes(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	q, err := c.QRCodes.Create(cx, &paygate.QRCodeParams{StoreName: "静安店", TerminalID: "T0001"})
	if err != nil || !q.Active || q.URL == "" || q.PNGURL == "" {
		t.Fatalf("create: %+v %v", q, err)
	}
	got, err := c.QRCodes.Get(cx, q.ID)
	if err != nil || got.ID != q.ID {
		t.Fatalf("get: %+v %v", got, err)
	}
	found := false
	for it, err := range c.QRCodes.List(cx, 1) {
		if err != nil {
			t.Fatal(err)
		}
		found = found || it.ID == q.ID
	}
	if !found {
		t.Fatal("code not listed")
	}
	off, err := c.QRCodes.Deactivate(cx, q.ID)
	if err != nil || off.Active {
		t.Fatalf("deactivate: %+v %v", off, err)
	}
}

func TestReconciliationAndStatements(t *testing.T) {
	c := newClient(t)
	cx := ctx(t)
	o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 4321, Subject: "Recon",
		Method: "auth_code", AuthCode: wechatCode(), TerminalID: "T0001"})
	if err != nil || o.Status != "succeeded" {
		t.Fatalf("order: %+v %v", o, err)
	}
	day := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	// The channel's bill will charge another fee on this order: a
	// discrepancy the merchant sees and resolves.
	adj, _ := json.Marshal(map[string]string{"date": day, "action": "fee", "out_trade_no": o.ID, "value": "1"})
	resp, err := http.Post(gatewayURL+"/sandbox/wechat/bill_adjustments", "application/json", bytes.NewReader(adj))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("bill adjustment: %d", resp.StatusCode)
	}
	runs, err := c.Reconciliations.Create(cx, &paygate.ReconciliationParams{Date: day, Provider: "wechat"})
	if err != nil || len(runs) == 0 {
		t.Fatalf("run: %+v %v", runs, err)
	}
	run, err := c.Reconciliations.Get(cx, runs[0].ID)
	if err != nil || run.Provider != "wechat" || run.Date != day {
		t.Fatalf("get run: %+v %v", run, err)
	}
	listed := false
	for r, err := range c.Reconciliations.List(cx, day) {
		if err != nil {
			t.Fatal(err)
		}
		listed = listed || r.ID == run.ID
	}
	if !listed {
		t.Fatal("run not listed")
	}
	resolved := false
	for d, err := range c.Reconciliations.Discrepancies(cx, run.ID) {
		if err != nil {
			t.Fatal(err)
		}
		if d.OrderID == o.ID && d.Outcome == "fee_mismatch" && d.Resolution == "open" {
			got, err := c.Discrepancies.Resolve(cx, d.ID, "checked by the SDK test")
			if err != nil || got.Resolution != "accepted" || got.Note != "checked by the SDK test" {
				t.Fatalf("resolve: %+v %v", got, err)
			}
			resolved = true
		}
	}
	if !resolved {
		t.Fatal("no open fee_mismatch for the adjusted order")
	}

	st, err := c.Statements.Get(cx, day)
	if err != nil || st.Object != "statement" {
		t.Fatalf("statement: %+v %v", st, err)
	}
	var sum int64
	for _, l := range st.Lines {
		sum += l.Amount
	}
	if sum != st.Totals.Amount {
		t.Fatalf("statement lines sum to %d, totals say %d", sum, st.Totals.Amount)
	}
	for _, format := range []string{"csv", "xlsx"} {
		rc, err := c.Statements.Download(cx, day, format)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %d bytes, %v", format, len(b), err)
		}
		if format == "csv" && !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			t.Fatal("csv without BOM")
		}
		if format == "xlsx" && !bytes.HasPrefix(b, []byte("PK")) {
			t.Fatal("xlsx is not a zip")
		}
	}
}

func TestTypedErrorsAreNotRetried(t *testing.T) {
	p := newProxy(t, gatewayURL)
	c := newClient(t, paygate.WithBaseURL(p.URL()), paygate.WithBackoff(10*time.Millisecond, 20*time.Millisecond))
	cx := ctx(t)
	cases := []struct {
		name   string
		call   func() error
		status int
	}{
		{"400 malformed", func() error {
			_, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: -1, Subject: "x", Method: "qr", Channel: "wechat"})
			return err
		}, 400},
		{"401 bad key", func() error {
			bad := paygate.NewClient(testKeyID, testSecret+"x", paygate.WithBaseURL(p.URL()))
			_, err := bad.Orders.Get(cx, "ord_nope")
			return err
		}, 401},
		{"404 unknown order", func() error { _, err := c.Orders.Get(cx, "ord_doesnotexist"); return err }, 404},
		{"422 unsupported auth code", func() error {
			_, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 100, Subject: "x", Method: "auth_code", AuthCode: "999999999999999999", TerminalID: "T0001"})
			return err
		}, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := p.Requests()
			err := tc.call()
			var pe *paygate.Error
			if !errors.As(err, &pe) || pe.Status != tc.status || pe.Code == "" || pe.Message == "" || pe.RequestID == "" {
				t.Fatalf("got %v, want a typed %d", err, tc.status)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatal("the secret is in the error")
			}
			if n := p.Requests() - before; n != 1 {
				t.Fatalf("%d requests, want 1 (no retry)", n)
			}
		})
	}
}
