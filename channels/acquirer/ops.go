package acquirer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/moov-io/iso8583"

	"github.com/paygate-cn/paygate"
)

// Pay sends a sale (0200, processing code 000000) or, for capture "manual",
// a pre-authorisation (0100, 030000, field 25 = 06). A sale or pre-auth
// whose answer never comes, or comes unverifiable, returns a
// *paygate.ChannelError and is reversed (0400) in the background until the
// host acknowledges; Reverse then waits for that reversal.
func (c *Client) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	m, t, err := c.cardRequest(req)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	busy := c.reversals[req.OrderID] != nil
	c.mu.Unlock()
	if busy {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "order %s is being reversed", req.OrderID)
	}
	c.remember(req.OrderID, t)
	resp, err := c.exchange(ctx, "pay", m)
	if err != nil {
		if sent(err) {
			c.reverseInBackground(req.OrderID, t)
		}
		return nil, err
	}
	rc, _ := resp.GetString(FieldResponseCode)
	if rc != RCApproved {
		if f := Decline(rc); f != nil {
			return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: f}, nil
		}
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Code: rc, Message: "acquirer could not process the sale"}
	}
	rrn, _ := resp.GetString(FieldRRN)
	auth, _ := resp.GetString(FieldAuthCode)
	if amt, _ := resp.GetString(FieldAmount); (amt != "" && amt != amountField(t.amount)) || rrn == "" {
		c.reverseInBackground(req.OrderID, t)
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Code: "malformed",
			Message: "approval without RRN or for another amount"}
	}
	c.mu.Lock()
	t.rrn, t.authCode = rrn, auth
	c.mu.Unlock()
	now := c.now()
	out := paygate.OutcomeSuccess
	if t.proc == procPreAuth {
		out = paygate.OutcomeAuthorized
	}
	return &paygate.Result{Outcome: out, ChannelTradeNo: rrn, Amount: t.amount, PaidAt: &now}, nil
}

// cardRequest validates a payment request and builds its 0200 or 0100.
func (c *Client) cardRequest(req *paygate.PaymentRequest) (*iso8583.Message, *trade, error) {
	if req.Method != paygate.MethodCard {
		return nil, nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "an acquirer takes card payments only, not %q", req.Method)
	}
	if req.Amount <= 0 || req.Amount > 999999999999 {
		return nil, nil, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive number of fen")
	}
	card := req.Card
	if card == nil {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "card", "card data is required")
	}
	if card.PAN == "" && card.Token != "" {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.token", "card tokens are not accepted by this acquirer")
	}
	if !paygate.ValidPAN(card.PAN) {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.emv", "card number is not valid (13-19 digits, Luhn)")
	}
	if card.Expiry != "" && (len(card.Expiry) != 4 || !digits(card.Expiry)) {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.emv", "expiry must be YYMM")
	}
	if len(card.EMV) > maxICC {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.emv", "EMV data is longer than 255 bytes")
	}
	var mode string
	if req.CardInfo != nil {
		mode = req.CardInfo.EntryMode
	}
	entry, ok := EntryModeCode(mode)
	if !ok {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.entry_mode", "entry mode must be contactless, chip or swipe")
	}
	if req.TerminalID == "" {
		return nil, nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "terminal_id", "card payments need a terminal")
	}
	mer := req.Merchant
	if mer == nil || len(mer.MerchantNo) != 15 || !printable(mer.MerchantNo) || len(mer.MCC) != 4 || !digits(mer.MCC) {
		return nil, nil, paygate.Errorf(paygate.EINVALID, "merchant has no registered 15-character merchant number and 4-digit MCC")
	}

	mti, proc, cond := MTIFinancial, procPurchase, conditionNormal
	if req.Capture == paygate.CaptureManual {
		mti, proc, cond = MTIAuth, procPreAuth, conditionPreAuth
	}
	m := NewMessage(mti)
	set(m, FieldPAN, card.PAN)
	set(m, FieldProcessingCode, proc)
	set(m, FieldAmount, amountField(req.Amount))
	stan, f7 := c.stampRef(m, req.ChannelRef)
	if card.Expiry != "" {
		set(m, FieldExpiry, card.Expiry)
	}
	set(m, FieldMCC, mer.MCC)
	set(m, FieldEntryMode, entry)
	set(m, FieldCondition, cond)
	set(m, FieldAcquirerID, c.acquirerID)
	tid := TerminalID(req.TerminalID)
	set(m, FieldTerminalID, tid)
	set(m, FieldMerchantNo, mer.MerchantNo)
	set(m, FieldCurrency, currencyCNY)
	if len(card.EMV) > 0 {
		_ = m.BinaryField(FieldICC, card.EMV)
	}
	t := &trade{
		orig:       Original{MTI: mti, STAN: stan, Transmission: f7, AcquirerID: c.acquirerID},
		proc:       proc,
		condition:  cond,
		amount:     req.Amount,
		terminal:   tid,
		merchantNo: mer.MerchantNo,
		maskedPAN:  paygate.MaskPAN(card.PAN),
		at:         c.now(),
	}
	return m, t, nil
}

