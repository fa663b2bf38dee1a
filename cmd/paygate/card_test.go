package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
	acquirersb "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/routing"
	"github.com/shopspring/decimal"
)

// testCard is a card as a terminal reads it.
type testCard struct {
	pan    string
	expiry string // YYMMDD
}

// newCard returns a card with a valid Luhn number: prefix, random digits,
// and the given last four digits (the sandbox scenario ending; "" for a
// random ending that is none, so that masked numbers tell cards apart);
// one of the random digits is chosen so that the check digit holds.
func newCard(t testing.TB, prefix string, length int, last4 string) testCard {
	t.Helper()
	for last4 == "" {
		n, _ := rand.Int(rand.Reader, big.NewInt(10000))
		last4 = fmt.Sprintf("%04d", n)
		if last4[0] == last4[1] && last4[1] == last4[2] && last4[2] == last4[3] {
			last4 = "" // 1111 ... 6666 are scenarios
		}
	}
	for {
		digits := []byte(prefix)
		for len(digits) < length-4 {
			n, _ := rand.Int(rand.Reader, big.NewInt(10))
			digits = append(digits, byte('0'+n.Int64()))
		}
		digits = append(digits, last4...)
		free := len(digits) - 5 // a random digit just before the last four
		for d := byte('0'); d <= '9'; d++ {
			digits[free] = d
			if paygate.ValidPAN(string(digits)) {
				return testCard{pan: string(digits), expiry: "301231"}
			}
		}
	}
}

var last4Seq atomic.Int64

// nextLast4 returns last four digits no other call in this test binary
// returned, skipping the scenario endings (1111 ... 6666 and the like).
func nextLast4() string {
	for {
		n := 1000 + last4Seq.Add(1)%9000
		s := fmt.Sprintf("%04d", n)
		if !(s[0] == s[1] && s[1] == s[2] && s[2] == s[3]) {
			return s
		}
	}
}

