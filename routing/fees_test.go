package routing

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

func card(entry, typ string) *paygate.CardInfo {
	return &paygate.CardInfo{EntryMode: entry, Type: typ, Network: paygate.NetworkUnionPay}
}

// evalFee prices one payment on one provider's schedule, the merchant's
// contract first.
func evalFee(t *testing.T, kind string, contract []paygate.FeeRule, method paygate.Method, c *paygate.CardInfo, amount int64) (int64, string) {
	t.Helper()
	p := payment{amount: amount, match: amount, method: method, card: c, mcc: "5812"}
	if c != nil {
		p.network = c.Network
	}
	r := firstMatch(&p, contract, DefaultFees(kind))
	if r == nil {
		t.Fatalf("no rule matches %s %v %d", kind, method, amount)
	}
	return FeeFor(amount, r), r.Name
}

func rules(name, rate string) []paygate.FeeRule {
	return []paygate.FeeRule{{Name: name, Rate: decimal.RequireFromString(rate)}}
}

func TestFees(t *testing.T) {
	const (
		tap   = paygate.EntryContactless
		chip  = paygate.EntryChip
		swipe = paygate.EntrySwipe
		cr    = paygate.CardCredit
		db    = paygate.CardDebit
	)
	tests := []struct {
		name     string
		kind     string
		contract []paygate.FeeRule
		method   paygate.Method
		card     *paygate.CardInfo
		amount   int64
		fee      int64
		rule     string
	}{
		{"contactless credit at 1000.00", "unionpay", nil, "card", card(tap, cr), 100000, 380, "unionpay.quickpass_le_1000"},
		{"contactless credit at 1000.01", "unionpay", nil, "card", card(tap, cr), 100001, 600, "card.credit"},
		{"contactless debit at 1000.00", "unionpay", nil, "card", card(tap, db), 100000, 380, "unionpay.quickpass_le_1000"},
		{"contactless debit at 1000.01", "unionpay", nil, "card", card(tap, db), 100001, 550, "card.debit"},
		{"chip credit below", "acquirer", nil, "card", card(chip, cr), 99999, 600, "card.credit"},
		{"chip credit above", "acquirer", nil, "card", card(chip, cr), 100001, 600, "card.credit"},
		{"swipe debit below", "acquirer", nil, "card", card(swipe, db), 99999, 550, "card.debit"},
		{"swipe debit above", "acquirer", nil, "card", card(swipe, db), 200000, 1100, "card.debit"},
		{"chip on unionpay schedule below", "unionpay", nil, "card", card(chip, cr), 50000, 300, "card.credit"},
		{"debit cap reached", "acquirer", nil, "card", card(chip, db), 363637, 2000, "card.debit"},
		{"debit just under cap", "acquirer", nil, "card", card(chip, db), 363636, 2000, "card.debit"},
		{"debit far above cap", "acquirer", nil, "card", card(swipe, db), 4000000, 2000, "card.debit"},
		{"debit contactless above 1000 capped", "unionpay", nil, "card", card(tap, db), 1000000, 2000, "card.debit"},
		{"half-up at .5 fen (0.38% of 12500 = 47.5)", "unionpay", nil, "card", card(tap, cr), 12500, 48, "unionpay.quickpass_le_1000"},
		{"below .5 fen rounds down (0.38% of 12499 = 47.4962)", "unionpay", nil, "card", card(tap, cr), 12499, 47, "unionpay.quickpass_le_1000"},
		{"half-up at .5 fen credit (0.6% of 250 = 1.5)", "acquirer", nil, "card", card(chip, cr), 250, 2, "card.credit"},
		{"unionpay QR at 1000.00", "unionpay", nil, "qr", nil, 100000, 380, "unionpay.qr_le_1000"},
		{"unionpay QR above 1000.00", "unionpay", nil, "auth_code", nil, 100001, 600, "unionpay.qr_standard"},
		{"wechat default", "wechat", nil, "auth_code", nil, 1234, 7, "wechat.default"},
		{"wechat contract 0.38%", "wechat", rules("wechat.contract", "0.0038"), "qr", nil, 10000, 38, "wechat.contract"},
		{"alipay contract 0.20%", "alipay", rules("alipay.contract", "0.002"), "auth_code", nil, 10000, 20, "alipay.contract"},
		{"alipay contract zero", "alipay", rules("alipay.zero", "0"), "auth_code", nil, 10000, 0, "alipay.zero"},
		{"alipay default", "alipay", nil, "web", nil, 10000, 60, "alipay.default"},
		{"e-CNY zero", "ecny", nil, "auth_code", nil, 5000000, 0, "ecny.default"},
		{"1 fen contactless", "unionpay", nil, "card", card(tap, db), 1, 0, "unionpay.quickpass_le_1000"},
		{"1 fen wechat", "wechat", nil, "auth_code", nil, 1, 0, "wechat.default"},
		{"1 fen debit", "acquirer", nil, "card", card(chip, db), 1, 0, "card.debit"},
		{"card of unknown type", "acquirer", nil, "card", card(chip, ""), 10000, 60, "card.standard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fee, rule := evalFee(t, tt.kind, tt.contract, tt.method, tt.card, tt.amount)
			if fee != tt.fee || rule != tt.rule {
				t.Errorf("fee %d by %s, want %d by %s", fee, rule, tt.fee, tt.rule)
			}
		})
	}
}

