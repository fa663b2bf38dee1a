package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
)

const validYAML = `
database_url: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
redis_url: "redis://127.0.0.1:6379/0"
providers:
  - id: wx
    kind: wechat
    base_url: "https://api.mch.weixin.qq.com"
    credentials:
      mchid: "1900000109"
      appid: "wx8888888888888888"
      serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
      api_v3_key: "0123456789abcdef0123456789abcdef"
      private_key: "pem"
      platform_public_key: "pem"
      platform_public_key_id: "PUB_KEY_ID_0114232134912410000"
    fees:
      - {name: wx.default, rate: "0.006"}
  - id: acq
    kind: acquirer
    base_url: "tcp://127.0.0.1:5000"
    credentials: {mac_key: "0123456789ABCDEFFEDCBA9876543210", acquirer_id: "48020000"}
    fees:
      - {name: acq.debit, rate: "0.0055", cap: 2000, card_types: [debit]}
      - {name: acq.credit, rate: "0.006", card_types: [credit]}
      - {name: acq.nfc, rate: "0.0038", min: 1, cap: 500, entry_modes: [contactless], max_amount: 100000}
merchants:
  - id: m1
    name: Shop
    mcc: "5812"
    merchant_no: "898310058120001"
    region_code: "310000"
    webhook_url: "https://shop.example.com/hook"
    webhook_secrets: ["whsec_0123456789abcdef"]
    providers: [wx, acq]
    contracts:
      wx: [{name: m1.wx, rate: "0.0038"}]
    risk:
      per_payment: {max: 100000, action: decline}
      region_policy: flag
    keys:
      - {id: k1, secret: "0123456789abcdef0123456789abcdef"}
      - {id: k2, secret: "0123456789abcdef0123456789abcdef", terminal_id: T1}
    terminals:
      - {id: T1, region_code: "310000"}
`

