package config_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
)

// env is a getenv over a map.
type env map[string]string

func (e env) get(name string) string { return e[name] }

func TestDefault(t *testing.T) {
	for name, load := range map[string]func() (*config.Config, error){
		"Default": func() (*config.Config, error) { return config.Default(), nil },
		"Load":    func() (*config.Config, error) { return config.Load("", env{}.get) },
	} {
		t.Run(name, func(t *testing.T) {
			c, err := load()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Default does not validate: %v", err)
			}
			want := map[string]any{
				"Addr":         ":8080",
				"PublicURL":    "http://127.0.0.1:8080",
				"DataDir":      "./data",
				"DatabaseURL":  "sqlite:./data/paygate.db",
				"RedisURL":     "",
				"RedisPrefix":  "paygate:",
				"LogLevel":     "info",
				"MaxBodyBytes": int64(65536),
			}
			got := reflect.ValueOf(c).Elem()
			for field, w := range want {
				if g := got.FieldByName(field).Interface(); g != w {
					t.Errorf("%s = %v, want %v", field, g, w)
				}
			}
			if !c.Sandbox.Enabled || !c.Sandbox.Generated || len(c.Sandbox.Secret) < config.MinKeySecret {
				t.Errorf("sandbox = %+v, want enabled with a generated key", c.Sandbox)
			}
			if len(c.Providers) != 0 {
				t.Errorf("providers = %v, want none", c.Providers)
			}
			if !reflect.DeepEqual(c.AuthCodes, paygate.DefaultAuthCodeRules) {
				t.Errorf("auth codes = %v", c.AuthCodes)
			}
			if c.Jobs.PendingQueryInterval != 10*time.Second || c.Jobs.Batch != 100 || c.Jobs.ReconcileAt != "10:30" {
				t.Errorf("jobs = %+v", c.Jobs)
			}
			if len(c.Merchants) != 1 {
				t.Fatalf("merchants = %v", c.Merchants)
			}
			m := c.Merchants[0]
			if m.ID != "m_demo" || m.Name != "Demo Café" || m.MCC != "5812" || len(m.MerchantNo) != 15 || m.RegionCode != "310000" {
				t.Errorf("demo merchant = %+v", m)
			}
			if len(m.Terminals) != 1 || m.Terminals[0].ID != "T0001" || m.Terminals[0].RegionCode != "310000" {
				t.Errorf("demo terminals = %+v", m.Terminals)
			}

			d := c.Directory()
			k, err := d.APIKey(context.Background(), c.Sandbox.KeyID)
			if err != nil || k.MerchantID != "m_demo" || k.Secret != c.Sandbox.Secret {
				t.Fatalf("sandbox key = %+v, %v", k, err)
			}
			pm, err := d.Merchant(context.Background(), "m_demo")
			if err != nil || pm.WebhookSecrets[0] != c.Sandbox.WebhookSecret {
				t.Fatalf("demo merchant = %+v, %v", pm, err)
			}
		})
	}
}

func TestDefaultKeysAreRandom(t *testing.T) {
	a, b := config.Default(), config.Default()
	if a.Sandbox.KeyID == b.Sandbox.KeyID || a.Sandbox.Secret == b.Sandbox.Secret {
		t.Fatal("two defaults share a sandbox key")
	}
}