// referral builds a request that refers to an earlier transaction t: its
// RRN in field 37 (when known) and field 90.
func (c *Client) referral(mti, proc, cond string, amount int64, t *trade) *iso8583.Message {
	m := NewMessage(mti)
	set(m, FieldProcessingCode, proc)
	set(m, FieldAmount, amountField(amount))
	c.stamp(m, c.nextSTAN())
	set(m, FieldCondition, cond)
	set(m, FieldAcquirerID, c.acquirerID)
	if t.rrn != "" {
		set(m, FieldRRN, t.rrn)
	}
	if t.authCode != "" {
		set(m, FieldAuthCode, t.authCode)
	}
	if t.terminal != "" {
		set(m, FieldTerminalID, t.terminal)
	}
	if t.merchantNo != "" {
		set(m, FieldMerchantNo, t.merchantNo)
	}
	set(m, FieldCurrency, currencyCNY)
	if t.orig.STAN != "" {
		set(m, FieldOriginal, t.orig.String())
	}
	return m
}

// original returns what the client knows of an order's transaction: its
// own record, or else the order's RRN (channel trade no.) and terminal.
func (c *Client) original(o *paygate.Order) (*trade, error) {
	if t := c.lookup(o.ID); t != nil {
		c.mu.Lock()
		cp := *t
		c.mu.Unlock()
		return &cp, nil
	}
	stan, f7, hasRef := parseReference(o.ChannelRef)
	if o.ChannelTradeNo == "" && !hasRef {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "order %s has no card transaction this acquirer knows of", o.ID)
	}
	t := &trade{rrn: o.ChannelTradeNo, amount: o.Amount, proc: procPurchase, condition: conditionNormal}
	if o.TerminalID != "" {
		t.terminal = TerminalID(o.TerminalID)
	}
	mti := MTIFinancial
	if o.Capture == paygate.CaptureManual || o.AuthorizedAmount > 0 || o.Status == paygate.OrderAuthorized {
		t.proc, t.condition = procPreAuth, conditionPreAuth
		t.amount = max(o.AuthorizedAmount, o.Amount)
		mti = MTIAuth
	}
	if o.ChannelTradeNo == "" {
		// No answer was ever recorded (the process that sent the sale is
		// gone): the STAN and field 7 stored with the order name it.
		t.orig = Original{MTI: mti, STAN: stan, Transmission: f7, AcquirerID: c.acquirerID}
	}
	return t, nil
}

// answer classifies the answer to a referral: 00 gives the RRN, a decline
// gives its failure, anything else is unknown.
func (c *Client) answer(op string, resp *iso8583.Message) (string, *paygate.Failure, error) {
	rc, _ := resp.GetString(FieldResponseCode)
	if rc == RCApproved {
		rrn, _ := resp.GetString(FieldRRN)
		return rrn, nil, nil
	}
	if f := Decline(rc); f != nil {
		return "", f, nil
	}
	return "", nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: rc, Message: "acquirer could not process the request"}
}

// Refund sends an online refund (0200, processing code 200000) referring
// to the sale by its RRN (field 37). The answer is final.
func (c *Client) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	if req.Amount <= 0 {
		return nil, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "refund amount must be positive")
	}
	if req.ChannelTradeNo == "" {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "order %s has no RRN to refund", req.OrderID)
	}
	t := &trade{rrn: req.ChannelTradeNo}
	if old := c.lookup(req.OrderID); old != nil {
		c.mu.Lock()
		t = &trade{rrn: req.ChannelTradeNo, orig: old.orig, terminal: old.terminal, merchantNo: old.merchantNo}
		c.mu.Unlock()
	}
	if req.Merchant != nil {
		t.merchantNo = req.Merchant.MerchantNo
	}
	m := c.referral(MTIFinancial, procRefund, conditionNormal, req.Amount, t)
	resp, err := c.exchange(ctx, "refund", m)
	if err != nil {
		return nil, err
	}
	rrn, f, err := c.answer("refund", resp)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return &paygate.RefundResult{Outcome: paygate.OutcomeDeclined, Failure: f}, nil
	}
	now := c.now()
	return &paygate.RefundResult{Outcome: paygate.OutcomeSuccess, ChannelRefundNo: rrn, Amount: req.Amount, At: &now}, nil
}

