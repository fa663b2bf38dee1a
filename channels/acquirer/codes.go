package acquirer

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/paygate-cn/paygate"
)

// Field 22 values sent for each entry mode: positions 1-2 the PAN entry
// mode (07 contactless chip, 05 contact chip, 02 magnetic stripe), position
// 3 the PIN entry capability (1: the terminal can accept a PIN).
var entryModes = map[string]string{
	paygate.EntryContactless: "071",
	paygate.EntryChip:        "051",
	paygate.EntrySwipe:       "021",
}

// EntryModeCode returns field 22 for a paygate entry mode.
func EntryModeCode(mode string) (string, bool) {
	c, ok := entryModes[mode]
	return c, ok
}

// EntryModeOf returns the paygate entry mode of a field 22 value; 90x
// (full track read) counts as swipe.
func EntryModeOf(code string) string {
	if len(code) < 2 {
		return ""
	}
	switch code[:2] {
	case "07":
		return paygate.EntryContactless
	case "05":
		return paygate.EntryChip
	case "02", "90":
		return paygate.EntrySwipe
	}
	return ""
}

// Response codes (field 39).
const (
	RCApproved          = "00"
	RCDoNotHonour       = "05"
	RCInvalidTxn        = "12"
	RCInvalidAmount     = "13"
	RCInvalidCard       = "14"
	RCNoOriginal        = "25"
	RCFormatError       = "30"
	RCInsufficientFunds = "51"
	RCExpiredCard       = "54"
	RCIncorrectPIN      = "55"
	RCNotPermitted      = "57"
	RCExceedsLimit      = "61"
	RCExceedsFrequency  = "65"
	RCIssuerUnavailable = "91"
	RCDuplicate         = "94"
	RCSystemError       = "96"
	RCBadMAC            = "A0"
)

// declines maps the final refusals to paygate failure codes. A code not in
// this table and not 00 leaves the outcome unknown (*paygate.ChannelError):
// an unexpected answer is never reported as a failure.
var declines = map[string]struct{ code, msg string }{
	RCDoNotHonour:       {"declined", "do not honour"},
	RCInvalidTxn:        {"invalid_transaction", "invalid transaction"},
	RCInvalidAmount:     {"invalid_amount", "invalid amount"},
	RCInvalidCard:       {"invalid_card", "invalid card number"},
	RCNoOriginal:        {"original_not_found", "original transaction not found"},
	RCInsufficientFunds: {"insufficient_funds", "insufficient funds"},
	RCExpiredCard:       {"expired_card", "expired card"},
	RCIncorrectPIN:      {"incorrect_pin", "incorrect PIN"},
	RCNotPermitted:      {"transaction_not_permitted", "transaction not permitted to cardholder"},
	RCExceedsLimit:      {"exceeds_amount_limit", "exceeds withdrawal amount limit"},
	RCExceedsFrequency:  {"exceeds_frequency_limit", "exceeds withdrawal frequency limit"},
}

// Decline returns the failure for a final refusal, or nil when rc is not one.
func Decline(rc string) *paygate.Failure {
	d, ok := declines[rc]
	if !ok {
		return nil
	}
	return &paygate.Failure{Code: d.code, Message: d.msg, ChannelCode: rc}
}

// TerminalID maps a paygate terminal id to field 41 (8 characters): ids of
// at most 8 printable ASCII characters are right-padded with spaces; longer
// (or non-ASCII) ids become "P" followed by 7 digits taken from the SHA-256
// of the id, so that the same terminal always gets the same field 41.
func TerminalID(id string) string {
	if len(id) <= 8 && printable(id) {
		return fmt.Sprintf("%-8s", id)
	}
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("P%07d", binary.BigEndian.Uint64(sum[:8])%10000000)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