func TestFeeMinimumThenCap(t *testing.T) {
	r := paygate.FeeRule{Name: "x", Rate: decimal.RequireFromString("0.006"), Min: 100, Cap: 150}
	for _, tc := range []struct{ amount, fee int64 }{{1000, 100}, {20000, 120}, {100000, 150}, {50, 50}} {
		if got := FeeFor(tc.amount, &r); got != tc.fee {
			t.Errorf("FeeFor(%d) = %d, want %d", tc.amount, got, tc.fee)
		}
	}
}

// The allocation-free arithmetic must equal paygate.Fee, the one rounding
// rule, everywhere.
func TestFeeForEqualsPaygateFee(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rates := []string{"0", "0.0038", "0.006", "0.0055", "0.002", "1", "0.5", "0.000001", "0.123456789012345678", "0.00000000000000000001"}
	for i := 0; i < 20000; i++ {
		rate := decimal.RequireFromString(rates[rng.IntN(len(rates))])
		amount := rng.Int64N(10_000_000_000) + 1
		if i%3 == 0 {
			amount = rng.Int64N(1000) + 1
		}
		min, cap := int64(0), int64(0)
		if i%5 == 0 {
			min, cap = rng.Int64N(500), rng.Int64N(5000)
		}
		if got, want := fee(amount, rate, min, cap), paygate.Fee(amount, rate, min, cap); got != want {
			t.Fatalf("fee(%d, %s, %d, %d) = %d, paygate.Fee = %d", amount, rate, min, cap, got, want)
		}
	}
}