func tlv(tag string, value []byte) string {
	return tag + fmt.Sprintf("%02X", len(value)) + strings.ToUpper(hex.EncodeToString(value))
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// emv is the card's EMV TLV as a chip or contactless read gives it: the
// PAN (5A, BCD, F-padded), expiry (5F24), and some ICC data for field 55.
func (c testCard) emv() string {
	pan := c.pan
	if len(pan)%2 == 1 {
		pan += "F"
	}
	return tlv("5A", mustHex(pan)) + tlv("5F24", mustHex(c.expiry)) +
		tlv("82", mustHex("1980")) + tlv("9F36", mustHex("0042")) + tlv("95", mustHex("0000008000"))
}

// track2 is the TLV a swipe gives: track 2 equivalent data (57) only.
func (c testCard) track2() string {
	t2 := c.pan + "D" + c.expiry[:4] + "2010000"
	if len(t2)%2 == 1 {
		t2 += "F"
	}
	return tlv("57", mustHex(t2))
}

func cardOrder(card testCard, mode, cardType string, amount int64) map[string]any {
	emv := card.emv()
	if mode == paygate.EntrySwipe {
		emv = card.track2()
	}
	c := map[string]any{"entry_mode": mode, "emv": emv}
	if cardType != "" {
		c["type"] = cardType
	}
	return map[string]any{
		"merchant_order_no": orderNo(), "amount": amount, "currency": "CNY", "subject": "Dinner",
		"method": "card", "card": c, "terminal_id": "T0001", "location": map[string]any{"region_code": "310000"},
	}
}

// seenSale returns what the acquirer host saw of the sale or pre-auth of pan.
func seenSale(c *client, pan, mti string) (acquirersb.SeenMessage, bool) {
	for _, s := range c.m.Sandbox.Acquirer.Seen() {
		if s.MTI == mti && s.MaskedPAN == paygate.MaskPAN(pan) {
			return s, true
		}
	}
	return acquirersb.SeenMessage{}, false
}

// hostRecords returns the host's financial records of one card.
func hostRecords(c *client, pan, kind string) []acquirersb.Transaction {
	var out []acquirersb.Transaction
	for _, tx := range c.m.Sandbox.Acquirer.Transactions() {
		if tx.MaskedPAN == paygate.MaskPAN(pan) && (kind == "" || tx.Kind == kind) {
			out = append(out, tx)
		}
	}
	return out
}

func mustStatus(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
	return r.decode(t)
}

// noPAN fails if a response carries a whole card number.
func noPAN(t *testing.T, body []byte, pans ...string) {
	t.Helper()
	for _, p := range pans {
		if bytes.Contains(body, []byte(p)) {
			t.Errorf("response carries the whole PAN: %s", body)
		}
	}
}

func TestCardSales(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		for _, tc := range []struct {
			name, prefix, mode, cardType, network string
			amount                                int64
			acquirer                              bool // the route must be the acquirer
		}{
			{"contactless UnionPay", "625965", paygate.EntryContactless, "", paygate.NetworkUnionPay, 8800, false},
			{"contactless Visa", "411111", paygate.EntryContactless, "credit", "visa", 8800, true},
			{"chip UnionPay debit", "622202", paygate.EntryChip, "", paygate.NetworkUnionPay, 150000, true},
			{"swipe UnionPay", "621700", paygate.EntrySwipe, "debit", paygate.NetworkUnionPay, 4200, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				card := newCard(t, tc.prefix, 16, "")
				r := c.createOrder(cardOrder(card, tc.mode, tc.cardType, tc.amount), "")
				o := mustStatus(t, r, 201)
				noPAN(t, r.Body, card.pan)
				if o["status"] != "succeeded" {
					t.Fatalf("order %v", o)
				}
				ci := o["card"].(map[string]any)
				if ci["entry_mode"] != tc.mode || ci["network"] != tc.network || ci["bin"] != card.pan[:6] || ci["last4"] != card.pan[12:] {
					t.Errorf("card = %v", ci)
				}
				if tc.prefix == "622202" && ci["type"] != "debit" {
					t.Errorf("BIN table type = %v, want debit", ci["type"])
				}
				route := o["route"].(map[string]any)
				if o["provider"] != route["provider"] {
					t.Errorf("provider %v, route %v", o["provider"], route["provider"])
				}
				if tc.acquirer && o["provider"] != "acquirer" {
					t.Fatalf("routed to %v, want the acquirer: %v", o["provider"], route)
				}
				if o["provider"] != "acquirer" {
					return
				}
				s, ok := seenSale(c, card.pan, acquirer.MTIFinancial)
				if !ok {
					t.Fatalf("the acquirer saw no sale of %s", paygate.MaskPAN(card.pan))
				}
				want, _ := acquirer.EntryModeCode(tc.mode)
				if s.EntryMode != want || s.MCC != config.DemoMCC || s.MerchantNo != config.DemoMerchantNo ||
					s.TerminalID != acquirer.TerminalID("T0001") || !s.MACValid {
					t.Errorf("acquirer saw %+v, want field 22 %s, MCC %s, merchant %s", s, want, config.DemoMCC, config.DemoMerchantNo)
				}
				txs := hostRecords(c, card.pan, acquirersb.KindSale)
				if len(txs) != 1 || txs[0].RRN != o["channel_trade_no"] || txs[0].Amount != tc.amount {
					t.Fatalf("host records %+v for order %v", txs, o["channel_trade_no"])
				}
				// The STAN and field 7 the host saw were stored with the
				// order before the sale was sent (any process can reverse it).
				stored, err := c.m.DB.OrderByID(t.Context(), o["id"].(string))
				if err != nil || stored.ChannelRef != txs[0].STAN+"/"+txs[0].Transmission {
					t.Errorf("stored reference %q (%v), host saw STAN %s field 7 %s", stored.ChannelRef, err, txs[0].STAN, txs[0].Transmission)
				}
			})
		}
	})
}

