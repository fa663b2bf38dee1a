package config

import (
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// The configuration file's names for the domain values a Config holds. The
// root package carries no wire format, so the file's form of an auth code
// rule, a provider, a fee rule and a merchant's risk rules lives here: the
// file decodes into these and is mapped onto the domain types.
//
// Each mirror has its domain type's fields in the same order with the same
// types, so a value converts to the domain type directly, and a field added
// to the domain type without its file name here breaks the build.

// file is the whole configuration file: Config with its domain-typed
// fields (tagged `yaml:"-"` there) in their file form.
type file struct {
	Config    `yaml:",inline"`
	AuthCodes []authCodeRule   `yaml:"auth_codes"`
	Providers []providerSpec   `yaml:"providers"`
	Merchants []merchantInFile `yaml:"merchants"`
}

// merchantInFile is a merchant with its contracts and risk rules in their
// file form.
type merchantInFile struct {
	Merchant  `yaml:",inline"`
	Contracts map[string][]feeRule `yaml:"contracts"`
	Risk      *riskRules           `yaml:"risk"`
}

type authCodeRule struct {
	Channel  string   `yaml:"channel"`
	Length   []int    `yaml:"length"`
	Prefixes []string `yaml:"prefixes"`
}

type providerSpec struct {
	ID          string            `yaml:"id"`
	Kind        string            `yaml:"kind"`
	BaseURL     string            `yaml:"base_url"`
	Credentials map[string]string `yaml:"credentials"`
	Fees        []feeRule         `yaml:"fees"`
	Priority    int               `yaml:"priority"`
	Disabled    bool              `yaml:"disabled"`
	Timeout     time.Duration     `yaml:"timeout"`
	MinAmount   int64             `yaml:"min_amount"`
	MaxAmount   int64             `yaml:"max_amount"`
	Methods     []paygate.Method  `yaml:"methods"`
	Networks    []string          `yaml:"networks"`
}

type feeRule struct {
	Name       string           `yaml:"name"`
	Rate       decimal.Decimal  `yaml:"rate"`
	Cap        int64            `yaml:"cap"`
	Min        int64            `yaml:"min"`
	Methods    []paygate.Method `yaml:"methods"`
	EntryModes []string         `yaml:"entry_modes"`
	CardTypes  []string         `yaml:"card_types"`
	Networks   []string         `yaml:"networks"`
	MinAmount  int64            `yaml:"min_amount"`
	MaxAmount  int64            `yaml:"max_amount"`
	MCCs       []string         `yaml:"mccs"`
}

type riskRules struct {
	SplitPayment       *splitPaymentRule `yaml:"split_payment"`
	PerPayment         *limit            `yaml:"per_payment"`
	PerPayerDaily      *limit            `yaml:"per_payer_daily"`
	PerTerminalDaily   *limit            `yaml:"per_terminal_daily"`
	StaticQRPayerDaily *limit            `yaml:"static_qr_payer_daily"`
	RegionPolicy       string            `yaml:"region_policy"`
}

type limit struct {
	Max    int64  `yaml:"max"`
	Action string `yaml:"action"`
}

type splitPaymentRule struct {
	Window    time.Duration `yaml:"window"`
	Tolerance int64         `yaml:"tolerance"`
	Threshold int64         `yaml:"threshold"`
	MinCount  int           `yaml:"min_count"`
	Action    string        `yaml:"action"`
}

// config maps the file onto a Config.
func (f *file) config() *Config {
	c := f.Config
	if f.AuthCodes != nil {
		c.AuthCodes = make([]paygate.AuthCodeRule, len(f.AuthCodes))
		for i, r := range f.AuthCodes {
			c.AuthCodes[i] = paygate.AuthCodeRule(r)
		}
	}
	if f.Providers != nil {
		c.Providers = make([]paygate.ProviderSpec, len(f.Providers))
		for i, p := range f.Providers {
			c.Providers[i] = p.spec()
		}
	}
	if f.Merchants != nil {
		c.Merchants = make([]Merchant, len(f.Merchants))
		for i, m := range f.Merchants {
			c.Merchants[i] = m.merchant()
		}
	}
	return &c
}

func (p providerSpec) spec() paygate.ProviderSpec {
	return paygate.ProviderSpec{
		ID: p.ID, Kind: p.Kind, BaseURL: p.BaseURL, Credentials: p.Credentials, Fees: feeRules(p.Fees),
		Priority: p.Priority, Disabled: p.Disabled, Timeout: p.Timeout, MinAmount: p.MinAmount,
		MaxAmount: p.MaxAmount, Methods: p.Methods, Networks: p.Networks,
	}
}

func feeRules(in []feeRule) []paygate.FeeRule {
	if in == nil {
		return nil
	}
	out := make([]paygate.FeeRule, len(in))
	for i, r := range in {
		out[i] = paygate.FeeRule(r)
	}
	return out
}

func (m merchantInFile) merchant() Merchant {
	out := m.Merchant
	if m.Contracts != nil {
		out.Contracts = make(map[string][]paygate.FeeRule, len(m.Contracts))
		for id, rules := range m.Contracts {
			out.Contracts[id] = feeRules(rules)
		}
	}
	if r := m.Risk; r != nil {
		out.Risk = &paygate.RiskRules{
			PerPayment: r.PerPayment.limit(), PerPayerDaily: r.PerPayerDaily.limit(),
			PerTerminalDaily: r.PerTerminalDaily.limit(), StaticQRPayerDaily: r.StaticQRPayerDaily.limit(),
			RegionPolicy: r.RegionPolicy,
		}
		if s := r.SplitPayment; s != nil {
			sp := paygate.SplitPaymentRule(*s)
			out.Risk.SplitPayment = &sp
		}
	}
	return out
}

func (l *limit) limit() *paygate.Limit {
	if l == nil {
		return nil
	}
	return &paygate.Limit{Max: l.Max, Action: l.Action}
}

// ProvidersYAML writes providers as the configuration file's providers
// list (what `paygate sandbox` prints for a configuration to use).
func ProvidersYAML(ps []paygate.ProviderSpec) ([]byte, error) {
	out := make([]providerSpec, len(ps))
	for i, p := range ps {
		out[i] = providerSpec{
			ID: p.ID, Kind: p.Kind, BaseURL: p.BaseURL, Credentials: p.Credentials, Priority: p.Priority,
			Disabled: p.Disabled, Timeout: p.Timeout, MinAmount: p.MinAmount, MaxAmount: p.MaxAmount,
			Methods: p.Methods, Networks: p.Networks,
		}
		if p.Fees != nil {
			out[i].Fees = make([]feeRule, len(p.Fees))
			for j, r := range p.Fees {
				out[i].Fees[j] = feeRule(r)
			}
		}
	}
	return yaml.Marshal(map[string]any{"providers": out})
}
