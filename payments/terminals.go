package payments

import (
	"context"

	"github.com/paygate-cn/paygate"
)

// TerminalFinder finds a merchant's terminal by its terminal id (the
// number printed on the device, not the trm_ id). Returns ENOTFOUND if the
// merchant has none.
type TerminalFinder interface {
	TerminalByNumber(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error)
}

// Terminals is every terminal a merchant takes payments from: those its
// configuration binds (they are active; docs/terminals.md) and those
// registered through the API. A terminal id the configuration binds is
// that terminal, whatever is registered under it.
type Terminals struct {
	Configured TerminalFinder // the configuration's terminals
	Registered TerminalFinder // terminals registered through the API
}

var _ TerminalFinder = (*Terminals)(nil)

// TerminalByNumber returns the configured terminal terminalID or else the
// registered one. Returns ENOTFOUND if the merchant has neither.
func (t *Terminals) TerminalByNumber(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error) {
	term, err := t.Configured.TerminalByNumber(ctx, merchantID, terminalID)
	if paygate.ErrorCode(err) != paygate.ENOTFOUND {
		return term, err
	}
	return t.Registered.TerminalByNumber(ctx, merchantID, terminalID)
}

// IsConfigured reports whether the configuration binds terminalID to the
// merchant: such an id cannot be registered through the API.
func (t *Terminals) IsConfigured(ctx context.Context, merchantID, terminalID string) bool {
	_, err := t.Configured.TerminalByNumber(ctx, merchantID, terminalID)
	return err == nil
}
