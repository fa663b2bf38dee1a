package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/channels/acquirer"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/paygate-cn/paygate/channels/wechat"
)

var (
	// Merchant, key and terminal ids: letters, digits, _ . - (1-64).
	idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// Provider ids appear in rule names ("wechat.default"): no dots.
	providerIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	mccPattern        = regexp.MustCompile(`^[0-9]{4}$`)
	merchantNoPattern = regexp.MustCompile(`^[0-9]{15}$`)
	regionPattern     = regexp.MustCompile(`^[0-9]{6}$`)
	digitsPattern     = regexp.MustCompile(`^[0-9]+$`)
	clockPattern      = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// credentialKeys are the credentials each kind reads, as its channel
// package declares them.
var credentialKeys = map[string][]paygate.CredentialKey{
	paygate.KindWeChat:   wechat.CredentialKeys,
	paygate.KindAlipay:   alipay.CredentialKeys,
	paygate.KindUnionPay: unionpay.CredentialKeys,
	paygate.KindECNY:     ecny.CredentialKeys,
	paygate.KindAcquirer: acquirer.CredentialKeys,
}

var (
	kinds       = []string{paygate.KindWeChat, paygate.KindAlipay, paygate.KindUnionPay, paygate.KindECNY, paygate.KindAcquirer}
	methods     = []paygate.Method{paygate.MethodAuthCode, paygate.MethodQR, paygate.MethodCard, paygate.MethodJSAPI, paygate.MethodH5, paygate.MethodApp, paygate.MethodWeb}
	entryModes  = []string{paygate.EntryContactless, paygate.EntryChip, paygate.EntrySwipe}
	cardTypes   = []string{paygate.CardCredit, paygate.CardDebit}
	logLevels   = []string{"debug", "info", "warn", "error"}
	riskActions = []string{paygate.RiskDecline, paygate.RiskStandardRate, paygate.RiskFlag}
	regionRules = []string{paygate.RiskDecline, paygate.RiskFlag}
)

// Auth code lengths accepted in rules.
const (
	minAuthCodeLen = 8
	maxAuthCodeLen = 32
)

// validator collects errors, each prefixed with the field path.
type validator struct{ errs []error }

func (v *validator) add(path, msg string) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", path, msg))
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// Validate checks the whole configuration and returns every problem found
// (joined with errors.Join), each naming the field path and its value, like
//
//	providers[1].kind: unknown kind "wechatt" (want wechat, alipay, unionpay, ecny, acquirer)
//
// Overlapping fee rules are routing's concern and are not checked here.
func (c *Config) Validate() error {
	var v validator
	v.addr("addr", c.Addr)
	if c.PublicURL != "" {
		v.httpURL("public_url", c.PublicURL)
	} else if defaultPublicURL(c.Addr) != "" {
		v.add("public_url", "must be set")
	}
	v.databaseURL(c.DatabaseURL)
	v.redisURL(c.RedisURL)
	if !slices.Contains(logLevels, c.LogLevel) {
		v.add("log_level", fmt.Sprintf("unknown level %q (want %s)", c.LogLevel, strings.Join(logLevels, ", ")))
	}
	if c.MaxBodyBytes <= 0 {
		v.add("max_body_bytes", fmt.Sprintf("%d is not positive", c.MaxBodyBytes))
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				v.add(fmt.Sprintf("trusted_proxies[%d]", i), fmt.Sprintf("%q is not an IP address or CIDR range", p))
			}
		}
	}
	v.server(&c.Server)
	// A waiting answer may end with a channel call still running: the
	// write timeout must outlast the longest wait plus that call.
	for i, p := range c.Providers {
		if need := LongestWait + p.Timeout; c.Server.WriteTimeout > LongestWait && c.Server.WriteTimeout <= need {
			v.add("server.write_timeout", fmt.Sprintf("%s must exceed the longest wait_seconds plus providers[%d].timeout (%s)", c.Server.WriteTimeout, i, need))
		}
	}
	v.limits("rate_limit", c.RateLimit.Limits)
	v.jobs(&c.Jobs)
	v.cashier(&c.Cashier)
	for i := range c.AuthCodes {
		v.authCode(i, &c.AuthCodes[i])
	}

	providers := make(map[string]bool)
	for i := range c.Providers {
		p := &c.Providers[i]
		v.provider(i, p)
		if p.ID != "" && providers[p.ID] {
			v.add(fmt.Sprintf("providers[%d].id", i), fmt.Sprintf("duplicate id %q", p.ID))
		}
		providers[p.ID] = true
	}
	known := func(id string) bool {
		// In sandbox mode the binary adds one provider per kind, named
		// by its kind, after loading.
		return providers[id] || c.Sandbox.Enabled && slices.Contains(kinds, id)
	}

	merchants := make(map[string]bool)
	keys := make(map[string]string) // key id -> path of its first use
	if c.Sandbox.Enabled {
		keys[c.Sandbox.KeyID] = "sandbox.key_id"
	}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		v.merchant(i, m, known)
		if m.ID != "" && merchants[m.ID] {
			v.add(fmt.Sprintf("merchants[%d].id", i), fmt.Sprintf("duplicate id %q", m.ID))
		}
		merchants[m.ID] = true
		for j, k := range m.Keys {
			if prev, dup := keys[k.ID]; dup && k.ID != "" {
				v.add(fmt.Sprintf("merchants[%d].keys[%d].id", i, j), fmt.Sprintf("duplicate key id %q (also %s)", k.ID, prev))
			} else {
				keys[k.ID] = fmt.Sprintf("merchants[%d].keys[%d].id", i, j)
			}
		}
	}
	v.sandbox(&c.Sandbox, merchants)
	v.webhooks(c)
	return v.err()
}

