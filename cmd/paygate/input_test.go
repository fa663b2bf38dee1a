package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
)

// otherMerchant is a second merchant with its own key and terminal, for
// the binding tests.
func otherMerchant(cfg *config.Config) {
	cfg.Merchants = append(cfg.Merchants, config.Merchant{
		ID: "m_other", Name: "Other Shop", MCC: "5812", MerchantNo: "898310058120002", RegionCode: "310000",
		Keys:      []config.Key{{ID: "key_test_other", Secret: "sk_test_other_0123456789abcdef0123456789"}},
		Terminals: []config.Terminal{{ID: "T7001", Model: "P2"}},
	})
}

// nothingWritten fails unless the merchant has no order and no event.
func nothingWritten(t *testing.T, c *client) {
	t.Helper()
	if l := mustStatus(t, c.do("GET", "/v1/orders?limit=100", "/v1/orders", nil, ""), 200); len(l["data"].([]any)) != 0 {
		t.Errorf("%d orders written by refused requests: %v", len(l["data"].([]any)), l["data"])
	}
	if l := mustStatus(t, c.do("GET", "/v1/events?limit=100", "/v1/events", nil, ""), 200); len(l["data"].([]any)) != 0 {
		t.Errorf("%d events sent for refused requests: %v", len(l["data"].([]any)), l["data"])
	}
}

// Everything a flow needs is checked before anything is written: a method
// the channel does not implement, or a flow without its parameters, is
// refused with the parameter named, no order and no event exist, and the
// merchant_order_no is still free for the corrected request.
func withPayer(b map[string]any, payer string) map[string]any {
	b["payer_id"] = payer
	return b
}

func TestFlowChecksWriteNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		wallet := func(channel, method string) map[string]any {
			return map[string]any{"merchant_order_no": orderNo(), "amount": 1000, "subject": "Book",
				"method": method, "channel": channel}
		}
		card := func() map[string]any {
			b := cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1000)
			delete(b, "terminal_id")
			return b
		}
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
			param  string
			fix    func(map[string]any)
		}{
			{"card without terminal_id", card(), 400, paygate.EPARAMMISSING, "terminal_id",
				func(b map[string]any) { b["terminal_id"] = "T0001" }},
			{"wechat jsapi without payer_id", wallet("wechat", "jsapi"), 400, paygate.EPARAMMISSING, "payer_id",
				func(b map[string]any) { b["payer_id"] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" }},
			{"alipay jsapi without payer_id", wallet("alipay", "jsapi"), 400, paygate.EPARAMMISSING, "payer_id",
				func(b map[string]any) { b["payer_id"] = "2088102146225135" }},
			{"wechat h5 without client_ip", wallet("wechat", "h5"), 400, paygate.EPARAMMISSING, "client_ip",
				func(b map[string]any) { b["client_ip"] = "203.0.113.7" }},
			{"wechat web", wallet("wechat", "web"), 400, paygate.EUNSUPPORTED, "method",
				func(b map[string]any) { b["method"] = "qr" }},
			{"unionpay jsapi without payer_id", wallet("unionpay", "jsapi"), 400, paygate.EPARAMMISSING, "payer_id",
				func(b map[string]any) { b["payer_id"] = "up_sandbox_user_42" }},
			{"ecny jsapi without payer_id", wallet("ecny", "jsapi"), 400, paygate.EPARAMMISSING, "payer_id",
				func(b map[string]any) { b["payer_id"] = "0021123456789012" }},
			{"unionpay app", wallet("unionpay", "app"), 400, paygate.EUNSUPPORTED, "method",
				func(b map[string]any) { b["method"] = "qr" }},
			{"ecny h5", wallet("ecny", "h5"), 400, paygate.EUNSUPPORTED, "method",
				func(b map[string]any) { b["method"] = "qr" }},
			{"ecny app", wallet("ecny", "app"), 400, paygate.EUNSUPPORTED, "method",
				func(b map[string]any) { b["method"] = "qr" }},
			// Regression: a payer id the channel refuses used to be found out
			// by the channel client, after the order was written as failed.
			{"unionpay jsapi with a malformed payer_id", withPayer(wallet("unionpay", "jsapi"), "user id; drop"), 400,
				paygate.EPARAMINVALID, "payer_id", func(b map[string]any) { b["payer_id"] = "up_sandbox_user_43" }},
			{"ecny jsapi with an over-long payer_id", withPayer(wallet("ecny", "jsapi"), strings.Repeat("9", 65)), 400,
				paygate.EPARAMINVALID, "payer_id", func(b map[string]any) { b["payer_id"] = "0021123456789013" }},
			{"acquirer qr", wallet("acquirer", "qr"), 400, paygate.EUNSUPPORTED, "method",
				func(b map[string]any) { b["channel"] = "alipay" }},
		} {
			r := c.createOrder(tc.body, "")
			var e struct {
				Error struct{ Code, Param string } `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Errorf("%s: %d %s, want %d %s param %s", tc.name, r.Status, r.Body, tc.status, tc.code, tc.param)
			}
			// The quote agrees about what is not offered.
			if tc.code == paygate.EUNSUPPORTED {
				if q := c.do("POST", "/v1/routes/quote", "/v1/routes/quote", tc.body, ""); q.Status != tc.status || q.errorCode() != tc.code {
					t.Errorf("%s: quote %d %s", tc.name, q.Status, q.Body)
				}
			}
			tc.fix(tc.body)
			defer func(name string, body map[string]any) {
				// After the checks below: the corrected request, same merchant_order_no.
				if r := c.createOrder(body, ""); r.Status != 201 {
					t.Errorf("%s corrected: %d %s", name, r.Status, r.Body)
				}
			}(tc.name, tc.body)
		}
		nothingWritten(t, c)
	})
}

// terminal_id names an active terminal of the merchant, for every method:
// never registered, another merchant's, pending activation and deactivated
// terminals are refused before anything is written, and the card sale never
// reaches the acquirer.
func TestTerminalBinding(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b, otherMerchant)
			pending := mustStatus(t, c.do("POST", "/v1/terminals", "/v1/terminals",
				map[string]any{"terminal_id": "T0300", "serial_no": "SN-T0300", "model": "P2"}, ""), 201)
			if pending["status"] != paygate.TerminalPendingActivation {
				t.Fatalf("registered: %v", pending)
			}
			deactivated, _ := activate(t, c, "T0301", "310000")
			mustStatus(t, c.do("POST", "/v1/terminals/"+deactivated["id"].(string)+"/deactivate", "/v1/terminals/{id}/deactivate", nil, ""), 200)
			// Before the refusals: the event of activation is none, orders none.
			tcard := newCard(t, "622202", 16, "")
			for _, tc := range []struct {
				terminal, code string
			}{
				{"T9999", paygate.ETERMINALUNKNOWN},  // never registered
				{"T7001", paygate.ETERMINALUNKNOWN},  // the other merchant's (configured)
				{"T0300", paygate.ETERMINALINACTIVE}, // pending activation
				{"T0301", paygate.ETERMINALINACTIVE}, // deactivated
			} {
				for _, body := range []map[string]any{
					cardOrder(tcard, paygate.EntryChip, "", 1000),
					authCodeOrder("134567890123456789", 1000),
					{"merchant_order_no": orderNo(), "amount": 1000, "subject": "x", "method": "qr", "channel": "alipay"},
				} {
					body["terminal_id"] = tc.terminal
					r := c.createOrder(body, "")
					if r.Status != 422 || r.errorCode() != tc.code {
						t.Errorf("%s %s: %d %s, want 422 %s", tc.terminal, body["method"], r.Status, r.Body, tc.code)
					}
					if q := c.do("POST", "/v1/routes/quote", "/v1/routes/quote", body, ""); q.Status != 422 || q.errorCode() != tc.code {
						t.Errorf("%s %s quote: %d %s", tc.terminal, body["method"], q.Status, q.Body)
					}
				}
			}
			if rec := hostRecords(c, tcard.pan, ""); len(rec) != 0 {
				t.Errorf("the acquirer saw %d messages for refused terminals: %+v", len(rec), rec)
			}
			nothingWritten(t, c)
			// The other merchant's own terminal works for it.
			other := *c
			other.keyID, other.secret = "key_test_other", "sk_test_other_0123456789abcdef0123456789"
			body := cardOrder(tcard, paygate.EntryChip, "", 1000)
			body["terminal_id"] = "T7001"
			if o := mustStatus(t, other.createOrder(body, ""), 201); o["status"] != "succeeded" {
				t.Errorf("other merchant's sale: %v", o)
			}
		})
	}
}

// The declaration of what each channel implements (paygate.ChannelKinds)
// agrees with the clients: every declared flow is taken by the provider's
// client (against the sandbox), and every method not declared is refused
// by it as unsupported.
func TestChannelsImplementTheirDeclaration(t *testing.T) {
	c := testMain(t, "sqlite")
	ctx := context.Background()
	m, err := c.m.Directory.Merchant(ctx, config.DemoMerchantID)
	if err != nil {
		t.Fatal(err)
	}
	tcard := newCard(t, "622202", 16, "")
	codes := map[string]string{paygate.KindWeChat: "134567890123456789", paygate.KindAlipay: "287654321098765432",
		paygate.KindUnionPay: "6212345678901234567", paygate.KindECNY: "0112345678901234567"}
	payers := map[string]string{paygate.KindWeChat: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", paygate.KindAlipay: "2088102146225135",
		paygate.KindUnionPay: "up_sandbox_user_42", paygate.KindECNY: "0021123456789012"}
	seen := map[string]bool{}
	for id, ch := range c.m.Payments.Channels {
		kind := ch.Kind()
		if seen[kind] {
			continue
		}
		seen[kind] = true
		caps, ok := paygate.CapabilitiesOf(kind)
		if !ok {
			t.Fatalf("provider %s: kind %s not declared", id, kind)
		}
		for _, method := range []paygate.Method{paygate.MethodAuthCode, paygate.MethodQR, paygate.MethodCard,
			paygate.MethodJSAPI, paygate.MethodH5, paygate.MethodApp, paygate.MethodWeb} {
			now := time.Now()
			req := &paygate.PaymentRequest{OrderID: paygate.NewID(paygate.PrefixOrder, now), Amount: 1000, Subject: "x",
				Method: method, AuthCode: codes[kind], Capture: paygate.CaptureAutomatic, Merchant: m, TerminalID: "T0001",
				PayerID: payers[kind], ClientIP: "203.0.113.7", ExpiresAt: now.Add(15 * time.Minute),
				NotifyURL: c.m.URL + "/callbacks/" + kind}
			if method == paygate.MethodCard {
				req.Card = &paygate.CardData{PAN: tcard.pan, Expiry: "3012"}
				req.CardInfo = &paygate.CardInfo{EntryMode: paygate.EntryContactless, Type: paygate.CardDebit, Network: paygate.NetworkUnionPay}
				req.ChannelRef = paygate.NewChannelReference(ch)
			}
			_, err := ch.Pay(ctx, req)
			_, declared := caps.Flow(method)
			unsupported := paygate.ErrorCode(err) == paygate.EUNSUPPORTED
			if declared == unsupported {
				t.Errorf("%s %s: declared %v, client answered %v", kind, method, declared, err)
			}
		}
	}
	if len(seen) != len(paygate.ChannelKinds) {
		t.Errorf("sandbox providers cover %d kinds, %d declared", len(seen), len(paygate.ChannelKinds))
	}
}

// The string rule and the decoding rules hold at every endpoint, on both
// backends: a NUL (or another control character) in a body field, a path
// id or a query value, a key given twice, a malformed query, a repeated
// Authorization parameter, a client_ip that is no address and an
// activation_expires_in that overflows are all refused with 4xx and the
// parameter named; none reaches the database (on PostgreSQL a NUL used to
// answer 500), and nothing is written.
func TestInputRulesEverywhere(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		// A paid order and a registered terminal to aim at.
		paid := mustStatus(t, c.createOrder(authCodeOrder("134567890123456789", 1000), ""), 201)
		if paid["status"] != "succeeded" {
			t.Fatalf("order: %v", paid)
		}
		id := paid["id"].(string)
		order := func(extra string) string {
			if !strings.Contains(extra, `"subject"`) {
				extra += `,"subject":"x"`
			}
			return `{"merchant_order_no":"` + orderNo() + `","amount":100,"method":"qr","channel":"alipay"` + extra + `}`
		}
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			code, param              string
		}{
			{"subject NUL", "POST", "/v1/orders", order(`,"subject":"a\u0000"`), 400, paygate.ECHARSINVALID, "subject"},
			{"subject CR", "POST", "/v1/orders", order(`,"subject":"a\r"`), 400, paygate.ECHARSINVALID, "subject"},
			{"payer_id NUL", "POST", "/v1/orders", order(`,"payer_id":"2088\u0000"`), 400, paygate.ECHARSINVALID, "payer_id"},
			{"payer_id newline", "POST", "/v1/orders", order(`,"payer_id":"2088\n"`), 400, paygate.ECHARSINVALID, "payer_id"},
			{"metadata value NUL", "POST", "/v1/orders", order(`,"metadata":{"table":"1\u0000"}`), 400, paygate.ECHARSINVALID, "metadata.table"},
			{"metadata key NUL", "POST", "/v1/orders", order(`,"metadata":{"t\u0000":"1"}`), 400, paygate.ECHARSINVALID, "metadata"},
			{"invalid UTF-8", "POST", "/v1/orders", order(`,"subject":"` + "\xff" + `"`), 400, paygate.ECHARSINVALID, "subject"},
			{"lone surrogate", "POST", "/v1/orders", order(`,"subject":"\ud800"`), 400, paygate.ECHARSINVALID, "subject"},
			{"duplicate key", "POST", "/v1/orders", order(`,"amount":1`), 400, paygate.EDUPPARAM, "amount"},
			{"duplicate nested key", "POST", "/v1/orders", order(`,"metadata":{"a":"1","a":"2"}`), 400, paygate.EDUPPARAM, "metadata.a"},
			{"client_ip not an address", "POST", "/v1/orders", order(`,"client_ip":"localhost"`), 400, paygate.EPARAMINVALID, "client_ip"},
			{"client_ip with zone", "POST", "/v1/orders", order(`,"client_ip":"fe80::1%eth0"`), 400, paygate.EPARAMINVALID, "client_ip"},
			{"quote subject NUL", "POST", "/v1/routes/quote", order(`,"subject":"\u0000"`), 400, paygate.ECHARSINVALID, "subject"},
			{"refund reason NUL", "POST", "/v1/orders/" + id + "/refunds", `{"merchant_refund_no":"R1","amount":1,"reason":"a\u0000"}`, 400, paygate.ECHARSINVALID, "reason"},
			{"serial_no NUL", "POST", "/v1/terminals", `{"terminal_id":"T0900","serial_no":"S\u0000"}`, 400, paygate.ECHARSINVALID, "serial_no"},
			{"model NUL", "POST", "/v1/terminals", `{"terminal_id":"T0900","serial_no":"S","model":"P\u0000"}`, 400, paygate.ECHARSINVALID, "model"},
			{"model tab", "POST", "/v1/terminals", `{"terminal_id":"T0900","serial_no":"S","model":"P\t2"}`, 400, paygate.ECHARSINVALID, "model"},
			{"activation_expires_in wrapping to an hour", "POST", "/v1/terminals", `{"terminal_id":"T0900","serial_no":"S","activation_expires_in":36028797018967568}`, 400, paygate.EPARAMINVALID, "activation_expires_in"},
			{"activation_expires_in overflowing", "POST", "/v1/terminals", `{"terminal_id":"T0900","serial_no":"S","activation_expires_in":9223372036854775807}`, 400, paygate.EPARAMINVALID, "activation_expires_in"},
			{"order id NUL", "GET", "/v1/orders/ord_%00", "", 400, paygate.ECHARSINVALID, "id"},
			{"order id bad UTF-8", "GET", "/v1/orders/ord_%FF", "", 400, paygate.ECHARSINVALID, "id"},
			{"cancel id NUL", "POST", "/v1/orders/%00/cancel", "", 400, paygate.ECHARSINVALID, "id"},
			{"close id NUL", "POST", "/v1/orders/%00/close", "", 400, paygate.ECHARSINVALID, "id"},
			{"refund on id NUL", "POST", "/v1/orders/%00/refunds", `{"merchant_refund_no":"R2","amount":1}`, 400, paygate.ECHARSINVALID, "id"},
			{"capture id NUL", "POST", "/v1/orders/%00/capture", "", 400, paygate.ECHARSINVALID, "id"},
			{"refund id NUL", "GET", "/v1/refunds/re_%00", "", 400, paygate.ECHARSINVALID, "id"},
			{"event id NUL", "GET", "/v1/events/evt_%00", "", 400, paygate.ECHARSINVALID, "id"},
			{"redeliver id NUL", "POST", "/v1/events/%00/redeliver", "", 400, paygate.ECHARSINVALID, "id"},
			{"terminal id NUL", "GET", "/v1/terminals/trm_%00", "", 400, paygate.ECHARSINVALID, "id"},
			{"deactivate id NUL", "POST", "/v1/terminals/%00/deactivate", "", 400, paygate.ECHARSINVALID, "id"},
			{"activation code id NUL", "POST", "/v1/terminals/%00/activation_code", "", 400, paygate.ECHARSINVALID, "id"},
			{"merchant_order_no query NUL", "GET", "/v1/orders?merchant_order_no=A%00", "", 400, paygate.ECHARSINVALID, "merchant_order_no"},
			{"cursor query NUL", "GET", "/v1/orders?cursor=%00", "", 400, paygate.ECHARSINVALID, "cursor"},
			{"status query NUL", "GET", "/v1/orders?status=%00", "", 400, paygate.ECHARSINVALID, "status"},
			{"created_from query NUL", "GET", "/v1/orders?created_from=%00", "", 400, paygate.ECHARSINVALID, "created_from"},
			{"event order_id query NUL", "GET", "/v1/events?order_id=ord_%00", "", 400, paygate.ECHARSINVALID, "order_id"},
			{"event type query NUL", "GET", "/v1/events?type=%00", "", 400, paygate.ECHARSINVALID, "type"},
			{"event cursor query NUL", "GET", "/v1/events?cursor=%00", "", 400, paygate.ECHARSINVALID, "cursor"},
			{"repeated query parameter", "GET", "/v1/orders?limit=1&limit=100", "", 400, paygate.EDUPPARAM, "limit"},
			{"malformed query", "GET", "/v1/orders?limit=%zz", "", 400, paygate.EQUERYINVALID, ""},
			{"semicolon query", "GET", "/v1/orders?limit=1;status=pending", "", 400, paygate.EQUERYINVALID, ""},
		} {
			r := c.do(tc.method, tc.path, "", tc.body, "")
			var e struct {
				Error struct{ Code, Param string } `json:"error"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Errorf("%s: %d %s, want %d %s param %q", tc.name, r.Status, r.Body, tc.status, tc.code, tc.param)
			}
		}
		// Free text keeps tab and newline.
		ok := mustStatus(t, c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 100, "subject": "拿铁\t×2\n外带",
			"method": "qr", "channel": "alipay", "metadata": map[string]any{"note": "少冰\n半糖"}}, ""), 201)
		if ok["subject"] != "拿铁\t×2\n外带" {
			t.Errorf("subject %q", ok["subject"])
		}
		// A repeated Authorization parameter: the first key id signs, a
		// second one would name another key.
		nonce := "n" + randSuffix() + randSuffix()
		auth := gateway.AuthorizationHeader(testKeyID, testSecret, "GET", "/v1/orders", time.Now(), nonce, nil)
		for _, h := range [][]string{{auth + ",key_id=key_other"}, {auth, auth}} {
			req, _ := http.NewRequest("GET", c.base+"/v1/orders", nil)
			for _, v := range h {
				req.Header.Add("Authorization", v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if r := (response{Status: resp.StatusCode, Body: out}); r.Status != 401 || r.errorCode() != paygate.EAUTHREPEATED {
				t.Errorf("Authorization %q: %d %s", h, r.Status, out)
			}
		}
		// Nothing was written by the refusals: the paid order and the
		// free-text one only, no refund, no terminal.
		if l := mustStatus(t, c.do("GET", "/v1/orders?limit=100", "/v1/orders", nil, ""), 200); len(l["data"].([]any)) != 2 {
			t.Errorf("%d orders, want 2", len(l["data"].([]any)))
		}
		if o := c.order(id); o["refunded_amount"] != float64(0) {
			t.Errorf("refunded: %v", o)
		}
		if r := c.do("POST", "/v1/terminals", "/v1/terminals", map[string]any{"terminal_id": "T0900", "serial_no": "S"}, ""); r.Status != 201 {
			t.Errorf("T0900 after the refusals: %d %s", r.Status, r.Body)
		}
	})
}