func TestCardUnansweredSaleIsReversed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		card := newCard(t, "622202", 16, "2222")
		body := cardOrder(card, paygate.EntryChip, "debit", 3000)
		key := "pos-" + randSuffix()
		first := c.createOrder(body, key)
		o := mustStatus(t, first, 201)
		if o["status"] != "reversed" {
			t.Fatalf("unanswered sale: %v", o)
		}
		// The POS retries with the same key: the same outcome, no second sale.
		retry := c.createOrder(body, key)
		if retry.Status != 200 || !bytes.Equal(retry.Body, first.Body) {
			t.Errorf("retry: %d %s", retry.Status, retry.Body)
		}
		sales := hostRecords(c, card.pan, acquirersb.KindSale)
		if len(sales) != 1 || sales[0].Status != acquirersb.StatusReversed || sales[0].Reversals != 1 {
			t.Errorf("host sales of the card: %+v", sales)
		}
		if _, ok := seenSale(c, card.pan, acquirer.MTIFinancial); !ok {
			t.Error("no sale seen")
		}
		reversals := 0
		for _, s := range c.m.Sandbox.Acquirer.Seen() {
			if s.MTI == acquirer.MTIReversal || s.MTI == acquirer.MTIReversalRepeat {
				reversals++
			}
		}
		if reversals == 0 {
			t.Error("no 0400 seen")
		}
		if tot := c.m.Sandbox.Acquirer.Totals(time.Now()); tot.DebitAmount != 0 {
			t.Errorf("settlement totals %+v, want nothing charged", tot)
		}
	})
}

func TestCardAcquirerRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		const workers = 4
		type sale struct {
			card testCard
			o    map[string]any
		}
		var mu sync.Mutex
		var sales []sale
		var refused []testCard
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(sales) }
		waitFor := func(n int) {
			for deadline := time.Now().Add(60 * time.Second); count() < n; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("only %d sales", count())
				}
			}
		}
		stop := make(chan struct{})
		var done sync.WaitGroup
		for w := range workers {
			done.Add(1)
			go func() {
				defer done.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					// Distinct last four digits: the host records cards by
					// masked PAN, so two cards alike in their first six and
					// last four would look like one card charged twice.
					card := newCard(t, "622202", 16, nextLast4())
					r := c.createOrder(cardOrder(card, paygate.EntryChip, "debit", int64(1000+w*1000+i)), "")
					if r.Status == 422 && r.errorCode() == paygate.ENOROUTE {
						// The failures of the restart opened the acquirer's
						// circuit (docs/routing.md): the sale is refused
						// before anything is written or sent.
						mu.Lock()
						refused = append(refused, card)
						mu.Unlock()
						time.Sleep(20 * time.Millisecond)
						continue
					}
					if r.Status != 201 {
						t.Errorf("sale: %d %s", r.Status, r.Body)
						return
					}
					mu.Lock()
					sales = append(sales, sale{card, r.decode(t)})
					mu.Unlock()
				}
			}()
		}
		// Restart the host while sales stream, then keep going after it.
		waitFor(12)
		if err := c.m.Sandbox.Acquirer.Restart(); err != nil {
			t.Fatal(err)
		}
		waitFor(count() + 12)
		close(stop)
		done.Wait()

		succeeded := 0
		for _, s := range sales {
			id := s.o["id"].(string)
			o := c.order(id)
			records := hostRecords(c, s.card.pan, acquirersb.KindSale)
			if len(records) > 1 {
				t.Errorf("order %s: %d sales at the host", id, len(records))
			}
			approved := 0
			for _, r := range records {
				if r.Status == acquirersb.StatusApproved {
					approved++
				}
			}
			switch o["status"] {
			case "succeeded":
				succeeded++
				if approved != 1 || records[0].RRN != o["channel_trade_no"] {
					t.Errorf("order %s succeeded, host has %d approved of %d", id, approved, len(records))
				}
			case "reversed":
				if approved != 0 {
					t.Errorf("order %s reversed, host has %d approved of %d", id, approved, len(records))
				}
			default:
				t.Errorf("order %s ended %v", id, o["status"])
			}
		}
		for _, card := range refused {
			if records := hostRecords(c, card.pan, acquirersb.KindSale); len(records) != 0 {
				t.Errorf("a sale refused with no_route reached the host: %+v", records)
			}
		}
		t.Logf("%d sales across the restart: %d succeeded, %d reversed; %d refused while the circuit was open", len(sales), succeeded, len(sales)-succeeded, len(refused))
		if succeeded == 0 {
			t.Errorf("%d sales, %d succeeded", len(sales), succeeded)
		}
		// The connection is back: a new sale goes through (once the circuit,
		// if the restart opened it, lets a probe through after its cool-down).
		card := newCard(t, "622202", 16, "")
		r := c.createOrder(cardOrder(card, paygate.EntryChip, "debit", 999), "")
		for deadline := time.Now().Add(45 * time.Second); r.Status == 422 && r.errorCode() == paygate.ENOROUTE && time.Now().Before(deadline); {
			time.Sleep(500 * time.Millisecond)
			r = c.createOrder(cardOrder(card, paygate.EntryChip, "debit", 999), "")
		}
		if o := mustStatus(t, r, 201); o["status"] != "succeeded" {
			t.Errorf("sale after the restart: %v", o)
		}
	})
}