func (v *validator) sandbox(s *Sandbox, merchants map[string]bool) {
	if !s.Enabled {
		return
	}
	if !merchants[s.Merchant] {
		v.add("sandbox.merchant", fmt.Sprintf("unknown merchant %q", s.Merchant))
	}
	if !idPattern.MatchString(s.KeyID) {
		v.add("sandbox.key_id", fmt.Sprintf("%q is not a valid id (letters, digits, _ . -; at most 64)", s.KeyID))
	}
	if len(s.Secret) < MinKeySecret {
		v.add("sandbox.secret", fmt.Sprintf("must be at least %d characters", MinKeySecret))
	}
	if len(s.WebhookSecret) < MinWebhookSecret {
		v.add("sandbox.webhook_secret", fmt.Sprintf("must be at least %d characters", MinWebhookSecret))
	}
	if s.WebhookURL != "" {
		v.httpURL("sandbox.webhook_url", s.WebhookURL)
	}
}

// webhooks checks the webhook policy and the configured webhook URLs
// against it (their literal addresses; hostnames are checked when
// connecting).
func (v *validator) webhooks(c *Config) {
	for i, n := range c.Webhooks.AllowedNetworks {
		if _, err := webhookurl.ParsePrefix(n); err != nil {
			v.add(fmt.Sprintf("webhooks.allowed_networks[%d]", i), err.Error())
		}
	}
	p := c.Webhooks.Policy()
	check := func(path, raw string) {
		if raw == "" {
			return
		}
		var pe *paygate.Error
		if err := p.Check(path, raw); errors.As(err, &pe) && (pe.Code == paygate.EINSECUREURL || pe.Code == paygate.EFORBIDDENDESTINATION) {
			v.add(path, fmt.Sprintf("%q: %s (see webhooks.allow_http, webhooks.allowed_networks)", raw, strings.TrimPrefix(pe.Message, path+" ")))
		}
	}
	for i, m := range c.Merchants {
		check(fmt.Sprintf("merchants[%d].webhook_url", i), m.WebhookURL)
	}
	if c.Sandbox.Enabled {
		check("sandbox.webhook_url", c.Sandbox.WebhookURL)
	}
}

func (v *validator) addr(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, fmt.Sprintf("%q is not a host:port address", addr))
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, fmt.Sprintf("%q has an invalid port", addr))
	}
	if strings.ContainsAny(host, " /") {
		v.add(path, fmt.Sprintf("%q has an invalid host", addr))
	}
}

func (v *validator) httpURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, fmt.Sprintf("%q is not an http(s) URL", raw))
	}
}

func (v *validator) databaseURL(raw string) {
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		if strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//") == "" {
			v.add("database_url", fmt.Sprintf("%q names no file", raw))
		}
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if u, err := url.Parse(raw); err != nil || u.Host == "" && u.Query().Get("host") == "" {
			v.add("database_url", fmt.Sprintf("%s is not a valid PostgreSQL URL", RedactURL(raw)))
		}
	default:
		v.add("database_url", fmt.Sprintf("%s: unknown scheme (want sqlite:PATH or postgres://...)", RedactURL(raw)))
	}
}

