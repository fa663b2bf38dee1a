package routing

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// Risk rule names as they appear in Route.Risk.
const (
	RuleSplitPayment     = "split_payment"
	RulePerPayment       = "per_payment"
	RulePerPayerDaily    = "per_payer_daily"
	RulePerTerminalDaily = "per_terminal_daily"
	RuleStaticQRDaily    = "static_qr_payer_daily"
	RuleRegion           = "region"
	RuleMCC              = "mcc_integrity"
)

// RiskPass is the action recorded for a rule that found nothing.
const RiskPass = "pass"

// StaticQRDailyLimit is PBOC 银发〔2017〕296号's static QR ceiling per payer
// per day: 500.00 CNY.
const StaticQRDailyLimit int64 = 50000

// DefaultRiskRules are the controls of a merchant that configures none:
// the static QR limit (declined above 500.00 per payer per day), split
// payment detection (10 minutes, 1000.00, standard rate; near-identical
// means within 1.00 of each other, three in the window) and a region
// mismatch flagged. The other limits are off.
func DefaultRiskRules() paygate.RiskRules {
	return paygate.RiskRules{
		SplitPayment: &paygate.SplitPaymentRule{
			Window: 10 * time.Minute, Tolerance: 100, Threshold: QuickPassLimit, MinCount: 3,
			Action: paygate.RiskStandardRate,
		},
		StaticQRPayerDaily: &paygate.Limit{Max: StaticQRDailyLimit, Action: paygate.RiskDecline},
		RegionPolicy:       paygate.RiskFlag,
	}
}

var defaultRisk = DefaultRiskRules()

// cst is China Standard Time: a "day" of the daily limits.
var cst = time.FixedZone("CST", 8*3600)

// riskOutcome is what the risk rules decided.
type riskOutcome struct {
	decisions    []paygate.RiskDecision
	standardRate bool   // the reduced rate is withdrawn
	declineCode  string // ERISKDECLINED or ELOCATIONMISMATCH; "" = go ahead
	declineMsg   string
	declineRule  string
}

// declined is the error of a declined outcome.
func (o *riskOutcome) declined() error {
	return &paygate.RiskDeclined{Rule: o.declineRule, Err: paygate.Errorf(o.declineCode, "%s", o.declineMsg)}
}

func (o *riskOutcome) add(rule, action, reason string) {
	o.decisions = append(o.decisions, paygate.RiskDecision{Rule: rule, Action: action, Reason: reason})
	switch action {
	case paygate.RiskDecline:
		if o.declineCode == "" {
			o.declineCode = paygate.ERISKDECLINED
			o.declineMsg = rule + ": " + reason
			o.declineRule = rule
		}
	case paygate.RiskStandardRate:
		o.standardRate = true
	}
}

// actionOf returns a configured action, decline when unset.
func actionOf(a string) string {
	if a == "" {
		return paygate.RiskDecline
	}
	return a
}

func fen(n int64) string { return strconv.FormatInt(n, 10) }

// statelessRisk applies the rules that need no stored state: the
// per-payment limit and the region policy.
func statelessRisk(rules *paygate.RiskRules, req *paygate.RouteRequest, out *riskOutcome) {
	if l := rules.PerPayment; l != nil && l.Max > 0 {
		if req.Amount > l.Max {
			out.add(RulePerPayment, actionOf(l.Action), "amount "+fen(req.Amount)+" above "+fen(l.Max))
		} else {
			out.add(RulePerPayment, RiskPass, "within the per-payment limit")
		}
	}
	if rules.RegionPolicy != "" && req.TerminalRegion != "" && req.Location != nil && req.Location.RegionCode != "" {
		if inRegion(req.TerminalRegion, req.Location.RegionCode) {
			out.add(RuleRegion, RiskPass, "reported region within the terminal's")
		} else {
			action := paygate.RiskFlag
			if rules.RegionPolicy == paygate.RiskDecline {
				action = paygate.RiskDecline
			}
			first := out.declineCode == ""
			out.add(RuleRegion, action, "terminal registered in "+req.TerminalRegion+" reported "+req.Location.RegionCode)
			if action == paygate.RiskDecline && first {
				out.declineCode = paygate.ELOCATIONMISMATCH
				out.declineRule = RuleRegion
			}
		}
	}
}

