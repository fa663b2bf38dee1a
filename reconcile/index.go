package reconcile

import (
	"hash/maphash"
	"math/bits"
	"time"

	"github.com/paygate-cn/paygate"
)

// index holds paygate's side of a day in compact form, so that a day of a
// million transactions fits in about 120 megabytes: each transaction is a
// fixed-size entry without pointers, its strings live in a chunked byte
// arena, and its keys are 8-byte slots of an open-addressing table (the
// entry's own string confirms a hit). The garbage collector sees a
// handful of large pointer-free blocks, not millions of small objects.
type index struct {
	seed    maphash.Seed
	entries [][]entry // chunks of entryChunk, never copied when growing
	n       int
	arena   [][]byte // chunks of arenaChunk
	// keys is a linear-probing table whose slots hold the top 32 bits of
	// a key's hash and the number of its entry plus one (0: empty). A
	// slot's place is the top bits of its hash, so the table doubles
	// without hashing a key again.
	keys      []uint64
	nkeys     int
	merchants []string
	merchIdx  map[string]uint16
}

const (
	entryChunk = 1 << 14
	arenaChunk = 1 << 20
)

// Key tags: the same text under two tags is two keys.
const (
	tagTradeNo  byte = 't' // a payment's channel trade number
	tagOrderID  byte = 'o' // paygate's order id (out_trade_no)
	tagRef      byte = 'c' // a payment's channel reference (acquirer STAN/RRN)
	tagRefundID byte = 'r' // paygate's refund id (out_refund_no)
	tagRefundNo byte = 'n' // the channel's refund number
)

// entry is one paygate transaction. Its strings are at rec in the arena,
// each as a length byte and the bytes, in the order of the str* fields.
type entry struct {
	rec      uint32
	merchant uint16
	status   uint8
	flags    uint8
	amount   int64
	fee      int64
	atMilli  int64
}

const (
	flagRefund uint8 = 1 << iota
	flagSeen
	// A payment paygate holds as reversed may be listed twice by a
	// channel: the payment as succeeded and its reversal (Alipay cancel,
	// UnionPay undo, e-CNY REVOKE). These note which lines came.
	flagPaidLine
	flagReversedLine
)

// Strings of an entry's record, in order.
const (
	strOrderID = iota
	strRefundID
	strTradeNo
	strRefundNo
	strRef
	strCount
)

// statuses are entry.status values: the order's or refund's status.
var statuses = []string{"", string(paygate.OrderSucceeded), string(paygate.OrderPartiallyRefunded),
	string(paygate.OrderRefunded), string(paygate.OrderReversed), string(paygate.OrderPending),
	string(paygate.OrderClosed), string(paygate.OrderFailed), string(paygate.OrderAuthorized)}

func statusCode(s string) uint8 {
	for i, v := range statuses {
		if v == s {
			return uint8(i)
		}
	}
	return 0
}

func newIndex() *index {
	return &index{seed: maphash.MakeSeed(), keys: make([]uint64, 1<<10), merchIdx: map[string]uint16{}}
}

func (x *index) at(i uint32) *entry {
	return &x.entries[i/entryChunk][i%entryChunk]
}

func (x *index) hash(tag byte, s string) uint64 {
	var h maphash.Hash
	h.SetSeed(x.seed)
	h.WriteByte(tag)
	h.WriteString(s)
	return h.Sum64()
}

// store appends s's fields to the arena and returns the record's address.
func (x *index) store(fields [strCount]string) uint32 {
	size := 0
	for _, f := range fields {
		size += 1 + len(f)
	}
	last := len(x.arena) - 1
	if last < 0 || len(x.arena[last])+size > arenaChunk {
		x.arena = append(x.arena, make([]byte, 0, arenaChunk))
		last++
	}
	c := x.arena[last]
	addr := uint32(last)<<20 | uint32(len(c))
	for _, f := range fields {
		c = append(c, byte(len(f)))
		c = append(c, f...)
	}
	x.arena[last] = c
	return addr
}

// str returns field k of the record at addr, without copying.
func (x *index) str(addr uint32, k int) string {
	c := x.arena[addr>>20]
	p := int(addr & (arenaChunk - 1))
	for i := 0; ; i++ {
		n := int(c[p])
		if i == k {
			return unsafeString(c[p+1 : p+1+n])
		}
		p += 1 + n
	}
}

func (x *index) merchant(id string) uint16 {
	if i, ok := x.merchIdx[id]; ok {
		return i
	}
	i := uint16(len(x.merchants))
	x.merchants = append(x.merchants, id)
	x.merchIdx[id] = i
	return i
}

