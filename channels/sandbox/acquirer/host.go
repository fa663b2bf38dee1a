// Package acquirer is the sandbox acquirer host: it speaks the ISO 8583
// message spec of channels/acquirer over TCP (2-byte binary length header,
// X9.19 MAC on every message), signs terminals' connections on, answers
// sales, pre-authorisations, completions, voids, refunds, reversals and
// settlement requests with real response codes, and writes a daily
// settlement file.
//
// Scenarios (README, docs/channels/acquirer.md) are chosen by the card number's last four digits,
// for sales (0200) and pre-authorisations (0100):
//
//	1111  answered 00 after Options.HangFor (default sandbox.ConfirmDelay), like a PIN entry
//	2222  never answered; nothing is approved (the reversal then arrives)
//	3333  51 insufficient funds
//	4444  the first request for that card gets no answer but is approved
//	      (the reversal must undo it); later ones are answered 00
//	5555  96 system error on the first request for that card, then 00
//	6666  and any other ending: 00
//
// A reversal (0400/0401) of an unknown original is answered 25; of an
// already reversed one, 00 without a second effect. Approved minus
// reversed and voided is what the 0510 totals and SettlementFile say.
package acquirer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moov-io/iso8583"
	connection "github.com/moov-io/iso8583-connection"
	"github.com/moov-io/iso8583-connection/server"

	"github.com/paygate-cn/paygate"
	iso "github.com/paygate-cn/paygate/channels/acquirer"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// Options configure a Host.
type Options struct {
	// MACKey is the double-length 3DES key shared with the clients; when
	// nil, one is generated, and kept in KeyDir when that is set.
	MACKey []byte
	// KeyDir keeps a generated MAC key across restarts
	// (KeyDir/acquirer.json); empty: a fresh key at every start.
	KeyDir string
	// Now is the host's clock (business day, RRNs); default time.Now.
	Now paygate.Clock
	// HangFor is how long a 1111 card "enters its PIN" before the answer;
	// default sandbox.ConfirmDelay.
	HangFor time.Duration
	// AcquirerID is the acquiring institution code handed out by
	// Credentials; default "48020000".
	AcquirerID string
}

// Transaction kinds.
const (
	KindSale       = "sale"
	KindPreAuth    = "preauth"
	KindCompletion = "completion"
	KindRefund     = "refund"
	KindVoid       = "void"
	KindCancel     = "preauth_cancel"
)

// Transaction statuses.
const (
	StatusApproved   = "approved"
	StatusDeclined   = "declined"
	StatusUnanswered = "unanswered" // 2222: never answered, never approved
	StatusReversed   = "reversed"
	StatusVoided     = "voided"    // sales voided by a 0200/020000
	StatusCompleted  = "completed" // pre-auths completed by a 0220
	StatusCancelled  = "cancelled" // pre-auths cancelled by a 0100/200000
)

// Transaction is the host's record of one financial request.
type Transaction struct {
	Kind         string
	MTI          string
	STAN         string
	Transmission string
	TerminalID   string
	MerchantNo   string
	MCC          string
	EntryMode    string
	MaskedPAN    string
	Amount       int64
	RRN          string
	AuthCode     string
	ResponseCode string
	Status       string
	At           time.Time
	// Reversals counts the reversals that took effect on this record: 0 or 1.
	Reversals int
	// Refunded is the amount refunded from an approved sale or completion.
	Refunded int64

	original *Transaction // what a refund, void, completion or cancel refers to
}

// SeenMessage is what the host saw of one request.
type SeenMessage struct {
	MTI            string
	ProcessingCode string
	EntryMode      string // field 22
	TerminalID     string // field 41
	MerchantNo     string // field 42
	MCC            string // field 18
	MaskedPAN      string
	MACValid       bool
}

// Host is a simulated acquirer host.
type Host struct {
	opts Options
	mac  *iso.MACKey

	mu       sync.Mutex
	srv      *server.Server
	addr     string
	txns     []*Transaction
	byRRN    map[string]*Transaction
	byOrig   map[string]*Transaction // terminal|STAN|transmission
	reversed map[string]bool         // originals reversed before they arrived
	firsts   map[string]bool         // scenario first attempts, by masked PAN
	seen     []SeenMessage
	adjust   sandbox.BillAdjustments // waiting for their day's next settlement file
	rrnSeq   int
	lose     map[string]int // answers still to lose, by kind (LoseAnswers)
	clock    atomic.Pointer[paygate.Clock]
}