func TestEnvOverrides(t *testing.T) {
	e := env{
		"PAYGATE_ADDR":                   "127.0.0.1:9090",
		"PAYGATE_PUBLIC_URL":             "https://pay.example.com",
		"PAYGATE_DATA_DIR":               "/srv/paygate",
		"PAYGATE_REDIS_URL":              "redis://127.0.0.1:6379/0",
		"PAYGATE_REDIS_PREFIX":           "pg1:",
		"PAYGATE_LOG_LEVEL":              "debug",
		"PAYGATE_MAX_BODY_BYTES":         "1024",
		"PAYGATE_TRUSTED_PROXIES":        " 10.0.0.0/8, 192.168.1.7 ,",
		"PAYGATE_SANDBOX_KEY_ID":         "key_test_demo",
		"PAYGATE_SANDBOX_SECRET":         "sk_test_0123456789abcdef0123456789abcdef",
		"PAYGATE_SANDBOX_WEBHOOK_SECRET": "whsec_test_0123456789",
		"PAYGATE_SANDBOX_WEBHOOK_URL":    "http://127.0.0.1:9999/hook",
		"PAYGATE_SERVER_READ_TIMEOUT":    "15s",
		"PAYGATE_SERVER_IDLE_TIMEOUT":    "2m",
		"PAYGATE_RATE_LIMIT_DISABLED":    "true",
	}
	c, err := config.Load("", e.get)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want any }{
		{c.Addr, "127.0.0.1:9090"},
		{c.PublicURL, "https://pay.example.com"},
		{c.DataDir, "/srv/paygate"},
		{c.DatabaseURL, "sqlite:/srv/paygate/paygate.db"}, // the default follows the data dir
		{c.RedisURL, "redis://127.0.0.1:6379/0"},
		{c.RedisPrefix, "pg1:"},
		{c.LogLevel, "debug"},
		{c.MaxBodyBytes, int64(1024)},
		{strings.Join(c.TrustedProxies, "|"), "10.0.0.0/8|192.168.1.7"},
		{c.Sandbox.KeyID, "key_test_demo"},
		{c.Sandbox.Generated, false},
		{c.Server.ReadTimeout, 15 * time.Second},
		{c.Server.IdleTimeout, 2 * time.Minute},
		{c.Server.ReadHeaderTimeout, config.DefaultReadHeaderTimeout},
		{c.Server.WriteTimeout, config.DefaultWriteTimeout},
		{c.RateLimit.Disabled, true},
	}
	for i, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("check %d: got %v, want %v", i, ch.got, ch.want)
		}
	}
	d := c.Directory()
	k, err := d.APIKey(context.Background(), "key_test_demo")
	if err != nil || k.Secret != e["PAYGATE_SANDBOX_SECRET"] || k.MerchantID != "m_demo" {
		t.Fatalf("APIKey = %+v, %v", k, err)
	}
	m, _ := d.Merchant(context.Background(), "m_demo")
	if m.WebhookURL != e["PAYGATE_SANDBOX_WEBHOOK_URL"] || m.WebhookSecrets[0] != e["PAYGATE_SANDBOX_WEBHOOK_SECRET"] {
		t.Fatalf("demo merchant webhook = %q %q", m.WebhookURL, m.WebhookSecrets)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "paygate.yaml")
	writeFile(t, path, "addr: \":9000\"\nlog_level: warn\ndatabase_url: \"sqlite:/tmp/x.db\"\n")
	e := env{
		"PAYGATE_CONFIG":       path,
		"PAYGATE_ADDR":         ":9100",
		"PAYGATE_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
		"PAYGATE_SANDBOX":      "true",
	}
	c, err := config.Load("", e.get) // the path comes from PAYGATE_CONFIG
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9100" || c.LogLevel != "warn" || c.DatabaseURL != e["PAYGATE_DATABASE_URL"] || c.PublicURL != "http://127.0.0.1:9100" {
		t.Fatalf("got addr %q level %q db %q public %q", c.Addr, c.LogLevel, c.DatabaseURL, c.PublicURL)
	}
	if !c.Sandbox.Enabled || len(c.Merchants) != 1 || c.Merchants[0].ID != "m_demo" {
		t.Fatalf("PAYGATE_SANDBOX=true with a file: sandbox %+v merchants %v", c.Sandbox, c.Merchants)
	}

	// A file leaves the sandbox off unless it or the environment says so.
	c, err = config.Load(path, env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox.Enabled || len(c.Merchants) != 0 {
		t.Fatalf("sandbox %+v merchants %v, want off and none", c.Sandbox, c.Merchants)
	}
}