func TestCardPreAuthCaptureVoid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		// A contactless UnionPay card, where QuickPass would be cheaper: a
		// pre-authorisation still goes to the acquirer.
		card := newCard(t, "625965", 16, "")
		body := cardOrder(card, paygate.EntryContactless, "credit", 50000)
		body["capture"] = "manual"
		o := mustStatus(t, c.createOrder(body, ""), 201)
		if o["status"] != "authorized" || o["provider"] != "acquirer" || o["authorized_amount"] != 50000.0 {
			t.Fatalf("pre-auth: %v", o)
		}
		id := o["id"].(string)
		if s, ok := seenSale(c, card.pan, acquirer.MTIAuth); !ok || s.MCC != config.DemoMCC {
			t.Errorf("pre-auth seen: %+v %v", s, ok)
		}
		over := c.do("POST", "/v1/orders/"+id+"/capture", "/v1/orders/{id}/capture", map[string]any{"amount": 50001}, "")
		if over.Status != 422 || over.errorCode() != paygate.ECAPTUREEXCEEDS {
			t.Errorf("capture above: %d %s", over.Status, over.Body)
		}
		cp := mustStatus(t, c.do("POST", "/v1/orders/"+id+"/capture", "/v1/orders/{id}/capture", map[string]any{"amount": 48000}, "idem-"+randSuffix()), 200)
		if cp["status"] != "succeeded" || cp["amount"] != 48000.0 || cp["authorized_amount"] != 50000.0 ||
			cp["fee"] != 288.0 || cp["net_amount"] != 47712.0 {
			t.Errorf("captured: %v", cp)
		}
		if comp := hostRecords(c, card.pan, acquirersb.KindCompletion); len(comp) != 1 || comp[0].Amount != 48000 {
			t.Errorf("completions: %+v", comp)
		}
		if r := c.do("POST", "/v1/orders/"+id+"/capture", "/v1/orders/{id}/capture", map[string]any{"amount": 100}, ""); r.Status != 409 {
			t.Errorf("second capture: %d %s", r.Status, r.Body)
		}

		// Cancelling an authorisation releases it.
		card2 := newCard(t, "622588", 16, "")
		body = cardOrder(card2, paygate.EntryChip, "", 30000)
		body["capture"] = "manual"
		o2 := mustStatus(t, c.createOrder(body, ""), 201)
		cc := mustStatus(t, c.do("POST", "/v1/orders/"+o2["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, ""), 200)
		if cc["status"] != "reversed" {
			t.Errorf("cancelled authorisation: %v", cc)
		}
		if rec := hostRecords(c, card2.pan, acquirersb.KindPreAuth); len(rec) != 1 || rec[0].Status != acquirersb.StatusCancelled {
			t.Errorf("host pre-auth: %+v", rec)
		}

		// Cancelling a same-day sale voids it.
		card3 := newCard(t, "622202", 16, "")
		o3 := mustStatus(t, c.createOrder(cardOrder(card3, paygate.EntryChip, "", 2000), ""), 201)
		cc = mustStatus(t, c.do("POST", "/v1/orders/"+o3["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, ""), 200)
		if cc["status"] != "reversed" {
			t.Errorf("cancelled sale: %v", cc)
		}
		if rec := hostRecords(c, card3.pan, acquirersb.KindSale); len(rec) != 1 || rec[0].Status != acquirersb.StatusVoided {
			t.Errorf("host sale: %+v", rec)
		}

		// A void whose answer is lost (after the host voided the sale) is
		// reversed by the client: the sale stands at the host and in the
		// order, the merchant hears so, and cancelling again voids it.
		card4 := newCard(t, "622202", 16, "")
		o4 := mustStatus(t, c.createOrder(cardOrder(card4, paygate.EntryChip, "", 2600), ""), 201)
		c.m.Sandbox.Acquirer.LoseAnswers(acquirersb.KindVoid, 1)
		r := c.do("POST", "/v1/orders/"+o4["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, "")
		if r.Status != 504 || !strings.Contains(string(r.Body), "channel_timeout") {
			t.Errorf("cancel with the void's answer lost: %d %s", r.Status, r.Body)
		}
		if got := mustStatus(t, c.do("GET", "/v1/orders/"+o4["id"].(string), "/v1/orders/{id}", nil, ""), 200); got["status"] != "succeeded" {
			t.Errorf("order after the void's reversal: %v", got["status"])
		}
		if rec := hostRecords(c, card4.pan, acquirersb.KindSale); len(rec) != 1 || rec[0].Status != acquirersb.StatusApproved {
			t.Errorf("host sale after the void's reversal: %+v", rec)
		}
		cc = mustStatus(t, c.do("POST", "/v1/orders/"+o4["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, ""), 200)
		if cc["status"] != "reversed" {
			t.Errorf("cancel again: %v", cc)
		}
	})
}

// activate registers a terminal with the merchant key and activates it;
// it returns the terminal object and a client signing with its key.
func activate(t *testing.T, c *client, terminalID, region string) (map[string]any, *client) {
	t.Helper()
	term := mustStatus(t, c.do("POST", "/v1/terminals", "/v1/terminals",
		map[string]any{"terminal_id": terminalID, "serial_no": "SN-" + terminalID, "model": "P2", "region_code": region}, ""), 201)
	code, _ := term["activation_code"].(string)
	if term["object"] != "terminal" || term["status"] != "pending_activation" || code == "" {
		t.Fatalf("terminal: %v", term)
	}
	r := postActivation(t, c, code)
	act := mustStatus(t, r, 201)
	secret, _ := act["key_secret"].(string)
	keyID, _ := act["key_id"].(string)
	if act["status"] != "active" || secret == "" || !strings.HasPrefix(keyID, "tk_") {
		t.Fatalf("activation: %v", act)
	}
	tc := *c
	tc.keyID, tc.secret = keyID, secret
	return act, &tc
}

// postActivation calls the activation endpoint, which takes no API key.
func postActivation(t *testing.T, c *client, code string) response {
	t.Helper()
	return postActivationFrom(t, c, http.DefaultClient, code)
}

// postActivationFrom calls the activation endpoint through hc (which may
// dial from another local address).
func postActivationFrom(t *testing.T, c *client, hc *http.Client, code string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"activation_code": code})
	resp, err := hc.Post(c.base+"/v1/terminals/activate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if err := c.doc.CheckResponse("POST", "/v1/terminals/activate", resp.StatusCode, out); err != nil {
		t.Errorf("activation answer does not match the OpenAPI document: %v\n%s", err, out)
	}
	return response{Status: resp.StatusCode, Body: out, Header: resp.Header}
}

func TestTerminalKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		// An order of the configured terminal T0001, by the merchant key.
		own := mustStatus(t, c.createOrder(cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1200), ""), 201)

		termA, a := activate(t, c, "T0100", "110000")
		_, b := activate(t, c, "T0101", "110000")

		// A's orders are its own terminal's, wherever the body says.
		body := cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1500)
		delete(body, "terminal_id")
		body["location"] = map[string]any{"region_code": "110105"}
		oa := mustStatus(t, a.createOrder(body, ""), 201)
		if oa["terminal_id"] != "T0100" || oa["status"] != "succeeded" {
			t.Fatalf("terminal order: %v", oa)
		}
		body["merchant_order_no"], body["terminal_id"] = orderNo(), "T0001"
		if r := a.createOrder(body, ""); r.Status != 403 || r.errorCode() != paygate.EFORBIDDEN {
			t.Errorf("order for another terminal: %d %s", r.Status, r.Body)
		}
		// Reads are scoped to the terminal.
		if r := a.do("GET", "/v1/orders/"+own["id"].(string), "/v1/orders/{id}", nil, ""); r.Status != 404 {
			t.Errorf("A reads T0001's order: %d", r.Status)
		}
		if r := b.do("GET", "/v1/orders/"+oa["id"].(string), "/v1/orders/{id}", nil, ""); r.Status != 404 {
			t.Errorf("B reads A's order: %d", r.Status)
		}
		l := mustStatus(t, a.do("GET", "/v1/orders", "/v1/orders", nil, ""), 200)
		if data := l["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != oa["id"] {
			t.Errorf("A lists %v", l)
		}
		// No refunds, captures, events or terminal management for terminal keys.
		if r := a.do("POST", "/v1/orders/"+oa["id"].(string)+"/refunds", "/v1/orders/{id}/refunds",
			map[string]any{"merchant_refund_no": "RF-" + randSuffix(), "amount": 100}, ""); r.Status != 403 {
			t.Errorf("terminal refund: %d %s", r.Status, r.Body)
		}
		if r := a.do("POST", "/v1/terminals", "/v1/terminals", map[string]any{"terminal_id": "X1", "serial_no": "S"}, ""); r.Status != 403 {
			t.Errorf("terminal registers a terminal: %d %s", r.Status, r.Body)
		}
		// A sees its own terminal object, not B's.
		if r := a.do("GET", "/v1/terminals/"+termA["id"].(string), "/v1/terminals/{id}", nil, ""); r.Status != 200 {
			t.Errorf("A reads itself: %d %s", r.Status, r.Body)
		}
		// Its own orders it may cancel.
		if cc := mustStatus(t, a.do("POST", "/v1/orders/"+oa["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, ""), 200); cc["status"] != "reversed" {
			t.Errorf("A cancels its order: %v", cc)
		}

		// Outside its region (Shanghai for a Beijing terminal), the default
		// policy flags the payment and records why.
		body = cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1600)
		delete(body, "terminal_id")
		flagged := mustStatus(t, a.createOrder(body, ""), 201)
		if flagged["status"] != "succeeded" || !hasRisk(flagged, "region", paygate.RiskFlag) {
			t.Errorf("out-of-region order: %v", flagged)
		}

		// An activation code works once.
		if r := postActivation(t, c, "AAAA-BBBB-CCCC-DDDD-EEEE"); r.Status != 404 {
			t.Errorf("unknown code: %d %s", r.Status, r.Body)
		}
		// Deactivation revokes the key at once.
		d := mustStatus(t, c.do("POST", "/v1/terminals/"+termA["id"].(string)+"/deactivate", "/v1/terminals/{id}/deactivate", nil, ""), 200)
		if d["status"] != "deactivated" {
			t.Errorf("deactivated: %v", d)
		}
		if r := a.do("GET", "/v1/orders/"+oa["id"].(string), "", nil, ""); r.Status != 401 || r.errorCode() != paygate.EINVALIDKEY {
			t.Errorf("revoked key: %d %s", r.Status, r.Body)
		}
		// The merchant key cannot take payments on a deactivated terminal either.
		body = cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1700)
		body["terminal_id"] = "T0100"
		if r := c.createOrder(body, ""); r.Status != 422 || r.errorCode() != paygate.ETERMINALINACTIVE {
			t.Errorf("payment on a deactivated terminal: %d %s", r.Status, r.Body)
		}
	})
}

func hasRisk(o map[string]any, rule, action string) bool {
	risk, _ := o["route"].(map[string]any)["risk"].([]any)
	for _, r := range risk {
		d := r.(map[string]any)
		if d["rule"] == rule && d["action"] == action {
			return true
		}
	}
	return false
}

func TestTerminalRegionDeclined(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b, func(cfg *config.Config) {
				for i := range cfg.Merchants {
					if cfg.Merchants[i].ID == config.DemoMerchantID {
						cfg.Merchants[i].Risk = &paygate.RiskRules{RegionPolicy: paygate.RiskDecline}
					}
				}
			})
			// The configured terminal T0001 (310000) reporting Beijing.
			body := cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1000)
			body["location"] = map[string]any{"region_code": "110105"}
			if r := c.createOrder(body, ""); r.Status != 422 || r.errorCode() != paygate.ELOCATIONMISMATCH {
				t.Errorf("T0001 out of region: %d %s", r.Status, r.Body)
			}
			// A registered terminal (110000) reporting Shanghai.
			_, a := activate(t, c, "T0200", "110000")
			body = cardOrder(newCard(t, "622202", 16, ""), paygate.EntryChip, "", 1000)
			delete(body, "terminal_id")
			if r := a.createOrder(body, ""); r.Status != 422 || r.errorCode() != paygate.ELOCATIONMISMATCH {
				t.Errorf("T0200 out of region: %d %s", r.Status, r.Body)
			}
			body["merchant_order_no"] = orderNo()
			body["location"] = map[string]any{"region_code": "110108"}
			if o := mustStatus(t, a.createOrder(body, ""), 201); o["status"] != "succeeded" || !hasRisk(o, "region", routing.RiskPass) {
				t.Errorf("in region: %v", o)
			}
			l := c.do("GET", "/v1/orders", "/v1/orders", nil, "").decode(t)
			if n := len(l["data"].([]any)); n != 1 {
				t.Errorf("%d orders written, want only the one in region", n)
			}
		})
	}
}

func TestCardMalformedInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		good := newCard(t, "622202", 16, "")
		badLuhn := []byte(good.pan)
		badLuhn[15] = '0' + (badLuhn[15]-'0'+1)%10
		noPANTLV := tlv("5F24", mustHex("301231")) + tlv("82", mustHex("1980"))
		for _, tc := range []struct{ name, emv string }{
			{"not hex", "5A08ZZ"},
			{"odd hex", "5A0"},
			{"bad Luhn", testCard{pan: string(badLuhn), expiry: "301231"}.emv()},
			{"missing 5A", noPANTLV},
			{"truncated TLV", good.emv()[:20]},
		} {
			body := cardOrder(good, paygate.EntryChip, "", 1000)
			body["card"].(map[string]any)["emv"] = tc.emv
			r := c.createOrder(body, "")
			var e struct {
				Error struct{ Code, Param string } `json:"error"`
			}
			json.Unmarshal(r.Body, &e)
			if r.Status != 400 || e.Error.Code != paygate.EPARAMINVALID || e.Error.Param != "card.emv" {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
			noPAN(t, r.Body, good.pan, string(badLuhn))
		}
		l := c.do("GET", "/v1/orders", "/v1/orders", nil, "").decode(t)
		if n := len(l["data"].([]any)); n != 0 {
			t.Errorf("%d orders written by malformed cards", n)
		}
		for _, s := range c.m.Sandbox.Acquirer.Seen() {
			if s.MTI != acquirer.MTINetwork {
				t.Errorf("the acquirer saw %+v", s)
			}
		}
	})
}