// now is the host's clock (Options.Now, or the one SetClock gave).
func (h *Host) now() time.Time { return (*h.clock.Load())() }

// SetClock replaces the host's clock: what it books from now on (a
// sale's time, its business day) is by now. Tests set a clock a few
// seconds off paygate's to settle a sale made just before midnight on
// the next day, as a real acquirer's clock may (docs/reconciliation.md,
// "Midnight").
func (h *Host) SetClock(now paygate.Clock) { h.clock.Store(&now) }

// New builds a host. It does not listen yet.
func New(opts Options) (*Host, error) {
	if opts.MACKey == nil {
		var k struct {
			MACKey []byte `json:"mac_key"`
		}
		if err := sandbox.Persisted(opts.KeyDir, "acquirer", &k, func() error {
			k.MACKey = make([]byte, 16)
			_, err := rand.Read(k.MACKey)
			return err
		}); err != nil {
			return nil, err
		}
		opts.MACKey = k.MACKey
	}
	mac, err := iso.NewMACKey(opts.MACKey)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HangFor <= 0 {
		opts.HangFor = sandbox.ConfirmDelay
	}
	if opts.AcquirerID == "" {
		opts.AcquirerID = "48020000"
	}
	h := &Host{
		opts:     opts,
		mac:      mac,
		byRRN:    make(map[string]*Transaction),
		byOrig:   make(map[string]*Transaction),
		reversed: make(map[string]bool),
		firsts:   make(map[string]bool),
		lose:     make(map[string]int),
	}
	h.SetClock(opts.Now)
	return h, nil
}

// LoseAnswers makes the host carry out the next n requests of a kind
// (KindVoid, KindRefund, ...) but never answer them, as when answers are
// lost on their way back: a test aid for the client's recovery.
func (h *Host) LoseAnswers(kind string, n int) {
	h.mu.Lock()
	h.lose[kind] += n
	h.mu.Unlock()
}

// loseAnswer reports whether the answer to m is to be lost.
func (h *Host) loseAnswer(m *iso8583.Message, mti string) bool {
	proc, _ := m.GetString(iso.FieldProcessingCode)
	kind := requestKind(mti, proc)
	h.mu.Lock()
	defer h.mu.Unlock()
	if kind == "" || h.lose[kind] == 0 {
		return false
	}
	h.lose[kind]--
	return true
}

// Listen starts serving on addr ("127.0.0.1:0" picks a port).
func (h *Host) Listen(addr string) (net.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return nil, errors.New("sandbox acquirer: already listening")
	}
	srv := server.New(iso.Spec, iso.ReadLength, iso.WriteLength, append(iso.NewCodec(h.mac).Options(),
		connection.InboundMessageHandler(h.handle),
		connection.IdleTime(time.Hour),
		connection.ReadTimeout(time.Hour),
		connection.SendTimeout(5*time.Second),
		connection.ErrorHandler(func(error) {}),
	)...)
	if err := srv.Start(addr); err != nil {
		return nil, err
	}
	h.srv, h.addr = srv, srv.Addr
	return net.ResolveTCPAddr("tcp", srv.Addr)
}

// Addr is the address the host listens (or last listened) on.
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// Close stops listening and drops every connection. The records survive,
// so Restart (or Listen on the same address) continues the same business
// day.
func (h *Host) Close() error {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	return nil
}

// Restart closes the host and listens again on the same address.
func (h *Host) Restart() error {
	addr := h.Addr()
	h.Close()
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		if _, err = h.Listen(addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Credentials are a client provider's credentials for this host.
func (h *Host) Credentials() map[string]string {
	return map[string]string{
		"address":     h.Addr(),
		"mac_key":     fmt.Sprintf("%X", h.opts.MACKey),
		"acquirer_id": h.opts.AcquirerID,
	}
}

// Seen returns what the host saw of every request, in arrival order.
func (h *Host) Seen() []SeenMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]SeenMessage(nil), h.seen...)
}

// Transactions returns copies of the host's financial records.
func (h *Host) Transactions() []Transaction {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Transaction, len(h.txns))
	for i, t := range h.txns {
		out[i] = *t
		out[i].original = nil
	}
	return out
}

