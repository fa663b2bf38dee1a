package routing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
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

// riskScript checks and, unless dry, records one payment against every
// stateful rule at once, so that concurrent payments cannot race past a
// limit and a payment costs one round trip.
//
// KEYS: split window (sorted set of "amount:id" scored by time in ms,
// holding the payer's 64 most recent payments in the window),
// payer daily total, terminal daily total, static QR payer daily total.
// ARGV: now_ms, amount, dry, window_ms (0 = off), tolerance, threshold,
// min_count, split_blocks, payer_max (-1 = off), payer_blocks, term_max,
// term_blocks, sqr_max, sqr_blocks, day_ttl_s, member.
// A "blocks" flag says the rule declines: a declined payment records
// nothing. Returns {split (0 none, 1 sum crosses, 2 near-identical),
// prior count, prior sum, near count, payer total, payer over, terminal
// total, terminal over, static QR total, static QR over}, totals before
// this payment.
var riskScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local amt = tonumber(ARGV[2])
local dry = ARGV[3] == '1'
local win = tonumber(ARGV[4])
local tol = tonumber(ARGV[5])
local thr = tonumber(ARGV[6])
local minc = tonumber(ARGV[7])
local split, cnt, sum, near = 0, 0, 0, 0
if win > 0 then
  local from = now - win
  if not dry then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', from) end
  local ms = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. from, 'LIMIT', 0, 64)
  for _, m in ipairs(ms) do
    local a = tonumber(string.match(m, '^(%d+):'))
    if a then
      cnt = cnt + 1
      if a <= thr then sum = sum + a end
      if math.abs(a - amt) <= tol then near = near + 1 end
    end
  end
  if amt <= thr then
    if cnt > 0 and sum + amt > thr then split = 1
    elseif minc > 0 and near + 1 >= minc then split = 2 end
  end
end
local function total(key, max)
  if max < 0 then return 0, 0 end
  local cur = tonumber(redis.call('GET', key) or '0')
  if cur + amt > max then return cur, 1 end
  return cur, 0
end
local pcur, pover = total(KEYS[2], tonumber(ARGV[9]))
local tcur, tover = total(KEYS[3], tonumber(ARGV[11]))
local scur, sover = total(KEYS[4], tonumber(ARGV[13]))
local declined = (split > 0 and ARGV[8] == '1') or (pover == 1 and ARGV[10] == '1') or
  (tover == 1 and ARGV[12] == '1') or (sover == 1 and ARGV[14] == '1')
if not dry and not declined then
  local ttl = tonumber(ARGV[15])
  if win > 0 then
    redis.call('ZADD', KEYS[1], now, ARGV[16])
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -65)
    redis.call('PEXPIRE', KEYS[1], win)
  end
  if tonumber(ARGV[9]) >= 0 then redis.call('INCRBY', KEYS[2], amt); redis.call('EXPIRE', KEYS[2], ttl) end
  if tonumber(ARGV[11]) >= 0 then redis.call('INCRBY', KEYS[3], amt); redis.call('EXPIRE', KEYS[3], ttl) end
  if tonumber(ARGV[13]) >= 0 then redis.call('INCRBY', KEYS[4], amt); redis.call('EXPIRE', KEYS[4], ttl) end
