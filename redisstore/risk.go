package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

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

// dayTTL is how long a daily total lives, in seconds: the day and the
// next, whatever the time zone of the day.
const dayTTL int64 = 48 * 3600

// riskKey builds a risk key of one merchant. Every key carries the
// merchant id as a hash tag so that the script's keys share a Cluster
// slot.
func (s *Store) riskKey(merchantID string, parts ...string) string {
	var b strings.Builder
	b.WriteString(s.risk)
	b.WriteString("{")
	b.WriteString(merchantID)
	b.WriteString("}")
	for _, p := range parts {
		b.WriteString(":")
		b.WriteString(p)
	}
	return b.String()
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CountRisk runs the risk script over the rules c enables, one EVALSHA
// (EVAL when Redis lost the script).
func (s *Store) CountRisk(ctx context.Context, c paygate.RiskCheck) (paygate.RiskTally, error) {
	m := c.MerchantID
	none := s.riskKey(m, "none")
	keys := []string{none, none, none, none}
	args := []any{c.At.UnixMilli(), c.Amount, 0, 0, 0, 0, 0, 0, -1, 0, -1, 0, -1, 0, dayTTL, ""}
	if c.Dry {
		args[2] = 1
	}
	if sp := c.Split; sp.PayerKey != "" && sp.Window > 0 {
		keys[0] = s.riskKey(m, "split", sp.PayerKey)
		var id [8]byte
		_, _ = rand.Read(id[:])
		args[3], args[4], args[5], args[6], args[7] = sp.Window.Milliseconds(), sp.Tolerance, sp.Threshold, sp.MinCount, flag(sp.Declines)
		args[15] = strconv.FormatInt(c.Amount, 10) + ":" + hex.EncodeToString(id[:])
	}
	if l := c.PayerDaily; l.Key != "" {
		keys[1] = s.riskKey(m, "payer", l.Key, c.Day)
		args[8], args[9] = l.Max, flag(l.Declines)
	}
	if l := c.TerminalDaily; l.Key != "" {
		keys[2] = s.riskKey(m, "terminal", l.Key, c.Day)
		args[10], args[11] = l.Max, flag(l.Declines)
	}
	if l := c.StaticQRPayerDaily; l.Key != "" {
		keys[3] = s.riskKey(m, "static_qr", l.Key, c.Day)
		args[12], args[13] = l.Max, flag(l.Declines)
	}
	v, err := riskScript.EvalSha(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = riskScript.Eval(ctx, s.rdb, keys, args...).Int64Slice()
	}
	if err == nil && len(v) != 10 {
		err = errors.New("redisstore: risk script: unexpected answer")
	}
	if err != nil {
		return paygate.RiskTally{}, err
	}
	return paygate.RiskTally{
		Split:       paygate.SplitFinding(v[0]),
		WindowCount: v[1], WindowSum: v[2], NearCount: v[3],
		PayerDaily:         paygate.DailyTally{Total: v[4], Over: v[5] == 1},
		TerminalDaily:      paygate.DailyTally{Total: v[6], Over: v[7] == 1},
		StaticQRPayerDaily: paygate.DailyTally{Total: v[8], Over: v[9] == 1},
	}, nil
}
