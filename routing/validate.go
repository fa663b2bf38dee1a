package routing

import (
	"fmt"
	"strconv"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

// FeeRuleError names a fee rule that configuration must not accept.
type FeeRuleError struct {
	Path  string // e.g. "providers[2].fees"
	Index int
	Name  string
	Msg   string
}

// Error reads `providers[2].fees[1] "card.debit": cap 100 below min 200`.
func (e *FeeRuleError) Error() string {
	return e.Path + "[" + strconv.Itoa(e.Index) + "] " + strconv.Quote(e.Name) + ": " + e.Msg
}

var one = decimal.NewFromInt(1)

// ValidateFees checks one fee schedule (a provider's rules, or one merchant
// contract for one provider) and returns a *FeeRuleError naming the first
// rule at fault, path being where the schedule sits in configuration.
//
// Each rule must have a unique name, a rate in [0, 1], non-negative cap and
// minimum with the cap not below the minimum, min_amount ≤ max_amount,
// and only known methods, entry modes and card types.
//
// Rules are tried in order and the first match wins, so an earlier rule
// may carve an exception out of a later, broader one. Two rules conflict
// when some payment can match both (every condition intersects: a condition
// left empty is "anything"; the amount ranges overlap) and they price it
// differently (rate, cap or minimum differ), unless the earlier rule is
// strictly more specific than the later one:
//
//   - it constrains more of the six conditions (methods, entry modes, card
//     types, networks, amount range, MCCs) than the later one, or
//   - it constrains the same conditions and each of its sets lies within
//     the later rule's (its amount range within the later one's), not all
//     equal.
//
// A later rule that is as or more specific than an earlier overlapping one
// with another price is either dead (shadowed) or ambiguous, and rejected.
func ValidateFees(rules []paygate.FeeRule, path string) error {
	names := make(map[string]int, len(rules))
	for i := range rules {
		r := &rules[i]
		bad := func(format string, args ...any) error {
			return &FeeRuleError{Path: path, Index: i, Name: r.Name, Msg: fmt.Sprintf(format, args...)}
		}
		switch {
		case r.Name == "":
			return bad("name is required")
		case r.Rate.Sign() < 0:
			return bad("negative rate %s", r.Rate)
		case r.Rate.GreaterThan(one):
			return bad("rate %s above 1", r.Rate)
		case r.Cap < 0:
			return bad("negative cap %d", r.Cap)
		case r.Min < 0:
			return bad("negative min %d", r.Min)
		case r.Cap > 0 && r.Cap < r.Min:
			return bad("cap %d below min %d", r.Cap, r.Min)
		case r.MinAmount < 0:
			return bad("negative min_amount %d", r.MinAmount)
		case r.MaxAmount < 0:
			return bad("negative max_amount %d", r.MaxAmount)
		case r.MaxAmount > 0 && r.MinAmount > r.MaxAmount:
			return bad("min_amount %d above max_amount %d", r.MinAmount, r.MaxAmount)
		}
		if j, dup := names[r.Name]; dup {
			return bad("name also used by rule %d", j)
		}
		names[r.Name] = i
		for _, m := range r.Methods {
			if !m.Valid() {
				return bad("unknown method %q", m)
			}
		}
		for _, e := range r.EntryModes {
			if e != paygate.EntryContactless && e != paygate.EntryChip && e != paygate.EntrySwipe {
				return bad("unknown entry mode %q", e)
			}
		}
		for _, t := range r.CardTypes {
			if t != paygate.CardCredit && t != paygate.CardDebit {
				return bad("unknown card type %q", t)
			}
		}
		for _, n := range r.Networks {
			if n == "" {
				return bad("empty network")
			}
		}
		for j := 0; j < i; j++ {
			e := &rules[j]
			if samePrice(e, r) || !overlap(e, r) || moreSpecific(e, r) {
				continue
			}
			return bad("contradicts rule %d %q: a payment can match both at another price and the earlier rule is not more specific", j, e.Name)
		}
	}
	return nil
}

func samePrice(a, b *paygate.FeeRule) bool {
	return a.Rate.Equal(b.Rate) && a.Cap == b.Cap && a.Min == b.Min
}

func maxOf(r *paygate.FeeRule) int64 {
	if r.MaxAmount == 0 {
		return paygate.MaxAmount * 1_000_000 // unbounded
	}
	return r.MaxAmount
}

// overlap reports whether some payment can match both rules.
func overlap(a, b *paygate.FeeRule) bool {
	if a.MinAmount > maxOf(b) || b.MinAmount > maxOf(a) {
		return false
	}
	return intersects(methodStrings(a.Methods), methodStrings(b.Methods)) &&
		intersects(a.EntryModes, b.EntryModes) && intersects(a.CardTypes, b.CardTypes) &&
		intersects(a.Networks, b.Networks) && intersects(a.MCCs, b.MCCs)
}

// moreSpecific reports whether a is strictly more specific than b (see
// ValidateFees).
func moreSpecific(a, b *paygate.FeeRule) bool {
	ca, cb := constrained(a), constrained(b)
	if ca != cb {
		return count(ca) > count(cb)
	}
	am, bm := methodStrings(a.Methods), methodStrings(b.Methods)
	within := subset(am, bm) && subset(a.EntryModes, b.EntryModes) && subset(a.CardTypes, b.CardTypes) &&
		subset(a.Networks, b.Networks) && subset(a.MCCs, b.MCCs) &&
		a.MinAmount >= b.MinAmount && maxOf(a) <= maxOf(b)
	equal := len(am) == len(bm) && len(a.EntryModes) == len(b.EntryModes) &&
		len(a.CardTypes) == len(b.CardTypes) && len(a.Networks) == len(b.Networks) &&
		len(a.MCCs) == len(b.MCCs) && a.MinAmount == b.MinAmount && maxOf(a) == maxOf(b)
	return within && !equal
}

// constrained returns a bit per condition the rule sets.
func constrained(r *paygate.FeeRule) uint8 {
	var c uint8
	for i, set := range []bool{len(r.Methods) > 0, len(r.EntryModes) > 0, len(r.CardTypes) > 0,
		len(r.Networks) > 0, r.MinAmount > 0 || r.MaxAmount > 0, len(r.MCCs) > 0} {
		if set {
			c |= 1 << i
		}
	}
	return c
}

func count(c uint8) int {
	n := 0
	for ; c != 0; c &= c - 1 {
		n++
	}
	return n
}

func methodStrings(ms []paygate.Method) []string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return s
}

// intersects treats an empty set as everything.
func intersects(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if contains(b, x) {
			return true
		}
	}
	return false
}

// subset reports a ⊆ b, an empty set being everything.
func subset(a, b []string) bool {
	if len(b) == 0 {
		return true
	}
	if len(a) == 0 {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}
