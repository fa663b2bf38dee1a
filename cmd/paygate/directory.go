package main

import (
	"context"

	"github.com/paygate-cn/paygate"
)

// terminalRegion returns a terminal's registered region for the location
// policy: a terminal of the configuration first, then one registered
// through the API. An unknown terminal id has no region to compare ("");
// a deactivated terminal takes no payments.
func (m *Main) terminalRegion(ctx context.Context, merchantID, terminalID string) (string, error) {
	if t, err := m.Directory.Terminal(ctx, merchantID, terminalID); err == nil {
		return t.RegionCode, nil
	} else if paygate.ErrorCode(err) != paygate.ENOTFOUND {
		return "", err
	}
	t, err := m.DB.TerminalByNumber(ctx, merchantID, terminalID)
	switch {
	case paygate.ErrorCode(err) == paygate.ENOTFOUND:
		return "", nil
	case err != nil:
		return "", err
	case t.Status == paygate.TerminalDeactivated:
		return "", paygate.ParamErrorf(paygate.EFORBIDDEN, "terminal_id", "terminal %s is deactivated", terminalID)
	}
	return t.RegionCode, nil
}

// configTerminal reports a terminal the configuration binds to the merchant.
func (m *Main) configTerminal(ctx context.Context, merchantID, terminalID string) bool {
	_, err := m.Directory.Terminal(ctx, merchantID, terminalID)
	return err == nil
}
