package routing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// Options configure a Router.
type Options struct {
	// Risk keeps the stateful risk rules' counters (windows, daily
	// totals; redisstore implements it); nil = the stateful risk rules
	// are off (stateless ones still apply).
	Risk paygate.RiskCounters
	// Now is the clock; default time.Now.
	Now paygate.Clock
	// Health tracks circuits and success rates; nil = a new one with
	// default HealthOptions. Wrap the channels with the same Health.
	Health *Health
	// ObserveRisk, when set, is told every risk decision on a payment
	// (not on quotes): the rule and its action, for /metrics.
	ObserveRisk func(rule, action string)
}

// Router chooses the provider of each payment (docs/routing.md): among the
// providers that may take it, the lowest fee, then the higher recent
// success rate, then the lower priority, then the id.
type Router struct {
	opts      Options
	providers []*provider
}

var _ paygate.Router = (*Router)(nil)

// methods in bit order
var allMethods = [...]paygate.Method{paygate.MethodAuthCode, paygate.MethodQR, paygate.MethodCard,
	paygate.MethodJSAPI, paygate.MethodH5, paygate.MethodApp, paygate.MethodWeb}

func methodIndex(m paygate.Method) int {
	for i, x := range allMethods {
		if x == m {
			return i
		}
	}
	return -1
}

// provider is a ProviderSpec prepared for fast decisions: its schedule,
// what it takes as bit sets, and its constant reasons.
type provider struct {
	spec      paygate.ProviderSpec
	fees      []paygate.FeeRule
	health    *providerHealth
	kindOK    uint16        // methods the kind implements (paygate.ChannelKinds)
	card      *paygate.Flow // the kind's card flow, nil if none
	specOK    uint16        // methods the provider is configured for
	networks  []string
	maxAmount int64

	whyKind     [len(allMethods)]string // "method card not supported by wechat"
	whySpec     [len(allMethods)]string // "method qr not enabled for provider up1"
	whyEntry    string
	whyNoRule   string
	whyLow      string
	whyHigh     string
	whyNotMerch string
}

// New prepares a Router over providers. It returns an error naming the
// provider at fault for an unknown kind, a duplicate id, invalid amount
// bounds, an unknown method or an invalid fee schedule (ValidateFees).
func New(providers []paygate.ProviderSpec, opts Options) (*Router, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Health == nil {
		opts.Health = NewHealth(HealthOptions{Now: opts.Now})
	}
	r := &Router{opts: opts}
	seen := map[string]bool{}
	for i, spec := range providers {
		at := "providers[" + strconv.Itoa(i) + "]"
		caps, ok := paygate.CapabilitiesOf(spec.Kind)
		switch {
		case spec.ID == "":
			return nil, fmt.Errorf("%s: id is required", at)
		case seen[spec.ID]:
			return nil, fmt.Errorf("%s %q: duplicate id", at, spec.ID)
		case !ok:
			return nil, fmt.Errorf("%s %q: unknown kind %q", at, spec.ID, spec.Kind)
		case spec.MinAmount < 0 || spec.MaxAmount < 0 || (spec.MaxAmount > 0 && spec.MinAmount > spec.MaxAmount):
			return nil, fmt.Errorf("%s %q: invalid amount bounds %d..%d", at, spec.ID, spec.MinAmount, spec.MaxAmount)
		}
		seen[spec.ID] = true
		if err := ValidateFees(spec.Fees, at+".fees"); err != nil {
			return nil, err
		}
		p := &provider{spec: spec, fees: spec.Fees, health: opts.Health.provider(spec.ID), networks: spec.Networks,
			maxAmount: spec.MaxAmount}
		if len(p.fees) == 0 {
			p.fees = DefaultFees(spec.Kind)
		}
		if len(p.networks) == 0 {
			p.networks = []string{paygate.NetworkUnionPay}
		}
		if p.maxAmount == 0 {
			p.maxAmount = paygate.MaxAmount
		}
		for _, f := range caps.Flows {
			p.kindOK |= 1 << methodIndex(f.Method)
		}
		p.card, _ = caps.Flow(paygate.MethodCard)
		p.specOK = p.kindOK
		if len(spec.Methods) > 0 {
			p.specOK = 0
			for _, m := range spec.Methods {
				j := methodIndex(m)
				if j < 0 {
					return nil, fmt.Errorf("%s %q: unknown method %q", at, spec.ID, m)
				}
				if p.kindOK&(1<<j) == 0 {
					return nil, fmt.Errorf("%s %q: method %s is not implemented by %s", at, spec.ID, m, spec.Kind)
				}
				p.specOK |= 1 << j
			}
		}
		for j, m := range allMethods {
			p.whyKind[j] = "method " + string(m) + " not supported by " + spec.Kind
			p.whySpec[j] = "method " + string(m) + " not enabled for provider " + spec.ID
		}
		if p.card != nil && len(p.card.EntryModes) > 0 {
			p.whyEntry = "entry mode not taken by " + spec.Kind + ": " + strings.Join(p.card.EntryModes, ", ") + " only"
		}
		p.whyNoRule = "no fee rule of " + spec.ID + " matches"
		p.whyLow = "amount below the provider minimum " + fen(spec.MinAmount)
		p.whyHigh = "amount above the provider maximum " + fen(p.maxAmount)
		p.whyNotMerch = "provider " + spec.ID + " not enabled for the merchant"
		r.providers = append(r.providers, p)
	}
	return r, nil
}

