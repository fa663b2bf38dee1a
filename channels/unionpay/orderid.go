package unionpay

import (
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// shanghai is Beijing time (UTC+8, no daylight saving), the zone of txnTime.
var shanghai = time.FixedZone("CST", 8*60*60)

const txnTimeLayout = "20060102150405"

// UnionPay's orderId is 8-40 letters and digits. paygate's ids are a prefix
// ("ord_", "ref_") and 24 base32 characters, so dropping the underscore gives
// a 27-character orderId that maps back one to one. A consume undo gets its
// own orderId: "rev" and the 24 characters of the order it undoes.
const (
	upOrder  = "ord"
	upRefund = "ref"
	upUndo   = "rev"
)

// ToOrderID maps a paygate id to UnionPay's orderId.
func ToOrderID(id string) string {
	return strings.Replace(id, "_", "", 1)
}

// FromOrderID maps a UnionPay orderId back to the paygate id and says what it
// names: "ord" (a payment), "ref" (a refund) or "rev" (the undo of the
// payment whose id is returned). ok is false for an orderId paygate did not
// make.
func FromOrderID(upID string) (id, kind string, ok bool) {
	if len(upID) != 27 || !alnum(upID) {
		return "", "", false
	}
	switch kind = upID[:3]; kind {
	case upOrder, upUndo:
		return paygate.PrefixOrder + upID[3:], kind, true
	case upRefund:
		return paygate.PrefixRefund + upID[3:], kind, true
	}
	return "", "", false
}

func undoOrderID(orderID string) string {
	return upUndo + strings.TrimPrefix(orderID, paygate.PrefixOrder)
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// crockford is the alphabet of paygate ids (see paygate.NewID).
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// idTime decodes the creation time paygate.NewID writes into the first ten
// characters after the prefix. A query must repeat the txnTime of the
// original request; deriving both from the id needs no stored state.
func idTime(id string) (time.Time, bool) {
	_, rest, ok := strings.Cut(id, "_")
	if !ok || len(rest) < 10 {
		return time.Time{}, false
	}
	var ms uint64
	for i := 0; i < 10; i++ {
		d := strings.IndexByte(crockford, rest[i])
		if d < 0 {
			return time.Time{}, false
		}
		ms = ms<<5 | uint64(d)
	}
	return time.UnixMilli(int64(ms)), true
}

// txnTimeOf is the txnTime sent with the request for id: its creation time
// in Beijing time, or fallback when id does not carry one.
func txnTimeOf(id string, fallback time.Time) string {
	if t, ok := idTime(id); ok {
		return t.In(shanghai).Format(txnTimeLayout)
	}
	return fallback.In(shanghai).Format(txnTimeLayout)
}