// inRegion reports whether division code got lies within registered: the
// registered code's trailing "00" pairs are wildcards, so a terminal
// registered at 310000 (Shanghai) may report 310115 (Pudong).
func inRegion(registered, got string) bool {
	prefix := registered
	for len(prefix) >= 2 && strings.HasSuffix(prefix, "00") {
		prefix = prefix[:len(prefix)-2]
	}
	return strings.HasPrefix(got, prefix)
}

// statefulRisk applies the rules whose state Options.Risk keeps, in one
// call; dry runs check without recording (quotes).
func (r *Router) statefulRisk(ctx context.Context, rules *paygate.RiskRules, req *paygate.RouteRequest, dry bool, out *riskOutcome) error {
	if r.opts.Risk == nil {
		return nil
	}
	c := paygate.RiskCheck{MerchantID: req.Merchant.ID, Amount: req.Amount, Dry: dry}
	active := false
	sp := rules.SplitPayment
	if sp != nil && sp.Window > 0 && req.PayerKey != "" {
		thr := sp.Threshold
		if thr <= 0 {
			thr = QuickPassLimit
		}
		c.Split = paygate.SplitCheck{PayerKey: req.PayerKey, Window: sp.Window, Tolerance: sp.Tolerance,
			Threshold: thr, MinCount: sp.MinCount, Declines: declines(sp.Action)}
		active = true
	}
	if l := rules.PerPayerDaily; l != nil && l.Max > 0 && req.PayerKey != "" {
		c.PayerDaily = paygate.DailyCheck{Key: req.PayerKey, Max: l.Max, Declines: declines(l.Action)}
		active = true
	}
	if l := rules.PerTerminalDaily; l != nil && l.Max > 0 && req.TerminalID != "" {
		c.TerminalDaily = paygate.DailyCheck{Key: req.TerminalID, Max: l.Max, Declines: declines(l.Action)}
		active = true
	}
	if l := rules.StaticQRPayerDaily; l != nil && l.Max > 0 && req.StaticQR && req.PayerKey != "" {
		c.StaticQRPayerDaily = paygate.DailyCheck{Key: req.PayerKey, Max: l.Max, Declines: declines(l.Action)}
		active = true
	}
	if !active {
		return nil
	}
	c.At = r.opts.Now()
	c.Day = c.At.In(cst).Format("20060102")
	v, err := r.opts.Risk.CountRisk(ctx, c)
	if err != nil {
		return paygate.Errorf(paygate.EUNAVAILABLE, "risk state unavailable")
	}
	if c.Split.PayerKey != "" {
		switch v.Split {
		case paygate.SplitSumCrosses:
			out.add(RuleSplitPayment, actionOf(sp.Action), "payment "+fen(v.WindowCount+1)+" by this payer within "+sp.Window.String()+
				": together "+fen(v.WindowSum+req.Amount)+" crosses "+fen(c.Split.Threshold)+" while each is at most that")
		case paygate.SplitNearIdentical:
			out.add(RuleSplitPayment, actionOf(sp.Action), fen(v.NearCount+1)+" near-identical payments (within "+fen(sp.Tolerance)+
				") by this payer within "+sp.Window.String())
		default:
			out.add(RuleSplitPayment, RiskPass, "no split pattern in the window")
		}
	}
	limit := func(rule string, l *paygate.Limit, t paygate.DailyTally) {
		if t.Over {
			out.add(rule, actionOf(l.Action), "today "+fen(t.Total)+" + "+fen(req.Amount)+" above "+fen(l.Max))
		} else {
			out.add(rule, RiskPass, "within the daily limit")
		}
	}
	if c.PayerDaily.Key != "" {
		limit(RulePerPayerDaily, rules.PerPayerDaily, v.PayerDaily)
	}
	if c.TerminalDaily.Key != "" {
		limit(RulePerTerminalDaily, rules.PerTerminalDaily, v.TerminalDaily)
	}
	if c.StaticQRPayerDaily.Key != "" {
		limit(RuleStaticQRDaily, rules.StaticQRPayerDaily, v.StaticQRPayerDaily)
	}
	return nil
}

// declines reports whether a configured action declines the payment.
func declines(action string) bool { return actionOf(action) == paygate.RiskDecline }