// Void cancels a same-day sale (0200, processing code 020000) referring to
// it by RRN; the host refuses a sale of another day (12). A voided sale
// returns OutcomeClosed.
func (c *Client) Void(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	t, err := c.original(o)
	if err != nil {
		return nil, err
	}
	if t.rrn == "" {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "order %s was not approved; reverse it instead", o.ID)
	}
	key := o.ID + "/void"
	c.mu.Lock()
	if r := c.reversals[key]; r != nil {
		select {
		case <-r.done:
			delete(c.reversals, key)
		default:
			c.mu.Unlock()
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "an earlier void of order %s is still being reversed; try again", o.ID)
		}
	}
	c.mu.Unlock()
	m := c.referral(MTIFinancial, procVoid, conditionNormal, t.amount, t)
	resp, err := c.exchange(ctx, "void", m)
	if err != nil {
		if !sent(err) {
			return nil, err
		}
		// The void may have taken effect at the host without its answer
		// reaching us. Reverse the void itself, so that the sale stands at
		// the host as it does in the order, and say so.
		r := c.reverseInBackground(key, c.voidTrade(m, t))
		select {
		case <-r.done:
		case <-ctx.Done():
		}
		return nil, &paygate.ChannelError{Provider: c.id, Op: "void", Timeout: true,
			Message: "the void was not answered; it is reversed, so the sale stands: cancel again or refund", Err: err}
	}
	return c.closed("void", resp, t.rrn)
}

// voidTrade describes the void m of sale t, for reversing the void: it
// refers to the void by field 90 only (its own RRN never arrived).
func (c *Client) voidTrade(m *iso8583.Message, t *trade) *trade {
	stan, _ := m.GetString(FieldSTAN)
	f7, _ := m.GetString(FieldTransmission)
	vt := *t
	vt.orig = Original{MTI: MTIFinancial, STAN: stan, Transmission: f7, AcquirerID: c.acquirerID}
	vt.proc, vt.condition, vt.rrn, vt.authCode = procVoid, conditionNormal, "", ""
	return &vt
}

func (c *Client) closed(op string, resp *iso8583.Message, rrn string) (*paygate.Result, error) {
	_, f, err := c.answer(op, resp)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: f}, nil
	}
	return &paygate.Result{Outcome: paygate.OutcomeClosed, ChannelTradeNo: rrn}, nil
}

// Capture completes a pre-authorisation (0220, processing code 000000,
// field 25 = 06) for amount ≤ the authorised amount; a larger amount is
// ECAPTUREEXCEEDS without a message sent. Success carries the completion's
// RRN and the captured amount.
func (c *Client) Capture(ctx context.Context, o *paygate.Order, amount int64) (*paygate.Result, error) {
	t, err := c.original(o)
	if err != nil {
		return nil, err
	}
	authorized := t.amount
	if o.AuthorizedAmount > 0 {
		authorized = o.AuthorizedAmount
	}
	if amount <= 0 {
		return nil, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "capture amount must be positive")
	}
	if amount > authorized {
		return nil, paygate.ParamErrorf(paygate.ECAPTUREEXCEEDS, "amount",
			"capture of %d exceeds the authorised %d", amount, authorized)
	}
	if t.rrn == "" {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "order %s has no approved pre-authorisation", o.ID)
	}
	resp, err := c.exchange(ctx, "capture", c.referral(MTIAdvice, procPurchase, conditionPreAuth, amount, t))
	if err != nil {
		return nil, err
	}
	rrn, f, err := c.answer("capture", resp)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: f}, nil
	}
	now := c.now()
	return &paygate.Result{Outcome: paygate.OutcomeSuccess, ChannelTradeNo: rrn, Amount: amount, PaidAt: &now}, nil
}

// VoidAuthorization cancels a pre-authorisation (0100, processing code
// 200000, field 25 = 06); it returns OutcomeClosed.
func (c *Client) VoidAuthorization(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	t, err := c.original(o)
	if err != nil {
		return nil, err
	}
	if t.rrn == "" {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "order %s has no approved pre-authorisation", o.ID)
	}
	resp, err := c.exchange(ctx, "void_authorization", c.referral(MTIAuth, procRefund, conditionPreAuth, t.amount, t))
	if err != nil {
		return nil, err
	}
	return c.closed("void_authorization", resp, t.rrn)
}

// Reverse sends a reversal (0400, repeats 0401) of an order's sale or
// pre-authorisation and retries until the host acknowledges it (00, or 25
// when the host never saw the original). It is idempotent: when a reversal
// of the order is already running (the automatic one after a timeout), it
// waits for that one. A ctx that ends first returns a timeout
// *paygate.ChannelError while the reversal goes on in the background.
// Success is OutcomeClosed.
func (c *Client) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	c.mu.Lock()
	r := c.reversals[o.ID]
	c.mu.Unlock()
	if r == nil {
		t, err := c.original(o)
		if err != nil {
			return nil, err
		}
		r = c.reverseInBackground(o.ID, t)
	}
	select {
	case <-r.done:
		return r.result, r.err
	case <-ctx.Done():
		return nil, &paygate.ChannelError{Provider: c.id, Op: "reverse", Timeout: true,
			Message: "reversal not yet acknowledged; it is retried in the background", Err: ctx.Err()}
	}
}

