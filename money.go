package paygate

import (
	"github.com/shopspring/decimal"
)

// Currency is the only currency paygate settles in.
const Currency = "CNY"

// MaxAmount is the default single-payment limit in fen (50,000.00 CNY).
// Merchants and risk rules may set lower limits.
const MaxAmount int64 = 5_000_000

// Fee computes the fee in fen for amount (fen) at rate, the one rounding rule
// of paygate: amount × rate rounded half-up to the fen, raised to min when
// min > 0, then lowered to cap when cap > 0. The result never exceeds amount.
//
// decimal.Round rounds half away from zero, which is half-up for the
// non-negative amounts paygate handles.
func Fee(amount int64, rate decimal.Decimal, min, cap int64) int64 {
	if amount <= 0 || rate.Sign() <= 0 {
		return 0
	}
	fee := decimal.NewFromInt(amount).Mul(rate).Round(0).IntPart()
	if min > 0 && fee < min {
		fee = min
	}
	if cap > 0 && fee > cap {
		fee = cap
	}
	if fee > amount {
		fee = amount
	}
	return fee
}