func (v *validator) redisURL(raw string) {
	switch {
	case raw == "":
	case strings.HasPrefix(raw, "redis://"), strings.HasPrefix(raw, "rediss://"):
		if u, err := url.Parse(raw); err != nil || u.Host == "" {
			v.add("redis_url", fmt.Sprintf("%s is not a valid Redis URL", RedactURL(raw)))
		}
	case strings.HasPrefix(raw, "unix://"):
		if strings.TrimPrefix(raw, "unix://") == "" {
			v.add("redis_url", fmt.Sprintf("%q names no socket", raw))
		}
	case strings.Contains(raw, "://"):
		v.add("redis_url", fmt.Sprintf("%s: unknown scheme (want redis://, rediss://, unix:// or host:port,host:port for a Cluster)", RedactURL(raw)))
	default:
		for _, a := range strings.Split(raw, ",") {
			a = strings.TrimSpace(a)
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
				v.add("redis_url", fmt.Sprintf("cluster address %q is not host:port", a))
			}
		}
	}
}

// RedactURL quotes a database or Redis URL for a message or a log with
// what could be a password hidden: the URL's password and a password query
// parameter (PostgreSQL takes one) become xxxxx. A Cluster's host:port list
// is quoted as it is; anything else that does not parse shows its scheme
// only.
func RedactURL(raw string) string {
	// "user:password@host:port" parses as the scheme "user" with an
	// opaque rest: not a URL whose password Redacted would find.
	if u, err := url.Parse(raw); err == nil && !strings.Contains(u.Opaque, "@") {
		_, has := u.User.Password()
		q := u.Query()
		if !has && !q.Has("password") {
			return fmt.Sprintf("%q", raw)
		}
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return fmt.Sprintf("%q", u.Redacted())
	}
	if !strings.Contains(raw, "://") && !strings.Contains(raw, "@") {
		return fmt.Sprintf("%q", raw)
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		return fmt.Sprintf("%q", raw[:i+3]+"...")
	}
	return "the value"
}

// namedDuration is a duration setting and its key.
type namedDuration struct {
	name string
	d    time.Duration
}

// positive reports every duration of ds that is not positive.
func (v *validator) positive(section string, ds []namedDuration) {
	for _, d := range ds {
		if d.d <= 0 {
			v.add(section+"."+d.name, fmt.Sprintf("%s is not positive", d.d))
		}
	}
}

func (v *validator) server(s *Server) {
	v.positive("server", []namedDuration{
		{"read_header_timeout", s.ReadHeaderTimeout},
		{"read_timeout", s.ReadTimeout},
		{"write_timeout", s.WriteTimeout},
		{"idle_timeout", s.IdleTimeout},
	})
	if s.ReadHeaderTimeout > 0 && s.ReadTimeout > 0 && s.ReadHeaderTimeout > s.ReadTimeout {
		v.add("server.read_header_timeout", fmt.Sprintf("%s above read_timeout %s", s.ReadHeaderTimeout, s.ReadTimeout))
	}
	if s.WriteTimeout > 0 && s.WriteTimeout <= LongestWait {
		v.add("server.write_timeout", fmt.Sprintf("%s must exceed the longest wait_seconds (%s)", s.WriteTimeout, LongestWait))
	}
}

// limits checks rates; a zero takes the default, so only negatives and a
// burst below its rate (which could never let a second's requests through)
// are faults.
func (v *validator) limits(path string, l Limits) {
	for _, f := range []struct {
		name string
		n    int
	}{
		{"key_rate", l.KeyRate}, {"key_burst", l.KeyBurst},
		{"terminal_rate", l.TerminalRate}, {"terminal_burst", l.TerminalBurst},
	} {
		if f.n < 0 {
			v.add(path+"."+f.name, fmt.Sprintf("%d is negative", f.n))
		}
	}
	if l.KeyBurst > 0 && l.KeyBurst < l.KeyRate {
		v.add(path+".key_burst", fmt.Sprintf("%d below key_rate %d", l.KeyBurst, l.KeyRate))
	}
	if l.TerminalBurst > 0 && l.TerminalBurst < l.TerminalRate {
		v.add(path+".terminal_burst", fmt.Sprintf("%d below terminal_rate %d", l.TerminalBurst, l.TerminalRate))
	}
}