end
return {split, cnt, sum, near, pcur, pover, tcur, tover, scur, sover}
`)

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

// keyer builds the Redis keys of one merchant. Every key carries the
// merchant id as a hash tag so that the script's keys share a Cluster slot.
func (r *Router) key(merchantID string, parts ...string) string {
	var b strings.Builder
	b.WriteString(r.opts.KeyPrefix)
	b.WriteString("{")
	b.WriteString(merchantID)
	b.WriteString("}")
	for _, p := range parts {
		b.WriteString(":")
		b.WriteString(p)
	}
	return b.String()
}

// statefulRisk applies the rules kept in Redis in one script call; dry
// runs check without recording (quotes).
func (r *Router) statefulRisk(ctx context.Context, rules *paygate.RiskRules, req *paygate.RouteRequest, dry bool, out *riskOutcome) error {
	if r.opts.Redis == nil {
		return nil
	}
	now := r.opts.Now()
	day := now.In(cst).Format("20060102")
	m := req.Merchant.ID
	none := r.key(m, "none")
	keys := []string{none, none, none, none}
	args := []any{now.UnixMilli(), req.Amount, 0, 0, 0, 0, 0, 0, -1, 0, -1, 0, -1, 0, int64(48 * 3600), ""}
	if dry {
		args[2] = 1
	}
	blocks := func(action string) int {
		if actionOf(action) == paygate.RiskDecline {
			return 1
		}
		return 0
	}
	active := false
	sp := rules.SplitPayment
	if sp != nil && sp.Window > 0 && req.PayerKey != "" {
		thr := sp.Threshold
		if thr <= 0 {
			thr = QuickPassLimit
		}
		keys[0] = r.key(m, "split", req.PayerKey)
		var id [8]byte
		_, _ = rand.Read(id[:])
		args[3], args[4], args[5], args[6], args[7] = sp.Window.Milliseconds(), sp.Tolerance, thr, sp.MinCount, blocks(sp.Action)
		args[15] = fen(req.Amount) + ":" + hex.EncodeToString(id[:])
		active = true
	}
	if l := rules.PerPayerDaily; l != nil && l.Max > 0 && req.PayerKey != "" {
		keys[1] = r.key(m, "payer", req.PayerKey, day)
		args[8], args[9] = l.Max, blocks(l.Action)
		active = true
	}
	if l := rules.PerTerminalDaily; l != nil && l.Max > 0 && req.TerminalID != "" {
		keys[2] = r.key(m, "terminal", req.TerminalID, day)
		args[10], args[11] = l.Max, blocks(l.Action)
		active = true
	}
	if l := rules.StaticQRPayerDaily; l != nil && l.Max > 0 && req.StaticQR && req.PayerKey != "" {
		keys[3] = r.key(m, "static_qr", req.PayerKey, day)
		args[12], args[13] = l.Max, blocks(l.Action)
		active = true
	}
	if !active {
		return nil
	}
	v, err := riskScript.EvalSha(ctx, r.opts.Redis, keys, args...).Int64Slice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = riskScript.Eval(ctx, r.opts.Redis, keys, args...).Int64Slice()
	}
	if err != nil || len(v) != 10 {
		return paygate.Errorf(paygate.EUNAVAILABLE, "risk state unavailable")
	}
	if keys[0] != none {
		switch v[0] {
		case 1:
			out.add(RuleSplitPayment, actionOf(sp.Action), "payment "+fen(v[1]+1)+" by this payer within "+sp.Window.String()+
				": together "+fen(v[2]+req.Amount)+" crosses "+fen(args[5].(int64))+" while each is at most that")
		case 2:
			out.add(RuleSplitPayment, actionOf(sp.Action), fen(v[3]+1)+" near-identical payments (within "+fen(sp.Tolerance)+
				") by this payer within "+sp.Window.String())
		default:
			out.add(RuleSplitPayment, RiskPass, "no split pattern in the window")
		}
	}
	limit := func(rule string, l *paygate.Limit, total, over int64) {
		if over == 1 {
			out.add(rule, actionOf(l.Action), "today "+fen(total)+" + "+fen(req.Amount)+" above "+fen(l.Max))
		} else {
			out.add(rule, RiskPass, "within the daily limit")
		}
	}
	if keys[1] != none {
		limit(RulePerPayerDaily, rules.PerPayerDaily, v[4], v[5])
	}
	if keys[2] != none {
		limit(RulePerTerminalDaily, rules.PerTerminalDaily, v[6], v[7])
	}
	if keys[3] != none {
		limit(RuleStaticQRDaily, rules.StaticQRPayerDaily, v[8], v[9])
	}
	return nil
}
