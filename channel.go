package paygate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Channel kinds.
const (
	KindWeChat   = "wechat"
	KindAlipay   = "alipay"
	KindUnionPay = "unionpay"
	KindECNY     = "ecny"
	KindAcquirer = "acquirer"
)

// WalletKinds are the channels a customer pays with a wallet app.
var WalletKinds = []string{KindWeChat, KindAlipay, KindUnionPay, KindECNY}

// Outcome classifies what a channel said about a payment or refund.
// A call whose outcome is unknown (timeout, 5xx, malformed or unverifiable
// answer) returns a *ChannelError instead: unknown is never a failure.
type Outcome string

const (
	OutcomeSuccess    Outcome = "success"    // paid (or refunded)
	OutcomeAuthorized Outcome = "authorized" // card pre-authorisation held
	OutcomeDeclined   Outcome = "declined"   // final refusal; Failure says why
	OutcomePending    Outcome = "pending"    // awaiting the customer (USERPAYING, QR not yet scanned)
	OutcomeClosed     Outcome = "closed"     // closed or reversed at the channel; nothing paid
	OutcomeNotFound   Outcome = "not_found"  // the channel has no such trade
)

// Result is a channel's classified answer about a payment.
type Result struct {
	Outcome        Outcome
	ChannelTradeNo string
	Amount         int64 // what the channel says was paid, fen (0 if it did not say)
	PaidAt         *time.Time
	PayerID        string
	QRCode         string          // C-scan-B code URL
	Credential     json.RawMessage // what a page or app needs to invoke the wallet
	Failure        *Failure
}

// RefundResult is a channel's classified answer about a refund.
type RefundResult struct {
	Outcome         Outcome // success, pending, declined or not_found
	ChannelRefundNo string
	Amount          int64
	// RefundedTotal is the order's cumulative refunded amount the channel
	// reports with a success instead of this refund's own amount (Alipay's
	// refund_fee); 0 when it reports none.
	RefundedTotal int64
	At            *time.Time
	Failure       *Failure
}

// ChannelError reports a channel call whose outcome is unknown: it timed out,
// the channel answered 5xx, or the answer was malformed or failed signature
// verification. The payment may or may not have happened; the caller resolves
// it by querying (or reversing) and never reports it as failed.
type ChannelError struct {
	Provider string
	Op       string // "pay", "query", "refund", ...
	Timeout  bool   // no answer at all
	Code     string // the channel's own code, if it gave one
	Message  string
	Err      error
}

func (e *ChannelError) Error() string {
	s := fmt.Sprintf("channel %s %s: ", e.Provider, e.Op)
	if e.Timeout {
		s += "timeout: "
	}
	if e.Code != "" {
		s += e.Code + ": "
	}
	s += e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ChannelError) Unwrap() error { return e.Err }

// PaymentRequest is what a channel needs to take a payment.
type PaymentRequest struct {
	OrderID    string // our order id; the channel's out_trade_no
	Amount     int64
	Subject    string
	Method     Method
	AuthCode   string    // B-scan-C payment code; never stored or logged in full
	Card       *CardData // card present; never stored or logged
	CardInfo   *CardInfo
	Capture    string
	Merchant   *Merchant // registered data, passed to the channel unaltered
	TerminalID string
	PayerID    string // openid / buyer_id for in-wallet flows
	ClientIP   string
	ExpiresAt  time.Time
	NotifyURL  string // where the channel sends its callback (our /callbacks/{kind})
	// ChannelRef is the reference the channel allocated for this payment
	// (ReferenceAllocator), already stored with the order; "" if none.
	ChannelRef string
}

// RefundRequest is what a channel needs to refund.
type RefundRequest struct {
	RefundID       string // our refund id; the channel's out_refund_no
	OrderID        string
	ChannelTradeNo string
	Amount         int64
	OrderAmount    int64
	Reason         string
	Merchant       *Merchant
	NotifyURL      string
}

// Channel is a payment provider instance speaking one channel's protocol.
// Methods return a classified *Result for every answer the channel gave,
// declines included, and a *ChannelError when the outcome is unknown.
type Channel interface {
	// ID is the configured provider id; Kind is the channel kind.
	ID() string
	Kind() string

	// Pay starts a payment. For B-scan-C it returns pending while the
	// customer confirms; for QR and in-wallet methods it returns pending with
	// QRCode or Credential set.
	Pay(ctx context.Context, req *PaymentRequest) (*Result, error)

	// Query asks the channel for the state of an order's payment.
	Query(ctx context.Context, o *Order) (*Result, error)

	// Refund asks the channel to refund; QueryRefund asks for its state.
	Refund(ctx context.Context, req *RefundRequest) (*RefundResult, error)
	QueryRefund(ctx context.Context, r *Refund, o *Order) (*RefundResult, error)
}

