package config

import (
	"context"
	"slices"
	"sync"

	"github.com/paygate-cn/paygate"
)

// Directory is an in-memory paygate.MerchantDirectory built from the
// configured merchants and keys. It is safe for concurrent use; the
// merchants and keys it returns are shared and must not be modified.
type Directory struct {
	mu        sync.RWMutex
	merchants map[string]*paygate.Merchant
	keys      map[string]*paygate.APIKey
	terminals map[string]map[string]*Terminal // merchant id -> terminal id
}

var _ paygate.MerchantDirectory = (*Directory)(nil)

// Directory builds the merchant directory of c. In sandbox mode the
// sandbox merchant also gets the sandbox key (Sandbox.KeyID/Secret), the
// sandbox webhook secret (first, so it signs) and the sandbox webhook URL
// when set.
func (c *Config) Directory() *Directory {
	d := &Directory{
		merchants: make(map[string]*paygate.Merchant),
		keys:      make(map[string]*paygate.APIKey),
		terminals: make(map[string]map[string]*Terminal),
	}
	for i := range c.Merchants {
		m := &c.Merchants[i]
		pm := m.Domain()
		sandboxed := c.Sandbox.Enabled && m.ID == c.Sandbox.Merchant
		if sandboxed {
			if c.Sandbox.WebhookSecret != "" && !slices.Contains(pm.WebhookSecrets, c.Sandbox.WebhookSecret) {
				pm.WebhookSecrets = append([]string{c.Sandbox.WebhookSecret}, pm.WebhookSecrets...)
			}
			if c.Sandbox.WebhookURL != "" {
				pm.WebhookURL = c.Sandbox.WebhookURL
			}
		}
		d.merchants[m.ID] = pm
		ts := make(map[string]*Terminal, len(m.Terminals))
		for j := range m.Terminals {
			t := m.Terminals[j]
			ts[t.ID] = &t
		}
		d.terminals[m.ID] = ts
		for _, k := range m.Keys {
			d.keys[k.ID] = &paygate.APIKey{ID: k.ID, MerchantID: m.ID, Secret: k.Secret, TerminalID: k.TerminalID}
		}
		if sandboxed && c.Sandbox.KeyID != "" {
			d.keys[c.Sandbox.KeyID] = &paygate.APIKey{ID: c.Sandbox.KeyID, MerchantID: m.ID, Secret: c.Sandbox.Secret}
		}
	}
	return d
}

// Domain converts the configured merchant to the domain's Merchant.
func (m *Merchant) Domain() *paygate.Merchant {
	pm := &paygate.Merchant{
		ID:             m.ID,
		Name:           m.Name,
		MCC:            m.MCC,
		MerchantNo:     m.MerchantNo,
		RegionCode:     m.RegionCode,
		WebhookURL:     m.WebhookURL,
		WebhookSecrets: slices.Clone(m.WebhookSecrets),
		Providers:      slices.Clone(m.Providers),
		MaxAmount:      m.MaxAmount,
		Risk:           m.Risk,
	}
	if m.Contracts != nil {
		pm.Contracts = make(map[string][]paygate.FeeRule, len(m.Contracts))
		for id, rules := range m.Contracts {
			pm.Contracts[id] = slices.Clone(rules)
		}
	}
	return pm
}

// Merchant returns the merchant. Returns ENOTFOUND if unknown.
func (d *Directory) Merchant(ctx context.Context, id string) (*paygate.Merchant, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if m, ok := d.merchants[id]; ok {
		return m, nil
	}
	return nil, paygate.Errorf(paygate.ENOTFOUND, "merchant %q not found", id)
}

// APIKey returns an active key. Returns EINVALIDKEY if unknown or revoked.
func (d *Directory) APIKey(ctx context.Context, id string) (*paygate.APIKey, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if k, ok := d.keys[id]; ok && k.RevokedAt == nil {
		return k, nil
	}
	return nil, paygate.Errorf(paygate.EINVALIDKEY, "unknown API key")
}

// Terminal returns a merchant's registered terminal. Returns ENOTFOUND if
// the merchant has no such terminal.
func (d *Directory) Terminal(ctx context.Context, merchantID, terminalID string) (*Terminal, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if t, ok := d.terminals[merchantID][terminalID]; ok {
		return t, nil
	}
	return nil, paygate.Errorf(paygate.ENOTFOUND, "terminal %q not found", terminalID)
}

// TerminalByNumber returns a merchant's configured terminal as a domain
// terminal: configured terminals are active (docs/terminals.md). Returns
// ENOTFOUND if the configuration binds no such terminal to the merchant.
func (d *Directory) TerminalByNumber(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error) {
	t, err := d.Terminal(ctx, merchantID, terminalID)
	if err != nil {
		return nil, err
	}
	return &paygate.Terminal{MerchantID: merchantID, TerminalID: t.ID, SerialNo: t.SerialNo, Model: t.Model,
		RegionCode: t.RegionCode, Status: paygate.TerminalActive}, nil
}

// Merchants returns every merchant, in no particular order.
func (d *Directory) Merchants() []*paygate.Merchant {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*paygate.Merchant, 0, len(d.merchants))
	for _, m := range d.merchants {
		out = append(out, m)
	}
	return out
}

// AddMerchant adds a merchant (and its terminals) after loading.
// Returns ECONFLICT if the id is taken.
func (d *Directory) AddMerchant(m *paygate.Merchant, terminals ...Terminal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.merchants[m.ID]; ok {
		return paygate.Errorf(paygate.ECONFLICT, "merchant %q already exists", m.ID)
	}
	d.merchants[m.ID] = m
	ts := make(map[string]*Terminal, len(terminals))
	for i := range terminals {
		t := terminals[i]
		ts[t.ID] = &t
	}
	d.terminals[m.ID] = ts
	return nil
}

// AddKey adds an API key after loading (a key the binary makes up, or one
// read from elsewhere). Returns ENOTFOUND if its merchant (or terminal) is
// unknown and ECONFLICT if the key id is taken.
func (d *Directory) AddKey(k *paygate.APIKey) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.merchants[k.MerchantID]; !ok {
		return paygate.Errorf(paygate.ENOTFOUND, "merchant %q not found", k.MerchantID)
	}
	if k.TerminalID != "" {
		if _, ok := d.terminals[k.MerchantID][k.TerminalID]; !ok {
			return paygate.Errorf(paygate.ENOTFOUND, "terminal %q not found", k.TerminalID)
		}
	}
	if _, ok := d.keys[k.ID]; ok {
		return paygate.Errorf(paygate.ECONFLICT, "API key %q already exists", k.ID)
	}
	d.keys[k.ID] = k
	return nil
}

// EnableProvider lets a merchant with a provider allow-list use provider
// id as well (a merchant with an empty list already may use every
// provider). Returns ENOTFOUND if the merchant is unknown. The merchant is
// replaced, not modified, so callers holding the old one are unaffected.
func (d *Directory) EnableProvider(merchantID, providerID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.merchants[merchantID]
	if !ok {
		return paygate.Errorf(paygate.ENOTFOUND, "merchant %q not found", merchantID)
	}
	if len(m.Providers) == 0 || slices.Contains(m.Providers, providerID) {
		return nil
	}
	cp := *m
	cp.Providers = append(slices.Clone(m.Providers), providerID)
	d.merchants[merchantID] = &cp
	return nil
}
