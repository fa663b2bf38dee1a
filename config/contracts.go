package config

import (
	"fmt"

	"github.com/paygate-cn/paygate/routing"
)

// ValidateContracts checks every merchant contract's fee schedule as a
// whole, as routing.New checks the providers' (docs/configuration.md,
// "Fee rules"; the overlap rules are routing.ValidateFees'): a bad schedule
// stops the start, and the error names the first rule at fault
// (merchants[i].contracts.<provider>[j] "name": ...). Validate checks each
// rule alone.
func (c *Config) ValidateContracts() error {
	for i := range c.Merchants {
		mc := &c.Merchants[i]
		for _, id := range sortedKeys(mc.Contracts) {
			if err := routing.ValidateFees(mc.Contracts[id], fmt.Sprintf("merchants[%d].contracts.%s", i, id)); err != nil {
				return err
			}
		}
	}
	return nil
}