// ReferenceAllocator is a channel whose payments carry a reference of its
// own that must be known before the request is sent, so that a process
// other than the sender can still refer to the payment: an ISO 8583
// acquirer's STAN and transmission time, which field 90 of a reversal
// names. The gateway stores the reference with the order before calling
// Pay and passes it in PaymentRequest.ChannelRef; Reverse and Query find it
// in Order.ChannelRef.
type ReferenceAllocator interface {
	NewReference() string
}

// NewChannelReference returns ch's next reference, looking through
// decorators (As); "" for a channel without them.
func NewChannelReference(ch Channel) string {
	if ra, ok := As[ReferenceAllocator](ch); ok {
		return ra.NewReference()
	}
	return ""
}

// As finds an optional ability T (OrderCloser, Reverser, PreAuthorizer,
// BillFetcher, ...) of a channel that may be decorated. A decorator (health,
// metrics: README, "Channels and their decorators") is a Channel wrapping
// another one and returning it from an Unwrap() Channel method; the chain
// ends at the channel that speaks the protocol.
//
// A decorator never adds an ability: ch has T exactly when the channel at
// the end of the chain implements T. As then returns the outermost channel
// of the chain implementing T, so that the call runs through every
// decorator that observes that ability (a decorator implements an
// ability's methods only to observe them, running them on what it wraps).
// It costs a type assertion or two per decorator and allocates nothing.
func As[T any](ch Channel) (T, bool) {
	var found T
	have := false
	for ch != nil {
		t, ok := ch.(T)
		if ok && !have {
			found, have = t, true
		}
		u, wraps := ch.(interface{ Unwrap() Channel })
		if !wraps {
			if !ok {
				var zero T
				return zero, false
			}
			return found, true
		}
		ch = u.Unwrap()
	}
	var zero T
	return zero, false
}

// OrderCloser is a channel that can close an unpaid order (QR, in-wallet).
type OrderCloser interface {
	CloseOrder(ctx context.Context, o *Order) error
}

// Reverser is a channel that can reverse (cancel) a payment, paid or not:
// WeChat reverse, Alipay cancel, UnionPay undo, ISO 8583 0400.
// A successful reversal returns OutcomeClosed.
type Reverser interface {
	Reverse(ctx context.Context, o *Order) (*Result, error)
}

// PreAuthorizer is a channel that can capture or release a pre-authorisation.
type PreAuthorizer interface {
	Capture(ctx context.Context, o *Order, amount int64) (*Result, error)
	VoidAuthorization(ctx context.Context, o *Order) (*Result, error)
}

// Voider is a channel that can void a same-day sale, cancelling it before
// settlement instead of reversing it (ISO 8583 0200, processing code
// 020000: card acquirers). A voided sale returns OutcomeClosed.
type Voider interface {
	Void(ctx context.Context, o *Order) (*Result, error)
}

// BillFetcher is a channel that serves a daily bill file in its format.
// FetchBill streams the bill of day (a China Standard Time calendar day)
// to w as the channel serves it, decompressed where the transport
// compressed it (WeChat's GZIP, UnionPay's DEFLATE), never holding the
// whole bill in memory. docs/reconciliation.md describes each format.
//
// Returns an error wrapping ErrBillNotReady when the channel has not made
// the bill yet (retry later), ErrNoBill when it has none because nothing
// happened that day (an empty bill, not a failure), ErrBillDigest when the
// file fails the channel's integrity check; other errors are a
// *ChannelError. After an error w may hold part of a file.
type BillFetcher interface {
	FetchBill(ctx context.Context, day time.Time, w io.Writer) (*BillInfo, error)
}

// BillAccounter is a channel that says which merchant account its bills
// are for (mchid, pid, merId, ...), so that a bill received by other means
// can be checked against it.
type BillAccounter interface {
	BillAccount() string
}

// BillInfo is what a channel says about a bill beside its bytes.
type BillInfo struct {
	// Account is the channel merchant account the bill is for (mchid, pid,
	// merId, e-CNY merchant no., acquirer institution code).
	Account string
	// Name is the channel's name of the file ({pid}0156_{yyyyMMdd}.csv.zip,
	// ...), "" when it gives none.
	Name string
	// Digest is the channel's digest of the file as written, hex, when it
	// gives one (WeChat SHA1, e-CNY SM3); already checked.
	Digest string
	// Controls are control totals the channel sends apart from the file,
	// kept with it for the reader: the acquirer's 0510 field 48.
	Controls string
}

