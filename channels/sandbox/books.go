package sandbox

import "time"

// Books is what a simulator holds for one payment, as the channel's own
// ledger would show it: what it took from the payer, what refunds gave
// back, and whether the payment was reversed (cancelled, undone, voided:
// returned whole, or never taken). Tests compare it with paygate's record
// to the fen; support can read it when a merchant asks what the channel
// did.
type Books struct {
	Paid     int64 // taken from the payer; 0 when the payment never went through
	Refunded int64 // returned by refunds that succeeded
	Reversed bool  // the payment was reversed
}

// RefundedBefore reports whether a refund that succeeded at a with
// paygate's refund id idA came before one that succeeded at b with idB:
// the order in which the fees refunds return are counted
// (paygate.ReturnedFee), as paygate counts them.
func RefundedBefore(a time.Time, idA string, b time.Time, idB string) bool {
	if !a.Equal(b) {
		return a.Before(b)
	}
	return idA < idB
}