func (v *validator) jobs(j *Jobs) {
	v.positive("jobs", []namedDuration{
		{"pending_query_interval", j.PendingQueryInterval},
		{"pending_query_after", j.PendingQueryAfter},
		{"reverse_after", j.ReverseAfter},
		{"outbox_interval", j.OutboxInterval},
		{"lease_ttl", j.LeaseTTL},
	})
	if j.Batch <= 0 {
		v.add("jobs.batch", fmt.Sprintf("%d is not positive", j.Batch))
	}
	if !clockPattern.MatchString(j.ReconcileAt) {
		v.add("jobs.reconcile_at", fmt.Sprintf("%q is not a time of day HH:MM", j.ReconcileAt))
	}
}

func (v *validator) cashier(k *Cashier) {
	if len(k.ECNYUAMarker) > 64 || strings.IndexFunc(k.ECNYUAMarker, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		v.add("cashier.ecny_ua_marker", "at most 64 characters, no control characters")
	}
	if k.PaysPerIP < 0 {
		v.add("cashier.pays_per_ip", fmt.Sprintf("%d is negative", k.PaysPerIP))
	}
	if k.PaysPerCode < 0 {
		v.add("cashier.pays_per_code", fmt.Sprintf("%d is negative", k.PaysPerCode))
	}
}

func (v *validator) authCode(i int, r *paygate.AuthCodeRule) {
	p := fmt.Sprintf("auth_codes[%d]", i)
	if !slices.Contains(paygate.WalletKinds, r.Channel) {
		v.add(p+".channel", fmt.Sprintf("unknown channel %q (want %s)", r.Channel, strings.Join(paygate.WalletKinds, ", ")))
	}
	if len(r.Length) == 0 {
		v.add(p+".length", "must list at least one length")
	}
	for j, n := range r.Length {
		if n < minAuthCodeLen || n > maxAuthCodeLen {
			v.add(fmt.Sprintf("%s.length[%d]", p, j), fmt.Sprintf("%d outside %d..%d", n, minAuthCodeLen, maxAuthCodeLen))
		}
	}
	if len(r.Prefixes) == 0 {
		v.add(p+".prefixes", "must list at least one prefix")
	}
	for j, pre := range r.Prefixes {
		if !digitsPattern.MatchString(pre) || len(pre) > minAuthCodeLen {
			v.add(fmt.Sprintf("%s.prefixes[%d]", p, j), fmt.Sprintf("%q is not 1-%d digits", pre, minAuthCodeLen))
		}
	}
}

func (v *validator) provider(i int, p *paygate.ProviderSpec) {
	path := fmt.Sprintf("providers[%d]", i)
	if !providerIDPattern.MatchString(p.ID) {
		v.add(path+".id", fmt.Sprintf("%q is not a valid provider id (a-z, 0-9, _ -; at most 32)", p.ID))
	}
	knownKind := slices.Contains(kinds, p.Kind)
	if !knownKind {
		v.add(path+".kind", fmt.Sprintf("unknown kind %q (want %s)", p.Kind, strings.Join(kinds, ", ")))
	}
	if p.BaseURL != "" && knownKind { // which URL form is right depends on the kind
		if p.Kind == paygate.KindAcquirer {
			v.tcpURL(path+".base_url", p.BaseURL)
		} else {
			v.httpURL(path+".base_url", p.BaseURL)
		}
	}
	if knownKind {
		for _, err := range p.CheckCredentials(credentialKeys[p.Kind]) {
			v.errs = append(v.errs, fmt.Errorf("%s.%w", path, err))
		}
		switch {
		case p.Kind == paygate.KindAcquirer && p.BaseURL == "" && p.Credentials["address"] == "":
			v.add(path+".base_url", "required (tcp://host:port or tls://host:port) unless credentials.address is set")
		case (p.Kind == paygate.KindUnionPay || p.Kind == paygate.KindECNY) && p.BaseURL == "":
			v.add(path+".base_url", "required for kind "+p.Kind)
		}
	}
	v.fees(path+".fees", p.Fees)
	if p.Timeout < 0 {
		v.add(path+".timeout", fmt.Sprintf("%s is negative", p.Timeout))
	}
	v.amountRange(path, p.MinAmount, p.MaxAmount)
	v.methods(path+".methods", p.Methods)
	v.nonEmpty(path+".networks", p.Networks)
}