// handle answers one request; it runs in its own goroutine.
func (h *Host) handle(c *connection.Connection, m *iso8583.Message) {
	mti, _ := m.GetMTI()
	macOK := h.mac.Verify(m) == nil
	h.see(m, mti, macOK)
	resp := h.respond(m, mti, macOK)
	if resp == nil || h.loseAnswer(m, mti) {
		return
	}
	_ = c.Reply(resp) // signed by the codec; an answer that cannot be packed is not sent
}

func (h *Host) see(m *iso8583.Message, mti string, macOK bool) {
	s := SeenMessage{MTI: mti, MACValid: macOK}
	s.ProcessingCode, _ = m.GetString(iso.FieldProcessingCode)
	s.EntryMode, _ = m.GetString(iso.FieldEntryMode)
	s.TerminalID, _ = m.GetString(iso.FieldTerminalID)
	s.MerchantNo, _ = m.GetString(iso.FieldMerchantNo)
	s.MCC, _ = m.GetString(iso.FieldMCC)
	if pan, _ := m.GetString(iso.FieldPAN); pan != "" {
		s.MaskedPAN = paygate.MaskPAN(pan)
	}
	h.mu.Lock()
	h.seen = append(h.seen, s)
	h.mu.Unlock()
}

// reply starts the answer to m, echoing the fields an answer carries.
func reply(m *iso8583.Message, mti, rc string) *iso8583.Message {
	r := iso.NewMessage(iso.ResponseMTI(mti))
	for _, id := range []int{iso.FieldProcessingCode, iso.FieldAmount, iso.FieldTransmission, iso.FieldSTAN,
		iso.FieldLocalTime, iso.FieldLocalDate, iso.FieldSettlementDate, iso.FieldCondition, iso.FieldAcquirerID,
		iso.FieldRRN, iso.FieldTerminalID, iso.FieldMerchantNo, iso.FieldCurrency, iso.FieldNetworkCode} {
		if v, _ := m.GetString(id); v != "" {
			_ = r.Field(id, v)
		}
	}
	_ = r.Field(iso.FieldResponseCode, rc)
	return r
}

func (h *Host) respond(m *iso8583.Message, mti string, macOK bool) *iso8583.Message {
	if len(mti) != 4 || mti[2]%2 != 0 {
		return nil // not a request
	}
	if !macOK {
		return reply(m, mti, iso.RCBadMAC)
	}
	proc, _ := m.GetString(iso.FieldProcessingCode)
	switch kind := requestKind(mti, proc); kind {
	case KindSale, KindPreAuth:
		return h.authorize(m, mti, kind)
	case KindVoid, KindRefund, KindCancel, KindCompletion:
		return h.referral(m, mti, kind)
	}
	switch {
	case mti == iso.MTINetwork:
		return reply(m, mti, iso.RCApproved)
	case mti == iso.MTIReversal || mti == iso.MTIReversalRepeat:
		return h.reverse(m, mti)
	case mti == iso.MTIReconcile:
		return h.settle(m, mti)
	}
	return reply(m, mti, iso.RCInvalidTxn)
}

// requestKind names the transaction a financial request asks for, or "".
func requestKind(mti, proc string) string {
	switch {
	case mti == iso.MTIFinancial && proc == iso.ProcPurchase:
		return KindSale
	case mti == iso.MTIAuth && proc == iso.ProcPreAuth:
		return KindPreAuth
	case mti == iso.MTIFinancial && proc == iso.ProcVoid:
		return KindVoid
	case mti == iso.MTIFinancial && proc == iso.ProcRefund:
		return KindRefund
	case mti == iso.MTIAuth && proc == iso.ProcRefund:
		return KindCancel
	case mti == iso.MTIAdvice && proc == iso.ProcPurchase:
		return KindCompletion
	}
	return ""
}

func amountOf(m *iso8583.Message) (int64, bool) {
	s, _ := m.GetString(iso.FieldAmount)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && len(s) == 12 && n > 0
}

func origKey(terminal, stan, transmission string) string {
	return terminal + "|" + stan + "|" + transmission
}

// nextRRN returns a 12-digit RRN: the day of year, then a sequence.
func (h *Host) nextRRN(now time.Time) string {
	h.rrnSeq++
	return fmt.Sprintf("%03d%09d", now.YearDay(), h.rrnSeq)
}

