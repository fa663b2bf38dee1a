package paygate

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// ID prefixes of the objects paygate creates.
const (
	PrefixOrder       = "ord_"
	PrefixRefund      = "ref_"
	PrefixEvent       = "evt_"
	PrefixRequest     = "req_"
	PrefixTerminal    = "trm_"
	PrefixDelivery    = "dlv_"
	PrefixRecon       = "rcn_"
	PrefixDiscrepancy = "dsc_"
)

// crockford is Crockford's base32 alphabet: IDs sort in creation order as
// strings and avoid letters that read like digits.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns prefix followed by 24 characters: 10 encode the millisecond
// timestamp t (so IDs sort by creation time) and 14 are random (70 bits).
// The whole ID is at most 32 characters, the limit of WeChat's out_trade_no.
func NewID(prefix string, t time.Time) string {
	var b [24]byte
	ms := uint64(t.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("paygate: crypto/rand failed: " + err.Error())
	}
	hi, lo := binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:])
	for i := 10; i < 24; i++ {
		if i < 17 {
			b[i] = crockford[hi&31]
			hi >>= 5
		} else {
			b[i] = crockford[lo&31]
			lo >>= 5
		}
	}
	return prefix + string(b[:])
}