// valid returns a configuration that validates.
func valid(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(validYAML), nil)
	if err != nil {
		t.Fatalf("the valid fixture does not load: %v", err)
	}
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		want   string // the whole "path: message" or the part that must appear
	}{
		{"unknown kind", func(c *config.Config) { c.Providers[1].Kind = "wechatt" },
			`providers[1].kind: unknown kind "wechatt" (want wechat, alipay, unionpay, ecny, acquirer)`},
		{"bad provider id", func(c *config.Config) { c.Providers[0].ID = "We Chat" }, `providers[0].id: "We Chat" is not a valid provider id`},
		{"duplicate provider", func(c *config.Config) { c.Providers[1].ID = "wx" }, `providers[1].id: duplicate id "wx"`},
		{"http base url", func(c *config.Config) { c.Providers[0].BaseURL = "ftp://x" }, `providers[0].base_url: "ftp://x" is not an http(s) URL`},
		{"acquirer base url", func(c *config.Config) { c.Providers[1].BaseURL = "https://x" }, `providers[1].base_url: "https://x" is not a tcp://host:port`},
		{"empty credential", func(c *config.Config) { c.Providers[0].Credentials["mchid"] = "" }, `providers[0].credentials.mchid: empty`},
		{"missing credential", func(c *config.Config) { delete(c.Providers[1].Credentials, "mac_key") }, `providers[1].credentials.mac_key: missing`},
		{"misspelt credential", func(c *config.Config) { c.Providers[0].Credentials["mch_id"] = "1900000109" },
			`providers[0].credentials.mch_id: unknown to kind wechat (want mchid, appid, serial_no, api_v3_key, private_key, platform_public_key, platform_public_key_id, oauth_app_secret)`},
		{"acquirer without address", func(c *config.Config) { c.Providers[1].BaseURL = "" },
			`providers[1].base_url: required (tcp://host:port or tls://host:port) unless credentials.address is set`},
		{"negative cashier limit", func(c *config.Config) { c.Cashier.PaysPerIP = -1 }, `cashier.pays_per_ip: -1 is negative`},
		{"e-CNY marker with a control character", func(c *config.Config) { c.Cashier.ECNYUAMarker = "eCNY\n" }, `cashier.ecny_ua_marker: at most 64 characters, no control characters`},
		{"negative rate", func(c *config.Config) { c.Providers[1].Fees[2].Rate = decimal.RequireFromString("-0.01") }, `providers[1].fees[2].rate: negative`},
		{"rate above 1", func(c *config.Config) { c.Providers[0].Fees[0].Rate = decimal.NewFromInt(6) }, `providers[0].fees[0].rate: 6 above 1`},
		{"cap below min", func(c *config.Config) { c.Providers[1].Fees[2].Cap, c.Providers[1].Fees[2].Min = 100, 200 }, `providers[1].fees[2].cap: 100 below min 200`},
		{"negative cap", func(c *config.Config) { c.Providers[1].Fees[0].Cap = -1 }, `providers[1].fees[0].cap: -1 is negative`},
		{"fee amount range", func(c *config.Config) { c.Providers[1].Fees[2].MinAmount = 200000 }, `providers[1].fees[2].max_amount: 100000 below min_amount 200000`},
		{"fee method", func(c *config.Config) { c.Providers[0].Fees[0].Methods = []paygate.Method{"nfc"} }, `providers[0].fees[0].methods[0]: unknown method "nfc"`},
		{"fee entry mode", func(c *config.Config) { c.Providers[1].Fees[2].EntryModes = []string{"tap"} }, `providers[1].fees[2].entry_modes[0]: unknown entry mode "tap"`},
		{"fee card type", func(c *config.Config) { c.Providers[1].Fees[0].CardTypes = []string{"prepaid"} }, `providers[1].fees[0].card_types[0]: unknown card type "prepaid"`},
		{"fee mcc", func(c *config.Config) { c.Providers[0].Fees[0].MCCs = []string{"58"} }, `providers[0].fees[0].mccs[0]: "58" is not a 4-digit MCC`},
		{"negative timeout", func(c *config.Config) { c.Providers[0].Timeout = -1 }, `providers[0].timeout: -1ns is negative`},
		{"provider amounts", func(c *config.Config) { c.Providers[0].MinAmount, c.Providers[0].MaxAmount = 10, 5 }, `providers[0].max_amount: 5 below min_amount 10`},
		{"provider method", func(c *config.Config) { c.Providers[0].Methods = []paygate.Method{"cash"} }, `providers[0].methods[0]: unknown method "cash"`},

		{"write timeout below the longest wait", func(c *config.Config) { c.Server.WriteTimeout = 120e9 },
			`server.write_timeout: 2m0s must exceed the longest wait_seconds (2m0s)`},
		{"write timeout below the longest wait and a channel call", func(c *config.Config) { c.Providers[1].Timeout = 45e9 },
			`server.write_timeout: 2m30s must exceed the longest wait_seconds plus providers[1].timeout (2m45s)`},
		{"idle timeout", func(c *config.Config) { c.Server.IdleTimeout = -1 }, `server.idle_timeout: -1ns is not positive`},
		{"header timeout above read timeout", func(c *config.Config) { c.Server.ReadHeaderTimeout = 30e9 },
			`server.read_header_timeout: 30s above read_timeout 20s`},
		{"negative rate", func(c *config.Config) { c.RateLimit.TerminalRate = -1 }, `rate_limit.terminal_rate: -1 is negative`},
		{"burst below rate", func(c *config.Config) { c.RateLimit.KeyBurst = 10 }, `rate_limit.key_burst: 10 below key_rate 1000`},
		{"merchant burst below rate", func(c *config.Config) {
			c.Merchants[0].RateLimit = &config.Limits{TerminalRate: 5, TerminalBurst: 2}
		}, `merchants[0].rate_limit.terminal_burst: 2 below terminal_rate 5`},

		{"mcc", func(c *config.Config) { c.Merchants[0].MCC = "58a2" }, `merchants[0].mcc: "58a2" is not a 4-digit MCC`},
		{"merchant no", func(c *config.Config) { c.Merchants[0].MerchantNo = "12345" }, `merchants[0].merchant_no: must be 15 digits`},
		{"merchant region", func(c *config.Config) { c.Merchants[0].RegionCode = "31000" }, `merchants[0].region_code: "31000" is not a 6-digit region code`},
		{"merchant id", func(c *config.Config) { c.Merchants[0].ID = "" }, `merchants[0].id: "" is not a valid id`},
		{"merchant name", func(c *config.Config) { c.Merchants[0].Name = " " }, `merchants[0].name: must be set`},
		{"duplicate merchant", func(c *config.Config) { c.Merchants = append(c.Merchants, c.Merchants[0]) }, `merchants[1].id: duplicate id "m1"`},
		{"webhook url", func(c *config.Config) { c.Merchants[0].WebhookURL = "shop.example.com/hook" }, `merchants[0].webhook_url: "shop.example.com/hook" is not an http(s) URL`},
		{"webhook secret", func(c *config.Config) { c.Merchants[0].WebhookSecrets = []string{"short"} }, `merchants[0].webhook_secrets[0]: must be at least 16 characters`},
		{"merchant provider", func(c *config.Config) { c.Merchants[0].Providers = []string{"wx", "alipay"} }, `merchants[0].providers[1]: unknown provider "alipay"`},
		{"contract provider", func(c *config.Config) {
			c.Merchants[0].Contracts["ali"] = []paygate.FeeRule{{Rate: decimal.RequireFromString("0.002")}}
		}, `merchants[0].contracts.ali: unknown provider "ali"`},
		{"contract rate", func(c *config.Config) { c.Merchants[0].Contracts["wx"][0].Rate = decimal.RequireFromString("-1") }, `merchants[0].contracts.wx[0].rate: negative`},
		{"merchant max amount", func(c *config.Config) { c.Merchants[0].MaxAmount = 6_000_000 }, `merchants[0].max_amount: 6000000 above the gateway limit 5000000`},
		{"key secret", func(c *config.Config) { c.Merchants[0].Keys[0].Secret = "short" }, `merchants[0].keys[0].secret: must be at least 32 characters`},
		{"key id", func(c *config.Config) { c.Merchants[0].Keys[0].ID = "k 1" }, `merchants[0].keys[0].id: "k 1" is not a valid id`},
		{"duplicate key", func(c *config.Config) { c.Merchants[0].Keys[1].ID = "k1" }, `merchants[0].keys[1].id: duplicate key id "k1" (also merchants[0].keys[0].id)`},
		{"key terminal", func(c *config.Config) { c.Merchants[0].Keys[1].TerminalID = "T9" }, `merchants[0].keys[1].terminal_id: unknown terminal "T9"`},
		{"terminal region", func(c *config.Config) { c.Merchants[0].Terminals[0].RegionCode = "SH" }, `merchants[0].terminals[0].region_code: "SH" is not a 6-digit region code`},
		{"duplicate terminal", func(c *config.Config) {
			c.Merchants[0].Terminals = append(c.Merchants[0].Terminals, c.Merchants[0].Terminals[0])
		}, `merchants[0].terminals[1].id: duplicate terminal id "T1"`},
		{"risk action", func(c *config.Config) { c.Merchants[0].Risk.PerPayment.Action = "block" },
			`merchants[0].risk.per_payment.action: unknown action "block" (want decline, standard_rate, flag)`},
		{"risk max", func(c *config.Config) { c.Merchants[0].Risk.PerPayment.Max = 0 }, `merchants[0].risk.per_payment.max: 0 is not positive`},
		{"region policy", func(c *config.Config) { c.Merchants[0].Risk.RegionPolicy = "standard_rate" },
			`merchants[0].risk.region_policy: unknown action "standard_rate" (want decline, flag)`},
		{"split action", func(c *config.Config) {
			c.Merchants[0].Risk.SplitPayment = &paygate.SplitPaymentRule{Window: 60e9, Action: "ban"}
		}, `merchants[0].risk.split_payment.action: unknown action "ban"`},
		{"split window", func(c *config.Config) {
			c.Merchants[0].Risk.SplitPayment = &paygate.SplitPaymentRule{Action: "decline"}
		}, `merchants[0].risk.split_payment.window: 0s is not positive`},

		{"auth code prefix", func(c *config.Config) { c.AuthCodes[0].Prefixes[1] = "1a" }, `auth_codes[0].prefixes[1]: "1a" is not 1-8 digits`},
		{"auth code short", func(c *config.Config) { c.AuthCodes[2].Length = []int{7} }, `auth_codes[2].length[0]: 7 outside 8..32`},
		{"auth code long", func(c *config.Config) { c.AuthCodes[1].Length[0] = 33 }, `auth_codes[1].length[0]: 33 outside 8..32`},
		{"auth code channel", func(c *config.Config) { c.AuthCodes[0].Channel = "acquirer" }, `auth_codes[0].channel: unknown channel "acquirer"`},
		{"auth code no prefixes", func(c *config.Config) { c.AuthCodes[0].Prefixes = nil }, `auth_codes[0].prefixes: must list at least one prefix`},

		{"addr", func(c *config.Config) { c.Addr = "8080" }, `addr: "8080" is not a host:port address`},
		{"addr port", func(c *config.Config) { c.Addr = ":http-alt" }, `addr: ":http-alt" has an invalid port`},
		{"public url", func(c *config.Config) { c.PublicURL = "pay.example.com" }, `public_url: "pay.example.com" is not an http(s) URL`},
		{"database scheme", func(c *config.Config) { c.DatabaseURL = "mysql://u:hunter2@db/x" }, `database_url: "mysql://u:xxxxx@db/x": unknown scheme`},
		{"database sqlite", func(c *config.Config) { c.DatabaseURL = "sqlite:" }, `database_url: "sqlite:" names no file`},
		{"redis scheme", func(c *config.Config) { c.RedisURL = "memcached://127.0.0.1:11211" }, `redis_url: "memcached://127.0.0.1:11211": unknown scheme`},
		{"redis cluster", func(c *config.Config) { c.RedisURL = "10.0.0.1:7000,10.0.0.2" }, `redis_url: cluster address "10.0.0.2" is not host:port`},
		{"redis host", func(c *config.Config) { c.RedisURL = "redis://" }, `redis_url: "redis://" is not a valid Redis URL`},
		{"log level", func(c *config.Config) { c.LogLevel = "trace" }, `log_level: unknown level "trace" (want debug, info, warn, error)`},
		{"body size", func(c *config.Config) { c.MaxBodyBytes = -1 }, `max_body_bytes: -1 is not positive`},
		{"trusted proxy", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "::1", "proxy.local"} },
			`trusted_proxies[2]: "proxy.local" is not an IP address or CIDR range`},
		{"trusted proxy range", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/33"} },
			`trusted_proxies[0]: "10.0.0.0/33" is not an IP address or CIDR range`},
		{"job interval", func(c *config.Config) { c.Jobs.OutboxInterval = -1 }, `jobs.outbox_interval: -1ns is not positive`},
		{"job time", func(c *config.Config) { c.Jobs.ReconcileAt = "25:00" }, `jobs.reconcile_at: "25:00" is not a time of day HH:MM`},

		{"sandbox merchant", func(c *config.Config) { c.Sandbox = config.Sandbox{Enabled: true, Merchant: "nobody"} }, `sandbox.merchant: unknown merchant "nobody"`},
		{"sandbox secret", func(c *config.Config) {
			c.Sandbox = config.Sandbox{Enabled: true, Merchant: "m1", KeyID: "ks", Secret: "short", WebhookSecret: "whsec_0123456789abcdef"}
		}, `sandbox.secret: must be at least 32 characters`},
		{"sandbox key clash", func(c *config.Config) {
			c.Sandbox = config.Sandbox{Enabled: true, Merchant: "m1", KeyID: "k1", Secret: strings.Repeat("s", 32), WebhookSecret: strings.Repeat("w", 16)}
		}, `merchants[0].keys[0].id: duplicate key id "k1" (also sandbox.key_id)`},
	}
	if err := valid(t).Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid(t)
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("a password reached the error: %v", err)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := valid(t)
	c.Providers[1].Kind = "wechatt"
	c.Merchants[0].MCC = "58a2"
	c.Merchants[0].Keys[0].Secret = "x"
	err := c.Validate()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Fatalf("want 3 joined errors, got %v", err)
	}
}

