package config

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
)

// Environment variables (docs/configuration.md). They override the config file.
const (
	EnvConfig               = "PAYGATE_CONFIG"
	EnvAddr                 = "PAYGATE_ADDR"
	EnvPublicURL            = "PAYGATE_PUBLIC_URL"
	EnvDataDir              = "PAYGATE_DATA_DIR"
	EnvDatabaseURL          = "PAYGATE_DATABASE_URL"
	EnvRedisURL             = "PAYGATE_REDIS_URL"
	EnvRedisPrefix          = "PAYGATE_REDIS_PREFIX"
	EnvLogLevel             = "PAYGATE_LOG_LEVEL"
	EnvMaxBodyBytes         = "PAYGATE_MAX_BODY_BYTES"
	EnvTrustedProxies       = "PAYGATE_TRUSTED_PROXIES"
	EnvSandbox              = "PAYGATE_SANDBOX"
	EnvSandboxKeyID         = "PAYGATE_SANDBOX_KEY_ID"
	EnvSandboxSecret        = "PAYGATE_SANDBOX_SECRET"
	EnvSandboxWebhookSecret = "PAYGATE_SANDBOX_WEBHOOK_SECRET"
	EnvSandboxWebhookURL    = "PAYGATE_SANDBOX_WEBHOOK_URL"
	// Server timeouts (Go durations) and the request rate limit.
	EnvServerReadHeaderTimeout = "PAYGATE_SERVER_READ_HEADER_TIMEOUT"
	EnvServerReadTimeout       = "PAYGATE_SERVER_READ_TIMEOUT"
	EnvServerWriteTimeout      = "PAYGATE_SERVER_WRITE_TIMEOUT"
	EnvServerIdleTimeout       = "PAYGATE_SERVER_IDLE_TIMEOUT"
	EnvRateLimitDisabled       = "PAYGATE_RATE_LIMIT_DISABLED"
	// EnvWebhooksAllowedNetworks is webhooks.allowed_networks,
	// comma-separated CIDR prefixes ("none" for an empty list).
	EnvWebhooksAllowedNetworks = "PAYGATE_WEBHOOKS_ALLOWED_NETWORKS"
	// EnvWebhooksAllowHTTP is webhooks.allow_http (true or false).
	EnvWebhooksAllowHTTP = "PAYGATE_WEBHOOKS_ALLOW_HTTP"
	EnvECNYUAMarker      = "PAYGATE_ECNY_UA_MARKER"
)

// Defaults.
const (
	DefaultAddr         = ":8080"
	DefaultDataDir      = "./data"
	DefaultRedisPrefix  = "paygate:"
	DefaultLogLevel     = "info"
	DefaultMaxBodyBytes = 65536
	// DefaultProviderTimeout bounds one channel call when a provider sets none.
	DefaultProviderTimeout = 10 * time.Second
)

// HTTP server phase defaults (docs/configuration.md, "server").
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 20 * time.Second
	DefaultWriteTimeout      = 150 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	// LongestWait is the largest wait_seconds an order may ask for; the
	// write timeout must exceed it or a waiting answer would be cut off.
	LongestWait = 120 * time.Second
)

// Request rate limit defaults, per API key (docs/configuration.md,
// "rate_limit").
const (
	DefaultKeyRate       = 1000
	DefaultKeyBurst      = 2000
	DefaultTerminalRate  = 20
	DefaultTerminalBurst = 40
)

// The demo merchant of the sandbox (docs/configuration.md).
const (
	DemoMerchantID = "m_demo"
	DemoTerminalID = "T0001"
	DemoRegionCode = "310000"
	DemoMCC        = "5812"
	// DemoMerchantNo follows the usual 15-digit layout: acquirer (898),
	// region (3100), MCC (5812), sequence (0001).
	DemoMerchantNo = "898310058120001"
)

// MinKeySecret is the shortest API key secret accepted (HMAC-SHA256 keys
// shorter than the hash add no strength and are easy to guess).
const MinKeySecret = 32

// MinWebhookSecret is the shortest webhook signing secret accepted.
const MinWebhookSecret = 16

