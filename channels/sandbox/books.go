package sandbox

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