// add records one transaction. Keys longer than 255 bytes are cut there:
// no channel's trade or refund number comes near it.
func (x *index) add(t *paygate.ReconTxn) {
	fields := [strCount]string{cut(t.OrderID), cut(t.RefundID), cut(t.ChannelTradeNo), cut(t.ChannelRefundNo), cut(t.ChannelRef)}
	e := entry{rec: x.store(fields), merchant: x.merchant(t.MerchantID), status: statusCode(t.Status),
		amount: t.Amount, fee: t.Fee, atMilli: t.At.UnixMilli()}
	if t.Refund {
		e.flags |= flagRefund
	}
	if x.n%entryChunk == 0 {
		x.entries = append(x.entries, make([]entry, entryChunk))
	}
	i := uint32(x.n)
	*x.at(i) = e
	x.n++
	if t.Refund {
		x.key(tagRefundID, fields[strRefundID], i, strRefundID)
		x.key(tagRefundNo, fields[strRefundNo], i, strRefundNo)
		return
	}
	x.key(tagTradeNo, fields[strTradeNo], i, strTradeNo)
	x.key(tagOrderID, fields[strOrderID], i, strOrderID)
	x.key(tagRef, fields[strRef], i, strRef)
}

func cut(s string) string {
	if len(s) > 255 {
		return s[:255]
	}
	return s
}

func (x *index) key(tag byte, s string, i uint32, field int) {
	if s == "" {
		return
	}
	top := uint32(x.hash(tag, s) >> 32)
	if _, ok := x.probe(top, s, field); ok {
		return // a repeated key: the first entry keeps it
	}
	if (x.nkeys+1)*4 > len(x.keys)*3 {
		x.grow()
	}
	x.place(top, i)
	x.nkeys++
}

// slot is where the probe for a hash's top 32 bits starts.
func (x *index) slot(top uint32) int {
	return int(top >> (32 - bits.TrailingZeros(uint(len(x.keys)))))
}

// probe looks for s under a hash's top bits: the entry whose field is s.
func (x *index) probe(top uint32, s string, field int) (uint32, bool) {
	mask := len(x.keys) - 1
	for p := x.slot(top); ; p = (p + 1) & mask {
		v := x.keys[p]
		if v == 0 {
			return 0, false
		}
		if uint32(v>>32) == top {
			if j := uint32(v) - 1; x.str(x.at(j).rec, field) == s {
				return j, true
			}
		}
	}
}

// place puts entry i in the first free slot from top's.
func (x *index) place(top uint32, i uint32) {
	mask := len(x.keys) - 1
	p := x.slot(top)
	for x.keys[p] != 0 {
		p = (p + 1) & mask
	}
	x.keys[p] = uint64(top)<<32 | uint64(i+1)
}

// grow doubles the key table.
func (x *index) grow() {
	old := x.keys
	x.keys = make([]uint64, 2*len(old))
	for _, v := range old {
		if v != 0 {
			x.place(uint32(v>>32), uint32(v)-1)
		}
	}
}

// find returns the entry holding key s under tag.
func (x *index) find(tag byte, s string, field int) (uint32, bool) {
	s = cut(s)
	if s == "" {
		return 0, false
	}
	return x.probe(uint32(x.hash(tag, s)>>32), s, field)
}

// findLine returns the entry a bill line names: payments by channel trade
// number, then order id, then channel reference; refunds by their own
// numbers only.
func (x *index) findLine(l *Line) (uint32, bool) {
	if l.Kind == LineRefund {
		if i, ok := x.find(tagRefundID, l.RefundID, strRefundID); ok {
			return i, true
		}
		return x.find(tagRefundNo, l.ChannelRefundNo, strRefundNo)
	}
	if i, ok := x.find(tagTradeNo, l.ChannelTradeNo, strTradeNo); ok {
		return i, true
	}
	if i, ok := x.find(tagOrderID, l.OrderID, strOrderID); ok {
		return i, true
	}
	return x.find(tagRef, l.Ref, strRef)
}

func (e *entry) refund() bool { return e.flags&flagRefund != 0 }
func (e *entry) time() time.Time {
	return time.UnixMilli(e.atMilli).UTC()
}

// snapshot is the paygate side of a discrepancy.
func (x *index) snapshot(e *entry) *paygate.ReconSnapshot {
	t := e.time()
	s := &paygate.ReconSnapshot{Type: string(LinePayment), Status: statuses[e.status], Amount: e.amount, Fee: e.fee,
		OrderID: x.str(e.rec, strOrderID), ChannelTradeNo: x.str(e.rec, strTradeNo), Time: &t}
	if e.refund() {
		s.Type, s.RefundID, s.ChannelRefundNo = string(LineRefund), x.str(e.rec, strRefundID), x.str(e.rec, strRefundNo)
	}
	// Detach the strings from the arena: snapshots outlive it.
	s.OrderID, s.RefundID = clone(s.OrderID), clone(s.RefundID)
	s.ChannelTradeNo, s.ChannelRefundNo = clone(s.ChannelTradeNo), clone(s.ChannelRefundNo)
	return s
}

func clone(s string) string { return string(append([]byte(nil), s...)) }
