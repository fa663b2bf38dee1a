package gateway

import (
	"context"
	"strings"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/secrets"
)

// TerminalKeyPrefix starts the id of every key issued to a terminal by
// activation; other key ids are looked up in the static directory only.
const TerminalKeyPrefix = "tk_"

// Directory is the merchant directory the API authenticates with: the
// configured merchants and keys (Static), and the terminal keys issued by
// activation, which live in the database (Terminals). Revoking a terminal
// key takes effect on the next request: terminal keys are not cached.
type Directory struct {
	Static    paygate.MerchantDirectory
	Terminals paygate.TerminalStore
	Box       *secrets.Box
}

var _ paygate.MerchantDirectory = (*Directory)(nil)

// Merchant returns the merchant. Returns ENOTFOUND if unknown.
func (d *Directory) Merchant(ctx context.Context, id string) (*paygate.Merchant, error) {
	return d.Static.Merchant(ctx, id)
}

// APIKey returns an active key. Returns EINVALIDKEY if unknown or revoked.
func (d *Directory) APIKey(ctx context.Context, id string) (*paygate.APIKey, error) {
	if !strings.HasPrefix(id, TerminalKeyPrefix) || d.Terminals == nil {
		return d.Static.APIKey(ctx, id)
	}
	k, sealed, err := d.Terminals.TerminalKey(ctx, id)
	if err != nil {
		return nil, err
	}
	secret, err := d.Box.Open(k.ID, sealed)
	if err != nil {
		// A row that does not open is unusable, not a server fault the
		// caller could fix: the key is treated as unknown.
		return nil, paygate.Errorf(paygate.EINVALIDKEY, "unknown API key")
	}
	k.Secret = secret
	return k, nil
}