// Merchants may name the sandbox providers (named by kind) only in sandbox mode.
func TestSandboxProviderNames(t *testing.T) {
	c := valid(t)
	c.Merchants[0].Providers = []string{"wx", "alipay"}
	if err := c.Validate(); err == nil {
		t.Fatal("unknown provider accepted outside the sandbox")
	}
	c.Sandbox = config.Sandbox{Enabled: true, Merchant: "m1", KeyID: "ks", Secret: strings.Repeat("s", 32), WebhookSecret: strings.Repeat("w", 16)}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestAddProvider(t *testing.T) {
	c := config.Default()
	creds := map[string]string{}
	for _, k := range []string{"mchid", "appid", "serial_no", "api_v3_key", "private_key", "platform_public_key", "platform_public_key_id"} {
		creds[k] = "x"
	}
	if err := c.AddProvider(paygate.ProviderSpec{ID: "wechat", Kind: "wechat", BaseURL: "http://127.0.0.1:8080/sandbox/wechat", Credentials: creds}); err != nil {
		t.Fatal(err)
	}
	if p := c.Provider("wechat"); p == nil || p.Timeout != config.DefaultProviderTimeout {
		t.Fatalf("provider = %+v", p)
	}
	err := c.AddProvider(paygate.ProviderSpec{ID: "wechat", Kind: "wechat", Credentials: creds})
	if err == nil || !strings.Contains(err.Error(), `providers[1].id: duplicate id "wechat"`) {
		t.Fatalf("duplicate: %v", err)
	}
	err = c.AddProvider(paygate.ProviderSpec{ID: "x", Kind: "cash"})
	if err == nil || !strings.Contains(err.Error(), `providers[1].kind: unknown kind "cash"`) {
		t.Fatalf("bad kind: %v", err)
	}
	if len(c.Providers) != 1 {
		t.Fatalf("a rejected provider was added: %v", c.Providers)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