// Health returns the Health the Router consults.
func (r *Router) Health() *Health { return r.opts.Health }

// Quote decides as Route would, without recording anything: stateful risk
// rules are checked against the current state read-only.
// Returns ENOROUTE, ERISKDECLINED or ELOCATIONMISMATCH as Route does.
func (r *Router) Quote(ctx context.Context, req *paygate.RouteRequest) (*paygate.Route, error) {
	return r.route(ctx, req, true)
}

// Route decides for a real payment and records it in the risk state
// (windows, daily totals) in one call to Options.Risk. Every risk decision is
// in the returned Route's Risk. Returns ENOROUTE when no provider may take
// the payment, ERISKDECLINED (or ELOCATIONMISMATCH for the region policy)
// when a risk rule declines it, EUNAVAILABLE when the risk state cannot be
// reached, and EINVALID, EAMOUNTINVALID, EAMOUNTTOOLARGE, EUNSUPPORTED,
// EUNKNOWNCHANNEL or EPARAMMISSING for a request routing cannot read.
func (r *Router) Route(ctx context.Context, req *paygate.RouteRequest) (*paygate.Route, error) {
	return r.route(ctx, req, false)
}

const mccReason = "the merchant's registered MCC is sent unaltered"

func (r *Router) route(ctx context.Context, req *paygate.RouteRequest, dry bool) (*paygate.Route, error) {
	if err := checkRequest(req); err != nil {
		return nil, err
	}
	rules := req.Merchant.Risk
	if rules == nil {
		rules = &defaultRisk
	}
	out := riskOutcome{decisions: make([]paygate.RiskDecision, 0, 6)}
	if r.opts.ObserveRisk != nil && !dry {
		defer func() {
			for _, d := range out.decisions {
				r.opts.ObserveRisk(d.Rule, d.Action)
			}
		}()
	}
	out.add(RuleMCC, RiskPass, mccReason)
	statelessRisk(rules, req, &out)
	if out.declineCode != "" {
		return nil, out.declined()
	}
	route, err := r.decide(req, false)
	if err != nil {
		return nil, err
	}
	if err := r.statefulRisk(ctx, rules, req, dry, &out); err != nil {
		return nil, err
	}
	if out.declineCode != "" {
		return nil, out.declined()
	}
	if out.standardRate {
		if route, err = r.decide(req, true); err != nil {
			return nil, err
		}
	}
	route.Risk = out.decisions
	return route, nil
}

func checkRequest(req *paygate.RouteRequest) error {
	switch {
	case req == nil || req.Merchant == nil:
		return paygate.Errorf(paygate.EINVALID, "a route needs a merchant")
	case req.Amount <= 0:
		return paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive number of fen")
	case req.Amount > req.Merchant.Limit():
		return paygate.ParamErrorf(paygate.EAMOUNTTOOLARGE, "amount", "amount %d above the limit %d", req.Amount, req.Merchant.Limit())
	case !req.Method.Valid():
		return paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "unknown method %q", req.Method)
	case req.Method == paygate.MethodCard && req.Card == nil:
		return paygate.ParamErrorf(paygate.EPARAMMISSING, "card", "a card payment needs the card")
	}
	if req.Channel != "" {
		if _, ok := paygate.CapabilitiesOf(req.Channel); !ok {
			return paygate.ParamErrorf(paygate.EUNKNOWNCHANNEL, "channel", "unknown channel %q", req.Channel)
		}
	}
	return nil
}