// Config is paygate's whole configuration: one YAML file plus PAYGATE_*
// environment overrides. See docs/configuration.md.
type Config struct {
	// Addr is the HTTP listen address (PAYGATE_ADDR).
	Addr string `yaml:"addr"`
	// PublicURL is the base URL channels call back and static QR codes
	// point to (PAYGATE_PUBLIC_URL). Default "http://127.0.0.1" + the port
	// of Addr; left empty when Addr's port is 0, for the binary to fill in
	// with the port it bound.
	PublicURL string `yaml:"public_url"`
	// DataDir holds the SQLite database and other local files (PAYGATE_DATA_DIR).
	DataDir string `yaml:"data_dir"`
	// DatabaseURL is "sqlite:PATH" or "postgres://..." (PAYGATE_DATABASE_URL).
	DatabaseURL string `yaml:"database_url"`
	// RedisURL is "" for an in-process server, redis:// rediss:// unix://,
	// or a comma-separated list of host:port for a Redis Cluster
	// (PAYGATE_REDIS_URL).
	RedisURL string `yaml:"redis_url"`
	// RedisPrefix prefixes every Redis key (PAYGATE_REDIS_PREFIX).
	RedisPrefix string `yaml:"redis_prefix"`
	// LogLevel is debug, info, warn or error (PAYGATE_LOG_LEVEL).
	LogLevel string `yaml:"log_level"`
	// MaxBodyBytes limits a request body (PAYGATE_MAX_BODY_BYTES).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies
	// whose X-Forwarded-For (or X-Real-IP) names the client, for the
	// per-client limits (PAYGATE_TRUSTED_PROXIES, comma-separated). Empty:
	// the connection's peer is the client and those headers are ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`

	// Server bounds every phase of an HTTP connection.
	Server Server `yaml:"server"`
	// RateLimit is the per-key request rate limit; merchants may override
	// its rates.
	RateLimit RateLimit `yaml:"rate_limit"`

	Sandbox Sandbox `yaml:"sandbox"`
	// Webhooks is where webhooks may be sent (docs/webhooks.md).
	Webhooks Webhooks `yaml:"webhooks"`
	// AuthCodes recognise payment codes; default paygate.DefaultAuthCodeRules.
	// AuthCodes, Providers and Merchants are read from the file through
	// their file form (file.go).
	AuthCodes []paygate.AuthCodeRule `yaml:"-"`
	Providers []paygate.ProviderSpec `yaml:"-"`
	Merchants []Merchant             `yaml:"-"`
	Jobs      Jobs                   `yaml:"jobs"`
	Cashier   Cashier                `yaml:"cashier"`
}

// Cashier configures the static QR cashier (docs/cashier.md).
type Cashier struct {
	// ECNYUAMarker is the User-Agent marker of the e-CNY app
	// (PAYGATE_ECNY_UA_MARKER); default "eCNY/".
	ECNYUAMarker string `yaml:"ecny_ua_marker"`
	// PaysPerIP and PaysPerCode bound the orders the cashier creates per
	// minute from one client address and through one code (defaults 20
	// and 600).
	PaysPerIP   int `yaml:"pays_per_ip"`
	PaysPerCode int `yaml:"pays_per_code"`
}

