package main

import (
	"context"

	"github.com/paygate-cn/paygate"
)

// terminal finds a merchant's terminal: one of the configuration first
// (configured terminals are active), then one registered through the API.
// Returns ENOTFOUND if the merchant has neither.
func (m *Main) terminal(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error) {
	if t, err := m.Directory.Terminal(ctx, merchantID, terminalID); err == nil {
		return &paygate.Terminal{MerchantID: merchantID, TerminalID: t.ID, SerialNo: t.SerialNo, Model: t.Model,
			RegionCode: t.RegionCode, Status: paygate.TerminalActive}, nil
	} else if paygate.ErrorCode(err) != paygate.ENOTFOUND {
		return nil, err
	}
	return m.DB.TerminalByNumber(ctx, merchantID, terminalID)
}

// configTerminal reports a terminal the configuration binds to the merchant.
func (m *Main) configTerminal(ctx context.Context, merchantID, terminalID string) bool {
	_, err := m.Directory.Terminal(ctx, merchantID, terminalID)
	return err == nil
}
