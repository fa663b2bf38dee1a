// Package sandbox holds what every channel simulator shares: the scenario
// table (README), chosen by the last four digits of a payment code or card
// number, and a notifier that delivers callbacks the way channels do.
//
// Each channel's simulator lives in its own subpackage and speaks that
// channel's real wire protocol, signatures included.
package sandbox

import (
	"strings"
	"time"
)

// Scenario is a deterministic behaviour of a simulated channel.
type Scenario int

const (
	// Succeed at once (any ending not listed below).
	Succeed Scenario = iota
	// ConfirmLater: "paying" for about ConfirmDelay, then success (ending 1111).
	ConfirmLater
	// NeverConfirm: "paying" forever; the order must end reversed (2222).
	NeverConfirm
	// Decline: insufficient balance, final (3333).
	Decline
	// TimeoutThenSucceed: the first call gets no answer; the payment did
	// succeed at the channel (4444).
	TimeoutThenSucceed
	// ErrorThenSucceed: system error on the first call; a query then shows
	// success (5555).
	ErrorThenSucceed
	// TripleCallback: success, and the callback is delivered 3 times,
	// concurrently (6666).
	TripleCallback
)

// ConfirmDelay is how long a ConfirmLater payment stays "paying".
const ConfirmDelay = 3 * time.Second

var endings = map[string]Scenario{
	"1111": ConfirmLater,
	"2222": NeverConfirm,
	"3333": Decline,
	"4444": TimeoutThenSucceed,
	"5555": ErrorThenSucceed,
	"6666": TripleCallback,
}

// ScenarioOf returns the scenario chosen by the last four characters of a
// payment code or card number.
func ScenarioOf(code string) Scenario {
	code = strings.TrimSpace(code)
	if len(code) < 4 {
		return Succeed
	}
	return endings[code[len(code)-4:]]
}

// String names the scenario.
func (s Scenario) String() string {
	switch s {
	case ConfirmLater:
		return "confirm_later"
	case NeverConfirm:
		return "never_confirm"
	case Decline:
		return "decline"
	case TimeoutThenSucceed:
		return "timeout_then_succeed"
	case ErrorThenSucceed:
		return "error_then_succeed"
	case TripleCallback:
		return "triple_callback"
	}
	return "succeed"
}

// Copies is how many times a callback is delivered at once for s.
func (s Scenario) Copies() int {
	if s == TripleCallback {
		return 3
	}
	return 1
}
