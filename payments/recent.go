package payments

import (
	"sync"

	"github.com/paygate-cn/paygate"
)

// RecentlyPaid remembers, per process, the orders this process recently saw
// paid, with their provider and amount. A success notification for one of
// them changes nothing — a paid order never becomes unpaid through a
// channel's result — so it can be acknowledged without the database read
// the general path makes (Redis deduplication still comes first). Wallets that answer a B-scan-C
// payment synchronously and also notify it (Alipay, UnionPay, e-CNY), and
// every channel's retries, produce such duplicates.
//
// It is only a shortcut: a miss (another replica, an evicted entry) takes
// the general path, whose outcome is the same.
type RecentlyPaid struct {
	mu   sync.Mutex
	m    map[string]paidOrder
	ring []string
	next int
}

type paidOrder struct {
	provider string
	amount   int64
}

// NewRecentlyPaid remembers up to size orders, forgetting the oldest.
func NewRecentlyPaid(size int) *RecentlyPaid {
	return &RecentlyPaid{m: make(map[string]paidOrder, size), ring: make([]string, size)}
}

// Remember records o if it is paid.
func (r *RecentlyPaid) Remember(o *paygate.Order) {
	if r == nil || o == nil || !o.Status.Paid() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[o.ID]; ok {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.m, old)
	}
	r.ring[r.next] = o.ID
	r.next = (r.next + 1) % len(r.ring)
	r.m[o.ID] = paidOrder{provider: o.Provider, amount: o.Amount}
}

// Settled reports whether a success notification n changes nothing: its
// order is known paid, by the same provider, for the amount n reports.
func (r *RecentlyPaid) Settled(n *paygate.Notification) bool {
	if r == nil || n.OrderID == "" || n.Result == nil || n.Result.Outcome != paygate.OutcomeSuccess {
		return false
	}
	r.mu.Lock()
	p, ok := r.m[n.OrderID]
	r.mu.Unlock()
	return ok && p.provider == n.Provider && (n.Result.Amount == 0 || n.Result.Amount == p.amount)
}