// authorize handles sales and pre-authorisations.
func (h *Host) authorize(m *iso8583.Message, mti, kind string) *iso8583.Message {
	pan, _ := m.GetString(iso.FieldPAN)
	amount, okAmount := amountOf(m)
	t := &Transaction{Kind: kind, MTI: mti, MaskedPAN: paygate.MaskPAN(pan), Amount: amount, At: h.now()}
	t.STAN, _ = m.GetString(iso.FieldSTAN)
	t.Transmission, _ = m.GetString(iso.FieldTransmission)
	t.TerminalID, _ = m.GetString(iso.FieldTerminalID)
	t.MerchantNo, _ = m.GetString(iso.FieldMerchantNo)
	t.MCC, _ = m.GetString(iso.FieldMCC)
	t.EntryMode, _ = m.GetString(iso.FieldEntryMode)
	expiry, _ := m.GetString(iso.FieldExpiry)

	rc := iso.RCApproved
	answer := true
	scenario := sandbox.ScenarioOf(pan)
	switch {
	case !paygate.ValidPAN(pan):
		rc = iso.RCInvalidCard
	case !okAmount:
		rc = iso.RCInvalidAmount
	case iso.EntryModeOf(t.EntryMode) == "" || len(t.MerchantNo) != 15 || len(t.MCC) != 4:
		rc = iso.RCFormatError
	case expiry != "" && expiry < t.At.Format("0601"):
		rc = iso.RCExpiredCard
	case scenario == sandbox.Decline:
		rc = iso.RCInsufficientFunds
	case scenario == sandbox.NeverConfirm:
		answer = false
	case scenario == sandbox.TimeoutThenSucceed:
		answer = !h.first(t.MaskedPAN, scenario)
	case scenario == sandbox.ErrorThenSucceed && h.first(t.MaskedPAN, scenario):
		rc = iso.RCSystemError
	}

	h.mu.Lock()
	t.ResponseCode = rc
	switch {
	case !answer && scenario == sandbox.NeverConfirm:
		t.Status = StatusUnanswered
	case rc == iso.RCApproved:
		t.Status = StatusApproved
		t.RRN = h.nextRRN(t.At)
		t.AuthCode = fmt.Sprintf("%06d", h.rrnSeq%1000000)
		h.byRRN[t.RRN] = t
	default:
		t.Status = StatusDeclined
	}
	key := origKey(t.TerminalID, t.STAN, t.Transmission)
	if h.reversed[key] { // its reversal overtook it: it never takes effect
		t.Status, t.Reversals = StatusReversed, 1
	}
	h.byOrig[key] = t
	if rc != iso.RCSystemError {
		h.txns = append(h.txns, t)
	}
	h.mu.Unlock()

	if !answer {
		return nil
	}
	if scenario == sandbox.ConfirmLater && rc == iso.RCApproved {
		time.Sleep(h.opts.HangFor)
	}
	r := reply(m, mti, rc)
	if rc == iso.RCApproved {
		_ = r.Field(iso.FieldRRN, t.RRN)
		_ = r.Field(iso.FieldAuthCode, t.AuthCode)
	}
	return r
}

// first reports whether this is the first request of a scenario card.
func (h *Host) first(maskedPAN string, s sandbox.Scenario) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := s.String() + "|" + maskedPAN
	if h.firsts[k] {
		return false
	}
	h.firsts[k] = true
	return true
}

// findOriginal locates the transaction a request refers to: by RRN (field
// 37) when present, else by field 90 and the terminal. Callers hold h.mu.
func (h *Host) findOriginal(m *iso8583.Message) (*Transaction, string) {
	if rrn, _ := m.GetString(iso.FieldRRN); rrn != "" {
		return h.byRRN[rrn], ""
	}
	f90, _ := m.GetString(iso.FieldOriginal)
	o, err := iso.ParseOriginal(f90)
	if err != nil {
		return nil, ""
	}
	tid, _ := m.GetString(iso.FieldTerminalID)
	key := origKey(tid, o.STAN, o.Transmission)
	return h.byOrig[key], key
}