// ReversalStatus reports whether a reversal of the order was started and
// whether the host acknowledged it.
func (c *Client) ReversalStatus(orderID string) (started, acknowledged bool) {
	c.mu.Lock()
	r := c.reversals[orderID]
	c.mu.Unlock()
	if r == nil {
		return false, false
	}
	select {
	case <-r.done:
		return true, r.err == nil && r.result != nil && r.result.Outcome == paygate.OutcomeClosed
	default:
		return true, false
	}
}

// reverseInBackground starts the reversal of orderID once.
func (c *Client) reverseInBackground(orderID string, t *trade) *reversal {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.reversals[orderID]; r != nil {
		return r
	}
	r := &reversal{done: make(chan struct{})}
	c.reversals[orderID] = r
	cp := *t
	c.wg.Add(1)
	go c.runReversal(&cp, r)
	return r
}

func (c *Client) runReversal(t *trade, r *reversal) {
	defer c.wg.Done()
	defer close(r.done)
	m := c.referral(MTIReversal, t.proc, t.condition, t.amount, t)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			m.MTI(MTIReversalRepeat) // same STAN: a repeat of the same reversal
		}
		resp, err := c.exchange(context.Background(), "reverse", m)
		if err == nil {
			rc, _ := resp.GetString(FieldResponseCode)
			switch f := Decline(rc); {
			case rc == RCApproved || rc == RCNoOriginal:
				r.result = &paygate.Result{Outcome: paygate.OutcomeClosed, ChannelTradeNo: t.rrn}
				return
			case f != nil:
				r.result = &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: f}
				return
			}
		}
		select {
		case <-c.done:
			r.err = &paygate.ChannelError{Provider: c.id, Op: "reverse", Message: "client closed before the reversal was acknowledged"}
			return
		case <-time.After(c.retryWait):
		}
	}
}

// Totals are the acquirer's settlement totals for a day (0510 field 48).
type Totals struct {
	Day          time.Time
	DebitCount   int64 // approved sales and completions, net of reversals and voids
	DebitAmount  int64
	CreditCount  int64 // approved refunds, net of reversals
	CreditAmount int64
}

// Net is what the acquirer settles: debits minus credits.
func (t Totals) Net() int64 { return t.DebitAmount - t.CreditAmount }

// FormatTotals encodes field 48 of a 0510: debit count (6 digits), debit
// amount (12), credit count (6), credit amount (12).
func FormatTotals(t Totals) string {
	return fmt.Sprintf("%06d%012d%06d%012d", t.DebitCount, t.DebitAmount, t.CreditCount, t.CreditAmount)
}

// ParseTotals decodes field 48 of a 0510.
func ParseTotals(s string) (Totals, error) {
	if len(s) != 36 || !digits(s) {
		return Totals{}, errors.New("acquirer: settlement totals must be 36 digits")
	}
	n := func(a, b int) int64 { v, _ := strconv.ParseInt(s[a:b], 10, 64); return v }
	return Totals{DebitCount: n(0, 6), DebitAmount: n(6, 18), CreditCount: n(18, 24), CreditAmount: n(24, 36)}, nil
}

// Settle asks the host for the day's settlement totals (0500, processing
// code 920000, field 15 = MMDD of day).
func (c *Client) Settle(ctx context.Context, day time.Time) (Totals, error) {
	m := NewMessage(MTIReconcile)
	set(m, FieldProcessingCode, procReconcile)
	c.stamp(m, c.nextSTAN())
	set(m, FieldSettlementDate, day.In(cst).Format("0102"))
	set(m, FieldAcquirerID, c.acquirerID)
	set(m, FieldCurrency, currencyCNY)
	resp, err := c.exchange(ctx, "settle", m)
	if err != nil {
		return Totals{}, err
	}
	if rc, _ := resp.GetString(FieldResponseCode); rc != RCApproved {
		return Totals{}, &paygate.ChannelError{Provider: c.id, Op: "settle", Code: rc, Message: "settlement refused"}
	}
	s, _ := resp.GetString(FieldAdditional)
	t, err := ParseTotals(s)
	if err != nil {
		return Totals{}, &paygate.ChannelError{Provider: c.id, Op: "settle", Code: "malformed", Message: "bad totals", Err: err}
	}
	t.Day = day
	return t, nil
}