// tcpURL checks an acquirer's ISO 8583 endpoint: tcp://host:port or
// tls://host:port.
func (v *validator) tcpURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "tls") || u.Port() == "" || u.Hostname() == "" {
		v.add(path, fmt.Sprintf("%q is not a tcp://host:port or tls://host:port address", raw))
	}
}

func (v *validator) amountRange(path string, min, max int64) {
	if min < 0 {
		v.add(path+".min_amount", fmt.Sprintf("%d is negative", min))
	}
	if max < 0 {
		v.add(path+".max_amount", fmt.Sprintf("%d is negative", max))
	} else if max > 0 && max < min {
		v.add(path+".max_amount", fmt.Sprintf("%d below min_amount %d", max, min))
	}
}

func (v *validator) methods(path string, ms []paygate.Method) {
	for j, m := range ms {
		if !slices.Contains(methods, m) {
			v.add(fmt.Sprintf("%s[%d]", path, j), fmt.Sprintf("unknown method %q", m))
		}
	}
}

func (v *validator) oneOf(path string, vals, want []string, what string) {
	for j, s := range vals {
		if !slices.Contains(want, s) {
			v.add(fmt.Sprintf("%s[%d]", path, j), fmt.Sprintf("unknown %s %q (want %s)", what, s, strings.Join(want, ", ")))
		}
	}
}

func (v *validator) nonEmpty(path string, vals []string) {
	for j, s := range vals {
		if strings.TrimSpace(s) == "" {
			v.add(fmt.Sprintf("%s[%d]", path, j), "empty")
		}
	}
}

var one = decimal.NewFromInt(1)

func (v *validator) fees(path string, rules []paygate.FeeRule) {
	for j := range rules {
		r := &rules[j]
		p := fmt.Sprintf("%s[%d]", path, j)
		if r.Rate.Sign() < 0 {
			v.add(p+".rate", "negative")
		} else if r.Rate.GreaterThan(one) {
			v.add(p+".rate", fmt.Sprintf("%s above 1 (rates are fractions: 0.006 is 0.6%%)", r.Rate))
		}
		if r.Cap < 0 {
			v.add(p+".cap", fmt.Sprintf("%d is negative", r.Cap))
		}
		if r.Min < 0 {
			v.add(p+".min", fmt.Sprintf("%d is negative", r.Min))
		}
		if r.Cap > 0 && r.Min > 0 && r.Cap < r.Min {
			v.add(p+".cap", fmt.Sprintf("%d below min %d", r.Cap, r.Min))
		}
		v.amountRange(p, r.MinAmount, r.MaxAmount)
		v.methods(p+".methods", r.Methods)
		v.oneOf(p+".entry_modes", r.EntryModes, entryModes, "entry mode")
		v.oneOf(p+".card_types", r.CardTypes, cardTypes, "card type")
		v.nonEmpty(p+".networks", r.Networks)
		for k, mcc := range r.MCCs {
			if !mccPattern.MatchString(mcc) {
				v.add(fmt.Sprintf("%s.mccs[%d]", p, k), fmt.Sprintf("%q is not a 4-digit MCC", mcc))
			}
		}
	}
}

