package acquirer_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
	host "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
)

var macKey, _ = hex.DecodeString("0123456789ABCDEFFEDCBA9876543210")

var merchant = &paygate.Merchant{ID: "m_demo", MCC: "5812", MerchantNo: "898310058125812"}

// pan returns a Luhn-valid UnionPay-like card number ending in last4.
func pan(t testing.TB, seq int, last4 string) string {
	for d := 0; d < 10; d++ {
		p := fmt.Sprintf("622202%05d%d%s", seq, d, last4)
		if paygate.ValidPAN(p) {
			return p
		}
	}
	t.Fatal("no Luhn-valid PAN")
	return ""
}

type env struct {
	host   *host.Host
	client *acquirer.Client
}

func setup(t *testing.T, timeout time.Duration, extra map[string]string) *env {
	t.Helper()
	h, err := host.New(host.Options{MACKey: macKey, HangFor: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	cred := h.Credentials()
	cred["reconnect_wait"] = "50ms"
	cred["reversal_retry"] = "50ms"
	for k, v := range extra {
		cred[k] = v
	}
	c, err := acquirer.New(paygate.ProviderSpec{ID: "acq1", Kind: paygate.KindAcquirer, Credentials: cred, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{host: h, client: c}
}

var orderSeq int

func payment(t *testing.T, seq int, last4, mode string, amount int64) *paygate.PaymentRequest {
	orderSeq++
	return &paygate.PaymentRequest{
		OrderID:    fmt.Sprintf("ord_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), orderSeq),
		Amount:     amount,
		Method:     paygate.MethodCard,
		Card:       &paygate.CardData{PAN: pan(t, seq, last4), Expiry: "3012"},
		CardInfo:   &paygate.CardInfo{EntryMode: mode, Network: paygate.NetworkUnionPay},
		Capture:    paygate.CaptureAutomatic,
		Merchant:   merchant,
		TerminalID: "T0001",
	}
}

func order(req *paygate.PaymentRequest, r *paygate.Result) *paygate.Order {
	o := &paygate.Order{ID: req.OrderID, Amount: req.Amount, TerminalID: req.TerminalID, Method: paygate.MethodCard}
	if r != nil {
		o.ChannelTradeNo = r.ChannelTradeNo
		if r.Outcome == paygate.OutcomeAuthorized {
			o.Status, o.AuthorizedAmount = paygate.OrderAuthorized, req.Amount
		}
	}
	return o
}

func TestSaleEntryModes(t *testing.T) {
	e := setup(t, 2*time.Second, nil)
	for i, tc := range []struct {
		mode, last4, field22 string
	}{
		{paygate.EntryContactless, "6666", "071"},
		{paygate.EntryChip, "0005", "051"},
		{paygate.EntrySwipe, "1111", "021"}, // PIN-like delay, then approved
	} {
		t.Run(tc.mode, func(t *testing.T) {
			req := payment(t, i, tc.last4, tc.mode, 1234)
			req.Card.EMV = []byte{0x9F, 0x26, 0x02, 0xAB, 0xCD}
			r, err := e.client.Pay(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Outcome != paygate.OutcomeSuccess || r.Amount != 1234 || len(r.ChannelTradeNo) != 12 {
				t.Fatalf("result = %+v", r)
			}
			var found bool
			for _, s := range e.host.Seen() {
				if s.MTI == "0200" && s.MaskedPAN == paygate.MaskPAN(req.Card.PAN) {
					found = true
					if s.EntryMode != tc.field22 || s.MCC != "5812" || s.MerchantNo != merchant.MerchantNo ||
						s.TerminalID != "T0001   " || !s.MACValid {
						t.Errorf("host saw %+v", s)
					}
				}
			}
			if !found {
				t.Fatal("host did not see the sale")
			}
		})
	}
	for _, s := range e.host.Seen() {
		if strings.Contains(s.MaskedPAN, "6222020") {
			t.Fatalf("host kept an unmasked PAN: %s", s.MaskedPAN)
		}
	}
}

func TestDeclinesAndErrors(t *testing.T) {
	e := setup(t, 2*time.Second, nil)
	r, err := e.client.Pay(context.Background(), payment(t, 1, "3333", paygate.EntryChip, 500))
	if err != nil || r.Outcome != paygate.OutcomeDeclined || r.Failure.Code != "insufficient_funds" || r.Failure.ChannelCode != "51" {
		t.Fatalf("3333: %+v %v", r, err)
	}
	req := payment(t, 2, "5555", paygate.EntryChip, 500)
	_, err = e.client.Pay(context.Background(), req)
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) || ce.Code != "96" || ce.Timeout {
		t.Fatalf("5555 first attempt: %v", err)
	}
	retry := payment(t, 2, "5555", paygate.EntryChip, 500)
	if r, err := e.client.Pay(context.Background(), retry); err != nil || r.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("5555 retry: %+v %v", r, err)
	}
	bad := payment(t, 3, "0001", paygate.EntryChip, 500)
	bad.Card.PAN = bad.Card.PAN[:15] + "9"
	if _, err := e.client.Pay(context.Background(), bad); paygate.ErrorCode(err) != paygate.EPARAMINVALID {
		t.Fatalf("bad PAN: %v", err)
	}
}

func TestQueryUnsupported(t *testing.T) {
	e := setup(t, time.Second, nil)
	_, err := e.client.Query(context.Background(), &paygate.Order{ID: "x"})
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) || ce.Code != "unsupported" {
		t.Fatalf("query: %v", err)
	}
}

func TestTimeoutReversedOnce(t *testing.T) {
	e := setup(t, 300*time.Millisecond, nil)
	for i, last4 := range []string{"2222", "4444"} {
		t.Run(last4, func(t *testing.T) {
			req := payment(t, 10+i, last4, paygate.EntryContactless, 8800)
			_, err := e.client.Pay(context.Background(), req)
			var ce *paygate.ChannelError
			if !errors.As(err, &ce) || !ce.Timeout {
				t.Fatalf("pay: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r, err := e.client.Reverse(ctx, order(req, nil)) // waits for the automatic reversal
			if err != nil || r.Outcome != paygate.OutcomeClosed {
				t.Fatalf("reverse: %+v %v", r, err)
			}
			if r2, err := e.client.Reverse(ctx, order(req, nil)); err != nil || r2 != r {
				t.Fatalf("second reverse is not the same reversal: %+v %v", r2, err)
			}
			if started, acked := e.client.ReversalStatus(req.OrderID); !started || !acked {
				t.Fatalf("status %v %v", started, acked)
			}
			var n int
			for _, x := range e.host.Transactions() {
				if x.MaskedPAN == paygate.MaskPAN(req.Card.PAN) && x.Kind == host.KindSale {
					n++
					if x.Status != host.StatusReversed || x.Reversals != 1 {
						t.Errorf("host record %+v", x)
					}
				}
			}
			if n != 1 {
				t.Fatalf("host has %d sales for the card", n)
			}
		})
	}
	if tot := e.host.Totals(time.Now()); tot.DebitCount != 0 || tot.DebitAmount != 0 {
		t.Fatalf("reversed sales settled: %+v", tot)
	}
	// A reversal of a sale the host never saw is acknowledged (25).
	unknown := &paygate.Order{ID: "never", ChannelTradeNo: "999999999999", Amount: 1, TerminalID: "T0001"}
	if r, err := e.client.Reverse(context.Background(), unknown); err != nil || r.Outcome != paygate.OutcomeClosed {
		t.Fatalf("unknown reversal: %+v %v", r, err)
	}
}

func TestHostRestart(t *testing.T) {
	e := setup(t, 2*time.Second, map[string]string{"pool_size": "2"})
	ctx := context.Background()
	succeeded := map[string]bool{}
	unknown := 0
	done := make(chan struct{})
	restarted := make(chan struct{})
	go func() { // sales keep flowing while the host restarts
		defer close(done)
		for i := 0; i < 20; i++ {
			if i == 5 {
				if err := e.host.Restart(); err != nil {
					t.Error(err)
				}
				close(restarted)
			}
			req := payment(t, 40+i, "0007", paygate.EntryContactless, 100)
			r, err := e.client.Pay(ctx, req)
			var ce *paygate.ChannelError
			switch {
			case err == nil && r.Outcome == paygate.OutcomeSuccess:
				succeeded[r.ChannelTradeNo] = true
			case errors.As(err, &ce):
				// Unknown outcome: the client reverses it; the POS retries as a new order.
				unknown++
				if r, err := e.client.Reverse(ctx, order(req, nil)); err != nil || r.Outcome != paygate.OutcomeClosed {
					t.Errorf("reversal after restart: %+v %v", r, err)
				}
			default:
				t.Errorf("sale %d: %+v %v", i, r, err)
			}
		}
	}()
	<-done
	<-restarted
	if len(succeeded) < 15 {
		t.Fatalf("only %d of 20 sales succeeded (%d unknown)", len(succeeded), unknown)
	}
	signOns := 0
	for _, s := range e.host.Seen() {
		if s.MTI == "0800" {
			signOns++
		}
	}
	if signOns < 3 {
		t.Fatalf("expected sign-ons before and after the restart, saw %d", signOns)
	}
	// None lost, none doubled: what the host still counts as approved is
	// exactly what the client reported as succeeded.
	approved := map[string]int{}
	for _, x := range e.host.Transactions() {
		if x.Kind == host.KindSale && x.Status == host.StatusApproved {
			approved[x.RRN]++
		}
		if x.Reversals > 1 {
			t.Errorf("sale reversed %d times", x.Reversals)
		}
	}
	if len(approved) != len(succeeded) {
		t.Fatalf("host approved %d sales, client saw %d succeed", len(approved), len(succeeded))
	}
	for rrn := range succeeded {
		if approved[rrn] != 1 {
			t.Fatalf("sale %s recorded %d times", rrn, approved[rrn])
		}
	}
	if tot := e.host.Totals(time.Now()); tot.DebitAmount != int64(100*len(succeeded)) {
		t.Fatalf("totals %+v for %d sales", tot, len(succeeded))
	}
}

func TestPreAuthCapture(t *testing.T) {
	e := setup(t, 2*time.Second, nil)
	ctx := context.Background()
	req := payment(t, 20, "0009", paygate.EntryChip, 50000)
	req.Capture = paygate.CaptureManual
	r, err := e.client.Pay(ctx, req)
	if err != nil || r.Outcome != paygate.OutcomeAuthorized {
		t.Fatalf("preauth: %+v %v", r, err)
	}
	o := order(req, r)
	if _, err := e.client.Capture(ctx, o, 50001); paygate.ErrorCode(err) != paygate.ECAPTUREEXCEEDS {
		t.Fatalf("capture above: %v", err)
	}
	c, err := e.client.Capture(ctx, o, 48000)
	if err != nil || c.Outcome != paygate.OutcomeSuccess || c.Amount != 48000 {
		t.Fatalf("capture: %+v %v", c, err)
	}
	if tot := e.host.Totals(time.Now()); tot.DebitAmount != 48000 || tot.DebitCount != 1 {
		t.Fatalf("totals %+v", tot)
	}

	// A second pre-auth is cancelled instead.
	req2 := payment(t, 21, "0009", paygate.EntryChip, 30000)
	req2.Capture = paygate.CaptureManual
	r2, err := e.client.Pay(ctx, req2)
	if err != nil || r2.Outcome != paygate.OutcomeAuthorized {
		t.Fatalf("preauth 2: %+v %v", r2, err)
	}
	v, err := e.client.VoidAuthorization(ctx, order(req2, r2))
	if err != nil || v.Outcome != paygate.OutcomeClosed {
		t.Fatalf("void authorization: %+v %v", v, err)
	}
	if c, err := e.client.Capture(ctx, order(req2, r2), 100); err != nil || c.Outcome != paygate.OutcomeDeclined {
		t.Fatalf("capture of a cancelled pre-auth: %+v %v", c, err)
	}
}

func TestRefundVoidSettlement(t *testing.T) {
	e := setup(t, 2*time.Second, nil)
	ctx := context.Background()
	sale := func(seq int, amount int64) (*paygate.PaymentRequest, *paygate.Result) {
		req := payment(t, seq, "0011", paygate.EntryContactless, amount)
		r, err := e.client.Pay(ctx, req)
		if err != nil || r.Outcome != paygate.OutcomeSuccess {
			t.Fatalf("sale: %+v %v", r, err)
		}
		return req, r
	}
	req1, r1 := sale(30, 10000)
	rr, err := e.client.Refund(ctx, &paygate.RefundRequest{RefundID: "rf1", OrderID: req1.OrderID,
		ChannelTradeNo: r1.ChannelTradeNo, Amount: 3000, OrderAmount: 10000, Merchant: merchant})
	if err != nil || rr.Outcome != paygate.OutcomeSuccess || rr.ChannelRefundNo == "" {
		t.Fatalf("refund: %+v %v", rr, err)
	}
	rr, err = e.client.Refund(ctx, &paygate.RefundRequest{RefundID: "rf2", OrderID: req1.OrderID,
		ChannelTradeNo: r1.ChannelTradeNo, Amount: 8000, OrderAmount: 10000, Merchant: merchant})
	if err != nil || rr.Outcome != paygate.OutcomeDeclined || rr.Failure.ChannelCode != "13" {
		t.Fatalf("refund above the rest: %+v %v", rr, err)
	}

	req2, r2 := sale(31, 2500)
	v, err := e.client.Void(ctx, order(req2, r2))
	if err != nil || v.Outcome != paygate.OutcomeClosed {
		t.Fatalf("void: %+v %v", v, err)
	}
	if v, err := e.client.Void(ctx, order(req2, r2)); err != nil || v.Outcome != paygate.OutcomeDeclined {
		t.Fatalf("second void: %+v %v", v, err)
	}
	sale(32, 700)

	tot, err := e.client.Settle(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tot.DebitCount != 2 || tot.DebitAmount != 10700 || tot.CreditCount != 1 || tot.CreditAmount != 3000 || tot.Net() != 7700 {
		t.Fatalf("totals %+v", tot)
	}
	file, err := e.host.SettlementFile(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(file)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[len(lines)-1], "TOTAL,2,10700,1,3000,") {
		t.Fatalf("settlement file:\n%s", file)
	}
	if strings.Contains(string(file), req1.Card.PAN) {
		t.Fatal("settlement file carries a full PAN")
	}
}

func TestTerminalIDMapping(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"T0001", "T0001   "},
		{"ABCDEFGH", "ABCDEFGH"},
	} {
		if got := acquirer.TerminalID(tc.in); got != tc.want {
			t.Errorf("TerminalID(%q) = %q", tc.in, got)
		}
	}
	long := acquirer.TerminalID("terminal-0001-shanghai")
	if len(long) != 8 || long != acquirer.TerminalID("terminal-0001-shanghai") || long[0] != 'P' {
		t.Fatalf("long id mapped to %q", long)
	}
}

// A void whose answer is lost after the host carried it out is reversed:
// the sale stands at the host, as it does in the order, the caller is
// told, and a later void goes through.
func TestUnansweredVoidIsReversed(t *testing.T) {
	e := setup(t, 300*time.Millisecond, nil)
	ctx := context.Background()
	req := payment(t, 40, "0011", paygate.EntryChip, 4200)
	r, err := e.client.Pay(ctx, req)
	if err != nil || r.Outcome != paygate.OutcomeSuccess {
		t.Fatalf("sale: %+v %v", r, err)
	}
	e.host.LoseAnswers(host.KindVoid, 1)
	_, err = e.client.Void(ctx, order(req, r))
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) || !ce.Timeout {
		t.Fatalf("void without an answer: %v", err)
	}
	tot, err := e.client.Settle(ctx, time.Now())
	if err != nil || tot.DebitCount != 1 || tot.DebitAmount != 4200 {
		t.Fatalf("after the void's reversal the sale must stand: %+v %v", tot, err)
	}
	v, err := e.client.Void(ctx, order(req, r))
	if err != nil || v.Outcome != paygate.OutcomeClosed {
		t.Fatalf("void again: %+v %v", v, err)
	}
	if tot, _ := e.client.Settle(ctx, time.Now()); tot.DebitCount != 0 || tot.DebitAmount != 0 {
		t.Fatalf("after the second void: %+v", tot)
	}
}

// A sale whose answer was outstanding when its process went away is
// reversed by another client from the reference stored with the order
// (STAN and field 7), though no RRN was ever seen.
func TestReverseAfterRestartFromReference(t *testing.T) {
	e := setup(t, 3*time.Second, nil)
	ref := e.client.NewReference()
	req := payment(t, 40, "4444", paygate.EntryChip, 4200) // approved, first answer never sent
	req.ChannelRef = ref
	paid := make(chan error, 1)
	go func() {
		_, err := e.client.Pay(context.Background(), req)
		paid <- err
	}()
	sale := func() (host.Transaction, bool) {
		for _, x := range e.host.Transactions() {
			if x.MaskedPAN == paygate.MaskPAN(req.Card.PAN) && x.Kind == host.KindSale {
				return x, true
			}
		}
		return host.Transaction{}, false
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if x, ok := sale(); ok && x.Status == host.StatusApproved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the host never approved the sale")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.client.Close() // the process goes away with the answer outstanding
	if err := <-paid; err == nil {
		t.Fatal("pay succeeded without an answer")
	}
	if x, _ := sale(); x.Status != host.StatusApproved || x.Reversals != 0 {
		t.Fatalf("after the first client closed the host has %+v; the test needs the sale still standing", x)
	}

	again, err := acquirer.New(paygate.ProviderSpec{ID: "acq1", Kind: paygate.KindAcquirer, Credentials: e.host.Credentials(), Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	o := &paygate.Order{ID: req.OrderID, Amount: req.Amount, TerminalID: req.TerminalID, Method: paygate.MethodCard,
		Status: paygate.OrderPending, ChannelRef: ref}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := again.Reverse(ctx, o)
	if err != nil || r.Outcome != paygate.OutcomeClosed {
		t.Fatalf("reverse from the reference: %+v %v", r, err)
	}
	if x, _ := sale(); x.Status != host.StatusReversed || x.Reversals != 1 {
		t.Fatalf("host record after the reversal: %+v", x)
	}

	// Without an RRN or a reference there is nothing to name the sale by.
	o.ID, o.ChannelRef = "ord_unknown", ""
	if _, err := again.Reverse(ctx, o); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Fatalf("reverse without a reference: %v", err)
	}
	// A malformed reference is no reference.
	o.ChannelRef = "12/34"
	if _, err := again.Reverse(ctx, o); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Fatalf("reverse with a malformed reference: %v", err)
	}
}