// A capture is charged by the fee rule for the amount captured: a
// pre-authorisation of 1,500.00 at the standard credit rate, captured at
// 800.00, falls under the contract's small-amount rule.
func TestCaptureFeeRulePickedForCapturedAmount(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b, func(cfg *config.Config) {
				cfg.Merchants[0].Contracts = map[string][]paygate.FeeRule{"acquirer": {
					{Name: "card.small", Rate: decimal.RequireFromString("0.0038"), Methods: []paygate.Method{paygate.MethodCard}, MaxAmount: 100000},
					{Name: "card.standard", Rate: decimal.RequireFromString("0.006"), Methods: []paygate.Method{paygate.MethodCard}},
				}}
			})
			body := cardOrder(newCard(t, "622588", 16, ""), paygate.EntryChip, "credit", 150000)
			body["capture"] = "manual"
			o := mustStatus(t, c.createOrder(body, ""), 201)
			if o["status"] != "authorized" || o["fee"] != 900.0 || o["route"].(map[string]any)["rule"] != "card.standard" {
				t.Fatalf("pre-auth: status %v fee %v route %v", o["status"], o["fee"], o["route"])
			}
			id := o["id"].(string)
			cp := mustStatus(t, c.do("POST", "/v1/orders/"+id+"/capture", "/v1/orders/{id}/capture", map[string]any{"amount": 80000}, ""), 200)
			route := cp["route"].(map[string]any)
			if cp["amount"] != 80000.0 || cp["fee"] != 304.0 || cp["net_amount"] != 79696.0 ||
				route["rule"] != "card.small" || route["fee_rate"] != "0.0038" || route["fee"] != 304.0 || cp["provider"] != "acquirer" {
				t.Errorf("captured: amount %v fee %v net %v route %v", cp["amount"], cp["fee"], cp["net_amount"], route)
			}
			stored, err := c.m.DB.OrderByID(t.Context(), id)
			if err != nil || stored.Fee != 304 || stored.NetAmount != 79696 || stored.Amount != 80000 || stored.Route.Rule != "card.small" {
				t.Errorf("stored: %+v %v", stored, err)
			}
		})
	}
}