// Bill fetch outcomes (errors.Is).
var (
	ErrBillNotReady = errors.New("the channel has not made the bill yet")
	ErrNoBill       = errors.New("the channel has no bill for the day: no trades")
	ErrBillDigest   = errors.New("the bill does not match the channel's digest")
)

// Notification is a verified channel callback.
type Notification struct {
	// ID is the channel's identity of the notification (WeChat's id,
	// Alipay's notify_id, ...): the deduplication key.
	ID       string
	Provider string
	OrderID  string        // our order id (out_trade_no), for payment notifications
	RefundID string        // our refund id, for refund notifications
	Result   *Result       // payment outcome, when OrderID is set
	Refund   *RefundResult // refund outcome, when RefundID is set
}

// CallbackParser is a channel that receives callbacks. ParseCallback verifies
// the signature (and decrypts) and returns EINVALIDSIG for a forged or
// tampered callback, EINVALID for a malformed one; nothing is applied then.
// CallbackReply is what the channel expects as the answer.
type CallbackParser interface {
	ParseCallback(ctx context.Context, header http.Header, body []byte) (*Notification, error)
	CallbackReply(err error) (status int, contentType string, body []byte)
}

// ProviderSpec is a configured provider: a channel instance with its
// credentials, endpoint and fee schedule.
type ProviderSpec struct {
	ID          string
	Kind        string
	BaseURL     string // the channel's API endpoint (the sandbox's in test mode)
	Credentials map[string]string
	Fees        []FeeRule
	Priority    int // lower wins a tie
	Disabled    bool
	Timeout     time.Duration // per channel call; default 10s
	MinAmount   int64         // fen
	MaxAmount   int64         // fen, 0 = MaxAmount
	Methods     []Method      // empty = every method the kind supports
	Networks    []string      // card networks accepted (acquirers, unionpay)
}

// CredentialKey is one key of ProviderSpec.Credentials that a channel kind
// reads. Each channel package declares its keys once (CredentialKeys); its
// constructor reads them through Credential, and the configuration checks
// every provider's credentials against them at load (docs/configuration.md).
type CredentialKey struct {
	Name     string
	Optional bool
}

// CheckCredentials returns every fault of the provider's credentials
// against keys, in the order of keys and then of the unknown names: each
// required key that is missing, each key given blank, and each key the
// kind does not read (a misspelt name would otherwise be ignored until the channel fails).
// Messages start with "credentials.<name>: ".
func (s *ProviderSpec) CheckCredentials(keys []CredentialKey) []error {
	var errs []error
	known := make(map[string]bool, len(keys))
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		known[k.Name] = true
		names = append(names, k.Name)
		v, present := s.Credentials[k.Name]
		switch {
		case present && strings.TrimSpace(v) == "":
			errs = append(errs, fmt.Errorf("credentials.%s: empty", k.Name))
		case !present && !k.Optional:
			errs = append(errs, fmt.Errorf("credentials.%s: missing", k.Name))
		}
	}
	var unknown []string
	for name := range s.Credentials {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		errs = append(errs, fmt.Errorf("credentials.%s: unknown to kind %s (want %s)", name, s.Kind, strings.Join(names, ", ")))
	}
	return errs
}

// ReadCredentials returns the values of keys, trimmed of white space, as a
// channel constructor reads them. Every required key that is missing or
// blank is reported at once: EPARAMMISSING naming the first, its message
// listing all ("credentials.a: missing; credentials.b: missing").
func (s *ProviderSpec) ReadCredentials(keys []CredentialKey) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	var missing []string
	for _, k := range keys {
		v := strings.TrimSpace(s.Credentials[k.Name])
		if v == "" && !k.Optional {
			missing = append(missing, "credentials."+k.Name)
		}
		out[k.Name] = v
	}
	if len(missing) > 0 {
		return nil, ParamErrorf(EPARAMMISSING, missing[0], "%s: missing", strings.Join(missing, ": missing; "))
	}
	return out, nil
}

// Credential returns the named credential, trimmed of white space.
// Returns EPARAMMISSING, param "credentials.<name>", when it is absent or
// blank. Channel constructors use it so that every provider names a
// missing credential the same way.
func (s *ProviderSpec) Credential(name string) (string, error) {
	v := strings.TrimSpace(s.Credentials[name])
	if v == "" {
		return "", ParamErrorf(EPARAMMISSING, "credentials."+name, "credentials.%s: missing", name)
	}
	return v, nil
}