// Server holds the HTTP server's timeouts. Every phase of a connection is
// bounded: a client that sends its headers or body slowly, or keeps an
// idle connection open, is disconnected.
type Server struct {
	// ReadHeaderTimeout bounds reading a request's headers
	// (PAYGATE_SERVER_READ_HEADER_TIMEOUT). Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, headers and body
	// (PAYGATE_SERVER_READ_TIMEOUT). Default 20s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer; it must exceed the longest wait_seconds (120s)
	// (PAYGATE_SERVER_WRITE_TIMEOUT). Default 150s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection that sends no request
	// for this long (PAYGATE_SERVER_IDLE_TIMEOUT). Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// RateLimit is the request rate limit of every API key, counted in Redis
// so that all replicas share it: a token bucket refilled at Rate per
// second holding at most Burst requests.
type RateLimit struct {
	// Disabled switches the limit off (PAYGATE_RATE_LIMIT_DISABLED); the
	// load harnesses do.
	Disabled bool `yaml:"disabled"`
	// Limits are the defaults of every merchant.
	Limits `yaml:",inline"`
}

// Limits are the rates of a merchant's keys, in requests per second; zero
// keeps the default (the gateway's, or the merchant's own).
type Limits struct {
	KeyRate       int `yaml:"key_rate"`       // each merchant key; default 1000
	KeyBurst      int `yaml:"key_burst"`      // default 2000
	TerminalRate  int `yaml:"terminal_rate"`  // each terminal key; default 20
	TerminalBurst int `yaml:"terminal_burst"` // default 40
}

// For returns the rate and burst of a merchant key or, with terminal, a
// terminal key of merchant id: the merchant's own limits where set, the
// gateway's otherwise. Rate 0 means no limit (Disabled).
func (r *RateLimit) For(merchant *Merchant, terminal bool) (rate, burst int) {
	if r.Disabled {
		return 0, 0
	}
	l := r.Limits
	if merchant != nil && merchant.RateLimit != nil {
		l = merchant.RateLimit.over(l)
	}
	if terminal {
		return l.TerminalRate, l.TerminalBurst
	}
	return l.KeyRate, l.KeyBurst
}

// over returns l with its unset fields taken from base.
func (l Limits) over(base Limits) Limits {
	set := func(v *int, b int) {
		if *v == 0 {
			*v = b
		}
	}
	set(&l.KeyRate, base.KeyRate)
	set(&l.KeyBurst, base.KeyBurst)
	set(&l.TerminalRate, base.TerminalRate)
	set(&l.TerminalBurst, base.TerminalBurst)
	return l
}

// Sandbox is test mode: the channel simulators run in-process and the
// sandbox merchant (the demo merchant unless Merchant says otherwise) gets
// the key and webhook settings below.
type Sandbox struct {
	// Enabled (PAYGATE_SANDBOX) defaults to true when no config file is given.
	Enabled bool `yaml:"enabled"`
	// Merchant is the id of the merchant the sandbox key belongs to;
	// default m_demo, which is created when absent.
	Merchant string `yaml:"merchant"`
	// KeyID and Secret are the sandbox merchant's API key
	// (PAYGATE_SANDBOX_KEY_ID, PAYGATE_SANDBOX_SECRET); random when empty.
	KeyID  string `yaml:"key_id"`
	Secret string `yaml:"secret"`
	// WebhookSecret signs the sandbox merchant's webhooks
	// (PAYGATE_SANDBOX_WEBHOOK_SECRET); random when empty.
	WebhookSecret string `yaml:"webhook_secret"`
	// WebhookURL receives the sandbox merchant's webhooks
	// (PAYGATE_SANDBOX_WEBHOOK_URL); empty = none.
	WebhookURL string `yaml:"webhook_url"`

	// Generated reports that KeyID and Secret were made up at load, so the
	// binary should print them.
	Generated bool `yaml:"-"`
}

// Webhooks is the policy for webhook destinations: an order's notify_url
// and the merchants' webhook URLs (docs/webhooks.md).
type Webhooks struct {
	// AllowHTTP accepts http:// URLs besides https://
	// (PAYGATE_WEBHOOKS_ALLOW_HTTP). Default false; true in the sandbox.
	AllowHTTP *bool `yaml:"allow_http"`
	// AllowedNetworks are CIDR prefixes webhooks may go to although they
	// are loopback, private, CGNAT, link-local, multicast or unspecified
	// (PAYGATE_WEBHOOKS_ALLOWED_NETWORKS). Default none; loopback
	// (127.0.0.0/8, ::1/128) in the sandbox.
	AllowedNetworks []string `yaml:"allowed_networks"`
}

// Policy returns the webhook destination policy of w (filled).
func (w *Webhooks) Policy() *webhookurl.Policy {
	p, err := webhookurl.New(w.AllowHTTP != nil && *w.AllowHTTP, w.AllowedNetworks)
	if err != nil {
		// Validate refuses such a configuration; never widen on error.
		return &webhookurl.Policy{}
	}
	return p
}

func (w *Webhooks) fill(sandbox bool) {
	if w.AllowHTTP == nil {
		w.AllowHTTP = &sandbox
	}
	if w.AllowedNetworks == nil && sandbox {
		for _, p := range webhookurl.Loopback {
			w.AllowedNetworks = append(w.AllowedNetworks, p.String())
		}
	}
}

// Merchant is a merchant as configured.
type Merchant struct {
	ID             string                       `yaml:"id"`
	Name           string                       `yaml:"name"`
	MCC            string                       `yaml:"mcc"`
	MerchantNo     string                       `yaml:"merchant_no"`
	RegionCode     string                       `yaml:"region_code"`
	WebhookURL     string                       `yaml:"webhook_url"`
	WebhookSecrets []string                     `yaml:"webhook_secrets"`
	Providers      []string                     `yaml:"providers"`
	Contracts      map[string][]paygate.FeeRule `yaml:"-"` // file form: merchantInFile
	MaxAmount      int64                        `yaml:"max_amount"`
	Risk           *paygate.RiskRules           `yaml:"-"` // file form: merchantInFile
	// RateLimit overrides the gateway's rate_limit rates for this merchant.
	RateLimit *Limits    `yaml:"rate_limit"`
	Keys      []Key      `yaml:"keys"`
	Terminals []Terminal `yaml:"terminals"`
}

// Key is a merchant API key. A key with TerminalID is a terminal key.
type Key struct {
	ID         string `yaml:"id"`
	Secret     string `yaml:"secret"`
	TerminalID string `yaml:"terminal_id"`
}

// Terminal is a POS terminal bound to a merchant and a registered region
// (银发〔2021〕259号).
type Terminal struct {
	ID         string `yaml:"id"`
	RegionCode string `yaml:"region_code"` // default: the merchant's
	SerialNo   string `yaml:"serial_no"`
	Model      string `yaml:"model"`
}

// Jobs are the background jobs' schedules. Every replica may run them:
// work is claimed with leases or SKIP LOCKED.
type Jobs struct {
	// Disabled stops this process from running background jobs.
	Disabled bool `yaml:"disabled"`
	// PendingQueryInterval is how often pending orders are queried at
	// their channel (lost callbacks). Default 10s.
	PendingQueryInterval time.Duration `yaml:"pending_query_interval"`
	// PendingQueryAfter is how old a pending order must be before it is
	// queried. Default 5s.
	PendingQueryAfter time.Duration `yaml:"pending_query_after"`
	// ReverseAfter is how long an unpaid B-scan-C order may stay pending
	// before it is reversed. Default 2m.
	ReverseAfter time.Duration `yaml:"reverse_after"`
	// OutboxInterval is how often the webhook outbox is polled. Default 1s.
	OutboxInterval time.Duration `yaml:"outbox_interval"`
	// Batch is the most rows one job run claims. Default 100.
	Batch int `yaml:"batch"`
	// LeaseTTL is how long a claimed row stays claimed. Default 30s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// ReconcileAt is the time of day (HH:MM, China Standard Time whatever
	// the server's time zone) from which the daily job reconciles the
	// previous day of every provider not yet done. Default "10:30":
	// channels publish the previous day's bill from 10:00.
	ReconcileAt string `yaml:"reconcile_at"`
}

// Job defaults.
const (
	DefaultPendingQueryInterval = 10 * time.Second
	DefaultPendingQueryAfter    = 5 * time.Second
	DefaultReverseAfter         = 2 * time.Minute
	DefaultOutboxInterval       = time.Second
	DefaultJobBatch             = 100
	DefaultLeaseTTL             = 30 * time.Second
	DefaultReconcileAt          = "10:30"
)

// Default returns the configuration used when no config file is given: the
// sandbox enabled, no providers (the binary adds the sandbox channels'
// providers at start with AddProvider), and the demo merchant m_demo with a
// random sandbox key (Sandbox.Generated is set).
func Default() *Config {
	c := base()
	c.fill()
	return c
}

// base is Default before environment overrides and defaults.
func base() *Config {
	return &Config{Sandbox: Sandbox{Enabled: true}}
}

// DemoMerchant is the sandbox's demo merchant (docs/configuration.md).
func DemoMerchant() Merchant {
	return Merchant{
		ID:         DemoMerchantID,
		Name:       "Demo Café",
		MCC:        DemoMCC,
		MerchantNo: DemoMerchantNo,
		RegionCode: DemoRegionCode,
		Terminals:  []Terminal{{ID: DemoTerminalID, RegionCode: DemoRegionCode, Model: "sandbox"}},
	}
}

// fill sets every default. It runs after the environment overrides so that,
// for example, PAYGATE_DATA_DIR moves the default SQLite file too.
func (c *Config) fill() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.PublicURL == "" {
		c.PublicURL = defaultPublicURL(c.Addr)
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + c.DataDir + "/paygate.db"
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = DefaultRedisPrefix
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.AuthCodes == nil {
		c.AuthCodes = cloneAuthCodes(paygate.DefaultAuthCodeRules)
	}
	for i := range c.Providers {
		if c.Providers[i].Timeout == 0 {
			c.Providers[i].Timeout = DefaultProviderTimeout
		}
	}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		for j := range m.Terminals {
			if m.Terminals[j].RegionCode == "" {
				m.Terminals[j].RegionCode = m.RegionCode
			}
		}
	}
	c.Server.fill()
	c.RateLimit.Limits = c.RateLimit.Limits.over(Limits{
		KeyRate: DefaultKeyRate, KeyBurst: DefaultKeyBurst,
		TerminalRate: DefaultTerminalRate, TerminalBurst: DefaultTerminalBurst,
	})
	c.Jobs.fill()
	c.Sandbox.fill()
	c.Webhooks.fill(c.Sandbox.Enabled)
	if c.Sandbox.Enabled && c.Sandbox.Merchant == DemoMerchantID && c.merchant(DemoMerchantID) == nil {
		c.Merchants = append(c.Merchants, DemoMerchant())
	}
}