func (v *validator) merchant(i int, m *Merchant, knownProvider func(string) bool) {
	path := fmt.Sprintf("merchants[%d]", i)
	if !idPattern.MatchString(m.ID) {
		v.add(path+".id", fmt.Sprintf("%q is not a valid id (letters, digits, _ . -; at most 64)", m.ID))
	}
	if strings.TrimSpace(m.Name) == "" {
		v.add(path+".name", "must be set")
	}
	if !mccPattern.MatchString(m.MCC) {
		v.add(path+".mcc", fmt.Sprintf("%q is not a 4-digit MCC", m.MCC))
	}
	if !merchantNoPattern.MatchString(m.MerchantNo) {
		v.add(path+".merchant_no", fmt.Sprintf("must be 15 digits, not %q", m.MerchantNo))
	}
	if !regionPattern.MatchString(m.RegionCode) {
		v.add(path+".region_code", fmt.Sprintf("%q is not a 6-digit region code", m.RegionCode))
	}
	if m.WebhookURL != "" {
		v.httpURL(path+".webhook_url", m.WebhookURL)
	}
	for j, s := range m.WebhookSecrets {
		if len(s) < MinWebhookSecret {
			v.add(fmt.Sprintf("%s.webhook_secrets[%d]", path, j), fmt.Sprintf("must be at least %d characters", MinWebhookSecret))
		}
	}
	for j, id := range m.Providers {
		if !knownProvider(id) {
			v.add(fmt.Sprintf("%s.providers[%d]", path, j), fmt.Sprintf("unknown provider %q", id))
		}
	}
	for _, id := range sortedKeys(m.Contracts) {
		p := path + ".contracts." + id
		if !knownProvider(id) {
			v.add(p, fmt.Sprintf("unknown provider %q", id))
		}
		v.fees(p, m.Contracts[id])
	}
	if m.MaxAmount < 0 {
		v.add(path+".max_amount", fmt.Sprintf("%d is negative", m.MaxAmount))
	} else if m.MaxAmount > paygate.MaxAmount {
		v.add(path+".max_amount", fmt.Sprintf("%d above the gateway limit %d", m.MaxAmount, paygate.MaxAmount))
	}
	if m.Risk != nil {
		v.risk(path+".risk", m.Risk)
	}
	if m.RateLimit != nil {
		v.limits(path+".rate_limit", *m.RateLimit)
	}
	terminals := make(map[string]bool)
	for j, t := range m.Terminals {
		p := fmt.Sprintf("%s.terminals[%d]", path, j)
		if !idPattern.MatchString(t.ID) {
			v.add(p+".id", fmt.Sprintf("%q is not a valid id (letters, digits, _ . -; at most 64)", t.ID))
		} else if terminals[t.ID] {
			v.add(p+".id", fmt.Sprintf("duplicate terminal id %q", t.ID))
		}
		terminals[t.ID] = true
		if !regionPattern.MatchString(t.RegionCode) {
			v.add(p+".region_code", fmt.Sprintf("%q is not a 6-digit region code", t.RegionCode))
		}
	}
	for j, k := range m.Keys {
		p := fmt.Sprintf("%s.keys[%d]", path, j)
		if !idPattern.MatchString(k.ID) {
			v.add(p+".id", fmt.Sprintf("%q is not a valid id (letters, digits, _ . -; at most 64)", k.ID))
		}
		if len(k.Secret) < MinKeySecret {
			v.add(p+".secret", fmt.Sprintf("must be at least %d characters", MinKeySecret))
		}
		if k.TerminalID != "" && !terminals[k.TerminalID] {
			v.add(p+".terminal_id", fmt.Sprintf("unknown terminal %q", k.TerminalID))
		}
	}
}

func (v *validator) risk(path string, r *paygate.RiskRules) {
	limit := func(name string, l *paygate.Limit) {
		if l == nil {
			return
		}
		p := path + "." + name
		if l.Max <= 0 {
			v.add(p+".max", fmt.Sprintf("%d is not positive", l.Max))
		}
		v.action(p+".action", l.Action, riskActions)
	}
	limit("per_payment", r.PerPayment)
	limit("per_payer_daily", r.PerPayerDaily)
	limit("per_terminal_daily", r.PerTerminalDaily)
	limit("static_qr_payer_daily", r.StaticQRPayerDaily)
	if r.RegionPolicy != "" {
		v.action(path+".region_policy", r.RegionPolicy, regionRules)
	}
	if s := r.SplitPayment; s != nil {
		p := path + ".split_payment"
		if s.Window <= 0 {
			v.add(p+".window", fmt.Sprintf("%s is not positive", s.Window))
		}
		if s.Tolerance < 0 {
			v.add(p+".tolerance", fmt.Sprintf("%d is negative", s.Tolerance))
		}
		if s.Threshold < 0 {
			v.add(p+".threshold", fmt.Sprintf("%d is negative", s.Threshold))
		}
		if s.MinCount < 0 {
			v.add(p+".min_count", fmt.Sprintf("%d is negative", s.MinCount))
		}
		v.action(p+".action", s.Action, riskActions)
	}
}

func (v *validator) action(path, a string, want []string) {
	if !slices.Contains(want, a) {
		v.add(path, fmt.Sprintf("unknown action %q (want %s)", a, strings.Join(want, ", ")))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
