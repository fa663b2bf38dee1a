package cardinput

import (
	"strconv"

	"github.com/paygate-cn/paygate"
)

type binInfo struct {
	network  string // "" when the prefix is not recognised
	cardType string // "" when the BIN table does not know it
}

// binTypes is the small built-in table of BINs whose card type is known
// (issuer BIN lists are licensed data; a deployment that needs more sends
// card.type from the terminal, which reads it from the card application).
var binTypes = map[string]string{
	"622202": paygate.CardDebit,  // ICBC debit
	"621700": paygate.CardDebit,  // CCB debit
	"622848": paygate.CardDebit,  // ABC debit
	"621483": paygate.CardDebit,  // CMB debit
	"622588": paygate.CardCredit, // CMB credit
	"625965": paygate.CardCredit, // UnionPay credit (sandbox)
	"411111": paygate.CardCredit, // Visa test card
	"555555": paygate.CardCredit, // Mastercard test card
}

// lookupBIN classifies a card number (at least 6 digits) by its leading
// digits: the network from the IIN ranges, the type from binTypes.
func lookupBIN(pan string) binInfo {
	b := binInfo{cardType: binTypes[pan[:6]]}
	two, _ := strconv.Atoi(pan[:2])
	four, _ := strconv.Atoi(pan[:4])
	switch {
	case pan[:2] == "62" || pan[:2] == "81":
		b.network = paygate.NetworkUnionPay
	case pan[0] == '4':
		b.network = "visa"
	case two >= 51 && two <= 55, four >= 2221 && four <= 2720:
		b.network = "mastercard"
	case four >= 3528 && four <= 3589:
		b.network = "jcb"
	case two == 34 || two == 37:
		b.network = "amex"
	}
	return b
}