// orDefault sets an unset duration to its default.
func orDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

func (s *Server) fill() {
	orDefault(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDefault(&s.ReadTimeout, DefaultReadTimeout)
	orDefault(&s.WriteTimeout, DefaultWriteTimeout)
	orDefault(&s.IdleTimeout, DefaultIdleTimeout)
}

func (j *Jobs) fill() {
	set := orDefault
	set(&j.PendingQueryInterval, DefaultPendingQueryInterval)
	set(&j.PendingQueryAfter, DefaultPendingQueryAfter)
	set(&j.ReverseAfter, DefaultReverseAfter)
	set(&j.OutboxInterval, DefaultOutboxInterval)
	set(&j.LeaseTTL, DefaultLeaseTTL)
	if j.Batch == 0 {
		j.Batch = DefaultJobBatch
	}
	if j.ReconcileAt == "" {
		j.ReconcileAt = DefaultReconcileAt
	}
}

func (s *Sandbox) fill() {
	if s.Merchant == "" {
		s.Merchant = DemoMerchantID
	}
	if !s.Enabled {
		return
	}
	if s.KeyID == "" {
		s.KeyID = "key_test_" + randomHex(10)
		s.Generated = true
	}
	if s.Secret == "" {
		s.Secret = "sk_test_" + randomHex(24)
		s.Generated = true
	}
	if s.WebhookSecret == "" {
		s.WebhookSecret = "whsec_test_" + randomHex(16)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("config: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func cloneAuthCodes(rules []paygate.AuthCodeRule) []paygate.AuthCodeRule {
	out := make([]paygate.AuthCodeRule, len(rules))
	for i, r := range rules {
		out[i] = paygate.AuthCodeRule{
			Channel:  r.Channel,
			Length:   append([]int(nil), r.Length...),
			Prefixes: append([]string(nil), r.Prefixes...),
		}
	}
	return out
}

// merchant returns the configured merchant with id, or nil.
func (c *Config) merchant(id string) *Merchant {
	for i := range c.Merchants {
		if c.Merchants[i].ID == id {
			return &c.Merchants[i]
		}
	}
	return nil
}

// Provider returns the configured provider with id, or nil.
func (c *Config) Provider(id string) *paygate.ProviderSpec {
	for i := range c.Providers {
		if c.Providers[i].ID == id {
			return &c.Providers[i]
		}
	}
	return nil
}

// AddProvider appends a provider after loading: the binary adds the
// sandbox channels' providers this way, naming each by its kind ("wechat",
// "alipay", ...) so that merchants may refer to them. It fills the
// provider's defaults and validates it against the rest of the config.
func (c *Config) AddProvider(p paygate.ProviderSpec) error {
	if p.Timeout == 0 {
		p.Timeout = DefaultProviderTimeout
	}
	i := len(c.Providers)
	var v validator
	v.provider(i, &p)
	if c.Provider(p.ID) != nil {
		v.add(fmt.Sprintf("providers[%d].id", i), fmt.Sprintf("duplicate id %q", p.ID))
	}
	if err := v.err(); err != nil {
		return err
	}
	c.Providers = append(c.Providers, p)
	return nil
}