func TestDefaultFeesValid(t *testing.T) {
	for _, kind := range []string{"unionpay", "acquirer", "wechat", "alipay", "ecny"} {
		if err := ValidateFees(DefaultFees(kind), kind); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	if DefaultFees("bitcoin") != nil {
		t.Error("unknown kind has a schedule")
	}
}

func TestValidateFeesRejects(t *testing.T) {
	d := decimal.RequireFromString
	ok := paygate.FeeRule{Name: "ok", Rate: d("0.006")}
	tests := []struct {
		name  string
		rules []paygate.FeeRule
		want  string
	}{
		{"negative rate", []paygate.FeeRule{{Name: "neg", Rate: d("-0.001")}}, `providers[2].fees[0] "neg": negative rate -0.001`},
		{"rate above 1", []paygate.FeeRule{{Name: "big", Rate: d("1.5")}}, `providers[2].fees[0] "big": rate 1.5 above 1`},
		{"cap below min", []paygate.FeeRule{ok, {Name: "card.debit", Rate: d("0.0055"), Cap: 100, Min: 200, CardTypes: []string{"debit"}}},
			`providers[2].fees[1] "card.debit": cap 100 below min 200`},
		{"min_amount above max_amount", []paygate.FeeRule{{Name: "r", Rate: d("0.01"), MinAmount: 500, MaxAmount: 100}}, `min_amount 500 above max_amount 100`},
		{"unknown method", []paygate.FeeRule{{Name: "r", Rate: d("0.01"), Methods: []paygate.Method{"cash"}}}, `unknown method "cash"`},
		{"unknown entry mode", []paygate.FeeRule{{Name: "r", Rate: d("0.01"), EntryModes: []string{"magic"}}}, `unknown entry mode "magic"`},
		{"unknown card type", []paygate.FeeRule{{Name: "r", Rate: d("0.01"), CardTypes: []string{"prepaid"}}}, `unknown card type "prepaid"`},
		{"missing name", []paygate.FeeRule{{Rate: d("0.01")}}, `name is required`},
		{"duplicate name", []paygate.FeeRule{ok, ok}, `"ok": name also used by rule 0`},
		{"same conditions, other rate", []paygate.FeeRule{
			{Name: "a", Rate: d("0.006"), CardTypes: []string{"credit"}},
			{Name: "b", Rate: d("0.005"), CardTypes: []string{"credit"}}}, `[1] "b": contradicts rule 0 "a"`},
		{"later rule shadowed", []paygate.FeeRule{
			{Name: "all", Rate: d("0.006")},
			{Name: "quickpass", Rate: d("0.0038"), EntryModes: []string{"contactless"}, MaxAmount: 100000}}, `"quickpass": contradicts rule 0 "all"`},
		{"broader set first", []paygate.FeeRule{
			{Name: "tap_or_chip", Rate: d("0.005"), EntryModes: []string{"contactless", "chip"}},
			{Name: "tap", Rate: d("0.0038"), EntryModes: []string{"contactless"}}}, `"tap": contradicts rule 0 "tap_or_chip"`},
		{"ambiguous partial overlap", []paygate.FeeRule{
			{Name: "credit", Rate: d("0.006"), CardTypes: []string{"credit"}},
			{Name: "tap", Rate: d("0.0038"), EntryModes: []string{"contactless"}}}, `"tap": contradicts rule 0 "credit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFees(tt.rules, "providers[2].fees")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if _, ok := err.(*FeeRuleError); !ok {
				t.Errorf("error is %T", err)
			}
		})
	}
}

func TestValidateFeesAccepts(t *testing.T) {
	d := decimal.RequireFromString
	good := [][]paygate.FeeRule{
		{ // exception first, then the general rules
			{Name: "tap", Rate: d("0.0038"), EntryModes: []string{"contactless"}, MaxAmount: 100000},
			{Name: "credit", Rate: d("0.006"), CardTypes: []string{"credit"}},
			{Name: "debit", Rate: d("0.0055"), Cap: 2000, CardTypes: []string{"debit"}},
		},
		{ // disjoint amount ranges
			{Name: "small", Rate: d("0.003"), MaxAmount: 1000},
			{Name: "large", Rate: d("0.006"), MinAmount: 1001},
		},
		{ // overlapping at the same price
			{Name: "a", Rate: d("0.006"), CardTypes: []string{"credit"}},
			{Name: "b", Rate: d("0.006")},
		},
		{ // a subset of the same conditions first
			{Name: "tap", Rate: d("0.0038"), EntryModes: []string{"contactless"}},
			{Name: "tap_or_chip", Rate: d("0.005"), EntryModes: []string{"contactless", "chip"}},
		},
	}
	for i, rs := range good {
		if err := ValidateFees(rs, "fees"); err != nil {
			t.Errorf("%d: %v", i, err)
		}
	}
}

func FuzzFeeFor(f *testing.F) {
	f.Add(int64(12500), "0.0038", int64(0), int64(0))
	f.Add(int64(363637), "0.0055", int64(0), int64(2000))
	f.Fuzz(func(t *testing.T, amount int64, rate string, min, cap int64) {
		r, err := decimal.NewFromString(rate)
		if err != nil || r.Exponent() < -40 || r.Exponent() > 40 {
			return
		}
		if got, want := fee(amount, r, min, cap), paygate.Fee(amount, r, min, cap); got != want {
			t.Fatalf("fee(%d, %s, %d, %d) = %d, paygate.Fee = %d", amount, r, min, cap, got, want)
		}
	})
}