func TestPortZeroLeavesPublicURL(t *testing.T) {
	c, err := config.Load("", env{"PAYGATE_ADDR": "127.0.0.1:0"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "" {
		t.Fatalf("PublicURL = %q, want empty for the binary to fill in", c.PublicURL)
	}
}

func TestBadEnv(t *testing.T) {
	_, err := config.Load("", env{"PAYGATE_SANDBOX": "maybe", "PAYGATE_MAX_BODY_BYTES": "64k",
		"PAYGATE_SERVER_WRITE_TIMEOUT": "150", "PAYGATE_RATE_LIMIT_DISABLED": "off"}.get)
	for _, want := range []string{`PAYGATE_SANDBOX: "maybe"`, `PAYGATE_MAX_BODY_BYTES: "64k"`,
		`PAYGATE_SERVER_WRITE_TIMEOUT: "150"`, `PAYGATE_RATE_LIMIT_DISABLED: "off"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

func TestEmptyFile(t *testing.T) {
	c, err := config.Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox.Enabled || c.Addr != ":8080" {
		t.Fatalf("empty file: %+v", c)
	}
}

func TestDecimalsAndDurations(t *testing.T) {
	c, err := config.Parse([]byte(`
providers:
  - id: wx
    kind: alipay
    credentials: {app_id: "2021000000000000", private_key: k, alipay_public_key: p}
    timeout: 3s
    fees:
      - {name: quoted, rate: "0.006"}
      - {name: bare, rate: 0.006}
      - {name: zero, rate: 0}
merchants:
  - id: m1
    name: M
    mcc: "5812"
    merchant_no: "123456789012345"
    region_code: "310000"
    risk:
      split_payment: {window: 10m, threshold: 100000, min_count: 2, action: decline}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers[0]
	want := decimal.RequireFromString("0.006")
	if !p.Fees[0].Rate.Equal(want) || !p.Fees[1].Rate.Equal(want) || !p.Fees[2].Rate.IsZero() {
		t.Errorf("rates = %v %v %v", p.Fees[0].Rate, p.Fees[1].Rate, p.Fees[2].Rate)
	}
	if p.Timeout != 3*time.Second {
		t.Errorf("timeout = %v", p.Timeout)
	}
	if w := c.Merchants[0].Risk.SplitPayment.Window; w != 10*time.Minute {
		t.Errorf("window = %v", w)
	}
	// A provider without a timeout gets the default.
	c, err = config.Parse([]byte("providers: [{id: a, kind: alipay, credentials: {app_id: a, private_key: k, alipay_public_key: p}}]"), nil)
	if err != nil || c.Providers[0].Timeout != config.DefaultProviderTimeout {
		t.Fatalf("default timeout: %v, %v", c, err)
	}
}

func TestStrict(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"top-level key", "addr: \":8080\"\nadress: x\n", []string{"line 2", "adress: unknown key"}},
		{"nested key", "merchants:\n  - id: m1\n    terminls: []\n", []string{"line 3", "merchants[0].terminls: unknown key"}},
		{"fee rule key", "providers:\n  - id: wx\n    kind: wechat\n    fees:\n      - name: a\n        rat: 0.1\n", []string{"line 6", "providers[0].fees[0].rat: unknown key"}},
		{"contract key", "merchants:\n  - id: m1\n    contracts:\n      wx:\n        - {name: a, rates: 1}\n", []string{"line 5", "merchants[0].contracts.wx[0].rates: unknown key"}},
		{"risk key", "merchants:\n  - id: m1\n    risk:\n      per_payment: {max: 1, acton: flag}\n", []string{"line 4", "merchants[0].risk.per_payment.acton: unknown key"}},
		{"bad decimal", "providers:\n  - id: wx\n    kind: wechat\n    fees:\n      - rate: six\n", []string{"line 5", "providers[0].fees[0].rate", `"six" is not a valid decimal`}},
		{"unitless duration", "providers:\n  - id: wx\n    timeout: 10\n", []string{"line 3", "providers[0].timeout", "unit"}},
		{"bad duration", "jobs:\n  lease_ttl: soon\n", []string{"line 2", "jobs.lease_ttl"}},
		{"wrong type", "max_body_bytes: lots\n", []string{"line 1"}},
		{"two documents", "addr: \":1\"\n---\naddr: \":2\"\n", []string{"only one YAML document"}},
		{"not yaml", "addr: [\n", []string{"line"}},
		{"several at once", "a: 1\nb: 2\n", []string{"line 1: a: unknown key", "line 2: b: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, path, "sandbox:\n  enable: true\n")
	_, err := config.Load(path, nil)
	if err == nil || !strings.Contains(err.Error(), path+": line 2: sandbox.enable: unknown key") {
		t.Fatalf("error = %v", err)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Fatal("a missing file loaded")
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTestdata(t *testing.T) {
	c, err := config.Load("testdata/minimal.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox.Enabled || len(c.Merchants) != 1 || c.Providers[0].Timeout != config.DefaultProviderTimeout {
		t.Fatalf("minimal: %+v", c)
	}

	c, err = config.Load("testdata/sandbox.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Merchants) != 2 || c.Merchants[1].ID != config.DemoMerchantID || c.Sandbox.Generated {
		t.Fatalf("sandbox: merchants %v, sandbox %+v", c.Merchants, c.Sandbox)
	}
	if k, err := c.Directory().APIKey(context.Background(), "key_test_fixed"); err != nil || k.MerchantID != config.DemoMerchantID {
		t.Fatalf("sandbox key = %+v, %v", k, err)
	}
}
