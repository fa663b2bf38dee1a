package routing

import (
	"math/bits"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

// QuickPassLimit is the largest amount (fen) that takes the reduced
// QuickPass / UnionPay QR rate: 1000.00 CNY, the 双免 limit.
const QuickPassLimit int64 = 100000

// Rates of the default schedules (docs/routing.md).
var (
	rateQuickPass = decimal.RequireFromString("0.0038")
	rateCredit    = decimal.RequireFromString("0.006")
	rateDebit     = decimal.RequireFromString("0.0055")
	rateWallet    = decimal.RequireFromString("0.006")
)

// DebitCap is the standard debit card fee cap: 20.00 CNY.
const DebitCap int64 = 2000

// walletMethods are the UnionPay QR methods (the wallet, not a card tap).
var unionPayQRMethods = []paygate.Method{
	paygate.MethodAuthCode, paygate.MethodQR, paygate.MethodJSAPI, paygate.MethodH5, paygate.MethodWeb,
}

// standardCardRules is the standard card rate: credit 0.60%, debit 0.55%
// capped at 20.00, and the credit rate for a card of unknown type.
func standardCardRules() []paygate.FeeRule {
	card := []paygate.Method{paygate.MethodCard}
	return []paygate.FeeRule{
		{Name: "card.credit", Rate: rateCredit, Methods: card, CardTypes: []string{paygate.CardCredit}},
		{Name: "card.debit", Rate: rateDebit, Cap: DebitCap, Methods: card, CardTypes: []string{paygate.CardDebit}},
		{Name: "card.standard", Rate: rateCredit, Methods: card},
	}
}

// DefaultFees returns the default fee schedule of a channel kind
// (docs/routing.md), a fresh slice the caller may keep. An unknown kind has no schedule (nil).
//
//   - unionpay: a contactless (QuickPass 闪付) tap or a UnionPay QR payment of
//     at most 1000.00 → 0.38%, credit and debit; above it, or chip and swipe,
//     the standard card rate; a QR payment above it 0.60% (the wallet
//     chooses the card, so the credit rate is assumed).
//   - acquirer: the standard card rate for every entry mode (a contract may
//     add a QuickPass rule in front).
//   - wechat, alipay: 0.60% unless the merchant's contract says otherwise.
//   - ecny: 0.
func DefaultFees(kind string) []paygate.FeeRule {
	switch kind {
	case paygate.KindUnionPay:
		return append([]paygate.FeeRule{
			{Name: "unionpay.quickpass_le_1000", Rate: rateQuickPass, MaxAmount: QuickPassLimit,
				Methods: []paygate.Method{paygate.MethodCard}, EntryModes: []string{paygate.EntryContactless}},
			{Name: "unionpay.qr_le_1000", Rate: rateQuickPass, MaxAmount: QuickPassLimit,
				Methods: append([]paygate.Method(nil), unionPayQRMethods...)},
			{Name: "unionpay.qr_standard", Rate: rateCredit, MinAmount: QuickPassLimit + 1,
				Methods: append([]paygate.Method(nil), unionPayQRMethods...)},
		}, standardCardRules()...)
	case paygate.KindAcquirer:
		return standardCardRules()
	case paygate.KindWeChat:
		return []paygate.FeeRule{{Name: "wechat.default", Rate: rateWallet}}
	case paygate.KindAlipay:
		return []paygate.FeeRule{{Name: "alipay.default", Rate: rateWallet}}
	case paygate.KindECNY:
		return []paygate.FeeRule{{Name: "ecny.default", Rate: decimal.Zero}}
	}
	return nil
}

// payment is what fee rules match on.
type payment struct {
	amount int64 // what the fee is computed on
	// match is the amount the rules' amount bounds see: the amount, or
	// above QuickPassLimit when a risk rule withdrew the reduced rate.
	match   int64
	method  paygate.Method
	card    *paygate.CardInfo
	network string // card network, "" when no card
	mcc     string
}

// Matches reports whether rule applies to p: every non-empty condition holds.
// Card conditions (entry modes, card types, networks) never match a payment
// without a card.
func matches(r *paygate.FeeRule, p *payment) bool {
	if p.match < r.MinAmount || (r.MaxAmount > 0 && p.match > r.MaxAmount) {
		return false
	}
	if len(r.Methods) > 0 && !containsMethod(r.Methods, p.method) {
		return false
	}
	if len(r.EntryModes) > 0 && (p.card == nil || !contains(r.EntryModes, p.card.EntryMode)) {
		return false
	}
	if len(r.CardTypes) > 0 && (p.card == nil || !contains(r.CardTypes, p.card.Type)) {
		return false
	}
	if len(r.Networks) > 0 && (p.card == nil || !contains(r.Networks, p.network)) {
		return false
	}
	if len(r.MCCs) > 0 && !contains(r.MCCs, p.mcc) {
		return false
	}
	return true
}

// firstMatch returns the first rule of the schedules, in order, matching p.
func firstMatch(p *payment, schedules ...[]paygate.FeeRule) *paygate.FeeRule {
	for _, rules := range schedules {
		for i := range rules {
			if matches(&rules[i], p) {
				return &rules[i]
			}
		}
	}
	return nil
}

// FeeFor returns the fee of amount under rule: paygate.Fee's rounding (half
// up to the fen, then the minimum, then the cap) computed without
// allocating when the rate has at most 18 significant digits and 18
// decimals, which every real rate has; other rates go through paygate.Fee.
func FeeFor(amount int64, r *paygate.FeeRule) int64 {
	return fee(amount, r.Rate, r.Min, r.Cap)
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

func fee(amount int64, rate decimal.Decimal, min, cap int64) int64 {
	if amount <= 0 || rate.Sign() <= 0 {
		return 0
	}
	exp := rate.Exponent()
	if exp > 0 || exp < -18 || rate.NumDigits() > 18 {
		return paygate.Fee(amount, rate, min, cap)
	}
	coef := uint64(rate.CoefficientInt64())
	scale := pow10[-exp]
	if coef > scale { // rate above 1
		return paygate.Fee(amount, rate, min, cap)
	}
	// amount × coef < 2^63 × scale, so hi < scale and Div64 cannot overflow.
	hi, lo := bits.Mul64(uint64(amount), coef)
	q, rem := bits.Div64(hi, lo, scale)
	if rem >= scale-rem { // rem ≥ scale/2: half up
		q++
	}
	f := int64(q)
	if min > 0 && f < min {
		f = min
	}
	if cap > 0 && f > cap {
		f = cap
	}
	if f > amount {
		f = amount
	}
	return f
}

func contains(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

func containsMethod(set []paygate.Method, m paygate.Method) bool {
	for _, x := range set {
		if x == m {
			return true
		}
	}
	return false
}