// referral handles voids, refunds, completions and pre-auth cancels.
func (h *Host) referral(m *iso8583.Message, mti, kind string) *iso8583.Message {
	amount, okAmount := amountOf(m)
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	orig, _ := h.findOriginal(m)
	if orig == nil {
		return reply(m, mti, iso.RCNoOriginal)
	}
	if mer, _ := m.GetString(iso.FieldMerchantNo); mer != "" && mer != orig.MerchantNo {
		return reply(m, mti, iso.RCNoOriginal)
	}
	if !okAmount {
		return reply(m, mti, iso.RCInvalidAmount)
	}
	if kind == KindRefund && orig.Kind == KindPreAuth && orig.Status == StatusCompleted {
		for _, t := range h.txns { // a refund of a captured pre-auth refunds its completion
			if t.original == orig && t.Kind == KindCompletion && t.Status == StatusApproved {
				orig = t
			}
		}
	}
	rc := iso.RCApproved
	switch kind {
	case KindVoid:
		switch {
		case orig.Kind != KindSale || orig.Status != StatusApproved || orig.Refunded > 0:
			rc = iso.RCInvalidTxn
		case orig.At.Format("20060102") != now.Format("20060102"):
			rc = iso.RCInvalidTxn // only same-day sales can be voided
		case amount != orig.Amount:
			rc = iso.RCInvalidAmount
		}
	case KindRefund:
		switch {
		case (orig.Kind != KindSale && orig.Kind != KindCompletion) || orig.Status != StatusApproved:
			rc = iso.RCInvalidTxn
		case amount > orig.Amount-orig.Refunded:
			rc = iso.RCInvalidAmount
		}
	case KindCompletion:
		if orig.Kind == KindPreAuth && orig.Status == StatusCompleted {
			for _, t := range h.txns { // a repeated advice: the same answer again
				if t.original == orig && t.Kind == KindCompletion && t.Amount == amount {
					r := reply(m, mti, iso.RCApproved)
					_ = r.Field(iso.FieldRRN, t.RRN)
					return r
				}
			}
		}
		switch {
		case orig.Kind != KindPreAuth || orig.Status != StatusApproved:
			rc = iso.RCInvalidTxn
		case amount > orig.Amount:
			rc = iso.RCInvalidAmount
		}
	case KindCancel:
		if orig.Kind != KindPreAuth || orig.Status != StatusApproved {
			rc = iso.RCInvalidTxn
		}
	}
	t := &Transaction{Kind: kind, MTI: mti, Amount: amount, At: now, ResponseCode: rc,
		TerminalID: orig.TerminalID, MerchantNo: orig.MerchantNo, MCC: orig.MCC, EntryMode: orig.EntryMode,
		MaskedPAN: orig.MaskedPAN, original: orig, Status: StatusDeclined}
	t.STAN, _ = m.GetString(iso.FieldSTAN)
	t.Transmission, _ = m.GetString(iso.FieldTransmission)
	if tid, _ := m.GetString(iso.FieldTerminalID); tid != "" {
		t.TerminalID = tid
	}
	if rc == iso.RCApproved {
		t.Status = StatusApproved
		t.RRN = h.nextRRN(now)
		h.byRRN[t.RRN] = t
		switch kind {
		case KindVoid:
			orig.Status = StatusVoided
		case KindRefund:
			orig.Refunded += amount
		case KindCompletion:
			orig.Status = StatusCompleted
		case KindCancel:
			orig.Status = StatusCancelled
		}
	}
	h.byOrig[origKey(t.TerminalID, t.STAN, t.Transmission)] = t
	h.txns = append(h.txns, t)
	r := reply(m, mti, rc)
	if t.RRN != "" {
		_ = r.Field(iso.FieldRRN, t.RRN)
	}
	return r
}

// reverse undoes the original once; unknown originals are answered 25 and
// remembered, so that an original arriving after its reversal never takes
// effect.
func (h *Host) reverse(m *iso8583.Message, mti string) *iso8583.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	orig, key := h.findOriginal(m)
	if orig == nil {
		if key != "" {
			h.reversed[key] = true
		}
		return reply(m, mti, iso.RCNoOriginal)
	}
	if orig.Status == StatusReversed {
		return reply(m, mti, iso.RCApproved) // already reversed: no second effect
	}
	switch {
	case orig.Status == StatusApproved && orig.Kind == KindRefund:
		orig.original.Refunded -= orig.Amount
	case orig.Status == StatusApproved && orig.Kind == KindCompletion:
		orig.original.Status = StatusApproved
	case orig.Status == StatusApproved && orig.Kind == KindVoid:
		orig.original.Status = StatusApproved
	case orig.Status == StatusApproved && orig.Kind == KindCancel:
		orig.original.Status = StatusApproved
	case orig.Status == StatusVoided || orig.Status == StatusCompleted || (orig.Kind == KindSale && orig.Refunded > 0):
		return reply(m, mti, iso.RCInvalidTxn) // undo the void, completion or refund first
	}
	orig.Status = StatusReversed
	orig.Reversals++
	return reply(m, mti, iso.RCApproved)
}