// rankKey orders candidates: eligible ones by fee, success rate (higher
// first), priority, id; then the others in configuration order.
type rankKey struct {
	eligible   bool
	fee        int64
	rate       int
	priority   int
	id         string
	index      int
	start, end int32 // reason in the shared buffer, when end > 0
}

func (a *rankKey) before(b *rankKey) bool {
	if a.eligible != b.eligible {
		return a.eligible
	}
	if !a.eligible {
		return a.index < b.index
	}
	if a.fee != b.fee {
		return a.fee < b.fee
	}
	if a.rate != b.rate {
		return a.rate > b.rate
	}
	if a.priority != b.priority {
		return a.priority < b.priority
	}
	return a.id < b.id
}

// decide evaluates every provider for req: no I/O, and all reason text
// either constant or appended to one buffer turned into one string.
// standardRate withdraws the reduced rate: rules see the amount as above
// QuickPassLimit.
func (r *Router) decide(req *paygate.RouteRequest, standardRate bool) (*paygate.Route, error) {
	p := payment{amount: req.Amount, match: req.Amount, method: req.Method, mcc: req.Merchant.MCC}
	if standardRate && p.match <= QuickPassLimit {
		p.match = QuickPassLimit + 1
	}
	if req.Method == paygate.MethodCard {
		p.card = req.Card
		p.network = req.Card.Network
		if p.network == "" {
			p.network = paygate.NetworkUnionPay
		}
	}
	mbit := uint16(1) << methodIndex(req.Method)
	mi := methodIndex(req.Method)

	n := len(r.providers)
	var keyBuf [16]rankKey
	var candBuf [16]paygate.RouteCandidate
	var orderBuf [16]int
	keys, local, order := keyBuf[:0], candBuf[:n:n], orderBuf[:n:n]
	if n > len(keyBuf) {
		keys, local, order = make([]rankKey, 0, n), make([]paygate.RouteCandidate, n), make([]int, n)
	}
	buf := make([]byte, 0, 40*n)
	eligible := 0
	for i, pv := range r.providers {
		c := &local[i]
		c.Provider, c.Channel = pv.spec.ID, pv.spec.Kind
		k := rankKey{index: i, id: pv.spec.ID, priority: pv.spec.Priority}
		switch {
		case pv.spec.Disabled:
			c.Reason = "provider disabled"
		case req.Channel != "" && req.Channel != pv.spec.Kind:
			k.start = int32(len(buf))
			buf = append(buf, "channel "...)
			buf = append(buf, req.Channel...)
			buf = append(buf, " requested"...)
			k.end = int32(len(buf))
		case pv.kindOK&mbit == 0:
			c.Reason = pv.whyKind[mi]
		case p.card != nil && !pv.card.Takes(p.card.EntryMode):
			c.Reason = pv.whyEntry
		case p.card != nil && !contains(pv.networks, p.network):
			k.start = int32(len(buf))
			buf = append(buf, "card network "...)
			buf = append(buf, p.network...)
			buf = append(buf, " not accepted by "...)
			buf = append(buf, pv.spec.ID...)
			k.end = int32(len(buf))
		case pv.specOK&mbit == 0:
			c.Reason = pv.whySpec[mi]
		default:
			rule := firstMatch(&p, req.Merchant.Contracts[pv.spec.ID], pv.fees)
			if rule == nil {
				c.Reason = pv.whyNoRule
				break
			}
			c.Fee = FeeFor(p.amount, rule)
			c.Rule, c.FeeRate, c.FeeCap = rule.Name, rule.Rate, rule.Cap
			k.fee = c.Fee
			switch {
			case req.Amount < pv.spec.MinAmount:
				c.Reason = pv.whyLow
			case req.Amount > pv.maxAmount:
				c.Reason = pv.whyHigh
			case !req.Merchant.Enabled(pv.spec.ID):
				c.Reason = pv.whyNotMerch
			default:
				ok, state, since, rate := r.opts.Health.routable(pv.health, r.opts.Now)
				k.rate = rate
				if !ok {
					k.start = int32(len(buf))
					if state == CircuitHalfOpen {
						buf = append(buf, "circuit half-open since "...)
					} else {
						buf = append(buf, "circuit open since "...)
					}
					buf = since.UTC().AppendFormat(buf, time.RFC3339)
					buf = append(buf, ", fee would be "...)
					buf = strconv.AppendInt(buf, c.Fee, 10)
					k.end = int32(len(buf))
					break
				}
				c.Eligible, k.eligible = true, true
				eligible++
				k.start = int32(len(buf))
				buf = append(buf, "fee "...)
				buf = strconv.AppendInt(buf, c.Fee, 10)
				buf = append(buf, " by "...)
				buf = append(buf, rule.Name...)
				if state == CircuitOpen {
					buf = append(buf, " (circuit open: probe)"...)
				}
				k.end = int32(len(buf))
			}
		}
		keys = append(keys, k)
	}
	// Insertion sort of indexes: a handful of providers.
	for i := range order {
		order[i] = i
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && keys[order[j]].before(&keys[order[j-1]]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	var s string
	if len(buf) > 0 {
		s = string(buf)
	}
	cands := make([]paygate.RouteCandidate, n)
	for j, i := range order {
		cands[j] = local[i]
		if k := &keys[i]; k.end > 0 {
			cands[j].Reason = s[k.start:k.end]
		}
	}
	if eligible == 0 {
		return nil, noRoute(cands)
	}
	best := &cands[0]
	route := &paygate.Route{Provider: best.Provider, Channel: best.Channel, FeeRate: best.FeeRate,
		Fee: best.Fee, Rule: best.Rule, Candidates: cands}
	if best.FeeCap > 0 {
		route.FeeCap = &best.FeeCap
	}
	return route, nil
}

func noRoute(cands []paygate.RouteCandidate) error {
	var b strings.Builder
	b.WriteString("no provider may take the payment")
	for i, c := range cands {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(c.Provider)
		b.WriteString(": ")
		b.WriteString(c.Reason)
	}
	return &paygate.Error{Code: paygate.ENOROUTE, Message: b.String()}
}

// NextEligible returns the best eligible candidate of route other than the
// providers in failed, in the route's ranked order.
func NextEligible(route *paygate.Route, failed ...string) (paygate.RouteCandidate, bool) {
	for _, c := range route.Candidates {
		if c.Eligible && !contains(failed, c.Provider) {
			return c, true
		}
	}
	return paygate.RouteCandidate{}, false
}

// Fallback moves route off provider failed, which refused the payment
// before anything was sent (ECHANNELUNAVAILABLE): the failed candidate
// becomes ineligible with reason, and the next eligible candidate becomes
// the route's provider, fee and rule. It returns false, leaving the route's
// provider as it was, when no candidate is left.
func Fallback(route *paygate.Route, failed, reason string) bool {
	at := -1
	for i := range route.Candidates {
		if route.Candidates[i].Provider == failed {
			at = i
			break
		}
	}
	if at < 0 {
		return false
	}
	c := route.Candidates[at]
	c.Eligible = false
	c.Reason = reason
	// Keep eligible candidates first, the failed one right behind them.
	cs := route.Candidates
	ordered := make([]paygate.RouteCandidate, 0, len(cs))
	for _, x := range cs {
		if x.Eligible && x.Provider != failed {
			ordered = append(ordered, x)
		}
	}
	ordered = append(ordered, c)
	for _, x := range cs {
		if !x.Eligible && x.Provider != failed {
			ordered = append(ordered, x)
		}
	}
	copy(cs, ordered)
	next, ok := NextEligible(route)
	if !ok {
		return false
	}
	route.Provider, route.Channel, route.Fee, route.Rule, route.FeeRate = next.Provider, next.Channel, next.Fee, next.Rule, next.FeeRate
	route.FeeCap = nil
	if next.FeeCap > 0 {
		v := next.FeeCap
		route.FeeCap = &v
	}
	return true
}
