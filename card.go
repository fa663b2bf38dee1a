package paygate

import "strings"

// Card entry modes (ISO 8583 field 22 is derived from these).
const (
	EntryContactless = "contactless" // NFC tap, UnionPay QuickPass 闪付
	EntryChip        = "chip"
	EntrySwipe       = "swipe"
)

// Card types and networks.
const (
	CardCredit = "credit"
	CardDebit  = "debit"

	NetworkUnionPay = "unionpay"
)

// CardInfo is what paygate keeps of a card: never the whole PAN.
type CardInfo struct {
	EntryMode string `json:"entry_mode"`
	Type      string `json:"type"`
	Network   string `json:"network"`
	BIN       string `json:"bin,omitempty"`   // first 6 digits
	Last4     string `json:"last4,omitempty"` // last 4 digits
	// Fingerprint identifies the same card across payments for risk rules
	// (HMAC of the PAN under a server secret); it cannot be reversed.
	Fingerprint string `json:"-"`
}

// CardInput is the card of a card-present payment as the terminal describes
// it: how it was read, what it says it is, and its data, either as EMV TLV in
// hex or as a token. Turning it into CardData and CardInfo is the card
// parser's work (docs/terminals.md).
type CardInput struct {
	EntryMode string // EntryContactless, EntryChip or EntrySwipe
	Type      string // CardCredit or CardDebit; "" lets the BIN decide
	Network   string // "" lets the card number decide
	EMV       string // hex EMV TLV carrying at least 5A (PAN) and 5F24 (expiry)
	Token     string
}

// CardData is the card as read by the terminal. It lives in memory only for
// the duration of the channel call and is never stored or logged.
type CardData struct {
	PAN    string
	Expiry string // YYMM
	EMV    []byte // field 55 pass-through
	Token  string
}

// String masks the PAN so that CardData never leaks through a log line.
func (c CardData) String() string { return MaskPAN(c.PAN) }

// GoString masks the PAN for %#v too.
func (c CardData) GoString() string { return "CardData{" + MaskPAN(c.PAN) + "}" }

// MaskPAN keeps the first 6 and last 4 digits of a card number.
func MaskPAN(pan string) string {
	if len(pan) < 13 {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// ValidPAN reports whether pan can be a card number: 13 to 19 digits whose
// last is the Luhn check digit (ISO/IEC 7812).
func ValidPAN(pan string) bool {
	if len(pan) < 13 || len(pan) > 19 {
		return false
	}
	sum, double := 0, false
	for i := len(pan) - 1; i >= 0; i-- {
		d := int(pan[i]) - '0'
		if d < 0 || d > 9 {
			return false
		}
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// MaskCode keeps the first 4 and last 4 characters of a payment code.
func MaskCode(code string) string {
	if len(code) <= 8 {
		return strings.Repeat("*", len(code))
	}
	return code[:4] + strings.Repeat("*", len(code)-8) + code[len(code)-4:]
}
