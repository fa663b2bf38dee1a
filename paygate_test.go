package paygate_test

import (
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

func TestFeeRounding(t *testing.T) {
	d := decimal.RequireFromString
	for _, tc := range []struct {
		amount   int64
		rate     string
		min, cap int64
		want     int64
	}{
		{1234, "0.006", 0, 0, 7},             // 7.404 → 7
		{250, "0.006", 0, 0, 2},              // 1.5 → 2: half-up
		{249, "0.006", 0, 0, 1},              // 1.494 → 1
		{1, "0.006", 0, 0, 0},                // 0.006 → 0
		{1, "0.006", 1, 0, 1},                // minimum
		{1_000_000, "0.0055", 0, 2000, 2000}, // debit cap 20.00
		{100000, "0.0038", 0, 0, 380},
		{100, "0", 0, 0, 0},
		{0, "0.006", 0, 0, 0},
		{5, "0.5", 10, 0, 5}, // never more than the amount
	} {
		if got := paygate.Fee(tc.amount, d(tc.rate), tc.min, tc.cap); got != tc.want {
			t.Errorf("Fee(%d, %s, %d, %d) = %d, want %d", tc.amount, tc.rate, tc.min, tc.cap, got, tc.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	ok := [][2]paygate.OrderStatus{
		{paygate.OrderPending, paygate.OrderSucceeded},
		{paygate.OrderClosed, paygate.OrderSucceeded}, // late success is recorded
		{paygate.OrderSucceeded, paygate.OrderReversed},
		{paygate.OrderPartiallyRefunded, paygate.OrderRefunded},
	}
	for _, p := range ok {
		if !paygate.CanTransition(p[0], p[1]) {
			t.Errorf("%s → %s should be allowed", p[0], p[1])
		}
	}
	bad := [][2]paygate.OrderStatus{
		{paygate.OrderReversed, paygate.OrderSucceeded},
		{paygate.OrderRefunded, paygate.OrderSucceeded},
		{paygate.OrderSucceeded, paygate.OrderFailed},
		{paygate.OrderSucceeded, paygate.OrderClosed},
	}
	for _, p := range bad {
		if paygate.CanTransition(p[0], p[1]) {
			t.Errorf("%s → %s should be refused", p[0], p[1])
		}
	}
}

func TestDetectAuthCode(t *testing.T) {
	r := paygate.DefaultAuthCodeRules
	for code, want := range map[string]string{
		"134567890123456789":        paygate.KindWeChat,
		"287654321098765432":        paygate.KindAlipay,
		"2876543210987654":          paygate.KindAlipay,
		"6212345678901234567":       paygate.KindUnionPay,
		"0112345678901234567":       paygate.KindECNY,
		"164567890123456789":        "",
		"13456789012345678":         "", // 17 digits
		"13456789012345678a":        "",
		"":                          "",
		"2876543210987654321098765": "", // 25 digits
	} {
		got, ok := paygate.DetectAuthCode(r, code)
		if got != want || ok != (want != "") {
			t.Errorf("DetectAuthCode(%q) = %q, %v; want %q", code, got, ok, want)
		}
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	a := paygate.NewID(paygate.PrefixOrder, t0)
	b := paygate.NewID(paygate.PrefixOrder, t0.Add(time.Millisecond))
	if !(a < b) || len(a) != 28 {
		t.Fatalf("ids %q %q", a, b)
	}
}

func TestMaskPAN(t *testing.T) {
	if got := paygate.MaskPAN("6222021234567890123"); got != "622202*********0123" {
		t.Fatal(got)
	}
	if got := (paygate.CardData{PAN: "6222021234567890123"}).String(); got != "622202*********0123" {
		t.Fatal(got)
	}
}
