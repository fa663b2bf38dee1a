package paygate

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// Merchant is a business that takes payments through paygate. Its MCC and
// registration are fixed: routing never alters what a channel is told about
// the merchant (跳码 is prohibited).
type Merchant struct {
	ID   string
	Name string
	// MCC is the merchant category code of its registration (ISO 18245).
	MCC string
	// MerchantNo is the 15-digit merchant number registered with acquirers
	// (ISO 8583 field 42).
	MerchantNo string
	// RegionCode is the registered region (6-digit division code).
	RegionCode string
	// WebhookURL receives events for orders without a notify_url.
	WebhookURL string
	// WebhookSecrets sign outbound webhooks; the first signs, all verify
	// (two are valid while a secret is being rotated).
	WebhookSecrets []string
	// Providers lists the provider ids the merchant may use; empty = all.
	Providers []string
	// Contracts overrides fee rules per provider id (the merchant's contract).
	Contracts map[string][]FeeRule
	// Risk are the merchant's risk controls; nil = routing defaults.
	Risk *RiskRules
	// MaxAmount is the merchant's single-payment limit in fen (0 = MaxAmount).
	MaxAmount int64
}

// Enabled reports whether the merchant may use provider id.
func (m *Merchant) Enabled(providerID string) bool {
	if len(m.Providers) == 0 {
		return true
	}
	for _, p := range m.Providers {
		if p == providerID {
			return true
		}
	}
	return false
}

// Limit returns the merchant's single-payment limit in fen.
func (m *Merchant) Limit() int64 {
	if m.MaxAmount > 0 && m.MaxAmount < MaxAmount {
		return m.MaxAmount
	}
	return MaxAmount
}

// APIKey authenticates requests (README, Signing). A terminal key carries the
// terminal it is scoped to.
type APIKey struct {
	ID         string
	MerchantID string
	Secret     string // never logged
	TerminalID string // set for terminal keys
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// MerchantDirectory resolves merchants and keys.
type MerchantDirectory interface {
	// Merchant returns the merchant. Returns ENOTFOUND if unknown.
	Merchant(ctx context.Context, id string) (*Merchant, error)
	// APIKey returns an active key. Returns EINVALIDKEY if unknown or revoked.
	APIKey(ctx context.Context, id string) (*APIKey, error)
}

// FeeRule is one line of a fee schedule: a rate applying to the payments
// that match all its conditions. Empty conditions match everything. Rules
// are data, loaded from config; routing evaluates them.
type FeeRule struct {
	Name       string
	Rate       decimal.Decimal
	Cap        int64 // fen, 0 = none
	Min        int64 // fen, 0 = none
	Methods    []Method
	EntryModes []string
	CardTypes  []string
	Networks   []string
	MinAmount  int64 // inclusive, fen
	MaxAmount  int64 // inclusive, fen, 0 = none
	MCCs       []string
}
